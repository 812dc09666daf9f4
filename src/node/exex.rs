//! The ExEx manager: feeds each execution extension the canonical chain from the database, in
//! order and without gaps, and applies what it reports back.
//!
//! Invariants:
//! - An ExEx's finished height is persisted (meta key `exex/<name>/finished`) before the node
//!   forgets it; after a restart the feed resumes at the next block, so nothing is skipped.
//! - Memory stays bounded however far an ExEx falls behind: notifications are read from the
//!   database in chunks of [`CHUNK`] blocks into a channel of [`CHANNEL_CAPACITY`] entries; the
//!   engine's broadcast only wakes the feeder up, it is never buffered for the ExEx.
//! - `Firm` reports move `finalized` forward only (never backwards, never past `safe`).
//! - A `FinishedHeight` is persisted before it is passed on to block production's bound on
//!   unposted blocks ([`PostedHeight`]), if the ExEx has one.

use crate::{consensus::PostedHeight, engine::Engine, storage::Provider};
use alloy_consensus::{BlockBody, Header, TxEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::{B256, Bytes};
use hauptbuch_exex::{BlockNumHash, CommittedBlock, ExExContext, ExExEvent, ExExNotification};
use std::future::Future;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_util::sync::CancellationToken;

/// Blocks per notification when catching up.
const CHUNK: u64 = 64;
/// Notifications buffered per ExEx.
const CHANNEL_CAPACITY: usize = 8;

fn meta_key(name: &str) -> String {
    format!("exex/{name}/finished")
}

/// The finished height persisted for ExEx `name`.
pub(crate) fn finished_height(engine: &Engine, name: &str) -> eyre::Result<Option<BlockNumHash>> {
    let raw = engine.db().provider()?.meta(&meta_key(name))?;
    Ok(raw.filter(|v| v.len() == 40).map(|v| BlockNumHash {
        number: u64::from_be_bytes(v[..8].try_into().unwrap_or_default()),
        hash: B256::from_slice(&v[8..]),
    }))
}

fn persist_finished(engine: &Engine, name: &str, block: BlockNumHash) -> eyre::Result<()> {
    let mut value = block.number.to_be_bytes().to_vec();
    value.extend_from_slice(block.hash.as_slice());
    let writer = engine.db().writer()?;
    writer.set_meta(&meta_key(name), &value)?;
    writer.commit()?;
    Ok(())
}

/// Reads canonical block `number` as an ExEx sees it.
fn committed_block(provider: &Provider, number: u64) -> eyre::Result<Option<CommittedBlock>> {
    let Some(hash) = provider.canonical_hash(number)? else {
        return Ok(None);
    };
    let header: Header = provider
        .header(hash)?
        .ok_or_else(|| eyre::eyre!("header {hash} missing"))?;
    let body: BlockBody<TxEnvelope> = provider
        .body(hash)?
        .ok_or_else(|| eyre::eyre!("body {hash} missing"))?;
    let mut transactions = Vec::new();
    let encoded: Vec<Bytes> = body
        .transactions
        .iter()
        .map(|tx| tx.encoded_2718().into())
        .collect();
    alloy_rlp::encode_list::<Bytes, Bytes>(&encoded, &mut transactions);
    Ok(Some(CommittedBlock {
        block: BlockNumHash { number, hash },
        timestamp: header.timestamp,
        header: alloy_rlp::encode(&header).into(),
        transactions: transactions.into(),
        certificate: provider.certificate(number)?.unwrap_or_default().into(),
    }))
}

/// Starts ExEx `name` (built by `exex` from its context) with its feeder and event handler;
/// its finished heights also go to `posted`, when given.
pub(crate) fn spawn<F, Fut>(
    tasks: &mut tokio::task::JoinSet<eyre::Result<()>>,
    name: &'static str,
    engine: Engine,
    cancel: CancellationToken,
    posted: Option<PostedHeight>,
    exex: F,
) -> eyre::Result<()>
where
    F: FnOnce(ExExContext) -> Fut,
    Fut: Future<Output = eyre::Result<()>> + Send + 'static,
{
    let finished = finished_height(&engine, name)?;
    let (notifications_tx, notifications) = mpsc::channel(CHANNEL_CAPACITY);
    let (events, mut events_rx) = mpsc::unbounded_channel();
    let context = ExExContext {
        notifications,
        events,
        finished,
    };
    tasks.spawn(exex(context));

    // Feeder: from the database, in chunks, waking on new canonical blocks.
    let (feeder_engine, feeder_cancel) = (engine.clone(), cancel.clone());
    let start = finished.map_or(1, |f| f.number + 1);
    tasks.spawn(async move {
        let mut wake = feeder_engine.subscribe();
        let mut next = start;
        loop {
            let head = feeder_engine.head()?.number;
            while next <= head {
                let last = (next + CHUNK - 1).min(head);
                let provider = feeder_engine.db().provider()?;
                let mut blocks = Vec::new();
                for number in next..=last {
                    blocks.extend(committed_block(&provider, number)?);
                }
                drop(provider);
                next = last + 1;
                tokio::select! {
                    biased;
                    () = feeder_cancel.cancelled() => return Ok(()),
                    sent = notifications_tx.send(ExExNotification::ChainCommitted { blocks }) => {
                        if sent.is_err() {
                            return Ok(()); // the ExEx stopped; its own task reports why
                        }
                    }
                }
            }
            tokio::select! {
                biased;
                () = feeder_cancel.cancelled() => return Ok(()),
                received = wake.recv() => if let Err(RecvError::Closed) = received {
                    return Ok(());
                },
            }
        }
    });

    // Events: persist progress, move `finalized`.
    tasks.spawn(async move {
        loop {
            let event = tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                event = events_rx.recv() => match event {
                    Some(event) => event,
                    None => return Ok(()),
                },
            };
            match event {
                ExExEvent::FinishedHeight(block) => {
                    persist_finished(&engine, name, block)?;
                    if let Some(posted) = &posted {
                        posted.set(block.number);
                        let head = engine.head()?.number;
                        metrics::gauge!("hauptbuch_da_unposted_blocks")
                            .set(head.saturating_sub(block.number) as f64);
                    }
                }
                ExExEvent::Firm { block, location } => {
                    let current = engine.forkchoice()?;
                    if block.number <= current.finalized.number {
                        continue;
                    }
                    match engine.update_forkchoice(None, Some(block.hash)) {
                        Ok(_) => {
                            let soft_at = engine
                                .db()
                                .provider()?
                                .header(block.hash)?
                                .map(|h| h.timestamp)
                                .unwrap_or_default();
                            let now = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap_or_default()
                                .as_secs();
                            metrics::gauge!("hauptbuch_firm_head_number").set(block.number as f64);
                            tracing::info!(
                                exex = name,
                                number = block.number,
                                hash = %block.hash,
                                da_height = location.height,
                                commitment = %location.commitment,
                                soft_to_firm_secs = now.saturating_sub(soft_at),
                                "block is firm"
                            );
                        }
                        Err(err) => tracing::warn!(exex = name, %err, "cannot mark block firm"),
                    }
                }
            }
        }
    });
    Ok(())
}
