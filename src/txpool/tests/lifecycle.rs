//! Gaps and promotion, replacement, new heads, removal, subscriptions and persistence.

use super::*;
use tokio::sync::broadcast::error::TryRecvError;

fn drain(rx: &mut broadcast::Receiver<B256>) -> Vec<B256> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(hash) => out.push(hash),
            Err(TryRecvError::Empty) => return out,
            Err(error) => panic!("subscription broke: {error}"),
        }
    }
}

#[test]
fn nonce_gap_queues_and_filling_it_promotes() {
    let (pool, state) = (pool(), State::funded());
    let sender = signer(0).address();
    let txs: Vec<_> = (0..4).map(|n| transfer(0, n, 2 * GWEI, GWEI)).collect();
    assert!(!add_ok(&pool, &state, &txs[2]).pending);
    assert!(!add_ok(&pool, &state, &txs[3]).pending);
    assert_eq!(pool.status(), status(0, 2));
    assert_eq!(pool.pending_nonce(sender), None);
    assert!(add_ok(&pool, &state, &txs[0]).pending);
    assert_eq!(pool.status(), status(1, 2));
    assert_eq!(pool.pending_nonce(sender), Some(1));
    let content = pool.content();
    assert_eq!(
        content.pending[&sender].keys().copied().collect::<Vec<_>>(),
        [0]
    );
    assert_eq!(
        content.queued[&sender].keys().copied().collect::<Vec<_>>(),
        [2, 3]
    );
    // Nonce 1 closes the gap: 2 and 3 follow it into pending.
    assert!(add_ok(&pool, &state, &txs[1]).pending);
    assert_eq!(pool.status(), status(4, 0));
    assert_eq!(pool.pending_nonce(sender), Some(4));
    assert!(pool.content().queued.is_empty());
    assert_eq!(best_hashes(&pool), txs.iter().map(hash).collect::<Vec<_>>());
}

#[test]
fn replacement_needs_both_fees_bumped_by_ten_percent() {
    let (pool, state) = (pool(), State::funded());
    let original = transfer(0, 0, 100 * GWEI, 10 * GWEI);
    add_ok(&pool, &state, &original);
    for (max_fee, tip) in [
        (100 * GWEI, 10 * GWEI), // same fees (the value differs, so the hash does)
        (110 * GWEI - 1, 11 * GWEI), // fee cap 1 wei short of +10 %
        (110 * GWEI, 11 * GWEI - 1), // priority fee 1 wei short
        (200 * GWEI, 10 * GWEI), // only the fee cap raised
    ] {
        let tx = sign(
            &signer(0),
            TxEip1559 {
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
                value: U256::from(2),
                ..eip1559(0)
            },
        );
        let error = add_err(&pool, &state, &tx, "replacement transaction underpriced");
        assert_eq!(error.code(), -32000);
    }
    assert!(pool.contains(&hash(&original)));
    // Exactly +10 % on both is enough.
    let replacement = transfer(0, 0, 110 * GWEI, 11 * GWEI);
    assert!(add_ok(&pool, &state, &replacement).pending);
    assert!(!pool.contains(&hash(&original)));
    assert_eq!(pool.status(), status(1, 0));
    assert_eq!(best_hashes(&pool), vec![hash(&replacement)]);
}

#[test]
fn replacement_of_legacy_bumps_gas_price_and_respects_config() {
    let config = PoolConfig {
        price_bump_percent: 50,
        ..PoolConfig::default()
    };
    let (pool, state) = (pool_with(config), State::funded());
    let legacy = |gas_price: u128| {
        sign(
            &signer(0),
            alloy_consensus::TxLegacy {
                chain_id: Some(CHAIN_ID),
                gas_price,
                gas_limit: 21_000,
                to: TxKind::Call(RECIPIENT),
                ..Default::default()
            },
        )
    };
    add_ok(&pool, &state, &legacy(10 * GWEI));
    add_err(
        &pool,
        &state,
        &legacy(15 * GWEI - 1),
        "replacement transaction underpriced",
    );
    // A queued transaction is replaced the same way, and stays queued.
    add_ok(&pool, &state, &legacy(15 * GWEI));
    let queued = transfer(0, 5, 2 * GWEI, GWEI);
    add_ok(&pool, &state, &queued);
    assert!(!add_ok(&pool, &state, &transfer(0, 5, 3 * GWEI, 2 * GWEI)).pending);
    assert_eq!(pool.status(), status(1, 1));
}

#[test]
fn new_head_drops_mined_and_promotes() {
    let (pool, state) = (pool(), State::funded());
    let sender = signer(0).address();
    let t0 = transfer(0, 0, 2 * GWEI, GWEI);
    let t1 = transfer(0, 1, 2 * GWEI, GWEI);
    let t3 = transfer(0, 3, 2 * GWEI, GWEI);
    let other = transfer(1, 0, 2 * GWEI, GWEI);
    for tx in [&t0, &t1, &t3, &other] {
        add_ok(&pool, &state, tx);
    }
    assert_eq!(pool.status(), status(3, 1));
    // A block includes t0, t1 and a nonce-2 transaction of the sender that the pool never saw
    // (e.g. from another validator's pool): t3's gap is closed by state.
    state.set_nonce(sender, 3);
    let mut new_env = env();
    new_env.next_base_fee = 2 * BASE_FEE;
    let mut rx = pool.subscribe();
    pool.on_new_head(new_env, &[hash(&t0), hash(&t1)], &state);
    assert_eq!(pool.env(), new_env);
    assert!(!pool.contains(&hash(&t0)) && !pool.contains(&hash(&t1)));
    assert_eq!(pool.status(), status(2, 0));
    assert_eq!(pool.pending_nonce(sender), Some(4));
    assert_eq!(drain(&mut rx), vec![hash(&t3)]);
    assert_eq!(best_hashes(&pool), vec![hash(&t3), hash(&other)]);
}

#[test]
fn new_head_drops_stale_nonces_even_if_not_reported_mined() {
    let (pool, state) = (pool(), State::funded());
    let t0 = transfer(0, 0, 2 * GWEI, GWEI);
    let t1 = transfer(0, 1, 2 * GWEI, GWEI);
    add_ok(&pool, &state, &t0);
    add_ok(&pool, &state, &t1);
    state.set_nonce(signer(0).address(), 1);
    pool.on_new_head(env(), &[], &state);
    assert!(!pool.contains(&hash(&t0)));
    assert_eq!(best_hashes(&pool), vec![hash(&t1)]);
}

#[test]
fn new_head_drops_what_the_balance_no_longer_covers_and_demotes_the_rest() {
    let (pool, state) = (pool(), State::funded());
    let sender = signer(0).address();
    let t0 = transfer(0, 0, 2 * GWEI, GWEI);
    let expensive = sign(
        &signer(0),
        TxEip1559 {
            value: ether(500),
            ..eip1559(1)
        },
    );
    let t2 = transfer(0, 2, 2 * GWEI, GWEI);
    for tx in [&t0, &expensive, &t2] {
        add_ok(&pool, &state, tx);
    }
    state.set(sender, 0, ether(100));
    pool.on_new_head(env(), &[], &state);
    assert!(!pool.contains(&hash(&expensive)));
    assert_eq!(pool.status(), status(1, 1));
    assert_eq!(
        pool.content().queued[&sender]
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(best_hashes(&pool), vec![hash(&t0)]);
}

#[test]
fn new_head_without_state_still_drops_mined() {
    let (pool, state) = (pool(), State::funded());
    let t0 = transfer(0, 0, 2 * GWEI, GWEI);
    let t1 = transfer(0, 1, 2 * GWEI, GWEI);
    add_ok(&pool, &state, &t0);
    add_ok(&pool, &state, &t1);
    // The account cannot be read: the sender's transactions are kept, minus the mined one, and
    // the next nonce is still pending (a mined nonce 0 means the account nonce is past 0).
    pool.on_new_head(env(), &[hash(&t0)], &BrokenState);
    assert!(!pool.contains(&hash(&t0)));
    assert_eq!(pool.status(), status(1, 0));
    assert_eq!(best_hashes(&pool), vec![hash(&t1)]);
}

#[test]
fn remove_demotes_later_nonces() {
    let (pool, state) = (pool(), State::funded());
    let txs: Vec<_> = (0..3).map(|n| transfer(0, n, 2 * GWEI, GWEI)).collect();
    for tx in &txs {
        add_ok(&pool, &state, tx);
    }
    pool.remove(&[hash(&txs[1]), B256::repeat_byte(7)]);
    assert_eq!(pool.status(), status(1, 1));
    assert_eq!(best_hashes(&pool), vec![hash(&txs[0])]);
    assert_eq!(pool.get(&hash(&txs[1])), None);
    // Sending it again closes the gap.
    add_ok(&pool, &state, &txs[1]);
    assert_eq!(pool.status(), status(3, 0));
}

#[test]
fn subscribers_see_new_and_promoted_pending_hashes_only() {
    let (pool, state) = (pool(), State::funded());
    let mut rx = pool.subscribe();
    let t1 = transfer(0, 1, 2 * GWEI, GWEI);
    let t0 = transfer(0, 0, 2 * GWEI, GWEI);
    add_ok(&pool, &state, &t1);
    assert!(
        drain(&mut rx).is_empty(),
        "queued transactions are not announced"
    );
    add_ok(&pool, &state, &t0);
    assert_eq!(drain(&mut rx), vec![hash(&t0), hash(&t1)]);
    let replacement = transfer(0, 0, 3 * GWEI, 2 * GWEI);
    add_ok(&pool, &state, &replacement);
    assert_eq!(drain(&mut rx), vec![hash(&replacement)]);
}

#[test]
fn save_and_load_round_trip_in_arrival_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("txpool.bin");
    let (pool, state) = (pool(), State::funded());
    let arrivals = [
        transfer(1, 0, 2 * GWEI, GWEI),
        transfer(0, 1, 2 * GWEI, GWEI),
        transfer(2, 0, 2 * GWEI, GWEI),
        transfer(0, 0, 2 * GWEI, GWEI),
        transfer(3, 5, 2 * GWEI, GWEI), // queued
    ];
    for tx in &arrivals {
        add_ok(&pool, &state, tx);
    }
    let best = best_hashes(&pool);
    assert_eq!(pool.save(&path).expect("save"), 5);
    assert!(path.exists());

    let restarted = self::pool();
    let outcome = restarted.load(&path, &state).expect("load");
    assert_eq!(
        outcome,
        LoadOutcome {
            added: 5,
            dropped: 0
        }
    );
    assert!(!path.exists(), "the file is consumed");
    assert_eq!(restarted.status(), status(4, 1));
    assert_eq!(best_hashes(&restarted), best);
    // A second save/load keeps the same order (arrival order is what is saved, not nonce
    // order).
    restarted.save(&path).expect("save again");
    let again = self::pool();
    again.load(&path, &state).expect("load again");
    assert_eq!(best_hashes(&again), best);
}

#[test]
fn load_revalidates_and_counts_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("txpool.bin");
    let (pool, state) = (pool(), State::funded());
    let mined = transfer(0, 0, 2 * GWEI, GWEI);
    let kept = transfer(0, 1, 2 * GWEI, GWEI);
    let unpayable = transfer(1, 0, 2 * GWEI, GWEI);
    for tx in [&mined, &kept, &unpayable] {
        add_ok(&pool, &state, tx);
    }
    pool.save(&path).expect("save");
    // Meanwhile nonce 0 was mined and sender 1 spent everything.
    state.set_nonce(signer(0).address(), 1);
    state.set(signer(1).address(), 0, U256::ZERO);
    let restarted = self::pool();
    let outcome = restarted.load(&path, &state).expect("load");
    assert_eq!(
        outcome,
        LoadOutcome {
            added: 1,
            dropped: 2
        }
    );
    assert_eq!(best_hashes(&restarted), vec![hash(&kept)]);
}

#[test]
fn load_without_file_and_with_corrupt_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("txpool.bin");
    let (pool, state) = (pool(), State::funded());
    assert_eq!(
        pool.load(&path, &state).expect("missing is fine"),
        LoadOutcome::default()
    );

    std::fs::write(&path, b"not a pool file").expect("write");
    let error = pool.load(&path, &state).expect_err("corrupt");
    assert!(error.is_internal());
    assert_eq!(error.code(), -32603);
    assert!(
        path.exists(),
        "a file that cannot be read is kept for inspection"
    );

    // Truncated in the middle of a transaction.
    let full = dir.path().join("full.bin");
    add_ok(&pool, &state, &transfer(0, 0, 2 * GWEI, GWEI));
    pool.save(&full).expect("save");
    let bytes = std::fs::read(&full).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("write");
    let error = self::pool().load(&path, &state).expect_err("truncated");
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[test]
fn load_stops_on_state_errors_and_keeps_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("txpool.bin");
    let (pool, state) = (pool(), State::funded());
    add_ok(&pool, &state, &transfer(0, 0, 2 * GWEI, GWEI));
    pool.save(&path).expect("save");
    let error = self::pool()
        .load(&path, &BrokenState)
        .expect_err("state fails");
    assert!(error.is_internal());
    assert!(path.exists());
    assert_eq!(self::pool().load(&path, &state).expect("retry").added, 1);
}

#[test]
fn clones_share_one_pool() {
    let (pool, state) = (pool(), State::funded());
    let clone = pool.clone();
    let tx = transfer(0, 0, 2 * GWEI, GWEI);
    add_ok(&clone, &state, &tx);
    assert!(pool.contains(&hash(&tx)));
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TxPool>();
}

#[test]
fn adding_uses_the_state_it_was_validated_against() {
    let (pool, state) = (pool(), State::funded());
    let sender = signer(0).address();
    let t0 = transfer(0, 0, 2 * GWEI, GWEI);
    let t3 = transfer(0, 3, 2 * GWEI, GWEI);
    add_ok(&pool, &state, &t0);
    add_ok(&pool, &state, &t3);
    // The head moved (nonces 0..=2 used) before `on_new_head` reached the pool: the next
    // transaction is judged by the new state, and the sender's others with it.
    state.set_nonce(sender, 3);
    let t4 = transfer(0, 4, 2 * GWEI, GWEI);
    assert!(add_ok(&pool, &state, &t4).pending);
    assert!(!pool.contains(&hash(&t0)));
    assert_eq!(pool.status(), status(2, 0));
    assert_eq!(best_hashes(&pool), vec![hash(&t3), hash(&t4)]);
}
