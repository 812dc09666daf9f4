//! Shared helpers for integration tests.

use hauptbuch_reth::{chainspec::ChainSpec, engine::Engine, storage::Database};
use std::{
    io::{Read, Write},
    path::PathBuf,
    sync::Arc,
};

/// Path of a file under `tests/fixtures`.
pub(crate) fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// An engine over a fresh database in a temporary directory (kept alive by the returned guard).
pub(crate) fn temp_engine(spec: Arc<ChainSpec>) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(dir.path()).expect("open database");
    let engine = Engine::new(spec, Arc::new(db));
    (dir, engine)
}

/// Path of the built `hauptbuch-reth` binary.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hauptbuch-reth"))
}

/// Private keys of the first dev accounts (the public `test … junk` mnemonic).
pub(crate) const DEV_KEYS: [&str; 3] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

/// A signed EIP-1559 transfer.
pub(crate) fn transfer(
    signer: &alloy_signer_local::PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: alloy_primitives::Address,
    value: u64,
) -> alloy_consensus::transaction::Recovered<alloy_consensus::TxEnvelope> {
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_signer::SignerSync;
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(to),
        value: alloy_primitives::U256::from(value),
        ..Default::default()
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    let envelope = alloy_consensus::TxEnvelope::from(tx.into_signed(signature));
    alloy_consensus::transaction::Recovered::new_unchecked(envelope, signer.address())
}

/// Builds `blocks` blocks of `per_block` transfers on the devnet (each to a fresh address) and
/// returns them as a concatenated-RLP file body, plus the last block's hash.
pub(crate) fn devnet_chain_rlp(blocks: u64, per_block: u64) -> (Vec<u8>, alloy_primitives::B256) {
    use hauptbuch_reth::execution::BlockAttributes;
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let (_dir, engine) = temp_engine(spec.clone());
    engine.init_genesis().expect("genesis");
    let signers: Vec<alloy_signer_local::PrivateKeySigner> =
        DEV_KEYS.iter().map(|k| k.parse().expect("key")).collect();
    let mut nonces = vec![0u64; signers.len()];
    let mut out = Vec::new();
    let mut last = alloy_primitives::B256::ZERO;
    for number in 1..=blocks {
        let txs: Vec<_> = (0..per_block)
            .map(|i| {
                let who = (i as usize) % signers.len();
                let to = alloy_primitives::Address::left_padding_from(
                    &(number * 100_000 + i).to_be_bytes(),
                );
                let tx = transfer(&signers[who], spec.chain_id, nonces[who], to, 1 + i);
                nonces[who] += 1;
                tx
            })
            .collect();
        let attributes = BlockAttributes {
            timestamp: number,
            gas_limit: spec.genesis_header.gas_limit,
            ..Default::default()
        };
        let (block, built) = engine
            .build_and_commit(attributes, txs)
            .expect("build block");
        assert!(built.rejected.is_empty(), "{:?}", built.rejected);
        last = block.header.hash_slow();
        alloy_rlp::Encodable::encode(&block, &mut out);
    }
    (out, last)
}

/// POSTs `body` to `http://addr/` and returns the response body.
pub(crate) fn post(addr: &str, body: &str) -> Result<String, String> {
    let host = addr.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    // A server may answer (e.g. 413) and close before it read the whole body; the answer is
    // still readable, so a failed write is not the end.
    let written = write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut response = String::new();
    if let Err(read_error) = stream.read_to_string(&mut response)
        && response.is_empty()
    {
        return Err(match written {
            Err(write_error) => format!("{write_error}; then {read_error}"),
            Ok(()) => read_error.to_string(),
        });
    }
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("malformed HTTP response")?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(body));
    }
    Ok(body.to_string())
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
