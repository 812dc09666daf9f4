//! Block execution with alloy-evm/revm: the executor that imports and validates blocks and the
//! builder that packs transactions into new ones.
//!
//! Both run over a read-only view of the parent state ([`revm::DatabaseRef`]) and return an
//! [`ExecutionOutcome`] holding the state changes as a revm `BundleState`; persisting them (and
//! computing the state root from them) is the engine's job, in one write transaction.

mod builder;
mod error;
pub mod trace;
pub mod validate;

pub use builder::{BlockAttributes, BuiltBlock, EXTRA_DATA, build_block, earliest_timestamp};
pub use error::{ConsensusError, ExecutionError};

use crate::{chainspec::ChainSpec, storage::StorageError};
use alloy_consensus::{
    BlockBody, Eip658Value, Header, ReceiptEnvelope, TxEnvelope,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::eip7685::Requests;
use alloy_evm::{
    EthEvmFactory, Evm, EvmEnv, EvmFactory,
    block::BlockExecutor,
    eth::{EthBlockExecutionCtx, EthBlockExecutor, receipt_builder::AlloyReceiptBuilder},
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256};
use revm::{
    DatabaseRef,
    database::{BundleState, State, states::bundle_state::BundleRetention},
};
use std::borrow::Cow;

/// What executing a block produced.
#[derive(Debug)]
pub struct ExecutionOutcome {
    /// One receipt per transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// EIP-7685 requests (Prague).
    pub requests: Requests,
    /// Gas used by the block.
    pub gas_used: u64,
    /// Blob gas used by the block.
    pub blob_gas_used: u64,
    /// All state changes of the block.
    pub bundle: BundleState,
}

/// Recovers the sender of every transaction (EIP-2 low-s rule from Homestead on).
pub fn recover_senders(
    spec: &ChainSpec,
    header: &Header,
    body: &BlockBody<TxEnvelope>,
) -> Result<Vec<Recovered<TxEnvelope>>, ExecutionError> {
    recover_senders_with(spec, header, body, &[])
}

/// [`recover_senders`], taking `known[i]` as the sender of transaction `i` where it is `Some`
/// (senders the pool already recovered from the very same signed transaction, found by its
/// hash, which commits to the signature). Recovering signatures is most of a block's
/// verification cost.
pub fn recover_senders_with(
    spec: &ChainSpec,
    header: &Header,
    body: &BlockBody<TxEnvelope>,
    known: &[Option<Address>],
) -> Result<Vec<Recovered<TxEnvelope>>, ExecutionError> {
    let homestead = spec.is_homestead_active_at_block(header.number);
    body.transactions
        .iter()
        .enumerate()
        .map(|(index, tx)| {
            if let Some(Some(signer)) = known.get(index) {
                return Ok(Recovered::new_unchecked(tx.clone(), *signer));
            }
            let signer = if homestead {
                tx.recover_signer()
            } else {
                tx.recover_signer_unchecked()
            };
            signer
                .map(|signer| Recovered::new_unchecked(tx.clone(), signer))
                .map_err(|_| ExecutionError::InvalidSignature {
                    number: header.number,
                    index,
                })
        })
        .collect()
}

/// The state root of the parent state with `changes` (all changes of the block so far) applied.
///
/// Receipts of blocks before Byzantium carry the state root after their transaction instead of a
/// status (EIP-658 replaced it); executing such a block with a root source fills them in.
pub type IntermediateStateRoot<'a> = &'a dyn Fn(&BundleState) -> Result<B256, StorageError>;

/// Executes a block on top of the parent state `db` (which must be the state after the
/// parent block). Header fields are not compared here; see [`validate`].
///
/// Receipts of pre-Byzantium blocks get a placeholder status; use
/// [`execute_block_with_state_roots`] where their intermediate state roots are needed.
pub fn execute_block<DB>(
    spec: &ChainSpec,
    db: DB,
    header: &Header,
    hash: B256,
    body: &BlockBody<TxEnvelope>,
    transactions: &[Recovered<TxEnvelope>],
) -> Result<ExecutionOutcome, ExecutionError>
where
    DB: DatabaseRef<Error = StorageError> + std::fmt::Debug,
{
    execute_block_with_state_roots(spec, db, header, hash, body, transactions, None)
}

/// [`execute_block`]; for a block before Byzantium with `state_roots` given, each receipt
/// carries the state root after its transaction (before block rewards), as the block's receipts
/// root commits to. That costs one state-root computation per transaction, so it is done only
/// for those blocks.
pub fn execute_block_with_state_roots<DB>(
    spec: &ChainSpec,
    db: DB,
    header: &Header,
    hash: B256,
    body: &BlockBody<TxEnvelope>,
    transactions: &[Recovered<TxEnvelope>],
    state_roots: Option<IntermediateStateRoot<'_>>,
) -> Result<ExecutionOutcome, ExecutionError>
where
    DB: DatabaseRef<Error = StorageError> + std::fmt::Debug,
{
    let state_roots = state_roots.filter(|_| !spec.is_byzantium_active_at_block(header.number));
    let fail = |error| ExecutionError::Execution {
        number: header.number,
        hash,
        error,
    };
    let mut state = State::builder()
        .with_database_ref(db)
        .with_bundle_update()
        .build();
    let env = EvmEnv::for_eth_block(
        header,
        spec,
        spec.chain_id,
        spec.blob_params_at_timestamp(header.timestamp),
    );
    let evm = EthEvmFactory::default().create_evm(&mut state, env);
    let ctx = EthBlockExecutionCtx {
        parent_hash: header.parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &body.ommers,
        withdrawals: body.withdrawals.as_ref().map(|w| Cow::Borrowed(&w[..])),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(transactions.len()),
        slot_number: None,
    };
    let mut executor = EthBlockExecutor::new(evm, ctx, spec, AlloyReceiptBuilder::default());
    executor.apply_pre_execution_changes().map_err(fail)?;
    for tx in transactions {
        executor.execute_transaction(tx).map_err(fail)?;
        if let Some(state_root) = state_roots {
            // Fold the transaction's changes into the bundle so it holds the block's changes
            // so far (merging per transaction only adds revert entries, which are not used).
            let state = executor.evm_mut().db_mut();
            state.merge_transitions(BundleRetention::Reverts);
            let root = state_root(&state.bundle_state)?;
            if let Some(receipt) = executor
                .receipts
                .last_mut()
                .and_then(ReceiptEnvelope::as_receipt_with_bloom_mut)
            {
                receipt.receipt.status = Eip658Value::PostState(root);
            }
        }
    }
    let (_, result) = executor.finish().map_err(fail)?;
    state.merge_transitions(BundleRetention::Reverts);
    Ok(ExecutionOutcome {
        receipts: result.receipts,
        requests: result.requests,
        gas_used: result.gas_used,
        blob_gas_used: result.blob_gas_used,
        bundle: state.take_bundle(),
    })
}
