//! Runs Ethereum's BlockchainTests (ethereum/tests and EEST fixtures in
//! `tests/fixtures/blockchain-tests`) through the engine: build `pre`, check the genesis, import
//! every block (rejecting those marked `expectException` without moving the head), then compare
//! `lastblockhash` and the full `postState`.

use crate::common::{fixture, temp_engine};
use alloy_consensus::{Block, Header, TxEnvelope};
use alloy_eips::eip7892::BlobScheduleBlobParams;
use alloy_genesis::GenesisAccount;
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork as F, ForkCondition};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use hauptbuch_reth::chainspec::ChainSpec;
use serde::Deserialize;
use std::{collections::BTreeMap, path::Path, sync::Arc};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fixture {
    network: String,
    #[serde(rename = "genesisRLP")]
    genesis_rlp: Bytes,
    genesis_block_header: GenesisHeaderJson,
    pre: BTreeMap<Address, AccountJson>,
    blocks: Vec<BlockJson>,
    lastblockhash: B256,
    post_state: Option<BTreeMap<Address, AccountJson>>,
    #[serde(default)]
    config: Option<ConfigJson>,
}

#[derive(Debug, Deserialize)]
struct GenesisHeaderJson {
    hash: B256,
}

#[derive(Debug, Deserialize)]
struct ConfigJson {
    chainid: Option<U256>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockJson {
    rlp: Bytes,
    expect_exception: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AccountJson {
    nonce: U256,
    balance: U256,
    code: Bytes,
    storage: BTreeMap<U256, U256>,
}

/// Fork schedule for a fixture `network`.
fn hardforks(network: &str) -> Option<EthereumChainHardforks> {
    let order = [
        F::Frontier,
        F::Homestead,
        F::Tangerine,
        F::SpuriousDragon,
        F::Byzantium,
        F::Constantinople,
        F::Petersburg,
        F::Istanbul,
        F::Berlin,
        F::London,
        F::Paris,
        F::Shanghai,
        F::Cancun,
        F::Prague,
        F::Osaka,
    ];
    let (last, transition) = match network {
        "Frontier" => (F::Frontier, None),
        "Homestead" => (F::Homestead, None),
        "Byzantium" => (F::Byzantium, None),
        "ConstantinopleFix" => (F::Petersburg, None),
        "Istanbul" => (F::Istanbul, None),
        "Berlin" => (F::Berlin, None),
        "London" => (F::London, None),
        "Paris" => (F::Paris, None),
        "Shanghai" => (F::Shanghai, None),
        "Cancun" => (F::Cancun, None),
        "Prague" => (F::Prague, None),
        "Osaka" => (F::Osaka, None),
        "ShanghaiToCancunAtTime15k" => (F::Shanghai, Some(F::Cancun)),
        "CancunToPragueAtTime15k" => (F::Cancun, Some(F::Prague)),
        _ => return None,
    };
    let mut forks = Vec::new();
    for fork in order {
        let condition = match fork {
            F::Paris => ForkCondition::TTD {
                activation_block_number: 0,
                fork_block: None,
                total_difficulty: U256::ZERO,
            },
            F::Shanghai | F::Cancun | F::Prague | F::Osaka => ForkCondition::Timestamp(0),
            _ => ForkCondition::Block(0),
        };
        forks.push((fork, condition));
        if fork == last {
            break;
        }
    }
    if let Some(next) = transition {
        forks.push((next, ForkCondition::Timestamp(15_000)));
    }
    Some(EthereumChainHardforks::new(forks))
}

fn to_genesis_account(account: &AccountJson) -> GenesisAccount {
    GenesisAccount {
        nonce: Some(account.nonce.to::<u64>()),
        balance: account.balance,
        code: (!account.code.is_empty()).then(|| account.code.clone()),
        storage: Some(
            account
                .storage
                .iter()
                .map(|(k, v)| (B256::from(*k), B256::from(*v)))
                .collect(),
        ),
        ..Default::default()
    }
}

/// Runs one fixture; `Err` says what went wrong.
fn run_fixture(fixture: &Fixture) -> Result<(), String> {
    let forks = hardforks(&fixture.network)
        .ok_or_else(|| format!("unknown network {}", fixture.network))?;
    let genesis = Block::<TxEnvelope>::decode(&mut fixture.genesis_rlp.as_ref())
        .map_err(|e| format!("genesisRLP does not decode: {e}"))?;
    let genesis_header: Header = genesis.header;
    if genesis_header.hash_slow() != fixture.genesis_block_header.hash {
        return Err("genesis header hash differs from genesisBlockHeader.hash".into());
    }
    let chain_id = fixture
        .config
        .as_ref()
        .and_then(|c| c.chainid)
        .map_or(1, |id| id.to::<u64>());
    let alloc = fixture
        .pre
        .iter()
        .map(|(a, acc)| (*a, to_genesis_account(acc)))
        .collect();
    let spec = ChainSpec::from_parts(
        chain_id,
        forks,
        BlobScheduleBlobParams::mainnet(),
        alloc,
        genesis_header,
    );
    let (_dir, engine) = temp_engine(Arc::new(spec));
    engine.init_genesis().map_err(|e| format!("genesis: {e}"))?;

    for (index, block) in fixture.blocks.iter().enumerate() {
        let head_before = engine.head().map_err(|e| e.to_string())?.hash();
        let mut buf = block.rlp.as_ref();
        let result = match Block::<TxEnvelope>::decode(&mut buf) {
            Ok(_) if !buf.is_empty() => Err("trailing bytes after block RLP".to_string()),
            Ok(decoded) => engine
                .insert_block(decoded)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("RLP: {e}")),
        };
        match (&block.expect_exception, result) {
            (Some(expected), Ok(())) => {
                return Err(format!("block {index} imported but expected {expected}"));
            }
            (Some(_), Err(_)) => {
                let head_after = engine.head().map_err(|e| e.to_string())?.hash();
                if head_after != head_before {
                    return Err(format!("rejected block {index} moved the head"));
                }
            }
            (None, Err(e)) => return Err(format!("block {index} rejected: {e}")),
            (None, Ok(())) => {}
        }
    }

    let head = engine.head().map_err(|e| e.to_string())?;
    if head.hash() != fixture.lastblockhash {
        return Err(format!(
            "head {} != lastblockhash {}",
            head.hash(),
            fixture.lastblockhash
        ));
    }
    if let Some(post) = &fixture.post_state {
        compare_post_state(&engine, post)?;
    }
    Ok(())
}

fn compare_post_state(
    engine: &hauptbuch_reth::engine::Engine,
    post: &BTreeMap<Address, AccountJson>,
) -> Result<(), String> {
    let provider = engine.db().provider().map_err(|e| e.to_string())?;
    let accounts = provider.accounts().map_err(|e| e.to_string())?;
    for (address, _) in &accounts {
        if !post.contains_key(address) {
            return Err(format!("account {address} exists but is not in postState"));
        }
    }
    for (address, expected) in post {
        let account = provider
            .account(*address)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("account {address} missing"))?;
        if U256::from(account.nonce) != expected.nonce {
            return Err(format!(
                "{address} nonce {} != {}",
                account.nonce, expected.nonce
            ));
        }
        if account.balance != expected.balance {
            return Err(format!(
                "{address} balance {} != {}",
                account.balance, expected.balance
            ));
        }
        if account.code_hash != keccak256(&expected.code) {
            return Err(format!("{address} code differs"));
        }
        let slots = provider
            .storage_slots(*address)
            .map_err(|e| e.to_string())?;
        let expected_slots: Vec<(U256, U256)> = expected
            .storage
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (*k, *v))
            .collect();
        if slots != expected_slots {
            return Err(format!(
                "{address} storage differs: {slots:?} != {expected_slots:?}"
            ));
        }
    }
    Ok(())
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn blockchain_tests_pass() {
    let root = fixture("blockchain-tests");
    let mut files = Vec::new();
    collect_files(&root, &mut files);
    let (mut passed, mut failed) = (0usize, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read fixture");
        let tests: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&text).expect("fixture json");
        for (name, value) in tests {
            let label = format!(
                "{}::{name}",
                file.strip_prefix(&root).unwrap_or(file).display()
            );
            let outcome = serde_json::from_value::<Fixture>(value)
                .map_err(|e| format!("fixture does not parse: {e}"))
                .and_then(|f| run_fixture(&f));
            match outcome {
                Ok(()) => passed += 1,
                Err(reason) => failed.push((label, reason)),
            }
        }
    }
    for (label, reason) in &failed {
        println!("FAIL {label}: {reason}");
    }
    println!(
        "blockchain tests: {passed} passed, {} failed, 0 skipped",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} blockchain tests failed",
        failed.len()
    );
}
