//! Fee methods: `eth_feeHistory` and the next block's blob base fee.

use crate::{
    chainspec::ChainSpec,
    execution::validate::{expected_base_fee, expected_excess_blob_gas},
    rpc::error::RpcError,
    storage::Provider,
};
use alloy_consensus::{Header, Transaction as _};
use alloy_eips::BlockNumberOrTag;
use alloy_rpc_types_eth::FeeHistory;

/// Most blocks one `eth_feeHistory` call covers (geth's and reth's limit).
const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;

/// Blob base fee of the block after `parent`, or `None` before Cancun.
pub(super) fn next_blob_base_fee(spec: &ChainSpec, parent: &Header) -> Option<u128> {
    let timestamp = parent.timestamp + 1;
    let params = spec.blob_params_at_timestamp(timestamp)?;
    Some(params.calc_blob_fee(expected_excess_blob_gas(spec, parent, timestamp)?))
}

fn blob_fee(spec: &ChainSpec, header: &Header) -> u128 {
    spec.blob_params_at_timestamp(header.timestamp)
        .zip(header.excess_blob_gas)
        .map_or(0, |(params, excess)| params.calc_blob_fee(excess))
}

/// `eth_feeHistory`.
pub(super) fn fee_history(
    spec: &ChainSpec,
    provider: &Provider,
    block_count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> Result<FeeHistory, RpcError> {
    if let Some(p) = &percentiles
        && (p.iter().any(|v| !(0.0..=100.0).contains(v)) || p.windows(2).any(|w| w[0] > w[1]))
    {
        return Err(RpcError::InvalidParams(
            "reward percentiles must be ascending values between 0 and 100".into(),
        ));
    }
    let head = provider.head()?.ok_or(RpcError::HeaderNotFound)?.number;
    let newest = match newest {
        BlockNumberOrTag::Number(n) if n > head => return Err(RpcError::HeaderNotFound),
        BlockNumberOrTag::Number(n) => n,
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized => {
            let tag = if newest == BlockNumberOrTag::Safe {
                "safe"
            } else {
                "finalized"
            };
            let hash = provider.pointer(tag)?.ok_or(RpcError::HeaderNotFound)?;
            provider
                .block_number(hash)?
                .ok_or(RpcError::HeaderNotFound)?
        }
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => head,
    };
    let count = block_count.min(MAX_FEE_HISTORY_BLOCKS).min(newest + 1);
    if count == 0 {
        return Ok(FeeHistory::default());
    }
    let oldest = newest + 1 - count;
    let mut history = FeeHistory {
        oldest_block: oldest,
        ..Default::default()
    };
    let mut rewards = Vec::new();
    let mut last = None;
    for number in oldest..=newest {
        let hash = provider
            .canonical_hash(number)?
            .ok_or(RpcError::HeaderNotFound)?;
        let header = provider.header(hash)?.ok_or(RpcError::HeaderNotFound)?;
        history
            .base_fee_per_gas
            .push(u128::from(header.base_fee_per_gas.unwrap_or_default()));
        history
            .gas_used_ratio
            .push(ratio(header.gas_used, header.gas_limit));
        history.base_fee_per_blob_gas.push(blob_fee(spec, &header));
        let max_blob_gas = spec
            .blob_params_at_timestamp(header.timestamp)
            .map_or(0, |params| params.max_blob_gas_per_block());
        history.blob_gas_used_ratio.push(ratio(
            header.blob_gas_used.unwrap_or_default(),
            max_blob_gas,
        ));
        if let Some(percentiles) = &percentiles {
            rewards.push(block_rewards(provider, hash, &header, percentiles)?);
        }
        last = Some(header);
    }
    if let Some(last) = last {
        let next = expected_base_fee(spec, &last, last.number + 1).unwrap_or_default();
        history.base_fee_per_gas.push(u128::from(next));
        history
            .base_fee_per_blob_gas
            .push(next_blob_base_fee(spec, &last).unwrap_or_default());
    }
    history.reward = percentiles.map(|_| rewards);
    Ok(history)
}

fn ratio(used: u64, limit: u64) -> f64 {
    if limit == 0 {
        0.0
    } else {
        used as f64 / limit as f64
    }
}

/// Tips at the requested percentiles, weighted by each transaction's gas use.
fn block_rewards(
    provider: &Provider,
    hash: alloy_primitives::B256,
    header: &Header,
    percentiles: &[f64],
) -> Result<Vec<u128>, RpcError> {
    let body = provider.body(hash)?.unwrap_or_default();
    let receipts = provider.receipts(hash)?.unwrap_or_default();
    if body.transactions.is_empty() {
        return Ok(vec![0; percentiles.len()]);
    }
    let base_fee = header.base_fee_per_gas;
    let mut previous = 0;
    let mut tips: Vec<(u128, u64)> = body
        .transactions
        .iter()
        .zip(&receipts)
        .map(|(tx, receipt)| {
            let cumulative = receipt.cumulative_gas_used();
            let gas = cumulative - previous;
            previous = cumulative;
            (
                tx.effective_tip_per_gas(base_fee.unwrap_or_default())
                    .unwrap_or_default(),
                gas,
            )
        })
        .collect();
    tips.sort_unstable_by_key(|(tip, _)| *tip);
    let total: u64 = tips.iter().map(|(_, gas)| gas).sum();
    Ok(percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut cumulative = 0;
            for (tip, gas) in &tips {
                cumulative += gas;
                if cumulative >= threshold {
                    return *tip;
                }
            }
            tips.last().map_or(0, |(tip, _)| *tip)
        })
        .collect())
}
