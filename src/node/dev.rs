//! Dev block production: one block per interval from the pool, through the engine. Kept thin so
//! that BFT consensus can replace it by driving the same engine calls.

use crate::{engine::Engine, execution::BlockAttributes, preconf::Preconfer, txpool::TxPool};
use alloy_primitives::{B256, Bytes, keccak256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// Most transactions considered for one block (the gas limit usually binds first).
const MAX_TXS_PER_BLOCK: usize = 10_000;

/// Produces a block every `block_time` until cancelled.
pub(super) async fn produce(
    engine: Engine,
    pool: TxPool,
    preconf: Option<Preconfer>,
    block_time: Duration,
    cancel: CancellationToken,
) -> eyre::Result<()> {
    let mut interval = tokio::time::interval(block_time);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            _ = interval.tick() => {}
        }
        let (engine, pool, preconf) = (engine.clone(), pool.clone(), preconf.clone());
        tokio::task::spawn_blocking(move || produce_one(&engine, &pool, preconf.as_ref()))
            .await??;
    }
}

/// Builds, commits and soft-confirms one block.
fn produce_one(engine: &Engine, pool: &TxPool, preconf: Option<&Preconfer>) -> eyre::Result<()> {
    let head = engine.head()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // Sub-second block times run the timestamp ahead of the clock, as reth's dev mode does.
    let timestamp = now.max(head.timestamp + 1);
    let attributes = BlockAttributes {
        timestamp,
        fee_recipient: Default::default(),
        prev_randao: keccak256(head.hash()),
        gas_limit: head.gas_limit,
        extra_data: Bytes::from_static(b"hauptbuch"),
        withdrawals: Default::default(),
        parent_beacon_block_root: Some(B256::ZERO),
    };
    // Promised transactions first, at their promised indices; then the pool, FCFS.
    let transactions = match preconf {
        Some(preconf) => preconf.transactions_for_block(head.number + 1, MAX_TXS_PER_BLOCK),
        None => pool.best_transactions(MAX_TXS_PER_BLOCK),
    };
    let (block, built) = engine.build_and_commit(attributes, transactions)?;
    let hash = block.header.hash_slow();
    engine.update_forkchoice(Some(hash), None)?;
    if !built.rejected.is_empty() {
        let hashes: Vec<B256> = built.rejected.iter().map(|(hash, _)| *hash).collect();
        for (hash, reason) in &built.rejected {
            tracing::debug!(%hash, reason, "dropping transaction rejected by the builder");
        }
        pool.remove(&hashes);
    }
    super::metrics::record_block(&block);
    tracing::info!(
        number = block.header.number,
        %hash,
        txs = block.body.transactions.len(),
        gas_used = block.header.gas_used,
        "produced block"
    );
    Ok(())
}
