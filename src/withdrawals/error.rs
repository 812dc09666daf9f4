//! Withdrawal errors.

use alloy_primitives::B256;

/// A failure of a withdrawal or output-root query.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawalError {
    /// Neither a withdrawal hash nor a transaction with a withdrawal.
    #[error("no withdrawal with hash (or in transaction) {0}")]
    NotFound(B256),
    /// The block does not exist yet.
    #[error("block {requested} is beyond the head {head}")]
    BeyondHead {
        /// Requested block number.
        requested: u64,
        /// Current head.
        head: u64,
    },
    /// Genesis has no parent state to execute on.
    #[error("block 0 (genesis) is not executed and has no witness")]
    Genesis,
    /// The withdrawal's block is not firm yet, so no output root may be proven for it.
    #[error("withdrawal {hash} is in block {block}, which is not firm yet (firm head {firm})")]
    NotFirm {
        /// Withdrawal hash.
        hash: B256,
        /// Its block.
        block: u64,
        /// Latest firm block.
        firm: u64,
    },
    /// The database failed or holds inconsistent data.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

impl From<redb::Error> for WithdrawalError {
    fn from(err: redb::Error) -> Self {
        Self::Storage(err.into())
    }
}

/// JSON-RPC code for a missing resource (EIP-1474).
pub const RESOURCE_NOT_FOUND: i32 = -32001;
/// JSON-RPC code for a resource that exists but is not available yet (EIP-1474).
pub const RESOURCE_UNAVAILABLE: i32 = -32002;

impl From<WithdrawalError> for crate::rpc::error::RpcError {
    fn from(err: WithdrawalError) -> Self {
        let code = match &err {
            WithdrawalError::NotFound(_) | WithdrawalError::BeyondHead { .. } => RESOURCE_NOT_FOUND,
            WithdrawalError::NotFirm { .. } => RESOURCE_UNAVAILABLE,
            WithdrawalError::Genesis => return Self::InvalidParams(err.to_string()),
            WithdrawalError::Storage(_) => return Self::internal(err),
        };
        Self::Custom {
            code,
            message: err.to_string(),
        }
    }
}
