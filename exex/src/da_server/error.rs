//! Errors of the DA server, and their conversion to celestia-node style JSON-RPC errors.

use jsonrpsee::types::ErrorObjectOwned;

/// Result alias for DA server operations.
pub type Result<T, E = DaServerError> = std::result::Result<T, E>;

/// JSON-RPC error code celestia-node uses for every service error.
pub const SERVICE_ERROR_CODE: i32 = 1;

/// A failure of the DA server outside a single request.
#[derive(Debug, thiserror::Error)]
pub enum DaServerError {
    /// redb failed (I/O, corruption, or a transaction error).
    #[error("database error: {0}")]
    Database(#[from] redb::Error),
    /// Reading or writing a file in the data dir failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be decoded.
    #[error("corrupt {what} at height {height}: {message}")]
    Corrupt {
        /// What was stored (header, blobs).
        what: &'static str,
        /// Its height.
        height: u64,
        /// What failed.
        message: String,
    },
    /// Building a data square, a header or a proof failed.
    #[error("celestia types: {0}")]
    Celestia(#[from] celestia_types::Error),
    /// Signing a header failed.
    #[error("header signing: {0}")]
    Signing(String),
    /// The JSON-RPC server could not be built or bound.
    #[error("rpc server: {0}")]
    Rpc(String),
    /// The OS random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
    /// The configuration is invalid.
    #[error("invalid DA server config: {0}")]
    Config(String),
    /// The server is stopping.
    #[error("da server is shutting down")]
    ShuttingDown,
}

macro_rules! from_redb {
    ($($ty:ty),*) => {$(
        impl From<$ty> for DaServerError {
            fn from(err: $ty) -> Self {
                Self::Database(err.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A celestia-node style service error: code 1 and the Go error text.
pub(crate) fn service_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVICE_ERROR_CODE, message.into(), None::<()>)
}

impl From<DaServerError> for ErrorObjectOwned {
    fn from(err: DaServerError) -> Self {
        service_error(err.to_string())
    }
}
