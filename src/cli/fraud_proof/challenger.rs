//! `fraud-proof check --challenger`: follow a chain and check every block's output root.
//!
//! Blocks come from the node (`--rpc-url`, polling `hb_outputAtBlock(latest)` for the head) or,
//! with `--da.url`, from the blobs the sequencer posted to DA, height by height from
//! `--da.start-height`; witnesses and claims always come from the node. Each block is re-executed
//! from its witness and the node's `hb_outputAtBlock` claim compared with the result. Every
//! problem is an `ERROR` log line naming the block and one increment of
//! `hauptbuch_challenger_mismatches_total`:
//! - a wrong output root (`output root mismatch`, with a proof file written to `--proof-dir`);
//! - a block that does not re-execute from the node's witness;
//! - a block whose parent or pre-state is not the previous block as this challenger computed it;
//! - from DA: blocks missing between two posted blocks, an invalid finalization certificate.
//!
//! From DA, a block the node has no witness or claim for yet (it may lag behind DA) is retried
//! every `--poll-interval` until it has, or until SIGINT/SIGTERM.

use super::{CheckArgs, FetchedBlock, da::DaReader, fetch, write_proof};
use crate::{chainspec::ChainSpec, withdrawals::fraud_proof};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::B256;
use alloy_rlp::Decodable;
use eyre::WrapErr;
use jsonrpsee::{core::client::ClientT, http_client::HttpClient, rpc_params};
use std::{future::Future, pin::Pin};

/// Ends with the signal that asked the challenger to stop.
type Shutdown<'a> = Pin<&'a mut (dyn Future<Output = eyre::Result<String>> + Send)>;

/// Follows the node (or DA, with `da`) until `--until-block` or SIGINT/SIGTERM.
pub(super) async fn run(
    args: &CheckArgs,
    spec: &ChainSpec,
    client: &HttpClient,
    da: Option<DaReader>,
) -> eyre::Result<()> {
    let mut challenger = Challenger {
        args,
        spec,
        client,
        previous: None,
    };
    let mut shutdown = std::pin::pin!(crate::node::shutdown_signal());
    match da {
        None => challenger.follow_node(shutdown.as_mut()).await,
        Some(reader) => challenger.follow_da(&reader, shutdown.as_mut()).await,
    }
}

struct Challenger<'a> {
    args: &'a CheckArgs,
    spec: &'a ChainSpec,
    client: &'a HttpClient,
    /// The previous block as this challenger computed it: (hash, post-state root).
    previous: Option<(B256, B256)>,
}

fn mismatch() {
    metrics::counter!("hauptbuch_challenger_mismatches_total").increment(1);
}

impl Challenger<'_> {
    /// Whether `number` is past `--until-block`.
    fn done(&self, number: u64) -> bool {
        self.args.until_block.is_some_and(|last| number > last)
    }

    /// Sleeps `--poll-interval`; `true` when asked to stop instead.
    async fn wait(&self, shutdown: &mut Shutdown<'_>) -> eyre::Result<bool> {
        tokio::select! {
            biased;
            signal = shutdown.as_mut() => {
                tracing::info!(signal = %signal?, "challenger stopping");
                Ok(true)
            }
            () = tokio::time::sleep(self.args.poll_interval) => Ok(false),
        }
    }

    async fn follow_node(&mut self, mut shutdown: Shutdown<'_>) -> eyre::Result<()> {
        let mut next = self.args.from_block.max(1);
        loop {
            if self.done(next) {
                return Ok(());
            }
            let head: serde_json::Value = self
                .client
                .request("hb_outputAtBlock", rpc_params![BlockNumberOrTag::Latest])
                .await
                .wrap_err("hb_outputAtBlock(latest)")?;
            let head: u64 =
                serde_json::from_value::<alloy_primitives::U64>(head["blockRef"]["number"].clone())
                    .wrap_err("hb_outputAtBlock gave no block number")?
                    .to();
            while next <= head && !self.done(next) {
                let fetched = fetch(self.client, next, None, None).await?;
                self.judge(next, fetched)?;
                next += 1;
            }
            if self.wait(&mut shutdown).await? {
                return Ok(());
            }
        }
    }

    async fn follow_da(
        &mut self,
        reader: &DaReader,
        mut shutdown: Shutdown<'_>,
    ) -> eyre::Result<()> {
        let from = self.args.from_block.max(1);
        // The next block expected on DA, once the first one at or after `from` is seen.
        let mut next: Option<u64> = None;
        let mut height = self.args.da.start_height.max(1);
        loop {
            if self.done(next.unwrap_or(from)) {
                return Ok(());
            }
            let head = reader
                .source
                .network_head()
                .await
                .wrap_err_with(|| format!("DA head from --da.url `{}`", reader.url))?;
            while height <= head {
                let blocks = crate::derive::blocks_at(&reader.source, self.spec.chain_id, height)
                    .await
                    .wrap_err_with(|| {
                        format!("DA height {height} from --da.url `{}`", reader.url)
                    })?;
                for found in blocks {
                    let number = found.block.header.number;
                    // Duplicates (every validator posts, re-posts after a crash) and blocks
                    // before --from-block.
                    if number < next.unwrap_or(from) {
                        continue;
                    }
                    if self.done(number) {
                        return Ok(());
                    }
                    if let Some(expected) = next
                        && number > expected
                    {
                        tracing::error!(
                            da_height = height,
                            block = number,
                            missing = ?(expected..number),
                            "blocks are missing from DA: the next posted block skips them"
                        );
                        mismatch();
                        self.previous = None;
                    }
                    if let Err(err) = reader.certificate_status(&found) {
                        tracing::error!(block = number, da_height = height, "{err:#}");
                        mismatch();
                    }
                    let fetched = loop {
                        match fetch(self.client, number, None, Some(found.block.clone())).await {
                            Ok(fetched) => break fetched,
                            Err(err) => {
                                tracing::warn!(
                                    block = number,
                                    da_height = height,
                                    "the node cannot serve the witness or claim of a block on DA yet, retrying: {err:#}"
                                );
                                if self.wait(&mut shutdown).await? {
                                    return Ok(());
                                }
                            }
                        }
                    };
                    self.judge(number, fetched)?;
                    next = Some(number + 1);
                }
                metrics::gauge!("hauptbuch_challenger_da_height").set(height as f64);
                height += 1;
            }
            if self.wait(&mut shutdown).await? {
                return Ok(());
            }
        }
    }

    /// Checks one block's output root (and that it extends the previous block).
    fn judge(&mut self, number: u64, fetched: FetchedBlock) -> eyre::Result<()> {
        let header = &fetched.block.header;
        let pre_state = fetched
            .witness
            .headers
            .last()
            .and_then(|h| alloy_consensus::Header::decode(&mut h.as_ref()).ok())
            .map(|h| h.state_root);
        if let Some((hash, state_root)) = self.previous
            && (header.parent_hash != hash || pre_state != Some(state_root))
        {
            tracing::error!(
                block = number,
                parent = %header.parent_hash,
                expected_parent = %hash,
                pre_state = ?pre_state,
                expected_pre_state = %state_root,
                "block does not extend the previous block as this challenger computed it"
            );
            mismatch();
        }
        let hash = header.hash_slow();
        let result =
            fraud_proof::check(self.spec, &fetched.block, fetched.witness, fetched.claimed);
        metrics::counter!("hauptbuch_challenger_blocks_checked_total").increment(1);
        metrics::gauge!("hauptbuch_challenger_last_checked_block").set(number as f64);
        match result {
            Ok((computed, None)) => {
                tracing::info!(block = number, output_root = %computed.output_root, "output root checked");
                self.previous = Some((hash, computed.state_root));
            }
            Ok((computed, Some(proof))) => {
                let path = write_proof(&self.args.proof_dir, &proof)?;
                tracing::error!(
                    block = number,
                    claimed = %fetched.claimed,
                    claimed_block = ?fetched.claimed_hash,
                    computed = %computed.output_root,
                    proof = %path.display(),
                    "output root mismatch"
                );
                mismatch();
                self.previous = Some((hash, computed.state_root));
            }
            Err(err) => {
                tracing::error!(block = number, %err, "block does not re-execute from the node's witness");
                mismatch();
                self.previous = None;
            }
        }
        Ok(())
    }
}
