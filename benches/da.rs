//! DA benchmark: soft→firm latency on the embedded DA server and blob bytes per transfer.
//!
//! Run with `cargo bench --bench da`. It starts the node binary (`HB_BIN` overrides the path)
//! with `--dev` on ephemeral ports, its embedded DA server making a block every
//! `HB_DA_DA_BLOCK_TIME` (default `1s`), rollup blocks every `HB_DA_BLOCK_TIME` (default `1s`) and
//! `--da.batch-interval HB_DA_BATCH_INTERVAL` (default: the node's default). After `WARMUP`
//! empty blocks it sends `HB_DA_TPS` transfers per second (default 100) from the 20 dev accounts
//! and measures, for `HB_DA_BLOCKS` blocks (default 60):
//! - soft→firm latency per block: from the `newHeads` notification of the block (soft) to the
//!   first poll (every 20 ms) of `finalized` at or above it (firm); p50, p99, max;
//! - blob bytes per transfer: every blob of the namespace is read back from DA
//!   (`blob.GetAll`), and the bytes of the blobs holding the measured blocks are divided by
//!   their transfers; the blobs of the empty warm-up blocks give the per-block overhead.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U64, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use celestia_rpc::{Client, prelude::*};
use hauptbuch_exex::celestia::decode_blob;
use jsonrpsee::{
    core::{
        client::{ClientT, SubscriptionClientT},
        params::BatchRequestBuilder,
    },
    http_client::HttpClientBuilder,
    rpc_params,
    ws_client::WsClientBuilder,
};
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const CHAIN_ID: u64 = 31_337_420;
const MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Empty blocks before the load starts (their blobs give the per-block overhead).
const WARMUP: u64 = 5;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Kills the node however the benchmark ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let blocks: u64 = env_or("HB_DA_BLOCKS", 60);
    let tps: u64 = env_or("HB_DA_TPS", 100);
    let block_time: String = env_or("HB_DA_BLOCK_TIME", "1s".to_string());
    let da_block_time: String = env_or("HB_DA_DA_BLOCK_TIME", "1s".to_string());
    let batch_interval = std::env::var("HB_DA_BATCH_INTERVAL").ok();
    let binary =
        std::env::var("HB_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hauptbuch-reth").into());

    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(binary);
    command
        .args(["node", "--dev", "--dev.block-time", &block_time])
        .args(["--da.block-time", &da_block_time])
        .args(["--http", "--http.port", "0", "--ws", "--ws.port", "0"])
        .args(["--txpool.max-account-slots", "100000"])
        .args(["--log.filter", "warn", "--datadir"])
        .arg(dir.path())
        .stdout(Stdio::piped());
    if let Some(interval) = &batch_interval {
        command.args(["--da.batch-interval", interval]);
    }
    let mut node = Guard(command.spawn().expect("start node"));
    let mut lines = BufReader::new(node.0.stdout.take().expect("stdout")).lines();
    let mut next_line = || lines.next().expect("node output").expect("read");
    let da_url = next_line()
        .strip_prefix("da: ")
        .expect("the DA URL comes first")
        .to_string();
    let http = next_line();
    let ws = next_line();

    let client = Arc::new(HttpClientBuilder::default().build(&http).expect("http"));
    let ws_client = WsClientBuilder::default().build(&ws).await.expect("ws");
    let mut heads = ws_client
        .subscribe::<serde_json::Value, _>(
            "eth_subscribe",
            rpc_params!["newHeads"],
            "eth_unsubscribe",
        )
        .await
        .expect("subscribe");
    let soft: Arc<Mutex<BTreeMap<u64, Instant>>> = Default::default();
    tokio::spawn({
        let soft = soft.clone();
        async move {
            while let Some(Ok(head)) = heads.next().await {
                let number: U64 = serde_json::from_value(head["number"].clone()).expect("number");
                soft.lock()
                    .expect("lock")
                    .insert(number.to::<u64>(), Instant::now());
            }
        }
    });

    // Firm times: the first poll that sees `finalized` at or above a block.
    let finalized = async |client: &jsonrpsee::http_client::HttpClient| -> u64 {
        let block: serde_json::Value = client
            .request("eth_getBlockByNumber", rpc_params!["finalized", false])
            .await
            .expect("finalized");
        serde_json::from_value::<U64>(block["number"].clone())
            .expect("number")
            .to::<u64>()
    };
    let mut firm = BTreeMap::new();
    let mut last_firm = finalized(&client).await;
    let poll = async |firm: &mut BTreeMap<u64, Instant>, last_firm: &mut u64| {
        let now_firm = finalized(&client).await;
        let at = Instant::now();
        for number in *last_firm + 1..=now_firm {
            firm.insert(number, at);
        }
        *last_firm = now_firm.max(*last_firm);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    while last_firm < WARMUP {
        poll(&mut firm, &mut last_firm).await;
    }

    // Paced load: every 100 ms a JSON-RPC batch of tps/10 transfers.
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
    let first_loaded = soft
        .lock()
        .expect("lock")
        .keys()
        .last()
        .copied()
        .unwrap_or(0)
        + 1;
    let load = tokio::spawn({
        let client = client.clone();
        async move {
            let per_tick = (tps / 10).max(1) as usize;
            let mut nonces = [0u64; 20];
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut sent = 0usize;
            loop {
                tick.tick().await;
                let mut batch = BatchRequestBuilder::new();
                for _ in 0..per_tick {
                    let who = sent % senders.len();
                    let tx = TxEip1559 {
                        chain_id: CHAIN_ID,
                        nonce: nonces[who],
                        gas_limit: 21_000,
                        max_fee_per_gas: 100_000_000_000,
                        max_priority_fee_per_gas: 1_000_000_000,
                        to: TxKind::Call(Address::with_last_byte(who as u8 + 1)),
                        value: U256::from(1),
                        ..Default::default()
                    };
                    let signature = senders[who]
                        .sign_hash_sync(&tx.signature_hash())
                        .expect("sign");
                    let raw: Bytes = TxEnvelope::from(tx.into_signed(signature))
                        .encoded_2718()
                        .into();
                    batch
                        .insert("eth_sendRawTransaction", rpc_params![raw])
                        .expect("param");
                    nonces[who] += 1;
                    sent += 1;
                }
                let _ = client
                    .batch_request::<alloy_primitives::B256>(batch)
                    .await
                    .expect("batch");
            }
        }
    });
    let last_measured = first_loaded + blocks - 1;
    let deadline = Instant::now() + Duration::from_secs(blocks * 10 + 120);
    while last_firm < last_measured {
        assert!(Instant::now() < deadline, "blocks stopped becoming firm");
        poll(&mut firm, &mut last_firm).await;
    }
    load.abort();

    let soft = soft.lock().expect("lock").clone();
    let mut latencies: Vec<Duration> = (first_loaded..=last_measured)
        .filter_map(|n| Some(firm.get(&n)?.saturating_duration_since(*soft.get(&n)?)))
        .collect();
    latencies.sort();

    // Blob bytes: read every blob back from DA.
    let token = std::fs::read_to_string(dir.path().join("da-server/auth/admin.token"))
        .expect("DA admin token");
    let da = Client::new(&da_url, Some(token.trim()), None, None)
        .await
        .expect("DA client");
    let spec = hauptbuch_reth::chainspec::ChainSpec::from_arg("devnet").expect("devnet");
    let namespace = hauptbuch_reth::derive::namespace(&spec).expect("namespace");
    let head = da.header_network_head().await.expect("DA head").height();
    let (mut warm_bytes, mut warm_blocks) = (0u64, 0u64);
    let (mut load_bytes, mut load_blocks, mut load_blobs) = (0u64, 0u64, 0u64);
    let mut load_ranges = Vec::new();
    let mut seen_first = std::collections::HashSet::new();
    for height in 1..=head {
        for blob in da
            .blob_get_all(height, &[namespace])
            .await
            .expect("blob.GetAll")
            .unwrap_or_default()
        {
            let batch = decode_blob(&blob.data).expect("decode blob");
            let (first, last) = (batch.header.first_block, batch.header.last_block);
            if !seen_first.insert(first) {
                continue; // a re-post
            }
            let bytes = blob.data.len() as u64;
            if last < first_loaded {
                warm_bytes += bytes;
                warm_blocks += last - first + 1;
            } else if first >= first_loaded && last <= last_measured {
                load_bytes += bytes;
                load_blocks += last - first + 1;
                load_blobs += 1;
                load_ranges.push((first, last));
            }
        }
    }
    let mut transfers = 0u64;
    for (first, last) in &load_ranges {
        for number in *first..=*last {
            let count: U64 = client
                .request(
                    "eth_getBlockTransactionCountByNumber",
                    rpc_params![U64::from(number)],
                )
                .await
                .expect("tx count");
            transfers += count.to::<u64>();
        }
    }

    println!(
        "settings                 block time {block_time}, DA block time {da_block_time}, batch interval {}, load {tps} transfers/s",
        batch_interval.as_deref().unwrap_or("default")
    );
    println!(
        "soft→firm p50 / p99     {:?} / {:?} (max {:?}, {} blocks {first_loaded}..={last_measured})",
        pct(&latencies, 0.5),
        pct(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
        latencies.len()
    );
    println!(
        "blob bytes per transfer {:.1} ({load_bytes} bytes in {load_blobs} blobs, {load_blocks} blocks, {transfers} transfers)",
        load_bytes as f64 / transfers.max(1) as f64
    );
    println!(
        "empty block in a blob   {:.0} bytes ({warm_bytes} bytes for {warm_blocks} warm-up blocks)",
        warm_bytes as f64 / warm_blocks.max(1) as f64
    );
}
