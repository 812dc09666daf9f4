//! Engine errors.

use alloy_primitives::B256;

/// Why the engine refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The block is invalid or failed execution.
    #[error(transparent)]
    Execution(#[from] crate::execution::ExecutionError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// The block is already part of the chain.
    #[error("block {number} ({hash}) is already known")]
    AlreadyKnown {
        /// Block number.
        number: u64,
        /// Block hash.
        hash: B256,
    },
    /// The block does not extend the current head.
    #[error("block {number} has parent {parent}, which is not the head {head}")]
    NotOnHead {
        /// Block number.
        number: u64,
        /// Its parent hash.
        parent: B256,
        /// The current head.
        head: B256,
    },
    /// The parent is neither the head nor a pending block above it.
    #[error("parent {0} is neither the head nor a pending block above it")]
    UnknownParent(B256),
    /// A task running engine work failed (panicked or was cancelled).
    #[error("engine task failed: {0}")]
    Task(String),
    /// A forkchoice update broke a rule.
    #[error("invalid forkchoice update: {0}")]
    Forkchoice(String),
    /// A block the database points to is missing.
    #[error("block {0} is referenced but missing from the database")]
    MissingBlock(B256),
    /// The genesis alloc does not produce the genesis header's state root.
    #[error("genesis state root {computed} does not match the header's {header}")]
    GenesisStateRoot {
        /// Root computed from the alloc.
        computed: B256,
        /// Root in the genesis header.
        header: B256,
    },
}
