//! Data availability wiring: the embedded DA server for `--dev`, and the Celestia DA ExEx that
//! posts every block and turns DA finality into `finalized` — or, on a node that is not a
//! validator, following the chain from DA (derivation, certificates verified against the
//! chainspec's validator set).
//!
//! On a multi-validator network the first validator of the chainspec posts every block and the
//! others stand by ([`PosterConfig`]): they read the namespace, take the primary's blobs as
//! their own record of where each block is (checking contents and certificates), and post a
//! block themselves only when no blob held it `rank × --da.failover-delay` after they had it.
//! The bound on unposted blocks counts what is on DA, whoever posted it.

use super::{args::DaArgs, exex};
use crate::{chainspec::ChainSpec, consensus::UnpostedBound, engine::Engine};
use hauptbuch_exex::{
    celestia::{DaExExConfig, PosterConfig, run_da_exex},
    da_server::{DaServerConfig, DaServerHandle},
};
use std::{path::Path, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// Name of the DA ExEx (its finished height is persisted under it).
const DA_EXEX: &str = "da";
/// Batch interval on the embedded DA server (1 s blocks): blocks are firm about 0.7 s after they
/// are soft (docs/benchmarks.md), where the 2 s default for a real DA node would make it ~1.8 s.
const EMBEDDED_BATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// What the node started for DA.
#[derive(Debug, Default)]
pub(super) struct DaRuntime {
    /// The embedded server, when `--dev` runs one.
    pub(super) server: Option<DaServerHandle>,
    /// The DA ExEx's data directory, when blocks are posted.
    pub(super) da_dir: Option<std::path::PathBuf>,
    /// The bound on unposted blocks block production honours, when blocks are posted.
    pub(super) unposted_bound: Option<UnpostedBound>,
}

/// What the node does with DA.
#[derive(Debug, Clone, Copy)]
pub(super) enum DaRole {
    /// A validator: posts (rank 0) or stands by (rank > 0).
    Poster(u32),
    /// A full node following the validators over p2p: reads DA only to move `finalized`.
    Confirm,
    /// A full node without p2p: derives the chain from DA.
    Derive,
}

/// Starts DA as the flags ask: an external celestia-node (`--da.url`), the embedded server
/// (`--dev` without `--da.url`), or nothing. A validator posts with its rank; a node that is not
/// one reads DA (with a `--da.url`): to confirm the blocks it follows over p2p, or to derive
/// the chain.
#[allow(clippy::too_many_arguments)]
pub(super) async fn start(
    args: &DaArgs,
    dev: bool,
    role: DaRole,
    spec: &ChainSpec,
    datadir: &Path,
    engine: &Engine,
    tasks: &mut tokio::task::JoinSet<eyre::Result<()>>,
    cancel: &CancellationToken,
) -> eyre::Result<DaRuntime> {
    if args.disable || (args.url.is_none() && !dev) {
        return Ok(DaRuntime::default());
    }
    let rank = match role {
        DaRole::Poster(rank) => rank,
        DaRole::Confirm | DaRole::Derive => {
            if let Some(url) = &args.url {
                let confirm_only = matches!(role, DaRole::Confirm);
                let token = args.auth_token()?;
                spawn_follower(url, token, confirm_only, spec, engine, tasks, cancel).await?;
            }
            return Ok(DaRuntime::default());
        }
    };
    let mut runtime = DaRuntime::default();
    let (url, auth_token) = match &args.url {
        Some(url) => (url.clone(), args.auth_token()?),
        None => {
            let mut config = DaServerConfig::new(datadir.join("da-server"));
            config.listen_addr = ([127, 0, 0, 1], 0).into();
            config.block_time = args.embedded_block_time;
            let server = hauptbuch_exex::da_server::start(config)
                .await
                .map_err(|e| eyre::eyre!("cannot start the embedded DA server: {e}"))?;
            let token = match server.admin_token_path() {
                Some(path) => Some(std::fs::read_to_string(path)?.trim().to_string()),
                None => None,
            };
            let url = server.http_url();
            tracing::info!(%url, "embedded DA server started");
            println!("da: {url}");
            runtime.server = Some(server);
            (url, token)
        }
    };
    let namespace = spec.da_namespace_id();
    runtime.da_dir = Some(datadir.join("da"));
    let mut config = DaExExConfig::new(url, namespace, spec.chain_id, datadir.join("da"));
    config.auth_token = auth_token;
    config.gas_price = args.gas_price;
    config.max_blob_bytes = args.max_blob_bytes;
    let default_interval = if runtime.server.is_some() {
        EMBEDDED_BATCH_INTERVAL
    } else {
        hauptbuch_exex::celestia::DEFAULT_BATCH_INTERVAL
    };
    config.batch_interval = args.batch_interval.unwrap_or(default_interval);
    config.confirmations = args.confirmations;
    if rank > 0 && args.failover_delay < config.batch_interval + Duration::from_secs(2) {
        tracing::warn!(
            failover_delay = ?args.failover_delay,
            batch_interval = ?config.batch_interval,
            "--da.failover-delay is below the batch interval plus a DA block and a poll: \
             standbys may post blocks the poster is about to post (duplicate blobs)"
        );
    }
    config.poster = PosterConfig {
        rank,
        failover_delay: args.failover_delay,
        certificate_check: certificate_verifier(spec)
            .map(|v| Arc::new(v) as Arc<dyn hauptbuch_exex::celestia::CertificateCheck>),
    };
    // Refuse a bad namespace at startup, naming it, rather than inside the running task.
    config
        .celestia_namespace()
        .map_err(|e| eyre::eyre!("invalid DA namespace: {e}"))?;
    // Production may run ahead of posting by at most `--da.max-unposted-blocks` blocks, counted
    // from the DA ExEx's finished height (the last block a `blob.Submit` accepted).
    let posted = exex::finished_height(engine, DA_EXEX)?.map_or(0, |f| f.number);
    let (bound, posted) = UnpostedBound::new(args.max_unposted_blocks, posted);
    runtime.unposted_bound = Some(bound);
    let exex_cancel = cancel.child_token();
    exex::spawn(
        tasks,
        DA_EXEX,
        engine.clone(),
        cancel.child_token(),
        Some(posted),
        move |ctx| async move {
            run_da_exex(ctx, config, exex_cancel)
                .await
                .map_err(|e| eyre::eyre!("DA ExEx: {e}"))
        },
    )?;
    Ok(runtime)
}

/// The chainspec's validator set as a certificate check, when it names one (a `--dev` chain
/// does not).
fn certificate_verifier(spec: &ChainSpec) -> Option<crate::consensus::CertificateVerifier> {
    let validators =
        crate::consensus::ValidatorSet::from_chainspec(&spec.hauptbuch.validators).ok()?;
    Some(crate::consensus::CertificateVerifier::new(
        spec,
        &validators,
    ))
}

/// Follows the chain from DA: every block is read from the namespace, its certificate verified
/// and the block executed; derived blocks are final (`safe` and `finalized`). With
/// `confirm_only` (the node follows the validators over p2p) nothing is imported: DA moves
/// `finalized` along the local chain.
async fn spawn_follower(
    url: &str,
    auth_token: Option<String>,
    confirm_only: bool,
    spec: &ChainSpec,
    engine: &Engine,
    tasks: &mut tokio::task::JoinSet<eyre::Result<()>>,
    cancel: &CancellationToken,
) -> eyre::Result<()> {
    use crate::derive::{DaSource, DeriveConfig, DeriveEnd};
    let validators = crate::consensus::ValidatorSet::from_chainspec(&spec.hauptbuch.validators)
        .map_err(|e| eyre::eyre!("a follower needs the validator set: {e}"))?;
    let config = DeriveConfig {
        from_height: None,
        end: DeriveEnd::Follow,
        certificates: Some(crate::consensus::CertificateVerifier::new(
            spec,
            &validators,
        )),
        confirm_only,
    };
    let source = DaSource::connect(url, auth_token.as_deref(), crate::derive::namespace(spec)?)
        .await
        .map_err(|e| eyre::eyre!("cannot follow the chain from DA at {url}: {e}"))?;
    if confirm_only {
        tracing::info!(%url, "reading DA for finality (blocks come over p2p)");
    } else {
        tracing::info!(%url, validators = validators.len(), "following the chain from DA (full node)");
    }
    let (engine, cancel) = (engine.clone(), cancel.child_token());
    tasks.spawn(async move {
        crate::derive::derive(&engine, &source, &config, &cancel)
            .await
            .map(|_| ())
            .map_err(|e| eyre::eyre!("following from DA: {e}"))
    });
    Ok(())
}
