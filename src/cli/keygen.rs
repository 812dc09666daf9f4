//! `hauptbuch-reth keygen`: creates a validator key, or a validator's preconfirmation keys.

use clap::Args;
use std::path::PathBuf;

/// Writes a new ed25519 validator key (mode 0600) and prints its public key, the value the
/// chainspec's `hauptbuch.validators[].publicKey` takes. With `--preconf`, writes preconfirmation
/// keys instead (ed25519 and ML-DSA-65; the node's `--preconf.key`, by default
/// `<datadir>/preconf.key`) and prints the chainspec's `hauptbuch.validators[].preconf` object.
#[derive(Debug, Args)]
pub struct KeygenCommand {
    /// File to create (refuses to overwrite an existing file).
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    output: PathBuf,
    /// Create preconfirmation keys rather than a consensus key.
    #[arg(long)]
    preconf: bool,
}

impl KeygenCommand {
    /// Runs the command.
    pub fn run(self) -> eyre::Result<()> {
        use eyre::WrapErr;
        if self.preconf {
            if self.output.exists() {
                eyre::bail!("{} exists; refusing to overwrite it", self.output.display());
            }
            let keys = crate::preconf::IssuerKeys::load_or_create(&self.output, true)?;
            println!("{}", serde_json::to_string(&keys.chainspec_keys())?);
            return Ok(());
        }
        let key = crate::consensus::generate_key().wrap_err("cannot generate a key")?;
        crate::consensus::write_key(&self.output, &key)?;
        println!("{}", crate::consensus::public_key_hex(&key));
        Ok(())
    }
}
