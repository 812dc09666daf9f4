//! Applying a block's [`HashedPostState`] to the persisted tries.

use super::{
    error::{CorruptionKind, Result, TrieError},
    hashed_state::{HashedPostState, HashedStorage},
    node::TrieLocation,
    sparse_trie::{SparseTrie, TrieStats},
    tables::{ACCOUNT_TRIE, STORAGE_TRIE},
};
use alloy_primitives::{B256, U256};
use alloy_rlp::Decodable;
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, TrieAccount};
use redb::{Table, WriteTransaction};

/// Table handle type of both trie tables.
type NodeTable<'txn> = Table<'txn, &'static [u8], &'static [u8]>;

/// Apply changes inside the caller's write transaction (the caller commits or aborts it, so a
/// block's trie update is atomic with the rest of the block). Returns the new state root.
///
/// Keys are processed in sorted order. Storage changes of an account that is deleted in the same
/// `changes` are ignored (the account's storage is wiped). On error the transaction holds a
/// partial update and must be aborted.
pub fn apply_changes(txn: &WriteTransaction, changes: &HashedPostState) -> Result<B256> {
    apply_changes_with_stats(txn, changes).map(|(root, _)| root)
}

/// [`apply_changes`], also returning how many nodes were read, written and deleted.
pub(crate) fn apply_changes_with_stats(
    txn: &WriteTransaction,
    changes: &HashedPostState,
) -> Result<(B256, TrieStats)> {
    let mut account_table = txn.open_table(ACCOUNT_TRIE)?;
    let mut storage_table = txn.open_table(STORAGE_TRIE)?;
    let location = TrieLocation::account();
    let mut accounts = SparseTrie::open(&account_table, location, None)?;
    let mut stats = TrieStats::default();

    let mut keys: Vec<&B256> = changes
        .accounts
        .keys()
        .chain(changes.storages.keys())
        .collect();
    keys.sort_unstable();
    keys.dedup();

    for hashed_address in keys {
        let current = accounts
            .get(&account_table, location, hashed_address)?
            .map(|rlp| {
                TrieAccount::decode(&mut rlp.as_slice()).map_err(|err| {
                    location.corrupt(
                        &Nibbles::unpack(hashed_address),
                        CorruptionKind::LeafValue(err),
                    )
                })
            })
            .transpose()?;
        let storage = changes.storages.get(hashed_address);

        let account = match (changes.accounts.get(hashed_address), current) {
            // Deleted: no leaf, no storage.
            (Some(None), _) => {
                wipe_storage(&mut storage_table, hashed_address)?;
                accounts.remove(&account_table, location, hashed_address)?;
                continue;
            }
            (Some(Some(info)), current) => {
                let storage_root = match storage {
                    Some(storage) => {
                        let expected = current.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
                        let (root, storage_stats) =
                            update_storage(&mut storage_table, hashed_address, expected, storage)?;
                        stats += storage_stats;
                        root
                    }
                    None => current.map_or(EMPTY_ROOT_HASH, |a| a.storage_root),
                };
                TrieAccount::new(info.nonce, info.balance, storage_root, info.code_hash)
            }
            // Only storage changed.
            (None, Some(mut account)) => {
                let Some(storage) = storage else { continue };
                let (root, storage_stats) = update_storage(
                    &mut storage_table,
                    hashed_address,
                    account.storage_root,
                    storage,
                )?;
                stats += storage_stats;
                account.storage_root = root;
                account
            }
            (None, None) => {
                if storage.is_some_and(|s| s.slots.values().any(|v| !v.is_zero())) {
                    return Err(TrieError::StorageWithoutAccount {
                        hashed_address: *hashed_address,
                    });
                }
                continue;
            }
        };
        accounts.insert(
            &account_table,
            location,
            hashed_address,
            alloy_rlp::encode(account),
        )?;
    }

    let (root, account_stats) = accounts.commit(&mut account_table, location)?;
    stats += account_stats;
    Ok((root, stats))
}

/// Applies one account's storage changes; `expected_root` is the storage root in its account
/// leaf (checked against the stored trie unless the storage is wiped). Returns the new root.
fn update_storage(
    table: &mut NodeTable<'_>,
    hashed_address: &B256,
    expected_root: B256,
    storage: &HashedStorage,
) -> Result<(B256, TrieStats)> {
    let location = TrieLocation::storage(hashed_address);
    let mut trie = if storage.wiped {
        wipe_storage(table, hashed_address)?;
        SparseTrie::empty()
    } else {
        SparseTrie::open(&*table, location, Some(expected_root))?
    };
    for (hashed_slot, value) in &storage.slots {
        if *value == U256::ZERO {
            trie.remove(&*table, location, hashed_slot)?;
        } else {
            trie.insert(&*table, location, hashed_slot, alloy_rlp::encode(value))?;
        }
    }
    trie.commit(table, location)
}

/// Deletes every node of an account's storage trie.
fn wipe_storage(table: &mut NodeTable<'_>, hashed_address: &B256) -> Result<()> {
    let location = TrieLocation::storage(hashed_address);
    let (start, end) = (location.first_key(), location.end_key());
    table.retain_in(start.as_slice()..end.as_slice(), |_, _| false)?;
    Ok(())
}
