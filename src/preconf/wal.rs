//! Write-ahead log of preconfirmation batches: `<datadir>/preconf.wal`.
//!
//! A batch is acknowledged once its record is appended here and `fdatasync`'d (one small
//! sequential write), rather than after a durable redb commit (which costs about three times as
//! much). Batches that arrive while one append syncs are appended next as one record, with one
//! `fdatasync` (group commit). The store's flusher writes logged batches to redb shortly after
//! and then empties the log. On open, the records of batches redb lacks are written again
//! ([`super::PreconfStore::open`]).
//!
//! Record: `len u32 (big-endian) | keccak256(payload) | payload`, the payload being the JSON
//! array of its batches ([`WalRecord`]; a single object is read as one batch). One record is
//! one sync, so a crash keeps all of a record's batches or none. A bad *last* record (cut short,
//! or its checksum wrong) is a torn append that was never acknowledged, and is dropped. A bad
//! record with more after it, or one whose checksum holds but whose JSON does not parse, is
//! corruption: opening fails rather than losing acknowledged batches, and the file is left as
//! it is.

use super::{
    error::{PreconfError, Result},
    store::{StoredBatch, StoredPreconf},
};
use alloy_primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};
use std::{
    fs::{File, OpenOptions},
    io::{Read, Write},
    path::Path,
};

/// File name of the log inside the datadir.
pub(super) const WAL_FILE: &str = "preconf.wal";

/// One batch as logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WalRecord {
    pub(crate) id: u64,
    pub(crate) batch: StoredBatch,
    pub(crate) preconfs: Vec<StoredPreconf>,
}

/// One batch as written (borrowing what [`WalRecord`] owns; the same JSON).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WalRecordRef<'a> {
    pub(crate) id: u64,
    pub(crate) batch: &'a StoredBatch,
    pub(crate) preconfs: &'a [StoredPreconf],
}

/// A record's payload: its batches (or one, as a single object).
#[derive(Deserialize)]
#[serde(untagged)]
enum Payload {
    Group(Vec<WalRecord>),
    One(WalRecord),
}

/// The open log.
#[derive(Debug)]
pub(crate) struct Wal {
    file: File,
    path: std::path::PathBuf,
}

impl Wal {
    /// Opens (creating) the log and returns it with the records it holds, in order.
    pub(crate) fn open(datadir: &Path) -> Result<(Self, Vec<WalRecord>)> {
        let path = datadir.join(WAL_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(PreconfError::store)?;
        // Its directory entry must survive a power loss too.
        File::open(datadir)
            .and_then(|d| d.sync_all())
            .map_err(PreconfError::store)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(PreconfError::store)?;
        let records = decode_all(&bytes, &path)?;
        Ok((Self { file, path }, records))
    }

    /// Its size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.file.metadata().map_or(0, |m| m.len())
    }

    /// Replaces the log with `batches` (written to a new file, synced, renamed over it).
    pub(crate) fn rewrite(&mut self, batches: &[WalRecordRef<'_>]) -> Result<()> {
        let tmp = self.path.with_extension("wal.tmp");
        let mut out = File::create(&tmp).map_err(PreconfError::store)?;
        if !batches.is_empty() {
            out.write_all(&encode(batches)?)
                .map_err(PreconfError::store)?;
        }
        out.sync_all().map_err(PreconfError::store)?;
        std::fs::rename(&tmp, &self.path).map_err(PreconfError::store)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(PreconfError::store)?;
        }
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(PreconfError::store)?;
        Ok(())
    }

    /// Appends `batches` as one record and syncs it to disk; returns the record's size.
    pub(crate) fn append(&mut self, batches: &[WalRecordRef<'_>]) -> Result<u64> {
        let record = encode(batches)?;
        self.file.write_all(&record).map_err(PreconfError::store)?;
        self.file.sync_data().map_err(PreconfError::store)?;
        Ok(record.len() as u64)
    }

    /// Empties the log (everything in it is durable elsewhere).
    pub(crate) fn clear(&self) -> Result<()> {
        self.file.set_len(0).map_err(PreconfError::store)?;
        self.file.sync_all().map_err(PreconfError::store)
    }
}

/// One record's bytes.
fn encode(batches: &[WalRecordRef<'_>]) -> Result<Vec<u8>> {
    frame(&serde_json::to_vec(batches).map_err(PreconfError::store)?)
}

/// `payload` with its length and checksum in front.
fn frame(payload: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(payload.len())
        .map_err(|_| PreconfError::Store("batch too large for the log".into()))?;
    let mut out = Vec::with_capacity(36 + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(keccak256(payload).as_slice());
    out.extend_from_slice(payload);
    Ok(out)
}

/// What one record of the log turned out to be.
enum Decoded {
    Record(Payload),
    /// The last record, cut short or with a wrong checksum: an append that was never synced.
    TornTail,
    /// A bad record with more after it, or a checksummed one that does not parse.
    Corrupt(String),
}

/// The records of `bytes`; a torn tail is dropped, corruption is an error.
fn decode_all(bytes: &[u8], path: &Path) -> Result<Vec<WalRecord>> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        match decode_one(&mut rest) {
            Decoded::Record(Payload::Group(group)) => records.extend(group),
            Decoded::Record(Payload::One(record)) => records.push(record),
            Decoded::TornTail => {
                tracing::warn!(
                    path = %path.display(),
                    dropped_bytes = rest.len(),
                    "the preconfirmation log ends in a torn record (never acknowledged); ignoring it"
                );
                break;
            }
            Decoded::Corrupt(reason) => {
                return Err(PreconfError::Store(format!(
                    "{} is corrupt at byte {offset} ({reason}) with {} valid batches before it; \
                     it holds acknowledged preconfirmations, so it is left untouched",
                    path.display(),
                    records.len()
                )));
            }
        }
    }
    Ok(records)
}

fn decode_one(rest: &mut &[u8]) -> Decoded {
    let Some((len, after)) = rest.split_first_chunk::<4>() else {
        return Decoded::TornTail;
    };
    let len = u32::from_be_bytes(*len) as usize;
    let Some((hash, after)) = after.split_first_chunk::<32>() else {
        return Decoded::TornTail;
    };
    let Some(payload) = after.get(..len) else {
        return Decoded::TornTail;
    };
    let last = after.len() == len;
    if keccak256(payload) != B256::from(*hash) {
        return if last {
            Decoded::TornTail
        } else {
            Decoded::Corrupt("checksum mismatch".into())
        };
    }
    match serde_json::from_slice(payload) {
        Ok(record) => {
            *rest = &after[len..];
            Decoded::Record(record)
        }
        Err(e) => Decoded::Corrupt(format!("record does not parse: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Bytes;

    fn batch(id: u64) -> StoredBatch {
        StoredBatch {
            signature: Bytes::from(vec![id as u8; 8]),
            ml_dsa65: Bytes::from(vec![1; 4]),
        }
    }

    #[test]
    fn records_survive_reopening_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, records) = Wal::open(dir.path()).expect("open");
        assert!(records.is_empty());
        let batches: Vec<StoredBatch> = (0..4).map(batch).collect();
        let record = |id: u64| WalRecordRef {
            id,
            batch: &batches[id as usize],
            preconfs: &[],
        };
        for id in 0..2 {
            wal.append(&[record(id)]).expect("append");
        }
        // A group: one record.
        wal.append(&[record(2), record(3)]).expect("append");
        drop(wal);
        // A crash in the middle of a fourth append.
        let path = dir.path().join(WAL_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        let whole = bytes.len();
        bytes.extend_from_slice(&100u32.to_be_bytes());
        bytes.extend_from_slice(&[7; 40]);
        std::fs::write(&path, &bytes).expect("write");
        let (mut wal, records) = Wal::open(dir.path()).expect("reopen");
        assert_eq!(
            records.iter().map(|r| r.id).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        // A flipped byte inside a record ends the log there: the group goes as a whole.
        bytes.truncate(whole);
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let (_, records) = Wal::open(dir.path()).expect("reopen");
        assert_eq!(records.iter().map(|r| r.id).collect::<Vec<_>>(), [0, 1]);
        // The same in the first record, with acknowledged ones after it: corruption, an error,
        // and the file is kept.
        bytes[last] ^= 1;
        bytes[40] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let error = Wal::open(dir.path()).expect_err("corrupt").to_string();
        assert!(error.contains("corrupt at byte 0"), "{error}");
        assert_eq!(std::fs::read(&path).expect("read"), bytes);
        wal.clear().expect("clear");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), 0);
        // Rewritten with some batches, it holds those, and appends go after them.
        wal.rewrite(&[record(1), record(3)]).expect("rewrite");
        wal.append(&[record(0)]).expect("append");
        drop(wal);
        // A record of one batch as an object (how logs were written before group commits).
        let mut bytes = std::fs::read(&path).expect("read");
        let payload = serde_json::to_vec(&record(2)).expect("json");
        bytes.extend_from_slice(&frame(&payload).expect("frame"));
        std::fs::write(&path, &bytes).expect("write");
        let (_, records) = Wal::open(dir.path()).expect("reopen");
        assert_eq!(
            records.iter().map(|r| r.id).collect::<Vec<_>>(),
            [1, 3, 0, 2]
        );
    }
}
