//! The Celestia DA ExEx: posts every block to Celestia and reports when DA makes it firm.
//!
//! Three parts run concurrently in one task, joined so that cancelling (or dropping) the ExEx
//! stops them all:
//! - **batching** (this file): notifications → [`Batcher`]; a batch closes on size or
//!   `batch_interval` after its first block, is recorded in the [`DaLog`] and queued;
//! - **submitting** ([`Submitter`]): `blob.Submit` with retries, location into the log, then
//!   `FinishedHeight`;
//! - **finality** ([`FinalityTracker`]): DA head → firm pointer in the log → `Firm`;
//! - on a standby poster (rank > 0), **watching** ([`Watcher`]): blobs other validators posted.
//!
//! A standby does not batch its blocks on its own: it holds them until a blob on DA holds them
//! (then it records that blob's location for them, and they go through the submitter as if
//! submitted) or until they waited `rank × failover_delay` (then it posts them itself, and keeps
//! posting until a blob someone else posted holds one of the blocks it posted, as it posted it).
//!
//! Invariants: no gap, ever. A block's batch is in the log before it is submitted, and
//! `FinishedHeight` covers only submitted batches, so the node replays every block that is in no
//! batch yet. On start, batches the log holds but DA never confirmed are submitted again (a
//! duplicate blob on DA is harmless: readers skip blocks they already have) and replayed blocks
//! already in the log are skipped. If the node resumes past the log's end, the ExEx refuses to
//! run ([`DaExExError::Gap`]) rather than leave a hole on DA.
//!
//! Assumptions: notifications are consecutive and in order (the node's ExEx manager guarantees
//! it); the log's data dir belongs to this chain.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use alloy_primitives::Bytes;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::batcher::Batcher;
use super::blob_codec::{BatchBlock, EncodedBatch};
use super::config::DaExExConfig;
use super::error::{DaExExError, DaLogError};
use super::finality::FinalityTracker;
use super::submission_log::{BatchRecord, DaLog, LoggedBatch};
use super::submitter::{DaClient, Submitter};
use super::watcher::{BlockDigest, Seen, Watcher};
use crate::{BlockNumHash, CommittedBlock, ExExContext, ExExEvent, ExExNotification};

/// Closed batches waiting for the submitter. Beyond this the ExEx stops reading notifications,
/// so a DA outage holds at most this many blobs in memory (they are in the log as well).
const SUBMIT_QUEUE_BATCHES: usize = 8;
/// Blocks a standby holds waiting for another validator's blob; beyond this it posts them.
const MAX_STANDBY_BLOCKS: usize = 1024;

/// Runs the Celestia DA ExEx until `cancel` fires or the node closes the notifications.
///
/// Returns an error for what retrying cannot fix: bad configuration, a log that cannot be
/// written, a block too large for a blob, a blob the DA node rejects, or a node that skips
/// blocks the log never saw.
pub async fn run_da_exex(
    ctx: ExExContext,
    config: DaExExConfig,
    cancel: CancellationToken,
) -> Result<(), DaExExError> {
    let namespace = config.validate()?;
    let batcher = Batcher::new(config.chain_id, config.max_blob_bytes)?;
    let log = DaLog::open(&config.data_dir)?;
    let ExExContext {
        notifications,
        events,
        finished,
    } = ctx;

    let unfirm = log.unfirm()?;
    // From the first batch not submitted on: later ones may be on DA already (a standby
    // adopted them) and are only reported, in order, once the earlier ones are submitted.
    let unsubmitted: VecDeque<LoggedBatch> = unfirm
        .iter()
        .skip_while(|b| b.record.is_submitted())
        .cloned()
        .collect();
    if let Some(lost) = unsubmitted
        .iter()
        .find(|b| !b.record.is_submitted() && b.blob.is_empty())
    {
        return Err(DaLogError::Corrupt(format!(
            "batch {}..={} was never submitted and its blob is missing",
            lost.first_block, lost.record.last_block
        ))
        .into());
    }
    let last_recorded = log.last_recorded_block()?;
    tracing::info!(
        url = %config.url,
        namespace = %alloy_primitives::hex::encode(namespace.as_bytes()),
        node_finished = ?finished.map(|f| f.number),
        last_recorded,
        resubmitting = unsubmitted.len(),
        "DA ExEx starting"
    );
    // Tell the node again what it may have missed before a crash: batches submitted after the
    // finished height it persisted, and the firm pointer (never ahead of what it finished).
    let firm = log.firm()?;
    let last_submitted = unfirm
        .iter()
        .take_while(|b| b.record.is_submitted())
        .last()
        .map(|b| BlockNumHash {
            number: b.record.last_block,
            hash: b.record.last_hash,
        })
        .or_else(|| {
            firm.as_ref().map(|f| BlockNumHash {
                number: f.block,
                hash: f.hash,
            })
        });
    if let Some(submitted) = last_submitted
        && finished.is_none_or(|f| f.number < submitted.number)
    {
        let _ = events.send(ExExEvent::FinishedHeight(submitted));
    }
    if let Some(firm) = firm {
        let block = BlockNumHash {
            number: firm.block,
            hash: firm.hash,
        };
        let _ = events.send(ExExEvent::Firm {
            block,
            location: firm.location(),
        });
    }
    drop(unfirm);

    // A standby reads DA from the height of the newest batch it knows of (blobs come in order).
    let watch_from = log.watch_from()?;
    let finished_block = AtomicU64::new(last_submitted.map_or(0, |b| b.number));
    let stop = cancel.child_token();
    let client = DaClient::new(&config.url, config.auth_token.as_deref(), &stop);
    let seen = Seen::default();
    let check = config.poster.certificate_check.as_deref();
    let standby = config.poster.standby_wait().map(|wait| Standby {
        seen: &seen,
        wait,
        pending: VecDeque::new(),
        posting: false,
        posted: BTreeMap::new(),
    });
    if let Some(wait) = config.poster.standby_wait() {
        tracing::info!(
            rank = config.poster.rank,
            ?wait,
            "DA standby poster: posting only blocks no other validator posts in time"
        );
    }
    let (batch_tx, batch_rx) = mpsc::channel(SUBMIT_QUEUE_BATCHES);
    let submitted = Notify::new();
    let batching = Batching {
        batcher,
        log: &log,
        namespace: Bytes::copy_from_slice(namespace.as_bytes()),
        open: VecDeque::new(),
        expected: last_recorded.map(|last| last + 1),
        standby,
        deadline: None,
        deadline_for: None,
        config: &config,
        batches: batch_tx,
        cancel: &stop,
    };
    let submitting = Submitter {
        client: &client,
        log: &log,
        namespace,
        gas_price: config.gas_price,
        max_submit_bytes: config.max_blob_bytes,
        events: &events,
        finished: &finished_block,
        submitted: &submitted,
        own_blobs: config.poster.standby_wait().map(|_| &seen),
        cancel: &stop,
    };
    let tracking = FinalityTracker {
        client: &client,
        log: &log,
        confirmations: config.confirmations,
        events: &events,
        finished: &finished_block,
        submitted: &submitted,
        cancel: &stop,
    };
    let watching = async {
        if config.poster.standby_wait().is_none() {
            return Ok(());
        }
        Watcher {
            client: &client,
            namespace,
            chain_id: config.chain_id,
            check,
            seen: &seen,
            log: &log,
            from_height: watch_from,
            cancel: &stop,
        }
        .run()
        .await
    };
    let result = tokio::try_join!(
        batching.run(notifications),
        submitting.run(unsubmitted, batch_rx),
        tracking.run(),
        watching,
    );
    stop.cancel();
    match &result {
        Ok(_) => tracing::info!("DA ExEx stopped"),
        Err(err) => tracing::error!(error = %err, "DA ExEx failed"),
    }
    result.map(|_| ())
}

/// Number, hash and timestamp of a block in the open batch.
#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    block: BlockNumHash,
    timestamp: u64,
}

/// A standby poster's state (see the module docs).
#[derive(Debug)]
struct Standby<'a> {
    seen: &'a Seen,
    /// How long a block waits for someone else's blob: `rank × failover_delay`.
    wait: Duration,
    /// Blocks no blob holds yet, in order, with their digests and arrival.
    pending: VecDeque<(CommittedBlock, BlockDigest, Instant)>,
    /// Posting itself since a failover.
    posting: bool,
    /// The last blocks it posted itself (bounded), to recognise another poster posting them.
    posted: BTreeMap<u64, BlockDigest>,
}

/// Blocks a standby remembers having posted since a failover.
const MAX_POSTED_DIGESTS: usize = 4096;

impl Standby<'_> {
    fn note_posted(&mut self, number: u64, digest: BlockDigest) {
        self.posted.insert(number, digest);
        while self.posted.len() > MAX_POSTED_DIGESTS {
            self.posted.pop_first();
        }
    }
}

/// The batching side of the ExEx.
#[derive(Debug)]
struct Batching<'a> {
    batcher: Batcher,
    log: &'a DaLog,
    /// 29-byte namespace, as recorded per batch.
    namespace: Bytes,
    /// Blocks pushed into the batcher and not yet in a closed batch, in order.
    open: VecDeque<OpenBlock>,
    /// The block expected next (the log's continuation before the first block arrives).
    expected: Option<u64>,
    /// Set on a standby poster.
    standby: Option<Standby<'a>>,
    /// When the open batch closes on time.
    deadline: Option<Instant>,
    /// First block of the batch `deadline` belongs to.
    deadline_for: Option<u64>,
    config: &'a DaExExConfig,
    batches: mpsc::Sender<LoggedBatch>,
    cancel: &'a CancellationToken,
}

impl Batching<'_> {
    async fn run(
        mut self,
        mut notifications: mpsc::Receiver<ExExNotification>,
    ) -> Result<(), DaExExError> {
        let mut seen_changes = self.standby.as_ref().map(|s| s.seen.subscribe());
        loop {
            let deadline = self.deadline;
            let closes = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let failover = self
                .standby
                .as_ref()
                .filter(|s| !s.posting)
                .and_then(|s| s.pending.front().map(|(_, _, arrived)| *arrived + s.wait));
            let fails_over = async move {
                match failover {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let seen_changed = async {
                let Some(changes) = seen_changes.as_mut() else {
                    return std::future::pending().await;
                };
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(()),
                _ = seen_changed => {
                    if !self.adopt().await? {
                        return Ok(());
                    }
                }
                _ = fails_over => {
                    if !self.fail_over().await? {
                        return Ok(());
                    }
                }
                _ = closes => {
                    let sealed = self.batcher.flush()?;
                    if !self.dispatch(sealed).await? {
                        return Ok(());
                    }
                }
                notification = notifications.recv() => match notification {
                    Some(ExExNotification::ChainCommitted { blocks }) => {
                        for block in blocks {
                            if !self.push(block).await? {
                                return Ok(());
                            }
                        }
                    }
                    None => {
                        tracing::info!("ExEx notifications closed; DA ExEx stopping");
                        self.cancel.cancel();
                        return Ok(());
                    }
                },
            }
        }
    }

    /// Takes a block: a standby holds it until a blob holds it, anyone else batches it.
    /// `false` when cancelled.
    async fn push(&mut self, block: CommittedBlock) -> Result<bool, DaExExError> {
        let number = block.block.number;
        if let Some(expected) = self.expected {
            if number < expected {
                tracing::debug!(block = number, "block already in the DA submission log");
                return Ok(true);
            }
            if number > expected {
                return Err(DaExExError::Gap {
                    log_last: expected - 1,
                    next: number,
                });
            }
        }
        self.expected = Some(number + 1);
        let batch_empty = self.batcher.first_pending().is_none();
        let Some(standby) = &mut self.standby else {
            return self.batch(block).await;
        };
        let digest = BlockDigest::own(&BatchBlock {
            header: block.header.clone(),
            transactions: block.transactions.clone(),
            certificate: block.certificate.clone(),
        });
        // Another poster is live again when a blob it posted holds a block this node posted,
        // or this very block, as this node has it.
        if standby.posting
            && batch_empty
            && (standby.seen.foreign_holds(&standby.posted)
                || standby
                    .seen
                    .foreign_holds(&BTreeMap::from([(number, digest)])))
        {
            standby.posting = false;
            standby.posted.clear();
            tracing::info!(
                block = number,
                "another validator posts blocks again; DA standby resumes"
            );
        }
        if standby.posting {
            standby.note_posted(number, digest);
            return self.batch(block).await;
        }
        standby.pending.push_back((block, digest, Instant::now()));
        if standby.pending.len() > MAX_STANDBY_BLOCKS {
            return self.fail_over().await;
        }
        self.adopt().await
    }

    /// Records the standby's blocks that a blob on DA holds, in order, with that blob's
    /// location, and hands them to the submitter (which only reports them). `false` when
    /// cancelled.
    async fn adopt(&mut self) -> Result<bool, DaExExError> {
        loop {
            let Some(standby) = self.standby.as_mut().filter(|s| !s.posting) else {
                return Ok(true);
            };
            let Some(next) = standby.pending.front().map(|(b, _, _)| b.block.number) else {
                return Ok(true);
            };
            standby.seen.forget_before(next);
            let digests: Vec<BlockDigest> = standby.pending.iter().map(|(_, d, _)| *d).collect();
            let Some(adopted) = standby.seen.adoption(next, &digests) else {
                return Ok(true);
            };
            let count = (adopted.last - next + 1) as usize;
            let blocks: Vec<CommittedBlock> = standby
                .pending
                .drain(..count)
                .map(|(block, _, _)| block)
                .collect();
            let record = BatchRecord {
                last_block: adopted.last,
                last_hash: blocks.last().map(|b| b.block.hash).unwrap_or_default(),
                namespace: self.namespace.clone(),
                blob_len: adopted.bytes,
                timestamps: blocks.iter().map(|b| b.timestamp).collect(),
                da_height: adopted.da_height,
                commitment: adopted.commitment,
            };
            // No blob kept: the batch is on DA and never resubmitted.
            self.log.record_batch(next, &record, &[])?;
            metrics::counter!("hauptbuch_da_blobs_adopted_total").increment(1);
            tracing::debug!(
                first_block = next,
                last_block = adopted.last,
                da_height = adopted.da_height,
                commitment = %adopted.commitment,
                "batch posted by another validator"
            );
            let logged = LoggedBatch {
                first_block: next,
                record,
                blob: Bytes::new(),
            };
            if !self.queue(logged).await {
                return Ok(false);
            }
        }
    }

    /// Posts the standby's held blocks itself: no blob held the oldest in time. `false` when
    /// cancelled.
    async fn fail_over(&mut self) -> Result<bool, DaExExError> {
        let Some(standby) = self.standby.as_mut() else {
            return Ok(true);
        };
        let pending = std::mem::take(&mut standby.pending);
        if pending.is_empty() {
            return Ok(true);
        }
        standby.posting = true;
        for (block, digest, _) in &pending {
            standby.note_posted(block.block.number, *digest);
        }
        if let (Some((first, _, arrived)), Some((last, _, _))) = (pending.front(), pending.back()) {
            tracing::warn!(
                first_block = first.block.number,
                last_block = last.block.number,
                waited = ?arrived.elapsed(),
                "no other validator posted these blocks in time; posting them (DA failover)"
            );
            metrics::counter!("hauptbuch_da_failovers_total").increment(1);
        }
        for (block, _, _) in pending {
            if !self.batch(block).await? {
                return Ok(false);
            }
        }
        // They waited long enough: no batch interval on top.
        let sealed = self.batcher.flush()?;
        self.dispatch(sealed).await
    }

    /// Adds a block to the batcher; closes and dispatches the batches it completes. `false`
    /// when cancelled.
    async fn batch(&mut self, block: CommittedBlock) -> Result<bool, DaExExError> {
        let number = block.block.number;
        let sealed = self.batcher.push(
            number,
            BatchBlock {
                header: block.header,
                transactions: block.transactions,
                certificate: block.certificate,
            },
        )?;
        self.open.push_back(OpenBlock {
            block: block.block,
            timestamp: block.timestamp,
        });
        self.dispatch(sealed).await
    }

    /// Records closed batches in the log and queues them for submission. `false` when
    /// cancelled while the queue was full.
    async fn dispatch(&mut self, sealed: Vec<EncodedBatch>) -> Result<bool, DaExExError> {
        for batch in sealed {
            let (first, last) = (batch.header.first_block, batch.header.last_block);
            let mut timestamps = Vec::new();
            let mut last_hash = Default::default();
            while let Some(open) = self.open.front().copied()
                && open.block.number <= last
            {
                self.open.pop_front();
                timestamps.push(open.timestamp);
                last_hash = open.block.hash;
            }
            let record = BatchRecord {
                last_block: last,
                last_hash,
                namespace: self.namespace.clone(),
                blob_len: batch.bytes.len() as u64,
                timestamps,
                da_height: 0,
                commitment: Default::default(),
            };
            self.log.record_batch(first, &record, &batch.bytes)?;
            self.log.record_unposted_bytes()?;
            tracing::debug!(
                first_block = first,
                last_block = last,
                blob_bytes = batch.bytes.len(),
                "batch closed"
            );
            let logged = LoggedBatch {
                first_block: first,
                record,
                blob: batch.bytes,
            };
            if !self.queue(logged).await {
                return Ok(false);
            }
        }
        self.update_deadline();
        Ok(true)
    }

    /// Hands a recorded batch to the submitter. `false` when cancelled or the submitter is gone.
    async fn queue(&self, batch: LoggedBatch) -> bool {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => false,
            sent = self.batches.send(batch) => sent.is_ok(),
        }
    }

    /// Starts the batch timer when a new batch opened, stops it when none is open.
    fn update_deadline(&mut self) {
        let first = self.batcher.first_pending();
        if first != self.deadline_for {
            self.deadline_for = first;
            self.deadline = first.map(|_| Instant::now() + self.config.batch_interval);
        }
    }
}
