//! The `MessagePassed` event of the message passer and its decoding from receipt logs.

use super::MESSAGE_PASSER_ADDRESS;
use alloy_primitives::{Address, B256, Bytes, Log, U256};
use alloy_sol_types::SolEvent;

alloy_sol_types::sol! {
    /// Emitted by `L2ToL1MessagePasser.initiateWithdrawal` (OP Stack signature).
    #[derive(Debug)]
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );
}

/// A withdrawal as initiated on L2: the fields of its `MessagePassed` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalMessage {
    /// Versioned message nonce.
    pub nonce: U256,
    /// Caller of `initiateWithdrawal`.
    pub sender: Address,
    /// L1 target.
    pub target: Address,
    /// Wei withdrawn.
    pub value: U256,
    /// Gas limit for the L1 call.
    pub gas_limit: U256,
    /// L1 calldata.
    pub data: Bytes,
    /// `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))`.
    pub withdrawal_hash: B256,
}

impl WithdrawalMessage {
    /// Decodes a log if it is a `MessagePassed` event of the message passer predeploy.
    pub fn from_log(log: &Log) -> Option<Self> {
        if log.address != MESSAGE_PASSER_ADDRESS
            || log.topics().first() != Some(&MessagePassed::SIGNATURE_HASH)
        {
            return None;
        }
        let event = MessagePassed::decode_log_data(&log.data).ok()?;
        Some(Self {
            nonce: event.nonce,
            sender: event.sender,
            target: event.target,
            value: event.value,
            gas_limit: event.gasLimit,
            data: event.data,
            withdrawal_hash: event.withdrawalHash,
        })
    }

    /// Recomputes the withdrawal hash from the other fields (the contract's formula).
    pub fn computed_hash(&self) -> B256 {
        use alloy_sol_types::SolValue;
        alloy_primitives::keccak256(
            (
                self.nonce,
                self.sender,
                self.target,
                self.value,
                self.gas_limit,
                self.data.clone(),
            )
                .abi_encode_params(),
        )
    }
}
