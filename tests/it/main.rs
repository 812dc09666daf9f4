//! Integration tests: one binary, one module per area.

mod blockchain_tests;
mod cast;
mod chain_import;
mod common;
mod crash;
mod logs;
mod node;
mod openrpc_schema;
mod rpc_compat;
