//! `eth_sendRawTransactionSync` (EIP-7966): submits a raw transaction like
//! `eth_sendRawTransaction`, then waits for its receipt, woken by every new canonical block.

use super::{EthApiServer, EthRpc};
use crate::{engine::Engine, rpc::error::RpcResult};
use alloy_primitives::{Bytes, U64};
use alloy_rpc_types_eth::TransactionReceipt;
use jsonrpsee::{proc_macros::rpc, types::ErrorObject};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Wait when the caller gives no timeout: a few dev/BFT block times.
const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait a caller may ask for; one request must not hold a connection forever.
const MAX_SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// EIP-7966 error code: the transaction is pooled but not processed within the timeout.
const SYNC_TIMEOUT_CODE: i32 = 4;

/// The synchronous send of EIP-7966.
#[rpc(server, namespace = "eth")]
pub trait EthSendSyncApi {
    /// Sends a raw transaction and returns its receipt once it is in a block; on timeout, error
    /// code 4 with the transaction hash as data.
    #[method(name = "sendRawTransactionSync")]
    async fn send_raw_transaction_sync(
        &self,
        raw: Bytes,
        timeout_ms: Option<U64>,
    ) -> RpcResult<TransactionReceipt>;
}

/// `eth_sendRawTransactionSync` over the `eth_` implementation and the engine's new blocks.
#[derive(Debug, Clone)]
pub struct EthSendSyncRpc {
    eth: EthRpc,
    engine: Engine,
}

impl EthSendSyncRpc {
    /// Creates the method.
    pub const fn new(eth: EthRpc, engine: Engine) -> Self {
        Self { eth, engine }
    }
}

#[jsonrpsee::core::async_trait]
impl EthSendSyncApiServer for EthSendSyncRpc {
    async fn send_raw_transaction_sync(
        &self,
        raw: Bytes,
        timeout_ms: Option<U64>,
    ) -> RpcResult<TransactionReceipt> {
        let timeout = match timeout_ms {
            None => DEFAULT_SYNC_TIMEOUT,
            Some(ms) => {
                let ms = ms.saturating_to::<u64>();
                if ms == 0 || ms > MAX_SYNC_TIMEOUT.as_millis() as u64 {
                    return Err(ErrorObject::owned(
                        crate::rpc::error::INVALID_PARAMS,
                        format!(
                            "timeout {ms}ms out of range (1 to {}ms)",
                            MAX_SYNC_TIMEOUT.as_millis()
                        ),
                        None::<()>,
                    ));
                }
                Duration::from_millis(ms)
            }
        };
        // Subscribe first so that a block sealed right after the send is not missed.
        let mut blocks = self.engine.subscribe();
        let hash = self.eth.send_raw_transaction(raw)?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(receipt) = self.eth.transaction_receipt(hash)? {
                return Ok(receipt);
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                block = blocks.recv() => if let Err(RecvError::Closed) = block {
                    break;
                },
            }
        }
        Err(ErrorObject::owned(
            SYNC_TIMEOUT_CODE,
            format!(
                "the transaction was added to the pool but not processed within {}ms",
                timeout.as_millis()
            ),
            Some(hash),
        ))
    }
}
