//! Cost: a small update touches only the nodes on the changed paths.

use super::{Model, Rng, TestDb};
use crate::trie::{HashedPostState, HashedStorage, account_proof};
use alloy_primitives::{Address, B256, U256, keccak256};
use redb::ReadableDatabase;

const ACCOUNTS: usize = 5_000;

/// Nodes on the path to `address` (all of them are hashed in a trie of random keys, so the
/// proof lists every one).
fn path_len(db: &TestDb, address: Address) -> usize {
    let txn = db.db.begin_read().expect("begin read");
    account_proof(&txn, address, &[])
        .expect("proof")
        .account_proof
        .len()
}

fn setup() -> (TestDb, Model, Vec<Address>) {
    let mut rng = Rng::new(5);
    let addresses: Vec<Address> = (0..ACCOUNTS)
        .map(|_| Address::from_slice(&rng.b256()[..20]))
        .collect();
    let mut genesis = HashedPostState::default();
    for address in &addresses {
        genesis
            .accounts
            .insert(keccak256(address), Some(rng.account()));
    }
    // The first account has a large storage trie.
    let slots = (0..3_000).map(|i| (keccak256(B256::from(U256::from(i))), U256::from(i + 1)));
    genesis.storages.insert(
        keccak256(addresses[0]),
        HashedStorage {
            wiped: false,
            slots: slots.collect(),
        },
    );
    let mut model = Model::default();
    model.apply(&genesis);
    let db = TestDb::new();
    assert_eq!(db.apply(&genesis), model.root());
    (db, model, addresses)
}

#[test]
fn updating_one_account_touches_only_its_path() {
    let (db, mut model, addresses) = setup();
    let mut rng = Rng::new(6);
    let address = addresses[17];
    let depth = path_len(&db, address);
    assert!(
        (3..=6).contains(&depth),
        "depth {depth} for {ACCOUNTS} random keys"
    );

    let changes = HashedPostState {
        accounts: [(keccak256(address), Some(rng.account()))].into(),
        storages: Default::default(),
    };
    model.apply(&changes);
    let (root, stats) = db.apply_with_stats(&changes);
    assert_eq!(root, model.root());
    assert_eq!(stats.reads, depth, "reads: exactly the nodes on the path");
    assert_eq!(stats.writes, depth, "writes: exactly the nodes on the path");
    assert_eq!(stats.deletes, 0);
}

#[test]
fn creating_and_deleting_an_account_touch_only_its_path() {
    let (db, mut model, addresses) = setup();
    let mut rng = Rng::new(8);
    let new = Address::repeat_byte(0x77);
    let created = HashedPostState {
        accounts: [(keccak256(new), Some(rng.account()))].into(),
        storages: Default::default(),
    };
    model.apply(&created);
    let (root, stats) = db.apply_with_stats(&created);
    assert_eq!(root, model.root());
    let depth = path_len(&db, new);
    // The old leaf at the insertion point is re-written one level deeper.
    assert!(
        stats.reads < depth,
        "reads {} for depth {depth}",
        stats.reads
    );
    assert!(
        stats.writes <= depth + 1,
        "writes {} for depth {depth}",
        stats.writes
    );

    let victim = addresses[1234];
    let depth = path_len(&db, victim);
    let deleted = HashedPostState {
        accounts: [(keccak256(victim), None)].into(),
        storages: Default::default(),
    };
    model.apply(&deleted);
    let (root, stats) = db.apply_with_stats(&deleted);
    assert_eq!(root, model.root());
    // At most one sibling is loaded when the leaf's branch collapses.
    assert!(
        stats.reads <= depth + 1,
        "reads {} for depth {depth}",
        stats.reads
    );
    assert!(
        stats.writes < depth,
        "writes {} for depth {depth}",
        stats.writes
    );
    assert!(stats.deletes <= 2, "deletes {}", stats.deletes);
}

#[test]
fn updating_one_slot_touches_only_its_paths() {
    let (db, mut model, addresses) = setup();
    let owner = addresses[0];
    let slot = B256::from(U256::from(1234));
    let txn = db.db.begin_read().expect("begin read");
    let proof = account_proof(&txn, owner, &[slot]).expect("proof");
    drop(txn);
    let depth = proof.account_proof.len() + proof.storage_proofs[0].proof.len();

    let changes = HashedPostState {
        accounts: Default::default(),
        storages: [(
            keccak256(owner),
            HashedStorage {
                wiped: false,
                slots: [(keccak256(slot), U256::from(99))].into(),
            },
        )]
        .into(),
    };
    model.apply(&changes);
    let (root, stats) = db.apply_with_stats(&changes);
    assert_eq!(root, model.root());
    assert!(
        stats.reads <= depth,
        "reads {} for {depth} path nodes",
        stats.reads
    );
    assert!(
        stats.writes <= depth,
        "writes {} for {depth} path nodes",
        stats.writes
    );
    assert_eq!(stats.deletes, 0);
}
