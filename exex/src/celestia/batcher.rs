//! Groups consecutive blocks into blobs that stay under the size cap.
//!
//! A batch closes when the next block would push the compressed blob over the cap (the caller
//! closes it on a time limit with [`Batcher::flush`]). Re-compressing the whole batch for every
//! block would be quadratic, so the batcher keeps a streaming zstd encoder as an estimator:
//! while even zstd's worst-case bound of the raw payload fits, nothing is compressed; after that,
//! each block is flushed through the estimator, whose output (a little worse than one-shot
//! compression, so pessimistic) plus a slack decides. The final blob is always encoded in one shot
//! and checked exactly; should it still exceed the cap, trailing blocks move to the next batch.
//!
//! Invariants: blocks are consecutive across batches (the next batch starts at the previous
//! `last_block + 1`); every returned blob is at most the cap; a block that cannot fit in a blob
//! on its own is rejected with [`BatchError::BlockTooLarge`] and not kept.

use std::io::Write;

use super::blob_codec::{
    BatchBlock, BlobCodecError, EncodedBatch, HEADER_LEN, MAX_BLOB_BYTES, MAX_BLOCKS_PER_BLOB,
    block_rlp_len, encode_blob,
};

/// zstd level of the size estimator: cheaper than the final encoding, and its output is larger,
/// which keeps the estimate on the safe side.
const ESTIMATOR_LEVEL: i32 = 3;
/// Bytes the estimate adds for what the streaming output lacks: the RLP list header (≤ 9) and
/// the zstd frame header and last block (≤ 21).
const ESTIMATE_SLACK: usize = 32;
/// Smallest cap that can hold a blob at all.
pub const MIN_BLOB_BYTES: usize = HEADER_LEN + ESTIMATE_SLACK;

/// Why a block could not be batched.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Blocks must be pushed in order without gaps.
    #[error("block {got} pushed, but the batch continues at block {expected}")]
    NonConsecutive {
        /// The block number the batcher expects next.
        expected: u64,
        /// The block number that was pushed.
        got: u64,
    },
    /// The block alone compresses to more than the cap.
    #[error("block {number} alone encodes to {size} bytes, over the blob cap of {cap}")]
    BlockTooLarge {
        /// The block's number.
        number: u64,
        /// Its encoded size as a single-block blob.
        size: usize,
        /// The cap.
        cap: usize,
    },
    /// The cap is outside `MIN_BLOB_BYTES..=MAX_BLOB_BYTES`.
    #[error("blob cap {0} bytes is outside {MIN_BLOB_BYTES}..={MAX_BLOB_BYTES}")]
    InvalidCap(usize),
    /// Encoding failed.
    #[error(transparent)]
    Codec(#[from] BlobCodecError),
}

/// Accumulates consecutive blocks and cuts them into blobs of at most `cap` bytes.
pub struct Batcher {
    chain_id: u64,
    cap: usize,
    /// Number of the first pending block, or of the next block expected when nothing is pending.
    first_block: Option<u64>,
    blocks: Vec<BatchBlock>,
    raw_bytes: usize,
    estimator: zstd::Encoder<'static, Vec<u8>>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("chain_id", &self.chain_id)
            .field("cap", &self.cap)
            .field("first_block", &self.first_block)
            .field("pending_blocks", &self.blocks.len())
            .field("raw_bytes", &self.raw_bytes)
            .finish()
    }
}

impl Batcher {
    /// Creates a batcher for `chain_id` whose blobs are at most `cap` bytes.
    pub fn new(chain_id: u64, cap: usize) -> Result<Self, BatchError> {
        if !(MIN_BLOB_BYTES..=MAX_BLOB_BYTES).contains(&cap) {
            return Err(BatchError::InvalidCap(cap));
        }
        Ok(Self {
            chain_id,
            cap,
            first_block: None,
            blocks: Vec::new(),
            raw_bytes: 0,
            estimator: new_estimator()?,
        })
    }

    /// The blob size cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Number of blocks waiting in the open batch.
    pub fn pending_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Uncompressed RLP bytes of the blocks in the open batch.
    pub fn pending_raw_bytes(&self) -> usize {
        self.raw_bytes
    }

    /// Number of the first block of the open batch, if any.
    pub fn first_pending(&self) -> Option<u64> {
        if self.blocks.is_empty() {
            None
        } else {
            self.first_block
        }
    }

    /// The block number the batcher expects next, once it has seen a block.
    pub fn next_block(&self) -> Option<u64> {
        self.first_block
            .map(|first| first + self.blocks.len() as u64)
    }

    /// Adds block `number`. Returns the blobs this closed (usually none, one when the block
    /// did not fit into the open batch); the block itself stays pending.
    pub fn push(
        &mut self,
        number: u64,
        block: BatchBlock,
    ) -> Result<Vec<EncodedBatch>, BatchError> {
        if let Some(expected) = self.next_block()
            && number != expected
        {
            return Err(BatchError::NonConsecutive {
                expected,
                got: number,
            });
        }
        self.check_fits_alone(number, &block)?;
        let mut sealed = Vec::new();
        loop {
            if self.blocks.is_empty() {
                self.first_block = Some(number);
                self.add(block)?;
                return Ok(sealed);
            }
            if self.blocks.len() < MAX_BLOCKS_PER_BLOB && self.fits_with(&block)? {
                self.add(block)?;
                return Ok(sealed);
            }
            sealed.push(self.seal()?);
        }
    }

    /// Closes the open batch (on the batch time limit). Returns no blob when nothing is pending.
    pub fn flush(&mut self) -> Result<Vec<EncodedBatch>, BatchError> {
        let mut sealed = Vec::new();
        while !self.blocks.is_empty() {
            sealed.push(self.seal()?);
        }
        Ok(sealed)
    }

    fn check_fits_alone(&self, number: u64, block: &BatchBlock) -> Result<(), BatchError> {
        let raw = block_rlp_len(block) + 9;
        if HEADER_LEN + zstd::zstd_safe::compress_bound(raw) + ESTIMATE_SLACK <= self.cap {
            return Ok(());
        }
        match encode_blob(self.chain_id, number, std::slice::from_ref(block), self.cap) {
            Ok(_) => Ok(()),
            Err(BlobCodecError::TooLarge { size, cap }) => {
                Err(BatchError::BlockTooLarge { number, size, cap })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Whether the open batch plus `block` is estimated to stay under the cap. Feeds `block`
    /// to the estimator either way: on `false` the batch is sealed and the estimator rebuilt.
    fn fits_with(&mut self, block: &BatchBlock) -> Result<bool, BatchError> {
        let raw = self.raw_bytes + block_rlp_len(block) + 9;
        let bytes = alloy_rlp::encode(block);
        self.estimator
            .write_all(&bytes)
            .map_err(BlobCodecError::Zstd)?;
        if HEADER_LEN + zstd::zstd_safe::compress_bound(raw) + ESTIMATE_SLACK <= self.cap {
            return Ok(true);
        }
        self.estimator.flush().map_err(BlobCodecError::Zstd)?;
        Ok(HEADER_LEN + self.estimator.get_ref().len() + ESTIMATE_SLACK <= self.cap)
    }

    /// Appends `block`, whose bytes [`Self::fits_with`] already fed to the estimator unless it
    /// is the first of the batch.
    fn add(&mut self, block: BatchBlock) -> Result<(), BatchError> {
        if self.blocks.is_empty() {
            self.estimator = new_estimator()?;
            self.estimator
                .write_all(&alloy_rlp::encode(&block))
                .map_err(BlobCodecError::Zstd)?;
        }
        self.raw_bytes += block_rlp_len(&block);
        self.blocks.push(block);
        Ok(())
    }

    /// Encodes the open batch. If the exact encoding exceeds the cap, trailing blocks stay
    /// pending for the next batch.
    fn seal(&mut self) -> Result<EncodedBatch, BatchError> {
        let first = self.first_block.unwrap_or_default();
        let mut carry = Vec::new();
        let batch = loop {
            match encode_blob(self.chain_id, first, &self.blocks, self.cap) {
                Ok(batch) => break batch,
                Err(BlobCodecError::TooLarge { .. }) if self.blocks.len() > 1 => {
                    if let Some(last) = self.blocks.pop() {
                        carry.push(last);
                    }
                }
                Err(err) => return Err(err.into()),
            }
        };
        self.blocks.clear();
        self.raw_bytes = 0;
        self.first_block = Some(batch.header.last_block + 1);
        for block in carry.into_iter().rev() {
            self.add(block)?;
        }
        Ok(batch)
    }
}

fn new_estimator() -> Result<zstd::Encoder<'static, Vec<u8>>, BlobCodecError> {
    zstd::Encoder::new(Vec::new(), ESTIMATOR_LEVEL).map_err(BlobCodecError::Zstd)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Bytes;

    use super::*;
    use crate::celestia::blob_codec::decode_blob;

    /// A block whose transactions are pseudo-random, so it barely compresses.
    fn noisy_block(seed: u64, len: usize) -> BatchBlock {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let txs = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect::<Vec<_>>();
        BatchBlock {
            header: Bytes::from(seed.to_be_bytes().to_vec()),
            transactions: txs.into(),
            certificate: Bytes::from_static(b"cert"),
        }
    }

    #[test]
    fn small_blocks_stay_in_one_batch_until_flush() {
        let mut batcher = Batcher::new(9, MAX_BLOB_BYTES).expect("batcher");
        for n in 1..=50 {
            assert!(
                batcher
                    .push(n, noisy_block(n, 500))
                    .expect("push")
                    .is_empty()
            );
        }
        assert_eq!(batcher.pending_blocks(), 50);
        let sealed = batcher.flush().expect("flush");
        assert_eq!(sealed.len(), 1);
        let decoded = decode_blob(&sealed[0].bytes).expect("decode");
        assert_eq!(
            (decoded.header.first_block, decoded.header.last_block),
            (1, 50)
        );
        assert_eq!(decoded.blocks[49], noisy_block(50, 500));
        assert!(batcher.flush().expect("flush").is_empty());
        assert_eq!(batcher.next_block(), Some(51));
    }

    #[test]
    fn batch_closes_before_the_cap_and_keeps_blocks_consecutive() {
        let cap = 64 * 1024;
        let mut batcher = Batcher::new(1, cap).expect("batcher");
        let mut blobs = Vec::new();
        for n in 0..40 {
            blobs.extend(batcher.push(n, noisy_block(n, 7_000)).expect("push"));
        }
        blobs.extend(batcher.flush().expect("flush"));
        assert!(blobs.len() >= 4, "{} blobs", blobs.len());
        let mut next = 0;
        for (i, blob) in blobs.iter().enumerate() {
            assert!(blob.bytes.len() <= cap, "{} > {cap}", blob.bytes.len());
            let decoded = decode_blob(&blob.bytes).expect("decode");
            assert_eq!(decoded.header.first_block, next);
            next = decoded.header.last_block + 1;
            // Closed only because the next block would not fit (the last one by the flush).
            let closed_by_size = i + 1 < blobs.len();
            assert!(
                !closed_by_size || blob.bytes.len() > cap - 2 * 7_100,
                "underfilled: {}",
                blob.bytes.len()
            );
        }
        assert_eq!(next, 40);
    }

    #[test]
    fn block_larger_than_the_cap_is_rejected_and_not_kept() {
        let mut batcher = Batcher::new(1, 4096).expect("batcher");
        batcher.push(1, noisy_block(1, 100)).expect("push");
        let err = batcher
            .push(2, noisy_block(2, 10_000))
            .expect_err("must fail");
        assert!(
            matches!(
                err,
                BatchError::BlockTooLarge {
                    number: 2,
                    cap: 4096,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(batcher.pending_blocks(), 1);
        batcher
            .push(2, noisy_block(2, 100))
            .expect("push after rejection");
    }

    #[test]
    fn gaps_and_repeats_are_rejected() {
        let mut batcher = Batcher::new(1, MAX_BLOB_BYTES).expect("batcher");
        batcher.push(5, noisy_block(5, 10)).expect("push");
        let err = batcher.push(7, noisy_block(7, 10)).expect_err("must fail");
        assert!(
            matches!(
                err,
                BatchError::NonConsecutive {
                    expected: 6,
                    got: 7
                }
            ),
            "{err}"
        );
        assert!(matches!(
            batcher.push(5, noisy_block(5, 10)),
            Err(BatchError::NonConsecutive { .. })
        ));
    }

    #[test]
    fn cap_must_be_within_celestia_limit() {
        assert!(matches!(
            Batcher::new(1, MAX_BLOB_BYTES + 1),
            Err(BatchError::InvalidCap(_))
        ));
        assert!(matches!(
            Batcher::new(1, 10),
            Err(BatchError::InvalidCap(10))
        ));
    }
}
