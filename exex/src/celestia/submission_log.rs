//! The submission log: which batches were cut, where they landed on DA, how far DA is firm.
//!
//! One redb file, `da_submissions.redb`, in the ExEx's data dir. Tables:
//! - `batches`: first block → a batch record (last block and hash, namespace, block
//!   timestamps, DA height and commitment once submitted);
//! - `blobs`: first block → the blob bytes, kept until the batch is firm so a batch recorded but
//!   not confirmed can be resubmitted after a crash;
//! - `meta`: `firm` → the newest firm batch (block, hash, DA location, DA head); `watch_from` →
//!   the DA height a standby poster first read from.
//!
//! Invariants: batches are consecutive (each starts right after the previous one ends) and are
//! written before they are submitted; a batch's DA location is written in the same entry once
//! `blob.Submit` returned, before the node hears `FinishedHeight`; the firm pointer only moves
//! forward, and only over submitted batches. Every change is one write transaction.
//!
//! The node reads the same log ([`DaLog::location`], [`DaLog::status`]) while the ExEx writes
//! it. redb allows one open handle per file and process, so [`DaLog::open`] shares the handle
//! already open in this process for the same directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use alloy_primitives::{B256, Bytes};
use alloy_rlp::{Decodable, RlpDecodable, RlpEncodable};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::error::DaLogError;
use crate::DaLocation;

const BATCHES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("batches");
const BLOBS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("blobs");
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const META_FIRM: &str = "firm";
const META_WATCH_FROM: &str = "watch_from";

/// File name of the log inside the data dir.
pub const LOG_FILE: &str = "da_submissions.redb";

type Result<T, E = DaLogError> = std::result::Result<T, E>;

/// Handles open in this process, by canonical directory.
static OPEN: Mutex<Vec<(PathBuf, Weak<Shared>)>> = Mutex::new(Vec::new());

/// How the DA ExEx is doing, from the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DaStatus {
    /// Last block recorded in a batch (submitted or not).
    pub last_recorded_block: Option<u64>,
    /// Last block whose batch `blob.Submit` accepted.
    pub last_submitted_block: Option<u64>,
    /// Last firm block.
    pub last_firm_block: Option<u64>,
    /// Batches recorded but not yet accepted by `blob.Submit`.
    pub unsubmitted_batches: u64,
    /// Batches submitted but not firm yet.
    pub pending_batches: u64,
    /// Blob bytes of all batches not firm yet (unsubmitted and pending).
    pub pending_bytes: u64,
    /// Blob bytes of the batches not yet accepted by `blob.Submit` (unposted data).
    pub unsubmitted_bytes: u64,
    /// Latest DA height seen by the finality tracker.
    pub last_da_height: Option<u64>,
}

/// A batch as the log stores it.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct BatchRecord {
    pub(crate) last_block: u64,
    pub(crate) last_hash: B256,
    /// 29-byte namespace the blob is posted to.
    pub(crate) namespace: Bytes,
    pub(crate) blob_len: u64,
    /// Timestamps of the batch's blocks (seconds), for the soft→firm latency; cleared once firm.
    pub(crate) timestamps: Vec<u64>,
    /// DA inclusion height, 0 until submitted (Celestia heights start at 1).
    pub(crate) da_height: u64,
    /// Share commitment, zero until submitted.
    pub(crate) commitment: B256,
}

impl BatchRecord {
    pub(crate) fn is_submitted(&self) -> bool {
        self.da_height != 0
    }

    pub(crate) fn location(&self) -> DaLocation {
        DaLocation {
            height: self.da_height,
            namespace: self.namespace.clone(),
            commitment: self.commitment,
        }
    }
}

/// The newest firm batch.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub(crate) struct FirmRecord {
    pub(crate) block: u64,
    pub(crate) hash: B256,
    pub(crate) da_height: u64,
    pub(crate) namespace: Bytes,
    pub(crate) commitment: B256,
    /// DA head when the batch was found final.
    pub(crate) da_head: u64,
}

impl FirmRecord {
    pub(crate) fn location(&self) -> DaLocation {
        DaLocation {
            height: self.da_height,
            namespace: self.namespace.clone(),
            commitment: self.commitment,
        }
    }
}

/// A recorded batch with its blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoggedBatch {
    pub(crate) first_block: u64,
    pub(crate) record: BatchRecord,
    pub(crate) blob: Bytes,
}

#[derive(Debug)]
struct Shared {
    db: redb::Database,
    /// Latest DA head seen by the tracker in this process (0 = none); persisted with the firm
    /// pointer only, so following the head costs no disk writes.
    da_head: AtomicU64,
}

/// The submission log (see the module docs). Cheap to clone; all clones share one handle.
#[derive(Debug, Clone)]
pub struct DaLog {
    shared: Arc<Shared>,
}

fn decode<T: Decodable>(what: &str, key: u64, mut bytes: &[u8]) -> Result<T> {
    T::decode(&mut bytes).map_err(|e| DaLogError::Corrupt(format!("{what} {key}: {e}")))
}

impl DaLog {
    /// Opens the log in `dir`, creating the directory and file if needed. Within one process,
    /// every `open` of the same directory shares one database handle.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let dir_error = |source| DaLogError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(dir_error)?;
        let canonical = dir.canonicalize().map_err(dir_error)?;
        let mut open = OPEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        open.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(shared) = open
            .iter()
            .find(|(path, _)| *path == canonical)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return Ok(Self { shared });
        }
        let path = canonical.join(LOG_FILE);
        let db = redb::Database::create(&path).map_err(|source| DaLogError::Open {
            path: path.clone(),
            source,
        })?;
        let txn = db.begin_write()?;
        txn.open_table(BATCHES)?;
        txn.open_table(BLOBS)?;
        txn.open_table(META)?;
        txn.commit()?;
        let da_head = Self::read_firm(&db)?.map_or(0, |firm| firm.da_head);
        let shared = Arc::new(Shared {
            db,
            da_head: AtomicU64::new(da_head),
        });
        open.push((canonical, Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// Where block `block` is on DA, once its batch was submitted (firm or not; see
    /// [`Self::status`] for how far DA is firm).
    pub fn location(&self, block: u64) -> Result<Option<DaLocation>> {
        let txn = self.shared.db.begin_read()?;
        let table = txn.open_table(BATCHES)?;
        let Some((first, value)) = table.range(..=block)?.next_back().transpose()? else {
            return Ok(None);
        };
        let record: BatchRecord = decode("batch", first.value(), value.value())?;
        Ok((record.last_block >= block && record.is_submitted()).then(|| record.location()))
    }

    /// The DA ExEx's progress.
    pub fn status(&self) -> Result<DaStatus> {
        let txn = self.shared.db.begin_read()?;
        let firm = Self::firm_in(&txn)?;
        let table = txn.open_table(BATCHES)?;
        let mut status = DaStatus {
            last_firm_block: firm.as_ref().map(|f| f.block),
            last_submitted_block: firm.as_ref().map(|f| f.block),
            last_da_height: Some(self.shared.da_head.load(Ordering::Relaxed)).filter(|h| *h != 0),
            ..DaStatus::default()
        };
        if let Some((first, value)) = table.last()? {
            let record: BatchRecord = decode("batch", first.value(), value.value())?;
            status.last_recorded_block = Some(record.last_block);
        }
        let after_firm = firm.map_or(0, |f| f.block + 1);
        for entry in table.range(after_firm..)? {
            let (first, value) = entry?;
            let record: BatchRecord = decode("batch", first.value(), value.value())?;
            status.pending_bytes += record.blob_len;
            if record.is_submitted() {
                status.pending_batches += 1;
                status.last_submitted_block = Some(record.last_block);
            } else {
                status.unsubmitted_batches += 1;
                status.unsubmitted_bytes += record.blob_len;
            }
        }
        Ok(status)
    }

    /// Sets the gauge of unposted blob bytes (`hauptbuch_da_unposted_bytes`) from the log.
    pub(crate) fn record_unposted_bytes(&self) -> Result<()> {
        let status = self.status()?;
        metrics::gauge!("hauptbuch_da_unposted_bytes").set(status.unsubmitted_bytes as f64);
        Ok(())
    }

    /// Last block of the newest recorded batch.
    pub(crate) fn last_recorded_block(&self) -> Result<Option<u64>> {
        Ok(self.status()?.last_recorded_block)
    }

    /// The DA height a standby resumes reading at: that of the newest batch known to be on DA,
    /// else the height it first read from.
    pub(crate) fn watch_from(&self) -> Result<Option<u64>> {
        let txn = self.shared.db.begin_read()?;
        let firm = Self::firm_in(&txn)?;
        let table = txn.open_table(BATCHES)?;
        for entry in table.iter()?.rev() {
            let (first, value) = entry?;
            let record: BatchRecord = decode("batch", first.value(), value.value())?;
            if record.is_submitted() {
                return Ok(Some(record.da_height));
            }
        }
        if let Some(firm) = firm {
            return Ok(Some(firm.da_height));
        }
        let meta = txn.open_table(META)?;
        let first = meta.get(META_WATCH_FROM)?;
        Ok(first.and_then(|v| <[u8; 8]>::try_from(v.value()).ok().map(u64::from_be_bytes)))
    }

    /// Records the DA height a standby first read from (kept if one is recorded already).
    pub(crate) fn record_watch_start(&self, height: u64) -> Result<()> {
        let txn = self.shared.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            if meta.get(META_WATCH_FROM)?.is_none() {
                meta.insert(META_WATCH_FROM, height.to_be_bytes().as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The newest firm batch.
    pub(crate) fn firm(&self) -> Result<Option<FirmRecord>> {
        Self::read_firm(&self.shared.db)
    }

    fn read_firm(db: &redb::Database) -> Result<Option<FirmRecord>> {
        Self::firm_in(&db.begin_read()?)
    }

    fn firm_in(txn: &redb::ReadTransaction) -> Result<Option<FirmRecord>> {
        let meta = txn.open_table(META)?;
        meta.get(META_FIRM)?
            .map(|value| decode("firm pointer", 0, value.value()))
            .transpose()
    }

    /// Batches after the firm pointer, in block order, with their blobs if still stored.
    pub(crate) fn unfirm(&self) -> Result<Vec<LoggedBatch>> {
        let txn = self.shared.db.begin_read()?;
        let after_firm = Self::firm_in(&txn)?.map_or(0, |f| f.block + 1);
        let batches = txn.open_table(BATCHES)?;
        let blobs = txn.open_table(BLOBS)?;
        let mut out = Vec::new();
        for entry in batches.range(after_firm..)? {
            let (first, value) = entry?;
            let first_block = first.value();
            let record: BatchRecord = decode("batch", first_block, value.value())?;
            let blob = blobs
                .get(first_block)?
                .map(|b| Bytes::copy_from_slice(b.value()))
                .unwrap_or_default();
            out.push(LoggedBatch {
                first_block,
                record,
                blob,
            });
        }
        Ok(out)
    }

    /// The submitted batches after the firm pointer, in order, without blobs.
    pub(crate) fn submitted_unfirm(&self) -> Result<Vec<(u64, BatchRecord)>> {
        let txn = self.shared.db.begin_read()?;
        let after_firm = Self::firm_in(&txn)?.map_or(0, |f| f.block + 1);
        let batches = txn.open_table(BATCHES)?;
        let mut out = Vec::new();
        for entry in batches.range(after_firm..)? {
            let (first, value) = entry?;
            let record: BatchRecord = decode("batch", first.value(), value.value())?;
            if !record.is_submitted() {
                break;
            }
            out.push((first.value(), record));
        }
        Ok(out)
    }

    /// Records a new batch `first..=record.last_block` with its blob, before it is submitted.
    pub(crate) fn record_batch(&self, first: u64, record: &BatchRecord, blob: &[u8]) -> Result<()> {
        let txn = self.shared.db.begin_write()?;
        {
            let mut batches = txn.open_table(BATCHES)?;
            if let Some((prev_first, value)) = batches.last()? {
                let prev: BatchRecord = decode("batch", prev_first.value(), value.value())?;
                if prev.last_block + 1 != first {
                    return Err(DaLogError::NonConsecutive {
                        first,
                        last: record.last_block,
                        log_last: prev.last_block,
                    });
                }
            }
            batches.insert(first, alloy_rlp::encode(record).as_slice())?;
            txn.open_table(BLOBS)?.insert(first, blob)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Records where the batches starting at the given blocks landed: `(first block, DA height,
    /// commitment)`.
    pub(crate) fn record_submitted(&self, submitted: &[(u64, u64, B256)]) -> Result<()> {
        let txn = self.shared.db.begin_write()?;
        {
            let mut batches = txn.open_table(BATCHES)?;
            for &(first, height, commitment) in submitted {
                let mut record: BatchRecord = {
                    let value = batches.get(first)?.ok_or_else(|| {
                        DaLogError::Corrupt(format!("submitted batch {first} is not in the log"))
                    })?;
                    decode("batch", first, value.value())?
                };
                record.da_height = height;
                record.commitment = commitment;
                batches.insert(first, alloy_rlp::encode(&record).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Moves the firm pointer to `firm`, dropping the blobs and timestamps of the batches that
    /// became firm (given by first block).
    pub(crate) fn record_firm(&self, firmed: &[u64], firm: &FirmRecord) -> Result<()> {
        let txn = self.shared.db.begin_write()?;
        {
            if let Some(old) = Self::firm_in_write(&txn)?
                && old.block >= firm.block
            {
                return Err(DaLogError::Corrupt(format!(
                    "firm pointer would move backwards from block {} to {}",
                    old.block, firm.block
                )));
            }
            let mut batches = txn.open_table(BATCHES)?;
            let mut blobs = txn.open_table(BLOBS)?;
            for &first in firmed {
                blobs.remove(first)?;
                let record = batches
                    .get(first)?
                    .map(|v| decode::<BatchRecord>("batch", first, v.value()))
                    .transpose()?;
                if let Some(mut record) = record {
                    record.timestamps.clear();
                    batches.insert(first, alloy_rlp::encode(&record).as_slice())?;
                }
            }
            txn.open_table(META)?
                .insert(META_FIRM, alloy_rlp::encode(firm).as_slice())?;
        }
        txn.commit()?;
        self.set_da_head(firm.da_head);
        Ok(())
    }

    fn firm_in_write(txn: &redb::WriteTransaction) -> Result<Option<FirmRecord>> {
        let meta = txn.open_table(META)?;
        let value = meta.get(META_FIRM)?;
        value
            .map(|value| decode("firm pointer", 0, value.value()))
            .transpose()
    }

    /// Notes the latest DA head (kept in memory; persisted with the next firm pointer).
    pub(crate) fn set_da_head(&self, height: u64) {
        self.shared.da_head.fetch_max(height, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(last_block: u64) -> BatchRecord {
        BatchRecord {
            last_block,
            last_hash: B256::with_last_byte(last_block as u8),
            namespace: Bytes::from_static(&[0; 29]),
            blob_len: 3,
            timestamps: vec![1, 2],
            da_height: 0,
            commitment: B256::ZERO,
        }
    }

    #[test]
    fn batches_are_located_once_submitted_and_firm_only_moves_forward() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = DaLog::open(dir.path()).expect("open");
        log.record_batch(1, &record(4), b"one").expect("record");
        log.record_batch(5, &record(9), b"two").expect("record");
        assert!(matches!(
            log.record_batch(11, &record(12), b"gap"),
            Err(DaLogError::NonConsecutive { log_last: 9, .. })
        ));
        assert_eq!(log.location(3).expect("location"), None);
        log.record_submitted(&[(1, 7, B256::repeat_byte(1))])
            .expect("submitted");
        assert_eq!(
            log.location(4).expect("location").map(|l| l.height),
            Some(7)
        );
        assert_eq!(log.location(5).expect("location"), None);
        assert_eq!(log.location(0).expect("location"), None);

        let status = log.status().expect("status");
        assert_eq!(status.last_recorded_block, Some(9));
        assert_eq!(status.last_submitted_block, Some(4));
        assert_eq!((status.pending_batches, status.unsubmitted_batches), (1, 1));
        assert_eq!(status.pending_bytes, 6);
        assert_eq!(
            status.unsubmitted_bytes, 3,
            "only the second batch is unposted"
        );

        // A second handle in this process shares the database.
        let other = DaLog::open(dir.path().join(".")).expect("second open");
        let firm = FirmRecord {
            block: 4,
            hash: B256::with_last_byte(4),
            da_height: 7,
            namespace: Bytes::from_static(&[0; 29]),
            commitment: B256::repeat_byte(1),
            da_head: 8,
        };
        other.record_firm(&[1], &firm).expect("firm");
        assert!(log.record_firm(&[1], &firm).is_err(), "firm cannot repeat");
        let status = log.status().expect("status");
        assert_eq!(status.last_firm_block, Some(4));
        assert_eq!(status.last_da_height, Some(8));
        assert_eq!((status.pending_batches, status.unsubmitted_batches), (0, 1));
        let unfirm = log.unfirm().expect("unfirm");
        assert_eq!(unfirm.len(), 1);
        assert_eq!(unfirm[0].blob.as_ref(), b"two");

        // Reopened after every handle is gone, the log holds the same.
        drop((log, other));
        let log = DaLog::open(dir.path()).expect("reopen");
        assert_eq!(log.firm().expect("firm"), Some(firm));
        assert_eq!(
            log.location(2).expect("location").map(|l| l.height),
            Some(7)
        );
    }
}
