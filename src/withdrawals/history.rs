//! Proofs against the state of any retained block (`eth_getProof` below the head).
//!
//! The persisted trie holds the head state only; for an older block the state is rebuilt from
//! the plain state and the history tables (accounts with [`accounts_at`], each account's storage
//! with [`storage_at`]) and hashed in memory with `alloy-trie`, keeping the nodes on the proven
//! paths. The rebuilt root must equal the block's `stateRoot`. Time is linear in the size of the
//! state: fine for a devnet, the next step is to keep historical trie nodes.

use super::{
    WithdrawalError,
    output::{geth_proof, storage_at},
};
use crate::{
    storage::{Provider, StorageError, StoredAccount, tables},
    trie::{AccountProof, StorageProof},
};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_trie::{
    EMPTY_ROOT_HASH, HashBuilder, Nibbles, TrieAccount,
    proof::{ProofNodes, ProofRetainer},
};
use redb::ReadableTable as _;
use std::collections::BTreeMap;

/// Every account as of block `number`, by address.
pub(crate) fn accounts_at(
    provider: &Provider,
    number: u64,
) -> Result<BTreeMap<Address, StoredAccount>, StorageError> {
    let mut accounts: BTreeMap<Address, StoredAccount> = provider.accounts()?.into_iter().collect();
    let history = provider.txn().open_table(tables::ACCOUNT_HISTORY)?;
    // Entries are ordered by address, then by the block that changed the account; the first
    // change after `number` recorded the account as it was at `number`.
    let mut done: Option<Address> = None;
    for entry in history.iter()? {
        let (key, value) = entry?;
        let key = key.value();
        let address = Address::from_slice(&key[..20]);
        let mut changed_at = [0u8; 8];
        changed_at.copy_from_slice(&key[20..]);
        if u64::from_be_bytes(changed_at) <= number || done == Some(address) {
            continue;
        }
        done = Some(address);
        match <&[u8; 72]>::try_from(value.value()) {
            Ok(bytes) => {
                accounts.insert(address, StoredAccount::decode(bytes));
            }
            Err(_) if value.value().is_empty() => {
                accounts.remove(&address);
            }
            Err(_) => {
                return Err(StorageError::Corrupt {
                    table: "account_history",
                    key: address.to_string(),
                    message: format!("{} bytes, expected 0 or 72", value.value().len()),
                });
            }
        }
    }
    Ok(accounts)
}

/// Hashes `(hashed key, value)` leaves (any order) retaining the nodes towards `targets`.
fn hash_leaves(mut leaves: Vec<(B256, Vec<u8>)>, targets: Vec<Nibbles>) -> (B256, ProofNodes) {
    leaves.sort_unstable_by_key(|(key, _)| *key);
    let mut builder = HashBuilder::default().with_proof_retainer(ProofRetainer::new(targets));
    for (key, value) in &leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    let root = builder.root();
    (root, builder.take_proof_nodes())
}

/// Proof of `address` and `slots` against the state root of canonical block `number`.
pub fn account_proof_at(
    provider: &Provider,
    number: u64,
    address: Address,
    slots: &[B256],
) -> Result<AccountProof, WithdrawalError> {
    let header = provider
        .header_by_number(number)?
        .ok_or(WithdrawalError::BeyondHead {
            requested: number,
            head: provider.head()?.map_or(0, |h| h.number),
        })?;
    let mut account = None;
    let mut storage_proofs = Vec::with_capacity(slots.len());
    let mut leaves = Vec::new();
    for (owner, stored) in accounts_at(provider, number)? {
        let storage = storage_at(provider, owner, number)?;
        let storage_leaves = storage
            .iter()
            .map(|(slot, value)| (keccak256(B256::from(*slot)), alloy_rlp::encode(value)))
            .collect();
        let targets = if owner == address {
            slots
                .iter()
                .map(|s| Nibbles::unpack(keccak256(s)))
                .collect()
        } else {
            Vec::new()
        };
        let (storage_root, nodes) = hash_leaves(storage_leaves, targets);
        let leaf = TrieAccount::new(stored.nonce, stored.balance, storage_root, stored.code_hash);
        if owner == address {
            account = Some(leaf);
            for slot in slots {
                let proof = if storage_root == EMPTY_ROOT_HASH {
                    Vec::new()
                } else {
                    geth_proof(&nodes, &Nibbles::unpack(keccak256(slot)))
                };
                storage_proofs.push(StorageProof {
                    key: *slot,
                    value: storage
                        .get(&U256::from_be_bytes(slot.0))
                        .copied()
                        .unwrap_or_default(),
                    proof,
                });
            }
        }
        leaves.push((keccak256(owner), alloy_rlp::encode(leaf)));
    }
    if account.is_none() {
        storage_proofs = slots
            .iter()
            .map(|slot| StorageProof {
                key: *slot,
                value: U256::ZERO,
                proof: Vec::new(),
            })
            .collect();
    }
    let target = Nibbles::unpack(keccak256(address));
    let (root, nodes) = hash_leaves(leaves, vec![target]);
    if root != header.state_root {
        return Err(StorageError::Corrupt {
            table: "account_history",
            key: format!("state at block {number}"),
            message: format!(
                "rebuilt state root {root} differs from the header's {}",
                header.state_root
            ),
        }
        .into());
    }
    Ok(AccountProof {
        address,
        account,
        account_proof: geth_proof(&nodes, &target),
        storage_proofs,
    })
}
