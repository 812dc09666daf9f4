//! The raw-data part of the `debug_` namespace (reth's and geth's `debug_getRaw*`): consensus
//! encodings of stored blocks, headers, receipts and transactions. Tracing is not served.

use crate::{
    engine::Engine,
    rpc::{
        error::{RpcError, RpcResult},
        eth::EthRpc,
    },
};
use alloy_eips::{BlockId, Encodable2718};
use alloy_primitives::{B256, Bytes};
use jsonrpsee::proc_macros::rpc;

/// Raw consensus encodings.
#[rpc(server, namespace = "debug")]
pub trait DebugApi {
    /// RLP of a block.
    #[method(name = "getRawBlock")]
    fn raw_block(&self, block: BlockId) -> RpcResult<Bytes>;
    /// RLP of a header.
    #[method(name = "getRawHeader")]
    fn raw_header(&self, block: BlockId) -> RpcResult<Bytes>;
    /// EIP-2718 encodings of a block's receipts.
    #[method(name = "getRawReceipts")]
    fn raw_receipts(&self, block: BlockId) -> RpcResult<Vec<Bytes>>;
    /// EIP-2718 encoding of a mined transaction (the hash must be `0x`-prefixed hex).
    #[method(name = "getRawTransaction")]
    fn raw_transaction(&self, hash: String) -> RpcResult<Option<Bytes>>;
}

/// `debug_` over the chain database.
#[derive(Debug, Clone)]
pub struct DebugRpc {
    engine: Engine,
}

impl DebugRpc {
    /// Creates the namespace.
    pub const fn new(engine: Engine) -> Self {
        Self { engine }
    }

    fn block(&self, block: BlockId) -> Result<(B256, alloy_consensus::Header), RpcError> {
        let provider = self.engine.db().provider()?;
        let resolved = EthRpc::resolve(&provider, block)?.ok_or(RpcError::HeaderNotFound)?;
        Ok((resolved.hash, resolved.header))
    }
}

impl DebugApiServer for DebugRpc {
    fn raw_block(&self, block: BlockId) -> RpcResult<Bytes> {
        let (hash, header) = self.block(block)?;
        let provider = self.engine.db().provider().map_err(RpcError::from)?;
        let body = provider
            .body(hash)
            .map_err(RpcError::from)?
            .unwrap_or_default();
        Ok(alloy_rlp::encode(alloy_consensus::Block { header, body }).into())
    }

    fn raw_header(&self, block: BlockId) -> RpcResult<Bytes> {
        let (_, header) = self.block(block)?;
        Ok(alloy_rlp::encode(header).into())
    }

    fn raw_receipts(&self, block: BlockId) -> RpcResult<Vec<Bytes>> {
        let (hash, _) = self.block(block)?;
        let provider = self.engine.db().provider().map_err(RpcError::from)?;
        let receipts = provider
            .receipts(hash)
            .map_err(RpcError::from)?
            .unwrap_or_default();
        Ok(receipts.iter().map(|r| r.encoded_2718().into()).collect())
    }

    fn raw_transaction(&self, hash: String) -> RpcResult<Option<Bytes>> {
        let hash: B256 = hash
            .strip_prefix("0x")
            .and_then(|hex| hex.parse().ok())
            .ok_or_else(|| RpcError::InvalidParams(format!("invalid transaction hash {hash:?}")))?;
        let provider = self.engine.db().provider().map_err(RpcError::from)?;
        let Some((number, index)) = provider
            .transaction_location(hash)
            .map_err(RpcError::from)?
        else {
            return Ok(None);
        };
        let Some(block_hash) = provider.canonical_hash(number).map_err(RpcError::from)? else {
            return Ok(None);
        };
        let body = provider
            .body(block_hash)
            .map_err(RpcError::from)?
            .unwrap_or_default();
        Ok(body
            .transactions
            .get(index as usize)
            .map(|tx| tx.encoded_2718().into()))
    }
}
