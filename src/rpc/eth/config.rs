//! `eth_config` (EIP-7910): the fork configuration in force at the head, the next scheduled
//! fork and the last one configured, each with its fork id, blob parameters, precompiles and
//! system contracts.
//!
//! Follows geth (`internal/ethapi/api.go` `Config`): the forks described are the timestamp forks
//! from Cancun on (the EIP does not cover earlier ones); "current" is the latest one active at
//! the head's timestamp, "next" the first one scheduled after it, and "last" the latest one
//! configured, given only when there is a "next". A fork active at genesis has activation time 0.
//! Fork ids are computed with every block fork passed and the timestamp forks up to the fork's
//! activation.

use crate::{chainspec::ChainSpec, rpc::error::RpcError};
use alloy_eips::eip7910::{EthConfig, EthForkConfig, SystemContract};
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, Bytes};
use revm::{
    precompile::{PrecompileSpecId, Precompiles},
    primitives::hardfork::SpecId,
};
use std::collections::BTreeMap;

/// The forks EIP-7910 describes, in activation order.
const FORKS: &[EthereumHardfork] = &[
    EthereumHardfork::Cancun,
    EthereumHardfork::Prague,
    EthereumHardfork::Osaka,
    EthereumHardfork::Bpo1,
    EthereumHardfork::Bpo2,
    EthereumHardfork::Bpo3,
    EthereumHardfork::Bpo4,
    EthereumHardfork::Bpo5,
    EthereumHardfork::Amsterdam,
];

/// `eth_config` for a node whose head has timestamp `head_timestamp`.
pub(crate) fn eth_config(spec: &ChainSpec, head_timestamp: u64) -> Result<EthConfig, RpcError> {
    // Configured forks with their activation times; several may share one.
    let scheduled: Vec<(EthereumHardfork, u64)> = FORKS
        .iter()
        .filter_map(|fork| match spec.ethereum_fork_activation(*fork) {
            ForkCondition::Timestamp(time) => Some((*fork, time)),
            _ => None,
        })
        .collect();
    let current = scheduled
        .iter()
        .rfind(|(_, time)| *time <= head_timestamp)
        .ok_or_else(|| {
            RpcError::Server("eth_config covers Cancun and later; Cancun is not active".into())
        })?;
    let next = scheduled.iter().find(|(_, time)| *time > head_timestamp);
    let last = next.and_then(|_| scheduled.last());
    let config = |(_, time): &(EthereumHardfork, u64)| fork_config(spec, *time);
    Ok(EthConfig {
        current: config(current)?,
        next: next.map(config).transpose()?,
        last: last.map(config).transpose()?,
    })
}

/// The configuration of the fork that activates at `time`.
fn fork_config(spec: &ChainSpec, time: u64) -> Result<EthForkConfig, RpcError> {
    let blob_schedule = spec
        .blob_params_at_timestamp(time)
        .ok_or_else(|| RpcError::internal(format!("no blob parameters at time {time}")))?;
    let fork_hash = spec.fork_ids.fork_hash(spec.genesis_hash, u64::MAX, time);
    // Every block fork has passed by the time a timestamp fork activates.
    let spec_id = alloy_evm::spec_by_timestamp_and_block_number(spec, time, u64::MAX);
    Ok(EthForkConfig {
        activation_time: if time <= spec.genesis_header.timestamp {
            0
        } else {
            time
        },
        blob_schedule,
        chain_id: spec.chain_id,
        fork_id: Bytes::copy_from_slice(&fork_hash.0),
        precompiles: precompiles(spec_id),
        system_contracts: system_contracts(spec, time),
    })
}

/// The active precompiles under their EIP-7910 names (geth's names).
fn precompiles(spec_id: SpecId) -> BTreeMap<String, Address> {
    Precompiles::new(PrecompileSpecId::from_spec_id(spec_id))
        .addresses()
        .map(|address| (precompile_name(address), *address))
        .collect()
}

fn precompile_name(address: &Address) -> String {
    let name = match u16::from_be_bytes([address[18], address[19]]) {
        _ if address[..18].iter().any(|b| *b != 0) => None,
        0x01 => Some("ECREC"),
        0x02 => Some("SHA256"),
        0x03 => Some("RIPEMD160"),
        0x04 => Some("ID"),
        0x05 => Some("MODEXP"),
        0x06 => Some("BN254_ADD"),
        0x07 => Some("BN254_MUL"),
        0x08 => Some("BN254_PAIRING"),
        0x09 => Some("BLAKE2F"),
        0x0a => Some("KZG_POINT_EVALUATION"),
        0x0b => Some("BLS12_G1ADD"),
        0x0c => Some("BLS12_G1MSM"),
        0x0d => Some("BLS12_G2ADD"),
        0x0e => Some("BLS12_G2MSM"),
        0x0f => Some("BLS12_PAIRING_CHECK"),
        0x10 => Some("BLS12_MAP_FP_TO_G1"),
        0x11 => Some("BLS12_MAP_FP2_TO_G2"),
        0x100 => Some("P256VERIFY"),
        _ => None,
    };
    // A precompile without an agreed name is listed under its address.
    name.map_or_else(|| address.to_string(), str::to_owned)
}

/// The system contracts of the fork active at `time`.
fn system_contracts(spec: &ChainSpec, time: u64) -> BTreeMap<SystemContract, Address> {
    let mut contracts = BTreeMap::new();
    if spec.is_cancun_active_at_timestamp(time) {
        contracts.extend(SystemContract::cancun());
    }
    if spec.is_prague_active_at_timestamp(time) {
        contracts.extend(SystemContract::prague(spec.deposit_contract));
    }
    if spec.is_amsterdam_active_at_timestamp(time) {
        contracts.extend(SystemContract::amsterdam());
    }
    contracts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnet_is_at_prague_from_genesis_with_nothing_scheduled() {
        let spec = ChainSpec::from_arg("devnet").expect("devnet");
        let config = eth_config(&spec, 1_000).expect("config");
        let current = &config.current;
        assert_eq!(current.activation_time, 0);
        assert_eq!(current.chain_id, 31_337_420);
        assert_eq!(current.blob_schedule.max_blob_count, 9);
        assert_eq!(current.precompiles.len(), 17, "Prague: 10 + 7 BLS12-381");
        assert!(!current.precompiles.contains_key("P256VERIFY"));
        assert_eq!(current.system_contracts.len(), 5);
        assert_eq!(
            current.fork_id,
            Bytes::copy_from_slice(&alloy_eips::eip2124::ForkHash::from(spec.genesis_hash).0),
            "every fork is at genesis, so the fork id is the genesis hash's CRC32"
        );
        assert_eq!((config.next, config.last), (None, None));
    }

    #[test]
    fn a_scheduled_fork_is_next_and_last() {
        let text = include_str!("../../../tests/fixtures/execution-apis/genesis.json");
        let spec = ChainSpec::from_json(text).expect("genesis");
        let config = eth_config(&spec, 500).expect("config");
        assert_eq!(config.current.activation_time, 480, "Osaka");
        assert!(config.current.precompiles.contains_key("P256VERIFY"));
        let next = config.next.expect("BPO1 is scheduled");
        assert_eq!(next.activation_time, 510);
        assert_eq!(next.blob_schedule.max_blob_count, 15);
        let last = config.last.expect("last is given with next");
        assert_eq!(last.activation_time, 540);
        assert_ne!(next.fork_id, last.fork_id);
        assert_ne!(config.current.fork_id, next.fork_id);
    }

    #[test]
    fn before_cancun_is_a_clear_error() {
        let text = include_str!("../../../tests/fixtures/execution-apis/genesis.json");
        let spec = ChainSpec::from_json(text).expect("genesis");
        let err = eth_config(&spec, 400).expect_err("Shanghai only");
        assert!(err.to_string().contains("Cancun"), "{err}");
    }
}
