//! The `net_` namespace.

use crate::rpc::error::RpcResult;
use alloy_primitives::U64;
use jsonrpsee::proc_macros::rpc;

/// Network information.
#[rpc(server, namespace = "net")]
pub trait NetApi {
    /// Network id (the chain id) as a decimal string.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;
    /// Whether the node accepts connections.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;
    /// Number of connected peers.
    #[method(name = "peerCount")]
    fn peer_count(&self) -> RpcResult<U64>;
}

/// `net_` over the chain id.
#[derive(Debug, Clone, Copy)]
pub struct NetRpc {
    chain_id: u64,
}

impl NetRpc {
    /// Creates the namespace.
    pub const fn new(chain_id: u64) -> Self {
        Self { chain_id }
    }
}

impl NetApiServer for NetRpc {
    fn version(&self) -> RpcResult<String> {
        Ok(self.chain_id.to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn peer_count(&self) -> RpcResult<U64> {
        // Peers arrive with BFT consensus; a --dev node has none.
        Ok(U64::ZERO)
    }
}
