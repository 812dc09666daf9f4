//! The `hauptbuch` section of the chainspec: settings of the rollup itself.

use super::ChainSpecError;
use alloy_primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};

/// Default block time when the chainspec does not set one.
const DEFAULT_BLOCK_TIME_MS: u64 = 1_000;
/// Default challenge window for withdrawals: seven days, as on OP Stack mainnets.
const DEFAULT_CHALLENGE_WINDOW_SECS: u64 = 7 * 24 * 3600;
/// Celestia version-0 namespace ids are at most 10 bytes.
pub const MAX_NAMESPACE_ID_LEN: usize = 10;

/// Rollup settings shared by every node of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HauptbuchConfig {
    /// Target block time in milliseconds.
    #[serde(default = "default_block_time_ms")]
    pub block_time_ms: u64,
    /// Celestia namespace id (version 0, up to 10 bytes) the blocks are posted under.
    #[serde(default)]
    pub da_namespace: Bytes,
    /// Seconds between a withdrawal becoming provable and finalizable on L1.
    #[serde(default = "default_challenge_window_secs")]
    pub challenge_window_secs: u64,
    /// The BFT validator set.
    #[serde(default)]
    pub validators: Vec<Validator>,
}

/// One member of the validator set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validator {
    /// ed25519 public key.
    pub public_key: B256,
    /// p2p address (`host:port`).
    pub address: String,
    /// Fee recipient of the blocks this validator proposes (default: zero, fees are burnt).
    #[serde(default)]
    pub fee_recipient: Address,
    /// Public keys of the preconfirmations this validator issues while it leads (printed by
    /// `hauptbuch-reth preconf keygen`). A network issues preconfirmations only when every
    /// validator lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconf: Option<PreconfKeys>,
}

/// A validator's preconfirmation keys as the chainspec lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreconfKeys {
    /// ed25519 public key of the per-preconfirmation signatures.
    pub ed25519: B256,
    /// keccak256 of the ML-DSA-65 public key that signs batch roots (the key itself, 1,952
    /// bytes, travels in every preconfirmation).
    pub ml_dsa65_hash: B256,
}

impl Default for HauptbuchConfig {
    fn default() -> Self {
        Self {
            block_time_ms: DEFAULT_BLOCK_TIME_MS,
            da_namespace: Bytes::new(),
            challenge_window_secs: DEFAULT_CHALLENGE_WINDOW_SECS,
            validators: Vec::new(),
        }
    }
}

impl HauptbuchConfig {
    /// Whether consecutive blocks may share a timestamp (second resolution): chains with a block
    /// time under a second, so that timestamps follow the clock instead of running ahead of it.
    /// Ethereum chains (no `hauptbuch` section, one-second default) keep the strict rule.
    pub const fn allows_equal_timestamps(&self) -> bool {
        self.block_time_ms < 1_000
    }

    /// Checks value ranges serde cannot express.
    pub fn validate(&self) -> Result<(), ChainSpecError> {
        let invalid = |field: &str, message: String| ChainSpecError::InvalidField {
            field: format!("hauptbuch.{field}"),
            message,
        };
        if self.block_time_ms == 0 {
            return Err(invalid("blockTimeMs", "must be greater than zero".into()));
        }
        if self.da_namespace.len() > MAX_NAMESPACE_ID_LEN {
            return Err(invalid(
                "daNamespace",
                format!(
                    "namespace id is {} bytes, at most {MAX_NAMESPACE_ID_LEN} allowed",
                    self.da_namespace.len()
                ),
            ));
        }
        for (i, validator) in self.validators.iter().enumerate() {
            if validator
                .address
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err(invalid(
                    &format!("validators[{i}].address"),
                    format!("`{}` is not host:port", validator.address),
                ));
            }
            if self.validators[..i]
                .iter()
                .any(|v| v.public_key == validator.public_key)
            {
                return Err(invalid(
                    &format!("validators[{i}].publicKey"),
                    "duplicate validator key".into(),
                ));
            }
            if validator.preconf.is_some()
                && self.validators[..i]
                    .iter()
                    .any(|v| v.preconf == validator.preconf)
            {
                return Err(invalid(
                    &format!("validators[{i}].preconf"),
                    "duplicate preconfirmation keys (each validator signs with its own)".into(),
                ));
            }
        }
        Ok(())
    }
}

const fn default_block_time_ms() -> u64 {
    DEFAULT_BLOCK_TIME_MS
}

const fn default_challenge_window_secs() -> u64 {
    DEFAULT_CHALLENGE_WINDOW_SECS
}
