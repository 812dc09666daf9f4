//! The head state as a revm database.

use super::{StorageError, codec::StoredAccount, error::Result, tables};
use alloy_primitives::{Address, B256, U256};
use alloy_trie::KECCAK_EMPTY;
use redb::{ReadOnlyTable, ReadTransaction};
use revm::{
    database::DatabaseRef,
    state::{AccountInfo, Bytecode},
};

/// Serves revm's reads (accounts, slots, code, block hashes) from a redb snapshot.
#[derive(Debug)]
pub struct StateProviderDatabase {
    accounts: ReadOnlyTable<[u8; 20], [u8; 72]>,
    storage: ReadOnlyTable<[u8; 52], [u8; 32]>,
    bytecodes: ReadOnlyTable<[u8; 32], &'static [u8]>,
    canonical: ReadOnlyTable<u64, [u8; 32]>,
}

impl StateProviderDatabase {
    pub(crate) fn new(txn: &ReadTransaction) -> Result<Self> {
        Ok(Self {
            accounts: txn.open_table(tables::ACCOUNTS)?,
            storage: txn.open_table(tables::STORAGE)?,
            bytecodes: txn.open_table(tables::BYTECODES)?,
            canonical: txn.open_table(tables::CANONICAL)?,
        })
    }
}

impl DatabaseRef for StateProviderDatabase {
    type Error = StorageError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>> {
        let Some(value) = self.accounts.get(address.0.0)? else {
            return Ok(None);
        };
        let account = StoredAccount::decode(&value.value());
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
        Ok(self
            .storage
            .get(super::storage_key(address, index))?
            .map(|v| U256::from_be_bytes(v.value()))
            .unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256> {
        Ok(self
            .canonical
            .get(number)?
            .map(|v| B256::from(v.value()))
            .unwrap_or_default())
    }
}
