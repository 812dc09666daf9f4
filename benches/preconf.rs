//! Load generator for `hb_sendPreconfTransaction`: latency at fixed request rates, and the
//! sustained preconfirmation rate.
//!
//! Run with `cargo bench --bench preconf`. It writes a genesis that funds `HB_PRECONF_SENDERS`
//! fresh accounts (default 15,000) on top of the devnet's, starts the release node binary with
//! `--dev` on ephemeral ports, and pre-signs one transfer per sender per phase (nonce = phase), so
//! that every request is independent of the others (distinct senders need no ordering). Then:
//!
//! - **open loop** at each rate of `HB_PRECONF_RATES` (default `1000,2000,5000` req/s) for
//!   `HB_PRECONF_SECONDS` (default 3): a scheduler thread starts request `i` at `i / rate`
//!   seconds, whether or not earlier ones have answered. Latency is from the scheduled start
//!   to the answer (so queueing delay counts), p50/p99/max.
//! - **closed loop**: 64 concurrent clients send back to back for the same duration; the
//!   preconfirmations answered per second is the sustained rate.
//!
//! Every answer is checked to be a preconfirmation (no error). The generator runs on the same
//! machine as the node and competes with it for the CPU; its requests and answers are handled
//! on one thread, so it takes at most one of the cores.
//!
//! With `HB_PRECONF_VALIDATORS=N` (N > 1) it starts a network of N validators on loopback instead
//! (keys from `keygen`, preconfirmation keys in the chainspec, block time
//! `HB_PRECONF_BLOCK_MS`, default 500) and sends request `i` to validator `i mod N`: the leader
//! of the next block issues, the others forward to it over p2p.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::{
    core::client::ClientT,
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

const CHAIN_ID: u64 = 31_337_420;
/// Concurrent clients of the closed-loop phase.
const CLOSED_LOOP_CLIENTS: usize = 64;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sign(signer: &PrivateKeySigner, nonce: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::with_last_byte(0x42)),
        value: U256::from(1),
        ..Default::default()
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(signature))
        .encoded_2718()
        .into()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p) as usize)
        .copied()
        .unwrap_or_default()
}

/// One preconfirmation; an error (e.g. HTTP 429 when more requests are in flight than the
/// node's `--rpc.max-connections`) is returned, not fatal: an overloaded run reports how many
/// were refused.
async fn preconfirm(client: &HttpClient, raw: Bytes) -> Result<(), String> {
    let answer: serde_json::Value = client
        .request("hb_sendPreconfTransaction", rpc_params![raw])
        .await
        .map_err(|e| e.to_string())?;
    assert!(answer["signature"].is_string(), "{answer}");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let senders_count: usize = env_or("HB_PRECONF_SENDERS", 15_000);
    let seconds: u64 = env_or("HB_PRECONF_SECONDS", 3);
    let rates: Vec<usize> = env_or("HB_PRECONF_RATES", "1000,2000,5000".to_string())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    // `HB_BIN` overrides the node binary (e.g. a copy, when other builds share the target dir).
    let binary =
        std::env::var("HB_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hauptbuch-reth").into());
    let binary = binary.as_str();
    let dir = tempfile::tempdir().expect("tempdir");

    let senders: Vec<PrivateKeySigner> = (0..senders_count as u64)
        .map(|i| {
            PrivateKeySigner::from_bytes(&keccak256(format!("preconf-bench-{i}"))).expect("key")
        })
        .collect();
    let genesis = Command::new(binary)
        .args(["dump-genesis", "--chain", "devnet"])
        .output()
        .expect("dump-genesis");
    let mut genesis: serde_json::Value = serde_json::from_slice(&genesis.stdout).expect("genesis");
    for signer in &senders {
        genesis["alloc"][signer.address().to_string()] =
            serde_json::json!({ "balance": "0xd3c21bcecceda1000000" });
    }
    let genesis_path = dir.path().join("genesis.json");
    std::fs::write(&genesis_path, genesis.to_string()).expect("write genesis");

    let validators: usize = env_or("HB_PRECONF_VALIDATORS", 1);
    let nodes: Vec<(NodeGuard, String)> = if validators > 1 {
        let block_ms: u64 = env_or("HB_PRECONF_BLOCK_MS", 500);
        start_network(binary, dir.path(), &genesis_path, validators, block_ms)
    } else {
        let mut node = Command::new(binary);
        node.args(["node", "--dev", "--dev.block-time", "1s", "--chain"])
            .arg(&genesis_path)
            .arg("--datadir")
            .arg(dir.path().join("data"));
        vec![start_node(node)]
    };
    let clients: Vec<Arc<HttpClient>> = nodes
        .iter()
        .map(|(_, http)| {
            Arc::new(
                HttpClientBuilder::default()
                    .max_concurrent_requests(4096)
                    .build(http)
                    .expect("client"),
            )
        })
        .collect();
    // The network is up once it finalized a block.
    let started = Instant::now();
    while clients[0]
        .request::<String, _>("eth_blockNumber", rpc_params![])
        .await
        .is_ok_and(|n| n == "0x0")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no block within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Next nonce per sender: a phase uses the first senders, each at its next nonce.
    let mut nonces = vec![0u64; senders.len()];
    for &rate in &rates {
        let count = (rate as u64 * seconds) as usize;
        assert!(
            count <= senders.len(),
            "raise HB_PRECONF_SENDERS to {count}"
        );
        let txs: Vec<Bytes> = senders[..count]
            .iter()
            .zip(nonces.iter_mut())
            .map(|(s, n)| {
                *n += 1;
                sign(s, *n - 1)
            })
            .collect();
        // The timetable is kept by a thread of its own: tokio's timer rounds up to whole
        // milliseconds, which would count up to 1 ms of the generator's lateness as latency.
        let started = Instant::now();
        let (runtime, clients_) = (tokio::runtime::Handle::current(), clients.clone());
        let (tasks, mut late) =
            tokio::task::spawn_blocking(move || {
                let mut tasks = Vec::with_capacity(count);
                let mut late = Vec::with_capacity(count);
                for (i, raw) in txs.into_iter().enumerate() {
                    let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    late.push(due.elapsed());
                    let client = clients_[i % clients_.len()].clone();
                    tasks.push(runtime.spawn(async move {
                        preconfirm(&client, raw).await.map(|()| due.elapsed())
                    }));
                }
                (tasks, late)
            })
            .await
            .expect("scheduler");
        let mut latencies = Vec::with_capacity(count);
        let mut refused = Vec::new();
        for task in tasks {
            match task.await.expect("request") {
                Ok(latency) => latencies.push(latency),
                Err(error) => refused.push(error),
            }
        }
        if let Some(first) = refused.first() {
            println!(
                "open loop {rate:>5} req/s: {} of {count} requests failed (first: {first})",
                refused.len()
            );
        }
        let elapsed = started.elapsed();
        latencies.sort();
        late.sort();
        println!(
            "open loop {rate:>5} req/s: {} preconfirmations in {elapsed:.2?}; latency p50 {:.2?} p99 {:.2?} max {:.2?} (sent late by p50 {:.2?} p99 {:.2?})",
            latencies.len(),
            pct(&latencies, 0.5),
            pct(&latencies, 0.99),
            pct(&latencies, 1.0),
            pct(&late, 0.5),
            pct(&late, 0.99),
        );
    }

    let count = senders.len();
    let txs: Vec<Bytes> = senders
        .iter()
        .zip(&nonces)
        .map(|(s, n)| sign(s, *n))
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(txs.into_iter()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..CLOSED_LOOP_CLIENTS {
        let (client, queue) = (clients[worker % clients.len()].clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            let mut done = 0usize;
            while Instant::now() < deadline {
                let Some(raw) = queue.lock().expect("lock").next() else {
                    break;
                };
                if preconfirm(&client, raw).await.is_ok() {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut done = 0;
    for worker in workers {
        done += worker.await.expect("worker");
    }
    let elapsed = started.elapsed();
    println!(
        "closed loop, {CLOSED_LOOP_CLIENTS} clients: {done} preconfirmations in {elapsed:.2?} = {:.0}/s (of {count} available)",
        done as f64 / elapsed.as_secs_f64()
    );
    drop(nodes);
}

/// Starts `node` (its `node` subcommand and data arguments given) with HTTP on an ephemeral
/// port; returns it with its HTTP address.
fn start_node(mut node: Command) -> (NodeGuard, String) {
    let mut child = NodeGuard(
        node.args(["--http", "--http.port", "0", "--http.api", "eth,hb"])
            .args(["--rpc.max-connections", "2000", "--log.filter", "warn"])
            // Promises run ahead of the blocks at 5,000/s (a 60M-gas block holds 2,857 transfers).
            .args(["--txpool.pending-max-count", "100000"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start node"),
    );
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout")).lines();
    let http = loop {
        let line = lines
            .next()
            .expect("node prints its address")
            .expect("read");
        if line.starts_with("http://") {
            break line;
        }
    };
    (child, http)
}

/// Starts `n` validators on loopback over `genesis`, each with preconfirmation keys listed in
/// the chainspec.
fn start_network(
    binary: &str,
    dir: &std::path::Path,
    genesis: &std::path::Path,
    n: usize,
    block_ms: u64,
) -> Vec<(NodeGuard, String)> {
    let run = |args: &[&str]| {
        let output = Command::new(binary).args(args).output().expect("run");
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let path = |p: std::path::PathBuf| p.to_str().expect("utf-8").to_string();
    let block_ms = block_ms.to_string();
    let mut spec_args = vec![
        "dump-genesis".to_string(),
        "--chain".into(),
        path(genesis.to_path_buf()),
        "--block-time-ms".into(),
        block_ms,
    ];
    let mut validators = Vec::new();
    for i in 0..n {
        let datadir = dir.join(format!("node{i}"));
        std::fs::create_dir_all(&datadir).expect("datadir");
        let key = path(dir.join(format!("validator{i}.key")));
        let public = run(&["keygen", "--output", &key]);
        let preconf_key = path(datadir.join("preconf.key"));
        run(&["keygen", "--preconf", "--output", &preconf_key]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        spec_args.extend([
            "--validator".into(),
            format!("{}@127.0.0.1:{port}", public.trim()),
            "--preconf-key".into(),
            preconf_key,
        ]);
        validators.push((datadir, key, port));
    }
    let spec_args: Vec<&str> = spec_args.iter().map(String::as_str).collect();
    let spec = dir.join("chainspec.json");
    std::fs::write(&spec, run(&spec_args)).expect("write chainspec");
    validators
        .into_iter()
        .map(|(datadir, key, port)| {
            let mut node = Command::new(binary);
            node.arg("node")
                .arg("--chain")
                .arg(&spec)
                .arg("--datadir")
                .arg(datadir)
                .args(["--validator.key", &key, "--p2p.addr", "127.0.0.1"])
                .args(["--p2p.port", &port.to_string()]);
            start_node(node)
        })
        .collect()
}

/// Kills the node however the generator ends (a panic included), so no orphan keeps running.
struct NodeGuard(std::process::Child);

impl Drop for NodeGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
