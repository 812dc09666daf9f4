//! Flags of `hauptbuch-reth node`, one `Args` struct per area.

use crate::{
    cli::{ChainArgs, DatadirArgs},
    rpc::RpcArgs,
    txpool::PoolConfig,
};
use clap::Args;
use std::{net::SocketAddr, time::Duration};

/// Runs the node.
#[derive(Debug, Args)]
pub struct NodeCommand {
    #[command(flatten)]
    pub(crate) chain: ChainArgs,
    #[command(flatten)]
    pub(crate) datadir: DatadirArgs,
    #[command(flatten)]
    pub(crate) dev: DevArgs,
    #[command(flatten)]
    pub(crate) rpc: RpcArgs,
    #[command(flatten)]
    pub(crate) pool: PoolArgs,
    #[command(flatten)]
    pub(crate) da: DaArgs,
    #[command(flatten)]
    pub(crate) consensus: ConsensusArgs,
    #[command(flatten)]
    pub(crate) preconf: PreconfArgs,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9001).
    #[arg(long = "metrics", value_name = "ADDR")]
    pub(crate) metrics: Option<SocketAddr>,
}

/// Development mode.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Single-node development chain: a one-validator network of this node (its key in
    /// `<datadir>/validator.key` unless `--validator.key` is given), with an embedded DA server.
    #[arg(long = "dev")]
    pub dev: bool,
    /// Interval between blocks in dev mode (e.g. `1s`, `100ms`).
    #[arg(long = "dev.block-time", default_value = "1s", value_parser = parse_duration)]
    pub block_time: Duration,
}

/// Consensus and p2p flags.
#[derive(Debug, Clone, Args)]
pub struct ConsensusArgs {
    /// Validator key file (from `hauptbuch-reth keygen`). Without it (and without `--dev`) the
    /// node serves its stored chain over RPC but does not take part in consensus.
    #[arg(long = "validator.key", value_name = "FILE")]
    pub validator_key: Option<std::path::PathBuf>,
    /// A full node's p2p key (from `hauptbuch-reth keygen`): the node follows the validators
    /// over p2p (their finalization certificates and blocks) instead of from DA. The
    /// validators must list it with `--p2p.followers`.
    #[arg(
        long = "p2p.key",
        value_name = "FILE",
        conflicts_with = "validator_key"
    )]
    pub p2p_key: Option<std::path::PathBuf>,
    /// Full nodes this validator lets follow it over p2p, as `<publicKey>@<host:port>` (their
    /// `--p2p.key` and p2p address), comma-separated.
    #[arg(long = "p2p.followers", value_delimiter = ',', value_parser = parse_bootnode)]
    pub followers: Vec<Bootnode>,
    /// p2p listen address.
    #[arg(long = "p2p.addr", default_value = "0.0.0.0")]
    pub p2p_addr: std::net::IpAddr,
    /// p2p listen port [default: 30303; with `--dev`: an ephemeral loopback port].
    #[arg(long = "p2p.port")]
    pub p2p_port: Option<u16>,
    /// Validator addresses overriding the chainspec's, as `<publicKey>@<host:port>`,
    /// comma-separated.
    #[arg(long = "p2p.bootnodes", value_delimiter = ',', value_parser = parse_bootnode)]
    pub bootnodes: Vec<Bootnode>,
}

/// A validator's key and p2p address given on the command line.
#[derive(Debug, Clone)]
pub struct Bootnode {
    /// ed25519 public key.
    pub key: crate::consensus::PublicKey,
    /// `host:port`.
    pub address: String,
}

/// Parses `<publicKey>@<host:port>`.
pub fn parse_bootnode(value: &str) -> Result<Bootnode, String> {
    use commonware_codec::DecodeExt;
    let (key, address) = value
        .split_once('@')
        .ok_or_else(|| format!("`{value}` is not <publicKey>@<host:port>"))?;
    let bytes = alloy_primitives::hex::decode(key)
        .map_err(|err| format!("public key `{key}` is not hex: {err}"))?;
    let key = crate::consensus::PublicKey::decode(bytes)
        .map_err(|_| format!("`{key}` is not an ed25519 public key"))?;
    if address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .is_none()
    {
        return Err(format!("address `{address}` is not host:port"));
    }
    Ok(Bootnode {
        key,
        address: address.to_string(),
    })
}

/// Default of `--da.max-unposted-blocks`: ten minutes of 1 s blocks, far longer than a DA
/// blip, short enough that soft confirmations never run far ahead of what DA holds.
pub const DEFAULT_MAX_UNPOSTED_BLOCKS: u64 = 600;

/// Data availability (Celestia) flags.
#[derive(Debug, Clone, Args)]
pub struct DaArgs {
    /// celestia-node JSON-RPC URL (e.g. http://localhost:26658). Without it, `--dev` runs an
    /// embedded Celestia-compatible DA server and other nodes post nothing.
    #[arg(long = "da.url", value_name = "URL")]
    pub url: Option<String>,
    /// File holding the celestia-node auth token (`celestia light auth write`).
    #[arg(long = "da.auth-token-file", value_name = "FILE")]
    pub auth_token_file: Option<std::path::PathBuf>,
    /// Celestia namespace id the chain's blobs go to and are read from: hex, up to 10 bytes
    /// (zero-padded on the left) [default: the chainspec's `hauptbuch.daNamespace`, else the
    /// chain id]. Every node of a chain must use the same one.
    #[arg(long = "da.namespace", value_name = "HEX", value_parser = parse_namespace_id)]
    pub namespace: Option<alloy_primitives::Bytes>,
    /// Largest blob posted, in bytes (at most Celestia's 1,945,600-byte limit); a batch closes
    /// before it would pass this. Every block must fit in one blob.
    #[arg(long = "da.max-blob-bytes", value_name = "BYTES",
          default_value_t = hauptbuch_exex::celestia::MAX_BLOB_BYTES,
          value_parser = parse_max_blob_bytes)]
    pub max_blob_bytes: usize,
    /// Gas price for blob submissions (utia); default: the node's estimate.
    #[arg(long = "da.gas-price")]
    pub gas_price: Option<f64>,
    /// Longest time a batch waits before it is posted [default: 500ms on the embedded DA
    /// server, whose blocks are 1 s; 2s on an external DA node].
    #[arg(long = "da.batch-interval", value_parser = parse_duration)]
    pub batch_interval: Option<Duration>,
    /// On a network of several validators the first validator of the chainspec posts to DA and
    /// the others stand by: the n-th posts a block itself only when no blob held it n times
    /// this long after the block was final.
    #[arg(long = "da.failover-delay", default_value = "30s", value_parser = parse_duration)]
    pub failover_delay: Duration,
    /// DA blocks to wait after inclusion before a block is firm (Celestia is final at 0).
    #[arg(long = "da.confirmations", default_value_t = 0)]
    pub confirmations: u64,
    /// Most blocks production may run ahead of DA posting: once this many blocks are not in a
    /// blob the DA node accepted, the proposer pauses (logged, metric `hauptbuch_da_paused`)
    /// until posting catches up. Applies only to a node that posts to DA.
    #[arg(long = "da.max-unposted-blocks", default_value_t = DEFAULT_MAX_UNPOSTED_BLOCKS,
          value_parser = parse_block_count)]
    pub max_unposted_blocks: u64,
    /// Block time of the embedded DA server used by `--dev`.
    #[arg(long = "da.block-time", default_value = "1s", value_parser = parse_duration)]
    pub embedded_block_time: Duration,
    /// Do not post blocks to a DA layer at all (blocks then never become firm).
    #[arg(long = "da.disable")]
    pub disable: bool,
}

impl DaArgs {
    /// The DA auth token from `--da.auth-token-file`, if given.
    pub fn auth_token(&self) -> eyre::Result<Option<String>> {
        read_auth_token(self.auth_token_file.as_deref())
    }
}

/// Reads a celestia-node auth token file (`--da.auth-token-file`), naming the file on failure.
pub fn read_auth_token(path: Option<&std::path::Path>) -> eyre::Result<Option<String>> {
    use eyre::WrapErr;
    let Some(path) = path else { return Ok(None) };
    let token = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read --da.auth-token-file {}", path.display()))?;
    Ok(Some(token.trim().to_string()))
}

/// Preconfirmation flags.
#[derive(Debug, Clone, Args)]
pub struct PreconfArgs {
    /// Do not issue preconfirmations (`hb_sendPreconfTransaction` then errors).
    #[arg(id = "preconf.disable", long = "preconf.disable")]
    pub disable: bool,
    /// Issuer key file; created (mode 0600) if missing. Default: `<datadir>/preconf.key`.
    #[arg(id = "preconf.key", long = "preconf.key", value_name = "FILE")]
    pub key: Option<std::path::PathBuf>,
    /// How long a promise holds if its block is not sealed (then `expired`).
    #[arg(id = "preconf.ttl", long = "preconf.ttl", default_value = "60s", value_parser = parse_duration)]
    pub ttl: Duration,
    /// Test-only fault injection: the builder withholds promised transactions (debug builds).
    #[arg(long = "preconf.dev-break-promises", hide = true)]
    pub break_promises: bool,
}

/// Transaction pool limits.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Most executable transactions kept.
    #[arg(long = "txpool.pending-max-count", default_value_t = PoolConfig::default().pending_max_count)]
    pub pending_max_count: usize,
    /// Most waiting (nonce-gapped) transactions kept.
    #[arg(long = "txpool.queued-max-count", default_value_t = PoolConfig::default().queued_max_count)]
    pub queued_max_count: usize,
    /// Most transactions per sender.
    #[arg(long = "txpool.max-account-slots", default_value_t = PoolConfig::default().max_account_slots)]
    pub max_account_slots: usize,
    /// Minimum fee bump (percent) to replace a transaction.
    #[arg(long = "txpool.price-bump", default_value_t = PoolConfig::default().price_bump_percent)]
    pub price_bump_percent: u64,
}

impl PoolArgs {
    /// The pool configuration these flags describe.
    pub fn config(&self) -> PoolConfig {
        PoolConfig {
            pending_max_count: self.pending_max_count,
            queued_max_count: self.queued_max_count,
            max_account_slots: self.max_account_slots,
            price_bump_percent: self.price_bump_percent,
            ..PoolConfig::default()
        }
    }
}

/// Parses a positive number of blocks.
/// Parses `--da.namespace`: hex (with or without `0x`), 1 to 10 bytes.
pub fn parse_namespace_id(text: &str) -> Result<alloy_primitives::Bytes, String> {
    let bytes = alloy_primitives::hex::decode(text.trim())
        .map_err(|e| format!("`{text}` is not hex: {e}"))?;
    match bytes.len() {
        0 => Err("the namespace id is empty".into()),
        1..=crate::chainspec::MAX_NAMESPACE_ID_LEN => Ok(bytes.into()),
        n => Err(format!(
            "`{text}` is {n} bytes; a namespace id is at most {} bytes",
            crate::chainspec::MAX_NAMESPACE_ID_LEN
        )),
    }
}

/// Parses `--da.max-blob-bytes` within what a blob can be.
fn parse_max_blob_bytes(text: &str) -> Result<usize, String> {
    use hauptbuch_exex::celestia::{MAX_BLOB_BYTES, MIN_BLOB_BYTES};
    let bytes: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of bytes"))?;
    if (MIN_BLOB_BYTES..=MAX_BLOB_BYTES).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(format!(
            "{bytes} bytes is outside {MIN_BLOB_BYTES}..={MAX_BLOB_BYTES} (Celestia's blob size limit)"
        ))
    }
}

pub(super) fn parse_block_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1 block".into()),
        Ok(count) => Ok(count),
        Err(_) => Err(format!("`{text}` is not a number of blocks")),
    }
}

/// Parses `1s`, `250ms`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 1s or 100ms"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value * 60),
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use ms, s or m)")),
    };
    if duration.is_zero() {
        return Err(format!("`{text}` must be greater than zero"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_counts_parse() {
        assert_eq!(parse_block_count("20"), Ok(20));
        assert!(
            parse_block_count("0")
                .expect_err("zero")
                .contains("at least 1")
        );
        assert!(
            parse_block_count("many")
                .expect_err("text")
                .contains("many")
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(
            parse_duration("fast")
                .expect_err("not a duration")
                .contains("fast")
        );
        assert!(
            parse_duration("5h")
                .expect_err("hours are not supported")
                .contains("unknown unit")
        );
    }
}
