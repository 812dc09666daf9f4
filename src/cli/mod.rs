//! Command line interface, reth-style: `node`, `init`, `import`, `dump-genesis`, `db stats`,
//! `da-server`, `derive`, `keygen`, `fraud-proof`, `preconf verify`.

mod da_server;
mod db;
mod derive;
mod dump_genesis;
mod fraud_proof;
mod import;
mod init;
mod keygen;
mod preconf;

use crate::chainspec::ChainSpec;
use clap::{Args, Parser, Subcommand};
use std::{path::PathBuf, sync::Arc};

/// Top-level arguments.
#[derive(Debug, Parser)]
#[command(
    name = "hauptbuch-reth",
    version,
    about = "Hauptbuch rollup sequencer node"
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log filter (`RUST_LOG` syntax), e.g. `info` or `hauptbuch=debug`.
    #[arg(
        long = "log.filter",
        global = true,
        default_value = "info,commonware_consensus::marshal=warn",
        env = "RUST_LOG"
    )]
    pub log_filter: String,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node.
    Node(Box<crate::node::NodeCommand>),
    /// Initialise a datadir with the genesis block of a chain.
    Init(init::InitCommand),
    /// Import blocks from a file of concatenated RLP blocks.
    Import(import::ImportCommand),
    /// Print the chainspec (genesis JSON) of a chain.
    DumpGenesis(dump_genesis::DumpGenesisCommand),
    /// Database tools.
    Db(db::DbCommand),
    /// Run a local Celestia-compatible DA server.
    DaServer(da_server::DaServerCommand),
    /// Rebuild the chain from the blobs of its DA namespace.
    Derive(derive::DeriveCommand),
    /// Create a validator key.
    Keygen(keygen::KeygenCommand),
    /// Check output roots by stateless re-execution; verify fraud proof files.
    FraudProof(fraud_proof::FraudProofCommand),
    /// Preconfirmation tools (offline verifier).
    Preconf(preconf::PreconfCommand),
}

/// `--chain`.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// `devnet` (built in) or the path of a genesis JSON file.
    #[arg(long, default_value = "devnet", value_name = "CHAIN_OR_PATH")]
    pub chain: String,
}

impl ChainArgs {
    /// Loads the chainspec, naming the argument on failure.
    pub fn load(&self) -> eyre::Result<Arc<ChainSpec>> {
        ChainSpec::from_arg(&self.chain)
            .map_err(|e| eyre::eyre!("invalid --chain `{}`: {e}", self.chain))
    }
}

/// `--datadir`.
#[derive(Debug, Clone, Args)]
pub struct DatadirArgs {
    /// Directory for all node data. Default: `$HOME/.local/share/hauptbuch/<chain id>`.
    #[arg(long, value_name = "DIR")]
    pub datadir: Option<PathBuf>,
}

impl DatadirArgs {
    /// The datadir to use for `spec`.
    pub fn resolve(&self, spec: &ChainSpec) -> PathBuf {
        self.datadir.clone().unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".local/share/hauptbuch")
                .join(spec.chain_id.to_string())
        })
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> eyre::Result<()> {
    init_tracing(&cli.log_filter)?;
    match cli.command {
        Command::Node(cmd) => cmd.run(),
        Command::Init(cmd) => cmd.run(),
        Command::Import(cmd) => cmd.run(),
        Command::DumpGenesis(cmd) => cmd.run(),
        Command::Db(cmd) => cmd.run(),
        Command::DaServer(cmd) => cmd.run(),
        Command::Derive(cmd) => cmd.run(),
        Command::Keygen(cmd) => cmd.run(),
        Command::FraudProof(cmd) => cmd.run(),
        Command::Preconf(cmd) => cmd.run(),
    }
}

fn init_tracing(filter: &str) -> eyre::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| eyre::eyre!("invalid --log.filter `{filter}`: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

/// Opens the database of `datadir` and an engine over it, initialising genesis if needed.
fn open_engine(
    spec: Arc<ChainSpec>,
    datadir: &std::path::Path,
) -> eyre::Result<crate::engine::Engine> {
    use eyre::WrapErr;
    let db = crate::storage::Database::open(datadir)
        .wrap_err_with(|| format!("cannot open database in {}", datadir.display()))?;
    let engine = crate::engine::Engine::new(spec, Arc::new(db));
    engine.init_genesis()?;
    Ok(engine)
}
