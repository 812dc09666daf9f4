//! Transaction gossip between validators: a transaction a node accepts (over RPC) is sent to every
//! other validator, so whichever validator leads the next view can include it. Received
//! transactions go through the same pool validation as RPC ones and are not sent on again.
//!
//! Messages are RLP lists of EIP-2718 transactions, batched for at most [`FLUSH_AFTER`] or
//! [`MAX_BATCH_BYTES`]. A message that does not decode is dropped with a warning.

use crate::{engine::Engine, txpool::TxPool};
use alloy_eips::Encodable2718;
use alloy_primitives::{B256, Bytes, keccak256, map::HashSet};
use alloy_rlp::{Decodable, Encodable};
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Clock;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Longest a transaction waits to be sent.
const FLUSH_AFTER: Duration = Duration::from_millis(10);
/// Largest batch (well below the p2p message limit).
const MAX_BATCH_BYTES: usize = 512 * 1024;
/// Hashes of received transactions remembered so they are not gossiped back.
const RECEIVED_CAPACITY: usize = 100_000;

/// Runs gossip until the pool or the network closes.
pub async fn run<E, S, R>(context: E, engine: Engine, pool: TxPool, network: (S, R))
where
    E: Clock,
    S: Sender,
    R: Receiver,
{
    let (mut sender, mut receiver) = network;
    let mut new_pending = pool.subscribe();
    let mut received: HashSet<B256> = HashSet::default();
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batch_bytes = 0;
    let mut deadline = None;
    loop {
        let flush = async {
            match deadline {
                Some(at) => context.sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            hash = new_pending.recv() => match hash {
                Ok(hash) => {
                    if received.remove(&hash) {
                        continue;
                    }
                    let Some(tx) = pool.get(&hash) else { continue };
                    let raw: Bytes = tx.inner().encoded_2718().into();
                    batch_bytes += raw.len();
                    batch.push(raw);
                    deadline.get_or_insert_with(|| context.current() + FLUSH_AFTER);
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "transaction gossip lagged behind the pool");
                }
                Err(RecvError::Closed) => return,
            },
            message = receiver.recv() => {
                let Ok((peer, message)) = message else { return };
                let Ok(list) = Vec::<Bytes>::decode(&mut message.as_ref()) else {
                    tracing::warn!(%peer, "dropping an undecodable transaction batch");
                    continue;
                };
                let Ok(state) = engine.db().provider() else { continue };
                if received.len() >= RECEIVED_CAPACITY {
                    received.clear();
                }
                for raw in list {
                    received.insert(keccak256(&raw));
                    // Known, invalid or underpriced transactions are the sender's problem.
                    let _ = pool.add_raw(&raw, &state);
                }
            },
            () = flush => {}
        }
        let due = deadline.is_some_and(|at| context.current() >= at);
        if !batch.is_empty() && (due || batch_bytes >= MAX_BATCH_BYTES) {
            let mut message = Vec::with_capacity(batch_bytes + 8);
            batch.encode(&mut message);
            sender.send(Recipients::All, message, false);
            batch.clear();
            batch_bytes = 0;
            deadline = None;
        }
    }
}
