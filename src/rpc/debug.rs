//! The `debug_` namespace: consensus encodings of stored blocks, headers, receipts and
//! transactions (reth's and geth's `debug_getRaw*`), and geth-style transaction tracing
//! (`debug_traceTransaction`, `debug_traceBlockByNumber`, `debug_traceBlockByHash`) by
//! re-executing the block ([`crate::execution::trace`]).

use crate::{
    engine::Engine,
    execution::{
        self,
        trace::{self, TraceError},
    },
    rpc::{
        error::{RpcError, RpcResult},
        eth::EthRpc,
    },
};
use alloy_eips::{BlockId, BlockNumberOrTag, Encodable2718};
use alloy_primitives::{B256, Bytes};
use alloy_rpc_types_trace::geth::{GethDebugTracingOptions, GethTrace, TraceResult};
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
    /// Re-executes a mined transaction with a tracer (default: geth's struct logger).
    #[method(name = "traceTransaction", blocking)]
    fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace>;
    /// Re-executes every transaction of a block with a tracer.
    #[method(name = "traceBlockByNumber", blocking)]
    fn trace_block_by_number(
        &self,
        block: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
    /// Re-executes every transaction of a block, given by hash, with a tracer.
    #[method(name = "traceBlockByHash", blocking)]
    fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
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

    /// Traces the block `hash` (all transactions, or only transaction `only`).
    fn trace(
        &self,
        hash: B256,
        header: &alloy_consensus::Header,
        options: Option<GethDebugTracingOptions>,
        only: Option<usize>,
    ) -> Result<Vec<(B256, GethTrace)>, RpcError> {
        if header.number == 0 {
            return Err(RpcError::Server("genesis is not traceable".into()));
        }
        let spec = self.engine.spec();
        let provider = self.engine.db().provider()?;
        let body = provider
            .body(hash)?
            .ok_or_else(|| RpcError::internal(format!("body of {hash} missing")))?;
        let transactions =
            execution::recover_senders(spec, header, &body).map_err(RpcError::internal)?;
        let parent_state = provider.state_at(header.number - 1)?;
        trace::trace_block(
            spec,
            parent_state,
            header,
            hash,
            &transactions,
            options.unwrap_or_default(),
            only,
        )
        .map_err(|err| match err {
            TraceError::Tracer(message) => RpcError::InvalidParams(message),
            other => RpcError::internal(other),
        })
    }

    fn trace_block(
        &self,
        hash: B256,
        header: &alloy_consensus::Header,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        Ok(self
            .trace(hash, header, options, None)?
            .into_iter()
            .map(|(tx_hash, result)| TraceResult::Success {
                result,
                tx_hash: Some(tx_hash),
            })
            .collect())
    }
}

impl DebugApiServer for DebugRpc {
    fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        let provider = self.engine.db().provider().map_err(RpcError::from)?;
        let not_found = || RpcError::Server("transaction not found".into());
        let (number, index) = provider
            .transaction_location(hash)
            .map_err(RpcError::from)?
            .ok_or_else(not_found)?;
        let block_hash = provider
            .canonical_hash(number)
            .map_err(RpcError::from)?
            .ok_or_else(not_found)?;
        let header = provider
            .header(block_hash)
            .map_err(RpcError::from)?
            .ok_or_else(not_found)?;
        drop(provider);
        let mut traces = self.trace(block_hash, &header, options, Some(index as usize))?;
        Ok(traces
            .pop()
            .map(|(_, trace)| trace)
            .ok_or_else(|| RpcError::internal(format!("transaction {hash} was not traced")))?)
    }

    fn trace_block_by_number(
        &self,
        block: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let provider = self.engine.db().provider().map_err(RpcError::from)?;
        let resolved = EthRpc::resolve(&provider, BlockId::Number(block))?
            .ok_or_else(|| RpcError::Server(format!("block {block} not found")))?;
        drop(provider);
        self.trace_block(resolved.hash, &resolved.header, options)
    }

    fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let provider = self.engine.db().provider().map_err(RpcError::from)?;
        let header = provider
            .header(hash)
            .map_err(RpcError::from)?
            .ok_or_else(|| RpcError::Server(format!("block {hash} not found")))?;
        drop(provider);
        self.trace_block(hash, &header, options)
    }

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
