//! Preconfirmations on a validator network: the validator that leads the view proposing the
//! next block issues them, every other validator forwards requests to it over p2p.
//!
//! # Who issues
//!
//! Leaders rotate round-robin, so the leader of view `v + 1` is known as soon as view `v`'s
//! proposal is: consensus publishes a [`Route`] (block `h + 1` of view `v + 1` is led by `L`)
//! when this node verifies or proposes view `v`'s block `h`. `L` opens issuance for `h + 1`
//! ([`Preconfer::open_window`]) and closes it when it builds that block; the others send
//! requests to `L`. Between `L`'s build and the next proposal's verification nobody issues, and
//! requests wait for the next route (at most [`Forwarder`]'s wait).
//!
//! # Protocol (channel [`crate::consensus::channels::PRECONF`])
//!
//! ```text
//! request: 0x00 | id u64 | EIP-2718 transaction
//! reply:   0x01 | id u64 | kind u8 | body
//!          kind 0: the preconfirmation (JSON)   kind 1: pool error: code i32 | message
//!          kind 2: refused: message            kind 3: not issuing (ask the next issuer)
//!          kind 4: failed: message             kind 5: no issuer within the wait: message
//! ```
//!
//! A forwarded preconfirmation is checked before it is answered (both signatures, its
//! transaction, and that its keys are the chainspec's keys of the leader asked, for its block; a
//! full node, which sees no views, checks that they are some validator's and that the block is
//! just ahead of its chain) and recorded in this node's store, so `hb_getPreconfirmation` and `hb_preconfStatus` answer on
//! the node the wallet talks to.
//!
//! # Assumptions
//!
//! - The next leader's proposal builds on the block whose verification opened its window. If
//!   that view is nullified instead, the leader proposes another height and its promises for
//!   `h + 1` are broken: the node reports them `violated`, never silently.

use super::{PreconfError, Preconfer, Result, SignedPreconfirmation, status::PreconfReader};
use crate::{
    consensus::{PublicKey, ValidatorSet},
    txpool::{CODE_INTERNAL, CODE_INVALID_TX, TxPool},
};
use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_primitives::{Bytes, keccak256, map::HashMap};
use commonware_p2p::{Receiver, Recipients, Sender};
use std::{sync::Arc, time::Duration};
use tokio::sync::{mpsc, oneshot, watch};

/// How long a request waits for an issuer (views that time out, an unreachable leader).
pub const ISSUER_WAIT: Duration = Duration::from_secs(5);
/// How long a forwarded request waits for the issuer's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause before asking again when the issuer was not (yet) issuing and no newer route came;
/// doubled on each retry up to [`MAX_RETRY_AFTER`].
const RETRY_AFTER: Duration = Duration::from_millis(20);
const MAX_RETRY_AFTER: Duration = Duration::from_millis(200);
/// Full nodes' requests relayed at once (each may wait [`ISSUER_WAIT`] for a leader).
const MAX_RELAYING: usize = 64;
/// How far ahead of a full node's head a relayed promise may be (it cannot check the leader).
const MAX_BLOCKS_AHEAD: u64 = 64;
/// Latest expiry a relayed promise may carry, from now.
const MAX_EXPIRY: Duration = Duration::from_secs(3600);
/// Requests waiting to be sent.
const OUTBOUND_CAPACITY: usize = 4096;
/// Peers' requests being answered at once; more wait in the channel (bounded by its quota).
const MAX_SERVING: usize = 1024;
/// Largest message accepted: a request is a transaction (the pool's limit is 128 KiB), a reply
/// a preconfirmation (about 11 KiB of JSON) or an error message.
const MAX_MESSAGE: usize = 256 * 1024;

const REQUEST: u8 = 0;
const REPLY: u8 = 1;

/// Which validator issues the preconfirmations of the next block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The view whose proposal this route follows.
    pub view: u64,
    /// The next block.
    pub block: u64,
    /// The leader of the view proposing it.
    pub issuer: PublicKey,
}

/// The latest [`Route`], published by consensus and read by the [`Forwarder`].
#[derive(Debug, Clone)]
pub struct Routes {
    latest: Arc<watch::Sender<Option<Route>>>,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            latest: Arc::new(watch::channel(None).0),
        }
    }
}

impl Routes {
    /// Records `route` if it follows a later view than the current one; returns whether it did.
    pub fn publish(&self, route: Route) -> bool {
        self.latest.send_if_modified(|current| {
            if current.as_ref().is_some_and(|c| c.view >= route.view) {
                return false;
            }
            *current = Some(route);
            true
        })
    }

    /// The latest route, and its changes.
    pub fn subscribe(&self) -> watch::Receiver<Option<Route>> {
        self.latest.subscribe()
    }
}

/// The issuer's answer to a forwarded request.
#[derive(Debug)]
enum Reply {
    Issued(Box<SignedPreconfirmation>),
    Pool { code: i32, message: String },
    Refused(String),
    NotIssuing,
    Failed(String),
    Unavailable(String),
}

impl Reply {
    fn of(result: Result<SignedPreconfirmation>) -> Self {
        match result {
            Ok(signed) => Self::Issued(Box::new(signed)),
            Err(PreconfError::Pool { code, message }) => Self::Pool { code, message },
            Err(PreconfError::Refused(reason)) => Self::Refused(reason),
            // A stopping issuer is not issuing: the request goes on to the next one.
            Err(PreconfError::NotIssuing | PreconfError::Stopped) => Self::NotIssuing,
            Err(PreconfError::Unavailable(reason)) => Self::Unavailable(reason),
            Err(other) => Self::Failed(other.to_string()),
        }
    }

    fn encode(&self, id: u64) -> Vec<u8> {
        let mut out = vec![REPLY];
        out.extend_from_slice(&id.to_be_bytes());
        match self {
            Self::Issued(signed) => {
                out.push(0);
                out.extend(serde_json::to_vec(signed).unwrap_or_default());
            }
            Self::Pool { code, message } => {
                out.push(1);
                out.extend_from_slice(&code.to_be_bytes());
                out.extend_from_slice(message.as_bytes());
            }
            Self::Refused(message) => {
                out.push(2);
                out.extend_from_slice(message.as_bytes());
            }
            Self::NotIssuing => out.push(3),
            Self::Failed(message) => {
                out.push(4);
                out.extend_from_slice(message.as_bytes());
            }
            Self::Unavailable(message) => {
                out.push(5);
                out.extend_from_slice(message.as_bytes());
            }
        }
        out
    }

    fn decode(body: &[u8]) -> Option<Self> {
        let (&kind, rest) = body.split_first()?;
        let text = || String::from_utf8_lossy(rest).into_owned();
        Some(match kind {
            0 => Self::Issued(Box::new(serde_json::from_slice(rest).ok()?)),
            1 => {
                let (code, message) = rest.split_first_chunk::<4>()?;
                Self::Pool {
                    code: i32::from_be_bytes(*code),
                    message: String::from_utf8_lossy(message).into_owned(),
                }
            }
            2 => Self::Refused(text()),
            3 => Self::NotIssuing,
            4 => Self::Failed(text()),
            5 => Self::Unavailable(text()),
            _ => return None,
        })
    }
}

/// A message on the preconfirmation channel: its tag, id and body (not parsed yet, so that an
/// unsolicited reply costs no parsing).
fn split_message(bytes: &[u8]) -> Option<(u8, u64, &[u8])> {
    if bytes.len() > MAX_MESSAGE {
        return None;
    }
    let (&tag, rest) = bytes.split_first()?;
    let (id, body) = rest.split_first_chunk::<8>()?;
    matches!(tag, REQUEST | REPLY).then(|| (tag, u64::from_be_bytes(*id), body))
}

fn encode_request(id: u64, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + raw.len());
    out.push(REQUEST);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(raw);
    out
}

/// A request for the network task to send.
struct Outbound {
    peer: PublicKey,
    raw: Bytes,
    reply: oneshot::Sender<Reply>,
}

/// Sends preconfirmation requests to whoever issues now: on a validator, its own issuer while it
/// leads, the leading validator otherwise; on a full node (which sees no views), a validator,
/// which relays the request to the leader. Cloning is cheap.
#[derive(Clone)]
pub struct Forwarder {
    me: PublicKey,
    /// This validator's issuer (`None` on a full node).
    local: Option<Preconfer>,
    /// Where answers are recorded and read back.
    reader: PreconfReader,
    chain_id: u64,
    pool: TxPool,
    validators: Arc<ValidatorSet>,
    /// The next block's issuer (validators); `None` on a full node, which relays.
    routes: Option<Routes>,
    /// Which validator a full node asks next.
    next_relay: Arc<std::sync::atomic::AtomicUsize>,
    outbound: mpsc::Sender<Outbound>,
    wait: Duration,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

/// The forwarder's p2p half: run it with [`ForwarderTask::run`] on the preconfirmation channel.
pub struct ForwarderTask {
    /// This node's issuer; `None` on a validator that does not issue (`--preconf.disable`),
    /// which answers every request "not issuing".
    local: Option<Preconfer>,
    /// Validators' requests are served by `local`; others' (full nodes') relayed through this.
    relay: Option<Forwarder>,
    validators: Arc<ValidatorSet>,
    outbound: mpsc::Receiver<Outbound>,
}

impl std::fmt::Debug for ForwarderTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwarderTask").finish_non_exhaustive()
    }
}

impl Forwarder {
    /// A forwarder for validator `me`, whose own issuer is `local`.
    pub fn new(
        me: PublicKey,
        local: Preconfer,
        pool: TxPool,
        validators: Arc<ValidatorSet>,
        routes: Routes,
    ) -> (Self, ForwarderTask) {
        let (outbound, requests) = mpsc::channel(OUTBOUND_CAPACITY);
        let forwarder = Self {
            me,
            reader: local.reader(),
            chain_id: local.chain_id(),
            local: Some(local.clone()),
            pool,
            validators,
            routes: Some(routes),
            next_relay: Arc::default(),
            outbound,
            wait: ISSUER_WAIT,
        };
        let task = ForwarderTask {
            local: Some(local),
            relay: Some(forwarder.clone()),
            validators: forwarder.validators.clone(),
            outbound: requests,
        };
        (forwarder, task)
    }

    /// A forwarder for full node `me`: it asks the validators in turn, which relay to the
    /// leader; answers are recorded in `reader`'s store.
    pub fn follower(
        me: PublicKey,
        reader: PreconfReader,
        chain_id: u64,
        pool: TxPool,
        validators: Arc<ValidatorSet>,
    ) -> (Self, ForwarderTask) {
        let (outbound, requests) = mpsc::channel(OUTBOUND_CAPACITY);
        let forwarder = Self {
            me,
            local: None,
            reader,
            chain_id,
            pool,
            validators: validators.clone(),
            routes: None,
            next_relay: Arc::default(),
            outbound,
            wait: ISSUER_WAIT + REPLY_TIMEOUT,
        };
        let task = ForwarderTask {
            local: None,
            relay: None,
            validators,
            outbound: requests,
        };
        (forwarder, task)
    }

    /// Gets `raw` preconfirmed by the validator issuing now (this one or the leader).
    pub async fn send(&self, raw: Bytes) -> Result<SignedPreconfirmation> {
        // Malformed and unsigned input fails here, without a round trip. A transaction gossip
        // brought here already is the issuer's to judge.
        let recovered = super::issuer::recover_for_pool(&self.pool, &raw)?;
        // Asked again (a retry after a lost answer): the promise already made.
        if let Some((signed, _)) = self.reader.store().get(keccak256(&raw))? {
            return Ok(signed);
        }
        let started = std::time::Instant::now();
        let tx = recovered.clone();
        let result = match &self.routes {
            Some(routes) => self.send_routed(routes, raw, recovered).await,
            None => self.send_relayed(raw).await,
        };
        if result.is_ok()
            && let Some(tx) = tx
        {
            self.pool_promised(tx);
        }
        // What happens to requests on a network, and how long they take (waits for a window
        // included): the gap between leaders' windows shows here.
        let outcome = match &result {
            Ok(_) => "issued",
            Err(PreconfError::Pool { .. }) => "pool_error",
            Err(PreconfError::Refused(_)) => "refused",
            Err(PreconfError::Unavailable(_)) => "unavailable",
            Err(_) => "failed",
        };
        metrics::counter!("hauptbuch_preconf_network_requests_total", "outcome" => outcome)
            .increment(1);
        metrics::histogram!("hauptbuch_preconf_network_request_seconds").record(started.elapsed());
        result
    }

    /// Puts a transaction another validator promised into this node's pool, as its gossip
    /// would a moment later: the node the wallet asked then shows it at once (`pending` nonce
    /// and state, `eth_getTransactionByHash`). Best effort: the promise stands at its issuer.
    fn pool_promised(&self, tx: Recovered<TxEnvelope>) {
        if self.pool.contains(tx.tx_hash()) {
            return;
        }
        let hash = *tx.tx_hash();
        let added = self
            .reader
            .engine()
            .db()
            .provider()
            .map_err(|e| e.to_string())
            .and_then(|state| {
                self.pool
                    .add_transaction(tx, &state)
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = added {
            tracing::debug!(%hash, %error, "a forwarded preconfirmation's transaction stays out of the pool");
        }
    }

    /// A full node: asks the validators in turn until one answers with a preconfirmation or a
    /// refusal (each relays to the leader; one that does not issue says so).
    async fn send_relayed(&self, raw: Bytes) -> Result<SignedPreconfirmation> {
        let keys = self.validators.keys();
        let start = self
            .next_relay
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut last_error = String::new();
        let deadline = tokio::time::Instant::now() + self.wait;
        for attempt in 0..keys.len() {
            let Some(peer) = keys.get((start + attempt) % keys.len()) else {
                break;
            };
            // A relay may wait a whole issuer wait: start one only with time for its answer.
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining < ISSUER_WAIT {
                break;
            }
            match self.forward(peer, None, &raw, remaining).await {
                Err(PreconfError::NotIssuing | PreconfError::Stopped) => {
                    last_error = format!("validator {peer} did not relay the request");
                }
                Err(PreconfError::Unavailable(reason)) => last_error = reason,
                other => return other,
            }
        }
        Err(PreconfError::Unavailable(format!(
            "no validator relayed the request ({last_error})"
        )))
    }

    /// A validator: sends to whoever leads the next block, waiting for a leader if none issues.
    async fn send_routed(
        &self,
        routes: &Routes,
        raw: Bytes,
        recovered: Option<Recovered<TxEnvelope>>,
    ) -> Result<SignedPreconfirmation> {
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut routes = routes.subscribe();
        let mut last_error = "no validator leads the next block yet".to_string();
        let mut pause = RETRY_AFTER;
        loop {
            let route = routes.borrow_and_update().clone();
            if let Some(route) = route {
                let answer = if route.issuer == self.me {
                    match &self.local {
                        Some(local) => local.send_recovered(raw.clone(), recovered.clone()).await,
                        None => Err(PreconfError::NotIssuing),
                    }
                } else if deadline.saturating_duration_since(tokio::time::Instant::now())
                    < REPLY_TIMEOUT
                {
                    // Too late to wait for an answer: a promise made now could be lost.
                    break;
                } else {
                    self.forward(&route.issuer, Some(route.block), &raw, REPLY_TIMEOUT)
                        .await
                };
                match answer {
                    Err(PreconfError::NotIssuing | PreconfError::Stopped) => {
                        last_error = format!("validator {} was not issuing", route.issuer);
                    }
                    Err(PreconfError::Unavailable(reason)) => last_error = reason,
                    other => return other,
                }
            }
            // A newer route, or (the issuer may not have seen the proposal yet) a pause that
            // grows while the route stays the same.
            let retry = tokio::time::Instant::now() + pause;
            if retry >= deadline {
                break;
            }
            if tokio::time::timeout_at(retry, routes.changed())
                .await
                .is_ok()
            {
                pause = RETRY_AFTER;
            } else {
                pause = (pause * 2).min(MAX_RETRY_AFTER);
            }
        }
        Err(PreconfError::Unavailable(format!(
            "none within {:?} ({last_error})",
            self.wait
        )))
    }

    /// Sends `raw` to `peer` (the issuer of `block`, or with `None` a validator that relays)
    /// and checks what comes back within `timeout`.
    async fn forward(
        &self,
        peer: &PublicKey,
        block: Option<u64>,
        raw: &Bytes,
        timeout: Duration,
    ) -> Result<SignedPreconfirmation> {
        let (reply, answer) = oneshot::channel();
        let outbound = Outbound {
            peer: peer.clone(),
            raw: raw.clone(),
            reply,
        };
        if self.outbound.send(outbound).await.is_err() {
            return Err(PreconfError::Stopped);
        }
        // Not connected, or the reply was lost: try again (maybe another issuer).
        let Ok(Ok(reply)) = tokio::time::timeout(timeout, answer).await else {
            return Err(PreconfError::Unavailable(format!(
                "validator {peer} did not answer"
            )));
        };
        match reply {
            Reply::Issued(signed) => {
                // A bad answer is the issuer's fault, not the wallet's: ask again.
                if let Err(error) = self.check_forwarded(peer, block, raw, &signed) {
                    tracing::warn!(%peer, %error, "dropping a bad forwarded preconfirmation");
                    return Err(PreconfError::Unavailable(format!(
                        "validator {peer} answered with a bad preconfirmation: {error}"
                    )));
                }
                let signed = *signed;
                let recorded = match &self.local {
                    Some(local) => local.record_forwarded(signed.clone(), raw),
                    None => self.reader.store().record_forwarded(&signed, raw),
                };
                // The promise stands at its issuer: the wallet gets it even if this node's
                // copy cannot be kept.
                if let Err(error) = recorded {
                    tracing::warn!(%error, tx = %signed.tx_hash, "cannot keep a forwarded preconfirmation");
                }
                Ok(signed)
            }
            // Only the pool's codes pass (a peer could send any).
            Reply::Pool { code, message } => Err(PreconfError::Pool {
                code: if code == CODE_INTERNAL {
                    CODE_INTERNAL
                } else {
                    CODE_INVALID_TX
                },
                message,
            }),
            Reply::Refused(reason) => Err(PreconfError::Refused(reason)),
            Reply::NotIssuing => Err(PreconfError::NotIssuing),
            Reply::Unavailable(reason) => Err(PreconfError::Unavailable(format!(
                "validator {peer}: {reason}"
            ))),
            Reply::Failed(reason) => Err(PreconfError::Store(format!(
                "validator {peer} failed: {reason}"
            ))),
        }
    }

    /// A forwarded preconfirmation must be for `raw`, on this chain, with both signatures
    /// valid; asked of the issuer of `block`, it must promise that block under the issuer's keys
    /// from the chainspec; relayed (`None`), under some validator's keys.
    fn check_forwarded(
        &self,
        peer: &PublicKey,
        block: Option<u64>,
        raw: &Bytes,
        signed: &SignedPreconfirmation,
    ) -> Result<()> {
        let keys = signed.issuer.chainspec_keys();
        let signer_ok = match block {
            Some(_) => self.validators.preconf_keys(peer) == Some(keys),
            None => self.validators.preconf_issuer(&keys).is_some(),
        };
        if !signer_ok {
            return Err(PreconfError::invalid(
                "forwarded preconfirmation",
                match block {
                    Some(_) => format!("its keys are not the chainspec's keys of validator {peer}"),
                    None => "its keys are no validator's in the chainspec".to_string(),
                },
            ));
        }
        if block.is_none() {
            // Relayed: the full node cannot tell which leader issues, but a promise must be for
            // a block just ahead of its chain and expire within the hour.
            let head = self
                .reader
                .head_number()
                .map_err(|e| PreconfError::Store(e.to_string()))?;
            let number = signed.block_number.to::<u64>();
            let latest_expiry = super::issuer::now_ms() + MAX_EXPIRY.as_millis() as u64;
            if number <= head
                || number > head + MAX_BLOCKS_AHEAD
                || signed.expiry_ms.to::<u64>() > latest_expiry
            {
                return Err(PreconfError::invalid(
                    "forwarded preconfirmation",
                    format!(
                        "it promises block {number} (this node's head is {head}) with expiry {}",
                        signed.expiry_ms
                    ),
                ));
            }
        }
        if signed.tx_hash != keccak256(raw) || signed.chain_id.to::<u64>() != self.chain_id {
            return Err(PreconfError::invalid(
                "forwarded preconfirmation",
                "it is for another transaction or chain",
            ));
        }
        if let Some(block) = block
            && signed.block_number.to::<u64>() != block
        {
            return Err(PreconfError::invalid(
                "forwarded preconfirmation",
                format!(
                    "it promises block {}, the issuer leads block {block}",
                    signed.block_number
                ),
            ));
        }
        signed.verify()
    }
}

impl ForwarderTask {
    /// The network half of a validator that issues no preconfirmations: it answers peers' requests
    /// "not issuing" (they go on to the next leader) and forwards none.
    pub fn refusing(validators: Arc<ValidatorSet>) -> Self {
        Self {
            local: None,
            relay: None,
            validators,
            outbound: mpsc::channel(1).1,
        }
    }

    /// Sends requests, answers peers' requests with the local issuer, and routes replies, until
    /// the network closes.
    pub async fn run<S, R>(mut self, network: (S, R))
    where
        S: Sender<PublicKey = PublicKey>,
        R: Receiver<PublicKey = PublicKey>,
    {
        let (mut sender, mut receiver) = network;
        let (answers_tx, mut answers) = mpsc::unbounded_channel::<(PublicKey, Vec<u8>)>();
        let mut pending: HashMap<u64, (PublicKey, oneshot::Sender<Reply>)> = HashMap::default();
        let serving = Arc::new(tokio::sync::Semaphore::new(MAX_SERVING));
        let relaying = Arc::new(tokio::sync::Semaphore::new(MAX_RELAYING));
        // Ids start at random, so a late reply to a previous run's request matches nothing.
        let mut next_id = {
            let mut seed = [0u8; 8];
            let _ = getrandom::fill(&mut seed);
            u64::from_be_bytes(seed)
        };
        loop {
            tokio::select! {
                Some(Outbound { peer, raw, reply }) = self.outbound.recv() => {
                    // Forget requests whose caller gave up.
                    if pending.len() >= OUTBOUND_CAPACITY {
                        pending.retain(|_, (_, reply)| !reply.is_closed());
                    }
                    let id = next_id;
                    next_id = next_id.wrapping_add(1);
                    let sent = sender.send(
                        Recipients::One(peer.clone()),
                        encode_request(id, &raw),
                        true,
                    );
                    if sent.is_empty() {
                        // Not connected: the caller's wait ends now.
                        drop(reply);
                    } else {
                        pending.insert(id, (peer, reply));
                    }
                }
                message = receiver.recv() => {
                    let Ok((peer, message)) = message else { return };
                    match split_message(message.as_ref()) {
                        Some((REQUEST, id, raw)) => {
                            let raw = Bytes::copy_from_slice(raw);
                            // A validator asks this node's issuer; a full node has its request
                            // relayed to the leader.
                            let (local, relay, permits) = if self.validators.contains(&peer) {
                                (self.local.clone(), None, &serving)
                            } else {
                                (None, self.relay.clone(), &relaying)
                            };
                            let answers = answers_tx.clone();
                            let permit = permits.clone().try_acquire_owned().ok();
                            tokio::spawn(async move {
                                let reply = match (local, relay, permit) {
                                    (Some(local), _, Some(_permit)) => {
                                        Reply::of(local.send(raw).await)
                                    }
                                    (None, Some(relay), Some(_permit)) => {
                                        Reply::of(relay.send(raw).await)
                                    }
                                    (Some(_), _, None) | (None, Some(_), None) => {
                                        Reply::Unavailable("too busy; try again".into())
                                    }
                                    (None, None, _) => Reply::NotIssuing,
                                };
                                let _ = answers.send((peer, reply.encode(id)));
                            });
                        }
                        Some((REPLY, id, body)) => {
                            // Only the peer asked may answer.
                            if pending.get(&id).is_some_and(|(asked, _)| *asked == peer)
                                && let Some((_, waiting)) = pending.remove(&id)
                            {
                                match Reply::decode(body) {
                                    Some(reply) => {
                                        let _ = waiting.send(reply);
                                    }
                                    None => tracing::warn!(%peer, "dropping a malformed preconfirmation reply"),
                                }
                            }
                        }
                        Some(_) => {}
                        None => tracing::warn!(%peer, "dropping a malformed preconfirmation message"),
                    }
                }
                Some((peer, bytes)) = answers.recv() => {
                    sender.send(Recipients::One(peer), bytes, true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip() {
        for reply in [
            Reply::Pool {
                code: -32003,
                message: "transaction underpriced".into(),
            },
            Reply::Refused("nonce".into()),
            Reply::NotIssuing,
            Reply::Failed("disk full".into()),
            Reply::Unavailable("no leader".into()),
        ] {
            let bytes = reply.encode(7);
            let (tag, id, body) = split_message(&bytes).expect("splits");
            let back = Reply::decode(body).expect("decodes");
            assert_eq!((tag, id), (REPLY, 7));
            assert_eq!(format!("{back:?}"), format!("{reply:?}"));
        }
        let request = encode_request(3, b"tx");
        assert_eq!(split_message(&request), Some((REQUEST, 3, &b"tx"[..])));
        assert!(split_message(&[9, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
        assert!(split_message(&[REPLY, 0, 0]).is_none());
        assert!(split_message(&vec![REQUEST; MAX_MESSAGE + 1]).is_none());
        // A pool error without its code does not decode.
        assert!(Reply::decode(&[1, 0]).is_none());
        assert!(Reply::decode(&[9]).is_none());
    }

    #[test]
    fn routes_only_move_forward() {
        let routes = Routes::default();
        let key = |seed| {
            use commonware_cryptography::Signer as _;
            crate::consensus::PrivateKey::from_seed(seed).public_key()
        };
        let route = |view, seed| Route {
            view,
            block: view + 1,
            issuer: key(seed),
        };
        let watch = routes.subscribe();
        assert!(routes.publish(route(5, 1)));
        assert!(!routes.publish(route(4, 2)));
        assert!(!routes.publish(route(5, 2)));
        assert_eq!(watch.borrow().as_ref().map(|r| r.view), Some(5));
        assert!(routes.publish(route(6, 2)));
        assert_eq!(watch.borrow().clone(), Some(route(6, 2)));
    }
}
