//! Blocks executed but not committed: consensus proposes and verifies blocks on parents that are
//! only notarized, so the engine keeps a small tree of executed blocks above the canonical head.
//!
//! A pending block holds its plain state changes and its trie rows. Executing on a pending parent
//! reads through a [`StateOverlay`] (the changes of the pending ancestors, newest first, over a
//! committed snapshot); its trie update is computed the same way, over the snapshot's trie rows
//! with the ancestors' rows on top (`crate::trie::compute_updates`), without a write transaction.
//! Committing a pending block on its parent reuses its execution results and writes its trie rows
//! verbatim; the tree is pruned to the blocks above the new head.

use crate::storage::{StateOverlay, StateProviderDatabase};
use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{B256, map::HashMap};
use revm::database::states::StateChangeset;
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

    /// `tip` and its ancestors in the tree, newest first.
    pub(super) fn ancestors(&self, tip: B256) -> Vec<Arc<PendingBlock>> {
        let mut chain = Vec::new();
        let mut cursor = tip;
        while let Some(block) = self.blocks.get(&cursor) {
            cursor = block.header.parent_hash;
            chain.push(block.clone());
        }
        chain
    }

    pub(super) fn len(&self) -> usize {
        self.blocks.len()
    }
}

/// The committed state with the changes of pending blocks `chain` (oldest first) on top.
pub(super) fn overlay_state(
    base: StateProviderDatabase,
    chain: &[Arc<PendingBlock>],
) -> StateProviderDatabase {
    let mut overlay = StateOverlay::default();
    for block in chain {
        overlay.push(block.header.number, block.hash, &block.changes);
    }
    base.with_overlay(Arc::new(overlay))
}
