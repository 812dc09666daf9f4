//! alloy's provider (the Rust client wallets and bots are built on) against a `--dev` node: a
//! value transfer with the recommended fillers (chain id, nonce, gas, fees) and the wallet filler
//! waited on to its receipt, a contract deployed and called, its logs read back, `eth_call`, and
//! new heads over a WS subscription.

use crate::{
    common::DEV_KEYS,
    logs::{emitter_initcode, topic},
    node::NodeProcess,
};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder, WsConnect};
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use futures::StreamExt;
use std::time::Duration;

/// Upper bound for one receipt or one subscription notification.
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn alloy_provider_sends_deploys_calls_reads_logs_and_follows_heads() {
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
    let signer: PrivateKeySigner = DEV_KEYS[1].parse().expect("key");
    let from = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(signer)
        .connect_http(node.http.parse().expect("url"));

    assert_eq!(provider.get_chain_id().await.expect("chain id"), 31_337_420);

    // A transfer, every field filled by the provider, waited on to its receipt.
    let to = Address::repeat_byte(0xbe);
    let value = U256::from(1_234_567_u64);
    let receipt = tokio::time::timeout(
        WAIT,
        provider
            .send_transaction(TransactionRequest::default().to(to).value(value).from(from))
            .await
            .expect("send transfer")
            .get_receipt(),
    )
    .await
    .expect("receipt in time")
    .expect("receipt");
    assert!(receipt.status());
    assert_eq!(receipt.from, from);
    let block = receipt.block_number.expect("mined");
    assert_eq!(provider.get_balance(to).await.expect("balance"), value);
    assert_eq!(
        provider
            .get_balance(to)
            .number(block - 1)
            .await
            .expect("balance before"),
        U256::ZERO
    );

    // A contract that logs its calldata under `topic()`.
    let deploy = TransactionRequest::default()
        .from(from)
        .input(emitter_initcode().into());
    let deploy = TransactionRequest {
        to: Some(TxKind::Create),
        ..deploy
    };
    let deployed = tokio::time::timeout(
        WAIT,
        provider
            .send_transaction(deploy)
            .await
            .expect("deploy")
            .get_receipt(),
    )
    .await
    .expect("deployment in time")
    .expect("deployment receipt");
    let emitter = deployed.contract_address.expect("contract address");
    assert_eq!(emitter, from.create(1));
    assert!(
        !provider
            .get_code_at(emitter)
            .await
            .expect("code")
            .is_empty()
    );

    // `eth_call` runs the code without a transaction: no output, no state change.
    let payload = Bytes::from_static(b"hello, hauptbuch");
    let call = TransactionRequest::default()
        .from(from)
        .to(emitter)
        .input(payload.clone().into());
    assert_eq!(
        provider.call(call.clone()).await.expect("eth_call"),
        Bytes::new()
    );
    let estimate = provider.estimate_gas(call.clone()).await.expect("estimate");
    assert!(estimate > 21_000, "{estimate}");

    // The real call logs the payload; the provider finds it by address and topic.
    let called = tokio::time::timeout(
        WAIT,
        provider
            .send_transaction(call)
            .await
            .expect("call")
            .get_receipt(),
    )
    .await
    .expect("call in time")
    .expect("call receipt");
    assert_eq!(called.inner.logs().len(), 1);
    let logs = provider
        .get_logs(
            &Filter::new()
                .address(emitter)
                .event_signature(topic())
                .from_block(0),
        )
        .await
        .expect("logs");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].data().data, payload);
    assert_eq!(logs[0].transaction_hash, Some(called.transaction_hash));
    assert_eq!(logs[0].block_number, called.block_number);

    // New heads over WS: consecutive, each linked to the one before.
    let ws = ProviderBuilder::new()
        .connect_ws(WsConnect::new(node.ws.clone().expect("ws address")))
        .await
        .expect("ws provider");
    let mut heads = ws.subscribe_blocks().await.expect("newHeads").into_stream();
    let mut previous = tokio::time::timeout(WAIT, heads.next())
        .await
        .expect("head in time")
        .expect("head");
    for _ in 0..3 {
        let head = tokio::time::timeout(WAIT, heads.next())
            .await
            .expect("head in time")
            .expect("head");
        assert_eq!(head.number, previous.number + 1);
        assert_eq!(head.parent_hash, previous.hash);
        previous = head;
    }
    node.terminate();
}
