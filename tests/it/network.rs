//! Real processes: a 4-validator network on loopback (keys from `keygen`, chainspec from
//! `dump-genesis --validator`), under a stream of transfers, survives SIGKILL of a validator and
//! the restarted validator catches up; every node, and two full nodes (one following DA, one
//! following the validators over p2p), reports the same hash at every height. One
//! validator posts to DA and the others stand by: every block is on DA once, and every
//! validator's `finalized` advances.
//! Plus the startup errors an operator can hit, a chainspec mismatch between nodes among them.

use crate::{
    common::binary,
    node::{NodeProcess, eventually, raw_transfer},
    preconf::{preconfirm, settled},
};
use alloy_primitives::{Address, B256, U64};
use alloy_rpc_types_eth::Block;
use jsonrpsee::{core::client::ClientT, rpc_params};
use std::{path::Path, process::Command};

/// Runs the binary with `args`, returning (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .args(args)
        .output()
        .expect("run hauptbuch-reth");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A free loopback port (bound and released; good enough for tests).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Creates `n` validator keys under `dir` and a chainspec naming them; returns the chainspec path
/// and each validator's (key file, p2p port).
fn network(dir: &Path, n: usize) -> (String, Vec<(String, u16)>) {
    network_with(dir, n, false)
}

/// As [`network`]; with `preconf`, each validator also gets preconfirmation keys in its datadir
/// (`node<i>/preconf.key`, from `keygen --preconf`) and the chainspec lists them.
fn network_with(dir: &Path, n: usize, preconf: bool) -> (String, Vec<(String, u16)>) {
    let mut validators = Vec::new();
    let mut args = vec![
        "dump-genesis".to_string(),
        "--block-time-ms".into(),
        "200".into(),
    ];
    for i in 0..n {
        let key = dir.join(format!("validator{i}.key"));
        let key = key.to_str().expect("utf-8 path").to_string();
        let (ok, stdout, stderr) = run(&["keygen", "--output", &key]);
        assert!(ok, "keygen failed: {stderr}");
        let public = stdout.trim().to_string();
        assert_eq!(
            public.len(),
            66,
            "public key is 0x + 32 bytes hex: {public}"
        );
        let port = free_port();
        args.push("--validator".into());
        args.push(format!("{public}@127.0.0.1:{port}"));
        if preconf {
            let datadir = dir.join(format!("node{i}"));
            std::fs::create_dir_all(&datadir).expect("datadir");
            let file = datadir.join("preconf.key");
            let file = file.to_str().expect("utf-8 path");
            let (ok, stdout, stderr) = run(&["keygen", "--preconf", "--output", file]);
            assert!(ok, "keygen --preconf failed: {stderr}");
            assert!(stdout.contains("mlDsa65Hash"), "{stdout}");
            // dump-genesis takes the printed public keys (or, for odd validators, the key file).
            let public = dir.join(format!("preconf{i}.json"));
            std::fs::write(&public, &stdout).expect("write public keys");
            args.push("--preconf-key".into());
            args.push(if i % 2 == 0 {
                public.to_str().expect("utf-8").to_string()
            } else {
                file.to_string()
            });
        }
        validators.push((key, port));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "dump-genesis failed: {stderr}");
    let spec = dir.join("chainspec.json");
    std::fs::write(&spec, stdout).expect("write chainspec");
    (spec.to_str().expect("utf-8").to_string(), validators)
}

/// A `da-server` process shared by the nodes, killed on drop.
struct DaServer {
    child: std::process::Child,
    url: String,
    token: String,
}

impl DaServer {
    fn start(dir: &Path) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let datadir = dir.join("da");
        let child = Command::new(binary())
            .args([
                "da-server",
                "--addr",
                &addr,
                "--block-time",
                "200ms",
                "--datadir",
            ])
            .arg(&datadir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn da-server");
        let token = datadir.join("auth/admin.token");
        let started = std::time::Instant::now();
        while !token.exists() {
            assert!(started.elapsed().as_secs() < 30, "da-server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://{addr}"),
            token: token.to_str().expect("utf-8").to_string(),
        }
    }

    /// Flags pointing a node at this server.
    fn args(&self) -> [&str; 4] {
        ["--da.url", &self.url, "--da.auth-token-file", &self.token]
    }
}

impl Drop for DaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_validator_with(
    dir: &Path,
    i: usize,
    spec: &str,
    (key, port): &(String, u16),
    da: &DaServer,
    extra: &[&str],
) -> NodeProcess {
    let port = port.to_string();
    let mut args = vec![
        "--chain",
        spec,
        "--validator.key",
        key,
        "--p2p.addr",
        "127.0.0.1",
        "--p2p.port",
        &port,
    ];
    args.extend(da.args());
    args.extend(extra);
    NodeProcess::start(&dir.join(format!("node{i}")), &args)
}

async fn block_number(node: &NodeProcess) -> u64 {
    let number: U64 = node
        .client()
        .request("eth_blockNumber", rpc_params![])
        .await
        .expect("eth_blockNumber");
    number.to::<u64>()
}

async fn block_hash(node: &NodeProcess, number: u64) -> B256 {
    let block: Option<Block> = node
        .client()
        .request(
            "eth_getBlockByNumber",
            rpc_params![U64::from(number), false],
        )
        .await
        .expect("eth_getBlockByNumber");
    block.expect("block exists").header.hash
}

fn node(nodes: &[Option<NodeProcess>], i: usize) -> &NodeProcess {
    nodes[i].as_ref().expect("node running")
}

/// Polls `method(hash)` on `node` until it returns an object.
async fn lookup(node: &NodeProcess, method: &'static str, hash: B256) -> serde_json::Value {
    let client = node.client();
    eventually(method, || {
        let client = client.clone();
        async move {
            client
                .request::<Option<serde_json::Value>, _>(method, rpc_params![hash])
                .await
                .expect("query")
        }
    })
    .await
}

async fn wait_for_height(node: &NodeProcess, height: u64, what: &str) {
    eventually(what, || async {
        (block_number(node).await >= height).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn four_validators_survive_sigkill_and_agree_on_every_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network(dir.path(), 4);
    let da = DaServer::start(dir.path());
    // A full node following the validators over p2p: they list its key as a follower.
    let (follower_key, follower_port, followers) = follower(dir.path());
    let (follower_key, follower_port) = (follower_key.as_str(), follower_port.to_string());
    let follower_flags = ["--p2p.followers", followers.as_str()];
    let start =
        |i: usize| start_validator_with(dir.path(), i, &spec, &validators[i], &da, &follower_flags);
    let mut nodes: Vec<Option<NodeProcess>> = (0..4).map(|i| Some(start(i))).collect();
    // A full node: no key, follows the chain from DA, verifying every certificate.
    let mut full_args = vec!["--chain", spec.as_str()];
    full_args.extend(da.args());
    let full = NodeProcess::start(&dir.path().join("full"), &full_args);
    let mut follower_args = vec![
        "--chain",
        spec.as_str(),
        "--p2p.key",
        follower_key,
        "--p2p.addr",
        "127.0.0.1",
        "--p2p.port",
        &follower_port,
    ];
    follower_args.extend(da.args());
    let follower = NodeProcess::start(&dir.path().join("follower"), &follower_args);
    wait_for_height(node(&nodes, 0), 3, "the network to finalize block 3").await;
    // This chainspec lists no preconfirmation keys: a validator says what is missing.
    let refused = node(&nodes, 1)
        .client()
        .request::<serde_json::Value, _>(
            "hb_sendPreconfTransaction",
            rpc_params![raw_transfer(0, 999, Address::with_last_byte(0x77), 1)],
        )
        .await
        .expect_err("no preconfirmations without keys in the chainspec");
    assert!(
        refused
            .to_string()
            .contains("hauptbuch.validators[].preconf"),
        "{refused}"
    );

    // Transfers from three senders to validators 0, 1 and 3. Gossip spreads them to every pool,
    // so whichever validator leads includes them, even those sent to validator 3 before it dies.
    let mut sent = Vec::new();
    for (sender, target) in [(0usize, 0usize), (1, 1), (2, 3)] {
        for nonce in 0..5u64 {
            let raw = raw_transfer(sender, nonce, Address::with_last_byte(0x77), 1);
            let hash: B256 = node(&nodes, target)
                .client()
                .request("eth_sendRawTransaction", rpc_params![raw])
                .await
                .expect("transfer accepted");
            sent.push(hash);
        }
    }
    for hash in &sent {
        lookup(node(&nodes, 0), "eth_getTransactionByHash", *hash).await;
    }

    // SIGKILL validator 3: the other three keep finalizing.
    nodes[3] = None;
    let before = block_number(node(&nodes, 0)).await;
    for i in 0..3 {
        wait_for_height(
            node(&nodes, i),
            before + 5,
            "finalization without validator 3",
        )
        .await;
    }

    // Restarted from its data, validator 3 catches up.
    nodes[3] = Some(start(3));
    let target = block_number(node(&nodes, 0)).await + 2;
    wait_for_height(node(&nodes, 3), target, "validator 3 to catch up").await;

    // Every transfer is included, exactly once (a replay would fail on its nonce).
    for hash in &sent {
        let receipt = lookup(node(&nodes, 3), "eth_getTransactionReceipt", *hash).await;
        assert_eq!(receipt["status"], "0x1");
    }

    // The full nodes follow, one through DA, one over p2p.
    let target = block_number(node(&nodes, 0)).await;
    wait_for_height(&full, target, "the full node to follow from DA").await;
    wait_for_height(&follower, target, "the full node to follow over p2p").await;

    // Same hash at every height on every node, validators and full nodes alike.
    let mut lowest = block_number(&full).await.min(block_number(&follower).await);
    for i in 0..4 {
        lowest = lowest.min(block_number(node(&nodes, i)).await);
    }
    for number in 1..=lowest {
        let reference = block_hash(&full, number).await;
        assert_eq!(
            block_hash(&follower, number).await,
            reference,
            "the p2p follower differs at height {number}"
        );
        for i in 0..4 {
            assert_eq!(
                block_hash(node(&nodes, i), number).await,
                reference,
                "node {i} differs at height {number}"
            );
        }
    }
    // The p2p follower's `finalized` comes from DA: it reads the poster's blobs.
    eventually(
        "finalized on the p2p follower to reach the common height",
        || async { (finalized_number(&follower).await >= lowest).then_some(()) },
    )
    .await;

    // Validator 0 posts; the others stand by and take its blobs as their record, so every
    // validator's `finalized` moves and each block is on DA once.
    for i in 0..4 {
        let what = format!("finalized on validator {i} to reach block {lowest}");
        eventually(&what, || async {
            (finalized_number(node(&nodes, i)).await >= lowest).then_some(())
        })
        .await;
    }
    let copies = blocks_on_da(&da, &spec).await;
    for number in 1..=lowest {
        assert_eq!(copies.get(&number), Some(&1), "block {number} on DA");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validator_network_preconfirms_through_its_leaders_and_keeps_every_promise() {
    use hauptbuch_reth::preconf::SignedPreconfirmation;
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network_with(dir.path(), 4, true);
    let da = DaServer::start(dir.path());
    // A full node following over p2p forwards requests too.
    let (follower_key, follower_port, followers) = follower(dir.path());
    let follower_flags = ["--p2p.followers", followers.as_str()];
    let nodes: Vec<NodeProcess> = (0..4)
        .map(|i| start_validator_with(dir.path(), i, &spec, &validators[i], &da, &follower_flags))
        .collect();
    let follower_port = follower_port.to_string();
    let full = NodeProcess::start(
        &dir.path().join("follower"),
        &[
            "--chain",
            &spec,
            "--p2p.key",
            &follower_key,
            "--p2p.addr",
            "127.0.0.1",
            "--p2p.port",
            &follower_port,
        ],
    );
    wait_for_height(&nodes[0], 2, "the network to finalize block 2").await;
    let chainspec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec).expect("read chainspec"))
            .expect("chainspec json");
    let listed: Vec<serde_json::Value> = chainspec["hauptbuch"]["validators"]
        .as_array()
        .expect("validators")
        .iter()
        .map(|v| v["preconf"].clone())
        .collect();

    // Three senders, each nonce sent to another validator, a round every 300 ms (1.5 blocks):
    // whichever validator leads the next block issues, the others forward to it.
    let to = Address::with_last_byte(0x77);
    let mut issued: Vec<(usize, SignedPreconfirmation)> = Vec::new();
    for nonce in 0..5u64 {
        for sender in 0..3usize {
            let target = (sender + nonce as usize) % 4;
            let preconf: SignedPreconfirmation = nodes[target]
                .client()
                .request(
                    "hb_sendPreconfTransaction",
                    rpc_params![raw_transfer(sender, nonce, to, 1)],
                )
                .await
                .unwrap_or_else(|e| panic!("preconfirmation via node {target}: {e}"));
            preconf.verify().expect("both signatures verify");
            let keys = serde_json::to_value(preconf.issuer.chainspec_keys()).expect("json");
            assert!(
                listed.contains(&keys),
                "signed with a validator's listed keys"
            );
            assert!(
                knows(&nodes[target].client(), preconf.tx_hash).await,
                "node {target} knows the transaction it had preconfirmed"
            );
            issued.push((target, preconf));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let issuers: std::collections::HashSet<_> =
        issued.iter().map(|(_, p)| p.issuer.ed25519).collect();
    assert!(
        issuers.len() > 1,
        "leaders take turns issuing: {} issuer(s)",
        issuers.len()
    );

    // Every promise is kept, and the node the wallet asked answers for it.
    for (target, preconf) in &issued {
        let client = nodes[*target].client();
        let fetched: Option<SignedPreconfirmation> = client
            .request("hb_getPreconfirmation", rpc_params![preconf.tx_hash])
            .await
            .expect("get");
        assert_eq!(fetched.as_ref(), Some(preconf));
        let status = settled(&client, preconf.tx_hash).await;
        assert!(
            status == "soft" || status == "firm",
            "block {} index {}: {status}",
            preconf.block_number,
            preconf.tx_index
        );
    }

    // The offline verifier checks the keys against the chainspec and the proof against the block.
    let (target, last) = issued.last().expect("issued");
    let proof: serde_json::Value = nodes[*target]
        .client()
        .request("hb_getInclusionProof", rpc_params![last.tx_hash])
        .await
        .expect("proof");
    let (preconf_file, proof_file) = (dir.path().join("p.json"), dir.path().join("proof.json"));
    std::fs::write(&preconf_file, serde_json::to_string(last).expect("json")).expect("write");
    std::fs::write(&proof_file, proof.to_string()).expect("write");
    let verify_last = |extra: &[&str]| {
        let mut args = vec!["preconf", "verify", preconf_file.to_str().expect("utf-8")];
        args.extend(extra);
        run(&args)
    };
    let (ok, stdout, stderr) = verify_last(&[
        "--proof",
        proof_file.to_str().expect("utf-8"),
        "--chain",
        &spec,
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("keys of validator 0x"), "{stdout}");
    assert!(stdout.contains("honoured"), "{stdout}");
    // Or against the issuers hb_capabilities lists (any node's answer will do).
    let caps: serde_json::Value = nodes[(*target + 1) % 4]
        .client()
        .request("hb_capabilities", rpc_params![])
        .await
        .expect("capabilities");
    assert_eq!(caps["issuers"].as_array().map(Vec::len), Some(4), "{caps}");
    let caps_file = dir.path().join("caps.json");
    std::fs::write(&caps_file, caps.to_string()).expect("write");
    let (ok, stdout, stderr) = verify_last(&["--keys", caps_file.to_str().expect("utf-8")]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("issuing validators"), "{stdout}");
    // Against another chainspec's validators the keys are nobody's.
    std::fs::create_dir_all(dir.path().join("other")).expect("dir");
    let (other, _) = network_with(&dir.path().join("other"), 1, true);
    let (ok, stdout, stderr) = verify_last(&["--chain", &other]);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("no validator's preconfirmation keys"),
        "{stderr}"
    );

    // Bad input forwarded to the issuer comes back with the pool's error.
    let wrong_chain = {
        use alloy_eips::Encodable2718;
        let signer: alloy_signer_local::PrivateKeySigner =
            crate::common::DEV_KEYS[0].parse().expect("key");
        let tx = crate::common::transfer(&signer, 1, 0, to, 1);
        alloy_primitives::Bytes::from(tx.into_inner().encoded_2718())
    };
    for node in &nodes {
        let refusal = |method: &'static str| {
            let (client, raw) = (node.client(), wrong_chain.clone());
            async move {
                client
                    .request::<serde_json::Value, _>(method, rpc_params![raw])
                    .await
                    .expect_err("refused")
                    .to_string()
            }
        };
        assert_eq!(
            refusal("hb_sendPreconfTransaction").await,
            refusal("eth_sendRawTransaction").await
        );
    }

    // Through the full node: a validator relays the request to the leader; the full node checks
    // the answer (a validator's keys) and answers for it afterwards.
    wait_for_height(&full, 2, "the full node to follow").await;
    let via_full = preconfirm(&full.client(), raw_transfer(2, 5, to, 1)).await;
    let keys = serde_json::to_value(via_full.issuer.chainspec_keys()).expect("json");
    assert!(listed.contains(&keys), "signed by a validator");
    assert!(
        knows(&full.client(), via_full.tx_hash).await,
        "the full node knows the transaction it had preconfirmed"
    );
    let fetched: Option<SignedPreconfirmation> = full
        .client()
        .request("hb_getPreconfirmation", rpc_params![via_full.tx_hash])
        .await
        .expect("get");
    assert_eq!(fetched.as_ref(), Some(&via_full));
    let status = settled(&full.client(), via_full.tx_hash).await;
    assert!(status == "soft" || status == "firm", "{status}");

    // SIGKILL the issuer as soon as it answers: the promise is kept (it proposed in time) or,
    // once another validator seals the block, reported violated with a proof; never left open.
    let mut nodes: Vec<Option<NodeProcess>> = nodes.into_iter().map(Some).collect();
    let preconf = preconfirm(&node(&nodes, 0).client(), raw_transfer(1, 5, to, 1)).await;
    let keys = serde_json::to_value(preconf.issuer.chainspec_keys()).expect("json");
    let issuer = listed
        .iter()
        .position(|k| *k == keys)
        .expect("a validator issued it");
    nodes[issuer] = None;
    if issuer == 0 {
        // The wallet's node was the issuer: its answer survives the restart.
        nodes[0] = Some(start_validator_with(
            dir.path(),
            0,
            &spec,
            &validators[0],
            &da,
            &follower_flags,
        ));
    }
    let client = node(&nodes, 0).client();
    let status = settled(&client, preconf.tx_hash).await;
    assert!(
        ["soft", "firm", "violated"].contains(&status.as_str()),
        "issuer {issuer} killed: {status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_da_poster_dies_a_standby_posts_and_blocks_keep_becoming_firm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network(dir.path(), 4);
    let da = DaServer::start(dir.path());
    // Above the DA block time plus a poll of the namespace, so that validator 2 finds validator
    // 1's blobs before its own turn (twice the delay) comes.
    let extra = ["--da.failover-delay", "4s"];
    let mut nodes: Vec<Option<NodeProcess>> = validators
        .iter()
        .enumerate()
        .map(|(i, v)| Some(start_validator_with(dir.path(), i, &spec, v, &da, &extra)))
        .collect();
    eventually("validator 1 to find blocks firm", || async {
        (finalized_number(node(&nodes, 1)).await >= 3).then_some(())
    })
    .await;

    // SIGKILL validator 0, the poster. Validator 1 posts after 4 s, the others after 8 s and
    // 12 s unless they find its blobs; either way blocks keep becoming firm on every survivor.
    nodes[0] = None;
    let at_kill = block_number(node(&nodes, 1)).await;
    for i in 1..4 {
        let what = format!("finalized on validator {i} to pass {at_kill} without the poster");
        eventually(&what, || async {
            (finalized_number(node(&nodes, i)).await > at_kill + 20).then_some(())
        })
        .await;
    }
    // Nothing is missing on DA, and the blocks after the kill are there once: validators 2
    // and 3 took validator 1's blobs instead of posting their own.
    let firm = finalized_number(node(&nodes, 3)).await;
    let copies = blocks_on_da(&da, &spec).await;
    for number in 1..=firm {
        assert!(copies.contains_key(&number), "block {number} is not on DA");
    }
    let reposted: Vec<u64> = (at_kill + 10..=firm)
        .filter(|n| copies.get(n) != Some(&1))
        .collect();
    assert!(
        reposted.is_empty(),
        "blocks posted more than once: {reposted:?}"
    );
}

async fn finalized_number(node: &NodeProcess) -> u64 {
    let block: Option<Block> = node
        .client()
        .request("eth_getBlockByNumber", rpc_params!["finalized", false])
        .await
        .expect("eth_getBlockByNumber");
    block.map_or(0, |b| b.header.number)
}

/// How many blobs on `da` hold each block of the chain, by block number.
async fn blocks_on_da(da: &DaServer, spec: &str) -> std::collections::BTreeMap<u64, usize> {
    use celestia_rpc::prelude::*;
    let spec = hauptbuch_reth::chainspec::ChainSpec::from_arg(spec).expect("chainspec");
    let namespace = hauptbuch_reth::derive::namespace(&spec).expect("namespace");
    let token = std::fs::read_to_string(&da.token).expect("token");
    let client = celestia_rpc::Client::new(&da.url, Some(token.trim()), None, None)
        .await
        .expect("DA client");
    let head = client
        .header_network_head()
        .await
        .expect("DA head")
        .height();
    let mut copies = std::collections::BTreeMap::new();
    for height in 1..=head {
        let blobs = client
            .blob_get_all(height, &[namespace])
            .await
            .expect("blob.GetAll")
            .unwrap_or_default();
        for blob in blobs {
            let header = hauptbuch_exex::celestia::decode_blob(&blob.data)
                .expect("decodes")
                .header;
            for number in header.first_block..=header.last_block {
                *copies.entry(number).or_default() += 1;
            }
        }
    }
    copies
}

#[test]
fn a_validator_without_a_quorum_says_what_to_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network(dir.path(), 2);
    let port = validators[0].1.to_string();
    // Validator 1 never starts (down or unreachable): no quorum, no block.
    let child = Command::new(binary())
        .args([
            "node",
            "--chain",
            &spec,
            "--validator.key",
            &validators[0].0,
        ])
        .args(["--p2p.addr", "127.0.0.1", "--p2p.port", &port, "--datadir"])
        .arg(dir.path().join("node0"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start validator");
    let line = stall_warning(child, "no block finalized");
    for expected in [
        "2 of 2 validators",
        "same chainspec",
        "genesis 0x",
        "127.0.0.1:",
    ] {
        assert!(line.contains(expected), "`{expected}` missing: {line}");
    }
}

#[test]
fn startup_errors_name_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network(dir.path(), 2);
    let datadir = dir.path().join("data");
    let datadir = datadir.to_str().expect("utf-8");
    let start_with_key = |key: &str| {
        let (ok, _, stderr) = run(&[
            "node",
            "--chain",
            &spec,
            "--datadir",
            datadir,
            "--validator.key",
            key,
        ]);
        (ok, stderr)
    };

    // A missing key file.
    let (ok, stderr) = start_with_key("/nonexistent/key");
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/key"), "{stderr}");

    // A key that is not in the validator set.
    let stranger = dir.path().join("stranger.key");
    let stranger = stranger.to_str().expect("utf-8");
    assert!(run(&["keygen", "--output", stranger]).0);
    let (ok, stderr) = start_with_key(stranger);
    assert!(!ok);
    assert!(
        stderr.contains("not in the chainspec's validator set"),
        "{stderr}"
    );

    // A file that is not a key.
    std::fs::write(dir.path().join("junk.key"), "hello").expect("write");
    let junk = dir.path().join("junk.key");
    let (ok, stderr) = start_with_key(junk.to_str().expect("utf-8"));
    assert!(!ok);
    assert!(
        stderr.contains("junk.key") && stderr.contains("not hex"),
        "{stderr}"
    );

    // keygen never overwrites a key.
    let (ok, _, stderr) = run(&["keygen", "--output", stranger]);
    assert!(!ok);
    assert!(stderr.contains("stranger.key"), "{stderr}");

    // A validator's key given as a full node's p2p key.
    let (ok, _, stderr) = run(&[
        "node",
        "--chain",
        &spec,
        "--datadir",
        datadir,
        "--p2p.key",
        &validators[0].0,
    ]);
    assert!(!ok);
    assert!(stderr.contains("is a validator's key"), "{stderr}");

    // A malformed validator entry.
    let (ok, _, stderr) = run(&["dump-genesis", "--validator", "0x1234@127.0.0.1:1"]);
    assert!(!ok);
    assert!(stderr.contains("not an ed25519 public key"), "{stderr}");
}

#[test]
fn a_validator_without_its_listed_preconfirmation_keys_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network_with(dir.path(), 2, true);
    let datadir = dir.path().join("node0");
    let key_file = datadir.join("preconf.key");
    let start = || {
        let (ok, _, stderr) = run(&[
            "node",
            "--chain",
            &spec,
            "--datadir",
            datadir.to_str().expect("utf-8"),
            "--validator.key",
            &validators[0].0,
        ]);
        (ok, stderr)
    };
    // Another key than the chainspec lists: both are named.
    std::fs::remove_file(&key_file).expect("remove");
    let key = key_file.to_str().expect("utf-8");
    assert!(run(&["keygen", "--preconf", "--output", key]).0);
    let (ok, stderr) = start();
    assert!(!ok);
    assert!(
        stderr.contains("is not the one the chainspec lists") && stderr.contains("preconf.key"),
        "{stderr}"
    );
    // No key file: not created behind the operator's back, the path is named.
    std::fs::remove_file(&key_file).expect("remove");
    let (ok, stderr) = start();
    assert!(!ok);
    assert!(stderr.contains("preconf.key"), "{stderr}");
    assert!(
        !key_file.exists(),
        "no key is generated for a listed validator"
    );
}

#[test]
fn validators_on_different_chainspecs_fail_at_startup_naming_the_difference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network(dir.path(), 2);
    // The same validators, another chain id (one operator edited the file).
    let other_spec = with_chain_id(dir.path(), &spec, 4_242);
    let chain_id = |path: &str| -> u64 {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
        json["config"]["chainId"].as_u64().expect("chain id")
    };
    let ours = chain_id(&spec);

    let start = |i: usize, spec: &Path| {
        let (key, port) = &validators[i];
        let log = std::fs::File::create(dir.path().join(format!("node{i}.log"))).expect("log");
        Command::new(binary())
            .args(["node", "--chain"])
            .arg(spec)
            .args(["--validator.key", key, "--p2p.addr", "127.0.0.1"])
            .args(["--p2p.port", &port.to_string(), "--datadir"])
            .arg(dir.path().join(format!("node{i}")))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start validator")
    };
    let nodes = [start(0, Path::new(&spec)), start(1, &other_spec)];
    // With two validators (f = 0) one disagreeing peer is enough: both stop, each naming the
    // other's chain id and its own.
    for (i, node) in nodes.into_iter().enumerate() {
        let exited = exit_within(node, std::time::Duration::from_secs(60));
        let stderr =
            std::fs::read_to_string(dir.path().join(format!("node{i}.log"))).expect("read log");
        assert!(
            exited.is_some_and(|status| !status.success()),
            "node {i}: {exited:?}: {stderr}"
        );
        let (theirs, mine) = if i == 0 { (4_242, ours) } else { (ours, 4_242) };
        for expected in [
            "chainspec mismatch".to_string(),
            format!("chain id {theirs} (this node: {mine})"),
            consensus_key(&validators[1 - i].0),
        ] {
            assert!(
                stderr.contains(&expected),
                "node {i}: `{expected}` missing: {stderr}"
            );
        }
    }
}

#[test]
fn a_full_node_on_another_chainspec_fails_at_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network(dir.path(), 2);
    let other_spec = with_chain_id(dir.path(), &spec, 4_242);
    let (follower_key, follower_port, followers) = follower(dir.path());
    let (follower_key, follower_port) = (follower_key.as_str(), follower_port.to_string());
    let da = DaServer::start(dir.path());
    let _validators: Vec<NodeProcess> = (0..2)
        .map(|i| {
            start_validator_with(
                dir.path(),
                i,
                &spec,
                &validators[i],
                &da,
                &["--p2p.followers", followers.as_str()],
            )
        })
        .collect();
    let log = std::fs::File::create(dir.path().join("follower.log")).expect("log");
    let follower = Command::new(binary())
        .args(["node", "--chain"])
        .arg(&other_spec)
        .args(["--p2p.key", follower_key, "--p2p.addr", "127.0.0.1"])
        .args(["--p2p.port", &follower_port, "--datadir"])
        .arg(dir.path().join("follower"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start follower");
    let exited = exit_within(follower, std::time::Duration::from_secs(60));
    let stderr = std::fs::read_to_string(dir.path().join("follower.log")).expect("read log");
    assert!(
        exited.is_some_and(|status| !status.success()),
        "{exited:?}: {stderr}"
    );
    assert!(
        stderr.contains("chainspec mismatch") && stderr.contains("(this node: 4242)"),
        "{stderr}"
    );
}

#[test]
fn a_full_node_the_validators_do_not_list_says_what_to_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, validators) = network(dir.path(), 2);
    let (follower_key, follower_port, _) = follower(dir.path());
    let da = DaServer::start(dir.path());
    // The validators run without `--p2p.followers`: the full node is refused.
    let _validators: Vec<NodeProcess> = (0..2)
        .map(|i| start_validator_with(dir.path(), i, &spec, &validators[i], &da, &[]))
        .collect();
    let child = Command::new(binary())
        .args(["node", "--chain", &spec, "--p2p.key", &follower_key])
        .args([
            "--p2p.addr",
            "127.0.0.1",
            "--p2p.port",
            &follower_port.to_string(),
        ])
        .arg("--datadir")
        .arg(dir.path().join("follower"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start follower");
    let line = stall_warning(child, "no block for");
    let entry = format!("--p2p.followers {}@", consensus_key(&follower_key));
    assert!(line.contains(&entry), "`{entry}` missing: {line}");
}

/// The first line of `child`'s stderr containing `needle` (a stall warning), within 90 s;
/// `child` is killed either way.
fn stall_warning(mut child: std::process::Child, needle: &'static str) -> String {
    use std::io::BufRead as _;
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(needle) {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(90));
    let _ = child.kill();
    let _ = child.wait();
    line.expect("a stall warning within 90 s")
}

/// A copy of chainspec `spec` with another chain id (an operator's edit), written under `dir`.
fn with_chain_id(dir: &Path, spec: &str, chain_id: u64) -> std::path::PathBuf {
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(spec).expect("read chainspec"))
            .expect("chainspec json");
    other["config"]["chainId"] = chain_id.into();
    let path = dir.join(format!("chain-{chain_id}.json"));
    std::fs::write(&path, other.to_string()).expect("write chainspec");
    path
}

/// A full node's p2p key under `dir`: (key file, p2p port, its `--p2p.followers` entry).
fn follower(dir: &Path) -> (String, u16, String) {
    let key = dir.join("follower.key");
    let key = key.to_str().expect("utf-8").to_string();
    let (ok, public, stderr) = run(&["keygen", "--output", &key]);
    assert!(ok, "keygen failed: {stderr}");
    let port = free_port();
    let entry = format!("{}@127.0.0.1:{port}", public.trim());
    (key, port, entry)
}

/// The exit status of `child` if it exits within `timeout` (it is killed otherwise).
fn exit_within(
    mut child: std::process::Child,
    timeout: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let started = std::time::Instant::now();
    while started.elapsed() < timeout {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The public key (0x hex) of a key file, as `keygen` printed it.
fn consensus_key(path: &str) -> String {
    let key = hauptbuch_reth::consensus::read_key(Path::new(path)).expect("key");
    hauptbuch_reth::consensus::public_key_hex(&key)
}

/// Whether `client`'s node knows transaction `hash` (pooled or mined).
async fn knows(client: &jsonrpsee::http_client::HttpClient, hash: B256) -> bool {
    client
        .request::<Option<serde_json::Value>, _>("eth_getTransactionByHash", rpc_params![hash])
        .await
        .expect("eth_getTransactionByHash")
        .is_some()
}
