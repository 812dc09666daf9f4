//! Withdrawal and witness benchmark.
//!
//! 1. Withdrawal-proof latency with N withdrawals recorded (`HB_BENCH_WITHDRAWALS`, default
//!    1,000,000): N `sentMessages` slots are seeded into the message passer's storage, one block
//!    records its storage root, 20 later state updates add 1,000 withdrawals each (recording the
//!    trie's node history, as blocks do), then the work of `hb_getWithdrawalProof` at the first
//!    block is timed: the output root lookup and the storage proof walked through the history.
//! 2. Execution witness of a block of 5,000 transfers on a state of 10,000 accounts: time to
//!    build it (`hb_getExecutionWitness`), its size as JSON, and the time of the stateless
//!    re-execution from it.
//!
//! Run with `cargo bench --bench withdrawals`.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use hauptbuch_reth::{
    chainspec::ChainSpec,
    engine::{Engine, hashed_post_state},
    execution::{BlockAttributes, build_block},
    storage::{Database, StateChangeset},
    withdrawals::{MESSAGE_PASSER_ADDRESS, output, sent_message_slot, stateless, witness},
};
use revm::{
    database::{OriginalValuesKnown, states::PlainStorageChangeset},
    state::AccountInfo,
};
use std::{sync::Arc, time::Instant};

/// Slots written per seeding transaction.
const SEED_CHUNK: usize = 100_000;

fn main() {
    let withdrawals: usize = std::env::var("HB_BENCH_WITHDRAWALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    proof_latency(withdrawals);
    witness_of_transfers(10_000, 5_000, 500);
}

fn fresh_engine() -> (tempfile::TempDir, Arc<Database>, Engine, Arc<ChainSpec>) {
    let spec = ChainSpec::from_arg("devnet").expect("devnet chainspec");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Database::open(dir.path()).expect("database"));
    let engine = Engine::new(spec.clone(), db.clone());
    engine.init_genesis().expect("genesis");
    (dir, db, engine, spec)
}

fn withdrawal_hash(i: usize) -> B256 {
    keccak256((i as u64).to_be_bytes())
}

fn proof_latency(withdrawals: usize) {
    let (_dir, db, engine, _spec) = fresh_engine();
    let started = Instant::now();
    let mut seeded = 0;
    while seeded < withdrawals {
        let end = (seeded + SEED_CHUNK).min(withdrawals);
        let changes = StateChangeset {
            storage: vec![PlainStorageChangeset {
                address: MESSAGE_PASSER_ADDRESS,
                wipe_storage: false,
                storage: (seeded..end)
                    .map(|i| {
                        let slot = sent_message_slot(withdrawal_hash(i));
                        (U256::from_be_bytes(slot.0), U256::from(1))
                    })
                    .collect(),
            }],
            ..Default::default()
        };
        let writer = db.writer().expect("writer");
        writer.write_state(&changes, None).expect("seed state");
        writer
            .write_trie(&hashed_post_state(&changes), None)
            .expect("seed trie");
        writer.commit().expect("commit seed");
        seeded = end;
    }
    // One block on top records the message passer's storage root from the trie.
    let attributes = BlockAttributes {
        timestamp: 1,
        gas_limit: 30_000_000,
        parent_beacon_block_root: Some(B256::ZERO),
        ..Default::default()
    };
    engine
        .build_and_commit(attributes, Vec::new())
        .expect("block 1");
    // Later blocks add withdrawals, so the proof at block 1 has to read the trie's node history.
    for block in 2..22u64 {
        let first = withdrawals + (block as usize - 2) * 1_000;
        let changes = StateChangeset {
            storage: vec![PlainStorageChangeset {
                address: MESSAGE_PASSER_ADDRESS,
                wipe_storage: false,
                storage: (first..first + 1_000)
                    .map(|i| {
                        let slot = sent_message_slot(withdrawal_hash(i));
                        (U256::from_be_bytes(slot.0), U256::from(1))
                    })
                    .collect(),
            }],
            ..Default::default()
        };
        let writer = db.writer().expect("writer");
        writer.write_state(&changes, Some(block)).expect("state");
        writer
            .write_trie(&hashed_post_state(&changes), Some(block))
            .expect("trie");
        writer.commit().expect("commit");
    }
    println!(
        "seeded {withdrawals} withdrawals (+20,000 in 20 later updates) in {:?}",
        started.elapsed()
    );

    let provider = db.provider().expect("provider");
    let mut samples = Vec::new();
    for i in 0..5 {
        let started = Instant::now();
        let out = output::block_output(&provider, 1).expect("output");
        let lookup = started.elapsed();
        let (value, proof) = output::message_passer_proof(
            &provider,
            &out,
            sent_message_slot(withdrawal_hash(i * 7919)),
        )
        .expect("proof");
        let total = started.elapsed();
        assert_eq!(value, U256::from(1));
        assert!(!proof.is_empty());
        samples.push((lookup, total - lookup, total));
    }
    samples.sort_by_key(|s| s.2);
    let (lookup, proof, total) = samples[samples.len() / 2];
    println!(
        "withdrawal proof with {withdrawals} withdrawals: total {total:?} (output root lookup {lookup:?}, storage proof through the node history {proof:?})"
    );
}

fn witness_of_transfers(accounts: usize, transfers: usize, senders: usize) {
    let (_dir, db, _engine, spec) = fresh_engine();
    let signers: Vec<PrivateKeySigner> = (0..senders)
        .map(|i| {
            let mut key = [0u8; 32];
            key[24..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            PrivateKeySigner::from_bytes(&key.into()).expect("key")
        })
        .collect();
    let funded = |address: Address| {
        (
            address,
            Some(AccountInfo::new(
                U256::from(10u128.pow(24)),
                0,
                alloy_trie::KECCAK_EMPTY,
                Default::default(),
            )),
        )
    };
    let mut changes = StateChangeset {
        accounts: (0..accounts)
            .map(|i| funded(Address::from_word(keccak256(i.to_be_bytes()))))
            .collect(),
        ..Default::default()
    };
    changes
        .accounts
        .extend(signers.iter().map(|s| funded(s.address())));
    let writer = db.writer().expect("writer");
    writer.write_state(&changes, None).expect("seed state");
    writer
        .write_trie(&hashed_post_state(&changes), None)
        .expect("seed trie");
    writer.commit().expect("commit seed");
    // The seed changed genesis' state without a block: record a block 1 on top of it as the
    // parent, built by the node's own builder so its header carries the seeded state root.
    let parent = commit_block(&db, &spec, Vec::new());
    assert_eq!(parent, 1);

    let per_sender = transfers / senders;
    let mut txs = Vec::with_capacity(transfers);
    for k in 0..per_sender {
        for (i, signer) in signers.iter().enumerate() {
            let tx = TxEip1559 {
                chain_id: spec.chain_id,
                nonce: k as u64,
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::from_word(keccak256(
                    ((k * senders + i) % accounts).to_be_bytes(),
                ))),
                value: U256::from(1),
                ..Default::default()
            };
            let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
            txs.push(Recovered::new_unchecked(
                TxEnvelope::from(tx.into_signed(signature)),
                signer.address(),
            ));
        }
    }
    let number = commit_block(&db, &spec, txs);

    let provider = db.provider().expect("provider");
    let started = Instant::now();
    let witness = witness::execution_witness(&spec, &provider, number).expect("witness");
    let build = started.elapsed();
    let json = serde_json::to_vec(&witness).expect("json");
    let hash = provider
        .canonical_hash(number)
        .expect("read")
        .expect("hash");
    let block = alloy_consensus::Block {
        header: provider.header(hash).expect("read").expect("header"),
        body: provider.body(hash).expect("read").expect("body"),
    };
    let started = Instant::now();
    let outcome = stateless::execute_stateless(&spec, &block, &witness).expect("stateless");
    let execute = started.elapsed();
    assert_eq!(outcome.state_root, block.header.state_root);
    println!(
        "witness of {} transfers on {accounts} accounts: {} trie nodes, {} codes, {} headers, {} KiB as JSON; built in {build:?}; stateless re-execution {execute:?}",
        block.body.transactions.len(),
        witness.state.len(),
        witness.codes.len(),
        witness.headers.len(),
        json.len() / 1024,
    );
}

/// Builds a block on the head with the node's builder (gas limit raised for big blocks) and
/// commits it like the engine does (state with history, trie, block, head). Returns its number.
fn commit_block(db: &Database, spec: &ChainSpec, txs: Vec<Recovered<TxEnvelope>>) -> u64 {
    let provider = db.provider().expect("provider");
    let head = provider.head().expect("read").expect("head");
    let head_hash = head.hash_slow();
    let count = txs.len();
    let attributes = BlockAttributes {
        timestamp: head.timestamp + 1,
        gas_limit: 200_000_000,
        parent_beacon_block_root: Some(B256::ZERO),
        ..Default::default()
    };
    let mut built = build_block(
        spec,
        provider.state().expect("state"),
        &head,
        head_hash,
        attributes,
        txs,
    )
    .expect("build");
    assert_eq!(
        built.body.transactions.len(),
        count,
        "{:?}",
        built.rejected.first()
    );
    drop(provider);
    let changes = built
        .outcome
        .bundle
        .to_plain_state(OriginalValuesKnown::Yes);
    let writer = db.writer().expect("writer");
    writer
        .write_state(&changes, Some(built.header.number))
        .expect("state");
    built.header.state_root = writer
        .write_trie(&hashed_post_state(&changes), Some(built.header.number))
        .expect("trie");
    let hash = built.header.hash_slow();
    writer
        .write_block(hash, &built.header, &built.body, &built.outcome.receipts)
        .expect("block");
    writer.set_pointer("head", hash).expect("head");
    writer.commit().expect("commit");
    built.header.number
}
