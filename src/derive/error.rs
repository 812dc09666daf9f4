//! Derivation errors: [`DeriveError`] stops a derivation, [`BlobError`] only skips one blob.

use crate::engine::EngineError;
use alloy_primitives::B256;
use hauptbuch_exex::celestia::BlobCodecError;

/// Result alias of this module.
pub type Result<T, E = DeriveError> = std::result::Result<T, E>;

/// Why a derivation stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    /// The DA node could not be reached or configured.
    #[error("cannot connect to the DA node at {url}")]
    Connect {
        /// The `--da.url`.
        url: String,
        /// Client error.
        #[source]
        source: celestia_rpc::Error,
    },
    /// A DA request kept failing.
    #[error("DA request `{request}` failed after {attempts} attempts: {message}")]
    Request {
        /// What was asked, e.g. `blob.GetAll at height 12`.
        request: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// The namespace of the chainspec is not a valid Celestia namespace.
    #[error("invalid DA namespace 0x{namespace}: {message}")]
    Namespace {
        /// The namespace id, hex.
        namespace: String,
        /// Why it is invalid.
        message: String,
    },
    /// A blob starts after the next block the chain needs: blocks are missing from DA (or the
    /// derivation started at a DA height after the one holding them).
    #[error(
        "gap in DA data at height {da_height}: blob holds blocks {first}..={last}, but the next \
         block needed is {next} (head is {head}); start from an earlier --from-height"
    )]
    Gap {
        /// DA height of the blob.
        da_height: u64,
        /// First block of the blob.
        first: u64,
        /// Last block of the blob.
        last: u64,
        /// Current head number.
        head: u64,
        /// `head + 1`.
        next: u64,
    },
    /// A certified block from DA does not descend from the head: the chain derived so far
    /// is not the one the validators finalized.
    #[error(
        "block {number} ({hash}) from DA height {da_height} is certified but does not extend \
         head {head}: this datadir holds another chain"
    )]
    Fork {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
        /// DA height of its blob.
        da_height: u64,
        /// Current head number.
        head: u64,
    },
    /// A block from DA failed validation or execution: the data disagrees with the chain.
    #[error("block {number} ({hash}) from DA height {da_height} was rejected")]
    Block {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
        /// DA height of the blob holding it.
        da_height: u64,
        /// Why the engine rejected it (boxed: it is large and this path is cold).
        #[source]
        source: Box<EngineError>,
    },
    /// No blob from the start height to the DA head holds the block.
    #[error(
        "block {number} is not on DA: no blob of this chain at DA heights {start_height}..={head} \
         holds it (not posted yet, or posted under another namespace)"
    )]
    NotOnDa {
        /// The block looked for.
        number: u64,
        /// First DA height read.
        start_height: u64,
        /// The DA network head, the last height read.
        head: u64,
    },
    /// The first blob found holds only later blocks: the block is at an earlier DA height.
    #[error(
        "block {number} is before DA height {start_height}: the blob at DA height {da_height} \
         starts at block {first}; use an earlier start height"
    )]
    BeforeStart {
        /// The block looked for.
        number: u64,
        /// First DA height read.
        start_height: u64,
        /// Height of the blob found.
        da_height: u64,
        /// First block of that blob.
        first: u64,
    },
    /// The engine or its database failed outside a specific block.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The database failed while storing progress.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// The blocking import task panicked or was cancelled.
    #[error("block import task failed: {0}")]
    Task(String),
}

/// Why a blob of the namespace is not part of this chain; the blob is skipped with a warning.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The blob is not a valid format-v1 blob (bad magic, garbage, corrupt payload).
    #[error("not a Hauptbuch blob: {0}")]
    Codec(#[from] BlobCodecError),
    /// The blob belongs to another rollup sharing the namespace.
    #[error("blob of chain id {found}, this chain is {expected}")]
    ForeignChain {
        /// Chain id in the blob header.
        found: u64,
        /// Chain id of the chainspec.
        expected: u64,
    },
    /// A block inside the blob does not decode.
    #[error("block {number} in the blob: {message}")]
    Block {
        /// Block number by its position in the blob.
        number: u64,
        /// What is wrong.
        message: String,
    },
}
