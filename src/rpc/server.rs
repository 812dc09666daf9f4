//! Server setup: flags, namespace selection, limits, CORS, HTTP and WS listeners.

use super::middleware::RpcMiddleware;
use super::{
    debug::{DebugApiServer, DebugRpc},
    eth::{
        EthApiServer, EthFilterApiServer, EthFilterRpc, EthPubSubApiServer, EthPubSubRpc, EthRpc,
        EthSendSyncApiServer, EthSendSyncRpc,
    },
    hb::{HbApiServer, HbRpc},
    net::{NetApiServer, NetRpc},
    txpool::{TxpoolApiServer, TxpoolRpc},
    web3::{Web3ApiServer, Web3Rpc},
};
use clap::Args;
use http::{HeaderValue, Method};
use jsonrpsee::{
    RpcModule,
    core::middleware::RpcServiceBuilder,
    server::{BatchRequestConfig, Server, ServerConfig, ServerHandle},
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// Namespaces this node serves.
const KNOWN_NAMESPACES: &[&str] = &["eth", "net", "web3", "txpool", "debug", "hb", "testing"];

/// HTTP and WebSocket RPC flags (reth's names and defaults).
#[derive(Debug, Clone, Args)]
pub struct RpcArgs {
    /// Enable the HTTP-RPC server.
    #[arg(long = "http")]
    pub http: bool,
    /// HTTP-RPC listening address.
    #[arg(long = "http.addr", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub http_addr: IpAddr,
    /// HTTP-RPC port (0 = any free port).
    #[arg(long = "http.port", default_value_t = 8545)]
    pub http_port: u16,
    /// Namespaces served over HTTP, comma separated.
    #[arg(
        long = "http.api",
        value_delimiter = ',',
        default_value = "eth,net,web3"
    )]
    pub http_api: Vec<String>,
    /// Allowed CORS origins over HTTP (comma separated, or `*`).
    #[arg(long = "http.corsdomain")]
    pub http_corsdomain: Option<String>,
    /// Enable the WS-RPC server.
    #[arg(long = "ws")]
    pub ws: bool,
    /// WS-RPC listening address.
    #[arg(long = "ws.addr", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub ws_addr: IpAddr,
    /// WS-RPC port (0 = any free port).
    #[arg(long = "ws.port", default_value_t = 8546)]
    pub ws_port: u16,
    /// Namespaces served over WS, comma separated.
    #[arg(long = "ws.api", value_delimiter = ',', default_value = "eth,net,web3")]
    pub ws_api: Vec<String>,
    /// Allowed origins for WS connections (comma separated, or `*`).
    #[arg(long = "ws.origins")]
    pub ws_origins: Option<String>,
    /// Largest request body in megabytes.
    #[arg(long = "rpc.max-request-size", default_value_t = 15)]
    pub max_request_size_mb: u32,
    /// Largest response body in megabytes.
    #[arg(long = "rpc.max-response-size", default_value_t = 160)]
    pub max_response_size_mb: u32,
    /// Most concurrent connections per server.
    #[arg(long = "rpc.max-connections", default_value_t = 500)]
    pub max_connections: u32,
    /// Most requests in one batch.
    #[arg(long = "rpc.max-batch-size", default_value_t = 1000)]
    pub max_batch_size: u32,
    /// Gas cap of `eth_call` and `eth_estimateGas`.
    #[arg(long = "rpc.gascap", default_value_t = 50_000_000)]
    pub gas_cap: u64,
    /// Most blocks one log query (`eth_getLogs`, a filter poll) may span; 0 = no limit.
    #[arg(long = "rpc.max-blocks-per-filter", default_value_t = crate::rpc::eth::MAX_BLOCK_RANGE)]
    pub max_blocks_per_filter: u64,
    /// Most logs one response may carry (one block is always returned whole); 0 = no limit.
    #[arg(long = "rpc.max-logs-per-response", default_value_t = crate::rpc::eth::MAX_LOGS_PER_RESPONSE)]
    pub max_logs_per_response: usize,
}

impl RpcArgs {
    /// The log query limits the flags set (0 = unlimited, as reth).
    pub const fn log_limits(&self) -> crate::rpc::eth::LogQueryLimits {
        crate::rpc::eth::LogQueryLimits {
            max_block_range: if self.max_blocks_per_filter == 0 {
                u64::MAX
            } else {
                self.max_blocks_per_filter
            },
            max_logs: if self.max_logs_per_response == 0 {
                usize::MAX
            } else {
                self.max_logs_per_response
            },
        }
    }
}

impl Default for RpcArgs {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: RpcArgs,
        }
        Wrapper::parse_from(["rpc"]).args
    }
}

/// The namespace implementations a server can choose from.
#[derive(Debug, Clone)]
pub struct RpcModules {
    /// `eth_`.
    pub eth: EthRpc,
    /// `eth_` logs and filters.
    pub eth_filter: EthFilterRpc,
    /// `eth_` subscriptions (WS only; jsonrpsee refuses them over HTTP).
    pub eth_pubsub: EthPubSubRpc,
    /// `eth_sendRawTransactionSync` (EIP-7966).
    pub eth_send_sync: EthSendSyncRpc,
    /// `net_`.
    pub net: NetRpc,
    /// `txpool_`.
    pub txpool: TxpoolRpc,
    /// `debug_` (raw encodings, tracing).
    pub debug: DebugRpc,
    /// `testing_` (block building for tests; only when listed explicitly).
    pub testing: crate::rpc::testing::TestingRpc,
    /// `hb_`.
    pub hb: HbRpc,
    /// `hb_` output roots and withdrawals.
    pub hb_withdrawals: crate::withdrawals::rpc::WithdrawalsRpc,
}

impl RpcModules {
    /// Merges the selected namespaces; an unknown name is an error naming it.
    pub fn select(&self, names: &[String]) -> eyre::Result<RpcModule<()>> {
        let mut module = RpcModule::new(());
        for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            let result = match name {
                "eth" => module
                    .merge(self.eth.clone().into_rpc())
                    .and_then(|()| module.merge(self.eth_filter.clone().into_rpc()))
                    .and_then(|()| module.merge(self.eth_pubsub.clone().into_rpc()))
                    .and_then(|()| module.merge(self.eth_send_sync.clone().into_rpc())),
                "net" => module.merge(self.net.into_rpc()),
                "web3" => module.merge(Web3Rpc.into_rpc()),
                "txpool" => module.merge(self.txpool.clone().into_rpc()),
                "debug" => module.merge(self.debug.clone().into_rpc()),
                "testing" => {
                    use crate::rpc::testing::TestingApiServer;
                    module.merge(self.testing.clone().into_rpc())
                }
                "hb" => module.merge(self.hb.clone().into_rpc()).and_then(|()| {
                    use crate::withdrawals::rpc::WithdrawalsApiServer;
                    module.merge(self.hb_withdrawals.clone().into_rpc())
                }),
                other => eyre::bail!(
                    "unknown RPC namespace `{other}` (known: {})",
                    KNOWN_NAMESPACES.join(", ")
                ),
            };
            // Listing a namespace twice is harmless.
            if let Err(err) = result {
                tracing::debug!(%err, name, "namespace already registered");
            }
        }
        Ok(module)
    }
}

/// Running servers.
#[derive(Debug, Default)]
pub struct RpcHandles {
    /// HTTP server and its bound address.
    pub http: Option<(SocketAddr, ServerHandle)>,
    /// WS server and its bound address.
    pub ws: Option<(SocketAddr, ServerHandle)>,
}

impl RpcHandles {
    /// Stops both servers and waits for them to finish.
    pub async fn stop(self) {
        for (_, handle) in [self.http, self.ws].into_iter().flatten() {
            let _ = handle.stop();
            handle.stopped().await;
        }
    }
}

fn cors_layer(origins: Option<&str>) -> eyre::Result<Option<CorsLayer>> {
    let Some(origins) = origins else {
        return Ok(None);
    };
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(Any);
    if origins.trim() == "*" {
        return Ok(Some(layer.allow_origin(Any)));
    }
    let list = origins
        .split(',')
        .map(|o| {
            HeaderValue::from_str(o.trim())
                .map_err(|_| eyre::eyre!("invalid CORS origin `{}`", o.trim()))
        })
        .collect::<eyre::Result<Vec<_>>>()?;
    Ok(Some(layer.allow_origin(AllowOrigin::list(list))))
}

fn server_config(args: &RpcArgs) -> jsonrpsee::server::ServerConfigBuilder {
    ServerConfig::builder()
        .max_request_body_size(args.max_request_size_mb.saturating_mul(1024 * 1024))
        .max_response_body_size(args.max_response_size_mb.saturating_mul(1024 * 1024))
        .max_connections(args.max_connections)
        .set_batch_request_config(BatchRequestConfig::Limit(args.max_batch_size))
}

/// Which transport a server speaks.
#[derive(Debug, Clone, Copy)]
enum Transport {
    Http,
    Ws,
}

/// Starts one server on `addr` serving `api`, with CORS for `origins`.
async fn start_one(
    args: &RpcArgs,
    modules: &RpcModules,
    transport: Transport,
    addr: SocketAddr,
    api: &[String],
    origins: Option<&str>,
) -> eyre::Result<(SocketAddr, ServerHandle)> {
    let module = modules.select(api)?;
    let cors = cors_layer(origins)?;
    let (config, scheme, flags) = match transport {
        Transport::Http => (
            server_config(args).http_only(),
            "http",
            "--http.addr/--http.port",
        ),
        Transport::Ws => (server_config(args).ws_only(), "ws", "--ws.addr/--ws.port"),
    };
    let server = Server::builder()
        .set_config(config.build())
        .set_http_middleware(tower::ServiceBuilder::new().option_layer(cors))
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(RpcMiddleware::new))
        .build(addr)
        .await
        .map_err(|e| eyre::eyre!("cannot listen on {flags} {addr}: {e}"))?;
    let bound = server.local_addr()?;
    tracing::info!(url = %format!("{scheme}://{bound}"), "RPC server started");
    Ok((bound, server.start(module)))
}

/// Starts the HTTP and/or WS servers the flags ask for.
pub async fn start_servers(args: &RpcArgs, modules: &RpcModules) -> eyre::Result<RpcHandles> {
    let mut handles = RpcHandles::default();
    if args.http {
        let addr = SocketAddr::new(args.http_addr, args.http_port);
        let origins = args.http_corsdomain.as_deref();
        handles.http = Some(
            start_one(
                args,
                modules,
                Transport::Http,
                addr,
                &args.http_api,
                origins,
            )
            .await?,
        );
    }
    if args.ws {
        let addr = SocketAddr::new(args.ws_addr, args.ws_port);
        let origins = args.ws_origins.as_deref();
        handles.ws =
            Some(start_one(args, modules, Transport::Ws, addr, &args.ws_api, origins).await?);
    }
    Ok(handles)
}
