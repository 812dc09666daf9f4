//! Per-block withdrawal data: the withdrawal index (withdrawal hash → where its `MessagePassed`
//! event is) and the message passer's storage root after each block, read from the state trie.
//!
//! Written by [`index_block`] inside the block's single write transaction (from
//! `BlockWriter::write_block`, after the trie update), so the index and the chain can never
//! disagree after a crash. Blocks committed before these tables existed are not indexed; they
//! can still be found by transaction hash, and their storage root is rebuilt from history.

use super::{WithdrawalError, event::WithdrawalMessage};
use crate::storage::Provider;
use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::B256;
use redb::{TableDefinition, WriteTransaction};

/// Withdrawal hash → block number (8 bytes BE) ‖ transaction index (4) ‖ log index in block (4).
pub const WITHDRAWALS: TableDefinition<'_, [u8; 32], [u8; 16]> =
    TableDefinition::new("withdrawals");

/// Block number → storage root of the message passer after that block (from the state trie).
pub const MESSAGE_PASSER_ROOTS: TableDefinition<'_, u64, [u8; 32]> =
    TableDefinition::new("message_passer_roots");

/// Location of a withdrawal in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WithdrawalLocation {
    /// Block number.
    pub block: u64,
    /// Index of the transaction in the block.
    pub tx_index: u32,
    /// Index of the log in the block.
    pub log_index: u32,
}

impl WithdrawalLocation {
    fn encode(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.block.to_be_bytes());
        out[8..12].copy_from_slice(&self.tx_index.to_be_bytes());
        out[12..].copy_from_slice(&self.log_index.to_be_bytes());
        out
    }

    fn decode(bytes: [u8; 16]) -> Self {
        let mut block = [0u8; 8];
        block.copy_from_slice(&bytes[..8]);
        let mut tx_index = [0u8; 4];
        tx_index.copy_from_slice(&bytes[8..12]);
        let mut log_index = [0u8; 4];
        log_index.copy_from_slice(&bytes[12..]);
        Self {
            block: u64::from_be_bytes(block),
            tx_index: u32::from_be_bytes(tx_index),
            log_index: u32::from_be_bytes(log_index),
        }
    }
}

/// Every withdrawal initiated in a block's receipts, with its location.
pub fn withdrawals_in(
    block: u64,
    receipts: &[ReceiptEnvelope],
) -> Vec<(WithdrawalLocation, WithdrawalMessage)> {
    let mut out = Vec::new();
    let mut log_index = 0u32;
    for (tx_index, receipt) in receipts.iter().enumerate() {
        for log in receipt.logs() {
            if let Some(message) = WithdrawalMessage::from_log(log) {
                let location = WithdrawalLocation {
                    block,
                    tx_index: u32::try_from(tx_index).unwrap_or(u32::MAX),
                    log_index,
                };
                out.push((location, message));
            }
            log_index = log_index.saturating_add(1);
        }
    }
    out
}

/// Records the block's withdrawals and the message passer's storage root as the block's trie
/// update left it; called inside the block's write transaction, after the trie update.
pub fn index_block(
    txn: &WriteTransaction,
    block: u64,
    receipts: &[ReceiptEnvelope],
) -> crate::storage::Result<()> {
    let account = crate::trie::account_leaf(
        &txn.open_table(crate::trie::tables::ACCOUNT_TRIE)?,
        super::MESSAGE_PASSER_ADDRESS,
    )?;
    let storage_root = account.map_or(alloy_trie::EMPTY_ROOT_HASH, |a| a.storage_root);
    txn.open_table(MESSAGE_PASSER_ROOTS)?
        .insert(block, storage_root.0)?;
    let found = withdrawals_in(block, receipts);
    if found.is_empty() {
        return Ok(());
    }
    let mut table = txn.open_table(WITHDRAWALS)?;
    for (location, message) in found {
        table.insert(message.withdrawal_hash.0, location.encode())?;
    }
    Ok(())
}

/// A withdrawal found in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalRecord {
    /// The event's fields.
    pub message: WithdrawalMessage,
    /// Where it is.
    pub location: WithdrawalLocation,
    /// Hash of its block.
    pub block_hash: B256,
    /// Header of its block.
    pub header: Header,
    /// Hash of the initiating transaction.
    pub tx_hash: B256,
}

/// Finds a withdrawal by its withdrawal hash or by the hash of the transaction that initiated
/// it (the first withdrawal of that transaction).
pub fn find(provider: &Provider, hash: B256) -> Result<WithdrawalRecord, WithdrawalError> {
    let indexed = match provider.txn().open_table(WITHDRAWALS) {
        Ok(table) => table
            .get(hash.0)
            .map_err(crate::storage::StorageError::from)?
            .map(|v| WithdrawalLocation::decode(v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(err) => return Err(redb::Error::from(err).into()),
    };
    let (block, wanted) = match indexed {
        Some(location) => (location.block, Wanted::Log(location.log_index)),
        None => match provider.transaction_location(hash)? {
            Some((block, tx_index)) => (block, Wanted::Tx(tx_index)),
            None => return Err(WithdrawalError::NotFound(hash)),
        },
    };
    let missing = |what: &str| crate::storage::StorageError::Corrupt {
        table: "canonical",
        key: block.to_string(),
        message: format!("{what} of an indexed block is missing"),
    };
    let block_hash = provider
        .canonical_hash(block)?
        .ok_or_else(|| missing("hash"))?;
    let header = provider
        .header(block_hash)?
        .ok_or_else(|| missing("header"))?;
    let receipts = provider
        .receipts(block_hash)?
        .ok_or_else(|| missing("receipts"))?;
    let (location, message) = withdrawals_in(block, &receipts)
        .into_iter()
        .find(|(location, _)| match wanted {
            Wanted::Log(index) => location.log_index == index,
            Wanted::Tx(index) => location.tx_index == index,
        })
        .ok_or(WithdrawalError::NotFound(hash))?;
    let body = provider.body(block_hash)?.ok_or_else(|| missing("body"))?;
    let tx_hash = body
        .transactions
        .get(location.tx_index as usize)
        .map(|tx| tx.trie_hash())
        .ok_or_else(|| missing("transaction"))?;
    Ok(WithdrawalRecord {
        message,
        location,
        block_hash,
        header,
        tx_hash,
    })
}

/// The message passer's storage root after `block` as recorded when the block was committed.
pub fn recorded_storage_root(
    provider: &Provider,
    block: u64,
) -> crate::storage::Result<Option<B256>> {
    match provider.txn().open_table(MESSAGE_PASSER_ROOTS) {
        Ok(table) => Ok(table.get(block)?.map(|v| B256::from(v.value()))),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(err) => Err(redb::Error::from(err).into()),
    }
}

/// What identifies the withdrawal inside its block.
#[derive(Debug, Clone, Copy)]
enum Wanted {
    Log(u32),
    Tx(u32),
}
