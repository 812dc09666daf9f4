//! Execution extensions (ExEx) for `hauptbuch-reth`.
//!
//! An ExEx is an async task that receives notifications about the canonical chain
//! (`ChainCommitted`) and reports back how far it has processed (`FinishedHeight`).
//! The node persists each ExEx's finished height so it can replay after a restart.
//! [`celestia`] holds the DA blob format, batching and the Celestia DA ExEx
//! ([`celestia::run_da_exex`], with its submission log [`celestia::DaLog`]); [`da_server`] is
//! the embedded Celestia-compatible DA server used by `--dev` and devnets.

pub mod celestia;
pub mod da_server;

mod notification;

pub use notification::{
    BlockNumHash, CommittedBlock, DaLocation, ExExContext, ExExEvent, ExExNotification,
};
