//! Integration tests: one binary, one module per area.

mod alloy_provider;
mod blockchain_tests;
mod cast;
mod chain_import;
mod common;
mod consensus;
mod crash;
mod da_outage;
mod debug_trace;
mod derive;
mod fraud_proof;
mod logs;
mod network;
mod node;
mod openrpc_schema;
mod payload;
mod preconf;
mod rpc_compat;
mod rpc_proxy;
mod testing_api;
mod withdrawals;
mod witness;
