//! Fraud proofs of output roots: a block, its execution witness and a claimed output root; the
//! claim is wrong when stateless re-execution of the block gives another output root.
//!
//! A proof file is self-contained: with the chainspec (named by chain id and genesis hash, and
//! given to `fraud-proof verify --chain`) it is checked with no node. It pins the block hash the
//! claim is about, so a changed block fails instead of "proving" fraud; a changed witness fails
//! to re-execute or hashes to the wrong pre-state.

use super::stateless::{ExecutionWitness, StatelessOutcome, WitnessError, execute_stateless};
use crate::chainspec::ChainSpec;
use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::{B256, Bytes};
use alloy_rlp::Decodable;
use serde::{Deserialize, Serialize};

/// Version of the proof file format.
pub const PROOF_FORMAT_VERSION: u64 = 1;

/// The output root a stateless re-execution computes, with its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComputedOutput {
    /// Post-state root.
    pub state_root: B256,
    /// Message passer storage root in that state.
    pub message_passer_storage_root: B256,
    /// The resulting output root.
    pub output_root: B256,
}

impl From<StatelessOutcome> for ComputedOutput {
    fn from(outcome: StatelessOutcome) -> Self {
        Self {
            state_root: outcome.state_root,
            message_passer_storage_root: outcome.message_passer_storage_root,
            output_root: outcome.output_root(),
        }
    }
}

/// A fraud proof file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FraudProof {
    /// [`PROOF_FORMAT_VERSION`].
    pub version: u64,
    /// Chain id of the chainspec.
    pub chain_id: u64,
    /// Genesis hash of the chainspec.
    pub genesis_hash: B256,
    /// Number of the block.
    pub block_number: u64,
    /// Hash of the block the claim is about.
    pub block_hash: B256,
    /// RLP of the block.
    pub block: Bytes,
    /// Its execution witness.
    pub witness: ExecutionWitness,
    /// The output root claimed for the block.
    pub claimed_output_root: B256,
    /// What re-execution gives instead.
    pub computed: ComputedOutput,
}

/// Why a proof file does not prove fraud.
#[derive(Debug, thiserror::Error)]
pub enum FraudProofError {
    /// The file is for another chain.
    #[error("the proof is for chain {chain_id} with genesis {genesis}, not the given chainspec")]
    WrongChain {
        /// Chain id in the file.
        chain_id: u64,
        /// Genesis hash in the file.
        genesis: B256,
    },
    /// Unknown file format version.
    #[error("unsupported proof format version {0} (expected {PROOF_FORMAT_VERSION})")]
    Version(u64),
    /// The block does not decode or is not the pinned one.
    #[error("block: {0}")]
    Block(String),
    /// Re-execution from the witness failed.
    #[error(transparent)]
    Witness(#[from] WitnessError),
    /// The file's computed values are not what re-execution gives.
    #[error("the file says re-execution gives {stated:?}, but it gives {actual:?}")]
    ComputedMismatch {
        /// In the file.
        stated: Box<ComputedOutput>,
        /// Recomputed.
        actual: Box<ComputedOutput>,
    },
    /// The claim is right: nothing to prove.
    #[error("the claimed output root {0} is correct: this is no fraud proof")]
    ClaimIsCorrect(B256),
}

/// Re-executes `block` from `witness` and compares with `claimed`: `Ok(None)` if the claim is
/// right, `Ok(Some(proof))` if it is wrong.
pub fn check(
    spec: &ChainSpec,
    block: &Block<TxEnvelope>,
    witness: ExecutionWitness,
    claimed: B256,
) -> Result<(ComputedOutput, Option<FraudProof>), WitnessError> {
    let computed = ComputedOutput::from(execute_stateless(spec, block, &witness)?);
    if computed.output_root == claimed {
        return Ok((computed, None));
    }
    let proof = FraudProof {
        version: PROOF_FORMAT_VERSION,
        chain_id: spec.chain_id,
        genesis_hash: spec.genesis_hash,
        block_number: block.header.number,
        block_hash: block.header.hash_slow(),
        block: alloy_rlp::encode(block).into(),
        witness,
        claimed_output_root: claimed,
        computed,
    };
    Ok((computed, Some(proof)))
}

/// Checks a proof file with no node: it must re-execute to its stated values and those must
/// contradict the claim. Returns the recomputed output.
pub fn verify(spec: &ChainSpec, proof: &FraudProof) -> Result<ComputedOutput, FraudProofError> {
    if proof.version != PROOF_FORMAT_VERSION {
        return Err(FraudProofError::Version(proof.version));
    }
    if proof.chain_id != spec.chain_id || proof.genesis_hash != spec.genesis_hash {
        return Err(FraudProofError::WrongChain {
            chain_id: proof.chain_id,
            genesis: proof.genesis_hash,
        });
    }
    let mut rlp = proof.block.as_ref();
    let block = Block::<TxEnvelope>::decode(&mut rlp)
        .map_err(|e| FraudProofError::Block(format!("does not decode: {e}")))?;
    if !rlp.is_empty() {
        return Err(FraudProofError::Block(
            "trailing bytes after the block".into(),
        ));
    }
    let hash = block.header.hash_slow();
    if hash != proof.block_hash || block.header.number != proof.block_number {
        return Err(FraudProofError::Block(format!(
            "block {} with hash {hash} is not the pinned block {} {}",
            block.header.number, proof.block_number, proof.block_hash
        )));
    }
    let actual = ComputedOutput::from(execute_stateless(spec, &block, &proof.witness)?);
    if actual != proof.computed {
        return Err(FraudProofError::ComputedMismatch {
            stated: Box::new(proof.computed),
            actual: Box::new(actual),
        });
    }
    if actual.output_root == proof.claimed_output_root {
        return Err(FraudProofError::ClaimIsCorrect(actual.output_root));
    }
    Ok(actual)
}
