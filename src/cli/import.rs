//! `hauptbuch-reth import`.

use super::{ChainArgs, DatadirArgs};
use clap::Args;
use eyre::WrapErr;
use std::path::PathBuf;

/// Imports concatenated RLP blocks, executing and validating each.
#[derive(Debug, Args)]
pub struct ImportCommand {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    datadir: DatadirArgs,
    /// File of concatenated RLP-encoded blocks.
    #[arg(value_name = "FILE")]
    path: PathBuf,
}

impl ImportCommand {
    pub(super) fn run(self) -> eyre::Result<()> {
        let spec = self.chain.load()?;
        let datadir = self.datadir.resolve(&spec);
        let data = std::fs::read(&self.path)
            .wrap_err_with(|| format!("cannot read {}", self.path.display()))?;
        let engine = super::open_engine(spec, &datadir)?;
        let started = std::time::Instant::now();
        let stats = crate::import::import_blocks(&engine, &data)
            .wrap_err_with(|| format!("import of {} failed", self.path.display()))?;
        let head = engine.head()?;
        tracing::info!(
            blocks = stats.blocks,
            imported = stats.imported,
            skipped = stats.skipped,
            transactions = stats.transactions,
            head = head.number,
            head_hash = %head.hash(),
            elapsed = ?started.elapsed(),
            "import complete"
        );
        println!("{} {}", head.number, head.hash());
        Ok(())
    }
}
