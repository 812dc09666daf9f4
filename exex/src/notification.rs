//! The ExEx interface, shaped like reth's: an ExEx is an async task over an [`ExExContext`]. It
//! receives [`ExExNotification`]s about the canonical chain, in order and without gaps, and sends
//! [`ExExEvent`]s back: `FinishedHeight` when everything up to a block is durably processed (the
//! node persists it and replays from there after a restart), and `Firm` when a block became final
//! on the data-availability layer (the node moves its `finalized` pointer).
//!
//! Blocks travel as their consensus encodings (RLP), so this crate needs no execution types and
//! the DA blob format can carry them verbatim.

use alloy_primitives::{B256, BlockNumber, Bytes};
use tokio::sync::mpsc;

/// A block number with its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockNumHash {
    /// Block number.
    pub number: BlockNumber,
    /// Block hash.
    pub hash: B256,
}

/// A canonical block as an ExEx sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBlock {
    /// Number and hash.
    pub block: BlockNumHash,
    /// Block timestamp (seconds).
    pub timestamp: u64,
    /// RLP of the header.
    pub header: Bytes,
    /// RLP list of the transactions (EIP-2718 envelopes).
    pub transactions: Bytes,
    /// Consensus finalization certificate (empty when the block has none of its own: genesis,
    /// imported chains, blocks finalized through a descendant's certificate).
    pub certificate: Bytes,
}

/// Notification of a change of the canonical chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExExNotification {
    /// Blocks appended to the canonical chain, consecutive and in order.
    ChainCommitted {
        /// The new blocks.
        blocks: Vec<CommittedBlock>,
    },
}

/// Where a block's data sits on the DA layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaLocation {
    /// Height of the DA block holding the blob.
    pub height: u64,
    /// Namespace (29 bytes, version 0).
    pub namespace: Bytes,
    /// Share commitment of the blob.
    pub commitment: B256,
}

/// Event an ExEx sends back to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExExEvent {
    /// Every block up to and including this one has been durably processed; after a restart the
    /// node replays from the next block.
    FinishedHeight(BlockNumHash),
    /// Every block up to and including `block` is final on the DA layer (firm confirmation).
    Firm {
        /// Last firm block.
        block: BlockNumHash,
        /// Where its blob is.
        location: DaLocation,
    },
}

/// What the node gives an ExEx.
#[derive(Debug)]
pub struct ExExContext {
    /// Notifications, starting right after the ExEx's last finished height. The channel is
    /// bounded: a slow ExEx slows its own feed, never the node (the node reads from its database).
    pub notifications: mpsc::Receiver<ExExNotification>,
    /// Events back to the node.
    pub events: mpsc::UnboundedSender<ExExEvent>,
    /// The finished height the node had persisted when it started this ExEx, if any.
    pub finished: Option<BlockNumHash>,
}
