//! Preconfirmations: signed promises of where a transaction will land (block number and index),
//! issued within milliseconds of its arrival, kept durable, honoured by the block builder, and
//! checkable offline.
//!
//! - [`types`]: the object, its canonical encoding, verification of both signatures.
//! - [`keys`]: the issuer's ed25519 and ML-DSA-65 keys (datadir or `--preconf.key`).
//! - [`store`]: `preconf.redb` behind a write-ahead log (`preconf.wal`, one `fdatasync` per
//!   batch).
//! - [`issuer`]: position assignment (first come, first served), batching, signing, and
//!   [`Preconfer::transactions_for_block`] for block builders.
//! - [`status`]: preconfirmed → soft → firm, or expired / violated, and inclusion proofs.
//! - [`inclusion`]: MPT proofs of a block position against `transactionsRoot`.
//! - [`verify`]: the offline verifier behind `hauptbuch-reth preconf verify`.
//! - [`forward`]: validator networks: the leader of the next block issues, the others forward
//!   requests to it over p2p.
//! - [`rpc`]: the `hb_` methods.
//!
//! # Invariants
//!
//! - A preconfirmation is returned only after it is fsync'd.
//! - A promise is never dropped: after a restart the promises of unsealed blocks are reloaded and
//!   given to the builder; a sealed block that does not honour one makes it `violated`.
//!
//! # Assumptions
//!
//! - One issuer per block: the single validator, or on a network the leader of the view that
//!   proposes it ([`forward`]).

pub mod error;
pub mod forward;
pub mod inclusion;
pub mod issuer;
pub mod keys;
mod merkle;
pub mod rpc;
pub mod status;
pub mod store;
pub mod types;
pub mod verify;
mod wal;

pub use error::{PreconfError, Result};
pub use forward::{Forwarder, Route, Routes};
pub use issuer::{IssuerTask, PreconfConfig, Preconfer};
pub use keys::IssuerKeys;
pub use store::PreconfStore;
pub use types::{Preconfirmation, SignedPreconfirmation};
