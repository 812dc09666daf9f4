//! Payloads, Engine-API style: `build_payload` executes a new block on the head and computes its
//! state root without committing anything; `import_payload` validates and commits a block. The
//! block the engine built itself is not executed twice: its state changes are kept until it is
//! imported (or another payload is built). Dev block production drives these calls today; BFT
//! consensus drives the same ones (propose = build, finalize = import).

use super::{BlockSummary, Engine, EngineError, hashed_post_state};
use crate::execution::{self, BlockAttributes};
use alloy_consensus::{Block, ReceiptEnvelope, TxEnvelope, transaction::Recovered};
use alloy_primitives::B256;
use revm::database::{OriginalValuesKnown, states::StateChangeset};

/// A block built on the current head, ready to be proposed and imported.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    /// The sealed-ready block (state root filled in).
    pub block: Block<TxEnvelope>,
    /// Its hash.
    pub hash: B256,
    /// Transactions the EVM rejected, with the reason (drop them from the pool).
    pub rejected: Vec<(B256, String)>,
    /// Transactions left out because the block was full.
    pub skipped: usize,
}

/// Execution results of the last built payload, kept for its import.
#[derive(Debug)]
pub(super) struct ExecutedPayload {
    hash: B256,
    parent: B256,
    changes: StateChangeset,
    receipts: Vec<ReceiptEnvelope>,
}

impl Engine {
    /// Builds a block on the head from `transactions` (in order). Nothing is committed.
    pub fn build_payload(
        &self,
        attributes: BlockAttributes,
        transactions: impl IntoIterator<Item = Recovered<TxEnvelope>>,
    ) -> Result<BuiltPayload, EngineError> {
        let provider = self.db().provider()?;
        let head = self.head()?;
        let mut built = execution::build_block(
            self.spec(),
            provider.state()?,
            head.inner(),
            head.hash(),
            attributes,
            transactions,
        )?;
        drop(provider);
        let changes = built
            .outcome
            .bundle
            .to_plain_state(OriginalValuesKnown::Yes);
        // The root needs the trie as updated by this block: compute it in a write transaction
        // and throw the transaction away.
        let writer = self.db().writer()?;
        writer.write_state(&changes, Some(built.header.number))?;
        built.header.state_root = writer.write_trie(&hashed_post_state(&changes))?;
        writer.abort()?;
        let hash = built.header.hash_slow();
        let executed = ExecutedPayload {
            hash,
            parent: head.hash(),
            changes,
            receipts: built.outcome.receipts,
        };
        if let Ok(mut slot) = self.built.lock() {
            *slot = Some(executed);
        }
        Ok(BuiltPayload {
            block: Block {
                header: built.header,
                body: built.body,
            },
            hash,
            rejected: built.rejected,
            skipped: built.skipped,
        })
    }

    /// Validates and commits `block` on top of the head. A block this engine just built is
    /// committed from its kept execution results; any other block is fully executed and checked.
    pub fn import_payload(&self, block: Block<TxEnvelope>) -> Result<BlockSummary, EngineError> {
        let hash = block.header.hash_slow();
        let head = self.head()?.hash();
        let executed = self
            .built
            .lock()
            .ok()
            .and_then(|mut slot| slot.take_if(|p| p.hash == hash && p.parent == head));
        match executed {
            Some(executed) => {
                let Block { header, body } = block;
                self.commit_executed(hash, header, body, &executed.changes, executed.receipts)
            }
            None => self.insert_block(block),
        }
    }
}
