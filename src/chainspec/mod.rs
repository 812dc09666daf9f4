//! Chain specification: a geth/reth-format genesis plus Hauptbuch's own `hauptbuch` section.
//!
//! The genesis JSON is parsed with `alloy-genesis`; the fork schedule is mapped onto
//! [`EthereumChainHardforks`] the way reth maps it, so block and timestamp forks, the merge
//! (terminal total difficulty) and the BPO blob schedules behave exactly as on other clients.
//!
//! Invariants:
//! - Parsing is strict: unknown top-level or `config` fields and malformed values are errors that
//!   name the field (a typo in a genesis file must not silently change the chain).
//! - [`ChainSpec::genesis_header`] is computed once and is the block-0 header every node derives,
//!   so the genesis hash identifies the chain.

mod error;
mod fork_id;
mod genesis;
mod hauptbuch;

pub use error::ChainSpecError;
pub use fork_id::ForkIdSchedule;
pub use genesis::genesis_header;
pub use hauptbuch::{HauptbuchConfig, MAX_NAMESPACE_ID_LEN, PreconfKeys, Validator};

use alloy_consensus::Header;
use alloy_eips::{eip1559::BaseFeeParams, eip7840::BlobParams, eip7892::BlobScheduleBlobParams};
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, B256};
use std::{collections::BTreeMap, path::Path, sync::Arc};

/// The built-in devnet chainspec (`--chain devnet`).
pub const DEVNET_JSON: &str = include_str!("../../chainspec/devnet.json");

/// Top-level keys of a geth-format genesis that this node understands.
const KNOWN_GENESIS_KEYS: &[&str] = &[
    "config",
    "nonce",
    "timestamp",
    "extraData",
    "gasLimit",
    "difficulty",
    "mixHash",
    "coinbase",
    "alloc",
    "number",
    "gasUsed",
    "parentHash",
    "baseFeePerGas",
    "excessBlobGas",
    "blobGasUsed",
    "slotNumber",
    "hauptbuch",
];

/// `config` keys that geth writes but that carry no meaning for execution here.
const IGNORED_CONFIG_KEYS: &[&str] = &["eip150Hash", "ethash", "clique", "daoForkSupport"];

/// A parsed, validated chain specification.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Fork activation schedule.
    pub hardforks: EthereumChainHardforks,
    /// Blob parameters per fork (Cancun, Prague, Osaka and BPO schedules).
    pub blob_schedule: BlobScheduleBlobParams,
    /// EIP-6110 deposit contract as configured (`None`: unset, execution then falls back to
    /// mainnet's address as reth does; a configured zero address stays zero, as in geth).
    pub deposit_contract: Option<Address>,
    /// The forks that enter the EIP-2124 fork id.
    pub fork_ids: ForkIdSchedule,
    /// Genesis state.
    pub alloc: BTreeMap<Address, GenesisAccount>,
    /// Genesis block header (state root included).
    pub genesis_header: Header,
    /// Hash of [`Self::genesis_header`].
    pub genesis_hash: B256,
    /// Hauptbuch's own settings (validators, block time, DA namespace).
    pub hauptbuch: HauptbuchConfig,
}

impl ChainSpec {
    /// Resolves `--chain`: `devnet` selects the built-in spec, anything else is a file path.
    pub fn from_arg(arg: &str) -> Result<Arc<Self>, ChainSpecError> {
        match arg {
            "devnet" | "dev" => Self::from_json(DEVNET_JSON).map(Arc::new),
            path => Self::from_file(Path::new(path)).map(Arc::new),
        }
    }

    /// Reads and parses a genesis file.
    pub fn from_file(path: &Path) -> Result<Self, ChainSpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| ChainSpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses a genesis JSON document (geth format plus an optional `hauptbuch` section).
    pub fn from_json(text: &str) -> Result<Self, ChainSpecError> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ChainSpecError::Json(e.to_string()))?;
        let object = value.as_object_mut().ok_or(ChainSpecError::NotAnObject)?;
        if let Some(key) = object
            .keys()
            .find(|k| !KNOWN_GENESIS_KEYS.contains(&k.as_str()))
        {
            return Err(ChainSpecError::UnknownField(key.clone()));
        }
        let hauptbuch = match object.remove("hauptbuch") {
            Some(section) => decode_field::<HauptbuchConfig>("hauptbuch", section)?,
            None => HauptbuchConfig::default(),
        };
        hauptbuch.validate()?;
        let genesis = decode_field::<Genesis>("genesis", value)?;
        if let Some(key) = genesis
            .config
            .extra_fields
            .keys()
            .find(|k| !IGNORED_CONFIG_KEYS.contains(&k.as_str()))
        {
            return Err(ChainSpecError::UnknownField(format!("config.{key}")));
        }
        Self::from_genesis(genesis, hauptbuch)
    }

    /// Builds a spec from an already parsed genesis.
    pub fn from_genesis(
        genesis: Genesis,
        hauptbuch: HauptbuchConfig,
    ) -> Result<Self, ChainSpecError> {
        let hardforks = hardforks_from_genesis(&genesis)?;
        let blob_schedule = genesis.config.blob_schedule_blob_params();
        let deposit_contract = genesis.config.deposit_contract_address;
        let fork_ids = ForkIdSchedule::from_config(&genesis.config, genesis.timestamp);
        let mut spec = Self {
            chain_id: genesis.config.chain_id,
            hardforks,
            blob_schedule,
            deposit_contract,
            fork_ids,
            alloc: BTreeMap::new(),
            genesis_header: Header::default(),
            genesis_hash: B256::ZERO,
            hauptbuch,
        };
        spec.genesis_header = genesis_header(&genesis, &spec);
        spec.genesis_hash = spec.genesis_header.hash_slow();
        spec.alloc = genesis.alloc;
        Ok(spec)
    }

    /// Builds a spec from parts, for tests and conformance fixtures that describe a chain
    /// without a genesis file (the header is given, not derived).
    pub fn from_parts(
        chain_id: u64,
        hardforks: EthereumChainHardforks,
        blob_schedule: BlobScheduleBlobParams,
        alloc: BTreeMap<Address, GenesisAccount>,
        genesis_header: Header,
    ) -> Self {
        let genesis_hash = genesis_header.hash_slow();
        let fork_ids = ForkIdSchedule::from_hardforks(&hardforks, genesis_header.timestamp);
        Self {
            chain_id,
            hardforks,
            blob_schedule,
            deposit_contract: None,
            fork_ids,
            alloc,
            genesis_header,
            genesis_hash,
            hauptbuch: HauptbuchConfig::default(),
        }
    }

    /// Blob parameters in force at `timestamp` (BPO schedule, then Osaka, Prague, Cancun), or
    /// `None` before Cancun.
    pub fn blob_params_at_timestamp(&self, timestamp: u64) -> Option<BlobParams> {
        if let Some(params) = self
            .blob_schedule
            .active_scheduled_params_at_timestamp(timestamp)
        {
            Some(*params)
        } else if self.is_osaka_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.osaka)
        } else if self.is_prague_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.prague)
        } else if self.is_cancun_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.cancun)
        } else {
            None
        }
    }

    /// The 10-byte Celestia namespace id (version 0) blocks are posted under: the chainspec's
    /// `daNamespace`, else the chain id, left-padded with zeros as Celestia pads short ids.
    pub fn da_namespace_id(&self) -> alloy_primitives::Bytes {
        let id: &[u8] = if self.hauptbuch.da_namespace.is_empty() {
            &self.chain_id.to_be_bytes()
        } else {
            &self.hauptbuch.da_namespace
        };
        let mut padded = vec![0u8; hauptbuch::MAX_NAMESPACE_ID_LEN.saturating_sub(id.len())];
        padded.extend_from_slice(id);
        padded.into()
    }

    /// `spec` with its DA namespace id replaced by `namespace` (`--da.namespace`), if given.
    pub fn with_da_namespace(
        spec: Arc<Self>,
        namespace: Option<&alloy_primitives::Bytes>,
    ) -> Arc<Self> {
        match namespace {
            Some(namespace) => {
                let mut custom = (*spec).clone();
                custom.hauptbuch.da_namespace = namespace.clone();
                Arc::new(custom)
            }
            None => spec,
        }
    }

    /// EIP-1559 parameters (Ethereum's: denominator 8, elasticity 2).
    pub const fn base_fee_params(&self) -> BaseFeeParams {
        BaseFeeParams::ethereum()
    }
}

impl EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.hardforks.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for ChainSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.deposit_contract
    }
}

/// Decodes a JSON value, reporting the path of the offending field on failure.
fn decode_field<T: serde::de::DeserializeOwned>(
    section: &str,
    value: serde_json::Value,
) -> Result<T, ChainSpecError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if section == "genesis" {
            path
        } else if path == "." {
            section.to_string()
        } else {
            format!("{section}.{path}")
        };
        ChainSpecError::InvalidField {
            field,
            message: err.into_inner().to_string(),
        }
    })
}

/// Maps a genesis `config` onto a fork schedule, as reth's `From<Genesis> for ChainSpec` does.
fn hardforks_from_genesis(genesis: &Genesis) -> Result<EthereumChainHardforks, ChainSpecError> {
    let config = &genesis.config;
    let mut forks = vec![(EthereumHardfork::Frontier, ForkCondition::Block(0))];
    let block_forks = [
        (EthereumHardfork::Homestead, config.homestead_block),
        (
            EthereumHardfork::Dao,
            config.dao_fork_block.filter(|_| config.dao_fork_support),
        ),
        (EthereumHardfork::Tangerine, config.eip150_block),
        (EthereumHardfork::SpuriousDragon, config.eip155_block),
        (EthereumHardfork::Byzantium, config.byzantium_block),
        (
            EthereumHardfork::Constantinople,
            config.constantinople_block,
        ),
        (EthereumHardfork::Petersburg, config.petersburg_block),
        (EthereumHardfork::Istanbul, config.istanbul_block),
        (EthereumHardfork::MuirGlacier, config.muir_glacier_block),
        (EthereumHardfork::Berlin, config.berlin_block),
        (EthereumHardfork::London, config.london_block),
        (EthereumHardfork::ArrowGlacier, config.arrow_glacier_block),
        (EthereumHardfork::GrayGlacier, config.gray_glacier_block),
    ];
    forks.extend(
        block_forks
            .into_iter()
            .filter_map(|(fork, block)| block.map(|b| (fork, ForkCondition::Block(b)))),
    );
    if let Some(ttd) = config.terminal_total_difficulty {
        // The first post-merge block: the netsplit block if given; a chain that starts merged
        // (TTD 0) is post-merge from genesis.
        let activation_block_number = match config.merge_netsplit_block {
            Some(block) => block,
            None if ttd.is_zero() => 0,
            None => {
                return Err(ChainSpecError::InvalidField {
                    field: "config.mergeNetsplitBlock".into(),
                    message: "required when terminalTotalDifficulty is non-zero".into(),
                });
            }
        };
        forks.push((
            EthereumHardfork::Paris,
            ForkCondition::TTD {
                activation_block_number,
                fork_block: None,
                total_difficulty: ttd,
            },
        ));
    }
    let time_forks = [
        (EthereumHardfork::Shanghai, config.shanghai_time),
        (EthereumHardfork::Cancun, config.cancun_time),
        (EthereumHardfork::Prague, config.prague_time),
        (EthereumHardfork::Osaka, config.osaka_time),
        (EthereumHardfork::Bpo1, config.bpo1_time),
        (EthereumHardfork::Bpo2, config.bpo2_time),
        (EthereumHardfork::Bpo3, config.bpo3_time),
        (EthereumHardfork::Bpo4, config.bpo4_time),
        (EthereumHardfork::Bpo5, config.bpo5_time),
        (EthereumHardfork::Amsterdam, config.amsterdam_time),
    ];
    for (fork, time) in time_forks {
        if let Some(time) = time {
            if config.terminal_total_difficulty.is_none() {
                return Err(ChainSpecError::InvalidField {
                    field: format!("config.{}Time", fork.name().to_lowercase()),
                    message: "timestamp forks need a merged chain (set terminalTotalDifficulty)"
                        .into(),
                });
            }
            forks.push((fork, ForkCondition::Timestamp(time)));
        }
    }
    Ok(EthereumChainHardforks::new(forks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnet_parses_with_prague_from_genesis() {
        let spec = ChainSpec::from_arg("devnet").expect("built-in devnet parses");
        assert!(spec.is_prague_active_at_timestamp(0));
        assert!(!spec.is_osaka_active_at_timestamp(u64::MAX));
        assert_eq!(
            spec.alloc.len(),
            25,
            "20 dev accounts + 4 system contracts + the L2ToL1MessagePasser"
        );
        assert!(spec.genesis_header.requests_hash.is_some());
    }

    #[test]
    fn da_namespace_is_ten_bytes_with_or_without_a_configured_id() {
        let devnet = ChainSpec::from_arg("devnet").expect("devnet");
        assert_eq!(devnet.da_namespace_id().as_ref(), b"hauptbuch!");
        let plain = ChainSpec::from_json(r#"{"config":{"chainId":258},"alloc":{}}"#).expect("spec");
        assert_eq!(
            plain.da_namespace_id().as_ref(),
            &[0, 0, 0, 0, 0, 0, 0, 0, 1, 2]
        );
    }

    #[test]
    fn unknown_top_level_field_is_named() {
        let err = ChainSpec::from_json(r#"{"config":{"chainId":1},"alloc":{},"gasLimt":"0x1"}"#)
            .expect_err("typo must be rejected");
        assert!(err.to_string().contains("gasLimt"), "{err}");
    }

    #[test]
    fn unknown_config_field_is_named() {
        let err = ChainSpec::from_json(r#"{"config":{"chainId":1,"londonBlok":0},"alloc":{}}"#)
            .expect_err("typo must be rejected");
        assert!(err.to_string().contains("config.londonBlok"), "{err}");
    }

    #[test]
    fn invalid_value_names_its_path() {
        let err = ChainSpec::from_json(
            r#"{"config":{"chainId":1},"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"zz"}}}"#,
        )
        .expect_err("bad balance must be rejected");
        assert!(err.to_string().contains("alloc"), "{err}");
        let err = ChainSpec::from_json(
            r#"{"config":{"chainId":1},"alloc":{},"hauptbuch":{"blockTimeMs":"fast"}}"#,
        )
        .expect_err("bad hauptbuch field must be rejected");
        assert!(err.to_string().contains("hauptbuch.blockTimeMs"), "{err}");
    }

    #[test]
    fn two_validators_with_the_same_preconfirmation_keys_are_rejected() {
        let preconf = r#"{"ed25519":"0x0101010101010101010101010101010101010101010101010101010101010101","mlDsa65Hash":"0x0202020202020202020202020202020202020202020202020202020202020202"}"#;
        let validator = |key: u8| {
            format!(
                r#"{{"publicKey":"0x{}","address":"127.0.0.1:1","preconf":{preconf}}}"#,
                format!("{key:02x}").repeat(32)
            )
        };
        let spec = format!(
            r#"{{"config":{{"chainId":1}},"alloc":{{}},"hauptbuch":{{"validators":[{},{}]}}}}"#,
            validator(3),
            validator(4)
        );
        let err = ChainSpec::from_json(&spec).expect_err("shared keys must be rejected");
        assert!(err.to_string().contains("validators[1].preconf"), "{err}");
    }

    #[test]
    fn execution_apis_genesis_hash_matches() {
        let text = include_str!("../../tests/fixtures/execution-apis/genesis.json");
        let spec = ChainSpec::from_json(text).expect("execution-apis genesis parses");
        assert_eq!(
            spec.genesis_hash.to_string(),
            "0x44fd89d504659cd58f48f4796b77a7e7012cf296a2409afa2f6c3cb99b5b3d99"
        );
    }
}
