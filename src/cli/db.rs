//! `hauptbuch-reth db`.

use super::{ChainArgs, DatadirArgs};
use clap::{Args, Subcommand};

/// Database tools.
#[derive(Debug, Args)]
pub struct DbCommand {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    datadir: DatadirArgs,
    #[command(subcommand)]
    command: DbSubcommand,
}

#[derive(Debug, Subcommand)]
enum DbSubcommand {
    /// Entries and sizes per table, and the forkchoice pointers.
    Stats,
}

impl DbCommand {
    pub(super) fn run(self) -> eyre::Result<()> {
        let spec = self.chain.load()?;
        let datadir = self.datadir.resolve(&spec);
        if !datadir.join("db").exists() {
            eyre::bail!("no database in --datadir {}", datadir.display());
        }
        let db = crate::storage::Database::open(&datadir)?;
        match self.command {
            DbSubcommand::Stats => {
                println!(
                    "{:<16} {:>12} {:>14} {:>14}",
                    "table", "entries", "data bytes", "total bytes"
                );
                for stat in db.stats()? {
                    println!(
                        "{:<16} {:>12} {:>14} {:>14}",
                        stat.name, stat.entries, stat.stored_bytes, stat.total_bytes
                    );
                }
                let provider = db.provider()?;
                for pointer in ["genesis", "head", "safe", "finalized"] {
                    let hash = provider.pointer(pointer)?;
                    let number = match hash {
                        Some(hash) => provider.block_number(hash)?,
                        None => None,
                    };
                    match (hash, number) {
                        (Some(hash), Some(number)) => println!("{pointer:<10} {number} {hash}"),
                        _ => println!("{pointer:<10} -"),
                    }
                }
            }
        }
        Ok(())
    }
}
