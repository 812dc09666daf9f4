//! Configuration of the Celestia DA ExEx.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Bytes;
use celestia_types::nmt::Namespace;

use super::blob_codec::{BatchBlock, MAX_BLOB_BYTES};
use super::error::DaExExError;

/// Default time after its first block at which an open batch is closed (`--da.batch-interval`).
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_secs(2);
/// Default DA blocks on top of the inclusion block before a batch is firm (`--da.confirmations`):
/// Celestia has single-slot finality, so the inclusion block itself is final.
pub const DEFAULT_CONFIRMATIONS: u64 = 0;
/// Length of a version-0 namespace id as configured (`--da.namespace`).
pub const NAMESPACE_ID_LEN: usize = 10;
/// Default time a standby poster of rank 1 waits for another validator's blob before it posts
/// a block itself (`--da.failover-delay`); rank `r` waits `r` times as long. Well above a
/// Celestia block (~6 s) plus the primary's batch interval.
pub const DEFAULT_FAILOVER_DELAY: Duration = Duration::from_secs(30);

/// Checks the finalization certificate a block carries in a blob someone else posted. A
/// standby poster counts a block as posted only if the copy on DA has the same header and
/// transactions as its own and either the same certificate bytes or one this check accepts
/// (validators may hold different, equally valid certificates for one block).
pub trait CertificateCheck: Send + Sync + std::fmt::Debug {
    /// Whether `block.certificate` proves the block with header `block.header` final.
    fn is_valid(&self, block: &BatchBlock) -> bool;
}

/// Who posts: on a network of several validators one posts (rank 0) and the others stand by,
/// each posting only the blocks no blob holds `rank × failover_delay` after it had them.
#[derive(Debug, Clone)]
pub struct PosterConfig {
    /// 0 posts every block at once; `r > 0` stands by (see the type docs).
    pub rank: u32,
    /// How long rank 1 waits before it posts a block itself (`--da.failover-delay`).
    pub failover_delay: Duration,
    /// Checks certificates of blocks other validators posted; without one, only identical
    /// certificate bytes count.
    pub certificate_check: Option<Arc<dyn CertificateCheck>>,
}

impl Default for PosterConfig {
    fn default() -> Self {
        Self {
            rank: 0,
            failover_delay: DEFAULT_FAILOVER_DELAY,
            certificate_check: None,
        }
    }
}

impl PosterConfig {
    /// How long this poster waits for someone else's blob; `None` for the primary (rank 0).
    pub fn standby_wait(&self) -> Option<Duration> {
        (self.rank > 0).then(|| self.failover_delay.saturating_mul(self.rank))
    }
}

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
    /// Whether this node posts at once or stands by.
    pub poster: PosterConfig,
}

impl DaExExConfig {
    /// A configuration with the defaults: 2 s batch interval, 0 confirmations, the codec's
    /// largest blob, no token, the DA node's gas price estimate, posting every block at once.
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
            poster: PosterConfig::default(),
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
        if self.poster.rank > 0 && self.poster.failover_delay.is_zero() {
            return Err(DaExExError::Config(
                "DA failover delay must be positive".into(),
            ));
        }
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
