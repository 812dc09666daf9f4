//! Withdrawals and output roots: the predeployed message passer matches its Solidity source,
//! output roots and storage proofs are right at every block (checked with independent code:
//! `alloy-trie` proof verification and a recomputed output root), and a withdrawal sent with
//! `cast` on a `--dev` node goes initiated → provable → finalizable.

use crate::{
    common::{DEV_KEYS, temp_engine},
    node::NodeProcess,
};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolValue, sol};
use alloy_trie::{Nibbles, proof::verify_proof};
use hauptbuch_reth::{
    chainspec::ChainSpec,
    execution::BlockAttributes,
    withdrawals::{
        MESSAGE_PASSER_ADDRESS, RESOURCE_NOT_FOUND, RESOURCE_UNAVAILABLE, index, output,
        rpc::{WithdrawalsApiServer, WithdrawalsRpc},
    },
};
use jsonrpsee::{core::client::ClientT, rpc_params};
use serde_json::Value;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

sol! {
    function initiateWithdrawal(address _target, uint256 _gasLimit, bytes _data) payable;
    function burn();
}

/// The L1 target of the test withdrawals.
const TARGET: Address = address!("0x000000000000000000000000000000000000bEEF");
/// Version bits of the message nonce (MESSAGE_VERSION = 1 in the top two bytes).
fn versioned_nonce(n: u64) -> U256 {
    (U256::from(1) << 240) | U256::from(n)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `node_modules/<path>` if `npm ci` installed it; otherwise the test skips (CI must have it).
fn npm_tool(path: &str, what: &str) -> Option<PathBuf> {
    let full = repo().join("node_modules").join(path);
    if full.exists() {
        return Some(full);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing: run `npm ci` first"
    );
    println!("SKIP: {what} is not installed; run `npm ci`");
    None
}

/// The withdrawal hash as the contract computes it, from the event fields.
fn withdrawal_hash(
    nonce: U256,
    sender: Address,
    target: Address,
    value: U256,
    gas_limit: U256,
    data: &Bytes,
) -> B256 {
    keccak256((nonce, sender, target, value, gas_limit, data.clone()).abi_encode_params())
}

/// Slot of `sentMessages[hash]` (mapping at slot 0).
fn sent_slot(hash: B256) -> B256 {
    keccak256([hash.as_slice(), &[0u8; 32]].concat())
}

/// `keccak256(version ‖ stateRoot ‖ storageRoot ‖ blockHash)`.
fn output_root(version: B256, state_root: B256, storage_root: B256, block_hash: B256) -> B256 {
    keccak256(
        [
            version.as_slice(),
            state_root.as_slice(),
            storage_root.as_slice(),
            block_hash.as_slice(),
        ]
        .concat(),
    )
}

/// Checks a storage proof of `slot` against `root` with alloy-trie: inclusion of `value`, or
/// exclusion when `value` is zero.
fn check_storage_proof(root: B256, slot: B256, value: U256, proof: &[Bytes]) {
    let expected = (!value.is_zero()).then(|| alloy_rlp::encode(value));
    verify_proof(root, Nibbles::unpack(keccak256(slot)), expected, proof)
        .unwrap_or_else(|e| panic!("proof of {slot} = {value} against {root}: {e}"));
}

#[test]
fn message_passer_bytecode_matches_its_source() {
    let Some(_) = npm_tool("solc", "solc (npm)") else {
        return;
    };
    let out = Command::new("node")
        .arg(repo().join("contracts/build.js"))
        .arg("--print")
        .output()
        .expect("run node contracts/build.js");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let compiled = stdout
        .lines()
        .find_map(|l| l.strip_prefix("L2ToL1MessagePasser "))
        .expect("L2ToL1MessagePasser in the build output");
    let committed =
        std::fs::read_to_string(repo().join("contracts/L2ToL1MessagePasser.bin-runtime"))
            .expect("committed bytecode");
    assert_eq!(
        compiled,
        committed.trim(),
        "contracts/L2ToL1MessagePasser.bin-runtime is stale: run `node contracts/build.js`"
    );
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let predeploy = &spec.alloc[&MESSAGE_PASSER_ADDRESS];
    assert_eq!(
        predeploy.code.as_ref().map(alloy_primitives::hex::encode),
        Some(committed.trim().to_string()),
        "devnet.json predeploys other code at {MESSAGE_PASSER_ADDRESS}"
    );
    assert_eq!(predeploy.nonce, Some(1));
}

fn call(
    signer: &PrivateKeySigner,
    nonce: u64,
    value: u64,
    input: Vec<u8>,
) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id: 31_337_420,
        nonce,
        gas_limit: 300_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(MESSAGE_PASSER_ADDRESS),
        value: U256::from(value),
        input: input.into(),
        ..Default::default()
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Recovered::new_unchecked(
        TxEnvelope::from(tx.into_signed(signature)),
        signer.address(),
    )
}

#[test]
fn output_roots_and_withdrawal_proofs_hold_at_every_block() {
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let (_dir, engine) = temp_engine(spec.clone());
    engine.init_genesis().expect("genesis");
    let signers: Vec<PrivateKeySigner> = DEV_KEYS.iter().map(|k| k.parse().expect("key")).collect();
    let mut nonces = [0u64; 3];
    // (withdrawal hash, block, tx hash) of every withdrawal sent.
    let mut sent: Vec<(B256, u64, B256)> = Vec::new();
    // Output roots as computed when each block was the head (checked against the trie then).
    let mut roots = BTreeMap::new();
    let mut message_nonce = 0u64;
    for number in 1..=5u64 {
        let mut txs = Vec::new();
        for who in 0..(number as usize % 3 + 1) {
            let data = Bytes::from(vec![number as u8; who * 40]);
            let gas_limit = U256::from(50_000 + number);
            let input = initiateWithdrawalCall {
                _target: TARGET,
                _gasLimit: gas_limit,
                _data: data.clone(),
            }
            .abi_encode();
            let value = 1_000 * number + who as u64;
            let tx = call(&signers[who], nonces[who], value, input);
            nonces[who] += 1;
            let hash = withdrawal_hash(
                versioned_nonce(message_nonce),
                signers[who].address(),
                TARGET,
                U256::from(value),
                gas_limit,
                &data,
            );
            message_nonce += 1;
            sent.push((hash, number, *tx.tx_hash()));
            txs.push(tx);
        }
        if number == 4 {
            // burn() self-destructs a Burner holding the passer's balance; storage is untouched.
            txs.push(call(&signers[2], nonces[2], 0, burnCall {}.abi_encode()));
            nonces[2] += 1;
        }
        let attributes = BlockAttributes {
            timestamp: number * 2,
            gas_limit: spec.genesis_header.gas_limit,
            parent_beacon_block_root: Some(B256::ZERO),
            ..Default::default()
        };
        let (_, built) = engine.build_and_commit(attributes, txs).expect("block");
        assert!(built.rejected.is_empty(), "{:?}", built.rejected);
        let provider = engine.db().provider().expect("provider");
        // At the head: the recorded root is the trie's, and matches an independent rebuild from
        // the plain state.
        let out = output::block_output(&provider, number).expect("output at head");
        let trie = hauptbuch_reth::trie::account_proof(provider.txn(), MESSAGE_PASSER_ADDRESS, &[])
            .expect("account proof")
            .account
            .expect("predeploy exists");
        let oracle = alloy_trie::root::storage_root_unhashed(
            provider
                .storage_slots(MESSAGE_PASSER_ADDRESS)
                .expect("slots")
                .into_iter()
                .map(|(slot, value)| (B256::from(slot), value)),
        );
        assert_eq!(out.preimage.message_passer_storage_root, trie.storage_root);
        assert_eq!(trie.storage_root, oracle);
        roots.insert(number, out.preimage);
        if number == 4 {
            let passer = provider
                .account(MESSAGE_PASSER_ADDRESS)
                .expect("read")
                .expect("exists");
            assert_eq!(passer.balance, U256::ZERO, "burn() left a balance");
        }
    }

    let provider = engine.db().provider().expect("provider");
    for (number, preimage) in &roots {
        let out = output::block_output(&provider, *number).expect("historical output");
        let storage = output::message_passer_storage(&provider, &out).expect("rebuilt storage");
        assert_eq!(
            &out.preimage, preimage,
            "output of block {number} changed later"
        );
        let header = provider
            .header_by_number(*number)
            .expect("read")
            .expect("header");
        assert_eq!(preimage.state_root, header.state_root);
        assert_eq!(preimage.block_hash, header.hash_slow());
        assert_eq!(
            preimage.output_root(),
            output_root(
                B256::ZERO,
                header.state_root,
                preimage.message_passer_storage_root,
                header.hash_slow()
            )
        );
        for (hash, block, _) in &sent {
            let slot = sent_slot(*hash);
            let (value, proof) = storage.proof(slot);
            let expected = if block <= number {
                U256::from(1)
            } else {
                U256::ZERO
            };
            assert_eq!(value, expected, "sentMessages[{hash}] at block {number}");
            check_storage_proof(preimage.message_passer_storage_root, slot, value, &proof);
        }
    }
    for (hash, block, tx_hash) in &sent {
        let by_hash = index::find(&provider, *hash).expect("indexed");
        assert_eq!(by_hash.location.block, *block);
        assert_eq!(by_hash.tx_hash, *tx_hash);
        assert_eq!(by_hash.message.computed_hash(), *hash);
        let by_tx = index::find(&provider, *tx_hash).expect("found by tx hash");
        assert_eq!(by_tx.message.withdrawal_hash, *hash);
    }
    let head = output::block_output(&provider, 99);
    assert!(head.is_err(), "a block beyond the head has no output");

    // Through the RPC implementation: not firm → -32002; firm → a proof at the firm block.
    let rpc = WithdrawalsRpc::new(engine.clone());
    let (first, _, _) = sent[0];
    let err = rpc
        .get_withdrawal_proof(first)
        .expect_err("genesis is the only firm block");
    assert_eq!(err.code(), RESOURCE_UNAVAILABLE, "{err:?}");
    assert!(err.message().contains("not firm"), "{}", err.message());
    let err = rpc
        .get_withdrawal(B256::repeat_byte(7))
        .expect_err("unknown");
    assert_eq!(err.code(), RESOURCE_NOT_FOUND, "{err:?}");
    let firm = provider.canonical_hash(3).expect("read").expect("block 3");
    engine
        .update_forkchoice(Some(firm), Some(firm))
        .expect("finalize block 3");
    let proof = rpc.get_withdrawal_proof(first).expect("firm now");
    assert_eq!(proof.block_ref.number.to::<u64>(), 3);
    assert_eq!(proof.output_root, roots[&3].output_root());
    let (late, _, _) = *sent.last().expect("sent");
    let err = rpc
        .get_withdrawal_proof(late)
        .expect_err("block 5 is not firm");
    assert_eq!(err.code(), RESOURCE_UNAVAILABLE);
}

/// The devnet chainspec with a short challenge window (in L2 seconds; `--dev.block-time 200ms`
/// advances block timestamps by one second per block).
fn chainspec_with_window(dir: &Path, secs: u64) -> PathBuf {
    let mut genesis: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("chainspec/devnet.json")).expect("devnet.json"),
    )
    .expect("json");
    genesis["hauptbuch"]["challengeWindowSecs"] = secs.into();
    let path = dir.join("genesis.json");
    std::fs::write(&path, genesis.to_string()).expect("write genesis");
    path
}

fn u64_of(value: &Value) -> u64 {
    let hex = value
        .as_str()
        .unwrap_or_else(|| panic!("not a quantity: {value}"));
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex quantity")
}

fn b256_of(value: &Value) -> B256 {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a hash: {value}"))
        .parse()
        .expect("hash")
}

/// Bound for the whole initiated → finalizable walk (firmness plus a 20 s window at 5 blocks/s).
const STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_withdrawal_sent_with_cast_becomes_provable_then_finalizable() {
    let Some(cast) = npm_tool("@foundry-rs/cast-linux-amd64/bin/cast", "cast (npm)") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = chainspec_with_window(dir.path(), 20);
    let chain = chain.to_str().expect("utf-8 path");
    let mut args = crate::node::FAST_DA_DEV_ARGS.to_vec();
    args.extend(["--chain", chain]);
    let node = NodeProcess::start(&dir.path().join("data"), &args);
    let client = node.client();

    let out = Command::new(&cast)
        .args([
            "send",
            "--rpc-url",
            &node.http,
            "--private-key",
            DEV_KEYS[0],
            "--json",
        ])
        .arg(MESSAGE_PASSER_ADDRESS.to_string())
        .args([
            "initiateWithdrawal(address,uint256,bytes)",
            &TARGET.to_string(),
            "100000",
            "0xc0ffee",
        ])
        .args(["--value", "1ether"])
        .output()
        .expect("run cast");
    assert!(
        out.status.success(),
        "cast send: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: Value = serde_json::from_slice(&out.stdout).expect("receipt json");
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let tx_hash = b256_of(&receipt["transactionHash"]);
    let sender: Address = PrivateKeySigner::from_bytes(&DEV_KEYS[0].parse().expect("key"))
        .expect("key")
        .address();
    let expected_hash = withdrawal_hash(
        versioned_nonce(0),
        sender,
        TARGET,
        U256::from(10u64).pow(U256::from(18)),
        U256::from(100_000),
        &Bytes::from_static(&[0xc0, 0xff, 0xee]),
    );

    // Found by transaction hash and by withdrawal hash, with the event's fields.
    let by_tx: Value = client
        .request("hb_getWithdrawal", rpc_params![tx_hash])
        .await
        .expect("by tx");
    assert_eq!(b256_of(&by_tx["withdrawalHash"]), expected_hash, "{by_tx}");
    let withdrawal: Value = client
        .request("hb_getWithdrawal", rpc_params![expected_hash])
        .await
        .expect("by hash");
    assert_eq!(withdrawal, by_tx);
    assert_eq!(withdrawal["data"], "0xc0ffee");
    assert_eq!(
        withdrawal["target"].as_str().map(str::to_lowercase),
        Some(TARGET.to_string().to_lowercase())
    );
    let block = u64_of(&withdrawal["blockNumber"]);

    // Status: initiated → provable → finalizable, never backwards.
    let mut seen: Vec<String> = Vec::new();
    let started = std::time::Instant::now();
    let status = loop {
        let status: Value = client
            .request("hb_withdrawalStatus", rpc_params![expected_hash])
            .await
            .expect("status");
        let phase = status["status"]
            .as_str()
            .expect("status string")
            .to_string();
        if seen.last() != Some(&phase) {
            seen.push(phase.clone());
        }
        match phase.as_str() {
            "initiated" => assert!(u64_of(&status["firmHead"]["number"]) < block, "{status}"),
            "provable" => {
                assert!(u64_of(&status["chainTime"]) < u64_of(&status["finalizableAt"]));
            }
            "finalizable" => break status,
            other => panic!("unknown status {other}"),
        }
        assert!(
            started.elapsed() < STATUS_TIMEOUT,
            "not finalizable in time: {seen:?} {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        u64_of(&status["finalizableAt"]),
        u64_of(&status["initiatedAt"]) + 20,
        "{status}"
    );
    let proof = &status;
    assert!(
        seen.contains(&"provable".to_string()),
        "never provable: {seen:?} {proof}"
    );
    let order = ["initiated", "provable", "finalizable"];
    let ranks: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).expect("known"))
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]),
        "status went backwards: {seen:?}"
    );

    // The proof, verified with independent code.
    let proof: Value = client
        .request("hb_getWithdrawalProof", rpc_params![expected_hash])
        .await
        .expect("proof of a firm withdrawal");
    let proven_at = u64_of(&proof["blockRef"]["number"]);
    assert!(proven_at >= block, "{proof}");
    let finalized: Value = client
        .request(
            "eth_getBlockByNumber",
            rpc_params![format!("{proven_at:#x}"), false],
        )
        .await
        .expect("block");
    let preimage = &proof["outputRootProof"];
    assert_eq!(
        b256_of(&preimage["stateRoot"]),
        b256_of(&finalized["stateRoot"])
    );
    assert_eq!(
        b256_of(&preimage["latestBlockhash"]),
        b256_of(&finalized["hash"])
    );
    assert_eq!(b256_of(&preimage["version"]), B256::ZERO);
    let storage_root = b256_of(&preimage["messagePasserStorageRoot"]);
    let root = output_root(
        B256::ZERO,
        b256_of(&finalized["stateRoot"]),
        storage_root,
        b256_of(&finalized["hash"]),
    );
    assert_eq!(b256_of(&proof["outputRoot"]), root);
    let slot = sent_slot(expected_hash);
    assert_eq!(b256_of(&proof["slot"]), slot);
    let nodes: Vec<Bytes> = serde_json::from_value(proof["storageProof"].clone()).expect("nodes");
    check_storage_proof(storage_root, slot, U256::from(1), &nodes);

    // The same output root from hb_outputAtBlock, which calls the block firm.
    let output: Value = client
        .request("hb_outputAtBlock", rpc_params![format!("{proven_at:#x}")])
        .await
        .expect("output");
    assert_eq!(b256_of(&output["outputRoot"]), root, "{output}");
    assert_eq!(output["status"], "firm");
    assert_eq!(b256_of(&output["withdrawalStorageRoot"]), storage_root);
    node.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn withdrawal_methods_reject_bad_input_with_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "200ms"]);
    let client = node.client();
    let error = |result: Result<Value, jsonrpsee::core::client::Error>| match result {
        Err(jsonrpsee::core::client::Error::Call(e)) => (e.code(), e.message().to_string()),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    };
    let unknown = B256::repeat_byte(0xab);
    for method in [
        "hb_getWithdrawal",
        "hb_getWithdrawalProof",
        "hb_withdrawalStatus",
    ] {
        let (code, message) = error(client.request(method, rpc_params![unknown]).await);
        assert_eq!(code, RESOURCE_NOT_FOUND, "{method}: {message}");
        assert!(message.contains("no withdrawal"), "{method}: {message}");
        let (code, message) = error(client.request(method, rpc_params!["0x1234"]).await);
        assert_eq!(code, -32602, "{method}: {message}");
        let (code, _) = error(client.request(method, rpc_params![]).await);
        assert_eq!(code, -32602, "{method} without params");
    }
    let (code, message) = error(
        client
            .request("hb_outputAtBlock", rpc_params!["0xffffffff"])
            .await,
    );
    assert_eq!(code, RESOURCE_NOT_FOUND, "{message}");
    assert!(message.contains("beyond the head"), "{message}");
    let (code, message) = error(
        client
            .request("hb_outputAtBlock", rpc_params!["soon"])
            .await,
    );
    assert_eq!(code, -32602, "{message}");

    // Execution witnesses: none for genesis, none beyond the head, the shape of alloy's
    // ExecutionWitness otherwise.
    let (code, message) = error(
        client
            .request("hb_getExecutionWitness", rpc_params!["0x0"])
            .await,
    );
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("genesis"), "{message}");
    let (code, message) = error(
        client
            .request("hb_getExecutionWitness", rpc_params!["0xffffffff"])
            .await,
    );
    assert_eq!(code, RESOURCE_NOT_FOUND, "{message}");
    let (code, _) = error(
        client
            .request("hb_getExecutionWitness", rpc_params![[1]])
            .await,
    );
    assert_eq!(code, -32602);
    // Wait for a block above genesis, then ask for the head's witness.
    let started = std::time::Instant::now();
    let witness: Value = loop {
        match client
            .request::<Value, _>("hb_getExecutionWitness", rpc_params!["latest"])
            .await
        {
            Ok(witness) => break witness,
            Err(err) => assert!(
                started.elapsed() < STATUS_TIMEOUT,
                "no witness of the head: {err}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for field in ["state", "codes", "keys", "headers"] {
        assert!(witness[field].is_array(), "{field}: {witness}");
    }
    assert!(!witness["headers"].as_array().expect("headers").is_empty());

    // The genesis output is firm and commits to the empty message passer storage.
    let output: Value = client
        .request("hb_outputAtBlock", rpc_params!["earliest"])
        .await
        .expect("genesis output");
    assert_eq!(output["status"], "firm", "{output}");
    assert_eq!(
        b256_of(&output["withdrawalStorageRoot"]),
        alloy_trie::EMPTY_ROOT_HASH
    );
    let latest: Value = client
        .request("hb_outputAtBlock", rpc_params!["latest"])
        .await
        .expect("latest");
    assert!(
        latest["status"] == "soft" || latest["status"] == "firm",
        "{latest}"
    );
    node.terminate();
}
