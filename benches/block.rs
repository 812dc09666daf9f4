//! Block benchmark: execute, state-root and commit a block of 5,000 ETH transfers on top of a
//! state that already holds 10k, 100k or 1M accounts.
//!
//! Run with `cargo bench --bench block` (or `just bench`). Sizes can be chosen with
//! `HB_BENCH_ACCOUNTS=10000,100000`. Each size seeds a fresh database, then builds `ROUNDS` blocks
//! and prints the median time of each phase. Phases:
//! - execute: EVM execution of the 5,000 transfers (alloy-evm block builder),
//! - state root: the trie update computed on a read snapshot (the node does this while the block
//!   is voted on: `trie::compute_updates`),
//! - commit: the trie rows, plain-state, history, block and receipt writes plus the redb commit
//!   (fsync).

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use hauptbuch_reth::{
    chainspec::ChainSpec,
    engine::{Engine, hashed_post_state},
    execution::{BlockAttributes, build_block},
    storage::{Database, StateChangeset},
    trie,
};
use revm::{database::OriginalValuesKnown, state::AccountInfo};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// Transfers per block.
const TXS_PER_BLOCK: usize = 5_000;
/// Distinct senders (each sends `TXS_PER_BLOCK / SENDERS` transfers per block).
const SENDERS: usize = 500;
/// Blocks measured per state size.
const ROUNDS: usize = 5;
/// Accounts written per seeding transaction.
const SEED_CHUNK: usize = 100_000;

fn main() {
    let sizes: Vec<usize> = std::env::var("HB_BENCH_ACCOUNTS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    println!(
        "{:>10} {:>12} {:>12} {:>12} {:>12}",
        "accounts", "execute", "state root", "commit", "total"
    );
    for size in sizes {
        let [execute, root, commit] = run(size);
        println!(
            "{size:>10} {:>12?} {:>12?} {:>12?} {:>12?}",
            execute,
            root,
            commit,
            execute + root + commit
        );
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Seeds `accounts` accounts plus the senders, then measures `ROUNDS` blocks.
fn run(accounts: usize) -> [Duration; 3] {
    let spec = ChainSpec::from_arg("devnet").expect("devnet chainspec");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Database::open(dir.path()).expect("database"));
    let engine = Engine::new(spec.clone(), db.clone());
    engine.init_genesis().expect("genesis");

    let signers: Vec<PrivateKeySigner> = (0..SENDERS)
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
    let mut seeded = 0;
    let mut first = true;
    while seeded < accounts || first {
        let end = (seeded + SEED_CHUNK).min(accounts);
        let mut changes = StateChangeset {
            accounts: (seeded..end)
                .map(|i| funded(Address::from_word(keccak256(i.to_be_bytes()))))
                .collect(),
            ..Default::default()
        };
        if first {
            changes
                .accounts
                .extend(signers.iter().map(|s| funded(s.address())));
            first = false;
        }
        let writer = db.writer().expect("writer");
        writer.write_state(&changes, None).expect("seed state");
        writer
            .write_trie(&hashed_post_state(&changes), None)
            .expect("seed trie");
        writer.commit().expect("commit seed");
        seeded = end;
    }

    let mut nonce = 0u64;
    let (mut execute, mut root, mut commit) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let head = engine.head().expect("head");
        let transactions = signed_transfers(&signers, spec.chain_id, nonce, accounts, round);
        nonce += (TXS_PER_BLOCK / SENDERS) as u64;

        let started = Instant::now();
        let provider = db.provider().expect("provider");
        let attributes = BlockAttributes {
            timestamp: head.timestamp + 1,
            gas_limit: 200_000_000,
            ..Default::default()
        };
        let mut built = build_block(
            &spec,
            provider.state().expect("state"),
            head.inner(),
            head.hash(),
            attributes,
            transactions,
        )
        .expect("build");
        assert_eq!(
            built.body.transactions.len(),
            TXS_PER_BLOCK,
            "{:?}",
            built.rejected.first()
        );
        drop(provider);
        execute.push(started.elapsed());

        let started = Instant::now();
        let changes = built
            .outcome
            .bundle
            .to_plain_state(OriginalValuesKnown::Yes);
        // As consensus does: the trie update is computed on a read snapshot while the block is
        // voted on, and written verbatim when it is final.
        let provider = db.provider().expect("provider");
        let updates =
            trie::compute_updates(provider.txn(), &[], &hashed_post_state(&changes)).expect("trie");
        drop(provider);
        built.header.state_root = updates.root();
        root.push(started.elapsed());

        let started = Instant::now();
        let writer = db.writer().expect("writer");
        writer
            .write_state(&changes, Some(built.header.number))
            .expect("state");
        writer
            .write_trie_updates(&updates, Some(built.header.number))
            .expect("trie rows");
        let hash = built.header.hash_slow();
        writer
            .write_block(hash, &built.header, &built.body, &built.outcome.receipts)
            .expect("block");
        writer.set_pointer("head", hash).expect("head");
        writer.commit().expect("commit");
        commit.push(started.elapsed());
    }
    [median(execute), median(root), median(commit)]
}

/// `TXS_PER_BLOCK` transfers, `TXS_PER_BLOCK / SENDERS` per sender, to existing accounts.
fn signed_transfers(
    signers: &[PrivateKeySigner],
    chain_id: u64,
    first_nonce: u64,
    accounts: usize,
    round: usize,
) -> Vec<Recovered<TxEnvelope>> {
    let per_sender = TXS_PER_BLOCK / signers.len();
    let mut out = Vec::with_capacity(TXS_PER_BLOCK);
    for k in 0..per_sender {
        for (i, signer) in signers.iter().enumerate() {
            let target = (round * TXS_PER_BLOCK + k * signers.len() + i) % accounts.max(1);
            let tx = TxEip1559 {
                chain_id,
                nonce: first_nonce + k as u64,
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::from_word(keccak256(target.to_be_bytes()))),
                value: U256::from(1),
                ..Default::default()
            };
            let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
            let envelope = TxEnvelope::from(tx.into_signed(signature));
            out.push(Recovered::new_unchecked(envelope, signer.address()));
        }
    }
    out
}
