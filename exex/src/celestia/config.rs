//! Configuration of the Celestia DA ExEx.

use std::path::PathBuf;
use std::time::Duration;

use alloy_primitives::Bytes;
use celestia_types::nmt::Namespace;

use super::blob_codec::MAX_BLOB_BYTES;
use super::error::DaExExError;

/// Default time after its first block at which an open batch is closed (`--da.batch-interval`).
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_secs(2);
/// Default DA blocks on top of the inclusion block before a batch is firm (`--da.confirmations`):
/// Celestia has single-slot finality, so the inclusion block itself is final.
pub const DEFAULT_CONFIRMATIONS: u64 = 0;
/// Length of a version-0 namespace id as configured (`--da.namespace`).
pub const NAMESPACE_ID_LEN: usize = 10;

/// Configuration of [`run_da_exex`](super::run_da_exex).
#[derive(Debug, Clone)]
pub struct DaExExConfig {
    /// celestia-node RPC endpoint, `http(s)://` or `ws(s)://` (`--da.url`).
    pub url: String,
    /// Bearer token with `write` permission (`--da.auth-token-file`), if the endpoint needs one.
    pub auth_token: Option<String>,
    /// The 10-byte version-0 namespace id the blobs go to (`--da.namespace`).
    pub namespace: Bytes,
    /// Rollup chain id, written into every blob header.
    pub chain_id: u64,
    /// Gas price in utia per gas unit (`--da.gas-price`); `None` uses the DA node's estimate.
    pub gas_price: Option<f64>,
    /// An open batch closes this long after its first block (`--da.batch-interval`).
    pub batch_interval: Duration,
    /// DA blocks on top of the inclusion block before a batch is firm (`--da.confirmations`).
    pub confirmations: u64,
    /// Directory of the submission log.
    pub data_dir: PathBuf,
    /// Blob size cap (`--da.max-blob-bytes`), at most [`MAX_BLOB_BYTES`].
    pub max_blob_bytes: usize,
}

impl DaExExConfig {
    /// A configuration with the defaults: 2 s batch interval, 0 confirmations, the codec's
    /// largest blob, no token, the DA node's gas price estimate.
    pub fn new(
        url: impl Into<String>,
        namespace: impl Into<Bytes>,
        chain_id: u64,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            url: url.into(),
            auth_token: None,
            namespace: namespace.into(),
            chain_id,
            gas_price: None,
            batch_interval: DEFAULT_BATCH_INTERVAL,
            confirmations: DEFAULT_CONFIRMATIONS,
            data_dir: data_dir.into(),
            max_blob_bytes: MAX_BLOB_BYTES,
        }
    }

    /// The configured namespace, checked: a 10-byte id, version 0, not reserved.
    pub fn celestia_namespace(&self) -> Result<Namespace, DaExExError> {
        if self.namespace.len() != NAMESPACE_ID_LEN {
            return Err(DaExExError::Config(format!(
                "DA namespace must be a {NAMESPACE_ID_LEN}-byte id, got {} bytes (0x{})",
                self.namespace.len(),
                alloy_primitives::hex::encode(&self.namespace)
            )));
        }
        let namespace = Namespace::new_v0(&self.namespace).map_err(|e| {
            DaExExError::Config(format!(
                "DA namespace 0x{}: {e}",
                alloy_primitives::hex::encode(&self.namespace)
            ))
        })?;
        if namespace.is_reserved() {
            return Err(DaExExError::Config(format!(
                "DA namespace 0x{} is reserved by Celestia",
                alloy_primitives::hex::encode(&self.namespace)
            )));
        }
        Ok(namespace)
    }

    /// Checks everything that does not need the network.
    pub(crate) fn validate(&self) -> Result<Namespace, DaExExError> {
        if self.batch_interval.is_zero() {
            return Err(DaExExError::Config(
                "DA batch interval must be positive".into(),
            ));
        }
        if !(self.url.starts_with("http://")
            || self.url.starts_with("https://")
            || self.url.starts_with("ws://")
            || self.url.starts_with("wss://"))
        {
            return Err(DaExExError::Config(format!(
                "DA url {:?} must start with http://, https://, ws:// or wss://",
                self.url
            )));
        }
        if let Some(price) = self.gas_price
            && !(price.is_finite() && price >= 0.0)
        {
            return Err(DaExExError::Config(format!(
                "DA gas price {price} must be a non-negative number"
            )));
        }
        self.celestia_namespace()
    }
}
