//! Errors of the state trie.

use alloy_primitives::B256;

/// Result alias of the state trie.
pub type Result<T, E = TrieError> = std::result::Result<T, E>;

/// Why a stored node could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptionKind {
    /// The bytes are not the RLP of a trie node.
    #[error("undecodable node: {0}")]
    Undecodable(alloy_rlp::Error),
    /// The node decoded but is not canonical at its position (key length, empty extension, ...).
    #[error("malformed node: {0}")]
    Malformed(&'static str),
    /// The node's hash (or inline RLP) differs from the reference its parent holds.
    #[error("node does not match the reference held by its parent")]
    ReferenceMismatch,
    /// The parent references a child that is not stored.
    #[error("referenced node is missing")]
    Missing,
    /// A leaf value (account or storage slot RLP) does not decode.
    #[error("undecodable leaf value: {0}")]
    LeafValue(alloy_rlp::Error),
}

/// Errors of the state trie.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A redb read or write failed.
    #[error("trie storage: {0}")]
    Storage(#[from] redb::StorageError),
    /// A redb table could not be opened.
    #[error("trie table: {0}")]
    Table(#[from] redb::TableError),
    /// A stored node is unusable; the database is corrupt.
    #[error("corrupt trie node in table `{table}` at path {path}: {kind}")]
    CorruptNode {
        /// Name of the redb table.
        table: &'static str,
        /// Location of the node: nibble path in hex, prefixed by the hashed address for storage
        /// tries (`0x<keccak(address)>/0x<nibbles>`).
        path: String,
        /// What is wrong with it.
        kind: CorruptionKind,
    },
    /// Storage changes were given for an account that neither exists nor is created.
    #[error("storage changes for non-existent account with hashed address {hashed_address}")]
    StorageWithoutAccount {
        /// `keccak(address)` of the account.
        hashed_address: B256,
    },
}
