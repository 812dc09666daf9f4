//! Chain specification errors.

use std::path::PathBuf;

/// Why a chain specification could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The file could not be read.
    #[error("cannot read chainspec {path}: {source}")]
    Read {
        /// File that was requested.
        path: PathBuf,
        /// I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid JSON.
    #[error("chainspec is not valid JSON: {0}")]
    Json(String),
    /// The document is not a JSON object.
    #[error("chainspec must be a JSON object")]
    NotAnObject,
    /// A field this node does not know (most likely a typo).
    #[error("unknown chainspec field `{0}`")]
    UnknownField(String),
    /// A field with a value that does not parse or is out of range.
    #[error("invalid chainspec field `{field}`: {message}")]
    InvalidField {
        /// Path of the field, e.g. `config.chainId` or `hauptbuch.validators[0].publicKey`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}
