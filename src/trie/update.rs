//! In-memory update of one trie: the node tree and the operations that load nodes on the way
//! to a key and insert, update or delete it.
//!
//! Every node that is not loaded is a [`Node::Stored`] placeholder holding the reference
//! (`RlpNode`) its parent has for it; it is read from redb the first time an operation walks
//! through it and then stays in memory for the rest of the update.
//!
//! Invariants while updating:
//! - a node's `rlp` cache is `Some` only if the node and its whole subtree are unchanged since
//!   they were loaded, so they are still stored, under this very path (a clean node never moves:
//!   every operation that moves a leaf or an extension builds a new, dirty node);
//! - branches never move (a branch's path is where its keys diverge), so a `Stored` subtree keeps
//!   its rows; leaves and extensions only move when an operation touched them, i.e. loaded them;
//! - hence the rows to delete are exactly the loaded paths where the final trie has no node.

use super::{
    error::{CorruptionKind, Result},
    node::TrieLocation,
    sparse_trie::TrieStats,
    store::NodeStore,
};
use alloy_trie::{
    Nibbles,
    nodes::{RlpNode, TrieNode},
};

/// The 16 children of a branch; `None` = no child at that nibble.
pub(super) type Children = [Option<Box<Node>>; 16];

/// A trie node in memory. `rlp` caches the node's reference while it is clean (see module docs).
#[derive(Debug)]
pub(super) enum Node {
    /// No node (only as the root of an empty trie, or transiently during a delete).
    Empty,
    /// Unchanged subtree that is not loaded; its root is stored at this node's path.
    Stored(RlpNode),
    /// Leaf: the rest of the key and the value.
    Leaf {
        key: Nibbles,
        value: Vec<u8>,
        rlp: Option<RlpNode>,
    },
    /// Extension: shared key part and the child (a branch) at `path ‖ key`.
    Extension {
        key: Nibbles,
        child: Box<Self>,
        rlp: Option<RlpNode>,
    },
    /// Branch with at least two children (child `i` lives at `path ‖ i`).
    Branch {
        children: Box<Children>,
        rlp: Option<RlpNode>,
    },
}

impl Node {
    fn leaf(key: Nibbles, value: Vec<u8>) -> Self {
        Self::Leaf {
            key,
            value,
            rlp: None,
        }
    }

    fn extension(key: Nibbles, child: Self) -> Self {
        Self::Extension {
            key,
            child: Box::new(child),
            rlp: None,
        }
    }

    /// `node` behind an extension of `key`, or `node` itself when `key` is empty.
    fn behind(key: Nibbles, node: Self) -> Self {
        if key.is_empty() {
            node
        } else {
            Self::extension(key, node)
        }
    }

    /// Prepends `prefix` to the key of a node that moves up to a shorter path. A branch cannot
    /// move: it gets an extension in front.
    fn moved_up(prefix: Nibbles, node: Self) -> Self {
        match node {
            Self::Leaf { key, value, .. } => Self::leaf(prefix.join(&key), value),
            Self::Extension { key, child, .. } => Self::Extension {
                key: prefix.join(&key),
                child,
                rlp: None,
            },
            Self::Empty => Self::Empty,
            branch @ (Self::Branch { .. } | Self::Stored(_)) => Self::extension(prefix, branch),
        }
    }
}

/// Joins `path` and one nibble.
pub(super) fn child_path(path: &Nibbles, nibble: u8) -> Nibbles {
    let mut child = *path;
    child.push_unchecked(nibble);
    child
}

/// Reads nodes of one trie from a table, remembering which paths were loaded.
pub(super) struct Loader<'a, T> {
    pub(super) table: &'a T,
    pub(super) location: TrieLocation<'a>,
    pub(super) loaded: &'a mut Vec<Nibbles>,
    pub(super) stats: &'a mut TrieStats,
}

impl<T> Loader<'_, T>
where
    T: NodeStore,
{
    /// Loads the node at `path`; `expected` is the parent's reference to it (`None` for the root).
    /// Returns `None` only for a missing root.
    pub(super) fn load(
        &mut self,
        path: &Nibbles,
        expected: Option<&RlpNode>,
    ) -> Result<Option<Node>> {
        let Some(rlp) = self.table.get(&self.location.key(path))? else {
            return match expected {
                None => Ok(None),
                Some(_) => Err(self.location.corrupt(path, CorruptionKind::Missing)),
            };
        };
        self.stats.reads += 1;
        let decoded = self.location.decode(path, &rlp)?;
        let reference = RlpNode::from_rlp(&rlp);
        if expected.is_some_and(|expected| *expected != reference) {
            return Err(self
                .location
                .corrupt(path, CorruptionKind::ReferenceMismatch));
        }
        let node = match decoded {
            TrieNode::Leaf(leaf) => Node::Leaf {
                key: leaf.key,
                value: leaf.value,
                rlp: Some(reference),
            },
            TrieNode::Extension(ext) => Node::Extension {
                key: ext.key,
                child: Box::new(Node::Stored(ext.child)),
                rlp: Some(reference),
            },
            TrieNode::Branch(branch) => {
                let mut children: Box<Children> = Box::default();
                for (nibble, child) in branch.state_mask.iter().zip(branch.stack) {
                    children[usize::from(nibble)] = Some(Box::new(Node::Stored(child)));
                }
                Node::Branch {
                    children,
                    rlp: Some(reference),
                }
            }
            // `decode` rejects a stored empty node.
            TrieNode::EmptyRoot => Node::Empty,
        };
        self.loaded.push(*path);
        Ok(Some(node))
    }

    /// Replaces a `Stored` placeholder at `path` by the loaded node.
    fn resolve(&mut self, node: &mut Node, path: &Nibbles) -> Result<()> {
        if let Node::Stored(reference) = node {
            let reference = reference.clone();
            *node = self
                .load(path, Some(&reference))?
                .ok_or_else(|| self.location.corrupt(path, CorruptionKind::Missing))?;
        }
        Ok(())
    }

    /// Value under `key` (the rest of the full key below `path`).
    pub(super) fn get(
        &mut self,
        node: &mut Node,
        path: Nibbles,
        key: Nibbles,
    ) -> Result<Option<Vec<u8>>> {
        self.resolve(node, &path)?;
        match node {
            Node::Empty | Node::Stored(_) => Ok(None),
            Node::Leaf {
                key: leaf_key,
                value,
                ..
            } => Ok((*leaf_key == key).then(|| value.clone())),
            Node::Extension {
                key: ext_key,
                child,
                ..
            } => {
                if key.starts_with(ext_key) {
                    self.get(child, path.join(ext_key), key.slice(ext_key.len()..))
                } else {
                    Ok(None)
                }
            }
            Node::Branch { children, .. } => {
                let nibble = key.get_unchecked(0);
                match &mut children[usize::from(nibble)] {
                    Some(child) => self.get(child, child_path(&path, nibble), key.slice(1..)),
                    None => Ok(None),
                }
            }
        }
    }

    /// Inserts or updates `key` (the rest of the full key below `path`). Returns whether the trie
    /// changed; changed nodes on the way are marked dirty.
    pub(super) fn insert(
        &mut self,
        node: &mut Node,
        path: Nibbles,
        key: Nibbles,
        value: Vec<u8>,
    ) -> Result<bool> {
        self.resolve(node, &path)?;
        match node {
            Node::Empty => {
                *node = Node::leaf(key, value);
                Ok(true)
            }
            Node::Stored(_) => Ok(false),
            Node::Leaf {
                key: leaf_key,
                value: leaf_value,
                rlp,
            } => {
                if *leaf_key == key {
                    if *leaf_value == value {
                        return Ok(false);
                    }
                    *leaf_value = value;
                    *rlp = None;
                    return Ok(true);
                }
                // Same length (both end at nibble 64) and different, so they diverge inside.
                let common = leaf_key.common_prefix_length(&key);
                let old_nibble = leaf_key.get_unchecked(common);
                let old = Node::leaf(leaf_key.slice(common + 1..), std::mem::take(leaf_value));
                let mut children: Box<Children> = Box::default();
                children[usize::from(old_nibble)] = Some(Box::new(old));
                children[usize::from(key.get_unchecked(common))] =
                    Some(Box::new(Node::leaf(key.slice(common + 1..), value)));
                *node = Node::behind(
                    key.slice(..common),
                    Node::Branch {
                        children,
                        rlp: None,
                    },
                );
                Ok(true)
            }
            Node::Extension {
                key: ext_key,
                child,
                rlp,
            } => {
                let common = ext_key.common_prefix_length(&key);
                if common == ext_key.len() {
                    let changed =
                        self.insert(child, path.join(ext_key), key.slice(common..), value)?;
                    if changed {
                        *rlp = None;
                    }
                    return Ok(changed);
                }
                // Split: a branch at `path ‖ ext_key[..common]`. The old child keeps its path.
                let old_nibble = ext_key.get_unchecked(common);
                let rest = ext_key.slice(common + 1..);
                let old_child = std::mem::replace(child.as_mut(), Node::Empty);
                let mut children: Box<Children> = Box::default();
                children[usize::from(old_nibble)] = Some(Box::new(Node::behind(rest, old_child)));
                children[usize::from(key.get_unchecked(common))] =
                    Some(Box::new(Node::leaf(key.slice(common + 1..), value)));
                *node = Node::behind(
                    ext_key.slice(..common),
                    Node::Branch {
                        children,
                        rlp: None,
                    },
                );
                Ok(true)
            }
            Node::Branch { children, rlp } => {
                let nibble = key.get_unchecked(0);
                let changed = match &mut children[usize::from(nibble)] {
                    Some(child) => {
                        self.insert(child, child_path(&path, nibble), key.slice(1..), value)?
                    }
                    slot @ None => {
                        *slot = Some(Box::new(Node::leaf(key.slice(1..), value)));
                        true
                    }
                };
                if changed {
                    *rlp = None;
                }
                Ok(changed)
            }
        }
    }

    /// Removes `key` (the rest of the full key below `path`) if present, collapsing branches
    /// left with one child. Returns whether the trie changed.
    pub(super) fn remove(&mut self, node: &mut Node, path: Nibbles, key: Nibbles) -> Result<bool> {
        self.resolve(node, &path)?;
        match node {
            Node::Empty | Node::Stored(_) => Ok(false),
            Node::Leaf { key: leaf_key, .. } => {
                if *leaf_key != key {
                    return Ok(false);
                }
                *node = Node::Empty;
                Ok(true)
            }
            Node::Extension {
                key: ext_key,
                child,
                ..
            } => {
                if !key.starts_with(ext_key) {
                    return Ok(false);
                }
                let ext_key = *ext_key;
                let child_path = path.join(&ext_key);
                if !self.remove(child, child_path, key.slice(ext_key.len()..))? {
                    return Ok(false);
                }
                // The child was a branch; after the delete it may have collapsed into a leaf or
                // extension, which merges with this extension.
                self.resolve(child, &child_path)?;
                let child = std::mem::replace(child.as_mut(), Node::Empty);
                *node = match child {
                    Node::Branch { .. } => Node::extension(ext_key, child),
                    other => Node::moved_up(ext_key, other),
                };
                Ok(true)
            }
            Node::Branch { children, rlp } => {
                let nibble = key.get_unchecked(0);
                let slot = &mut children[usize::from(nibble)];
                let Some(child) = slot else { return Ok(false) };
                if !self.remove(child, child_path(&path, nibble), key.slice(1..))? {
                    return Ok(false);
                }
                if matches!(**child, Node::Empty) {
                    *slot = None;
                }
                *rlp = None;
                let mut remaining = children.iter().enumerate().filter(|(_, c)| c.is_some());
                let only = match (remaining.next(), remaining.next()) {
                    (Some((only, _)), None) => only,
                    (None, _) => {
                        *node = Node::Empty;
                        return Ok(true);
                    }
                    (Some(_), Some(_)) => return Ok(true),
                };
                // One child left: it replaces the branch (the sibling must be loaded to know
                // whether it is a leaf, an extension or a branch).
                let only_nibble = only as u8;
                let Some(mut sibling) = children[only].take() else {
                    return Ok(true);
                };
                self.resolve(&mut sibling, &child_path(&path, only_nibble))?;
                *node = Node::moved_up(Nibbles::from_nibbles_unchecked([only_nibble]), *sibling);
                Ok(true)
            }
        }
    }
}
