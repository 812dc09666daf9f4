//! `fraud-proof check --da.url`: blocks as the sequencer posted them, read with the derivation
//! reader, with their finalization certificates checked when the chainspec names a validator set.

use crate::{
    chainspec::ChainSpec,
    consensus::{CertificateVerifier, ValidatorSet},
    derive::{DaBlock, DaSource},
};
use clap::Args;
use eyre::WrapErr;
use std::path::PathBuf;

/// Where `check` reads blocks when not from the node.
#[derive(Debug, Args)]
pub(super) struct DaBlockArgs {
    /// Read blocks from the chain's blobs on this celestia-node (or embedded DA server) endpoint,
    /// `http(s)://` or `ws(s)://`, instead of from `--rpc-url` (which still serves the witnesses
    /// and claims).
    #[arg(long = "da.url", value_name = "URL")]
    pub(super) url: Option<String>,
    /// File holding a bearer token with `read` permission, if the DA endpoint needs one.
    #[arg(long = "da.auth-token-file", value_name = "FILE", requires = "url")]
    auth_token_file: Option<PathBuf>,
    /// Celestia namespace id the chain posts to, when not the chainspec's (as `node
    /// --da.namespace`): hex, up to 10 bytes.
    #[arg(
        long = "da.namespace",
        value_name = "HEX",
        value_parser = crate::node::parse_namespace_id,
        requires = "url"
    )]
    namespace: Option<alloy_primitives::Bytes>,
    /// First DA height scanned.
    #[arg(
        long = "da.start-height",
        value_name = "H",
        default_value_t = 1,
        requires = "url"
    )]
    pub(super) start_height: u64,
}

/// A connected DA reader for this chain.
#[derive(Debug)]
pub(super) struct DaReader {
    pub(super) source: DaSource,
    pub(super) url: String,
    verifier: Option<CertificateVerifier>,
}

impl DaBlockArgs {
    /// Connects to `--da.url`, if given.
    pub(super) async fn connect(&self, spec: &ChainSpec) -> eyre::Result<Option<DaReader>> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        let token = crate::node::read_auth_token(self.auth_token_file.as_deref())?;
        let namespace = match &self.namespace {
            Some(id) => {
                let mut custom = spec.clone();
                custom.hauptbuch.da_namespace = id.clone();
                crate::derive::namespace(&custom)?
            }
            None => crate::derive::namespace(spec)?,
        };
        let source = DaSource::connect(url, token.as_deref(), namespace)
            .await
            .wrap_err_with(|| format!("invalid or unreachable --da.url `{url}`"))?;
        let verifier = if spec.hauptbuch.validators.is_empty() {
            None
        } else {
            let validators = ValidatorSet::from_chainspec(&spec.hauptbuch.validators)?;
            Some(CertificateVerifier::new(spec, &validators))
        };
        Ok(Some(DaReader {
            source,
            url: url.clone(),
            verifier,
        }))
    }
}

impl DaReader {
    /// What can be said about `found`'s finalization certificate; an error if it is invalid.
    pub(super) fn certificate_status(&self, found: &DaBlock) -> eyre::Result<&'static str> {
        if found.certificate.is_empty() {
            return Ok("no finalization certificate of its own");
        }
        let Some(verifier) = &self.verifier else {
            return Ok(
                "finalization certificate not checked: the chainspec names no validator set",
            );
        };
        verifier
            .verify(&found.certificate, found.block.header.hash_slow())
            .wrap_err_with(|| {
                format!(
                    "block {} at DA height {} has an invalid finalization certificate",
                    found.block.header.number, found.da_height
                )
            })?;
        Ok("finalization certificate verified")
    }
}
