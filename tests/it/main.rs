//! Integration tests: one binary, one module per area.

mod blockchain_tests;
mod cast;
mod chain_import;
mod common;
mod crash;
mod derive;
mod logs;
mod node;
mod openrpc_schema;
mod payload;
mod preconf;
mod rpc_compat;
