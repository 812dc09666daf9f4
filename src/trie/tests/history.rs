//! Node history of tracked storage tries: a proof at any past block verifies against that block's
//! storage root and proves the value the slot had then.

use super::{Model, Rng, TestDb};
use crate::trie::{
    HashedPostState, HashedStorage, TrieError, TrieHistory, apply_changes_with_history,
    compute_updates, storage_proof_at, write_updates,
};
use alloy_primitives::{B256, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, proof::verify_proof};
use redb::ReadableDatabase;
use std::collections::BTreeMap;

const BLOCKS: u64 = 40;

/// Per block: the tracked account's storage root and its slots (by hashed slot) after the block.
type Snapshots = Vec<(B256, BTreeMap<B256, U256>)>;

fn snapshot(model: &Model, hashed_address: &B256) -> (B256, BTreeMap<B256, U256>) {
    let slots = model
        .accounts
        .get(hashed_address)
        .map(|(_, slots)| slots.clone())
        .unwrap_or_default();
    (Model::storage_root(&slots), slots)
}

/// Random storage churn on a tracked and an untracked account over [`BLOCKS`] blocks, with the
/// tracked account destroyed (block 20), re-created (21) and its storage wiped (25). Blocks are
/// applied directly, or `via_updates` computed ahead on a snapshot and then written, as pending
/// blocks are. Returns the database, the tracked account's snapshots and the untracked one's
/// genesis storage root.
fn run(
    tracked: B256,
    untracked: B256,
    slots: &[B256],
    via_updates: bool,
) -> (TestDb, Snapshots, B256) {
    let mut rng = Rng::new(7);
    let db = TestDb::new();
    let mut model = Model::default();
    let mut genesis = HashedPostState::default();
    for owner in [tracked, untracked] {
        genesis.accounts.insert(owner, Some(rng.account()));
        let storage: &mut HashedStorage = genesis.storages.entry(owner).or_default();
        for slot in &slots[..20] {
            storage.slots.insert(keccak256(slot), rng.value());
        }
    }
    model.apply(&genesis);
    assert_eq!(db.apply(&genesis), model.root());
    let mut snapshots = vec![snapshot(&model, &tracked)];
    let untracked_genesis_root = snapshot(&model, &untracked).0;

    for block in 1..=BLOCKS {
        let mut changes = HashedPostState::default();
        match block {
            20 => {
                changes.accounts.insert(tracked, None);
            }
            21 => {
                changes.accounts.insert(tracked, Some(rng.account()));
            }
            _ => {
                for owner in [tracked, untracked] {
                    let storage: &mut HashedStorage = changes.storages.entry(owner).or_default();
                    storage.wiped = block == 25 && owner == tracked;
                    for _ in 0..1 + rng.below(12) {
                        let slot = keccak256(slots[rng.below(slots.len())]);
                        let value = if rng.below(3) == 0 {
                            U256::ZERO
                        } else {
                            rng.value()
                        };
                        storage.slots.insert(slot, value);
                    }
                }
            }
        }
        model.apply(&changes);
        let history = TrieHistory {
            block,
            storage_tries: &[tracked],
        };
        let root = if via_updates {
            let read = db.db.begin_read().expect("begin read");
            let updates = compute_updates(&read, &[], &changes).expect("compute");
            let txn = db.db.begin_write().expect("begin write");
            let root = write_updates(&txn, &updates, Some(history)).expect("write");
            txn.commit().expect("commit");
            assert_eq!(root, updates.root());
            root
        } else {
            let txn = db.db.begin_write().expect("begin write");
            let root = apply_changes_with_history(&txn, &changes, Some(history)).expect("apply");
            txn.commit().expect("commit");
            root
        };
        assert_eq!(root, model.root(), "state root after block {block}");
        snapshots.push(snapshot(&model, &tracked));
    }
    (db, snapshots, untracked_genesis_root)
}

#[test]
fn proofs_at_every_past_block() {
    proofs_at_every_past_block_with(false);
}

#[test]
fn proofs_at_every_past_block_via_pending_updates() {
    proofs_at_every_past_block_with(true);
}

fn proofs_at_every_past_block_with(via_updates: bool) {
    let (tracked, untracked) = (keccak256([1u8; 20]), keccak256([2u8; 20]));
    let slots: Vec<B256> = (0..64u8).map(B256::with_last_byte).collect();
    let (db, snapshots, _) = run(tracked, untracked, &slots, via_updates);
    let txn = db.db.begin_read().expect("begin read");
    let mut non_empty = 0;
    for (block, (root, values)) in (0..).zip(&snapshots) {
        for slot in &slots {
            let hashed_slot = keccak256(slot);
            let (value, proof) =
                storage_proof_at(&txn, &tracked, *slot, block, *root).expect("proof");
            let expected = values.get(&hashed_slot).copied().unwrap_or_default();
            assert_eq!(value, expected, "slot {slot} at block {block}");
            let leaf = (!expected.is_zero()).then(|| alloy_rlp::encode(expected));
            non_empty += usize::from(leaf.is_some());
            if *root == EMPTY_ROOT_HASH {
                assert!(proof.is_empty(), "empty trie at block {block}");
            } else {
                verify_proof(*root, Nibbles::unpack(hashed_slot), leaf, &proof)
                    .unwrap_or_else(|e| panic!("slot {slot} at block {block}: {e}"));
            }
        }
    }
    assert!(non_empty > 500, "the test proves present slots too");
    assert!(
        snapshots.iter().any(|(root, _)| *root == EMPTY_ROOT_HASH),
        "the test covers a destroyed account"
    );
}

#[test]
fn untracked_trie_is_refused_not_misproven() {
    let (tracked, untracked) = (keccak256([1u8; 20]), keccak256([2u8; 20]));
    let slots: Vec<B256> = (0..64u8).map(B256::with_last_byte).collect();
    let (db, _, genesis_root) = run(tracked, untracked, &slots, false);
    let txn = db.db.begin_read().expect("begin read");
    // The untracked account's storage changed since genesis and there is no history to rebuild
    // it: the walk must notice rather than prove the current trie.
    let err = storage_proof_at(&txn, &untracked, slots[0], 0, genesis_root)
        .expect_err("no history for an untracked trie");
    assert!(matches!(err, TrieError::CorruptNode { .. }), "{err}");
}
