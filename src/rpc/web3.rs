//! The `web3_` namespace.

use crate::rpc::error::RpcResult;
use alloy_primitives::{B256, Bytes, keccak256};
use jsonrpsee::proc_macros::rpc;

/// Client information and hashing.
#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    /// `hauptbuch-reth/v<version>/<os>-<arch>`.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    /// keccak-256 of the input.
    #[method(name = "sha3")]
    fn sha3(&self, input: Bytes) -> RpcResult<B256>;
}

/// `web3_` implementation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Web3Rpc;

/// The version string reported to clients.
pub fn client_version() -> String {
    format!(
        "hauptbuch-reth/v{}/{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

impl Web3ApiServer for Web3Rpc {
    fn client_version(&self) -> RpcResult<String> {
        Ok(client_version())
    }

    fn sha3(&self, input: Bytes) -> RpcResult<B256> {
        Ok(keccak256(input))
    }
}
