//! The engine: owns the canonical chain and is the only writer of the database.
//!
//! Import path ([`Engine::insert_block`]): check the block against its parent and its own header,
//! recover senders, execute it on the parent state, compare every result with the header, then in
//! one write transaction apply the state changes, update the trie, check the state root, store the
//! block and move `head`. Any failure aborts the transaction, so the database is unchanged.
//!
//! Invariants:
//! - `head` always names the last fully imported block; plain state and trie match it.
//! - Blocks are committed only on top of `head` and never replaced: BFT consensus finalizes a
//!   block before it is committed. Blocks consensus is still voting on live in the in-memory
//!   pending tree ([`Engine::build_payload_on`], [`Engine::validate_payload`]).

mod error;
mod forkchoice;
mod hashed;
mod payload;
mod pending;

pub use error::EngineError;
pub use forkchoice::{BlockRef, ForkchoiceState};
pub use hashed::hashed_post_state;
pub use payload::{BuiltPayload, PreviewBlock};

use crate::{
    chainspec::ChainSpec,
    execution::{self, BlockAttributes, ConsensusError, ExecutionError, validate},
    storage::{Database, genesis_changeset},
};
use alloy_consensus::{Block, BlockBody, Header, Sealed, TxEnvelope, transaction::Recovered};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::B256;
use revm::database::OriginalValuesKnown;
use std::sync::Arc;

/// Summary of an imported or built block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSummary {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Number of transactions.
    pub transactions: usize,
    /// Gas used.
    pub gas_used: u64,
}

/// A block that became canonical, as broadcast to subscribers (pool, RPC, ExEx).
#[derive(Debug)]
pub struct CanonicalBlock {
    /// Block hash.
    pub hash: B256,
    /// Header.
    pub header: Header,
    /// Body.
    pub body: BlockBody<TxEnvelope>,
    /// Receipts.
    pub receipts: Vec<alloy_consensus::ReceiptEnvelope>,
}

/// Consensus facts committed together with a block: it is soft-final (`safe` moves to it), with
/// its finalization certificate when consensus has one for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SoftFinality<'a> {
    pub(crate) certificate: Option<&'a [u8]>,
}

/// How many notifications a slow subscriber may lag behind before it misses some (it then
/// re-reads from the database).
const NOTIFICATION_CAPACITY: usize = 256;

/// The canonical chain over one database.
#[derive(Debug, Clone)]
pub struct Engine {
    spec: Arc<ChainSpec>,
    db: Arc<Database>,
    notifications: tokio::sync::broadcast::Sender<Arc<CanonicalBlock>>,
    /// Blocks built or validated but not committed (awaiting finalization).
    pending: Arc<std::sync::Mutex<pending::PendingTree>>,
}

impl Engine {
    /// An engine over an opened database.
    pub fn new(spec: Arc<ChainSpec>, db: Arc<Database>) -> Self {
        let (notifications, _) = tokio::sync::broadcast::channel(NOTIFICATION_CAPACITY);
        Self {
            spec,
            db,
            notifications,
            pending: Default::default(),
        }
    }

    fn pending_tree(&self) -> std::sync::MutexGuard<'_, pending::PendingTree> {
        // The tree stays consistent even if a holder panicked: every update is one insert or
        // one prune.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notifications of every block that becomes canonical, in order.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<CanonicalBlock>> {
        self.notifications.subscribe()
    }

    fn notify(&self, block: CanonicalBlock) {
        // No subscriber is fine (CLI import).
        let _ = self.notifications.send(Arc::new(block));
    }

    /// The chain specification.
    pub fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// The database.
    pub fn db(&self) -> &Arc<Database> {
        &self.db
    }

    /// Writes the genesis block and state if the database is empty; otherwise checks that the
    /// database belongs to this chain. Returns the genesis hash.
    pub fn init_genesis(&self) -> Result<B256, EngineError> {
        let expected = self.spec.genesis_hash;
        if let Some(stored) = self.db.provider()?.pointer("genesis")? {
            if stored != expected {
                return Err(
                    crate::storage::StorageError::GenesisMismatch { stored, expected }.into(),
                );
            }
            return Ok(stored);
        }
        let header = &self.spec.genesis_header;
        let changes = genesis_changeset(&self.spec.alloc);
        let writer = self.db.writer()?;
        writer.write_state(&changes, None)?;
        let root = writer.write_trie(&hashed_post_state(&changes), None)?;
        if root != header.state_root {
            return Err(EngineError::GenesisStateRoot {
                computed: root,
                header: header.state_root,
            });
        }
        let body = BlockBody {
            transactions: Vec::new(),
            ommers: Vec::new(),
            withdrawals: self
                .spec
                .is_shanghai_active_at_timestamp(header.timestamp)
                .then(Default::default),
        };
        writer.write_block(expected, header, &body, &[])?;
        for pointer in ["genesis", "head", "safe", "finalized"] {
            writer.set_pointer(pointer, expected)?;
        }
        writer.set_meta(
            "schema_version",
            &crate::storage::SCHEMA_VERSION.to_be_bytes(),
        )?;
        writer.commit()?;
        Ok(expected)
    }

    /// The current head header and its hash.
    pub fn head(&self) -> Result<Sealed<Header>, EngineError> {
        let provider = self.db.provider()?;
        let hash = provider
            .pointer("head")?
            .ok_or(crate::storage::StorageError::NotInitialised)?;
        let header = provider
            .header(hash)?
            .ok_or(EngineError::MissingBlock(hash))?;
        Ok(Sealed::new_unchecked(header, hash))
    }

    /// Validates, executes and appends `block` on top of the current head.
    pub fn insert_block(&self, block: Block<TxEnvelope>) -> Result<BlockSummary, EngineError> {
        self.insert_block_with(block, None)
    }

    fn insert_block_with(
        &self,
        block: Block<TxEnvelope>,
        soft: Option<SoftFinality<'_>>,
    ) -> Result<BlockSummary, EngineError> {
        let hash = block.header.hash_slow();
        let Block { header, body } = block;
        let invalid = |error: ConsensusError| {
            EngineError::from(ExecutionError::Invalid {
                number: header.number,
                hash,
                error,
            })
        };
        let provider = self.db.provider()?;
        if provider.block_number(hash)?.is_some() {
            return Err(EngineError::AlreadyKnown {
                number: header.number,
                hash,
            });
        }
        let head_hash = provider
            .pointer("head")?
            .ok_or(crate::storage::StorageError::NotInitialised)?;
        if header.parent_hash != head_hash {
            return Err(EngineError::NotOnHead {
                number: header.number,
                parent: header.parent_hash,
                head: head_hash,
            });
        }
        let parent = provider
            .header(head_hash)?
            .ok_or(EngineError::MissingBlock(head_hash))?;
        validate::validate_header(&self.spec, &header, &parent).map_err(invalid)?;
        validate::validate_body(&self.spec, &header, &body).map_err(invalid)?;
        let transactions = execution::recover_senders(&self.spec, &header, &body)?;
        let outcome = execution::execute_block_with_state_roots(
            &self.spec,
            provider.state()?,
            &header,
            hash,
            &body,
            &transactions,
            Some(&|changes| self.state_root_with(changes)),
        )?;
        validate::validate_outcome(&self.spec, &header, &outcome).map_err(invalid)?;
        drop(provider);

        let changes = outcome.bundle.to_plain_state(OriginalValuesKnown::Yes);
        let state = StateUpdate {
            plain: &changes,
            trie: None,
        };
        self.commit_executed(hash, header, body, state, outcome.receipts, soft)
    }

    /// The state root of the head state with `changes` applied, computed on a read snapshot
    /// without writing anything (pre-Byzantium receipts need one per transaction).
    fn state_root_with(
        &self,
        changes: &revm::database::BundleState,
    ) -> Result<B256, crate::storage::StorageError> {
        let provider = self.db.provider()?;
        let changes = changes.to_plain_state(OriginalValuesKnown::Yes);
        let updates =
            crate::trie::compute_updates(provider.txn(), &[], &hashed_post_state(&changes))?;
        Ok(updates.root())
    }

    /// Writes an executed block in one transaction: state, trie (checking the header's state
    /// root), block, head pointer; then notifies subscribers. Aborts on a root mismatch.
    fn commit_executed(
        &self,
        hash: B256,
        header: Header,
        body: BlockBody<TxEnvelope>,
        state: StateUpdate<'_>,
        receipts: Vec<alloy_consensus::ReceiptEnvelope>,
        soft: Option<SoftFinality<'_>>,
    ) -> Result<BlockSummary, EngineError> {
        let StateUpdate {
            plain: changes,
            trie,
        } = state;
        let writer = self.db.writer()?;
        writer.write_state(changes, Some(header.number))?;
        let root = match trie {
            // Computed when the block was built or verified, on this very parent state.
            Some(updates) => writer.write_trie_updates(updates, Some(header.number))?,
            None => writer.write_trie(&hashed_post_state(changes), Some(header.number))?,
        };
        if root != header.state_root {
            writer.abort()?;
            return Err(ExecutionError::Invalid {
                number: header.number,
                hash,
                error: ConsensusError::mismatch("stateRoot", header.state_root, root),
            }
            .into());
        }
        writer.write_block(hash, &header, &body, &receipts)?;
        writer.set_pointer("head", hash)?;
        if let Some(soft) = soft {
            writer.set_pointer("safe", hash)?;
            if let Some(certificate) = soft.certificate {
                writer.write_certificate(header.number, certificate)?;
            }
        }
        writer.commit()?;
        self.pending_tree().prune(header.number);
        let summary = BlockSummary {
            number: header.number,
            hash,
            transactions: body.transactions.len(),
            gas_used: header.gas_used,
        };
        self.notify(CanonicalBlock {
            hash,
            header,
            body,
            receipts,
        });
        Ok(summary)
    }

    /// Builds a block on the head and commits it (build payload, then import it). Used by dev
    /// block production and tests.
    pub fn build_and_commit(
        &self,
        attributes: BlockAttributes,
        transactions: impl IntoIterator<Item = Recovered<TxEnvelope>>,
    ) -> Result<(Block<TxEnvelope>, BuiltPayload), EngineError> {
        let payload = self.build_payload(attributes, transactions)?;
        self.import_payload(payload.block.clone())?;
        Ok((payload.block.clone(), payload))
    }
}

/// What an executed block changes in the state: the plain changes, and its trie rows when they
/// were computed ahead (a pending block); otherwise the commit computes them.
struct StateUpdate<'a> {
    plain: &'a revm::database::states::StateChangeset,
    trie: Option<&'a crate::trie::TrieUpdates>,
}
