//! Deterministic simulations of a 4-validator network: commonware's deterministic runtime (virtual
//! time, seeded scheduling) and simulated p2p network, with the real application, marshal,
//! finalizer and engine (each validator has its own database on disk).
//!
//! Every scenario checks safety the same way: at every height, every validator that committed
//! the height holds the same block hash (no conflicting finalization).

use crate::common::{DEV_KEYS, temp_engine, transfer};
use commonware_cryptography::{Signer as _, ed25519};
use commonware_p2p::simulated::{self, Link, Network, Oracle};
use commonware_runtime::{Clock, Quota, Runner as _, Supervisor as _, deterministic};
use commonware_utils::{NZU32, NZUsize, probability};
use hauptbuch_reth::{
    chainspec::{ChainSpec, Validator},
    consensus::{
        self, Channels, PublicKey, UnpostedBound, ValidatorConfig, ValidatorHandles, ValidatorSet,
        channels,
    },
    engine::Engine,
    txpool::{PoolConfig, TxPool},
};
use std::{sync::Arc, time::Duration};

const VALIDATORS: usize = 4;
const QUOTA: Quota = Quota::per_second(NZU32!(10_000));
const LINK: Link = Link {
    latency: Duration::from_millis(10),
    jitter: Duration::from_millis(2),
    success_rate: probability!(1.0),
};
const BLOCK_TIME: Duration = Duration::from_millis(200);

type Context = deterministic::Context;

struct Node {
    key: ed25519::PrivateKey,
    engine: Engine,
    pool: TxPool,
    _dir: tempfile::TempDir,
    handles: Option<ValidatorHandles>,
    /// The bound on unposted blocks this validator's proposals honour, if any.
    unposted_bound: Option<UnpostedBound>,
    /// Fault injection: this validator proposes blocks with a wrong state root.
    corrupt_proposals: bool,
}

/// A full node on the validators' network (a secondary peer), following their certificates.
struct Follower {
    key: ed25519::PrivateKey,
    engine: Engine,
    _dir: tempfile::TempDir,
    handles: Option<ValidatorHandles>,
}

struct Cluster {
    context: Context,
    oracle: Oracle<PublicKey, Context>,
    validators: Arc<ValidatorSet>,
    nodes: Vec<Node>,
    follower: Follower,
}

impl Cluster {
    async fn new(context: Context) -> Self {
        let keys: Vec<_> = (0..VALIDATORS as u64)
            .map(ed25519::PrivateKey::from_seed)
            .collect();
        let members: Vec<Validator> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| Validator {
                public_key: alloy_primitives::B256::from_slice(key.public_key().as_ref()),
                address: format!("127.0.0.1:{}", 30_000 + i),
                fee_recipient: alloy_primitives::Address::with_last_byte(i as u8 + 1),
                preconf: None,
            })
            .collect();
        let validators = Arc::new(ValidatorSet::from_chainspec(&members).expect("validator set"));
        let peers: Vec<PublicKey> = keys.iter().map(|k| k.public_key()).collect();
        let follower_key = ed25519::PrivateKey::from_seed(1_000);
        let (network, oracle) = Network::new_with_split_peers(
            context.child("network"),
            simulated::Config {
                max_size: 16 * 1024 * 1024,
                max_peers_per_set: NZUsize!(VALIDATORS + 1),
                disconnect_on_block: true,
                tracked_peer_sets: NZUsize!(1),
            },
            peers.clone(),
            [follower_key.public_key()],
        )
        .await;
        network.start();
        let everyone: Vec<PublicKey> = peers
            .iter()
            .cloned()
            .chain([follower_key.public_key()])
            .collect();
        for a in &everyone {
            for b in &everyone {
                if a != b {
                    oracle
                        .add_link(a.clone(), b.clone(), LINK)
                        .await
                        .expect("link");
                }
            }
        }
        let spec = ChainSpec::from_arg("devnet").expect("devnet");
        let (dir, engine) = temp_engine(spec.clone());
        engine.init_genesis().expect("genesis");
        let follower = Follower {
            key: follower_key,
            engine,
            _dir: dir,
            handles: None,
        };
        let nodes = keys
            .into_iter()
            .map(|key| {
                let (dir, engine) = temp_engine(spec.clone());
                engine.init_genesis().expect("genesis");
                let env = hauptbuch_reth::node::pool_env(&engine).expect("pool env");
                let pool = TxPool::new(PoolConfig::default(), env);
                Node {
                    key,
                    engine,
                    pool,
                    _dir: dir,
                    handles: None,
                    unposted_bound: None,
                    corrupt_proposals: false,
                }
            })
            .collect();
        Self {
            context,
            oracle,
            validators,
            nodes,
            follower,
        }
    }

    async fn start_follower(&mut self) {
        let follower = &self.follower;
        let control = self.oracle.control(follower.key.public_key());
        let register = async |channel| register(&control, channel).await;
        let certificates = register(channels::CERTIFICATES).await;
        let blocks = register(channels::BLOCKS).await;
        let backfill = register(channels::BACKFILL).await;
        let config = consensus::FollowerConfig {
            key: follower.key.clone(),
            validators: self.validators.clone(),
            namespace: consensus::namespace(follower.engine.spec()),
            partition_prefix: "follower".into(),
        };
        let handles = consensus::start_follower(
            self.context.child("follower"),
            config,
            follower.engine.clone(),
            self.oracle.manager(),
            control,
            certificates,
            blocks,
            backfill,
        )
        .await
        .expect("start follower");
        self.follower.handles = Some(handles);
    }

    async fn crash_follower(&mut self) {
        if let Some(handles) = self.follower.handles.take() {
            stop(handles).await;
        }
    }

    fn follower_height(&self) -> u64 {
        self.follower.engine.head().expect("head").number
    }

    /// Waits (virtual time) until the follower committed `height`; panics after `limit`.
    async fn wait_for_follower(&self, height: u64, limit: Duration) {
        let deadline = self.context.current() + limit;
        while self.follower_height() < height {
            assert!(
                self.context.current() < deadline,
                "the follower did not reach height {height}: it is at {}, validators at {:?}",
                self.follower_height(),
                (0..VALIDATORS).map(|i| self.height(i)).collect::<Vec<_>>()
            );
            self.context.sleep(Duration::from_millis(50)).await;
        }
    }

    async fn start(&mut self, index: usize) {
        let node = &self.nodes[index];
        let control = self.oracle.control(node.key.public_key());
        let register = async |channel| register(&control, channel).await;
        let channels = Channels {
            votes: register(channels::VOTES).await,
            certificates: register(channels::CERTIFICATES).await,
            resolver: register(channels::RESOLVER).await,
            blocks: register(channels::BLOCKS).await,
            backfill: register(channels::BACKFILL).await,
        };
        let config = ValidatorConfig {
            key: node.key.clone(),
            validators: self.validators.clone(),
            namespace: consensus::namespace(node.engine.spec()),
            block_time: BLOCK_TIME,
            partition_prefix: format!("validator-{index}"),
            preconf: None,
            routes: None,
            unposted_bound: node.unposted_bound.clone(),
            corrupt_proposals: node.corrupt_proposals,
        };
        let handles = consensus::start_validator(
            self.context
                .child("validator")
                .with_attribute("index", index),
            config,
            node.engine.clone(),
            node.pool.clone(),
            self.oracle.manager(),
            control,
            channels,
        )
        .await
        .expect("start validator");
        self.nodes[index].handles = Some(handles);
    }

    async fn crash(&mut self, index: usize) {
        if let Some(handles) = self.nodes[index].handles.take() {
            stop(handles).await;
        }
    }

    fn height(&self, index: usize) -> u64 {
        self.nodes[index].engine.head().expect("head").number
    }

    /// Waits (virtual time) until every listed node committed `height`; panics after `limit`.
    async fn wait_for(&self, nodes: &[usize], height: u64, limit: Duration) {
        let deadline = self.context.current() + limit;
        while nodes.iter().any(|&i| self.height(i) < height) {
            assert!(
                self.context.current() < deadline,
                "nodes {nodes:?} did not reach height {height}: heights {:?}",
                (0..VALIDATORS).map(|i| self.height(i)).collect::<Vec<_>>()
            );
            self.context.sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every height committed by two nodes has the same hash on both; returns the lowest head.
    fn assert_consistent(&self) -> u64 {
        let heights: Vec<u64> = (0..VALIDATORS).map(|i| self.height(i)).collect();
        let top = *heights.iter().max().expect("nodes");
        for number in 1..=top {
            let hashes: Vec<_> = self
                .nodes
                .iter()
                .map(|node| &node.engine)
                .chain([&self.follower.engine])
                .filter_map(|engine| {
                    engine
                        .db()
                        .provider()
                        .expect("provider")
                        .canonical_hash(number)
                        .expect("canonical hash")
                })
                .collect();
            assert!(
                hashes.windows(2).all(|w| w[0] == w[1]),
                "conflicting blocks at height {number}: {hashes:?}"
            );
        }
        *heights.iter().min().expect("nodes")
    }
}

/// Aborts a node's actors and waits until they are gone (a crash).
async fn stop(handles: ValidatorHandles) {
    handles.abort();
    let _ = handles.consensus.await;
    let _ = handles.marshal.await;
    let _ = handles.finalizer.await;
}

/// Registers `channel` on the simulated network for the peer `control` belongs to.
async fn register(
    control: &simulated::Control<PublicKey, Context>,
    channel: u64,
) -> (
    simulated::Sender<PublicKey, Context>,
    simulated::Receiver<PublicKey>,
) {
    control
        .clone()
        .register(channel, QUOTA)
        .await
        .expect("register channel")
}

/// Puts `count` transfers of 1 wei from dev account `key` to `to` into `node`'s pool.
fn send_transfers(node: &Node, key: usize, count: u64, to: alloy_primitives::Address) {
    let signer: alloy_signer_local::PrivateKeySigner = DEV_KEYS[key].parse().expect("key");
    let chain_id = node.engine.spec().chain_id;
    let state = node.engine.db().provider().expect("provider");
    for nonce in 0..count {
        node.pool
            .add_transaction(transfer(&signer, chain_id, nonce, to, 1), &state)
            .expect("pool accepts transfer");
    }
}

fn simulate(seed: u64, scenario: impl AsyncFnOnce(&mut Cluster) + Send + 'static) {
    // `RUST_LOG=info cargo test consensus -- --nocapture` shows what the validators do.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let runner = deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_timeout(Some(Duration::from_secs(3_600))),
    );
    runner.start(|context| async move {
        let mut cluster = Cluster::new(context).await;
        scenario(&mut cluster).await;
        cluster.assert_consistent();
    });
}

#[test]
fn a_follower_on_the_validators_network_backfills_and_follows_the_finalized_chain() {
    simulate(11, async |cluster| {
        for i in 0..VALIDATORS {
            cluster.start(i).await;
        }
        let to = alloy_primitives::Address::with_last_byte(0xee);
        send_transfers(&cluster.nodes[1], 1, 5, to);
        cluster
            .wait_for(&[0, 1, 2, 3], 6, Duration::from_secs(60))
            .await;
        // Started late: blocks 1..6 come from backfill, later ones as they are finalized.
        cluster.start_follower().await;
        let target = cluster.height(0) + 4;
        cluster
            .wait_for_follower(target, Duration::from_secs(60))
            .await;
        let provider = cluster.follower.engine.db().provider().expect("provider");
        let account = provider.account(to).expect("read").expect("paid");
        assert_eq!(account.balance, alloy_primitives::U256::from(5));
        drop(provider);
        // Restarted from its data after the chain moved on, it catches up again.
        cluster.crash_follower().await;
        let before = cluster.follower_height();
        cluster
            .wait_for(&[0, 1, 2, 3], before + 5, Duration::from_secs(60))
            .await;
        cluster.start_follower().await;
        cluster
            .wait_for_follower(before + 5, Duration::from_secs(60))
            .await;
        cluster.crash_follower().await;
    });
}

#[test]
fn a_follower_blocks_a_peer_sending_garbage_certificates_and_keeps_following() {
    simulate(12, async |cluster| {
        // Validator 3 is Byzantine: it takes no part in consensus and sends the follower
        // certificates that do not decode; the other three finalize.
        for i in 0..3 {
            cluster.start(i).await;
        }
        cluster.start_follower().await;
        let byzantine = cluster.oracle.control(cluster.nodes[3].key.public_key());
        let (mut sender, _receiver) = register(&byzantine, channels::CERTIFICATES).await;
        let follower = cluster.follower.key.public_key();
        for garbage in [vec![], vec![2u8; 64], vec![0u8; 1_000]] {
            use commonware_p2p::Sender as _;
            sender.send(
                commonware_p2p::Recipients::One(follower.clone()),
                garbage,
                false,
            );
        }
        cluster
            .wait_for(&[0, 1, 2], 6, Duration::from_secs(60))
            .await;
        cluster.wait_for_follower(6, Duration::from_secs(60)).await;
        let blocked = cluster.oracle.blocked().await.expect("blocked peers");
        assert!(
            blocked.contains(&(follower, cluster.nodes[3].key.public_key())),
            "the follower blocked the sender of garbage: {blocked:?}"
        );
        cluster.crash_follower().await;
    });
}

#[test]
fn four_validators_finalize_the_same_chain_with_transactions() {
    simulate(1, async |cluster| {
        for i in 0..VALIDATORS {
            cluster.start(i).await;
        }
        // Transfers reach one validator's pool; they land once it leads a view.
        let spec = cluster.nodes[0].engine.spec().clone();
        let to = alloy_primitives::Address::with_last_byte(0xee);
        send_transfers(&cluster.nodes[2], 0, 5, to);
        cluster
            .wait_for(&[0, 1, 2, 3], 12, Duration::from_secs(60))
            .await;
        let low = cluster.assert_consistent();
        assert!(low >= 12);
        // Every transfer is included exactly once, and the recipient holds all five wei.
        let provider = cluster.nodes[1].engine.db().provider().expect("provider");
        let account = provider
            .account(to)
            .expect("account")
            .expect("recipient exists");
        assert_eq!(account.balance, alloy_primitives::U256::from(5));
        // Blocks carry their proposer's fee recipient and a finalization certificate.
        let header = provider
            .header_by_number(1)
            .expect("header")
            .expect("block 1");
        assert!(header.beneficiary != alloy_primitives::Address::ZERO);
        let certified = (1..=low)
            .filter(|&n| provider.certificate(n).expect("certificate").is_some())
            .count();
        assert!(certified > 0, "no certificates stored");

        // A stored certificate proves its block final to anyone holding the chainspec and the
        // validator set, and nothing else.
        let (number, certificate) = (1..=low)
            .find_map(|n| {
                provider
                    .certificate(n)
                    .expect("certificate")
                    .map(|c| (n, c))
            })
            .expect("a certified block");
        let hash = provider
            .canonical_hash(number)
            .expect("hash")
            .expect("canonical");
        let verifier = consensus::CertificateVerifier::new(&spec, &cluster.validators);
        verifier
            .verify(&certificate, hash)
            .expect("certificate verifies");
        assert!(matches!(
            verifier.verify(&certificate, alloy_primitives::B256::repeat_byte(7)),
            Err(consensus::CertificateError::OtherBlock { .. })
        ));
        let mut forged = certificate.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert!(verifier.verify(&forged, hash).is_err());
        assert!(verifier.verify(&certificate[..10], hash).is_err());
        let strangers: Vec<Validator> = (10..14u64)
            .map(|seed| Validator {
                public_key: alloy_primitives::B256::from_slice(
                    ed25519::PrivateKey::from_seed(seed).public_key().as_ref(),
                ),
                address: "127.0.0.1:1".into(),
                fee_recipient: Default::default(),
                preconf: None,
            })
            .collect();
        let strangers = ValidatorSet::from_chainspec(&strangers).expect("set");
        assert!(
            consensus::CertificateVerifier::new(&spec, &strangers)
                .verify(&certificate, hash)
                .is_err()
        );
    });
}

#[test]
fn a_block_that_fails_execution_is_not_voted_for_and_the_chain_goes_on() {
    simulate(7, async |cluster| {
        // Validator 0 proposes blocks with a wrong state root whenever it leads.
        cluster.nodes[0].corrupt_proposals = true;
        for i in 0..VALIDATORS {
            cluster.start(i).await;
        }
        cluster
            .wait_for(&[0, 1, 2, 3], 12, Duration::from_secs(120))
            .await;
        let low = cluster.assert_consistent();
        // Its views timed out: no finalized block is its, on any validator, and every block
        // on the chain executes to the state root its header names (validator 0 itself
        // re-executed the others' blocks to follow them).
        let bad_proposer = alloy_primitives::Address::with_last_byte(1);
        for node in &cluster.nodes {
            let provider = node.engine.db().provider().expect("provider");
            for number in 1..=low {
                let header = provider
                    .header_by_number(number)
                    .expect("header")
                    .expect("committed");
                assert_ne!(
                    header.beneficiary, bad_proposer,
                    "block {number} by the corrupt proposer was finalized"
                );
                assert_ne!(header.state_root, alloy_primitives::B256::repeat_byte(0xba));
            }
        }
        let proposers: std::collections::HashSet<_> = (1..=low)
            .map(|n| {
                cluster.nodes[1]
                    .engine
                    .db()
                    .provider()
                    .expect("provider")
                    .header_by_number(n)
                    .expect("header")
                    .expect("committed")
                    .beneficiary
            })
            .collect();
        assert!(proposers.len() >= 2, "the honest leaders carried the chain");
    });
}

#[test]
fn validators_at_their_unposted_bound_stop_proposing_until_posting_catches_up() {
    simulate(6, async |cluster| {
        // Validator 0 never sees anything posted: after 3 blocks it declines to propose, its
        // views time out and the other leaders carry the chain.
        let (bound, _stuck) = UnpostedBound::new(3, 0);
        cluster.nodes[0].unposted_bound = Some(bound);
        let mut posted = Vec::new();
        for i in 1..VALIDATORS {
            let (bound, height) = UnpostedBound::new(20, 0);
            cluster.nodes[i].unposted_bound = Some(bound);
            posted.push(height);
        }
        for i in 0..VALIDATORS {
            cluster.start(i).await;
        }
        cluster
            .wait_for(&[0, 1, 2, 3], 10, Duration::from_secs(120))
            .await;
        // Nothing posted anywhere: production stops at the others' bound of 20 (validator 0's
        // smaller bound only keeps it from leading) and stays there, without conflict.
        cluster
            .wait_for(&[0, 1, 2, 3], 20, Duration::from_secs(300))
            .await;
        cluster.context.sleep(Duration::from_secs(30)).await;
        assert_eq!(
            (0..VALIDATORS).map(|i| cluster.height(i)).max(),
            Some(20),
            "no block past the bound"
        );
        cluster.assert_consistent();
        // Posting catches up: production resumes.
        for height in &posted {
            height.set(20);
        }
        cluster
            .wait_for(&[0, 1, 2, 3], 30, Duration::from_secs(300))
            .await;
        let proposers: std::collections::HashSet<_> = (21..=30)
            .map(|n| {
                cluster.nodes[1]
                    .engine
                    .db()
                    .provider()
                    .expect("provider")
                    .header_by_number(n)
                    .expect("header")
                    .expect("block")
                    .beneficiary
            })
            .collect();
        assert!(
            !proposers.contains(&alloy_primitives::Address::with_last_byte(1)),
            "validator 0 proposed past its bound"
        );
    });
}

#[test]
fn one_crashed_validator_does_not_stop_finalization() {
    simulate(2, async |cluster| {
        for i in 0..VALIDATORS {
            cluster.start(i).await;
        }
        cluster
            .wait_for(&[0, 1, 2, 3], 3, Duration::from_secs(60))
            .await;
        cluster.crash(3).await;
        let before = cluster.height(0);
        cluster
            .wait_for(&[0, 1, 2], before + 10, Duration::from_secs(120))
            .await;
        // Restarted from its data, it catches up to the others.
        cluster.start(3).await;
        let target = cluster.height(0) + 3;
        cluster
            .wait_for(&[0, 1, 2, 3], target, Duration::from_secs(120))
            .await;
    });
}

#[test]
fn two_crashed_validators_stop_progress_until_they_return() {
    simulate(3, async |cluster| {
        for i in 0..VALIDATORS {
            cluster.start(i).await;
        }
        cluster
            .wait_for(&[0, 1, 2, 3], 3, Duration::from_secs(60))
            .await;
        cluster.crash(2).await;
        cluster.crash(3).await;
        // Let in-flight certificates land, then no quorum: no new block.
        cluster.context.sleep(Duration::from_secs(5)).await;
        let stalled = cluster.height(0).max(cluster.height(1));
        cluster.context.sleep(Duration::from_secs(20)).await;
        assert_eq!(cluster.height(0).max(cluster.height(1)), stalled);
        cluster.start(2).await;
        cluster.start(3).await;
        cluster
            .wait_for(&[0, 1, 2, 3], stalled + 5, Duration::from_secs(300))
            .await;
    });
}

#[test]
fn partition_and_heal_never_finalize_conflicting_blocks() {
    simulate(4, async |cluster| {
        for i in 0..VALIDATORS {
            cluster.start(i).await;
        }
        cluster
            .wait_for(&[0, 1, 2, 3], 3, Duration::from_secs(60))
            .await;
        let keys: Vec<PublicKey> = cluster.nodes.iter().map(|n| n.key.public_key()).collect();
        // Split 2 | 2: neither side has a quorum.
        for a in 0..2 {
            for b in 2..4 {
                cluster
                    .oracle
                    .remove_link(keys[a].clone(), keys[b].clone())
                    .await
                    .expect("unlink");
                cluster
                    .oracle
                    .remove_link(keys[b].clone(), keys[a].clone())
                    .await
                    .expect("unlink");
            }
        }
        cluster.context.sleep(Duration::from_secs(20)).await;
        cluster.assert_consistent();
        let split = (0..VALIDATORS)
            .map(|i| cluster.height(i))
            .max()
            .expect("nodes");
        for a in 0..2 {
            for b in 2..4 {
                cluster
                    .oracle
                    .add_link(keys[a].clone(), keys[b].clone(), LINK)
                    .await
                    .expect("link");
                cluster
                    .oracle
                    .add_link(keys[b].clone(), keys[a].clone(), LINK)
                    .await
                    .expect("link");
            }
        }
        cluster
            .wait_for(&[0, 1, 2, 3], split + 5, Duration::from_secs(300))
            .await;
    });
}

/// Blocks arrive from peers as bytes: anything but the canonical encoding of a block whose body
/// matches its header is a decoding error, never a panic.
#[test]
fn malformed_blocks_from_peers_are_rejected() {
    use commonware_codec::{Decode as _, Encode as _};
    use hauptbuch_reth::{consensus::ConsensusBlock, execution::BlockAttributes};
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let (_dir, engine) = temp_engine(spec.clone());
    engine.init_genesis().expect("genesis");
    let signer: alloy_signer_local::PrivateKeySigner = DEV_KEYS[0].parse().expect("key");
    let to = alloy_primitives::Address::with_last_byte(1);
    let built = engine
        .build_payload(
            BlockAttributes {
                timestamp: 1,
                gas_limit: spec.genesis_header.gas_limit,
                ..Default::default()
            },
            (0..2).map(|n| transfer(&signer, spec.chain_id, n, to, 1)),
        )
        .expect("build");
    let max = consensus::MAX_BLOCK_SIZE;
    let block = ConsensusBlock::new(built.block.clone());
    let bytes = block.encode().to_vec();
    let decoded = ConsensusBlock::decode_cfg(bytes.clone(), &max).expect("round trip");
    assert_eq!(decoded.hash(), built.hash);

    // Truncated, oversized length prefix, trailing bytes, garbage.
    assert!(ConsensusBlock::decode_cfg(bytes[..bytes.len() - 1].to_vec(), &max).is_err());
    assert!(ConsensusBlock::decode_cfg(bytes.clone(), &(bytes.len() - 10)).is_err());
    let mut trailing = bytes;
    trailing.push(0);
    assert!(ConsensusBlock::decode_cfg(trailing, &max).is_err());
    let mut garbage = vec![0, 0, 0, 8];
    garbage.extend([0xff; 8]);
    assert!(ConsensusBlock::decode_cfg(garbage, &max).is_err());

    // A body the header does not commit to (a transaction dropped).
    let mut stripped = built.block;
    stripped.body.transactions.pop();
    let bytes = ConsensusBlock::new(stripped).encode().to_vec();
    let err = ConsensusBlock::decode_cfg(bytes, &max).expect_err("body mismatch");
    assert!(format!("{err:?}").contains("transactions root"), "{err:?}");
}

/// A certified chain as it goes to DA: per block, the blob form (header RLP, transactions RLP,
/// certificate) and its hash.
type PostedChain = Vec<(hauptbuch_exex::celestia::BatchBlock, alloy_primitives::B256)>;
/// What the simulation hands to the derivation: chainspec, validator set, posted chain.
type Certified = (Arc<ChainSpec>, Arc<ValidatorSet>, PostedChain);

/// The blob form of canonical block `number` of `engine`, as the node's ExEx feed writes it.
fn posted_block(
    engine: &Engine,
    number: u64,
) -> (hauptbuch_exex::celestia::BatchBlock, alloy_primitives::B256) {
    use alloy_eips::Encodable2718 as _;
    let provider = engine.db().provider().expect("provider");
    let hash = provider
        .canonical_hash(number)
        .expect("hash")
        .expect("canonical");
    let header = provider.header(hash).expect("header").expect("exists");
    let body = provider.body(hash).expect("body").expect("exists");
    let envelopes: Vec<alloy_primitives::Bytes> = body
        .transactions
        .iter()
        .map(|tx| tx.encoded_2718().into())
        .collect();
    let mut transactions = Vec::new();
    alloy_rlp::encode_list::<alloy_primitives::Bytes, alloy_primitives::Bytes>(
        &envelopes,
        &mut transactions,
    );
    let block = hauptbuch_exex::celestia::BatchBlock {
        header: alloy_rlp::encode(&header).into(),
        transactions: transactions.into(),
        certificate: provider
            .certificate(number)
            .expect("certificate")
            .unwrap_or_default()
            .into(),
    };
    (block, hash)
}

#[test]
fn derivation_imports_only_blocks_a_finalization_certificate_covers() {
    // A certified chain of 8+ blocks with transfers, from the simulated network.
    let out: Arc<std::sync::Mutex<Option<Certified>>> = Arc::default();
    let captured = out.clone();
    simulate(3, async move |cluster| {
        for i in 0..VALIDATORS {
            cluster.start(i).await;
        }
        let spec = cluster.nodes[0].engine.spec().clone();
        let to = alloy_primitives::Address::with_last_byte(0xef);
        send_transfers(&cluster.nodes[0], 1, 4, to);
        cluster
            .wait_for(&[0, 1, 2, 3], 8, Duration::from_secs(60))
            .await;
        let low = cluster.assert_consistent();
        let engine = &cluster.nodes[0].engine;
        let chain = (1..=low).map(|n| posted_block(engine, n)).collect();
        *captured.lock().expect("lock") = Some((spec, cluster.validators.clone(), chain));
    });
    let (spec, validators, chain) = out.lock().expect("lock").take().expect("chain");
    // The real chain is imported up to its last block that carries a certificate.
    let last_certified = chain
        .iter()
        .rposition(|(b, _)| !b.certificate.is_empty())
        .expect("a certified block");
    let expected = chain[last_certified].1;

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        use celestia_rpc::prelude::*;
        use hauptbuch_exex::celestia::{BatchBlock, encode_blob};
        let da_dir = tempfile::tempdir().expect("tempdir");
        let mut config = hauptbuch_exex::da_server::DaServerConfig::new(da_dir.path());
        config.listen_addr = ([127, 0, 0, 1], 0).into();
        config.block_time = Duration::from_millis(100);
        let server = hauptbuch_exex::da_server::start(config)
            .await
            .expect("DA server");
        let token =
            std::fs::read_to_string(server.admin_token_path().expect("auth")).expect("token");
        let client = celestia_rpc::Client::new(&server.http_url(), Some(&token), None, None)
            .await
            .expect("client");
        let namespace = hauptbuch_reth::derive::namespace(&spec).expect("namespace");
        let post = |first: u64, blocks: Vec<BatchBlock>| {
            let blob = encode_blob(
                spec.chain_id,
                first,
                &blocks,
                hauptbuch_exex::celestia::MAX_BLOB_BYTES,
            )
            .expect("encode");
            celestia_types::Blob::new(namespace, blob.bytes.to_vec(), None).expect("blob")
        };
        let block = |n: usize| chain[n - 1].0.clone();
        let mut blobs = Vec::new();
        // Anyone's block 1 without a certificate: never imported (the old rule imported or
        // failed on it).
        let mut forged = block(1);
        forged.header = {
            let mut header: alloy_consensus::Header =
                alloy_rlp::Decodable::decode(&mut forged.header.as_ref()).expect("header");
            header.extra_data = alloy_primitives::Bytes::from_static(b"forged");
            alloy_rlp::encode(&header).into()
        };
        forged.certificate = Default::default();
        blobs.push(post(1, vec![forged]));
        // A copy of certified block `last_certified + 1` alone, before its ancestors: held
        // until they arrive.
        blobs.push(post(
            last_certified as u64 + 1,
            vec![block(last_certified + 1)],
        ));
        // The real block 1 with a broken certificate: the blob is skipped.
        let mut broken = block(1);
        if broken.certificate.is_empty() {
            broken.certificate = block(last_certified + 1).certificate;
        }
        let mut bytes = broken.certificate.to_vec();
        let end = bytes.len() - 1;
        bytes[end] ^= 1;
        broken.certificate = bytes.into();
        blobs.push(post(1, vec![broken]));
        // Then the real chain, in two blobs.
        let split = chain.len() / 2;
        blobs.push(post(1, (1..=split).map(block).collect()));
        blobs.push(post(
            split as u64 + 1,
            (split + 1..=chain.len()).map(block).collect(),
        ));
        for blob in blobs {
            client
                .blob_submit(&[blob], celestia_rpc::TxConfig::default())
                .await
                .expect("submit");
        }

        let (_dir, engine) = crate::common::temp_engine(spec.clone());
        engine.init_genesis().expect("genesis");
        let source =
            hauptbuch_reth::derive::DaSource::connect(&server.http_url(), Some(&token), namespace)
                .await
                .expect("source");
        let config = hauptbuch_reth::derive::DeriveConfig {
            confirm_only: false,
            from_height: None,
            end: hauptbuch_reth::derive::DeriveEnd::NetworkHead,
            certificates: Some(consensus::CertificateVerifier::new(&spec, &validators)),
        };
        let stats = hauptbuch_reth::derive::derive(
            &engine,
            &source,
            &config,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .expect("derivation");
        let head = engine.head().expect("head");
        assert_eq!(head.hash(), expected, "{stats:?}");
        assert_eq!(head.number, last_certified as u64 + 1);
        assert_eq!(
            stats.skipped_blobs, 1,
            "the broken certificate's blob: {stats:?}"
        );
        assert_eq!(stats.held, chain.len() - last_certified - 1, "{stats:?}");
        assert!(stats.certified >= 1, "{stats:?}");
        server.stop().await.expect("stop DA");
    });
}
