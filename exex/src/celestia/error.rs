//! Errors of the Celestia DA ExEx and its submission log.

use super::batcher::BatchError;

/// Why the submission log failed.
#[derive(Debug, thiserror::Error)]
pub enum DaLogError {
    /// The log could not be opened.
    #[error("DA submission log {path}: {source}")]
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        #[source]
        source: redb::DatabaseError,
    },
    /// The directory could not be created or resolved.
    #[error("DA submission log directory {path}: {source}")]
    Dir {
        /// The directory.
        path: std::path::PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A database operation failed.
    #[error("DA submission log: {0}")]
    Db(#[from] redb::Error),
    /// A stored record does not decode.
    #[error("DA submission log is corrupt: {0}")]
    Corrupt(String),
    /// A batch does not continue where the log ends.
    #[error(
        "batch {first}..={last} does not continue the DA submission log, which ends at block {log_last}"
    )]
    NonConsecutive {
        /// First block of the batch.
        first: u64,
        /// Last block of the batch.
        last: u64,
        /// Last block the log holds.
        log_last: u64,
    },
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for DaLogError {
            fn from(e: $t) -> Self {
                Self::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Why the DA ExEx stopped.
#[derive(Debug, thiserror::Error)]
pub enum DaExExError {
    /// The configuration is invalid.
    #[error("DA ExEx config: {0}")]
    Config(String),
    /// The submission log failed.
    #[error(transparent)]
    Log(#[from] DaLogError),
    /// A block could not be batched.
    #[error("batching: {0}")]
    Batch(#[from] BatchError),
    /// The node skipped blocks the log never recorded: they would be missing from DA.
    #[error(
        "the node resumes the DA ExEx at block {next}, but the DA submission log ends at block \
         {log_last}: blocks {from}..{next} would never be posted (was the log deleted?)",
        from = log_last + 1
    )]
    Gap {
        /// Last block in the log.
        log_last: u64,
        /// Block the node delivered next.
        next: u64,
    },
    /// A blob could not be built.
    #[error("building the blob of blocks {first}..={last}: {source}")]
    Blob {
        /// First block of the batch.
        first: u64,
        /// Last block of the batch.
        last: u64,
        /// What went wrong.
        #[source]
        source: celestia_types::Error,
    },
    /// The DA endpoint cannot be used as configured (bad URL, token characters, rejected token).
    #[error("DA endpoint {url}: {message}")]
    Endpoint {
        /// The endpoint.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The DA node rejected a submission for a reason retrying cannot fix (e.g. too large).
    #[error("DA node rejected the blob of blocks {first}..={last} ({bytes} bytes): {source}")]
    Rejected {
        /// First block of the batch.
        first: u64,
        /// Last block of the batch.
        last: u64,
        /// Total blob bytes of the submission.
        bytes: usize,
        /// The DA node's answer.
        #[source]
        source: celestia_rpc::Error,
    },
}
