//! Payloads, Engine-API style, on any executed parent:
//! - [`Engine::build_payload_on`] executes a new block on a parent (the head or a pending block)
//!   and computes its state root without committing anything (consensus `propose`);
//! - [`Engine::validate_payload`] fully checks a block on its parent, again without committing
//!   (consensus `verify`);
//! - [`Engine::import_payload`] commits a block on the head (consensus finalization).
//!
//! Built and validated blocks are kept in the pending tree, so a block is executed once whether
//! this node proposed it, verified it or only learns that it is final.

use super::{
    BlockSummary, Engine, EngineError, SoftFinality, hashed_post_state,
    pending::{OverlayState, PendingBlock},
};
use crate::{
    execution::{self, BlockAttributes, ConsensusError, ExecutionError, validate},
    storage::StorageError,
};
use alloy_consensus::{Block, Header, TxEnvelope, transaction::Recovered};
use alloy_primitives::B256;
use revm::database::{OriginalValuesKnown, states::StateChangeset};
use std::sync::Arc;

/// A block built on an executed parent, ready to be proposed and imported.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    /// The block (state root filled in).
    pub block: Block<TxEnvelope>,
    /// Its hash.
    pub hash: B256,
    /// Transactions the EVM rejected, with the reason (drop them from the pool).
    pub rejected: Vec<(B256, String)>,
    /// Transactions left out because the block was full.
    pub skipped: usize,
    /// One receipt per transaction.
    pub receipts: Vec<alloy_consensus::ReceiptEnvelope>,
    /// EIP-7685 requests (Prague).
    pub requests: alloy_eips::eip7685::Requests,
}

/// What executing a child of some parent needs: the parent's state and header, and the pending
/// blocks between the committed head and the parent.
struct ParentState {
    state: OverlayState,
    header: Header,
    chain: Vec<Arc<PendingBlock>>,
}

impl Engine {
    /// Builds a block on the head from `transactions` (in order). Nothing is committed.
    pub fn build_payload(
        &self,
        attributes: BlockAttributes,
        transactions: impl IntoIterator<Item = Recovered<TxEnvelope>>,
    ) -> Result<BuiltPayload, EngineError> {
        let head = self.head()?.hash();
        self.build_payload_on(head, attributes, transactions)
    }

    /// Builds a block on `parent` (the head or a pending block) from `transactions` (in order).
    /// Nothing is committed; the block joins the pending tree.
    pub fn build_payload_on(
        &self,
        parent: B256,
        attributes: BlockAttributes,
        transactions: impl IntoIterator<Item = Recovered<TxEnvelope>>,
    ) -> Result<BuiltPayload, EngineError> {
        let ParentState {
            state,
            header: parent_header,
            chain,
        } = self.parent_state(parent)?;
        let mut built = execution::build_block(
            self.spec(),
            state,
            &parent_header,
            parent,
            attributes,
            transactions,
        )?;
        let changes = built
            .outcome
            .bundle
            .to_plain_state(OriginalValuesKnown::Yes);
        built.header.state_root = self.pending_state_root(&chain, &changes)?;
        let hash = built.header.hash_slow();
        let block = Block {
            header: built.header,
            body: built.body,
        };
        self.pending_tree().insert(Arc::new(PendingBlock {
            hash,
            header: block.header.clone(),
            transactions: tx_hashes(&block),
            changes,
            receipts: built.outcome.receipts.clone(),
        }));
        Ok(BuiltPayload {
            block,
            hash,
            rejected: built.rejected,
            skipped: built.skipped,
            receipts: built.outcome.receipts,
            requests: built.outcome.requests,
        })
    }

    /// Checks `block` completely on its parent (the head or a pending block): header rules,
    /// body roots, execution, receipts, gas and state root. Nothing is committed; a valid block
    /// joins the pending tree. A block already pending or committed is accepted as it is.
    pub fn validate_payload(&self, block: &Block<TxEnvelope>) -> Result<BlockSummary, EngineError> {
        let hash = block.header.hash_slow();
        let summary = BlockSummary {
            number: block.header.number,
            hash,
            transactions: block.body.transactions.len(),
            gas_used: block.header.gas_used,
        };
        if self.pending_tree().get(&hash).is_some()
            || self.db().provider()?.block_number(hash)?.is_some()
        {
            return Ok(summary);
        }
        let header = &block.header;
        let invalid = |error: ConsensusError| {
            EngineError::from(ExecutionError::Invalid {
                number: header.number,
                hash,
                error,
            })
        };
        let parent = self.parent_state(header.parent_hash)?;
        validate::validate_header(self.spec(), header, &parent.header).map_err(invalid)?;
        validate::validate_body(self.spec(), header, &block.body).map_err(invalid)?;
        let transactions = execution::recover_senders(self.spec(), header, &block.body)?;
        let outcome = execution::execute_block(
            self.spec(),
            parent.state,
            header,
            hash,
            &block.body,
            &transactions,
        )?;
        validate::validate_outcome(self.spec(), header, &outcome).map_err(invalid)?;
        let changes = outcome.bundle.to_plain_state(OriginalValuesKnown::Yes);
        let root = self.pending_state_root(&parent.chain, &changes)?;
        if root != header.state_root {
            return Err(invalid(ConsensusError::mismatch(
                "stateRoot",
                header.state_root,
                root,
            )));
        }
        self.pending_tree().insert(Arc::new(PendingBlock {
            hash,
            header: header.clone(),
            transactions: tx_hashes(block),
            changes,
            receipts: outcome.receipts,
        }));
        Ok(summary)
    }

    /// Validates and commits `block` on top of the head. A pending block (built or validated
    /// here) is committed from its execution results; any other block is executed and checked.
    pub fn import_payload(&self, block: Block<TxEnvelope>) -> Result<BlockSummary, EngineError> {
        self.import_payload_with(block, None)
    }

    /// Commits a block consensus finalized on top of the head, moving `head` and `safe` to it
    /// and storing its finalization certificate, all in one transaction.
    pub fn import_finalized(
        &self,
        block: Block<TxEnvelope>,
        certificate: Option<&[u8]>,
    ) -> Result<BlockSummary, EngineError> {
        self.import_payload_with(block, Some(SoftFinality { certificate }))
    }

    fn import_payload_with(
        &self,
        block: Block<TxEnvelope>,
        soft: Option<SoftFinality<'_>>,
    ) -> Result<BlockSummary, EngineError> {
        let hash = block.header.hash_slow();
        let head = self.head()?.hash();
        // Bind first: a guard in the match scrutinee would live through the commit.
        let pending = self.pending_tree().get(&hash);
        match pending {
            Some(pending) if pending.header.parent_hash == head => {
                let Block { header, body } = block;
                self.commit_executed(
                    hash,
                    header,
                    body,
                    &pending.changes,
                    pending.receipts.clone(),
                    soft,
                )
            }
            _ => self.insert_block_with(block, soft),
        }
    }

    /// Whether `hash` is a pending (executed, uncommitted) block.
    pub fn is_pending(&self, hash: B256) -> bool {
        self.pending_tree().get(&hash).is_some()
    }

    /// Hashes of the transactions in the pending blocks from the head up to `tip` (empty when
    /// `tip` is the head or not a pending descendant of it).
    pub fn pending_transaction_hashes(&self, tip: B256) -> Result<Vec<B256>, EngineError> {
        let head = self.head()?.hash();
        let chain = self.pending_tree().chain(head, tip).unwrap_or_default();
        Ok(chain
            .iter()
            .flat_map(|block| block.transactions.iter().copied())
            .collect())
    }

    /// Number of pending blocks.
    pub fn pending_len(&self) -> usize {
        self.pending_tree().len()
    }

    fn parent_state(&self, parent: B256) -> Result<ParentState, EngineError> {
        let provider = self.db().provider()?;
        let head = provider
            .pointer("head")?
            .ok_or(StorageError::NotInitialised)?;
        let chain = self
            .pending_tree()
            .chain(head, parent)
            .ok_or(EngineError::UnknownParent(parent))?;
        let header = match chain.last() {
            Some(block) => block.header.clone(),
            None => provider
                .header(head)?
                .ok_or(EngineError::MissingBlock(head))?,
        };
        let state = OverlayState::new(provider.state()?, &chain);
        Ok(ParentState {
            state,
            header,
            chain,
        })
    }

    /// The state root after `chain` and then `changes`, computed in a write transaction that is
    /// thrown away.
    fn pending_state_root(
        &self,
        chain: &[Arc<PendingBlock>],
        changes: &StateChangeset,
    ) -> Result<B256, EngineError> {
        let writer = self.db().writer()?;
        for block in chain {
            writer.write_state(&block.changes, None)?;
            writer.write_trie(&hashed_post_state(&block.changes))?;
        }
        writer.write_state(changes, None)?;
        let root = writer.write_trie(&hashed_post_state(changes))?;
        writer.abort()?;
        Ok(root)
    }
}

fn tx_hashes(block: &Block<TxEnvelope>) -> Vec<B256> {
    block
        .body
        .transactions
        .iter()
        .map(|tx| *tx.tx_hash())
        .collect()
}
