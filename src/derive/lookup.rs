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
        for blob in source.blobs_at(height).await? {
            let Ok(batch) = decode_batch(chain_id, &blob.data) else {
                continue;
            };
            if batch.first > number {
                return Err(DeriveError::BeforeStart {
                    number,
                    start_height,
                    da_height: height,
                    first: batch.first,
                });
            }
            if number <= batch.last {
                let index = usize::try_from(number - batch.first).unwrap_or(usize::MAX);
                if let (Some(block), Some(certificate)) =
                    (batch.blocks.get(index), batch.certificates.get(index))
                {
                    return Ok(DaBlock {
                        block: block.clone(),
                        certificate: certificate.clone(),
                        da_height: height,
                    });
                }
            }
        }
    }
    Err(DeriveError::NotOnDa {
        number,
        start_height,
        head,
    })
}
