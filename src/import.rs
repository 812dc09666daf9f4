//! Importing a file of concatenated RLP blocks (`geth export` / `reth export` format).
//!
//! The file is checked structurally before anything is written: a truncated or garbage file is
//! rejected with the byte offset of the problem and the database is left untouched. Blocks are
//! then decoded and imported one by one; each is its own atomic write, so an interrupted import
//! (even by SIGKILL) resumes where it stopped: blocks already in the database are skipped.

use crate::engine::{BlockSummary, Engine, EngineError};
use alloy_consensus::{Block, TxEnvelope};
use alloy_rlp::Decodable;
use std::time::{Duration, Instant};

/// How often progress is logged during a long import.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not a sequence of RLP lists.
    #[error("invalid RLP at byte offset {offset} (item {index}): {message}")]
    Rlp {
        /// Byte offset of the item that failed.
        offset: usize,
        /// Zero-based index of the item in the file.
        index: usize,
        /// Decoder message.
        message: String,
    },
    /// A block was rejected by the engine.
    #[error("block {index} of the file: {source}")]
    Block {
        /// Zero-based index of the block in the file.
        index: usize,
        /// Engine error.
        #[source]
        source: EngineError,
    },
    /// A block conflicts with the chain already in the database.
    #[error(
        "block {number} ({hash}) conflicts with the canonical block {canonical} in the datadir"
    )]
    Conflict {
        /// Block number.
        number: u64,
        /// Hash in the file.
        hash: alloy_primitives::B256,
        /// Hash in the database.
        canonical: alloy_primitives::B256,
    },
    /// The engine failed outside a specific block.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Result of an import.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportStats {
    /// Blocks in the file.
    pub blocks: usize,
    /// Blocks newly imported.
    pub imported: usize,
    /// Blocks skipped because they were already in the database.
    pub skipped: usize,
    /// Transactions imported.
    pub transactions: usize,
    /// Last block of the file.
    pub last: Option<BlockSummary>,
}

/// Splits `data` into the byte ranges of its top-level RLP lists without decoding them.
pub fn split_rlp_items(data: &[u8]) -> Result<Vec<std::ops::Range<usize>>, ImportError> {
    let mut items = Vec::new();
    let mut offset = 0;
    while offset < data.len() {
        let mut buf = &data[offset..];
        let rlp_error = |message: String| ImportError::Rlp {
            offset,
            index: items.len(),
            message,
        };
        let header = alloy_rlp::Header::decode(&mut buf).map_err(|e| match e {
            alloy_rlp::Error::InputTooShort => rlp_error(format!(
                "truncated: {} bytes left are not a whole item",
                data.len() - offset
            )),
            e => rlp_error(e.to_string()),
        })?;
        if !header.list {
            return Err(rlp_error(
                "expected a block (RLP list), found a string".into(),
            ));
        }
        let header_len = data.len() - offset - buf.len();
        let end = offset + header_len + header.payload_length;
        if end > data.len() {
            return Err(rlp_error(format!(
                "truncated: item needs {} bytes, {} left",
                header_len + header.payload_length,
                data.len() - offset
            )));
        }
        items.push(offset..end);
        offset = end;
    }
    Ok(items)
}

/// Imports every block of `data` (concatenated RLP blocks) into the engine's chain.
pub fn import_blocks(engine: &Engine, data: &[u8]) -> Result<ImportStats, ImportError> {
    let items = split_rlp_items(data)?;
    // Decode everything up front so that a malformed block anywhere leaves the database unchanged.
    let mut blocks = Vec::with_capacity(items.len());
    for (index, range) in items.iter().enumerate() {
        let mut buf = &data[range.clone()];
        let block = Block::<TxEnvelope>::decode(&mut buf).map_err(|e| ImportError::Rlp {
            offset: range.start,
            index,
            message: format!("not a valid block: {e}"),
        })?;
        blocks.push(block);
    }
    let mut stats = ImportStats {
        blocks: blocks.len(),
        ..Default::default()
    };
    let started = Instant::now();
    let mut last_log = Instant::now();
    let head_number = engine.head()?.number;
    for (index, block) in blocks.into_iter().enumerate() {
        let number = block.header.number;
        if number <= head_number {
            let hash = block.header.hash_slow();
            let canonical = engine
                .db()
                .provider()
                .map_err(EngineError::from)?
                .canonical_hash(number)
                .map_err(EngineError::from)?;
            match canonical {
                Some(canonical) if canonical == hash => {
                    stats.skipped += 1;
                    continue;
                }
                Some(canonical) => {
                    return Err(ImportError::Conflict {
                        number,
                        hash,
                        canonical,
                    });
                }
                None => {}
            }
        }
        let summary = engine
            .insert_block(block)
            .map_err(|source| ImportError::Block { index, source })?;
        tracing::debug!(
            target: "hauptbuch::import",
            number = summary.number,
            hash = %summary.hash,
            txs = summary.transactions,
            "imported block"
        );
        stats.imported += 1;
        stats.transactions += summary.transactions;
        stats.last = Some(summary.clone());
        if last_log.elapsed() >= PROGRESS_INTERVAL {
            last_log = Instant::now();
            tracing::info!(
                target: "hauptbuch::import",
                block = summary.number,
                imported = stats.imported,
                total = stats.blocks,
                elapsed = ?started.elapsed(),
                "import progress"
            );
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_rejected_with_offset() {
        let err = split_rlp_items(&[0xc1, 0x80, 0x05]).expect_err("a string item is not a block");
        assert!(err.to_string().contains("offset 2"), "{err}");
    }

    #[test]
    fn truncation_is_reported() {
        let err = split_rlp_items(&[0xc3, 0x80]).expect_err("truncated");
        assert!(
            err.to_string().contains("truncated") || err.to_string().contains("offset 0"),
            "{err}"
        );
    }
}
