//! `hauptbuch-reth keygen`: creates a validator key.

use clap::Args;
use std::path::PathBuf;

/// Writes a new ed25519 validator key (mode 0600) and prints its public key, the value the
/// chainspec's `hauptbuch.validators[].publicKey` takes.
#[derive(Debug, Args)]
pub struct KeygenCommand {
    /// File to create (refuses to overwrite an existing file).
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    output: PathBuf,
}

impl KeygenCommand {
    /// Runs the command.
    pub fn run(self) -> eyre::Result<()> {
        use eyre::WrapErr;
        let key = crate::consensus::generate_key().wrap_err("cannot generate a key")?;
        crate::consensus::write_key(&self.output, &key)?;
        println!("{}", crate::consensus::public_key_hex(&key));
        Ok(())
    }
}
