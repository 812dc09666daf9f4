//! Turns DA inclusion into firm blocks by following the DA head.
//!
//! Celestia has single-slot finality: a block is final as soon as it is committed, so a batch
//! included at height `h` is firm once the DA head reaches `h + confirmations`. The tracker
//! polls `header.NetworkHead` every [`HEAD_POLL_INTERVAL`], and at once after each submission
//! (with 0 confirmations the inclusion height is usually already the head).
//!
//! Invariants: batches become firm in block order, a batch only after every batch before it;
//! the firm pointer is persisted in the log before `ExExEvent::Firm` is sent, never moves
//! backwards and never passes the last `FinishedHeight` the submitter reported. An unreachable DA node only delays firmness.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use celestia_rpc::prelude::*;
use tokio::sync::{Notify, mpsc};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::error::DaExExError;
use super::submission_log::{BatchRecord, DaLog, FirmRecord};
use super::submitter::DaClient;
use crate::{BlockNumHash, ExExEvent};

/// How often the DA head is polled: Celestia blocks take ~6 s (1 s on devnets), so this adds
/// at most a second to soft→firm latency for one cheap call.
pub const HEAD_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Bound of one head request, well below the poll interval times a few.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Head failures in a row after which each further one is logged at `warn`.
const WARN_AFTER_FAILURES: u32 = 3;

/// The finality side of the ExEx.
#[derive(Debug)]
pub(crate) struct FinalityTracker<'a> {
    pub(crate) client: &'a DaClient<'a>,
    pub(crate) log: &'a DaLog,
    pub(crate) confirmations: u64,
    pub(crate) events: &'a mpsc::UnboundedSender<ExExEvent>,
    /// Last block the node heard `FinishedHeight` for: a batch is firm only up to it.
    pub(crate) finished: &'a AtomicU64,
    /// Woken by the submitter after each submission.
    pub(crate) submitted: &'a Notify,
    pub(crate) cancel: &'a CancellationToken,
}

impl FinalityTracker<'_> {
    /// Follows the DA head until cancelled.
    pub(crate) async fn run(self) -> Result<(), DaExExError> {
        let mut tick = tokio::time::interval(HEAD_POLL_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failures: u32 = 0;
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(()),
                _ = self.submitted.notified() => {}
                _ = tick.tick() => {}
            }
            let Some(client) = self.client.get().await? else {
                return Ok(());
            };
            let head = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(()),
                head = tokio::time::timeout(HEAD_TIMEOUT, client.header_network_head()) => head,
            };
            let head = match head {
                Ok(Ok(header)) => {
                    failures = 0;
                    header.height()
                }
                Ok(Err(err)) => {
                    failures += 1;
                    self.head_failed(failures, &err);
                    continue;
                }
                Err(_) => {
                    failures += 1;
                    self.head_failed(failures, &format!("no answer within {HEAD_TIMEOUT:?}"));
                    continue;
                }
            };
            self.log.set_da_head(head);
            metrics::gauge!("hauptbuch_da_head_height").set(head as f64);
            if !self.advance(head)? {
                return Ok(());
            }
        }
    }

    fn head_failed(&self, failures: u32, err: &dyn std::fmt::Display) {
        if failures >= WARN_AFTER_FAILURES {
            tracing::warn!(attempt = failures, error = %err, "reading the DA head failed");
        } else {
            tracing::debug!(attempt = failures, error = %err, "reading the DA head failed");
        }
    }

    /// Marks the batches final at DA head `head` as firm. `false` when the node is gone.
    fn advance(&self, head: u64) -> Result<bool, DaExExError> {
        let finished = self.finished.load(Ordering::Acquire);
        let candidates = self.log.submitted_unfirm()?;
        let finals: Vec<&(u64, BatchRecord)> = candidates
            .iter()
            .take_while(|(_, r)| {
                r.da_height.saturating_add(self.confirmations) <= head && r.last_block <= finished
            })
            .collect();
        let Some((_, newest)) = finals.last() else {
            return Ok(true);
        };
        let firm = FirmRecord {
            block: newest.last_block,
            hash: newest.last_hash,
            da_height: newest.da_height,
            namespace: newest.namespace.clone(),
            commitment: newest.commitment,
            da_head: head,
        };
        let firmed: Vec<u64> = finals.iter().map(|(first, _)| *first).collect();
        self.log.record_firm(&firmed, &firm)?;
        let now = unix_now();
        for (first, record) in &finals {
            let latencies: Vec<f64> = record
                .timestamps
                .iter()
                .map(|ts| (now - *ts as f64).max(0.0))
                .collect();
            for latency in &latencies {
                metrics::histogram!("hauptbuch_da_soft_to_firm_seconds").record(*latency);
            }
            tracing::info!(
                first_block = first,
                last_block = record.last_block,
                da_height = record.da_height,
                da_head = head,
                commitment = %record.commitment,
                oldest_latency_s = latencies.first().copied().unwrap_or_default(),
                newest_latency_s = latencies.last().copied().unwrap_or_default(),
                "batch firm"
            );
        }
        metrics::gauge!("hauptbuch_da_firm_block").set(firm.block as f64);
        let event = ExExEvent::Firm {
            block: BlockNumHash {
                number: firm.block,
                hash: firm.hash,
            },
            location: firm.location(),
        };
        if self.events.send(event).is_err() {
            self.cancel.cancel();
            return Ok(false);
        }
        Ok(true)
    }
}

/// Seconds since the Unix epoch, with sub-second precision.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
