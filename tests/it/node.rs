//! End-to-end tests of `hauptbuch-reth node`: a real process on ephemeral ports, driven over
//! JSON-RPC like a wallet would.

use crate::common::{DEV_KEYS, binary, transfer};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{Block, TransactionReceipt};
use jsonrpsee::{
    core::client::ClientT,
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Upper bound for anything a test waits for.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A node process, killed on drop.
/// `--dev` with 200 ms blocks, 200 ms embedded DA blocks and 200 ms batches: blocks become firm
/// quickly.
pub(crate) const FAST_DA_DEV_ARGS: [&str; 7] = [
    "--dev",
    "--dev.block-time",
    "200ms",
    "--da.block-time",
    "200ms",
    "--da.batch-interval",
    "200ms",
];

pub(crate) struct NodeProcess {
    child: Child,
    pub(crate) http: String,
    /// The WS address, when started with `--ws`.
    pub(crate) ws: Option<String>,
    /// The embedded DA server's URL, when the node runs one (`--dev`).
    pub(crate) da: Option<String>,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// Starts `node` with `args` on `datadir`, HTTP on an ephemeral port.
    pub(crate) fn start(datadir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(binary())
            .args([
                "node",
                "--http",
                "--http.port",
                "0",
                "--http.api",
                "eth,net,web3,txpool,debug,hb",
            ])
            .arg("--datadir")
            .arg(datadir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(if std::env::var("HB_NODE_LOGS").is_ok() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("spawn node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // The DA URL, when there is one, comes before the HTTP address.
        let mut da = None;
        let http = loop {
            let line = rx
                .recv_timeout(TIMEOUT)
                .expect("node prints its HTTP address");
            if let Some(url) = line.strip_prefix("da: ") {
                da = Some(url.to_string());
            }
            if line.starts_with("http://") {
                break line;
            }
        };
        // The WS address follows the HTTP one.
        let ws = args.contains(&"--ws").then(|| {
            let line = rx
                .recv_timeout(TIMEOUT)
                .expect("node prints its WS address");
            assert!(
                line.starts_with("ws://"),
                "expected the WS address, got {line}"
            );
            line
        });
        Self {
            child,
            http,
            ws,
            da,
        }
    }

    pub(crate) fn client(&self) -> HttpClient {
        HttpClientBuilder::default()
            .build(&self.http)
            .expect("client")
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub(crate) fn terminate(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "node exited with {status}");
                return;
            }
            assert!(
                started.elapsed() < TIMEOUT,
                "node did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Polls `f` until it returns `Some`, failing after [`TIMEOUT`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = f().await {
            return value;
        }
        assert!(started.elapsed() < TIMEOUT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn raw_transfer(key: usize, nonce: u64, to: Address, value: u64) -> Bytes {
    let signer = DEV_KEYS[key].parse().expect("key");
    let tx = transfer(&signer, 31_337_420, nonce, to, value);
    tx.into_inner().encoded_2718().into()
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_node_mines_a_wallet_transfer_and_serves_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "100ms"]);
    let client = node.client();

    let chain_id: U64 = client
        .request("eth_chainId", rpc_params![])
        .await
        .expect("chainId");
    assert_eq!(chain_id, U64::from(31_337_420));
    let version: String = client
        .request("net_version", rpc_params![])
        .await
        .expect("net_version");
    assert_eq!(version, "31337420");

    let to = Address::repeat_byte(0x42);
    let hash: B256 = client
        .request(
            "eth_sendRawTransaction",
            rpc_params![raw_transfer(0, 0, to, 12_345)],
        )
        .await
        .expect("send");
    let receipt: TransactionReceipt = eventually("receipt", || async {
        client
            .request::<Option<TransactionReceipt>, _>(
                "eth_getTransactionReceipt",
                rpc_params![hash],
            )
            .await
            .expect("receipt call")
    })
    .await;
    assert!(receipt.status());
    assert_eq!(receipt.gas_used, 21_000);
    let balance: U256 = client
        .request("eth_getBalance", rpc_params![to, "latest"])
        .await
        .expect("balance");
    assert_eq!(balance, U256::from(12_345));

    let number = receipt.block_number.expect("mined");
    let block: Block = client
        .request::<Option<Block>, _>(
            "eth_getBlockByNumber",
            rpc_params![U64::from(number), false],
        )
        .await
        .expect("block")
        .expect("block exists");
    assert_eq!(block.header.hash, receipt.block_hash.expect("hash"));
    assert!(block.transactions.hashes().any(|h| h == hash));

    // Wallet-facing errors use the words wallets parse.
    let err = client
        .request::<B256, _>(
            "eth_sendRawTransaction",
            rpc_params![raw_transfer(0, 0, to, 1)],
        )
        .await
        .expect_err("replayed nonce");
    assert!(err.to_string().contains("nonce too low"), "{err}");
    let err = client
        .request::<B256, _>(
            "eth_sendRawTransaction",
            rpc_params![Bytes::from_static(&[0x02, 0xff])],
        )
        .await
        .expect_err("garbage");
    assert!(!err.to_string().is_empty());

    // Blocks keep coming every ~100 ms and `safe` follows `latest`.
    let later: U64 = eventually("more blocks", || async {
        let n: U64 = client
            .request("eth_blockNumber", rpc_params![])
            .await
            .expect("number");
        (n.to::<u64>() >= number + 3).then_some(n)
    })
    .await;
    assert!(later.to::<u64>() > number);
    let safe: Block = client
        .request::<Option<Block>, _>("eth_getBlockByNumber", rpc_params!["safe", false])
        .await
        .expect("safe")
        .expect("exists");
    assert!(safe.header.number >= number);
    node.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_transactions_survive_a_graceful_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No --dev: nothing is mined, the transaction stays in the pool.
    let node = NodeProcess::start(dir.path(), &[]);
    let client = node.client();
    let hash: B256 = client
        .request(
            "eth_sendRawTransaction",
            rpc_params![raw_transfer(1, 0, Address::ZERO, 1)],
        )
        .await
        .expect("send");
    node.terminate();

    let node = NodeProcess::start(dir.path(), &[]);
    let client = node.client();
    let status: serde_json::Value = client
        .request("txpool_status", rpc_params![])
        .await
        .expect("status");
    assert_eq!(status["pending"], "0x1", "{status}");
    let tx: serde_json::Value = client
        .request("eth_getTransactionByHash", rpc_params![hash])
        .await
        .expect("tx");
    assert_eq!(tx["hash"], serde_json::json!(hash));
    node.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_tag_is_the_next_block_built_from_the_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No --dev: nothing is mined, so the pending block stays what the pool would give.
    let node = NodeProcess::start(dir.path(), &[]);
    let client = node.client();
    let to = Address::repeat_byte(0x77);
    let mut hashes = Vec::new();
    for raw in [
        raw_transfer(1, 0, to, 5),
        raw_transfer(1, 1, to, 7),
        // A nonce gap: queued, not in the next block.
        raw_transfer(2, 5, to, 11),
    ] {
        let hash: B256 = client
            .request("eth_sendRawTransaction", rpc_params![raw])
            .await
            .expect("send");
        hashes.push(hash);
    }
    let balance = |tag: &'static str| {
        let client = client.clone();
        async move {
            client
                .request::<U256, _>("eth_getBalance", rpc_params![to, tag])
                .await
                .expect("balance")
        }
    };
    assert_eq!(balance("latest").await, U256::ZERO);
    assert_eq!(balance("pending").await, U256::from(12));

    let pending: serde_json::Value = client
        .request("eth_getBlockByNumber", rpc_params!["pending", false])
        .await
        .expect("pending block");
    assert_eq!(pending["number"], "0x1", "{pending}");
    assert_eq!(
        pending["transactions"],
        serde_json::json!([hashes[0], hashes[1]]),
        "pool order, without the queued transaction"
    );
    let count: U64 = client
        .request(
            "eth_getBlockTransactionCountByNumber",
            rpc_params!["pending"],
        )
        .await
        .expect("count");
    assert_eq!(count, U64::from(2));
    let second: serde_json::Value = client
        .request(
            "eth_getTransactionByBlockNumberAndIndex",
            rpc_params!["pending", "0x1"],
        )
        .await
        .expect("tx by index");
    assert_eq!(second["hash"], serde_json::json!(hashes[1]));
    assert_eq!(second["blockHash"], pending["hash"]);
    let receipts: Vec<TransactionReceipt> = client
        .request("eth_getBlockReceipts", rpc_params!["pending"])
        .await
        .expect("receipts");
    assert_eq!(receipts.len(), 2);
    assert!(receipts.iter().all(|r| r.status()));
    assert_eq!(receipts[1].inner.cumulative_gas_used(), 42_000);
    // The chain itself did not move.
    let latest: U64 = client
        .request("eth_blockNumber", rpc_params![])
        .await
        .expect("block number");
    assert_eq!(latest, U64::ZERO);
    // A new transaction changes the pending block.
    let third: B256 = client
        .request(
            "eth_sendRawTransaction",
            rpc_params![raw_transfer(0, 0, to, 100)],
        )
        .await
        .expect("send");
    assert_eq!(balance("pending").await, U256::from(112));
    let pending: serde_json::Value = client
        .request("eth_getBlockByNumber", rpc_params!["pending", false])
        .await
        .expect("pending block");
    assert_eq!(pending["transactions"][2], serde_json::json!(third));
    node.terminate();
}

#[test]
fn request_size_and_batch_limits_give_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        dir.path(),
        &["--rpc.max-request-size", "1", "--rpc.max-batch-size", "2"],
    );
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let ok = crate::common::post(&node.http, &format!("[{call},{call}]")).expect("batch of 2");
    assert!(ok.contains("0x1de2bcc"), "{ok}");

    let too_many =
        crate::common::post(&node.http, &format!("[{call},{call},{call}]")).expect("batch of 3");
    assert!(
        too_many.contains("batch") && too_many.contains("too large"),
        "{too_many}"
    );

    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "00".repeat(1024 * 1024)
    );
    let response = crate::common::post(&node.http, &big).expect("oversized request");
    assert!(response.to_lowercase().contains("too big"), "{response}");

    // The node is still healthy afterwards.
    let again = crate::common::post(&node.http, call).expect("call");
    assert!(again.contains("0x1de2bcc"), "{again}");
}

/// The JSON-RPC error (code, message) of a response body.
fn rpc_error(body: &str) -> (i64, String) {
    let value: serde_json::Value = serde_json::from_str(body).expect("JSON response");
    let error = &value["error"];
    (
        error["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("no error in {body}")),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_json_rpc_errors_and_connections_are_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        dir.path(),
        &["--ws", "--ws.port", "0", "--rpc.max-connections", "2"],
    );
    let post = |body: &str| crate::common::post(&node.http, body).expect("response");

    // Not JSON, and JSON that is not a request.
    assert_eq!(
        rpc_error(&post(r#"{"jsonrpc":"2.0","id":1,"method""#)).0,
        -32700
    );
    assert_eq!(rpc_error(&post("[]")).0, -32600);
    // An unknown method, and a known one with parameters of the wrong type or number.
    let (code, message) = rpc_error(&post(
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_noSuchMethod","params":[]}"#,
    ));
    assert_eq!((code, message.as_str()), (-32601, "Method not found"));
    let (code, message) = rpc_error(&post(
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[42,"latest"]}"#,
    ));
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("invalid type"), "{message}");
    let (code, _) = rpc_error(&post(
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0xnothex",false]}"#,
    ));
    assert_eq!(code, -32602);
    let (code, _) = rpc_error(&post(
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xdeadbeef"]}"#,
    ));
    assert!(code == -32602 || code == -32000, "{code}");
    // One bad entry of a batch does not spoil the others.
    let batch: serde_json::Value = serde_json::from_str(&post(
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"nope","params":[]}]"#,
    ))
    .expect("batch response");
    let answers = batch.as_array().expect("array");
    assert_eq!(answers.len(), 2);
    assert!(
        answers
            .iter()
            .any(|a| a["id"] == 1 && a["result"] == "0x1de2bcc")
    );
    assert!(
        answers
            .iter()
            .any(|a| a["id"] == 2 && a["error"]["code"] == -32601)
    );

    // Connection limit: two WS sessions hold both places; a third is refused until one leaves.
    let ws = node.ws.clone().expect("ws address");
    let connect = || jsonrpsee::ws_client::WsClientBuilder::default().build(ws.clone());
    let first = connect().await.expect("first connection");
    let second = connect().await.expect("second connection");
    let refused = connect()
        .await
        .expect_err("a third connection is over the limit");
    assert!(refused.to_string().contains("429"), "{refused}");
    drop(first);
    let third = eventually("a place to free up", || async { connect().await.ok() }).await;
    let chain: String = third
        .request("eth_chainId", rpc_params![])
        .await
        .expect("chain id");
    assert_eq!(chain, "0x1de2bcc");
    let chain: String = second
        .request("eth_chainId", rpc_params![])
        .await
        .expect("chain id");
    assert_eq!(chain, "0x1de2bcc");
    // And the node kept serving plain HTTP throughout.
    assert!(
        post(r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#)
            .contains("0x1de2bcc")
    );
    node.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_blocks_become_firm_through_the_embedded_da_and_stay_firm_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = FAST_DA_DEV_ARGS;
    let node = NodeProcess::start(dir.path(), &args);
    let client = node.client();
    let block = |tag: &'static str| {
        let client = client.clone();
        async move {
            client
                .request::<Option<Block>, _>("eth_getBlockByNumber", rpc_params![tag, false])
                .await
                .expect("block by tag")
                .expect("tag resolves")
                .header
                .number
        }
    };
    let firm = eventually("a firm block", || async {
        let finalized = block("finalized").await;
        (finalized >= 3).then_some(finalized)
    })
    .await;
    assert!(firm <= block("latest").await, "firm never passes soft");
    assert!(firm <= block("safe").await);
    // `finalized` keeps following `latest`: with 200 ms blocks, 200 ms DA blocks and 200 ms
    // batches the bound (DA block time + batch interval) is 2 blocks; the benchmark measures the
    // latency itself (docs/benchmarks.md). Here: it advances, and the lag stays far below 10
    // blocks (2 s) while blocks keep coming, i.e. it does not grow.
    let mut last_firm = firm;
    let mut advanced = 0;
    for _ in 0..30 {
        let finalized = block("finalized").await;
        let latest = block("latest").await;
        assert!(
            latest - finalized <= 10,
            "finalized {finalized} lags latest {latest} by more than 10 blocks"
        );
        if finalized > last_firm {
            advanced += 1;
            last_firm = finalized;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        advanced >= 3,
        "finalized advanced only {advanced} times in 3 s"
    );
    let status: serde_json::Value = client
        .request("hb_daStatus", rpc_params![])
        .await
        .expect("hb_daStatus");
    assert_eq!(status["enabled"], true, "{status}");
    assert!(status["lastDaHeight"].is_string(), "{status}");
    let firm_head = u64::from_str_radix(
        status["firmHead"]["number"]
            .as_str()
            .expect("number")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");
    assert!(firm_head >= firm, "{status}");
    node.terminate();

    let node = NodeProcess::start(dir.path(), &args);
    let client = node.client();
    let after: Block = client
        .request::<Option<Block>, _>("eth_getBlockByNumber", rpc_params!["finalized", false])
        .await
        .expect("finalized")
        .expect("exists");
    assert!(
        after.header.number >= firm,
        "finalized went backwards across a restart"
    );
    node.terminate();
}
