//! The genesis block header, derived as reth and geth derive it.

use super::ChainSpec;
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, constants::EMPTY_WITHDRAWALS};
use alloy_eips::{eip1559::INITIAL_BASE_FEE, eip7685::EMPTY_REQUESTS_HASH};
use alloy_genesis::Genesis;
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::B256;
use alloy_trie::EMPTY_ROOT_HASH;

/// Builds the genesis header: the fork rules active at block 0 decide which optional fields exist.
pub fn genesis_header(genesis: &Genesis, spec: &ChainSpec) -> Header {
    let timestamp = genesis.timestamp;
    let london = spec.is_london_active_at_block(0);
    let shanghai = spec.is_shanghai_active_at_timestamp(timestamp);
    let cancun = spec.is_cancun_active_at_timestamp(timestamp);
    let prague = spec.is_prague_active_at_timestamp(timestamp);
    let base_fee_per_gas = london.then(|| {
        genesis
            .base_fee_per_gas
            .map(|fee| fee as u64)
            .unwrap_or(INITIAL_BASE_FEE)
    });
    Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: alloy_trie::root::state_root_ref_unhashed(&genesis.alloc),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        difficulty: genesis.difficulty,
        number: genesis.number.unwrap_or_default(),
        gas_limit: genesis.gas_limit,
        timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        base_fee_per_gas,
        withdrawals_root: shanghai.then_some(EMPTY_WITHDRAWALS),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or_default()),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or_default()),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}
