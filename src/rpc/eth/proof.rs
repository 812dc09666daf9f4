//! `eth_getProof` (EIP-1186) from the persisted state trie.
//!
//! The trie holds the head state, so proofs are served for the head block; older blocks need
//! historical trie nodes, which are not kept yet, and get a clear error.

use super::api::ResolvedBlock;
use crate::{rpc::error::RpcError, storage::Provider};
use alloy_primitives::{Address, B256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy_serde::JsonStorageKey;
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY};

/// Proof of `address` and `slots` at `block`.
pub(super) fn account_proof(
    provider: &Provider,
    block: &ResolvedBlock,
    address: Address,
    slots: Vec<JsonStorageKey>,
) -> Result<EIP1186AccountProofResponse, RpcError> {
    let head = provider.head()?.map(|h| h.number).unwrap_or_default();
    if block.number != head {
        return Err(RpcError::Server(format!(
            "proofs are available for the head block {head} only, not block {}",
            block.number
        )));
    }
    let keys: Vec<B256> = slots.iter().map(JsonStorageKey::as_b256).collect();
    let proof =
        crate::trie::account_proof(provider.txn(), address, &keys).map_err(RpcError::internal)?;
    let account = proof.account.unwrap_or_default();
    let exists = proof.account.is_some();
    Ok(EIP1186AccountProofResponse {
        address,
        balance: account.balance,
        code_hash: if exists {
            account.code_hash
        } else {
            KECCAK_EMPTY
        },
        nonce: account.nonce,
        storage_hash: if exists {
            account.storage_root
        } else {
            EMPTY_ROOT_HASH
        },
        account_proof: proof.account_proof,
        storage_proof: slots
            .into_iter()
            .zip(proof.storage_proofs)
            .map(|(key, p)| EIP1186StorageProof {
                key,
                value: p.value,
                proof: p.proof,
            })
            .collect(),
    })
}
