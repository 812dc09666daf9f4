//! The validator set, from the chainspec's `hauptbuch.validators`.

use super::PublicKey;
use crate::chainspec::{PreconfKeys, Validator};
use alloy_primitives::Address;
use commonware_codec::DecodeExt;
use commonware_utils::ordered::Set;

/// Why the chainspec's validator list is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validators.
    #[error("the chainspec lists no validators (hauptbuch.validators is empty)")]
    Empty,
    /// A key is not an ed25519 public key.
    #[error("hauptbuch.validators[{index}].publicKey {key} is not an ed25519 public key")]
    InvalidKey {
        /// Position in the list.
        index: usize,
        /// The key.
        key: String,
    },
}

/// One validator.
#[derive(Debug, Clone)]
struct Member {
    key: PublicKey,
    address: String,
    fee_recipient: Address,
    preconf: Option<PreconfKeys>,
}

/// The ordered validator set (every node must agree on it) with each member's p2p address and
/// fee recipient.
#[derive(Debug, Clone)]
pub struct ValidatorSet {
    keys: Set<PublicKey>,
    members: Vec<Member>,
}

impl ValidatorSet {
    /// The chainspec's validators.
    pub fn from_chainspec(validators: &[Validator]) -> Result<Self, ValidatorSetError> {
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        let members = validators
            .iter()
            .enumerate()
            .map(|(index, v)| {
                let key = PublicKey::decode(v.public_key.to_vec()).map_err(|_| {
                    ValidatorSetError::InvalidKey {
                        index,
                        key: v.public_key.to_string(),
                    }
                })?;
                Ok(Member {
                    key,
                    address: v.address.clone(),
                    fee_recipient: v.fee_recipient,
                    preconf: v.preconf,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(members))
    }

    /// A set of one (a `--dev` network).
    pub fn single(key: PublicKey, address: String, fee_recipient: Address) -> Self {
        Self::new(vec![Member {
            key,
            address,
            fee_recipient,
            preconf: None,
        }])
    }

    fn new(members: Vec<Member>) -> Self {
        // The chainspec rejects duplicate keys, so deduplication drops nothing.
        let keys = Set::from_iter_dedup(members.iter().map(|m| m.key.clone()));
        Self { keys, members }
    }

    /// The ordered keys.
    pub const fn keys(&self) -> &Set<PublicKey> {
        &self.keys
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `key` is a validator.
    pub fn contains(&self, key: &PublicKey) -> bool {
        self.members.iter().any(|m| &m.key == key)
    }

    /// Position of `key` in the chainspec's list.
    pub fn position(&self, key: &PublicKey) -> Option<usize> {
        self.members.iter().position(|m| &m.key == key)
    }

    /// The fee recipient of `key`'s blocks (zero for an unknown key).
    pub fn fee_recipient(&self, key: &PublicKey) -> Address {
        self.members
            .iter()
            .find(|m| &m.key == key)
            .map(|m| m.fee_recipient)
            .unwrap_or_default()
    }

    /// The preconfirmation keys the chainspec lists for `key`.
    pub fn preconf_keys(&self, key: &PublicKey) -> Option<PreconfKeys> {
        self.members
            .iter()
            .find(|m| &m.key == key)
            .and_then(|m| m.preconf)
    }

    /// Whether every validator lists preconfirmation keys: only then does the network issue
    /// preconfirmations (whoever leads must be able to).
    pub fn issues_preconfirmations(&self) -> bool {
        self.members.iter().all(|m| m.preconf.is_some())
    }

    /// The validator whose preconfirmation keys are `keys`, if any.
    pub fn preconf_issuer(&self, keys: &PreconfKeys) -> Option<&PublicKey> {
        self.members
            .iter()
            .find(|m| m.preconf.as_ref() == Some(keys))
            .map(|m| &m.key)
    }

    /// Keccak of the ordered keys, fee recipients and preconfirmation keys: what every validator
    /// must agree on (the p2p addresses may differ between nodes, e.g. with `--p2p.bootnodes`).
    pub fn digest(&self) -> alloy_primitives::B256 {
        let mut hasher = alloy_primitives::Keccak256::new();
        for member in &self.members {
            hasher.update(member.key.as_ref());
            hasher.update(member.fee_recipient);
            if let Some(preconf) = &member.preconf {
                hasher.update(preconf.ed25519);
                hasher.update(preconf.ml_dsa65_hash);
            }
        }
        hasher.finalize()
    }

    /// Every validator with its p2p address (`host:port`).
    pub fn addresses(&self) -> impl Iterator<Item = (&PublicKey, &str)> {
        self.members.iter().map(|m| (&m.key, m.address.as_str()))
    }
}
