//! The preconfirmation object, its canonical encoding and its verification.
//!
//! # Encoding
//!
//! [`Preconfirmation::encode`] is a fixed 201-byte layout, big-endian integers, no length
//! prefixes (every field has a fixed size):
//!
//! ```text
//! "hauptbuch/preconf/v1" (20 bytes) | chain_id u64 | tx_hash 32 | block_number u64 |
//! tx_index u32 | arrival_ms u64 | expiry_ms u64 | parent_hash 32 |
//! ed25519 public key 32 | keccak256(ML-DSA-65 public key) 32 | flags u8 (0)
//! ```
//!
//! The preconfirmation's hash is `keccak256(encoding)`. The ed25519 signature is over the
//! encoding. `parent_hash` is the hash of the preconfirmation at `tx_index - 1` of the same
//! block (zero for index 0), so the preconfirmations of one block form a hash chain and a
//! reordering is evident from two signed objects.
//!
//! # Batches
//!
//! ML-DSA-65 signs the Merkle root of a *batch* (the preconfirmations issued in one short window)
//! instead of each preconfirmation. The tree is rs_merkle's over **keccak256**: leaves are the
//! preconfirmation hashes in issue order, an inner node is `keccak256(left || right)`, and an odd
//! node at the end of a level is carried up unchanged. The signed message is
//! [`batch_message`]: `"hauptbuch/preconf-batch/v1" | chain_id u64 | batch id u64 |
//! leaf count u32 | root 32`.

use super::{
    error::{PreconfError, Result},
    merkle::Keccak256,
};
use alloy_primitives::{B256, Bytes, U64, keccak256};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use pqcrypto_mldsa::mldsa65;
use pqcrypto_traits::sign::{DetachedSignature as _, PublicKey as _};
use rs_merkle::MerkleProof;
use serde::{Deserialize, Serialize};

/// Domain tag of a preconfirmation encoding.
const PRECONF_DOMAIN: &[u8; 20] = b"hauptbuch/preconf/v1";
/// Domain tag of a batch root message.
const BATCH_DOMAIN: &[u8; 26] = b"hauptbuch/preconf-batch/v1";

/// The signed fields of a preconfirmation: a promise that `tx_hash` will be the transaction at
/// `tx_index` of block `block_number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preconfirmation {
    /// Chain id.
    pub chain_id: u64,
    /// The transaction.
    pub tx_hash: B256,
    /// The promised block.
    pub block_number: u64,
    /// The promised position in that block.
    pub tx_index: u32,
    /// When the issuer received the transaction (unix ms).
    pub arrival_ms: u64,
    /// After this time (unix ms) an unsealed promised block makes the promise `expired`.
    pub expiry_ms: u64,
    /// Hash of the preconfirmation at `tx_index - 1` of the same block; zero at index 0.
    pub parent_hash: B256,
    /// The issuer's ed25519 public key.
    pub ed25519_key: [u8; 32],
    /// keccak256 of the issuer's ML-DSA-65 public key.
    pub ml_dsa_key_hash: B256,
}

impl Preconfirmation {
    /// The canonical encoding (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(201);
        out.extend_from_slice(PRECONF_DOMAIN);
        out.extend_from_slice(&self.chain_id.to_be_bytes());
        out.extend_from_slice(self.tx_hash.as_slice());
        out.extend_from_slice(&self.block_number.to_be_bytes());
        out.extend_from_slice(&self.tx_index.to_be_bytes());
        out.extend_from_slice(&self.arrival_ms.to_be_bytes());
        out.extend_from_slice(&self.expiry_ms.to_be_bytes());
        out.extend_from_slice(self.parent_hash.as_slice());
        out.extend_from_slice(&self.ed25519_key);
        out.extend_from_slice(self.ml_dsa_key_hash.as_slice());
        out.push(0);
        out
    }

    /// `keccak256` of the encoding: the Merkle leaf and the next preconfirmation's parent.
    pub fn hash(&self) -> B256 {
        keccak256(self.encode())
    }
}

/// Sibling hashes on the path of leaf `index` in rs_merkle's tree of `count` leaves (a node
/// without a sibling is carried up unchanged and needs none). Checked so that a proof with
/// surplus hashes, which rs_merkle would ignore, is rejected.
fn proof_len(mut index: usize, mut count: usize) -> usize {
    let mut len = 0;
    while count > 1 {
        if index ^ 1 < count {
            len += 1;
        }
        index /= 2;
        count = count.div_ceil(2);
    }
    len
}

/// The message ML-DSA-65 signs for a batch.
pub fn batch_message(chain_id: u64, batch_id: u64, leaf_count: u32, root: B256) -> Vec<u8> {
    let mut out = Vec::with_capacity(26 + 8 + 8 + 4 + 32);
    out.extend_from_slice(BATCH_DOMAIN);
    out.extend_from_slice(&chain_id.to_be_bytes());
    out.extend_from_slice(&batch_id.to_be_bytes());
    out.extend_from_slice(&leaf_count.to_be_bytes());
    out.extend_from_slice(root.as_slice());
    out
}

/// The batch a preconfirmation was issued in: its ML-DSA-65-signed root and the Merkle path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchProof {
    /// Batch sequence number.
    pub id: U64,
    /// Merkle root over the batch's preconfirmation hashes.
    pub root: B256,
    /// Number of preconfirmations in the batch.
    pub leaf_count: U64,
    /// This preconfirmation's leaf index.
    pub leaf_index: U64,
    /// Sibling hashes from the leaf up (rs_merkle order).
    pub proof: Vec<B256>,
    /// ML-DSA-65 signature over [`batch_message`].
    pub signature: Bytes,
}

/// A preconfirmation as the RPC returns it and the verifier reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedPreconfirmation {
    /// Chain id.
    pub chain_id: U64,
    /// The transaction.
    pub tx_hash: B256,
    /// The promised block.
    pub block_number: U64,
    /// The promised index in the block.
    pub tx_index: U64,
    /// Arrival time, unix ms.
    pub arrival_ms: U64,
    /// Expiry, unix ms.
    pub expiry_ms: U64,
    /// Hash of the previous preconfirmation in the same block (zero at index 0).
    pub parent_hash: B256,
    /// keccak256 of the canonical encoding.
    pub hash: B256,
    /// Issuer public keys.
    pub issuer: IssuerKeysJson,
    /// ed25519 signature over the canonical encoding.
    pub signature: Bytes,
    /// The ML-DSA-65-signed batch holding this preconfirmation.
    pub batch: BatchProof,
}

/// Public keys of an issuer (also part of `hb_capabilities`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerKeysJson {
    /// ed25519 public key (32 bytes).
    pub ed25519: B256,
    /// ML-DSA-65 public key (1952 bytes).
    pub ml_dsa65: Bytes,
}

impl IssuerKeysJson {
    /// The keys as the chainspec lists them (`hauptbuch.validators[].preconf`).
    pub fn chainspec_keys(&self) -> crate::chainspec::PreconfKeys {
        crate::chainspec::PreconfKeys {
            ed25519: self.ed25519,
            ml_dsa65_hash: keccak256(&self.ml_dsa65),
        }
    }
}

impl SignedPreconfirmation {
    /// The signed fields, with range checks on the JSON numbers.
    pub fn preconfirmation(&self) -> Result<Preconfirmation> {
        let tx_index = u32::try_from(self.tx_index.to::<u64>())
            .map_err(|_| PreconfError::invalid("txIndex", "does not fit in 32 bits"))?;
        Ok(Preconfirmation {
            chain_id: self.chain_id.to(),
            tx_hash: self.tx_hash,
            block_number: self.block_number.to(),
            tx_index,
            arrival_ms: self.arrival_ms.to(),
            expiry_ms: self.expiry_ms.to(),
            parent_hash: self.parent_hash,
            ed25519_key: self.issuer.ed25519.0,
            ml_dsa_key_hash: keccak256(&self.issuer.ml_dsa65),
        })
    }

    /// Checks the hash, the ed25519 signature, the Merkle path to the batch root and the
    /// ML-DSA-65 signature over the root, all against the embedded issuer keys. Whether those
    /// keys are the sequencer's is for the caller to check (`hb_capabilities`, chainspec).
    pub fn verify(&self) -> Result<()> {
        let preconf = self.preconfirmation()?;
        let encoding = preconf.encode();
        let hash = keccak256(&encoding);
        if hash != self.hash {
            return Err(PreconfError::invalid(
                "hash",
                format!("fields hash to {hash}, object says {}", self.hash),
            ));
        }
        let key = VerifyingKey::from_bytes(&self.issuer.ed25519.0)
            .map_err(|e| PreconfError::invalid("issuer.ed25519", e))?;
        let signature = Signature::from_slice(&self.signature)
            .map_err(|e| PreconfError::invalid("ed25519 signature", e))?;
        key.verify(&encoding, &signature)
            .map_err(|e| PreconfError::invalid("ed25519 signature", e))?;

        let batch = &self.batch;
        let leaf_count = usize::try_from(batch.leaf_count.to::<u64>())
            .ok()
            .filter(|n| *n > 0 && *n <= u32::MAX as usize)
            .ok_or_else(|| PreconfError::invalid("batch.leafCount", "out of range"))?;
        let leaf_index = usize::try_from(batch.leaf_index.to::<u64>())
            .ok()
            .filter(|i| *i < leaf_count)
            .ok_or_else(|| PreconfError::invalid("batch.leafIndex", "not below leafCount"))?;
        let expected = proof_len(leaf_index, leaf_count);
        if batch.proof.len() != expected {
            return Err(PreconfError::invalid(
                "batch proof",
                format!(
                    "{} hashes for leaf {leaf_index} of {leaf_count}, expected {expected}",
                    batch.proof.len()
                ),
            ));
        }
        let proof = MerkleProof::<Keccak256>::new(batch.proof.iter().map(|h| h.0).collect());
        if !proof.verify(batch.root.0, &[leaf_index], &[hash.0], leaf_count) {
            return Err(PreconfError::invalid(
                "batch proof",
                "the Merkle path does not lead to the batch root",
            ));
        }
        let pk = mldsa65::PublicKey::from_bytes(&self.issuer.ml_dsa65)
            .map_err(|e| PreconfError::invalid("issuer.mlDsa65", e))?;
        let sig = mldsa65::DetachedSignature::from_bytes(&batch.signature)
            .map_err(|e| PreconfError::invalid("batch ML-DSA-65 signature", e))?;
        let message = batch_message(
            preconf.chain_id,
            batch.id.to(),
            leaf_count as u32,
            batch.root,
        );
        mldsa65::verify_detached_signature(&sig, &message, &pk).map_err(|_| {
            PreconfError::invalid(
                "batch ML-DSA-65 signature",
                "does not verify against issuer.mlDsa65",
            )
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rs_merkle::MerkleTree;

    #[test]
    fn expected_proof_length_matches_rs_merkle_for_every_leaf() {
        for count in 1..70usize {
            let leaves: Vec<[u8; 32]> = (0..count).map(|i| keccak256(i.to_be_bytes()).0).collect();
            let tree = MerkleTree::<Keccak256>::from_leaves(&leaves);
            for (index, leaf) in leaves.iter().enumerate() {
                let proof = tree.proof(&[index]);
                assert_eq!(
                    proof.proof_hashes().len(),
                    proof_len(index, count),
                    "{index}/{count}"
                );
                let root = tree.root().expect("root");
                assert!(proof.verify(root, &[index], &[*leaf], count));
            }
        }
    }
}
