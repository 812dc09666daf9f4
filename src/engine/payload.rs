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
    BlockSummary, Engine, EngineError, SoftFinality, StateUpdate, hashed_post_state,
    pending::{PendingBlock, overlay_state},
};
use crate::{
    execution::{self, BlockAttributes, ConsensusError, ExecutionError, validate},
    storage::{Provider, StorageError},
    trie::{self, TrieUpdates},
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

/// The block the head's child would be with some transactions, executed but not kept: the RPC's
/// `pending` block (reth's and geth's `pending` tag).
#[derive(Debug)]
pub struct PreviewBlock {
    /// The block (state root filled in).
    pub block: Block<TxEnvelope>,
    /// Its hash.
    pub hash: B256,
    /// Senders of its transactions, in order.
    pub senders: Vec<alloy_primitives::Address>,
    /// Its receipts.
    pub receipts: Vec<alloy_consensus::ReceiptEnvelope>,
    /// Its state changes, to read the state after it on top of the head.
    pub state: Arc<crate::storage::StateOverlay>,
}

/// What executing a child of some parent needs: the parent's state and header, and the pending
/// blocks between the committed head and the parent.
struct ParentState {
    /// The snapshot `state` and `chain` are relative to.
    provider: Provider,
    state: crate::storage::StateProviderDatabase,
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
        let (built, changes, trie) = self.build_child(parent, attributes, transactions)?;
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
            trie,
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

    /// Executes `transactions` (in order; invalid ones are left out) in a child of the head and
    /// returns it without keeping it anywhere: the `pending` block.
    pub fn preview_block(
        &self,
        attributes: BlockAttributes,
        transactions: Vec<Recovered<TxEnvelope>>,
    ) -> Result<PreviewBlock, EngineError> {
        let head = self.head()?.hash();
        let senders: alloy_primitives::map::HashMap<B256, alloy_primitives::Address> = transactions
            .iter()
            .map(|tx| (*tx.inner().tx_hash(), tx.signer()))
            .collect();
        let (built, changes, _) = self.build_child(head, attributes, transactions)?;
        let hash = built.header.hash_slow();
        let mut overlay = crate::storage::StateOverlay::default();
        overlay.push(built.header.number, hash, &changes);
        let senders = built
            .body
            .transactions
            .iter()
            .map(|tx| senders.get(tx.tx_hash()).copied().unwrap_or_default())
            .collect();
        Ok(PreviewBlock {
            block: Block {
                header: built.header,
                body: built.body,
            },
            hash,
            senders,
            receipts: built.outcome.receipts,
            state: Arc::new(overlay),
        })
    }

    /// Builds and executes a child of `parent` (the head or a pending block) and computes its
    /// trie update, filling in the state root.
    fn build_child(
        &self,
        parent: B256,
        attributes: BlockAttributes,
        transactions: impl IntoIterator<Item = Recovered<TxEnvelope>>,
    ) -> Result<(execution::BuiltBlock, StateChangeset, TrieUpdates), EngineError> {
        let ParentState {
            provider,
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
        let trie = pending_trie(&provider, &chain, &changes)?;
        built.header.state_root = trie.root();
        Ok((built, changes, trie))
    }

    /// Checks `block` completely on its parent (the head or a pending block): header rules,
    /// body roots, execution, receipts, gas and state root. Nothing is committed; a valid block
    /// joins the pending tree. A block already pending or committed is accepted as it is.
    pub fn validate_payload(&self, block: &Block<TxEnvelope>) -> Result<BlockSummary, EngineError> {
        self.validate_payload_with(block, &[])
    }

    /// [`Self::validate_payload`] with the senders of some transactions already known (by index;
    /// see [`execution::recover_senders_with`]).
    pub fn validate_payload_with(
        &self,
        block: &Block<TxEnvelope>,
        known_senders: &[Option<alloy_primitives::Address>],
    ) -> Result<BlockSummary, EngineError> {
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
        let transactions =
            execution::recover_senders_with(self.spec(), header, &block.body, known_senders)?;
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
        let trie = pending_trie(&parent.provider, &parent.chain, &changes)?;
        let root = trie.root();
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
            trie,
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
                    StateUpdate {
                        plain: &pending.changes,
                        trie: Some(&pending.trie),
                    },
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

    /// The account nonces the pending blocks up to `tip` (the tip and its pending ancestors)
    /// changed, as of `tip`. Read it *before* a state snapshot and take the larger nonce of the
    /// two: a block committed in between is then in one or the other.
    pub fn pending_nonces(
        &self,
        tip: B256,
    ) -> alloy_primitives::map::HashMap<alloy_primitives::Address, u64> {
        let chain = self.pending_tree().ancestors(tip);
        let mut nonces = alloy_primitives::map::HashMap::default();
        for block in chain.iter().rev() {
            for (address, info) in &block.changes.accounts {
                nonces.insert(*address, info.as_ref().map_or(0, |info| info.nonce));
            }
        }
        nonces
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
        let state = overlay_state(provider.state()?, &chain);
        Ok(ParentState {
            provider,
            state,
            header,
            chain,
        })
    }
}

/// The trie rows a block with `changes` modifies on top of the snapshot and its pending ancestors
/// `chain` (oldest first): its state root, and what its commit writes.
fn pending_trie(
    provider: &Provider,
    chain: &[Arc<PendingBlock>],
    changes: &StateChangeset,
) -> Result<TrieUpdates, EngineError> {
    let ancestors: Vec<&TrieUpdates> = chain.iter().map(|block| &block.trie).collect();
    let updates = trie::compute_updates(provider.txn(), &ancestors, &hashed_post_state(changes))
        .map_err(StorageError::from)?;
    Ok(updates)
}

fn tx_hashes(block: &Block<TxEnvelope>) -> Vec<B256> {
    block
        .body
        .transactions
        .iter()
        .map(|tx| *tx.tx_hash())
        .collect()
}
