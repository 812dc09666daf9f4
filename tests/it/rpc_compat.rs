//! The execution-apis `rpc-compat` suite (the vectors hive runs against every Ethereum client):
//! import the suite's chain, make block 54 head/safe/finalized, start the node on that datadir
//! without block production, then send every `.io` request in lexical path order and compare the
//! responses by the hive rules (error `message`s are not compared, everything else is).
//!
//! Methods a rollup node does not serve are reported as skipped with a reason; the test fails on
//! any failure not listed in `KNOWN_FAILURES` (each with the reason it still fails), and on a
//! listed failure that now passes, so the list only ever shrinks.

use crate::{
    common::{fixture, post, temp_engine},
    node::NodeProcess,
    openrpc_schema::OpenRpc,
};
use hauptbuch_reth::{chainspec::ChainSpec, import::import_blocks};
use serde_json::Value;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// Folders of methods this node does not serve, and why.
const SKIPPED_METHODS: &[(&str, &str)] = &[(
    "eth_simulateV1",
    "optional method (issue: every file except eth_simulateV1)",
)];

/// Tests that still fail, with the reason. Keep in sync: the test fails if one of these passes.
const KNOWN_FAILURES: &[(&str, &str)] = &[(
    "eth_sendRawTransaction/send-blob-tx",
    "deliberate: the rollup's pool rejects EIP-4844 blob transactions (issue 3)",
)];

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "io") {
            out.push(path);
        }
    }
}

/// Removes `message` from error objects present on both sides, recursively (hive's rule).
fn strip_common_error_messages(expected: &mut Value, actual: &mut Value) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            if let (Some(Value::Object(ee)), Some(Value::Object(ae))) =
                (e.get_mut("error"), a.get_mut("error"))
            {
                ee.remove("message");
                ae.remove("message");
            }
            for (key, value) in e.iter_mut() {
                if let Some(other) = a.get_mut(key) {
                    strip_common_error_messages(value, other);
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (x, y) in e.iter_mut().zip(a.iter_mut()) {
                strip_common_error_messages(x, y);
            }
        }
        _ => {}
    }
}

/// JSON equality with numbers compared by value.
fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (a, b) => a == b,
    }
}

/// First difference, for the report.
fn diff(expected: &Value, actual: &Value, path: &str) -> String {
    match (expected, actual) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    None => return format!("{path}.{k} missing"),
                    Some(w) if !same(v, w) => return diff(v, w, &format!("{path}.{k}")),
                    _ => {}
                }
            }
            b.keys().find(|k| !a.contains_key(*k)).map_or_else(
                || format!("{path}: differs"),
                |k| format!("{path}.{k} unexpected"),
            )
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find(|(_, (x, y))| !same(x, y))
            .map_or_else(
                || format!("{path}: differs"),
                |(i, (x, y))| diff(x, y, &format!("{path}[{i}]")),
            ),
        (Value::String(a), Value::String(b)) => {
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            let window = |s: &str| {
                s.get(at..(at + 80).min(s.len()))
                    .unwrap_or_default()
                    .to_string()
            };
            format!(
                "{path}: strings differ at {at}: expected …{} got …{}",
                window(a),
                window(b)
            )
        }
        _ => {
            let short = |v: &Value| {
                let s = v.to_string();
                if s.len() > 160 {
                    format!("{}…", &s[..160])
                } else {
                    s
                }
            };
            format!("{path}: expected {} got {}", short(expected), short(actual))
        }
    }
}

enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// The method name of a request line.
fn actual_method(request: &str) -> String {
    serde_json::from_str::<Value>(request)
        .ok()
        .and_then(|v| v["method"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn run_file(addr: &str, path: &Path, schema: &OpenRpc) -> Outcome {
    let text = std::fs::read_to_string(path).expect("read .io");
    let spec_only = text.lines().any(|l| l.starts_with("// speconly:"));
    let mut request: Option<&str> = None;
    for line in text.lines() {
        if let Some(req) = line.strip_prefix(">> ") {
            request = Some(req);
        } else if let Some(expected) = line.strip_prefix("<< ") {
            let Some(req) = request.take() else {
                return Outcome::Fail("malformed test".into());
            };
            let body = match post(addr, req) {
                Ok(body) => body,
                Err(e) => return Outcome::Fail(format!("request failed: {e}")),
            };
            let Ok(mut actual) = serde_json::from_str::<Value>(&body) else {
                return Outcome::Fail(format!("response is not JSON: {body}"));
            };
            let mut expected: Value = serde_json::from_str(expected).expect("expected JSON");
            // Spec-only: a result is not compared by value but validated against the method's
            // OpenRPC result schema (as hive does); an error response is compared as usual.
            if spec_only && actual.get("error").is_none() {
                let method = actual_method(req);
                if let Err(violation) = schema.validate_result(&method, &actual["result"]) {
                    return Outcome::Fail(format!("schema: {violation}"));
                }
                continue;
            }
            strip_common_error_messages(&mut expected, &mut actual);
            if !same(&expected, &actual) {
                let mut reason = diff(&expected, &actual, "");
                if let Some(error) = actual.get("error") {
                    reason = format!("{reason} (got error {error})");
                }
                return Outcome::Fail(reason);
            }
        }
    }
    Outcome::Pass
}

#[test]
fn execution_apis_rpc_compat() {
    let genesis = fixture("execution-apis/genesis.json");
    let spec = ChainSpec::from_arg(genesis.to_str().expect("utf-8")).expect("genesis");
    let (dir, engine) = temp_engine(spec);
    engine.init_genesis().expect("genesis");
    let chain = std::fs::read(fixture("execution-apis/chain.rlp")).expect("chain.rlp");
    import_blocks(&engine, &chain).expect("import");
    let head = engine.head().expect("head").hash();
    engine
        .update_forkchoice(Some(head), Some(head))
        .expect("forkchoice");
    drop(engine);

    let node = NodeProcess::start(
        dir.path(),
        &[
            "--chain",
            genesis.to_str().expect("utf-8"),
            // Opt-in namespace (testing_buildBlockV1), on top of the helper's list.
            "--http.api",
            "eth,net,web3,txpool,debug,hb,testing",
        ],
    );
    let root = fixture("execution-apis/tests");
    let schema = OpenRpc::load(&fixture("execution-apis/openrpc.merged.json"));
    let mut files = Vec::new();
    collect(&root, &mut files);

    let mut per_method: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut passed, mut failed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for file in &files {
        let name = file
            .strip_prefix(&root)
            .expect("under root")
            .with_extension("");
        let name = name.to_string_lossy().to_string();
        let method = name.split('/').next().unwrap_or_default().to_string();
        let outcome = match SKIPPED_METHODS
            .iter()
            .find(|(prefix, _)| method.starts_with(prefix))
        {
            Some((_, reason)) => Outcome::Skip((*reason).to_string()),
            None => run_file(&node.http, file, &schema),
        };
        let entry = per_method.entry(method).or_default();
        entry.1 += 1;
        match outcome {
            Outcome::Pass => {
                entry.0 += 1;
                passed.push(name);
            }
            Outcome::Fail(reason) => failed.push((name, reason)),
            Outcome::Skip(reason) => skipped.push((name, reason)),
        }
    }
    for (method, (ok, total)) in &per_method {
        println!("{method:<45} {ok:>3}/{total}");
    }
    for (name, reason) in &skipped {
        println!("SKIP {name}: {reason}");
    }
    for (name, reason) in &failed {
        println!("FAIL {name}: {reason}");
    }
    println!(
        "rpc-compat: {} passed, {} failed, {} skipped",
        passed.len(),
        failed.len(),
        skipped.len()
    );

    let unexpected: Vec<_> = failed
        .iter()
        .filter(|(n, _)| !KNOWN_FAILURES.iter().any(|(k, _)| k == n))
        .collect();
    let fixed: Vec<_> = KNOWN_FAILURES
        .iter()
        .filter(|(k, _)| passed.iter().any(|p| p == k))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected failures: {unexpected:#?}"
    );
    assert!(
        fixed.is_empty(),
        "now passing, remove from KNOWN_FAILURES: {fixed:#?}"
    );
}
