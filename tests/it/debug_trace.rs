//! `debug_trace*` beyond the execution-apis vectors (which cover the default struct logger):
//! named tracers on the suite's chain, and bad tracer options as clear JSON-RPC errors.

use crate::{
    common::{fixture, post, temp_engine},
    node::NodeProcess,
};
use hauptbuch_reth::{chainspec::ChainSpec, import::import_blocks};
use serde_json::{Value, json};

/// The contract creation in block 1 of the execution-apis chain.
const CREATE_TX: &str = "0xc1d605c6612a5fe84dc95810030bfe5b1d327652b381bc695e28f50d13b2b09e";

/// A node (RPC only) on the imported execution-apis chain, serving `api`.
pub(crate) fn suite_node(api: &str) -> (tempfile::TempDir, NodeProcess) {
    let genesis = fixture("execution-apis/genesis.json");
    let spec = ChainSpec::from_arg(genesis.to_str().expect("utf-8")).expect("genesis");
    let (dir, engine) = temp_engine(spec);
    engine.init_genesis().expect("genesis");
    let chain = std::fs::read(fixture("execution-apis/chain.rlp")).expect("chain.rlp");
    import_blocks(&engine, &chain).expect("import");
    drop(engine);
    let genesis = genesis.to_str().expect("utf-8");
    let node = NodeProcess::start(dir.path(), &["--chain", genesis, "--http.api", api]);
    (dir, node)
}

pub(crate) fn call(addr: &str, method: &str, params: Value) -> Value {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let body = post(addr, &request.to_string()).expect("request");
    serde_json::from_str(&body).expect("JSON response")
}

#[test]
fn named_tracers_give_geth_shapes_and_bad_tracers_are_invalid_params() {
    let (_dir, node) = suite_node("eth,debug");

    let trace = call(
        &node.http,
        "debug_traceTransaction",
        json!([CREATE_TX, {"tracer": "callTracer"}]),
    );
    let frame = &trace["result"];
    assert_eq!(frame["type"], "CREATE", "{trace}");
    assert_eq!(frame["gasUsed"], "0x102d3", "receipt gas used");
    assert!(
        frame["to"].is_string() && frame["output"].is_string(),
        "{frame}"
    );

    let block = call(
        &node.http,
        "debug_traceBlockByNumber",
        json!(["0x1", {"tracer": "prestateTracer"}]),
    );
    let entries = block["result"]
        .as_array()
        .expect("one entry per transaction");
    assert_eq!(entries.len(), 4, "block 1 holds four transactions: {block}");
    assert_eq!(entries[0]["txHash"], CREATE_TX);
    assert!(entries[0]["result"].is_object(), "{block}");

    for bad in [
        json!({"tracer": "noSuchTracer"}),
        json!({"tracer": "callTracer", "tracerConfig": {"onlyTopCall": "yes"}}),
        json!({"tracer": "{ step: function() {}, result: function() { return 1 } }"}),
    ] {
        let response = call(
            &node.http,
            "debug_traceTransaction",
            json!([CREATE_TX, bad]),
        );
        assert_eq!(response["error"]["code"], -32602, "{bad}: {response}");
    }
}
