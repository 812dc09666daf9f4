//! Crash safety: SIGKILL in the middle of a long import leaves a database whose head is a fully
//! imported block, and a second import resumes from there to the end.

use crate::common::{binary, devnet_chain_rlp};
use hauptbuch_reth::{chainspec::ChainSpec, engine::Engine, storage::Database};
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, mpsc},
    time::Duration,
};

/// Blocks in the generated chain and the block after which the importer is killed.
const BLOCKS: u64 = 400;
const KILL_AFTER: u64 = 40;

#[test]
fn sigkill_during_import_leaves_a_whole_block_and_import_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rlp, last_hash) = devnet_chain_rlp(BLOCKS, 20);
    let file = dir.path().join("chain.rlp");
    std::fs::write(&file, rlp).expect("write chain");
    let datadir = dir.path().join("data");

    let mut child = Command::new(binary())
        .args([
            "import",
            "--chain",
            "devnet",
            "--log.filter",
            "hauptbuch=debug",
            "--datadir",
        ])
        .arg(&datadir)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn import");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("imported block") && tx.send(line).is_err() {
                break;
            }
        }
    });
    // Wait (bounded) until the importer has committed KILL_AFTER blocks, then SIGKILL it.
    let mut seen = 0;
    while seen < KILL_AFTER {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("import makes progress");
        seen += 1;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    {
        let db = Arc::new(Database::open(&datadir).expect("database opens after SIGKILL"));
        let engine = Engine::new(spec, db.clone());
        let head = engine.head().expect("head");
        assert!(
            head.number >= KILL_AFTER && head.number < BLOCKS,
            "killed mid-way at {}",
            head.number
        );
        let provider = db.provider().expect("provider");
        assert!(
            provider.body(head.hash()).expect("read").is_some(),
            "head body stored"
        );
        assert!(
            provider.receipts(head.hash()).expect("read").is_some(),
            "head receipts stored"
        );
        assert_eq!(
            provider.canonical_hash(head.number + 1).expect("read"),
            None
        );
    }

    let output = Command::new(binary())
        .args(["import", "--chain", "devnet", "--datadir"])
        .arg(&datadir)
        .arg(&file)
        .output()
        .expect("resume import");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("{BLOCKS} {last_hash}")),
        "{stdout}"
    );
}
