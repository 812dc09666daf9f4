//! Where a trie update reads and writes node rows: a redb table, or an in-memory overlay.
//!
//! Blocks that are executed but not committed (consensus proposes and votes on them before they
//! are final) need their state root, and once final their trie rows must be written. Computing
//! the update against an [`Overlay`] (the committed rows of a read snapshot, the pending
//! ancestors' [`TrieUpdates`] on top, this block's changes on top of those) does the work once:
//! the result is kept with the pending block and written verbatim when it commits
//! ([`super::write_updates`]). No write transaction is held while computing, so verifying a block
//! never waits for a commit.

use super::{error::Result, root::open_if_exists, tables};
use alloy_primitives::B256;
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, Table};
use std::collections::BTreeMap;

/// Changed rows of one table: key → new node RLP, or `None` for a deleted row.
pub(crate) type RowChanges = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The trie rows one block changes, relative to its parent's state, and the resulting root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieUpdates {
    pub(crate) account: RowChanges,
    pub(crate) storage: RowChanges,
    pub(crate) root: B256,
}

impl TrieUpdates {
    /// The state root after the block.
    pub const fn root(&self) -> B256 {
        self.root
    }

    /// Number of changed rows (both tables).
    pub fn len(&self) -> usize {
        self.account.len() + self.storage.len()
    }

    /// Whether the block changed no row.
    pub fn is_empty(&self) -> bool {
        self.account.is_empty() && self.storage.is_empty()
    }
}

/// Read access to the rows of one trie table.
pub(crate) trait NodeStore {
    /// The row under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
}

/// Write access to the rows of one trie table.
pub(crate) trait NodeStoreMut: NodeStore {
    /// Sets the row under `key`; returns the previous row if `previous`.
    fn put(&mut self, key: &[u8], value: &[u8], previous: bool) -> Result<Option<Vec<u8>>>;

    /// Deletes the row under `key`; returns the deleted row if `previous`.
    fn delete(&mut self, key: &[u8], previous: bool) -> Result<Option<Vec<u8>>>;

    /// Every row with `start <= key < end`, in key order.
    fn rows(&self, start: &[u8], end: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Deletes every row with `start <= key < end`.
    fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<()>;
}

fn table_get<T>(table: &T, key: &[u8]) -> Result<Option<Vec<u8>>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    Ok(table.get(key)?.map(|row| row.value().to_vec()))
}

fn table_rows<T>(table: &T, start: &[u8], end: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let mut out = Vec::new();
    for row in table.range(start..end)? {
        let (key, value) = row?;
        out.push((key.value().to_vec(), value.value().to_vec()));
    }
    Ok(out)
}

impl NodeStore for Table<'_, &'static [u8], &'static [u8]> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        table_get(self, key)
    }
}

impl NodeStore for ReadOnlyTable<&'static [u8], &'static [u8]> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        table_get(self, key)
    }
}

impl NodeStoreMut for Table<'_, &'static [u8], &'static [u8]> {
    fn put(&mut self, key: &[u8], value: &[u8], previous: bool) -> Result<Option<Vec<u8>>> {
        let replaced = self.insert(key, value)?;
        Ok(replaced
            .filter(|_| previous)
            .map(|row| row.value().to_vec()))
    }

    fn delete(&mut self, key: &[u8], previous: bool) -> Result<Option<Vec<u8>>> {
        let removed = self.remove(key)?;
        Ok(removed.filter(|_| previous).map(|row| row.value().to_vec()))
    }

    fn rows(&self, start: &[u8], end: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        table_rows(self, start, end)
    }

    fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<()> {
        self.retain_in(start..end, |_, _| false)?;
        Ok(())
    }
}

/// One trie table as a block on top of pending ancestors sees it: its own changes, then the
/// ancestors' (newest first), then the committed rows of a read snapshot (`None`: the table does
/// not exist yet, i.e. it is empty).
pub(crate) struct Overlay<'a> {
    base: Option<ReadOnlyTable<&'static [u8], &'static [u8]>>,
    /// Ancestors' changes, oldest first.
    layers: Vec<&'a RowChanges>,
    own: RowChanges,
}

impl<'a> Overlay<'a> {
    pub(crate) const fn new(
        base: Option<ReadOnlyTable<&'static [u8], &'static [u8]>>,
        layers: Vec<&'a RowChanges>,
    ) -> Self {
        Self {
            base,
            layers,
            own: RowChanges::new(),
        }
    }

    /// This block's changes.
    pub(crate) fn into_changes(self) -> RowChanges {
        self.own
    }
}

impl NodeStore for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(row) = self.own.get(key) {
            return Ok(row.clone());
        }
        for layer in self.layers.iter().rev() {
            if let Some(row) = layer.get(key) {
                return Ok(row.clone());
            }
        }
        match &self.base {
            Some(base) => table_get(base, key),
            None => Ok(None),
        }
    }
}

impl NodeStoreMut for Overlay<'_> {
    fn put(&mut self, key: &[u8], value: &[u8], previous: bool) -> Result<Option<Vec<u8>>> {
        let before = if previous { self.get(key)? } else { None };
        self.own.insert(key.to_vec(), Some(value.to_vec()));
        Ok(before)
    }

    fn delete(&mut self, key: &[u8], previous: bool) -> Result<Option<Vec<u8>>> {
        let before = if previous { self.get(key)? } else { None };
        self.own.insert(key.to_vec(), None);
        Ok(before)
    }

    fn rows(&self, start: &[u8], end: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = match &self.base {
            Some(base) => table_rows(base, start, end)?
                .into_iter()
                .map(|(key, value)| (key, Some(value)))
                .collect(),
            None => BTreeMap::new(),
        };
        for layer in self.layers.iter().copied().chain([&self.own]) {
            for (key, row) in layer.range(start.to_vec()..end.to_vec()) {
                merged.insert(key.clone(), row.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(key, row)| row.map(|value| (key, value)))
            .collect())
    }

    fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<()> {
        for (key, _) in self.rows(start, end)? {
            self.own.insert(key, None);
        }
        Ok(())
    }
}

/// The account and storage trie tables of a read snapshot, with pending ancestors on top.
pub(crate) fn overlays<'a>(
    txn: &ReadTransaction,
    ancestors: &[&'a TrieUpdates],
) -> Result<(Overlay<'a>, Overlay<'a>)> {
    let account = Overlay::new(
        open_if_exists(txn, tables::ACCOUNT_TRIE)?,
        ancestors.iter().map(|u| &u.account).collect(),
    );
    let storage = Overlay::new(
        open_if_exists(txn, tables::STORAGE_TRIE)?,
        ancestors.iter().map(|u| &u.storage).collect(),
    );
    Ok((account, storage))
}
