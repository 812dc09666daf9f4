//! Keeps the pool in step with the canonical chain.

use crate::{engine::Engine, txpool::TxPool};
use alloy_eips::Encodable2718;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// On every canonical block: drop mined transactions, promote queued ones, refresh fees.
pub(super) async fn maintain(
    engine: Engine,
    pool: TxPool,
    cancel: CancellationToken,
) -> eyre::Result<()> {
    let mut blocks = engine.subscribe();
    loop {
        let mined = tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            block = blocks.recv() => match block {
                Ok(block) => block.body.transactions.iter().map(|tx| tx.trie_hash()).collect(),
                // Missed some blocks: revalidating against the head state catches up.
                Err(RecvError::Lagged(_)) => Vec::new(),
                Err(RecvError::Closed) => return Ok(()),
            },
        };
        let env = super::pool_env(&engine)?;
        let provider = engine.db().provider()?;
        pool.on_new_head(env, &mined, &provider);
        let status = pool.status();
        super::metrics::record_pool(status.pending, status.queued);
    }
}
