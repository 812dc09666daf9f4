//! `account_proof` against `alloy_trie::proof::verify_proof` and the HashBuilder's proofs.

use super::{Model, Rng, TestDb};
use crate::trie::{AccountProof, HashedPostState, HashedStorage, account_proof};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{
    EMPTY_ROOT_HASH, HashBuilder, Nibbles,
    proof::{ProofRetainer, verify_proof},
};
use redb::ReadableDatabase;

/// A state of 300 accounts with real addresses; every third has storage (some of it with keys
/// sharing long prefixes).
fn setup() -> (TestDb, Model, Vec<Address>, Vec<B256>) {
    let mut rng = Rng::new(99);
    let addresses: Vec<Address> = (0..300)
        .map(|_| Address::from_slice(&rng.b256()[..20]))
        .collect();
    let slots: Vec<B256> = (0..50).map(B256::with_last_byte).collect();
    let mut changes = HashedPostState::default();
    for (i, address) in addresses.iter().enumerate() {
        let hashed_address = keccak256(address);
        changes.accounts.insert(hashed_address, Some(rng.account()));
        if i % 3 == 0 {
            let storage: &mut HashedStorage = changes.storages.entry(hashed_address).or_default();
            for slot in &slots[..1 + i % 50] {
                storage.slots.insert(keccak256(slot), rng.value());
            }
        }
    }
    let mut model = Model::default();
    model.apply(&changes);
    let db = TestDb::new();
    assert_eq!(db.apply(&changes), model.root());
    (db, model, addresses, slots)
}

fn prove(db: &TestDb, address: Address, slots: &[B256]) -> AccountProof {
    let txn = db.db.begin_read().expect("begin read");
    account_proof(&txn, address, slots).expect("account proof")
}

/// Proof from alloy-trie's HashBuilder + ProofRetainer over all leaves, reduced to geth style.
fn reference_proof(leaves: &[(B256, Vec<u8>)], key: B256) -> Vec<Bytes> {
    let target = Nibbles::unpack(key);
    let mut builder = HashBuilder::default().with_proof_retainer(ProofRetainer::new(vec![target]));
    for (k, v) in leaves {
        builder.add_leaf(Nibbles::unpack(k), v);
    }
    builder.root();
    builder
        .take_proof_nodes()
        .matching_nodes_sorted(&target)
        .into_iter()
        .filter(|(path, node)| path.is_empty() || node.len() >= 32)
        .map(|(_, node)| node)
        .collect()
}

#[test]
fn account_and_storage_proofs_verify() {
    let (db, model, addresses, slots) = setup();
    let root = model.root();
    let account_leaves: Vec<(B256, Vec<u8>)> = model
        .accounts
        .keys()
        .map(|h| {
            (
                *h,
                alloy_rlp::encode(model.trie_account(h).expect("account")),
            )
        })
        .collect();

    let absent = Address::repeat_byte(0x42);
    for address in addresses.iter().step_by(7).chain([&absent]) {
        let hashed_address = keccak256(address);
        let requested = [slots[0], slots[3], slots[49], B256::repeat_byte(0x99)];
        let proof = prove(&db, *address, &requested);
        let expected = model.trie_account(&hashed_address);
        assert_eq!(proof.account, expected);
        assert_eq!(proof.address, *address);

        let key = Nibbles::unpack(hashed_address);
        let value = expected.map(alloy_rlp::encode);
        verify_proof(root, key, value, &proof.account_proof).expect("account proof verifies");
        assert_eq!(
            proof.account_proof,
            reference_proof(&account_leaves, hashed_address)
        );
        assert!(
            proof
                .account_proof
                .iter()
                .skip(1)
                .all(|node| node.len() >= 32),
            "geth style"
        );

        let storage = model.accounts.get(&hashed_address).map(|(_, s)| s.clone());
        let storage = storage.unwrap_or_default();
        let storage_root = expected.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
        let storage_leaves: Vec<(B256, Vec<u8>)> = storage
            .iter()
            .map(|(k, v)| (*k, alloy_rlp::encode(v)))
            .collect();
        assert_eq!(proof.storage_proofs.len(), requested.len());
        for (slot_proof, slot) in proof.storage_proofs.iter().zip(requested) {
            let hashed_slot = keccak256(slot);
            let value = storage.get(&hashed_slot).copied().unwrap_or_default();
            assert_eq!(slot_proof.key, slot);
            assert_eq!(slot_proof.value, value);
            let expected_value = (!value.is_zero()).then(|| alloy_rlp::encode(value));
            verify_proof(
                storage_root,
                Nibbles::unpack(hashed_slot),
                expected_value,
                &slot_proof.proof,
            )
            .expect("storage proof verifies");
            if storage_root != EMPTY_ROOT_HASH {
                assert_eq!(
                    slot_proof.proof,
                    reference_proof(&storage_leaves, hashed_slot)
                );
            }
        }
    }
}

#[test]
fn tampered_proofs_are_rejected() {
    let (db, model, addresses, slots) = setup();
    let root = model.root();
    let address = addresses[0];
    let hashed_address = keccak256(address);
    let proof = prove(&db, address, &slots[..1]);
    let account = proof.account.expect("account exists");
    let key = Nibbles::unpack(hashed_address);
    let value = alloy_rlp::encode(account);
    verify_proof(root, key, Some(value.clone()), &proof.account_proof).expect("genuine proof");

    // A flipped byte in any node breaks the hash chain.
    for index in 0..proof.account_proof.len() {
        let mut tampered = proof.account_proof.clone();
        let mut node = tampered[index].to_vec();
        let last = node.len() - 1;
        node[last] ^= 1;
        tampered[index] = node.into();
        assert!(
            verify_proof(root, key, Some(value.clone()), &tampered).is_err(),
            "node {index}"
        );
    }
    // A different value, a claimed absence, a truncated proof and a wrong root are rejected.
    let mut richer = account;
    richer.balance += U256::from(1);
    assert!(
        verify_proof(
            root,
            key,
            Some(alloy_rlp::encode(richer)),
            &proof.account_proof
        )
        .is_err()
    );
    assert!(verify_proof(root, key, None, &proof.account_proof).is_err());
    let truncated = &proof.account_proof[..proof.account_proof.len() - 1];
    assert!(verify_proof(root, key, Some(value.clone()), truncated).is_err());
    assert!(verify_proof(B256::repeat_byte(1), key, Some(value), &proof.account_proof).is_err());

    // Same for a storage proof.
    let slot_proof = &proof.storage_proofs[0];
    let hashed_slot = Nibbles::unpack(keccak256(slots[0]));
    let slot_value = alloy_rlp::encode(slot_proof.value);
    verify_proof(
        account.storage_root,
        hashed_slot,
        Some(slot_value.clone()),
        &slot_proof.proof,
    )
    .expect("genuine storage proof");
    let mut tampered = slot_proof.proof.clone();
    let mut node = tampered[0].to_vec();
    node[1] ^= 0x80;
    tampered[0] = node.into();
    assert!(
        verify_proof(
            account.storage_root,
            hashed_slot,
            Some(slot_value),
            &tampered
        )
        .is_err()
    );
}

#[test]
fn proofs_on_an_empty_database() {
    let db = TestDb::new();
    let proof = prove(&db, Address::ZERO, &[B256::ZERO]);
    assert_eq!(proof.account, None);
    assert!(proof.account_proof.is_empty());
    assert_eq!(proof.storage_proofs[0].value, U256::ZERO);
    assert!(proof.storage_proofs[0].proof.is_empty());
    verify_proof(
        EMPTY_ROOT_HASH,
        Nibbles::unpack(keccak256(Address::ZERO)),
        None,
        &proof.account_proof,
    )
    .expect("exclusion in the empty trie");
}

#[test]
fn inline_nodes_are_embedded_not_listed() {
    // Hashed slots that share 62 nibbles: their leaves have tiny keys and values, so they are
    // shorter than 32 bytes and embedded in their parent branch.
    let owner = B256::repeat_byte(0x33);
    let mut rng = Rng::new(11);
    let mut slots: Vec<(B256, U256)> = (0u8..16)
        .map(|i| {
            let mut key = B256::repeat_byte(0x11);
            key.0[31] = 0x10 | i;
            (key, U256::from(i + 1))
        })
        .collect();
    slots.extend((0..40).map(|_| (rng.b256(), rng.value())));
    let changes = HashedPostState {
        accounts: [(owner, Some(rng.account()))].into(),
        storages: [(
            owner,
            HashedStorage {
                wiped: false,
                slots: slots.iter().copied().collect(),
            },
        )]
        .into(),
    };
    let mut model = Model::default();
    model.apply(&changes);
    let db = TestDb::new();
    assert_eq!(db.apply(&changes), model.root());
    let storage_root = model.trie_account(&owner).expect("account").storage_root;
    let leaves: Vec<(B256, Vec<u8>)> = model.accounts[&owner]
        .1
        .iter()
        .map(|(k, v)| (*k, alloy_rlp::encode(v)))
        .collect();

    let txn = db.db.begin_read().expect("begin read");
    let table = txn
        .open_table(crate::trie::tables::STORAGE_TRIE)
        .expect("table");
    let location = crate::trie::node::TrieLocation::storage(&owner);
    let mut absent = B256::repeat_byte(0x11);
    absent.0[31] = 0x20;
    for (key, value) in slots
        .iter()
        .take(3)
        .map(|(k, v)| (*k, Some(*v)))
        .chain([(absent, None)])
    {
        let (proof, found) =
            crate::trie::proof::prove(&table, location, &key, Some(storage_root)).expect("prove");
        assert_eq!(found, value.map(alloy_rlp::encode));
        verify_proof(storage_root, Nibbles::unpack(key), found, &proof).expect("verifies");
        assert_eq!(proof, reference_proof(&leaves, key));
    }
    // The inline leaf really is there (stored under its own path) but not in the proof.
    let (proof, _) = crate::trie::proof::prove(&table, location, &slots[0].0, Some(storage_root))
        .expect("prove");
    // Keys share 63 nibbles: the branch is at depth 63, the leaf (empty key) at depth 64.
    let leaf = location
        .read(&table, &Nibbles::unpack(slots[0].0))
        .expect("read");
    let leaf = leaf.expect("inline leaf stored under its path");
    assert!(
        leaf.len() < 32,
        "leaf of {} bytes is not inline",
        leaf.len()
    );
    assert!(proof.iter().all(|node| node.as_ref() != leaf.as_slice()));
}
