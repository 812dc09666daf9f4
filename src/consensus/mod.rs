//! BFT consensus: commonware simplex (ed25519) orders blocks; marshal disseminates, backfills and
//! delivers finalized blocks in height order; the engine executes and commits them.
//!
//! Flow of one block:
//! 1. the leader's simplex asks the marshal wrapper (`Inline`) to propose; it fetches the parent
//!    and calls [`ChainApplication`] `propose`, which builds through the engine (pending tree);
//! 2. other validators' `verify` executes the block on its parent and checks every field before
//!    their notarize vote;
//! 3. on finalization marshal stores the block and its certificate and reports it; the
//!    [`finalizer`] commits it with the certificate and moves `head`/`safe` (soft confirmation),
//!    then acknowledges, so marshal redelivers anything not durably committed after a crash.
//!
//! Persistence: simplex journals its votes (no equivocation after restart), marshal keeps
//! finalized blocks and certificates in its archives, the engine keeps the chain. All of them live
//! under one storage directory per node (`<datadir>/consensus`).
//!
//! The wiring ([`start_validator`]) is generic over the commonware runtime and p2p network, so
//! the node (tokio runtime, authenticated p2p) and the deterministic simulation tests (simulated
//! network, virtual time) run the same code.

mod application;
mod block;
mod certificate;
pub mod finalizer;
pub mod gossip;
pub mod hello;
mod keys;
mod unposted_bound;
mod validators;

pub use application::ChainApplication;
pub use block::{BlockDecodeError, ConsensusBlock, digest_hash};
pub use certificate::{CertificateError, CertificateVerifier, digest_of};
pub use keys::{KeyError, generate_key, public_key_hex, public_key_to_hex, read_key, write_key};
pub use unposted_bound::{PostedHeight, UnpostedBound};
pub use validators::{ValidatorSet, ValidatorSetError};

use crate::{chainspec::ChainSpec, engine::Engine, txpool::TxPool};
use commonware_broadcast::buffered;
use commonware_codec::Encode;
use commonware_consensus::{
    marshal::{
        self,
        core::Actor as Marshal,
        resolver::p2p as resolver,
        standard::{Inline, Standard},
    },
    simplex::{self, elector::RoundRobin, types::Finalization as SimplexFinalization},
    types::{Epoch, FixedEpocher, ViewDelta},
};
use commonware_cryptography::{
    Digestible, Signer as _,
    certificate::{ConstantProvider, Verifier as _},
    ed25519,
    sha256::Sha256,
};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{
    Clock, Handle, Metrics, Spawner, Storage, Supervisor, buffer::paged::CacheRef,
};
use commonware_storage::archive::immutable;
use commonware_utils::{NZU16, NZU64, NZUsize};
use std::{num::NonZeroUsize, sync::Arc, time::Duration};

/// Consensus digest: the 32-byte (keccak) block hash, in commonware's 32-byte digest type.
pub type Digest = commonware_cryptography::sha256::Digest;
/// Validator public key.
pub type PublicKey = ed25519::PublicKey;
/// Validator private key.
pub type PrivateKey = ed25519::PrivateKey;
/// Signing scheme of votes and certificates.
pub type Scheme = simplex::scheme::ed25519::Scheme;
/// A finalization certificate.
pub type Finalization = SimplexFinalization<Scheme, Digest>;

/// p2p channel numbers (identical on every node).
pub mod channels {
    /// Individual votes.
    pub const VOTES: u64 = 0;
    /// Notarization, nullification and finalization certificates.
    pub const CERTIFICATES: u64 = 1;
    /// Simplex certificate requests.
    pub const RESOLVER: u64 = 2;
    /// Block broadcast.
    pub const BLOCKS: u64 = 3;
    /// Block and certificate backfill.
    pub const BACKFILL: u64 = 4;
    /// Transaction gossip.
    pub const TRANSACTIONS: u64 = 5;
    /// What chain each node runs ([`super::hello`]).
    pub const HELLO: u64 = 6;
    /// Preconfirmation requests forwarded to the issuing leader ([`crate::preconf::forward`]).
    pub const PRECONF: u64 = 7;
}

/// Largest accepted block RLP (a 30M-gas block of calldata is about 7.5 MB; blocks of transfers
/// are far smaller). Every node of a network must use the same bound.
pub const MAX_BLOCK_SIZE: usize = 8 * 1024 * 1024;

/// Namespace of consensus signatures, bound to the chain id and genesis so that votes of one
/// chain are worthless on another.
pub fn namespace(spec: &ChainSpec) -> Vec<u8> {
    format!("hauptbuch-{}-{}", spec.chain_id, spec.genesis_hash).into_bytes()
}

/// Namespace of the p2p handshake (distinct from the signature namespace). The same on every
/// chain: a node with another chainspec connects and is told so by [`hello`], rather than being
/// refused by the handshake without an error either side could report.
pub const P2P_NAMESPACE: &[u8] = b"hauptbuch-p2p-v1";

/// The largest p2p message a network of `participants` validators sends (votes, certificates,
/// blocks, backfill responses).
pub fn max_message_size(participants: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, Digest>(participants),
        marshal::max_payload_size::<Standard<ConsensusBlock>, Scheme>(
            participants,
            &MAX_BLOCK_SIZE,
        ),
    ])
}

/// Settings of one validator.
#[derive(Clone)]
pub struct ValidatorConfig {
    /// This validator's key.
    pub key: PrivateKey,
    /// The validator set.
    pub validators: Arc<ValidatorSet>,
    /// Signature namespace ([`namespace`]).
    pub namespace: Vec<u8>,
    /// Target interval between blocks.
    pub block_time: Duration,
    /// Prefix of the storage partitions (unique per node when several share a runtime).
    pub partition_prefix: String,
    /// The preconfirmation issuer whose promises this validator's blocks honour.
    pub preconf: Option<crate::preconf::Preconfer>,
    /// Where to publish which validator issues the next block's preconfirmations (validator
    /// networks; the issuer opens its window when it is its turn).
    pub routes: Option<crate::preconf::Routes>,
    /// The bound on blocks not yet posted to DA, on a node that posts (else `None`).
    pub unposted_bound: Option<UnpostedBound>,
    /// Test-only fault injection (debug builds): propose blocks with a wrong state root.
    pub corrupt_proposals: bool,
}

impl std::fmt::Debug for ValidatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorConfig")
            .field("validators", &self.validators.len())
            .field("block_time", &self.block_time)
            .field("partition_prefix", &self.partition_prefix)
            .field("preconf", &self.preconf.is_some())
            .field("unposted_bound", &self.unposted_bound)
            .finish_non_exhaustive()
    }
}

impl ValidatorConfig {
    /// How long a view waits for its leader's proposal: room for a block time plus building.
    fn leader_timeout(&self) -> Duration {
        (self.block_time * 2).max(Duration::from_secs(1)) + Duration::from_secs(1)
    }
}

/// The five p2p channels a validator uses (see [`channels`]).
#[derive(Debug)]
pub struct Channels<S, R> {
    /// Votes.
    pub votes: (S, R),
    /// Certificates.
    pub certificates: (S, R),
    /// Simplex resolver.
    pub resolver: (S, R),
    /// Block broadcast.
    pub blocks: (S, R),
    /// Backfill.
    pub backfill: (S, R),
}

/// Handles of a running validator's (or follower's) actors.
pub struct ValidatorHandles {
    /// Simplex (on a follower: the task verifying the certificates validators broadcast).
    pub consensus: Handle<()>,
    /// Marshal.
    pub marshal: Handle<()>,
    /// The finalizer committing blocks.
    pub finalizer: Handle<Result<(), crate::engine::EngineError>>,
}

impl std::fmt::Debug for ValidatorHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorHandles").finish_non_exhaustive()
    }
}

impl ValidatorHandles {
    /// Aborts every actor (a crash in tests).
    pub fn abort(&self) {
        self.consensus.abort();
        self.marshal.abort();
        self.finalizer.abort();
    }
}

const PAGE_CACHE_PAGE: std::num::NonZeroU16 = NZU16!(4096);
const PAGE_CACHE_PAGES: NonZeroUsize = NZUsize!(1024);
const MAILBOX: NonZeroUsize = NZUsize!(1024);
const WRITE_BUFFER: NonZeroUsize = NZUsize!(1024 * 1024);

fn archive_config<C>(
    prefix: &str,
    name: &str,
    codec_config: C,
    page_cache: &CacheRef,
) -> immutable::Config<C> {
    let partition = |part: &str| format!("{prefix}-{name}-{part}");
    immutable::Config {
        metadata_partition: partition("metadata"),
        freezer_table_partition: partition("freezer-table"),
        freezer_table_initial_size: 65_536,
        freezer_table_resize_frequency: 4,
        freezer_table_resize_chunk_size: 16_384,
        freezer_key_partition: partition("freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_value_partition: partition("freezer-value"),
        freezer_value_target_size: 1024 * 1024 * 1024,
        freezer_value_compression: None,
        ordinal_partition: partition("ordinal"),
        items_per_section: NZU64!(4096),
        codec_config,
        replay_buffer: WRITE_BUFFER,
        freezer_key_write_buffer: WRITE_BUFFER,
        freezer_value_write_buffer: WRITE_BUFFER,
        ordinal_write_buffer: WRITE_BUFFER,
    }
}

/// Marshal over the node's archives.
type MarshalActor<E> = Marshal<
    E,
    Standard<ConsensusBlock>,
    ConstantProvider<Scheme, Epoch>,
    immutable::Archive<E, Digest, Finalization>,
    immutable::Archive<E, Digest, Arc<ConsensusBlock>>,
    FixedEpocher,
    Sequential,
>;

/// Opens marshal's archives and actor for `engine`'s chain under `prefix`.
async fn open_marshal<E>(
    context: &E,
    prefix: &str,
    scheme: Scheme,
    engine: &Engine,
    epocher: FixedEpocher,
    page_cache: &CacheRef,
) -> eyre::Result<(
    MarshalActor<E>,
    marshal::core::Mailbox<Scheme, Standard<ConsensusBlock>>,
)>
where
    E: Spawner + Supervisor + Clock + Storage + Metrics + rand::CryptoRng,
{
    let genesis = genesis(engine.spec());
    let genesis_digest = genesis.digest();
    let finalizations = immutable::Archive::init(
        context.child("finalizations"),
        archive_config(
            prefix,
            "finalizations",
            Scheme::certificate_codec_config_unbounded(),
            page_cache,
        ),
    )
    .await
    .map_err(|err| eyre::eyre!("cannot open the finalization archive: {err}"))?;
    let blocks = immutable::Archive::init(
        context.child("blocks"),
        archive_config(prefix, "blocks", MAX_BLOCK_SIZE, page_cache),
    )
    .await
    .map_err(|err| eyre::eyre!("cannot open the block archive: {err}"))?;
    let (marshal, mailbox, floor) = Marshal::init(
        context.child("marshal"),
        finalizations,
        blocks,
        marshal::Config {
            provider: ConstantProvider::<Scheme, Epoch>::new(scheme),
            epocher,
            start: marshal::Start::Genesis(commonware_cryptography::Digested::precomputed(
                genesis,
                genesis_digest,
            )),
            partition_prefix: format!("{prefix}-marshal"),
            mailbox_size: MAILBOX,
            view_retention: ViewDelta::new(10),
            prunable_items_per_section: NZU64!(10),
            page_cache: page_cache.clone(),
            replay_buffer: WRITE_BUFFER,
            key_write_buffer: WRITE_BUFFER,
            value_write_buffer: WRITE_BUFFER,
            block_codec_config: MAX_BLOCK_SIZE,
            max_repair: NZUsize!(16),
            max_pending_acks: NZUsize!(1),
            strategy: Sequential,
        },
    )
    .await;
    tracing::info!(processed = ?floor.processed(), "consensus storage opened");
    Ok((marshal, mailbox))
}

/// The chain's genesis as a consensus block.
fn genesis(spec: &ChainSpec) -> ConsensusBlock {
    ConsensusBlock::genesis(
        spec.genesis_header.clone(),
        spec.genesis_header.withdrawals_root.is_some(),
    )
}

/// Starts marshal with block broadcast on `blocks` and backfill on `backfill`, and the
/// finalizer committing what it delivers; returns their handles.
#[allow(clippy::too_many_arguments)]
fn run_marshal<E, S, R, P, B>(
    context: &E,
    marshal: MarshalActor<E>,
    mailbox: marshal::core::Mailbox<Scheme, Standard<ConsensusBlock>>,
    engine: Engine,
    public_key: PublicKey,
    peers: P,
    blocker: B,
    blocks: (S, R),
    backfill: (S, R),
) -> (Handle<()>, Handle<Result<(), crate::engine::EngineError>>)
where
    E: Spawner + Supervisor + Clock + Storage + Metrics + rand::CryptoRng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    let backfill = resolver::init(
        context.child("backfill"),
        resolver::Config {
            public_key: public_key.clone(),
            peer_provider: peers.clone(),
            blocker,
            mailbox_size: MAILBOX,
            fetch_timeout: commonware_utils::NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        backfill,
    );
    let (broadcast, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key,
            mailbox_size: MAILBOX,
            deque_size: 16,
            priority: false,
            codec_config: MAX_BLOCK_SIZE,
            peer_provider: peers,
            strategy: Sequential,
        },
    );
    broadcast.start(blocks);
    let (reporter, finalized) = finalizer::channel();
    let marshal = marshal.start(reporter, buffer, backfill);
    let finalizer = context
        .child("finalizer")
        .spawn(move |context| finalizer::run(context, engine, mailbox, finalized));
    (marshal, finalizer)
}

/// Starts a validator: marshal (with its archives, block broadcast and backfill), the finalizer
/// and simplex, all on `context`'s runtime and `peers`' network.
#[allow(clippy::too_many_arguments)]
pub async fn start_validator<E, S, R, P, B>(
    context: E,
    config: ValidatorConfig,
    engine: Engine,
    pool: TxPool,
    peers: P,
    blocker: B,
    channels: Channels<S, R>,
) -> eyre::Result<ValidatorHandles>
where
    E: Spawner + Supervisor + Clock + Storage + Metrics + rand::CryptoRng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    let public_key = config.key.public_key();
    let scheme = Scheme::signer(
        &config.namespace,
        config.validators.keys().clone(),
        config.key.clone(),
    )
    .ok_or_else(|| {
        eyre::eyre!("validator key {public_key} is not in the chainspec's validator set")
    })?;
    let epocher = FixedEpocher::new(NZU64!(u64::MAX));
    let page_cache = CacheRef::new(PAGE_CACHE_PAGE, PAGE_CACHE_PAGES);
    let prefix = &config.partition_prefix;
    let spec = engine.spec().clone();
    let genesis_digest = genesis(&spec).digest();
    let (marshal, mailbox) = open_marshal(
        &context,
        prefix,
        scheme.clone(),
        &engine,
        epocher.clone(),
        &page_cache,
    )
    .await?;

    let (marshal, finalizer) = run_marshal(
        &context,
        marshal,
        mailbox.clone(),
        engine.clone(),
        public_key.clone(),
        peers,
        blocker.clone(),
        channels.blocks,
        channels.backfill,
    );

    let mut application =
        ChainApplication::new(engine, pool, config.validators.clone(), config.block_time)
            .with_preconf(config.preconf.clone())
            .with_unposted_bound(config.unposted_bound.clone())
            .with_corrupt_proposals(config.corrupt_proposals);
    if let Some(routes) = config.routes.clone() {
        application = application.with_routes(routes, public_key, elector());
    }
    let inline = Inline::new(context.child("inline"), application, mailbox, epocher);
    let leader_timeout = config.leader_timeout();
    let simplex = simplex::Engine::new(
        context.child("simplex"),
        simplex::Config {
            scheme,
            elector: elector(),
            blocker,
            automaton: inline.clone(),
            relay: inline.clone(),
            reporter: inline,
            strategy: Sequential,
            partition: format!("{prefix}-simplex"),
            mailbox_size: MAILBOX,
            epoch: Epoch::zero(),
            floor: simplex::Floor::Genesis(genesis_digest),
            leader_timeout,
            certification_timeout: leader_timeout * 2,
            timeout_retry: leader_timeout * 5,
            fetch_timeout: commonware_utils::NZDuration!(Duration::from_secs(1)),
            fetch_retry_delay: Duration::from_millis(100),
            view_retention: ViewDelta::new(256),
            skip: simplex::SkipPolicy::Disabled,
            replay_buffer: WRITE_BUFFER,
            write_buffer: WRITE_BUFFER,
            page_cache,
            forward: simplex::ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    let consensus = simplex.start(channels.votes, channels.certificates, channels.resolver);
    Ok(ValidatorHandles {
        consensus,
        marshal,
        finalizer,
    })
}

/// The leader election of every view: round-robin over the ordered validator keys.
fn elector() -> RoundRobin<Sha256> {
    RoundRobin::default()
}

/// Settings of a follower: a full node on the validators' p2p network. It takes no part in
/// consensus; it verifies the finalization certificates validators broadcast, fetches the
/// blocks they finalize (marshal's backfill) and executes and commits them in order, as a
/// validator's finalizer does.
#[derive(Clone)]
pub struct FollowerConfig {
    /// This node's p2p identity (not a validator key).
    pub key: PrivateKey,
    /// The validator set whose certificates count.
    pub validators: Arc<ValidatorSet>,
    /// Signature namespace ([`namespace`]).
    pub namespace: Vec<u8>,
    /// Prefix of the storage partitions.
    pub partition_prefix: String,
}

impl std::fmt::Debug for FollowerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowerConfig")
            .field("validators", &self.validators.len())
            .field("partition_prefix", &self.partition_prefix)
            .finish_non_exhaustive()
    }
}

/// Starts a follower ([`FollowerConfig`]) on the validators' `certificates`, `blocks` and
/// `backfill` channels.
#[allow(clippy::too_many_arguments)]
pub async fn start_follower<E, S, R, P, B>(
    context: E,
    config: FollowerConfig,
    engine: Engine,
    peers: P,
    blocker: B,
    certificates: (S, R),
    blocks: (S, R),
    backfill: (S, R),
) -> eyre::Result<ValidatorHandles>
where
    E: Spawner + Supervisor + Clock + Storage + Metrics + rand::CryptoRng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    P: Provider<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    let scheme = Scheme::verifier(&config.namespace, config.validators.keys().clone());
    let page_cache = CacheRef::new(PAGE_CACHE_PAGE, PAGE_CACHE_PAGES);
    let (marshal, mailbox) = open_marshal(
        &context,
        &config.partition_prefix,
        scheme.clone(),
        &engine,
        FixedEpocher::new(NZU64!(u64::MAX)),
        &page_cache,
    )
    .await?;
    // Blocks the validators broadcast arrive before their certificates; backfill fetches the rest.
    let (marshal, finalizer) = run_marshal(
        &context,
        marshal,
        mailbox.clone(),
        engine,
        config.key.public_key(),
        peers,
        blocker.clone(),
        blocks,
        backfill,
    );
    let certificates = context
        .child("certificates")
        .spawn(move |context| follow_certificates(context, scheme, mailbox, certificates, blocker));
    Ok(ValidatorHandles {
        consensus: certificates,
        marshal,
        finalizer,
    })
}

/// Verifies the finalizations validators broadcast and reports them to marshal, which then
/// fetches and delivers their blocks. A peer sending a certificate that does not decode or
/// verify is blocked.
async fn follow_certificates<E, S, R, B>(
    mut context: E,
    scheme: Scheme,
    mut marshal: marshal::core::Mailbox<Scheme, Standard<ConsensusBlock>>,
    (_sender, mut receiver): (S, R),
    mut blocker: B,
) where
    E: Clock + rand::CryptoRng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    use commonware_codec::Decode as _;
    use commonware_consensus::{
        Reporter as _,
        simplex::types::{Activity, Certificate},
    };
    let config = scheme.certificate_codec_config();
    // Every validator broadcasts each certificate: verify and report a view once.
    let mut reported = None;
    loop {
        let Ok((peer, message)) = receiver.recv().await else {
            return;
        };
        let certificate = match Certificate::<Scheme, Digest>::decode_cfg(message, &config) {
            Ok(certificate) => certificate,
            Err(err) => {
                tracing::warn!(peer = %public_key_to_hex(&peer), %err, "blocking a peer: undecodable certificate");
                blocker.block(peer);
                continue;
            }
        };
        let Certificate::Finalization(finalization) = certificate else {
            continue;
        };
        let view = finalization.proposal.round.view();
        if reported.is_some_and(|last| view <= last) {
            continue;
        }
        if !finalization.verify(&mut context, &scheme, &Sequential) {
            tracing::warn!(
                peer = %public_key_to_hex(&peer),
                %view,
                "blocking a peer: invalid finalization certificate (if every validator's fails, \
                 this node's chainspec is not theirs: chain id, genesis or validator set)"
            );
            blocker.block(peer);
            continue;
        }
        reported = Some(view);
        marshal.report(Activity::Finalization(finalization));
    }
}

/// Runs blocking engine work off the async workers.
pub(crate) async fn blocking<E, T>(
    context: &E,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::engine::EngineError>
where
    E: Spawner + Supervisor,
    T: Send + 'static,
{
    context
        .child("engine_call")
        .shared(true)
        .spawn(move |_| async move { work() })
        .await
        .map_err(|err| crate::engine::EngineError::Task(err.to_string()))
}

/// The encoded finalization certificate, as stored with its block.
pub fn encode_certificate(finalization: &Finalization) -> Vec<u8> {
    finalization.encode().to_vec()
}
