//! Persistent chain storage on redb.
//!
//! One redb file (`<datadir>/db/hauptbuch.redb`) holds the canonical chain (headers, bodies,
//! receipts, a transaction index), the plain state the EVM reads (accounts, storage, bytecode),
//! the state trie (`crate::trie`) and the forkchoice pointers.
//!
//! Invariants:
//! - Every block is written in exactly one write transaction together with its state changes, its
//!   trie updates and the new head pointer. redb commits are atomic and durable, so after a crash
//!   at any instant the database holds the last fully committed block and nothing half-written.
//! - The plain state and the trie always describe the state after the `head` block.
//! - Readers work on snapshots (`ReadTransaction`) and never block the writer.
//! - History: before a block changes an account or slot, its previous value is recorded under
//!   `key ‖ block`. The state as of block `n` is, per key, the first history entry above `n`, or
//!   the current value when there is none. Genesis writes no history. The withdrawal contract's
//!   storage trie keeps the same kind of history of its nodes (`crate::trie::storage_proof_at`).

mod codec;
mod error;
mod provider;
mod state;
pub mod tables;
mod writer;

pub use codec::{
    StoredAccount, account_history_key, decode_tx_location, storage_history_key, storage_key,
    storage_range, tx_location,
};
pub use error::{Result, StorageError};
pub use provider::Provider;
pub use state::{StateOverlay, StateProviderDatabase};
pub use writer::{BlockWriter, StateChangeset, genesis_changeset};

use redb::ReadableDatabase;
use std::path::{Path, PathBuf};

/// Version of the on-disk layout; bumped on incompatible changes.
/// Version 2 added the node history of the withdrawal contract's storage trie.
pub const SCHEMA_VERSION: u64 = 2;
/// File name of the database inside `<datadir>/db`.
const DB_FILE: &str = "hauptbuch.redb";

/// Handle to the node's database. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Database {
    db: redb::Database,
    path: PathBuf,
}

impl Database {
    /// Opens (creating if needed) the database under `datadir`.
    pub fn open(datadir: &Path) -> Result<Self> {
        let dir = datadir.join("db");
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::Database(e.into()))?;
        let path = dir.join(DB_FILE);
        let db = redb::Database::create(&path)?;
        let this = Self { db, path };
        this.create_tables()?;
        this.check_schema_version()?;
        Ok(this)
    }

    /// Refuses a database written with another layout (an initialised one records its version).
    fn check_schema_version(&self) -> Result<()> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(tables::META)?;
        let Some(stored) = meta.get("schema_version")? else {
            return Ok(());
        };
        let found = <[u8; 8]>::try_from(stored.value()).map_or(0, u64::from_be_bytes);
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        Err(StorageError::SchemaVersion {
            path: self.path.display().to_string(),
            found,
            expected: SCHEMA_VERSION,
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ensures every table exists, so read transactions never see a missing table.
    fn create_tables(&self) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(tables::HEADERS)?;
        txn.open_table(tables::HEADER_NUMBERS)?;
        txn.open_table(tables::CANONICAL)?;
        txn.open_table(tables::BODIES)?;
        txn.open_table(tables::RECEIPTS)?;
        txn.open_table(tables::TX_LOOKUP)?;
        txn.open_table(tables::ACCOUNTS)?;
        txn.open_table(tables::STORAGE)?;
        txn.open_table(tables::BYTECODES)?;
        txn.open_table(tables::ACCOUNT_HISTORY)?;
        txn.open_table(tables::STORAGE_HISTORY)?;
        txn.open_table(tables::META)?;
        txn.open_table(tables::CERTIFICATES)?;
        txn.open_table(crate::trie::tables::ACCOUNT_TRIE)?;
        txn.open_table(crate::trie::tables::STORAGE_TRIE)?;
        txn.open_table(crate::trie::tables::STORAGE_TRIE_HISTORY)?;
        txn.open_table(crate::withdrawals::index::WITHDRAWALS)?;
        txn.open_table(crate::withdrawals::index::MESSAGE_PASSER_ROOTS)?;
        txn.commit()?;
        Ok(())
    }

    /// A consistent read-only snapshot.
    pub fn provider(&self) -> Result<Provider> {
        Provider::new(self.db.begin_read()?)
    }

    /// Starts the single write transaction of a block (or of genesis).
    pub fn writer(&self) -> Result<BlockWriter> {
        Ok(BlockWriter::new(self.db.begin_write()?))
    }

    /// Per-table entry counts and sizes, for `db stats`.
    pub fn stats(&self) -> Result<Vec<TableStat>> {
        use redb::{ReadableTableMetadata, TableHandle};
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for handle in txn.list_tables()? {
            let name = handle.name().to_string();
            let table = txn.open_untyped_table(handle)?;
            let stats = table.stats()?;
            out.push(TableStat {
                name,
                entries: table.len()?,
                stored_bytes: stats.stored_bytes(),
                total_bytes: stats.stored_bytes()
                    + stats.metadata_bytes()
                    + stats.fragmented_bytes(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// Size figures of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStat {
    /// Table name.
    pub name: String,
    /// Number of entries.
    pub entries: u64,
    /// Bytes of keys and values.
    pub stored_bytes: u64,
    /// Bytes including metadata and fragmentation.
    pub total_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datadir_of_another_schema_version_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::open(dir.path()).expect("fresh datadir");
        let writer = db.writer().expect("writer");
        writer
            .set_meta("schema_version", &SCHEMA_VERSION.to_be_bytes())
            .expect("meta");
        writer.commit().expect("commit");
        drop(db);
        let db = Database::open(dir.path()).expect("same version opens");
        let writer = db.writer().expect("writer");
        writer
            .set_meta("schema_version", &1u64.to_be_bytes())
            .expect("meta");
        writer.commit().expect("commit");
        drop(db);
        let err = Database::open(dir.path()).expect_err("old version refused");
        let message = err.to_string();
        assert!(
            message.contains("schema version 1")
                && message.contains(&format!("needs {SCHEMA_VERSION}")),
            "{message}"
        );
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
    }
}
