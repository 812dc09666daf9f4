//! The preconfirmation methods of the `hb_` namespace, implemented here so that `rpc/hb.rs`
//! only declares them.

use super::{
    PreconfError, Preconfer,
    inclusion::InclusionProof,
    status::{PreconfReader, PreconfStatusJson},
    types::{IssuerKeysJson, SignedPreconfirmation},
};
use crate::rpc::error::{RpcError, RpcResult};
use alloy_primitives::{B256, Bytes, U64};
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage, core::SubscriptionResult};
use serde::Serialize;
use std::path::Path;
use tokio::sync::broadcast::error::RecvError;

/// Version of the preconfirmation format (the domain tags say `v1`).
pub const PRECONF_VERSION: u64 = 1;
/// Longest a WS notification may wait for a slow subscriber.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `hb_capabilities`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesJson {
    /// Node version.
    pub version: String,
    /// Chain id.
    pub chain_id: U64,
    /// Enabled features.
    pub features: Vec<&'static str>,
    /// Preconfirmation issuer keys (`null` when preconfirmations are off).
    pub keys: Option<IssuerKeysJson>,
    /// On a validator network: the keys of every validator that issues in its turn (from the
    /// chainspec), any of which may have signed a preconfirmation this node returns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issuers: Vec<crate::chainspec::PreconfKeys>,
    /// Algorithms, by purpose.
    pub algorithms: Algorithms,
}

/// Algorithms of `hb_capabilities`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Algorithms {
    /// Per-preconfirmation signature.
    pub preconfirmation: &'static str,
    /// Batch root signature.
    pub batch: &'static str,
    /// Batch Merkle tree.
    pub batch_merkle: &'static str,
    /// Inclusion proofs.
    pub inclusion: &'static str,
    /// Preconfirmation format version.
    pub preconf_version: U64,
}

impl From<PreconfError> for RpcError {
    fn from(err: PreconfError) -> Self {
        match err {
            PreconfError::Pool { code, message } => Self::Custom { code, message },
            PreconfError::Refused(_) | PreconfError::NotIssuing | PreconfError::Unavailable(_) => {
                Self::Server(err.to_string())
            }
            PreconfError::Invalid { .. } => Self::InvalidParams(err.to_string()),
            PreconfError::Stopped
            | PreconfError::Key { .. }
            | PreconfError::Store(_)
            | PreconfError::Storage(_) => Self::internal(err),
        }
    }
}

/// The error of the preconfirmation methods on a node that does not issue them.
const NOT_ENABLED: &str = "preconfirmations are not enabled on this node (validators issue \
                           them: a --dev node, or every validator of a network whose chainspec \
                           lists each validator's keys in hauptbuch.validators[].preconf, unless \
                           started with --preconf.disable; a full node following a network of \
                           several such validators over p2p forwards them)";

fn enabled<T>(preconf: Option<&T>) -> Result<&T, RpcError> {
    preconf.ok_or_else(|| RpcError::Server(NOT_ENABLED.into()))
}

/// `hb_capabilities`.
pub fn capabilities(
    spec: &crate::chainspec::ChainSpec,
    preconf: Option<&Preconfer>,
    forwards: bool,
    da: bool,
) -> CapabilitiesJson {
    let chain_id = spec.chain_id;
    let validators = &spec.hauptbuch.validators;
    let serves = preconf.is_some() || forwards;
    // Only where requests go to the network's leaders (not a --dev node on a network's spec).
    let issuers = if forwards && validators.len() > 1 {
        validators.iter().filter_map(|v| v.preconf).collect()
    } else {
        Vec::new()
    };
    let mut features = Vec::new();
    if serves {
        features.extend(["preconfirmations", "inclusionProofs"]);
    }
    if da {
        features.push("da");
    }
    CapabilitiesJson {
        version: env!("CARGO_PKG_VERSION").to_string(),
        chain_id: U64::from(chain_id),
        features,
        keys: preconf.map(|p| p.keys().public()),
        issuers,
        algorithms: Algorithms {
            preconfirmation: "ed25519",
            batch: "ML-DSA-65 (FIPS 204)",
            batch_merkle: "rs_merkle, keccak256",
            inclusion: "Merkle-Patricia proof against header.transactionsRoot",
            preconf_version: U64::from(PRECONF_VERSION),
        },
    }
}

/// `hb_sendPreconfTransaction`.
pub async fn send(preconf: Option<&Preconfer>, raw: Bytes) -> RpcResult<SignedPreconfirmation> {
    Ok(enabled(preconf)?.send(raw).await.map_err(RpcError::from)?)
}

/// `hb_getPreconfirmation`.
pub fn get(
    preconf: Option<&PreconfReader>,
    hash: B256,
) -> RpcResult<Option<SignedPreconfirmation>> {
    let found = enabled(preconf)?
        .store()
        .get(hash)
        .map_err(RpcError::from)?;
    Ok(found.map(|(signed, _)| signed))
}

/// `hb_preconfStatus`.
pub fn status(preconf: Option<&PreconfReader>, hash: B256) -> RpcResult<Option<PreconfStatusJson>> {
    Ok(enabled(preconf)?.status(hash).map_err(RpcError::from)?)
}

/// `hb_getInclusionProof`.
pub fn inclusion_proof(
    preconf: Option<&PreconfReader>,
    hash: B256,
    da_dir: Option<&Path>,
) -> RpcResult<Option<InclusionProof>> {
    Ok(enabled(preconf)?
        .inclusion_proof(hash, da_dir)
        .map_err(RpcError::from)?)
}

/// `hb_subscribe("preconfirmations")`: every preconfirmation as it is issued.
pub async fn subscribe(
    preconf: Option<&Preconfer>,
    pending: PendingSubscriptionSink,
    kind: String,
) -> SubscriptionResult {
    let preconf = match (preconf, kind.as_str()) {
        (Some(preconf), "preconfirmations") => preconf,
        (None, _) => {
            pending
                .reject(jsonrpsee::types::ErrorObjectOwned::from(RpcError::Server(
                    NOT_ENABLED.into(),
                )))
                .await;
            return Ok(());
        }
        (Some(_), other) => {
            pending
                .reject(jsonrpsee::types::ErrorObjectOwned::from(
                    RpcError::InvalidParams(format!(
                        "unsupported subscription kind `{other}` (supported: preconfirmations)"
                    )),
                ))
                .await;
            return Ok(());
        }
    };
    let mut events = preconf.subscribe();
    let sink = pending.accept().await?;
    loop {
        let event = tokio::select! {
            () = sink.closed() => return Ok(()),
            event = events.recv() => event,
        };
        let signed = match event {
            Ok(signed) => signed,
            Err(RecvError::Lagged(missed)) => {
                return Err(format!(
                    "subscriber too slow: missed {missed} preconfirmations; subscribe again"
                )
                .into());
            }
            Err(RecvError::Closed) => return Ok(()),
        };
        let message = SubscriptionMessage::from(serde_json::value::to_raw_value(&*signed)?);
        if let Err(error) = sink.send_timeout(message, SEND_TIMEOUT).await {
            return match error {
                jsonrpsee::core::server::SendTimeoutError::Closed(_) => Ok(()),
                jsonrpsee::core::server::SendTimeoutError::Timeout(_) => {
                    Err("subscriber too slow".into())
                }
            };
        }
    }
}
