//! Blocks executed but not committed: consensus proposes and verifies blocks on parents that are
//! only notarized, so the engine keeps a small tree of executed blocks above the canonical head.
//!
//! A pending block holds its plain state changes and its trie rows. Executing on a pending parent
//! reads through an [`OverlayState`] (the changes of the pending ancestors, newest first, over a
//! committed snapshot); its trie update is computed the same way, over the snapshot's trie rows
//! with the ancestors' rows on top (`crate::trie::compute_updates`), without a write transaction.
//! Committing a pending block on its parent reuses its execution results and writes its trie rows
//! verbatim; the tree is pruned to the blocks above the new head.

use crate::storage::{StateProviderDatabase, StorageError};
use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use revm::{
    database::{DatabaseRef, states::StateChangeset},
    state::{AccountInfo, Bytecode},
};
use std::sync::Arc;

/// A block executed on top of the canonical chain or of another pending block.
#[derive(Debug)]
pub(super) struct PendingBlock {
    pub(super) hash: B256,
    pub(super) header: Header,
    /// Hashes of its transactions.
    pub(super) transactions: Vec<B256>,
    pub(super) changes: StateChangeset,
    /// Its trie rows, relative to its parent's state (written verbatim when it commits).
    pub(super) trie: crate::trie::TrieUpdates,
    pub(super) receipts: Vec<ReceiptEnvelope>,
}

/// Executed, uncommitted blocks by hash.
#[derive(Debug, Default)]
pub(super) struct PendingTree {
    blocks: HashMap<B256, Arc<PendingBlock>>,
}

impl PendingTree {
    pub(super) fn get(&self, hash: &B256) -> Option<Arc<PendingBlock>> {
        self.blocks.get(hash).cloned()
    }

    pub(super) fn insert(&mut self, block: Arc<PendingBlock>) {
        self.blocks.insert(block.hash, block);
    }

    /// Drops every block at or below `number`: it is committed, or it lost to a sibling.
    pub(super) fn prune(&mut self, number: u64) {
        self.blocks.retain(|_, block| block.header.number > number);
    }

    /// The pending blocks from just above `head` up to `tip`, oldest first; `None` when `tip`
    /// does not descend from `head` through pending blocks.
    pub(super) fn chain(&self, head: B256, tip: B256) -> Option<Vec<Arc<PendingBlock>>> {
        let mut chain = Vec::new();
        let mut cursor = tip;
        while cursor != head {
            let block = self.blocks.get(&cursor)?;
            cursor = block.header.parent_hash;
            chain.push(block.clone());
        }
        chain.reverse();
        Some(chain)
    }

    pub(super) fn len(&self) -> usize {
        self.blocks.len()
    }
}

/// Storage of one account as changed by pending blocks.
#[derive(Debug, Default)]
struct StorageOverlay {
    /// The account's storage was wiped: unlisted slots are zero.
    wiped: bool,
    slots: HashMap<U256, U256>,
}

/// The committed state with the changes of pending blocks on top.
#[derive(Debug)]
pub(super) struct OverlayState {
    base: StateProviderDatabase,
    accounts: HashMap<Address, Option<AccountInfo>>,
    storage: HashMap<Address, StorageOverlay>,
    contracts: HashMap<B256, Bytecode>,
    block_hashes: HashMap<u64, B256>,
}

impl OverlayState {
    /// `base` with `chain` (oldest first) applied.
    pub(super) fn new(base: StateProviderDatabase, chain: &[Arc<PendingBlock>]) -> Self {
        let mut overlay = Self {
            base,
            accounts: HashMap::default(),
            storage: HashMap::default(),
            contracts: HashMap::default(),
            block_hashes: HashMap::default(),
        };
        for block in chain {
            overlay.block_hashes.insert(block.header.number, block.hash);
            let changes = &block.changes;
            for (address, info) in &changes.accounts {
                overlay.accounts.insert(*address, info.clone());
            }
            for change in &changes.storage {
                let entry = overlay.storage.entry(change.address).or_default();
                if change.wipe_storage {
                    entry.wiped = true;
                    entry.slots.clear();
                }
                entry.slots.extend(change.storage.iter().copied());
            }
            for (hash, code) in &changes.contracts {
                overlay.contracts.insert(*hash, code.clone());
            }
        }
        overlay
    }
}

impl DatabaseRef for OverlayState {
    type Error = StorageError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StorageError> {
        match self.accounts.get(&address) {
            Some(info) => Ok(info.clone()),
            None => self.base.basic_ref(address),
        }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StorageError> {
        match self.contracts.get(&code_hash) {
            Some(code) => Ok(code.clone()),
            None => self.base.code_by_hash_ref(code_hash),
        }
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StorageError> {
        match self.storage.get(&address) {
            Some(overlay) => match overlay.slots.get(&index) {
                Some(value) => Ok(*value),
                None if overlay.wiped => Ok(U256::ZERO),
                None => self.base.storage_ref(address, index),
            },
            None => self.base.storage_ref(address, index),
        }
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StorageError> {
        match self.block_hashes.get(&number) {
            Some(hash) => Ok(*hash),
            None => self.base.block_hash_ref(number),
        }
    }
}
