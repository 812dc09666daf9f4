//! Preconfirmations end to end: a dev node issues them over `hb_`, honours them in its blocks,
//! keeps them across SIGKILL, reports broken ones `violated`, and the offline verifier agrees.

use crate::{
    common::{DEV_KEYS, binary, temp_engine, transfer},
    node::{NodeProcess, eventually, raw_transfer},
};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, U64};
use hauptbuch_reth::{
    chainspec::ChainSpec,
    execution::BlockAttributes,
    preconf::{
        SignedPreconfirmation,
        inclusion::InclusionProof,
        types::IssuerKeysJson,
        verify::{Verdict, verify},
    },
};
use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    http_client::HttpClient,
    rpc_params,
    ws_client::WsClientBuilder,
};
use serde_json::Value;
use std::{path::Path, process::Command, time::Duration};

pub(crate) async fn preconfirm(client: &HttpClient, raw: Bytes) -> SignedPreconfirmation {
    client
        .request("hb_sendPreconfTransaction", rpc_params![raw])
        .await
        .expect("preconfirmation")
}

async fn status_of(client: &HttpClient, hash: B256) -> Value {
    client
        .request::<Value, _>("hb_preconfStatus", rpc_params![hash])
        .await
        .expect("status")
}

/// Waits until the promise's block is sealed and returns the status then.
pub(crate) async fn settled(client: &HttpClient, hash: B256) -> String {
    eventually("the promised block to be sealed", || async {
        let status = status_of(client, hash).await;
        let status = status["status"]
            .as_str()
            .expect("status string")
            .to_string();
        (status != "preconfirmed").then_some(status)
    })
    .await
}

async fn inclusion_proof(client: &HttpClient, hash: B256) -> InclusionProof {
    client
        .request::<Option<InclusionProof>, _>("hb_getInclusionProof", rpc_params![hash])
        .await
        .expect("proof call")
        .expect("a sealed block has a proof")
}

/// Runs `hauptbuch-reth preconf verify` on files written to `dir`.
fn cli_verify(
    dir: &Path,
    preconf: &str,
    proof: Option<&str>,
    keys: Option<&str>,
) -> std::process::Output {
    let preconf_path = dir.join("preconf.json");
    std::fs::write(&preconf_path, preconf).expect("write preconf");
    let mut command = Command::new(binary());
    command.args(["preconf", "verify"]).arg(&preconf_path);
    if let Some(proof) = proof {
        let path = dir.join("proof.json");
        std::fs::write(&path, proof).expect("write proof");
        command.arg("--proof").arg(path);
    }
    if let Some(keys) = keys {
        let path = dir.join("keys.json");
        std::fs::write(&path, keys).expect("write keys");
        command.arg("--keys").arg(path);
    }
    command.output().expect("run verifier")
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn preconfirmations_are_hash_chained_signed_with_the_advertised_keys_and_honoured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "1s"]);
    let client = node.client();
    let caps: Value = client
        .request("hb_capabilities", rpc_params![])
        .await
        .expect("capabilities");
    let keys: IssuerKeysJson = serde_json::from_value(caps["keys"].clone()).expect("keys");
    assert_eq!(caps["chainId"], format!("{:#x}", 31_337_420));
    assert_eq!(caps["algorithms"]["batch"], "ML-DSA-65 (FIPS 204)");

    let to = Address::repeat_byte(0x77);
    let mut issued = Vec::new();
    for nonce in 0..5 {
        issued.push(preconfirm(&client, raw_transfer(0, nonce, to, 1 + nonce)).await);
    }
    for pair in issued.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.block_number == b.block_number {
            assert_eq!(b.tx_index, a.tx_index + U64::from(1), "gapless indices");
            assert_eq!(b.parent_hash, a.hash, "hash chain");
        } else {
            assert_eq!(b.tx_index, U64::ZERO);
            assert_eq!(b.parent_hash, B256::ZERO);
        }
    }
    for preconf in &issued {
        assert_eq!(preconf.issuer, keys, "signed with the advertised keys");
        assert_eq!(
            verify(preconf, None, Some(&keys)).expect("verifies"),
            Verdict::Signed
        );
        let fetched: SignedPreconfirmation = client
            .request::<Option<_>, _>("hb_getPreconfirmation", rpc_params![preconf.tx_hash])
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(&fetched, preconf);
    }
    for preconf in &issued {
        let status = settled(&client, preconf.tx_hash).await;
        assert!(
            status == "soft" || status == "firm",
            "honoured, got {status}"
        );
        let proof = inclusion_proof(&client, preconf.tx_hash).await;
        let verdict = verify(preconf, Some(&proof), Some(&keys)).expect("verifies");
        assert!(matches!(verdict, Verdict::Honoured { .. }), "{verdict:?}");
    }
    // The same evidence through the offline CLI.
    let preconf = serde_json::to_string(&issued[4]).expect("json");
    let proof =
        serde_json::to_string(&inclusion_proof(&client, issued[4].tx_hash).await).expect("json");
    let output = cli_verify(dir.path(), &preconf, Some(&proof), Some(&caps.to_string()));
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("honoured"), "{}", text(&output));

    // Or with the promised block itself (eth_getBlockByNumber with full transactions).
    let block: Value = client
        .request(
            "eth_getBlockByNumber",
            rpc_params![issued[4].block_number, true],
        )
        .await
        .expect("block");
    let verify_with_block = |block: &Value, extra: &[&str]| {
        let block_path = dir.path().join("block.json");
        std::fs::write(&block_path, block.to_string()).expect("write block");
        let preconf_path = dir.path().join("preconf-b.json");
        std::fs::write(&preconf_path, &preconf).expect("write preconf");
        Command::new(binary())
            .args(["preconf", "verify"])
            .arg(&preconf_path)
            .arg("--block")
            .arg(&block_path)
            .args(extra)
            .output()
            .expect("run verifier")
    };
    let output = verify_with_block(&block, &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("honoured"), "{}", text(&output));
    // A block whose transactions were changed does not match its transactionsRoot.
    let mut tampered = block.clone();
    tampered["transactions"][0]["value"] = Value::from("0x1234");
    let output = verify_with_block(&tampered, &[]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("transactionsRoot"),
        "{}",
        text(&output)
    );
    // Only hashes: a clear error.
    let hashes: Value = client
        .request(
            "eth_getBlockByNumber",
            rpc_params![issued[4].block_number, false],
        )
        .await
        .expect("block");
    let output = verify_with_block(&hashes, &[]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("full transactions"),
        "{}",
        text(&output)
    );

    // `--chain`: the --dev node's certificates are signed by its own dev key; the built-in
    // devnet chainspec names no validator set to check them against: a clear refusal.
    let mut command = Command::new(binary());
    let output = command
        .args(["preconf", "verify"])
        .arg(dir.path().join("preconf.json"))
        .arg("--proof")
        .arg(dir.path().join("proof.json"))
        .args(["--chain", "devnet"])
        .output()
        .expect("run verifier");
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("has no usable validator set"),
        "{}",
        text(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tampering_with_any_field_proof_or_batch_root_fails_verification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "1s"]);
    let client = node.client();
    // Concurrent senders so that batches hold several preconfirmations (non-empty proofs).
    let mut tasks = Vec::new();
    for round in 0..4u64 {
        for key in 0..DEV_KEYS.len() {
            let client = client.clone();
            let raw = raw_transfer(key, round, Address::repeat_byte(0x10), 1);
            tasks.push(tokio::spawn(async move { preconfirm(&client, raw).await }));
        }
        let issued: Vec<SignedPreconfirmation> = futures_collect(&mut tasks).await;
        for preconf in &issued {
            preconf.verify().expect("genuine preconfirmation verifies");
        }
        if let Some(preconf) = issued.iter().find(|p| p.batch.leaf_count > U64::from(1)) {
            assert_tampering_fails(preconf);
            return;
        }
    }
    panic!("no batch with more than one preconfirmation was issued");
}

async fn futures_collect(
    tasks: &mut Vec<tokio::task::JoinHandle<SignedPreconfirmation>>,
) -> Vec<SignedPreconfirmation> {
    let mut out = Vec::new();
    for task in tasks.drain(..) {
        out.push(task.await.expect("task"));
    }
    out
}

fn assert_tampering_fails(genuine: &SignedPreconfirmation) {
    type Tamper = fn(&mut SignedPreconfirmation);
    let tampers: Vec<(&str, Tamper)> = vec![
        ("chainId", |p| p.chain_id += U64::from(1)),
        ("txHash", |p| p.tx_hash.0[31] ^= 1),
        ("blockNumber", |p| p.block_number += U64::from(1)),
        ("txIndex", |p| p.tx_index += U64::from(1)),
        ("arrivalMs", |p| p.arrival_ms -= U64::from(1)),
        ("expiryMs", |p| p.expiry_ms += U64::from(1)),
        ("parentHash", |p| p.parent_hash.0[0] ^= 1),
        ("hash", |p| p.hash.0[5] ^= 1),
        ("issuer.ed25519", |p| p.issuer.ed25519.0[3] ^= 1),
        ("issuer.mlDsa65", |p| {
            let mut key = p.issuer.ml_dsa65.to_vec();
            key[100] ^= 1;
            p.issuer.ml_dsa65 = key.into();
        }),
        ("signature", |p| {
            let mut sig = p.signature.to_vec();
            sig[10] ^= 1;
            p.signature = sig.into();
        }),
        ("batch.id", |p| p.batch.id += U64::from(1)),
        ("batch.root", |p| p.batch.root.0[0] ^= 1),
        ("batch.leafCount", |p| p.batch.leaf_count += U64::from(1)),
        ("batch.leafIndex", |p| {
            p.batch.leaf_index = if p.batch.leaf_index == U64::ZERO {
                U64::from(1)
            } else {
                U64::ZERO
            }
        }),
        ("batch.proof[0]", |p| p.batch.proof[0].0[7] ^= 1),
        ("batch.proof extra", |p| p.batch.proof.push(B256::ZERO)),
        ("batch.proof dropped", |p| {
            p.batch.proof.pop();
        }),
        ("batch.signature", |p| {
            let mut sig = p.batch.signature.to_vec();
            sig[1000] ^= 1;
            p.batch.signature = sig.into();
        }),
    ];
    for (what, tamper) in tampers {
        let mut forged = genuine.clone();
        tamper(&mut forged);
        assert!(forged.verify().is_err(), "tampered {what} still verifies");
    }
}

#[test]
fn inclusion_proofs_verify_for_every_transaction_of_a_full_block() {
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let (_dir, engine) = temp_engine(spec.clone());
    engine.init_genesis().expect("genesis");
    let signers: Vec<alloy_signer_local::PrivateKeySigner> =
        DEV_KEYS.iter().map(|k| k.parse().expect("key")).collect();
    // A block as full as the gas limit allows of 21,000-gas transfers.
    let count = (spec.genesis_header.gas_limit / 21_000) as usize;
    let txs: Vec<_> = (0..count)
        .map(|i| {
            let who = i % signers.len();
            let to = Address::left_padding_from(&(i as u64).to_be_bytes());
            transfer(
                &signers[who],
                spec.chain_id,
                (i / signers.len()) as u64,
                to,
                1,
            )
        })
        .collect();
    let attributes = BlockAttributes {
        timestamp: 1,
        gas_limit: spec.genesis_header.gas_limit,
        ..Default::default()
    };
    let (block, built) = engine.build_and_commit(attributes, txs).expect("build");
    assert!(built.rejected.is_empty() && built.skipped == 0);
    assert_eq!(block.body.transactions.len(), count);
    let hash = block.header.hash_slow();
    for (index, tx) in block.body.transactions.iter().enumerate() {
        let proof = InclusionProof::build(&block, hash, index);
        assert_eq!(
            proof.verify().expect("verifies"),
            Some(tx.trie_hash()),
            "{index}"
        );
    }
    // Past the end: a proof that nothing is there.
    let absent = InclusionProof::build(&block, hash, count);
    assert_eq!(absent.verify().expect("exclusion verifies"), None);
    // Tampering fails.
    let genuine = InclusionProof::build(&block, hash, 7);
    let mut forged = genuine.clone();
    let other = block.body.transactions[8].encoded_2718();
    forged.transaction_hash = Some(alloy_primitives::keccak256(&other));
    forged.transaction = Some(other.into());
    assert!(forged.verify().is_err(), "another transaction at index 7");
    let mut forged = genuine.clone();
    let mut node = forged.proof[0].to_vec();
    node[5] ^= 1;
    forged.proof[0] = node.into();
    assert!(forged.verify().is_err(), "tampered proof node");
    let mut forged = genuine.clone();
    forged.transactions_root.0[0] ^= 1;
    assert!(forged.verify().is_err(), "tampered root");
    let mut forged = genuine;
    forged.block_hash.0[0] ^= 1;
    assert!(forged.verify().is_err(), "tampered block hash");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_promise_is_reported_violated_and_the_verifier_proves_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        dir.path(),
        &[
            "--dev",
            "--dev.block-time",
            "500ms",
            "--preconf.dev-break-promises",
        ],
    );
    let client = node.client();
    let preconf = preconfirm(&client, raw_transfer(1, 0, Address::repeat_byte(9), 5)).await;
    assert_eq!(settled(&client, preconf.tx_hash).await, "violated");
    let proof = inclusion_proof(&client, preconf.tx_hash).await;
    let verdict = verify(&preconf, Some(&proof), None).expect("evidence verifies");
    assert!(matches!(verdict, Verdict::Violated { .. }), "{verdict:?}");
    let output = cli_verify(
        dir.path(),
        &serde_json::to_string(&preconf).expect("json"),
        Some(&serde_json::to_string(&proof).expect("json")),
        None,
    );
    assert!(!output.status.success(), "a violation exits non-zero");
    assert!(text(&output).contains("violated"), "{}", text(&output));
}

/// A `--dev` node with 30 s blocks, past block 1 (built at once on start): promises go to
/// block 2, which cannot be sealed before the test kills the node.
async fn slow_dev_node(datadir: &Path) -> (NodeProcess, HttpClient) {
    let node = NodeProcess::start(datadir, &["--dev", "--dev.block-time", "30s"]);
    let client = node.client();
    eventually("block 1", || async {
        let number: U64 = client
            .request("eth_blockNumber", rpc_params![])
            .await
            .expect("blockNumber");
        (number >= U64::from(1)).then_some(())
    })
    .await;
    (node, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preconfirmation_survives_sigkill_before_its_block_and_is_honoured_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("data");
    let (node, client) = slow_dev_node(&datadir).await;
    let mut issued = Vec::new();
    for nonce in 0..3 {
        issued.push(preconfirm(&client, raw_transfer(2, nonce, Address::repeat_byte(3), 7)).await);
    }
    for preconf in &issued {
        assert_eq!(
            status_of(&client, preconf.tx_hash).await["status"],
            "preconfirmed"
        );
    }
    drop(node); // SIGKILL

    let node = NodeProcess::start(&datadir, &["--dev", "--dev.block-time", "200ms"]);
    let client = node.client();
    for preconf in &issued {
        let fetched: Option<SignedPreconfirmation> = client
            .request("hb_getPreconfirmation", rpc_params![preconf.tx_hash])
            .await
            .expect("get");
        assert_eq!(fetched.as_ref(), Some(preconf), "still there after SIGKILL");
        let status = settled(&client, preconf.tx_hash).await;
        assert!(
            status == "soft" || status == "firm",
            "honoured, got {status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preconfirmation_broken_after_sigkill_is_reported_violated_not_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("data");
    let (node, client) = slow_dev_node(&datadir).await;
    let preconf = preconfirm(&client, raw_transfer(1, 0, Address::repeat_byte(4), 9)).await;
    drop(node); // SIGKILL before the promised block

    // After the restart the promised block is built without it (fault injection): the node
    // still knows the promise and reports it violated, with evidence the verifier accepts.
    let node = NodeProcess::start(
        &datadir,
        &[
            "--dev",
            "--dev.block-time",
            "200ms",
            "--preconf.dev-break-promises",
        ],
    );
    let client = node.client();
    let fetched: Option<SignedPreconfirmation> = client
        .request("hb_getPreconfirmation", rpc_params![preconf.tx_hash])
        .await
        .expect("get");
    assert_eq!(fetched.as_ref(), Some(&preconf), "kept across SIGKILL");
    assert_eq!(settled(&client, preconf.tx_hash).await, "violated");
    let proof = inclusion_proof(&client, preconf.tx_hash).await;
    let verdict = verify(&preconf, Some(&proof), None).expect("evidence verifies");
    assert!(matches!(verdict, Verdict::Violated { .. }), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_transactions_get_the_pool_errors_and_no_preconfirmation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "1s"]);
    let client = node.client();
    let garbage = Bytes::from_static(&[0x02, 0xde, 0xad]);
    let wrong_chain = {
        let signer: alloy_signer_local::PrivateKeySigner = DEV_KEYS[0].parse().expect("key");
        let tx = transfer(&signer, 1, 0, Address::repeat_byte(1), 1);
        Bytes::from(tx.into_inner().encoded_2718())
    };
    for raw in [garbage, wrong_chain.clone()] {
        let preconf_error = client
            .request::<Value, _>("hb_sendPreconfTransaction", rpc_params![raw.clone()])
            .await
            .expect_err("refused");
        let eth_error = client
            .request::<Value, _>("eth_sendRawTransaction", rpc_params![raw])
            .await
            .expect_err("refused");
        assert_eq!(preconf_error.to_string(), eth_error.to_string());
    }
    let hash = alloy_primitives::keccak256(&wrong_chain);
    let none: Option<Value> = client
        .request("hb_getPreconfirmation", rpc_params![hash])
        .await
        .expect("get");
    assert_eq!(none, None, "no preconfirmation for a refused transaction");
    // A nonce gap cannot be promised a position.
    let gap = client
        .request::<Value, _>(
            "hb_sendPreconfTransaction",
            rpc_params![raw_transfer(0, 5, Address::repeat_byte(1), 1)],
        )
        .await
        .expect_err("gap refused");
    assert!(gap.to_string().contains("expected 0"), "{gap}");

    // The verifier names what is wrong with malformed input.
    let output = cli_verify(dir.path(), "{\"chainId\": \"0x1\"", None, None);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("preconfirmation"),
        "{}",
        text(&output)
    );
    let output = cli_verify(dir.path(), "{\"chainId\": \"0x1\"}", None, None);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("missing field `txHash`"),
        "{}",
        text(&output)
    );
    let output = cli_verify(dir.path(), "{\"chainId\": \"nope\"}", None, None);
    assert!(!output.status.success());
    assert!(text(&output).contains("at `chainId`"), "{}", text(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn preconfirmations_stream_over_the_ws_subscription() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        dir.path(),
        &[
            "--dev",
            "--dev.block-time",
            "1s",
            "--ws",
            "--ws.port",
            "0",
            "--ws.api",
            "hb",
        ],
    );
    let ws = WsClientBuilder::default()
        .build(node.ws.as_deref().expect("ws"))
        .await
        .expect("ws client");
    let mut stream = ws
        .subscribe::<SignedPreconfirmation, _>(
            "hb_subscribe",
            rpc_params!["preconfirmations"],
            "hb_unsubscribe",
        )
        .await
        .expect("subscribe");
    let sent = preconfirm(
        &node.client(),
        raw_transfer(0, 0, Address::repeat_byte(4), 1),
    )
    .await;
    let streamed = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("a notification in time")
        .expect("stream open")
        .expect("decodes");
    assert_eq!(streamed, sent);
    let bad = ws
        .subscribe::<Value, _>("hb_subscribe", rpc_params!["blocks"], "hb_unsubscribe")
        .await;
    assert!(bad.is_err(), "unknown kinds are refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn send_raw_transaction_sync_returns_the_receipt_or_times_out_with_code_4() {
    use alloy_rpc_types_eth::TransactionReceipt;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "200ms"]);
    let client = node.client();
    let raw = raw_transfer(0, 0, Address::repeat_byte(5), 3);
    let receipt: TransactionReceipt = client
        .request("eth_sendRawTransactionSync", rpc_params![raw.clone()])
        .await
        .expect("receipt");
    assert!(receipt.status());
    assert_eq!(receipt.transaction_hash, alloy_primitives::keccak256(&raw));
    let out_of_range = client
        .request::<Value, _>(
            "eth_sendRawTransactionSync",
            rpc_params![raw_transfer(0, 1, Address::repeat_byte(5), 3), U64::ZERO],
        )
        .await
        .expect_err("zero timeout refused");
    assert!(
        out_of_range.to_string().contains("out of range"),
        "{out_of_range}"
    );
    // A nonce gap is pooled but never mined: the wait ends with code 4 and the hash.
    let gapped = raw_transfer(0, 9, Address::repeat_byte(5), 3);
    let timeout = client
        .request::<Value, _>(
            "eth_sendRawTransactionSync",
            rpc_params![gapped.clone(), U64::from(300)],
        )
        .await
        .expect_err("times out");
    let jsonrpsee::core::ClientError::Call(error) = timeout else {
        panic!("expected a call error, got {timeout}");
    };
    assert_eq!(error.code(), 4);
    let data: B256 = serde_json::from_str(error.data().expect("hash as data").get()).expect("hash");
    assert_eq!(data, alloy_primitives::keccak256(&gapped));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pending_block_holds_the_preconfirmed_transactions_at_their_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Long block time: the promised block stays pending while the test looks at it.
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "30s"]);
    let client = node.client();
    eventually("block 1", || async {
        let number: U64 = client
            .request("eth_blockNumber", rpc_params![])
            .await
            .expect("blockNumber");
        (number >= U64::from(1)).then_some(())
    })
    .await;
    let to = Address::repeat_byte(0x5e);
    let mut issued = Vec::new();
    for (key, value) in [(0, 3u64), (1, 4)] {
        issued.push(preconfirm(&client, raw_transfer(key, 0, to, value)).await);
    }
    let latest: U64 = client
        .request("eth_blockNumber", rpc_params![])
        .await
        .expect("blockNumber");
    assert!(
        issued
            .iter()
            .all(|p| p.block_number == latest + U64::from(1)),
        "promised for the next block"
    );
    let pending: Value = client
        .request("eth_getBlockByNumber", rpc_params!["pending", false])
        .await
        .expect("pending block");
    assert_eq!(pending["number"], serde_json::json!(issued[0].block_number));
    for preconf in &issued {
        let index = usize::try_from(preconf.tx_index.to::<u64>()).expect("index");
        assert_eq!(
            pending["transactions"][index],
            serde_json::json!(preconf.tx_hash),
            "promised position"
        );
    }
    let balance: alloy_primitives::U256 = client
        .request("eth_getBalance", rpc_params![to, "pending"])
        .await
        .expect("balance");
    assert_eq!(balance, alloy_primitives::U256::from(7));
    let balance: alloy_primitives::U256 = client
        .request("eth_getBalance", rpc_params![to, "latest"])
        .await
        .expect("balance");
    assert_eq!(balance, alloy_primitives::U256::ZERO, "not sealed yet");
}
