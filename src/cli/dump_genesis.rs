//! `hauptbuch-reth dump-genesis`.

use super::ChainArgs;
use clap::Args;

/// Prints the chain's genesis JSON (with its `hauptbuch` section) to stdout, optionally with a
/// new validator set and block time: the way to write the chainspec of a new network.
#[derive(Debug, Args)]
pub struct DumpGenesisCommand {
    #[command(flatten)]
    chain: ChainArgs,
    /// Replace the validator set: `<publicKey>@<host:port>` (from `keygen`), repeatable, in order.
    #[arg(long = "validator", value_name = "KEY@HOST:PORT", value_parser = crate::node::parse_bootnode)]
    validators: Vec<crate::node::Bootnode>,
    /// Preconfirmation keys of the validators, one per `--validator`, in the same order: each a
    /// file holding the JSON `keygen --preconf` printed (public keys only) or the key file itself.
    /// They become `hauptbuch.validators[].preconf`, which lets the network issue
    /// preconfirmations.
    #[arg(long = "preconf-key", value_name = "FILE", requires = "validators")]
    preconf_keys: Vec<std::path::PathBuf>,
    /// Replace the block time (`hauptbuch.blockTimeMs`).
    #[arg(long = "block-time-ms", value_name = "MS")]
    block_time_ms: Option<u64>,
}

/// The public preconfirmation keys in `path`: `keygen --preconf`'s output, or its key file.
fn preconf_keys(path: &std::path::Path) -> eyre::Result<crate::chainspec::PreconfKeys> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| eyre::eyre!("cannot read --preconf-key {}: {e}", path.display()))?;
    if let Ok(keys) = serde_json::from_str(&text) {
        return Ok(keys);
    }
    Ok(crate::preconf::IssuerKeys::load_or_create(path, false)
        .map_err(|e| {
            eyre::eyre!(
                "--preconf-key {} is neither the JSON `keygen --preconf` printed nor a key file: {e}",
                path.display()
            )
        })?
        .chainspec_keys())
}

impl DumpGenesisCommand {
    pub(super) fn run(self) -> eyre::Result<()> {
        let text = match self.chain.chain.as_str() {
            "devnet" | "dev" => crate::chainspec::DEVNET_JSON.to_string(),
            path => std::fs::read_to_string(path)
                .map_err(|e| eyre::eyre!("cannot read --chain `{path}`: {e}"))?,
        };
        let mut value: serde_json::Value = serde_json::from_str(&text)?;
        if !self.validators.is_empty() || self.block_time_ms.is_some() {
            let section = value
                .as_object_mut()
                .ok_or_else(|| eyre::eyre!("the chainspec is not a JSON object"))?
                .entry("hauptbuch")
                .or_insert_with(|| serde_json::json!({}));
            if !self.validators.is_empty() {
                if !self.preconf_keys.is_empty() && self.preconf_keys.len() != self.validators.len()
                {
                    eyre::bail!(
                        "{} --preconf-key files for {} --validator entries: give one per validator, \
                         in the same order",
                        self.preconf_keys.len(),
                        self.validators.len()
                    );
                }
                let mut validators = Vec::with_capacity(self.validators.len());
                for (i, v) in self.validators.iter().enumerate() {
                    let mut entry = serde_json::json!({
                        "publicKey": crate::consensus::public_key_to_hex(&v.key),
                        "address": v.address,
                    });
                    if let Some(path) = self.preconf_keys.get(i) {
                        entry["preconf"] = serde_json::to_value(preconf_keys(path)?)?;
                    }
                    validators.push(entry);
                }
                section["validators"] = validators.into();
            }
            if let Some(ms) = self.block_time_ms {
                section["blockTimeMs"] = ms.into();
            }
        }
        let text = serde_json::to_string_pretty(&value)?;
        // Parse first so that only a valid chainspec is ever printed.
        let spec = crate::chainspec::ChainSpec::from_json(&text)?;
        println!("{text}");
        tracing::info!(genesis = %spec.genesis_hash, chain_id = spec.chain_id, "genesis");
        Ok(())
    }
}
