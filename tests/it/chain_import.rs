//! Importing the execution-apis test chain (54 blocks: proof-of-work blocks with rewards and
//! uncles, the merge, then Shanghai, Cancun, Prague, Osaka and BPO forks), through the library
//! and through the `import` CLI, plus the rejection of bad input.

use crate::common::{binary, fixture, temp_engine};
use alloy_primitives::{Address, B256, U256};
use hauptbuch_reth::{chainspec::ChainSpec, import::import_blocks};
use std::{collections::BTreeMap, process::Command, str::FromStr};

const HEAD_HASH: &str = "0xd226371d0b1551adb03fb52b71f08e3e11247fe9b1af994768af8cdaa8e7dcd7";
const HEAD_STATE_ROOT: &str = "0x6da8f636cdc85dbe8c1b5299e5db22f462c041febaf3b78cac1040152ee30b3b";

fn spec() -> std::sync::Arc<ChainSpec> {
    let path = fixture("execution-apis/genesis.json");
    ChainSpec::from_arg(path.to_str().expect("utf-8 path")).expect("genesis parses")
}

fn chain_rlp() -> Vec<u8> {
    std::fs::read(fixture("execution-apis/chain.rlp")).expect("chain.rlp")
}

#[derive(serde::Deserialize)]
struct HeadState {
    accounts: BTreeMap<Address, HeadAccount>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeadAccount {
    balance: String,
    nonce: u64,
    code_hash: B256,
}

#[test]
fn execution_apis_chain_imports_to_the_expected_head_and_state() {
    let (_dir, engine) = temp_engine(spec());
    engine.init_genesis().expect("genesis");
    let stats = import_blocks(&engine, &chain_rlp()).expect("chain imports");
    assert_eq!((stats.blocks, stats.imported), (54, 54));

    let head = engine.head().expect("head");
    assert_eq!(head.number, 54);
    assert_eq!(head.hash(), B256::from_str(HEAD_HASH).expect("hash"));
    assert_eq!(
        head.state_root,
        B256::from_str(HEAD_STATE_ROOT).expect("root")
    );

    // Every account of the reference state matches ours.
    let text = std::fs::read_to_string(fixture("execution-apis/headstate.json")).expect("read");
    let reference: HeadState = serde_json::from_str(&text).expect("headstate parses");
    let provider = engine.db().provider().expect("provider");
    let ours = provider.accounts().expect("accounts");
    assert_eq!(ours.len(), reference.accounts.len(), "account count");
    for (address, expected) in &reference.accounts {
        let account = provider
            .account(*address)
            .expect("read")
            .expect("account exists");
        assert_eq!(
            account.balance,
            U256::from_str(&expected.balance).expect("balance")
        );
        assert_eq!(account.nonce, expected.nonce, "{address} nonce");
        assert_eq!(account.code_hash, expected.code_hash, "{address} code");
    }

    // Importing the same file again is a no-op that keeps the head.
    let again = import_blocks(&engine, &chain_rlp()).expect("re-import");
    assert_eq!((again.imported, again.skipped), (0, 54));
    assert_eq!(engine.head().expect("head").hash(), head.hash());
}

#[test]
fn truncated_or_garbage_rlp_is_rejected_and_the_database_is_unchanged() {
    let (_dir, engine) = temp_engine(spec());
    let genesis = engine.init_genesis().expect("genesis");
    let data = chain_rlp();

    let truncated = &data[..data.len() - 10];
    let err = import_blocks(&engine, truncated).expect_err("truncated file");
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_eq!(engine.head().expect("head").hash(), genesis);

    let mut garbage = data.clone();
    garbage.extend_from_slice(b"not rlp at all");
    let err = import_blocks(&engine, &garbage).expect_err("garbage tail");
    assert!(
        err.to_string().contains("invalid RLP at byte offset"),
        "{err}"
    );
    assert_eq!(engine.head().expect("head").hash(), genesis);
}

/// Re-encodes the first block of the chain with one header field changed.
fn first_block_with(change: impl FnOnce(&mut alloy_consensus::Header)) -> Vec<u8> {
    use alloy_rlp::Decodable;
    let data = chain_rlp();
    let range = hauptbuch_reth::import::split_rlp_items(&data).expect("split")[0].clone();
    let mut block =
        alloy_consensus::Block::<alloy_consensus::TxEnvelope>::decode(&mut &data[range])
            .expect("decode");
    change(&mut block.header);
    alloy_rlp::encode(&block)
}

#[test]
fn a_block_with_a_wrong_state_root_receipts_root_or_gas_used_is_rejected_by_name() {
    let (_dir, engine) = temp_engine(spec());
    let genesis = engine.init_genesis().expect("genesis");

    let bad_root = first_block_with(|h| h.state_root = B256::repeat_byte(0x11));
    let err = import_blocks(&engine, &bad_root).expect_err("wrong state root");
    assert!(format!("{err:#}").contains("stateRoot mismatch"), "{err:#}");
    assert_eq!(engine.head().expect("head").hash(), genesis);

    // Block 1 is pre-Byzantium: its receipts root commits to per-transaction state roots,
    // which import recomputes and checks.
    let bad_receipts = first_block_with(|h| h.receipts_root = B256::repeat_byte(0x22));
    let err = import_blocks(&engine, &bad_receipts).expect_err("wrong receipts root");
    assert!(
        format!("{err:#}").contains("receiptsRoot mismatch"),
        "{err:#}"
    );
    assert_eq!(engine.head().expect("head").hash(), genesis);

    let bad_gas = first_block_with(|h| h.gas_used += 1);
    let err = import_blocks(&engine, &bad_gas).expect_err("wrong gas used");
    assert!(format!("{err:#}").contains("gasUsed mismatch"), "{err:#}");
    assert_eq!(engine.head().expect("head").hash(), genesis);
    let provider = engine.db().provider().expect("provider");
    assert_eq!(
        provider.canonical_hash(1).expect("read"),
        None,
        "nothing written at height 1"
    );
}

#[test]
fn cli_init_import_and_db_stats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = fixture("execution-apis/genesis.json");
    let datadir = dir.path().join("data");
    let run = |args: &[&str]| {
        let output = Command::new(binary())
            .args(args)
            .output()
            .expect("run binary");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let chain = genesis.to_str().expect("utf-8");
    let data = datadir.to_str().expect("utf-8");
    let (ok, out, err) = run(&["init", "--chain", chain, "--datadir", data]);
    assert!(ok, "init failed: {err}");
    assert!(out.contains("0x44fd89d504659cd58f48f4796b77a7e7012cf296a2409afa2f6c3cb99b5b3d99"));

    let rlp = fixture("execution-apis/chain.rlp");
    let (ok, out, err) = run(&[
        "import",
        "--chain",
        chain,
        "--datadir",
        data,
        rlp.to_str().expect("utf-8"),
    ]);
    assert!(ok, "import failed: {err}");
    assert!(out.contains(&format!("54 {HEAD_HASH}")), "{out}");

    let (ok, out, err) = run(&["db", "--chain", chain, "--datadir", data, "stats"]);
    assert!(ok, "db stats failed: {err}");
    assert!(
        out.contains("accounts") && out.contains(&format!("head       54 {HEAD_HASH}")),
        "{out}"
    );

    // A datadir of one chain refuses another chain's genesis.
    let (ok, _, err) = run(&["init", "--chain", "devnet", "--datadir", data]);
    assert!(!ok && err.contains("genesis"), "{err}");
}

#[test]
fn a_genesis_with_a_bad_field_is_rejected_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("genesis.json");
    let text = std::fs::read_to_string(fixture("execution-apis/genesis.json")).expect("read");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("json");
    value["config"]["londonBlock"] = serde_json::json!("soon");
    std::fs::write(&path, value.to_string()).expect("write");
    let output = Command::new(binary())
        .args([
            "init",
            "--chain",
            path.to_str().expect("utf-8"),
            "--datadir",
        ])
        .arg(dir.path().join("data"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("config.londonBlock"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created for a bad chainspec"
    );
}

#[test]
fn historical_state_matches_a_chain_imported_only_up_to_that_block() {
    use revm::DatabaseRef;
    let data = chain_rlp();
    let items = hauptbuch_reth::import::split_rlp_items(&data).expect("split");
    let (_full_dir, full) = temp_engine(spec());
    full.init_genesis().expect("genesis");
    import_blocks(&full, &data).expect("full import");
    let full_provider = full.db().provider().expect("provider");
    let all_accounts = full_provider.accounts().expect("accounts");

    for height in [0usize, 10, 30, 45, 53] {
        let (_dir, partial) = temp_engine(spec());
        partial.init_genesis().expect("genesis");
        let prefix = items
            .get(height.wrapping_sub(1))
            .map_or(0, |range| range.end);
        import_blocks(&partial, &data[..prefix]).expect("partial import");
        let expected = partial.db().provider().expect("provider");
        let historical = full_provider
            .state_at(height as u64)
            .expect("state at height");
        for (address, _) in &all_accounts {
            let want = expected.account(*address).expect("read");
            let got = historical.account(*address).expect("read");
            assert_eq!(got, want, "account {address} at block {height}");
            for (slot, _) in full_provider.storage_slots(*address).expect("slots") {
                let want = expected.storage(*address, slot).expect("read");
                let got = historical.storage_ref(*address, slot).expect("read");
                assert_eq!(got, want, "slot {slot} of {address} at block {height}");
            }
        }
        for (address, _) in expected.accounts().expect("accounts") {
            for (slot, value) in expected.storage_slots(address).expect("slots") {
                assert_eq!(historical.storage_ref(address, slot).expect("read"), value);
            }
        }
    }
}
