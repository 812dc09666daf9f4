//! The DA side of derivation: the blobs of one namespace, height by height, from a celestia-node
//! (or the embedded DA server) over its JSON-RPC API.
//!
//! Only `header.NetworkHead` and `blob.GetAll` for the chain's namespace are used, so derivation
//! reads nothing but the chain's own blobs. Transient failures are retried a bounded number of
//! times with exponential backoff, then reported with the request that failed.

use super::error::{DeriveError, Result};
use celestia_rpc::{Client, prelude::*};
use celestia_types::{Blob, nmt::Namespace};
use std::{future::Future, time::Duration};

/// Time allowed to open the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed per request: a height holds at most a few MiB of blobs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts per request before derivation stops (a DA node restart takes a few seconds).
const ATTEMPTS: u32 = 6;
/// First retry delay; doubled after each failure (0.5 + 1 + 2 + 4 + 8 s ≈ 15 s in all).
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Error text of celestia-node before v0.20 for a height without blobs of the namespace.
const BLOB_NOT_FOUND: &str = "blob: not found";

/// Whether retrying cannot help: a refused token, or an error the DA node itself returned.
fn is_permanent(err: &impl std::fmt::Display) -> bool {
    let text = err.to_string().to_ascii_lowercase();
    ["401", "403", "unauthorized", "permission"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// A celestia-node client bound to one namespace.
pub struct DaSource {
    client: Client,
    url: String,
    namespace: Namespace,
}

impl std::fmt::Debug for DaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaSource")
            .field("url", &self.url)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl DaSource {
    /// Connects to the DA node at `url` (`http(s)://` or `ws(s)://`), with `auth_token` as bearer
    /// token when the node needs one.
    pub async fn connect(
        url: &str,
        auth_token: Option<&str>,
        namespace: Namespace,
    ) -> Result<Self> {
        let client = Client::new(
            url,
            auth_token,
            Some(CONNECT_TIMEOUT),
            Some(REQUEST_TIMEOUT),
        )
        .await
        .map_err(|source| DeriveError::Connect {
            url: url.to_string(),
            source,
        })?;
        Ok(Self {
            client,
            url: url.to_string(),
            namespace,
        })
    }

    /// The namespace read.
    pub fn namespace(&self) -> Namespace {
        self.namespace
    }

    /// Height of the DA network head.
    pub async fn network_head(&self) -> Result<u64> {
        retry("header.NetworkHead".into(), || async {
            self.client.header_network_head().await.map(|h| h.height())
        })
        .await
    }

    /// The blobs of the namespace at `height`, in the order the DA block holds them (empty when
    /// the height has none: celestia-node answers `null`).
    pub async fn blobs_at(&self, height: u64) -> Result<Vec<Blob>> {
        let namespaces = [self.namespace];
        retry(format!("blob.GetAll at height {height}"), || async {
            match self.client.blob_get_all(height, &namespaces).await {
                // Older celestia-node versions answer an empty height with this error.
                Err(err) if err.to_string().contains(BLOB_NOT_FOUND) => Ok(None),
                other => other,
            }
        })
        .await
        .map(Option::unwrap_or_default)
    }
}

/// Runs `request` until it succeeds or [`ATTEMPTS`] attempts failed.
async fn retry<T, E, F, Fut>(what: String, mut request: F) -> Result<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match request().await {
            Ok(value) => return Ok(value),
            Err(err) if attempt < ATTEMPTS && !is_permanent(&err) => {
                tracing::warn!(
                    target: "hauptbuch::derive",
                    request = %what,
                    attempt,
                    retry_in = ?backoff,
                    %err,
                    "DA request failed, retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            Err(err) => {
                return Err(DeriveError::Request {
                    request: what,
                    attempts: attempt,
                    message: err.to_string(),
                });
            }
        }
    }
}
