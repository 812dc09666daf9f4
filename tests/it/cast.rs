//! Foundry's `cast` (a real wallet-side client, installed from npm by `.ci/run`) against a
//! `--dev` node: chain id, a value transfer that waits for its receipt, balances, a contract
//! deployment, revert reasons decoded from `eth_call`, and a contract's logs read back.

use crate::{
    logs::{emitter_initcode, topic},
    node::NodeProcess,
};
use std::{path::PathBuf, process::Command};

/// Initcode of a contract whose every call reverts with `Error("nope")`.
const REVERTER_INITCODE: &str = "0x6070600c60003960706000f36064600c60003960646000fd08c379a0000000000000000000000000000000000000000000000000000000000000002000000000000000000000000000000000000000000000000000000000000000046e6f706500000000000000000000000000000000000000000000000000000000";
/// Dev account 0 (public test key).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn cast_binary() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("node_modules/@foundry-rs/cast-linux-amd64/bin/cast");
    path.exists().then_some(path)
}

fn cast(binary: &PathBuf, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary).args(args).output().expect("run cast");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
        String::from_utf8_lossy(&output.stderr).trim().to_string(),
    )
}

/// `cast send --rpc-url <rpc> --private-key KEY <args> --json`, which must succeed: the receipt.
fn cast_send(binary: &PathBuf, rpc: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["send", "--rpc-url", rpc, "--private-key", KEY];
    all.extend_from_slice(args);
    all.push("--json");
    let (ok, out, err) = cast(binary, &all);
    assert!(ok, "cast send {args:?} failed: {err}");
    serde_json::from_str(&out).expect("receipt json")
}

/// The address a `cast send --create` receipt names.
fn created(receipt: &serde_json::Value) -> String {
    receipt["contractAddress"]
        .as_str()
        .expect("contract address")
        .to_string()
}

#[test]
fn cast_sends_deploys_and_reads_revert_reasons() {
    let Some(binary) = cast_binary() else {
        // CI installs it (`npm ci`); on a developer machine without npm the test says so.
        assert!(
            std::env::var_os("CI").is_none(),
            "cast is missing: run `npm ci` first"
        );
        println!("SKIP cast test: run `npm ci` to install cast");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "100ms"]);
    let rpc = node.http.as_str();

    let (ok, out, err) = cast(&binary, &["chain-id", "--rpc-url", rpc]);
    assert!(ok, "{err}");
    assert_eq!(out, "31337420");

    let to = "0x000000000000000000000000000000000000bEEF";
    let receipt = cast_send(&binary, rpc, &[to, "--value", "1ether"]);
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let (ok, out, err) = cast(&binary, &["balance", "--rpc-url", rpc, to]);
    assert!(ok, "{err}");
    assert_eq!(out, "1000000000000000000");

    let contract = created(&cast_send(&binary, rpc, &["--create", REVERTER_INITCODE]));
    let (ok, code, err) = cast(&binary, &["code", "--rpc-url", rpc, &contract]);
    assert!(ok && code.len() > 2, "{err}");

    let (ok, _, err) = cast(&binary, &["call", "--rpc-url", rpc, &contract, "0x"]);
    assert!(!ok, "the call must revert");
    assert!(err.contains("nope"), "revert reason not decoded: {err}");
    let (ok, _, err) = cast(&binary, &["estimate", "--rpc-url", rpc, &contract, "0x"]);
    assert!(
        !ok && err.contains("nope"),
        "estimate must revert with the reason: {err}"
    );

    // A contract that logs its calldata: deploy, call it, and read the log back with `cast logs`.
    let initcode = emitter_initcode().to_string();
    let emitter = created(&cast_send(&binary, rpc, &["--create", &initcode]));
    let receipt = cast_send(&binary, rpc, &[&emitter, "0xc0ffee"]);
    let topic = topic().to_string();
    let (ok, out, err) = cast(
        &binary,
        &[
            "logs",
            "--rpc-url",
            rpc,
            "--from-block",
            "0",
            "--address",
            &emitter,
            &topic,
            "--json",
        ],
    );
    assert!(ok, "cast logs failed: {err}");
    let logs: Vec<serde_json::Value> = serde_json::from_str(&out).expect("logs json");
    assert_eq!(logs.len(), 1, "{out}");
    assert_eq!(logs[0]["data"], "0xc0ffee");
    assert_eq!(logs[0]["transactionHash"], receipt["transactionHash"]);
    assert_eq!(logs[0]["topics"][0], topic.as_str());
    node.terminate();
}
