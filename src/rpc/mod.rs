//! JSON-RPC: one jsonrpsee trait per namespace (`eth`, `net`, `web3`, `txpool`) and the HTTP and
//! WebSocket servers that serve them, with reth's flags and defaults.

pub mod error;
pub mod eth;
pub mod net;
mod server;
pub mod txpool;
pub mod web3;

pub use server::{RpcArgs, RpcHandles, RpcModules, start_servers};
