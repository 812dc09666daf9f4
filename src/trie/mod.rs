//! TEMPORARY full-recompute state root (replaced by the incremental trie on branch `trie`).
#![allow(missing_docs, unreachable_pub)]

pub mod tables {
    use redb::TableDefinition;
    pub const ACCOUNT_TRIE: TableDefinition<'_, &[u8], &[u8]> =
        TableDefinition::new("account_trie");
    pub const STORAGE_TRIE: TableDefinition<'_, &[u8], &[u8]> =
        TableDefinition::new("storage_trie");
}

use alloy_primitives::{B256, U256, keccak256};
use alloy_trie::TrieAccount;
use redb::{ReadableTable, WriteTransaction};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    #[error("trie database error: {0}")]
    Db(#[from] redb::Error),
}
impl From<redb::TableError> for TrieError {
    fn from(e: redb::TableError) -> Self {
        Self::Db(e.into())
    }
}
impl From<redb::StorageError> for TrieError {
    fn from(e: redb::StorageError) -> Self {
        Self::Db(e.into())
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HashedPostState {
    pub accounts: BTreeMap<B256, Option<HashedAccount>>,
    pub storages: BTreeMap<B256, HashedStorage>,
}
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HashedAccount {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
}
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HashedStorage {
    pub wiped: bool,
    pub slots: BTreeMap<B256, U256>,
}

impl HashedPostState {
    pub fn from_bundle_state(bundle: &revm::database::BundleState) -> Self {
        let mut out = Self::default();
        for (address, account) in &bundle.state {
            let hashed = keccak256(address);
            out.accounts.insert(
                hashed,
                account.info.as_ref().map(|i| HashedAccount {
                    nonce: i.nonce,
                    balance: i.balance,
                    code_hash: i.code_hash,
                }),
            );
            let wiped = account.was_destroyed();
            let slots: BTreeMap<B256, U256> = account
                .storage
                .iter()
                .filter(|(_, s)| s.is_changed() || wiped)
                .map(|(k, s)| (keccak256(B256::from(*k)), s.present_value))
                .collect();
            if wiped || !slots.is_empty() {
                out.storages.insert(hashed, HashedStorage { wiped, slots });
            }
        }
        out
    }
}

pub fn apply_changes(txn: &WriteTransaction, changes: &HashedPostState) -> Result<B256, TrieError> {
    let mut accounts = txn.open_table(tables::ACCOUNT_TRIE)?;
    let mut storage = txn.open_table(tables::STORAGE_TRIE)?;
    for (hashed, storage_changes) in &changes.storages {
        if storage_changes.wiped {
            let mut end = hashed.to_vec();
            end.extend([0xff; 32]);
            storage.retain_in(hashed.as_slice()..=end.as_slice(), |_, _| false)?;
        }
        for (slot, value) in &storage_changes.slots {
            let mut key = hashed.to_vec();
            key.extend_from_slice(slot.as_slice());
            if value.is_zero() {
                storage.remove(key.as_slice())?;
            } else {
                storage.insert(key.as_slice(), value.to_be_bytes::<32>().as_slice())?;
            }
        }
    }
    for (hashed, account) in &changes.accounts {
        match account {
            Some(a) => {
                let mut v = a.nonce.to_be_bytes().to_vec();
                v.extend(a.balance.to_be_bytes::<32>());
                v.extend(a.code_hash.0);
                accounts.insert(hashed.as_slice(), v.as_slice())?;
            }
            None => {
                accounts.remove(hashed.as_slice())?;
                let mut end = hashed.to_vec();
                end.extend([0xff; 32]);
                storage.retain_in(hashed.as_slice()..=end.as_slice(), |_, _| false)?;
            }
        }
    }
    let mut leaves = Vec::new();
    for entry in accounts.iter()? {
        let (k, v) = entry?;
        let (k, v) = (B256::from_slice(k.value()), v.value().to_vec());
        let mut end = k.to_vec();
        end.extend([0xff; 32]);
        let mut slots = Vec::new();
        for s in storage.range(k.as_slice()..=end.as_slice())? {
            let (sk, sv) = s?;
            slots.push((
                B256::from_slice(&sk.value()[32..]),
                U256::from_be_slice(sv.value()),
            ));
        }
        let root = alloy_trie::root::storage_root(slots);
        let nonce = u64::from_be_bytes(v[..8].try_into().unwrap_or_default());
        leaves.push((
            k,
            TrieAccount {
                nonce,
                balance: U256::from_be_slice(&v[8..40]),
                storage_root: root,
                code_hash: B256::from_slice(&v[40..72]),
            },
        ));
    }
    Ok(alloy_trie::root::state_root(leaves))
}
