//! EIP-2124 fork identifiers (with EIP-6122's timestamp forks): a CRC32 over the genesis hash and
//! every fork block number and timestamp passed so far.
//!
//! Which forks count is decided the way geth decides it (`core/forkid/forkid.go`
//! `gatherForks`): every `*Block` and `*Time` field set in the genesis `config`, including the
//! ones that change no execution rule here (DAO fork block, glacier forks, `eip158Block`,
//! `mergeNetsplitBlock`). Duplicates are entered once, block 0 and timestamps at or before the
//! genesis timestamp not at all (they are the genesis ruleset). Two nodes agree on a fork id
//! exactly when they agree on this list, so it must not be derived from the execution schedule,
//! which drops some of them.

use alloy_eips::eip2124::ForkHash;
use alloy_genesis::ChainConfig;
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::B256;

/// The fork blocks and timestamps that enter the fork id, sorted, deduplicated, genesis forks
/// removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForkIdSchedule {
    /// Fork block numbers (all > 0).
    pub blocks: Vec<u64>,
    /// Fork timestamps (all > the genesis timestamp).
    pub times: Vec<u64>,
}

impl ForkIdSchedule {
    /// Gathers the schedule from a genesis `config`, as geth does.
    pub fn from_config(config: &ChainConfig, genesis_timestamp: u64) -> Self {
        let blocks = [
            config.homestead_block,
            config.dao_fork_block,
            config.eip150_block,
            config.eip155_block,
            config.eip158_block,
            config.byzantium_block,
            config.constantinople_block,
            config.petersburg_block,
            config.istanbul_block,
            config.muir_glacier_block,
            config.berlin_block,
            config.london_block,
            config.arrow_glacier_block,
            config.gray_glacier_block,
            config.merge_netsplit_block,
        ];
        let times = [
            config.shanghai_time,
            config.cancun_time,
            config.prague_time,
            config.osaka_time,
            config.bpo1_time,
            config.bpo2_time,
            config.bpo3_time,
            config.bpo4_time,
            config.bpo5_time,
            config.amsterdam_time,
        ];
        Self::new(
            blocks.into_iter().flatten(),
            times.into_iter().flatten(),
            genesis_timestamp,
        )
    }

    /// Derives the schedule from an execution fork schedule (for specs built without a genesis
    /// file): every block, merge-netsplit and timestamp activation.
    pub fn from_hardforks(hardforks: &EthereumChainHardforks, genesis_timestamp: u64) -> Self {
        let (mut blocks, mut times) = (Vec::new(), Vec::new());
        for fork in EthereumHardfork::VARIANTS {
            match hardforks.ethereum_fork_activation(*fork) {
                ForkCondition::Block(block) => blocks.push(block),
                ForkCondition::TTD {
                    activation_block_number,
                    ..
                } => blocks.push(activation_block_number),
                ForkCondition::Timestamp(time) => times.push(time),
                ForkCondition::Never => {}
            }
        }
        Self::new(blocks, times, genesis_timestamp)
    }

    fn new(
        blocks: impl IntoIterator<Item = u64>,
        times: impl IntoIterator<Item = u64>,
        genesis_timestamp: u64,
    ) -> Self {
        let mut blocks: Vec<u64> = blocks.into_iter().filter(|b| *b > 0).collect();
        blocks.sort_unstable();
        blocks.dedup();
        let mut times: Vec<u64> = times
            .into_iter()
            .filter(|t| *t > genesis_timestamp)
            .collect();
        times.sort_unstable();
        times.dedup();
        Self { blocks, times }
    }

    /// The fork hash of a node at block `head_number` with head timestamp `head_timestamp`.
    pub fn fork_hash(&self, genesis_hash: B256, head_number: u64, head_timestamp: u64) -> ForkHash {
        let mut hash = ForkHash::from(genesis_hash);
        for block in self.blocks.iter().filter(|b| **b <= head_number) {
            hash += *block;
        }
        for time in self.times.iter().filter(|t| **t <= head_timestamp) {
            hash += *time;
        }
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    const MAINNET_GENESIS: B256 =
        b256!("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3");

    fn mainnet_until_petersburg() -> ForkIdSchedule {
        let config = ChainConfig {
            homestead_block: Some(1_150_000),
            dao_fork_block: Some(1_920_000),
            eip150_block: Some(2_463_000),
            eip155_block: Some(2_675_000),
            eip158_block: Some(2_675_000),
            byzantium_block: Some(4_370_000),
            constantinople_block: Some(7_280_000),
            petersburg_block: Some(7_280_000),
            ..Default::default()
        };
        ForkIdSchedule::from_config(&config, 0)
    }

    #[test]
    fn mainnet_fork_hashes_match_the_eip_2124_vectors() {
        let schedule = mainnet_until_petersburg();
        assert_eq!(
            schedule.blocks,
            [
                1_150_000, 1_920_000, 2_463_000, 2_675_000, 4_370_000, 7_280_000
            ],
            "duplicates entered once"
        );
        let hash = |number| schedule.fork_hash(MAINNET_GENESIS, number, 0).0;
        assert_eq!(hash(0), [0xfc, 0x64, 0xec, 0x04]);
        assert_eq!(hash(1_149_999), [0xfc, 0x64, 0xec, 0x04]);
        assert_eq!(hash(1_150_000), [0x97, 0xc2, 0xc3, 0x4c]);
        assert_eq!(hash(1_920_000), [0x91, 0xd1, 0xf9, 0x48]);
        assert_eq!(hash(2_463_000), [0x7a, 0x64, 0xda, 0x13]);
        assert_eq!(hash(2_675_000), [0x3e, 0xdd, 0x5b, 0x10]);
        assert_eq!(hash(4_370_000), [0xa0, 0x0b, 0xc3, 0x24]);
        assert_eq!(hash(7_280_000), [0x66, 0x8d, 0xb0, 0xaf]);
    }

    #[test]
    fn genesis_forks_are_not_entered() {
        let config = ChainConfig {
            homestead_block: Some(0),
            shanghai_time: Some(10),
            cancun_time: Some(20),
            ..Default::default()
        };
        let schedule = ForkIdSchedule::from_config(&config, 10);
        assert_eq!(
            schedule,
            ForkIdSchedule {
                blocks: vec![],
                times: vec![20]
            }
        );
        let genesis = B256::repeat_byte(7);
        assert_eq!(
            schedule.fork_hash(genesis, 0, 19),
            ForkHash::from(genesis),
            "nothing passed yet"
        );
        assert_eq!(
            schedule.fork_hash(genesis, 0, 20),
            ForkHash::from(genesis) + 20u64
        );
    }

    #[test]
    fn execution_apis_chain_fork_hash_at_bpo2() {
        let text = include_str!("../../tests/fixtures/execution-apis/genesis.json");
        let spec = super::super::ChainSpec::from_json(text).expect("genesis parses");
        // The value the execution-apis `eth_config` vector expects.
        assert_eq!(
            spec.fork_ids.fork_hash(spec.genesis_hash, u64::MAX, 540).0,
            [0xe2, 0x72, 0xec, 0xbe]
        );
    }
}
