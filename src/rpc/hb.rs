//! The `hb_` namespace: Hauptbuch's own surface for wallets, bridges and operators. This first
//! part reports data availability; preconfirmations and withdrawals join it later.

use crate::{
    engine::Engine,
    preconf::{
        Forwarder, Preconfer, SignedPreconfirmation, inclusion::InclusionProof, rpc as preconf_rpc,
        rpc::CapabilitiesJson, status::PreconfReader, status::PreconfStatusJson,
    },
    rpc::error::{RpcError, RpcResult},
};
use alloy_primitives::{B256, Bytes, U64};
use hauptbuch_exex::celestia::DaLog;
use jsonrpsee::{PendingSubscriptionSink, core::SubscriptionResult, proc_macros::rpc};
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
    /// Whether block production waits for DA posting (`--da.max-unposted-blocks` reached).
    pub production_paused: bool,
    /// The bound on blocks not yet posted, when this node posts.
    pub max_unposted_blocks: Option<U64>,
}

/// Hauptbuch-specific methods.
#[rpc(server, namespace = "hb")]
pub trait HbApi {
    /// Soft head, firm head, pending blobs, last DA height and lag.
    #[method(name = "daStatus")]
    fn da_status(&self) -> RpcResult<DaStatusJson>;

    // Preconfirmations: implemented in `crate::preconf::rpc`, documented in docs/rpc.md.
    /// Version, chain id, features, preconfirmation keys and algorithms.
    #[method(name = "capabilities")]
    fn capabilities(&self) -> RpcResult<CapabilitiesJson>;
    /// Validates a raw transaction through the pool and returns its signed preconfirmation.
    #[method(name = "sendPreconfTransaction")]
    async fn send_preconf_transaction(&self, raw: Bytes) -> RpcResult<SignedPreconfirmation>;
    /// The preconfirmation of a transaction.
    #[method(name = "getPreconfirmation")]
    fn get_preconfirmation(&self, hash: B256) -> RpcResult<Option<SignedPreconfirmation>>;
    /// preconfirmed, soft, firm, expired or violated.
    #[method(name = "preconfStatus")]
    fn preconf_status(&self, hash: B256) -> RpcResult<Option<PreconfStatusJson>>;
    /// MPT proof of the promised (or mined) position against the block's transactions root.
    #[method(name = "getInclusionProof")]
    fn get_inclusion_proof(&self, hash: B256) -> RpcResult<Option<InclusionProof>>;
    /// `hb_subscribe("preconfirmations")`: preconfirmations as they are issued (WS).
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = SignedPreconfirmation)]
    async fn subscribe(&self, kind: String) -> SubscriptionResult;
}

/// `hb_` implementation.
#[derive(Debug, Clone)]
pub struct HbRpc {
    engine: Engine,
    /// Directory of the DA ExEx's submission log, when DA posting is on.
    da_dir: Option<PathBuf>,
    /// The preconfirmation issuer, when this node issues them.
    preconf: Option<Preconfer>,
    /// Reads of the preconfirmations issued here or forwarded through this node.
    reader: Option<PreconfReader>,
    /// On a validator network: sends requests to whichever validator issues now.
    forwarder: Option<Forwarder>,
    /// The bound block production honours, when this node posts to DA.
    unposted_bound: Option<crate::consensus::UnpostedBound>,
}

impl HbRpc {
    /// Creates the namespace; `da_dir` is `None` when the node posts nothing.
    pub const fn new(engine: Engine, da_dir: Option<PathBuf>) -> Self {
        Self {
            engine,
            da_dir,
            preconf: None,
            reader: None,
            forwarder: None,
            unposted_bound: None,
        }
    }

    /// Reports whether production is paused by `bound`.
    pub fn with_unposted_bound(mut self, bound: Option<crate::consensus::UnpostedBound>) -> Self {
        self.unposted_bound = bound;
        self
    }

    /// Serves the preconfirmation methods from `preconf`; on a validator network, requests go
    /// through `forwarder` to the validator issuing now.
    pub fn with_preconf(mut self, preconf: Preconfer, forwarder: Option<Forwarder>) -> Self {
        self.reader = Some(preconf.reader());
        self.preconf = Some(preconf);
        self.forwarder = forwarder;
        self
    }

    /// A full node: requests go through `forwarder` to the validators, and the answers it
    /// recorded are read back through `reader`.
    pub fn with_forwarding(mut self, reader: PreconfReader, forwarder: Forwarder) -> Self {
        self.reader = Some(reader);
        self.forwarder = Some(forwarder);
        self
    }
}

#[jsonrpsee::core::async_trait]
impl HbApiServer for HbRpc {
    fn capabilities(&self) -> RpcResult<CapabilitiesJson> {
        let da = self.da_dir.is_some();
        Ok(preconf_rpc::capabilities(
            self.engine.spec(),
            self.preconf.as_ref(),
            self.forwarder.is_some(),
            da,
        ))
    }

    async fn send_preconf_transaction(&self, raw: Bytes) -> RpcResult<SignedPreconfirmation> {
        match &self.forwarder {
            Some(forwarder) => Ok(forwarder.send(raw).await.map_err(RpcError::from)?),
            None => preconf_rpc::send(self.preconf.as_ref(), raw).await,
        }
    }

    fn get_preconfirmation(&self, hash: B256) -> RpcResult<Option<SignedPreconfirmation>> {
        preconf_rpc::get(self.reader.as_ref(), hash)
    }

    fn preconf_status(&self, hash: B256) -> RpcResult<Option<PreconfStatusJson>> {
        preconf_rpc::status(self.reader.as_ref(), hash)
    }

    fn get_inclusion_proof(&self, hash: B256) -> RpcResult<Option<InclusionProof>> {
        let da_dir = self.da_dir.as_deref();
        preconf_rpc::inclusion_proof(self.reader.as_ref(), hash, da_dir)
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
    ) -> SubscriptionResult {
        if self.preconf.is_none() && self.forwarder.is_some() {
            pending
                .reject(jsonrpsee::types::ErrorObjectOwned::from(RpcError::Server(
                    "a full node forwards preconfirmations but does not stream them; subscribe \
                     on a validator"
                        .into(),
                )))
                .await;
            return Ok(());
        }
        preconf_rpc::subscribe(self.preconf.as_ref(), pending, kind).await
    }

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
            production_paused: self.unposted_bound.as_ref().is_some_and(|b| b.is_paused()),
            max_unposted_blocks: self
                .unposted_bound
                .as_ref()
                .map(|b| U64::from(b.max_blocks())),
        })
    }
}
