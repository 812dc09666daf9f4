//! The consensus application: what a validator does when simplex asks it to propose or to verify.
//!
//! - propose: build a block on the parent consensus names, from the pool in first-come-first-served
//!   order, through the engine (`build_payload_on`); the block waits in the engine's pending tree.
//! - verify: check the Hauptbuch rules consensus adds to Ethereum's (proposer's fee recipient,
//!   gas limit unchanged, randomness derived from the parent, no beacon root, no withdrawals,
//!   timestamp not ahead of the clock), then execute the block and check every header field
//!   (`validate_payload`). A block that fails is not voted for.
//!
//! Parents that this node has not executed yet (it missed the proposal and only saw the
//! certificate) are executed first, oldest first, from the ancestry marshal provides.
//!
//! Engine calls block (execution, state root), so they run on the runtime's blocking pool.
//!
//! Pacing: every block says in its `extraData` when it was due (`hauptbuch` then the unix time
//! in ms, big-endian). Its child is due `block_time` later, but never before the parent reached
//! the proposer (the proposal arrived, or it built it itself) nor more than `block_time` after
//! that: on time, blocks keep a fixed cadence whatever the propagation delay; after a late
//! parent (a timed-out view, a DA pause) the next block follows at once and the cadence restarts
//! from there; a proposer's wrong clock or a forged due time can only move a block within that
//! window. The proposer starts building its expected build time early, so that the block is
//! ready when due. The due time is a hint for the next proposer, not a validity rule.
//!
//! On a node that posts to DA, propose first waits for room under the bound on unposted blocks
//! ([`UnpostedBound`]); while DA is down the leader thus proposes nothing and its views time out.

use super::{
    ConsensusBlock, Digest, PublicKey, Scheme, UnpostedBound, ValidatorSet, block::digest_hash,
    blocking,
};
use crate::{
    engine::{Engine, EngineError},
    execution::{BlockAttributes, EXTRA_DATA, ExecutionError},
    preconf::{Preconfer, Route, Routes},
    txpool::TxPool,
};
use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::{B256, Bytes, keccak256, map::HashMap};
use commonware_consensus::{
    Application, Heightable,
    marshal::ancestry::Ancestry,
    simplex::{
        elector::{Config as ElectorConfig, Elector as _, RoundRobin, RoundRobinElector},
        types::Context,
    },
    types::Round,
};
use commonware_cryptography::{Digested, Digestible, sha256::Sha256};
use commonware_runtime::{Clock, Metrics, Spawner, Supervisor};
use futures::StreamExt;
use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// Most transactions considered for one block (the gas limit usually binds first).
const MAX_TXS_PER_BLOCK: usize = 10_000;
/// How far a block's timestamp may run ahead of a verifier's clock before it waits.
const MAX_FUTURE_DRIFT: Duration = Duration::from_secs(15);
/// Blocks whose children's due time is remembered for pacing.
const DUE_CAPACITY: usize = 1024;

/// The simplex application over the engine and the pool.
#[derive(Clone)]
pub struct ChainApplication {
    engine: Engine,
    pool: TxPool,
    /// Promised positions this node's blocks honour (`--dev` preconfirmations).
    preconf: Option<Preconfer>,
    /// How far production may run ahead of DA posting (nodes that post to DA).
    unposted_bound: Option<UnpostedBound>,
    validators: Arc<ValidatorSet>,
    block_time: Duration,
    /// When a child of each recent block this node executed is due (see the module's pacing).
    child_due: Arc<Mutex<HashMap<B256, SystemTime>>>,
    /// How long this node's recent builds took (moving average): a proposer starts building that
    /// much before the block time is up, so the block is ready on time rather than late by its
    /// own build time.
    build_time: Arc<Mutex<Duration>>,
    /// Test-only fault injection (debug builds): proposals carry a wrong state root.
    corrupt_proposals: bool,
    /// Who issues the next block's preconfirmations (validator networks).
    turns: Option<Turns>,
}

/// Publishes, after each proposal this node builds or verifies, which validator leads the next
/// view and so issues the next block's preconfirmations; opens or closes this node's issuance.
#[derive(Clone)]
struct Turns {
    routes: Routes,
    me: PublicKey,
    elector: RoundRobinElector<Scheme>,
    /// Held from publishing a route to opening or closing the window, so that concurrent
    /// verifications leave the window matching the latest route.
    order: Arc<Mutex<()>>,
}

impl ChainApplication {
    /// An application building and checking blocks through `engine`.
    pub fn new(
        engine: Engine,
        pool: TxPool,
        validators: Arc<ValidatorSet>,
        block_time: Duration,
    ) -> Self {
        Self {
            engine,
            pool,
            preconf: None,
            unposted_bound: None,
            validators,
            block_time,
            child_due: Default::default(),
            build_time: Default::default(),
            corrupt_proposals: false,
            turns: None,
        }
    }

    /// Publishes the next block's issuer to `routes` after every proposal ([`Turns`]). `elector`
    /// must be the one consensus runs with.
    pub fn with_routes(
        mut self,
        routes: Routes,
        me: PublicKey,
        elector: RoundRobin<Sha256>,
    ) -> Self {
        let elector = ElectorConfig::<Scheme>::build(elector, self.validators.keys());
        self.turns = Some(Turns {
            routes,
            me,
            elector,
            order: Arc::default(),
        });
        self
    }

    /// After view `round`'s proposal `hash` (block `number`): the leader of the next view issues
    /// block `number + 1`'s preconfirmations.
    fn next_turn(&self, round: Round, number: u64, hash: B256) {
        let Some(turns) = &self.turns else { return };
        let next = Round::new(round.epoch(), round.view().next());
        let index = turns.elector.elect(next, ());
        let Some(issuer) = self.validators.keys().get(index.get() as usize) else {
            return;
        };
        let route = Route {
            view: round.view().get(),
            block: number + 1,
            issuer: issuer.clone(),
        };
        let _order = turns.order.lock().unwrap_or_else(PoisonError::into_inner);
        if turns.routes.publish(route)
            && let Some(preconf) = &self.preconf
        {
            if *issuer == turns.me {
                preconf.open_window(number + 1, hash);
            } else {
                preconf.close_window();
            }
        }
    }

    /// Test-only fault injection, honoured in debug builds: this validator proposes blocks whose
    /// state root is wrong (a Byzantine or broken proposer), which honest validators must not
    /// vote for.
    pub fn with_corrupt_proposals(mut self, corrupt: bool) -> Self {
        self.corrupt_proposals = corrupt;
        self
    }

    /// When a proposal due at `due` starts building: the expected build time (at most half the
    /// block time) earlier.
    fn build_start(&self, due: SystemTime) -> SystemTime {
        let build = *self
            .build_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        due - build.min(self.block_time / 2)
    }

    /// Folds one build's duration into the average (weight 1/4 for the newest).
    fn record_build(&self, took: Duration) {
        let mut average = self
            .build_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *average = (*average * 3 + took) / 4;
    }

    /// The smallest timestamp a child of a block with `parent` timestamp may have.
    fn earliest_timestamp(&self, parent: u64) -> u64 {
        crate::execution::earliest_timestamp(self.engine.spec(), parent)
    }

    /// Builds blocks that honour `preconf`'s promises.
    pub fn with_preconf(mut self, preconf: Option<Preconfer>) -> Self {
        self.preconf = preconf;
        self
    }

    /// Pauses proposals while more than the bound's blocks are not posted to DA.
    pub fn with_unposted_bound(mut self, bound: Option<UnpostedBound>) -> Self {
        self.unposted_bound = bound;
        self
    }

    fn set_child_due(&self, hash: B256, at: SystemTime) {
        let mut due = self
            .child_due
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if due.len() >= DUE_CAPACITY {
            due.clear();
        }
        due.insert(hash, at);
    }

    fn child_due(&self, hash: &B256) -> Option<SystemTime> {
        self.child_due
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hash)
            .copied()
    }

    /// Whether the engine can execute on `hash`: it is committed or pending.
    fn executed(&self, hash: B256) -> Result<bool, EngineError> {
        Ok(self.engine.is_pending(hash)
            || self.engine.db().provider()?.block_number(hash)?.is_some())
    }

    /// Executes the not yet executed blocks of `ancestry` (newest first, starting at `tip`),
    /// oldest first. `Ok(false)` when a block is invalid or the ancestry leaves the canonical
    /// chain.
    async fn execute_ancestry<E>(
        &self,
        context: &E,
        tip: Digested<ConsensusBlock>,
        mut ancestry: impl Ancestry<ConsensusBlock>,
    ) -> Result<bool, EngineError>
    where
        E: Spawner + Supervisor,
    {
        let head = self.engine.head()?;
        let mut missing = Vec::new();
        let mut cursor = Some(tip);
        while let Some(block) = cursor {
            let hash = digest_hash(&block.digest());
            if self.executed(hash)? {
                break;
            }
            if block.height().get() <= head.number {
                // Below the committed head but not canonical: a fork of a final block.
                return Ok(false);
            }
            missing.push(block);
            cursor = ancestry.next().await;
        }
        for block in missing.into_iter().rev() {
            let engine = self.engine.clone();
            let inner = block.inner().clone();
            let result = blocking(context, move || {
                engine.validate_payload(inner.block()).map(|_| ())
            })
            .await?;
            match result {
                Ok(()) => {}
                Err(err) if is_invalid(&err) => {
                    tracing::warn!(number = block.height().get(), %err, "ancestor block is invalid");
                    return Ok(false);
                }
                Err(err) => return Err(err),
            }
        }
        Ok(true)
    }

    /// The Hauptbuch rules on top of Ethereum's for a block proposed by `leader`.
    fn check_proposal(
        &self,
        block: &Block<TxEnvelope>,
        parent_hash: B256,
        parent_gas_limit: u64,
        leader: &PublicKey,
    ) -> Result<(), String> {
        let header = &block.header;
        let expected = self.validators.fee_recipient(leader);
        if header.beneficiary != expected {
            return Err(format!(
                "beneficiary {} is not the proposer's fee recipient {expected}",
                header.beneficiary
            ));
        }
        if header.gas_limit != parent_gas_limit {
            return Err(format!(
                "gas limit {} differs from the parent's {parent_gas_limit}",
                header.gas_limit
            ));
        }
        if header.mix_hash != keccak256(parent_hash) {
            return Err("prevRandao is not keccak256(parent hash)".into());
        }
        if header
            .parent_beacon_block_root
            .is_some_and(|root| root != B256::ZERO)
        {
            return Err("parent beacon block root must be zero".into());
        }
        if block
            .body
            .withdrawals
            .as_ref()
            .is_some_and(|w| !w.is_empty())
        {
            return Err("blocks carry no withdrawals".into());
        }
        Ok(())
    }

    async fn propose_block<E>(
        &self,
        context: E,
        consensus: Context<Digest, PublicKey>,
        mut ancestry: impl Ancestry<ConsensusBlock>,
    ) -> Result<Option<Digested<ConsensusBlock>>, EngineError>
    where
        E: Clock + Spawner + Supervisor,
    {
        let Some(parent) = ancestry.next().await else {
            return Ok(None);
        };
        let parent_hash = digest_hash(&parent.digest());
        if !self
            .execute_ancestry(&context, parent.clone(), ancestry)
            .await?
        {
            return Ok(None);
        }
        let due = self.child_due(&parent_hash);
        if let Some(due) = due {
            context.sleep_until(self.build_start(due)).await;
        }
        if let Some(bound) = &self.unposted_bound {
            // Consensus drops this future when the view times out, ending the wait.
            bound.wait_for_room(parent.height().get()).await;
        }
        let parent_header = parent.inner().header().clone();
        let started = context.current();
        // A parent this node has not timed (it restarted) paces from now.
        let due = due.unwrap_or(started);
        let now = unix_secs(started);
        let mut attributes = BlockAttributes::next(
            self.engine.spec(),
            parent_hash,
            &parent_header,
            now,
            self.validators.fee_recipient(&consensus.leader),
        );
        attributes.extra_data = extra_data_due(due);
        // Promised transactions of this block first (preconfirmations), then the pool in
        // arrival order; transactions already in pending ancestors are not taken again.
        let included = self.pending_transactions(parent_hash)?;
        let number = parent_header.number + 1;
        let (engine, pool, preconf) =
            (self.engine.clone(), self.pool.clone(), self.preconf.clone());
        let built = blocking(&context, move || {
            let candidates = match &preconf {
                Some(preconf) => {
                    preconf.transactions_for_block(number, MAX_TXS_PER_BLOCK + included.len())
                }
                None => pool.best_transactions(MAX_TXS_PER_BLOCK + included.len()),
            };
            let transactions: Vec<_> = candidates
                .into_iter()
                .filter(|tx| !included.contains(tx.inner().tx_hash()))
                .take(MAX_TXS_PER_BLOCK)
                .collect();
            engine
                .build_payload_on(parent_hash, attributes, transactions)
                .map(|built| (built, included.is_empty()))
        })
        .await??;
        let (mut built, on_head) = built;
        if cfg!(debug_assertions) && self.corrupt_proposals {
            built.block.header.state_root = B256::repeat_byte(0xba);
            built.hash = built.block.header.hash_slow();
            tracing::warn!(hash = %built.hash, "fault injection: proposing a block with a wrong state root");
        }
        if !built.rejected.is_empty() && on_head {
            // Built on the committed head: the rejections are against final state.
            let hashes: Vec<B256> = built.rejected.iter().map(|(hash, _)| *hash).collect();
            self.pool.remove(&hashes);
        }
        self.record_build(
            context
                .current()
                .duration_since(started)
                .unwrap_or_default(),
        );
        self.set_child_due(built.hash, due + self.block_time);
        self.next_turn(consensus.round, built.block.header.number, built.hash);
        tracing::debug!(
            number = built.block.header.number,
            hash = %built.hash,
            txs = built.block.body.transactions.len(),
            view = %consensus.round.view(),
            "proposed block"
        );
        let block = ConsensusBlock::new(built.block);
        let digest = block.digest();
        Ok(Some(Digested::precomputed(block, digest)))
    }

    /// Hashes of the transactions in the pending blocks from the committed head to `tip`.
    fn pending_transactions(
        &self,
        tip: B256,
    ) -> Result<alloy_primitives::map::HashSet<B256>, EngineError> {
        Ok(self
            .engine
            .pending_transaction_hashes(tip)?
            .into_iter()
            .collect())
    }

    async fn verify_block<E>(
        &self,
        context: E,
        consensus: Context<Digest, PublicKey>,
        mut ancestry: impl Ancestry<ConsensusBlock>,
    ) -> Result<bool, EngineError>
    where
        E: Clock + Spawner + Supervisor,
    {
        let Some(candidate) = ancestry.next().await else {
            return Ok(false);
        };
        let Some(parent) = ancestry.peek().cloned() else {
            return Ok(false);
        };
        let block = candidate.inner().block();
        let parent_hash = digest_hash(&parent.digest());
        if let Err(reason) = self.check_proposal(
            block,
            parent_hash,
            parent.inner().header().gas_limit,
            &consensus.leader,
        ) {
            tracing::warn!(number = block.header.number, hash = %candidate.inner().hash(), reason, "rejecting proposal");
            return Ok(false);
        }
        // A block from the future waits for the clock (abstaining meanwhile) rather than failing:
        // the verdict must not depend on clock skew.
        let timestamp = block.header.timestamp;
        let earliest = UNIX_EPOCH + Duration::from_secs(timestamp) - MAX_FUTURE_DRIFT;
        if timestamp > self.earliest_timestamp(parent.inner().header().timestamp)
            && context.current() < earliest
        {
            context.sleep_until(earliest).await;
        }
        let arrived = context.current();
        if !self.execute_ancestry(&context, parent, ancestry).await? {
            return Ok(false);
        }
        let (engine, pool) = (self.engine.clone(), self.pool.clone());
        let inner = candidate.inner().clone();
        let result = blocking(&context, move || {
            // Most transactions arrived through the pool (RPC or gossip), which recovered their
            // senders already.
            let block = inner.block();
            let hashes: Vec<B256> = block
                .body
                .transactions
                .iter()
                .map(|tx| *tx.tx_hash())
                .collect();
            let known = pool.senders(&hashes);
            engine.validate_payload_with(block, &known).map(|_| ())
        })
        .await?;
        match result {
            Ok(()) => {
                let due = due_after(self.block_time, due_of(&block.header.extra_data), arrived);
                self.set_child_due(candidate.inner().hash(), due);
                self.next_turn(
                    consensus.round,
                    block.header.number,
                    candidate.inner().hash(),
                );
                Ok(true)
            }
            Err(err) if is_invalid(&err) => {
                tracing::warn!(number = block.header.number, hash = %candidate.inner().hash(), %err, "rejecting invalid block");
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }
}

impl std::fmt::Debug for ChainApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainApplication")
            .field("validators", &self.validators.len())
            .field("block_time", &self.block_time)
            .field("preconf", &self.preconf.is_some())
            .field(
                "max_unposted_blocks",
                &self.unposted_bound.as_ref().map(UnpostedBound::max_blocks),
            )
            .finish_non_exhaustive()
    }
}

impl<E> Application<E> for ChainApplication
where
    E: Clock + Spawner + Supervisor + Metrics,
{
    type SigningScheme = Scheme;
    type Context = Context<Digest, PublicKey>;
    type Block = ConsensusBlock;
    type Input = ();

    fn propose(
        &mut self,
        (context, consensus): (E, Self::Context),
        ancestry: impl Ancestry<Self::Block>,
        _input: (),
    ) -> impl Future<Output = Option<Digested<Self::Block>>> + Send {
        let this = self.clone();
        async move {
            match this.propose_block(context, consensus, ancestry).await {
                Ok(block) => block,
                Err(err) => {
                    tracing::error!(%err, "cannot build a block; skipping the proposal");
                    None
                }
            }
        }
    }

    fn verify(
        &mut self,
        (context, consensus): (E, Self::Context),
        ancestry: impl Ancestry<Self::Block>,
    ) -> impl Future<Output = bool> + Send {
        let this = self.clone();
        async move {
            match this.verify_block(context, consensus, ancestry).await {
                Ok(verdict) => verdict,
                Err(err) => {
                    // Not a verdict on the block: abstain (consensus times the view out).
                    tracing::error!(%err, "cannot verify a block; abstaining");
                    futures::future::pending().await
                }
            }
        }
    }
}

/// Whether an engine error condemns the block (as opposed to a local failure).
fn is_invalid(err: &EngineError) -> bool {
    matches!(
        err,
        EngineError::Execution(
            ExecutionError::Invalid { .. }
                | ExecutionError::Execution { .. }
                | ExecutionError::InvalidSignature { .. }
        ) | EngineError::UnknownParent(_)
    )
}

/// When a child of a block due at `due` (if it says) that reached this node at `arrived` is
/// due: `block_time` after the parent was due, within `[arrived, arrived + block_time]`.
fn due_after(block_time: Duration, due: Option<SystemTime>, arrived: SystemTime) -> SystemTime {
    let latest = arrived + block_time;
    due.map_or(latest, |due| (due + block_time).clamp(arrived, latest))
}

/// `extraData` of a block due at `due`: [`EXTRA_DATA`], then the unix time in ms (big-endian).
fn extra_data_due(due: SystemTime) -> Bytes {
    let ms = due
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let ms = u64::try_from(ms).unwrap_or(u64::MAX);
    [EXTRA_DATA, &ms.to_be_bytes()].concat().into()
}

/// When a block was due, from its `extraData` ([`extra_data_due`]); `None` for any other.
fn due_of(extra_data: &[u8]) -> Option<SystemTime> {
    let ms = extra_data.strip_prefix(EXTRA_DATA)?;
    UNIX_EPOCH.checked_add(Duration::from_millis(u64::from_be_bytes(
        ms.try_into().ok()?,
    )))
}

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn extra_data_carries_the_due_time() {
        let due = at(1_764_000_000_123);
        let extra = extra_data_due(due);
        assert!(extra.len() <= 32);
        assert!(extra.starts_with(EXTRA_DATA));
        assert_eq!(due_of(&extra), Some(due));
        assert_eq!(due_of(EXTRA_DATA), None);
        assert_eq!(due_of(b"forged"), None);
        assert_eq!(due_of(&extra[..extra.len() - 1]), None);
    }

    #[test]
    fn children_keep_the_cadence_within_a_window_after_arrival() {
        let block_time = Duration::from_millis(250);
        let due = |parent: Option<u64>, arrived| due_after(block_time, parent.map(at), at(arrived));
        // On time: 250 ms after the parent was due, however late it arrived within that.
        assert_eq!(due(Some(10_000), 10_030), at(10_250));
        assert_eq!(due(Some(10_000), 10_249), at(10_250));
        // Late (a timed-out view): at once, and the cadence restarts from there.
        assert_eq!(due(Some(10_000), 11_000), at(11_000));
        // A due time far ahead (a wrong clock, a forged hint) waits at most a block time.
        assert_eq!(due(Some(99_000), 10_000), at(10_250));
        // No hint: a block time after arrival.
        assert_eq!(due(None, 10_000), at(10_250));
    }
}
