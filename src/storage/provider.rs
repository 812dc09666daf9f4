//! Read access to a snapshot of the database.

use super::{
    StorageError, codec::StoredAccount, error::Result, state::StateProviderDatabase, tables,
};
use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, TxEnvelope};
use alloy_primitives::{Address, B256, U256};
use alloy_rlp::Decodable;
use redb::{ReadTransaction, ReadableTable};

/// A read-only snapshot of the chain and its state (as of the snapshot's head).
#[derive(Debug)]
pub struct Provider {
    txn: ReadTransaction,
}

/// Decodes an RLP value read from `table`, naming the entry on failure.
pub(crate) fn decode_rlp<T: Decodable>(table: &'static str, key: B256, bytes: &[u8]) -> Result<T> {
    T::decode(&mut &bytes[..]).map_err(|e| StorageError::Corrupt {
        table,
        key: key.to_string(),
        message: e.to_string(),
    })
}

impl Provider {
    pub(crate) const fn new(txn: ReadTransaction) -> Result<Self> {
        Ok(Self { txn })
    }

    /// The consensus finalization certificate stored for the canonical block at `number`.
    pub fn certificate(&self, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .txn
            .open_table(tables::CERTIFICATES)?
            .get(number)?
            .map(|v| v.value().to_vec()))
    }

    /// The underlying redb transaction (for the trie and proofs).
    pub const fn txn(&self) -> &ReadTransaction {
        &self.txn
    }

    /// Reads a named pointer from `meta`.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let table = self.txn.open_table(tables::META)?;
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Hash stored under a forkchoice/meta name (`head`, `safe`, `finalized`, `genesis`).
    pub fn pointer(&self, key: &str) -> Result<Option<B256>> {
        Ok(self
            .meta(key)?
            .filter(|v| v.len() == 32)
            .map(|v| B256::from_slice(&v)))
    }

    /// The canonical head header, if the database is initialised.
    pub fn head(&self) -> Result<Option<Header>> {
        match self.pointer("head")? {
            Some(hash) => self.header(hash),
            None => Ok(None),
        }
    }

    /// Header by hash.
    pub fn header(&self, hash: B256) -> Result<Option<Header>> {
        let table = self.txn.open_table(tables::HEADERS)?;
        table
            .get(hash.0)?
            .map(|v| decode_rlp("headers", hash, v.value()))
            .transpose()
    }

    /// Block number of a known block hash.
    pub fn block_number(&self, hash: B256) -> Result<Option<u64>> {
        let table = self.txn.open_table(tables::HEADER_NUMBERS)?;
        Ok(table.get(hash.0)?.map(|v| v.value()))
    }

    /// Hash of the canonical block at `number`.
    pub fn canonical_hash(&self, number: u64) -> Result<Option<B256>> {
        let table = self.txn.open_table(tables::CANONICAL)?;
        Ok(table.get(number)?.map(|v| B256::from(v.value())))
    }

    /// Canonical header at `number`.
    pub fn header_by_number(&self, number: u64) -> Result<Option<Header>> {
        match self.canonical_hash(number)? {
            Some(hash) => self.header(hash),
            None => Ok(None),
        }
    }

    /// Body by block hash.
    pub fn body(&self, hash: B256) -> Result<Option<BlockBody<TxEnvelope>>> {
        let table = self.txn.open_table(tables::BODIES)?;
        table
            .get(hash.0)?
            .map(|v| decode_rlp("bodies", hash, v.value()))
            .transpose()
    }

    /// Receipts by block hash.
    pub fn receipts(&self, hash: B256) -> Result<Option<Vec<ReceiptEnvelope>>> {
        let table = self.txn.open_table(tables::RECEIPTS)?;
        table
            .get(hash.0)?
            .map(|v| decode_rlp("receipts", hash, v.value()))
            .transpose()
    }

    /// Block number and index of a canonical transaction.
    pub fn transaction_location(&self, tx_hash: B256) -> Result<Option<(u64, u32)>> {
        let table = self.txn.open_table(tables::TX_LOOKUP)?;
        Ok(table
            .get(tx_hash.0)?
            .map(|v| super::decode_tx_location(&v.value())))
    }

    /// Account in the head state.
    pub fn account(&self, address: Address) -> Result<Option<StoredAccount>> {
        let table = self.txn.open_table(tables::ACCOUNTS)?;
        Ok(table
            .get(address.0.0)?
            .map(|v| StoredAccount::decode(&v.value())))
    }

    /// Storage slot in the head state (zero when absent).
    pub fn storage(&self, address: Address, slot: U256) -> Result<U256> {
        let table = self.txn.open_table(tables::STORAGE)?;
        Ok(table
            .get(super::storage_key(address, slot))?
            .map(|v| U256::from_be_bytes(v.value()))
            .unwrap_or_default())
    }

    /// All non-zero storage slots of an account in the head state, in slot order.
    pub fn storage_slots(&self, address: Address) -> Result<Vec<(U256, U256)>> {
        let table = self.txn.open_table(tables::STORAGE)?;
        let (start, end) = super::storage_range(address);
        let mut out = Vec::new();
        for entry in table.range(start..=end)? {
            let (key, value) = entry?;
            out.push((
                U256::from_be_slice(&key.value()[20..]),
                U256::from_be_bytes(value.value()),
            ));
        }
        Ok(out)
    }

    /// Every account in the head state, in address order.
    pub fn accounts(&self) -> Result<Vec<(Address, StoredAccount)>> {
        let table = self.txn.open_table(tables::ACCOUNTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            out.push((
                Address::from(key.value()),
                StoredAccount::decode(&value.value()),
            ));
        }
        Ok(out)
    }

    /// Bytecode by hash.
    pub fn bytecode(&self, code_hash: B256) -> Result<Option<alloy_primitives::Bytes>> {
        let table = self.txn.open_table(tables::BYTECODES)?;
        Ok(table
            .get(code_hash.0)?
            .map(|v| alloy_primitives::Bytes::copy_from_slice(v.value())))
    }

    /// A revm database over this snapshot's head state.
    pub fn state(&self) -> Result<StateProviderDatabase> {
        StateProviderDatabase::new(&self.txn, None)
    }

    /// A revm database over the state as it was after canonical block `number`.
    pub fn state_at(&self, number: u64) -> Result<StateProviderDatabase> {
        StateProviderDatabase::new(&self.txn, Some(number))
    }
}
