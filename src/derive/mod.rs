//! Derivation from DA: rebuild and verify the chain from the blobs of its Celestia namespace.
//!
//! The sequencer posts every block to Celestia in format-v1 blobs (see `DESIGN.md`). Derivation
//! walks DA heights upwards, reads only the blobs of the chain's namespace ([`DaSource`]), decodes
//! them and imports every block through [`Engine::insert_block`], which re-executes it and checks
//! every header field (state root, receipts root, gas, …) against the result. A fresh datadir
//! derived this way reaches the sequencer's exact head hash and state root.
//!
//! What is skipped, with a warning, because anyone can post to a namespace: blobs that are not
//! format v1 (bad magic, garbage, corrupt payload), blobs of another chain id, blobs whose blocks
//! do not decode, and duplicates (blocks at or below the head, e.g. a batch re-posted after a
//! crash between submission and confirmation, or a standby poster taking over). What stops
//! derivation: a blob starting after `head + 1` ([`DeriveError::Gap`], naming the heights), a
//! block the engine rejects ([`DeriveError::Block`], naming the block), and a certified block
//! that does not extend the head ([`DeriveError::Fork`]).
//!
//! Invariants:
//! - Meta key [`DA_HEIGHT_KEY`] holds a DA height all of whose blobs are imported. It is written
//!   only after the blocks of the heights before it are committed, and never at or past the
//!   height of a block still held, so a crash never skips a block; a height read twice is
//!   harmless because its blocks are then duplicates.
//! - Blocks are imported in order, each in its own atomic write (see [`crate::engine`]).
//!
//! Finalization certificates: when the chainspec names a validator set, a block is imported
//! only when a verified certificate covers it — its own, or a descendant's reached by parent
//! hashes (see [`cover`]); blocks no certificate covers yet are held, and a blob with an invalid
//! certificate is skipped with a warning. Without a validator set in the chainspec (a `--dev`
//! chain) nothing is verified and blocks are imported on execution validity.

mod block;
mod cover;
mod error;
mod lookup;
mod source;

pub use error::{BlobError, DeriveError, Result};
pub use lookup::{DaBlock, blocks_at, find_block};
pub use source::DaSource;

use crate::{chainspec::ChainSpec, engine::Engine};
use alloy_primitives::{B256, Bytes};
use block::{DerivedBatch, decode_batch};
use cover::{Held, HeldBlock};

/// A block as read from DA.
type DaBlockOf = alloy_consensus::Block<alloy_consensus::TxEnvelope>;
use celestia_types::nmt::Namespace;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Meta key of the last DA height whose blobs are all imported (8 bytes, big-endian).
pub const DA_HEIGHT_KEY: &str = "derive/da_height";
/// How often progress is logged.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// How often the DA head is polled when waiting for new heights (a DA block takes ≥ 1 s on
/// Celestia, the embedded server may be faster).
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Empty DA heights between two progress writes: each write is a durable commit, and re-reading
/// up to this many empty heights after a crash is cheap.
const EMPTY_HEIGHTS_PER_WRITE: u64 = 256;

/// Where derivation stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeriveEnd {
    /// At the DA network head as of the start.
    NetworkHead,
    /// After this DA height, waiting for it if the DA is not there yet.
    Height(u64),
    /// Never: follow new DA heights until cancelled.
    Follow,
}

/// What to derive.
#[derive(Debug, Clone)]
pub struct DeriveConfig {
    /// First DA height to read; `None` resumes after the stored height (or starts at 1).
    pub from_height: Option<u64>,
    /// Where to stop.
    pub end: DeriveEnd,
    /// Verifies finalization certificates (see the module docs); `None` skips them.
    pub certificates: Option<crate::consensus::CertificateVerifier>,
    /// Import nothing, only confirm: on a node that imports the chain itself (following the
    /// validators over p2p), move `finalized` along the blocks DA holds exactly as the local
    /// chain has them ([`confirm_height`]).
    pub confirm_only: bool,
}

/// What a derivation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeriveStats {
    /// First DA height read.
    pub first_da_height: u64,
    /// Last DA height fully processed, if any.
    pub last_da_height: Option<u64>,
    /// Blobs of the namespace read.
    pub blobs: usize,
    /// Blobs skipped as not of this chain (garbage, foreign chain, undecodable blocks).
    pub skipped_blobs: usize,
    /// Blocks skipped as already imported.
    pub duplicate_blocks: usize,
    /// Blocks imported.
    pub imported: usize,
    /// Blocks confirmed (`confirm_only`): on DA exactly as in the local chain.
    pub confirmed: usize,
    /// Transactions imported.
    pub transactions: usize,
    /// Imported blocks whose own certificate was verified.
    pub certified: usize,
    /// Imported blocks without a verified certificate of their own: covered by a descendant's
    /// (or, on a chain without a validator set, not checked at all).
    pub uncertified: usize,
    /// Blocks read but dropped: too many held already, or too far ahead of the head.
    pub dropped_uncovered: usize,
    /// Blocks read but not imported (at the end): no certificate covers them yet, or their
    /// ancestors are not on DA yet.
    pub held: usize,
}

/// The namespace id the chain posts to ([`ChainSpec::da_namespace_id`]).
pub fn namespace_id(spec: &ChainSpec) -> Bytes {
    spec.da_namespace_id()
}

/// The chain's Celestia namespace (version 0).
pub fn namespace(spec: &ChainSpec) -> Result<Namespace> {
    let id = namespace_id(spec);
    let invalid = |message: String| DeriveError::Namespace {
        namespace: alloy_primitives::hex::encode(&id),
        message,
    };
    let namespace = Namespace::new_v0(&id).map_err(|e| invalid(e.to_string()))?;
    if namespace.is_reserved() {
        return Err(invalid("reserved by Celestia".into()));
    }
    Ok(namespace)
}

/// The DA height stored by a previous derivation into this datadir.
pub fn stored_da_height(engine: &Engine) -> Result<Option<u64>> {
    let raw = engine.db().provider()?.meta(DA_HEIGHT_KEY)?;
    Ok(raw
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(u64::from_be_bytes))
}

fn store_da_height(engine: &Engine, height: u64) -> Result<()> {
    let writer = engine.db().writer()?;
    writer.set_meta(DA_HEIGHT_KEY, &height.to_be_bytes())?;
    writer.commit()?;
    Ok(())
}

/// Derives the chain of `engine` from `source` until `config.end` or `cancel`.
pub async fn derive(
    engine: &Engine,
    source: &DaSource,
    config: &DeriveConfig,
    cancel: &CancellationToken,
) -> Result<DeriveStats> {
    let stored = stored_da_height(engine)?;
    let mut height = config
        .from_height
        .or_else(|| stored.map(|h| h.saturating_add(1)))
        .unwrap_or(1)
        .max(1);
    let mut stats = DeriveStats {
        first_da_height: height,
        ..Default::default()
    };
    let mut network_head = source.network_head().await?;
    tracing::info!(
        target: "hauptbuch::derive",
        from_da_height = height,
        stored_da_height = ?stored,
        da_head = network_head,
        head = engine.head()?.number,
        end = ?config.end,
        "deriving from DA"
    );
    let started = Instant::now();
    let mut last_log = Instant::now();
    let mut unstored = 0u64;
    let mut held = Held::default();
    loop {
        if let DeriveEnd::Height(end) = config.end
            && height > end
        {
            break;
        }
        if height > network_head {
            if config.end == DeriveEnd::NetworkHead {
                break;
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
            network_head = source.network_head().await?;
            continue;
        }
        if cancel.is_cancelled() {
            break;
        }
        let imported = if config.confirm_only {
            let Some(confirmed) = confirm_height(engine, source, height, &mut stats).await? else {
                // A blob continues the confirmed chain past the local head: read this height
                // again once the local chain has moved on.
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
                continue;
            };
            stats.last_da_height = Some(height);
            if confirmed > 0 {
                store_da_height(engine, height)?;
                unstored = 0;
            }
            confirmed
        } else {
            derive_height(engine, source, height, config, &mut held, &mut stats).await?
        };
        if imported > 0 && !config.confirm_only {
            // Read from final DA data: the derived head is soft and firm at once.
            let head = engine.head()?.hash();
            engine.update_forkchoice(Some(head), Some(head))?;
        }
        stats.last_da_height = Some(height);
        unstored += 1;
        if imported > 0 || unstored >= EMPTY_HEIGHTS_PER_WRITE {
            store_da_height(engine, done_through(height, &held))?;
            unstored = 0;
        }
        if last_log.elapsed() >= PROGRESS_INTERVAL {
            last_log = Instant::now();
            tracing::info!(
                target: "hauptbuch::derive",
                da_height = height,
                da_head = network_head,
                head = engine.head()?.number,
                imported = stats.imported,
                elapsed = ?started.elapsed(),
                "derivation progress"
            );
        }
        height += 1;
    }
    if let Some(last) = stats.last_da_height
        && unstored > 0
    {
        store_da_height(engine, done_through(last, &held))?;
    }
    stats.held = held.len();
    Ok(stats)
}

/// The DA height all of whose blobs are imported once `height` is read: the one before the
/// oldest held block's, if any is held (a restart reads it again).
fn done_through(height: u64, held: &Held) -> u64 {
    held.min_da_height()
        .map_or(height, |oldest| oldest.saturating_sub(1).min(height))
}

/// Confirm-only derivation of DA height `height`: for the blobs continuing the local
/// `finalized` block in order, each block whose hash equals the local chain's at its number
/// becomes `finalized`. A blob holding another block there (anyone can post to the namespace)
/// is skipped, as is one that does not continue the confirmed chain. Returns how many blocks
/// were confirmed, or `None` (after confirming what it could) when a blob continues the
/// confirmed chain past the local head: the caller reads the height again later.
async fn confirm_height(
    engine: &Engine,
    source: &DaSource,
    height: u64,
    stats: &mut DeriveStats,
) -> Result<Option<usize>> {
    let blobs = source.blobs_at(height).await?;
    stats.blobs += blobs.len();
    let chain_id = engine.spec().chain_id;
    let mut batches = Vec::with_capacity(blobs.len());
    for blob in &blobs {
        match decode_batch(chain_id, &blob.data) {
            Ok(batch) => batches.push(batch),
            Err(_) => stats.skipped_blobs += 1,
        }
    }
    batches.sort_by_key(|batch| batch.first);
    let provider = engine.db().provider()?;
    let mut next = engine.forkchoice()?.finalized.number + 1;
    let mut confirmed = None;
    let mut count = 0;
    let mut behind = false;
    'batches: for batch in batches {
        if batch.last < next {
            stats.duplicate_blocks += batch.blocks.len();
            continue;
        }
        if batch.first > next {
            stats.skipped_blobs += 1;
            tracing::debug!(
                target: "hauptbuch::derive",
                da_height = height,
                first = batch.first,
                next,
                "skipping blob that does not continue the confirmed chain"
            );
            continue;
        }
        let skip = usize::try_from(next - batch.first).unwrap_or(usize::MAX);
        for block in batch.blocks.iter().skip(skip) {
            let number = block.header.number;
            let hash = block.header.hash_slow();
            match provider.canonical_hash(number)? {
                Some(local) if local == hash => {
                    confirmed = Some(hash);
                    count += 1;
                    next = number + 1;
                }
                Some(local) => {
                    stats.skipped_blobs += 1;
                    tracing::warn!(
                        target: "hauptbuch::derive",
                        da_height = height,
                        number,
                        %hash,
                        %local,
                        "skipping blob holding another block than the local chain's"
                    );
                    continue 'batches;
                }
                None => {
                    behind = true;
                    break 'batches;
                }
            }
        }
    }
    if let Some(hash) = confirmed {
        engine.update_forkchoice(None, Some(hash))?;
        stats.confirmed += count;
    }
    Ok((!behind).then_some(count))
}

/// Imports the blobs of DA height `height`; returns the number of blocks imported.
async fn derive_height(
    engine: &Engine,
    source: &DaSource,
    height: u64,
    config: &DeriveConfig,
    held: &mut Held,
    stats: &mut DeriveStats,
) -> Result<usize> {
    let blobs = source.blobs_at(height).await?;
    stats.blobs += blobs.len();
    let chain_id = engine.spec().chain_id;
    let mut batches = Vec::with_capacity(blobs.len());
    for (index, blob) in blobs.iter().enumerate() {
        match decode_batch(chain_id, &blob.data) {
            Ok(batch) => batches.push(batch),
            Err(err) => {
                stats.skipped_blobs += 1;
                tracing::warn!(
                    target: "hauptbuch::derive",
                    da_height = height,
                    index,
                    commitment = %alloy_primitives::hex::encode(blob.commitment.hash()),
                    bytes = blob.data.len(),
                    %err,
                    "skipping blob that is not part of this chain"
                );
            }
        }
    }
    // The node posts in order, but nothing forces the DA to keep the order within a height.
    batches.sort_by_key(|batch| batch.first);
    // Not interruptible between blobs: the height is recorded as done once this returns.
    let mut imported = 0;
    for batch in batches {
        imported += import_batch(engine, height, batch, config, held, stats).await?;
    }
    Ok(imported)
}

/// Imports the blocks of `batch` above the head; returns how many were imported.
async fn import_batch(
    engine: &Engine,
    da_height: u64,
    batch: DerivedBatch,
    config: &DeriveConfig,
    held: &mut Held,
    stats: &mut DeriveStats,
) -> Result<usize> {
    let head = engine.head()?;
    if batch.last <= head.number {
        stats.duplicate_blocks += batch.blocks.len();
        // Expected: a crash between submission and confirmation, or a standby taking over,
        // re-posts a batch.
        tracing::debug!(
            target: "hauptbuch::derive",
            da_height,
            first = batch.first,
            last = batch.last,
            head = head.number,
            "skipping blob of blocks already imported (duplicate)"
        );
        return Ok(0);
    }
    let next = head.number + 1;
    let duplicates = usize::try_from(next.saturating_sub(batch.first)).unwrap_or(usize::MAX);
    if duplicates > 0 {
        stats.duplicate_blocks += duplicates;
        tracing::debug!(
            target: "hauptbuch::derive",
            da_height,
            first = batch.first,
            through = head.number,
            "skipping blocks already imported (duplicate)"
        );
    }
    let first = batch.first.max(next);
    let blocks: Vec<_> = batch
        .blocks
        .into_iter()
        .zip(batch.certificates)
        .skip(duplicates)
        .collect();
    let chain = match &config.certificates {
        Some(verifier) => {
            match covered_chain(verifier, &head, da_height, first, blocks, held, stats)? {
                Some(chain) => chain,
                None => return Ok(0),
            }
        }
        None => {
            if first > next {
                return Err(DeriveError::Gap {
                    da_height,
                    first,
                    last: batch.last,
                    head: head.number,
                    next,
                });
            }
            blocks
                .into_iter()
                .map(|(block, _)| (block, false))
                .collect()
        }
    };
    execute(engine, da_height, chain, stats).await
}

/// On a chain with a validator set: holds the blocks of this blob (after the head) with their
/// verified certificates, then takes the longest chain from the head that a held certified
/// block covers through parent hashes, oldest first, each with whether its own certificate
/// covers it. `None` when nothing can be imported yet (no covering certificate reaches the
/// head, or the blob is skipped for an invalid certificate).
fn covered_chain(
    verifier: &crate::consensus::CertificateVerifier,
    head: &alloy_consensus::Header,
    da_height: u64,
    first: u64,
    blocks: Vec<(DaBlockOf, Bytes)>,
    held: &mut Held,
    stats: &mut DeriveStats,
) -> Result<Option<Vec<(DaBlockOf, bool)>>> {
    let mut checked = Vec::with_capacity(blocks.len());
    for (block, certificate) in blocks {
        let hash = block.header.hash_slow();
        let certified = !certificate.is_empty();
        if certified && let Err(err) = verifier.verify(&certificate, hash) {
            // Anyone can post to the namespace: a bad certificate discredits the whole blob.
            stats.skipped_blobs += 1;
            tracing::warn!(
                target: "hauptbuch::derive",
                da_height,
                number = block.header.number,
                %hash,
                %err,
                "skipping blob with an invalid finalization certificate"
            );
            return Ok(None);
        }
        checked.push((block, hash, certified));
    }
    let last = first + checked.len() as u64 - 1;
    hold(held, head.number, da_height, checked, stats);
    let Some(chain) = held.take_covered(head.number, head.hash_slow()) else {
        tracing::debug!(
            target: "hauptbuch::derive",
            da_height, first, last, held = held.len(),
            "blocks held until a certificate covers them and their ancestors are here"
        );
        return Ok(None);
    };
    let chain = chain.map_err(|(number, hash)| DeriveError::Fork {
        number,
        hash,
        da_height,
        head: head.number,
    })?;
    Ok(Some(
        chain
            .into_iter()
            .map(|held| (held.block, held.certified))
            .collect(),
    ))
}

/// Holds blocks (with whether their own verified certificate covers them), warning about those
/// the bounds drop.
fn hold(
    held: &mut Held,
    head: u64,
    da_height: u64,
    blocks: Vec<(DaBlockOf, B256, bool)>,
    stats: &mut DeriveStats,
) {
    for (block, hash, certified) in blocks {
        let number = block.header.number;
        if !held.insert(
            head,
            HeldBlock {
                block,
                hash,
                da_height,
                certified,
            },
        ) {
            stats.dropped_uncovered += 1;
            tracing::warn!(
                target: "hauptbuch::derive",
                da_height,
                number,
                %hash,
                "dropping a block from DA: too many blocks held, or too far ahead of the head"
            );
        }
    }
}

/// Executes and imports `chain` (oldest first; each with whether its own certificate covered
/// it); returns how many blocks were imported.
async fn execute(
    engine: &Engine,
    da_height: u64,
    chain: Vec<(DaBlockOf, bool)>,
    stats: &mut DeriveStats,
) -> Result<usize> {
    // Execution is CPU-bound: keep it off the async workers.
    let task_engine = engine.clone();
    let (summaries, certified) = tokio::task::spawn_blocking(move || {
        let mut summaries = Vec::with_capacity(chain.len());
        let mut certified = 0;
        for (block, own_certificate) in chain {
            let (number, hash) = (block.header.number, block.header.hash_slow());
            match task_engine.insert_block(block) {
                Ok(summary) => summaries.push(summary),
                Err(source) => {
                    return Err(DeriveError::Block {
                        number,
                        hash,
                        da_height,
                        source: Box::new(source),
                    });
                }
            }
            certified += usize::from(own_certificate);
        }
        Ok((summaries, certified))
    })
    .await
    .map_err(|e| DeriveError::Task(e.to_string()))??;
    stats.certified += certified;
    stats.uncertified += summaries.len() - certified;
    for summary in &summaries {
        stats.imported += 1;
        stats.transactions += summary.transactions;
        tracing::debug!(
            target: "hauptbuch::derive",
            da_height,
            number = summary.number,
            hash = %summary.hash,
            txs = summary.transactions,
            "derived block"
        );
    }
    if let Some(last) = summaries.last() {
        tracing::info!(
            target: "hauptbuch::derive",
            da_height,
            blocks = summaries.len(),
            head = last.number,
            hash = %last.hash,
            "imported blob"
        );
    }
    Ok(summaries.len())
}
