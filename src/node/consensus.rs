//! Runs this node's validator: authenticated p2p (commonware `lookup`, addresses from the
//! chainspec's validator set or `--p2p.bootnodes`) and the consensus actors of
//! [`crate::consensus`], on the node's commonware tokio runtime.
//!
//! `--dev` is a one-validator network on the same code: the validator set is this node's key
//! (`--validator.key`, or `<datadir>/validator.key` created on first start) and the chainspec's
//! validators are ignored.

use super::args::{Bootnode, ConsensusArgs};
use crate::{
    chainspec::ChainSpec,
    consensus::{
        self, Channels, MAX_BLOCK_SIZE, PrivateKey, PublicKey, ValidatorConfig, ValidatorHandles,
        ValidatorSet, channels,
    },
    engine::Engine,
    preconf::forward::ForwarderTask,
    txpool::TxPool,
};
use commonware_cryptography::{ChaCha20Poly1305, Signer as _};
use commonware_p2p::{Address, AddressableManager as _, authenticated::lookup};
use commonware_runtime::{Quota, Spawner as _, Supervisor as _, tokio::Context};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{NZU32, NZUsize, ordered::Map};
use eyre::WrapErr;
use std::{
    net::{SocketAddr, ToSocketAddrs},
    num::NonZeroUsize,
    path::Path,
    sync::Arc,
    time::Duration,
};

/// Default p2p port (reth's).
pub(crate) const DEFAULT_P2P_PORT: u16 = 30303;
/// Key file `--dev` creates in the datadir when no `--validator.key` is given.
const DEV_KEY_FILE: &str = "validator.key";
/// Per-peer message rate on every consensus channel.
const CHANNEL_QUOTA: Quota = Quota::per_second(NZU32!(10_000));

/// What the node runs.
pub(super) enum Role {
    /// Sign and vote.
    Validator(Box<ValidatorRole>),
    /// A full node following the validators over p2p (`--p2p.key`).
    Follower(Box<FollowerRole>),
    /// Not a validator: follow the chain from DA when `--da.url` is given (a full node), else
    /// serve the stored chain.
    RpcOnly,
}

/// A full node's p2p identity and the validators it follows.
pub(super) struct FollowerRole {
    key: PrivateKey,
    validators: Arc<ValidatorSet>,
}

/// A validator's identity and network.
pub(super) struct ValidatorRole {
    key: PrivateKey,
    validators: Arc<ValidatorSet>,
    block_time: Duration,
    /// The bound on unposted blocks its proposals honour, when this node posts to DA.
    unposted_bound: Option<consensus::UnpostedBound>,
}

impl FollowerRole {
    /// This node's p2p key.
    pub(super) fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The validator set it follows.
    pub(super) fn validators(&self) -> &Arc<ValidatorSet> {
        &self.validators
    }
}

impl ValidatorRole {
    /// This validator's key.
    pub(super) fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The validator set.
    pub(super) fn validators(&self) -> &Arc<ValidatorSet> {
        &self.validators
    }

    /// The target block time.
    pub(super) fn block_time(&self) -> Duration {
        self.block_time
    }

    /// This validator's DA posting rank: its position in the validator list (the first posts,
    /// the others stand by in order).
    pub(super) fn da_poster_rank(&self) -> u32 {
        self.validators
            .position(&self.key.public_key())
            .map_or(0, |p| u32::try_from(p).unwrap_or(u32::MAX))
    }

    /// Proposes only while fewer than the bound's blocks are unposted.
    pub(super) fn with_unposted_bound(mut self, bound: Option<consensus::UnpostedBound>) -> Self {
        self.unposted_bound = bound;
        self
    }
}

impl Role {
    /// The role from the flags: `--dev` or `--validator.key` make a validator.
    pub(super) fn from_args(
        args: &ConsensusArgs,
        dev: Option<Duration>,
        spec: &ChainSpec,
        datadir: &Path,
    ) -> eyre::Result<Self> {
        if args.p2p_key.is_some() && dev.is_some() {
            eyre::bail!(
                "--p2p.key makes a full node following a validator set; --dev runs its own \
                 validator: use one or the other"
            );
        }
        if let Some(path) = &args.p2p_key {
            let key = consensus::read_key(path)?;
            let validators = ValidatorSet::from_chainspec(&spec.hauptbuch.validators)
                .map_err(|e| eyre::eyre!("--p2p.key follows the chainspec's validators: {e}"))?;
            if validators.contains(&key.public_key()) {
                eyre::bail!(
                    "--p2p.key {} is a validator's key: a validator runs with --validator.key",
                    path.display()
                );
            }
            return Ok(Self::Follower(Box::new(FollowerRole {
                key,
                validators: Arc::new(validators),
            })));
        }
        let key = match (&args.validator_key, dev) {
            (Some(path), _) => Some(consensus::read_key(path)?),
            (None, Some(_)) => Some(dev_key(datadir)?),
            (None, None) => None,
        };
        let Some(key) = key else {
            return Ok(Self::RpcOnly);
        };
        let (validators, block_time) = match dev {
            Some(block_time) => {
                let address = format!("127.0.0.1:{}", args.p2p_port.unwrap_or(0));
                let set = ValidatorSet::single(key.public_key(), address, Default::default());
                (set, block_time)
            }
            None => {
                let set = ValidatorSet::from_chainspec(&spec.hauptbuch.validators)?;
                if !set.contains(&key.public_key()) {
                    eyre::bail!(
                        "validator key {} is not in the chainspec's validator set (hauptbuch.validators)",
                        consensus::public_key_hex(&key)
                    );
                }
                (set, Duration::from_millis(spec.hauptbuch.block_time_ms))
            }
        };
        Ok(Self::Validator(Box::new(ValidatorRole {
            key,
            validators: Arc::new(validators),
            block_time,
            unposted_bound: None,
        })))
    }
}

/// The dev validator key, created on first use.
fn dev_key(datadir: &Path) -> eyre::Result<PrivateKey> {
    let path = datadir.join(DEV_KEY_FILE);
    if path.exists() {
        return Ok(consensus::read_key(&path)?);
    }
    std::fs::create_dir_all(datadir)
        .wrap_err_with(|| format!("cannot create {}", datadir.display()))?;
    let key = consensus::generate_key().wrap_err("cannot generate a validator key")?;
    consensus::write_key(&path, &key)?;
    Ok(key)
}

/// Resolves every validator's p2p address (`--p2p.bootnodes` entries override the chainspec's).
fn peer_addresses(
    validators: &ValidatorSet,
    bootnodes: &[Bootnode],
    me: &PublicKey,
    listen: SocketAddr,
) -> eyre::Result<Map<PublicKey, Address>> {
    let mut peers = Vec::new();
    for (key, address) in validators.addresses() {
        let address = bootnodes
            .iter()
            .find(|b| &b.key == key)
            .map_or(address, |b| b.address.as_str());
        let socket = if key == me {
            listen
        } else {
            resolve("validator", address)?
        };
        peers.push((key.clone(), Address::from(socket)));
    }
    Map::try_from(peers).map_err(|_| eyre::eyre!("duplicate validator keys"))
}

/// Resolves `--p2p.followers` (full nodes allowed to connect; never dialled).
fn follower_addresses(followers: &[Bootnode]) -> eyre::Result<Map<PublicKey, Address>> {
    let peers = followers
        .iter()
        .map(|f| {
            Ok((
                f.key.clone(),
                Address::from(resolve("follower", &f.address)?),
            ))
        })
        .collect::<eyre::Result<Vec<_>>>()?;
    Map::try_from(peers).map_err(|_| eyre::eyre!("duplicate --p2p.followers keys"))
}

/// Resolves a `host:port` p2p address.
fn resolve(what: &str, address: &str) -> eyre::Result<SocketAddr> {
    address
        .to_socket_addrs()
        .wrap_err_with(|| format!("cannot resolve {what} address `{address}`"))?
        .next()
        .ok_or_else(|| eyre::eyre!("{what} address `{address}` resolves to nothing"))
}

/// The node's authenticated p2p network.
type P2pNetwork = lookup::Network<Context, Cups<Sake<PrivateKey>, ChaCha20Poly1305>>;

/// The authenticated p2p network of a node with `key` listening on `listen`, for a set of
/// `validators` and at most `peers` tracked peers (validators and followers, this node
/// included).
fn p2p_network(
    context: &Context,
    key: &PrivateKey,
    listen: SocketAddr,
    validators: usize,
    peers: usize,
) -> (P2pNetwork, lookup::Oracle<PublicKey>) {
    let participants = u32::try_from(validators).unwrap_or(u32::MAX);
    let max_message_size = consensus::max_message_size(participants);
    let handshake = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: key.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let mut config = lookup::Config::recommended(
        handshake,
        consensus::P2P_NAMESPACE,
        listen,
        NonZeroUsize::new(peers).unwrap_or(NZUsize!(1)),
        max_message_size,
        NZUsize!(1024),
    );
    // Validator sets run on private networks and loopback devnets; a restarted peer should be
    // redialled within a second, not after the production cooldown of a minute.
    config.allow_private_ips = true;
    config.peer_connection_cooldown = Duration::from_secs(1);
    // The recommended limit admits one handshake per IP every 5 s. Validators sharing an IP
    // (a loopback devnet, several behind one NAT) then connect one by one, and a fresh network
    // spent ~15 s in view timeouts before every peer was connected. One per peer per second:
    // only the set's keys are admitted anyway.
    config.allowed_handshake_rate_per_ip =
        Quota::per_second(std::num::NonZeroU32::new(participants.max(1)).unwrap_or(NZU32!(1)));
    config.ping_frequency = Duration::from_secs(5);
    lookup::Network::new(context.child("p2p"), config)
}

/// The preconfirmations a validator issues: its issuer, and on a network the forwarding part.
pub(super) struct ValidatorPreconf {
    pub(super) issuer: crate::preconf::Preconfer,
    pub(super) network: Option<NetworkPreconf>,
}

/// Preconfirmations on a validator network: where consensus publishes each next issuer, and the
/// p2p half of the node's [`crate::preconf::Forwarder`].
pub(super) struct NetworkPreconf {
    pub(super) routes: crate::preconf::Routes,
    pub(super) task: ForwarderTask,
}

/// Starts p2p and the validator's actors on the node's runtime.
pub(super) async fn start(
    context: &Context,
    args: &ConsensusArgs,
    dev: bool,
    role: ValidatorRole,
    engine: Engine,
    pool: TxPool,
    preconf: Option<ValidatorPreconf>,
) -> eyre::Result<ValidatorHandles> {
    let (preconf, network_preconf) = match preconf {
        Some(ValidatorPreconf { issuer, network }) => (Some(issuer), network),
        None => (None, None),
    };
    let ValidatorRole {
        key,
        validators,
        block_time,
        unposted_bound,
    } = role;
    let spec = engine.spec().clone();
    let port = args
        .p2p_port
        .unwrap_or(if dev { 0 } else { DEFAULT_P2P_PORT });
    let ip = if dev && args.p2p_port.is_none() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        args.p2p_addr
    };
    let listen = SocketAddr::new(ip, port);
    let followers = follower_addresses(&args.followers)?;
    let (mut network, mut oracle) = p2p_network(
        context,
        &key,
        listen,
        validators.len(),
        validators.len() + followers.len(),
    );
    let me = key.public_key();
    oracle.track(
        0,
        commonware_p2p::AddressableTrackedPeers::new(
            peer_addresses(&validators, &args.bootnodes, &me, listen)?,
            followers,
        ),
    );
    let mut register = |channel| network.register(channel, CHANNEL_QUOTA);
    let channels = Channels {
        votes: register(channels::VOTES),
        certificates: register(channels::CERTIFICATES),
        resolver: register(channels::RESOLVER),
        blocks: register(channels::BLOCKS),
        backfill: register(channels::BACKFILL),
    };
    let transactions = register(channels::TRANSACTIONS);
    let hello = (validators.len() > 1).then(|| register(channels::HELLO));
    // Registered on every validator of a network: a message on a channel the receiver did not
    // register closes the connection. A validator that does not issue answers "not issuing".
    let preconf_channel = (validators.len() > 1).then(|| register(channels::PRECONF));
    network.start();
    if let Some(hello) = hello {
        check_chainspec(context, &spec, &validators, true, hello).await?;
    }
    context.child("tx_gossip").spawn({
        let (engine, pool) = (engine.clone(), pool.clone());
        move |context| consensus::gossip::run(context, engine, pool, transactions)
    });
    let (routes, forwarder) = match network_preconf {
        Some(NetworkPreconf { routes, task }) => (Some(routes), task),
        None => (None, ForwarderTask::refusing(validators.clone())),
    };
    if let Some(channel) = preconf_channel {
        context
            .child("preconf_forwarder")
            .spawn(move |_| forwarder.run(channel));
    }
    tracing::info!(
        public_key = %consensus::public_key_hex(&key),
        %listen,
        validators = validators.len(),
        ?block_time,
        max_block_bytes = MAX_BLOCK_SIZE,
        max_unposted_blocks = ?unposted_bound.as_ref().map(consensus::UnpostedBound::max_blocks),
        "starting validator"
    );
    if validators.len() > 1 {
        let peers: Vec<String> = validators
            .addresses()
            .filter(|(peer, _)| **peer != key.public_key())
            .map(|(_, address)| address.to_string())
            .collect();
        tokio::spawn(watch_for_stalls(
            engine.clone(),
            unposted_bound.clone(),
            warn_validator_stall(&spec, validators.len(), peers),
        ));
    }
    let config = ValidatorConfig {
        key,
        validators,
        namespace: consensus::namespace(&spec),
        block_time,
        partition_prefix: "node".into(),
        preconf,
        routes,
        unposted_bound,
        corrupt_proposals: false,
    };
    consensus::start_validator(
        context.child("consensus"),
        config,
        engine,
        pool,
        oracle.clone(),
        oracle,
        channels,
    )
    .await
}

/// Starts p2p and the follower's actors: the node dials the validators (which must list its key
/// with `--p2p.followers`), verifies their certificates, backfills and commits their blocks,
/// and gossips the transactions it accepts to them.
pub(super) async fn start_follower(
    context: &Context,
    args: &ConsensusArgs,
    role: FollowerRole,
    engine: Engine,
    pool: TxPool,
    preconf: Option<ForwarderTask>,
) -> eyre::Result<ValidatorHandles> {
    let FollowerRole { key, validators } = role;
    let spec = engine.spec().clone();
    let listen = SocketAddr::new(args.p2p_addr, args.p2p_port.unwrap_or(DEFAULT_P2P_PORT));
    // The validators and this node.
    let (mut network, mut oracle) = p2p_network(
        context,
        &key,
        listen,
        validators.len(),
        validators.len() + 1,
    );
    let me = key.public_key();
    oracle.track(
        0,
        peer_addresses(&validators, &args.bootnodes, &me, listen)?,
    );
    let certificates = network.register(channels::CERTIFICATES, CHANNEL_QUOTA);
    let blocks = network.register(channels::BLOCKS, CHANNEL_QUOTA);
    let backfill = network.register(channels::BACKFILL, CHANNEL_QUOTA);
    let transactions = network.register(channels::TRANSACTIONS, CHANNEL_QUOTA);
    let hello = network.register(channels::HELLO, CHANNEL_QUOTA);
    // Preconfirmation requests go to the validators and their answers come back here.
    let preconf = preconf.map(|task| (task, network.register(channels::PRECONF, CHANNEL_QUOTA)));
    // Validators send votes and simplex requests to every peer; a message on a channel not
    // registered closes the connection, so these are registered and dropped.
    let ignored = [channels::VOTES, channels::RESOLVER]
        .map(|channel| network.register(channel, CHANNEL_QUOTA));
    network.start();
    for (_, mut receiver) in ignored {
        context.child("ignored_channel").spawn(move |_| async move {
            while commonware_p2p::Receiver::recv(&mut receiver).await.is_ok() {}
        });
    }
    check_chainspec(context, &spec, &validators, false, hello).await?;
    if let Some((task, channel)) = preconf {
        context
            .child("preconf_forwarder")
            .spawn(move |_| task.run(channel));
    }
    context.child("tx_gossip").spawn({
        let (engine, pool) = (engine.clone(), pool);
        move |context| consensus::gossip::run(context, engine, pool, transactions)
    });
    tracing::info!(
        public_key = %consensus::public_key_hex(&key),
        %listen,
        validators = validators.len(),
        "following the validators over p2p (full node)"
    );
    tokio::spawn(watch_for_stalls(
        engine.clone(),
        None,
        warn_follower_stall(consensus::public_key_hex(&key), listen),
    ));
    let config = consensus::FollowerConfig {
        key,
        validators,
        namespace: consensus::namespace(&spec),
        partition_prefix: "node".into(),
    };
    consensus::start_follower(
        context.child("follower"),
        config,
        engine,
        oracle.clone(),
        oracle,
        certificates,
        blocks,
        backfill,
    )
    .await
}

/// Longest a validator waits for its peers' hellos before starting consensus without them.
const HELLO_WAIT: Duration = Duration::from_secs(10);

/// Exchanges hellos with the other validators ([`consensus::hello`]) and fails when the network
/// runs another chainspec; keeps answering later hellos in the background.
async fn check_chainspec<S, R>(
    context: &Context,
    spec: &ChainSpec,
    validators: &ValidatorSet,
    member: bool,
    channel: (S, R),
) -> eyre::Result<()>
where
    S: commonware_p2p::Sender<PublicKey = PublicKey>,
    R: commonware_p2p::Receiver<PublicKey = PublicKey>,
{
    use consensus::hello::{self, Hello, Verdict};
    let ours = Hello::new(spec, validators);
    let (verdict_tx, verdict_rx) = tokio::sync::oneshot::channel();
    let count = validators.len();
    let set = validators.clone();
    context.child("hello").spawn(move |context| async move {
        hello::run(context, ours, &set, member, channel, HELLO_WAIT, verdict_tx).await;
    });
    match verdict_rx.await {
        Ok(Verdict::Agreed) => Ok(()),
        Ok(Verdict::Mismatch(error)) => {
            // Let this node's last hello reach the others before it stops.
            tokio::time::sleep(Duration::from_millis(500)).await;
            Err(eyre::eyre!(error))
        }
        Ok(Verdict::Unanswered { agreed }) => {
            tracing::warn!(
                answered = agreed,
                validators = count,
                wait = ?HELLO_WAIT,
                "starting consensus before a quorum of validators answered; they may be down \
                 or unreachable"
            );
            Ok(())
        }
        Err(_) => Err(eyre::eyre!("the p2p network closed during startup")),
    }
}

/// How long without a finalized block before a validator says what may be wrong.
const STALL_WARNING: Duration = Duration::from_secs(20);

/// Calls `warn` (with the head and how long it has not moved) whenever no block was finalized
/// for [`STALL_WARNING`], once per stall, except while block production is paused for DA
/// posting (that has its own warning and metric).
async fn watch_for_stalls(
    engine: Engine,
    unposted_bound: Option<consensus::UnpostedBound>,
    warn: impl Fn(u64, Duration) + Send + 'static,
) {
    let mut last = None;
    let mut since = tokio::time::Instant::now();
    let mut warned = false;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let Ok(head) = engine.head() else { continue };
        if last != Some(head.number) {
            last = Some(head.number);
            since = tokio::time::Instant::now();
            warned = false;
            continue;
        }
        let paused = unposted_bound
            .as_ref()
            .is_some_and(consensus::UnpostedBound::is_paused);
        if !warned && !paused && since.elapsed() >= STALL_WARNING {
            warned = true;
            warn(head.number, since.elapsed());
        }
    }
}

/// A validator's stall warning: the usual causes are peers down or unreachable (a chainspec
/// mismatch is found at startup by [`check_chainspec`] when the peers answer).
fn warn_validator_stall(
    spec: &ChainSpec,
    validators: usize,
    peers: Vec<String>,
) -> impl Fn(u64, Duration) + Send + 'static {
    let (chain_id, genesis) = (spec.chain_id, spec.genesis_hash);
    let quorum = validators - (validators - 1) / 3;
    move |head, stalled| {
        tracing::warn!(
            head,
            ?stalled,
            quorum,
            validators,
            peers = %peers.join(", "),
            chain_id,
            %genesis,
            "no block finalized for {}s: consensus needs {quorum} of {validators} \
             validators. Check that the others run and are reachable at their p2p addresses, \
             and that they use the same chainspec (chain id {chain_id}, genesis {genesis})",
            stalled.as_secs(),
        );
    }
}

/// A follower's stall warning: validators admit only the followers they list.
fn warn_follower_stall(key: String, listen: SocketAddr) -> impl Fn(u64, Duration) + Send + 'static {
    move |head, stalled| {
        tracing::warn!(
            head,
            ?stalled,
            public_key = %key,
            "no block for {}s from the validators: they admit only the full nodes they list; \
             check that each runs with `--p2p.followers {key}@<this node's IP>:{}` and is \
             reachable at its p2p address",
            stalled.as_secs(),
            listen.port(),
        );
    }
}
