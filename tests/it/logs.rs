//! Logs, filters and subscriptions end to end: a dev node mines calls to a contract that emits a
//! log on every call, and a client finds those logs with `eth_getLogs`, polled filters and WS
//! subscriptions. Plus the execution-apis `eth_getLogs` vectors, compared including messages.

use crate::{
    common::{DEV_KEYS, binary, fixture},
    node::{NodeProcess, eventually},
};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_rpc_types_eth::{Block, Header, Log, Transaction, TransactionReceipt};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::{
    core::{
        ClientError,
        client::{ClientT, Subscription, SubscriptionClientT},
        params::ArrayParams,
    },
    http_client::HttpClient,
    rpc_params,
    ws_client::WsClientBuilder,
};
use serde_json::{Value, json};
use std::{process::Command, time::Duration};

/// Chain id of `--chain devnet`.
const CHAIN_ID: u64 = 31_337_420;
/// Upper bound for one subscription notification.
const NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The topic the test contract logs.
pub(crate) fn topic() -> B256 {
    keccak256("Emitted(bytes)")
}

/// Creation code of a contract whose runtime code logs its calldata under [`topic`] on every
/// call: `CALLDATACOPY` to memory 0, then `LOG1(0, CALLDATASIZE, topic)`.
pub(crate) fn emitter_initcode() -> Bytes {
    let mut runtime = vec![0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x7f];
    runtime.extend_from_slice(topic().as_slice());
    runtime.extend_from_slice(&[0x36, 0x60, 0x00, 0xa1, 0x00]);
    let len = u8::try_from(runtime.len()).expect("short runtime");
    // CODECOPY(0, 12, len); RETURN(0, len) — 12 bytes, followed by the runtime code.
    let mut code = vec![
        0x60, len, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(&runtime);
    code.into()
}

/// A signed EIP-1559 transaction of dev account 0, EIP-2718 encoded.
fn signed(nonce: u64, to: TxKind, input: Bytes, gas_limit: u64) -> Bytes {
    let signer: PrivateKeySigner = DEV_KEYS[0].parse().expect("key");
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        input,
        ..Default::default()
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(signature))
        .encoded_2718()
        .into()
}

fn sender() -> Address {
    DEV_KEYS[0]
        .parse::<PrivateKeySigner>()
        .expect("key")
        .address()
}

/// The calldata of the `i`-th call: one word holding `i`.
fn call_data(i: u64) -> Bytes {
    B256::from(U256::from(i)).into()
}

async fn send(client: &HttpClient, raw: Bytes) -> B256 {
    client
        .request("eth_sendRawTransaction", rpc_params![raw])
        .await
        .expect("send")
}

async fn receipt(client: &HttpClient, hash: B256) -> TransactionReceipt {
    let receipt: TransactionReceipt = eventually("receipt", || async {
        client
            .request::<Option<TransactionReceipt>, _>(
                "eth_getTransactionReceipt",
                rpc_params![hash],
            )
            .await
            .expect("receipt call")
    })
    .await;
    assert!(receipt.status(), "{hash} failed");
    receipt
}

/// Deploys the emitter (nonce 0) and returns its address.
async fn deploy(client: &HttpClient) -> Address {
    let hash = send(
        client,
        signed(0, TxKind::Create, emitter_initcode(), 200_000),
    )
    .await;
    let receipt = receipt(client, hash).await;
    let address = receipt.contract_address.expect("contract address");
    assert_eq!(address, sender().create(0));
    address
}

/// Calls the emitter with `call_data(i)` (nonce `i`).
async fn call(client: &HttpClient, emitter: Address, i: u64) -> B256 {
    send(
        client,
        signed(i, TxKind::Call(emitter), call_data(i), 50_000),
    )
    .await
}

async fn logs(client: &HttpClient, filter: Value) -> Vec<Log> {
    client
        .request("eth_getLogs", rpc_params![filter])
        .await
        .expect("getLogs")
}

/// The JSON-RPC error object of a failed call.
fn error_object(result: Result<Value, ClientError>) -> (i32, String) {
    match result {
        Err(ClientError::Call(err)) => (err.code(), err.message().to_string()),
        other => panic!("expected an error response, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_found_by_address_topic_range_and_hash_and_filters_report_only_new_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path(), &["--dev", "--dev.block-time", "100ms"]);
    let client = node.client();

    // The emitter's address is known before it exists: dev account 0's first creation.
    let emitter_filter = json!({"fromBlock": "0x0", "address": sender().create(0)});
    let log_filter: String = client
        .request("eth_newFilter", rpc_params![emitter_filter])
        .await
        .expect("newFilter");
    let block_filter: String = client
        .request("eth_newBlockFilter", rpc_params![])
        .await
        .expect("newBlockFilter");
    let pending_filter: String = client
        .request("eth_newPendingTransactionFilter", rpc_params![])
        .await
        .expect("newPendingTransactionFilter");
    assert_ne!(log_filter, block_filter);

    let emitter = deploy(&client).await;
    let mut sent = Vec::new();
    for i in 1..=3 {
        sent.push(call(&client, emitter, i).await);
    }
    let mut receipts = Vec::new();
    for hash in &sent {
        receipts.push(receipt(&client, *hash).await);
    }
    // What the receipts say is exactly what eth_getLogs must return.
    let expected: Vec<Log> = receipts
        .iter()
        .flat_map(|r| r.inner.logs().to_vec())
        .collect();
    assert_eq!(expected.len(), 3);
    for (i, log) in expected.iter().enumerate() {
        assert_eq!(log.address(), emitter);
        assert_eq!(log.topics(), [topic()]);
        assert_eq!(log.data().data, call_data(i as u64 + 1));
        assert!(log.block_timestamp.is_some() && !log.removed);
    }

    // By address, by topic, by both; a wrong topic or address matches nothing.
    let everything = json!({"fromBlock": "earliest", "toBlock": "latest"});
    let by_address = json!({"fromBlock": "0x0", "address": emitter});
    let by_topic = json!({"fromBlock": "0x0", "topics": [topic()]});
    let by_both =
        json!({"fromBlock": "0x0", "address": [emitter], "topics": [[topic(), B256::ZERO]]});
    for filter in [everything, by_address, by_topic, by_both] {
        assert_eq!(logs(&client, filter.clone()).await, expected, "{filter}");
    }
    let wrong_topic = json!({"fromBlock": "0x0", "topics": [B256::ZERO]});
    let wrong_address = json!({"fromBlock": "0x0", "address": Address::ZERO});
    let second_topic = json!({"fromBlock": "0x0", "topics": [null, topic()]});
    for filter in [wrong_topic, wrong_address, second_topic] {
        assert!(logs(&client, filter.clone()).await.is_empty(), "{filter}");
    }

    // By block range and by block hash: only that block's logs.
    let last = &receipts[2];
    let number = last.block_number.expect("mined");
    let in_block: Vec<Log> = expected
        .iter()
        .filter(|l| l.block_number == Some(number))
        .cloned()
        .collect();
    assert!(!in_block.is_empty());
    let range = json!({"fromBlock": format!("0x{number:x}"), "toBlock": format!("0x{number:x}")});
    assert_eq!(logs(&client, range).await, in_block);
    let hash = json!({"blockHash": last.block_hash.expect("mined")});
    assert_eq!(logs(&client, hash).await, in_block);
    // The default range is latest..latest, which by now has no logs.
    eventually("a later block", || async {
        let n: alloy_primitives::U64 = client
            .request("eth_blockNumber", rpc_params![])
            .await
            .expect("number");
        (n.to::<u64>() > number).then_some(())
    })
    .await;
    assert!(logs(&client, json!({})).await.is_empty());

    // Bad ranges are geth's errors.
    let reversed = json!({"fromBlock": format!("0x{number:x}"), "toBlock": "0x1"});
    let result = client.request("eth_getLogs", rpc_params![reversed]).await;
    assert_eq!(
        error_object(result),
        (-32602, "invalid block range params".into())
    );
    let future = json!({"fromBlock": "0x1", "toBlock": "0xffffffff"});
    let result = client.request("eth_getLogs", rpc_params![future]).await;
    assert_eq!(
        error_object(result),
        (
            -32602,
            "block range extends beyond current head block".into()
        )
    );
    let both = json!({"fromBlock": "earliest", "toBlock": "latest", "blockHash": B256::ZERO});
    let result = client.request("eth_getLogs", rpc_params![both]).await;
    assert_eq!(error_object(result).0, -32602);

    // The log filter reports the logs once, then only newer ones.
    let changes: Vec<Log> = client
        .request("eth_getFilterChanges", rpc_params![&log_filter])
        .await
        .expect("changes");
    assert_eq!(changes, expected);
    let changes: Vec<Log> = client
        .request("eth_getFilterChanges", rpc_params![&log_filter])
        .await
        .expect("changes");
    assert!(changes.is_empty(), "{changes:?}");
    let fourth = receipt(&client, call(&client, emitter, 4).await).await;
    let changes: Vec<Log> = eventually("the fourth log", || async {
        let changes: Vec<Log> = client
            .request("eth_getFilterChanges", rpc_params![&log_filter])
            .await
            .expect("changes");
        (!changes.is_empty()).then_some(changes)
    })
    .await;
    assert_eq!(changes, fourth.inner.logs().to_vec());
    let all: Vec<Log> = client
        .request("eth_getFilterLogs", rpc_params![&log_filter])
        .await
        .expect("filter logs");
    let mut with_fourth = expected.clone();
    with_fourth.extend(fourth.inner.logs().iter().cloned());
    assert_eq!(all, with_fourth);

    // The block filter reports consecutive new blocks, each once.
    let first: Vec<B256> = client
        .request("eth_getFilterChanges", rpc_params![&block_filter])
        .await
        .expect("block changes");
    let second: Vec<B256> = eventually("more blocks", || async {
        let hashes: Vec<B256> = client
            .request("eth_getFilterChanges", rpc_params![&block_filter])
            .await
            .expect("block changes");
        (!hashes.is_empty()).then_some(hashes)
    })
    .await;
    let mut previous: Option<Block> = None;
    for hash in first.iter().chain(&second) {
        let block: Block = client
            .request::<Option<Block>, _>("eth_getBlockByHash", rpc_params![hash, false])
            .await
            .expect("block")
            .expect("known block");
        if let Some(previous) = previous {
            assert_eq!(block.header.parent_hash, previous.header.hash);
        }
        previous = Some(block);
    }
    assert!(
        receipts
            .iter()
            .all(|r| first.contains(&r.block_hash.expect("mined")))
    );

    // The pending-transaction filter saw every transaction we sent.
    let pending: Vec<B256> = client
        .request("eth_getFilterChanges", rpc_params![&pending_filter])
        .await
        .expect("pending changes");
    assert!(sent.iter().all(|h| pending.contains(h)), "{pending:?}");

    // An uninstalled filter is gone.
    for filter in [&log_filter, &block_filter, &pending_filter] {
        let removed: bool = client
            .request("eth_uninstallFilter", rpc_params![filter])
            .await
            .expect("uninstall");
        assert!(removed);
        let result = client
            .request("eth_getFilterChanges", rpc_params![filter])
            .await;
        assert_eq!(error_object(result), (-32000, "filter not found".into()));
    }
    let removed: bool = client
        .request("eth_uninstallFilter", rpc_params![&log_filter])
        .await
        .expect("uninstall");
    assert!(!removed);
    node.terminate();
}

/// The next notification, within [`NOTIFICATION_TIMEOUT`].
async fn next<T: serde::de::DeserializeOwned>(subscription: &mut Subscription<T>) -> T {
    tokio::time::timeout(NOTIFICATION_TIMEOUT, subscription.next())
        .await
        .expect("notification in time")
        .expect("subscription open")
        .expect("notification decodes")
}

#[tokio::test(flavor = "multi_thread")]
async fn ws_subscriptions_deliver_consecutive_heads_pending_hashes_and_emitted_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(
        dir.path(),
        &[
            "--dev",
            "--dev.block-time",
            "100ms",
            "--ws",
            "--ws.port",
            "0",
        ],
    );
    let client = node.client();
    let ws = WsClientBuilder::default()
        .build(node.ws.as_deref().expect("ws address"))
        .await
        .expect("ws client");

    let mut heads: Subscription<Header> = ws
        .subscribe("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
        .await
        .expect("newHeads");
    let mut previous = next(&mut heads).await;
    for _ in 0..3 {
        let head = next(&mut heads).await;
        assert_eq!(head.number, previous.number + 1);
        assert_eq!(head.parent_hash, previous.hash);
        assert_eq!(head.hash, head.inner.hash_slow());
        previous = head;
    }
    heads.unsubscribe().await.expect("unsubscribe");

    let emitter = deploy(&client).await;
    let mut logs: Subscription<Log> = ws
        .subscribe(
            "eth_subscribe",
            rpc_params!["logs", json!({"address": emitter, "topics": [topic()]})],
            "eth_unsubscribe",
        )
        .await
        .expect("logs");
    let mut other_logs: Subscription<Log> = ws
        .subscribe(
            "eth_subscribe",
            rpc_params!["logs", json!({"address": Address::ZERO})],
            "eth_unsubscribe",
        )
        .await
        .expect("logs elsewhere");
    let mut hashes: Subscription<B256> = ws
        .subscribe(
            "eth_subscribe",
            rpc_params!["newPendingTransactions"],
            "eth_unsubscribe",
        )
        .await
        .expect("newPendingTransactions");
    let mut full: Subscription<Transaction> = ws
        .subscribe(
            "eth_subscribe",
            rpc_params!["newPendingTransactions", true],
            "eth_unsubscribe",
        )
        .await
        .expect("full newPendingTransactions");

    let mut sent = Vec::new();
    for i in 1..=2 {
        let hash = call(&client, emitter, i).await;
        assert_eq!(next(&mut hashes).await, hash);
        let tx = next(&mut full).await;
        assert_eq!((*tx.inner.tx_hash(), tx.inner.signer()), (hash, sender()));
        sent.push(hash);
    }
    for (i, hash) in sent.iter().enumerate() {
        let receipt = receipt(&client, *hash).await;
        let log = next(&mut logs).await;
        assert_eq!(log.transaction_hash, Some(*hash));
        assert_eq!(log.data().data, call_data(i as u64 + 1));
        assert_eq!(log, receipt.inner.logs()[0]);
    }
    // Nothing for a filter that matches nothing (the logs above would have arrived by now).
    assert!(
        tokio::time::timeout(Duration::from_millis(300), other_logs.next())
            .await
            .is_err()
    );

    // Kinds this node does not serve are refused at subscription time.
    let refused = ws
        .subscribe::<Value, _>("eth_subscribe", rpc_params!["syncing"], "eth_unsubscribe")
        .await;
    assert!(refused.is_err());
    node.terminate();
}

/// The `eth_getLogs` vectors of the execution-apis, over the suite's imported chain. Unlike the
/// hive comparison, error messages must match too.
#[tokio::test(flavor = "multi_thread")]
async fn get_logs_answers_the_execution_apis_vectors_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = fixture("execution-apis/genesis.json");
    let chain = genesis.to_str().expect("utf-8");
    let datadir = dir.path().join("data");
    let rlp = fixture("execution-apis/chain.rlp");
    let status = Command::new(binary())
        .args(["import", "--chain", chain, "--datadir"])
        .arg(&datadir)
        .arg(&rlp)
        .output()
        .expect("run import");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let node = NodeProcess::start(&datadir, &["--chain", chain]);
    let client = node.client();

    let folder = fixture("execution-apis/tests/eth_getLogs");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("vectors")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read vector");
        let mut lines = text
            .lines()
            .filter(|l| !l.starts_with("//") && !l.is_empty());
        while let (Some(request), Some(expected)) = (lines.next(), lines.next()) {
            let request: Value =
                serde_json::from_str(request.trim_start_matches(">> ")).expect("request");
            let expected: Value =
                serde_json::from_str(expected.trim_start_matches("<< ")).expect("response");
            let mut params = ArrayParams::new();
            for param in request["params"].as_array().expect("params") {
                params.insert(param).expect("param");
            }
            let method = request["method"].as_str().expect("method");
            let actual = match client.request::<Value, _>(method, params).await {
                Ok(result) => json!({"jsonrpc": "2.0", "id": request["id"], "result": result}),
                Err(ClientError::Call(err)) => {
                    json!({"jsonrpc": "2.0", "id": request["id"], "error": err})
                }
                Err(err) => panic!("{}: {err}", file.display()),
            };
            assert_eq!(actual, expected, "{}", file.display());
        }
    }
    node.terminate();
}
