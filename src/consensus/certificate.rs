//! Offline verification of finalization certificates: everything needed is the chainspec (its
//! validator set and the signature namespace) and the block hash.

use super::{Digest, Finalization, Scheme, ValidatorSet, namespace};
use crate::chainspec::ChainSpec;
use alloy_primitives::B256;
use commonware_codec::Decode as _;
use commonware_cryptography::certificate::Verifier as _;
use commonware_parallel::Sequential;

/// Why a certificate does not prove a block final.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The bytes are not a finalization certificate.
    #[error("not a finalization certificate: {0}")]
    Decode(String),
    /// The certificate finalizes another block.
    #[error("the certificate finalizes {certified}, not this block")]
    OtherBlock {
        /// The block it certifies.
        certified: B256,
    },
    /// Signatures missing, below quorum or invalid for the validator set.
    #[error("the signatures do not make a quorum of the validator set")]
    Signatures,
}

/// Checks certificates against one validator set.
#[derive(Debug, Clone)]
pub struct CertificateVerifier {
    scheme: Scheme,
}

impl CertificateVerifier {
    /// A verifier for the chain's validator set.
    pub fn new(spec: &ChainSpec, validators: &ValidatorSet) -> Self {
        Self {
            scheme: Scheme::verifier(&namespace(spec), validators.keys().clone()),
        }
    }

    /// Decodes `bytes` and checks that it is a valid finalization of block `hash`; returns the
    /// consensus view it was finalized in.
    pub fn verify(&self, bytes: &[u8], hash: B256) -> Result<u64, CertificateError> {
        let finalization =
            Finalization::decode_cfg(bytes.to_vec(), &self.scheme.certificate_codec_config())
                .map_err(|err| CertificateError::Decode(err.to_string()))?;
        let certified = B256::from(finalization.proposal.payload.0);
        if certified != hash {
            return Err(CertificateError::OtherBlock { certified });
        }
        if !finalization.verify(&mut rand::rng(), &self.scheme, &Sequential) {
            return Err(CertificateError::Signatures);
        }
        Ok(finalization.proposal.round.view().get())
    }
}

/// Blocks other validators posted to DA: a standby poster adopts their blob only if the
/// certificate in it finalizes the block (its hash is the hash of the header RLP).
impl hauptbuch_exex::celestia::CertificateCheck for CertificateVerifier {
    fn is_valid(&self, block: &hauptbuch_exex::celestia::BatchBlock) -> bool {
        self.verify(
            &block.certificate,
            alloy_primitives::keccak256(&block.header),
        )
        .is_ok()
    }
}

/// The digest consensus signs for a block hash.
pub fn digest_of(hash: B256) -> Digest {
    commonware_cryptography::sha256::Digest(hash.0)
}
