//! Execution extensions (ExEx) for `hauptbuch-reth`.
//!
//! An ExEx is an async task that receives notifications about the canonical chain
//! (`ChainCommitted`) and reports back how far it has processed (`FinishedHeight`).
//! The node persists each ExEx's finished height so it can replay after a restart.
//! [`celestia`] holds the DA blob format and batching; [`da_server`] is the embedded
//! Celestia-compatible DA server used by `--dev` and devnets.

pub mod celestia;
pub mod da_server;

use alloy_primitives::{B256, BlockNumber};

/// Event an ExEx sends back to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExExEvent {
    /// Every block up to and including this one has been processed; the node may
    /// prune what it keeps for this ExEx below it.
    FinishedHeight(BlockNumHash),
}

/// A block number with its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockNumHash {
    /// Block number.
    pub number: BlockNumber,
    /// Block hash.
    pub hash: B256,
}
