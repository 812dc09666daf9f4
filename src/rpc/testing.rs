//! The `testing_` namespace: `testing_buildBlockV1`, the execution-apis builder call that makes a
//! block on a given parent in one step (for generating test fixtures).
//!
//! It is served only when listed in `--http.api`/`--ws.api` (never by default): it executes
//! arbitrary transactions on request. The block is built like a proposal (in the engine's pending
//! tree, nothing committed, head unchanged), with geth's rules where the spec leaves them to the
//! client: the gas limit moves toward geth's default target, and with `transactions = null` the
//! block takes the pool's transactions in its (first-come-first-served) order. Given
//! transactions must all apply, in order; otherwise the call fails and nothing is kept.

use crate::{
    engine::Engine,
    execution::BlockAttributes,
    rpc::error::{RpcError, RpcResult},
    txpool::TxPool,
};
use alloy_consensus::{Transaction as _, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::{
    Decodable2718, Encodable2718,
    eip4895::{Withdrawal, Withdrawals},
};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::proc_macros::rpc;
use serde::Deserialize;
use serde_json::{Value, json};

/// geth's default block gas limit target (`--miner.gaslimit`); the gas limit moves toward it by
/// the largest step the rules allow, as geth's `CalcGasLimit` does.
const TARGET_GAS_LIMIT: u64 = 60_000_000;
/// The gas limit may move by less than `parent / 1024` per block.
const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;
/// Smallest gas limit geth targets.
const MIN_GAS_LIMIT: u64 = 5_000;

/// Engine API payload attributes (V3: with withdrawals and the parent beacon block root).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayloadAttributes {
    /// Block timestamp.
    pub timestamp: U64,
    /// PREVRANDAO.
    pub prev_randao: B256,
    /// Fee recipient.
    pub suggested_fee_recipient: Address,
    /// Withdrawals (Shanghai+).
    pub withdrawals: Option<Vec<Withdrawal>>,
    /// EIP-4788 parent beacon block root (Cancun+).
    pub parent_beacon_block_root: Option<B256>,
}

/// Builder methods for tests.
#[rpc(server, namespace = "testing")]
pub trait TestingApi {
    /// Builds (but does not import) a block on `parent` and returns it as an Engine API payload
    /// envelope.
    #[method(name = "buildBlockV1", blocking)]
    fn build_block_v1(
        &self,
        parent: B256,
        attributes: PayloadAttributes,
        transactions: Option<Vec<Bytes>>,
        extra_data: Option<Bytes>,
    ) -> RpcResult<Value>;
}

/// `testing_` over the engine and the pool.
#[derive(Debug, Clone)]
pub struct TestingRpc {
    engine: Engine,
    pool: TxPool,
}

impl TestingRpc {
    /// Creates the namespace.
    pub const fn new(engine: Engine, pool: TxPool) -> Self {
        Self { engine, pool }
    }
}

/// geth's `CalcGasLimit`: one maximal step from `parent` toward `target`.
fn next_gas_limit(parent: u64, target: u64) -> u64 {
    let delta = (parent / GAS_LIMIT_BOUND_DIVISOR).saturating_sub(1);
    let target = target.max(MIN_GAS_LIMIT);
    if parent < target {
        parent.saturating_add(delta).min(target)
    } else if parent > target {
        parent.saturating_sub(delta).max(target)
    } else {
        parent
    }
}

impl TestingApiServer for TestingRpc {
    fn build_block_v1(
        &self,
        parent: B256,
        attributes: PayloadAttributes,
        transactions: Option<Vec<Bytes>>,
        extra_data: Option<Bytes>,
    ) -> RpcResult<Value> {
        let parent_header = self
            .engine
            .db()
            .provider()
            .map_err(RpcError::from)?
            .header(parent)
            .map_err(RpcError::from)?
            .ok_or_else(|| RpcError::Server(format!("unknown parent block {parent}")))?;
        let timestamp: u64 = attributes.timestamp.to();
        if timestamp <= parent_header.timestamp {
            return Err(RpcError::InvalidParams(format!(
                "timestamp {timestamp} is not greater than the parent's {}",
                parent_header.timestamp
            ))
            .into());
        }
        let explicit = transactions.is_some();
        let transactions = match transactions {
            Some(raw) => raw
                .iter()
                .enumerate()
                .map(|(index, bytes)| {
                    let bad = |what: String| {
                        RpcError::InvalidParams(format!("transaction {index}: {what}"))
                    };
                    let tx = TxEnvelope::decode_2718(&mut bytes.as_ref())
                        .map_err(|e| bad(e.to_string()))?;
                    if tx.is_eip4844() {
                        return Err(bad("blob transactions are not supported".into()));
                    }
                    let signer = tx.recover_signer().map_err(|e| bad(e.to_string()))?;
                    Ok(alloy_consensus::transaction::Recovered::new_unchecked(
                        tx, signer,
                    ))
                })
                .collect::<Result<Vec<_>, RpcError>>()?,
            None => {
                let max = (parent_header.gas_limit / 21_000) as usize;
                self.pool.best_transactions(max)
            }
        };
        let block_attributes = BlockAttributes {
            timestamp,
            fee_recipient: attributes.suggested_fee_recipient,
            prev_randao: attributes.prev_randao,
            gas_limit: next_gas_limit(parent_header.gas_limit, TARGET_GAS_LIMIT),
            extra_data: extra_data.unwrap_or_default(),
            withdrawals: Withdrawals::new(attributes.withdrawals.unwrap_or_default()),
            parent_beacon_block_root: attributes.parent_beacon_block_root,
        };
        let payload = self
            .engine
            .build_payload_on(parent, block_attributes, transactions)
            .map_err(|e| RpcError::Server(e.to_string()))?;
        if explicit {
            if let Some((hash, reason)) = payload.rejected.first() {
                return Err(RpcError::Server(format!("transaction {hash}: {reason}")).into());
            }
            if payload.skipped > 0 {
                return Err(RpcError::Server(format!(
                    "{} transactions do not fit in the block gas limit",
                    payload.skipped
                ))
                .into());
            }
        }

        let header = &payload.block.header;
        let body = &payload.block.body;
        let base_fee = header.base_fee_per_gas.unwrap_or_default();
        let mut block_value = U256::ZERO;
        let mut previous = 0;
        for (tx, receipt) in body.transactions.iter().zip(&payload.receipts) {
            let cumulative = receipt.cumulative_gas_used();
            let tip = tx.effective_tip_per_gas(base_fee).unwrap_or_default();
            block_value += U256::from(cumulative - previous) * U256::from(tip);
            previous = cumulative;
        }
        let requests: Vec<Bytes> = payload
            .requests
            .iter()
            .filter(|request| request.len() > 1)
            .cloned()
            .collect();
        let transactions: Vec<Bytes> = body
            .transactions
            .iter()
            .map(|tx| tx.encoded_2718().into())
            .collect();
        Ok(json!({
            "executionPayload": {
                "parentHash": header.parent_hash,
                "feeRecipient": header.beneficiary,
                "stateRoot": header.state_root,
                "receiptsRoot": header.receipts_root,
                "logsBloom": header.logs_bloom,
                "prevRandao": header.mix_hash,
                "blockNumber": U64::from(header.number),
                "gasLimit": U64::from(header.gas_limit),
                "gasUsed": U64::from(header.gas_used),
                "timestamp": U64::from(header.timestamp),
                "extraData": header.extra_data,
                "baseFeePerGas": U256::from(base_fee),
                "blockHash": payload.hash,
                "transactions": transactions,
                "withdrawals": body.withdrawals.as_ref().map(|w| w.as_slice()),
                "blobGasUsed": header.blob_gas_used.map(U64::from),
                "excessBlobGas": header.excess_blob_gas.map(U64::from),
            },
            "blockValue": block_value,
            "blobsBundle": { "commitments": [], "proofs": [], "blobs": [] },
            "executionRequests": requests,
            "shouldOverrideBuilder": false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_limit_steps_toward_the_target_as_geth_does() {
        // The execution-apis vector: 200M parent, one step down.
        assert_eq!(next_gas_limit(200_000_000, TARGET_GAS_LIMIT), 199_804_689);
        assert_eq!(next_gas_limit(30_000_000, TARGET_GAS_LIMIT), 30_029_295);
        assert_eq!(
            next_gas_limit(59_990_000, TARGET_GAS_LIMIT),
            TARGET_GAS_LIMIT
        );
        assert_eq!(
            next_gas_limit(TARGET_GAS_LIMIT, TARGET_GAS_LIMIT),
            TARGET_GAS_LIMIT
        );
    }
}
