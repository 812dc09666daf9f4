//! Roots against alloy-trie's one-shot computation over the full expected state.

use super::{Model, Rng, TestDb};
use crate::trie::{HashedAccount, HashedPostState, HashedStorage};
use alloy_primitives::{Address, B256, U256, b256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount, root::state_root_unhashed};

/// Random changes to `model`'s state: new, updated and deleted accounts; set, deleted and wiped
/// slots.
pub(super) fn random_changes(rng: &mut Rng, model: &Model) -> HashedPostState {
    let existing: Vec<B256> = model.accounts.keys().copied().collect();
    let mut changes = HashedPostState::default();
    for _ in 0..1 + rng.below(30) {
        let pick = (!existing.is_empty()).then(|| existing[rng.below(existing.len())]);
        match (rng.below(7), pick) {
            (0 | 1, _) | (_, None) => {
                let hashed_address = rng.key();
                changes.accounts.insert(hashed_address, Some(rng.account()));
                let storage = changes.storages.entry(hashed_address).or_default();
                for _ in 0..rng.below(6) {
                    storage.slots.insert(rng.key(), rng.value());
                }
            }
            (2, Some(h)) => {
                changes.accounts.insert(h, Some(rng.account()));
            }
            (3, Some(h)) => {
                let slots = &model.accounts[&h].1;
                let storage = changes.storages.entry(h).or_default();
                for _ in 0..rng.below(5) {
                    storage.slots.insert(rng.key(), rng.value());
                }
                // Delete some existing slots, sometimes all of them.
                let delete_all = rng.below(4) == 0;
                for slot in slots.keys() {
                    if delete_all || rng.below(3) == 0 {
                        storage.slots.insert(*slot, U256::ZERO);
                    } else if rng.below(3) == 0 {
                        storage.slots.insert(*slot, rng.value());
                    }
                }
            }
            (4, Some(h)) => {
                changes.accounts.insert(h, None);
            }
            (5, Some(h)) => {
                // Selfdestruct and re-create in the same block.
                changes.accounts.insert(h, Some(rng.account()));
                let storage = changes.storages.entry(h).or_default();
                storage.wiped = true;
                for _ in 0..rng.below(4) {
                    storage.slots.insert(rng.key(), rng.value());
                }
            }
            (_, Some(h)) => {
                // Deleting a slot that does not exist and re-setting an unchanged value are no-ops.
                let storage = changes.storages.entry(h).or_default();
                storage.slots.insert(rng.key(), U256::ZERO);
                if let Some((slot, value)) = model.accounts[&h].1.iter().next() {
                    storage.slots.insert(*slot, *value);
                }
            }
        }
    }
    changes
}

/// Deletes every account of the model.
fn delete_everything(model: &Model) -> HashedPostState {
    HashedPostState {
        accounts: model.accounts.keys().map(|h| (*h, None)).collect(),
        storages: Default::default(),
    }
}

/// The stored rows must be exactly those of a trie built from scratch for the same state.
fn assert_canonical(db: &TestDb, model: &Model) {
    let fresh = TestDb::new();
    assert_eq!(fresh.apply(&model.genesis()), model.root());
    let (accounts, storages) = db.all_rows();
    let (fresh_accounts, fresh_storages) = fresh.all_rows();
    assert!(
        accounts == fresh_accounts,
        "account trie rows differ from a fresh build"
    );
    assert!(
        storages == fresh_storages,
        "storage trie rows differ from a fresh build"
    );
}

#[test]
fn random_rounds_match_oracle_and_survive_reopen() {
    let mut rng = Rng::new(0x5eed_1234);
    let mut model = Model::default();
    let mut db = TestDb::new();
    assert_eq!(db.state_root(), EMPTY_ROOT_HASH);

    for round in 0..120 {
        let changes = if round == 60 {
            delete_everything(&model)
        } else {
            random_changes(&mut rng, &model)
        };
        model.apply(&changes);
        let root = db.apply(&changes);
        assert_eq!(root, model.root(), "round {round}");
        assert_eq!(
            db.state_root(),
            root,
            "round {round}: state_root after commit"
        );

        if round == 60 {
            assert_eq!(root, EMPTY_ROOT_HASH);
            assert_eq!(
                db.all_rows(),
                (Vec::new(), Vec::new()),
                "stale rows after deleting all"
            );
        }
        if round % 25 == 24 {
            db = db.reopen();
            assert_eq!(db.state_root(), model.root(), "round {round}: after reopen");
        }
        if round % 20 == 19 {
            assert_canonical(&db, &model);
        }
    }
    assert!(
        model.accounts.len() > 50,
        "the test should build a sizeable state"
    );
}

#[test]
fn storage_only_rounds_match_oracle() {
    // Many rounds on few accounts with large storage: deep storage tries, collapses, wipes.
    let mut rng = Rng::new(42);
    let mut model = Model::default();
    let db = TestDb::new();
    let owners: Vec<B256> = (0..3).map(|_| rng.key()).collect();
    let genesis = HashedPostState {
        accounts: owners.iter().map(|h| (*h, Some(rng.account()))).collect(),
        storages: Default::default(),
    };
    model.apply(&genesis);
    db.apply(&genesis);

    let mut slot_pool: Vec<B256> = (0..400).map(|_| rng.key()).collect();
    slot_pool.sort();
    for round in 0..80 {
        let mut changes = HashedPostState::default();
        for owner in &owners {
            let storage = changes.storages.entry(*owner).or_default();
            storage.wiped = round % 37 == 36;
            for _ in 0..rng.below(40) {
                let slot = slot_pool[rng.below(slot_pool.len())];
                let value = if rng.below(3) == 0 {
                    U256::ZERO
                } else {
                    rng.value()
                };
                storage.slots.insert(slot, value);
            }
        }
        model.apply(&changes);
        assert_eq!(db.apply(&changes), model.root(), "round {round}");
    }
    assert_canonical(&db, &model);

    // Remove all slots one block at a time: storage roots go back to empty.
    let mut changes = HashedPostState::default();
    for owner in &owners {
        let slots = model.accounts[owner]
            .1
            .keys()
            .map(|s| (*s, U256::ZERO))
            .collect();
        changes.storages.insert(
            *owner,
            HashedStorage {
                wiped: false,
                slots,
            },
        );
    }
    model.apply(&changes);
    assert_eq!(db.apply(&changes), model.root());
    for owner in &owners {
        assert_eq!(
            model.trie_account(owner).map(|a| a.storage_root),
            Some(EMPTY_ROOT_HASH)
        );
    }
    assert!(
        db.all_rows().1.is_empty(),
        "storage rows left after deleting every slot"
    );
}

#[test]
fn empty_state_has_empty_root() {
    let db = TestDb::new();
    // No tables yet: read side treats them as empty.
    assert_eq!(db.state_root(), EMPTY_ROOT_HASH);
    assert_eq!(db.apply(&HashedPostState::default()), EMPTY_ROOT_HASH);
    assert_eq!(db.state_root(), EMPTY_ROOT_HASH);
    assert_eq!(
        EMPTY_ROOT_HASH,
        b256!("0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
    );
}

#[test]
fn fixed_accounts_match_oracle() {
    let accounts = [
        (
            Address::with_last_byte(1),
            1u64,
            U256::from(1_000_000_000u64),
            KECCAK_EMPTY,
        ),
        (Address::with_last_byte(2), 0, U256::ZERO, KECCAK_EMPTY),
        (
            Address::repeat_byte(0xaa),
            7,
            U256::MAX,
            keccak256([0x60, 0x00]),
        ),
    ];
    let expected = state_root_unhashed(accounts.iter().map(|(address, nonce, balance, code)| {
        (
            *address,
            TrieAccount::new(*nonce, *balance, EMPTY_ROOT_HASH, *code),
        )
    }));
    let changes = HashedPostState {
        accounts: accounts
            .iter()
            .map(|(address, nonce, balance, code_hash)| {
                let info = HashedAccount {
                    nonce: *nonce,
                    balance: *balance,
                    code_hash: *code_hash,
                };
                (keccak256(address), Some(info))
            })
            .collect(),
        storages: Default::default(),
    };
    let db = TestDb::new();
    assert_eq!(db.apply(&changes), expected);
    assert_eq!(db.state_root(), expected);

    // One account alone: the root is a single leaf.
    let single = TestDb::new();
    let (address, nonce, balance, code_hash) = accounts[0];
    let one = HashedPostState {
        accounts: [(
            keccak256(address),
            Some(HashedAccount {
                nonce,
                balance,
                code_hash,
            }),
        )]
        .into(),
        storages: Default::default(),
    };
    let expected_single = state_root_unhashed([(
        address,
        TrieAccount::new(nonce, balance, EMPTY_ROOT_HASH, code_hash),
    )]);
    assert_eq!(single.apply(&one), expected_single);
}

#[test]
fn bulk_genesis_writes_each_node_once() {
    let mut rng = Rng::new(7);
    let mut model = Model::default();
    let mut genesis = HashedPostState::default();
    for _ in 0..20_000 {
        genesis.accounts.insert(rng.b256(), Some(rng.account()));
    }
    let owner = *genesis.accounts.keys().next().expect("accounts");
    let slots = (0..2_000).map(|_| (rng.b256(), rng.value())).collect();
    genesis.storages.insert(
        owner,
        HashedStorage {
            wiped: false,
            slots,
        },
    );
    model.apply(&genesis);

    let db = TestDb::new();
    let (root, stats) = db.apply_with_stats(&genesis);
    assert_eq!(root, model.root());
    let (accounts, storages) = db.all_rows();
    assert_eq!(stats.reads, 0, "nothing to read in a fresh database");
    assert_eq!(
        stats.writes,
        accounts.len() + storages.len(),
        "every node written exactly once"
    );
    assert_eq!(stats.deletes, 0);
}

/// A genesis of one million accounts (run with `--ignored`; takes a while unoptimised).
#[test]
#[ignore = "slow: one million accounts"]
fn genesis_with_one_million_accounts() {
    let mut rng = Rng::new(1);
    let mut model = Model::default();
    let mut genesis = HashedPostState::default();
    for _ in 0..1_000_000 {
        genesis.accounts.insert(rng.b256(), Some(rng.account()));
    }
    model.apply(&genesis);
    let db = TestDb::new();
    let started = std::time::Instant::now();
    let root = db.apply(&genesis);
    eprintln!(
        "1M-account genesis applied and committed in {:?}",
        started.elapsed()
    );
    assert_eq!(root, model.root());
}
