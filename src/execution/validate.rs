//! Block validity rules that the EVM does not check: header against parent, body against header,
//! and execution results against header. They follow the Ethereum specs as reth applies them
//! (`crates/ethereum/consensus`), so blocks valid here are valid on other clients and vice versa.
//!
//! Not checked: proof-of-work seals and difficulty of pre-merge blocks (a rollup never produces
//! them; imported historical chains are trusted for their PoW), and ommer ancestry.

use super::{ConsensusError, ExecutionOutcome};
use crate::chainspec::ChainSpec;
use alloy_consensus::{
    BlockBody, EMPTY_OMMER_ROOT_HASH, Header, TxEnvelope,
    proofs::{
        calculate_ommers_root, calculate_receipt_root, calculate_transaction_root,
        calculate_withdrawals_root,
    },
};
use alloy_eips::{eip1559::INITIAL_BASE_FEE, eip4844::DATA_GAS_PER_BLOB};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{B64, Bloom, U256};

/// Minimum gas limit of a block (yellow paper).
const MINIMUM_GAS_LIMIT: u64 = 5_000;
/// Largest gas limit a header may carry (geth's `MaxGasLimit`).
const MAXIMUM_GAS_LIMIT: u64 = 0x7fff_ffff_ffff_ffff;
/// A block's gas limit may move by less than `parent / 1024` per block.
const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;
/// Maximum size of `extraData`.
const MAXIMUM_EXTRA_DATA_SIZE: usize = 32;

type Result<T = ()> = std::result::Result<T, ConsensusError>;

/// Checks `header` against its `parent` and the fork rules active at `header`.
pub fn validate_header(spec: &ChainSpec, header: &Header, parent: &Header) -> Result {
    if header.number != parent.number + 1 {
        return Err(ConsensusError::mismatch(
            "number",
            header.number,
            parent.number + 1,
        ));
    }
    if header.timestamp < parent.timestamp
        || (header.timestamp == parent.timestamp && !spec.hauptbuch.allows_equal_timestamps())
    {
        return Err(ConsensusError::Rule(format!(
            "timestamp {} is not greater than the parent's {}",
            header.timestamp, parent.timestamp
        )));
    }
    if header.extra_data.len() > MAXIMUM_EXTRA_DATA_SIZE {
        return Err(ConsensusError::Rule(format!(
            "extraData is {} bytes, at most {MAXIMUM_EXTRA_DATA_SIZE} allowed",
            header.extra_data.len()
        )));
    }
    if header.gas_used > header.gas_limit {
        return Err(ConsensusError::Rule(format!(
            "gasUsed {} exceeds gasLimit {}",
            header.gas_used, header.gas_limit
        )));
    }
    validate_gas_limit(spec, header, parent)?;
    validate_base_fee(spec, header, parent)?;
    validate_merge_fields(spec, header)?;
    validate_fork_fields(spec, header, parent)?;
    Ok(())
}

fn validate_gas_limit(spec: &ChainSpec, header: &Header, parent: &Header) -> Result {
    // At the London transition the target halves, so the parent's limit is doubled.
    let parent_limit = if spec
        .ethereum_fork_activation(alloy_hardforks::EthereumHardfork::London)
        .transitions_at_block(header.number)
    {
        parent
            .gas_limit
            .saturating_mul(spec.base_fee_params().elasticity_multiplier as u64)
    } else {
        parent.gas_limit
    };
    let bound = parent_limit / GAS_LIMIT_BOUND_DIVISOR;
    if header.gas_limit.abs_diff(parent_limit) >= bound {
        return Err(ConsensusError::Rule(format!(
            "gasLimit {} differs from the parent's {parent_limit} by {} or more",
            header.gas_limit, bound
        )));
    }
    if header.gas_limit < MINIMUM_GAS_LIMIT || header.gas_limit > MAXIMUM_GAS_LIMIT {
        return Err(ConsensusError::Rule(format!(
            "gasLimit {} outside [{MINIMUM_GAS_LIMIT}, {MAXIMUM_GAS_LIMIT}]",
            header.gas_limit
        )));
    }
    Ok(())
}

/// The base fee a child of `parent` must carry, or `None` before London.
pub fn expected_base_fee(spec: &ChainSpec, parent: &Header, number: u64) -> Option<u64> {
    if !spec.is_london_active_at_block(number) {
        return None;
    }
    Some(if spec.is_london_active_at_block(parent.number) {
        parent
            .next_block_base_fee(spec.base_fee_params())
            .unwrap_or(INITIAL_BASE_FEE)
    } else {
        INITIAL_BASE_FEE
    })
}

fn validate_base_fee(spec: &ChainSpec, header: &Header, parent: &Header) -> Result {
    match (
        expected_base_fee(spec, parent, header.number),
        header.base_fee_per_gas,
    ) {
        (Some(expected), Some(got)) if expected != got => {
            Err(ConsensusError::mismatch("baseFeePerGas", got, expected))
        }
        (Some(_), None) => Err(ConsensusError::Missing {
            field: "baseFeePerGas",
        }),
        (None, Some(_)) => Err(ConsensusError::Unexpected {
            field: "baseFeePerGas",
        }),
        _ => Ok(()),
    }
}

fn validate_merge_fields(spec: &ChainSpec, header: &Header) -> Result {
    if !spec.is_paris_active_at_block(header.number) {
        return Ok(());
    }
    if header.difficulty != U256::ZERO {
        return Err(ConsensusError::mismatch("difficulty", header.difficulty, 0));
    }
    if header.nonce != B64::ZERO {
        return Err(ConsensusError::mismatch("nonce", header.nonce, B64::ZERO));
    }
    if header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
        return Err(ConsensusError::mismatch(
            "sha3Uncles",
            header.ommers_hash,
            EMPTY_OMMER_ROOT_HASH,
        ));
    }
    Ok(())
}

/// The excess blob gas a child of `parent` at `timestamp` must carry, or `None` before Cancun.
pub fn expected_excess_blob_gas(spec: &ChainSpec, parent: &Header, timestamp: u64) -> Option<u64> {
    let params = spec.blob_params_at_timestamp(timestamp)?;
    Some(if spec.is_cancun_active_at_timestamp(parent.timestamp) {
        parent
            .next_block_excess_blob_gas(params)
            .unwrap_or_default()
    } else {
        0
    })
}

fn require<T>(active: bool, value: Option<T>, field: &'static str) -> Result<Option<T>> {
    match (active, value) {
        (true, None) => Err(ConsensusError::Missing { field }),
        (false, Some(_)) => Err(ConsensusError::Unexpected { field }),
        (_, value) => Ok(value),
    }
}

fn validate_fork_fields(spec: &ChainSpec, header: &Header, parent: &Header) -> Result {
    let timestamp = header.timestamp;
    require(
        spec.is_shanghai_active_at_timestamp(timestamp),
        header.withdrawals_root,
        "withdrawalsRoot",
    )?;
    let cancun = spec.is_cancun_active_at_timestamp(timestamp);
    require(
        cancun,
        header.parent_beacon_block_root,
        "parentBeaconBlockRoot",
    )?;
    let blob_gas_used = require(cancun, header.blob_gas_used, "blobGasUsed")?;
    let excess = require(cancun, header.excess_blob_gas, "excessBlobGas")?;
    require(
        spec.is_prague_active_at_timestamp(timestamp),
        header.requests_hash,
        "requestsHash",
    )?;
    if header.block_access_list_hash.is_some() {
        return Err(ConsensusError::Unexpected {
            field: "blockAccessListHash",
        });
    }
    if header.slot_number.is_some() {
        return Err(ConsensusError::Unexpected {
            field: "slotNumber",
        });
    }
    if let (Some(blob_gas_used), Some(excess)) = (blob_gas_used, excess) {
        let params = spec
            .blob_params_at_timestamp(timestamp)
            .ok_or_else(|| ConsensusError::Rule("no blob parameters for a Cancun block".into()))?;
        if blob_gas_used % DATA_GAS_PER_BLOB != 0 {
            return Err(ConsensusError::Rule(format!(
                "blobGasUsed {blob_gas_used} is not a multiple of {DATA_GAS_PER_BLOB}"
            )));
        }
        let max = params.max_blob_gas_per_block();
        if blob_gas_used > max {
            return Err(ConsensusError::Rule(format!(
                "blobGasUsed {blob_gas_used} exceeds the maximum {max}"
            )));
        }
        let expected = expected_excess_blob_gas(spec, parent, timestamp).unwrap_or_default();
        if excess != expected {
            return Err(ConsensusError::mismatch("excessBlobGas", excess, expected));
        }
    }
    Ok(())
}

/// Checks the body's commitments in the header (transactions, ommers, withdrawals).
pub fn validate_body(spec: &ChainSpec, header: &Header, body: &BlockBody<TxEnvelope>) -> Result {
    let tx_root = calculate_transaction_root(&body.transactions);
    if tx_root != header.transactions_root {
        return Err(ConsensusError::mismatch(
            "transactionsRoot",
            header.transactions_root,
            tx_root,
        ));
    }
    let ommers_root = calculate_ommers_root(&body.ommers);
    if ommers_root != header.ommers_hash {
        return Err(ConsensusError::mismatch(
            "sha3Uncles",
            header.ommers_hash,
            ommers_root,
        ));
    }
    match (header.withdrawals_root, &body.withdrawals) {
        (Some(expected), Some(withdrawals)) => {
            let root = calculate_withdrawals_root(withdrawals);
            if root != expected {
                return Err(ConsensusError::mismatch("withdrawalsRoot", expected, root));
            }
        }
        (Some(_), None) => {
            return Err(ConsensusError::Missing {
                field: "withdrawals",
            });
        }
        (None, Some(_)) => {
            return Err(ConsensusError::Unexpected {
                field: "withdrawals",
            });
        }
        (None, None) => {}
    }
    if spec.is_shanghai_active_at_timestamp(header.timestamp) != body.withdrawals.is_some() {
        return Err(ConsensusError::Rule(
            "withdrawals presence does not match the fork".into(),
        ));
    }
    Ok(())
}

/// Checks what execution produced against the header's claims.
pub fn validate_outcome(spec: &ChainSpec, header: &Header, outcome: &ExecutionOutcome) -> Result {
    use alloy_consensus::TxReceipt;
    if outcome.gas_used != header.gas_used {
        return Err(ConsensusError::mismatch(
            "gasUsed",
            header.gas_used,
            outcome.gas_used,
        ));
    }
    // Pre-Byzantium receipts commit to intermediate state roots, which only
    // `execute_block_with_state_roots` computes.
    if spec.is_byzantium_active_at_block(header.number)
        || outcome
            .receipts
            .iter()
            .all(|r| r.status_or_post_state().as_post_state().is_some())
    {
        let receipts_root = calculate_receipt_root(&outcome.receipts);
        if receipts_root != header.receipts_root {
            return Err(ConsensusError::mismatch(
                "receiptsRoot",
                header.receipts_root,
                receipts_root,
            ));
        }
        let bloom = logs_bloom(&outcome.receipts);
        if bloom != header.logs_bloom {
            return Err(ConsensusError::mismatch(
                "logsBloom",
                header.logs_bloom,
                bloom,
            ));
        }
    }
    if let Some(expected) = header.blob_gas_used
        && expected != outcome.blob_gas_used
    {
        return Err(ConsensusError::mismatch(
            "blobGasUsed",
            expected,
            outcome.blob_gas_used,
        ));
    }
    if let Some(expected) = header.requests_hash {
        let got = outcome.requests.requests_hash();
        if got != expected {
            return Err(ConsensusError::mismatch("requestsHash", expected, got));
        }
    }
    Ok(())
}

/// The block bloom: the union of the receipts' blooms.
pub fn logs_bloom(receipts: &[alloy_consensus::ReceiptEnvelope]) -> Bloom {
    use alloy_consensus::TxReceipt;
    receipts.iter().fold(Bloom::ZERO, |mut bloom, receipt| {
        bloom.accrue_bloom(&receipt.bloom());
        bloom
    })
}
