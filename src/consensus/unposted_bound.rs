//! The bound on unposted data: how far block production may run ahead of DA posting.
//!
//! A node that posts its blocks to DA keeps producing while DA is slow or down, but only up to
//! `max_blocks` blocks that no accepted `blob.Submit` holds yet (`--da.max-unposted-blocks`).
//! Past that, its proposer waits instead of building: in simplex a leader that does not propose
//! lets the view time out (nullified; nothing is signed, so there is nothing to equivocate), and
//! the next view asks again. Verifying other leaders' blocks is unaffected.
//!
//! "Posted" is the DA ExEx's finished height: the last block whose batch the DA node accepted
//! (`blob.Submit` returned an inclusion height). The node's ExEx manager moves it forward through
//! [`PostedHeight`]; the proposer reads it through [`UnpostedBound`].
//!
//! Invariants: a block is built only if, with it, at most `max_blocks` blocks above the posted
//! height exist on its branch; one `warn` line when production pauses and one `info` line when it
//! resumes; the gauge `hauptbuch_da_paused` is 1 exactly while paused.
//!
//! Assumptions: the posted height only grows (the DA ExEx reports finished heights in order).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use tokio::sync::watch;

/// Read side, held by the block proposer.
#[derive(Debug, Clone)]
pub struct UnpostedBound {
    max_blocks: u64,
    posted: watch::Receiver<u64>,
    paused: Arc<AtomicBool>,
}

/// Write side, held by the node's ExEx manager: the DA ExEx's finished height.
#[derive(Debug)]
pub struct PostedHeight {
    posted: watch::Sender<u64>,
}

impl PostedHeight {
    /// Records that every block up to `number` is posted (never moves backwards).
    pub fn set(&self, number: u64) {
        self.posted.send_if_modified(|posted| {
            let advanced = number > *posted;
            if advanced {
                *posted = number;
            }
            advanced
        });
        metrics::gauge!("hauptbuch_da_posted_block").set(number as f64);
    }
}

impl UnpostedBound {
    /// A bound of `max_blocks` (at least 1) over the posted height, starting at `posted`.
    pub fn new(max_blocks: u64, posted: u64) -> (Self, PostedHeight) {
        let (tx, rx) = watch::channel(posted);
        metrics::gauge!("hauptbuch_da_paused").set(0.0);
        metrics::gauge!("hauptbuch_da_max_unposted_blocks").set(max_blocks as f64);
        (
            Self {
                max_blocks: max_blocks.max(1),
                posted: rx,
                paused: Default::default(),
            },
            PostedHeight { posted: tx },
        )
    }

    /// The configured bound.
    pub fn max_blocks(&self) -> u64 {
        self.max_blocks
    }

    /// Whether this node's proposer is waiting for DA posting to catch up.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Whether a child of block `parent` may be built now.
    pub fn allows_child_of(&self, parent: u64) -> bool {
        parent.saturating_sub(*self.posted.borrow()) < self.max_blocks
    }

    /// Waits until a child of block `parent` may be built: until fewer than `max_blocks` blocks
    /// up to `parent` are unposted. Cancellation-safe (dropping it only stops waiting). Waits
    /// forever if the DA side is gone (the node is then shutting down).
    pub async fn wait_for_room(&self, parent: u64) {
        let mut posted = self.posted.clone();
        loop {
            let last_posted = *posted.borrow_and_update();
            let unposted = parent.saturating_sub(last_posted);
            metrics::gauge!("hauptbuch_da_unposted_blocks").set(unposted as f64);
            if unposted < self.max_blocks {
                if self.paused.swap(false, Ordering::Relaxed) {
                    metrics::gauge!("hauptbuch_da_paused").set(0.0);
                    tracing::info!(
                        posted = last_posted,
                        head = parent,
                        unposted,
                        max_unposted_blocks = self.max_blocks,
                        "DA posting caught up; block production resumes"
                    );
                }
                return;
            }
            if !self.paused.swap(true, Ordering::Relaxed) {
                metrics::gauge!("hauptbuch_da_paused").set(1.0);
                tracing::warn!(
                    posted = last_posted,
                    head = parent,
                    unposted,
                    max_unposted_blocks = self.max_blocks,
                    "block production paused: {unposted} blocks not posted to DA \
                     (bound --da.max-unposted-blocks {}); waiting for DA",
                    self.max_blocks
                );
            }
            if posted.changed().await.is_err() {
                // The DA ExEx is gone, so nothing will be posted any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn production_waits_at_the_bound_and_resumes_when_posting_catches_up() {
        let (bound, posted) = UnpostedBound::new(3, 10);
        assert!(bound.allows_child_of(12));
        assert!(!bound.allows_child_of(13));
        // Below the bound: no wait.
        tokio::time::timeout(Duration::from_secs(1), bound.wait_for_room(12))
            .await
            .expect("room below the bound");
        // At the bound: waits until posting moves.
        let waiting = tokio::spawn({
            let bound = bound.clone();
            async move { bound.wait_for_room(13).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "must wait at the bound");
        assert!(bound.paused.load(Ordering::Relaxed));
        posted.set(11);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("resumes once posted")
            .expect("task");
        assert!(!bound.paused.load(Ordering::Relaxed));
        // The posted height never goes backwards.
        posted.set(5);
        assert!(bound.allows_child_of(13));
    }
}
