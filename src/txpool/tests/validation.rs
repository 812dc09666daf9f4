//! Admission checks: every rejection reason with the wording wallets match on.

use super::*;
use alloy_consensus::{TxEip2930, TxEip4844, TxEip7702, TxLegacy};
use alloy_eips::{
    eip2930::{AccessList, AccessListItem},
    eip7702::{Authorization, SignedAuthorization},
};
use alloy_primitives::Bytes;

/// Order of the secp256k1 group.
const SECP256K1N: U256 = U256::from_be_bytes([
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
]);

fn pool_at(spec_id: SpecId) -> TxPool {
    TxPool::new(PoolConfig::default(), PoolEnv { spec_id, ..env() })
}

fn authorization(who: usize) -> SignedAuthorization {
    let auth = Authorization {
        chain_id: U256::from(CHAIN_ID),
        address: RECIPIENT,
        nonce: 0,
    };
    let signature = signer(who)
        .sign_hash_sync(&auth.signature_hash())
        .expect("signing works");
    auth.into_signed(signature)
}

fn eip7702(nonce: u64, gas_limit: u64, authorization_list: Vec<SignedAuthorization>) -> TxEip7702 {
    TxEip7702 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: RECIPIENT,
        authorization_list,
        ..Default::default()
    }
}

fn legacy(chain_id: Option<u64>) -> TxLegacy {
    TxLegacy {
        chain_id,
        nonce: 0,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(1),
        input: Bytes::new(),
    }
}

fn blob_tx() -> TxEnvelope {
    sign(
        &signer(0),
        TxEip4844 {
            chain_id: CHAIN_ID,
            gas_limit: 21_000,
            max_fee_per_gas: 2 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: RECIPIENT,
            blob_versioned_hashes: vec![B256::with_last_byte(1)],
            max_fee_per_blob_gas: GWEI,
            ..Default::default()
        },
    )
}

#[test]
fn valid_transfer_is_accepted_as_pending() {
    let (pool, state) = (pool(), State::funded());
    let tx = transfer(0, 0, 2 * GWEI, GWEI);
    let added = add_ok(&pool, &state, &tx);
    assert_eq!(added.hash, hash(&tx));
    assert_eq!(added.sender, signer(0).address());
    assert!(added.pending);
    assert_eq!(pool.status(), status(1, 0));
    assert_eq!(
        pool.get(&hash(&tx)).map(|tx| tx.signer()),
        Some(added.sender)
    );
}

#[test]
fn nonce_too_low() {
    let (pool, state) = (pool(), State::funded());
    state.set_nonce(signer(0).address(), 5);
    let error = add_err(
        &pool,
        &state,
        &transfer(0, 4, 2 * GWEI, GWEI),
        "nonce too low",
    );
    assert_eq!(error.to_string(), "nonce too low: next nonce 5, tx nonce 4");
    assert_eq!(error.code(), -32000);
    add_ok(&pool, &state, &transfer(0, 5, 2 * GWEI, GWEI));
}

#[test]
fn insufficient_funds_counts_gas_times_fee_cap_plus_value() {
    let (pool, state) = (pool(), State::default());
    let tx = transfer(0, 0, 2 * GWEI, GWEI);
    let cost = U256::from(21_000 * 2 * GWEI + 1);
    state.set(signer(0).address(), 0, cost - U256::from(1));
    let error = add_err(
        &pool,
        &state,
        &tx,
        "insufficient funds for gas * price + value",
    );
    assert!(error.to_string().ends_with("overshot 1"), "{error}");
    // A missing account has no funds either.
    add_err(
        &pool,
        &state,
        &transfer(1, 0, 2 * GWEI, GWEI),
        "insufficient funds for gas * price + value",
    );
    state.set(signer(0).address(), 0, cost);
    add_ok(&pool, &state, &tx);
}

#[test]
fn already_known() {
    let (pool, state) = (pool(), State::funded());
    let tx = transfer(0, 0, 2 * GWEI, GWEI);
    add_ok(&pool, &state, &tx);
    add_err(&pool, &state, &tx, "already known");
    let recovered = Recovered::new_unchecked(tx, signer(0).address());
    let error = pool.add_transaction(recovered, &state).expect_err("known");
    assert_eq!(error.to_string(), "already known");
}

#[test]
fn exceeds_block_gas_limit() {
    let (pool, state) = (pool(), State::funded());
    let tx = sign(
        &signer(0),
        TxEip1559 {
            gas_limit: BLOCK_GAS_LIMIT + 1,
            ..eip1559(0)
        },
    );
    add_err(&pool, &state, &tx, "exceeds block gas limit");
    let tx = sign(
        &signer(0),
        TxEip1559 {
            gas_limit: BLOCK_GAS_LIMIT,
            ..eip1559(0)
        },
    );
    add_ok(&pool, &state, &tx);
}

#[test]
fn osaka_caps_the_transaction_gas_limit() {
    let state = State::funded();
    let tx = sign(
        &signer(0),
        TxEip1559 {
            gas_limit: 16_777_217,
            ..eip1559(0)
        },
    );
    add_err(
        &pool_at(SpecId::OSAKA),
        &state,
        &tx,
        "transaction gas limit too high",
    );
    add_ok(&pool_at(SpecId::PRAGUE), &state, &tx);
}

#[test]
fn intrinsic_gas_too_low() {
    let (pool, state) = (pool(), State::funded());
    let short = |tx: TxEip1559| sign(&signer(0), tx);
    add_err(
        &pool,
        &state,
        &short(TxEip1559 {
            gas_limit: 20_999,
            ..eip1559(0)
        }),
        "intrinsic gas too low",
    );
    // Contract creation costs 32000 more.
    let create = TxEip1559 {
        to: TxKind::Create,
        gas_limit: 52_999,
        ..eip1559(0)
    };
    add_err(
        &pool,
        &state,
        &short(create.clone()),
        "intrinsic gas too low",
    );
    // Access list: 2400 per address, 1900 per storage key.
    let access_list = AccessList(vec![AccessListItem {
        address: RECIPIENT,
        storage_keys: vec![B256::ZERO],
    }]);
    let with_list = TxEip1559 {
        gas_limit: 25_299,
        access_list,
        ..eip1559(0)
    };
    add_err(
        &pool,
        &state,
        &short(with_list.clone()),
        "intrinsic gas too low",
    );
    add_ok(
        &pool,
        &state,
        &short(TxEip1559 {
            gas_limit: 25_300,
            ..with_list
        }),
    );
    add_ok(
        &pool,
        &state,
        &short(TxEip1559 {
            nonce: 1,
            gas_limit: 53_000,
            ..create
        }),
    );
}

#[test]
fn prague_applies_the_calldata_floor() {
    let state = State::funded();
    // 1000 non-zero bytes: 21000 + 16 * 1000 = 37000 intrinsic, 21000 + 10 * 4 * 1000 = 61000
    // floor (EIP-7623).
    let tx = sign(
        &signer(0),
        TxEip1559 {
            gas_limit: 40_000,
            input: vec![1u8; 1000].into(),
            ..eip1559(0)
        },
    );
    let error = add_err(
        &pool_at(SpecId::PRAGUE),
        &state,
        &tx,
        "intrinsic gas too low",
    );
    assert!(error.to_string().contains("61000"), "{error}");
    add_ok(&pool_at(SpecId::CANCUN), &state, &tx);
}

#[test]
fn oversized_data() {
    let (pool, state) = (pool(), State::funded());
    let tx = sign(
        &signer(0),
        TxEip1559 {
            gas_limit: 5_000_000,
            input: vec![0u8; DEFAULT_MAX_TX_SIZE].into(),
            ..eip1559(0)
        },
    );
    add_err(&pool, &state, &tx, "oversized data");
    // The same limit applies to transactions that arrive decoded.
    let recovered = Recovered::new_unchecked(tx, signer(0).address());
    let error = pool
        .add_transaction(recovered, &state)
        .expect_err("too big");
    assert!(error.to_string().starts_with("oversized data"), "{error}");
    // Just under the limit is fine (calldata of zeros is cheap).
    let fits = sign(
        &signer(0),
        TxEip1559 {
            gas_limit: 5_000_000,
            input: vec![0u8; DEFAULT_MAX_TX_SIZE - 200].into(),
            ..eip1559(0)
        },
    );
    add_ok(&pool, &state, &fits);
}

#[test]
fn invalid_chain_id() {
    let (pool, state) = (pool(), State::funded());
    let tx = sign(
        &signer(0),
        TxEip1559 {
            chain_id: 1,
            ..eip1559(0)
        },
    );
    let error = add_err(&pool, &state, &tx, "invalid chain id");
    assert_eq!(
        error.to_string(),
        format!("invalid chain id: expected {CHAIN_ID}, got 1")
    );
}

#[test]
fn blob_transactions_are_rejected_with_a_clear_error() {
    let (pool, state) = (pool(), State::funded());
    let tx = blob_tx();
    let error = add_err(&pool, &state, &tx, "transaction type not supported");
    assert!(error.to_string().contains("blob"), "{error}");
    // Decoded blob transactions too.
    let recovered = Recovered::new_unchecked(tx, signer(0).address());
    let error = pool.add_transaction(recovered, &state).expect_err("blob");
    assert!(error.to_string().contains("blob"), "{error}");
    assert_eq!(pool.status(), status(0, 0));
}

#[test]
fn unknown_types_and_garbage() {
    let (pool, state) = (pool(), State::funded());
    let error = pool.add_raw(&[0x05, 0xc0], &state).expect_err("type 5");
    assert!(
        error
            .to_string()
            .starts_with("transaction type not supported"),
        "{error}"
    );
    let error = pool.add_raw(&[0x02, 0x01, 0x02], &state).expect_err("junk");
    assert!(error.to_string().starts_with("failed to decode"), "{error}");
    assert_eq!(error.code(), -32000);
    let error = pool.add_raw(&[], &state).expect_err("empty");
    assert!(error.to_string().starts_with("failed to decode"), "{error}");
    // Trailing bytes after a valid transaction.
    let mut long = raw(&transfer(0, 0, 2 * GWEI, GWEI));
    long.push(0);
    let error = pool.add_raw(&long, &state).expect_err("trailing");
    assert!(error.to_string().starts_with("failed to decode"), "{error}");
}

#[test]
fn unprotected_legacy_is_rejected_and_protected_legacy_accepted() {
    let (pool, state) = (pool(), State::funded());
    add_err(
        &pool,
        &state,
        &sign(&signer(0), legacy(None)),
        "only replay-protected (EIP-155) transactions allowed over RPC",
    );
    let protected = sign(&signer(0), legacy(Some(CHAIN_ID)));
    assert!(add_ok(&pool, &state, &protected).pending);
    add_err(
        &pool,
        &state,
        &sign(&signer(1), legacy(Some(1))),
        "invalid chain id",
    );
}

#[test]
fn eip2930_is_accepted() {
    let (pool, state) = (pool(), State::funded());
    let tx = TxEip2930 {
        chain_id: CHAIN_ID,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        ..Default::default()
    };
    add_ok(&pool, &state, &sign(&signer(0), tx));
}

#[test]
fn bad_signature_is_invalid_sender() {
    let (pool, state) = (pool(), State::funded());
    let tx = eip1559(0);
    let good = signer(0)
        .sign_hash_sync(&tx.signature_hash())
        .expect("signing works");
    // The same point with the high `s` (EIP-2 malleability): recovers mathematically, but is
    // forbidden since Homestead.
    let high_s = Signature::new(good.r(), SECP256K1N - good.s(), !good.v());
    let malleable = TxEnvelope::from(tx.clone().into_signed(high_s));
    let error = add_err(&pool, &state, &malleable, "invalid sender");
    assert_eq!(error.code(), -32000);
    // r = 0 is no signature at all.
    let zero_r = Signature::new(U256::ZERO, good.s(), good.v());
    add_err(
        &pool,
        &state,
        &TxEnvelope::from(tx.clone().into_signed(zero_r)),
        "invalid sender",
    );
    add_ok(&pool, &state, &TxEnvelope::from(tx.into_signed(good)));
}

#[test]
fn fee_fields() {
    let (pool, state) = (pool(), State::funded());
    add_err(
        &pool,
        &state,
        &transfer(0, 0, GWEI, 2 * GWEI),
        "max priority fee per gas higher than max fee per gas",
    );
    // Below the lowest base fee the protocol can reach: can never be included.
    add_err(
        &pool,
        &state,
        &transfer(0, 0, 6, 0),
        "transaction underpriced",
    );
    add_ok(&pool, &state, &transfer(0, 0, 7, 0));
}

#[test]
fn nonce_at_max_value() {
    let (pool, state) = (pool(), State::funded());
    add_err(
        &pool,
        &state,
        &transfer(0, u64::MAX, 2 * GWEI, GWEI),
        "nonce has max value",
    );
}

#[test]
fn initcode_limit() {
    let (pool, state) = (pool(), State::funded());
    let create = |size: usize| {
        sign(
            &signer(0),
            TxEip1559 {
                to: TxKind::Create,
                gas_limit: 5_000_000,
                input: vec![0u8; size].into(),
                ..eip1559(0)
            },
        )
    };
    add_err(&pool, &state, &create(49_153), "max initcode size exceeded");
    add_ok(&pool, &state, &create(49_152));
}

#[test]
fn eip7702_needs_prague() {
    let state = State::funded();
    let tx = sign(&signer(0), eip7702(0, 100_000, vec![authorization(1)]));
    let error = add_err(
        &pool_at(SpecId::CANCUN),
        &state,
        &tx,
        "transaction type not supported",
    );
    assert!(error.to_string().contains("7702"), "{error}");
    let pool = pool_at(SpecId::PRAGUE);
    assert!(add_ok(&pool, &state, &tx).pending);
    assert_eq!(best_hashes(&pool), vec![hash(&tx)]);
}

#[test]
fn eip7702_authorizations_cost_intrinsic_gas() {
    let (pool, state) = (pool(), State::funded());
    // 21000 + 25000 per authorization.
    let two = vec![authorization(1), authorization(2)];
    add_err(
        &pool,
        &state,
        &sign(&signer(0), eip7702(0, 70_999, two.clone())),
        "intrinsic gas too low",
    );
    add_ok(&pool, &state, &sign(&signer(0), eip7702(0, 71_000, two)));
    add_err(
        &pool,
        &state,
        &sign(&signer(1), eip7702(0, 100_000, vec![])),
        "EIP-7702 transaction with empty auth list",
    );
}

#[test]
fn state_read_failure_is_an_internal_error() {
    let pool = pool();
    let error = pool
        .add_raw(&raw(&transfer(0, 0, 2 * GWEI, GWEI)), &BrokenState)
        .expect_err("state fails");
    assert!(error.is_internal());
    assert_eq!(error.code(), -32603);
    assert!(
        error
            .to_string()
            .starts_with("failed to read account state"),
        "{error}"
    );
    assert_eq!(pool.status(), status(0, 0));
}
