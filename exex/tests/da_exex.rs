//! The Celestia DA ExEx against the embedded DA server, through the real `celestia_rpc::Client`:
//! every block ends up on DA in order, becomes firm, survives restarts and DA outages.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use alloy_primitives::{Bytes, keccak256};
use celestia_rpc::Client;
use celestia_rpc::prelude::*;
use celestia_types::nmt::Namespace;
use hauptbuch_exex::celestia::{
    BatchBlock, DaExExConfig, DaExExError, DaLog, decode_blob, run_da_exex,
};
use hauptbuch_exex::da_server::{self, DaServerConfig, DaServerHandle, Permission};
use hauptbuch_exex::{BlockNumHash, CommittedBlock, ExExContext, ExExEvent, ExExNotification};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Bound for every wait in these tests (an outage adds backoff delays of up to several seconds).
const WAIT: Duration = Duration::from_secs(60);
const BLOCK_TIME: Duration = Duration::from_millis(150);
const NAMESPACE_ID: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0x48, 0x42, 0x01];
const CHAIN_ID: u64 = 7_700;

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

async fn start_da(dir: &Path, addr: SocketAddr) -> DaServerHandle {
    let mut config = DaServerConfig::new(dir);
    config.listen_addr = addr;
    config.block_time = BLOCK_TIME;
    da_server::start(config).await.expect("start DA server")
}

fn admin_token(server: &DaServerHandle) -> String {
    std::fs::read_to_string(server.admin_token_path().expect("auth on")).expect("token")
}

fn namespace() -> Namespace {
    Namespace::new_v0(&NAMESPACE_ID).expect("namespace")
}

fn config(url: String, token: Option<String>, data_dir: &Path) -> DaExExConfig {
    let mut config = DaExExConfig::new(url, Bytes::from(NAMESPACE_ID.to_vec()), CHAIN_ID, data_dir);
    config.auth_token = token;
    config.batch_interval = Duration::from_millis(300);
    // Small blobs, so batches close on size as well as on time.
    config.max_blob_bytes = 4096;
    config
}

fn hash(number: u64) -> alloy_primitives::B256 {
    keccak256(number.to_be_bytes())
}

/// A synthetic block whose transactions barely compress, 300–1100 bytes.
fn block(number: u64) -> CommittedBlock {
    let mut state = number.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let len = 300 + (number as usize * 37) % 800;
    let transactions: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    CommittedBlock {
        block: BlockNumHash {
            number,
            hash: hash(number),
        },
        timestamp,
        header: Bytes::from(format!("header {number}").into_bytes()),
        transactions: transactions.into(),
        certificate: Bytes::from(format!("certificate {number}").into_bytes()),
    }
}

fn batch_block(number: u64) -> BatchBlock {
    let b = block(number);
    BatchBlock {
        header: b.header,
        transactions: b.transactions,
        certificate: b.certificate,
    }
}

/// A running DA ExEx with the node's side of its context.
struct RunningExEx {
    notifications: mpsc::Sender<ExExNotification>,
    events: mpsc::UnboundedReceiver<ExExEvent>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), DaExExError>>,
    /// Highest `FinishedHeight` so far.
    finished: Option<u64>,
    /// Highest `Firm` so far.
    firm: Option<u64>,
    /// DA height of each firm report.
    firm_heights: Vec<u64>,
}

impl RunningExEx {
    fn start(config: DaExExConfig, finished: Option<u64>) -> Self {
        let (notifications, notifications_rx) = mpsc::channel(4);
        let (events_tx, events) = mpsc::unbounded_channel();
        let ctx = ExExContext {
            notifications: notifications_rx,
            events: events_tx,
            finished: finished.map(|number| BlockNumHash {
                number,
                hash: hash(number),
            }),
        };
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run_da_exex(ctx, config, cancel.clone()));
        Self {
            notifications,
            events,
            cancel,
            task,
            finished,
            firm: None,
            firm_heights: Vec::new(),
        }
    }

    /// Feeds blocks `from..=to`, a few per notification, as the node's ExEx manager does.
    async fn feed(&self, from: u64, to: u64) {
        let mut next = from;
        while next <= to {
            let last = (next + next % 3).min(to);
            let blocks = (next..=last).map(block).collect();
            within(
                "send notification",
                self.notifications
                    .send(ExExNotification::ChainCommitted { blocks }),
            )
            .await
            .expect("ExEx is running");
            next = last + 1;
        }
    }

    /// Checks one event against the ExEx contract and records it.
    fn apply(&mut self, event: ExExEvent) {
        match event {
            ExExEvent::FinishedHeight(block) => {
                assert_eq!(block.hash, hash(block.number), "finished hash");
                assert!(
                    self.finished.is_none_or(|f| block.number > f),
                    "FinishedHeight went from {:?} to {}",
                    self.finished,
                    block.number
                );
                self.finished = Some(block.number);
            }
            ExExEvent::Firm { block, location } => {
                assert_eq!(block.hash, hash(block.number), "firm hash");
                assert!(
                    self.firm.is_none_or(|f| block.number >= f),
                    "Firm went backwards from {:?} to {}",
                    self.firm,
                    block.number
                );
                assert!(
                    self.finished.is_some_and(|f| block.number <= f),
                    "Firm {} before FinishedHeight {:?}",
                    block.number,
                    self.finished
                );
                assert_eq!(location.namespace.as_ref(), namespace().as_bytes());
                self.firm = Some(block.number);
                self.firm_heights.push(location.height);
            }
        }
    }

    /// Waits until `FinishedHeight` and `Firm` reached `block`.
    async fn wait_firm(&mut self, block: u64) {
        self.wait_until(&format!("firm {block}"), |s| s.firm >= Some(block))
            .await;
    }

    async fn wait_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self) {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("ExEx stopped while waiting for {what}"));
            self.apply(event);
        }
    }

    /// Cancels the ExEx and waits for it to return; drains the events it sent.
    async fn stop(mut self) -> (Option<u64>, Option<u64>) {
        self.cancel.cancel();
        let result = within("ExEx stops on cancel", &mut self.task)
            .await
            .expect("join");
        result.expect("ExEx ends cleanly on cancel");
        while let Ok(event) = self.events.try_recv() {
            self.apply(event);
        }
        (self.finished, self.firm)
    }
}

/// Every Hauptbuch block in the namespace on DA, by number (duplicates must be identical),
/// with the DA height of its first appearance.
async fn blocks_on_da(server: &DaServerHandle) -> BTreeMap<u64, (u64, BatchBlock)> {
    let token = admin_token(server);
    let client = Client::new(&server.http_url(), Some(&token), None, Some(WAIT))
        .await
        .expect("client");
    let mut found: BTreeMap<u64, (u64, BatchBlock)> = BTreeMap::new();
    for height in 1..=server.head_height() {
        let blobs = within("blob.GetAll", client.blob_get_all(height, &[namespace()]))
            .await
            .expect("GetAll");
        for blob in blobs.unwrap_or_default() {
            let batch = decode_blob(&blob.data).expect("every blob decodes");
            assert_eq!(batch.header.chain_id, CHAIN_ID);
            for (offset, b) in batch.blocks.into_iter().enumerate() {
                let number = batch.header.first_block + offset as u64;
                match found.get(&number) {
                    Some((_, seen)) => assert_eq!(seen, &b, "duplicate of {number} differs"),
                    None => {
                        found.insert(number, (height, b));
                    }
                }
            }
        }
    }
    found
}

/// Asserts that DA holds exactly blocks `1..=last`, each as it was fed, and that the log
/// points at a DA height holding it.
async fn assert_da_holds(server: &DaServerHandle, log: &DaLog, last: u64) {
    let found = blocks_on_da(server).await;
    let numbers: Vec<u64> = found.keys().copied().collect();
    assert_eq!(numbers, (1..=last).collect::<Vec<_>>(), "blocks on DA");
    for (number, (_, b)) in &found {
        assert_eq!(b, &batch_block(*number), "block {number} on DA");
        let location = log
            .location(*number)
            .expect("location")
            .unwrap_or_else(|| panic!("log knows where block {number} is"));
        assert_eq!(location.namespace.as_ref(), namespace().as_bytes());
        // The recorded blob is at the recorded height (a resubmitted duplicate may sit later).
        let token = admin_token(server);
        let client = Client::new(&server.http_url(), Some(&token), None, Some(WAIT))
            .await
            .expect("client");
        let commitment = celestia_types::Commitment::new(location.commitment.0);
        let blob = within(
            "blob.Get",
            client.blob_get(location.height, namespace(), commitment),
        )
        .await
        .expect("the logged location holds the blob");
        let batch = decode_blob(&blob.data).expect("decode");
        assert!((batch.header.first_block..=batch.header.last_block).contains(number));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_block_is_posted_in_order_and_becomes_firm() {
    let da_dir = tempfile::tempdir().expect("tempdir");
    let exex_dir = tempfile::tempdir().expect("tempdir");
    let server = start_da(da_dir.path(), "127.0.0.1:0".parse().expect("addr")).await;
    let token = admin_token(&server);
    let mut exex = RunningExEx::start(
        config(server.http_url(), Some(token), exex_dir.path()),
        None,
    );

    exex.feed(1, 30).await;
    exex.wait_firm(30).await;
    assert_eq!(exex.finished, Some(30));
    assert!(
        exex.firm_heights.windows(2).all(|w| w[0] <= w[1]),
        "firm DA heights in order: {:?}",
        exex.firm_heights
    );

    // The node reads the log while the ExEx has it open.
    let log = DaLog::open(exex_dir.path()).expect("open log beside the ExEx");
    let status = log.status().expect("status");
    assert_eq!(status.last_recorded_block, Some(30));
    assert_eq!(status.last_submitted_block, Some(30));
    assert_eq!(status.last_firm_block, Some(30));
    assert_eq!((status.unsubmitted_batches, status.pending_batches), (0, 0));
    assert_eq!(status.pending_bytes, 0);
    assert!(
        status
            .last_da_height
            .is_some_and(|h| h >= exex.firm_heights[0])
    );
    assert_eq!(log.location(31).expect("location"), None);
    assert_eq!(log.location(0).expect("location"), None);

    assert_da_holds(&server, &log, 30).await;
    // 30 blocks of ~1 KiB in 4 KiB blobs: batches closed on size.
    let batches: std::collections::BTreeSet<_> = (1..=30)
        .map(|n| log.location(n).expect("location").expect("some").commitment)
        .collect();
    assert!(batches.len() >= 6, "{} batches", batches.len());

    exex.stop().await;
    server.stop().await.expect("stop DA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_continues_without_gaps_and_resubmits_what_was_never_confirmed() {
    let da_dir = tempfile::tempdir().expect("tempdir");
    let exex_dir = tempfile::tempdir().expect("tempdir");
    let server = start_da(da_dir.path(), "127.0.0.1:0".parse().expect("addr")).await;
    let addr = server.local_addr();
    let token = admin_token(&server);
    let cfg = config(server.ws_url(), Some(token), exex_dir.path());

    // First run: blocks 1..=10 posted and firm.
    let mut exex = RunningExEx::start(cfg.clone(), None);
    exex.feed(1, 10).await;
    exex.wait_firm(10).await;
    let (finished, _) = exex.stop().await;
    assert_eq!(finished, Some(10));

    // Second run, DA down: blocks 11..=16 are batched and logged but never confirmed.
    server.stop().await.expect("stop DA");
    let exex = RunningExEx::start(cfg.clone(), finished);
    exex.feed(11, 16).await;
    let log = DaLog::open(exex_dir.path()).expect("log");
    within("batches logged while DA is down", async {
        while log.status().expect("status").last_recorded_block < Some(16) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let status = log.status().expect("status");
    assert!(status.unsubmitted_batches >= 1, "{status:?}");
    assert_eq!(status.last_submitted_block, Some(10));
    assert_eq!(log.location(12).expect("location"), None);
    let (finished, _) = exex.stop().await;
    assert_eq!(
        finished,
        Some(10),
        "nothing unconfirmed is reported finished"
    );

    // Third run, DA back: the logged batches are resubmitted, the node replays from 11 (the
    // ExEx skips what the log holds) and everything continues to 25.
    let server = start_da(da_dir.path(), addr).await;
    let mut exex = RunningExEx::start(cfg.clone(), finished);
    exex.feed(11, 25).await;
    exex.wait_firm(25).await;
    let (finished, _) = exex.stop().await;
    assert_eq!(finished, Some(25));

    // Fourth run as after a crash before the node persisted FinishedHeight(25): it replays
    // 21..=30; the ExEx reports 25 at once and posts only 26..=30.
    let mut exex = RunningExEx::start(cfg, Some(20));
    exex.wait_until("FinishedHeight 25 re-reported", |s| s.finished == Some(25))
        .await;
    exex.feed(21, 30).await;
    exex.wait_firm(30).await;
    exex.stop().await;

    assert_da_holds(&server, &log, 30).await;
    let status = log.status().expect("status");
    assert_eq!(status.last_firm_block, Some(30));
    assert_eq!((status.unsubmitted_batches, status.pending_batches), (0, 0));
    server.stop().await.expect("stop DA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_da_outage_delays_batches_but_loses_none() {
    da_outage(DaServerHandle::http_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_da_outage_over_websocket_reconnects_and_loses_nothing() {
    da_outage(DaServerHandle::ws_url).await;
}

/// Stops the DA server under load and brings it back on the same port and data dir.
async fn da_outage(url: fn(&DaServerHandle) -> String) {
    let da_dir = tempfile::tempdir().expect("tempdir");
    let exex_dir = tempfile::tempdir().expect("tempdir");
    let server = start_da(da_dir.path(), "127.0.0.1:0".parse().expect("addr")).await;
    let addr = server.local_addr();
    let token = admin_token(&server);
    let mut exex = RunningExEx::start(config(url(&server), Some(token), exex_dir.path()), None);
    exex.feed(1, 5).await;
    exex.wait_firm(5).await;

    server.stop().await.expect("stop DA");
    exex.feed(6, 20).await;
    // Blocks keep coming while DA is away; nothing past 5 can be confirmed.
    let log = DaLog::open(exex_dir.path()).expect("log");
    within("batches logged during the outage", async {
        while log.status().expect("status").last_recorded_block < Some(18) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    while let Ok(event) = exex.events.try_recv() {
        exex.apply(event);
    }
    assert_eq!(exex.finished, Some(5));
    assert_eq!(log.status().expect("status").last_submitted_block, Some(5));

    let server = start_da(da_dir.path(), addr).await;
    exex.wait_firm(20).await;
    assert_eq!(exex.finished, Some(20));
    assert_da_holds(&server, &log, 20).await;
    exex.stop().await;
    server.stop().await.expect("stop DA");
}

/// How many blobs hold each block, by block number.
async fn copies_on_da(server: &DaServerHandle) -> BTreeMap<u64, usize> {
    let token = admin_token(server);
    let client = Client::new(&server.http_url(), Some(&token), None, Some(WAIT))
        .await
        .expect("client");
    let mut copies = BTreeMap::new();
    for height in 1..=server.head_height() {
        let blobs = within("blob.GetAll", client.blob_get_all(height, &[namespace()]))
            .await
            .expect("GetAll");
        for blob in blobs.unwrap_or_default() {
            let header = decode_blob(&blob.data).expect("decodes").header;
            for number in header.first_block..=header.last_block {
                *copies.entry(number).or_default() += 1;
            }
        }
    }
    copies
}

/// A DA server and the data dirs of a primary and a standby poster.
struct Pair {
    _da_dir: tempfile::TempDir,
    primary_dir: tempfile::TempDir,
    standby_dir: tempfile::TempDir,
    server: DaServerHandle,
    token: String,
}

impl Pair {
    async fn start() -> Self {
        let da_dir = tempfile::tempdir().expect("tempdir");
        let server = start_da(da_dir.path(), "127.0.0.1:0".parse().expect("addr")).await;
        let token = admin_token(&server);
        Self {
            _da_dir: da_dir,
            primary_dir: tempfile::tempdir().expect("dir"),
            standby_dir: tempfile::tempdir().expect("dir"),
            server,
            token,
        }
    }
}

fn standby(mut config: DaExExConfig, failover_delay: Duration) -> DaExExConfig {
    config.poster.rank = 1;
    config.poster.failover_delay = failover_delay;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_posts_nothing_while_the_primary_posts_and_finds_the_same_blocks_firm() {
    let Pair {
        _da_dir,
        primary_dir,
        standby_dir,
        server,
        token,
    } = Pair::start().await;
    let mut primary = RunningExEx::start(
        config(server.http_url(), Some(token.clone()), primary_dir.path()),
        None,
    );
    // The failover delay is far longer than the test: the standby never posts.
    let mut standby_exex = RunningExEx::start(
        standby(
            config(server.http_url(), Some(token), standby_dir.path()),
            WAIT * 10,
        ),
        None,
    );
    for (from, to) in [(1, 10), (11, 30)] {
        standby_exex.feed(from, to).await;
        primary.feed(from, to).await;
    }
    primary.wait_firm(30).await;
    standby_exex.wait_firm(30).await;
    assert_eq!(standby_exex.finished, Some(30));

    let copies = copies_on_da(&server).await;
    assert_eq!(
        copies,
        (1..=30).map(|n| (n, 1)).collect::<BTreeMap<_, _>>(),
        "every block posted once"
    );
    // The standby's log points at the primary's blobs, block by block.
    let standby_log = DaLog::open(standby_dir.path()).expect("log");
    assert_da_holds(&server, &standby_log, 30).await;
    let status = standby_log.status().expect("status");
    assert_eq!(status.last_firm_block, Some(30));
    assert_eq!(status.unsubmitted_batches, 0);

    primary.stop().await;
    standby_exex.stop().await;
    server.stop().await.expect("stop DA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_posts_what_the_primary_leaves_out_and_stands_by_again_when_it_returns() {
    let Pair {
        _da_dir,
        primary_dir,
        standby_dir,
        server,
        token,
    } = Pair::start().await;
    let mut standby_exex = RunningExEx::start(
        standby(
            config(server.http_url(), Some(token.clone()), standby_dir.path()),
            Duration::from_millis(500),
        ),
        None,
    );
    // No primary: the standby posts 1..=10 itself once they waited the failover delay.
    standby_exex.feed(1, 10).await;
    standby_exex.wait_firm(10).await;
    assert_eq!(
        copies_on_da(&server).await,
        (1..=10).map(|n| (n, 1)).collect::<BTreeMap<_, _>>()
    );

    // The primary is back and posts 11..=20 before the standby has them.
    let mut primary = RunningExEx::start(
        config(server.http_url(), Some(token), primary_dir.path()),
        Some(10),
    );
    primary.feed(11, 20).await;
    primary.wait_firm(20).await;
    // Give the standby's watcher (one DA read a second) time to see the primary's blobs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    standby_exex.feed(11, 20).await;
    standby_exex.wait_firm(20).await;
    let copies = copies_on_da(&server).await;
    assert_eq!(
        copies,
        (1..=20).map(|n| (n, 1)).collect::<BTreeMap<_, _>>(),
        "the standby stood by again instead of posting 11..=20 twice"
    );
    let standby_log = DaLog::open(standby_dir.path()).expect("log");
    assert_da_holds(&server, &standby_log, 20).await;

    primary.stop().await;
    standby_exex.stop().await;
    server.stop().await.expect("stop DA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_hold_firm_back_until_the_da_head_passes_the_inclusion_height() {
    const CONFIRMATIONS: u64 = 15;
    let da_dir = tempfile::tempdir().expect("tempdir");
    let exex_dir = tempfile::tempdir().expect("tempdir");
    let server = start_da(da_dir.path(), "127.0.0.1:0".parse().expect("addr")).await;
    let mut cfg = config(
        server.http_url(),
        Some(admin_token(&server)),
        exex_dir.path(),
    );
    cfg.confirmations = CONFIRMATIONS;
    let mut exex = RunningExEx::start(cfg, None);
    exex.feed(1, 3).await;
    exex.wait_until("FinishedHeight 3", |s| s.finished == Some(3))
        .await;
    // Inclusion just happened; 15 more DA blocks take over 2 s.
    let log = DaLog::open(exex_dir.path()).expect("log");
    let status = log.status().expect("status");
    assert_eq!(exex.firm, None);
    assert_eq!(status.last_firm_block, None);
    assert!(status.pending_batches >= 1, "{status:?}");
    let included = log
        .location(3)
        .expect("location")
        .expect("submitted")
        .height;

    exex.wait_firm(3).await;
    assert!(
        server.head_height() >= included + CONFIRMATIONS,
        "firm at DA head {} for inclusion at {included}",
        server.head_height()
    );
    exex.stop().await;
    server.stop().await.expect("stop DA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_write_permission_is_an_error_not_a_retry_loop() {
    let da_dir = tempfile::tempdir().expect("tempdir");
    let exex_dir = tempfile::tempdir().expect("tempdir");
    let server = start_da(da_dir.path(), "127.0.0.1:0".parse().expect("addr")).await;
    let read_only = server.issue_token(&[Permission::Read]).expect("token");
    let exex = RunningExEx::start(
        config(server.http_url(), Some(read_only), exex_dir.path()),
        None,
    );
    exex.feed(1, 3).await;
    let err = within("ExEx fails", exex.task)
        .await
        .expect("join")
        .expect_err("a read-only token cannot submit");
    assert!(
        matches!(err, DaExExError::Rejected { first: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("missing permission"), "{err}");
    // The batch stays in the log for a retry with a proper token.
    let log = DaLog::open(exex_dir.path()).expect("log");
    assert_eq!(log.status().expect("status").unsubmitted_batches, 1);
    server.stop().await.expect("stop DA");
}

#[tokio::test]
async fn bad_configuration_is_rejected_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config("http://127.0.0.1:1".into(), None, dir.path());
    cfg.namespace = Bytes::from_static(b"short");
    let (_tx, rx) = mpsc::channel(1);
    let (events, _events_rx) = mpsc::unbounded_channel();
    let ctx = ExExContext {
        notifications: rx,
        events,
        finished: None,
    };
    let err = run_da_exex(ctx, cfg.clone(), CancellationToken::new())
        .await
        .expect_err("bad namespace");
    assert!(err.to_string().contains("10-byte"), "{err}");

    cfg.namespace = Bytes::from(NAMESPACE_ID.to_vec());
    cfg.url = "tcp://127.0.0.1:1".into();
    let (_tx, rx) = mpsc::channel(1);
    let (events, _events_rx) = mpsc::unbounded_channel();
    let ctx = ExExContext {
        notifications: rx,
        events,
        finished: None,
    };
    let err = run_da_exex(ctx, cfg, CancellationToken::new())
        .await
        .expect_err("bad url");
    assert!(err.to_string().contains("tcp://"), "{err}");
}
