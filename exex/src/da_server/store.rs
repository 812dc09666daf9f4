//! On-disk state of the DA server: one redb file under the data dir.
//!
//! Tables: `headers` (height → ExtendedHeader JSON), `blobs` (height → JSON list of the
//! height's blobs with their `index`; absent for empty blocks), `header_hashes` (hash →
//! height) and `meta` (the validator key seed). A DA block (header, blobs, hash) is written in
//! one transaction, so a crash leaves either the whole block or none of it.

use std::path::Path;

use celestia_types::{Blob, ExtendedHeader};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::error::{DaServerError, Result};

const HEADERS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("headers");
const BLOBS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("blobs");
const HEADER_HASHES: TableDefinition<'_, &[u8], u64> = TableDefinition::new("header_hashes");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

/// File name of the database inside the data dir.
pub(crate) const DB_FILE: &str = "da.redb";

/// The DA server's database.
#[derive(Debug)]
pub(crate) struct Store {
    db: redb::Database,
}

fn corrupt(what: &'static str, height: u64, err: impl std::fmt::Display) -> DaServerError {
    DaServerError::Corrupt {
        what,
        height,
        message: err.to_string(),
    }
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`.
    pub(crate) fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| DaServerError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let db = redb::Database::create(data_dir.join(DB_FILE))?;
        let txn = db.begin_write()?;
        txn.open_table(HEADERS)?;
        txn.open_table(BLOBS)?;
        txn.open_table(HEADER_HASHES)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(Self { db })
    }

    /// The highest stored header.
    pub(crate) fn head(&self) -> Result<Option<ExtendedHeader>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HEADERS)?;
        let Some((height, json)) = table.last()? else {
            return Ok(None);
        };
        let height = height.value();
        serde_json::from_slice(json.value())
            .map(Some)
            .map_err(|e| corrupt("header", height, e))
    }

    /// The header at `height`.
    pub(crate) fn header(&self, height: u64) -> Result<Option<ExtendedHeader>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HEADERS)?;
        let Some(json) = table.get(height)? else {
            return Ok(None);
        };
        serde_json::from_slice(json.value())
            .map(Some)
            .map_err(|e| corrupt("header", height, e))
    }

    /// The height of the header with hash `hash`.
    pub(crate) fn height_of(&self, hash: &[u8]) -> Result<Option<u64>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HEADER_HASHES)?;
        Ok(table.get(hash)?.map(|h| h.value()))
    }

    /// The blobs included at `height` (empty for an empty or unknown height).
    pub(crate) fn blobs(&self, height: u64) -> Result<Vec<Blob>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOBS)?;
        let Some(json) = table.get(height)? else {
            return Ok(Vec::new());
        };
        serde_json::from_slice(json.value()).map_err(|e| corrupt("blobs", height, e))
    }

    /// Writes a DA block atomically.
    pub(crate) fn put_block(&self, header: &ExtendedHeader, blobs: &[Blob]) -> Result<()> {
        let height = header.height();
        let header_json = serde_json::to_vec(header).map_err(|e| corrupt("header", height, e))?;
        let txn = self.db.begin_write()?;
        {
            txn.open_table(HEADERS)?
                .insert(height, header_json.as_slice())?;
            txn.open_table(HEADER_HASHES)?
                .insert(header.hash().as_bytes(), height)?;
            if !blobs.is_empty() {
                let json = serde_json::to_vec(blobs).map_err(|e| corrupt("blobs", height, e))?;
                txn.open_table(BLOBS)?.insert(height, json.as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// A value from the `meta` table.
    pub(crate) fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(META)?;
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Writes a value to the `meta` table.
    pub(crate) fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(META)?.insert(key, value)?;
        txn.commit()?;
        Ok(())
    }
}
