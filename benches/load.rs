//! Load generator: a `--dev` node under a stream of signed transfers from the 20 dev accounts.
//!
//! Run with `cargo bench --bench load` (or `just bench`). It starts the release node binary on
//! ephemeral ports (or, with `HB_LOAD_RPC=<http urls, comma-separated>` and `HB_LOAD_WS=<ws url>`,
//! targets a running network such as `just devnet`, each sender's transactions to one of the
//! URLs; start it once the network is warm, ~25 s after `just devnet`), pre-signs `HB_LOAD_TXS`
//! transfers (default 20,000), submits them over HTTP in
//! JSON-RPC batches from several concurrent clients, follows `newHeads` over WebSocket, and
//! reports submission rate, included transactions per second, block time, and the latency from
//! submission to inclusion in a block (soft confirmation), p50 and p99. By default the
//! transactions go out as fast as the clients can send them (a burst); `HB_LOAD_RATE=<tx/s>`
//! paces them instead (open loop), to measure latency below saturation. It ends with the node's
//! resident memory (the node it started, or the process `HB_LOAD_PID`).

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use jsonrpsee::{
    core::{
        client::{BatchResponse, ClientT, SubscriptionClientT},
        params::BatchRequestBuilder,
    },
    http_client::HttpClientBuilder,
    rpc_params,
    ws_client::WsClientBuilder,
};
use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const CHAIN_ID: u64 = 31_337_420;
const MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Transactions per JSON-RPC batch.
const BATCH: usize = 100;
/// Concurrent submitting clients.
const CLIENTS: usize = 4;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let total: usize = env_or("HB_LOAD_TXS", 20_000);
    let block_time: String = env_or("HB_LOAD_BLOCK_TIME", "250ms".to_string());
    let senders: Vec<PrivateKeySigner> = (0..20)
        .map(|i| {
            MnemonicBuilder::<English>::default()
                .phrase(MNEMONIC)
                .index(i)
                .expect("index")
                .build()
                .expect("dev key")
        })
        .collect();
    let per_sender = total.div_ceil(senders.len());

    // Pre-sign in arrival order: round-robin over senders, nonces ascending.
    let mut raw: Vec<(B256, Bytes)> = Vec::with_capacity(total);
    for nonce in 0..per_sender as u64 {
        for (i, signer) in senders.iter().enumerate() {
            if raw.len() == total {
                break;
            }
            let tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 100_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(Address::with_last_byte(i as u8 + 1)),
                value: U256::from(1),
                ..Default::default()
            };
            let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
            let envelope = TxEnvelope::from(tx.into_signed(signature));
            raw.push((*envelope.tx_hash(), envelope.encoded_2718().into()));
        }
    }

    // Against a running network (`HB_LOAD_RPC=http://a,http://b HB_LOAD_WS=ws://a`, e.g. the
    // `just devnet` validators), or a `--dev` node started here.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = None;
    let (rpcs, ws): (Vec<String>, String) = match (
        std::env::var("HB_LOAD_RPC").ok(),
        std::env::var("HB_LOAD_WS").ok(),
    ) {
        (Some(rpcs), Some(ws)) => (rpcs.split(',').map(str::to_string).collect(), ws),
        _ => {
            let mut node = Command::new(env!("CARGO_BIN_EXE_hauptbuch-reth"))
                .args([
                    "node",
                    "--dev",
                    "--dev.block-time",
                    &block_time,
                    "--http",
                    "--http.port",
                    "0",
                ])
                .args([
                    "--ws",
                    "--ws.port",
                    "0",
                    "--txpool.max-account-slots",
                    "100000",
                ])
                .args([
                    "--txpool.pending-max-count",
                    "1000000",
                    "--log.filter",
                    "warn",
                    "--datadir",
                ])
                .arg(dir.path())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start node");
            let mut lines = BufReader::new(node.stdout.take().expect("stdout")).lines();
            // `da: …` (the embedded DA server) comes first, then the HTTP and WS addresses.
            let mut next_url = |scheme: &str| loop {
                let line = lines.next().expect("address line").expect("read");
                if line.starts_with(scheme) {
                    break line;
                }
            };
            let http = next_url("http://");
            let ws = next_url("ws://");
            child = Some(node);
            (vec![http], ws)
        }
    };
    let http = rpcs[0].clone();

    let ws_client = WsClientBuilder::default().build(&ws).await.expect("ws");
    let mut heads = ws_client
        .subscribe::<serde_json::Value, _>(
            "eth_subscribe",
            rpc_params!["newHeads"],
            "eth_unsubscribe",
        )
        .await
        .expect("subscribe");
    let http_client = Arc::new(HttpClientBuilder::default().build(&http).expect("http"));

    // Timestamp heads as they arrive, independently of the slower block lookups below.
    let (arrivals_tx, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(head)) = heads.next().await {
            if arrivals_tx
                .send((head["hash"].clone(), Instant::now()))
                .is_err()
            {
                return;
            }
        }
    });

    let submitted: Arc<Mutex<HashMap<B256, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let started = Instant::now();
    // Each sender talks to one endpoint (as a wallet does): sender `k` to endpoint `k % n`, so a
    // node never holds a sender's later nonces without the earlier ones. One queue of batches
    // per endpoint.
    let endpoints = rpcs.len();
    let queues: Vec<_> = (0..endpoints)
        .map(|endpoint| {
            let mine: Vec<(B256, Bytes)> = raw
                .iter()
                .enumerate()
                .filter(|(k, _)| k % senders.len() % endpoints == endpoint)
                .map(|(_, tx)| tx.clone())
                .collect();
            let chunks: Vec<Vec<(B256, Bytes)>> = mine.chunks(BATCH).map(<[_]>::to_vec).collect();
            Arc::new(Mutex::new(chunks.into_iter().enumerate()))
        })
        .collect();
    // Open loop at `HB_LOAD_RATE` tx/s in all (each endpoint's batch `i` is sent at
    // `i * BATCH / (rate / endpoints)`); 0 = a burst.
    let rate: f64 = env_or::<f64>("HB_LOAD_RATE", 0.0) / endpoints as f64;
    let mut clients = Vec::new();
    let submit_clients: Vec<_> = rpcs
        .iter()
        .map(|url| Arc::new(HttpClientBuilder::default().build(url).expect("http")))
        .collect();
    for i in 0..CLIENTS.max(endpoints) {
        let client = submit_clients[i % endpoints].clone();
        let (queue, submitted) = (queues[i % endpoints].clone(), submitted.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let Some((index, chunk)) = queue.lock().expect("lock").next() else {
                    return;
                };
                if rate > 0.0 {
                    let due = started + Duration::from_secs_f64((index * BATCH) as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let mut batch = BatchRequestBuilder::new();
                for (_, tx) in &chunk {
                    batch
                        .insert("eth_sendRawTransaction", rpc_params![tx])
                        .expect("param");
                }
                let now = Instant::now();
                submitted
                    .lock()
                    .expect("lock")
                    .extend(chunk.iter().map(|(h, _)| (*h, now)));
                let response: BatchResponse<'_, B256> =
                    client.batch_request(batch).await.expect("batch");
                assert_eq!(response.num_failed_calls(), 0, "rejected transactions");
            }
        }));
    }
    for client in clients {
        client.await.expect("client");
    }
    let submit_elapsed = started.elapsed();

    let mut latencies = Vec::with_capacity(total);
    let mut per_block = Vec::new();
    let mut block_times = Vec::new();
    let mut last_inclusion = started;
    let mut last_block_at: Option<Instant> = None;
    while latencies.len() < total {
        let (hash, at) = tokio::time::timeout(Duration::from_secs(60), arrivals.recv())
            .await
            .expect("blocks keep coming")
            .expect("subscription open");
        if let Some(previous) = last_block_at {
            block_times.push(at - previous);
        }
        last_block_at = Some(at);
        let block: serde_json::Value = http_client
            .request("eth_getBlockByHash", rpc_params![hash, false])
            .await
            .expect("block");
        let hashes = block["transactions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if hashes.is_empty() {
            continue;
        }
        per_block.push(hashes.len());
        last_inclusion = at;
        let sent = submitted.lock().expect("lock");
        for hash in hashes {
            let hash: B256 = serde_json::from_value(hash).expect("hash");
            if let Some(sent_at) = sent.get(&hash) {
                latencies.push(at - *sent_at);
            }
        }
    }
    let window = last_inclusion - started;
    latencies.sort();
    block_times.sort();
    let pct = |v: &[Duration], p: f64| {
        v.get(((v.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!("transactions            {total}");
    println!(
        "submission              {:.0} tx/s ({submit_elapsed:?})",
        total as f64 / submit_elapsed.as_secs_f64()
    );
    println!(
        "included                {:.0} tx/s (first submission to last inclusion {window:?})",
        total as f64 / window.as_secs_f64().max(1e-3)
    );
    println!(
        "blocks with txs         {} (at most {} txs in one)",
        per_block.len(),
        per_block.iter().max().copied().unwrap_or_default()
    );
    println!(
        "block time p50 / p99    {:?} / {:?}",
        pct(&block_times, 0.5),
        pct(&block_times, 0.99)
    );
    println!(
        "tx→soft p50 / p99       {:?} / {:?}",
        pct(&latencies, 0.5),
        pct(&latencies, 0.99)
    );
    // Resident memory of the node under test: the one started here, or `HB_LOAD_PID`.
    let pid = child
        .as_ref()
        .map(std::process::Child::id)
        .or_else(|| std::env::var("HB_LOAD_PID").ok()?.parse().ok());
    if let Some(rss) = pid.and_then(rss_kib) {
        println!("node RSS                {} MiB", rss / 1024);
    }
    if let Some(mut child) = child {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `VmRSS` of a process in KiB (Linux `/proc`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
