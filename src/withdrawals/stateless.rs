//! Stateless block execution: re-execute a block from an [`ExecutionWitness`] alone and compute
//! its post-state root, as a challenger does to check a claimed output root.
//!
//! The witness is trusted for nothing: its trie nodes are looked up by their own hash from the
//! parent's state root (taken from the parent header, which must hash to the block's
//! `parentHash`), codes by their hash, and ancestor headers must form a hash chain up to the
//! parent. Missing or wrong data makes a read fail or the computed root differ.

use super::partial_trie::{NodeMap, PartialTrie};
use crate::{
    chainspec::ChainSpec,
    engine::hashed_post_state,
    execution::{self, validate},
    storage::StorageError,
};
use alloy_consensus::{Block, Header, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, map::B256Map};
use alloy_rlp::Decodable;
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount};
use revm::{
    DatabaseRef,
    database::OriginalValuesKnown,
    state::{AccountInfo, Bytecode},
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a stateless verifier needs to re-execute a block (alloy's `ExecutionWitness` shape, as
/// returned by `debug_executionWitness` in reth).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionWitness {
    /// RLP of every state and storage trie node (of the parent state) the block's execution and
    /// state-root update walk through.
    pub state: Vec<Bytes>,
    /// Bytecode of every contract the block runs.
    pub codes: Vec<Bytes>,
    /// Preimages of the hashed keys: 20-byte addresses and 32-byte slots touched.
    pub keys: Vec<Bytes>,
    /// RLP headers of the ancestors the block needs, oldest first, ending with its parent.
    pub headers: Vec<Bytes>,
}

/// Why a witness does not allow re-executing a block.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// A trie node the execution needs is not in the witness.
    #[error("the witness lacks trie node {0}")]
    MissingNode(B256),
    /// A witness node does not decode.
    #[error("trie node {hash} does not decode: {message}")]
    BadNode {
        /// Its hash.
        hash: B256,
        /// Decoder error.
        message: String,
    },
    /// A node's path does not fit the 64-nibble keys (a malformed witness).
    #[error("a trie node's path does not fit a 32-byte key")]
    BadKey,
    /// The headers do not chain up to the block's parent.
    #[error("witness headers: {0}")]
    Headers(String),
    /// Execution failed (includes missing codes, accounts or slots).
    #[error("re-execution failed: {0}")]
    Execution(String),
}

/// Result of a stateless re-execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatelessOutcome {
    /// The block's hash.
    pub block_hash: B256,
    /// The parent's state root (the pre-state the witness was checked against).
    pub pre_state_root: B256,
    /// The post-state root computed from the witness.
    pub state_root: B256,
    /// The message passer's storage root in the computed post-state.
    pub message_passer_storage_root: B256,
}

impl StatelessOutcome {
    /// The output root of the block as computed: from the computed state, not from the header.
    pub fn output_root(&self) -> B256 {
        super::OutputRootPreimage {
            version: super::OUTPUT_VERSION,
            state_root: self.state_root,
            message_passer_storage_root: self.message_passer_storage_root,
            block_hash: self.block_hash,
        }
        .output_root()
    }
}

/// Re-executes `block` from `witness` and returns the post-state root it computes. The block's
/// own gas, receipts root, bloom and requests are checked on the way; its `stateRoot` is not (the
/// caller compares, so that a wrong root can be reported rather than rejected).
pub fn execute_stateless(
    spec: &ChainSpec,
    block: &Block<TxEnvelope>,
    witness: &ExecutionWitness,
) -> Result<StatelessOutcome, WitnessError> {
    let header = &block.header;
    let hash = header.hash_slow();
    let ancestors = ancestor_hashes(header, &witness.headers)?;
    let pre_state_root = ancestors.parent.state_root;
    let nodes: NodeMap = witness
        .state
        .iter()
        .map(|node| (keccak256(node), node.clone()))
        .collect();
    let codes: B256Map<Bytes> = witness
        .codes
        .iter()
        .map(|code| (keccak256(code), code.clone()))
        .collect();
    let db = WitnessDatabase {
        nodes: &nodes,
        codes: &codes,
        accounts: PartialTrie::new(pre_state_root),
        block_hashes: ancestors.hashes,
    };
    validate::validate_body(spec, header, &block.body)
        .map_err(|e| WitnessError::Execution(format!("block body: {e}")))?;
    let transactions = execution::recover_senders(spec, header, &block.body)
        .map_err(|e| WitnessError::Execution(e.to_string()))?;
    let outcome = execution::execute_block(spec, db, header, hash, &block.body, &transactions)
        .map_err(|e| WitnessError::Execution(e.to_string()))?;
    validate::validate_outcome(spec, header, &outcome)
        .map_err(|e| WitnessError::Execution(e.to_string()))?;
    let changes = hashed_post_state(&outcome.bundle.to_plain_state(OriginalValuesKnown::Yes));

    let mut accounts = PartialTrie::new(pre_state_root);
    let mut keys: Vec<&B256> = changes
        .accounts
        .keys()
        .chain(changes.storages.keys())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for hashed_address in keys {
        let current = accounts
            .get(&nodes, hashed_address)?
            .map(|rlp| decode_account(&rlp))
            .transpose()?;
        let storage = changes.storages.get(hashed_address);
        let updated_storage_root = |root: B256| -> Result<B256, WitnessError> {
            let Some(storage) = storage else {
                return Ok(root);
            };
            let mut trie = if storage.wiped {
                PartialTrie::empty()
            } else {
                PartialTrie::new(root)
            };
            for (slot, value) in &storage.slots {
                if value.is_zero() {
                    trie.remove(&nodes, slot)?;
                } else {
                    trie.insert(&nodes, slot, alloy_rlp::encode(value))?;
                }
            }
            Ok(trie.root())
        };
        let account = match (changes.accounts.get(hashed_address), current) {
            (Some(None), _) => {
                accounts.remove(&nodes, hashed_address)?;
                continue;
            }
            (Some(Some(info)), current) => TrieAccount::new(
                info.nonce,
                info.balance,
                updated_storage_root(current.map_or(EMPTY_ROOT_HASH, |a| a.storage_root))?,
                info.code_hash,
            ),
            (None, Some(mut account)) => {
                account.storage_root = updated_storage_root(account.storage_root)?;
                account
            }
            (None, None) => continue,
        };
        accounts.insert(&nodes, hashed_address, alloy_rlp::encode(account))?;
    }
    let message_passer_storage_root = accounts
        .get(&nodes, &keccak256(super::MESSAGE_PASSER_ADDRESS))?
        .map(|rlp| decode_account(&rlp))
        .transpose()?
        .map_or(EMPTY_ROOT_HASH, |a| a.storage_root);
    Ok(StatelessOutcome {
        block_hash: hash,
        pre_state_root,
        state_root: accounts.root(),
        message_passer_storage_root,
    })
}

/// The parent header and the block hashes the witness proves.
struct Ancestors {
    parent: Header,
    hashes: BTreeMap<u64, B256>,
}

fn ancestor_hashes(header: &Header, encoded: &[Bytes]) -> Result<Ancestors, WitnessError> {
    let mut hashes = BTreeMap::new();
    let mut expected = header.parent_hash;
    let mut parent = None;
    // Walk from the parent backwards: each header must hash to its child's parentHash.
    for (i, rlp) in encoded.iter().enumerate().rev() {
        let ancestor = Header::decode(&mut rlp.as_ref())
            .map_err(|e| WitnessError::Headers(format!("header {i} does not decode: {e}")))?;
        let hash = keccak256(rlp);
        if hash != expected {
            return Err(WitnessError::Headers(format!(
                "header {i} (block {}) hashes to {hash}, expected {expected}",
                ancestor.number
            )));
        }
        expected = ancestor.parent_hash;
        hashes.insert(ancestor.number, hash);
        parent.get_or_insert(ancestor);
    }
    let parent = parent.ok_or_else(|| WitnessError::Headers("no parent header".into()))?;
    Ok(Ancestors { parent, hashes })
}

fn decode_account(rlp: &[u8]) -> Result<TrieAccount, WitnessError> {
    TrieAccount::decode(&mut &rlp[..]).map_err(|e| WitnessError::BadNode {
        hash: keccak256(rlp),
        message: format!("account leaf: {e}"),
    })
}

/// revm reads served from the witness.
#[derive(Debug)]
struct WitnessDatabase<'a> {
    nodes: &'a NodeMap,
    codes: &'a B256Map<Bytes>,
    accounts: PartialTrie,
    block_hashes: BTreeMap<u64, B256>,
}

fn missing(what: String, err: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        table: "witness",
        key: what,
        message: err.to_string(),
    }
}

impl WitnessDatabase<'_> {
    fn account(&self, address: Address) -> Result<Option<TrieAccount>, StorageError> {
        self.accounts
            .get(self.nodes, &keccak256(address))
            .and_then(|leaf| leaf.map(|rlp| decode_account(&rlp)).transpose())
            .map_err(|e| missing(address.to_string(), e))
    }
}

impl DatabaseRef for WitnessDatabase<'_> {
    type Error = StorageError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StorageError> {
        let Some(account) = self.account(address)? else {
            return Ok(None);
        };
        let code = self.code_by_hash_ref(account.code_hash)?;
        Ok(Some(AccountInfo::new(
            account.balance,
            account.nonce,
            account.code_hash,
            code,
        )))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StorageError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        let code = self
            .codes
            .get(&code_hash)
            .ok_or_else(|| missing(code_hash.to_string(), "the witness lacks this code"))?;
        Ok(Bytecode::new_raw(code.clone()))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StorageError> {
        let Some(account) = self.account(address)? else {
            return Ok(U256::ZERO);
        };
        let trie = PartialTrie::new(account.storage_root);
        let value = trie
            .get(self.nodes, &keccak256(B256::from(index)))
            .map_err(|e| missing(format!("{address} slot {index}"), e))?;
        value
            .map(|rlp| {
                U256::decode(&mut rlp.as_slice())
                    .map_err(|e| missing(format!("{address} slot {index}"), e))
            })
            .transpose()
            .map(Option::unwrap_or_default)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StorageError> {
        self.block_hashes.get(&number).copied().ok_or_else(|| {
            missing(
                format!("block hash {number}"),
                "the witness lacks this header",
            )
        })
    }
}
