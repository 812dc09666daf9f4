//! What other validators posted: the blobs of this chain in the namespace, for a standby poster.
//!
//! On a network of several validators one validator posts (rank 0) and the others stand by
//! (see [`PosterConfig`](super::config::PosterConfig)). A standby follows the DA head, reads
//! the namespace at every new height (`blob.GetAll`) and keeps a digest of each block of this
//! chain it finds. The batching side then adopts a blob once it holds the standby's own next
//! blocks — same header, same transactions, a certificate that is identical or valid — and
//! records that blob's location as if it had posted it; blocks no blob holds in time it posts
//! itself.
//!
//! Anyone can post to a namespace, so nothing here is trusted: a blob whose blocks differ from
//! the standby's own is never adopted, and what is kept is bounded (copies per first block,
//! blobs in all).

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use alloy_primitives::{B256, Keccak256, keccak256};
use celestia_rpc::prelude::*;
use celestia_types::nmt::Namespace;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::blob_codec::{BatchBlock, decode_blob};
use super::config::CertificateCheck;
use super::error::DaExExError;
use super::finality::HEAD_POLL_INTERVAL;
use super::submission_log::DaLog;
use super::submitter::DaClient;

/// Bound of one DA request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Copies kept of blobs starting at the same block (honest re-posts plus a few of anyone's).
const MAX_COPIES: usize = 4;
/// Blobs kept in all; the oldest go first. Far more than a standby is ever behind by.
const MAX_BLOBS: usize = 4096;
/// celestia-node's answer for a height without blobs of the namespace (older versions).
const BLOB_NOT_FOUND: &str = "blob: not found";

/// One block as the watcher keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockDigest {
    /// Hash of the header and transaction bytes.
    content: B256,
    /// Hash of the certificate bytes.
    certificate: B256,
    /// Whether the certificate check accepted the certificate (own blocks: `true`).
    certificate_valid: bool,
}

impl BlockDigest {
    /// The digest of `block`; `check` decides whether its certificate is valid (`None`: only
    /// identical bytes will count). No certificate at all is acceptable: a block finalized
    /// through a descendant has none of its own, and derivation imports it on execution.
    pub(crate) fn of(block: &BatchBlock, check: Option<&dyn CertificateCheck>) -> Self {
        let mut content = Keccak256::new();
        content.update((block.header.len() as u64).to_be_bytes());
        content.update(&block.header);
        content.update(&block.transactions);
        Self {
            content: content.finalize(),
            certificate: keccak256(&block.certificate),
            certificate_valid: block.certificate.is_empty()
                || check.is_some_and(|c| c.is_valid(block)),
        }
    }

    /// Whether this block found on DA is `ours`.
    fn is(&self, ours: &Self) -> bool {
        self.content == ours.content
            && (self.certificate == ours.certificate || self.certificate_valid)
    }
}

/// A blob of this chain found on DA.
#[derive(Debug, Clone)]
struct SeenBlob {
    da_height: u64,
    commitment: B256,
    bytes: u64,
    first: u64,
    blocks: Vec<BlockDigest>,
}

impl SeenBlob {
    fn last(&self) -> u64 {
        self.first + self.blocks.len() as u64 - 1
    }
}

/// Where a standby's next blocks already are on DA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Adoption {
    /// Last block of the blob (the first is the standby's next block or before it).
    pub(crate) last: u64,
    pub(crate) da_height: u64,
    pub(crate) commitment: B256,
    /// Size of the blob.
    pub(crate) bytes: u64,
}

/// The blobs seen so far, shared by the watcher and the batching side.
#[derive(Debug)]
pub(crate) struct Seen {
    /// By first block.
    blobs: Mutex<BTreeMap<u64, Vec<SeenBlob>>>,
    /// Commitments of the blobs this node submitted itself.
    own: Mutex<HashSet<B256>>,
    /// Bumped after each scanned height that added blobs.
    version: watch::Sender<u64>,
}

impl Default for Seen {
    fn default() -> Self {
        Self {
            blobs: Mutex::default(),
            own: Mutex::default(),
            version: watch::Sender::new(0),
        }
    }
}

impl Seen {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Vec<SeenBlob>>> {
        self.blobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver that changes whenever new blobs were seen.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn insert(&self, blob: SeenBlob) {
        let mut blobs = self.lock();
        let copies = blobs.entry(blob.first).or_default();
        if copies.len() < MAX_COPIES {
            copies.push(blob);
        }
        while blobs.values().map(Vec::len).sum::<usize>() > MAX_BLOBS {
            blobs.pop_first();
        }
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Forgets blobs that end before block `next`.
    pub(crate) fn forget_before(&self, next: u64) {
        let mut blobs = self.lock();
        blobs.retain(|_, copies| {
            copies.retain(|b| b.last() >= next);
            !copies.is_empty()
        });
    }

    /// Notes blobs this node submits (before it submits them).
    pub(crate) fn note_own(&self, commitments: impl IntoIterator<Item = B256>) {
        let mut own = self.own.lock().unwrap_or_else(|p| p.into_inner());
        if own.len() >= MAX_BLOBS {
            own.clear();
        }
        own.extend(commitments);
    }

    /// Whether a blob someone else posted holds a block from `from` on.
    pub(crate) fn holds_foreign_from(&self, from: u64) -> bool {
        let own = self.own.lock().unwrap_or_else(|p| p.into_inner());
        self.lock()
            .values()
            .flatten()
            .any(|b| b.last() >= from && !own.contains(&b.commitment))
    }

    /// Whether some blob holds block `number` (whoever posted it).
    #[cfg(test)]
    fn holds(&self, number: u64) -> bool {
        self.lock()
            .range(..=number)
            .flat_map(|(_, copies)| copies)
            .any(|b| b.last() >= number)
    }

    /// A blob holding blocks `next..=last` exactly as `ours` (our blocks from `next` on), with
    /// `last` within `ours`; the one ending latest if several do.
    pub(crate) fn adoption(&self, next: u64, ours: &[BlockDigest]) -> Option<Adoption> {
        let ours_last = next + ours.len() as u64 - 1;
        self.lock()
            .range(..=next)
            .flat_map(|(_, copies)| copies)
            .filter(|b| (next..=ours_last).contains(&b.last()))
            .filter(|b| {
                let skip = (next - b.first) as usize;
                b.blocks[skip..]
                    .iter()
                    .zip(ours)
                    .all(|(seen, own)| seen.is(own))
            })
            .max_by_key(|b| (b.last(), std::cmp::Reverse(b.da_height)))
            .map(|b| Adoption {
                last: b.last(),
                da_height: b.da_height,
                commitment: b.commitment,
                bytes: b.bytes,
            })
    }
}

/// The watching side of a standby ExEx.
#[derive(Debug)]
pub(crate) struct Watcher<'a> {
    pub(crate) client: &'a DaClient<'a>,
    pub(crate) namespace: Namespace,
    pub(crate) chain_id: u64,
    pub(crate) check: Option<&'a dyn CertificateCheck>,
    pub(crate) seen: &'a Seen,
    /// Where the first height read is recorded, so a restart reads it again.
    pub(crate) log: &'a DaLog,
    /// First DA height to read; `None` starts at the DA head.
    pub(crate) from_height: Option<u64>,
    pub(crate) cancel: &'a CancellationToken,
}

impl Watcher<'_> {
    /// Reads every new DA height until cancelled; failures are retried on the next tick.
    pub(crate) async fn run(self) -> Result<(), DaExExError> {
        let mut tick = tokio::time::interval(HEAD_POLL_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut next = self.from_height;
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            let Some(client) = self.client.get().await? else {
                return Ok(());
            };
            let head = match self.request(client.header_network_head()).await {
                Some(Ok(header)) => header.height(),
                Some(Err(err)) => {
                    tracing::debug!(error = %err, "standby: reading the DA head failed");
                    continue;
                }
                None => return Ok(()),
            };
            if next.is_none() {
                self.log.record_watch_start(head)?;
            }
            let mut height = *next.get_or_insert(head);
            while height <= head {
                let blobs = match self
                    .request(client.blob_get_all(height, &[self.namespace]))
                    .await
                {
                    Some(Ok(blobs)) => blobs.unwrap_or_default(),
                    Some(Err(err)) if err.to_string().contains(BLOB_NOT_FOUND) => Vec::new(),
                    Some(Err(err)) => {
                        tracing::debug!(da_height = height, error = %err, "standby: blob.GetAll failed");
                        break;
                    }
                    None => return Ok(()),
                };
                let mut added = false;
                for blob in blobs {
                    added |= self.keep(height, &blob);
                }
                if added {
                    self.seen.changed();
                }
                height += 1;
                next = Some(height);
            }
        }
    }

    /// Runs `request` with a timeout; `None` when cancelled first.
    async fn request<T, E: std::fmt::Display>(
        &self,
        request: impl Future<Output = Result<T, E>>,
    ) -> Option<Result<T, String>> {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => None,
            result = tokio::time::timeout(REQUEST_TIMEOUT, request) => Some(match result {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
            }),
        }
    }

    /// Keeps `blob` if it is a blob of this chain; whether it was.
    fn keep(&self, da_height: u64, blob: &celestia_types::Blob) -> bool {
        let Ok(batch) = decode_blob(&blob.data) else {
            return false;
        };
        if batch.header.chain_id != self.chain_id {
            return false;
        }
        let blocks = batch
            .blocks
            .iter()
            .map(|block| BlockDigest::of(block, self.check))
            .collect();
        tracing::debug!(
            da_height,
            first_block = batch.header.first_block,
            last_block = batch.header.last_block,
            "standby: blob seen on DA"
        );
        self.seen.insert(SeenBlob {
            da_height,
            commitment: B256::from(*blob.commitment.hash()),
            bytes: blob.data.len() as u64,
            first: batch.header.first_block,
            blocks,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Bytes;

    fn block(n: u64, certificate: &str) -> BatchBlock {
        BatchBlock {
            header: Bytes::from(format!("header {n}").into_bytes()),
            transactions: Bytes::from(format!("txs {n}").into_bytes()),
            certificate: Bytes::from(certificate.as_bytes().to_vec()),
        }
    }

    fn digests(first: u64, last: u64, certificate: &str) -> Vec<BlockDigest> {
        (first..=last)
            .map(|n| BlockDigest::of(&block(n, certificate), None))
            .collect()
    }

    fn blob(first: u64, last: u64, da_height: u64, certificate: &str) -> SeenBlob {
        SeenBlob {
            da_height,
            commitment: B256::with_last_byte(da_height as u8),
            bytes: 100,
            first,
            blocks: digests(first, last, certificate),
        }
    }

    #[derive(Debug)]
    struct AcceptsValid;
    impl CertificateCheck for AcceptsValid {
        fn is_valid(&self, block: &BatchBlock) -> bool {
            block.certificate.as_ref() == b"valid"
        }
    }

    #[test]
    fn a_blob_is_adopted_only_when_it_holds_our_next_blocks_exactly() {
        let seen = Seen::default();
        let ours = digests(5, 9, "ours");
        assert_eq!(seen.adoption(5, &ours), None);

        // Starts before our next block (we recorded 3..=4 already) and ends within ours.
        seen.insert(blob(3, 7, 10, "ours"));
        let adopted = seen.adoption(5, &ours).expect("3..=7 holds 5..=7");
        assert_eq!((adopted.last, adopted.da_height), (7, 10));
        assert!(seen.holds(3) && seen.holds(7) && !seen.holds(8));

        // Ends past what we have: not yet.
        assert_eq!(seen.adoption(8, &digests(8, 9, "ours")), None);
        seen.insert(blob(8, 12, 11, "ours"));
        assert_eq!(seen.adoption(8, &digests(8, 9, "ours")), None);
        assert_eq!(
            seen.adoption(8, &digests(8, 12, "ours")).map(|a| a.last),
            Some(12)
        );

        // Same numbers, other contents (anyone can post): never adopted.
        let forged = SeenBlob {
            blocks: (20..=22)
                .map(|n| BlockDigest::of(&block(n + 100, "ours"), None))
                .collect(),
            ..blob(20, 22, 12, "ours")
        };
        seen.insert(forged);
        assert_eq!(seen.adoption(20, &digests(20, 22, "ours")), None);
        assert!(
            seen.holds(21),
            "a forged blob still counts as someone posting"
        );

        seen.forget_before(13);
        assert!(!seen.holds(12));
        assert!(seen.holds(20));

        // Blobs this node posted itself do not count as someone else posting.
        assert!(seen.holds_foreign_from(22));
        seen.note_own([B256::with_last_byte(12)]);
        assert!(!seen.holds_foreign_from(22));
        assert!(!seen.holds_foreign_from(23));
    }

    #[test]
    fn another_certificate_counts_only_if_the_check_accepts_it() {
        let seen = Seen::default();
        let ours = digests(1, 2, "ours");
        let theirs = |certificate: &str| SeenBlob {
            blocks: (1..=2)
                .map(|n| BlockDigest::of(&block(n, certificate), Some(&AcceptsValid)))
                .collect(),
            ..blob(1, 2, 5, certificate)
        };
        seen.insert(theirs("forged"));
        assert_eq!(seen.adoption(1, &ours), None);
        seen.insert(theirs("valid"));
        assert_eq!(seen.adoption(1, &ours).map(|a| a.da_height), Some(5));

        // A copy without certificates (finalized through a descendant) is as good.
        let seen = Seen::default();
        seen.insert(theirs(""));
        assert_eq!(seen.adoption(1, &ours).map(|a| a.da_height), Some(5));
    }

    #[test]
    fn copies_and_blobs_are_bounded() {
        let seen = Seen::default();
        for height in 0..10 {
            seen.insert(blob(1, 1, height, "x"));
        }
        assert_eq!(seen.lock()[&1].len(), MAX_COPIES);
        for first in 2..(MAX_BLOBS as u64 + 10) {
            seen.insert(blob(first, first, 1, "x"));
        }
        let total: usize = seen.lock().values().map(Vec::len).sum();
        assert!(total <= MAX_BLOBS);
        assert!(!seen.holds(1), "the oldest blobs went first");
    }
}
