//! Applying a block's [`HashedPostState`] to the persisted tries.

use super::{
    error::{Result, TrieError},
    hashed_state::{HashedPostState, HashedStorage},
    history::{HistoryRecorder, TrieHistory},
    node::TrieLocation,
    sparse_trie::{Previous, SparseTrie, TrieStats},
    store::{NodeStore, NodeStoreMut, TrieUpdates, overlays},
    tables::{ACCOUNT_TRIE, STORAGE_TRIE, STORAGE_TRIE_HISTORY},
};
use alloy_primitives::{B256, U256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, TrieAccount};
use redb::{ReadTransaction, Table, WriteTransaction};

/// The table of node history rows, opened in a block's write transaction.
type HistoryTable<'txn> = Table<'txn, &'static [u8], &'static [u8]>;

/// Apply changes inside the caller's write transaction (the caller commits or aborts it, so a
/// block's trie update is atomic with the rest of the block). Returns the new state root.
///
/// Keys are processed in sorted order. Storage changes of an account that is deleted in the same
/// `changes` are ignored (the account's storage is wiped). On error the transaction holds a
/// partial update and must be aborted.
pub fn apply_changes(txn: &WriteTransaction, changes: &HashedPostState) -> Result<B256> {
    apply_changes_with_stats(txn, changes, None).map(|(root, _)| root)
}

/// [`apply_changes`] for block `history.block`, recording the previous nodes of the storage tries
/// `history` tracks (see [`super::history`]).
pub fn apply_changes_with_history(
    txn: &WriteTransaction,
    changes: &HashedPostState,
    history: Option<TrieHistory<'_>>,
) -> Result<B256> {
    apply_changes_with_stats(txn, changes, history).map(|(root, _)| root)
}

/// [`apply_changes_with_history`], also returning how many nodes were read, written and deleted.
pub(crate) fn apply_changes_with_stats(
    txn: &WriteTransaction,
    changes: &HashedPostState,
    history: Option<TrieHistory<'_>>,
) -> Result<(B256, TrieStats)> {
    let mut account_table = txn.open_table(ACCOUNT_TRIE)?;
    let mut storage_table = txn.open_table(STORAGE_TRIE)?;
    let mut history_table = match history {
        Some(history) if !history.storage_tries.is_empty() => {
            Some(txn.open_table(STORAGE_TRIE_HISTORY)?)
        }
        _ => None,
    };
    apply_in(
        &mut account_table,
        &mut storage_table,
        history_table.as_mut().zip(history),
        changes,
    )
}

/// The trie rows `changes` modify on top of a read snapshot and the pending `ancestors` (oldest
/// first; each relative to the state before it), without writing anything. Write them with
/// [`write_updates`] once the snapshot's head is the block's parent.
pub fn compute_updates(
    txn: &ReadTransaction,
    ancestors: &[&TrieUpdates],
    changes: &HashedPostState,
) -> Result<TrieUpdates> {
    let (mut account, mut storage) = overlays(txn, ancestors)?;
    let (root, _) = apply_in(&mut account, &mut storage, None, changes)?;
    Ok(TrieUpdates {
        account: account.into_changes(),
        storage: storage.into_changes(),
        root,
    })
}

/// Writes rows computed by [`compute_updates`] in the caller's write transaction, recording the
/// history of the storage tries `history` tracks. Returns the state root.
pub fn write_updates(
    txn: &WriteTransaction,
    updates: &TrieUpdates,
    history: Option<TrieHistory<'_>>,
) -> Result<B256> {
    let mut account_table = txn.open_table(ACCOUNT_TRIE)?;
    for (key, row) in &updates.account {
        match row {
            Some(value) => account_table.put(key, value, false)?,
            None => account_table.delete(key, false)?,
        };
    }
    let mut storage_table = txn.open_table(STORAGE_TRIE)?;
    let tracked = history.filter(|h| !h.storage_tries.is_empty());
    let mut history_table = match tracked {
        Some(_) => Some(txn.open_table(STORAGE_TRIE_HISTORY)?),
        None => None,
    };
    for (key, row) in &updates.storage {
        // Storage rows are keyed `keccak(address) ‖ path`.
        let owner = key.get(..32).map(B256::from_slice);
        let block = tracked
            .zip(owner)
            .and_then(|(h, owner)| h.block_for(&owner));
        let previous = match row {
            Some(value) => storage_table.put(key, value, block.is_some())?,
            None => storage_table.delete(key, block.is_some())?,
        };
        if let (Some(block), Some(owner), Some(table)) = (block, owner, history_table.as_mut())
            && previous.as_ref() != row.as_ref()
        {
            let location = TrieLocation::storage(&owner);
            let path = Nibbles::from_nibbles_unchecked(&key[32..]);
            HistoryRecorder { table, block }.record(&location, &path, previous.as_deref())?;
        }
    }
    let root = account_table.get(&[])?;
    Ok(root.map_or(EMPTY_ROOT_HASH, alloy_primitives::keccak256))
}

/// The update itself, over any pair of stores for the account and the storage trie rows, with an
/// optional history table for tracked storage tries.
fn apply_in<A, S>(
    account_table: &mut A,
    storage_table: &mut S,
    mut history: Option<(&mut HistoryTable<'_>, TrieHistory<'_>)>,
    changes: &HashedPostState,
) -> Result<(B256, TrieStats)>
where
    A: NodeStoreMut,
    S: NodeStoreMut,
{
    let location = TrieLocation::account();
    let mut accounts = SparseTrie::open(&*account_table, location, None)?;
    let mut stats = TrieStats::default();

    let mut keys: Vec<&B256> = changes
        .accounts
        .keys()
        .chain(changes.storages.keys())
        .collect();
    keys.sort_unstable();
    keys.dedup();

    for hashed_address in keys {
        let current: Option<TrieAccount> = location.decode_leaf(
            hashed_address,
            accounts.get(&*account_table, location, hashed_address)?,
        )?;
        let storage = changes.storages.get(hashed_address);
        let mut recorder = history.as_mut().and_then(|(table, h)| {
            h.block_for(hashed_address)
                .map(|block| HistoryRecorder { table, block })
        });

        let account = match (changes.accounts.get(hashed_address), current) {
            // Deleted: no leaf, no storage.
            (Some(None), _) => {
                wipe_storage(storage_table, hashed_address, recorder.as_mut())?;
                accounts.remove(&*account_table, location, hashed_address)?;
                continue;
            }
            (Some(Some(info)), current) => {
                let storage_root = match storage {
                    Some(storage) => {
                        let expected = current.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
                        let (root, storage_stats) = update_storage(
                            storage_table,
                            hashed_address,
                            expected,
                            storage,
                            recorder.as_mut(),
                        )?;
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
                    storage_table,
                    hashed_address,
                    account.storage_root,
                    storage,
                    recorder.as_mut(),
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
            &*account_table,
            location,
            hashed_address,
            alloy_rlp::encode(account),
        )?;
    }

    let (root, account_stats) = accounts.commit(account_table, location, None)?;
    stats += account_stats;
    Ok((root, stats))
}

/// Applies one account's storage changes; `expected_root` is the storage root in its account
/// leaf (checked against the stored trie unless the storage is wiped). Returns the new root.
fn update_storage<S: NodeStoreMut>(
    table: &mut S,
    hashed_address: &B256,
    expected_root: B256,
    storage: &HashedStorage,
    mut recorder: Option<&mut HistoryRecorder<'_, '_>>,
) -> Result<(B256, TrieStats)> {
    let location = TrieLocation::storage(hashed_address);
    let mut trie = if storage.wiped {
        wipe_storage(table, hashed_address, recorder.as_deref_mut())?;
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
    let Some(recorder) = recorder else {
        return trie.commit(table, location, None);
    };
    let mut previous = Vec::new();
    let out = trie.commit(table, location, Some(&mut previous))?;
    for (path, node) in &previous {
        recorder.record(&location, path, node.as_deref())?;
    }
    Ok(out)
}

/// Deletes every node of an account's storage trie, recording them first if it is tracked.
fn wipe_storage<S: NodeStoreMut>(
    table: &mut S,
    hashed_address: &B256,
    recorder: Option<&mut HistoryRecorder<'_, '_>>,
) -> Result<()> {
    let location = TrieLocation::storage(hashed_address);
    let (start, end) = (location.first_key(), location.end_key());
    if let Some(recorder) = recorder {
        let mut previous: Previous = Vec::new();
        for (key, node) in table.rows(&start, &end)? {
            let path = Nibbles::from_nibbles_unchecked(&key[start.len()..]);
            previous.push((path, Some(node)));
        }
        for (path, node) in &previous {
            recorder.record(&location, path, node.as_deref())?;
        }
    }
    table.delete_range(&start, &end)
}
