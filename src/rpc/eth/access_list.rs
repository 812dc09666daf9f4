//! `eth_createAccessList`: run the request, collect every account and slot it touches (the
//! sender, the recipient and precompiles only for their storage slots, as geth does), and repeat
//! with that list until it stops changing, since an access list changes gas costs and therefore
//! possibly the execution path.

use super::call::{IntoRpcError, prepare};
use crate::{chainspec::ChainSpec, rpc::error::RpcError, storage::StateProviderDatabase};
use alloy_consensus::Header;
use alloy_eips::eip2930::{AccessList, AccessListItem, AccessListResult};
use alloy_evm::{EthEvmFactory, Evm, EvmFactory};
use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_rpc_types_eth::TransactionRequest;
use revm::{
    context_interface::{result::ExecutionResult, transaction::TransactionType},
    precompile::{PrecompileSpecId, Precompiles},
};
use std::collections::{BTreeMap, BTreeSet};

/// Rounds of re-execution before giving up on a list that keeps changing (geth loops unbounded;
/// a bound keeps a hostile contract from pinning a CPU).
const MAX_ROUNDS: usize = 8;

/// `eth_createAccessList`.
pub(super) fn create_access_list(
    spec: &ChainSpec,
    state: StateProviderDatabase,
    header: &Header,
    request: TransactionRequest,
    gas_cap: u64,
) -> Result<AccessListResult, RpcError> {
    let (db, env, mut tx) = prepare(spec, state, header, request, None, gas_cap)?;
    // geth applies the list whatever the request's type, but revm ignores an access list on a
    // legacy transaction: run a legacy request as EIP-2930 (same fee rules).
    if tx.tx_type == u8::from(TransactionType::Legacy) {
        tx.tx_type = TransactionType::Eip2930.into();
        tx.chain_id.get_or_insert(env.cfg_env.chain_id);
    }
    let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(env.cfg_env.spec));
    let sender = tx.caller;
    let recipient = match tx.kind {
        TxKind::Call(to) => to,
        TxKind::Create => sender.create(tx.nonce),
    };
    let beneficiary = env.block_env.beneficiary;
    let mut evm = EthEvmFactory::default().create_evm(db, env);
    let mut list = tx.access_list.clone();
    for _ in 0..MAX_ROUNDS {
        tx.access_list = list.clone();
        let result = evm.transact(tx.clone()).map_err(IntoRpcError::into_rpc)?;
        let mut touched: BTreeMap<Address, BTreeSet<B256>> = BTreeMap::new();
        for (address, account) in &result.state {
            // As geth's access-list tracer: these are never listed for being touched (the
            // beneficiary is loaded only to pay it fees), but a slot of theirs that the code
            // read or wrote is listed, with the address.
            let excluded = *address == sender
                || *address == recipient
                || *address == beneficiary
                || precompiles.contains(address);
            if excluded && account.storage.is_empty() {
                continue;
            }
            let slots = touched.entry(*address).or_default();
            slots.extend(account.storage.keys().map(|slot| B256::from(*slot)));
        }
        // Keep what the caller listed even if this run did not touch it.
        for item in list.iter() {
            touched
                .entry(item.address)
                .or_default()
                .extend(item.storage_keys.iter().copied());
        }
        let next = AccessList(
            touched
                .into_iter()
                .map(|(address, keys)| AccessListItem {
                    address,
                    storage_keys: keys.into_iter().collect(),
                })
                .collect(),
        );
        let (gas_used, error) = match &result.result {
            ExecutionResult::Success { gas, .. } => (gas.tx_gas_used(), None),
            // geth reports the VM error alone, without the decoded reason.
            ExecutionResult::Revert { gas, .. } => {
                (gas.tx_gas_used(), Some("execution reverted".to_string()))
            }
            ExecutionResult::Halt { gas, reason, .. } => (
                gas.tx_gas_used(),
                Some(format!("execution halted: {reason:?}")),
            ),
        };
        if next == list {
            return Ok(AccessListResult {
                access_list: next,
                gas_used: U256::from(gas_used),
                error,
            });
        }
        list = next;
    }
    Err(RpcError::Server(format!(
        "access list did not settle within {MAX_ROUNDS} rounds"
    )))
}
