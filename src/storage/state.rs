//! The head state as a revm database.

use super::{StorageError, codec::StoredAccount, error::Result, tables};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use alloy_trie::KECCAK_EMPTY;
use redb::{ReadOnlyTable, ReadTransaction};
use revm::{
    database::{DatabaseRef, states::StateChangeset},
    state::{AccountInfo, Bytecode},
};
use std::sync::Arc;

/// Storage of one account as changed by blocks that are not in the database.
#[derive(Debug, Default, Clone)]
struct StorageOverlay {
    /// The account's storage was wiped: unlisted slots are zero.
    wiped: bool,
    slots: HashMap<U256, U256>,
}

/// The changes of blocks that are executed but not committed (pending blocks, the RPC's
/// `pending` block), to read on top of a snapshot: absolute values that shadow it.
#[derive(Debug, Default, Clone)]
pub struct StateOverlay {
    accounts: HashMap<Address, Option<AccountInfo>>,
    storage: HashMap<Address, StorageOverlay>,
    contracts: HashMap<B256, Bytecode>,
    block_hashes: HashMap<u64, B256>,
}

impl StateOverlay {
    /// Adds block `number` (hash `hash`) with its state changes on top.
    pub fn push(&mut self, number: u64, hash: B256, changes: &StateChangeset) {
        self.block_hashes.insert(number, hash);
        for (address, info) in &changes.accounts {
            self.accounts.insert(*address, info.clone());
        }
        for change in &changes.storage {
            let entry = self.storage.entry(change.address).or_default();
            if change.wipe_storage {
                entry.wiped = true;
                entry.slots.clear();
            }
            entry.slots.extend(change.storage.iter().copied());
        }
        for (hash, code) in &changes.contracts {
            self.contracts.insert(*hash, code.clone());
        }
    }
}

/// Serves revm's reads (accounts, slots, code, block hashes) from a redb snapshot, either of the
/// head state or of the state as of an older block (through the history tables).
#[derive(Debug)]
pub struct StateProviderDatabase {
    accounts: ReadOnlyTable<[u8; 20], [u8; 72]>,
    storage: ReadOnlyTable<[u8; 52], [u8; 32]>,
    bytecodes: ReadOnlyTable<[u8; 32], &'static [u8]>,
    canonical: ReadOnlyTable<u64, [u8; 32]>,
    account_history: ReadOnlyTable<[u8; 28], &'static [u8]>,
    storage_history: ReadOnlyTable<[u8; 60], [u8; 32]>,
    /// `Some(n)`: state after block `n`; `None`: head state.
    at_block: Option<u64>,
    /// Changes of uncommitted blocks on top.
    overlay: Option<Arc<StateOverlay>>,
}

impl StateProviderDatabase {
    pub(crate) fn new(txn: &ReadTransaction, at_block: Option<u64>) -> Result<Self> {
        Ok(Self {
            accounts: txn.open_table(tables::ACCOUNTS)?,
            storage: txn.open_table(tables::STORAGE)?,
            bytecodes: txn.open_table(tables::BYTECODES)?,
            canonical: txn.open_table(tables::CANONICAL)?,
            account_history: txn.open_table(tables::ACCOUNT_HISTORY)?,
            storage_history: txn.open_table(tables::STORAGE_HISTORY)?,
            at_block,
            overlay: None,
        })
    }

    /// This view with the changes of uncommitted blocks on top.
    #[must_use]
    pub fn with_overlay(mut self, overlay: Arc<StateOverlay>) -> Self {
        self.overlay = Some(overlay);
        self
    }

    /// The account as of this view.
    pub fn account(&self, address: Address) -> Result<Option<StoredAccount>> {
        if let Some(info) = self
            .overlay
            .as_ref()
            .and_then(|overlay| overlay.accounts.get(&address))
        {
            return Ok(info.as_ref().map(|info| StoredAccount {
                nonce: info.nonce,
                balance: info.balance,
                code_hash: info.code_hash,
            }));
        }
        if let Some(block) = self.at_block
            && let Some(block) = block.checked_add(1)
        {
            let start = super::account_history_key(address, block);
            let end = super::account_history_key(address, u64::MAX);
            if let Some(entry) = self.account_history.range(start..=end)?.next() {
                let (_, value) = entry?;
                return match <&[u8; 72]>::try_from(value.value()) {
                    Ok(bytes) => Ok(Some(StoredAccount::decode(bytes))),
                    Err(_) if value.value().is_empty() => Ok(None),
                    Err(_) => Err(StorageError::Corrupt {
                        table: "account_history",
                        key: address.to_string(),
                        message: format!("{} bytes, expected 0 or 72", value.value().len()),
                    }),
                };
            }
        }
        Ok(self
            .accounts
            .get(address.0.0)?
            .map(|v| StoredAccount::decode(&v.value())))
    }
}

impl DatabaseRef for StateProviderDatabase {
    type Error = StorageError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>> {
        // Through `account` so that a view of an older block sees the account as it was then.
        let Some(account) = self.account(address)? else {
            return Ok(None);
        };
        let code = if account.code_hash == KECCAK_EMPTY {
            None
        } else {
            Some(self.code_by_hash_ref(account.code_hash)?)
        };
        Ok(Some(AccountInfo::new(
            account.balance,
            account.nonce,
            account.code_hash,
            code.unwrap_or_default(),
        )))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self
            .overlay
            .as_ref()
            .and_then(|overlay| overlay.contracts.get(&code_hash))
        {
            return Ok(code.clone());
        }
        let value = self
            .bytecodes
            .get(code_hash.0)?
            .ok_or_else(|| StorageError::Corrupt {
                table: "bytecodes",
                key: code_hash.to_string(),
                message: "code referenced by an account is missing".into(),
            })?;
        Ok(Bytecode::new_raw(alloy_primitives::Bytes::copy_from_slice(
            value.value(),
        )))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256> {
        if let Some(storage) = self
            .overlay
            .as_ref()
            .and_then(|overlay| overlay.storage.get(&address))
        {
            match storage.slots.get(&index) {
                Some(value) => return Ok(*value),
                None if storage.wiped => return Ok(U256::ZERO),
                None => {}
            }
        }
        if let Some(block) = self.at_block
            && let Some(block) = block.checked_add(1)
        {
            let start = super::storage_history_key(address, index, block);
            let end = super::storage_history_key(address, index, u64::MAX);
            if let Some(entry) = self.storage_history.range(start..=end)?.next() {
                return Ok(U256::from_be_bytes(entry?.1.value()));
            }
        }
        Ok(self
            .storage
            .get(super::storage_key(address, index))?
            .map(|v| U256::from_be_bytes(v.value()))
            .unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256> {
        if let Some(hash) = self
            .overlay
            .as_ref()
            .and_then(|overlay| overlay.block_hashes.get(&number))
        {
            return Ok(*hash);
        }
        Ok(self
            .canonical
            .get(number)?
            .map(|v| B256::from(v.value()))
            .unwrap_or_default())
    }
}
