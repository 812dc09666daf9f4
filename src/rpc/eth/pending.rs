//! The `pending` block tag: the block the head's child would be now (the preconfirmed
//! transactions for it when preconfirmations are on, then the pool first come, first served, as
//! the proposer takes them), executed on the head but not kept. State queries at `pending` read
//! the head state with that block's changes on top; block queries return that block.
//!
//! The block is rebuilt only when the head or its candidate transactions change.

use super::EthRpc;
use crate::{engine::PreviewBlock, execution::BlockAttributes, rpc::error::RpcError};
use alloy_primitives::B256;
use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{SystemTime, UNIX_EPOCH},
};

/// Most transactions considered for the pending block (the gas limit binds first).
const MAX_PENDING_TXS: usize = 10_000;

/// The last pending block built, with what it was built from.
#[derive(Debug, Default)]
pub(crate) struct PendingBlockCache {
    last: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    head: B256,
    candidates: Vec<B256>,
    block: Arc<PreviewBlock>,
}

impl EthRpc {
    /// The current `pending` block.
    pub(crate) fn pending_block(&self) -> Result<Arc<PreviewBlock>, RpcError> {
        let head = self.engine().head().map_err(RpcError::internal)?;
        let number = head.number + 1;
        let candidates = match self.preconf() {
            Some(preconf) => preconf.preview_transactions(number, MAX_PENDING_TXS),
            None => self.pool().best_transactions(MAX_PENDING_TXS),
        };
        let hashes: Vec<B256> = candidates.iter().map(|tx| *tx.tx_hash()).collect();
        let cache = self.pending_cache();
        {
            let last = cache.last.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(last) = last.as_ref()
                && last.head == head.hash()
                && last.candidates == hashes
            {
                return Ok(last.block.clone());
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        // The next leader is not known here; the head's fee recipient stands in for it.
        let attributes = BlockAttributes::next(
            self.engine().spec(),
            head.hash(),
            head.inner(),
            now,
            head.beneficiary,
        );
        let block = self
            .engine()
            .preview_block(attributes, candidates)
            .map_err(RpcError::internal)?;
        let block = Arc::new(block);
        *cache.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
            head: head.hash(),
            candidates: hashes,
            block: block.clone(),
        });
        Ok(block)
    }
}
