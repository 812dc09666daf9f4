//! First come, first served: arrival order across senders, nonce order within one.

use super::*;

#[test]
fn earlier_arrival_beats_higher_tip() {
    let (pool, state) = (pool(), State::funded());
    let a = transfer(0, 0, 2 * GWEI, 1);
    let b = transfer(1, 0, 100 * GWEI, 50 * GWEI);
    add_ok(&pool, &state, &a);
    add_ok(&pool, &state, &b);
    assert_eq!(best_hashes(&pool), vec![hash(&a), hash(&b)]);
}

#[test]
fn senders_interleave_in_arrival_order() {
    let (pool, state) = (pool(), State::funded());
    let arrivals = [
        transfer(0, 0, 2 * GWEI, GWEI),
        transfer(1, 0, 2 * GWEI, GWEI),
        transfer(0, 1, 2 * GWEI, GWEI),
        transfer(2, 0, 2 * GWEI, GWEI),
        transfer(1, 1, 2 * GWEI, GWEI),
        transfer(0, 2, 2 * GWEI, GWEI),
    ];
    for tx in &arrivals {
        add_ok(&pool, &state, tx);
    }
    assert_eq!(
        best_hashes(&pool),
        arrivals.iter().map(hash).collect::<Vec<_>>()
    );
    // `max` cuts the same order short.
    assert_eq!(
        hashes(&pool.best_transactions(4)),
        arrivals[..4].iter().map(hash).collect::<Vec<_>>()
    );
    assert!(pool.best_transactions(0).is_empty());
}

#[test]
fn nonce_order_wins_over_arrival_within_a_sender() {
    let (pool, state) = (pool(), State::funded());
    let a1 = transfer(0, 1, 2 * GWEI, GWEI);
    let b0 = transfer(1, 0, 2 * GWEI, GWEI);
    let a0 = transfer(0, 0, 2 * GWEI, GWEI);
    assert!(!add_ok(&pool, &state, &a1).pending);
    add_ok(&pool, &state, &b0);
    assert!(add_ok(&pool, &state, &a0).pending);
    // a0 arrived last, so b0 goes first; a1 arrived before b0 but must follow a0, and then
    // follows it at once.
    assert_eq!(best_hashes(&pool), vec![hash(&b0), hash(&a0), hash(&a1)]);
}

#[test]
fn replacement_keeps_its_place() {
    let (pool, state) = (pool(), State::funded());
    let a = transfer(0, 0, 2 * GWEI, GWEI);
    let b = transfer(1, 0, 2 * GWEI, GWEI);
    let c = transfer(2, 0, 2 * GWEI, GWEI);
    for tx in [&a, &b, &c] {
        add_ok(&pool, &state, tx);
    }
    // Replace the middle one and the first one with much higher fees: nothing moves.
    let b2 = transfer(1, 0, 20 * GWEI, 10 * GWEI);
    let a2 = transfer(0, 0, 20 * GWEI, 10 * GWEI);
    add_ok(&pool, &state, &b2);
    add_ok(&pool, &state, &a2);
    assert_eq!(best_hashes(&pool), vec![hash(&a2), hash(&b2), hash(&c)]);
    assert!(!pool.contains(&hash(&a)) && !pool.contains(&hash(&b)));
    // A replacement does not pull a late transaction forward either.
    let (pool, state) = (self::pool(), State::funded());
    add_ok(&pool, &state, &a);
    add_ok(&pool, &state, &b);
    add_ok(&pool, &state, &transfer(1, 0, 3 * GWEI, 2 * GWEI));
    assert_eq!(best_hashes(&pool)[0], hash(&a));
}

#[test]
fn fee_cap_below_base_fee_waits_with_its_successors() {
    let (pool, state) = (pool(), State::funded());
    // Sender 0's nonce 0 cannot pay the base fee, so neither nonce 0 nor 1 is executable.
    let low = transfer(0, 0, GWEI / 2, 1);
    let after_low = transfer(0, 1, 2 * GWEI, GWEI);
    let other = transfer(1, 0, 2 * GWEI, GWEI);
    assert!(add_ok(&pool, &state, &low).pending);
    assert!(add_ok(&pool, &state, &after_low).pending);
    add_ok(&pool, &state, &other);
    assert_eq!(pool.status(), status(3, 0));
    assert_eq!(best_hashes(&pool), vec![hash(&other)]);
    // The base fee falls: sender 0 is executable again, in its original place.
    pool.on_new_head(
        PoolEnv {
            next_base_fee: GWEI as u64 / 2,
            ..env()
        },
        &[],
        &state,
    );
    assert_eq!(
        best_hashes(&pool),
        vec![hash(&low), hash(&after_low), hash(&other)]
    );
}

#[test]
fn queued_transactions_are_not_executable() {
    let (pool, state) = (pool(), State::funded());
    add_ok(&pool, &state, &transfer(0, 1, 2 * GWEI, GWEI));
    add_ok(&pool, &state, &transfer(0, 2, 2 * GWEI, GWEI));
    assert!(best_hashes(&pool).is_empty());
}
