//! Tests of the state trie: the oracle is alloy-trie's one-shot root over the full expected state.

mod bundle;
mod corruption;
mod cost;
mod history;
mod oracle;
mod pending;
mod proof;

use super::{HashedAccount, HashedPostState, HashedStorage, tables};
use alloy_primitives::{B256, U256};
use alloy_trie::{
    KECCAK_EMPTY, TrieAccount,
    root::{state_root, storage_root},
};
use redb::{Database, ReadableDatabase, ReadableTable};
use std::{collections::BTreeMap, path::PathBuf};
use tempfile::TempDir;

/// xorshift64* — deterministic randomness without a dev-dependency.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) const fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(super) const fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(super) fn b256(&mut self) -> B256 {
        let mut out = B256::ZERO;
        for chunk in out.0.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_be_bytes());
        }
        out
    }

    /// A hashed key: either uniformly random, or sharing a long prefix with other keys (to get
    /// extensions, deep branches, leaves with short or empty keys and inline nodes).
    pub(super) fn key(&mut self) -> B256 {
        let mut key = self.b256();
        if self.below(2) == 0 {
            let base = [0x00, 0x5a, 0xff][self.below(3)];
            let random_tail = 1 + self.below(3);
            key.0[..32 - random_tail].fill(base);
            if self.below(4) == 0 {
                // Differ only in the very last nibble: a branch at depth 63.
                key.0[31] = (base & 0xf0) | (key.0[31] & 0x0f);
            }
        }
        key
    }

    /// A non-zero storage value, often tiny (so that deep leaves are inlined in their parent).
    pub(super) fn value(&mut self) -> U256 {
        match self.below(3) {
            0 => U256::from(1 + self.below(255)),
            1 => U256::from(self.next_u64() | 1),
            _ => U256::from_be_bytes(self.b256().0) | U256::from(1),
        }
    }

    pub(super) fn account(&mut self) -> HashedAccount {
        HashedAccount {
            nonce: self.next_u64() % 1000,
            balance: U256::from(self.next_u64()),
            code_hash: if self.below(2) == 0 {
                KECCAK_EMPTY
            } else {
                self.b256()
            },
        }
    }
}

/// The expected state, kept independently of the trie.
#[derive(Debug, Default, Clone)]
pub(super) struct Model {
    pub(super) accounts: BTreeMap<B256, (HashedAccount, BTreeMap<B256, U256>)>,
}

impl Model {
    /// Applies changes with the documented semantics of `apply_changes`.
    pub(super) fn apply(&mut self, changes: &HashedPostState) {
        for (hashed_address, account) in &changes.accounts {
            match account {
                None => {
                    self.accounts.remove(hashed_address);
                }
                Some(info) => {
                    self.accounts.entry(*hashed_address).or_default().0 = *info;
                }
            }
        }
        for (hashed_address, storage) in &changes.storages {
            if changes.accounts.get(hashed_address) == Some(&None) {
                continue;
            }
            let Some((_, slots)) = self.accounts.get_mut(hashed_address) else {
                assert!(
                    storage.slots.values().all(U256::is_zero),
                    "storage without account"
                );
                continue;
            };
            if storage.wiped {
                slots.clear();
            }
            for (slot, value) in &storage.slots {
                if value.is_zero() {
                    slots.remove(slot);
                } else {
                    slots.insert(*slot, *value);
                }
            }
        }
    }

    pub(super) fn storage_root(slots: &BTreeMap<B256, U256>) -> B256 {
        storage_root(slots.iter().map(|(k, v)| (*k, *v)))
    }

    pub(super) fn trie_account(&self, hashed_address: &B256) -> Option<TrieAccount> {
        self.accounts.get(hashed_address).map(|(info, slots)| {
            TrieAccount::new(
                info.nonce,
                info.balance,
                Self::storage_root(slots),
                info.code_hash,
            )
        })
    }

    /// The oracle: alloy-trie's one-shot state root.
    pub(super) fn root(&self) -> B256 {
        state_root(
            self.accounts
                .keys()
                .map(|h| (*h, self.trie_account(h).unwrap_or_default())),
        )
    }

    /// The whole state as one change set (a genesis).
    pub(super) fn genesis(&self) -> HashedPostState {
        let mut changes = HashedPostState::default();
        for (hashed_address, (info, slots)) in &self.accounts {
            changes.accounts.insert(*hashed_address, Some(*info));
            if !slots.is_empty() {
                changes.storages.insert(
                    *hashed_address,
                    HashedStorage {
                        wiped: false,
                        slots: slots.clone(),
                    },
                );
            }
        }
        changes
    }
}

/// A table row: key and value bytes.
pub(super) type Row = (Vec<u8>, Vec<u8>);

/// A redb database in a temporary directory that can be closed and reopened.
pub(super) struct TestDb {
    _dir: TempDir,
    path: PathBuf,
    pub(super) db: Database,
}

impl TestDb {
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("trie.redb");
        let db = Database::create(&path).expect("create db");
        Self {
            _dir: dir,
            path,
            db,
        }
    }

    /// Closes the database and opens it again from disk.
    pub(super) fn reopen(self) -> Self {
        let Self { _dir, path, db } = self;
        drop(db);
        let db = Database::open(&path).expect("reopen db");
        Self { _dir, path, db }
    }

    /// Applies `changes` in a new write transaction and commits it.
    pub(super) fn apply(&self, changes: &HashedPostState) -> B256 {
        let txn = self.db.begin_write().expect("begin write");
        let root = super::apply_changes(&txn, changes).expect("apply changes");
        txn.commit().expect("commit");
        root
    }

    /// [`Self::apply`] returning node counters.
    pub(super) fn apply_with_stats(
        &self,
        changes: &HashedPostState,
    ) -> (B256, super::sparse_trie::TrieStats) {
        let txn = self.db.begin_write().expect("begin write");
        let out =
            super::apply::apply_changes_with_stats(&txn, changes, None).expect("apply changes");
        txn.commit().expect("commit");
        out
    }

    pub(super) fn state_root(&self) -> B256 {
        let txn = self.db.begin_read().expect("begin read");
        super::state_root(&txn).expect("state root")
    }

    /// All rows of a trie table (empty if the table does not exist).
    pub(super) fn rows(
        &self,
        table: redb::TableDefinition<'static, &'static [u8], &'static [u8]>,
    ) -> Vec<Row> {
        let txn = self.db.begin_read().expect("begin read");
        let Some(table) = super::root::open_if_exists(&txn, table).expect("open table") else {
            return Vec::new();
        };
        table
            .iter()
            .expect("iter")
            .map(|row| {
                let (k, v) = row.expect("row");
                (k.value().to_vec(), v.value().to_vec())
            })
            .collect()
    }

    /// Both trie tables.
    pub(super) fn all_rows(&self) -> (Vec<Row>, Vec<Row>) {
        (
            self.rows(tables::ACCOUNT_TRIE),
            self.rows(tables::STORAGE_TRIE),
        )
    }
}
