//! `header.*`: the DA chain's ExtendedHeaders, with celestia-node's height errors.

use std::sync::Arc;

use celestia_types::hash::Hash;
use celestia_types::{ExtendedHeader, SyncState};
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::{RpcResult, SubscriptionResult, async_trait};
use jsonrpsee::types::ErrorObjectOwned;
use tokio::sync::broadcast::error::RecvError;

use super::api::HeaderApiServer;
use super::chain::{DaChain, SUBSCRIBER_BUFFER};
use super::error::{DaServerError, service_error};

/// Implements `header.*` over the DA chain.
#[derive(Debug, Clone)]
pub(crate) struct HeaderRpc {
    chain: Arc<DaChain>,
}

impl HeaderRpc {
    pub(crate) fn new(chain: Arc<DaChain>) -> Self {
        Self { chain }
    }
}

/// The header at `height`, or celestia-node's error for a height that does not exist (yet).
pub(crate) fn header_at(chain: &DaChain, height: u64) -> RpcResult<ExtendedHeader> {
    if height == 0 {
        return Err(service_error("height is equal to 0"));
    }
    let head = chain.head();
    let head_height = head.height();
    if height == head_height {
        return Ok((*head).clone());
    }
    if height > head_height + 1 {
        return Err(service_error(format!(
            "header: given height is from the future: networkHeight: {head_height}, requestedHeight: {height}"
        )));
    }
    if height == head_height + 1 {
        return Err(service_error(format!(
            "header: syncing in progress: localHeadHeight: {head_height}, requestedHeight: {height}"
        )));
    }
    chain.store().header(height)?.ok_or_else(|| {
        ErrorObjectOwned::from(DaServerError::Corrupt {
            what: "header",
            height,
            message: "missing below the head".into(),
        })
    })
}

/// Why a subscription ended early.
pub(crate) fn lagged_error(skipped: u64) -> String {
    format!(
        "subscriber fell {skipped} blocks behind (buffer {SUBSCRIBER_BUFFER}); subscription closed"
    )
}

#[async_trait]
impl HeaderApiServer for HeaderRpc {
    async fn local_head(&self) -> RpcResult<ExtendedHeader> {
        Ok((*self.chain.head()).clone())
    }

    async fn network_head(&self) -> RpcResult<ExtendedHeader> {
        Ok((*self.chain.head()).clone())
    }

    async fn get_by_height(&self, height: u64) -> RpcResult<ExtendedHeader> {
        header_at(&self.chain, height)
    }

    async fn get_by_hash(&self, hash: Hash) -> RpcResult<ExtendedHeader> {
        let height = self
            .chain
            .store()
            .height_of(hash.as_bytes())?
            .ok_or_else(|| service_error("header: not found"))?;
        header_at(&self.chain, height)
    }

    async fn get_range_by_height(
        &self,
        from: ExtendedHeader,
        to: u64,
    ) -> RpcResult<Vec<ExtendedHeader>> {
        let head = self.chain.head().height();
        if to > head + 1 {
            return Err(service_error(format!(
                "header: given height is from the future: networkHeight: {head}, requestedHeight: {to}"
            )));
        }
        let mut headers = Vec::new();
        for height in from.height() + 1..to {
            headers.push(header_at(&self.chain, height)?);
        }
        Ok(headers)
    }

    async fn wait_for_height(&self, height: u64) -> RpcResult<ExtendedHeader> {
        if height == 0 {
            return Err(service_error("height is equal to 0"));
        }
        let mut heights = self.chain.watch_height();
        heights
            .wait_for(|head| *head >= height)
            .await
            .map_err(|_| ErrorObjectOwned::from(DaServerError::ShuttingDown))?;
        header_at(&self.chain, height)
    }

    async fn sync_state(&self) -> RpcResult<SyncState> {
        let head = self.chain.head();
        let first = header_at(&self.chain, 1)?;
        Ok(SyncState {
            id: 1,
            height: head.height(),
            from_height: 1,
            to_height: head.height(),
            from_hash: first.hash(),
            to_hash: head.hash(),
            start: first.time(),
            end: head.time(),
            error: None,
        })
    }

    async fn sync_wait(&self) -> RpcResult<()> {
        Ok(())
    }

    async fn subscribe(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let mut blocks = self.chain.subscribe_blocks();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                biased;
                _ = sink.closed() => return Ok(()),
                block = blocks.recv() => match block {
                    Ok(block) => {
                        let item = serde_json::value::to_raw_value(&block.header)?;
                        if sink.send(item).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(RecvError::Lagged(skipped)) => return Err(lagged_error(skipped).into()),
                    Err(RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}
