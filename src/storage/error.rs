//! Storage errors.

use alloy_primitives::B256;

/// Result alias for storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A failure of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// redb failed (I/O, corruption, or a transaction error).
    #[error("database error: {0}")]
    Database(#[from] redb::Error),
    /// A stored value could not be decoded.
    #[error("corrupt {table} entry {key}: {message}")]
    Corrupt {
        /// Table holding the entry.
        table: &'static str,
        /// Key of the entry, rendered for humans.
        key: String,
        /// What failed.
        message: String,
    },
    /// The trie layer failed.
    #[error(transparent)]
    Trie(#[from] crate::trie::TrieError),
    /// The database belongs to another chain.
    #[error("datadir holds chain with genesis {stored}, but the chainspec's genesis is {expected}")]
    GenesisMismatch {
        /// Genesis hash in the database.
        stored: B256,
        /// Genesis hash of the chainspec.
        expected: B256,
    },
    /// The database was written by a binary with an incompatible layout.
    #[error(
        "datadir {path} has database schema version {found}, this binary needs {expected}; \
         remove the datadir and re-sync (or run the binary that created it)"
    )]
    SchemaVersion {
        /// The database file.
        path: String,
        /// Version stored in the database.
        found: u64,
        /// Version this binary writes.
        expected: u64,
    },
    /// The database has not been initialised with a genesis block.
    #[error("datadir is not initialised; run `hauptbuch-reth init` first")]
    NotInitialised,
}

impl revm::database::DBErrorMarker for StorageError {}

macro_rules! impl_from_redb {
    ($($ty:ty),*) => {
        $(impl From<$ty> for StorageError {
            fn from(err: $ty) -> Self {
                Self::Database(err.into())
            }
        })*
    };
}

impl_from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
