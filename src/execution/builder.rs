//! The block builder: packs transactions, in the order given, into a new block.
//!
//! Ordering policy belongs to the caller (the pool gives first-come-first-served order); the
//! builder only skips what cannot go in: a transaction whose gas limit exceeds the gas left, and
//! a transaction the EVM rejects as invalid (reported back so the pool can drop it).

use super::{ExecutionError, ExecutionOutcome, validate};
use crate::{chainspec::ChainSpec, storage::StorageError};
use alloy_consensus::{
    BlockBody, EMPTY_OMMER_ROOT_HASH, Header, Transaction, TxEnvelope,
    proofs::{calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root},
    transaction::Recovered,
};
use alloy_eips::{eip4895::Withdrawals, eip7685::Requests};
use alloy_evm::{
    EthEvmFactory, EvmEnv, EvmFactory,
    block::{BlockExecutionError, BlockExecutor, BlockValidationError},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutor, NextEvmEnvAttributes,
        receipt_builder::AlloyReceiptBuilder,
    },
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, Bytes};
use revm::{
    DatabaseRef,
    database::{State, states::bundle_state::BundleRetention},
};
use std::borrow::Cow;

/// Inputs of a new block that do not come from the parent.
#[derive(Debug, Clone, Default)]
pub struct BlockAttributes {
    /// Block timestamp (seconds); must exceed the parent's.
    pub timestamp: u64,
    /// Receives priority fees.
    pub fee_recipient: Address,
    /// `mixHash` / PREVRANDAO value.
    pub prev_randao: B256,
    /// Gas limit of the block.
    pub gas_limit: u64,
    /// `extraData`.
    pub extra_data: Bytes,
    /// Withdrawals to process (Shanghai+; empty list for a rollup).
    pub withdrawals: Withdrawals,
    /// EIP-4788 parent beacon block root (Cancun+).
    pub parent_beacon_block_root: Option<B256>,
}

/// `extraData` of the blocks this node builds.
pub const EXTRA_DATA: &[u8] = b"hauptbuch";

impl BlockAttributes {
    /// The attributes of the rollup's next block on `parent` (hash `parent_hash`) built at unix
    /// time `now`: the rollup's conventions (prevRandao = keccak(parent hash), zero beacon root,
    /// no withdrawals, the parent's gas limit) and the earliest timestamp the chain allows.
    pub fn next(
        spec: &ChainSpec,
        parent_hash: B256,
        parent: &Header,
        now: u64,
        fee_recipient: Address,
    ) -> Self {
        Self {
            timestamp: now.max(earliest_timestamp(spec, parent.timestamp)),
            fee_recipient,
            prev_randao: alloy_primitives::keccak256(parent_hash),
            gas_limit: parent.gas_limit,
            extra_data: Bytes::from_static(EXTRA_DATA),
            withdrawals: Default::default(),
            parent_beacon_block_root: Some(B256::ZERO),
        }
    }
}

/// The earliest timestamp a child of a block with `parent` timestamp may have: the parent's own
/// on sub-second chains (several blocks per second), otherwise one second later.
pub fn earliest_timestamp(spec: &ChainSpec, parent: u64) -> u64 {
    if spec.hauptbuch.allows_equal_timestamps() {
        parent
    } else {
        parent + 1
    }
}

/// A block that was built and executed but whose state root is not yet computed
/// (`header.state_root` is zero until the engine fills it in).
#[derive(Debug)]
pub struct BuiltBlock {
    /// The header, complete except for `state_root`.
    pub header: Header,
    /// The body.
    pub body: BlockBody<TxEnvelope>,
    /// Execution results.
    pub outcome: ExecutionOutcome,
    /// Transactions the EVM rejected, with the reason.
    pub rejected: Vec<(B256, String)>,
    /// Transactions left out because the block was full.
    pub skipped: usize,
}

/// Builds a block on `parent` from `transactions` in the given order.
pub fn build_block<DB>(
    spec: &ChainSpec,
    db: DB,
    parent: &Header,
    parent_hash: B256,
    attributes: BlockAttributes,
    transactions: impl IntoIterator<Item = Recovered<TxEnvelope>>,
) -> Result<BuiltBlock, ExecutionError>
where
    DB: DatabaseRef<Error = StorageError> + std::fmt::Debug,
{
    let number = parent.number + 1;
    let timestamp = attributes.timestamp;
    let fail = |error| ExecutionError::Execution {
        number,
        hash: B256::ZERO,
        error,
    };
    let base_fee = validate::expected_base_fee(spec, parent, number);
    let blob_params = spec.blob_params_at_timestamp(timestamp);
    let env = EvmEnv::for_eth_next_block(
        parent,
        NextEvmEnvAttributes {
            timestamp,
            suggested_fee_recipient: attributes.fee_recipient,
            prev_randao: attributes.prev_randao,
            gas_limit: attributes.gas_limit,
            slot_number: None,
        },
        base_fee.unwrap_or_default(),
        spec,
        spec.chain_id,
        blob_params,
    );
    let shanghai = spec.is_shanghai_active_at_timestamp(timestamp);
    let cancun = spec.is_cancun_active_at_timestamp(timestamp);
    let prague = spec.is_prague_active_at_timestamp(timestamp);
    let withdrawals = shanghai.then_some(attributes.withdrawals);
    let parent_beacon_block_root =
        cancun.then(|| attributes.parent_beacon_block_root.unwrap_or_default());

    let mut state = State::builder()
        .with_database_ref(db)
        .with_bundle_update()
        .build();
    let evm = EthEvmFactory::default().create_evm(&mut state, env);
    let ctx = EthBlockExecutionCtx {
        parent_hash,
        parent_beacon_block_root,
        ommers: &[],
        withdrawals: withdrawals.as_ref().map(|w| Cow::Borrowed(&w[..])),
        extra_data: attributes.extra_data.clone(),
        tx_count_hint: None,
        slot_number: None,
    };
    let mut executor = EthBlockExecutor::new(evm, ctx, spec, AlloyReceiptBuilder::default());
    executor.apply_pre_execution_changes().map_err(fail)?;

    let mut included = Vec::new();
    let mut rejected = Vec::new();
    let mut skipped = 0;
    let mut gas_used = 0u64;
    for tx in transactions {
        if tx.gas_limit() > attributes.gas_limit.saturating_sub(gas_used) {
            skipped += 1;
            continue;
        }
        match executor.execute_transaction(&tx) {
            Ok(gas) => {
                gas_used += gas.tx_gas_used();
                included.push(tx.into_inner());
            }
            Err(BlockExecutionError::Validation(BlockValidationError::InvalidTx {
                hash,
                error,
            })) => rejected.push((hash, error.to_string())),
            Err(BlockExecutionError::Validation(
                BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. },
            )) => skipped += 1,
            Err(error) => return Err(fail(error)),
        }
    }
    let (_, result) = executor.finish().map_err(fail)?;
    state.merge_transitions(BundleRetention::Reverts);
    let outcome = ExecutionOutcome {
        receipts: result.receipts,
        requests: if prague {
            result.requests
        } else {
            Requests::default()
        },
        gas_used: result.gas_used,
        blob_gas_used: result.blob_gas_used,
        bundle: state.take_bundle(),
    };
    let header = Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: attributes.fee_recipient,
        state_root: B256::ZERO,
        transactions_root: calculate_transaction_root(&included),
        receipts_root: calculate_receipt_root(&outcome.receipts),
        withdrawals_root: withdrawals.as_ref().map(|w| calculate_withdrawals_root(w)),
        logs_bloom: validate::logs_bloom(&outcome.receipts),
        number,
        gas_limit: attributes.gas_limit,
        gas_used: outcome.gas_used,
        timestamp,
        mix_hash: attributes.prev_randao,
        base_fee_per_gas: base_fee,
        blob_gas_used: cancun.then_some(outcome.blob_gas_used),
        excess_blob_gas: validate::expected_excess_blob_gas(spec, parent, timestamp),
        parent_beacon_block_root,
        requests_hash: prague.then(|| outcome.requests.requests_hash()),
        extra_data: attributes.extra_data,
        ..Default::default()
    };
    let body = BlockBody {
        transactions: included,
        ommers: Vec::new(),
        withdrawals,
    };
    Ok(BuiltBlock {
        header,
        body,
        outcome,
        rejected,
        skipped,
    })
}
