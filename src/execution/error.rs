//! Consensus (validation) and execution errors.

use alloy_primitives::B256;

/// A block broke a consensus rule. Every variant names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    /// A header or body field differs from what the rules (or re-execution) give.
    #[error("{field} mismatch: block has {got}, expected {expected}")]
    Mismatch {
        /// Field, e.g. `stateRoot`, `gasUsed`, `baseFeePerGas`.
        field: &'static str,
        /// Value in the block.
        got: String,
        /// Value computed here.
        expected: String,
    },
    /// A field that the active fork requires is missing.
    #[error("{field} is missing but required by the active fork")]
    Missing {
        /// Field name.
        field: &'static str,
    },
    /// A field that the active fork does not allow is present.
    #[error("{field} is present but not allowed before its fork")]
    Unexpected {
        /// Field name.
        field: &'static str,
    },
    /// Any other rule, described in words.
    #[error("{0}")]
    Rule(String),
}

impl ConsensusError {
    /// A mismatch of two displayable values.
    pub fn mismatch(field: &'static str, got: impl ToString, expected: impl ToString) -> Self {
        Self::Mismatch {
            field,
            got: got.to_string(),
            expected: expected.to_string(),
        }
    }
}

/// Why a block could not be executed or imported.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The block breaks a consensus rule.
    #[error("block {number} ({hash}) is invalid: {error}")]
    Invalid {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
        /// The broken rule.
        error: ConsensusError,
    },
    /// A transaction signature does not recover.
    #[error("block {number}: transaction {index} has an invalid signature")]
    InvalidSignature {
        /// Block number.
        number: u64,
        /// Index of the transaction.
        index: usize,
    },
    /// The EVM or a system call rejected the block.
    #[error("block {number} ({hash}) failed execution: {error}")]
    Execution {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
        /// The executor's error.
        error: alloy_evm::block::BlockExecutionError,
    },
    /// Reading state failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}
