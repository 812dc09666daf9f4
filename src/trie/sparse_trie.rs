//! One trie being updated: the partially loaded node tree plus the bookkeeping for write-back.

use super::{
    error::{CorruptionKind, Result},
    node::TrieLocation,
    rehash::{Writer, has_node_at},
    store::{NodeStore, NodeStoreMut},
    update::{Loader, Node},
};
use alloy_primitives::{B256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, nodes::RlpNode};

/// Node reads and writes of one or more trie updates, for cost accounting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrieStats {
    /// Nodes read from redb.
    pub(crate) reads: usize,
    /// Nodes written to redb.
    pub(crate) writes: usize,
    /// Node rows deleted from redb (excluding whole-trie wipes).
    pub(crate) deletes: usize,
}

impl std::ops::AddAssign for TrieStats {
    fn add_assign(&mut self, other: Self) {
        self.reads += other.reads;
        self.writes += other.writes;
        self.deletes += other.deletes;
    }
}

/// Nodes a commit replaced or deleted, with their previous RLP (`None`: the path had no node).
pub(crate) type Previous = Vec<(Nibbles, Option<Vec<u8>>)>;

/// One trie being updated: the partially loaded node tree plus the bookkeeping for write-back.
#[derive(Debug)]
pub(crate) struct SparseTrie {
    root: Node,
    /// Paths whose rows were read; the candidates for deletion.
    loaded: Vec<Nibbles>,
    stats: TrieStats,
}

impl SparseTrie {
    /// A trie with no nodes (e.g. a storage trie that was just wiped).
    pub(crate) fn empty() -> Self {
        Self {
            root: Node::Empty,
            loaded: Vec::new(),
            stats: TrieStats::default(),
        }
    }

    /// Opens the trie at `location`, loading its root node. If `expected_root` is given, the
    /// stored root must hash to it.
    pub(crate) fn open<T>(
        table: &T,
        location: TrieLocation<'_>,
        expected_root: Option<B256>,
    ) -> Result<Self>
    where
        T: NodeStore,
    {
        let mut trie = Self::empty();
        let (mut loader, _) = trie.split(table, location);
        trie.root = loader.load(&Nibbles::new(), None)?.unwrap_or(Node::Empty);
        if let Some(expected) = expected_root {
            let stored = match &trie.root {
                Node::Empty => EMPTY_ROOT_HASH,
                _ => trie.clean_root_hash(),
            };
            if stored != expected {
                return Err(location.corrupt(&Nibbles::new(), CorruptionKind::ReferenceMismatch));
            }
        }
        Ok(trie)
    }

    /// Root hash of a freshly loaded root (its cached reference, hashed if inline).
    fn clean_root_hash(&self) -> B256 {
        match &self.root {
            Node::Leaf { rlp: Some(r), .. }
            | Node::Extension { rlp: Some(r), .. }
            | Node::Branch { rlp: Some(r), .. } => root_hash(r),
            _ => EMPTY_ROOT_HASH,
        }
    }

    /// A loader over `table` together with the root it operates on.
    fn split<'a, T>(
        &'a mut self,
        table: &'a T,
        location: TrieLocation<'a>,
    ) -> (Loader<'a, T>, &'a mut Node) {
        let loader = Loader {
            table,
            location,
            loaded: &mut self.loaded,
            stats: &mut self.stats,
        };
        (loader, &mut self.root)
    }

    /// Value stored under the full key `key`.
    pub(crate) fn get<T>(
        &mut self,
        table: &T,
        location: TrieLocation<'_>,
        key: &B256,
    ) -> Result<Option<Vec<u8>>>
    where
        T: NodeStore,
    {
        let (mut loader, root) = self.split(table, location);
        loader.get(root, Nibbles::new(), Nibbles::unpack(key))
    }

    /// Sets the value under the full key `key`.
    pub(crate) fn insert<T>(
        &mut self,
        table: &T,
        location: TrieLocation<'_>,
        key: &B256,
        value: Vec<u8>,
    ) -> Result<()>
    where
        T: NodeStore,
    {
        let (mut loader, root) = self.split(table, location);
        loader
            .insert(root, Nibbles::new(), Nibbles::unpack(key), value)
            .map(drop)
    }

    /// Removes the full key `key` if present.
    pub(crate) fn remove<T>(
        &mut self,
        table: &T,
        location: TrieLocation<'_>,
        key: &B256,
    ) -> Result<()>
    where
        T: NodeStore,
    {
        let (mut loader, root) = self.split(table, location);
        loader
            .remove(root, Nibbles::new(), Nibbles::unpack(key))
            .map(drop)
    }

    /// Hashes and writes dirty nodes, deletes rows of nodes that disappeared, and returns the
    /// root hash with the node reads/writes of this trie's update. With `previous`, every path
    /// whose row changed is pushed with its row from before.
    pub(crate) fn commit<S: NodeStoreMut>(
        mut self,
        table: &mut S,
        location: TrieLocation<'_>,
        mut previous: Option<&mut Previous>,
    ) -> Result<(B256, TrieStats)> {
        let mut stats = self.stats;
        let root = {
            let mut writer = Writer {
                table,
                location,
                buf: Vec::new(),
                stats: &mut stats,
                previous: previous.as_deref_mut(),
            };
            match &mut self.root {
                Node::Empty => EMPTY_ROOT_HASH,
                root => root_hash(&writer.commit(root, Nibbles::new())?),
            }
        };
        for path in &self.loaded {
            if !has_node_at(&self.root, Nibbles::new(), path) {
                let key = location.key(path);
                let removed = table.delete(&key, previous.is_some())?;
                if let (Some(previous), Some(node)) = (previous.as_deref_mut(), removed) {
                    previous.push((*path, Some(node)));
                }
                stats.deletes += 1;
            }
        }
        Ok((root, stats))
    }
}

/// Hash of a root node given its reference (the root is always hashed, even when short).
fn root_hash(reference: &RlpNode) -> B256 {
    reference
        .as_hash()
        .unwrap_or_else(|| keccak256(reference.as_slice()))
}
