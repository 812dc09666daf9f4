//! The embedded DA server driven by the real `celestia_rpc::Client` over HTTP and WebSocket.

use std::future::Future;
use std::time::Duration;

use celestia_rpc::prelude::*;
use celestia_rpc::{Client, TxConfig};
use celestia_types::nmt::Namespace;
use celestia_types::{Blob, Commitment};
use futures::StreamExt;
use hauptbuch_exex::da_server::{self, DaServerConfig, DaServerHandle, Permission};
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;

/// Bound for every wait in these tests.
const WAIT: Duration = Duration::from_secs(20);
const BLOCK_TIME: Duration = Duration::from_millis(200);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

async fn start_in(dir: &std::path::Path, auth: bool) -> DaServerHandle {
    let mut config = DaServerConfig::new(dir);
    config.listen_addr = "127.0.0.1:0".parse().expect("addr");
    config.block_time = BLOCK_TIME;
    config.auth = auth;
    da_server::start(config).await.expect("start DA server")
}

fn admin_token(server: &DaServerHandle) -> String {
    let path = server.admin_token_path().expect("auth is on");
    std::fs::read_to_string(path).expect("read token file")
}

async fn http_client(server: &DaServerHandle, token: Option<&str>) -> Client {
    Client::new(&server.http_url(), token, None, Some(WAIT))
        .await
        .expect("http client")
}

async fn ws_client(server: &DaServerHandle, token: Option<&str>) -> Client {
    within(
        "ws connect",
        Client::new(&server.ws_url(), token, Some(WAIT), Some(WAIT)),
    )
    .await
    .expect("ws client")
}

fn ns(id: u8) -> Namespace {
    Namespace::new_v0(&[0, 0, 0, 0, 0, 0, 0, 0, 0x42, id]).expect("namespace")
}

fn blob(namespace: Namespace, data: &[u8]) -> Blob {
    Blob::new(namespace, data.to_vec(), None).expect("blob")
}

fn call_error(err: ClientError) -> (i32, String) {
    match err {
        ClientError::Call(obj) => (obj.code(), obj.message().to_string()),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_blobs_come_back_by_height_namespace_and_commitment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), true).await;
    let token = admin_token(&server);
    let client = http_client(&server, Some(&token)).await;

    let a1 = blob(ns(1), b"first blob in namespace one");
    let a2 = blob(ns(1), &vec![7u8; 5_000]);
    let b1 = blob(ns(2), b"namespace two");
    // Submitted out of namespace order; the square sorts them.
    let blobs = vec![b1.clone(), a1.clone(), a2.clone()];
    let height = within("submit", client.blob_submit(&blobs, TxConfig::default()))
        .await
        .expect("submit");
    assert!(
        height >= 2,
        "block 1 exists before any submission, got {height}"
    );

    let got = client
        .blob_get(height, ns(1), a2.commitment)
        .await
        .expect("get");
    assert_eq!(got.data, a2.data);
    assert_eq!(got.commitment, a2.commitment);
    assert!(
        got.index.is_some(),
        "retrieved blobs carry their share index"
    );
    got.validate().expect("commitment matches");

    let all = client
        .blob_get_all(height, &[ns(2), ns(1)])
        .await
        .expect("get all")
        .expect("some");
    let datas: Vec<&[u8]> = all.iter().map(|b| b.data.as_slice()).collect();
    assert_eq!(datas, vec![&b1.data[..], &a1.data[..], &a2.data[..]]);

    let none = client
        .blob_get_all(height, &[ns(3)])
        .await
        .expect("get all empty");
    assert_eq!(
        none, None,
        "GetAll answers null for a namespace without blobs"
    );

    let (code, message) = call_error(
        client
            .blob_get(height, ns(1), Commitment::new([9; 32]))
            .await
            .expect_err("missing blob"),
    );
    assert_eq!((code, message.as_str()), (1, "blob: not found"));
    let (_, message) = call_error(
        client
            .blob_get(height, ns(3), a1.commitment)
            .await
            .expect_err("wrong ns"),
    );
    assert_eq!(message, "blob: not found");

    // Proofs verify against the header's row roots and are accepted by Included.
    let header = client.header_get_by_height(height).await.expect("header");
    header.validate().expect("header validates");
    let proofs = client
        .blob_get_proof(height, ns(1), a2.commitment)
        .await
        .expect("proof");
    assert!(!proofs.is_empty());
    let shares = a2.to_shares().expect("shares");
    let eds_width = header.dah.square_width() as u64;
    let first_row = (got.index.expect("index") / eds_width) as u16;
    let mut used = 0;
    for (row, proof) in (first_row..).zip(&proofs) {
        let n = (proof.end_idx() - proof.start_idx()) as usize;
        let leaves: Vec<&[u8]> = shares[used..used + n].iter().map(|s| s.as_ref()).collect();
        let root = header.dah.row_root(row).expect("row root");
        proof
            .verify_range(&root, &leaves, *ns(1))
            .expect("proof verifies against DAH");
        used += n;
    }
    assert_eq!(used, shares.len());
    let included = client
        .blob_included(height, ns(1), &proofs[0], a2.commitment)
        .await
        .expect("included");
    assert!(included);
    let elsewhere = client
        .blob_included(height, ns(1), &proofs[0], Commitment::new([1; 32]))
        .await;
    assert!(!elsewhere.expect("included for a missing blob"));

    let (_, message) = call_error(
        client
            .blob_submit(&[], TxConfig::default())
            .await
            .expect_err("no blobs"),
    );
    assert_eq!(message, "state: no blobs provided");
    let reserved = Blob::new(Namespace::TRANSACTION, b"x".to_vec(), None).expect("blob");
    let (_, message) = call_error(
        client
            .blob_submit(&[reserved], TxConfig::default())
            .await
            .expect_err("reserved"),
    );
    assert!(message.starts_with("not allowed namespace"), "{message}");

    let (_, message) = call_error(
        client
            .blob_get(height + 1_000, ns(1), a1.commitment)
            .await
            .expect_err("future"),
    );
    assert!(
        message.starts_with("header: given height is from the future"),
        "{message}"
    );
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_advance_and_wait_for_height_blocks_until_the_height_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), false).await;
    let client = http_client(&server, None).await;

    let head = client.header_network_head().await.expect("network head");
    let local = client.header_local_head().await.expect("local head");
    assert!(local.height() >= head.height());
    head.validate().expect("head validates");

    let target = head.height() + 3;
    let waited = within("wait for height", client.header_wait_for_height(target))
        .await
        .expect("wait for height");
    assert_eq!(waited.height(), target);
    let later = client.header_network_head().await.expect("head");
    assert!(
        later.height() >= target,
        "heights advance with the block time"
    );

    // Consecutive headers form a verifiable chain.
    let prev = client.header_get_by_height(target - 1).await.expect("prev");
    prev.verify_adjacent(&waited).expect("adjacent");
    let by_hash = client
        .header_get_by_hash(waited.hash())
        .await
        .expect("by hash");
    assert_eq!(by_hash, waited);
    let range = client
        .header_get_range_by_height(prev.clone(), target + 1)
        .await
        .expect("range");
    assert_eq!(range, vec![waited.clone()]);

    let (_, message) = call_error(client.header_get_by_height(0).await.expect_err("zero"));
    assert_eq!(message, "height is equal to 0");
    let (_, message) = call_error(
        client
            .header_get_by_height(later.height() + 100)
            .await
            .expect_err("future"),
    );
    assert!(message.starts_with("header: given height is from the future: networkHeight:"));

    // WaitForHeight really waits: a short client timeout expires on a far height.
    let impatient = Client::new(
        &server.http_url(),
        None,
        None,
        Some(Duration::from_millis(300)),
    )
    .await
    .expect("client");
    let err = impatient
        .header_wait_for_height(later.height() + 1_000)
        .await
        .expect_err("timeout");
    assert!(matches!(err, ClientError::RequestTimeout), "{err:?}");
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_blocks_blobs_and_the_header_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), true).await;
    let token = admin_token(&server);
    let client = http_client(&server, Some(&token)).await;
    let stored = blob(ns(5), b"survives a restart");
    let height = within(
        "submit",
        client.blob_submit(std::slice::from_ref(&stored), TxConfig::default()),
    )
    .await
    .expect("submit");
    let old_head = client.header_network_head().await.expect("head");
    server.stop().await.expect("stop");

    let server = start_in(dir.path(), true).await;
    // Same secret, so the old token still works.
    let client = http_client(&server, Some(&token)).await;
    let got = client
        .blob_get(height, ns(5), stored.commitment)
        .await
        .expect("get after restart");
    assert_eq!(got.data, stored.data);
    let next = within(
        "next height",
        client.header_wait_for_height(old_head.height() + 1),
    )
    .await
    .expect("next header");
    let again = client
        .header_get_by_height(old_head.height())
        .await
        .expect("old head");
    assert_eq!(again, old_head);
    old_head
        .verify_adjacent(&next)
        .expect("the chain continues across the restart");
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_invalid_and_insufficient_tokens_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), true).await;

    for token in [None, Some("garbage"), Some("a.b.c")] {
        let client = http_client(&server, token).await;
        let err = client.header_network_head().await.expect_err("rejected");
        assert!(err.to_string().contains("401"), "{token:?}: {err}");
    }
    let foreign_dir = tempfile::tempdir().expect("tempdir");
    let foreign = hauptbuch_exex::da_server::JwtSecret::load_or_create(foreign_dir.path())
        .expect("secret")
        .issue(&Permission::ALL);
    let err = http_client(&server, Some(&foreign))
        .await
        .header_network_head()
        .await
        .expect_err("foreign");
    assert!(err.to_string().contains("401"), "{err}");

    let ws = Client::new(&server.ws_url(), Some("garbage"), Some(WAIT), Some(WAIT)).await;
    let err = ws.expect_err("ws handshake rejected");
    assert!(err.to_string().contains("401"), "{err}");

    let read_only = server
        .issue_token(&[Permission::Public, Permission::Read])
        .expect("token");
    let client = http_client(&server, Some(&read_only)).await;
    client.header_network_head().await.expect("read allowed");
    let (code, message) = call_error(
        client
            .blob_submit(&[blob(ns(1), b"x")], TxConfig::default())
            .await
            .expect_err("write needed"),
    );
    assert_eq!(
        (code, message.as_str()),
        (1, "missing permission to invoke 'Submit' (need 'write')")
    );

    let public_only = server.issue_token(&[Permission::Public]).expect("token");
    let client = http_client(&server, Some(&public_only)).await;
    let (_, message) = call_error(client.header_network_head().await.expect_err("read needed"));
    assert_eq!(
        message,
        "missing permission to invoke 'NetworkHead' (need 'read')"
    );
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_and_header_subscriptions_stream_over_websocket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), true).await;
    let token = admin_token(&server);
    let ws = ws_client(&server, Some(&token)).await;
    let http = http_client(&server, Some(&token)).await;

    let mut blobs = ws.blob_subscribe(ns(9));
    // The first item proves the subscription is live before submitting.
    let first = within("first blob item", blobs.next())
        .await
        .expect("item")
        .expect("ok");
    let submitted = blob(ns(9), b"streamed");
    let height = within(
        "submit",
        http.blob_submit(std::slice::from_ref(&submitted), TxConfig::default()),
    )
    .await
    .expect("submit");
    let mut last = first.height;
    let item = loop {
        let item = within("blob item", blobs.next())
            .await
            .expect("item")
            .expect("ok");
        assert_eq!(item.height, last + 1, "one item per block, in order");
        last = item.height;
        if item.height == height {
            break item;
        }
        assert_eq!(
            item.blobs, None,
            "no blobs in this namespace at {}",
            item.height
        );
    };
    let got = item.blobs.expect("blobs at the inclusion height");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, submitted.data);
    assert_eq!(got[0].commitment, submitted.commitment);
    drop(blobs);

    // Over HTTP, celestia-rpc falls back to header.WaitForHeight + blob.GetAll per height.
    let mut polled = http.blob_subscribe(ns(9));
    let a = within("http blob item", polled.next())
        .await
        .expect("item")
        .expect("ok");
    let b = within("http blob item", polled.next())
        .await
        .expect("item")
        .expect("ok");
    assert_eq!(b.height, a.height + 1);
    drop(polled);

    // header.Subscribe: the client checks each header validates and is adjacent to the last.
    // celestia-rpc reads `header.LocalHead` and then subscribes; a block produced between the
    // two calls makes its first adjacency check fail (as against celestia-node), so a failure
    // on the very first item is retried.
    let mut attempts = 0;
    let (mut headers, first) = loop {
        attempts += 1;
        let mut headers = ws.header_subscribe();
        match within("first header", headers.next()).await.expect("item") {
            Ok(header) => break (headers, header),
            Err(err) if attempts < 3 => eprintln!("retrying header subscription: {err}"),
            Err(err) => panic!("header subscription failed {attempts} times: {err}"),
        }
    };
    let mut prev = first.height();
    for _ in 0..3 {
        let header = within("header item", headers.next())
            .await
            .expect("item")
            .expect("valid, adjacent header");
        assert_eq!(header.height(), prev + 1);
        prev = header.height();
    }
    drop(headers);
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_shapes_match_celestia_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), false).await;
    let client = http_client(&server, None).await;
    let submitted = blob(ns(4), b"shape");
    let height = within(
        "submit",
        client.blob_submit(&[submitted], TxConfig::default()),
    )
    .await
    .expect("submit");

    let blobs: serde_json::Value = client
        .request("blob.GetAll", rpc_params![height, [ns(4)]])
        .await
        .expect("raw GetAll");
    let blob = &blobs[0];
    for key in ["namespace", "data", "share_version", "commitment", "index"] {
        assert!(blob.get(key).is_some(), "blob lacks {key}: {blob}");
    }
    assert_eq!(
        blob["namespace"],
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQgQ="
    );
    assert_eq!(blob["share_version"], 0);
    assert!(blob["index"].is_u64());

    // celestia-node's blob.Included takes the whole row-proof array (celestia-rpc sends one).
    let commitment = blob["commitment"].clone();
    let proofs: serde_json::Value = client
        .request(
            "blob.GetProof",
            rpc_params![height, ns(4), commitment.clone()],
        )
        .await
        .expect("raw GetProof");
    assert!(
        proofs[0].get("end").is_some() && proofs[0]["nodes"].is_array(),
        "{proofs}"
    );
    let included: bool = client
        .request(
            "blob.Included",
            rpc_params![height, ns(4), proofs, commitment.clone()],
        )
        .await
        .expect("Included with an array of proofs");
    assert!(included);
    let err = client
        .request::<bool, _>(
            "blob.Included",
            rpc_params![height, ns(4), serde_json::Value::Null, commitment],
        )
        .await
        .expect_err("null proof");
    assert_eq!(call_error(err).1, "blob: proof cannot be nil");

    let empty: serde_json::Value = client
        .request("blob.GetAll", rpc_params![height, [ns(8)]])
        .await
        .expect("raw GetAll");
    assert!(empty.is_null());

    let header: serde_json::Value = client
        .request("header.GetByHeight", rpc_params![height])
        .await
        .expect("raw header");
    for key in ["header", "commit", "validator_set", "dah"] {
        assert!(header.get(key).is_some(), "header lacks {key}");
    }
    assert_eq!(
        header["header"]["height"],
        height.to_string(),
        "64-bit integers are strings"
    );
    assert!(header["dah"]["row_roots"].is_array());
    let hash = header["commit"]["block_id"]["hash"].as_str().expect("hash");
    assert_eq!(hash, hash.to_uppercase(), "hashes are upper-case hex");
    server.stop().await.expect("stop");
}

/// The `result.schema.examples[0]` of every method in celestia-node's OpenRPC document.
fn openrpc_examples() -> std::collections::HashMap<String, serde_json::Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/celestia-node-openrpc-v0.28.4.json"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read OpenRPC document"))
            .expect("OpenRPC JSON");
    doc["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| {
            let example = m["result"]["schema"]["examples"].get(0)?.clone();
            Some((m["name"].as_str()?.to_string(), example))
        })
        .collect()
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Where `ours` differs in shape from `example`: every key of an example object is in ours
/// with the same JSON type (recursively; arrays by their first elements).
fn shape_mismatches(
    path: &str,
    example: &serde_json::Value,
    ours: &serde_json::Value,
    out: &mut Vec<String>,
) {
    if json_type(example) != json_type(ours) {
        out.push(format!(
            "{path}: {} in the spec, {} here",
            json_type(example),
            json_type(ours)
        ));
        return;
    }
    match (example, ours) {
        (serde_json::Value::Object(example), serde_json::Value::Object(ours)) => {
            for (key, value) in example {
                match ours.get(key) {
                    Some(mine) => shape_mismatches(&format!("{path}.{key}"), value, mine, out),
                    None => out.push(format!("{path}.{key}: missing")),
                }
            }
        }
        (serde_json::Value::Array(example), serde_json::Value::Array(ours)) => {
            if let (Some(example), Some(mine)) = (example.first(), ours.first()) {
                shape_mismatches(&format!("{path}[0]"), example, mine, out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_have_the_shapes_of_the_celestia_node_openrpc_examples() {
    let examples = openrpc_examples();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_in(dir.path(), false).await;
    let client = http_client(&server, None).await;
    let submitted = blob(ns(5), b"openrpc shapes");
    let commitment = submitted.commitment;
    let height = within(
        "submit",
        client.blob_submit(&[submitted], TxConfig::default()),
    )
    .await
    .expect("submit");
    let proof: serde_json::Value = client
        .request("blob.GetProof", rpc_params![height, ns(5), commitment])
        .await
        .expect("GetProof");
    let calls: Vec<(&str, jsonrpsee::core::params::ArrayParams)> = vec![
        ("blob.Get", rpc_params![height, ns(5), commitment]),
        ("blob.GetAll", rpc_params![height, [ns(5)]]),
        ("blob.GetProof", rpc_params![height, ns(5), commitment]),
        (
            "blob.Included",
            rpc_params![height, ns(5), proof, commitment],
        ),
        ("header.NetworkHead", rpc_params![]),
        ("header.LocalHead", rpc_params![]),
        ("header.GetByHeight", rpc_params![height]),
        ("header.WaitForHeight", rpc_params![height]),
    ];
    let mut mismatches = Vec::new();
    for (method, params) in calls {
        let example = examples
            .get(method)
            .unwrap_or_else(|| panic!("{method} has no example in the spec"));
        let ours: serde_json::Value = client
            .request(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        shape_mismatches(method, example, &ours, &mut mismatches);
    }
    assert!(
        mismatches.is_empty(),
        "answers differ from celestia-node's OpenRPC examples:\n{}",
        mismatches.join("\n")
    );
    server.stop().await.expect("stop");
}
