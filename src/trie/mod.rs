//! Incremental, persisted Ethereum Merkle-Patricia state trie on redb.
//!
//! # Design
//!
//! Every node of the account trie and of every storage trie is stored under its nibble path (see
//! [`tables`]): the value is the node's canonical RLP. Leaves hold the values themselves
//! (`rlp(TrieAccount)` for accounts, `rlp(U256)` for slots), so the tries are self-contained: an
//! account's nonce, balance, code hash and storage root can be read from its leaf, and a proof or
//! execution witness is the list of stored RLPs along a path.
//!
//! Storing every node (not only branches, as reth does with a separate leaf table) costs more
//! space but makes proofs and witnesses a plain walk and keeps one source of truth.
//!
//! A block's changes ([`HashedPostState`], keyed by `keccak(address)` / `keccak(slot)`) are applied
//! by [`apply_changes`] inside the caller's redb write transaction:
//!
//! 1. keys are processed in sorted order; for each touched account its storage trie is updated
//!    first (wiped with one range delete when the account was destroyed), then its leaf;
//! 2. an update loads the root, then only the nodes on the paths of changed keys, lazily, into an
//!    in-memory sparse tree that lives for the whole update (so nodes shared by several keys are
//!    read once); unvisited subtrees stay placeholders holding their parent's reference;
//! 3. inserts split leaves/extensions, deletes collapse a branch left with one child into its
//!    sibling (which is loaded for that), merging extensions and leaves;
//! 4. at the end dirty nodes are re-encoded and rehashed bottom-up and written under their path,
//!    and loaded paths where no node remains are deleted.
//!
//! The same update runs against any `store`: the redb tables inside a block's write transaction,
//! or an in-memory overlay (a read snapshot's rows with pending ancestors' rows on top) for blocks
//! consensus is still voting on; [`compute_updates`] returns such a block's changed rows as
//! [`TrieUpdates`], which [`write_updates`] writes verbatim when it commits, so a block's trie is
//! computed once. Storage tries named in a [`TrieHistory`] also record their nodes' previous
//! values per block, so [`storage_proof_at`] proves their slots at past blocks (`history`).
//!
//! References between nodes follow Ethereum exactly: a child whose RLP is shorter than 32 bytes is
//! embedded in its parent, otherwise referenced by keccak. An empty trie has no rows and root
//! [`EMPTY_ROOT_HASH`](alloy_trie::EMPTY_ROOT_HASH).
//!
//! # Invariants
//!
//! - The rows of a trie are exactly the nodes of the canonical trie of its current key set, each
//!   under its path (no stale rows): the result does not depend on the history of updates.
//! - An account without a leaf has no storage-trie rows; an account leaf's `storage_root` is the
//!   hash of the root row of its storage trie (checked whenever that storage trie is updated).
//! - Leaves and extensions are rewritten when they move; branches never move (a branch sits where
//!   its keys diverge), so an unvisited subtree's rows stay valid under any update.
//! - Nodes read from disk are validated (decodable, plausible for their position, matching the
//!   parent's reference); a violation is a [`TrieError::CorruptNode`], never a panic.
//!
//! # Cost model
//!
//! Per block: for each changed key, the nodes on its path (depth ≈ log16 of the trie's size, plus
//! one sibling per branch collapse) are read, rehashed and written; nothing else is touched,
//! except that wiping a storage trie deletes all its rows. A bulk load (genesis) builds the whole
//! trie in memory (O(n log n), about 300 bytes per key) and writes each final node once, in a
//! single pass; there is no per-key write of intermediate states. A restart rebuilds nothing.
//! Errors leave the write transaction partially updated: the caller must abort it.

// Layout: `hashed_state` (input), `apply` (per-block driver), `sparse_trie` (one trie's update
// session), `update` (in-memory node tree: load, insert, delete, collapse), `rehash` (bottom-up
// hashing and write-back), `node` (row keys and node codec), `proof`, `history` (node history of
// tracked storage tries), `root`, `tables`, `error`.

mod apply;
mod error;
mod hashed_state;
mod history;
mod node;
mod proof;
mod rehash;
mod root;
mod sparse_trie;
mod store;
pub mod tables;
mod update;

#[cfg(test)]
mod tests;

pub use apply::{apply_changes, apply_changes_with_history, compute_updates, write_updates};
pub use error::{CorruptionKind, Result, TrieError};
pub use hashed_state::{HashedAccount, HashedPostState, HashedStorage};
pub use history::{TrieHistory, storage_proof_at};
pub use proof::{AccountProof, StorageProof, account_leaf, account_proof};
pub use root::state_root;
pub use store::TrieUpdates;
