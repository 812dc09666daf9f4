//! Embedded Celestia-compatible DA server for `--dev` and devnets.
//!
//! It speaks the subset of celestia-node's JSON-RPC API a rollup needs (`blob.Submit`, `Get`,
//! `GetAll`, `GetProof`, `Included`, `Subscribe`; `header.LocalHead`, `NetworkHead`,
//! `GetByHeight`, `GetByHash`, `GetRangeByHeight`, `WaitForHeight`, `SyncState`, `SyncWait`,
//! `Subscribe`) over HTTP and WebSocket on one port, with celestia-node's names, positional
//! parameters, JSON shapes and error texts, so the real `celestia_rpc::Client` works against it
//! unchanged and pointing a node at a real celestia-node needs no other change.
//!
//! How it works: [`chain`] produces a DA block every `block_time` holding the blobs submitted
//! since the previous one; blobs are laid out in a real data square ([`square`]) so namespaces,
//! share commitments, indexes, the DAH and NMT proofs are genuine; headers are CometBFT-shaped
//! `ExtendedHeader`s signed by one ed25519 validator ([`header_signer`]), so they pass the
//! client's light checks; everything is stored in redb under the data dir ([`store`]) and a
//! restart continues the same chain. Auth is celestia-node's HS256 JWT with `Allow` permissions
//! ([`auth`]).
//!
//! Deviations from celestia-node: no transactions, fees, gas or accounts (`TxConfig` is
//! ignored); subscription notifications use jsonrpsee's format (`{"method":"blob.Subscribe",
//! "params":{"subscription":id,"result":item}}`) rather than go-jsonrpc's `xrpc.ch.val`
//! channels, which jsonrpsee clients such as celestia-rpc accept but Go clients do not; a
//! request without a valid token gets HTTP 401 (celestia-node may serve public methods); no
//! `blob.GetCommitmentProof`, `share.*`, `state.*`, `das.*`, `p2p.*`.

pub mod api;
pub mod auth;
mod blob_rpc;
mod chain;
pub mod error;
mod header_rpc;
mod header_signer;
mod square;
mod store;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::RpcModule;
use jsonrpsee::core::middleware::RpcServiceBuilder;
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::auth::{JwtSecret, Permission};
pub use self::blob_rpc::{BLOB_NOT_FOUND, MAX_SUBMIT_BYTES};
pub use self::error::{DaServerError, Result};

use self::api::{BlobApiServer, HeaderApiServer};
use self::auth::{AuthLayer, PermissionCheck};
use self::blob_rpc::BlobRpc;
use self::chain::{DaChain, run_producer};
use self::header_rpc::HeaderRpc;
use self::header_signer::HeaderSigner;
use self::store::Store;

/// celestia-node's RPC port.
pub const DEFAULT_PORT: u16 = 26658;
/// DA block time for devnets.
pub const DEFAULT_BLOCK_TIME: Duration = Duration::from_secs(1);
/// Chain id the headers carry unless configured.
pub const DEFAULT_CHAIN_ID: &str = "hauptbuch-da";
/// Request body limit: a MaxTxSize (8 MiB) submission is about 11.2 MB as base64 JSON.
const MAX_REQUEST_BODY_BYTES: u32 = 16 * 1024 * 1024;
/// Response body limit, celestia-rpc's own: `blob.GetAll` of a full square is large.
const MAX_RESPONSE_BODY_BYTES: u32 = 256 * 1024 * 1024;
/// How long `stop` waits for connections and the producer to finish.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// `meta` key of the validator key seed.
const META_VALIDATOR_KEY: &str = "validator_key";
/// `meta` key of the chain id the stored headers carry.
const META_CHAIN_ID: &str = "chain_id";

/// Configuration of the DA server.
#[derive(Debug, Clone)]
pub struct DaServerConfig {
    /// Directory of the database and the auth secret and token.
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    pub listen_addr: SocketAddr,
    /// Time between DA blocks.
    pub block_time: Duration,
    /// Chain id of the headers. Fixed at the first start of a data dir.
    pub chain_id: String,
    /// Require `Authorization: Bearer <jwt>` on every request.
    pub auth: bool,
}

impl DaServerConfig {
    /// Defaults: `127.0.0.1:26658`, 1 s blocks, auth on.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT)),
            block_time: DEFAULT_BLOCK_TIME,
            chain_id: DEFAULT_CHAIN_ID.to_string(),
            auth: true,
        }
    }
}

/// A running DA server.
#[derive(Debug)]
pub struct DaServerHandle {
    local_addr: SocketAddr,
    rpc: ServerHandle,
    stop_producer: watch::Sender<bool>,
    producer: JoinHandle<()>,
    chain: Arc<DaChain>,
    secret: Option<JwtSecret>,
    admin_token_path: Option<PathBuf>,
}

/// Starts the DA server: opens or creates its chain under `config.data_dir`, binds the RPC
/// server and starts producing blocks.
pub async fn start(config: DaServerConfig) -> Result<DaServerHandle> {
    if config.block_time.is_zero() {
        return Err(DaServerError::Config("block time must be positive".into()));
    }
    let store = Store::open(&config.data_dir)?;
    check_chain_id(&store, &config.chain_id)?;
    let signer = HeaderSigner::new(validator_seed(&store)?, &config.chain_id)?;
    let chain = Arc::new(DaChain::open(store, signer)?);

    let mut module = RpcModule::new(());
    let rpc_error = |e: jsonrpsee::core::RegisterMethodError| DaServerError::Rpc(e.to_string());
    module
        .merge(BlobApiServer::into_rpc(BlobRpc::new(chain.clone())))
        .map_err(rpc_error)?;
    module
        .merge(HeaderApiServer::into_rpc(HeaderRpc::new(chain.clone())))
        .map_err(rpc_error)?;

    let (secret, admin_token_path) = if config.auth {
        let auth_dir = config.data_dir.join("auth");
        let secret = JwtSecret::load_or_create(&auth_dir)?;
        let path = secret.write_admin_token(&auth_dir)?;
        (Some(secret), Some(path))
    } else {
        (None, None)
    };
    let http_middleware =
        tower::ServiceBuilder::new().option_layer(secret.clone().map(AuthLayer::new));
    let rpc_middleware = RpcServiceBuilder::new().option_layer(
        secret
            .as_ref()
            .map(|_| tower::layer::layer_fn(PermissionCheck::new)),
    );
    let server_config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BODY_BYTES)
        .max_response_body_size(MAX_RESPONSE_BODY_BYTES)
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(http_middleware)
        .set_rpc_middleware(rpc_middleware)
        .build(config.listen_addr)
        .await
        .map_err(|e| DaServerError::Rpc(format!("bind {}: {e}", config.listen_addr)))?;
    let local_addr = server
        .local_addr()
        .map_err(|e| DaServerError::Rpc(e.to_string()))?;
    let rpc = server.start(module);

    let (stop_producer, stop_rx) = watch::channel(false);
    let producer = tokio::spawn(run_producer(chain.clone(), config.block_time, stop_rx));
    tracing::info!(%local_addr, head = chain.head().height(), "DA server started");
    Ok(DaServerHandle {
        local_addr,
        rpc,
        stop_producer,
        producer,
        chain,
        secret,
        admin_token_path,
    })
}

fn check_chain_id(store: &Store, chain_id: &str) -> Result<()> {
    match store.meta(META_CHAIN_ID)? {
        Some(stored) if stored != chain_id.as_bytes() => Err(DaServerError::Config(format!(
            "data dir holds DA chain {:?}, not {chain_id:?}",
            String::from_utf8_lossy(&stored)
        ))),
        Some(_) => Ok(()),
        None => store.set_meta(META_CHAIN_ID, chain_id.as_bytes()),
    }
}

fn validator_seed(store: &Store) -> Result<[u8; 32]> {
    if let Some(seed) = store.meta(META_VALIDATOR_KEY)? {
        return seed
            .as_slice()
            .try_into()
            .map_err(|_| DaServerError::Corrupt {
                what: "validator key",
                height: 0,
                message: format!("{} bytes instead of 32", seed.len()),
            });
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| DaServerError::Random(e.to_string()))?;
    store.set_meta(META_VALIDATOR_KEY, &seed)?;
    Ok(seed)
}

impl DaServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<addr>`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// `ws://<addr>`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.local_addr)
    }

    /// Height of the latest DA block.
    pub fn head_height(&self) -> u64 {
        self.chain.head().height()
    }

    /// File holding an admin token (all permissions), when auth is on.
    pub fn admin_token_path(&self) -> Option<&Path> {
        self.admin_token_path.as_deref()
    }

    /// A token with `permissions`, when auth is on.
    pub fn issue_token(&self, permissions: &[Permission]) -> Option<String> {
        self.secret.as_ref().map(|s| s.issue(permissions))
    }

    /// Stops serving and producing, fails queued submissions, and waits (bounded) until the
    /// database is closed, so the data dir can be opened again.
    pub async fn stop(self) -> Result<()> {
        let Self {
            rpc,
            stop_producer,
            producer,
            chain,
            ..
        } = self;
        // Already stopped is fine.
        let _ = rpc.stop();
        let _ = stop_producer.send(true);
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, rpc.stopped()).await;
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, producer)
            .await
            .is_err()
        {
            tracing::warn!("DA block producer did not stop in time");
        }
        chain.fail_pending();
        let weak = Arc::downgrade(&chain);
        drop(chain);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_TIMEOUT;
        while weak.strong_count() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return Err(DaServerError::Rpc(
                    "connections still hold the DA chain after stop".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::info!("DA server stopped");
        Ok(())
    }
}
