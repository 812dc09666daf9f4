//! `HashedPostState::from_bundle_state`.

use crate::trie::{HashedAccount, HashedPostState};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_trie::KECCAK_EMPTY;
use revm::{
    database::{AccountStatus, BundleAccount, BundleState, states::StorageSlot},
    state::AccountInfo,
};

fn info(nonce: u64, balance: u64) -> AccountInfo {
    AccountInfo {
        nonce,
        balance: U256::from(balance),
        code_hash: KECCAK_EMPTY,
        ..Default::default()
    }
}

fn hashed_slot(slot: u64) -> B256 {
    keccak256(B256::from(U256::from(slot)))
}

#[test]
fn bundle_state_is_hashed() {
    let changed = Address::with_last_byte(1);
    let destroyed = Address::with_last_byte(2);
    let recreated = Address::with_last_byte(3);
    let mut bundle = BundleState::default();
    bundle.state.insert(
        changed,
        BundleAccount::new(
            Some(info(0, 10)),
            Some(info(1, 5)),
            [
                (
                    U256::from(1),
                    StorageSlot::new_changed(U256::ZERO, U256::from(7)),
                ),
                (
                    U256::from(2),
                    StorageSlot::new_changed(U256::from(3), U256::ZERO),
                ),
                (U256::from(3), StorageSlot::new(U256::from(4))),
            ]
            .into_iter()
            .collect(),
            AccountStatus::Changed,
        ),
    );
    bundle.state.insert(
        destroyed,
        BundleAccount::new(
            Some(info(1, 1)),
            None,
            Default::default(),
            AccountStatus::Destroyed,
        ),
    );
    bundle.state.insert(
        recreated,
        BundleAccount::new(
            Some(info(1, 1)),
            Some(info(0, 2)),
            // Same value as before the selfdestruct: must be written again after the wipe.
            [(U256::from(9), StorageSlot::new(U256::from(9)))]
                .into_iter()
                .collect(),
            AccountStatus::DestroyedChanged,
        ),
    );

    let state = HashedPostState::from_bundle_state(&bundle);
    let account = |nonce, balance| {
        Some(HashedAccount {
            nonce,
            balance: U256::from(balance),
            code_hash: KECCAK_EMPTY,
        })
    };
    assert_eq!(state.accounts.len(), 3);
    assert_eq!(state.accounts[&keccak256(changed)], account(1, 5));
    assert_eq!(state.accounts[&keccak256(destroyed)], None);
    assert_eq!(state.accounts[&keccak256(recreated)], account(0, 2));

    let storage = &state.storages[&keccak256(changed)];
    assert!(!storage.wiped);
    assert_eq!(
        storage.slots,
        [
            (hashed_slot(1), U256::from(7)),
            (hashed_slot(2), U256::ZERO)
        ]
        .into()
    );
    assert!(state.storages[&keccak256(destroyed)].wiped);
    assert!(state.storages[&keccak256(destroyed)].slots.is_empty());
    let storage = &state.storages[&keccak256(recreated)];
    assert!(storage.wiped);
    assert_eq!(storage.slots, [(hashed_slot(9), U256::from(9))].into());
}
