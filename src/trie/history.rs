//! Node history of selected storage tries: proofs against any retained block in O(depth).
//!
//! The trie tables hold the head state only. For the storage tries named in a [`TrieHistory`]
//! (the withdrawal contract's, whose proofs are asked for at the latest *firm* block, behind the
//! head), every block that rewrites or deletes a node records the node as it was before the block
//! in [`STORAGE_TRIE_HISTORY`], under `hashed address ‖ path length ‖ path ‖ block`. The node at
//! `path` as of block `n` is then the first history row of that path above `n`, or the current row
//! when there is none — the same rule as the plain-state history (`crate::storage`). A proof at
//! block `n` is a walk from the root reading nodes that way: a handful of range lookups instead of
//! rebuilding the trie.
//!
//! History is recorded from the block the trie was first tracked; a trie must be tracked from
//! genesis for proofs at every block (the node tracks the withdrawal contract from genesis).
//! Recording only what a block changes costs one history row per rewritten node of a tracked trie
//! and nothing for blocks that leave it alone.

use super::{
    error::{CorruptionKind, Result},
    node::TrieLocation,
    proof::prove_with,
    root::open_if_exists,
    tables::{STORAGE_TRIE, STORAGE_TRIE_HISTORY},
};
use alloy_primitives::{B256, Bytes, U256, keccak256};
use alloy_trie::Nibbles;
use redb::{ReadTransaction, ReadableTable, Table};

/// Which tries record node history while a block is applied.
#[derive(Debug, Clone, Copy)]
pub struct TrieHistory<'a> {
    /// The block being applied: history rows are keyed by it.
    pub block: u64,
    /// Hashed addresses of the accounts whose storage tries keep node history.
    pub storage_tries: &'a [B256],
}

impl TrieHistory<'_> {
    /// The block number to record under if the storage trie of `hashed_address` is tracked.
    pub(crate) fn block_for(&self, hashed_address: &B256) -> Option<u64> {
        self.storage_tries
            .contains(hashed_address)
            .then_some(self.block)
    }
}

/// Key of the history row of the node at `path` of the trie at `location`, changed by `block`.
/// The path length byte keeps the rows of one path contiguous and apart from its descendants'.
fn history_key(location: &TrieLocation<'_>, path: &Nibbles, block: u64) -> Vec<u8> {
    let prefix = location.first_key();
    let mut key = Vec::with_capacity(prefix.len() + 1 + path.len() + 8);
    key.extend_from_slice(&prefix);
    // Paths are at most 64 nibbles.
    key.push(u8::try_from(path.len()).unwrap_or(u8::MAX));
    key.extend(path.iter());
    key.extend_from_slice(&block.to_be_bytes());
    key
}

/// Records node values as they were before one block, for one tracked trie.
pub(crate) struct HistoryRecorder<'a, 'txn> {
    pub(crate) table: &'a mut Table<'txn, &'static [u8], &'static [u8]>,
    pub(crate) block: u64,
}

impl HistoryRecorder<'_, '_> {
    /// Records that the node at `path` was `previous` (`None`: no node) before this block, unless
    /// this block already recorded that path (its first record is the pre-block value).
    pub(crate) fn record(
        &mut self,
        location: &TrieLocation<'_>,
        path: &Nibbles,
        previous: Option<&[u8]>,
    ) -> Result<()> {
        let key = history_key(location, path, self.block);
        if self.table.get(key.as_slice())?.is_none() {
            self.table
                .insert(key.as_slice(), previous.unwrap_or_default())?;
        }
        Ok(())
    }
}

/// The node RLP at `path` as of block `block`, reading the trie's history above `block` first.
fn node_at<H, T>(
    history: &H,
    table: &T,
    location: &TrieLocation<'_>,
    path: &Nibbles,
    block: u64,
) -> Result<Option<Vec<u8>>>
where
    H: ReadableTable<&'static [u8], &'static [u8]>,
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let Some(after) = block.checked_add(1) else {
        return location.read(table, path);
    };
    let start = history_key(location, path, after);
    let end = history_key(location, path, u64::MAX);
    if let Some(entry) = history.range(start.as_slice()..=end.as_slice())?.next() {
        let (_, value) = entry?;
        let value = value.value();
        return Ok((!value.is_empty()).then(|| value.to_vec()));
    }
    location.read(table, path)
}

/// Proof of one slot of a tracked storage trie as of block `block`, checked against that
/// block's storage root `expected_root` (from the account leaf at that block). Returns the slot's
/// value and the geth-style proof.
///
/// Correct only for a trie that has been tracked since `block` or earlier; a trie that was not
/// shows up as a root mismatch ([`CorruptionKind::ReferenceMismatch`]), never as a wrong proof.
pub fn storage_proof_at(
    txn: &ReadTransaction,
    hashed_address: &B256,
    slot: B256,
    block: u64,
    expected_root: B256,
) -> Result<(U256, Vec<Bytes>)> {
    let location = TrieLocation::storage(hashed_address);
    let (Some(table), Some(history)) = (
        open_if_exists(txn, STORAGE_TRIE)?,
        open_if_exists(txn, STORAGE_TRIE_HISTORY)?,
    ) else {
        return Err(location.corrupt(&Nibbles::new(), CorruptionKind::Missing));
    };
    let hashed_slot = keccak256(slot);
    let (proof, value) = prove_with(
        |path| node_at(&history, &table, &location, path, block),
        location,
        &hashed_slot,
        Some(expected_root),
    )?;
    let value: Option<U256> = location.decode_leaf(&hashed_slot, value)?;
    Ok((value.unwrap_or_default(), proof))
}
