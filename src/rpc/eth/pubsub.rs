//! Subscriptions of the `eth_` namespace (`eth_subscribe`/`eth_unsubscribe`, WS only): the
//! jsonrpsee trait ([`EthPubSubApiServer`]) and its implementation ([`EthPubSubRpc`]).
//!
//! Kinds, as in geth:
//! - `newHeads`: the RPC header of every block that becomes canonical, in order;
//! - `logs` (optional filter of addresses and topics): every matching log of those blocks, one
//!   notification per log;
//! - `newPendingTransactions`: hashes of transactions entering the pool as pending, or with
//!   `true` the full transactions.
//!
//! Each subscription is one task reading the engine's or the pool's broadcast and writing to the
//! connection. Neither the engine nor the pool ever waits for a subscriber: both broadcasts are
//! bounded rings. A subscriber that falls a whole ring behind, or whose connection does not take a
//! notification within [`SEND_TIMEOUT`], is closed with an error notification saying why, instead
//! of having notifications buffered for it without bound.

use super::{convert, filter};
use crate::{engine::Engine, txpool::TxPool};
use alloy_consensus::Sealed;
use alloy_primitives::B256;
use alloy_rpc_types_eth::{
    Filter, Header as RpcHeader,
    pubsub::{Params, SubscriptionKind},
};
use jsonrpsee::{
    PendingSubscriptionSink, SendTimeoutError, SubscriptionMessage, SubscriptionSink,
    core::{SubscriptionError, SubscriptionResult, async_trait, to_json_raw_value},
    proc_macros::rpc,
    types::ErrorObject,
};
use serde::Serialize;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// How long one notification may wait for room in the connection's send buffer before the
/// subscriber counts as stalled and is closed. Long enough for a busy client on a slow link.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Subscriptions (`eth_subscribe`), as implemented by geth.
#[rpc(server, namespace = "eth")]
pub trait EthPubSubApi {
    /// Subscribes to `newHeads`, `logs` (with an optional filter) or `newPendingTransactions`
    /// (with `true` for full transactions). Notifications arrive as `eth_subscription`.
    #[subscription(
        name = "subscribe" => "subscription",
        unsubscribe = "unsubscribe",
        item = serde_json::Value
    )]
    async fn subscribe(&self, kind: SubscriptionKind, params: Option<Params>)
    -> SubscriptionResult;
}

/// The `eth_` subscriptions over the engine's and the pool's notifications.
#[derive(Debug, Clone)]
pub struct EthPubSubRpc {
    engine: Engine,
    pool: TxPool,
}

impl EthPubSubRpc {
    /// Creates the namespace.
    pub const fn new(engine: Engine, pool: TxPool) -> Self {
        Self { engine, pool }
    }
}

#[async_trait]
impl EthPubSubApiServer for EthPubSubRpc {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: SubscriptionKind,
        params: Option<Params>,
    ) -> SubscriptionResult {
        // Subscribe to the source before accepting, so nothing between the two is missed.
        match (kind, params.unwrap_or_default()) {
            (SubscriptionKind::NewHeads, Params::None) => {
                let blocks = self.engine.subscribe();
                let sink = pending.accept().await?;
                forward(&sink, blocks, |block| {
                    vec![RpcHeader::from_sealed(Sealed::new_unchecked(
                        block.header.clone(),
                        block.hash,
                    ))]
                })
                .await
            }
            (SubscriptionKind::Logs, params @ (Params::None | Params::Logs(_))) => {
                let filter = match params {
                    Params::Logs(filter) => *filter,
                    _ => Filter::new(),
                };
                let blocks = self.engine.subscribe();
                let sink = pending.accept().await?;
                forward(&sink, blocks, |block| {
                    let mut logs = Vec::new();
                    if filter::may_contain(&filter, block.header.logs_bloom) {
                        filter::append_block_logs(
                            &mut logs,
                            &filter,
                            block.hash,
                            &block.header,
                            &block.body,
                            &block.receipts,
                        );
                    }
                    logs
                })
                .await
            }
            (SubscriptionKind::NewPendingTransactions, Params::None | Params::Bool(false)) => {
                let hashes = self.pool.subscribe();
                let sink = pending.accept().await?;
                forward(&sink, hashes, |hash: B256| vec![hash]).await
            }
            (SubscriptionKind::NewPendingTransactions, Params::Bool(true)) => {
                let hashes = self.pool.subscribe();
                let sink = pending.accept().await?;
                let pool = self.pool.clone();
                // A transaction mined or dropped before we look it up is skipped.
                forward(&sink, hashes, |hash: B256| {
                    pool.get(&hash)
                        .map(|tx| convert::rpc_pending_transaction(&tx))
                        .into_iter()
                        .collect()
                })
                .await
            }
            (kind, params) => {
                let message = match kind {
                    SubscriptionKind::NewHeads
                    | SubscriptionKind::Logs
                    | SubscriptionKind::NewPendingTransactions => {
                        format!("invalid parameters for {kind} subscription: {params:?}")
                    }
                    SubscriptionKind::Syncing | SubscriptionKind::TransactionReceipts => {
                        format!("unsupported subscription kind {kind}")
                    }
                };
                pending
                    .reject(ErrorObject::owned(
                        crate::rpc::error::INVALID_PARAMS,
                        message,
                        None::<()>,
                    ))
                    .await;
                Ok(())
            }
        }
    }
}

/// Sends what `notifications` yields, mapped by `items`, until the subscriber leaves (`Ok`) or
/// lags or stalls (`Err`, sent to it as the closing error notification).
async fn forward<T, I>(
    sink: &SubscriptionSink,
    mut notifications: broadcast::Receiver<T>,
    mut items: impl FnMut(T) -> Vec<I>,
) -> SubscriptionResult
where
    T: Clone,
    I: Serialize,
{
    loop {
        let notification = tokio::select! {
            biased;
            () = sink.closed() => return Ok(()),
            notification = notifications.recv() => notification,
        };
        let notification = match notification {
            Ok(notification) => notification,
            Err(RecvError::Lagged(missed)) => {
                return Err(SubscriptionError::from(format!(
                    "subscriber too slow: missed {missed} notifications; subscribe again"
                )));
            }
            // The node is shutting down.
            Err(RecvError::Closed) => return Ok(()),
        };
        for item in items(notification) {
            let message = SubscriptionMessage::from(to_json_raw_value(&item)?);
            match sink.send_timeout(message, SEND_TIMEOUT).await {
                Ok(()) => {}
                Err(SendTimeoutError::Closed(_)) => return Ok(()),
                Err(SendTimeoutError::Timeout(_)) => {
                    return Err(SubscriptionError::from(format!(
                        "subscriber too slow: a notification waited {}s to be sent",
                        SEND_TIMEOUT.as_secs()
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        chainspec::ChainSpec,
        execution::BlockAttributes,
        storage::Database,
        txpool::{PoolConfig, PoolEnv},
    };
    use revm::primitives::hardfork::SpecId;
    use std::sync::Arc;

    fn engine(dir: &std::path::Path) -> Engine {
        let spec = ChainSpec::from_arg("devnet").expect("devnet");
        let engine = Engine::new(spec, Arc::new(Database::open(dir).expect("database")));
        engine.init_genesis().expect("genesis");
        engine
    }

    fn empty_block(engine: &Engine) {
        let head = engine.head().expect("head");
        let attributes = BlockAttributes {
            timestamp: head.timestamp + 1,
            gas_limit: head.gas_limit,
            ..Default::default()
        };
        engine
            .build_and_commit(attributes, Vec::new())
            .expect("block");
    }

    async fn notification(
        rx: &mut tokio::sync::mpsc::Receiver<Box<serde_json::value::RawValue>>,
    ) -> serde_json::Value {
        let raw = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("notification in time")
            .expect("open");
        serde_json::from_str(raw.get()).expect("json")
    }

    /// The test runtime has one thread: the subscription task cannot run while the test commits
    /// blocks, so it falls as far behind as the test wants, deterministically.
    #[tokio::test]
    async fn heads_arrive_in_order_and_a_subscriber_a_whole_ring_behind_is_closed_with_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine(dir.path());
        let env = PoolEnv {
            chain_id: engine.spec().chain_id,
            spec_id: SpecId::PRAGUE,
            next_base_fee: 1_000_000_000,
            block_gas_limit: 30_000_000,
        };
        let pool = TxPool::new(PoolConfig::default(), env);
        let module = EthPubSubRpc::new(engine.clone(), pool).into_rpc();
        let subscribe =
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}"#;

        let (response, mut heads) = module
            .raw_json_request(subscribe, 1024)
            .await
            .expect("subscribe");
        assert!(response.get().contains("result"), "{response}");
        for _ in 0..3 {
            empty_block(&engine);
        }
        for number in 1..=3u64 {
            let head = notification(&mut heads).await;
            assert_eq!(head["method"], "eth_subscription");
            assert_eq!(head["params"]["result"]["number"], format!("0x{number:x}"));
        }

        let (_, mut lagging) = module
            .raw_json_request(subscribe, 1024)
            .await
            .expect("subscribe");
        // More blocks than the engine's notification ring holds, without the subscriber running.
        for _ in 0..300 {
            empty_block(&engine);
        }
        let closing = notification(&mut lagging).await;
        let error = closing["params"]["error"].as_str().unwrap_or_default();
        assert!(error.contains("subscriber too slow"), "{closing}");
        assert!(
            tokio::time::timeout(Duration::from_secs(10), lagging.recv())
                .await
                .expect("closed in time")
                .is_none(),
            "nothing after the closing error"
        );
    }
}
