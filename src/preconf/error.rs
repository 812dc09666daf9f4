//! Errors of the preconfirmation component.

/// A failure of the preconfirmation issuer, store or verifier.
#[derive(Debug, thiserror::Error)]
pub enum PreconfError {
    /// The transaction was refused by the pool (its JSON-RPC code and message are kept).
    #[error("{message}")]
    Pool {
        /// The pool's JSON-RPC error code.
        code: i32,
        /// The pool's message.
        message: String,
    },
    /// The transaction is valid but cannot be given a position (e.g. nonce order).
    #[error("preconfirmation refused: {0}")]
    Refused(String),
    /// This node does not issue the next block's preconfirmations (another validator leads it,
    /// or its window closed); the request goes to the next issuer.
    #[error("this validator is not issuing preconfirmations now")]
    NotIssuing,
    /// No validator issued within the wait (views timing out, issuer unreachable).
    #[error("no preconfirmation issuer available: {0}")]
    Unavailable(String),
    /// The issuer is shutting down or its worker stopped.
    #[error("preconfirmation issuer is not running")]
    Stopped,
    /// A signature, proof or encoding does not check out.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was checked (e.g. `ed25519 signature`).
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The key file is unreadable or malformed.
    #[error("preconfirmation key {path}: {reason}")]
    Key {
        /// The key file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The preconfirmation store failed.
    #[error("preconfirmation store: {0}")]
    Store(String),
    /// The chain database failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

impl PreconfError {
    /// An [`PreconfError::Invalid`] with a formatted reason.
    pub(crate) fn invalid(what: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Invalid {
            what,
            reason: reason.to_string(),
        }
    }

    /// A store failure from any redb error.
    pub(crate) fn store(err: impl std::fmt::Display) -> Self {
        Self::Store(err.to_string())
    }
}

/// Result of the preconfirmation component.
pub type Result<T, E = PreconfError> = std::result::Result<T, E>;
