//! `hauptbuch-reth derive`.

use super::{ChainArgs, DatadirArgs};
use crate::derive::{DaSource, DeriveConfig, DeriveEnd};
use clap::Args;
use eyre::WrapErr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Rebuilds the chain from the blobs of its DA namespace, executing and verifying every block.
#[derive(Debug, Args)]
pub struct DeriveCommand {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    datadir: DatadirArgs,
    /// celestia-node RPC endpoint, `http(s)://` or `ws(s)://`.
    #[arg(long = "da.url", value_name = "URL")]
    da_url: String,
    /// File holding a bearer token with `read` permission, if the endpoint needs one.
    #[arg(long = "da.auth-token-file", value_name = "FILE")]
    da_auth_token_file: Option<PathBuf>,
    /// Namespace id to read (hex, up to 10 bytes) [default: the chainspec's].
    #[arg(long = "da.namespace", value_name = "HEX", value_parser = crate::node::parse_namespace_id)]
    da_namespace: Option<alloy_primitives::Bytes>,
    /// First DA height to read. Default: after the height stored by the last run, else 1.
    #[arg(long = "from-height", value_name = "N")]
    from_height: Option<u64>,
    /// Last DA height to read, waiting for it if needed. Default: the DA head at start.
    #[arg(long = "to-height", value_name = "M", conflicts_with = "follow")]
    to_height: Option<u64>,
    /// Keep following new DA heights until SIGINT/SIGTERM.
    #[arg(long)]
    follow: bool,
}

impl DeriveCommand {
    pub(super) fn run(self) -> eyre::Result<()> {
        let spec = crate::chainspec::ChainSpec::with_da_namespace(
            self.chain.load()?,
            self.da_namespace.as_ref(),
        );
        let datadir = self.datadir.resolve(&spec);
        let token = crate::node::read_auth_token(self.da_auth_token_file.as_deref())?;
        if let (Some(from), Some(to)) = (self.from_height, self.to_height)
            && from > to
        {
            eyre::bail!("--from-height {from} is above --to-height {to}");
        }
        let namespace = crate::derive::namespace(&spec)?;
        let certificates = if spec.hauptbuch.validators.is_empty() {
            tracing::warn!(
                "the chainspec names no validator set: finalization certificates are not verified"
            );
            None
        } else {
            let validators =
                crate::consensus::ValidatorSet::from_chainspec(&spec.hauptbuch.validators)?;
            Some(crate::consensus::CertificateVerifier::new(
                &spec,
                &validators,
            ))
        };
        let engine = super::open_engine(spec, &datadir)?;
        let config = DeriveConfig {
            confirm_only: false,
            from_height: self.from_height,
            end: match (self.to_height, self.follow) {
                (Some(height), _) => DeriveEnd::Height(height),
                (None, true) => DeriveEnd::Follow,
                (None, false) => DeriveEnd::NetworkHead,
            },
            certificates,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .wrap_err("cannot start the async runtime")?;
        let started = std::time::Instant::now();
        let stats = runtime.block_on(async {
            let source = DaSource::connect(&self.da_url, token.as_deref(), namespace)
                .await
                .wrap_err("cannot start derivation")?;
            let cancel = CancellationToken::new();
            let signal_cancel = cancel.clone();
            tokio::spawn(async move {
                if let Ok(signal) = crate::node::shutdown_signal().await {
                    tracing::info!(%signal, "stopping derivation after the current DA height");
                    signal_cancel.cancel();
                }
            });
            crate::derive::derive(&engine, &source, &config, &cancel)
                .await
                .wrap_err_with(|| format!("derivation from {} failed", self.da_url))
        })?;
        let head = engine.head()?;
        tracing::info!(
            da_heights = ?stats.last_da_height.map(|last| stats.first_da_height..=last),
            blobs = stats.blobs,
            skipped_blobs = stats.skipped_blobs,
            duplicate_blocks = stats.duplicate_blocks,
            imported = stats.imported,
            certified = stats.certified,
            transactions = stats.transactions,
            held_uncovered = stats.held,
            head = head.number,
            head_hash = %head.hash(),
            elapsed = ?started.elapsed(),
            "derivation complete"
        );
        if stats.held > 0 {
            tracing::warn!(
                held = stats.held,
                "blocks were read that no finalization certificate covers yet (or whose \
                 ancestors are missing from DA); they were not imported"
            );
        }
        println!("{} {}", head.number, head.hash());
        Ok(())
    }
}
