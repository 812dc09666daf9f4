//! Rehashing dirty nodes bottom-up and writing them back under their paths.

use super::{
    error::Result,
    node::TrieLocation,
    sparse_trie::TrieStats,
    update::{Node, child_path},
};
use alloy_rlp::Encodable;
use alloy_trie::{
    Nibbles, TrieMask,
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode},
};
use redb::Table;

/// Rehashes dirty nodes bottom-up and writes them to the table.
pub(super) struct Writer<'a, 'txn> {
    pub(super) table: &'a mut Table<'txn, &'static [u8], &'static [u8]>,
    pub(super) location: TrieLocation<'a>,
    pub(super) buf: Vec<u8>,
    pub(super) stats: &'a mut TrieStats,
}

impl Writer<'_, '_> {
    /// Returns the node's reference, writing it (and its dirty descendants) if dirty.
    pub(super) fn commit(&mut self, node: &mut Node, path: Nibbles) -> Result<RlpNode> {
        match node {
            Node::Empty => Ok(RlpNode::from_rlp(&[alloy_rlp::EMPTY_STRING_CODE])),
            Node::Stored(reference) => Ok(reference.clone()),
            Node::Leaf {
                rlp: Some(reference),
                ..
            }
            | Node::Extension {
                rlp: Some(reference),
                ..
            }
            | Node::Branch {
                rlp: Some(reference),
                ..
            } => Ok(reference.clone()),
            Node::Leaf { key, value, rlp } => {
                self.buf.clear();
                LeafNodeRef::new(key, value).encode(&mut self.buf);
                Ok(rlp.insert(self.write(&path)?).clone())
            }
            Node::Extension { key, child, rlp } => {
                let child_ref = self.commit(child, path.join(key))?;
                self.buf.clear();
                ExtensionNodeRef::new(key, &child_ref).encode(&mut self.buf);
                Ok(rlp.insert(self.write(&path)?).clone())
            }
            Node::Branch { children, rlp } => {
                let mut stack = Vec::with_capacity(16);
                let mut mask = TrieMask::default();
                for (nibble, child) in (0u8..).zip(children.iter_mut()) {
                    if let Some(child) = child {
                        stack.push(self.commit(child, child_path(&path, nibble))?);
                        mask.set_bit(nibble);
                    }
                }
                self.buf.clear();
                BranchNodeRef::new(&stack, mask).encode(&mut self.buf);
                Ok(rlp.insert(self.write(&path)?).clone())
            }
        }
    }

    /// Writes `self.buf` as the node at `path` and returns its reference.
    fn write(&mut self, path: &Nibbles) -> Result<RlpNode> {
        let key = self.location.key(path);
        self.table.insert(key.as_slice(), self.buf.as_slice())?;
        self.stats.writes += 1;
        Ok(RlpNode::from_rlp(&self.buf))
    }
}

/// Whether the final trie has a node (loaded or not) exactly at `target`.
pub(super) fn has_node_at(node: &Node, path: Nibbles, target: &Nibbles) -> bool {
    if path.len() == target.len() {
        return !matches!(node, Node::Empty);
    }
    match node {
        Node::Extension { key, child, .. } => {
            let child_path = path.join(key);
            target.starts_with(&child_path) && has_node_at(child, child_path, target)
        }
        Node::Branch { children, .. } => {
            let nibble = target.get_unchecked(path.len());
            children[usize::from(nibble)]
                .as_ref()
                .is_some_and(|child| has_node_at(child, child_path(&path, nibble), target))
        }
        Node::Empty | Node::Stored(_) | Node::Leaf { .. } => false,
    }
}
