//! A JSON-RPC proxy inside the test process: it forwards calls to a real node and lets the test
//! rewrite the answers, i.e. a node that lies about some of them. Only the test uses it; the
//! code under test talks to it like to any node.

use jsonrpsee::{
    core::{ClientError, client::ClientT, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
    server::{RpcModule, Server, ServerHandle},
    types::ErrorObjectOwned,
};
use serde_json::Value;
use std::{sync::Arc, time::Duration};

/// Rewrites the node's answer to `method(params)`.
pub(crate) type Rewrite = dyn Fn(&str, &[Value], Value) -> Value + Send + Sync;

/// Methods forwarded: what `fraud-proof check` and the tests ask for.
const METHODS: [&str; 7] = [
    "eth_chainId",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "debug_getRawBlock",
    "hb_getExecutionWitness",
    "hb_outputAtBlock",
    "hb_daStatus",
];

/// A running proxy, stopped on drop.
pub(crate) struct RpcProxy {
    /// Its HTTP URL.
    pub(crate) url: String,
    handle: ServerHandle,
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        let _ = self.handle.stop();
    }
}

impl RpcProxy {
    /// Starts a proxy on an ephemeral loopback port in front of `upstream`.
    pub(crate) async fn start(upstream: &str, rewrite: Arc<Rewrite>) -> Self {
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(60))
            .build(upstream)
            .expect("upstream client");
        let mut module = RpcModule::new((client, rewrite));
        for method in METHODS {
            module
                .register_async_method(method, move |params, context, _| async move {
                    let args: Vec<Value> = match params.as_str() {
                        None => Vec::new(),
                        Some(_) => params.parse()?,
                    };
                    let (client, rewrite): &(HttpClient, Arc<Rewrite>) = &context;
                    let mut forwarded = ArrayParams::new();
                    for arg in &args {
                        forwarded.insert(arg).expect("json value");
                    }
                    match client.request::<Value, _>(method, forwarded).await {
                        Ok(answer) => Ok(rewrite(method, &args, answer)),
                        Err(ClientError::Call(err)) => Err(err),
                        Err(err) => Err(ErrorObjectOwned::owned(
                            -32000,
                            format!("proxy: {err}"),
                            None::<()>,
                        )),
                    }
                })
                .expect("register");
        }
        let server = Server::builder()
            .build("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let url = format!("http://{}", server.local_addr().expect("proxy address"));
        let handle = server.start(module);
        Self { url, handle }
    }
}
