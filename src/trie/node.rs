//! Node codec: where a trie's nodes live in redb and how a stored node is decoded and validated.
//!
//! Stored values are the canonical Ethereum RLP of the node (`TrieNode` encoding of alloy-trie),
//! so a proof element is the stored value verbatim and a node's reference is
//! `RlpNode::from_rlp(value)`. Decoding checks that the node fits its position (a leaf ends at
//! nibble 64, an extension is non-empty and ends above it, a branch has at least two children) so
//! that the update code can index keys without panicking on corrupt data.

use super::{
    error::{CorruptionKind, Result, TrieError},
    tables::{ACCOUNT_TRIE_NAME, STORAGE_TRIE_NAME},
};
use alloy_primitives::{B256, hex};
use alloy_rlp::Decodable;
use alloy_trie::{Nibbles, nodes::TrieNode};
use redb::ReadableTable;

/// Length of every key of the secure tries (a keccak hash) in nibbles.
pub(crate) const KEY_NIBBLES: usize = 64;

/// Identifies one trie inside a table: the table and the key prefix of its rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrieLocation<'a> {
    /// Table name, for errors.
    table: &'static str,
    /// Key prefix of all rows of this trie (empty for the account trie).
    prefix: &'a [u8],
}

impl<'a> TrieLocation<'a> {
    /// The account trie.
    pub(crate) const fn account() -> TrieLocation<'static> {
        TrieLocation {
            table: ACCOUNT_TRIE_NAME,
            prefix: &[],
        }
    }

    /// The storage trie of the account with the given hashed address.
    pub(crate) fn storage(hashed_address: &'a B256) -> Self {
        Self {
            table: STORAGE_TRIE_NAME,
            prefix: hashed_address.as_slice(),
        }
    }

    /// Table key of the node at `path`: prefix ‖ one byte per nibble.
    pub(crate) fn key(&self, path: &Nibbles) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.prefix.len() + path.len());
        key.extend_from_slice(self.prefix);
        key.extend(path.iter());
        key
    }

    /// Smallest table key of this trie (its root).
    pub(crate) fn first_key(&self) -> Vec<u8> {
        self.prefix.to_vec()
    }

    /// Exclusive upper bound of this trie's table keys (nibble bytes never exceed `0x0f`).
    pub(crate) fn end_key(&self) -> Vec<u8> {
        let mut key = self.prefix.to_vec();
        key.push(0x10);
        key
    }

    /// Error for a bad node at `path`.
    pub(crate) fn corrupt(&self, path: &Nibbles, kind: CorruptionKind) -> TrieError {
        let nibbles: String = path
            .iter()
            .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('?'))
            .collect();
        let path = if self.prefix.is_empty() {
            format!("0x{nibbles}")
        } else {
            format!("0x{}/0x{nibbles}", hex::encode(self.prefix))
        };
        TrieError::CorruptNode {
            table: self.table,
            path,
            kind,
        }
    }

    /// Reads the raw RLP of the node at `path`, `None` if there is no row.
    pub(crate) fn read<T>(&self, table: &T, path: &Nibbles) -> Result<Option<Vec<u8>>>
    where
        T: ReadableTable<&'static [u8], &'static [u8]>,
    {
        let key = self.key(path);
        Ok(table
            .get(key.as_slice())?
            .map(|guard| guard.value().to_vec()))
    }

    /// Decodes the value of the leaf under the full key `key` (an account or a slot), if any.
    pub(crate) fn decode_leaf<V: Decodable>(
        &self,
        key: &B256,
        rlp: Option<Vec<u8>>,
    ) -> Result<Option<V>> {
        rlp.map(|rlp| {
            V::decode(&mut rlp.as_slice())
                .map_err(|err| self.corrupt(&Nibbles::unpack(key), CorruptionKind::LeafValue(err)))
        })
        .transpose()
    }

    /// Decodes the RLP of the node stored at `path` and checks that it fits that position.
    pub(crate) fn decode(&self, path: &Nibbles, rlp: &[u8]) -> Result<TrieNode> {
        let mut buf = rlp;
        let node = TrieNode::decode(&mut buf)
            .map_err(|err| self.corrupt(path, CorruptionKind::Undecodable(err)))?;
        let malformed = |reason| Err(self.corrupt(path, CorruptionKind::Malformed(reason)));
        if !buf.is_empty() {
            return malformed("trailing bytes after node");
        }
        match &node {
            TrieNode::EmptyRoot => return malformed("empty node stored"),
            TrieNode::Leaf(leaf) if path.len() + leaf.key.len() != KEY_NIBBLES => {
                return malformed("leaf does not end at nibble 64");
            }
            TrieNode::Extension(ext) if ext.key.is_empty() => {
                return malformed("extension with empty key");
            }
            TrieNode::Extension(ext) if path.len() + ext.key.len() >= KEY_NIBBLES => {
                return malformed("extension reaches the key length");
            }
            TrieNode::Branch(_) if path.len() >= KEY_NIBBLES => {
                return malformed("branch at the key length");
            }
            TrieNode::Branch(branch) if branch.state_mask.count_bits() < 2 => {
                return malformed("branch with fewer than two children");
            }
            _ => {}
        }
        Ok(node)
    }
}
