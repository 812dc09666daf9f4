//! Per-sender and global limits, and who is evicted.

use super::*;

fn limited(pending: usize, queued: usize, slots: usize) -> TxPool {
    pool_with(PoolConfig {
        pending_max_count: pending,
        queued_max_count: queued,
        max_account_slots: slots,
        ..PoolConfig::default()
    })
}

fn tx(who: usize, nonce: u64) -> TxEnvelope {
    transfer(who, nonce, 2 * GWEI, GWEI)
}

#[test]
fn defaults() {
    let config = PoolConfig::default();
    assert_eq!(config.pending_max_count, 10_000);
    assert_eq!(config.queued_max_count, 10_000);
    assert_eq!(config.max_account_slots, 64);
    assert_eq!(config.price_bump_percent, 10);
    assert_eq!(config.max_tx_size, 128 * 1024);
}

#[test]
fn sender_slots_are_limited() {
    let (pool, state) = (limited(100, 100, 3), State::funded());
    for nonce in 0..3 {
        add_ok(&pool, &state, &tx(0, nonce));
    }
    let error = add_err(&pool, &state, &tx(0, 3), "account limit exceeded");
    assert_eq!(error.code(), -32000);
    // Other senders are not affected, and replacing within the limit still works.
    add_ok(&pool, &state, &tx(1, 0));
    add_ok(&pool, &state, &transfer(0, 2, 3 * GWEI, 2 * GWEI));
    assert_eq!(pool.status(), status(4, 0));
}

#[test]
fn a_full_sender_evicts_its_own_farthest_queued_transaction() {
    let (pool, state) = (limited(100, 100, 3), State::funded());
    let t0 = tx(0, 0);
    let t5 = tx(0, 5);
    let t9 = tx(0, 9);
    for t in [&t0, &t5, &t9] {
        add_ok(&pool, &state, t);
    }
    // Nonce 12 is farther than anything queued: rejected.
    add_err(&pool, &state, &tx(0, 12), "account limit exceeded");
    // Nonce 1 is pending-to-be: nonce 9 makes room.
    let t1 = tx(0, 1);
    assert!(add_ok(&pool, &state, &t1).pending);
    assert!(!pool.contains(&hash(&t9)));
    assert!(pool.contains(&hash(&t5)));
    // Nonce 3 (queued) is closer than 5: 5 makes room.
    add_ok(&pool, &state, &tx(0, 3));
    assert!(!pool.contains(&hash(&t5)));
    assert_eq!(pool.status(), status(2, 1));
}

#[test]
fn queued_full_turns_the_newcomer_away() {
    let (pool, state) = (limited(100, 2, 64), State::funded());
    let q1 = tx(0, 7);
    let q2 = tx(1, 7);
    add_ok(&pool, &state, &q1);
    add_ok(&pool, &state, &q2);
    let error = add_err(&pool, &state, &tx(2, 7), "txpool is full");
    assert_eq!(error.code(), -32000);
    assert!(pool.contains(&hash(&q1)) && pool.contains(&hash(&q2)));
    // Pending transactions still get in.
    assert!(add_ok(&pool, &state, &tx(2, 0)).pending);
    assert_eq!(pool.status(), status(1, 2));
}

#[test]
fn queued_overflow_on_new_head_evicts_the_newest_queued_first() {
    let (pool, state) = (limited(100, 2, 64), State::funded());
    let sender = signer(0).address();
    // Sender 0: an expensive nonce 0 and two cheap ones behind it, all pending.
    let a0 = sign(
        &signer(0),
        TxEip1559 {
            value: ether(500),
            ..eip1559(0)
        },
    );
    let (a1, a2) = (tx(0, 1), tx(0, 2));
    // Two queued transactions of other senders arrive after them.
    let (b, c) = (tx(1, 5), tx(2, 5));
    for t in [&a0, &a1, &a2, &b, &c] {
        add_ok(&pool, &state, t);
    }
    assert_eq!(pool.status(), status(3, 2));
    // Sender 0 can no longer pay for nonce 0: it is dropped, 1 and 2 are demoted to queued,
    // and the queued set (4) is cut back to 2 by evicting the newest arrivals, c then b.
    state.set(sender, 0, ether(100));
    pool.on_new_head(env(), &[], &state);
    assert_eq!(pool.status(), status(0, 2));
    assert!(!pool.contains(&hash(&c)) && !pool.contains(&hash(&b)));
    assert!(pool.contains(&hash(&a1)) && pool.contains(&hash(&a2)));
}

#[test]
fn pending_full_is_txpool_is_full() {
    let (pool, state) = (limited(2, 100, 64), State::funded());
    add_ok(&pool, &state, &tx(0, 0));
    add_ok(&pool, &state, &tx(0, 1));
    add_err(&pool, &state, &tx(1, 0), "txpool is full");
    // Queued transactions still fit.
    assert!(!add_ok(&pool, &state, &tx(1, 1)).pending);
    assert_eq!(pool.status(), status(2, 1));
    // Once a block frees room, the gap can be closed.
    state.set_nonce(signer(0).address(), 2);
    pool.on_new_head(env(), &[], &state);
    assert!(add_ok(&pool, &state, &tx(1, 0)).pending);
    assert_eq!(pool.status(), status(2, 0));
}

#[test]
fn closing_a_gap_counts_the_promoted_transactions() {
    let (pool, state) = (limited(3, 100, 64), State::funded());
    add_ok(&pool, &state, &tx(0, 0));
    add_ok(&pool, &state, &tx(0, 1));
    add_ok(&pool, &state, &tx(1, 1));
    // One more pending would fit, but nonce 0 would take nonce 1 along: 4 > 3.
    add_err(&pool, &state, &tx(1, 0), "txpool is full");
    assert!(add_ok(&pool, &state, &tx(2, 0)).pending);
    assert_eq!(pool.status(), status(3, 1));
}

#[test]
fn pending_overflow_on_new_head_evicts_the_newest_run_ends() {
    let (pool, state) = (limited(3, 100, 64), State::funded());
    let a1 = tx(0, 1);
    let a2 = tx(0, 2);
    let b1 = tx(1, 1);
    let c0 = tx(2, 0);
    let b0 = tx(1, 0);
    for t in [&a1, &a2, &b1, &c0, &b0] {
        add_ok(&pool, &state, t);
    }
    assert_eq!(pool.status(), status(3, 2));
    // Sender 0's nonce 0 lands from elsewhere: a1 and a2 become pending (5 > 3). The newest
    // transactions that end a sender's run go: b0 is the newest but b1 follows it, so c0, then
    // b1. No gap opens.
    state.set_nonce(signer(0).address(), 1);
    pool.on_new_head(env(), &[], &state);
    assert_eq!(pool.status(), status(3, 0));
    assert!(!pool.contains(&hash(&c0)) && !pool.contains(&hash(&b1)));
    assert_eq!(best_hashes(&pool), vec![hash(&a1), hash(&a2), hash(&b0)]);
}

#[test]
fn own_eviction_makes_room_in_a_full_queued_set() {
    let (pool, state) = (limited(100, 2, 2), State::funded());
    let (a5, a9) = (tx(0, 5), tx(0, 9));
    add_ok(&pool, &state, &a5);
    add_ok(&pool, &state, &a9);
    // Both the sender and the queued set are full; nonce 3 replaces nonce 9 in both.
    let a3 = tx(0, 3);
    assert!(!add_ok(&pool, &state, &a3).pending);
    assert!(!pool.contains(&hash(&a9)));
    assert_eq!(pool.status(), status(0, 2));
    pool.assert_invariants();
}

#[test]
fn a_stale_sender_is_synced_and_trimmed_before_insertion() {
    let (pool, state) = (limited(100, 1, 64), State::funded());
    let sender = signer(0).address();
    let a0 = sign(
        &signer(0),
        TxEip1559 {
            value: ether(500),
            ..eip1559(0)
        },
    );
    let (a1, a2, b5) = (tx(0, 1), tx(0, 2), tx(1, 5));
    for t in [&a0, &a1, &a2, &b5] {
        add_ok(&pool, &state, t);
    }
    // The balance drops before the pool hears of the new head. The next transaction of the
    // sender brings it up to date: a0 is unpayable, a1 and a2 are demoted, and the queued set
    // (limit 1) keeps only its oldest member, a1. a3 itself is behind the gap and finds it full.
    state.set(sender, 0, ether(100));
    add_err(&pool, &state, &tx(0, 3), "txpool is full");
    pool.assert_invariants();
    assert_eq!(pool.status(), status(0, 1));
    assert!(pool.contains(&hash(&a1)));
}
