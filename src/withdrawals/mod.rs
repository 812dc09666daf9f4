//! Withdrawals: the L2 side of moving value out of the rollup, OP Stack compatible.
//!
//! A user calls `initiateWithdrawal` on the `L2ToL1MessagePasser` predeploy
//! ([`MESSAGE_PASSER_ADDRESS`], source in `contracts/`). The contract sets
//! `sentMessages[withdrawalHash] = true` (a mapping at storage slot 0) and emits `MessagePassed`.
//! Each block commits to the contract's storage through its *output root*
//! (`keccak256(version ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash)`, version 0), so an
//! L1 portal that trusts an output root can check a withdrawal with a storage proof of
//! `sentMessages[hash]` against the `messagePasserStorageRoot` in the output root's preimage.
//!
//! Parts:
//! - [`index`]: a redb table from withdrawal hash to (block, transaction, log), written in the
//!   block's own write transaction, so a committed block is always fully indexed.
//! - [`output`]: the message passer's storage as of any retained block (rebuilt from the plain
//!   state and its history tables), its storage root, storage proofs and output roots.
//! - [`rpc`]: `hb_outputAtBlock`, `hb_getWithdrawal`, `hb_getWithdrawalProof`,
//!   `hb_withdrawalStatus`.
//!
//! Invariants:
//! - A withdrawal is *provable* once its block is firm (at or below the `finalized` pointer); its
//!   proof is given at the latest firm block, which is at or after the withdrawal's block, so the
//!   proven slot is always set there (the contract never clears a slot).
//! - A withdrawal is *finalizable* once the chainspec's challenge window has passed, measured in
//!   L2 block time: from the timestamp of the withdrawal's block (the earliest firm block that
//!   proves it) to the timestamp of the latest soft block.
//!
//! Assumptions: blocks are only appended (no reorgs), so the index never needs unwinding.

mod error;
pub mod event;
pub mod fraud_proof;
pub mod history;
pub mod index;
pub mod output;
mod partial_trie;
pub mod rpc;
pub mod stateless;
pub mod witness;

pub use error::{RESOURCE_NOT_FOUND, RESOURCE_UNAVAILABLE, WithdrawalError};
pub use output::OutputRootPreimage;

use alloy_primitives::{Address, B256, U256, address, keccak256};

/// Address of the `L2ToL1MessagePasser` predeploy (the OP Stack address).
pub const MESSAGE_PASSER_ADDRESS: Address = address!("0x4200000000000000000000000000000000000016");

/// Storage slot of the `sentMessages` mapping in the message passer.
pub const SENT_MESSAGES_SLOT: U256 = U256::ZERO;

/// Output root version: OP Stack version 0, 32 zero bytes.
pub const OUTPUT_VERSION: B256 = B256::ZERO;

/// Storage slot of `sentMessages[withdrawal_hash]`: `keccak256(hash ‖ uint256(0))`.
pub fn sent_message_slot(withdrawal_hash: B256) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(withdrawal_hash.as_slice());
    preimage[32..].copy_from_slice(&SENT_MESSAGES_SLOT.to_be_bytes::<32>());
    keccak256(preimage)
}
