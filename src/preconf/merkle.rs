//! The keccak256 hasher for rs_merkle trees (batch roots of preconfirmations).

use alloy_primitives::keccak256;

/// keccak256 as an rs_merkle [`Hasher`](rs_merkle::Hasher): Ethereum's hash, so a batch root
/// can be checked in the EVM as well as with rs_merkle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keccak256;

impl rs_merkle::Hasher for Keccak256 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        keccak256(data).0
    }
}
