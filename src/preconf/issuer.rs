//! The issuer: assigns positions first come, first served, signs, persists, then answers; and
//! hands the block builder the promised transactions of a block.
//!
//! # Flow
//!
//! [`Preconfer::send`] validates the transaction through the pool (same errors as
//! `eth_sendRawTransaction`), then queues it for the issuer task. The task takes everything
//! queued (up to [`MAX_BATCH`]) as one *batch*. Under the state lock (briefly) it assigns
//! positions in arrival order and records them as promises the block builder honours; then,
//! without the lock, it signs each preconfirmation with ed25519 and the batch's Merkle root with
//! ML-DSA-65 and hands the batch to the store's logger, which answers once the batch's log record
//! is synced. The next batch is signed while one syncs, and batches signed during a sync are
//! logged together with the next one; while a batch is signed the next one queues. So batches
//! grow with load, and RPC calls and the block builder never wait for a signature or an fsync.
//!
//! A position is promised to the builder before the batch is durable. If the node dies in
//! between, the block may hold the transaction at that position although no preconfirmation was
//! returned, which breaks nothing. If the store cannot be written, the issuer stops: that batch
//! and every later request get the store error (the positions already handed to the builder are
//! not reused, so no later promise can point at a wrong index).
//!
//! Between entering the pool and being promised, a transaction is *in flight*: the block builder
//! takes none of its sender's pool transactions, or a block sealed in that gap could include it
//! at a position other than the one promised a moment later.
//!
//! # Positions
//!
//! The open block starts at `head + 1`. Each promised transaction reserves its gas limit; when the
//! next one would push the reserved gas past the block gas limit the open block moves to the next
//! number. [`Preconfer::transactions_for_block`] *closes* a block: afterwards no position in it
//! is issued, so the builder and the issuer never race (both hold the same lock).
//!
//! # Nonces
//!
//! The builder puts a block's promised transactions first, in promised order. A transaction is
//! therefore preconfirmed only if its nonce is the sender's next one after the chain state and
//! the sender's earlier preconfirmed transactions; otherwise (an earlier nonce waits in the pool
//! unpromised) it is refused and removed from the pool again.
//!
//! # Invariants
//!
//! - Every preconfirmation returned is in the store; every stored promise for a block above the
//!   head is in `promised` (rebuilt from the store on start) and given to the builder; batches are
//!   stored in the order their positions were assigned.
//! - Positions of one block are gapless from 0 and hash-chained through `parent_hash`.
//!
//! # Assumptions
//!
//! - One issuer per chain (one node; with BFT, the leader). Balance is checked per transaction
//!   by the pool, not cumulatively: a sender that cannot pay all its promised transactions makes
//!   the builder reject one, and its promise (and those after it in the block) are then reported
//!   `violated` — visible, never silent.

use super::{
    error::{PreconfError, Result},
    keys::IssuerKeys,
    merkle::Keccak256,
    store::{OnLogged, PreconfStore, StoredBatch, StoredPreconf},
    types::{BatchProof, Preconfirmation, SignedPreconfirmation, batch_message},
};
use crate::{engine::Engine, txpool::TxPool};
use alloy_consensus::{
    Transaction, TxEnvelope,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::Decodable2718;
use alloy_primitives::{
    Address, B256, Bytes, U64,
    map::{HashMap, HashSet},
};
use ed25519_dalek::Signer;
use pqcrypto_mldsa::mldsa65;
use pqcrypto_traits::sign::DetachedSignature as _;
use rs_merkle::MerkleTree;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Most preconfirmations in one batch (one ML-DSA signature, one fsync): bounds the latency a
/// burst adds to the last request of a batch.
pub const MAX_BATCH: usize = 512;
/// Queued requests before `hb_sendPreconfTransaction` callers wait for room.
const QUEUE_CAPACITY: usize = 8192;
/// Buffered preconfirmations per WS subscriber.
const EVENTS_CAPACITY: usize = 4096;

/// Issuer settings.
#[derive(Debug, Clone)]
pub struct PreconfConfig {
    /// How long a promise stays valid if its block is not sealed.
    pub ttl: Duration,
    /// Test-only fault injection: withhold every block's promised transactions (honoured only in
    /// debug builds).
    pub break_promises: bool,
    /// One of several validators that take turns leading: positions are issued only in the
    /// block this node will propose next ([`Preconfer::open_window`]). Otherwise (a single
    /// validator) every future block is this node's and positions run on from block to block.
    pub rotating: bool,
    /// While rotating: how long a window stays open if this node does not build its block (its
    /// view timed out, it is partitioned, it waits for DA): past that, nothing more is promised.
    pub window_ttl: Duration,
}

/// The block a rotating issuer may promise positions in.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// The block this node proposes next.
    block: u64,
    /// Its parent (a pending block, maybe): nonces are checked against the state after it.
    parent: B256,
    /// When it stops issuing although the block was not built.
    until: std::time::Instant,
}

/// One promised transaction of an unsealed block.
#[derive(Debug, Clone)]
struct Promise {
    tx: Recovered<TxEnvelope>,
}

/// Where the next position goes.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    block: u64,
    index: u32,
    gas: u64,
    last_hash: B256,
}

impl Cursor {
    const fn fresh(block: u64) -> Self {
        Self {
            block,
            index: 0,
            gas: 0,
            last_hash: B256::ZERO,
        }
    }
}

#[derive(Debug)]
struct State {
    cursor: Cursor,
    /// Highest block handed to the builder; no position at or below it is issued any more.
    closed_through: u64,
    /// Promised transactions of unsealed blocks, in promised order.
    promised: BTreeMap<u64, Vec<Promise>>,
    /// Next nonce per sender after its preconfirmed transactions.
    next_nonce: HashMap<Address, u64>,
    next_batch: u64,
    /// Why issuing stopped (the store could not be written), if it did.
    failed: Option<String>,
    /// Whether this node issues only while it leads ([`PreconfConfig::rotating`]).
    rotating: bool,
    /// While rotating: the open window, if this node leads the next block.
    window: Option<Window>,
}

impl State {
    fn issuing(&self) -> bool {
        !self.rotating || self.open_window().is_some()
    }

    /// The window, unless it expired.
    fn open_window(&self) -> Option<Window> {
        self.window.filter(|w| std::time::Instant::now() < w.until)
    }
}

struct Request {
    tx: Recovered<TxEnvelope>,
    /// The transaction was in the pool before this request (gossip, on a network): a refusal
    /// leaves it there.
    pooled: bool,
    raw: Bytes,
    arrival_ms: u64,
    reply: oneshot::Sender<Result<SignedPreconfirmation>>,
}

struct Inner {
    chain_id: u64,
    keys: IssuerKeys,
    store: Arc<PreconfStore>,
    engine: Engine,
    pool: TxPool,
    config: PreconfConfig,
    state: Mutex<State>,
    /// Transactions admitted to the pool for a preconfirmation that the issuer has not yet
    /// promised or refused, with their senders. The builder leaves these senders' transactions
    /// alone meanwhile: a block taking such a transaction from the pool before its position is
    /// assigned would break the promise made a moment later. Its own lock, taken after `state`
    /// when both are needed, so `send` never waits for a batch.
    in_flight: Mutex<HashMap<B256, Address>>,
    queue: mpsc::Sender<Request>,
    events: broadcast::Sender<Arc<SignedPreconfirmation>>,
}

/// Handle to the issuer. Cloning is cheap.
#[derive(Clone)]
pub struct Preconfer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Preconfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preconfer")
            .field("chain_id", &self.inner.chain_id)
            .finish_non_exhaustive()
    }
}

/// The issuer task: run it (supervised) for [`Preconfer::send`] to make progress.
pub struct IssuerTask {
    preconfer: Preconfer,
    queue: mpsc::Receiver<Request>,
}

impl std::fmt::Debug for IssuerTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerTask").finish_non_exhaustive()
    }
}

/// A pool rejection as the preconfirmation error carrying its JSON-RPC code and message.
pub(super) fn pool_error(e: crate::txpool::PoolError) -> PreconfError {
    PreconfError::Pool {
        code: e.code(),
        message: e.to_string(),
    }
}

/// Decodes `raw` and recovers its sender through the pool's checks; `None` when the pool
/// already holds it (whether that may still be promised is the issuer's call).
pub(super) fn recover_for_pool(pool: &TxPool, raw: &[u8]) -> Result<Option<Recovered<TxEnvelope>>> {
    match pool.recover_raw(raw) {
        Ok(tx) => Ok(Some(tx)),
        Err(crate::txpool::PoolError::AlreadyKnown) => Ok(None),
        Err(error) => Err(pool_error(error)),
    }
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn recover(raw: &[u8]) -> Result<Recovered<TxEnvelope>> {
    let tx = TxEnvelope::decode_2718(&mut &raw[..])
        .map_err(|e| PreconfError::Store(format!("stored transaction does not decode: {e}")))?;
    tx.try_into_recovered()
        .map_err(|e| PreconfError::Store(format!("stored transaction signature: {e}")))
}

impl Preconfer {
    /// Opens the issuer over `store`, reloading the promises of blocks above the head (and
    /// putting their transactions back in the pool, which a SIGKILL may have lost).
    pub fn new(
        keys: IssuerKeys,
        store: PreconfStore,
        engine: Engine,
        pool: TxPool,
        config: PreconfConfig,
    ) -> Result<(Self, IssuerTask)> {
        let head = engine
            .head()
            .map_err(|e| PreconfError::Store(e.to_string()))?
            .number;
        // Blocks a builder took before a crash may be finalized with what they held then.
        let closed_through = store.closed_through()?.unwrap_or(0).max(head);
        let mut state = State {
            cursor: Cursor::fresh(closed_through + 1),
            closed_through,
            promised: BTreeMap::new(),
            next_nonce: HashMap::default(),
            next_batch: store.next_batch_id()?,
            failed: None,
            rotating: config.rotating,
            window: None,
        };
        let provider = engine.db().provider()?;
        let reloaded = store.promised_from(head + 1)?;
        for stored in &reloaded {
            let tx = recover(&stored.raw)?;
            let signed = &stored.signed;
            let block = signed.block_number.to::<u64>();
            if state.cursor.block != block {
                state.cursor = Cursor::fresh(block);
            }
            state.cursor.index = signed.tx_index.to::<u32>() + 1;
            state.cursor.gas += tx.gas_limit();
            state.cursor.last_hash = signed.hash;
            state.next_nonce.insert(tx.signer(), tx.nonce() + 1);
            if let Err(error) = pool.add_transaction(tx.clone(), &provider)
                && error.is_internal()
            {
                return Err(PreconfError::Store(error.to_string()));
            }
            state
                .promised
                .entry(block)
                .or_default()
                .push(Promise { tx });
        }
        drop(provider);
        if !reloaded.is_empty() {
            tracing::info!(
                promises = reloaded.len(),
                "reloaded preconfirmations of unsealed blocks"
            );
        }
        let (queue, requests) = mpsc::channel(QUEUE_CAPACITY);
        let (events, _) = broadcast::channel(EVENTS_CAPACITY);
        let preconfer = Self {
            inner: Arc::new(Inner {
                chain_id: engine.spec().chain_id,
                keys,
                store: Arc::new(store),
                engine,
                pool,
                config,
                state: Mutex::new(state),
                in_flight: Mutex::default(),
                queue,
                events,
            }),
        };
        let task = IssuerTask {
            preconfer: preconfer.clone(),
            queue: requests,
        };
        Ok((preconfer, task))
    }

    /// The issuer's keys.
    pub fn keys(&self) -> &IssuerKeys {
        &self.inner.keys
    }

    /// Reads of this node's preconfirmations (issued here or forwarded) against the chain.
    pub fn reader(&self) -> super::status::PreconfReader {
        super::status::PreconfReader::new(self.inner.engine.clone(), self.inner.store.clone())
    }

    /// The engine the issuer follows.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    /// Preconfirmations as they are issued (`hb_subscribe("preconfirmations")`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SignedPreconfirmation>> {
        self.inner.events.subscribe()
    }

    /// Validates `raw` through the pool, then issues, persists and returns its preconfirmation.
    pub async fn send(&self, raw: Bytes) -> Result<SignedPreconfirmation> {
        // Asked again (a retry after a lost answer): the promise already made.
        if let Some((signed, _)) = self.inner.store.get(alloy_primitives::keccak256(&raw))? {
            return Ok(signed);
        }
        let recovered = recover_for_pool(&self.inner.pool, &raw)?;
        self.send_recovered(raw, recovered).await
    }

    /// [`Self::send`] after the store was asked and the sender recovered (the forwarder does
    /// both before it knows where the request goes); `None`: the pool already holds it.
    pub(crate) async fn send_recovered(
        &self,
        raw: Bytes,
        recovered: Option<Recovered<TxEnvelope>>,
    ) -> Result<SignedPreconfirmation> {
        let arrival_ms = now_ms();
        let pool = &self.inner.pool;
        let rotating = self.inner.config.rotating;
        let (tx, mut pooled) = match recovered {
            Some(tx) => (tx, false),
            // On a network gossip may bring a transaction here before its request: an earlier
            // issuer took it into its pool, then refused it as its turn ended. It can still be
            // promised; the nonce check refuses it if a block already holds it.
            None => {
                match rotating
                    .then(|| pool.get(&alloy_primitives::keccak256(&raw)))
                    .flatten()
                {
                    Some(tx) => (tx, true),
                    None => return Err(pool_error(crate::txpool::PoolError::AlreadyKnown)),
                }
            }
        };
        let hash = *tx.tx_hash();
        {
            let state = self.state();
            if let Some(reason) = state.failed.clone().or_else(|| self.inner.store.failed()) {
                return Err(PreconfError::Store(reason));
            }
            // Before the pool: a refused request goes to the next issuer, which must not find
            // it already known.
            if !state.issuing() {
                return Err(PreconfError::NotIssuing);
            }
        }
        // Reserved before it enters the pool, so no block takes it ahead of its promise.
        self.in_flight().insert(hash, tx.signer());
        let added = if pooled {
            Ok(())
        } else {
            match self.inner.engine.db().provider() {
                Ok(provider) => match pool.add_transaction(tx.clone(), &provider) {
                    Ok(_) => Ok(()),
                    // Gossip brought it in since it was recovered: as above.
                    Err(crate::txpool::PoolError::AlreadyKnown) if rotating => {
                        pooled = true;
                        Ok(())
                    }
                    Err(error) => Err(pool_error(error)),
                },
                Err(error) => Err(error.into()),
            }
        };
        if let Err(error) = added {
            self.in_flight().remove(&hash);
            return Err(error);
        }
        let (reply, answer) = oneshot::channel();
        let request = Request {
            tx,
            pooled,
            raw,
            arrival_ms,
            reply,
        };
        if self.inner.queue.send(request).await.is_err() {
            self.in_flight().remove(&hash);
            if !pooled {
                pool.remove(&[hash]);
            }
            return Err(PreconfError::Stopped);
        }
        answer.await.map_err(|_| PreconfError::Stopped)?
    }

    /// Opens issuance in block `number`, built on `parent`: this node leads the view that
    /// proposes it (rotating issuers only; a single validator always issues).
    pub fn open_window(&self, number: u64, parent: B256) {
        let mut state = self.state();
        if !state.rotating || number <= state.closed_through {
            return;
        }
        // Reopening the same block (a restart within the view) continues its positions.
        if state.cursor.block != number {
            state.cursor = Cursor::fresh(number);
            // Nonces come from the state after `parent`: a promise of an earlier window whose
            // block another leader built must not shift them.
            state.next_nonce.clear();
        }
        if state.window.is_none_or(|w| w.block != number) {
            tracing::debug!(number, %parent, "issuing preconfirmations for our next block");
        }
        state.window = Some(Window {
            block: number,
            parent,
            until: std::time::Instant::now() + self.inner.config.window_ttl,
        });
    }

    /// Closes issuance: another validator leads the next block (rotating issuers only).
    pub fn close_window(&self) {
        self.state().window = None;
    }

    /// Stores a preconfirmation another validator issued for a request this node forwarded,
    /// and streams it to this node's subscribers.
    pub(crate) fn record_forwarded(
        &self,
        signed: SignedPreconfirmation,
        raw: &Bytes,
    ) -> Result<()> {
        self.inner.store.record_forwarded(&signed, raw)?;
        let _ = self.inner.events.send(Arc::new(signed));
        Ok(())
    }

    /// The transactions of block `number`, in order: the promised ones in promised order, then
    /// the pool's executable ones first come, first served (at most `max` in all). Closes the
    /// block for new promises. Block builders (dev producer, consensus propose) call this.
    pub fn transactions_for_block(&self, number: u64, max: usize) -> Vec<Recovered<TxEnvelope>> {
        self.candidates(number, max, true)
    }

    /// The transactions block `number` would get now ([`Self::transactions_for_block`]) without
    /// closing it for new promises: the RPC's `pending` block.
    pub fn preview_transactions(&self, number: u64, max: usize) -> Vec<Recovered<TxEnvelope>> {
        self.candidates(number, max, false)
    }

    fn candidates(&self, number: u64, max: usize, close: bool) -> Vec<Recovered<TxEnvelope>> {
        // The pool first, the promises and in-flight set after: a preconfirmation request enters
        // the in-flight set before the pool, so every transaction in this snapshot that is not
        // promised yet is in flight when the set is read below, and its sender is left out.
        // (Read the other way round, a request arriving in between was taken into this block
        // and then promised a position in the next one.)
        let pool = self.inner.pool.best_transactions(max);
        let (promised, excluded, later_senders, newly_closed) = {
            let mut state = self.state();
            let newly_closed = close && number > state.closed_through;
            if close {
                // A rotating issuer's turn ends with its proposal.
                state.window = None;
                state.closed_through = state.closed_through.max(number);
                if state.cursor.block <= number {
                    state.cursor = Cursor::fresh(number + 1);
                }
                // Promises of earlier blocks are settled (kept or violated) in the chain.
                state.promised = state.promised.split_off(&number);
            }
            let promised: Vec<_> = state
                .promised
                .get(&number)
                .map(|p| p.iter().map(|p| p.tx.clone()).collect())
                .unwrap_or_default();
            let excluded: HashSet<B256> = state
                .promised
                .range(number..)
                .flat_map(|(_, promised)| promised)
                .map(|p| *p.tx.tx_hash())
                .collect();
            let later_senders: HashSet<Address> = state
                .promised
                .range(number + 1..)
                .flat_map(|(_, p)| p.iter().map(|p| p.tx.signer()))
                .chain(self.in_flight().values().copied())
                .collect();
            (promised, excluded, later_senders, newly_closed)
        };
        // Durable before the builder gets the block's transactions: after a crash, no position
        // in a block this node may have proposed is promised again.
        if newly_closed && let Err(error) = self.inner.store.record_closed(number) {
            tracing::error!(%error, "cannot store the closed block; issuing stops");
            self.state().failed = Some(error.to_string());
        }
        let rest = pool
            .into_iter()
            .filter(|tx| !excluded.contains(tx.tx_hash()) && !later_senders.contains(&tx.signer()));
        if cfg!(debug_assertions)
            && close
            && self.inner.config.break_promises
            && !promised.is_empty()
        {
            tracing::warn!(
                number,
                withheld = promised.len(),
                "fault injection: breaking this block's preconfirmations"
            );
            return rest.take(max).collect();
        }
        promised.into_iter().chain(rest).take(max).collect()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn in_flight(&self) -> MutexGuard<'_, HashMap<B256, Address>> {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Assigns and signs one batch (blocking), and hands it to the store's logger, which
    /// answers its requests once it is durable; refusals are answered at once.
    fn issue(&self, requests: Vec<Request>) {
        let started = std::time::Instant::now();
        let mut state = self.state();
        // Promised or refused before the lock is released.
        {
            let mut in_flight = self.in_flight();
            for request in &requests {
                in_flight.remove(request.tx.tx_hash());
            }
        }
        // A refused request's transaction leaves the pool unless it was there before.
        let pooled: HashSet<B256> = requests
            .iter()
            .filter(|r| r.pooled)
            .map(|r| *r.tx.tx_hash())
            .collect();
        let unpool = |mut hashes: Vec<B256>| {
            hashes.retain(|hash| !pooled.contains(hash));
            if !hashes.is_empty() {
                self.inner.pool.remove(&hashes);
            }
        };
        if let Some(reason) = state.failed.clone() {
            drop(state);
            unpool(requests.iter().map(|r| *r.tx.tx_hash()).collect());
            for request in requests {
                let _ = request.reply.send(Err(PreconfError::Store(reason.clone())));
            }
            return;
        }
        let Assigned {
            answers,
            mut refused,
            issued,
            batch_id,
        } = self.assign(&mut state, requests);
        // A copy of a request already promised (a retry that raced it) keeps it in the pool.
        if !refused.is_empty() {
            let promised: HashSet<B256> = state
                .promised
                .values()
                .flatten()
                .map(|p| *p.tx.tx_hash())
                .collect();
            refused.retain(|hash| !promised.contains(hash));
        }
        drop(state);
        unpool(refused);
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
        if issued.is_empty() {
            return;
        }
        let (batch, stored) = self.sign(batch_id, &issued);
        let unpool_on_failure: Vec<B256> = issued
            .iter()
            .map(|(r, _)| *r.tx.tx_hash())
            .filter(|hash| !pooled.contains(hash))
            .collect();
        let replies: Vec<_> = issued.into_iter().map(|(r, _)| r.reply).collect();
        let preconfer = self.clone();
        let done: OnLogged = Box::new(move |logged| match logged {
            Ok((batch, stored)) => {
                for (reply, stored) in replies.into_iter().zip(stored) {
                    let signed = batch.complete(stored.signed.clone());
                    // No subscriber is not an error.
                    let _ = preconfer.inner.events.send(Arc::new(signed.clone()));
                    let _ = reply.send(Ok(signed));
                }
                metrics::histogram!("hauptbuch_preconf_batch_seconds").record(started.elapsed());
            }
            Err(error) => {
                tracing::error!(%error, "cannot store preconfirmations; issuing stops");
                preconfer.state().failed = Some(error.to_string());
                if !unpool_on_failure.is_empty() {
                    preconfer.inner.pool.remove(&unpool_on_failure);
                }
                for reply in replies {
                    let _ = reply.send(Err(PreconfError::Store(error.to_string())));
                }
            }
        });
        self.inner.store.log_batch(batch_id, batch, stored, done);
    }

    /// Assigns positions to `requests` in arrival order (or refuses them) and promises them to
    /// the builder. Runs under the state lock; no signing, no I/O but account reads.
    fn assign(&self, state: &mut State, requests: Vec<Request>) -> Assigned {
        let inner = &self.inner;
        let mut answers = Vec::with_capacity(requests.len());
        // Read before the state snapshot (see `Engine::pending_nonces`).
        let pending_nonces = match state.window {
            Some(window) if state.rotating => inner.engine.pending_nonces(window.parent),
            _ => HashMap::default(),
        };
        let (head, provider) = match inner
            .engine
            .head()
            .map_err(|e| PreconfError::Store(e.to_string()))
            .and_then(|h| Ok((h, inner.engine.db().provider()?)))
        {
            Ok(x) => x,
            Err(e) => {
                let refused = requests.iter().map(|r| *r.tx.tx_hash()).collect();
                for request in requests {
                    answers.push((request.reply, Err(PreconfError::Store(e.to_string()))));
                }
                return Assigned {
                    answers,
                    refused,
                    issued: Vec::new(),
                    batch_id: state.next_batch,
                };
            }
        };
        let floor = state.closed_through.max(head.number) + 1;
        if state.rotating && state.open_window().is_none_or(|w| w.block < floor) {
            state.window = None;
        }
        let window = state.window.map(|w| w.block);
        if state.rotating && window.is_none() {
            let refused = requests.iter().map(|r| *r.tx.tx_hash()).collect();
            for request in requests {
                answers.push((request.reply, Err(PreconfError::NotIssuing)));
            }
            return Assigned {
                answers,
                refused,
                issued: Vec::new(),
                batch_id: state.next_batch,
            };
        }
        if state.cursor.block < floor {
            state.cursor = Cursor::fresh(floor);
        }
        let mut refused = Vec::new();
        let mut issued: Vec<(Request, Preconfirmation)> = Vec::with_capacity(requests.len());
        let ed25519_key = inner.keys.ed25519.verifying_key().to_bytes();
        let ml_dsa_key_hash = inner.keys.ml_dsa_key_hash();
        for request in requests {
            let sender = request.tx.signer();
            let on_chain = match provider.account(sender) {
                Ok(account) => account
                    .map_or(0, |a| a.nonce)
                    .max(pending_nonces.get(&sender).copied().unwrap_or(0)),
                Err(e) => {
                    let error = PreconfError::Store(e.to_string());
                    refused.push(*request.tx.tx_hash());
                    answers.push((request.reply, Err(error)));
                    continue;
                }
            };
            let expected = state
                .next_nonce
                .get(&sender)
                .copied()
                .unwrap_or(0)
                .max(on_chain);
            let nonce = request.tx.nonce();
            if nonce != expected {
                refused.push(*request.tx.tx_hash());
                let error = PreconfError::Refused(format!(
                    "nonce {nonce} of {sender} is not next after its mined and preconfirmed \
                     transactions (expected {expected}); preconfirm the earlier nonces first"
                ));
                answers.push((request.reply, Err(error)));
                continue;
            }
            let gas = request.tx.gas_limit();
            let cursor = &mut state.cursor;
            if cursor.index > 0 && cursor.gas.saturating_add(gas) > head.gas_limit {
                if window.is_some() {
                    // The next block is another leader's.
                    refused.push(*request.tx.tx_hash());
                    answers.push((request.reply, Err(PreconfError::NotIssuing)));
                    continue;
                }
                *cursor = Cursor::fresh(cursor.block + 1);
            }
            let preconf = Preconfirmation {
                chain_id: inner.chain_id,
                tx_hash: *request.tx.tx_hash(),
                block_number: cursor.block,
                tx_index: cursor.index,
                arrival_ms: request.arrival_ms,
                expiry_ms: request
                    .arrival_ms
                    .saturating_add(inner.config.ttl.as_millis() as u64),
                parent_hash: cursor.last_hash,
                ed25519_key,
                ml_dsa_key_hash,
            };
            cursor.index += 1;
            cursor.gas += gas;
            cursor.last_hash = preconf.hash();
            state.next_nonce.insert(sender, nonce + 1);
            state
                .promised
                .entry(preconf.block_number)
                .or_default()
                .push(Promise {
                    tx: request.tx.clone(),
                });
            issued.push((request, preconf));
        }
        let batch_id = state.next_batch;
        if !issued.is_empty() {
            state.next_batch += 1;
        }
        Assigned {
            answers,
            refused,
            issued,
            batch_id,
        }
    }

    /// Signs batch `batch_id`: ed25519 per preconfirmation, ML-DSA-65 over the Merkle root.
    /// Runs without the lock.
    fn sign(
        &self,
        batch_id: u64,
        issued: &[(Request, Preconfirmation)],
    ) -> (StoredBatch, Vec<StoredPreconf>) {
        let inner = &self.inner;
        let leaves: Vec<[u8; 32]> = issued.iter().map(|(_, p)| p.hash().0).collect();
        let tree = MerkleTree::<Keccak256>::from_leaves(&leaves);
        let root = B256::from(tree.root().unwrap_or_default());
        let leaf_count = leaves.len() as u32;
        let message = batch_message(inner.chain_id, batch_id, leaf_count, root);
        let started = std::time::Instant::now();
        let signature = mldsa65::detached_sign(&message, &inner.keys.ml_dsa_secret);
        metrics::histogram!("hauptbuch_preconf_batch_sign_seconds").record(started.elapsed());
        let public = inner.keys.public();
        let batch = StoredBatch {
            signature: Bytes::copy_from_slice(signature.as_bytes()),
            ml_dsa65: public.ml_dsa65.clone(),
        };
        let stored: Vec<StoredPreconf> = issued
            .iter()
            .enumerate()
            .map(|(i, (request, p))| StoredPreconf {
                signed: SignedPreconfirmation {
                    chain_id: U64::from(p.chain_id),
                    tx_hash: p.tx_hash,
                    block_number: U64::from(p.block_number),
                    tx_index: U64::from(p.tx_index),
                    arrival_ms: U64::from(p.arrival_ms),
                    expiry_ms: U64::from(p.expiry_ms),
                    parent_hash: p.parent_hash,
                    hash: B256::from(leaves[i]),
                    issuer: super::types::IssuerKeysJson {
                        ed25519: public.ed25519,
                        ml_dsa65: Bytes::new(),
                    },
                    signature: Bytes::copy_from_slice(
                        &inner.keys.ed25519.sign(&p.encode()).to_bytes(),
                    ),
                    batch: BatchProof {
                        id: U64::from(batch_id),
                        root,
                        leaf_count: U64::from(leaf_count),
                        leaf_index: U64::from(i),
                        proof: tree
                            .proof(&[i])
                            .proof_hashes()
                            .iter()
                            .copied()
                            .map(B256::from)
                            .collect(),
                        signature: Bytes::new(),
                    },
                },
                raw: request.raw.clone(),
            })
            .collect();
        (batch, stored)
    }
}

/// One batch after assignment.
struct Assigned {
    /// Answers already decided (refusals).
    answers: Vec<(
        oneshot::Sender<Result<SignedPreconfirmation>>,
        Result<SignedPreconfirmation>,
    )>,
    /// Transactions refused (to remove from the pool).
    refused: Vec<B256>,
    /// Requests given a position, with it.
    issued: Vec<(Request, Preconfirmation)>,
    /// The batch id, when anything was issued.
    batch_id: u64,
}

impl IssuerTask {
    /// Issues batches until cancelled.
    pub async fn run(mut self, cancel: CancellationToken) -> eyre::Result<()> {
        loop {
            let first = tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                request = self.queue.recv() => match request {
                    Some(request) => request,
                    None => return Ok(()),
                },
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.queue.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let preconfer = self.preconfer.clone();
            metrics::histogram!("hauptbuch_preconf_batch_size").record(batch.len() as f64);
            // Returns once the batch is signed: the next one is signed while this one syncs.
            tokio::task::spawn_blocking(move || preconfer.issue(batch)).await?;
        }
    }
}
