//! redb tables holding the persisted state trie.
//!
//! Every node of every trie is stored under its *nibble path*: one nibble (`0x0..=0xf`) per key
//! byte, so byte order equals depth-first trie order (a parent sorts before its children, siblings
//! ascend). The value is the node's canonical Ethereum RLP, which is at the same time the proof
//! element for `eth_getProof` and the preimage of the node's hash.

use redb::TableDefinition;

/// Account trie nodes: key = nibble path (0..=64 bytes, the root is the empty key), value = node
/// RLP.
pub const ACCOUNT_TRIE: TableDefinition<'static, &[u8], &[u8]> =
    TableDefinition::new(ACCOUNT_TRIE_NAME);

/// Storage trie nodes of all accounts: key = `keccak(address)` (32 bytes) ‖ nibble path, value =
/// node RLP. The storage trie of one account occupies the contiguous key range starting with its
/// hashed address.
pub const STORAGE_TRIE: TableDefinition<'static, &[u8], &[u8]> =
    TableDefinition::new(STORAGE_TRIE_NAME);

/// History of the nodes of tracked storage tries (see `super::history`): key = `keccak(address)`
/// (32 bytes) ‖ path length (1 byte) ‖ nibble path ‖ block number (8 bytes BE), value = the node's
/// RLP before that block changed it, empty when there was no node at that path.
pub const STORAGE_TRIE_HISTORY: TableDefinition<'static, &[u8], &[u8]> =
    TableDefinition::new("storage_trie_history");

/// Name of [`ACCOUNT_TRIE`], used in error messages.
pub(crate) const ACCOUNT_TRIE_NAME: &str = "account_trie";

/// Name of [`STORAGE_TRIE`], used in error messages.
pub(crate) const STORAGE_TRIE_NAME: &str = "storage_trie";
