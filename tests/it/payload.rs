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
