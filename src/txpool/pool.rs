//! The pool's data: transactions by sender and nonce, split into pending and queued, and the
//! arrival order. No locking and no state reads here: [`TxPool`](super::TxPool) validates, reads
//! the accounts and calls in with the results.

use super::{
    PoolConfig, PoolContent, PoolEnv,
    error::{PoolError, Result},
    validate::ValidTx,
};
use alloy_consensus::{Transaction, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, U256, map::HashMap};
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap},
};

/// A pooled transaction and its place in the arrival order.
#[derive(Debug)]
struct PooledTx {
    valid: ValidTx,
    /// Arrival sequence number; a replacement inherits it.
    seq: u64,
}

/// The transactions of one sender.
#[derive(Debug)]
struct SenderTxs {
    /// Account nonce in the latest state the pool saw.
    nonce: u64,
    /// Transactions by nonce; every key is `>= nonce`.
    txs: BTreeMap<u64, PooledTx>,
    /// Length of the gapless run `nonce, nonce + 1, …` in `txs`: the pending transactions.
    pending: usize,
}

impl SenderTxs {
    fn next_pending_nonce(&self) -> u64 {
        self.nonce + self.pending as u64
    }

    fn is_pending(&self, nonce: u64) -> bool {
        nonce >= self.nonce && nonce < self.next_pending_nonce()
    }

    /// The transaction at `nonce` if it is pending and its fee cap covers `base_fee`.
    fn executable(&self, nonce: u64, base_fee: u128) -> Option<&PooledTx> {
        self.txs
            .get(&nonce)
            .filter(|tx| self.is_pending(nonce) && tx.valid.max_fee >= base_fee)
    }

    /// Length of the gapless run from `nonce`, computed from scratch.
    fn count_pending(&self) -> usize {
        self.txs
            .keys()
            .zip(self.nonce..)
            .take_while(|(have, want)| **have == *want)
            .count()
    }
}

/// What an operation changed, for the subscribers and the logs.
#[derive(Debug, Default)]
pub(super) struct Changes {
    /// Transactions that became pending (new, promoted, or replacing a pending one).
    pub(super) new_pending: Vec<B256>,
    /// Transactions that left the pool (replaced, evicted, stale, unpayable, mined, removed).
    pub(super) discarded: Vec<B256>,
}

/// Every pooled transaction, with the indexes the pool needs.
///
/// Invariants: `by_hash` and `by_arrival` index exactly the transactions in `senders`;
/// `pending` is the sum of [`SenderTxs::pending`]; no sender has an empty map.
#[derive(Debug)]
pub(super) struct Pool {
    config: PoolConfig,
    pub(super) env: PoolEnv,
    senders: HashMap<Address, SenderTxs>,
    by_hash: HashMap<B256, (Address, u64)>,
    /// Arrival sequence number → (sender, nonce).
    by_arrival: BTreeMap<u64, (Address, u64)>,
    next_seq: u64,
    pending: usize,
}

impl Pool {
    pub(super) fn new(config: PoolConfig, env: PoolEnv) -> Self {
        Self {
            config,
            env,
            senders: HashMap::default(),
            by_hash: HashMap::default(),
            by_arrival: BTreeMap::new(),
            next_seq: 0,
            pending: 0,
        }
    }

    pub(super) fn pending_count(&self) -> usize {
        self.pending
    }

    pub(super) fn queued_count(&self) -> usize {
        self.by_hash.len() - self.pending
    }

    /// Inserts a transaction already checked against the sender's account `(nonce, balance)`,
    /// which is also taken as the sender's latest state. Returns whether it is pending.
    pub(super) fn insert(
        &mut self,
        valid: ValidTx,
        nonce: u64,
        balance: U256,
        changes: &mut Changes,
    ) -> Result<bool> {
        if self.by_hash.contains_key(&valid.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let sender = valid.tx.signer();
        let tx_nonce = valid.tx.nonce();
        self.sync_account(sender, nonce, balance, changes);
        // Syncing may have promoted or demoted; the checks below assume both sets fit.
        self.enforce_limits(changes);

        if let Some(txs) = self.senders.get_mut(&sender)
            && let Some(old) = txs.txs.get_mut(&tx_nonce)
        {
            check_replacement(&old.valid, &valid, self.config.price_bump_percent)?;
            let hash = valid.hash;
            let old_hash = std::mem::replace(&mut old.valid, valid).hash;
            self.by_hash.remove(&old_hash);
            self.by_hash.insert(hash, (sender, tx_nonce));
            changes.discarded.push(old_hash);
            let pending = txs.is_pending(tx_nonce);
            if pending {
                changes.new_pending.push(hash);
            }
            return Ok(pending);
        }

        let (state_nonce, pending, len, last) = match self.senders.get(&sender) {
            Some(txs) => (
                txs.nonce,
                txs.pending,
                txs.txs.len(),
                txs.txs
                    .last_key_value()
                    .map(|(&last, _)| (last, txs.is_pending(last))),
            ),
            None => (nonce, 0, 0, None),
        };
        let will_be_pending = tx_nonce == state_nonce + pending as u64;

        // Per-sender limit: a transaction closer to execution displaces the sender's own
        // farthest queued one; otherwise the sender has to wait.
        let mut evict_own = None;
        if len >= self.config.max_account_slots {
            match last {
                Some((last, false)) if last > tx_nonce => evict_own = Some(last),
                _ => {
                    return Err(PoolError::AccountLimitExceeded {
                        limit: self.config.max_account_slots,
                    });
                }
            }
        }

        // Global limits: the newcomer is the newest transaction, so first come, first served
        // means it is the one turned away.
        if will_be_pending {
            let promoted = self.senders.get(&sender).map_or(0, |txs| {
                (tx_nonce + 1..)
                    .take_while(|n| Some(*n) != evict_own && txs.txs.contains_key(n))
                    .count()
            });
            if self.pending + 1 + promoted > self.config.pending_max_count {
                return Err(PoolError::PoolFull("pending transactions at limit"));
            }
        } else {
            let queued = self.queued_count() - usize::from(evict_own.is_some());
            if queued + 1 > self.config.queued_max_count {
                return Err(PoolError::PoolFull("queued transactions at limit"));
            }
        }

        let txs = self.senders.entry(sender).or_insert_with(|| SenderTxs {
            nonce,
            txs: BTreeMap::new(),
            pending: 0,
        });
        let before = (txs.nonce, txs.pending);
        let removed: Vec<_> = evict_own
            .and_then(|evict| txs.txs.remove(&evict))
            .into_iter()
            .collect();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_hash.insert(valid.hash, (sender, tx_nonce));
        self.by_arrival.insert(seq, (sender, tx_nonce));
        txs.txs.insert(tx_nonce, PooledTx { valid, seq });
        self.finish_sender(sender, before, removed, changes);
        Ok(will_be_pending)
    }

    /// Takes `(nonce, balance)` as the sender's latest state: drops transactions whose nonce is
    /// used, that the balance cannot pay for or that no longer fit in a block; later nonces of a
    /// dropped one become queued.
    pub(super) fn sync_account(
        &mut self,
        sender: Address,
        nonce: u64,
        balance: U256,
        changes: &mut Changes,
    ) {
        let block_gas_limit = self.env.block_gas_limit;
        let Some(txs) = self.senders.get_mut(&sender) else {
            return;
        };
        let before = (txs.nonce, txs.pending);
        txs.nonce = nonce;
        let current = txs.txs.split_off(&nonce);
        let mut removed: Vec<_> = std::mem::replace(&mut txs.txs, current)
            .into_values()
            .collect();
        let unfit: Vec<u64> = txs
            .txs
            .iter()
            .filter(|(_, tx)| tx.valid.cost > balance || tx.valid.gas_limit > block_gas_limit)
            .map(|(&nonce, _)| nonce)
            .collect();
        removed.extend(unfit.iter().filter_map(|nonce| txs.txs.remove(nonce)));
        self.finish_sender(sender, before, removed, changes);
    }

    /// Removes transactions included in a block; unknown hashes are ignored. A mined nonce `n`
    /// means the account nonce is past `n`, so the sender's lower nonces go too and its later
    /// ones stay pending even before its account is read again.
    pub(super) fn remove_mined(&mut self, hashes: &[B256], changes: &mut Changes) {
        for hash in hashes {
            let Some(&(sender, nonce)) = self.by_hash.get(hash) else {
                continue;
            };
            let Some(txs) = self.senders.get_mut(&sender) else {
                continue;
            };
            let before = (txs.nonce, txs.pending);
            txs.nonce = txs.nonce.max(nonce.saturating_add(1));
            let current = txs.txs.split_off(&txs.nonce);
            let removed = std::mem::replace(&mut txs.txs, current)
                .into_values()
                .collect();
            self.finish_sender(sender, before, removed, changes);
        }
    }

    /// Removes transactions by hash; unknown hashes are ignored. Later nonces of their senders
    /// become queued.
    pub(super) fn remove(&mut self, hashes: &[B256], changes: &mut Changes) {
        for hash in hashes {
            if let Some(&(sender, nonce)) = self.by_hash.get(hash) {
                self.remove_at(sender, nonce, changes);
            }
        }
    }

    fn remove_at(&mut self, sender: Address, nonce: u64, changes: &mut Changes) {
        let Some(txs) = self.senders.get_mut(&sender) else {
            return;
        };
        let before = (txs.nonce, txs.pending);
        let removed = txs.txs.remove(&nonce).into_iter().collect();
        self.finish_sender(sender, before, removed, changes);
    }

    /// Brings the indexes and counts up to date after the sender's transactions changed.
    /// `before` is the sender's `(nonce, pending)` before the change.
    fn finish_sender(
        &mut self,
        sender: Address,
        before: (u64, usize),
        removed: Vec<PooledTx>,
        changes: &mut Changes,
    ) {
        for tx in removed {
            self.by_hash.remove(&tx.valid.hash);
            self.by_arrival.remove(&tx.seq);
            changes.discarded.push(tx.valid.hash);
        }
        let Some(txs) = self.senders.get_mut(&sender) else {
            return;
        };
        let (old_start, old_len) = before;
        let old_run = old_start..old_start + old_len as u64;
        txs.pending = txs.count_pending();
        self.pending = self.pending - old_len + txs.pending;
        changes.new_pending.extend(
            txs.txs
                .range(txs.nonce..txs.next_pending_nonce())
                .filter(|&(nonce, _)| !old_run.contains(nonce))
                .map(|(_, tx)| tx.valid.hash),
        );
        if txs.txs.is_empty() {
            self.senders.remove(&sender);
        }
    }

    /// Evicts until both sets are within their limits (needed after a new head promoted or
    /// demoted transactions): the newest queued transactions first, and for pending the newest
    /// transaction that ends its sender's run, so that no gap opens.
    pub(super) fn enforce_limits(&mut self, changes: &mut Changes) {
        while self.queued_count() > self.config.queued_max_count {
            let newest = self
                .by_arrival
                .values()
                .rev()
                .copied()
                .find(|(sender, nonce)| {
                    self.senders
                        .get(sender)
                        .is_some_and(|txs| !txs.is_pending(*nonce))
                });
            let Some((sender, nonce)) = newest else { break };
            self.remove_at(sender, nonce, changes);
        }
        while self.pending > self.config.pending_max_count {
            let newest = self
                .by_arrival
                .values()
                .rev()
                .copied()
                .find(|(sender, nonce)| {
                    self.senders.get(sender).is_some_and(|txs| {
                        txs.pending > 0 && *nonce + 1 == txs.next_pending_nonce()
                    })
                });
            let Some((sender, nonce)) = newest else { break };
            self.remove_at(sender, nonce, changes);
        }
    }

    /// Executable transactions in arrival order, each sender's in nonce order (see the module
    /// docs for the rule).
    pub(super) fn best(&self, max: usize) -> Vec<Recovered<TxEnvelope>> {
        let base_fee = u128::from(self.env.next_base_fee);
        let mut heap: BinaryHeap<_> = self
            .senders
            .iter()
            .filter_map(|(sender, txs)| {
                txs.executable(txs.nonce, base_fee)
                    .map(|tx| Reverse((tx.seq, *sender, txs.nonce)))
            })
            .collect();
        let mut out = Vec::with_capacity(max.min(self.pending));
        while out.len() < max
            && let Some(Reverse((_, sender, nonce))) = heap.pop()
        {
            let Some(txs) = self.senders.get(&sender) else {
                continue;
            };
            if let Some(tx) = txs.txs.get(&nonce) {
                out.push(tx.valid.tx.clone());
            }
            if let Some(next) = txs.executable(nonce + 1, base_fee) {
                heap.push(Reverse((next.seq, sender, nonce + 1)));
            }
        }
        out
    }

    pub(super) fn get(&self, hash: &B256) -> Option<Recovered<TxEnvelope>> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        let tx = self.senders.get(sender)?.txs.get(nonce)?;
        Some(tx.valid.tx.clone())
    }

    pub(super) fn sender(&self, hash: &B256) -> Option<Address> {
        self.by_hash.get(hash).map(|(sender, _)| *sender)
    }

    pub(super) fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    pub(super) fn content(&self) -> PoolContent {
        let mut content = PoolContent::default();
        for (sender, txs) in &self.senders {
            for (&nonce, tx) in &txs.txs {
                let set = if txs.is_pending(nonce) {
                    &mut content.pending
                } else {
                    &mut content.queued
                };
                set.entry(*sender)
                    .or_default()
                    .insert(nonce, tx.valid.tx.clone());
            }
        }
        content
    }

    pub(super) fn pending_nonce(&self, sender: Address) -> Option<u64> {
        self.senders
            .get(&sender)
            .filter(|txs| txs.pending > 0)
            .map(SenderTxs::next_pending_nonce)
    }

    pub(super) fn senders(&self) -> Vec<Address> {
        self.senders.keys().copied().collect()
    }

    /// Every transaction in arrival order.
    pub(super) fn in_arrival_order(&self) -> impl Iterator<Item = &Recovered<TxEnvelope>> {
        self.by_arrival
            .values()
            .filter_map(|(sender, nonce)| Some(&self.senders.get(sender)?.txs.get(nonce)?.valid.tx))
    }
}

/// A replacement must raise both the fee cap and the priority fee by at least `bump` percent
/// (and by at least 1 wei).
fn check_replacement(old: &ValidTx, new: &ValidTx, bump: u64) -> Result<()> {
    let threshold = |old: u128| {
        let bumped = U256::from(old) * U256::from(100 + bump) / U256::from(100);
        bumped.max(U256::from(old) + U256::from(1))
    };
    let min_max_fee = threshold(old.max_fee);
    let min_priority_fee = threshold(old.priority_fee);
    if U256::from(new.max_fee) < min_max_fee || U256::from(new.priority_fee) < min_priority_fee {
        return Err(PoolError::ReplacementUnderpriced {
            min_max_fee,
            min_priority_fee,
        });
    }
    Ok(())
}

#[cfg(test)]
impl Pool {
    /// Panics if an invariant of the pool does not hold.
    pub(super) fn assert_invariants(&self) {
        let (mut total, mut pending) = (0, 0);
        for (sender, txs) in &self.senders {
            assert!(!txs.txs.is_empty(), "empty sender {sender}");
            assert_eq!(txs.pending, txs.count_pending(), "pending run of {sender}");
            assert!(txs.txs.len() <= self.config.max_account_slots);
            for (&nonce, tx) in &txs.txs {
                assert!(nonce >= txs.nonce, "stale nonce {nonce} of {sender}");
                assert_eq!(tx.valid.tx.signer(), *sender);
                assert_eq!(tx.valid.tx.nonce(), nonce);
                assert_eq!(self.by_hash.get(&tx.valid.hash), Some(&(*sender, nonce)));
                assert_eq!(self.by_arrival.get(&tx.seq), Some(&(*sender, nonce)));
                assert!(tx.seq < self.next_seq);
            }
            total += txs.txs.len();
            pending += txs.pending;
        }
        assert_eq!(self.by_hash.len(), total);
        assert_eq!(self.by_arrival.len(), total);
        assert_eq!(self.pending, pending);
        assert!(self.pending <= self.config.pending_max_count);
        assert!(self.queued_count() <= self.config.queued_max_count);
    }
}
