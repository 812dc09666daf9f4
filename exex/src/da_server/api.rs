//! The celestia-node JSON-RPC methods the DA server speaks, as jsonrpsee traits.
//!
//! Names, positional parameters and result shapes follow celestia-node (OpenRPC v0.28.4). They
//! are declared here rather than taken from celestia-rpc's server traits so that the server can
//! accept what Go clients send as well: `blob.Included` takes celestia-node's array of row
//! proofs or celestia-rpc's single proof (or `null`, answered with celestia-node's error), and
//! `blob.Submit` takes any options object.

use celestia_types::hash::Hash;
use celestia_types::nmt::{Namespace, NamespaceProof};
use celestia_types::{Blob, Commitment, ExtendedHeader, SyncState};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};

/// The `proof` parameter of `blob.Included`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IncludedProof {
    /// celestia-node's `blob.Proof`: one NMT proof per row the blob spans.
    Rows(Vec<NamespaceProof>),
    /// celestia-rpc's single proof.
    Single(NamespaceProof),
}

/// An item of `blob.Subscribe`: celestia-node's `blob.SubscriptionResponse`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlobsAtHeight {
    /// The namespace's blobs at this height, `null` when there are none.
    pub blobs: Option<Vec<Blob>>,
    /// The DA height (deprecated in celestia-node in favour of `Header`, still sent).
    pub height: u64,
    /// The raw CometBFT header of the height.
    pub header: tendermint::block::Header,
}

/// `blob.*` methods.
#[rpc(server, namespace = "blob", namespace_separator = ".")]
pub trait BlobApi {
    /// The blob with `commitment` in `namespace` at `height`.
    #[method(name = "Get")]
    async fn get(
        &self,
        height: u64,
        namespace: Namespace,
        commitment: Commitment,
    ) -> RpcResult<Blob>;

    /// All blobs of `namespaces` at `height`, in the order of the namespaces; `null` if none.
    #[method(name = "GetAll")]
    async fn get_all(
        &self,
        height: u64,
        namespaces: Vec<Namespace>,
    ) -> RpcResult<Option<Vec<Blob>>>;

    /// NMT proofs of the blob's shares, one per row it spans.
    #[method(name = "GetProof")]
    async fn get_proof(
        &self,
        height: u64,
        namespace: Namespace,
        commitment: Commitment,
    ) -> RpcResult<Vec<NamespaceProof>>;

    /// Whether the blob is included at `height` with this proof.
    #[method(name = "Included")]
    async fn included(
        &self,
        height: u64,
        namespace: Namespace,
        proof: Option<IncludedProof>,
        commitment: Commitment,
    ) -> RpcResult<bool>;

    /// Includes `blobs` atomically in the next DA block and returns its height once included.
    #[method(name = "Submit")]
    async fn submit(&self, blobs: Vec<Blob>, options: Option<serde_json::Value>) -> RpcResult<u64>;

    /// One item per new DA block with the namespace's blobs (WebSocket only).
    #[subscription(name = "Subscribe", unsubscribe = "Unsubscribe", item = BlobsAtHeight)]
    async fn subscribe(&self, namespace: Namespace) -> SubscriptionResult;
}

/// `header.*` methods.
#[rpc(server, namespace = "header", namespace_separator = ".")]
pub trait HeaderApi {
    /// Head of the local store.
    #[method(name = "LocalHead")]
    async fn local_head(&self) -> RpcResult<ExtendedHeader>;

    /// The network head (the same as the local head: the server is the network).
    #[method(name = "NetworkHead")]
    async fn network_head(&self) -> RpcResult<ExtendedHeader>;

    /// The header at `height`.
    #[method(name = "GetByHeight")]
    async fn get_by_height(&self, height: u64) -> RpcResult<ExtendedHeader>;

    /// The header with `hash`.
    #[method(name = "GetByHash")]
    async fn get_by_hash(&self, hash: Hash) -> RpcResult<ExtendedHeader>;

    /// Headers strictly between `from` and `to`.
    #[method(name = "GetRangeByHeight")]
    async fn get_range_by_height(
        &self,
        from: ExtendedHeader,
        to: u64,
    ) -> RpcResult<Vec<ExtendedHeader>>;

    /// Waits until the header at `height` exists and returns it.
    #[method(name = "WaitForHeight")]
    async fn wait_for_height(&self, height: u64) -> RpcResult<ExtendedHeader>;

    /// Sync state: always synced to the head.
    #[method(name = "SyncState")]
    async fn sync_state(&self) -> RpcResult<SyncState>;

    /// Returns at once: the server is always synced.
    #[method(name = "SyncWait")]
    async fn sync_wait(&self) -> RpcResult<()>;

    /// Every new header (WebSocket only).
    #[subscription(name = "Subscribe", unsubscribe = "Unsubscribe", item = ExtendedHeader)]
    async fn subscribe(&self) -> SubscriptionResult;
}
