//! `hauptbuch-reth node`: wires the engine, the transaction pool, block production and JSON-RPC
//! into one process, supervises the long-running tasks and shuts down gracefully.
//!
//! Tasks (all named, all stopped through one cancellation token):
//! - `dev-producer` (with `--dev`): builds a block every `--dev.block-time`;
//! - `pool-maintenance`: follows canonical blocks and updates the pool;
//! - the RPC servers (jsonrpsee's own tasks, stopped through their handles).
//!
//! Shutdown (SIGINT/SIGTERM, or a critical task failing): cancel, wait for the tasks for at most
//! [`SHUTDOWN_BUDGET`], stop the RPC servers, then save the pool so pending transactions survive
//! the restart.

mod args;
mod da;
mod dev;
mod exex;
mod metrics;
mod pool;

pub use args::{
    DaArgs, DevArgs, NodeCommand, PoolArgs, PreconfArgs, parse_duration, read_auth_token,
};

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
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("hauptbuch")
            .build()
            .wrap_err("cannot start the async runtime")?;
        runtime.block_on(self.run_async())
    }

    async fn run_async(self) -> eyre::Result<()> {
        let spec = self.chain.load()?;
        let datadir = self.datadir.resolve(&spec);
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
        let da = da::start(
            &self.da,
            self.dev.dev,
            &spec,
            &datadir,
            &engine,
            &mut tasks,
            &cancel,
        )
        .await?;
        // Preconfirmations need a local block builder: the dev producer (later: BFT propose).
        let preconf = if self.dev.dev && !self.preconf.disable {
            let (preconf, issuer) = preconf_issuer(&self.preconf, &datadir, &engine, &pool)?;
            tasks.spawn(issuer.run(cancel.child_token()));
            Some(preconf)
        } else {
            None
        };
        if self.dev.dev {
            let block_time = self.dev.block_time;
            tracing::info!(?block_time, "dev mode: producing blocks");
            tasks.spawn(dev::produce(
                engine.clone(),
                pool.clone(),
                preconf.clone(),
                block_time,
                cancel.child_token(),
            ));
        }

        let modules = RpcModules {
            eth: EthRpc::new(engine.clone(), pool.clone(), self.rpc.gas_cap),
            eth_filter: EthFilterRpc::new(engine.clone(), pool.clone()),
            eth_pubsub: EthPubSubRpc::new(engine.clone(), pool.clone()),
            eth_send_sync: EthSendSyncRpc::new(
                EthRpc::new(engine.clone(), pool.clone(), self.rpc.gas_cap),
                engine.clone(),
            ),
            net: NetRpc::new(spec.chain_id),
            txpool: TxpoolRpc::new(pool.clone()),
            debug: DebugRpc::new(engine.clone()),
            hb: match &preconf {
                Some(preconf) => {
                    HbRpc::new(engine.clone(), da.da_dir.clone()).with_preconf(preconf.clone())
                }
                None => HbRpc::new(engine.clone(), da.da_dir.clone()),
            },
        };
        let handles = start_servers(&self.rpc, &modules).await?;
        // Machine-readable lines for scripts and tests that start the node on port 0.
        if let Some((addr, _)) = &handles.http {
            println!("http://{addr}");
        }
        if let Some((addr, _)) = &handles.ws {
            println!("ws://{addr}");
        }

        let reason = tokio::select! {
            signal = shutdown_signal() => signal?,
            Some(result) = tasks.join_next() => format!("critical task stopped: {result:?}"),
        };
        tracing::info!(%reason, "shutting down");
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
) -> eyre::Result<(crate::preconf::Preconfer, crate::preconf::IssuerTask)> {
    use crate::preconf::{IssuerKeys, PreconfConfig, PreconfStore, Preconfer, keys::KEY_FILE};
    let key_path = args.key.clone().unwrap_or_else(|| datadir.join(KEY_FILE));
    let keys = IssuerKeys::load_or_create(&key_path, true)?;
    let store = PreconfStore::open(datadir)?;
    let config = PreconfConfig {
        ttl: args.ttl,
        break_promises: args.break_promises,
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
pub(crate) fn pool_env(engine: &Engine) -> eyre::Result<PoolEnv> {
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
