//! Rehashing dirty nodes bottom-up and writing them back under their paths.

use super::{
    error::Result,
    node::TrieLocation,
    sparse_trie::{Previous, TrieStats},
    store::NodeStoreMut,
    update::{Node, child_path},
};
use alloy_rlp::Encodable;
use alloy_trie::{
    Nibbles, TrieMask,
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode},
};

/// Rehashes dirty nodes bottom-up and writes them to the table.
pub(super) struct Writer<'a, S> {
    pub(super) table: &'a mut S,
    pub(super) location: TrieLocation<'a>,
    pub(super) buf: Vec<u8>,
    pub(super) stats: &'a mut TrieStats,
    /// Where to push replaced rows, if the caller records history.
    pub(super) previous: Option<&'a mut Previous>,
}

impl<S: NodeStoreMut> Writer<'_, S> {
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
        let replaced = self.table.put(&key, &self.buf, self.previous.is_some())?;
        if let Some(previous) = self.previous.as_deref_mut()
            && replaced.as_deref() != Some(self.buf.as_slice())
        {
            previous.push((*path, replaced));
        }
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
