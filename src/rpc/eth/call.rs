//! `eth_call` and `eth_estimateGas`: execute a request on a block's state without committing.
//!
//! Like geth: the block context is the header of the queried block, the nonce is not checked,
//! the base fee is not enforced (a request without fees runs at gas price 0), calls from
//! contract addresses are allowed, and the gas limit defaults to the block's, capped by
//! `--rpc.gascap`. Revert data is returned as error code 3 with the decoded reason.

use crate::{chainspec::ChainSpec, rpc::error::RpcError, storage::StateProviderDatabase};
use alloy_consensus::Header;
use alloy_evm::{
    EthEvmFactory, Evm, EvmEnv, EvmFactory, overrides::apply_state_overrides, rpc::TryIntoTxEnv,
};
use alloy_primitives::{Bytes, TxKind};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use revm::Database;
use revm::{
    context::TxEnv,
    context_interface::Cfg,
    context_interface::result::{EVMError, ExecutionResult, InvalidTransaction},
    database::{CacheDB, WrapDatabaseRef},
};

/// Lowest gas any transaction can use.
const MIN_TRANSACTION_GAS: u64 = 21_000;

pub(super) type CallDb = CacheDB<WrapDatabaseRef<StateProviderDatabase>>;

/// Sets up an EVM over `state` for requests against `header`.
pub(super) fn prepare(
    spec: &ChainSpec,
    state: StateProviderDatabase,
    header: &Header,
    request: TransactionRequest,
    overrides: Option<StateOverride>,
    gas_cap: u64,
) -> Result<(CallDb, EvmEnv, TxEnv), RpcError> {
    let mut env = EvmEnv::for_eth_block(
        header,
        spec,
        spec.chain_id,
        spec.blob_params_at_timestamp(header.timestamp),
    );
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_base_fee = true;
    env.cfg_env.disable_eip3607 = true;
    let requested_gas = request.gas;
    let without_fees = request.gas_price.is_none()
        && request.max_fee_per_gas.is_none()
        && request.max_priority_fee_per_gas.is_none();
    let mut tx: TxEnv = request
        .try_into_tx_env(&env)
        .map_err(|e| RpcError::InvalidParams(e.to_string()))?;
    // The block's limit by default, never above the RPC cap or the fork's per-tx cap (Osaka).
    tx.gas_limit = requested_gas
        .unwrap_or(header.gas_limit)
        .min(gas_cap)
        .min(env.cfg_env.tx_gas_limit_cap());
    // A request without fees runs at gas price zero, and, like geth, sees a zero BASEFEE.
    if without_fees {
        env.block_env.basefee = 0;
    }
    let mut db = CacheDB::new(WrapDatabaseRef(state));
    if let Some(overrides) = overrides {
        apply_state_overrides(overrides, &mut db)
            .map_err(|e| RpcError::InvalidParams(e.to_string()))?;
    }
    Ok((db, env, tx))
}

/// What one execution attempt gave.
enum Attempt {
    Success { gas_used: u64, output: Bytes },
    Revert { output: Bytes },
    Halt { reason: String },
}

fn attempt<E: Evm<Tx = TxEnv>>(evm: &mut E, tx: TxEnv) -> Result<Attempt, RpcError>
where
    E::Error: IntoRpcError,
    E::HaltReason: std::fmt::Debug,
{
    let result = evm.transact(tx).map_err(IntoRpcError::into_rpc)?;
    Ok(match result.result {
        ExecutionResult::Success { gas, output, .. } => Attempt::Success {
            gas_used: gas.tx_gas_used(),
            output: output.into_data(),
        },
        ExecutionResult::Revert { output, .. } => Attempt::Revert { output },
        ExecutionResult::Halt { reason, .. } => Attempt::Halt {
            reason: format!("{reason:?}"),
        },
    })
}

/// Errors of `transact` in the words wallets expect.
pub(super) trait IntoRpcError {
    fn into_rpc(self) -> RpcError;
}

impl<DB: std::fmt::Display> IntoRpcError for EVMError<DB, InvalidTransaction> {
    fn into_rpc(self) -> RpcError {
        match self {
            Self::Transaction(InvalidTransaction::LackOfFundForMaxFee { .. }) => {
                RpcError::Server("insufficient funds for gas * price + value".into())
            }
            Self::Transaction(InvalidTransaction::CallGasCostMoreThanGasLimit { .. }) => {
                RpcError::Server("intrinsic gas too low".into())
            }
            Self::Transaction(err) => RpcError::Server(err.to_string()),
            Self::Header(err) => RpcError::Server(err.to_string()),
            Self::Database(err) => RpcError::internal(err),
            other => RpcError::internal(other),
        }
    }
}

/// `eth_call`.
pub(crate) fn call(
    spec: &ChainSpec,
    state: StateProviderDatabase,
    header: &Header,
    request: TransactionRequest,
    overrides: Option<StateOverride>,
    gas_cap: u64,
) -> Result<Bytes, RpcError> {
    let (db, env, tx) = prepare(spec, state, header, request, overrides, gas_cap)?;
    let mut evm = EthEvmFactory::default().create_evm(db, env);
    match attempt(&mut evm, tx)? {
        Attempt::Success { output, .. } => Ok(output),
        Attempt::Revert { output } => Err(RpcError::reverted(output)),
        Attempt::Halt { reason } => Err(RpcError::Server(halt_message(&reason))),
    }
}

/// `eth_estimateGas`: binary search for the smallest gas limit that succeeds.
pub(crate) fn estimate_gas(
    spec: &ChainSpec,
    state: StateProviderDatabase,
    header: &Header,
    request: TransactionRequest,
    overrides: Option<StateOverride>,
    gas_cap: u64,
) -> Result<u64, RpcError> {
    let plain_transfer = request.input.input().is_none_or(|input| input.is_empty())
        && request
            .authorization_list
            .as_ref()
            .is_none_or(Vec::is_empty);
    let (mut db, env, mut tx) = prepare(spec, state, header, request, overrides, gas_cap)?;
    // A value transfer to an account without code costs exactly the base 21,000 gas: try that
    // first, as geth does, before searching.
    let mut transfer_only = false;
    if plain_transfer && let TxKind::Call(to) = tx.kind {
        let code = db
            .basic(to)
            .map_err(RpcError::internal)?
            .and_then(|account| account.code);
        transfer_only = code.is_none_or(|code| code.is_empty());
    }
    let mut evm = EthEvmFactory::default().create_evm(db, env);
    if transfer_only && tx.gas_limit >= MIN_TRANSACTION_GAS {
        let mut transfer = tx.clone();
        transfer.gas_limit = MIN_TRANSACTION_GAS;
        if matches!(attempt(&mut evm, transfer)?, Attempt::Success { .. }) {
            return Ok(MIN_TRANSACTION_GAS);
        }
    }
    let mut hi = tx.gas_limit;
    let gas_used = match attempt(&mut evm, tx.clone())? {
        Attempt::Success { gas_used, .. } => gas_used,
        Attempt::Revert { output } => return Err(RpcError::reverted(output)),
        Attempt::Halt { reason } if reason.contains("OutOfGas") => {
            return Err(RpcError::Server(format!(
                "gas required exceeds allowance ({hi})"
            )));
        }
        Attempt::Halt { reason } => return Err(RpcError::Server(halt_message(&reason))),
    };
    // Refunds and the 63/64 rule mean gas used is a lower bound, not the answer. Try a close
    // optimistic guess first; most transactions need no search beyond it.
    let mut lo = gas_used.saturating_sub(1).max(MIN_TRANSACTION_GAS - 1);
    let optimistic = (gas_used + 2_300) * 64 / 63;
    if optimistic < hi {
        tx.gas_limit = optimistic;
        if matches!(attempt(&mut evm, tx.clone())?, Attempt::Success { .. }) {
            hi = optimistic;
        } else {
            lo = optimistic;
        }
    }
    while hi - lo > 1 {
        // Stop once within 1.5 % like reth: the answer is a limit, not an exact figure.
        if (hi - lo) * 1000 / hi < 15 {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        tx.gas_limit = mid;
        match attempt(&mut evm, tx.clone()) {
            Ok(Attempt::Success { .. }) => hi = mid,
            Ok(_) => lo = mid,
            // A limit below the intrinsic cost is simply too low.
            Err(RpcError::Server(message)) if message == "intrinsic gas too low" => lo = mid,
            Err(err) => return Err(err),
        }
    }
    Ok(hi)
}

/// geth's wording for halts.
fn halt_message(reason: &str) -> String {
    if reason.contains("OutOfGas") {
        "out of gas".into()
    } else if reason.contains("InvalidFEOpcode") || reason.contains("OpcodeNotFound") {
        "invalid opcode".into()
    } else if reason.contains("StackUnderflow") {
        "stack underflow".into()
    } else if reason.contains("StackOverflow") {
        "stack overflow".into()
    } else {
        format!("execution halted: {reason}")
    }
}
