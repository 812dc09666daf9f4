//! Block changes keyed by hashed keys, the input of [`apply_changes`](super::apply_changes).

use alloy_primitives::{B256, U256, keccak256};
use revm::database::BundleState;
use std::collections::BTreeMap;

/// Changes of one block (or of genesis), keyed by hashed keys.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HashedPostState {
    /// keccak(address) -> new account info; None = account deleted (its storage is wiped too).
    pub accounts: BTreeMap<B256, Option<HashedAccount>>,
    /// keccak(address) -> storage changes.
    pub storages: BTreeMap<B256, HashedStorage>,
}

/// Account fields kept in the account trie leaf, except the storage root, which the trie derives
/// from the account's storage trie.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HashedAccount {
    /// Account nonce.
    pub nonce: u64,
    /// Account balance in wei.
    pub balance: U256,
    /// keccak of the account's code (`KECCAK_EMPTY` for no code).
    pub code_hash: B256,
}

/// Storage changes of one account.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HashedStorage {
    /// Storage was wiped before `slots` were applied (selfdestruct / re-created account).
    pub wiped: bool,
    /// keccak(slot as B256) -> value; zero means delete the slot.
    pub slots: BTreeMap<B256, U256>,
}

impl HashedPostState {
    /// From a revm BundleState (revm::database::BundleState): account `info == None` -> deleted;
    /// `was_destroyed()` -> wiped storage; slots from `present_value` (only changed ones).
    ///
    /// For a destroyed account every listed slot with a non-zero present value is kept even if it
    /// equals its value before the block: the wipe removed it, so it must be written again.
    pub fn from_bundle_state(bundle: &BundleState) -> Self {
        let mut state = Self::default();
        for (address, account) in &bundle.state {
            let hashed_address = keccak256(address);
            let info = account.info.as_ref().map(|info| HashedAccount {
                nonce: info.nonce,
                balance: info.balance,
                code_hash: info.code_hash,
            });
            state.accounts.insert(hashed_address, info);

            let wiped = account.was_destroyed();
            let slots: BTreeMap<B256, U256> = account
                .storage
                .iter()
                .filter(|(_, slot)| {
                    if wiped {
                        !slot.present_value.is_zero()
                    } else {
                        slot.is_changed()
                    }
                })
                .map(|(key, slot)| (keccak256(B256::from(*key)), slot.present_value))
                .collect();
            if wiped || !slots.is_empty() {
                state
                    .storages
                    .insert(hashed_address, HashedStorage { wiped, slots });
            }
        }
        state
    }
}
