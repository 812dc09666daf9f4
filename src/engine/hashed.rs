//! From plain state changes to the hashed keys of the state trie.

use crate::trie::{HashedAccount, HashedPostState, HashedStorage};
use alloy_primitives::{B256, keccak256};
use revm::database::states::StateChangeset;

/// Hashes a plain changeset: `keccak(address)` for accounts, `keccak(slot)` for storage.
/// A deleted account (`None`) also has its storage wiped by the trie.
pub fn hashed_post_state(changes: &StateChangeset) -> HashedPostState {
    let mut out = HashedPostState::default();
    for (address, info) in &changes.accounts {
        let account = info.as_ref().map(|info| HashedAccount {
            nonce: info.nonce,
            balance: info.balance,
            code_hash: info.code_hash,
        });
        out.accounts.insert(keccak256(address), account);
    }
    for change in &changes.storage {
        let storage: &mut HashedStorage =
            out.storages.entry(keccak256(change.address)).or_default();
        storage.wiped |= change.wipe_storage;
        for (slot, value) in &change.storage {
            storage.slots.insert(keccak256(B256::from(*slot)), *value);
        }
    }
    out
}
