//! Seeded random operations against small limits: after every step the pool's invariants hold
//! and `best_transactions` equals an independent first-come-first-served merge.

use super::*;
use alloy_consensus::Transaction;

/// SplitMix64: a tiny deterministic generator, so that a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The test's own record of arrival: (sender, nonce) → (arrival index, hash).
type Arrivals = BTreeMap<(Address, u64), (u64, B256)>;

/// Checks `best` against the pool content, the state and the recorded arrivals.
fn check_best(pool: &TxPool, state: &State, arrivals: &Arrivals) {
    let best = pool.best_transactions(usize::MAX);
    let base_fee = u128::from(pool.env().next_base_fee);
    let content = pool.content();
    // Per sender: the executable prefix of its pending run, with arrival indices.
    let mut lanes: BTreeMap<Address, Vec<(u64, B256)>> = BTreeMap::new();
    for (sender, txs) in &content.pending {
        let (mut next, _) = state.account(*sender).expect("state").unwrap_or_default();
        for (&nonce, tx) in txs {
            assert_eq!(nonce, next, "pending run of {sender} has a gap");
            next += 1;
            if tx.max_fee_per_gas() < base_fee {
                break;
            }
            let (index, hash) = arrivals[&(*sender, nonce)];
            assert_eq!(hash, *tx.tx_hash());
            lanes.entry(*sender).or_default().push((index, hash));
        }
    }
    // Merge: always the lane whose next transaction arrived first.
    let mut expected = Vec::new();
    let mut cursors: BTreeMap<Address, usize> = lanes.keys().map(|s| (*s, 0)).collect();
    loop {
        let next = cursors
            .iter()
            .filter_map(|(sender, &at)| lanes[sender].get(at).map(|(index, _)| (*index, *sender)))
            .min();
        let Some((_, sender)) = next else { break };
        let at = cursors.get_mut(&sender).expect("lane");
        expected.push(lanes[&sender][*at].1);
        *at += 1;
    }
    assert_eq!(hashes(&best), expected);
}

#[test]
fn random_operations_keep_invariants_and_fcfs() {
    for seed in 0..4 {
        run(seed, 300);
    }
}

fn run(seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let pool = pool_with(PoolConfig {
        pending_max_count: 6,
        queued_max_count: 4,
        max_account_slots: 4,
        ..PoolConfig::default()
    });
    let state = State::funded();
    let mut arrivals = Arrivals::new();
    let mut counter = 0;
    let fees = [GWEI / 2, GWEI, 2 * GWEI, 3 * GWEI, 5 * GWEI];
    for step in 0..steps {
        match rng.below(10) {
            0..=5 => {
                let who = rng.below(KEYS.len() as u64) as usize;
                let sender = signer(who).address();
                let (nonce, _) = state.account(sender).expect("state").unwrap_or_default();
                let nonce = nonce + rng.below(6);
                let max_fee = fees[rng.below(fees.len() as u64) as usize];
                let tip = max_fee / (1 + rng.below(3) as u128);
                let value = if rng.below(8) == 0 {
                    ether(900)
                } else {
                    U256::from(step)
                };
                let tx = sign(
                    &signer(who),
                    TxEip1559 {
                        max_fee_per_gas: max_fee,
                        max_priority_fee_per_gas: tip,
                        value,
                        ..eip1559(nonce)
                    },
                );
                let replaces = arrivals
                    .get(&(sender, nonce))
                    .filter(|(_, hash)| pool.contains(hash))
                    .map(|(index, _)| *index);
                if add(&pool, &state, &tx).is_ok() {
                    let index = replaces.unwrap_or_else(|| {
                        counter += 1;
                        counter
                    });
                    arrivals.insert((sender, nonce), (index, hash(&tx)));
                }
            }
            6 | 7 => {
                // A block of up to three transactions from the pool, then maybe a base fee move.
                let block = pool.best_transactions(rng.below(4) as usize);
                for tx in &block {
                    let (_, balance) = state
                        .account(tx.signer())
                        .expect("state")
                        .unwrap_or_default();
                    let spent = U256::from(21_000 * GWEI) + tx.value();
                    state.set(tx.signer(), tx.nonce() + 1, balance.saturating_sub(spent));
                }
                let next_base_fee =
                    [GWEI as u64 / 2, BASE_FEE, 2 * BASE_FEE][rng.below(3) as usize];
                pool.on_new_head(
                    PoolEnv {
                        next_base_fee,
                        ..env()
                    },
                    &hashes(&block),
                    &state,
                );
            }
            8 => {
                // State moves without the pool's transactions: another validator's block.
                let who = signer(rng.below(KEYS.len() as u64) as usize).address();
                let (nonce, balance) = state.account(who).expect("state").unwrap_or_default();
                if rng.below(2) == 0 {
                    state.set(who, nonce + 1, balance);
                } else {
                    state.set(who, nonce, balance / U256::from(4));
                }
                pool.on_new_head(pool.env(), &[], &state);
            }
            _ => {
                // The builder rejects a pooled transaction.
                let content = pool.content();
                let all: Vec<B256> = content
                    .pending
                    .values()
                    .chain(content.queued.values())
                    .flat_map(|txs| txs.values().map(|tx| *tx.tx_hash()))
                    .collect();
                if !all.is_empty() {
                    pool.remove(&[all[rng.below(all.len() as u64) as usize]]);
                }
            }
        }
        arrivals.retain(|_, (_, hash)| pool.contains(hash));
        pool.assert_invariants();
        check_best(&pool, &state, &arrivals);
    }
}
