//! Hauptbuch: a rollup sequencer node. A BFT validator set orders transactions into EVM blocks,
//! an execution engine executes and stores them, and an execution extension posts them to
//! Celestia. This crate holds every component; the `hauptbuch-reth` binary wires them together.

pub mod chainspec;
pub mod cli;
pub mod consensus;
pub mod derive;
pub mod engine;
pub mod execution;
pub mod import;
pub mod node;
pub mod preconf;
pub mod rpc;
pub mod storage;
pub mod trie;
pub mod txpool;
pub mod withdrawals;
