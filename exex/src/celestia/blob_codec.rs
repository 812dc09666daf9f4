//! Blob format v1: a batch of consecutive blocks in one Celestia blob.
//!
//! ```text
//! offset  size  field
//!      0     2  magic "HB"
//!      2     1  format version (1)
//!      3     1  codec id (1 = zstd)
//!      4     8  chain id, big-endian u64
//!     12     8  first block number, big-endian u64
//!     20     8  last block number, big-endian u64
//!     28     …  zstd( RLP list of [header, transactions, certificate] per block )
//! ```
//!
//! Each block is a [`BatchBlock`]: three opaque byte strings (the header RLP, the RLP list of
//! transactions, the consensus finalization certificate), so this crate does not depend on the
//! block types. RLP wraps each of them as a byte string.
//!
//! Invariants: an encoded blob is at most the cap it was encoded for, holds at least one block,
//! `first <= last` and exactly `last - first + 1` blocks. Decoding never allocates more than
//! [`MAX_DECOMPRESSED_BYTES`] for the payload, whatever the input.

use std::io::{Read, Write};

use alloy_primitives::Bytes;
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

/// First two bytes of every Hauptbuch blob.
pub const MAGIC: [u8; 2] = *b"HB";
/// The blob format version this module writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Codec id of zstd compression.
pub const CODEC_ZSTD: u8 = 1;
/// Length of the fixed header in front of the compressed payload.
pub const HEADER_LEN: usize = 28;
/// Default and largest blob size: Celestia's MaxTxSize (2 MiB in app v3–v5) bounds the whole
/// BlobTx, so 148 KiB stay free for the PayForBlobs tx, signature and protobuf framing.
pub const MAX_BLOB_BYTES: usize = 1900 * 1024;
/// Largest decompressed payload a decoder accepts: 32 times the largest blob, well above what
/// zstd achieves on block data, so a decompression bomb cannot exhaust memory.
pub const MAX_DECOMPRESSED_BYTES: usize = 32 * MAX_BLOB_BYTES;
/// Most blocks one blob may hold: an empty block takes ~260 bytes of blob, so a full blob holds
/// fewer than 8,000. Bounding the count bounds what decoding allocates per block, which the
/// byte limit alone does not (a forged blob of 4-byte blocks would hold millions).
pub const MAX_BLOCKS_PER_BLOB: usize = 16_384;
/// zstd level: DA bytes cost fees, and level 9 still compresses a full batch in milliseconds.
const ZSTD_LEVEL: i32 = 9;

/// One block as carried in a blob; every field is opaque to the codec.
#[derive(Debug, Clone, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct BatchBlock {
    /// RLP of the block header.
    pub header: Bytes,
    /// RLP list of the block's transactions.
    pub transactions: Bytes,
    /// Consensus finalization certificate of the block.
    pub certificate: Bytes,
}

/// The fixed header of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    /// Chain id of the rollup that wrote the blob.
    pub chain_id: u64,
    /// Number of the first block in the blob.
    pub first_block: u64,
    /// Number of the last block in the blob (inclusive).
    pub last_block: u64,
}

/// A blob ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBatch {
    /// The header written in front of the payload.
    pub header: BlobHeader,
    /// The complete blob bytes (header and compressed payload).
    pub bytes: Bytes,
}

/// A decoded blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBatch {
    /// The blob's header.
    pub header: BlobHeader,
    /// The blocks, `header.first_block` first.
    pub blocks: Vec<BatchBlock>,
}

/// Why a blob could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum BlobCodecError {
    /// The blob is shorter than the fixed header.
    #[error("blob truncated: {len} bytes, the header alone is {HEADER_LEN}")]
    Truncated {
        /// Length of the input.
        len: usize,
    },
    /// The blob does not start with `HB`.
    #[error("bad magic {found:02x?}, expected \"HB\"")]
    BadMagic {
        /// The first two bytes found.
        found: [u8; 2],
    },
    /// The format version is not 1.
    #[error("unknown blob format version {0}")]
    UnknownVersion(u8),
    /// The codec id is not known.
    #[error("unknown blob codec id {0}")]
    UnknownCodec(u8),
    /// The header's block range is empty or does not match the number of blocks.
    #[error("blob header says blocks {first}..={last} but the payload holds {count} blocks")]
    BlockCountMismatch {
        /// First block number in the header.
        first: u64,
        /// Last block number in the header.
        last: u64,
        /// Number of blocks in the payload.
        count: usize,
    },
    /// A batch must hold at least one block.
    #[error("a blob must hold at least one block")]
    Empty,
    /// `first_block + blocks.len() - 1` does not fit in a u64.
    #[error("block numbers overflow: first block {first} with {count} blocks")]
    BlockNumberOverflow {
        /// First block number.
        first: u64,
        /// Number of blocks.
        count: usize,
    },
    /// The payload decompresses to more than [`MAX_DECOMPRESSED_BYTES`].
    #[error("payload decompresses to more than {limit} bytes")]
    DecompressedTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// zstd failed (corrupt or truncated payload when decoding).
    #[error("zstd: {0}")]
    Zstd(#[source] std::io::Error),
    /// The decompressed payload is not a valid RLP list of blocks.
    #[error("payload RLP: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    /// The decompressed payload has bytes after the RLP list.
    #[error("{0} trailing bytes after the payload's RLP list")]
    TrailingBytes(usize),
    /// The header names more blocks than a blob may hold.
    #[error(
        "blob header names {count} blocks, more than the {MAX_BLOCKS_PER_BLOB} a blob may hold"
    )]
    TooManyBlocks {
        /// Blocks the header names.
        count: u64,
    },
    /// The encoded blob is larger than the cap.
    #[error("encoded blob is {size} bytes, over the cap of {cap}")]
    TooLarge {
        /// Size of the encoded blob.
        size: usize,
        /// The cap.
        cap: usize,
    },
}

impl BlobHeader {
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.push(CODEC_ZSTD);
        out.extend_from_slice(&self.chain_id.to_be_bytes());
        out.extend_from_slice(&self.first_block.to_be_bytes());
        out.extend_from_slice(&self.last_block.to_be_bytes());
    }

    /// Parses and checks the fixed header at the start of `blob`.
    pub fn parse(blob: &[u8]) -> Result<Self, BlobCodecError> {
        let Some(header) = blob.get(..HEADER_LEN) else {
            return Err(BlobCodecError::Truncated { len: blob.len() });
        };
        let u64_at = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&header[at..at + 8]);
            u64::from_be_bytes(word)
        };
        let magic = [header[0], header[1]];
        if magic != MAGIC {
            return Err(BlobCodecError::BadMagic { found: magic });
        }
        if header[2] != FORMAT_VERSION {
            return Err(BlobCodecError::UnknownVersion(header[2]));
        }
        if header[3] != CODEC_ZSTD {
            return Err(BlobCodecError::UnknownCodec(header[3]));
        }
        Ok(Self {
            chain_id: u64_at(4),
            first_block: u64_at(12),
            last_block: u64_at(20),
        })
    }
}

/// RLP of the block list, the payload before compression.
pub(crate) fn payload_rlp(blocks: &[BatchBlock]) -> Vec<u8> {
    let mut out = Vec::with_capacity(alloy_rlp::list_length(blocks));
    alloy_rlp::encode_list(blocks, &mut out);
    out
}

/// Encodes `blocks` (numbered from `first_block`) into a blob of at most `cap` bytes.
pub fn encode_blob(
    chain_id: u64,
    first_block: u64,
    blocks: &[BatchBlock],
    cap: usize,
) -> Result<EncodedBatch, BlobCodecError> {
    if blocks.is_empty() {
        return Err(BlobCodecError::Empty);
    }
    let overflow = BlobCodecError::BlockNumberOverflow {
        first: first_block,
        count: blocks.len(),
    };
    let span = u64::try_from(blocks.len() - 1).map_err(|_| overflow)?;
    let last_block = first_block
        .checked_add(span)
        .ok_or(BlobCodecError::BlockNumberOverflow {
            first: first_block,
            count: blocks.len(),
        })?;
    let payload = payload_rlp(blocks);
    if payload.len() > MAX_DECOMPRESSED_BYTES {
        // A decoder would reject it, so never write it.
        return Err(BlobCodecError::DecompressedTooLarge {
            limit: MAX_DECOMPRESSED_BYTES,
        });
    }
    let header = BlobHeader {
        chain_id,
        first_block,
        last_block,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() / 2);
    header.write_to(&mut out);
    let mut encoder = zstd::Encoder::new(out, ZSTD_LEVEL).map_err(BlobCodecError::Zstd)?;
    encoder
        .include_contentsize(true)
        .map_err(BlobCodecError::Zstd)?;
    encoder
        .set_pledged_src_size(Some(payload.len() as u64))
        .map_err(BlobCodecError::Zstd)?;
    encoder.write_all(&payload).map_err(BlobCodecError::Zstd)?;
    let out = encoder.finish().map_err(BlobCodecError::Zstd)?;
    if out.len() > cap {
        return Err(BlobCodecError::TooLarge {
            size: out.len(),
            cap,
        });
    }
    Ok(EncodedBatch {
        header,
        bytes: out.into(),
    })
}

/// Decodes a blob, checking the header, the decompressed size and the block count.
pub fn decode_blob(blob: &[u8]) -> Result<DecodedBatch, BlobCodecError> {
    let header = BlobHeader::parse(blob)?;
    if header.first_block > header.last_block {
        return Err(BlobCodecError::BlockCountMismatch {
            first: header.first_block,
            last: header.last_block,
            count: 0,
        });
    }
    let count = header.last_block - header.first_block + 1;
    if count > MAX_BLOCKS_PER_BLOB as u64 {
        return Err(BlobCodecError::TooManyBlocks { count });
    }
    let decoder = zstd::Decoder::new(&blob[HEADER_LEN..]).map_err(BlobCodecError::Zstd)?;
    let mut payload = Vec::new();
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    decoder
        .take(MAX_DECOMPRESSED_BYTES as u64 + 1)
        .read_to_end(&mut payload)
        .map_err(BlobCodecError::Zstd)?;
    if payload.len() > MAX_DECOMPRESSED_BYTES {
        return Err(BlobCodecError::DecompressedTooLarge {
            limit: MAX_DECOMPRESSED_BYTES,
        });
    }
    let mut rest = payload.as_slice();
    let list = alloy_rlp::Header::decode(&mut rest)?;
    if !list.list {
        return Err(alloy_rlp::Error::UnexpectedString.into());
    }
    let Some(mut items) = rest.get(..list.payload_length) else {
        return Err(alloy_rlp::Error::InputTooShort.into());
    };
    rest = &rest[list.payload_length..];
    if !rest.is_empty() {
        return Err(BlobCodecError::TrailingBytes(rest.len()));
    }
    // Never more blocks than the header names (checked against the bound above).
    let mut blocks = Vec::with_capacity(count as usize);
    while !items.is_empty() {
        if blocks.len() as u64 == count {
            return Err(BlobCodecError::BlockCountMismatch {
                first: header.first_block,
                last: header.last_block,
                count: blocks.len() + 1,
            });
        }
        blocks.push(BatchBlock::decode(&mut items)?);
    }
    let expected = header.last_block - header.first_block;
    if u64::try_from(blocks.len())
        .ok()
        .and_then(|n| n.checked_sub(1))
        != Some(expected)
    {
        return Err(BlobCodecError::BlockCountMismatch {
            first: header.first_block,
            last: header.last_block,
            count: blocks.len(),
        });
    }
    Ok(DecodedBatch { header, blocks })
}

/// Length of `block` once RLP-encoded inside the list.
pub(crate) fn block_rlp_len(block: &BatchBlock) -> usize {
    block.length()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(seed: u8, len: usize) -> BatchBlock {
        BatchBlock {
            header: Bytes::from(vec![seed; 64]),
            transactions: Bytes::from(
                (0..len)
                    .map(|i| (i as u8).wrapping_mul(seed))
                    .collect::<Vec<_>>(),
            ),
            certificate: Bytes::from(vec![seed ^ 0xff; 96]),
        }
    }

    fn blocks(n: u8) -> Vec<BatchBlock> {
        (1..=n).map(|i| block(i, 200 * usize::from(i))).collect()
    }

    #[test]
    fn roundtrip_keeps_header_and_blocks() {
        let input = blocks(5);
        let encoded = encode_blob(7, 100, &input, MAX_BLOB_BYTES).expect("encode");
        assert_eq!(&encoded.bytes[..2], b"HB");
        assert_eq!(
            encoded.header,
            BlobHeader {
                chain_id: 7,
                first_block: 100,
                last_block: 104
            }
        );
        let decoded = decode_blob(&encoded.bytes).expect("decode");
        assert_eq!(decoded.header, encoded.header);
        assert_eq!(decoded.blocks, input);
    }

    #[test]
    fn block_count_is_bounded_before_anything_is_decoded() {
        // A header naming more blocks than a blob may hold is refused outright.
        let mut bytes = encode_blob(7, 1, &blocks(1), MAX_BLOB_BYTES)
            .expect("encode")
            .bytes
            .to_vec();
        bytes[20..28].copy_from_slice(&(MAX_BLOCKS_PER_BLOB as u64 + 1).to_be_bytes());
        assert!(matches!(
            decode_blob(&bytes),
            Err(BlobCodecError::TooManyBlocks { .. })
        ));
        // A payload of many tiny blocks under a header naming two: stops at the third.
        let tiny = vec![BatchBlock::default(); 100_000];
        let mut forged = encode_blob(7, 1, &tiny, MAX_BLOB_BYTES)
            .expect("encode")
            .bytes
            .to_vec();
        forged[20..28].copy_from_slice(&2u64.to_be_bytes());
        assert!(matches!(
            decode_blob(&forged),
            Err(BlobCodecError::BlockCountMismatch { count: 3, .. })
        ));
    }

    #[test]
    fn roundtrip_single_empty_block() {
        let input = vec![BatchBlock::default()];
        let encoded = encode_blob(1, 0, &input, MAX_BLOB_BYTES).expect("encode");
        assert_eq!(decode_blob(&encoded.bytes).expect("decode").blocks, input);
    }

    #[test]
    fn header_layout_is_fixed() {
        let encoded = encode_blob(0x0102, 3, &blocks(2), MAX_BLOB_BYTES).expect("encode");
        let b = &encoded.bytes;
        assert_eq!(&b[..4], &[b'H', b'B', 1, 1]);
        assert_eq!(&b[4..12], &0x0102u64.to_be_bytes());
        assert_eq!(&b[12..20], &3u64.to_be_bytes());
        assert_eq!(&b[20..28], &4u64.to_be_bytes());
    }

    #[test]
    fn empty_batch_is_rejected() {
        assert!(matches!(
            encode_blob(1, 1, &[], MAX_BLOB_BYTES),
            Err(BlobCodecError::Empty)
        ));
    }

    #[test]
    fn block_number_overflow_is_rejected() {
        let err = encode_blob(1, u64::MAX, &blocks(2), MAX_BLOB_BYTES).expect_err("must fail");
        assert!(
            matches!(err, BlobCodecError::BlockNumberOverflow { .. }),
            "{err}"
        );
    }

    #[test]
    fn truncated_header_is_rejected() {
        let encoded = encode_blob(1, 1, &blocks(1), MAX_BLOB_BYTES).expect("encode");
        let err = decode_blob(&encoded.bytes[..HEADER_LEN - 1]).expect_err("must fail");
        assert!(
            matches!(err, BlobCodecError::Truncated { len: 27 }),
            "{err}"
        );
    }

    #[test]
    fn truncated_payload_is_rejected() {
        let encoded = encode_blob(1, 1, &blocks(3), MAX_BLOB_BYTES).expect("encode");
        let cut = &encoded.bytes[..encoded.bytes.len() - 5];
        assert!(matches!(decode_blob(cut), Err(BlobCodecError::Zstd(_))));
        assert!(matches!(
            decode_blob(&encoded.bytes[..HEADER_LEN]),
            Err(BlobCodecError::Zstd(_)) | Err(BlobCodecError::Rlp(_))
        ));
    }

    #[test]
    fn bad_magic_version_and_codec_are_rejected() {
        let encoded = encode_blob(1, 1, &blocks(1), MAX_BLOB_BYTES).expect("encode");
        let mut bad = encoded.bytes.to_vec();
        bad[0] = b'X';
        assert!(matches!(
            decode_blob(&bad),
            Err(BlobCodecError::BadMagic {
                found: [b'X', b'B']
            })
        ));
        let mut bad = encoded.bytes.to_vec();
        bad[2] = 2;
        assert!(matches!(
            decode_blob(&bad),
            Err(BlobCodecError::UnknownVersion(2))
        ));
        let mut bad = encoded.bytes.to_vec();
        bad[3] = 9;
        assert!(matches!(
            decode_blob(&bad),
            Err(BlobCodecError::UnknownCodec(9))
        ));
    }

    #[test]
    fn block_count_must_match_header() {
        let encoded = encode_blob(1, 10, &blocks(3), MAX_BLOB_BYTES).expect("encode");
        let mut bad = encoded.bytes.to_vec();
        bad[20..28].copy_from_slice(&13u64.to_be_bytes());
        let err = decode_blob(&bad).expect_err("must fail");
        assert!(
            matches!(
                err,
                BlobCodecError::BlockCountMismatch {
                    first: 10,
                    last: 13,
                    count: 3
                }
            ),
            "{err}"
        );
        bad[20..28].copy_from_slice(&9u64.to_be_bytes());
        assert!(matches!(
            decode_blob(&bad),
            Err(BlobCodecError::BlockCountMismatch { count: 0, .. })
        ));
    }

    #[test]
    fn garbage_payload_is_rejected() {
        let mut bad = encode_blob(1, 1, &blocks(1), MAX_BLOB_BYTES)
            .expect("encode")
            .bytes[..HEADER_LEN]
            .to_vec();
        bad.extend_from_slice(b"definitely not zstd");
        assert!(matches!(decode_blob(&bad), Err(BlobCodecError::Zstd(_))));
    }

    #[test]
    fn non_list_payload_is_rejected() {
        let mut blob = Vec::new();
        BlobHeader {
            chain_id: 1,
            first_block: 1,
            last_block: 1,
        }
        .write_to(&mut blob);
        blob.extend(zstd::encode_all(&b"\x83abc"[..], 1).expect("zstd"));
        assert!(matches!(decode_blob(&blob), Err(BlobCodecError::Rlp(_))));
    }

    #[test]
    fn trailing_payload_bytes_are_rejected() {
        let mut payload = payload_rlp(&blocks(1));
        payload.push(0x80);
        let mut blob = Vec::new();
        BlobHeader {
            chain_id: 1,
            first_block: 1,
            last_block: 1,
        }
        .write_to(&mut blob);
        blob.extend(zstd::encode_all(payload.as_slice(), 1).expect("zstd"));
        assert!(matches!(
            decode_blob(&blob),
            Err(BlobCodecError::TrailingBytes(1))
        ));
    }

    #[test]
    fn decompression_bomb_is_cut_off() {
        // Zeros compress about 1000:1, so this is a few KiB on the wire.
        let zeros = vec![0u8; MAX_DECOMPRESSED_BYTES + 1024];
        let mut blob = Vec::new();
        BlobHeader {
            chain_id: 1,
            first_block: 1,
            last_block: 1,
        }
        .write_to(&mut blob);
        blob.extend(zstd::encode_all(zeros.as_slice(), 3).expect("zstd"));
        assert!(blob.len() < MAX_BLOB_BYTES);
        let err = decode_blob(&blob).expect_err("must fail");
        assert!(
            matches!(err, BlobCodecError::DecompressedTooLarge { .. }),
            "{err}"
        );
    }

    #[test]
    fn oversized_blob_is_rejected_by_the_cap() {
        let err = encode_blob(1, 1, &blocks(5), 64).expect_err("must fail");
        assert!(
            matches!(err, BlobCodecError::TooLarge { cap: 64, .. }),
            "{err}"
        );
    }
}
