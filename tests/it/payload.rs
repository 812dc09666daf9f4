//! The engine's payload interface: building executes without committing; importing commits,
//! from the kept results for the engine's own payload and by full execution for anyone else's.

use crate::common::{DEV_KEYS, temp_engine, transfer};
use alloy_primitives::Address;
use hauptbuch_reth::{chainspec::ChainSpec, execution::BlockAttributes};

#[test]
fn a_built_payload_changes_nothing_until_imported_and_imports_identically_elsewhere() {
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let (_a_dir, proposer) = temp_engine(spec.clone());
    let (_b_dir, follower) = temp_engine(spec.clone());
    proposer.init_genesis().expect("genesis");
    follower.init_genesis().expect("genesis");

    let signer = DEV_KEYS[0].parse().expect("key");
    let recipient = Address::repeat_byte(0x77);
    let txs = (0..3).map(|nonce| transfer(&signer, spec.chain_id, nonce, recipient, 10));
    let attributes = BlockAttributes {
        timestamp: 12,
        gas_limit: spec.genesis_header.gas_limit,
        ..Default::default()
    };
    let genesis = proposer.head().expect("head").hash();
    let payload = proposer.build_payload(attributes, txs).expect("build");
    assert_eq!(payload.block.body.transactions.len(), 3);
    assert_eq!(
        proposer.head().expect("head").hash(),
        genesis,
        "building commits nothing"
    );
    let balance = |engine: &hauptbuch_reth::engine::Engine| {
        engine
            .db()
            .provider()
            .expect("provider")
            .account(recipient)
            .expect("read")
            .map(|a| a.balance)
    };
    assert_eq!(balance(&proposer), None);

    // Another node executes and verifies the block in full.
    let summary = follower
        .import_payload(payload.block.clone())
        .expect("follower imports");
    assert_eq!(summary.hash, payload.hash);
    // The proposer commits its own execution results.
    let summary = proposer
        .import_payload(payload.block.clone())
        .expect("proposer imports");
    assert_eq!(summary.hash, payload.hash);
    assert_eq!(balance(&proposer), balance(&follower));
    assert_eq!(balance(&proposer).map(|b| b.to::<u64>()), Some(30));

    // A tampered payload is rejected by full execution, and nothing moves.
    let mut tampered = payload.block;
    tampered.header.number += 1;
    tampered.header.parent_hash = payload.hash;
    assert!(follower.import_payload(tampered).is_err());
    assert_eq!(follower.head().expect("head").hash(), payload.hash);
}

/// Consensus votes on blocks whose parents are not committed yet: blocks build and validate on
/// pending parents (state read through the pending changes, roots computed on top of them), a
/// tampered child is refused, and committing the pending chain in order gives the same state on
/// the proposer and on the validator.
#[test]
fn blocks_build_and_validate_on_pending_parents() {
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let (_a_dir, proposer) = temp_engine(spec.clone());
    let (_b_dir, validator) = temp_engine(spec.clone());
    proposer.init_genesis().expect("genesis");
    validator.init_genesis().expect("genesis");
    let signer = DEV_KEYS[0].parse().expect("key");
    let recipient = Address::repeat_byte(0x55);
    let attributes = |timestamp| BlockAttributes {
        timestamp,
        gas_limit: spec.genesis_header.gas_limit,
        ..Default::default()
    };

    let genesis = proposer.head().expect("head").hash();
    let first = proposer
        .build_payload_on(
            genesis,
            attributes(10),
            (0..2).map(|n| transfer(&signer, spec.chain_id, n, recipient, 1)),
        )
        .expect("build block 1");
    // Block 2 spends nonces 2.. on top of uncommitted block 1.
    let second = proposer
        .build_payload_on(
            first.hash,
            attributes(11),
            (2..4).map(|n| transfer(&signer, spec.chain_id, n, recipient, 1)),
        )
        .expect("build block 2 on pending block 1");
    assert!(second.rejected.is_empty(), "{:?}", second.rejected);
    assert_eq!(proposer.head().expect("head").hash(), genesis);
    assert_eq!(proposer.pending_len(), 2);

    // The validator checks both before either is committed; a child of an unknown parent and a
    // child with a wrong state root are refused.
    assert!(matches!(
        validator.validate_payload(&second.block),
        Err(hauptbuch_reth::engine::EngineError::UnknownParent(_))
    ));
    validator
        .validate_payload(&first.block)
        .expect("block 1 valid");
    let mut tampered = second.block.clone();
    tampered.header.state_root = alloy_primitives::B256::repeat_byte(1);
    assert!(validator.validate_payload(&tampered).is_err());
    validator
        .validate_payload(&second.block)
        .expect("block 2 valid on pending block 1");

    // Finalization commits them in order, from the pending results, on both engines.
    for engine in [&proposer, &validator] {
        engine
            .import_payload(first.block.clone())
            .expect("commit 1");
        engine
            .import_payload(second.block.clone())
            .expect("commit 2");
        assert_eq!(engine.head().expect("head").hash(), second.hash);
        assert_eq!(engine.pending_len(), 0, "committed blocks leave the tree");
        let balance = engine
            .db()
            .provider()
            .expect("provider")
            .account(recipient)
            .expect("read")
            .map(|a| a.balance.to::<u64>());
        assert_eq!(balance, Some(4));
    }
}

#[test]
fn a_finalized_update_racing_block_commits_never_moves_safe_back() {
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let (_dir, engine) = temp_engine(spec.clone());
    engine.init_genesis().expect("genesis");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // What the DA ExEx does: move `finalized` up to blocks already committed, in a loop.
    let finalizer = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let safe = engine.forkchoice().expect("forkchoice").safe;
                let _ = engine.update_forkchoice(None, Some(safe.hash));
            }
        })
    };
    // What the finalizer does: commit blocks, each moving head and safe.
    for n in 1..=200u64 {
        let attributes = BlockAttributes {
            timestamp: 12 + n,
            gas_limit: spec.genesis_header.gas_limit,
            ..Default::default()
        };
        let payload = engine.build_payload(attributes, []).expect("build");
        engine
            .import_finalized(payload.block, None)
            .expect("commit");
        let forkchoice = engine.forkchoice().expect("forkchoice");
        assert_eq!(
            forkchoice.safe.number, n,
            "safe moved back under block {n} (head {})",
            forkchoice.head.number
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    finalizer.join().expect("finalizer thread");
}
