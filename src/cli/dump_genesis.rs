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
    /// Replace the block time (`hauptbuch.blockTimeMs`).
    #[arg(long = "block-time-ms", value_name = "MS")]
    block_time_ms: Option<u64>,
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
                section["validators"] = self
                    .validators
                    .iter()
                    .map(|v| {
                        serde_json::json!({
                            "publicKey": crate::consensus::public_key_to_hex(&v.key),
                            "address": v.address,
                        })
                    })
                    .collect();
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
