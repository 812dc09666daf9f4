//! `testing_buildBlockV1` beyond the execution-apis vectors: opt-in only, and bad input is a
//! clear JSON-RPC error that leaves the chain alone.

use crate::debug_trace::{call, suite_node};
use serde_json::json;

#[test]
fn build_block_is_opt_in_and_rejects_bad_input_without_touching_the_chain() {
    let (_dir, node) = suite_node("eth");
    let response = call(&node.http, "testing_buildBlockV1", json!([]));
    assert_eq!(
        response["error"]["code"], -32601,
        "not served by default: {response}"
    );

    let (_dir, node) = suite_node("eth,testing");
    let head = call(&node.http, "eth_getBlockByNumber", json!(["latest", false]))["result"].clone();
    let parent = head["hash"].clone();
    let attributes = |timestamp: &str| {
        json!({
            "timestamp": timestamp,
            "prevRandao": format!("0x{}", "00".repeat(32)),
            "suggestedFeeRecipient": format!("0x{}", "00".repeat(20)),
            "withdrawals": [],
            "parentBeaconBlockRoot": format!("0x{}", "11".repeat(32)),
        })
    };
    let cases = [
        (
            json!([
                format!("0x{}", "ab".repeat(32)),
                attributes("0x228"),
                [],
                "0x"
            ]),
            -32000,
        ),
        (
            json!([
                parent,
                attributes(head["timestamp"].as_str().expect("timestamp")),
                [],
                "0x"
            ]),
            -32602,
        ),
        (
            json!([parent, attributes("0x228"), ["0x1234"], "0x"]),
            -32602,
        ),
        (json!([parent, {"timestamp": "0x228"}, [], "0x"]), -32602),
    ];
    for (params, code) in cases {
        let response = call(&node.http, "testing_buildBlockV1", params.clone());
        assert_eq!(response["error"]["code"], code, "{params}: {response}");
    }
    let after =
        call(&node.http, "eth_getBlockByNumber", json!(["latest", false]))["result"].clone();
    assert_eq!(after["hash"], parent, "head unchanged");
}
