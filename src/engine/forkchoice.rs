//! Forkchoice: the `head`, `safe` and `finalized` pointers (Engine API naming).
//!
//! For Hauptbuch, `head` and `safe` are *soft* (executed and finalized by the validator set) and
//! `finalized` is *firm* (the Celestia block holding the block's blob is final).
//!
//! Invariants, enforced here and persisted atomically:
//! - `finalized` ≤ `safe` ≤ `head`, all canonical;
//! - `safe` and `finalized` never move backwards.

use super::{Engine, EngineError};
use alloy_primitives::B256;

/// A block number with its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
}

/// The three forkchoice pointers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkchoiceState {
    /// Latest block.
    pub head: BlockRef,
    /// Latest soft-confirmed block.
    pub safe: BlockRef,
    /// Latest firm block.
    pub finalized: BlockRef,
}

impl Engine {
    /// The current forkchoice.
    pub fn forkchoice(&self) -> Result<ForkchoiceState, EngineError> {
        let provider = self.db().provider()?;
        let read = |name: &str| -> Result<BlockRef, EngineError> {
            let hash = provider
                .pointer(name)?
                .ok_or(crate::storage::StorageError::NotInitialised)?;
            let number = provider
                .block_number(hash)?
                .ok_or(EngineError::MissingBlock(hash))?;
            Ok(BlockRef { number, hash })
        };
        Ok(ForkchoiceState {
            head: read("head")?,
            safe: read("safe")?,
            finalized: read("finalized")?,
        })
    }

    /// Moves `safe` and/or `finalized` forward to the given canonical blocks.
    pub fn update_forkchoice(
        &self,
        safe: Option<B256>,
        finalized: Option<B256>,
    ) -> Result<ForkchoiceState, EngineError> {
        // The write transaction first: there is one writer at a time, so no block commit can
        // move `head`/`safe` between reading the pointers and writing them back (it once did,
        // and a stale `safe` was written over a newer one).
        let writer = self.db().writer()?;
        let current = self.forkchoice()?;
        let provider = self.db().provider()?;
        let canonical = |hash: B256| -> Result<BlockRef, EngineError> {
            let number = provider
                .block_number(hash)?
                .ok_or(EngineError::Forkchoice(format!("unknown block {hash}")))?;
            if provider.canonical_hash(number)? != Some(hash) {
                return Err(EngineError::Forkchoice(format!(
                    "block {hash} is not canonical"
                )));
            }
            Ok(BlockRef { number, hash })
        };
        let safe = safe.map(canonical).transpose()?.unwrap_or(current.safe);
        let finalized = finalized
            .map(canonical)
            .transpose()?
            .unwrap_or(current.finalized);
        if safe.number < current.safe.number || finalized.number < current.finalized.number {
            return Err(EngineError::Forkchoice(format!(
                "safe/finalized may not move backwards (safe {} -> {}, finalized {} -> {})",
                current.safe.number, safe.number, current.finalized.number, finalized.number
            )));
        }
        if finalized.number > safe.number {
            return Err(EngineError::Forkchoice(format!(
                "finalized {} is ahead of safe {}",
                finalized.number, safe.number
            )));
        }
        drop(provider);
        writer.set_pointer("safe", safe.hash)?;
        writer.set_pointer("finalized", finalized.hash)?;
        writer.commit()?;
        Ok(ForkchoiceState {
            head: current.head,
            safe,
            finalized,
        })
    }
}
