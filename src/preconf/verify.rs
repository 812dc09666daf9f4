//! Offline verification of a preconfirmation and, given an inclusion proof of its promised
//! position, the verdict: honoured or violated.

use super::{
    error::{PreconfError, Result},
    inclusion::InclusionProof,
    types::{IssuerKeysJson, SignedPreconfirmation},
};
use alloy_primitives::B256;

/// What the evidence shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Both signatures hold; no proof was given.
    Signed,
    /// The proof shows the transaction at the promised position.
    Honoured {
        /// The block.
        block_hash: B256,
    },
    /// The proof shows another transaction (or none) at the promised position.
    Violated {
        /// The block.
        block_hash: B256,
        /// What is at the promised position instead.
        found: Option<B256>,
    },
}

/// Parses JSON naming the offending field on failure.
pub fn parse<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        PreconfError::invalid(what, format!("at `{path}`: {}", e.into_inner()))
    })
}

/// Verifies `preconf` (and its keys against `trusted`, when given), then judges it with `proof`.
pub fn verify(
    preconf: &SignedPreconfirmation,
    proof: Option<&InclusionProof>,
    trusted: Option<&IssuerKeysJson>,
) -> Result<Verdict> {
    if let Some(trusted) = trusted
        && trusted != &preconf.issuer
    {
        return Err(PreconfError::invalid(
            "issuer",
            "the preconfirmation's keys are not the trusted sequencer keys",
        ));
    }
    preconf.verify()?;
    let Some(proof) = proof else {
        return Ok(Verdict::Signed);
    };
    if proof.block_number != preconf.block_number || proof.tx_index != preconf.tx_index {
        return Err(PreconfError::invalid(
            "proof",
            format!(
                "it proves block {} index {}, the promise is block {} index {}",
                proof.block_number, proof.tx_index, preconf.block_number, preconf.tx_index
            ),
        ));
    }
    let found = proof.verify()?;
    Ok(if found == Some(preconf.tx_hash) {
        Verdict::Honoured {
            block_hash: proof.block_hash,
        }
    } else {
        Verdict::Violated {
            block_hash: proof.block_hash,
            found,
        }
    })
}
