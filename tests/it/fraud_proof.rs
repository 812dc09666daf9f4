//! `hauptbuch-reth fraud-proof`: a dev node's output roots check out by stateless re-execution;
//! a tampered claim yields a proof file that `verify` accepts with the node gone, and a tampered
//! proof file (witness, block, claim) or a malformed one is rejected with a clear message. The
//! challenger, following a node that lies about one output root, logs, counts and proves that one.

use crate::{
    common::binary,
    da_outage::gauge,
    network::free_port,
    node::{NodeProcess, eventually, raw_transfer},
    rpc_proxy::RpcProxy,
};
use alloy_primitives::{Address, B256, Bytes};
use jsonrpsee::{core::client::ClientT, rpc_params};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
};

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("run hauptbuch-reth");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn verify(file: &Path) -> (Option<i32>, String, String) {
    run(&["fraud-proof", "verify", file.to_str().expect("utf-8")])
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_output_roots_are_proven_and_tampered_proofs_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        &dir.path().join("data"),
        &["--dev", "--dev.block-time", "200ms"],
    );
    let client = node.client();
    for nonce in 0..3 {
        let _: B256 = client
            .request(
                "eth_sendRawTransaction",
                rpc_params![raw_transfer(
                    0,
                    nonce,
                    Address::repeat_byte(0x42),
                    1 + nonce
                )],
            )
            .await
            .expect("send");
    }
    let sender = crate::common::DEV_KEYS[0]
        .parse::<alloy_signer_local::PrivateKeySigner>()
        .expect("key")
        .address();
    eventually("the transfers to be mined", || async {
        let count: alloy_primitives::U64 = client
            .request("eth_getTransactionCount", rpc_params![sender, "latest"])
            .await
            .expect("nonce");
        (count.to::<u64>() == 3).then_some(())
    })
    .await;
    let head: Value = client
        .request("hb_outputAtBlock", rpc_params!["latest"])
        .await
        .expect("head");
    let head = u64::from_str_radix(
        head["blockRef"]["number"]
            .as_str()
            .expect("number")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");
    assert!(head >= 1);

    // Every block so far: the node's claim is right.
    for block in 1..=head {
        let block = block.to_string();
        let (code, stdout, stderr) = run(&[
            "fraud-proof",
            "check",
            "--rpc-url",
            &node.http,
            "--block",
            &block,
        ]);
        assert_eq!(code, Some(0), "block {block}: {stdout} {stderr}");
        assert!(stdout.contains("is right"), "{stdout}");
    }

    // The challenger follows the same blocks.
    let until = head.to_string();
    let (code, stdout, stderr) = run(&[
        "fraud-proof",
        "check",
        "--rpc-url",
        &node.http,
        "--challenger",
        "--until-block",
        &until,
        "--poll-interval",
        "100ms",
    ]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert_eq!(
        stderr.matches("output root checked").count() as u64,
        head,
        "{stderr}"
    );
    assert!(!stderr.contains("mismatch"), "{stderr}");

    // A wrong claim: proof file written, exit code 3 (2 is clap's usage error).
    let proofs = dir.path().join("proofs");
    let (code, stdout, stderr) = run(&[
        "fraud-proof",
        "check",
        "--rpc-url",
        &node.http,
        "--block",
        &until,
        "--output-root",
        &B256::repeat_byte(0x11).to_string(),
        "--proof-dir",
        proofs.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(3), "{stdout} {stderr}");
    assert!(stdout.contains("is wrong"), "{stdout}");
    node.terminate();

    let file = std::fs::read_dir(&proofs)
        .expect("proof dir")
        .next()
        .expect("a proof file")
        .expect("entry")
        .path();
    let (code, stdout, stderr) = verify(&file);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(stdout.contains("fraud proven"), "{stdout}");

    let proof: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    let tampered = |name: &str, change: &dyn Fn(&mut Value)| {
        let mut copy = proof.clone();
        change(&mut copy);
        let path = dir.path().join(name);
        std::fs::write(&path, copy.to_string()).expect("write");
        let (code, stdout, stderr) = verify(&path);
        assert_eq!(code, Some(1), "{name} passed: {stdout}");
        assert!(stderr.contains("does not prove fraud"), "{name}: {stderr}");
        stderr
    };
    // A witness node taken out: re-execution cannot read the state.
    tampered("no-node.json", &|p| {
        p["witness"]["state"]
            .as_array_mut()
            .expect("state")
            .remove(0);
    });
    // A witness header changed: it no longer chains to the block.
    tampered("bad-header.json", &|p| {
        let headers = p["witness"]["headers"].as_array_mut().expect("headers");
        let last: Bytes =
            serde_json::from_value(headers.last().expect("parent").clone()).expect("bytes");
        let mut bytes = last.to_vec();
        let end = bytes.len() - 1;
        bytes[end] ^= 1;
        *headers.last_mut().expect("parent") =
            serde_json::to_value(Bytes::from(bytes)).expect("json");
    });
    // The block changed: it is not the pinned block any more.
    let stderr = tampered("bad-block.json", &|p| {
        let block: Bytes = serde_json::from_value(p["block"].clone()).expect("bytes");
        let mut bytes = block.to_vec();
        // The header's timestamp region: still decodes, hashes differently.
        let middle = bytes.len() / 4;
        bytes[middle] ^= 1;
        p["block"] = serde_json::to_value(Bytes::from(bytes)).expect("json");
    });
    assert!(stderr.contains("block"), "{stderr}");
    // The claim is the correct root: no fraud.
    let stderr = tampered("right-claim.json", &|p| {
        p["claimedOutputRoot"] = p["computed"]["outputRoot"].clone();
    });
    assert!(stderr.contains("is correct"), "{stderr}");
    // The stated computation is not what re-execution gives.
    tampered("bad-computed.json", &|p| {
        p["computed"]["stateRoot"] = serde_json::to_value(B256::repeat_byte(0x22)).expect("json");
    });

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"version\": 1").expect("write");
    let (code, _, stderr) = verify(&garbage);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not a fraud proof file"), "{stderr}");
    let (code, _, stderr) = verify(&dir.path().join("missing.json"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot read"), "{stderr}");
}

/// Block whose output root the lying node misstates.
const LIE_AT: u64 = 3;

/// The output root the lying node claims for [`LIE_AT`].
fn lie() -> B256 {
    B256::repeat_byte(0x11)
}

/// A node's answer, with the output root of block [`LIE_AT`] replaced by [`lie`].
fn lie_at(method: &str, _: &[Value], mut answer: Value) -> Value {
    if method == "hb_outputAtBlock" && answer["blockRef"]["number"] == format!("{LIE_AT:#x}") {
        answer["outputRoot"] = serde_json::to_value(lie()).expect("json");
    }
    answer
}

/// A child process, killed on drop (a failed test leaves no challenger running).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stderr, collected by a thread as they come.
fn collect_lines(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().expect("lines").push(line);
        }
    });
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn the_challenger_proves_the_one_output_root_a_node_lies_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        &dir.path().join("data"),
        &["--dev", "--dev.block-time", "200ms"],
    );
    // The node as the challenger sees it: right about every block but LIE_AT.
    let liar = RpcProxy::start(&node.http, Arc::new(lie_at)).await;
    let proofs = dir.path().join("proofs");
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut challenger = Killed(
        Command::new(binary())
            .args([
                "fraud-proof",
                "check",
                "--rpc-url",
                &liar.url,
                "--challenger",
                "--poll-interval",
                "100ms",
                "--metrics",
                &metrics,
                "--proof-dir",
                proofs.to_str().expect("utf-8"),
            ])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn challenger"),
    );
    let logs = collect_lines(challenger.0.stderr.take().expect("stderr"));
    let logged = |needle: &str, block: u64| {
        let field = format!("block={block} ");
        logs.lock()
            .expect("lines")
            .iter()
            .filter(|line| line.contains(needle) && line.contains(&field))
            .count()
    };

    // Well past the lie: the blocks around it are checked too.
    let past = LIE_AT + 3;
    eventually(
        "the challenger to check the blocks after the lie",
        || async { (logged("output root checked", past) == 1).then_some(()) },
    )
    .await;
    let snapshot = logs.lock().expect("lines").join("\n");
    assert_eq!(
        logged("output root mismatch", LIE_AT),
        1,
        "one mismatch line naming block {LIE_AT}:\n{snapshot}"
    );
    assert_eq!(
        snapshot.matches("mismatch").count(),
        1,
        "no other mismatch:\n{snapshot}"
    );
    for honest in (1..=past).filter(|&n| n != LIE_AT) {
        assert_eq!(
            logged("output root checked", honest),
            1,
            "block {honest}:\n{snapshot}"
        );
    }
    let mismatches = eventually("the mismatch metric", || async {
        gauge(&metrics, "hauptbuch_challenger_mismatches_total")
    })
    .await;
    assert_eq!(mismatches, 1.0);
    let checked = gauge(&metrics, "hauptbuch_challenger_blocks_checked_total").expect("checked");
    assert!(checked >= past as f64, "{checked} blocks checked");

    // SIGTERM: the challenger stops cleanly.
    Command::new("kill")
        .args(["-TERM", &challenger.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    let challenger = Mutex::new(challenger);
    let status = eventually("the challenger to stop", || async {
        challenger
            .lock()
            .expect("child")
            .0
            .try_wait()
            .expect("wait")
    })
    .await;
    assert!(status.success(), "challenger exited with {status}");

    // One proof file, for the lie only; it proves fraud with the node gone.
    let files: Vec<_> = std::fs::read_dir(&proofs)
        .expect("proof dir")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().expect("name").to_string_lossy();
    assert!(
        name.starts_with(&format!("fraud-proof-{LIE_AT}-")),
        "{name}"
    );
    drop(liar);
    node.terminate();
    let (code, stdout, stderr) = verify(&files[0]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stdout.contains(&format!("fraud proven: block {LIE_AT} "))
            && stdout.contains(&format!("not the claimed {}", lie())),
        "{stdout}"
    );
}

/// The number of the block tagged `tag`.
async fn tagged(client: &jsonrpsee::http_client::HttpClient, tag: &str) -> u64 {
    let block: Value = client
        .request("eth_getBlockByNumber", rpc_params![tag, false])
        .await
        .expect("block by tag");
    u64::from_str_radix(
        block["number"]
            .as_str()
            .expect("number")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex")
}

/// `raw` (a block's RLP) with its transactions taken out: a block the node did not post.
fn without_transactions(raw: &Value) -> Value {
    use alloy_rlp::Decodable;
    let raw: Bytes = serde_json::from_value(raw.clone()).expect("raw block");
    let mut block =
        alloy_consensus::Block::<alloy_consensus::TxEnvelope>::decode(&mut raw.as_ref())
            .expect("block");
    block.body.transactions.clear();
    serde_json::to_value(Bytes::from(alloy_rlp::encode(&block))).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn check_takes_the_block_from_da_and_catches_a_wrong_claim_about_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        &dir.path().join("node"),
        &["--dev", "--dev.block-time", "200ms"],
    );
    let da_url = node.da.clone().expect("the dev node runs a DA server");
    let token_file = dir.path().join("node/da-server/auth/admin.token");
    let token = token_file.to_str().expect("utf-8");
    let client = node.client();
    let hash: B256 = client
        .request(
            "eth_sendRawTransaction",
            rpc_params![raw_transfer(0, 0, Address::repeat_byte(0x42), 7)],
        )
        .await
        .expect("send");
    let receipt: Value = eventually("the transfer's receipt", || async {
        client
            .request::<Option<Value>, _>("eth_getTransactionReceipt", rpc_params![hash])
            .await
            .expect("receipt call")
    })
    .await;
    let number = u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .expect("number")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");
    // Firm well past it, so that later blobs are on DA too.
    eventually("the block and later ones to be firm", || async {
        (tagged(&client, "finalized").await >= number + 20).then_some(())
    })
    .await;
    let block = number.to_string();
    let check = |rpc: &str, extra: &[&str]| {
        let mut args = vec![
            "fraud-proof",
            "check",
            "--rpc-url",
            rpc,
            "--block",
            &block,
            "--da.url",
            &da_url,
            "--da.auth-token-file",
            token,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };

    // The node's claim about the block it posted is right.
    let (code, stdout, stderr) = check(&node.http, &[]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(stdout.contains("is right"), "{stdout}");
    let da_height: u64 = stdout
        .split("from DA height ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|height| height.parse().ok())
        .unwrap_or_else(|| panic!("no DA height in {stdout}"));

    // A node serving the block without its transaction: checked against what was posted, its
    // (right) claim holds; taken from the node, the served block does not match the claim.
    let served_other = RpcProxy::start(
        &node.http,
        Arc::new(move |method: &str, args: &[Value], answer: Value| {
            if method == "debug_getRawBlock"
                && args.first() == Some(&Value::from(format!("{number:#x}")))
            {
                without_transactions(&answer)
            } else {
                answer
            }
        }),
    )
    .await;
    let (code, stdout, stderr) = check(&served_other.url, &[]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(stdout.contains("is right"), "{stdout}");
    let (code, stdout, stderr) = run(&[
        "fraud-proof",
        "check",
        "--rpc-url",
        &served_other.url,
        "--block",
        &block,
        "--proof-dir",
        dir.path().join("unused").to_str().expect("utf-8"),
    ]);
    assert_ne!(code, Some(0), "{stdout} {stderr}");

    // A wrong claim about the block on DA: proven.
    let proofs = dir.path().join("proofs");
    let (code, stdout, stderr) = check(
        &node.http,
        &[
            "--output-root",
            &B256::repeat_byte(0x11).to_string(),
            "--proof-dir",
            proofs.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, Some(3), "{stdout} {stderr}");
    assert!(stdout.contains("is wrong"), "{stdout}");
    let file = std::fs::read_dir(&proofs)
        .expect("proof dir")
        .next()
        .expect("a proof file")
        .expect("entry")
        .path();
    let (code, stdout, stderr) = verify(&file);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stdout.contains(&format!("fraud proven: block {number} ")),
        "{stdout}"
    );

    // Bad input: a block not on DA, a start height after it, block 0, a malformed URL.
    let (code, _, stderr) = run(&[
        "fraud-proof",
        "check",
        "--rpc-url",
        &node.http,
        "--block",
        "1000000",
        "--da.url",
        &da_url,
        "--da.auth-token-file",
        token,
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("block 1000000 is not on DA"), "{stderr}");
    let after = (da_height + 1).to_string();
    let (code, _, stderr) = check(&node.http, &["--da.start-height", &after]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("block {number} is before DA height {after}")),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "fraud-proof",
        "check",
        "--rpc-url",
        &node.http,
        "--block",
        "0",
        "--da.url",
        &da_url,
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("genesis"), "{stderr}");
    let (code, _, stderr) = run(&[
        "fraud-proof",
        "check",
        "--rpc-url",
        &node.http,
        "--block",
        &block,
        "--da.url",
        "not a url",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--da.url `not a url`"), "{stderr}");
    drop(served_other);
    node.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_challenger_follows_the_blocks_posted_to_da_and_proves_a_lie_about_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        &dir.path().join("node"),
        &["--dev", "--dev.block-time", "200ms"],
    );
    let da_url = node.da.clone().expect("the dev node runs a DA server");
    let token_file = dir.path().join("node/da-server/auth/admin.token");
    // Lies about LIE_AT's output root, and serves no usable block at all: the challenger must
    // take every block from DA.
    let liar = RpcProxy::start(
        &node.http,
        Arc::new(|method: &str, args: &[Value], answer: Value| {
            if method == "debug_getRawBlock" {
                return Value::from("0x00");
            }
            lie_at(method, args, answer)
        }),
    )
    .await;
    let proofs = dir.path().join("proofs");
    let past = LIE_AT + 3;
    let mut challenger = Killed(
        Command::new(binary())
            .args([
                "fraud-proof",
                "check",
                "--rpc-url",
                &liar.url,
                "--challenger",
                "--da.url",
                &da_url,
                "--da.auth-token-file",
                token_file.to_str().expect("utf-8"),
                "--until-block",
                &past.to_string(),
                "--poll-interval",
                "100ms",
                "--proof-dir",
                proofs.to_str().expect("utf-8"),
            ])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn challenger"),
    );
    let logs = collect_lines(challenger.0.stderr.take().expect("stderr"));
    // It stops by itself after --until-block, once that block is on DA.
    let challenger = Mutex::new(challenger);
    let status = eventually("the challenger to reach --until-block", || async {
        challenger
            .lock()
            .expect("child")
            .0
            .try_wait()
            .expect("wait")
    })
    .await;
    let logs = logs.lock().expect("lines").join("\n");
    assert!(status.success(), "challenger exited with {status}:\n{logs}");
    for block in 1..=past {
        let field = format!("block={block} ");
        let line = logs
            .lines()
            .find(|line| line.contains(&field) && line.contains("output root"))
            .unwrap_or_else(|| panic!("block {block} not checked:\n{logs}"));
        assert_eq!(
            line.contains("output root mismatch"),
            block == LIE_AT,
            "block {block}: {line}"
        );
    }
    assert_eq!(logs.matches("mismatch").count(), 1, "{logs}");
    let files: Vec<_> = std::fs::read_dir(&proofs)
        .expect("proof dir")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    drop(liar);
    node.terminate();
    let (code, stdout, stderr) = verify(&files[0]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stdout.contains(&format!("fraud proven: block {LIE_AT} ")),
        "{stdout}"
    );
}
