//! Merkle proofs (`eth_getProof`) read straight from the stored nodes.
//!
//! A proof is the list of node RLPs on the path from the root towards the key, geth style: the
//! root is always included, other nodes only when their parent references them by hash (nodes
//! shorter than 32 bytes are embedded in their parent and not listed separately).

use super::{
    error::{CorruptionKind, Result},
    node::TrieLocation,
    root::open_if_exists,
    tables::{ACCOUNT_TRIE, STORAGE_TRIE},
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{
    EMPTY_ROOT_HASH, Nibbles, TrieAccount,
    nodes::{RlpNode, TrieNode},
};
use redb::{ReadTransaction, ReadableTable};

/// Proof of an account and some of its storage slots against the state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The proven address.
    pub address: Address,
    /// The account as committed in the trie, `None` if it does not exist.
    pub account: Option<TrieAccount>,
    /// RLP of the account trie nodes from the root towards `keccak(address)`.
    pub account_proof: Vec<Bytes>,
    /// One proof per requested slot, in request order, against `account.storage_root`.
    pub storage_proofs: Vec<StorageProof>,
}

/// Proof of one storage slot against an account's storage root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProof {
    /// The requested slot (not hashed).
    pub key: B256,
    /// The slot's value; zero if absent.
    pub value: U256,
    /// RLP of the storage trie nodes from the root towards `keccak(key)`; empty when the storage
    /// trie is empty.
    pub proof: Vec<Bytes>,
}

/// Merkle proof of an account and some of its slots against the current root
/// (eth_getProof): account_proof = RLP of the nodes from root to the key (geth style: include
/// root, and include every node that is referenced by hash; inline nodes < 32 bytes are not
/// separate entries), storage proofs likewise against the account's storage root.
pub fn account_proof(
    txn: &ReadTransaction,
    address: Address,
    slots: &[B256],
) -> Result<AccountProof> {
    let hashed_address = keccak256(address);
    let account_location = TrieLocation::account();
    let (account_proof, account) = match open_if_exists(txn, ACCOUNT_TRIE)? {
        Some(table) => {
            let (proof, value) = prove(&table, account_location, &hashed_address, None)?;
            let account: Option<TrieAccount> =
                account_location.decode_leaf(&hashed_address, value)?;
            (proof, account)
        }
        None => (Vec::new(), None),
    };

    let storage_root = account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
    let location = TrieLocation::storage(&hashed_address);
    let storage_table = if storage_root == EMPTY_ROOT_HASH {
        None
    } else {
        // A non-empty storage root needs the storage trie rows.
        let table = open_if_exists(txn, STORAGE_TRIE)?;
        Some(table.ok_or_else(|| location.corrupt(&Nibbles::new(), CorruptionKind::Missing))?)
    };
    let mut storage_proofs = Vec::with_capacity(slots.len());
    for slot in slots {
        let (proof, value) = match &storage_table {
            Some(table) => {
                let hashed_slot = keccak256(slot);
                let (proof, value) = prove(table, location, &hashed_slot, Some(storage_root))?;
                let value: Option<U256> = location.decode_leaf(&hashed_slot, value)?;
                (proof, value.unwrap_or_default())
            }
            None => (Vec::new(), U256::ZERO),
        };
        storage_proofs.push(StorageProof {
            key: *slot,
            value,
            proof,
        });
    }

    Ok(AccountProof {
        address,
        account,
        account_proof,
        storage_proofs,
    })
}

/// The account leaf of `address` in an account trie table: the committed trie of a read
/// snapshot, or the trie of a write transaction including its own writes.
pub fn account_leaf<T>(table: &T, address: Address) -> Result<Option<TrieAccount>>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    let hashed_address = keccak256(address);
    let location = TrieLocation::account();
    let (_, value) = prove(table, location, &hashed_address, None)?;
    location.decode_leaf(&hashed_address, value)
}

/// Walks from the root towards `key`, collecting proof nodes; returns them with the leaf value
/// if the key is present. If `expected_root` is given, the stored root must hash to it.
pub(crate) fn prove<T>(
    table: &T,
    location: TrieLocation<'_>,
    key: &B256,
    expected_root: Option<B256>,
) -> Result<(Vec<Bytes>, Option<Vec<u8>>)>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
{
    prove_with(
        |path| location.read(table, path),
        location,
        key,
        expected_root,
    )
}

/// [`prove`] over any node source: `read` returns the node RLP stored at a path (`None`: no node).
pub(crate) fn prove_with<F>(
    mut read: F,
    location: TrieLocation<'_>,
    key: &B256,
    expected_root: Option<B256>,
) -> Result<(Vec<Bytes>, Option<Vec<u8>>)>
where
    F: FnMut(&Nibbles) -> Result<Option<Vec<u8>>>,
{
    let key = Nibbles::unpack(key);
    let mut path = Nibbles::new();
    let mut expected: Option<RlpNode> = None;
    let mut proof = Vec::new();
    loop {
        let is_root = path.is_empty();
        let Some(rlp) = read(&path)? else {
            return if is_root && expected_root.is_none_or(|root| root == EMPTY_ROOT_HASH) {
                Ok((proof, None))
            } else {
                Err(location.corrupt(&path, CorruptionKind::Missing))
            };
        };
        let node = location.decode(&path, &rlp)?;
        let reference = RlpNode::from_rlp(&rlp);
        let matches = if is_root {
            expected_root.is_none_or(|root| root == keccak256(&rlp))
        } else {
            expected.is_none_or(|expected| expected == reference)
        };
        if !matches {
            return Err(location.corrupt(&path, CorruptionKind::ReferenceMismatch));
        }
        if is_root || reference.is_hash() {
            proof.push(Bytes::from(rlp));
        }
        let rest = key.slice(path.len()..);
        match node {
            TrieNode::Leaf(leaf) => return Ok((proof, (leaf.key == rest).then_some(leaf.value))),
            TrieNode::Extension(ext) => {
                if !rest.starts_with(&ext.key) {
                    return Ok((proof, None));
                }
                path = path.join(&ext.key);
                expected = Some(ext.child);
            }
            TrieNode::Branch(branch) => {
                let nibble = rest.get_unchecked(0);
                if !branch.state_mask.is_bit_set(nibble) {
                    return Ok((proof, None));
                }
                let below = branch.state_mask.get() & ((1u16 << nibble) - 1);
                let child = branch.stack.into_iter().nth(below.count_ones() as usize);
                let Some(child) = child else {
                    return Err(location.corrupt(
                        &path,
                        CorruptionKind::Malformed("branch mask and children disagree"),
                    ));
                };
                path.push_unchecked(nibble);
                expected = Some(child);
            }
            TrieNode::EmptyRoot => return Ok((proof, None)),
        }
    }
}
