//! Signs the DA server's chain of `ExtendedHeader`s with a single ed25519 validator.
//!
//! The celestia-rpc client validates what `header.Subscribe` streams (`validate()`: validator
//! set hash, DAH hash = `data_hash`, commit height and hash, commit signatures) and checks that
//! consecutive headers are adjacent (`verify_adjacent`: same validators, `last_block_id` = the
//! previous hash, strictly increasing time). So the server runs a one-validator CometBFT-shaped
//! chain: every header is signed by a key kept in the server's database, which keeps the chain
//! verifiable across restarts.
//!
//! Assumption: nothing here is secret or consensus-critical; the key only makes headers pass
//! light-client checks. Fields that a real chain derives from state (app hash, consensus hash,
//! part set hashes) are fixed or derived from the height.

use celestia_types::block::CommitExt;
use celestia_types::consts::version;
use celestia_types::hash::{Hash, HashExt};
use celestia_types::{DataAvailabilityHeader, ExtendedHeader, ValidatorSet};
use sha2::{Digest, Sha256};
use tendermint::block::header::{Header, Version};
use tendermint::block::{Commit, CommitSig, parts};
use tendermint::public_key::PublicKey;
use tendermint::{Signature, Time, chain};

use super::error::{DaServerError, Result};

/// App version the headers report: celestia-app v6, whose MaxTxSize (8 MiB) and square bound
/// (512) the server applies.
pub(crate) const APP_VERSION: u64 = 6;
/// Voting power of the single validator (any positive value works).
const VOTING_POWER: u32 = 5000;

/// Signs headers for a one-validator chain.
pub(crate) struct HeaderSigner {
    key: ed25519_consensus::SigningKey,
    chain_id: chain::Id,
    validator_set: ValidatorSet,
    validator_address: tendermint::account::Id,
}

impl std::fmt::Debug for HeaderSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderSigner")
            .field("chain_id", &self.chain_id)
            .field("validator_address", &self.validator_address)
            .finish_non_exhaustive()
    }
}

fn signing_error(what: &str, err: impl std::fmt::Display) -> DaServerError {
    DaServerError::Signing(format!("{what}: {err}"))
}

impl HeaderSigner {
    /// A signer with the ed25519 key `seed` for chain `chain_id`.
    pub(crate) fn new(seed: [u8; 32], chain_id: &str) -> Result<Self> {
        let key = ed25519_consensus::SigningKey::from(seed);
        let public = key.verification_key().to_bytes();
        let pub_key = PublicKey::from_raw_ed25519(&public)
            .ok_or_else(|| signing_error("public key", "not an ed25519 key"))?;
        let validator_address = tendermint::account::Id::from(pub_key);
        let info = tendermint::validator::Info {
            address: validator_address,
            pub_key,
            power: VOTING_POWER.into(),
            name: None,
            proposer_priority: 0_i64.into(),
        };
        let chain_id =
            chain::Id::try_from(chain_id.to_string()).map_err(|e| signing_error("chain id", e))?;
        Ok(Self {
            key,
            chain_id,
            validator_set: ValidatorSet::new(vec![info.clone()], Some(info)),
            validator_address,
        })
    }

    /// The header at `prev.height() + 1` (or 1 without `prev`) committing to `dah`. `time` is
    /// moved past `prev`'s time if needed, since headers must have strictly increasing times.
    pub(crate) fn sign_next(
        &self,
        prev: Option<&ExtendedHeader>,
        dah: DataAvailabilityHeader,
        time: Time,
    ) -> Result<ExtendedHeader> {
        let height_u64 = prev.map_or(1, |p| p.height() + 1);
        let time = match prev {
            Some(p) if !time.after(p.time()) => p
                .time()
                .checked_add(std::time::Duration::from_millis(1))
                .ok_or_else(|| signing_error("time", "overflow"))?,
            _ => time,
        };
        let height = tendermint::block::Height::try_from(height_u64)
            .map_err(|e| signing_error("height", e))?;
        let parts = |tag: &str| {
            parts::Header::new(1, derived_hash(tag, height_u64))
                .map_err(|e| signing_error("part set header", e))
        };
        let app_hash = Hash::default_sha256()
            .as_bytes()
            .to_vec()
            .try_into()
            .map_err(|e| signing_error("app hash", e))?;
        let mut header = ExtendedHeader {
            header: Header {
                version: Version {
                    block: version::BLOCK_PROTOCOL,
                    app: APP_VERSION,
                },
                chain_id: self.chain_id.clone(),
                height,
                time,
                last_block_id: prev.map(|p| p.commit.block_id),
                last_commit_hash: Some(Hash::default_sha256()),
                data_hash: Some(dah.hash()),
                validators_hash: self.validator_set.hash(),
                next_validators_hash: self.validator_set.hash(),
                consensus_hash: derived_hash("consensus", 0),
                app_hash,
                last_results_hash: Some(Hash::default_sha256()),
                evidence_hash: Some(Hash::default_sha256()),
                proposer_address: self.validator_address,
            },
            commit: Commit {
                height,
                round: 0_u16.into(),
                block_id: tendermint::block::Id {
                    hash: Hash::None,
                    part_set_header: parts("parts")?,
                },
                signatures: vec![CommitSig::BlockIdFlagCommit {
                    validator_address: self.validator_address,
                    timestamp: time,
                    signature: None,
                }],
            },
            validator_set: self.validator_set.clone(),
            dah,
        };
        header.commit.block_id.hash = header.header.hash();
        let sign_bytes = header.commit.vote_sign_bytes(&self.chain_id, 0)?;
        let signature = Signature::new(self.key.sign(&sign_bytes).to_bytes())
            .map_err(|e| signing_error("signature", e))?;
        if let CommitSig::BlockIdFlagCommit {
            signature: slot, ..
        } = &mut header.commit.signatures[0]
        {
            *slot = signature;
        }
        header.validate()?;
        Ok(header)
    }
}

/// A fixed-looking hash for fields a real chain derives from state.
fn derived_hash(tag: &str, height: u64) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"hauptbuch-da/");
    hasher.update(tag.as_bytes());
    hasher.update(height.to_be_bytes());
    Hash::Sha256(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use celestia_types::ExtendedDataSquare;

    use super::*;

    #[test]
    fn signed_headers_validate_and_chain() {
        let signer = HeaderSigner::new([7; 32], "hauptbuch-da").expect("signer");
        let dah = || DataAvailabilityHeader::from_eds(&ExtendedDataSquare::empty());
        let now = Time::now();
        let first = signer.sign_next(None, dah(), now).expect("genesis");
        assert_eq!(first.height(), 1);
        // Same time as the parent: moved forward so that verification passes.
        let second = signer.sign_next(Some(&first), dah(), now).expect("second");
        second.validate().expect("valid");
        first.verify_adjacent(&second).expect("adjacent");
        // A restarted signer with the same key continues the same chain.
        let again = HeaderSigner::new([7; 32], "hauptbuch-da").expect("signer");
        let third = again
            .sign_next(Some(&second), dah(), Time::now())
            .expect("third");
        second
            .verify_adjacent(&third)
            .expect("adjacent after restart");
    }
}
