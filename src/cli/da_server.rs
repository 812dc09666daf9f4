//! `hauptbuch-reth da-server`: the embedded Celestia-compatible DA server as its own process, so
//! that several nodes of a devnet can share one DA layer.

use crate::node::parse_duration;
use clap::Args;
use eyre::WrapErr;
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// Runs a local Celestia-compatible DA server (celestia-node's JSON-RPC API).
#[derive(Debug, Args)]
pub struct DaServerCommand {
    /// Directory for the DA chain and its auth secret.
    #[arg(long, value_name = "DIR")]
    datadir: PathBuf,
    /// Listening address (celestia-node's default port is 26658).
    #[arg(long = "addr", default_value = "127.0.0.1:26658")]
    addr: SocketAddr,
    /// Time between DA blocks.
    #[arg(long = "block-time", default_value = "1s", value_parser = parse_duration)]
    block_time: Duration,
    /// Serve without bearer-token authentication (local testing only).
    #[arg(long = "no-auth")]
    no_auth: bool,
}

impl DaServerCommand {
    pub(super) fn run(self) -> eyre::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .wrap_err("cannot start the async runtime")?;
        runtime.block_on(async move {
            let mut config = hauptbuch_exex::da_server::DaServerConfig::new(&self.datadir);
            config.listen_addr = self.addr;
            config.block_time = self.block_time;
            config.auth = !self.no_auth;
            let handle = hauptbuch_exex::da_server::start(config)
                .await
                .map_err(|e| eyre::eyre!("cannot start the DA server on {}: {e}", self.addr))?;
            println!("{}", handle.http_url());
            if let Some(path) = handle.admin_token_path() {
                tracing::info!(token_file = %path.display(), "admin token written");
            }
            tracing::info!(url = %handle.http_url(), "DA server running; Ctrl-C to stop");
            let signal = crate::node::shutdown_signal().await?;
            tracing::info!(%signal, "stopping the DA server");
            handle
                .stop()
                .await
                .map_err(|e| eyre::eyre!("DA server did not stop cleanly: {e}"))?;
            Ok(())
        })
    }
}
