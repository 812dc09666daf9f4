//! `hauptbuch-reth dump-genesis`.

use super::ChainArgs;
use clap::Args;

/// Prints the chain's genesis JSON (with its `hauptbuch` section) to stdout.
#[derive(Debug, Args)]
pub struct DumpGenesisCommand {
    #[command(flatten)]
    chain: ChainArgs,
}

impl DumpGenesisCommand {
    pub(super) fn run(self) -> eyre::Result<()> {
        let text = match self.chain.chain.as_str() {
            "devnet" | "dev" => crate::chainspec::DEVNET_JSON.to_string(),
            path => std::fs::read_to_string(path)
                .map_err(|e| eyre::eyre!("cannot read --chain `{path}`: {e}"))?,
        };
        // Parse first so that only a valid chainspec is ever printed.
        let spec = self.chain.load()?;
        let value: serde_json::Value = serde_json::from_str(&text)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        tracing::info!(genesis = %spec.genesis_hash, chain_id = spec.chain_id, "genesis");
        Ok(())
    }
}
