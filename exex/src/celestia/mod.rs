//! Celestia data availability: how blocks are packed into blobs.
//!
//! [`blob_codec`] defines blob format v1 (see `DESIGN.md`, "DA blob format"), and [`batcher`]
//! groups consecutive blocks into blobs that stay under the size cap.

pub mod batcher;
pub mod blob_codec;

pub use batcher::{BatchError, Batcher};
pub use blob_codec::{
    BatchBlock, BlobCodecError, BlobHeader, CODEC_ZSTD, DecodedBatch, EncodedBatch, FORMAT_VERSION,
    HEADER_LEN, MAGIC, MAX_BLOB_BYTES, MAX_DECOMPRESSED_BYTES, decode_blob, encode_blob,
};
