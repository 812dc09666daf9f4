//! One block from DA: the blob holding block `n` of this chain, found by scanning DA heights
//! upwards with the same reader and decoder as derivation ([`DaSource`], `decode_batch`).
//!
//! Used by `fraud-proof check --da.url` to take the block a challenge is about from what the
//! sequencer posted rather than from what a node serves. Blobs that are not of this chain are
//! skipped as in derivation; the first blob holding the block wins (re-posted batches hold the
//! same blocks).

use super::{
    DaSource,
    block::decode_batch,
    error::{DeriveError, Result},
};
use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::Bytes;

/// A block read from DA.
#[derive(Debug, Clone)]
pub struct DaBlock {
    /// The block, rebuilt from its blob.
    pub block: Block<TxEnvelope>,
    /// Its finalization certificate (empty when it has none of its own).
    pub certificate: Bytes,
    /// DA height of the blob holding it.
    pub da_height: u64,
}

/// The blocks of this chain in the blobs at DA `height`, in block order (blobs of other chains
/// and undecodable ones skipped, as in derivation).
pub async fn blocks_at(source: &DaSource, chain_id: u64, height: u64) -> Result<Vec<DaBlock>> {
    let mut batches: Vec<_> = source
        .blobs_at(height)
        .await?
        .iter()
        .filter_map(|blob| decode_batch(chain_id, &blob.data).ok())
        .collect();
    batches.sort_by_key(|batch| batch.first);
    Ok(batches
        .into_iter()
        .flat_map(|batch| batch.blocks.into_iter().zip(batch.certificates))
        .map(|(block, certificate)| DaBlock {
            block,
            certificate,
            da_height: height,
        })
        .collect())
}

/// Scans DA heights from `start_height` to the DA network head for block `number` of chain
/// `chain_id`.
///
/// Errors with [`DeriveError::NotOnDa`] when no blob up to the head holds it, and with
/// [`DeriveError::BeforeStart`] as soon as a blob holds only later blocks (blocks are posted in
/// order, so the block is at an earlier height).
pub async fn find_block(
    source: &DaSource,
    chain_id: u64,
    number: u64,
    start_height: u64,
) -> Result<DaBlock> {
    let start_height = start_height.max(1);
    let head = source.network_head().await?;
    for height in start_height..=head {
        let blocks = blocks_at(source, chain_id, height).await?;
        if let Some(first) = blocks.first()
            && first.block.header.number > number
        {
            return Err(DeriveError::BeforeStart {
                number,
                start_height,
                da_height: height,
                first: first.block.header.number,
            });
        }
        if let Some(found) = blocks
            .into_iter()
            .find(|found| found.block.header.number == number)
        {
            return Ok(found);
        }
    }
    Err(DeriveError::NotOnDa {
        number,
        start_height,
        head,
    })
}
