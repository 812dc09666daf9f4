//! `eth_getProof` (EIP-1186) from the persisted state trie.
//!
//! The persisted trie holds the head state, so head proofs are read from its nodes; proofs at an
//! older retained block come from the state rebuilt from the history tables
//! (`withdrawals::history`, time linear in the size of the state).

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
    let keys: Vec<B256> = slots.iter().map(JsonStorageKey::as_b256).collect();
    let proof = if block.number == head {
        crate::trie::account_proof(provider.txn(), address, &keys).map_err(RpcError::internal)?
    } else {
        crate::withdrawals::history::account_proof_at(provider, block.number, address, &keys)?
    };
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
