//! `hauptbuch-reth derive`: a fresh datadir rebuilt from the blobs a `--dev` node posted to its
//! embedded DA server reaches the node's block hashes and state, skips blobs that are not part
//! of the chain, and resumes where it stopped.

use crate::{
    common::binary,
    node::{FAST_DA_DEV_ARGS, NodeProcess, eventually, raw_transfer},
};
use alloy_primitives::{Address, B256, U64, U256};
use alloy_rpc_types_eth::{Block, TransactionReceipt};
use celestia_rpc::{Client, TxConfig, prelude::*};
use celestia_types::Blob;
use hauptbuch_exex::celestia::{BatchBlock, MAX_BLOB_BYTES, encode_blob};
use hauptbuch_reth::{chainspec::ChainSpec, engine::Engine, storage::Database};
use jsonrpsee::{core::client::ClientT, http_client::HttpClient, rpc_params};
use std::{
    path::Path,
    process::{Command, ExitStatus, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

/// Upper bound for one derive run.
const DERIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound for one DA request from the test.
const DA_TIMEOUT: Duration = Duration::from_secs(10);

/// Output of a successful `derive` run.
struct DeriveRun {
    /// `(number, hash)` from the last stdout line.
    head: (u64, B256),
    /// Everything logged.
    stderr: String,
}

/// Runs `derive` to completion (killed after [`DERIVE_TIMEOUT`]) and returns its exit status,
/// stdout and stderr. Output goes through files so that a long log never blocks the process on
/// a full pipe.
fn run_derive(
    datadir: &Path,
    da_url: &str,
    token: &Path,
    heights: &[&str],
    logs: &Path,
) -> (ExitStatus, String, String) {
    let stdout_path = logs.join("derive.out");
    let stderr_path = logs.join("derive.err");
    let mut child = Command::new(binary())
        .args(["derive", "--chain", "devnet", "--da.url", da_url])
        .arg("--datadir")
        .arg(datadir)
        .arg("--da.auth-token-file")
        .arg(token)
        .args(heights)
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(
            std::fs::File::create(&stdout_path).expect("stdout file"),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(&stderr_path).expect("stderr file"),
        ))
        .spawn()
        .expect("spawn derive");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait derive") {
            break status;
        }
        if started.elapsed() > DERIVE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "derive did not finish within {DERIVE_TIMEOUT:?}:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&stdout_path).expect("read stdout");
    let stderr = std::fs::read_to_string(&stderr_path).expect("read stderr");
    (status, stdout, stderr)
}

/// Runs `derive --to-height to_height`, which must succeed, and parses the head it prints.
fn derive_to(datadir: &Path, da_url: &str, token: &Path, to_height: u64, logs: &Path) -> DeriveRun {
    let to_height = to_height.to_string();
    let (status, stdout, stderr) =
        run_derive(datadir, da_url, token, &["--to-height", &to_height], logs);
    assert!(status.success(), "derive failed with {status}:\n{stderr}");
    let last = stdout.lines().last().expect("derive prints its head");
    let (number, hash) = last.split_once(' ').expect("`<number> <hash>`");
    DeriveRun {
        head: (
            number.parse().expect("head number"),
            hash.parse().expect("head hash"),
        ),
        stderr,
    }
}

async fn block_hash(client: &HttpClient, number: u64) -> B256 {
    client
        .request::<Option<Block>, _>(
            "eth_getBlockByNumber",
            rpc_params![U64::from(number), false],
        )
        .await
        .expect("block by number")
        .expect("the node has the block")
        .header
        .hash
}

async fn finalized(client: &HttpClient) -> u64 {
    client
        .request::<Option<Block>, _>("eth_getBlockByNumber", rpc_params!["finalized", false])
        .await
        .expect("finalized block")
        .expect("finalized resolves")
        .header
        .number
}

async fn da_head(da: &Client) -> u64 {
    tokio::time::timeout(DA_TIMEOUT, da.header_network_head())
        .await
        .expect("DA head within the timeout")
        .expect("DA head")
        .height()
}

async fn submit(da: &Client, blob: Blob) -> u64 {
    tokio::time::timeout(DA_TIMEOUT, da.blob_submit(&[blob], TxConfig::default()))
        .await
        .expect("submission within the timeout")
        .expect("blob submitted")
}

/// A `--dev` node (200 ms blocks, DA blocks and batches; `extra` flags appended) whose embedded
/// DA server the test reaches with the admin token, after `transfers` transfers to `to` are
/// mined and firm.
struct FirmDevNode {
    node: NodeProcess,
    client: HttpClient,
    da: Client,
    da_url: String,
    token_file: std::path::PathBuf,
    /// Block of the last transfer.
    mined: u64,
}

async fn firm_dev_node(dir: &Path, extra: &[&str], transfers: u64, to: Address) -> FirmDevNode {
    let mut args = FAST_DA_DEV_ARGS.to_vec();
    args.extend_from_slice(extra);
    let node = NodeProcess::start(&dir.join("node"), &args);
    let client = node.client();
    let da_url = node.da.clone().expect("the dev node runs a DA server");
    let token_file = dir.join("node/da-server/auth/admin.token");
    let token = std::fs::read_to_string(&token_file).expect("admin token");
    let da = Client::new(
        &da_url,
        Some(token.trim()),
        Some(DA_TIMEOUT),
        Some(DA_TIMEOUT),
    )
    .await
    .expect("DA client");
    let mut last_hash = B256::ZERO;
    for nonce in 0..transfers {
        last_hash = client
            .request(
                "eth_sendRawTransaction",
                rpc_params![raw_transfer(0, nonce, to, 1_000 + nonce)],
            )
            .await
            .expect("send transfer");
    }
    let receipt: TransactionReceipt = eventually("the last transfer's receipt", || async {
        client
            .request::<Option<TransactionReceipt>, _>(
                "eth_getTransactionReceipt",
                rpc_params![last_hash],
            )
            .await
            .expect("receipt call")
    })
    .await;
    let mined = receipt.block_number.expect("mined");
    eventually("the transfers to be firm", || async {
        (finalized(&client).await >= mined).then_some(())
    })
    .await;
    FirmDevNode {
        node,
        client,
        da,
        da_url,
        token_file,
        mined,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_datadir_derives_the_sequencer_chain_from_da_skipping_foreign_blobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A few transfers, all mined, then firm.
    let to = Address::repeat_byte(0x77);
    let FirmDevNode {
        node,
        client,
        da,
        da_url,
        token_file,
        mined,
    } = firm_dev_node(dir.path(), &[], 3, to).await;

    // Blobs in the namespace that are not part of the chain: garbage, another chain id, and a
    // re-posted batch of this chain (a duplicate).
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let namespace = hauptbuch_reth::derive::namespace(&spec).expect("namespace");
    let mut ours = None;
    for height in 1..=da_head(&da).await {
        let blobs = da
            .blob_get_all(height, &[namespace])
            .await
            .expect("blob.GetAll")
            .unwrap_or_default();
        if let Some(blob) = blobs.into_iter().next() {
            ours = Some(blob);
            break;
        }
    }
    let ours = ours.expect("the node posted a blob");
    let garbage = Blob::new(namespace, b"definitely not a hauptbuch blob".to_vec(), None)
        .expect("garbage blob");
    let foreign = encode_blob(1, 1, &[BatchBlock::default()], MAX_BLOB_BYTES).expect("encode");
    let foreign = Blob::new(namespace, foreign.bytes.to_vec(), None).expect("foreign blob");
    let duplicate = Blob::new(namespace, ours.data, None).expect("duplicate blob");
    for blob in [garbage, foreign, duplicate] {
        submit(&da, blob).await;
    }

    let first_end = da_head(&da).await;
    let derived_dir = dir.path().join("derived");
    let run = derive_to(&derived_dir, &da_url, &token_file, first_end, dir.path());
    let (number, hash) = run.head;
    assert!(
        number >= mined,
        "derived head {number} is below block {mined}"
    );
    assert_eq!(
        hash,
        block_hash(&client, number).await,
        "head hash of block {number}"
    );
    assert!(
        run.stderr.contains("bad magic"),
        "garbage blob not reported:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("blob of chain id 1"),
        "foreign blob not reported:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("duplicate"),
        "duplicate not reported:\n{}",
        run.stderr
    );

    // The derived state is the node's state at that block.
    let node_balance: U256 = client
        .request("eth_getBalance", rpc_params![to, U64::from(number)])
        .await
        .expect("balance");
    assert_eq!(node_balance, U256::from(3_003));
    {
        let db = Database::open(&derived_dir).expect("open derived datadir");
        let engine = Engine::new(spec.clone(), Arc::new(db));
        let head = engine.head().expect("derived head");
        assert_eq!((head.number, head.hash()), (number, hash));
        let account = engine
            .db()
            .provider()
            .expect("provider")
            .account(to)
            .expect("account read")
            .expect("recipient exists");
        assert_eq!(account.balance, node_balance);
        let stored = hauptbuch_reth::derive::stored_da_height(&engine).expect("stored DA height");
        assert_eq!(stored, Some(first_end));
    }

    // A second run resumes after the stored DA height and follows the chain further.
    let firm_before = finalized(&client).await;
    eventually("more firm blocks", || async {
        (finalized(&client).await >= firm_before + 3).then_some(())
    })
    .await;
    let second_end = da_head(&da).await;
    let run = derive_to(&derived_dir, &da_url, &token_file, second_end, dir.path());
    let (later, later_hash) = run.head;
    assert!(
        later > number,
        "second run did not advance: {later} <= {number}"
    );
    assert_eq!(
        later_hash,
        block_hash(&client, later).await,
        "head hash of block {later}"
    );
    assert!(
        run.stderr
            .contains(&format!("from_da_height={}", first_end + 1)),
        "second run did not resume after DA height {first_end}:\n{}",
        run.stderr
    );

    // Starting a fresh datadir after the DA height of block 1 leaves a gap: a clear error.
    let from = (first_end + 1).to_string();
    let to = second_end.to_string();
    let (status, _, stderr) = run_derive(
        &dir.path().join("gap"),
        &da_url,
        &token_file,
        &["--from-height", &from, "--to-height", &to],
        dir.path(),
    );
    assert!(!status.success(), "a gap must stop derivation:\n{stderr}");
    assert!(
        stderr.contains("gap in DA data") && stderr.contains("next block needed is 1"),
        "gap not named:\n{stderr}"
    );
    node.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_leaves_no_gap_on_da_and_the_chain_still_derives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = FAST_DA_DEV_ARGS;
    let node = NodeProcess::start(&dir.path().join("node"), &args);
    let client = node.client();
    for nonce in 0..3 {
        let _: B256 = client
            .request(
                "eth_sendRawTransaction",
                rpc_params![raw_transfer(1, nonce, Address::repeat_byte(0x55), 7)],
            )
            .await
            .expect("send transfer");
    }
    eventually("some firm blocks", || async {
        (finalized(&client).await >= 4).then_some(())
    })
    .await;
    let latest_before_kill = client
        .request::<Option<Block>, _>("eth_getBlockByNumber", rpc_params!["latest", false])
        .await
        .expect("latest")
        .expect("exists")
        .header
        .number;
    drop(node); // SIGKILL, node and its embedded DA server alike

    let node = NodeProcess::start(&dir.path().join("node"), &args);
    let client = node.client();
    eventually("blocks past the kill point to become firm", || async {
        (finalized(&client).await > latest_before_kill + 2).then_some(())
    })
    .await;
    let da_url = node.da.clone().expect("DA server");
    let token = dir.path().join("node/da-server/auth/admin.token");
    let da_token = std::fs::read_to_string(&token).expect("token");
    let da = Client::new(
        &da_url,
        Some(da_token.trim()),
        Some(DA_TIMEOUT),
        Some(DA_TIMEOUT),
    )
    .await
    .expect("DA client");
    let to_height = da_head(&da).await;
    let derived = derive_to(
        &dir.path().join("derived"),
        &da_url,
        &token,
        to_height,
        dir.path(),
    );
    let (number, hash) = derived.head;
    assert!(number > latest_before_kill + 2, "derived up to {number}");
    assert_eq!(
        hash,
        block_hash(&client, number).await,
        "derived chain equals the node's"
    );
    assert!(!derived.stderr.contains("gap"), "{}", derived.stderr);
    node.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn da_namespace_and_blob_cap_flags_are_honoured_by_posting_and_derivation() {
    // Bad values are refused at startup, naming them.
    for (flag, value, expected) in [
        ("--da.namespace", "zz", "`zz` is not hex"),
        (
            "--da.namespace",
            "0x0102030405060708090a0b",
            "at most 10 bytes",
        ),
        ("--da.max-blob-bytes", "10", "outside"),
        (
            "--da.max-blob-bytes",
            "lots",
            "`lots` is not a number of bytes",
        ),
    ] {
        let output = Command::new(binary())
            .args(["node", "--dev", flag, value])
            .output()
            .expect("run node");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flag} {value} accepted");
        assert!(stderr.contains(expected), "{flag} {value}: {stderr}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let cap = 4_096;
    let FirmDevNode {
        node,
        client,
        da,
        da_url,
        token_file,
        mined,
    } = firm_dev_node(
        dir.path(),
        &["--da.namespace", "0x0a0b0c", "--da.max-blob-bytes", "4096"],
        20,
        Address::repeat_byte(0x78),
    )
    .await;

    // Every blob is in the configured namespace and within the cap; none in the chain's own.
    let custom = celestia_types::nmt::Namespace::new_v0(&[0, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b, 0x0c])
        .expect("namespace");
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let default = hauptbuch_reth::derive::namespace(&spec).expect("namespace");
    let head = da_head(&da).await;
    let mut posted = 0;
    for height in 1..=head {
        for blob in da
            .blob_get_all(height, &[custom])
            .await
            .expect("blob.GetAll")
            .unwrap_or_default()
        {
            assert!(blob.data.len() <= cap, "blob of {} bytes", blob.data.len());
            posted += 1;
        }
        let elsewhere = da
            .blob_get_all(height, &[default])
            .await
            .expect("blob.GetAll")
            .unwrap_or_default();
        assert!(elsewhere.is_empty(), "blob in the chainspec's namespace");
    }
    assert!(posted >= 1, "no blob in the configured namespace");

    // Derivation reads the same namespace when told to, and reaches the node's blocks.
    let to_height = head.to_string();
    let (status, stdout, stderr) = run_derive(
        &dir.path().join("derived"),
        &da_url,
        &token_file,
        &["--da.namespace", "0a0b0c", "--to-height", &to_height],
        dir.path(),
    );
    assert!(status.success(), "derive failed with {status}:\n{stderr}");
    let last = stdout.lines().last().expect("derive prints its head");
    let (number, hash) = last.split_once(' ').expect("`<number> <hash>`");
    let number: u64 = number.parse().expect("head number");
    assert!(
        number >= mined,
        "derived head {number} is below block {mined}"
    );
    assert_eq!(
        hash.parse::<B256>().expect("hash"),
        block_hash(&client, number).await
    );

    // `fraud-proof check` takes the block from the same namespace when told to.
    let block = mined.to_string();
    let check = |namespace: Option<&str>| {
        let mut command = std::process::Command::new(crate::common::binary());
        command
            .args([
                "fraud-proof",
                "check",
                "--rpc-url",
                &node.http,
                "--block",
                &block,
            ])
            .args(["--da.url", &da_url, "--da.auth-token-file"])
            .arg(&token_file);
        if let Some(namespace) = namespace {
            command.args(["--da.namespace", namespace]);
        }
        command.output().expect("run fraud-proof check")
    };
    let output = check(Some("0a0b0c"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("is right"), "{text}");
    let output = check(None);
    assert!(
        !output.status.success(),
        "the chainspec's namespace holds no blob"
    );
    node.terminate();
}

#[test]
fn an_unreachable_da_node_is_a_clear_error_after_retries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "not-a-real-token").expect("token");
    // Nothing listens on port 1.
    let (status, _, stderr) = run_derive(
        &dir.path().join("derived"),
        "http://127.0.0.1:1",
        &token,
        &[],
        dir.path(),
    );
    assert!(!status.success(), "derive succeeded without a DA node");
    assert!(
        stderr.contains("derivation from http://127.0.0.1:1 failed")
            && stderr.contains("header.NetworkHead")
            && stderr.contains("attempts"),
        "{stderr}"
    );
}
