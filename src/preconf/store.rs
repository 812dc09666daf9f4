//! Durable store of issued preconfirmations: `<datadir>/preconf.redb`, its own redb file so the
//! issuer's group commits never wait behind a block commit (and the other way round).
//!
//! A batch is durable before any of its preconfirmations is returned, so an acknowledged
//! preconfirmation survives `kill -9`: its record is appended to the write-ahead log
//! ([`super::wal`], one `fdatasync`), and that is all its requests wait for. A logger thread
//! appends: batches signed while it syncs are appended together next, and the issuer signs the
//! next batch meanwhile ([`PreconfStore::log_batch`]). A flusher thread
//! writes logged batches to redb shortly after (several per durable commit) and then empties the
//! log; until then reads find them in memory. On open, batches in the log that redb lacks are
//! written again.
//!
//! Tables:
//! - `preconfs`: tx hash → JSON of [`StoredPreconf`] (the signed object without the batch's
//!   signature and key, which are stored once per batch, plus the raw transaction);
//! - `positions`: (block number, index) → tx hash, to reload the promises of unsealed blocks;
//! - `batches`: batch id → JSON of [`StoredBatch`];
//! - `forwarded`: tx hash → JSON of [`StoredPreconf`], complete with signatures: preconfirmations
//!   another validator issued for requests this node forwarded (answered from here, never
//!   promised to this node's builder);
//! - `meta`: `closed_through` → the highest block whose transactions a builder took (written
//!   before the builder gets them), so that after a crash no position is promised in a block this
//!   node may already have proposed.

use super::{
    error::{PreconfError, Result},
    types::SignedPreconfirmation,
    wal::{Wal, WalRecordRef},
};
use alloy_primitives::{B256, Bytes, map::HashMap};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc},
    time::Duration,
};

/// Batches waiting for the logger before [`PreconfStore::log_batch`] blocks (back-pressure on
/// the issuer when the disk is slow); also the most batches in one appended record.
const LOG_QUEUE: usize = 64;

/// How long the flusher lets logged batches accumulate before one durable redb commit.
const FLUSH_DELAY: Duration = Duration::from_millis(20);
/// Log size past which the flusher rewrites it with just the unflushed batches (under constant
/// load it may never be empty at a flush).
const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;

/// File name of the store inside the datadir.
pub const STORE_FILE: &str = "preconf.redb";

const PRECONFS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("preconfs");
const POSITIONS: TableDefinition<'_, (u64, u32), &[u8]> = TableDefinition::new("positions");
const BATCHES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("batches");
const FORWARDED: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("forwarded");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// Highest block handed to a block builder: no position at or below it is issued again.
const CLOSED_THROUGH: &str = "closed_through";

/// One preconfirmation as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredPreconf {
    /// The signed object with `batch.signature` and `issuer.mlDsa65` left empty.
    pub(crate) signed: SignedPreconfirmation,
    /// The EIP-2718 transaction.
    pub(crate) raw: Bytes,
}

/// One batch as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredBatch {
    /// ML-DSA-65 signature over the batch message.
    pub(crate) signature: Bytes,
    /// The ML-DSA-65 key that signed it.
    pub(crate) ml_dsa65: Bytes,
}

impl StoredBatch {
    /// `signed` (as stored, of this batch) with the batch's signature and key filled in.
    pub(crate) fn complete(&self, mut signed: SignedPreconfirmation) -> SignedPreconfirmation {
        signed.batch.signature = self.signature.clone();
        signed.issuer.ml_dsa65 = self.ml_dsa65.clone();
        signed
    }
}

/// What the logger calls once a batch is durable (with it), or cannot be made so.
pub(crate) type OnLogged = Box<dyn FnOnce(Result<(&StoredBatch, &[StoredPreconf])>) + Send>;

/// A batch for the logger.
struct LogRequest {
    id: u64,
    batch: LoggedBatch,
    done: OnLogged,
}

/// A logged batch not yet in redb.
#[derive(Debug)]
struct LoggedBatch {
    batch: StoredBatch,
    preconfs: Vec<StoredPreconf>,
    /// Size of the log record it was appended in, counted on the record's first batch (a
    /// record's batches are flushed together).
    logged_bytes: u64,
}

impl LoggedBatch {
    /// Its log record, as batch `id`.
    fn record(&self, id: u64) -> WalRecordRef<'_> {
        WalRecordRef {
            id,
            batch: &self.batch,
            preconfs: &self.preconfs,
        }
    }
}

/// Batches logged but not yet written to redb, readable meanwhile.
#[derive(Debug, Default)]
struct Unflushed {
    batches: BTreeMap<u64, Arc<LoggedBatch>>,
    /// tx hash → (batch id, position in the batch).
    by_tx: HashMap<B256, (u64, usize)>,
    /// Log bytes of the batches held here.
    bytes: u64,
    /// Preconfirmations other validators issued for requests this node forwarded (not logged:
    /// the issuer holds the promise durably; this node's copy is written at the next flush).
    forwarded: HashMap<B256, Arc<StoredPreconf>>,
    /// Why the flusher stopped, if it did (the log still holds the batches).
    failed: Option<String>,
    stopping: bool,
}

#[derive(Debug)]
struct Shared {
    db: redb::Database,
    /// Lock order: `wal`, then `unflushed`.
    wal: Mutex<Wal>,
    unflushed: Mutex<Unflushed>,
    wake: Condvar,
}

impl Shared {
    fn wal(&self) -> MutexGuard<'_, Wal> {
        self.wal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn unflushed(&self) -> MutexGuard<'_, Unflushed> {
        self.unflushed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handle to the store.
#[derive(Debug)]
pub struct PreconfStore {
    shared: Arc<Shared>,
    /// To the logger (taken on drop, which stops it).
    log: Option<mpsc::SyncSender<LogRequest>>,
    logger: Option<std::thread::JoinHandle<()>>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl Drop for PreconfStore {
    /// Logs what was handed to the logger, then writes what is logged to redb before the store
    /// goes (a crash leaves it to the log).
    fn drop(&mut self) {
        drop(self.log.take());
        // The last handle may go in a `done` the logger runs: it then ends on its own.
        if let Some(logger) = self.logger.take()
            && logger.thread().id() != std::thread::current().id()
        {
            let _ = logger.join();
        }
        self.shared.unflushed().stopping = true;
        self.shared.wake.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

impl PreconfStore {
    /// Opens (creating if needed) `<datadir>/preconf.redb`.
    pub fn open(datadir: &Path) -> Result<Self> {
        std::fs::create_dir_all(datadir).map_err(PreconfError::store)?;
        let db = redb::Database::create(datadir.join(STORE_FILE)).map_err(PreconfError::store)?;
        let txn = db.begin_write().map_err(PreconfError::store)?;
        txn.open_table(PRECONFS).map_err(PreconfError::store)?;
        txn.open_table(POSITIONS).map_err(PreconfError::store)?;
        txn.open_table(BATCHES).map_err(PreconfError::store)?;
        txn.open_table(META).map_err(PreconfError::store)?;
        txn.open_table(FORWARDED).map_err(PreconfError::store)?;
        txn.commit().map_err(PreconfError::store)?;
        // Batches acknowledged after the last durable commit: written again, durably.
        let (wal, records) = Wal::open(datadir)?;
        if !records.is_empty() {
            let txn = db.begin_write().map_err(PreconfError::store)?;
            let mut replayed = 0;
            for record in &records {
                let present = txn
                    .open_table(BATCHES)
                    .map_err(PreconfError::store)?
                    .get(record.id)
                    .map_err(PreconfError::store)?
                    .is_some();
                if !present {
                    insert_batch(&txn, record.id, &record.batch, &record.preconfs)?;
                    replayed += 1;
                }
            }
            txn.commit().map_err(PreconfError::store)?;
            tracing::info!(
                logged = records.len(),
                replayed,
                "recovered preconfirmation batches from the log"
            );
        }
        // Also drops a torn tail, so later records are appended after valid ones.
        wal.clear()?;
        let shared = Arc::new(Shared {
            db,
            wal: Mutex::new(wal),
            unflushed: Mutex::default(),
            wake: Condvar::new(),
        });
        let flusher = spawn_worker("preconf-flush", &shared, flush_loop)?;
        let (log, requests) = mpsc::sync_channel(LOG_QUEUE);
        let logger = spawn_worker("preconf-log", &shared, move |shared| {
            log_loop(shared, &requests);
        })?;
        Ok(Self {
            shared,
            log: Some(log),
            logger: Some(logger),
            flusher: Some(flusher),
        })
    }

    fn db(&self) -> &redb::Database {
        &self.shared.db
    }

    /// Why the store stopped taking batches, if it did (the log keeps what it acknowledged).
    pub(crate) fn failed(&self) -> Option<String> {
        self.shared.unflushed().failed.clone()
    }

    /// The highest block a builder took transactions for, if any.
    pub(crate) fn closed_through(&self) -> Result<Option<u64>> {
        let txn = self.db().begin_read().map_err(PreconfError::store)?;
        let table = txn.open_table(META).map_err(PreconfError::store)?;
        let value = table.get(CLOSED_THROUGH).map_err(PreconfError::store)?;
        Ok(value.map(|v| v.value()))
    }

    /// Records durably that a builder took block `number`'s transactions (never lowers it).
    pub(crate) fn record_closed(&self, number: u64) -> Result<()> {
        let txn = self.db().begin_write().map_err(PreconfError::store)?;
        {
            let mut table = txn.open_table(META).map_err(PreconfError::store)?;
            let current = table
                .get(CLOSED_THROUGH)
                .map_err(PreconfError::store)?
                .map(|v| v.value());
            if current.is_some_and(|c| c >= number) {
                return Ok(());
            }
            table
                .insert(CLOSED_THROUGH, number)
                .map_err(PreconfError::store)?;
        }
        txn.commit().map_err(PreconfError::store)
    }

    /// The id the next batch gets. Reads redb only: for the issuer's start, when the log was
    /// just replayed and nothing is in memory.
    pub(crate) fn next_batch_id(&self) -> Result<u64> {
        let txn = self.db().begin_read().map_err(PreconfError::store)?;
        let table = txn.open_table(BATCHES).map_err(PreconfError::store)?;
        let last = table.last().map_err(PreconfError::store)?;
        Ok(last.map_or(0, |(k, _)| k.value() + 1))
    }

    /// Hands a batch and its preconfirmations to the logger, which makes them durable (logged
    /// and synced; redb follows) and then calls `done` with them, or with why it could not.
    /// Blocks only while [`LOG_QUEUE`] batches wait already.
    pub(crate) fn log_batch(
        &self,
        id: u64,
        batch: StoredBatch,
        preconfs: Vec<StoredPreconf>,
        done: OnLogged,
    ) {
        let request = LogRequest {
            id,
            batch: LoggedBatch {
                batch,
                preconfs,
                logged_bytes: 0,
            },
            done,
        };
        let Some(Err(mpsc::SendError(request))) = self.log.as_ref().map(|log| log.send(request))
        else {
            return;
        };
        let reason = self
            .failed()
            .unwrap_or_else(|| "the preconfirmation logger stopped".into());
        (request.done)(Err(PreconfError::Store(reason)));
    }

    /// Records a preconfirmation another validator issued for a request this node forwarded.
    ///
    /// Kept in memory and written by the flusher with its next commit (within about
    /// [`FLUSH_DELAY`]): the promise is durable at its issuer, this is the forwarder's index of
    /// it, and one fsync per forwarded request would serialise them all.
    pub(crate) fn record_forwarded(
        &self,
        signed: &SignedPreconfirmation,
        raw: &Bytes,
    ) -> Result<()> {
        let stored = StoredPreconf {
            signed: signed.clone(),
            raw: raw.clone(),
        };
        let mut unflushed = self.shared.unflushed();
        if let Some(reason) = unflushed.failed.clone() {
            return Err(PreconfError::Store(reason));
        }
        unflushed.forwarded.insert(signed.tx_hash, Arc::new(stored));
        drop(unflushed);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// The full signed preconfirmation of `tx_hash` (issued here or forwarded) and its raw
    /// transaction.
    pub fn get(&self, tx_hash: B256) -> Result<Option<(SignedPreconfirmation, Bytes)>> {
        {
            let unflushed = self.shared.unflushed();
            if let Some((id, i)) = unflushed.by_tx.get(&tx_hash).copied()
                && let Some(logged) = unflushed.batches.get(&id)
                && let Some(stored) = logged.preconfs.get(i)
            {
                let signed = logged.batch.complete(stored.signed.clone());
                return Ok(Some((signed, stored.raw.clone())));
            }
            if let Some(stored) = unflushed.forwarded.get(&tx_hash) {
                return Ok(Some((stored.signed.clone(), stored.raw.clone())));
            }
        }
        let txn = self.db().begin_read().map_err(PreconfError::store)?;
        let table = txn.open_table(PRECONFS).map_err(PreconfError::store)?;
        let Some(value) = table.get(tx_hash.as_slice()).map_err(PreconfError::store)? else {
            let forwarded = txn.open_table(FORWARDED).map_err(PreconfError::store)?;
            let Some(value) = forwarded
                .get(tx_hash.as_slice())
                .map_err(PreconfError::store)?
            else {
                return Ok(None);
            };
            let stored: StoredPreconf =
                serde_json::from_slice(value.value()).map_err(PreconfError::store)?;
            return Ok(Some((stored.signed, stored.raw)));
        };
        let stored: StoredPreconf =
            serde_json::from_slice(value.value()).map_err(PreconfError::store)?;
        let batches = txn.open_table(BATCHES).map_err(PreconfError::store)?;
        let batch = batches
            .get(stored.signed.batch.id.to::<u64>())
            .map_err(PreconfError::store)?
            .ok_or_else(|| PreconfError::Store(format!("batch of {tx_hash} missing")))?;
        let batch: StoredBatch =
            serde_json::from_slice(batch.value()).map_err(PreconfError::store)?;
        Ok(Some((batch.complete(stored.signed), stored.raw)))
    }

    /// Every stored promise for blocks `>= from`, in (block, index) order, without the batch
    /// signatures (the issuer only needs positions, hashes and transactions). Reads redb only,
    /// like [`Self::next_batch_id`]: for the issuer's start.
    pub(crate) fn promised_from(&self, from: u64) -> Result<Vec<StoredPreconf>> {
        let txn = self.db().begin_read().map_err(PreconfError::store)?;
        let positions = txn.open_table(POSITIONS).map_err(PreconfError::store)?;
        let table = txn.open_table(PRECONFS).map_err(PreconfError::store)?;
        let mut out = Vec::new();
        for entry in positions.range((from, 0)..).map_err(PreconfError::store)? {
            let (_, hash) = entry.map_err(PreconfError::store)?;
            let value = table
                .get(hash.value())
                .map_err(PreconfError::store)?
                .ok_or_else(|| PreconfError::Store("position without preconfirmation".into()))?;
            out.push(serde_json::from_slice(value.value()).map_err(PreconfError::store)?);
        }
        Ok(out)
    }
}

/// Runs `work` on a thread of its own; if it panics, the store stops (rather than leaving
/// batches unlogged or in memory forever).
fn spawn_worker(
    name: &str,
    shared: &Arc<Shared>,
    work: impl FnOnce(&Shared) + Send + 'static,
) -> Result<std::thread::JoinHandle<()>> {
    let shared = shared.clone();
    let thread = name.to_string();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&shared)));
            if outcome.is_err() {
                tracing::error!(
                    thread,
                    "a preconfirmation store thread panicked; issuing stops"
                );
                shared.unflushed().failed = Some(format!("the {thread} thread panicked"));
            }
        })
        .map_err(PreconfError::store)
}

/// Appends batches to the log as they come, all those waiting as one record with one sync,
/// hands them to the flusher and calls their `done`.
fn log_loop(shared: &Shared, requests: &mpsc::Receiver<LogRequest>) {
    while let Ok(first) = requests.recv() {
        let (batches, dones): (Vec<_>, Vec<_>) = std::iter::once(first)
            .chain(requests.try_iter().take(LOG_QUEUE))
            .map(|r| ((r.id, r.batch), r.done))
            .unzip();
        metrics::histogram!("hauptbuch_preconf_log_batches").record(batches.len() as f64);
        let started = std::time::Instant::now();
        match log_group(shared, batches) {
            Ok(logged) => {
                metrics::histogram!("hauptbuch_preconf_log_seconds").record(started.elapsed());
                for (done, logged) in dones.into_iter().zip(logged) {
                    done(Ok((&logged.batch, &logged.preconfs)));
                }
            }
            Err(reason) => {
                for done in dones {
                    done(Err(PreconfError::Store(reason.clone())));
                }
            }
        }
    }
}

/// Appends `batches` as one synced record and makes them readable until flushed.
fn log_group(
    shared: &Shared,
    batches: Vec<(u64, LoggedBatch)>,
) -> std::result::Result<Vec<Arc<LoggedBatch>>, String> {
    let mut wal = shared.wal();
    if let Some(reason) = shared.unflushed().failed.clone() {
        return Err(reason);
    }
    let records: Vec<WalRecordRef<'_>> = batches
        .iter()
        .map(|(id, logged)| logged.record(*id))
        .collect();
    let appended = wal.append(&records);
    drop(records);
    let logged_bytes = match appended {
        Ok(bytes) => bytes,
        Err(error) => {
            // Whatever part was written stays: no later record may be appended after it.
            shared.unflushed().failed = Some(error.to_string());
            return Err(error.to_string());
        }
    };
    // Under the log's lock: the flusher empties the log only when nothing is unflushed.
    let mut unflushed = shared.unflushed();
    unflushed.bytes += logged_bytes;
    let mut logged = Vec::with_capacity(batches.len());
    for (n, (id, mut batch)) in batches.into_iter().enumerate() {
        if n == 0 {
            batch.logged_bytes = logged_bytes;
        }
        for (i, stored) in batch.preconfs.iter().enumerate() {
            unflushed.by_tx.insert(stored.signed.tx_hash, (id, i));
        }
        let batch = Arc::new(batch);
        unflushed.batches.insert(id, batch.clone());
        logged.push(batch);
    }
    drop(unflushed);
    drop(wal);
    shared.wake.notify_one();
    Ok(logged)
}

/// Writes logged batches to redb, a few at a time in one durable commit, then empties the log
/// (or, if more were logged meanwhile and it grew large, rewrites it with just those).
fn flush_loop(shared: &Shared) {
    loop {
        {
            let mut unflushed = shared.unflushed();
            while unflushed.batches.is_empty()
                && unflushed.forwarded.is_empty()
                && !unflushed.stopping
            {
                unflushed = shared
                    .wake
                    .wait(unflushed)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if (unflushed.batches.is_empty() && unflushed.forwarded.is_empty())
                || unflushed.failed.is_some()
            {
                return;
            }
            if !unflushed.stopping {
                drop(unflushed);
                std::thread::sleep(FLUSH_DELAY);
            }
        }
        let (batches, forwarded) = {
            let unflushed = shared.unflushed();
            let batches: Vec<(u64, Arc<LoggedBatch>)> = unflushed
                .batches
                .iter()
                .map(|(id, logged)| (*id, logged.clone()))
                .collect();
            let forwarded: Vec<Arc<StoredPreconf>> =
                unflushed.forwarded.values().cloned().collect();
            (batches, forwarded)
        };
        let written = shared
            .db
            .begin_write()
            .map_err(PreconfError::store)
            .and_then(|txn| {
                for (id, logged) in &batches {
                    insert_batch(&txn, *id, &logged.batch, &logged.preconfs)?;
                }
                if !forwarded.is_empty() {
                    let mut table = txn.open_table(FORWARDED).map_err(PreconfError::store)?;
                    for stored in &forwarded {
                        let json = serde_json::to_vec(&**stored).map_err(PreconfError::store)?;
                        table
                            .insert(stored.signed.tx_hash.as_slice(), json.as_slice())
                            .map_err(PreconfError::store)?;
                    }
                }
                txn.commit().map_err(PreconfError::store)
            });
        let mut wal = shared.wal();
        let mut unflushed = shared.unflushed();
        if let Err(error) = written {
            tracing::error!(%error, "cannot write preconfirmations to the store; issuing stops");
            unflushed.failed = Some(error.to_string());
            return;
        }
        for stored in &forwarded {
            // Unless a newer copy replaced it meanwhile (that one is written next time).
            let hash = stored.signed.tx_hash;
            if unflushed
                .forwarded
                .get(&hash)
                .is_some_and(|current| Arc::ptr_eq(current, stored))
            {
                unflushed.forwarded.remove(&hash);
            }
        }
        for (id, logged) in &batches {
            unflushed.batches.remove(id);
            unflushed.bytes -= logged.logged_bytes;
            for stored in &logged.preconfs {
                let hash = stored.signed.tx_hash;
                if unflushed.by_tx.get(&hash).is_some_and(|(at, _)| at == id) {
                    unflushed.by_tx.remove(&hash);
                }
            }
        }
        // The log's I/O runs with only the log locked (appends wait; reads do not).
        let keep: Option<Vec<(u64, Arc<LoggedBatch>)>> = if unflushed.batches.is_empty() {
            if wal.len() == 0 {
                continue;
            }
            None
        } else if wal.len() > MAX_LOG_BYTES.max(2 * unflushed.bytes) {
            Some(
                unflushed
                    .batches
                    .iter()
                    .map(|(id, logged)| (*id, logged.clone()))
                    .collect(),
            )
        } else {
            continue;
        };
        drop(unflushed);
        let compacted = match &keep {
            None => wal.clear(),
            Some(keep) => wal.rewrite(
                &keep
                    .iter()
                    .map(|(id, logged)| logged.record(*id))
                    .collect::<Vec<_>>(),
            ),
        };
        if let Err(error) = compacted {
            tracing::error!(%error, "cannot empty the preconfirmation log; issuing stops");
            shared.unflushed().failed = Some(error.to_string());
            return;
        }
    }
}

/// Writes batch `id`'s rows in `txn`.
fn insert_batch(
    txn: &redb::WriteTransaction,
    id: u64,
    batch: &StoredBatch,
    preconfs: &[StoredPreconf],
) -> Result<()> {
    let mut batches = txn.open_table(BATCHES).map_err(PreconfError::store)?;
    let json = serde_json::to_vec(batch).map_err(PreconfError::store)?;
    batches
        .insert(id, json.as_slice())
        .map_err(PreconfError::store)?;
    let mut table = txn.open_table(PRECONFS).map_err(PreconfError::store)?;
    let mut positions = txn.open_table(POSITIONS).map_err(PreconfError::store)?;
    for stored in preconfs {
        let json = serde_json::to_vec(stored).map_err(PreconfError::store)?;
        let hash = stored.signed.tx_hash;
        table
            .insert(hash.as_slice(), json.as_slice())
            .map_err(PreconfError::store)?;
        let position = (
            stored.signed.block_number.to::<u64>(),
            stored.signed.tx_index.to::<u32>(),
        );
        positions
            .insert(position, hash.as_slice())
            .map_err(PreconfError::store)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(tx_hash: B256, index: u64) -> StoredPreconf {
        use super::super::types::{BatchProof, IssuerKeysJson};
        use alloy_primitives::U64;
        StoredPreconf {
            signed: SignedPreconfirmation {
                chain_id: U64::from(1),
                tx_hash,
                block_number: U64::from(5),
                tx_index: U64::from(index),
                arrival_ms: U64::ZERO,
                expiry_ms: U64::ZERO,
                parent_hash: B256::ZERO,
                hash: B256::ZERO,
                issuer: IssuerKeysJson {
                    ed25519: B256::ZERO,
                    ml_dsa65: Bytes::new(),
                },
                signature: Bytes::new(),
                batch: BatchProof {
                    id: U64::ZERO,
                    root: B256::ZERO,
                    leaf_count: U64::from(1),
                    leaf_index: U64::ZERO,
                    proof: Vec::new(),
                    signature: Bytes::new(),
                },
            },
            raw: Bytes::from_static(b"tx"),
        }
    }

    #[test]
    fn batches_only_in_the_log_are_written_again_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(PreconfStore::open(dir.path()).expect("create"));
        // As after a crash: the batch was logged (and acknowledged), redb lost its rows.
        let batch = StoredBatch {
            signature: Bytes::from_static(b"sig"),
            ml_dsa65: Bytes::from_static(b"key"),
        };
        let hash = B256::repeat_byte(7);
        let (mut wal, _) = Wal::open(dir.path()).expect("log");
        wal.append(&[WalRecordRef {
            id: 0,
            batch: &batch,
            preconfs: &[stored(hash, 0)],
        }])
        .expect("append");
        drop(wal);
        let store = PreconfStore::open(dir.path()).expect("reopen");
        let (signed, raw) = store.get(hash).expect("read").expect("replayed");
        assert_eq!(
            (signed.batch.signature, raw.as_ref()),
            (batch.signature.clone(), &b"tx"[..])
        );
        assert_eq!(store.next_batch_id().expect("id"), 1);
        assert_eq!(store.promised_from(5).expect("positions").len(), 1);
        assert_eq!(
            std::fs::metadata(dir.path().join(super::super::wal::WAL_FILE))
                .expect("log")
                .len(),
            0,
            "the log is emptied once redb holds it"
        );
        // Written through the store, a batch is readable at once and again after reopening.
        let other = B256::repeat_byte(8);
        let (logged, durable) = mpsc::channel();
        let done: OnLogged = Box::new(move |result| {
            let _ = logged.send(result.map(|(_, preconfs)| preconfs.len()));
        });
        store.log_batch(1, batch.clone(), vec![stored(other, 1)], done);
        assert_eq!(durable.recv().expect("logged").expect("durable"), 1);
        assert!(store.get(other).expect("read").is_some());
        // Once the store has failed, a batch is refused, not logged, and `done` hears why.
        store.shared.unflushed().failed = Some("disk gone".into());
        let (logged, refused) = mpsc::channel();
        let done: OnLogged = Box::new(move |result| {
            let _ = logged.send(result.map(|_| ()).map_err(|e| e.to_string()));
        });
        let third = B256::repeat_byte(9);
        store.log_batch(2, batch.clone(), vec![stored(third, 2)], done);
        let error = refused.recv().expect("answered").expect_err("refused");
        assert!(error.contains("disk gone"), "{error}");
        assert!(store.get(third).expect("read").is_none());
        store.shared.unflushed().failed = None;
        drop(store);
        let store = PreconfStore::open(dir.path()).expect("reopen");
        assert!(store.get(other).expect("read").is_some());
        assert_eq!(store.next_batch_id().expect("id"), 2);
    }

    #[test]
    fn the_closed_block_survives_reopening_and_never_goes_down() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PreconfStore::open(dir.path()).expect("open");
        assert_eq!(store.closed_through().expect("read"), None);
        store.record_closed(7).expect("write");
        store.record_closed(5).expect("write");
        assert_eq!(store.closed_through().expect("read"), Some(7));
        drop(store);
        let store = PreconfStore::open(dir.path()).expect("reopen");
        assert_eq!(store.closed_through().expect("read"), Some(7));
    }
}
