//! `hauptbuch-reth node`: wires the engine, the transaction pool, block production and JSON-RPC
//! into one process, supervises the long-running tasks and shuts down gracefully.
//!
//! Everything runs on commonware's tokio runtime (consensus needs its `Context`; jsonrpsee and
//! the other tokio tasks run on the same threads). Its storage directory is
//! `<datadir>/consensus` (simplex journal, marshal archives), locked while the node runs.
//!
//! Tasks (all named, all stopped through one cancellation token or their handles):
//! - consensus (with `--dev` or `--validator.key`): p2p, simplex, marshal and the finalizer that
//!   commits finalized blocks (see [`crate::consensus`]);
//! - `pool-maintenance`: follows canonical blocks and updates the pool;
//! - the DA ExEx and, with `--dev`, the embedded DA server;
//! - the RPC servers (jsonrpsee's own tasks, stopped through their handles).
//!
//! Shutdown (SIGINT/SIGTERM, or a critical task failing): stop consensus (its votes are journaled
//! before they are sent, so stopping at any point is safe), cancel, wait for the tasks for at
//! most [`SHUTDOWN_BUDGET`], stop the RPC servers, then save the pool so pending transactions
//! survive the restart.

mod args;
mod consensus;
mod da;
mod exex;
mod metrics;
mod pool;

pub use args::{
    Bootnode, ConsensusArgs, DEFAULT_MAX_UNPOSTED_BLOCKS, DaArgs, DevArgs, NodeCommand, PoolArgs,
    PreconfArgs, parse_bootnode, parse_duration, parse_namespace_id, read_auth_token,
};
pub(crate) use metrics::record_block;

use crate::{
    engine::Engine,
    rpc::{
        RpcModules,
        debug::DebugRpc,
        eth::{EthFilterRpc, EthPubSubRpc, EthRpc, EthSendSyncRpc},
        hb::HbRpc,
        net::NetRpc,
        start_servers,
        txpool::TxpoolRpc,
    },
    storage::Database,
    txpool::{PoolEnv, TxPool},
};
use eyre::WrapErr;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// Time allowed for tasks to stop after a shutdown signal before they are abandoned.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(10);
/// File (in the datadir) holding the pool across restarts.
const POOL_FILE: &str = "txpool.rlp";

impl NodeCommand {
    /// Runs the node until a shutdown signal.
    pub fn run(self) -> eyre::Result<()> {
        use commonware_runtime::Runner as _;
        let spec = crate::chainspec::ChainSpec::with_da_namespace(
            self.chain.load()?,
            self.da.namespace.as_ref(),
        );
        let datadir = self.datadir.resolve(&spec);
        std::fs::create_dir_all(&datadir)
            .wrap_err_with(|| format!("cannot create datadir {}", datadir.display()))?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let runtime = commonware_runtime::tokio::Config::new()
            .with_storage_directory(datadir.join("consensus"))
            .with_worker_threads(threads);
        commonware_runtime::tokio::Runner::new(runtime)
            .start(|context| self.run_async(context, spec, datadir))
    }

    async fn run_async(
        self,
        context: commonware_runtime::tokio::Context,
        spec: Arc<crate::chainspec::ChainSpec>,
        datadir: std::path::PathBuf,
    ) -> eyre::Result<()> {
        let db = Database::open(&datadir)
            .wrap_err_with(|| format!("cannot open database in {}", datadir.display()))?;
        let engine = Engine::new(spec.clone(), Arc::new(db));
        engine.init_genesis()?;
        let head = engine.head()?;
        tracing::info!(chain_id = spec.chain_id, head = head.number, hash = %head.hash(), datadir = %datadir.display(), "starting node");

        if let Some(addr) = self.metrics {
            metrics::install(addr)?;
        }

        let pool = TxPool::new(self.pool.config(), pool_env(&engine)?);
        let pool_file = datadir.join(POOL_FILE);
        let loaded = pool.load(&pool_file, &engine.db().provider()?)?;
        if loaded.added > 0 || loaded.dropped > 0 {
            tracing::info!(
                added = loaded.added,
                dropped = loaded.dropped,
                "reloaded pool"
            );
        }

        let cancel = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(pool::maintain(
            engine.clone(),
            pool.clone(),
            cancel.child_token(),
        ));
        let role = consensus::Role::from_args(
            &self.consensus,
            self.dev.dev.then_some(self.dev.block_time),
            &spec,
            &datadir,
        )?;
        let da_role = match &role {
            consensus::Role::Validator(role) => da::DaRole::Poster(role.da_poster_rank()),
            consensus::Role::Follower(_) => da::DaRole::Confirm,
            consensus::Role::RpcOnly => da::DaRole::Derive,
        };
        let da = da::start(
            &self.da,
            self.dev.dev,
            da_role,
            &spec,
            &datadir,
            &engine,
            &mut tasks,
            &cancel,
        )
        .await?;
        // Preconfirmations are issued by the validator that builds the promised block: the one
        // validator of `--dev`, or on a network whose chainspec lists every validator's keys, the
        // leader of the next view (the others forward to it).
        let (preconf, forwarder, network_preconf) = match &role {
            consensus::Role::Validator(validator) if !self.preconf.disable => {
                let validators = validator.validators();
                let listed = validators.issues_preconfirmations();
                if self.dev.dev || listed {
                    let me = validator.public_key();
                    let rotating = validators.len() > 1;
                    // A window outlives its block's build by a block time at most.
                    let window_ttl = rotating.then(|| validator.block_time() * 2);
                    let (preconf, issuer) = preconf_issuer(
                        &self.preconf,
                        &datadir,
                        &engine,
                        &pool,
                        window_ttl,
                        (!self.dev.dev)
                            .then(|| validators.preconf_keys(&me))
                            .flatten(),
                    )?;
                    tasks.spawn(issuer.run(cancel.child_token()));
                    if rotating {
                        let routes = crate::preconf::Routes::default();
                        let (forwarder, task) = crate::preconf::Forwarder::new(
                            me,
                            preconf.clone(),
                            pool.clone(),
                            validators.clone(),
                            routes.clone(),
                        );
                        let network = consensus::NetworkPreconf { routes, task };
                        (Some(preconf), Some(forwarder), Some(network))
                    } else {
                        (Some(preconf), None, None)
                    }
                } else {
                    (None, None, None)
                }
            }
            _ => (None, None, None),
        };
        // A full node following a network that issues preconfirmations forwards requests to it
        // and keeps the answers (its own store) for hb_getPreconfirmation and hb_preconfStatus.
        let (follower_preconf, follower_task) = match &role {
            consensus::Role::Follower(follower)
                if !self.preconf.disable
                    && follower.validators().len() > 1
                    && follower.validators().issues_preconfirmations() =>
            {
                let store = std::sync::Arc::new(crate::preconf::PreconfStore::open(&datadir)?);
                let reader = crate::preconf::status::PreconfReader::new(engine.clone(), store);
                let (forwarder, task) = crate::preconf::Forwarder::follower(
                    follower.public_key(),
                    reader.clone(),
                    spec.chain_id,
                    pool.clone(),
                    follower.validators().clone(),
                );
                (Some((reader, forwarder)), Some(task))
            }
            _ => (None, None),
        };
        let validator_preconf = preconf.clone().map(|issuer| consensus::ValidatorPreconf {
            issuer,
            network: network_preconf,
        });
        // The finalizer committing blocks, and the other actors to stop at shutdown.
        let handles = match role {
            consensus::Role::Validator(role) => Some(
                consensus::start(
                    &context,
                    &self.consensus,
                    self.dev.dev,
                    role.with_unposted_bound(da.unposted_bound.clone()),
                    engine.clone(),
                    pool.clone(),
                    validator_preconf,
                )
                .await?,
            ),
            consensus::Role::Follower(role) => Some(
                consensus::start_follower(
                    &context,
                    &self.consensus,
                    *role,
                    engine.clone(),
                    pool.clone(),
                    follower_task,
                )
                .await?,
            ),
            consensus::Role::RpcOnly => None,
        };
        let (finalizer, actors) = match handles {
            Some(crate::consensus::ValidatorHandles {
                consensus,
                marshal,
                finalizer,
            }) => (Some(finalizer), vec![consensus, marshal]),
            None => (None, Vec::new()),
        };

        let modules = RpcModules {
            eth: EthRpc::new(engine.clone(), pool.clone(), self.rpc.gas_cap)
                .with_preconf(preconf.clone()),
            eth_filter: EthFilterRpc::new(engine.clone(), pool.clone())
                .with_limits(self.rpc.log_limits()),
            eth_pubsub: EthPubSubRpc::new(engine.clone(), pool.clone()),
            eth_send_sync: EthSendSyncRpc::new(
                EthRpc::new(engine.clone(), pool.clone(), self.rpc.gas_cap)
                    .with_preconf(preconf.clone()),
                engine.clone(),
            ),
            net: NetRpc::new(spec.chain_id),
            txpool: TxpoolRpc::new(pool.clone()),
            debug: DebugRpc::new(engine.clone()),
            testing: crate::rpc::testing::TestingRpc::new(engine.clone(), pool.clone()),
            hb: {
                let hb = HbRpc::new(engine.clone(), da.da_dir.clone())
                    .with_unposted_bound(da.unposted_bound.clone());
                match (&preconf, follower_preconf) {
                    (Some(preconf), _) => hb.with_preconf(preconf.clone(), forwarder),
                    (None, Some((reader, forwarder))) => hb.with_forwarding(reader, forwarder),
                    (None, None) => hb,
                }
            },
            hb_withdrawals: crate::withdrawals::rpc::WithdrawalsRpc::new(engine.clone()),
        };
        let handles = start_servers(&self.rpc, &modules).await?;
        // Machine-readable lines for scripts and tests that start the node on port 0.
        if let Some((addr, _)) = &handles.http {
            println!("http://{addr}");
        }
        if let Some((addr, _)) = &handles.ws {
            println!("ws://{addr}");
        }

        let finalizer_stopped = async {
            match finalizer {
                Some(handle) => handle.await,
                None => std::future::pending().await,
            }
        };
        let reason = tokio::select! {
            signal = shutdown_signal() => signal?,
            Some(result) = tasks.join_next() => format!("critical task stopped: {result:?}"),
            result = finalizer_stopped => format!("consensus finalizer stopped: {result:?}"),
        };
        tracing::info!(%reason, "shutting down");
        for actor in actors {
            actor.abort();
        }
        cancel.cancel();
        if tokio::time::timeout(SHUTDOWN_BUDGET, async {
            while tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!(budget = ?SHUTDOWN_BUDGET, "tasks did not stop in time; abandoning them");
            tasks.abort_all();
        }
        let _ = tokio::time::timeout(SHUTDOWN_BUDGET, handles.stop()).await;
        if let Some(server) = da.server
            && let Err(err) = server.stop().await
        {
            tracing::warn!(%err, "embedded DA server did not stop cleanly");
        }
        let saved = pool.save(&pool_file)?;
        tracing::info!(saved, "pool saved; bye");
        Ok(())
    }
}

/// Opens the preconfirmation keys and store and the issuer over them.
fn preconf_issuer(
    args: &PreconfArgs,
    datadir: &std::path::Path,
    engine: &Engine,
    pool: &TxPool,
    window_ttl: Option<std::time::Duration>,
    listed: Option<crate::chainspec::PreconfKeys>,
) -> eyre::Result<(crate::preconf::Preconfer, crate::preconf::IssuerTask)> {
    use crate::preconf::{IssuerKeys, PreconfConfig, PreconfStore, Preconfer, keys::KEY_FILE};
    let key_path = args.key.clone().unwrap_or_else(|| datadir.join(KEY_FILE));
    // A network validator's keys are in the chainspec: they must exist before it starts.
    let keys = IssuerKeys::load_or_create(&key_path, listed.is_none())?;
    if let Some(listed) = listed
        && keys.chainspec_keys() != listed
    {
        let ours = keys.chainspec_keys();
        eyre::bail!(
            "preconfirmation key {} (ed25519 {}, ML-DSA-65 hash {}) is not the one the chainspec \
             lists for this validator (ed25519 {}, ML-DSA-65 hash {}); pass the matching file \
             with --preconf.key",
            key_path.display(),
            ours.ed25519,
            ours.ml_dsa65_hash,
            listed.ed25519,
            listed.ml_dsa65_hash
        );
    }
    let store = PreconfStore::open(datadir)?;
    let config = PreconfConfig {
        ttl: args.ttl,
        break_promises: args.break_promises,
        rotating: window_ttl.is_some(),
        window_ttl: window_ttl.unwrap_or_default(),
    };
    if args.break_promises {
        tracing::warn!("--preconf.dev-break-promises: promises will be broken (debug builds)");
    }
    Ok(Preconfer::new(
        keys,
        store,
        engine.clone(),
        pool.clone(),
        config,
    )?)
}

/// The pool's view of the next block.
pub fn pool_env(engine: &Engine) -> eyre::Result<PoolEnv> {
    let head = engine.head()?;
    let spec = engine.spec();
    let timestamp = head.timestamp + 1;
    Ok(PoolEnv {
        chain_id: spec.chain_id,
        spec_id: alloy_evm::spec_by_timestamp_and_block_number(
            spec.as_ref(),
            timestamp,
            head.number + 1,
        ),
        next_base_fee: crate::execution::validate::expected_base_fee(
            spec,
            head.inner(),
            head.number + 1,
        )
        .unwrap_or_default(),
        block_gas_limit: head.gas_limit,
    })
}

pub(crate) async fn shutdown_signal() -> eyre::Result<String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).wrap_err("cannot install SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            result.wrap_err("cannot install SIGINT handler")?;
            Ok("SIGINT".into())
        }
        _ = term.recv() => Ok("SIGTERM".into()),
    }
}
