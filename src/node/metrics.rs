//! Prometheus metrics (`--metrics <addr>` serves `/metrics`).

use alloy_consensus::{Block, TxEnvelope};
use eyre::WrapErr;
use std::net::SocketAddr;

/// Starts the Prometheus exporter.
pub(super) fn install(addr: SocketAddr) -> eyre::Result<()> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .wrap_err_with(|| format!("cannot serve --metrics on {addr}"))?;
    tracing::info!(%addr, "metrics served at /metrics");
    Ok(())
}

/// Counts a new canonical block.
pub(crate) fn record_block(block: &Block<TxEnvelope>) {
    metrics::counter!("hauptbuch_blocks_total").increment(1);
    metrics::counter!("hauptbuch_transactions_total")
        .increment(block.body.transactions.len() as u64);
    metrics::gauge!("hauptbuch_head_number").set(block.header.number as f64);
    metrics::gauge!("hauptbuch_block_gas_used").set(block.header.gas_used as f64);
}

/// Pool sizes.
pub(super) fn record_pool(pending: usize, queued: usize) {
    metrics::gauge!("hauptbuch_txpool_pending").set(pending as f64);
    metrics::gauge!("hauptbuch_txpool_queued").set(queued as f64);
}
