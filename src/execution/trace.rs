//! Re-executing a stored block with a geth-style tracer (`debug_trace*`).
//!
//! The block is replayed on its parent state as import executed it: the pre-execution system
//! calls (EIP-2935 block hashes, EIP-4788 beacon root) untraced, then every transaction in order,
//! each committed before the next. The tracer is revm-inspectors' `DebugInspector`, the one reth
//! uses, so the output follows geth: the default struct (opcode) logger, or a named built-in
//! tracer (`callTracer`, `prestateTracer`, `4byteTracer`, `noopTracer`, `muxTracer`,
//! `flatCallTracer`). JavaScript tracers are not supported.
//!
//! Assumption: `db` is the state after the parent block; the block's own transactions are
//! trusted to be valid (it was imported), so per-block limits are not re-checked.

use crate::{chainspec::ChainSpec, storage::StorageError};
use alloy_consensus::{Header, TxEnvelope, transaction::Recovered};
use alloy_evm::{EthEvmFactory, Evm, EvmEnv, EvmFactory, FromRecoveredTx, block::SystemCaller};
use alloy_primitives::B256;
use alloy_rpc_types_trace::geth::{GethDebugTracingOptions, GethTrace};
use revm::{DatabaseCommit, DatabaseRef, context::TxEnv, database::CacheDB};
use revm_inspectors::tracing::{DebugInspector, DebugInspectorError, TransactionContext};

/// Why a trace could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The tracer name or its configuration is not supported.
    #[error("{0}")]
    Tracer(String),
    /// Re-execution failed (a stored block should always re-execute).
    #[error("re-executing block {number} failed: {message}")]
    Execution {
        /// Block number.
        number: u64,
        /// What failed.
        message: String,
    },
    /// Reading state failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Replays the block `header` (hash `hash`) with its `transactions` on the parent state `db` and
/// returns a trace per transaction: all of them, or with `only = Some(i)` just transaction `i`
/// (the ones before it run untraced, the ones after it not at all).
pub fn trace_block<DB>(
    spec: &ChainSpec,
    db: DB,
    header: &Header,
    hash: B256,
    transactions: &[Recovered<TxEnvelope>],
    options: GethDebugTracingOptions,
    only: Option<usize>,
) -> Result<Vec<(B256, GethTrace)>, TraceError>
where
    DB: DatabaseRef<Error = StorageError> + std::fmt::Debug,
{
    let failed = |message: String| TraceError::Execution {
        number: header.number,
        message,
    };
    let inspector = DebugInspector::new(options).map_err(|e| TraceError::Tracer(e.to_string()))?;
    let env = EvmEnv::for_eth_block(
        header,
        spec,
        spec.chain_id,
        spec.blob_params_at_timestamp(header.timestamp),
    );
    let mut evm =
        EthEvmFactory::default().create_evm_with_inspector(CacheDB::new(db), env, inspector);
    evm.disable_inspector();
    SystemCaller::new(spec)
        .apply_pre_execution_changes(header, &mut evm)
        .map_err(|e| failed(e.to_string()))?;
    let block_env = evm.block().clone();

    // Transactions after the traced one need not run.
    let end = only.map_or(transactions.len(), |index| index + 1);
    let mut traces = Vec::new();
    for (index, tx) in transactions.iter().enumerate().take(end) {
        let tx_env = TxEnv::from_recovered_tx(tx.inner(), tx.signer());
        let traced = only.is_none_or(|i| i == index);
        evm.set_inspector_enabled(traced);
        let result = evm
            .transact(tx_env.clone())
            .map_err(|e| failed(format!("transaction {index}: {e}")))?;
        if traced {
            let tx_hash = *tx.inner().tx_hash();
            let (db, inspector, _) = evm.components_mut();
            let context = TransactionContext {
                block_hash: Some(hash),
                tx_index: Some(index),
                tx_hash: Some(tx_hash),
            };
            let trace = inspector
                .get_result(Some(context), &tx_env, &block_env, &result, db)
                .map_err(|e| match e {
                    DebugInspectorError::Database(e) => TraceError::Storage(e),
                    other => TraceError::Tracer(other.to_string()),
                })?;
            inspector
                .fuse()
                .map_err(|e| TraceError::Tracer(e.to_string()))?;
            traces.push((tx_hash, geth_conventions(trace)));
        }
        evm.db_mut().commit(result.state);
    }
    Ok(traces)
}

/// Brings the struct logger's output in line with geth's (`eth/tracers/logger` `StructLogRes`):
/// geth omits a zero `refund`, an empty `memory` and empty `returnData` from each step.
fn geth_conventions(trace: GethTrace) -> GethTrace {
    let GethTrace::Default(mut frame) = trace else {
        return trace;
    };
    for log in &mut frame.struct_logs {
        if log.refund_counter == Some(0) {
            log.refund_counter = None;
        }
        if log.memory.as_ref().is_some_and(Vec::is_empty) {
            log.memory = None;
        }
        if log.return_data.as_ref().is_some_and(|data| data.is_empty()) {
            log.return_data = None;
        }
    }
    GethTrace::Default(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_rpc_types_trace::geth::{DefaultFrame, StructLog};

    fn step(refund: u64, memory: Vec<String>, return_data: &'static [u8]) -> StructLog {
        StructLog {
            pc: 0,
            op: "PUSH1".into(),
            gas: 100,
            gas_cost: 3,
            depth: 1,
            stack: Some(vec![]),
            memory: Some(memory),
            refund_counter: Some(refund),
            return_data: Some(alloy_primitives::Bytes::from_static(return_data)),
            ..Default::default()
        }
    }

    #[test]
    fn struct_logs_omit_zero_refund_and_empty_memory_and_return_data_as_geth_does() {
        let frame = DefaultFrame {
            struct_logs: vec![step(0, vec![], &[]), step(4800, vec!["0x00".into()], &[1])],
            ..Default::default()
        };
        let GethTrace::Default(frame) = geth_conventions(GethTrace::Default(frame)) else {
            panic!("still a struct-log trace");
        };
        let json = serde_json::to_value(&frame.struct_logs).expect("serialize");
        assert_eq!(
            json[0],
            serde_json::json!({"pc":0,"op":"PUSH1","gas":100,"gasCost":3,"depth":1,"stack":[]})
        );
        assert_eq!(json[1]["refund"], 4800);
        assert_eq!(json[1]["memory"], serde_json::json!(["0x00"]));
        assert_eq!(json[1]["returnData"], "0x01");
    }

    #[test]
    fn other_tracers_are_left_alone() {
        let trace = GethTrace::NoopTracer(Default::default());
        assert_eq!(geth_conventions(trace.clone()), trace);
    }
}
