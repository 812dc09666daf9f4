//! `blob.*`: submitting blobs and reading them back with proofs, with celestia-node's errors.

use std::sync::Arc;

use celestia_types::consts::appconsts;
use celestia_types::nmt::{Namespace, NamespaceProof};
use celestia_types::{Blob, Commitment};
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::{RpcResult, SubscriptionResult, async_trait};
use jsonrpsee::types::ErrorObjectOwned;
use tokio::sync::broadcast::error::RecvError;

use super::api::{BlobApiServer, BlobsAtHeight, IncludedProof};
use super::chain::DaChain;
use super::error::{DaServerError, service_error};
use super::header_rpc::{header_at, lagged_error};
use super::square::{blob_proofs, build_square};

/// celestia-node's error text when no blob matches.
pub const BLOB_NOT_FOUND: &str = "blob: not found";
/// Largest total blob data of one `blob.Submit` (celestia-app v6 MaxTxSize; the real limit
/// also counts the PayForBlobs tx around the data).
pub const MAX_SUBMIT_BYTES: usize = appconsts::v6::MAX_TX_SIZE as usize;

/// Implements `blob.*` over the DA chain.
#[derive(Debug, Clone)]
pub(crate) struct BlobRpc {
    chain: Arc<DaChain>,
}

impl BlobRpc {
    pub(crate) fn new(chain: Arc<DaChain>) -> Self {
        Self { chain }
    }

    /// The blobs stored at `height`, after checking the height exists.
    fn blobs_at(&self, height: u64) -> RpcResult<Vec<Blob>> {
        header_at(&self.chain, height)?;
        Ok(self.chain.store().blobs(height)?)
    }

    fn find(&self, height: u64, namespace: Namespace, commitment: &Commitment) -> RpcResult<Blob> {
        self.blobs_at(height)?
            .into_iter()
            .find(|b| b.namespace == namespace && b.commitment == *commitment)
            .ok_or_else(|| service_error(BLOB_NOT_FOUND))
    }

    /// The row proofs of a blob at `height`, rebuilding the height's square.
    fn proofs(&self, height: u64, blob: &Blob) -> RpcResult<Vec<NamespaceProof>> {
        let mut blobs = self.chain.store().blobs(height)?;
        let square = build_square(&mut blobs)?;
        Ok(blob_proofs(&square, blob)?)
    }
}

/// Checks a submitted blob like celestia-node and recomputes its commitment.
fn accept_blob(blob: Blob) -> Result<Blob, ErrorObjectOwned> {
    let namespace = blob.namespace;
    if namespace.version() != 0 || namespace.is_reserved() {
        return Err(service_error(format!(
            "not allowed namespace {} were used to build the blob",
            hex(namespace.id())
        )));
    }
    if blob.data.is_empty() {
        return Err(service_error("data can not be empty"));
    }
    if blob.share_version > appconsts::SHARE_VERSION_ONE {
        return Err(service_error(format!(
            "unsupported share version {}",
            blob.share_version
        )));
    }
    // The sender's commitment is not trusted: compute it from the data.
    Blob::new(namespace, blob.data, blob.signer).map_err(|e| service_error(e.to_string()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl BlobApiServer for BlobRpc {
    async fn get(
        &self,
        height: u64,
        namespace: Namespace,
        commitment: Commitment,
    ) -> RpcResult<Blob> {
        self.find(height, namespace, &commitment)
    }

    async fn get_all(
        &self,
        height: u64,
        namespaces: Vec<Namespace>,
    ) -> RpcResult<Option<Vec<Blob>>> {
        let stored = self.blobs_at(height)?;
        let found: Vec<Blob> = namespaces
            .iter()
            .flat_map(|ns| stored.iter().filter(move |b| b.namespace == *ns).cloned())
            .collect();
        Ok(if found.is_empty() { None } else { Some(found) })
    }

    async fn get_proof(
        &self,
        height: u64,
        namespace: Namespace,
        commitment: Commitment,
    ) -> RpcResult<Vec<NamespaceProof>> {
        let blob = self.find(height, namespace, &commitment)?;
        self.proofs(height, &blob)
    }

    async fn included(
        &self,
        height: u64,
        namespace: Namespace,
        proof: Option<IncludedProof>,
        commitment: Commitment,
    ) -> RpcResult<bool> {
        let Some(proof) = proof else {
            return Err(service_error("blob: proof cannot be nil"));
        };
        let blob = match self.find(height, namespace, &commitment) {
            Ok(blob) => blob,
            Err(err) if err.message() == BLOB_NOT_FOUND => return Ok(false),
            Err(err) => return Err(err),
        };
        let ours = self.proofs(height, &blob)?;
        let matches = match proof {
            IncludedProof::Rows(rows) => rows == ours,
            IncludedProof::Single(single) => ours.contains(&single),
        };
        if matches {
            Ok(true)
        } else {
            Err(service_error("blob: invalid proof"))
        }
    }

    async fn submit(
        &self,
        blobs: Vec<Blob>,
        _options: Option<serde_json::Value>,
    ) -> RpcResult<u64> {
        if blobs.is_empty() {
            return Err(service_error("state: no blobs provided"));
        }
        let total: usize = blobs.iter().map(|b| b.data.len()).sum();
        if total > MAX_SUBMIT_BYTES {
            return Err(service_error(format!(
                "tx size {total} bytes is larger than the application's configured MaxTxSize of {MAX_SUBMIT_BYTES} bytes"
            )));
        }
        let blobs = blobs
            .into_iter()
            .map(accept_blob)
            .collect::<Result<Vec<_>, _>>()?;
        let included = self.chain.submit(blobs);
        match included.await {
            Ok(Ok(height)) => Ok(height),
            Ok(Err(message)) => Err(service_error(message)),
            Err(_) => Err(DaServerError::ShuttingDown.into()),
        }
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        namespace: Namespace,
    ) -> SubscriptionResult {
        let mut blocks = self.chain.subscribe_blocks();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                biased;
                _ = sink.closed() => return Ok(()),
                block = blocks.recv() => match block {
                    Ok(block) => {
                        let blobs: Vec<Blob> =
                            block.blobs.iter().filter(|b| b.namespace == namespace).cloned().collect();
                        let item = BlobsAtHeight {
                            blobs: if blobs.is_empty() { None } else { Some(blobs) },
                            height: block.header.height(),
                            header: block.header.header.clone(),
                        };
                        if sink.send(serde_json::value::to_raw_value(&item)?).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(RecvError::Lagged(skipped)) => return Err(lagged_error(skipped).into()),
                    Err(RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}
