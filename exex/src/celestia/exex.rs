//! The Celestia DA ExEx: posts every block to Celestia and reports when DA makes it firm.
//!
//! Three parts run concurrently in one task, joined so that cancelling (or dropping) the ExEx
//! stops them all:
//! - **batching** (this file): notifications → [`Batcher`]; a batch closes on size or
//!   `batch_interval` after its first block, is recorded in the [`DaLog`] and queued;
//! - **submitting** ([`Submitter`]): `blob.Submit` with retries, location into the log, then
//!   `FinishedHeight`;
//! - **finality** ([`FinalityTracker`]): DA head → firm pointer in the log → `Firm`.
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

use std::collections::VecDeque;

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
use crate::{BlockNumHash, CommittedBlock, ExExContext, ExExEvent, ExExNotification};

/// Closed batches waiting for the submitter. Beyond this the ExEx stops reading notifications,
/// so a DA outage holds at most this many blobs in memory (they are in the log as well).
const SUBMIT_QUEUE_BATCHES: usize = 8;

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
    let unsubmitted: VecDeque<LoggedBatch> = unfirm
        .iter()
        .filter(|b| !b.record.is_submitted())
        .cloned()
        .collect();
    if let Some(lost) = unsubmitted.iter().find(|b| b.blob.is_empty()) {
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

    let stop = cancel.child_token();
    let client = DaClient::new(&config.url, config.auth_token.as_deref(), &stop);
    let (batch_tx, batch_rx) = mpsc::channel(SUBMIT_QUEUE_BATCHES);
    let submitted = Notify::new();
    let batching = Batching {
        batcher,
        log: &log,
        namespace: Bytes::copy_from_slice(namespace.as_bytes()),
        open: VecDeque::new(),
        resume_at: last_recorded.map(|last| last + 1),
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
        submitted: &submitted,
        cancel: &stop,
    };
    let tracking = FinalityTracker {
        client: &client,
        log: &log,
        confirmations: config.confirmations,
        events: &events,
        submitted: &submitted,
        cancel: &stop,
    };
    let result = tokio::try_join!(
        batching.run(notifications),
        submitting.run(unsubmitted, batch_rx),
        tracking.run(),
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

/// The batching side of the ExEx.
#[derive(Debug)]
struct Batching<'a> {
    batcher: Batcher,
    log: &'a DaLog,
    /// 29-byte namespace, as recorded per batch.
    namespace: Bytes,
    /// Blocks pushed into the batcher and not yet in a closed batch, in order.
    open: VecDeque<OpenBlock>,
    /// The block the log continues with, until the first block is batched.
    resume_at: Option<u64>,
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
        loop {
            let deadline = self.deadline;
            let closes = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(()),
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

    /// Adds a block; closes and dispatches the batches it completes. `false` when cancelled.
    async fn push(&mut self, block: CommittedBlock) -> Result<bool, DaExExError> {
        let number = block.block.number;
        if self.batcher.next_block().is_none()
            && let Some(resume_at) = self.resume_at
        {
            if number < resume_at {
                tracing::debug!(block = number, "block already in the DA submission log");
                return Ok(true);
            }
            if number > resume_at {
                return Err(DaExExError::Gap {
                    log_last: resume_at - 1,
                    next: number,
                });
            }
        }
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
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(false),
                sent = self.batches.send(logged) => if sent.is_err() {
                    return Ok(false);
                },
            }
        }
        self.update_deadline();
        Ok(true)
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
