//! The write side: one [`BlockWriter`] is one redb write transaction, i.e. one atomic block.

use super::{
    codec::{
        StoredAccount, account_history_key, storage_history_key, storage_key, storage_range,
        tx_location,
    },
    error::Result,
    tables,
};
use crate::trie::{self, HashedPostState};
use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::{B256, U256};
use redb::{ReadableTable, WriteTransaction};

pub use revm::database::states::StateChangeset;

/// Accumulates everything one block changes; nothing is visible to readers until
/// [`BlockWriter::commit`], and dropping it (or [`BlockWriter::abort`]) discards it all.
pub struct BlockWriter {
    txn: WriteTransaction,
}

impl std::fmt::Debug for BlockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockWriter").finish_non_exhaustive()
    }
}

impl BlockWriter {
    pub(crate) const fn new(txn: WriteTransaction) -> Self {
        Self { txn }
    }

    /// The underlying transaction (for the trie).
    pub const fn txn(&self) -> &WriteTransaction {
        &self.txn
    }

    /// Applies plain-state changes: accounts, storage (wipes first) and new bytecode. With
    /// `history = Some(block)`, the previous value of every changed key is recorded for
    /// historical state queries.
    pub fn write_state(&self, changes: &StateChangeset, history: Option<u64>) -> Result<()> {
        let mut accounts = self.txn.open_table(tables::ACCOUNTS)?;
        let mut storage = self.txn.open_table(tables::STORAGE)?;
        let mut bytecodes = self.txn.open_table(tables::BYTECODES)?;
        let mut account_history = self.txn.open_table(tables::ACCOUNT_HISTORY)?;
        let mut storage_history = self.txn.open_table(tables::STORAGE_HISTORY)?;
        for (address, info) in &changes.accounts {
            if let Some(block) = history {
                let previous = accounts.get(address.0.0)?.map(|v| v.value());
                let previous: &[u8] = previous.as_ref().map_or(&[], |v| v.as_slice());
                account_history.insert(account_history_key(*address, block), previous)?;
            }
            match info {
                Some(info) => {
                    let stored = StoredAccount {
                        nonce: info.nonce,
                        balance: info.balance,
                        code_hash: info.code_hash,
                    };
                    accounts.insert(address.0.0, stored.encode())?;
                }
                None => {
                    accounts.remove(address.0.0)?;
                }
            }
        }
        for change in &changes.storage {
            if change.wipe_storage {
                let (start, end) = storage_range(change.address);
                if let Some(block) = history {
                    for entry in storage.range(start..=end)? {
                        let (key, value) = entry?;
                        let slot = U256::from_be_slice(&key.value()[20..]);
                        storage_history.insert(
                            storage_history_key(change.address, slot, block),
                            value.value(),
                        )?;
                    }
                }
                storage.retain_in(start..=end, |_, _| false)?;
            }
            for (slot, value) in &change.storage {
                let key = storage_key(change.address, *slot);
                if let Some(block) = history {
                    let history_key = storage_history_key(change.address, *slot, block);
                    // A wipe above may already have recorded the pre-block value.
                    if storage_history.get(history_key)?.is_none() {
                        let previous = storage.get(key)?.map(|v| v.value()).unwrap_or([0u8; 32]);
                        storage_history.insert(history_key, previous)?;
                    }
                }
                if value.is_zero() {
                    storage.remove(key)?;
                } else {
                    storage.insert(key, value.to_be_bytes::<32>())?;
                }
            }
        }
        for (hash, code) in &changes.contracts {
            if bytecodes.get(hash.0)?.is_none() {
                bytecodes.insert(hash.0, code.original_byte_slice())?;
            }
        }
        Ok(())
    }

    /// Applies hashed changes to the state trie and returns the new state root. With `history`
    /// (the block's number, as for [`Self::write_state`]) the withdrawal contract's storage trie
    /// records its previous nodes, so withdrawals can be proven at any later block.
    pub fn write_trie(&self, changes: &HashedPostState, history: Option<u64>) -> Result<B256> {
        let tracked = tracked_storage_tries();
        let history = history.map(|block| trie::TrieHistory {
            block,
            storage_tries: &tracked,
        });
        Ok(trie::apply_changes_with_history(
            &self.txn, changes, history,
        )?)
    }

    /// Writes trie rows computed ahead of the commit ([`trie::compute_updates`] on this block's
    /// parent state) and returns the state root; `history` as for [`Self::write_trie`].
    pub fn write_trie_updates(
        &self,
        updates: &trie::TrieUpdates,
        history: Option<u64>,
    ) -> Result<B256> {
        let tracked = tracked_storage_tries();
        let history = history.map(|block| trie::TrieHistory {
            block,
            storage_tries: &tracked,
        });
        Ok(trie::write_updates(&self.txn, updates, history)?)
    }

    /// Stores a block as the new canonical block at its height, with its receipts and the
    /// transaction index.
    pub fn write_block(
        &self,
        hash: B256,
        header: &Header,
        body: &BlockBody<TxEnvelope>,
        receipts: &[ReceiptEnvelope],
    ) -> Result<()> {
        let mut headers = self.txn.open_table(tables::HEADERS)?;
        headers.insert(hash.0, alloy_rlp::encode(header).as_slice())?;
        self.txn
            .open_table(tables::HEADER_NUMBERS)?
            .insert(hash.0, header.number)?;
        self.txn
            .open_table(tables::CANONICAL)?
            .insert(header.number, hash.0)?;
        self.txn
            .open_table(tables::BODIES)?
            .insert(hash.0, alloy_rlp::encode(body).as_slice())?;
        self.txn
            .open_table(tables::RECEIPTS)?
            .insert(hash.0, encode_receipts(receipts).as_slice())?;
        let mut lookup = self.txn.open_table(tables::TX_LOOKUP)?;
        for (index, tx) in body.transactions.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            lookup.insert(tx.trie_hash().0, tx_location(header.number, index))?;
        }
        crate::withdrawals::index::index_block(&self.txn, header.number, receipts)?;
        Ok(())
    }

    /// Stores the consensus finalization certificate of the block at `number`.
    pub fn write_certificate(&self, number: u64, certificate: &[u8]) -> Result<()> {
        self.txn
            .open_table(tables::CERTIFICATES)?
            .insert(number, certificate)?;
        Ok(())
    }

    /// Sets a named pointer (`head`, `safe`, `finalized`, `genesis`).
    pub fn set_pointer(&self, name: &str, hash: B256) -> Result<()> {
        self.set_meta(name, hash.as_slice())
    }

    /// Sets a raw meta value.
    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.txn.open_table(tables::META)?.insert(name, value)?;
        Ok(())
    }

    /// Reads a named pointer as of this transaction (including its own writes).
    pub fn pointer(&self, name: &str) -> Result<Option<B256>> {
        let table = self.txn.open_table(tables::META)?;
        let value = table.get(name)?.map(|v| v.value().to_vec());
        Ok(value
            .filter(|v| v.len() == 32)
            .map(|v| B256::from_slice(&v)))
    }

    /// Makes everything durable and visible atomically.
    pub fn commit(self) -> Result<()> {
        self.txn.commit()?;
        Ok(())
    }

    /// Discards everything written.
    pub fn abort(self) -> Result<()> {
        self.txn.abort()?;
        Ok(())
    }
}

/// Hashed addresses of the accounts whose storage tries keep node history: the withdrawal
/// contract, whose withdrawals are proven at firm blocks behind the head.
fn tracked_storage_tries() -> [B256; 1] {
    [alloy_primitives::keccak256(
        crate::withdrawals::MESSAGE_PASSER_ADDRESS,
    )]
}

/// Builds a plain changeset for a set of genesis accounts.
pub fn genesis_changeset(
    alloc: &std::collections::BTreeMap<alloy_primitives::Address, alloy_genesis::GenesisAccount>,
) -> StateChangeset {
    use revm::state::{AccountInfo, Bytecode};
    let mut changes = StateChangeset::default();
    for (address, account) in alloc {
        let code = account
            .code
            .clone()
            .filter(|c| !c.is_empty())
            .map(Bytecode::new_raw);
        let code_hash = code
            .as_ref()
            .map_or(alloy_trie::KECCAK_EMPTY, |c| c.hash_slow());
        if let Some(code) = code {
            changes.contracts.push((code_hash, code));
        }
        changes.accounts.push((
            *address,
            Some(AccountInfo::new(
                account.balance,
                account.nonce.unwrap_or_default(),
                code_hash,
                Default::default(),
            )),
        ));
        let slots: Vec<(U256, U256)> = account
            .storage
            .iter()
            .flatten()
            .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
            .filter(|(_, v)| !v.is_zero())
            .collect();
        if !slots.is_empty() {
            changes
                .storage
                .push(revm::database::states::PlainStorageChangeset {
                    address: *address,
                    wipe_storage: false,
                    storage: slots,
                });
        }
    }
    changes
}

/// RLP list of receipts (each in its EIP-2718 network form).
fn encode_receipts(receipts: &[ReceiptEnvelope]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list::<ReceiptEnvelope, ReceiptEnvelope>(receipts, &mut out);
    out
}
