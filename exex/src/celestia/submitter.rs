//! Submits batches with `blob.Submit`, in order, retrying until the DA node includes them.
//!
//! Invariants: batches are submitted in block order, several at once when they fit in one
//! PayForBlobs transaction; a batch's DA location is written to the log before the node hears
//! `FinishedHeight` for its last block. Transient failures (DA unreachable, timeouts, mempool
//! trouble) are retried forever with exponential backoff and full jitter; answers that retrying
//! cannot change (blob too large, bad namespace, rejected token) end the ExEx with an error.
//! A retry after a timeout may post the same blob twice; readers skip blocks they already have.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy_primitives::B256;
use celestia_rpc::prelude::*;
use celestia_rpc::{Client, TxConfig};
use celestia_types::Blob;
use celestia_types::nmt::Namespace;
use jsonrpsee::core::ClientError;
use tokio::sync::{Notify, OnceCell, mpsc};
use tokio_util::sync::CancellationToken;

use super::error::DaExExError;
use super::submission_log::{DaLog, LoggedBatch};
use crate::{BlockNumHash, ExExEvent};

/// First retry delay bound: short enough that a blip costs under a second.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Largest retry delay bound: a long DA outage is polled twice a minute.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Request timeout: `blob.Submit` returns only once the blob is included, which takes a
/// Celestia block (~6 s) or several when the mempool is busy.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(180);
/// Connect timeout of a WebSocket endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// DA node answers that retrying cannot change (celestia-app and celestia-node texts).
const PERMANENT_ERRORS: &[&str] = &[
    "larger than the application's configured maxtxsize",
    "blob too large",
    "blob size",
    "not allowed namespace",
    "data can not be empty",
    "unsupported share version",
    "invalid namespace",
    "missing permission",
];

/// HTTP rejections that retrying cannot change (jsonrpsee's HTTP and WebSocket texts): a
/// missing or wrong token, too little permission, a request body over the server's limit.
const PERMANENT_REJECTIONS: &[&str] = &[
    "rejected `401`",
    "rejected `403`",
    "rejected `413`",
    "status code: 401",
    "status code: 403",
];

/// A random delay in `[0, min(cap, base · 2^(attempt-1))]` ("full jitter"), so that many
/// clients failing together do not retry together.
pub fn backoff_delay(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    let bound = BACKOFF_BASE.saturating_mul(1 << exp).min(BACKOFF_CAP);
    let random = getrandom::u64().unwrap_or(u64::MAX / 2);
    let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.saturating_add(1))
}

/// Whether a failed call should not be retried.
fn is_permanent(err: &celestia_rpc::Error) -> bool {
    match err {
        celestia_rpc::Error::JsonRpc(ClientError::Call(obj)) => {
            let message = obj.message().to_ascii_lowercase();
            PERMANENT_ERRORS.iter().any(|p| message.contains(p))
        }
        celestia_rpc::Error::JsonRpc(ClientError::Transport(err)) => {
            let text = err.to_string();
            PERMANENT_REJECTIONS.iter().any(|p| text.contains(p))
        }
        celestia_rpc::Error::JsonRpc(_) => false,
        _ => true,
    }
}

/// Builds the client, retrying transient connection failures (a WebSocket endpoint connects
/// here). `None` when cancelled first.
async fn connect(
    url: &str,
    auth_token: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Option<Client>, DaExExError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(None),
            result = Client::new(url, auth_token, Some(CONNECT_TIMEOUT), Some(SUBMIT_TIMEOUT)) => result,
        };
        match result {
            Ok(client) => return Ok(Some(client)),
            Err(err) if is_permanent(&err) => {
                return Err(DaExExError::Endpoint {
                    url: url.to_string(),
                    message: err.to_string(),
                });
            }
            Err(err) => {
                let delay = backoff_delay(attempt);
                tracing::warn!(url, attempt, ?delay, error = %err, "connecting to the DA node failed; retrying");
                if sleep_or_cancel(delay, cancel).await {
                    return Ok(None);
                }
            }
        }
    }
}

/// The DA client, connected on first use so that an unreachable DA never holds up batching.
#[derive(Debug)]
pub(crate) struct DaClient<'a> {
    url: &'a str,
    auth_token: Option<&'a str>,
    cancel: &'a CancellationToken,
    client: OnceCell<Client>,
}

impl<'a> DaClient<'a> {
    pub(crate) fn new(
        url: &'a str,
        auth_token: Option<&'a str>,
        cancel: &'a CancellationToken,
    ) -> Self {
        Self {
            url,
            auth_token,
            cancel,
            client: OnceCell::new(),
        }
    }

    /// The client, connecting (with retries) if needed. `None` when cancelled first.
    pub(crate) async fn get(&self) -> Result<Option<&Client>, DaExExError> {
        let client = self
            .client
            .get_or_try_init(|| async {
                match connect(self.url, self.auth_token, self.cancel).await {
                    Ok(Some(client)) => Ok(client),
                    Ok(None) => Err(None),
                    Err(err) => Err(Some(err)),
                }
            })
            .await;
        match client {
            Ok(client) => Ok(Some(client)),
            Err(None) => Ok(None),
            Err(Some(err)) => Err(err),
        }
    }
}

/// Sleeps `delay`; `true` if cancelled first.
async fn sleep_or_cancel(delay: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

/// The submitting side of the ExEx.
#[derive(Debug)]
pub(crate) struct Submitter<'a> {
    pub(crate) client: &'a DaClient<'a>,
    pub(crate) log: &'a DaLog,
    pub(crate) namespace: Namespace,
    pub(crate) gas_price: Option<f64>,
    /// Largest total blob bytes of one `blob.Submit`.
    pub(crate) max_submit_bytes: usize,
    pub(crate) events: &'a mpsc::UnboundedSender<ExExEvent>,
    /// Last block reported in `FinishedHeight` (0: none yet); firm never passes it.
    pub(crate) finished: &'a AtomicU64,
    /// Wakes the finality tracker after a submission.
    pub(crate) submitted: &'a Notify,
    /// On a standby: where its own blobs are noted, so that it can tell others' blobs apart.
    pub(crate) own_blobs: Option<&'a super::watcher::Seen>,
    pub(crate) cancel: &'a CancellationToken,
}

impl Submitter<'_> {
    /// Submits `queue` (batches recorded before this run), then every batch from `batches`, in
    /// order, until cancelled or the batch channel closes.
    pub(crate) async fn run(
        self,
        mut queue: VecDeque<LoggedBatch>,
        mut batches: mpsc::Receiver<LoggedBatch>,
    ) -> Result<(), DaExExError> {
        loop {
            if queue.is_empty() {
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => return Ok(()),
                    batch = batches.recv() => match batch {
                        Some(batch) => queue.push_back(batch),
                        None => return Ok(()),
                    },
                }
            }
            // A batch another validator posted (a standby adopted it): only reported.
            if let Some(batch) = queue.pop_front_if(|b| b.record.is_submitted()) {
                if !self.report_finished(&batch) {
                    return Ok(());
                }
                continue;
            }
            // Take what is already waiting, while it could share one submission.
            let mut queued: usize = queue.iter().map(|b| b.blob.len()).sum();
            while queued < self.max_submit_bytes {
                let Ok(batch) = batches.try_recv() else { break };
                queued += batch.blob.len();
                queue.push_back(batch);
            }
            let mut count = 0;
            let mut bytes = 0;
            for batch in &queue {
                if batch.record.is_submitted()
                    || (count > 0 && bytes + batch.blob.len() > self.max_submit_bytes)
                {
                    break;
                }
                count += 1;
                bytes += batch.blob.len();
            }
            let group: Vec<LoggedBatch> = queue.drain(..count).collect();
            if !self.submit(&group).await? {
                return Ok(());
            }
        }
    }

    /// Submits `group` until it is included, records where, and reports `FinishedHeight`.
    /// `false` when cancelled first.
    async fn submit(&self, group: &[LoggedBatch]) -> Result<bool, DaExExError> {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            return Ok(true);
        };
        let (first_block, last_block) = (first.first_block, last.record.last_block);
        let blobs = group
            .iter()
            .map(|batch| {
                Blob::new(self.namespace, batch.blob.to_vec(), None).map_err(|source| {
                    DaExExError::Blob {
                        first: batch.first_block,
                        last: batch.record.last_block,
                        source,
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(seen) = self.own_blobs {
            seen.note_own(blobs.iter().map(|b| B256::from(*b.commitment.hash())));
        }
        let bytes: usize = group.iter().map(|b| b.blob.len()).sum();
        let Some(client) = self.client.get().await? else {
            return Ok(false);
        };
        let mut attempt = 0;
        let height = loop {
            attempt += 1;
            let result = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(false),
                result = client.blob_submit(&blobs, self.tx_config()) => result.map_err(celestia_rpc::Error::from),
            };
            match result {
                Ok(height) => break height,
                Err(source) if is_permanent(&source) => {
                    return Err(DaExExError::Rejected {
                        first: first_block,
                        last: last_block,
                        bytes,
                        source,
                    });
                }
                Err(err) => {
                    let delay = backoff_delay(attempt);
                    tracing::warn!(
                        first_block, last_block, bytes, attempt, ?delay, error = %err,
                        "blob submission failed; retrying"
                    );
                    metrics::counter!("hauptbuch_da_submit_failures_total").increment(1);
                    if sleep_or_cancel(delay, self.cancel).await {
                        return Ok(false);
                    }
                }
            }
        };
        let submitted: Vec<(u64, u64, B256)> = group
            .iter()
            .zip(&blobs)
            .map(|(batch, blob)| {
                (
                    batch.first_block,
                    height,
                    B256::from(*blob.commitment.hash()),
                )
            })
            .collect();
        self.log.record_submitted(&submitted)?;
        self.log.record_unposted_bytes()?;
        for (batch, (_, _, commitment)) in group.iter().zip(&submitted) {
            tracing::info!(
                first_block = batch.first_block,
                last_block = batch.record.last_block,
                blob_bytes = batch.blob.len(),
                da_height = height,
                %commitment,
                attempts = attempt,
                "batch submitted to DA"
            );
        }
        metrics::counter!("hauptbuch_da_blobs_submitted_total").increment(group.len() as u64);
        metrics::counter!("hauptbuch_da_blob_bytes_submitted_total").increment(bytes as u64);
        Ok(self.report_finished(last))
    }

    /// Reports `FinishedHeight` for `batch`, which is on DA. `false` when the node is gone.
    fn report_finished(&self, batch: &LoggedBatch) -> bool {
        metrics::gauge!("hauptbuch_da_submitted_block").set(batch.record.last_block as f64);
        let finished = BlockNumHash {
            number: batch.record.last_block,
            hash: batch.record.last_hash,
        };
        if self
            .events
            .send(ExExEvent::FinishedHeight(finished))
            .is_err()
        {
            // The node is shutting down; everything submitted is in the log.
            self.cancel.cancel();
            return false;
        }
        // After `FinishedHeight`, so the node never hears of a firm block before it finished.
        self.finished
            .fetch_max(batch.record.last_block, Ordering::Release);
        self.submitted.notify_one();
        true
    }

    fn tx_config(&self) -> TxConfig {
        match self.gas_price {
            Some(price) => TxConfig::default().with_gas_price(price),
            None => TxConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_exponential_bound_and_cap() {
        for attempt in 1..40 {
            let bound = BACKOFF_BASE
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(BACKOFF_CAP);
            for _ in 0..20 {
                assert!(backoff_delay(attempt) <= bound);
            }
        }
        assert!(backoff_delay(1) <= BACKOFF_BASE);
        assert!(backoff_delay(100) <= BACKOFF_CAP);
    }

    #[test]
    fn too_large_is_permanent_and_transport_failures_are_not() {
        let too_large = celestia_rpc::Error::JsonRpc(ClientError::Call(
            jsonrpsee::types::ErrorObjectOwned::owned(
                1,
                "tx size 9000000 bytes is larger than the application's configured MaxTxSize of 8388608 bytes",
                None::<()>,
            ),
        ));
        assert!(is_permanent(&too_large));
        let busy = celestia_rpc::Error::JsonRpc(ClientError::Call(
            jsonrpsee::types::ErrorObjectOwned::owned(1, "mempool is full", None::<()>),
        ));
        assert!(!is_permanent(&busy));
        assert!(!is_permanent(&celestia_rpc::Error::JsonRpc(
            ClientError::RequestTimeout
        )));
    }
}
