//! JSON-RPC errors: every failure of the RPC layer converts to a JSON-RPC error object here, in one
//! place, with the codes and messages that Ethereum clients (geth, reth) use.

use alloy_primitives::Bytes;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};

/// `-32602`: the request parameters are invalid.
pub const INVALID_PARAMS: i32 = -32602;
/// `-32603`: an internal error (database failure and the like).
pub const INTERNAL_ERROR: i32 = -32603;
/// `-32000`: the generic server error geth uses for state/validation failures.
pub const SERVER_ERROR: i32 = -32000;
/// `3`: execution reverted (EIP-1474 / geth), with the revert data as `data`.
pub const EXECUTION_REVERTED: i32 = 3;

/// An error of an RPC method.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Bad parameters.
    #[error("{0}")]
    InvalidParams(String),
    /// A block that does not exist (or is not canonical).
    #[error("header not found")]
    HeaderNotFound,
    /// Execution reverted, with revert data.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted {
        /// Decoded reason, when the data is `Error(string)` or a panic code.
        reason: Option<String>,
        /// Raw revert data.
        data: Bytes,
    },
    /// A server-side error with geth's generic code -32000 (e.g. out of gas, pool rejections).
    #[error("{0}")]
    Server(String),
    /// Any other failure, with an explicit code.
    #[error("{message}")]
    Custom {
        /// JSON-RPC error code.
        code: i32,
        /// Message.
        message: String,
    },
    /// Internal failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RpcError {
    /// Wraps any displayable internal failure.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// A revert with data, decoding `Error(string)` and `Panic(uint256)` like other clients.
    pub fn reverted(data: Bytes) -> Self {
        let reason = alloy_sol_types::decode_revert_reason(&data);
        Self::Reverted { reason, data }
    }
}

impl From<crate::storage::StorageError> for RpcError {
    fn from(err: crate::storage::StorageError) -> Self {
        Self::internal(err)
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(err: RpcError) -> Self {
        let message = err.to_string();
        match err {
            RpcError::InvalidParams(_) => ErrorObject::owned(INVALID_PARAMS, message, None::<()>),
            RpcError::HeaderNotFound | RpcError::Server(_) => {
                ErrorObject::owned(SERVER_ERROR, message, None::<()>)
            }
            RpcError::Reverted { data, .. } => {
                ErrorObject::owned(EXECUTION_REVERTED, message, Some(data))
            }
            RpcError::Custom { code, .. } => ErrorObject::owned(code, message, None::<()>),
            RpcError::Internal(_) => ErrorObject::owned(INTERNAL_ERROR, message, None::<()>),
        }
    }
}

/// Result of an RPC method.
pub type RpcResult<T> = Result<T, ErrorObjectOwned>;
