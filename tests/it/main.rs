//! Integration tests: one binary, one module per area.

mod blockchain_tests;
mod chain_import;
mod common;
mod crash;
mod logs;
mod node;
