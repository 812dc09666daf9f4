//! Reading the current state root.

use super::{error::Result, tables::ACCOUNT_TRIE};
use alloy_primitives::{B256, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;
use redb::{ReadOnlyTable, ReadTransaction, TableDefinition, TableError};

/// Current state root (EMPTY_ROOT_HASH when the tables are empty/missing).
pub fn state_root(txn: &ReadTransaction) -> Result<B256> {
    let Some(table) = open_if_exists(txn, ACCOUNT_TRIE)? else {
        return Ok(EMPTY_ROOT_HASH);
    };
    let root = table.get([].as_slice())?;
    Ok(root.map_or(EMPTY_ROOT_HASH, |rlp| keccak256(rlp.value())))
}

/// Opens a table for reading; `None` if it was never created (a fresh database).
pub(crate) fn open_if_exists(
    txn: &ReadTransaction,
    definition: TableDefinition<'static, &'static [u8], &'static [u8]>,
) -> Result<Option<ReadOnlyTable<&'static [u8], &'static [u8]>>> {
    match txn.open_table(definition) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(err) => Err(err.into()),
    }
}
