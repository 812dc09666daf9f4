//! `hauptbuch-reth fraud-proof`: check output roots by stateless re-execution.
//!
//! - `check --rpc-url URL --block N [--output-root R]`: fetch block N (`debug_getRawBlock`), its
//!   witness (`hb_getExecutionWitness`) and the claimed output root (`hb_outputAtBlock`, or `R`),
//!   re-execute and say whether the claim is right. Exit 0 when right; when wrong, write a proof
//!   file to `--proof-dir` and exit with [`WRONG_CLAIM_EXIT_CODE`].
//! - `check … --da.url DA [--da.auth-token-file F] [--da.start-height H]`: take block N (and its
//!   finalization certificate, verified when the chainspec names a validator set) from the blobs
//!   the sequencer posted to DA instead of `debug_getRawBlock`; the witness and the claim still
//!   come from the node. A node serving another block than the one it posted is then checked
//!   against what it posted.
//! - `check --rpc-url URL --challenger [--da.url DA]`: follow the node's blocks (or, with
//!   `--da.url`, the blocks posted to DA), check each output root; on a mismatch log an error,
//!   count it in `hauptbuch_challenger_mismatches_total` and write a proof file (see
//!   [`challenger`]).
//! - `verify FILE`: check a proof file with no node; exit 0 when it proves fraud.

mod challenger;
mod da;

use super::ChainArgs;
use crate::withdrawals::{
    fraud_proof::{self, FraudProof},
    stateless::ExecutionWitness,
};
use alloy_consensus::{Block, TxEnvelope};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{B256, Bytes};
use alloy_rlp::Decodable;
use clap::{Args, Subcommand};
use da::DaBlockArgs;
use eyre::WrapErr;
use jsonrpsee::{
    core::client::ClientT,
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

/// Exit code of `check` when the claimed output root is wrong (not 2, which clap uses for
/// usage errors, nor 1, any other error).
const WRONG_CLAIM_EXIT_CODE: i32 = 3;

/// Fraud-proof tools.
#[derive(Debug, Args)]
pub struct FraudProofCommand {
    #[command(subcommand)]
    command: FraudProofSubcommand,
}

#[derive(Debug, Subcommand)]
enum FraudProofSubcommand {
    /// Re-execute a block (or follow all blocks) and check the claimed output root.
    Check(Box<CheckArgs>),
    /// Check a proof file with no node.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// JSON-RPC endpoint of the node (`eth`, `debug` and `hb` namespaces).
    #[arg(long = "rpc-url", value_name = "URL")]
    rpc_url: String,
    /// Block to check.
    #[arg(long, value_name = "N", required_unless_present = "challenger")]
    block: Option<u64>,
    /// Output root to check instead of the node's `hb_outputAtBlock`.
    #[arg(
        long = "output-root",
        value_name = "HASH",
        conflicts_with = "challenger"
    )]
    output_root: Option<B256>,
    /// Follow the node's blocks and check every output root.
    #[arg(long, conflicts_with = "block")]
    challenger: bool,
    /// First block the challenger checks.
    #[arg(long = "from-block", value_name = "N", default_value_t = 1)]
    from_block: u64,
    /// Stop the challenger after this block (default: run until SIGINT/SIGTERM).
    #[arg(long = "until-block", value_name = "N")]
    until_block: Option<u64>,
    /// How often the challenger polls for new blocks.
    #[arg(long = "poll-interval", default_value = "1s", value_parser = crate::node::parse_duration)]
    poll_interval: Duration,
    /// Where proof files are written.
    #[arg(long = "proof-dir", value_name = "DIR", default_value = ".")]
    proof_dir: PathBuf,
    /// Serve Prometheus metrics on this address.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    #[command(flatten)]
    da: DaBlockArgs,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The proof file.
    file: PathBuf,
}

impl FraudProofCommand {
    pub(super) fn run(self) -> eyre::Result<()> {
        match self.command {
            FraudProofSubcommand::Check(args) => args.run(),
            FraudProofSubcommand::Verify(args) => args.run(),
        }
    }
}

impl VerifyArgs {
    fn run(self) -> eyre::Result<()> {
        let spec = self.chain.load()?;
        let text = std::fs::read_to_string(&self.file)
            .wrap_err_with(|| format!("cannot read {}", self.file.display()))?;
        let proof: FraudProof = serde_json::from_str(&text)
            .wrap_err_with(|| format!("{} is not a fraud proof file", self.file.display()))?;
        let computed = fraud_proof::verify(&spec, &proof)
            .wrap_err_with(|| format!("{} does not prove fraud", self.file.display()))?;
        println!(
            "fraud proven: block {} ({}) has output root {}, not the claimed {}",
            proof.block_number, proof.block_hash, computed.output_root, proof.claimed_output_root
        );
        Ok(())
    }
}

/// A node's view of one block.
struct FetchedBlock {
    block: Block<TxEnvelope>,
    witness: ExecutionWitness,
    claimed: B256,
    /// The hash of the block the node's claim is about, when the node said.
    claimed_hash: Option<B256>,
}

/// Block `number` as the node serves it.
async fn node_block(client: &HttpClient, number: u64) -> eyre::Result<Block<TxEnvelope>> {
    let id = BlockId::Number(BlockNumberOrTag::Number(number));
    let raw: Bytes = client
        .request("debug_getRawBlock", rpc_params![id])
        .await
        .wrap_err_with(|| format!("debug_getRawBlock({number})"))?;
    Block::<TxEnvelope>::decode(&mut raw.as_ref())
        .wrap_err_with(|| format!("block {number} from the node does not decode"))
}

/// The witness and claimed output root of block `number` from the node, with `block` (from the
/// node when `None`).
async fn fetch(
    client: &HttpClient,
    number: u64,
    claimed: Option<B256>,
    block: Option<Block<TxEnvelope>>,
) -> eyre::Result<FetchedBlock> {
    let block = match block {
        Some(block) => block,
        None => node_block(client, number).await?,
    };
    let witness: ExecutionWitness = client
        .request(
            "hb_getExecutionWitness",
            rpc_params![BlockNumberOrTag::Number(number)],
        )
        .await
        .wrap_err_with(|| format!("hb_getExecutionWitness({number})"))?;
    let (claimed, claimed_hash) = match claimed {
        Some(root) => (root, None),
        None => {
            let output: serde_json::Value = client
                .request(
                    "hb_outputAtBlock",
                    rpc_params![BlockNumberOrTag::Number(number)],
                )
                .await
                .wrap_err_with(|| format!("hb_outputAtBlock({number})"))?;
            let root = serde_json::from_value(output["outputRoot"].clone())
                .wrap_err("hb_outputAtBlock gave no outputRoot")?;
            (
                root,
                serde_json::from_value(output["blockRef"]["hash"].clone()).ok(),
            )
        }
    };
    Ok(FetchedBlock {
        block,
        witness,
        claimed,
        claimed_hash,
    })
}

fn write_proof(dir: &Path, proof: &FraudProof) -> eyre::Result<PathBuf> {
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!(
        "fraud-proof-{}-{}.json",
        proof.block_number, proof.block_hash
    ));
    let json = serde_json::to_vec_pretty(proof).wrap_err("cannot encode the proof")?;
    std::fs::write(&path, json).wrap_err_with(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

impl CheckArgs {
    fn run(self) -> eyre::Result<()> {
        let spec = self.chain.load()?;
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(60))
            .build(&self.rpc_url)
            .wrap_err_with(|| format!("invalid --rpc-url `{}`", self.rpc_url))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .wrap_err("cannot start the async runtime")?;
        if let Some(addr) = self.metrics {
            let _guard = runtime.enter();
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .with_http_listener(addr)
                .install()
                .wrap_err_with(|| format!("cannot serve --metrics on {addr}"))?;
        }
        if self.challenger {
            return runtime.block_on(async {
                let da = self.da.connect(&spec).await?;
                challenger::run(&self, &spec, &client, da).await
            });
        }
        let number = self
            .block
            .ok_or_else(|| eyre::eyre!("--block is required"))?;
        let (fetched, origin) = runtime.block_on(async {
            let (block, origin) = match self.da.connect(&spec).await? {
                Some(reader) => {
                    if number == 0 {
                        eyre::bail!(
                            "block 0 is the genesis block: it is not posted to DA and has no parent"
                        );
                    }
                    let found = crate::derive::find_block(
                        &reader.source,
                        spec.chain_id,
                        number,
                        self.da.start_height,
                    )
                    .await
                    .wrap_err_with(|| {
                        format!("cannot read block {number} from --da.url `{}`", reader.url)
                    })?;
                    let certificate = reader.certificate_status(&found)?;
                    let origin = format!("from DA height {}, {certificate}", found.da_height);
                    (Some(found.block), origin)
                }
                None => (None, format!("from {}", self.rpc_url)),
            };
            eyre::Ok((
                fetch(&client, number, self.output_root, block).await?,
                origin,
            ))
        })?;
        let hash = fetched.block.header.hash_slow();
        println!("block {number} ({hash}) {origin}");
        if let Some(served) = fetched.claimed_hash.filter(|served| *served != hash) {
            println!(
                "block {number}: the node's output root is about block {served}, not the block on DA"
            );
        }
        let (computed, proof) =
            fraud_proof::check(&spec, &fetched.block, fetched.witness, fetched.claimed)
                .wrap_err_with(|| {
                    format!("block {number} ({hash}) does not re-execute from the node's witness")
                })?;
        match proof {
            None => {
                println!(
                    "block {number}: output root {} is right",
                    computed.output_root
                );
                Ok(())
            }
            Some(proof) => {
                let path = write_proof(&self.proof_dir, &proof)?;
                println!(
                    "block {number}: claimed output root {} is wrong, re-execution gives {}; proof written to {}",
                    fetched.claimed,
                    computed.output_root,
                    path.display()
                );
                std::process::exit(WRONG_CLAIM_EXIT_CODE);
            }
        }
    }
}
