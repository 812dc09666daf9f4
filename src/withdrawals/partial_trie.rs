//! An in-memory Merkle-Patricia trie over the nodes of an execution witness.
//!
//! It starts as a single reference to a root hash; nodes are looked up by hash in the witness
//! when a read or an update walks through them. Reads never change the trie; updates (insert,
//! delete with branch collapse) replace the nodes on the key's path. A walk that needs a node the
//! witness does not hold fails with [`WitnessError::MissingNode`]: the witness is incomplete (or
//! tampered with), never a panic.

use super::stateless::WitnessError;
use alloy_primitives::{B256, Bytes, keccak256, map::B256Map};
use alloy_rlp::{Decodable, EMPTY_STRING_CODE};
use alloy_trie::{
    EMPTY_ROOT_HASH, Nibbles, TrieMask,
    nodes::{BranchNode, ExtensionNode, LeafNode, RlpNode, TrieNode},
};

/// Witness nodes by hash.
pub(crate) type NodeMap = B256Map<Bytes>;

#[derive(Debug, Clone)]
enum Node {
    Empty,
    /// Not yet resolved: a subtree known by its hash only.
    Hash(B256),
    Leaf(Nibbles, Vec<u8>),
    Extension(Nibbles, Box<Self>),
    Branch(Box<[Self; 16]>),
}

fn empty_children() -> Box<[Node; 16]> {
    Box::new(std::array::from_fn(|_| Node::Empty))
}

/// A trie whose nodes come from a witness.
#[derive(Debug, Clone)]
pub(crate) struct PartialTrie {
    root: Node,
}

impl PartialTrie {
    /// The trie with root `root`.
    pub(crate) fn new(root: B256) -> Self {
        Self {
            root: if root == EMPTY_ROOT_HASH {
                Node::Empty
            } else {
                Node::Hash(root)
            },
        }
    }

    /// The empty trie.
    pub(crate) const fn empty() -> Self {
        Self { root: Node::Empty }
    }

    /// The value under `key` (a 32-byte hashed key), if any.
    pub(crate) fn get(&self, nodes: &NodeMap, key: &B256) -> Result<Option<Vec<u8>>, WitnessError> {
        get(&self.root, nodes, Nibbles::unpack(key))
    }

    /// Sets `key` to `value`.
    pub(crate) fn insert(
        &mut self,
        nodes: &NodeMap,
        key: &B256,
        value: Vec<u8>,
    ) -> Result<(), WitnessError> {
        let root = std::mem::replace(&mut self.root, Node::Empty);
        self.root = insert(root, nodes, Nibbles::unpack(key), value)?;
        Ok(())
    }

    /// Removes `key` (no-op if absent).
    pub(crate) fn remove(&mut self, nodes: &NodeMap, key: &B256) -> Result<(), WitnessError> {
        let root = std::mem::replace(&mut self.root, Node::Empty);
        self.root = remove(root, nodes, Nibbles::unpack(key))?;
        Ok(())
    }

    /// The root hash.
    pub(crate) fn root(&self) -> B256 {
        match &self.root {
            Node::Empty => EMPTY_ROOT_HASH,
            Node::Hash(hash) => *hash,
            node => keccak256(encode(node)),
        }
    }
}

/// Decodes the node behind a child reference (a hash, or an embedded node).
fn from_reference(reference: &RlpNode) -> Result<Node, WitnessError> {
    match reference.as_hash() {
        Some(hash) => Ok(Node::Hash(hash)),
        None => decode(reference.as_slice(), B256::ZERO),
    }
}

fn decode(rlp: &[u8], hash: B256) -> Result<Node, WitnessError> {
    let node = TrieNode::decode(&mut &rlp[..]).map_err(|err| WitnessError::BadNode {
        hash,
        message: err.to_string(),
    })?;
    Ok(match node {
        TrieNode::EmptyRoot => Node::Empty,
        TrieNode::Leaf(leaf) => Node::Leaf(leaf.key, leaf.value),
        TrieNode::Extension(ext) => Node::Extension(ext.key, Box::new(from_reference(&ext.child)?)),
        TrieNode::Branch(branch) => {
            let mut children = empty_children();
            let mut stack = branch.stack.iter();
            for nibble in 0..16u8 {
                if branch.state_mask.is_bit_set(nibble) {
                    let child = stack.next().ok_or_else(|| WitnessError::BadNode {
                        hash,
                        message: "branch mask and children disagree".into(),
                    })?;
                    children[nibble as usize] = from_reference(child)?;
                }
            }
            Node::Branch(children)
        }
    })
}

/// Replaces a hash reference by the node it names.
fn resolve(node: Node, nodes: &NodeMap) -> Result<Node, WitnessError> {
    match node {
        Node::Hash(hash) => {
            let rlp = nodes.get(&hash).ok_or(WitnessError::MissingNode(hash))?;
            decode(rlp, hash)
        }
        other => Ok(other),
    }
}

fn get(node: &Node, nodes: &NodeMap, key: Nibbles) -> Result<Option<Vec<u8>>, WitnessError> {
    match node {
        Node::Empty => Ok(None),
        Node::Hash(_) => get(&resolve(node.clone(), nodes)?, nodes, key),
        Node::Leaf(rest, value) => Ok((*rest == key).then(|| value.clone())),
        Node::Extension(prefix, child) => {
            if key.starts_with(prefix) {
                get(child, nodes, key.slice(prefix.len()..))
            } else {
                Ok(None)
            }
        }
        Node::Branch(children) => match key.first() {
            Some(nibble) => get(&children[nibble as usize], nodes, key.slice(1..)),
            None => Ok(None),
        },
    }
}

/// `prefix ‖ node`: an extension, unless the prefix is empty.
fn prefixed(prefix: Nibbles, node: Node) -> Node {
    if prefix.is_empty() {
        node
    } else {
        Node::Extension(prefix, Box::new(node))
    }
}

fn insert(node: Node, nodes: &NodeMap, key: Nibbles, value: Vec<u8>) -> Result<Node, WitnessError> {
    Ok(match resolve(node, nodes)? {
        Node::Empty => Node::Leaf(key, value),
        Node::Leaf(rest, old) => {
            if rest == key {
                return Ok(Node::Leaf(key, value));
            }
            let common = rest.common_prefix_length(&key);
            if common >= rest.len() || common >= key.len() {
                return Err(WitnessError::BadKey);
            }
            let mut children = empty_children();
            children[rest.get_unchecked(common) as usize] =
                Node::Leaf(rest.slice(common + 1..), old);
            children[key.get_unchecked(common) as usize] =
                Node::Leaf(key.slice(common + 1..), value);
            prefixed(key.slice(..common), Node::Branch(children))
        }
        Node::Extension(prefix, child) => {
            let common = prefix.common_prefix_length(&key);
            if common == prefix.len() {
                let child = insert(*child, nodes, key.slice(common..), value)?;
                return Ok(Node::Extension(prefix, Box::new(child)));
            }
            if common >= key.len() {
                return Err(WitnessError::BadKey);
            }
            let mut children = empty_children();
            children[prefix.get_unchecked(common) as usize] =
                prefixed(prefix.slice(common + 1..), *child);
            children[key.get_unchecked(common) as usize] =
                Node::Leaf(key.slice(common + 1..), value);
            prefixed(key.slice(..common), Node::Branch(children))
        }
        Node::Branch(mut children) => {
            let Some(nibble) = key.first() else {
                return Err(WitnessError::BadKey);
            };
            let child = std::mem::replace(&mut children[nibble as usize], Node::Empty);
            children[nibble as usize] = insert(child, nodes, key.slice(1..), value)?;
            Node::Branch(children)
        }
        // `resolve` never returns a hash reference.
        Node::Hash(hash) => return Err(WitnessError::MissingNode(hash)),
    })
}

fn remove(node: Node, nodes: &NodeMap, key: Nibbles) -> Result<Node, WitnessError> {
    Ok(match resolve(node, nodes)? {
        Node::Empty => Node::Empty,
        Node::Leaf(rest, value) => {
            if rest == key {
                Node::Empty
            } else {
                Node::Leaf(rest, value)
            }
        }
        Node::Extension(prefix, child) => {
            if !key.starts_with(&prefix) {
                return Ok(Node::Extension(prefix, child));
            }
            let child = remove(*child, nodes, key.slice(prefix.len()..))?;
            join(prefix, child)?
        }
        Node::Branch(mut children) => {
            let Some(nibble) = key.first() else {
                return Ok(Node::Branch(children));
            };
            let child = std::mem::replace(&mut children[nibble as usize], Node::Empty);
            children[nibble as usize] = remove(child, nodes, key.slice(1..))?;
            let mut left = children
                .iter()
                .enumerate()
                .filter(|(_, c)| !matches!(c, Node::Empty))
                .map(|(i, _)| i);
            match (left.next(), left.next()) {
                (None, _) => Node::Empty,
                (Some(only), None) => {
                    // Collapse: the last child moves up, so it must be known.
                    let child = std::mem::replace(&mut children[only], Node::Empty);
                    let child = resolve(child, nodes)?;
                    join(Nibbles::from_nibbles([only as u8]), child)?
                }
                _ => Node::Branch(children),
            }
        }
        // `resolve` never returns a hash reference.
        Node::Hash(hash) => return Err(WitnessError::MissingNode(hash)),
    })
}

/// `prefix ‖ node`, merging into a leaf or extension below. A merged path longer than a key (a
/// malformed witness) is an error, not a panic.
fn join(prefix: Nibbles, node: Node) -> Result<Node, WitnessError> {
    let concat = |rest: &Nibbles| {
        if prefix.len() + rest.len() > 64 {
            return Err(WitnessError::BadKey);
        }
        Ok(prefix.join(rest))
    };
    Ok(match node {
        Node::Empty => Node::Empty,
        Node::Leaf(rest, value) => Node::Leaf(concat(&rest)?, value),
        Node::Extension(rest, child) => Node::Extension(concat(&rest)?, child),
        other => prefixed(prefix, other),
    })
}

fn encode(node: &Node) -> Vec<u8> {
    match node {
        Node::Empty => vec![EMPTY_STRING_CODE],
        Node::Hash(hash) => alloy_rlp::encode(hash),
        Node::Leaf(key, value) => alloy_rlp::encode(LeafNode::new(*key, value.clone())),
        Node::Extension(key, child) => {
            alloy_rlp::encode(ExtensionNode::new(*key, reference(child)))
        }
        Node::Branch(children) => {
            let mut mask = TrieMask::default();
            let mut stack = Vec::new();
            for (nibble, child) in children.iter().enumerate() {
                if !matches!(child, Node::Empty) {
                    mask.set_bit(nibble as u8);
                    stack.push(reference(child));
                }
            }
            alloy_rlp::encode(BranchNode::new(stack, mask))
        }
    }
}

/// How a parent refers to `node`: embedded if its RLP is shorter than 32 bytes, else by hash.
fn reference(node: &Node) -> RlpNode {
    match node {
        Node::Hash(hash) => RlpNode::word_rlp(hash),
        other => RlpNode::from_rlp(&encode(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_trie::{HashBuilder, proof::ProofRetainer};
    use std::collections::BTreeMap;

    fn key(i: u64) -> B256 {
        keccak256(i.to_be_bytes())
    }

    /// Root of `leaves` and every node of their trie, by hash.
    fn full_trie(leaves: &BTreeMap<B256, Vec<u8>>) -> (B256, NodeMap) {
        let targets = leaves.keys().map(Nibbles::unpack).collect();
        let mut builder = HashBuilder::default().with_proof_retainer(ProofRetainer::new(targets));
        for (k, v) in leaves {
            builder.add_leaf(Nibbles::unpack(k), v);
        }
        let root = builder.root();
        let nodes = builder
            .take_proof_nodes()
            .into_nodes_sorted()
            .into_iter()
            .map(|(_, node)| (keccak256(&node), node))
            .collect();
        (root, nodes)
    }

    #[test]
    fn updates_match_a_rebuilt_trie() {
        for size in [0u64, 1, 2, 3, 17, 300] {
            let mut leaves: BTreeMap<B256, Vec<u8>> = (0..size)
                .map(|i| (key(i), vec![1; 1 + (i % 40) as usize]))
                .collect();
            let (root, nodes) = full_trie(&leaves);
            let mut trie = PartialTrie::new(root);
            assert_eq!(trie.root(), root);
            for i in 0..size {
                assert_eq!(
                    trie.get(&nodes, &key(i)).expect("get"),
                    leaves.get(&key(i)).cloned()
                );
            }
            // Delete every third key, change every fifth, add new ones.
            for i in (0..size).step_by(3) {
                trie.remove(&nodes, &key(i)).expect("remove");
                leaves.remove(&key(i));
            }
            for i in (0..size).step_by(5) {
                trie.insert(&nodes, &key(i), vec![9; 3]).expect("insert");
                leaves.insert(key(i), vec![9; 3]);
            }
            for i in size..size + 7 {
                trie.insert(&nodes, &key(i), vec![7; 50]).expect("insert");
                leaves.insert(key(i), vec![7; 50]);
            }
            trie.remove(&nodes, &key(10_000)).expect("absent key");
            let (expected, _) = full_trie(&leaves);
            assert_eq!(trie.root(), expected, "size {size}");
            for k in leaves.keys().copied().collect::<Vec<_>>() {
                trie.remove(&nodes, &k).expect("remove all");
            }
            assert_eq!(trie.root(), EMPTY_ROOT_HASH);
        }
    }

    #[test]
    fn missing_and_malformed_nodes_are_errors() {
        let leaves: BTreeMap<B256, Vec<u8>> = (0..50).map(|i| (key(i), vec![1; 40])).collect();
        let (root, nodes) = full_trie(&leaves);
        let trie = PartialTrie::new(root);
        let empty = NodeMap::default();
        assert!(
            matches!(trie.get(&empty, &key(1)), Err(WitnessError::MissingNode(h)) if h == root)
        );
        let mut garbage = NodeMap::default();
        garbage.insert(root, Bytes::from_static(&[0xc2, 0x01]));
        assert!(matches!(
            trie.get(&garbage, &key(1)),
            Err(WitnessError::BadNode { .. })
        ));
        // A sibling leaf whose path is too long cannot be merged upwards.
        let long = Node::Leaf(Nibbles::unpack(key(1)), vec![1]);
        assert!(matches!(
            join(Nibbles::from_nibbles([1u8]), long),
            Err(WitnessError::BadKey)
        ));
        assert!(trie.get(&nodes, &key(1)).expect("get").is_some());
    }
}
