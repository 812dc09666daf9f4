//! The `hb_` namespace: Hauptbuch's own surface for wallets, bridges and operators. This first
//! part reports data availability; preconfirmations and withdrawals join it later.

use crate::{
    engine::Engine,
    rpc::error::{RpcError, RpcResult},
};
use alloy_primitives::{B256, U64};
use hauptbuch_exex::celestia::DaLog;
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;
use std::path::PathBuf;

/// A block reference.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BlockRefJson {
    /// Number.
    pub number: U64,
    /// Hash.
    pub hash: B256,
}

/// `hb_daStatus`: how far blocks are posted and final on the DA layer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaStatusJson {
    /// Whether this node posts blocks to a DA layer.
    pub enabled: bool,
    /// Latest soft block (`latest`/`safe`).
    pub soft_head: BlockRefJson,
    /// Latest firm block (`finalized`).
    pub firm_head: BlockRefJson,
    /// Soft head minus firm head, in blocks.
    pub lag: U64,
    /// Last block whose blob was included on DA.
    pub last_submitted_block: Option<U64>,
    /// Batches closed but not yet included.
    pub unsubmitted_batches: U64,
    /// Batches included but not yet final.
    pub pending_batches: U64,
    /// Bytes of blobs not yet included.
    pub pending_bytes: U64,
    /// Latest DA height seen.
    pub last_da_height: Option<U64>,
}

/// Hauptbuch-specific methods.
#[rpc(server, namespace = "hb")]
pub trait HbApi {
    /// Soft head, firm head, pending blobs, last DA height and lag.
    #[method(name = "daStatus")]
    fn da_status(&self) -> RpcResult<DaStatusJson>;
}

/// `hb_` implementation.
#[derive(Debug, Clone)]
pub struct HbRpc {
    engine: Engine,
    /// Directory of the DA ExEx's submission log, when DA posting is on.
    da_dir: Option<PathBuf>,
}

impl HbRpc {
    /// Creates the namespace; `da_dir` is `None` when the node posts nothing.
    pub const fn new(engine: Engine, da_dir: Option<PathBuf>) -> Self {
        Self { engine, da_dir }
    }
}

impl HbApiServer for HbRpc {
    fn da_status(&self) -> RpcResult<DaStatusJson> {
        let forkchoice = self.engine.forkchoice().map_err(RpcError::internal)?;
        let reference = |b: crate::engine::BlockRef| BlockRefJson {
            number: U64::from(b.number),
            hash: b.hash,
        };
        let status = match &self.da_dir {
            Some(dir) => Some(
                DaLog::open(dir)
                    .and_then(|log| log.status())
                    .map_err(RpcError::internal)?,
            ),
            None => None,
        };
        let status_ref = status.as_ref();
        Ok(DaStatusJson {
            enabled: status.is_some(),
            soft_head: reference(forkchoice.safe),
            firm_head: reference(forkchoice.finalized),
            lag: U64::from(
                forkchoice
                    .safe
                    .number
                    .saturating_sub(forkchoice.finalized.number),
            ),
            last_submitted_block: status_ref
                .and_then(|s| s.last_submitted_block)
                .map(U64::from),
            unsubmitted_batches: U64::from(status_ref.map_or(0, |s| s.unsubmitted_batches)),
            pending_batches: U64::from(status_ref.map_or(0, |s| s.pending_batches)),
            pending_bytes: U64::from(status_ref.map_or(0, |s| s.pending_bytes)),
            last_da_height: status_ref.and_then(|s| s.last_da_height).map(U64::from),
        })
    }
}
