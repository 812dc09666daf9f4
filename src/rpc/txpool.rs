//! The `txpool_` namespace (geth's): status, content and a human-readable inspection.

use crate::{rpc::error::RpcResult, rpc::eth::convert::rpc_pending_transaction, txpool::TxPool};
use alloy_consensus::{Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, U64};
use alloy_rpc_types_eth::Transaction;
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts of pending and queued transactions.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TxpoolStatus {
    /// Executable transactions.
    pub pending: U64,
    /// Transactions waiting for a nonce gap to close.
    pub queued: U64,
}

/// Per sender, per nonce (as decimal string keys, like geth).
pub type BySender<T> = BTreeMap<Address, BTreeMap<String, T>>;

/// Full pool content.
#[derive(Debug, Clone, Serialize)]
pub struct TxpoolContent<T> {
    /// Executable transactions.
    pub pending: BySender<T>,
    /// Waiting transactions.
    pub queued: BySender<T>,
}

/// Pool inspection methods.
#[rpc(server, namespace = "txpool")]
pub trait TxpoolApi {
    /// Number of pending and queued transactions.
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxpoolStatus>;
    /// Every pooled transaction.
    #[method(name = "content")]
    fn content(&self) -> RpcResult<TxpoolContent<Transaction>>;
    /// Pooled transactions of one sender.
    #[method(name = "contentFrom")]
    fn content_from(&self, from: Address) -> RpcResult<TxpoolContent<Transaction>>;
    /// One-line summaries: `to: value wei + gas × price wei`.
    #[method(name = "inspect")]
    fn inspect(&self) -> RpcResult<TxpoolContent<String>>;
}

/// `txpool_` over the pool.
#[derive(Debug, Clone)]
pub struct TxpoolRpc {
    pool: TxPool,
}

impl TxpoolRpc {
    /// Creates the namespace.
    pub const fn new(pool: TxPool) -> Self {
        Self { pool }
    }

    fn map<T>(
        &self,
        filter: Option<Address>,
        f: impl Fn(&Recovered<TxEnvelope>) -> T,
    ) -> TxpoolContent<T> {
        let content = self.pool.content();
        let convert = |map: BTreeMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>| {
            map.into_iter()
                .filter(|(sender, _)| filter.is_none_or(|f| f == *sender))
                .map(|(sender, txs)| {
                    (
                        sender,
                        txs.iter()
                            .map(|(nonce, tx)| (nonce.to_string(), f(tx)))
                            .collect(),
                    )
                })
                .collect()
        };
        TxpoolContent {
            pending: convert(content.pending),
            queued: convert(content.queued),
        }
    }
}

impl TxpoolApiServer for TxpoolRpc {
    fn status(&self) -> RpcResult<TxpoolStatus> {
        let status = self.pool.status();
        Ok(TxpoolStatus {
            pending: U64::from(status.pending),
            queued: U64::from(status.queued),
        })
    }

    fn content(&self) -> RpcResult<TxpoolContent<Transaction>> {
        Ok(self.map(None, rpc_pending_transaction))
    }

    fn content_from(&self, from: Address) -> RpcResult<TxpoolContent<Transaction>> {
        Ok(self.map(Some(from), rpc_pending_transaction))
    }

    fn inspect(&self) -> RpcResult<TxpoolContent<String>> {
        Ok(self.map(None, |tx| {
            let to = tx
                .to()
                .map_or_else(|| "contract creation".to_string(), |to| to.to_string());
            format!(
                "{to}: {} wei + {} gas × {} wei",
                tx.value(),
                tx.gas_limit(),
                tx.max_fee_per_gas()
            )
        }))
    }
}
