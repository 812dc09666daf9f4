//! JSON-RPC: one jsonrpsee trait per namespace (`eth`, `net`, `web3`, `txpool`, `debug`) and the HTTP and
//! WebSocket servers that serve them, with reth's flags and defaults.

pub mod debug;
pub mod error;
pub mod eth;
pub mod hb;
mod middleware;
pub mod net;
mod server;
pub mod testing;
pub mod txpool;
pub mod web3;

pub use server::{RpcArgs, RpcHandles, RpcModules, start_servers};
