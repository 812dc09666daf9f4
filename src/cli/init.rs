//! `hauptbuch-reth init`.

use super::{ChainArgs, DatadirArgs};
use clap::Args;

/// Writes the genesis block into a datadir (idempotent; refuses a datadir of another chain).
#[derive(Debug, Args)]
pub struct InitCommand {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    datadir: DatadirArgs,
}

impl InitCommand {
    pub(super) fn run(self) -> eyre::Result<()> {
        let spec = self.chain.load()?;
        let datadir = self.datadir.resolve(&spec);
        let engine = super::open_engine(spec.clone(), &datadir)?;
        let head = engine.head()?;
        tracing::info!(
            chain_id = spec.chain_id,
            genesis = %spec.genesis_hash,
            head = head.number,
            datadir = %datadir.display(),
            "datadir initialised"
        );
        println!("{}", spec.genesis_hash);
        Ok(())
    }
}
