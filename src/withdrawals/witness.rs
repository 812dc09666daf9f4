//! Building the execution witness of a stored block (`hb_getExecutionWitness`).
//!
//! The block is re-executed on the state after its parent (through the history tables) with a
//! recording database that notes every account, slot, code and block hash it reads. The parent
//! state's tries are then rebuilt in memory with `alloy-trie`'s `HashBuilder` (the persisted trie
//! holds the head state only) and checked against the parent's `stateRoot`; the nodes on the
//! paths of every touched key, plus the siblings that a deletion needs to collapse a branch,
//! make up `state`. The rebuild is linear in the size of the state: fine for a devnet, the next
//! step is to keep historical trie nodes.

use super::{
    MESSAGE_PASSER_ADDRESS, WithdrawalError, history::accounts_at, output::storage_at,
    stateless::ExecutionWitness,
};
use crate::{
    chainspec::ChainSpec,
    engine::hashed_post_state,
    execution,
    storage::{Provider, StateProviderDatabase, StorageError},
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, map::B256Set};
use alloy_trie::{
    EMPTY_ROOT_HASH, HashBuilder, KECCAK_EMPTY, Nibbles, TrieAccount,
    proof::{AddedRemovedKeys, ProofRetainer},
};
use revm::{
    DatabaseRef,
    database::OriginalValuesKnown,
    state::{AccountInfo, Bytecode},
};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
};

/// Everything the execution read.
#[derive(Debug, Default)]
struct Reads {
    accounts: BTreeSet<Address>,
    slots: BTreeSet<(Address, U256)>,
    codes: BTreeSet<B256>,
    block_hashes: BTreeSet<u64>,
}

/// A state view that records what it serves.
#[derive(Debug)]
struct RecordingDatabase {
    inner: StateProviderDatabase,
    reads: Arc<Mutex<Reads>>,
}

impl RecordingDatabase {
    fn record(&self, f: impl FnOnce(&mut Reads)) {
        // A poisoned lock only means another reader panicked; the sets are still usable.
        let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut reads);
    }
}

impl DatabaseRef for RecordingDatabase {
    type Error = StorageError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StorageError> {
        let info = self.inner.basic_ref(address)?;
        self.record(|r| {
            r.accounts.insert(address);
            if let Some(info) = &info
                && info.code_hash != KECCAK_EMPTY
            {
                r.codes.insert(info.code_hash);
            }
        });
        Ok(info)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StorageError> {
        self.record(|r| {
            r.codes.insert(code_hash);
        });
        self.inner.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StorageError> {
        self.record(|r| {
            r.slots.insert((address, index));
        });
        self.inner.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StorageError> {
        self.record(|r| {
            r.block_hashes.insert(number);
        });
        self.inner.block_hash_ref(number)
    }
}

/// The execution witness of canonical block `number` (not genesis).
pub fn execution_witness(
    spec: &ChainSpec,
    provider: &Provider,
    number: u64,
) -> Result<ExecutionWitness, WithdrawalError> {
    let head = provider.head()?.ok_or(StorageError::NotInitialised)?.number;
    if number > head {
        return Err(WithdrawalError::BeyondHead {
            requested: number,
            head,
        });
    }
    if number == 0 {
        return Err(WithdrawalError::Genesis);
    }
    let corrupt = |message: String| StorageError::Corrupt {
        table: "canonical",
        key: number.to_string(),
        message,
    };
    let hash = provider
        .canonical_hash(number)?
        .ok_or_else(|| corrupt("missing block".into()))?;
    let header = provider
        .header(hash)?
        .ok_or_else(|| corrupt("missing header".into()))?;
    let body = provider
        .body(hash)?
        .ok_or_else(|| corrupt("missing body".into()))?;
    let parent = provider
        .header(header.parent_hash)?
        .ok_or_else(|| corrupt("missing parent header".into()))?;

    // 1. Re-execute on the parent state, recording reads.
    let reads = Arc::new(Mutex::new(Reads::default()));
    let db = RecordingDatabase {
        inner: provider.state_at(number - 1)?,
        reads: reads.clone(),
    };
    let transactions = execution::recover_senders(spec, &header, &body)
        .map_err(|e| corrupt(format!("stored block does not recover: {e}")))?;
    let outcome = execution::execute_block(spec, db, &header, hash, &body, &transactions)
        .map_err(|e| corrupt(format!("stored block does not re-execute: {e}")))?;
    let changes = outcome.bundle.to_plain_state(OriginalValuesKnown::Yes);
    let hashed = hashed_post_state(&changes);
    let reads = std::mem::take(&mut *reads.lock().unwrap_or_else(|e| e.into_inner()));

    // 2. Touched keys: everything read or written.
    // The message passer is always included: its post-state storage root is part of the output
    // root a challenger recomputes.
    let mut touched_accounts: BTreeSet<Address> = reads.accounts.clone();
    touched_accounts.insert(MESSAGE_PASSER_ADDRESS);
    touched_accounts.extend(changes.accounts.iter().map(|(a, _)| *a));
    touched_accounts.extend(changes.storage.iter().map(|s| s.address));
    let mut touched_slots: BTreeMap<Address, BTreeSet<U256>> = BTreeMap::new();
    for (address, slot) in &reads.slots {
        touched_slots.entry(*address).or_default().insert(*slot);
    }
    for change in &changes.storage {
        let slots = touched_slots.entry(change.address).or_default();
        slots.extend(change.storage.iter().map(|(slot, _)| *slot));
    }

    // 3. The parent state's tries, keeping the nodes on touched paths.
    let mut state = Vec::new();
    let mut account_leaves = Vec::new();
    for (address, account) in accounts_at(provider, number - 1)? {
        let slots = storage_at(provider, address, number - 1)?;
        let hashed_address = keccak256(address);
        let storage = hashed.storages.get(&hashed_address);
        let targets = touched_slots
            .get(&address)
            .into_iter()
            .flatten()
            .map(|slot| keccak256(B256::from(*slot)));
        let removed = storage
            .into_iter()
            .flat_map(|s| s.slots.iter())
            .filter(|(_, value)| value.is_zero())
            .map(|(slot, _)| *slot);
        let leaves = slots
            .iter()
            .map(|(slot, value)| (keccak256(B256::from(*slot)), alloy_rlp::encode(value)));
        let (storage_root, nodes) = hash_with_proofs(leaves, targets, removed);
        if touched_accounts.contains(&address) {
            state.extend(nodes);
        }
        let leaf = TrieAccount::new(
            account.nonce,
            account.balance,
            storage_root,
            account.code_hash,
        );
        account_leaves.push((hashed_address, alloy_rlp::encode(leaf)));
    }
    let removed_accounts = hashed
        .accounts
        .iter()
        .filter(|(_, info)| info.is_none())
        .map(|(key, _)| *key);
    let (state_root, nodes) = hash_with_proofs(
        account_leaves.into_iter(),
        touched_accounts.iter().map(keccak256),
        removed_accounts,
    );
    if state_root != parent.state_root {
        return Err(StorageError::Corrupt {
            table: "account_history",
            key: format!("state at block {}", number - 1),
            message: format!(
                "rebuilt state root {state_root} differs from the header's {}",
                parent.state_root
            ),
        }
        .into());
    }
    state.extend(nodes);
    let mut seen = B256Set::default();
    state.retain(|node| seen.insert(keccak256(node)));

    // 4. Codes, key preimages, ancestor headers (oldest first, ending with the parent).
    let mut codes = Vec::new();
    for code_hash in &reads.codes {
        let code = provider
            .bytecode(*code_hash)?
            .ok_or_else(|| corrupt(format!("code {code_hash} is missing")))?;
        codes.push(code);
    }
    let mut keys: Vec<Bytes> = touched_accounts
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_slice()))
        .collect();
    for slots in touched_slots.values() {
        keys.extend(slots.iter().map(|s| Bytes::from(s.to_be_bytes::<32>())));
    }
    let oldest = reads
        .block_hashes
        .first()
        .copied()
        .unwrap_or(number - 1)
        .min(number - 1);
    let mut headers = Vec::new();
    for ancestor in oldest..number {
        let ancestor = provider
            .header_by_number(ancestor)?
            .ok_or_else(|| corrupt(format!("ancestor {ancestor} is missing")))?;
        headers.push(Bytes::from(alloy_rlp::encode(&ancestor)));
    }
    Ok(ExecutionWitness {
        state,
        codes,
        keys,
        headers,
    })
}

/// Root of a trie of `(hashed key, value)` leaves (any order), with the nodes on the paths of
/// `targets` and the siblings needed to delete `removed`.
fn hash_with_proofs(
    leaves: impl Iterator<Item = (B256, Vec<u8>)>,
    targets: impl Iterator<Item = B256>,
    removed: impl Iterator<Item = B256>,
) -> (B256, Vec<Bytes>) {
    let mut leaves: Vec<(B256, Vec<u8>)> = leaves.collect();
    leaves.sort_unstable_by_key(|(key, _)| *key);
    let mut changes = AddedRemovedKeys::default();
    let mut paths: Vec<Nibbles> = Vec::new();
    for key in targets {
        paths.push(Nibbles::unpack(key));
    }
    for key in removed {
        changes.insert_removed(key);
        paths.push(Nibbles::unpack(key));
    }
    if paths.is_empty() {
        let root = if leaves.is_empty() {
            EMPTY_ROOT_HASH
        } else {
            let mut builder = HashBuilder::default();
            for (key, value) in &leaves {
                builder.add_leaf(Nibbles::unpack(key), value);
            }
            builder.root()
        };
        return (root, Vec::new());
    }
    let retainer = ProofRetainer::new(paths).with_added_removed_keys(Some(changes));
    let mut builder = HashBuilder::default().with_proof_retainer(retainer);
    for (key, value) in &leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    let root = builder.root();
    let nodes = builder
        .take_proof_nodes()
        .into_nodes_sorted()
        .into_iter()
        .map(|(_, node)| node)
        // The empty-trie marker is no node.
        .filter(|node| node.len() > 1)
        .collect();
    (root, nodes)
}
