//! `hauptbuch-reth`: the node binary.

use clap::Parser;

fn main() {
    let cli = hauptbuch_reth::cli::Cli::parse();
    if let Err(err) = hauptbuch_reth::cli::run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
