//! DA outage: a `--dev` node posting to a standalone `da-server` keeps producing blocks while
//! the DA server is down, up to `--da.max-unposted-blocks`, then pauses (metric
//! `hauptbuch_da_paused`); once the server is back on the same port and datadir, production
//! resumes, every block lands on DA in order without a gap, and `finalized` catches up.
//!
//! Every wait is on a condition with a generous deadline; nothing asserts on timings.

use crate::{
    common::binary,
    network::free_port,
    node::{NodeProcess, raw_transfer},
};
use alloy_primitives::{Address, B256, U64, keccak256};
use alloy_rpc_types_eth::Block;
use celestia_rpc::{Client, prelude::*};
use hauptbuch_exex::celestia::decode_blob;
use hauptbuch_reth::chainspec::ChainSpec;
use jsonrpsee::{core::client::ClientT, http_client::HttpClient, rpc_params};
use std::{
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// How long the DA server stays down (the figure).
const OUTAGE: Duration = Duration::from_secs(30);
/// `--da.max-unposted-blocks` of the node under test: many more blocks than posting normally
/// lags by, reached within a few seconds of blocks.
const BOUND: u64 = 20;
/// Deadline of each condition the test waits for (the submitter's retry backoff alone may take
/// 30 s after DA returns).
const DEADLINE: Duration = Duration::from_secs(180);
/// Upper bound for one DA request from the test.
const DA_TIMEOUT: Duration = Duration::from_secs(10);

/// A `da-server` process that can be killed and started again on the same port and datadir.
struct DaServer {
    child: Option<Child>,
    addr: String,
    datadir: PathBuf,
}

impl DaServer {
    fn start(datadir: &Path) -> Self {
        let mut server = Self {
            child: None,
            addr: format!("127.0.0.1:{}", free_port()),
            datadir: datadir.to_path_buf(),
        };
        server.restart();
        server
    }

    /// Starts the process and waits until it serves (it prints its URL once listening).
    fn restart(&mut self) {
        assert!(self.child.is_none(), "DA server already running");
        let mut child = Command::new(binary())
            .args(["da-server", "--block-time", "250ms", "--addr", &self.addr])
            .arg("--datadir")
            .arg(&self.datadir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn da-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(DEADLINE)
            .expect("da-server prints its URL once listening");
        assert_eq!(line, self.url(), "da-server URL");
        self.child = Some(child);
    }

    /// SIGKILL.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn token_file(&self) -> PathBuf {
        self.datadir.join("auth/admin.token")
    }
}

impl Drop for DaServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `f` every 100 ms until it returns `Some`, failing after [`DEADLINE`].
async fn until<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = f().await {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn block(client: &HttpClient, tag: &str) -> Block {
    client
        .request::<Option<Block>, _>("eth_getBlockByNumber", rpc_params![tag, false])
        .await
        .expect("eth_getBlockByNumber")
        .expect("block exists")
}

async fn number(client: &HttpClient, tag: &str) -> u64 {
    block(client, tag).await.header.number
}

async fn da_status(client: &HttpClient) -> serde_json::Value {
    client
        .request("hb_daStatus", rpc_params![])
        .await
        .expect("hb_daStatus")
}

/// `lastSubmittedBlock` of `hb_daStatus` (0 before anything was submitted).
async fn last_submitted(client: &HttpClient) -> u64 {
    da_status(client).await["lastSubmittedBlock"]
        .as_str()
        .map_or(0, |n| {
            u64::from_str_radix(n.trim_start_matches("0x"), 16).expect("hex")
        })
}

/// The value of gauge (or counter) `name` on a Prometheus endpoint, if it is there yet.
pub(crate) fn gauge(metrics: &str, name: &str) -> Option<f64> {
    let mut stream = std::net::TcpStream::connect(metrics).ok()?;
    stream.set_read_timeout(Some(DA_TIMEOUT)).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {metrics}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name).then(|| value.trim().parse().ok())?
    })
}

/// Sends a transfer every 50 ms from dev account 2 until `stop`; a rejected send is retried with
/// the same nonce.
fn send_continuously(client: HttpClient, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut nonce = 0;
        while !stop.load(Ordering::Relaxed) {
            let sent: Result<B256, _> = client
                .request(
                    "eth_sendRawTransaction",
                    rpc_params![raw_transfer(2, nonce, Address::repeat_byte(0xda), 1)],
                )
                .await;
            if sent.is_ok() {
                nonce += 1;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        nonce
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_da_outage_pauses_production_at_the_bound_and_every_block_is_posted_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut da = DaServer::start(&dir.path().join("da"));
    let metrics = format!("127.0.0.1:{}", free_port());
    let bound = BOUND.to_string();
    let (url, token) = (da.url(), da.token_file());
    let node = NodeProcess::start(
        &dir.path().join("node"),
        &[
            "--dev",
            "--dev.block-time",
            "250ms",
            "--da.url",
            &url,
            "--da.auth-token-file",
            token.to_str().expect("utf-8 path"),
            "--da.batch-interval",
            "250ms",
            "--da.max-unposted-blocks",
            &bound,
            "--metrics",
            &metrics,
        ],
    );
    let client = node.client();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = send_continuously(client.clone(), stop.clone());

    // Posting works: blocks become firm.
    until("the first firm blocks", || async {
        (number(&client, "finalized").await >= 5).then_some(())
    })
    .await;

    // DA goes away. Blocks keep coming until BOUND of them are unposted, then production pauses.
    da.kill();
    let killed = Instant::now();
    let latest_at_kill = number(&client, "latest").await;
    let mut paused_at = None;
    while killed.elapsed() < OUTAGE {
        // `latest` first: the posted height read after it is at least what allowed it.
        let latest = number(&client, "latest").await;
        let posted = last_submitted(&client).await;
        assert!(
            latest <= posted + BOUND,
            "block {latest} produced with only {posted} posted (bound {BOUND})"
        );
        if latest == posted + BOUND
            && gauge(&metrics, "hauptbuch_da_paused") == Some(1.0)
            && da_status(&client).await["productionPaused"] == true
        {
            paused_at.get_or_insert(latest);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paused_at = paused_at.expect("production paused at the bound during the outage");
    assert!(
        paused_at > latest_at_kill,
        "no block was produced during the outage (paused at {paused_at}, {latest_at_kill} at the kill)"
    );
    assert_eq!(
        gauge(&metrics, "hauptbuch_da_unposted_blocks"),
        Some(BOUND as f64)
    );
    assert!(
        gauge(&metrics, "hauptbuch_da_unposted_bytes").is_some_and(|bytes| bytes > 0.0),
        "the unposted blobs' bytes are reported"
    );

    // DA is back on the same port and datadir: production resumes and firm catches up.
    da.restart();
    until("production to resume", || async {
        (number(&client, "latest").await > paused_at + 5).then_some(())
    })
    .await;
    until("the paused gauge to clear", || async {
        (gauge(&metrics, "hauptbuch_da_paused") == Some(0.0)).then_some(())
    })
    .await;
    let status = da_status(&client).await;
    assert_eq!(status["productionPaused"], false);
    assert_eq!(status["maxUnpostedBlocks"], format!("{BOUND:#x}"));
    let firm = until("finalized to catch up with latest", || async {
        let firm = number(&client, "finalized").await;
        let latest = number(&client, "latest").await;
        (firm > paused_at && latest - firm <= BOUND).then_some(firm)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let sent = sender.await.expect("sender task");
    assert!(sent > 0, "no transaction was accepted");

    // Every block up to `firm` is on DA, in order, without a gap, and equals the node's block;
    // a re-posted batch may repeat blocks already seen.
    let token = std::fs::read_to_string(da.token_file()).expect("admin token");
    let da_client = Client::new(
        &da.url(),
        Some(token.trim()),
        Some(DA_TIMEOUT),
        Some(DA_TIMEOUT),
    )
    .await
    .expect("DA client");
    let namespace =
        hauptbuch_reth::derive::namespace(&ChainSpec::from_arg("devnet").expect("devnet"))
            .expect("namespace");
    let da_head = tokio::time::timeout(DA_TIMEOUT, da_client.header_network_head())
        .await
        .expect("DA head in time")
        .expect("DA head")
        .height();
    let mut next = 1;
    for height in 1..=da_head {
        let blobs = tokio::time::timeout(DA_TIMEOUT, da_client.blob_get_all(height, &[namespace]))
            .await
            .expect("blob.GetAll in time")
            .expect("blob.GetAll")
            .unwrap_or_default();
        for blob in blobs {
            let batch = decode_blob(&blob.data).expect("the node's blob decodes");
            let (first, last) = (batch.header.first_block, batch.header.last_block);
            assert!(
                first <= next,
                "gap on DA: blob at height {height} holds {first}..={last}, block {next} missing"
            );
            for (number, posted) in (first..=last).zip(&batch.blocks) {
                if number < next {
                    continue; // re-posted
                }
                let node_block = client
                    .request::<Option<Block>, _>(
                        "eth_getBlockByNumber",
                        rpc_params![U64::from(number), false],
                    )
                    .await
                    .expect("eth_getBlockByNumber")
                    .expect("the node has the block");
                assert_eq!(
                    keccak256(&posted.header),
                    node_block.header.hash,
                    "block {number} on DA differs from the node's"
                );
                next = number + 1;
            }
        }
    }
    assert!(
        next > firm,
        "DA holds blocks up to {} but block {firm} is firm",
        next - 1
    );
    node.terminate();
}
