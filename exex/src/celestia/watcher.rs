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
/// Blobs kept in all; past it, those starting furthest ahead go first.
const MAX_BLOBS: usize = 4096;
/// Block digests kept in all (~17 MB), whatever the blobs hold.
const MAX_DIGESTS: usize = 262_144;
/// Blobs starting this many blocks past the standby's next block are not kept.
const WINDOW: u64 = 65_536;
/// celestia-node's answer for a height without blobs of the namespace (older versions).
const BLOB_NOT_FOUND: &str = "blob: not found";

/// One block as the watcher keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockDigest {
    /// Hash of the header and transaction bytes.
    content: B256,
    /// Hash of the certificate bytes.
    certificate: B256,
    /// Whether the certificate is acceptable: valid for the validator set, or absent.
    certificate_valid: bool,
    /// Whether the block carries a certificate of its own that is valid (own blocks: any).
    certified: bool,
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
        let valid = !block.certificate.is_empty() && check.is_some_and(|c| c.is_valid(block));
        Self {
            content: content.finalize(),
            certificate: keccak256(&block.certificate),
            certificate_valid: block.certificate.is_empty() || valid,
            certified: valid,
        }
    }

    /// The digest of one of this node's own blocks (its certificate is trusted).
    pub(crate) fn own(block: &BatchBlock) -> Self {
        Self {
            certified: !block.certificate.is_empty(),
            ..Self::of(block, None)
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
    /// Commitments of the blobs this node submitted itself, with their order (oldest first).
    own: Mutex<(HashSet<B256>, std::collections::VecDeque<B256>)>,
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
        // Past the bounds, drop what starts furthest ahead: the standby needs the lowest next.
        while blobs.values().map(Vec::len).sum::<usize>() > MAX_BLOBS
            || blobs
                .values()
                .flatten()
                .map(|b| b.blocks.len())
                .sum::<usize>()
                > MAX_DIGESTS
        {
            blobs.pop_last();
        }
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Forgets blobs that end before block `next` or start far beyond it.
    pub(crate) fn forget_before(&self, next: u64) {
        let mut blobs = self.lock();
        blobs.retain(|first, copies| {
            copies.retain(|b| b.last() >= next);
            !copies.is_empty() && *first <= next.saturating_add(WINDOW)
        });
    }

    /// Notes blobs this node submits (before it submits them); the oldest are forgotten past
    /// [`MAX_BLOBS`].
    pub(crate) fn note_own(&self, commitments: impl IntoIterator<Item = B256>) {
        let mut own = self.own.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *own;
        for commitment in commitments {
            if set.insert(commitment) {
                order.push_back(commitment);
            }
        }
        while order.len() > MAX_BLOBS {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
    }

    /// Whether a blob someone else posted holds one of `posted` (blocks this node posted, by
    /// number) exactly as this node posted it: another poster is live again.
    pub(crate) fn foreign_holds(&self, posted: &BTreeMap<u64, BlockDigest>) -> bool {
        let own = self.own.lock().unwrap_or_else(|p| p.into_inner());
        self.lock().values().flatten().any(|b| {
            !own.0.contains(&b.commitment)
                && posted
                    .range(b.first..=b.last())
                    .any(|(number, digest)| b.blocks[(number - b.first) as usize].is(digest))
        })
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
                let theirs = &b.blocks[skip..];
                // The copy must be as good as this node's own post: its last block carries a
                // valid certificate unless this node's has none either (derivation imports a
                // block only once a certificate covers it).
                let last_ok = match (theirs.last(), ours.get(theirs.len().wrapping_sub(1))) {
                    (Some(seen), Some(own)) => {
                        seen.certified || !own.certified || seen.certificate == own.certificate
                    }
                    _ => false,
                };
                last_ok && theirs.iter().zip(ours).all(|(seen, own)| seen.is(own))
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

        // Someone else posting is a foreign blob holding a block as this node posted it; the
        // forged 20..=22 does not count, nor do this node's own blobs.
        let posted: BTreeMap<u64, BlockDigest> = (20..=22)
            .map(|n| (n, BlockDigest::of(&block(n, "ours"), None)))
            .collect();
        assert!(!seen.foreign_holds(&posted));
        seen.insert(blob(21, 22, 13, "ours"));
        assert!(seen.foreign_holds(&posted));
        seen.note_own([B256::with_last_byte(13)]);
        assert!(!seen.foreign_holds(&posted));
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
        assert!(seen.holds(1), "the blobs furthest ahead went first");
        assert!(!seen.holds(MAX_BLOBS as u64 + 9));
        // Blobs far beyond the next block are forgotten.
        seen.forget_before(2);
        assert!(seen.lock().keys().all(|first| *first <= 2 + WINDOW));
    }

    #[test]
    fn a_copy_without_the_last_certificate_is_adopted_only_if_ours_has_none_either() {
        let seen = Seen::default();
        let ours: Vec<BlockDigest> = (1..=2)
            .map(|n| BlockDigest::own(&block(n, "ours")))
            .collect();
        let stripped = SeenBlob {
            blocks: (1..=2)
                .map(|n| BlockDigest::of(&block(n, ""), None))
                .collect(),
            ..blob(1, 2, 5, "")
        };
        seen.insert(stripped);
        assert_eq!(
            seen.adoption(1, &ours),
            None,
            "ours is certified, the copy is not"
        );
        let uncertified: Vec<BlockDigest> =
            (1..=2).map(|n| BlockDigest::own(&block(n, ""))).collect();
        assert!(seen.adoption(1, &uncertified).is_some());
    }
}
