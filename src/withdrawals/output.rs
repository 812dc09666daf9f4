//! Output roots and message passer storage proofs at any retained block.
//!
//! The message passer's storage root after each block is read from the state trie when the block
//! is committed and recorded (`index::MESSAGE_PASSER_ROOTS`), so an output root costs one lookup.
//!
//! The state trie's nodes are persisted for the head only, so a storage proof at block `n` comes
//! from the message passer's storage as of `n`, rebuilt from the plain state and the storage
//! history (the first recorded change after `n` holds the value at `n`) and hashed into a
//! storage trie with `alloy-trie`'s `HashBuilder`. The rebuilt root must equal the recorded one,
//! otherwise the query fails as corruption. The rebuild is linear in the number of withdrawals
//! ever made.

use super::{MESSAGE_PASSER_ADDRESS, OUTPUT_VERSION, WithdrawalError};
use crate::storage::{Provider, StorageError, storage_history_key, tables};
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{
    HashBuilder, Nibbles,
    proof::{ProofNodes, ProofRetainer},
};
use std::collections::BTreeMap;

/// The preimage of an output root (OP Stack `OutputRootProof`, version 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputRootPreimage {
    /// Output root version (zero).
    pub version: B256,
    /// State root of the block.
    pub state_root: B256,
    /// Storage root of the message passer in that state.
    pub message_passer_storage_root: B256,
    /// Hash of the block.
    pub block_hash: B256,
}

impl OutputRootPreimage {
    /// `keccak256(version ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash)`.
    pub fn output_root(&self) -> B256 {
        let mut preimage = [0u8; 128];
        preimage[..32].copy_from_slice(self.version.as_slice());
        preimage[32..64].copy_from_slice(self.state_root.as_slice());
        preimage[64..96].copy_from_slice(self.message_passer_storage_root.as_slice());
        preimage[96..].copy_from_slice(self.block_hash.as_slice());
        keccak256(preimage)
    }
}

/// A canonical block with its output root preimage.
#[derive(Debug, Clone)]
pub struct BlockOutput {
    /// The block's header.
    pub header: Header,
    /// The output root preimage.
    pub preimage: OutputRootPreimage,
}

/// The message passer's storage after one block, with proofs against its storage root.
#[derive(Debug, Clone)]
pub struct MessagePasserStorage {
    /// Non-zero slots.
    pub slots: BTreeMap<U256, U256>,
    /// Their storage root (equal to the block's recorded `messagePasserStorageRoot`).
    pub root: B256,
}

impl MessagePasserStorage {
    /// Storage proof of `slot` against [`Self::root`]: the slot's value (zero if absent) and the
    /// trie nodes from the root towards `keccak256(slot)`, geth style (nodes embedded in their
    /// parent are not listed separately).
    pub fn proof(&self, slot: B256) -> (U256, Vec<Bytes>) {
        let target = Nibbles::unpack(keccak256(slot));
        let (_, nodes) = hash_storage(&self.slots, Some(target));
        let proof = geth_proof(&nodes, &target);
        let value = self
            .slots
            .get(&U256::from_be_bytes(slot.0))
            .copied()
            .unwrap_or_default();
        (value, proof)
    }
}

/// The output of canonical block `number`.
pub fn block_output(provider: &Provider, number: u64) -> Result<BlockOutput, WithdrawalError> {
    let head = provider.head()?.ok_or(StorageError::NotInitialised)?.number;
    if number > head {
        return Err(WithdrawalError::BeyondHead {
            requested: number,
            head,
        });
    }
    let missing = || StorageError::Corrupt {
        table: "canonical",
        key: number.to_string(),
        message: "canonical block at or below the head is missing".into(),
    };
    let block_hash = provider.canonical_hash(number)?.ok_or_else(missing)?;
    let header = provider.header(block_hash)?.ok_or_else(missing)?;
    let storage_root = match super::index::recorded_storage_root(provider, number)? {
        Some(root) => root,
        // Committed before roots were recorded.
        None => hash_storage(&storage_at(provider, MESSAGE_PASSER_ADDRESS, number)?, None).0,
    };
    Ok(BlockOutput {
        preimage: OutputRootPreimage {
            version: OUTPUT_VERSION,
            state_root: header.state_root,
            message_passer_storage_root: storage_root,
            block_hash,
        },
        header,
    })
}

/// The message passer's storage after `output`'s block, checked against its storage root.
pub fn message_passer_storage(
    provider: &Provider,
    output: &BlockOutput,
) -> Result<MessagePasserStorage, WithdrawalError> {
    let slots = storage_at(provider, MESSAGE_PASSER_ADDRESS, output.header.number)?;
    let (root, _) = hash_storage(&slots, None);
    let expected = output.preimage.message_passer_storage_root;
    if root != expected {
        return Err(StorageError::Corrupt {
            table: "storage_history",
            key: format!("{MESSAGE_PASSER_ADDRESS} at block {}", output.header.number),
            message: format!("rebuilt storage root {root} differs from the trie's {expected}"),
        }
        .into());
    }
    Ok(MessagePasserStorage { slots, root })
}

/// Storage proof of `slot` at `output`'s block, walked from the message passer's storage trie and
/// its node history (see `crate::trie::storage_proof_at`): O(trie depth) lookups, checked against
/// the storage root recorded for that block.
pub fn message_passer_proof(
    provider: &Provider,
    output: &BlockOutput,
    slot: B256,
) -> Result<(U256, Vec<Bytes>), WithdrawalError> {
    Ok(crate::trie::storage_proof_at(
        provider.txn(),
        &keccak256(MESSAGE_PASSER_ADDRESS),
        slot,
        output.header.number,
        output.preimage.message_passer_storage_root,
    )
    .map_err(StorageError::from)?)
}

/// geth-style proof towards `target`: the root, then every node referenced by hash.
pub(super) fn geth_proof(nodes: &ProofNodes, target: &Nibbles) -> Vec<Bytes> {
    nodes
        .matching_nodes_sorted(target)
        .into_iter()
        .enumerate()
        .filter(|(i, (_, node))| *i == 0 || node.len() >= 32)
        .map(|(_, (_, node))| node)
        .collect()
}

/// The non-zero storage slots of `address` as of block `number` (at most the snapshot's head).
pub fn storage_at(
    provider: &Provider,
    address: Address,
    number: u64,
) -> Result<BTreeMap<U256, U256>, StorageError> {
    let mut slots: BTreeMap<U256, U256> = provider.storage_slots(address)?.into_iter().collect();
    let history = provider.txn().open_table(tables::STORAGE_HISTORY)?;
    let start = storage_history_key(address, U256::ZERO, 0);
    let end = storage_history_key(address, U256::MAX, u64::MAX);
    // Entries are ordered by slot, then by the block that changed the slot; the first change
    // after `number` recorded the value the slot had at `number`.
    let mut done: Option<U256> = None;
    for entry in history.range(start..=end)? {
        let (key, value) = entry?;
        let key = key.value();
        let slot = U256::from_be_slice(&key[20..52]);
        let mut changed_at = [0u8; 8];
        changed_at.copy_from_slice(&key[52..]);
        if u64::from_be_bytes(changed_at) <= number || done == Some(slot) {
            continue;
        }
        done = Some(slot);
        let value = U256::from_be_bytes(value.value());
        if value.is_zero() {
            slots.remove(&slot);
        } else {
            slots.insert(slot, value);
        }
    }
    Ok(slots)
}

/// Storage root of `slots`, retaining the proof nodes towards `target` if given.
fn hash_storage(slots: &BTreeMap<U256, U256>, target: Option<Nibbles>) -> (B256, ProofNodes) {
    let mut leaves: Vec<(B256, U256)> = slots
        .iter()
        .filter(|(_, value)| !value.is_zero())
        .map(|(slot, value)| (keccak256(B256::from(*slot)), *value))
        .collect();
    leaves.sort_unstable_by_key(|(key, _)| *key);
    let mut builder = HashBuilder::default()
        .with_proof_retainer(ProofRetainer::new(target.into_iter().collect()));
    for (key, value) in leaves {
        builder.add_leaf(Nibbles::unpack(key), &alloy_rlp::encode(value));
    }
    let root = builder.root();
    (root, builder.take_proof_nodes())
}
