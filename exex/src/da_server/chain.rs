//! The DA chain: queues submissions, produces a block every `block_time`, and publishes it.
//!
//! `blob.Submit` queues its blobs with a responder and waits; the producer task takes every
//! queued submission that fits into the block (FIFO; a submission is never split), lays the
//! blobs out in a square, signs the header, writes the block in one redb transaction, then
//! answers the submitters with the height and broadcasts the block to subscribers. Empty blocks
//! are produced too, as on Celestia, so heights advance with time.
//!
//! Invariants: heights are consecutive from 1; a submitter hears its height only after the
//! block is durable; the head seen by readers (`head()`) is always stored.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use celestia_types::{Blob, DataAvailabilityHeader, ExtendedHeader};
use tokio::sync::{broadcast, oneshot, watch};

use super::error::{DaServerError, Result};
use super::header_signer::HeaderSigner;
use super::square::{MAX_ODS_WIDTH, build_square, shares_upper_bound};
use super::store::Store;

/// Blocks a subscriber may fall behind before its subscription is closed (celestia-node: 16).
pub(crate) const SUBSCRIBER_BUFFER: usize = 16;

/// A produced DA block.
#[derive(Debug)]
pub(crate) struct DaBlock {
    /// Its signed header.
    pub(crate) header: ExtendedHeader,
    /// Its blobs, sorted by namespace, with `index` set.
    pub(crate) blobs: Vec<Blob>,
}

struct Submission {
    blobs: Vec<Blob>,
    shares: usize,
    done: oneshot::Sender<Result<u64, String>>,
}

/// Shared state of the DA chain.
pub(crate) struct DaChain {
    store: Store,
    signer: HeaderSigner,
    pending: Mutex<VecDeque<Submission>>,
    head: Mutex<Arc<ExtendedHeader>>,
    head_height: watch::Sender<u64>,
    blocks: broadcast::Sender<Arc<DaBlock>>,
}

impl std::fmt::Debug for DaChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaChain")
            .field("head", &*self.head_height.borrow())
            .finish_non_exhaustive()
    }
}

impl DaChain {
    /// Opens the chain stored in `store`, producing block 1 if it is empty.
    pub(crate) fn open(store: Store, signer: HeaderSigner) -> Result<Self> {
        let head = match store.head()? {
            Some(head) => head,
            None => {
                let square = build_square(&mut [])?;
                let dah = DataAvailabilityHeader::from_eds(&square.eds);
                let genesis = signer.sign_next(None, dah, tendermint::Time::now())?;
                store.put_block(&genesis, &[])?;
                genesis
            }
        };
        let (head_height, _) = watch::channel(head.height());
        let (blocks, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        Ok(Self {
            store,
            signer,
            pending: Mutex::new(VecDeque::new()),
            head: Mutex::new(Arc::new(head)),
            head_height,
            blocks,
        })
    }

    /// The stored data.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The latest block's header.
    pub(crate) fn head(&self) -> Arc<ExtendedHeader> {
        self.head
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A receiver of the head height, for waiting on heights.
    pub(crate) fn watch_height(&self) -> watch::Receiver<u64> {
        self.head_height.subscribe()
    }

    /// A receiver of every block produced from now on.
    pub(crate) fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<DaBlock>> {
        self.blocks.subscribe()
    }

    /// Queues `blobs` for the next block; resolves to the inclusion height.
    pub(crate) fn submit(&self, blobs: Vec<Blob>) -> oneshot::Receiver<Result<u64, String>> {
        let (done, rx) = oneshot::channel();
        let shares = shares_upper_bound(&blobs);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Submission {
                blobs,
                shares,
                done,
            });
        rx
    }

    /// Produces, stores and publishes the next block. CPU-heavy for big squares (erasure
    /// coding), so run it off the async workers.
    pub(crate) fn produce_block(&self) -> Result<u64> {
        let submissions = self.take_submissions();
        let mut blobs: Vec<Blob> = submissions.iter().flat_map(|s| s.blobs.clone()).collect();
        let result = self.write_block(&mut blobs);
        match &result {
            Ok(height) => {
                for submission in submissions {
                    // A submitter that went away does not care about its height.
                    let _ = submission.done.send(Ok(*height));
                }
            }
            Err(err) => {
                tracing::error!(%err, "DA block production failed");
                for submission in submissions {
                    let _ = submission
                        .done
                        .send(Err(format!("da block production failed: {err}")));
                }
            }
        }
        result
    }

    fn take_submissions(&self) -> Vec<Submission> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let budget = MAX_ODS_WIDTH * MAX_ODS_WIDTH;
        let mut used = 0;
        let mut taken = Vec::new();
        while let Some(next) = pending.front() {
            // A submission never exceeds the budget alone (MaxTxSize is far below it), so the
            // first one always goes in.
            if !taken.is_empty() && used + next.shares > budget {
                break;
            }
            used += next.shares;
            if let Some(submission) = pending.pop_front() {
                taken.push(submission);
            }
        }
        taken
    }

    fn write_block(&self, blobs: &mut [Blob]) -> Result<u64> {
        let square = build_square(blobs)?;
        let dah = DataAvailabilityHeader::from_eds(&square.eds);
        let prev = self.head();
        let header = self
            .signer
            .sign_next(Some(&prev), dah, tendermint::Time::now())?;
        self.store.put_block(&header, blobs)?;
        let height = header.height();
        let block = Arc::new(DaBlock {
            header,
            blobs: blobs.to_vec(),
        });
        *self.head.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(block.header.clone());
        self.head_height.send_replace(height);
        // No subscribers is fine.
        let _ = self.blocks.send(block);
        tracing::debug!(height, blobs = blobs.len(), "DA block produced");
        Ok(height)
    }

    /// Answers every queued submission with a shutdown error.
    pub(crate) fn fail_pending(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for submission in pending.drain(..) {
            let _ = submission
                .done
                .send(Err(DaServerError::ShuttingDown.to_string()));
        }
    }
}

/// Produces a block every `block_time` until `stop` fires.
pub(crate) async fn run_producer(
    chain: Arc<DaChain>,
    block_time: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(block_time);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; block 1 (or the stored head) already exists.
    interval.tick().await;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = interval.tick() => {
                let chain = chain.clone();
                match tokio::task::spawn_blocking(move || chain.produce_block()).await {
                    Ok(_) => {}
                    Err(err) => tracing::error!(%err, "DA block producer task panicked"),
                }
            }
        }
    }
    chain.fail_pending();
}
