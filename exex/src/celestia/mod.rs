//! Celestia data availability: how blocks are packed into blobs, posted and made firm.
//!
//! [`blob_codec`] defines blob format v1 (see `DESIGN.md`, "DA blob format"), and [`batcher`]
//! groups consecutive blocks into blobs that stay under the size cap. [`run_da_exex`] is the
//! DA ExEx: it batches the blocks it is notified of, submits the blobs ([`submitter`]), keeps a
//! crash-safe [`DaLog`] ([`submission_log`]) and reports blocks firm once DA finalised them
//! ([`finality`]). On a network of several validators one posts and the others stand by,
//! posting only what no blob holds in time ([`PosterConfig`]).

pub mod batcher;
pub mod blob_codec;
pub mod config;
pub mod error;
mod exex;
pub mod finality;
pub mod submission_log;
pub mod submitter;
mod watcher;

pub use batcher::{BatchError, Batcher, MIN_BLOB_BYTES};
pub use blob_codec::{
    BatchBlock, BlobCodecError, BlobHeader, CODEC_ZSTD, DecodedBatch, EncodedBatch, FORMAT_VERSION,
    HEADER_LEN, MAX_BLOB_BYTES, MAX_BLOCKS_PER_BLOB, MAX_DECOMPRESSED_BYTES, decode_blob,
    encode_blob,
};
pub use config::{
    CertificateCheck, DEFAULT_BATCH_INTERVAL, DEFAULT_CONFIRMATIONS, DEFAULT_FAILOVER_DELAY,
    DaExExConfig, PosterConfig,
};
pub use error::{DaExExError, DaLogError};
pub use exex::run_da_exex;
pub use submission_log::{DaLog, DaStatus};
