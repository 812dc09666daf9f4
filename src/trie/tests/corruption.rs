//! Corrupt rows are reported as errors naming the table and path, never as panics.

use super::{Rng, TestDb};
use crate::trie::{
    CorruptionKind, HashedPostState, TrieError, account_proof, apply_changes, tables,
};
use alloy_primitives::{Address, keccak256};
use redb::{ReadableDatabase, ReadableTable};

/// A database with a few hundred accounts, plus the address of one of them.
fn setup() -> (TestDb, Address) {
    let mut rng = Rng::new(3);
    let addresses: Vec<Address> = (0..300)
        .map(|_| Address::from_slice(&rng.b256()[..20]))
        .collect();
    let changes = HashedPostState {
        accounts: addresses
            .iter()
            .map(|a| (keccak256(a), Some(rng.account())))
            .collect(),
        storages: Default::default(),
    };
    let db = TestDb::new();
    db.apply(&changes);
    (db, addresses[0])
}

/// Overwrites the account-trie row at the first-level child on `address`'s path.
fn overwrite_child(db: &TestDb, address: Address, value: &[u8]) -> Vec<u8> {
    let path = vec![keccak256(address)[0] >> 4];
    let txn = db.db.begin_write().expect("begin write");
    {
        let mut table = txn.open_table(tables::ACCOUNT_TRIE).expect("open");
        assert!(
            table.get(path.as_slice()).expect("get").is_some(),
            "child row exists"
        );
        table.insert(path.as_slice(), value).expect("insert");
    }
    txn.commit().expect("commit");
    path
}

fn update(address: Address) -> HashedPostState {
    HashedPostState {
        accounts: [(keccak256(address), Some(Default::default()))].into(),
        storages: Default::default(),
    }
}

#[test]
fn undecodable_node_is_an_error() {
    let (db, address) = setup();
    overwrite_child(&db, address, &[0xde, 0xad]);
    let txn = db.db.begin_write().expect("begin write");
    let err = apply_changes(&txn, &update(address)).expect_err("corrupt node");
    let TrieError::CorruptNode { table, path, kind } = &err else {
        panic!("{err}")
    };
    assert_eq!(*table, "account_trie");
    assert_eq!(*path, format!("0x{:x}", keccak256(address)[0] >> 4));
    assert!(matches!(kind, CorruptionKind::Undecodable(_)), "{kind}");
    assert!(err.to_string().contains("account_trie"), "{err}");
    txn.abort().expect("abort");

    let txn = db.db.begin_read().expect("begin read");
    assert!(matches!(
        account_proof(&txn, address, &[]),
        Err(TrieError::CorruptNode {
            kind: CorruptionKind::Undecodable(_),
            ..
        })
    ));
}

#[test]
fn node_not_matching_its_parent_is_an_error() {
    let (db, address) = setup();
    // A leaf that fits the position (63 nibbles below depth 1), but not the node the root
    // references.
    let leaf =
        alloy_trie::nodes::LeafNode::new(alloy_trie::Nibbles::from_nibbles([0u8; 63]), vec![1]);
    let mut rlp = Vec::new();
    alloy_rlp::Encodable::encode(&leaf, &mut rlp);
    overwrite_child(&db, address, &rlp);
    let txn = db.db.begin_write().expect("begin write");
    let err = apply_changes(&txn, &update(address)).expect_err("corrupt node");
    assert!(
        matches!(
            err,
            TrieError::CorruptNode {
                kind: CorruptionKind::ReferenceMismatch,
                ..
            }
        ),
        "{err}"
    );
    txn.abort().expect("abort");

    let txn = db.db.begin_read().expect("begin read");
    assert!(matches!(
        account_proof(&txn, address, &[]),
        Err(TrieError::CorruptNode {
            kind: CorruptionKind::ReferenceMismatch,
            ..
        })
    ));
}
