//! Transaction pool: admits signed transactions from RPC, keeps them per sender until a block
//! includes them, and hands the block builder the executable ones in **arrival order**.
//!
//! # Design
//!
//! - **Admission** ([`TxPool::add_raw`], [`TxPool::add_transaction`]) decodes the EIP-2718 bytes,
//!   recovers the sender (EIP-2 low `s`), then checks, in geth's order: type (legacy, EIP-2930,
//!   EIP-1559 and — from Prague — EIP-7702; blob transactions never), size, EIP-155 chain id,
//!   nonce below `u64::MAX`, gas limit against the block (and the EIP-7825 cap from Osaka), fee
//!   fields, initcode size, intrinsic gas (revm's own calculation, so the EIP-7623 floor from
//!   Prague and the EIP-7702 per-authorization cost are included), and finally the sender's
//!   account: nonce not used yet, balance covering `gas_limit * max_fee_per_gas + value`.
//!   The balance check is per transaction, not cumulative over the sender's pooled ones: the
//!   block builder rejects what the sender cannot pay after all and reports it via
//!   [`TxPool::remove`].
//! - **Pending and queued.** A sender's transactions are kept by nonce. Those forming a gapless
//!   run from the account nonce are *pending*; the rest wait behind a gap as *queued* and are
//!   promoted as soon as the gap closes (by a new transaction or a new head).
//! - **Base fee.** A transaction whose fee cap is below the next block's base fee is accepted
//!   (like geth) and stays pending, but it is not *executable*: [`TxPool::best_transactions`]
//!   skips it, and the sender's later nonces with it, until the base fee falls to its fee cap.
//!   Fee caps below [`MIN_PROTOCOL_BASE_FEE`](alloy_eips::eip1559::MIN_PROTOCOL_BASE_FEE), which
//!   the base fee can never fall below, are rejected as `transaction underpriced`.
//! - **Replacement.** A transaction with the nonce of a pooled one of the same sender replaces it
//!   only if it raises both the fee cap and the priority fee (the gas price for legacy and
//!   EIP-2930 transactions) by [`PoolConfig::price_bump_percent`].
//!
//! # Ordering: first come, first served
//!
//! Every transaction gets a sequence number from a counter when it first enters the pool; a
//! replacement inherits the number of the transaction it replaces, so replacing never moves a
//! transaction forward or back. [`TxPool::best_transactions`] keeps a min-heap keyed by that
//! number holding, per sender, the lowest-nonce executable transaction; it pops the smallest,
//! emits it and pushes the sender's next nonce if that one is executable too. The result is
//! arrival order across senders and nonce order within a sender (a nonce that arrived before
//! its predecessor follows it at once). Fees never change the order: a higher tip does not jump
//! the queue.
//!
//! # Limits and eviction
//!
//! The same rule decides who stays when the pool is full: the newest transaction loses.
//! - A new pending transaction that would push the pending set past
//!   [`PoolConfig::pending_max_count`] (counting the queued ones it would promote) is rejected
//!   with `txpool is full`. A new queued transaction likewise against
//!   [`PoolConfig::queued_max_count`].
//! - A sender with [`PoolConfig::max_account_slots`] transactions may still add one with a lower
//!   nonce than its highest queued transaction, which is then evicted (a transaction that can
//!   execute sooner is worth more than the farthest one); otherwise `account limit exceeded`.
//! - When a new head overflows a set (state changes promote transactions, balance drops demote
//!   them), the newest queued transactions are evicted first, and for pending the newest
//!   transaction that ends its sender's run, so no gap opens.
//!
//! # New head
//!
//! [`TxPool::on_new_head`] takes the new [`PoolEnv`] and removes the mined transactions (a mined
//! nonce also advances the sender's known nonce, so this works even if its account cannot be
//! read). It then re-reads every pooled sender's account and drops transactions whose nonce is
//! used, that the balance no longer covers or whose gas limit no longer fits in a block; later
//! nonces of a dropped one become queued. Intrinsic gas and type rules are not re-checked at a
//! fork boundary; the block builder rejects what a fork made invalid.
//!
//! # Invariants
//!
//! - Every pooled transaction passed validation against the env and account state of its
//!   admission; every nonce is at least its sender's account nonce as last seen.
//! - Pending of a sender = the gapless run from the account nonce; queued = the rest.
//! - Each hash is in the pool at most once; each (sender, nonce) at most once.
//! - Sequence numbers only grow, are unique, and survive replacement.
//!
//! # Assumptions
//!
//! - The [`AccountReader`] given to every call reflects the latest canonical head, and the node
//!   calls [`TxPool::on_new_head`] for every new head.
//! - Heads are final (BFT): there are no reorgs, so nothing dropped is ever re-injected.
//! - [`TxPool::add_transaction`] trusts the sender in its [`Recovered`] argument; untrusted bytes
//!   go through [`TxPool::add_raw`], which recovers it.
//!
//! # Concurrency
//!
//! [`TxPool`] is a cheap handle (an `Arc`) around one `RwLock`. Validation and state reads run
//! outside the lock; only the insertion itself takes the write lock.
//!
//! # Persistence
//!
//! [`TxPool::save`] writes pending and queued transactions in arrival order at shutdown;
//! [`TxPool::load`] re-adds them at start, each validated again, so arrival order survives.

mod config;
mod error;
mod persist;
mod pool;
mod validate;

#[cfg(test)]
mod tests;

pub use config::{
    DEFAULT_MAX_ACCOUNT_SLOTS, DEFAULT_MAX_TX_SIZE, DEFAULT_PENDING_MAX_COUNT,
    DEFAULT_PRICE_BUMP_PERCENT, DEFAULT_QUEUED_MAX_COUNT, PoolConfig,
};
pub(crate) use error::{CODE_INTERNAL, CODE_INVALID_TX};
pub use error::{PoolError, Result};

use alloy_consensus::{TxEnvelope, transaction::Recovered};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, U256, map::HashSet};
use pool::{Changes, Pool};
use revm::primitives::hardfork::SpecId;
use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
};
use tokio::sync::broadcast;

/// Buffered new-pending hashes per subscriber; a subscriber that falls further behind gets
/// `RecvError::Lagged` instead of slowing the pool down.
const NEW_PENDING_CHANNEL_CAPACITY: usize = 4096;

/// What the pool needs to know about the chain head; updated on every new head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolEnv {
    /// Chain id transactions must be signed for (EIP-155).
    pub chain_id: u64,
    /// Rules of the next block (intrinsic gas, EIP-7702 support).
    pub spec_id: SpecId,
    /// Base fee of the next block.
    pub next_base_fee: u64,
    /// Gas limit of the next block.
    pub block_gas_limit: u64,
}

/// Account state the pool validates against (latest head state).
pub trait AccountReader {
    /// (nonce, balance); None = account does not exist (nonce 0, balance 0).
    fn account(&self, address: Address) -> Result<Option<(u64, U256)>, PoolError>;
}

/// A transaction the pool accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedTransaction {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub sender: Address,
    /// `true` if pending (next in line for its sender), `false` if queued behind a nonce gap.
    pub pending: bool,
}

/// Numbers of pooled transactions (`txpool_status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Pending transactions.
    pub pending: usize,
    /// Queued transactions.
    pub queued: usize,
}

/// Pooled transactions by sender and nonce (`txpool_content`, `txpool_inspect`).
#[derive(Debug, Clone, Default)]
pub struct PoolContent {
    /// Pending transactions.
    pub pending: BTreeMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>,
    /// Queued transactions.
    pub queued: BTreeMap<Address, BTreeMap<u64, Recovered<TxEnvelope>>>,
}

/// What [`TxPool::load`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOutcome {
    /// Transactions back in the pool.
    pub added: usize,
    /// Transactions that no longer validate (mined meanwhile, unpayable, …) and were dropped.
    pub dropped: usize,
}

/// The transaction pool. Cloning is cheap and every clone is the same pool.
#[derive(Debug, Clone)]
pub struct TxPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: PoolConfig,
    pool: RwLock<Pool>,
    new_pending: broadcast::Sender<B256>,
}

impl TxPool {
    /// An empty pool.
    pub fn new(config: PoolConfig, env: PoolEnv) -> Self {
        let (new_pending, _) = broadcast::channel(NEW_PENDING_CHANNEL_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                pool: RwLock::new(Pool::new(config.clone(), env)),
                config,
                new_pending,
            }),
        }
    }

    /// Decode an EIP-2718 raw transaction (as eth_sendRawTransaction receives it), recover the
    /// sender, validate, insert.
    pub fn add_raw(
        &self,
        raw: &[u8],
        state: &impl AccountReader,
    ) -> Result<AddedTransaction, PoolError> {
        self.add_transaction(self.recover_raw(raw)?, state)
    }

    /// Decodes `raw` (size and type checks) and recovers its sender, without adding it: the
    /// first half of [`Self::add_raw`], for callers that must know the sender before the
    /// transaction is in the pool.
    pub fn recover_raw(&self, raw: &[u8]) -> Result<Recovered<TxEnvelope>, PoolError> {
        let tx = validate::decode(raw, &self.inner.config)?;
        // Cheaper than recovering the signature of a transaction we already hold.
        if self.contains(tx.tx_hash()) {
            return Err(PoolError::AlreadyKnown);
        }
        validate::recover(tx)
    }

    /// Validates a transaction whose sender is already recovered, and inserts it.
    pub fn add_transaction(
        &self,
        tx: Recovered<TxEnvelope>,
        state: &impl AccountReader,
    ) -> Result<AddedTransaction, PoolError> {
        let hash = *tx.tx_hash();
        let sender = tx.signer();
        let result = self.validate_and_insert(tx, state);
        match &result {
            Ok(pending) => tracing::debug!(%hash, %sender, pending, "transaction added"),
            Err(error) => tracing::debug!(%hash, %sender, %error, "transaction rejected"),
        }
        result.map(|pending| AddedTransaction {
            hash,
            sender,
            pending,
        })
    }

    fn validate_and_insert(
        &self,
        tx: Recovered<TxEnvelope>,
        state: &impl AccountReader,
    ) -> Result<bool> {
        if self.contains(tx.tx_hash()) {
            return Err(PoolError::AlreadyKnown);
        }
        let env = self.env();
        let valid = validate::validate(tx, &env, &self.inner.config)?;
        let (nonce, balance) = state.account(valid.tx.signer())?.unwrap_or_default();
        validate::check_account(&valid, nonce, balance)?;
        let mut changes = Changes::default();
        let result = self.write().insert(valid, nonce, balance, &mut changes);
        // Even a rejected transaction may have brought its sender up to date (promotions).
        self.notify(&changes);
        result
    }

    /// Executable transactions in first-come-first-served order (per sender in nonce order), at
    /// most `max` of them.
    pub fn best_transactions(&self, max: usize) -> Vec<Recovered<TxEnvelope>> {
        self.read().best(max)
    }

    /// New canonical head: update env, drop transactions that are mined or now invalid (nonce
    /// below account nonce), promote queued ones whose gap closed, demote/evict those that can no
    /// longer pay. `mined` are the hashes in the new block(s).
    ///
    /// A sender whose account cannot be read keeps its transactions as they are (logged).
    pub fn on_new_head(&self, env: PoolEnv, mined: &[B256], state: &impl AccountReader) {
        let mut changes = Changes::default();
        let senders = {
            let mut pool = self.write();
            pool.env = env;
            pool.remove_mined(mined, &mut changes);
            pool.senders()
        };
        // Read outside the lock; a transaction added meanwhile was checked against the same head.
        let accounts: Vec<_> = senders
            .into_iter()
            .filter_map(|sender| match state.account(sender) {
                Ok(account) => Some((sender, account.unwrap_or_default())),
                Err(error) => {
                    tracing::warn!(%sender, %error, "txpool: cannot read account on new head");
                    None
                }
            })
            .collect();
        let mut pool = self.write();
        for (sender, (nonce, balance)) in accounts {
            pool.sync_account(sender, nonce, balance, &mut changes);
        }
        pool.enforce_limits(&mut changes);
        let (pending, queued) = (pool.pending_count(), pool.queued_count());
        drop(pool);
        tracing::debug!(
            mined = mined.len(),
            discarded = changes.discarded.len(),
            pending,
            queued,
            "txpool updated to new head"
        );
        self.notify(&changes);
    }

    /// Drop transactions the block builder reported invalid. Later nonces of their senders
    /// become queued.
    pub fn remove(&self, hashes: &[B256]) {
        let mut changes = Changes::default();
        let mut pool = self.write();
        pool.remove(hashes, &mut changes);
        // Demoted transactions may overflow the queued set.
        pool.enforce_limits(&mut changes);
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Recovered<TxEnvelope>> {
        self.read().get(hash)
    }

    /// The senders of pooled transactions, by hash (`None` for one not in the pool): a block
    /// verifier takes them instead of recovering every signature again.
    pub fn senders(&self, hashes: &[B256]) -> Vec<Option<Address>> {
        let pool = self.read();
        hashes.iter().map(|hash| pool.sender(hash)).collect()
    }

    /// Whether the transaction is pooled.
    pub fn contains(&self, hash: &B256) -> bool {
        self.read().contains(hash)
    }

    /// Numbers of pending and queued transactions.
    pub fn status(&self) -> PoolStatus {
        let pool = self.read();
        PoolStatus {
            pending: pool.pending_count(),
            queued: pool.queued_count(),
        }
    }

    /// All pooled transactions by sender and nonce.
    pub fn content(&self) -> PoolContent {
        self.read().content()
    }

    /// Next nonce for `address` counting pending txs (for eth_getTransactionCount "pending"),
    /// or None if the pool has none.
    pub fn pending_nonce(&self, address: Address) -> Option<u64> {
        self.read().pending_nonce(address)
    }

    /// New pending transaction hashes (eth_subscribe newPendingTransactions, filters): new
    /// pending transactions, promoted ones and replacements of pending ones.
    pub fn subscribe(&self) -> broadcast::Receiver<B256> {
        self.inner.new_pending.subscribe()
    }

    /// The env the pool validates against.
    pub fn env(&self) -> PoolEnv {
        self.read().env
    }

    /// The limits the pool runs with.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// Persist all pending+queued txs (raw EIP-2718, in arrival order) to `path` atomically
    /// (write tmp + rename); returns count.
    pub fn save(&self, path: &Path) -> Result<usize, PoolError> {
        let txs: Vec<Vec<u8>> = self
            .read()
            .in_arrival_order()
            .map(|tx| tx.inner().encoded_2718())
            .collect();
        persist::write(path, &txs)?;
        tracing::info!(count = txs.len(), path = %path.display(), "txpool saved");
        Ok(txs.len())
    }

    /// Re-add the transactions saved at `path` (each validated again; invalid ones are dropped
    /// and counted), then delete the file. Missing file = Ok(0).
    ///
    /// An internal error (state read) stops the load and keeps the file for the next attempt.
    pub fn load(&self, path: &Path, state: &impl AccountReader) -> Result<LoadOutcome, PoolError> {
        let Some(txs) = persist::read(path)? else {
            return Ok(LoadOutcome::default());
        };
        let mut outcome = LoadOutcome::default();
        for raw in txs {
            match self.add_raw(&raw, state) {
                Ok(_) => outcome.added += 1,
                Err(error) if error.is_internal() => return Err(error),
                Err(error) => {
                    tracing::debug!(%error, "txpool: saved transaction dropped");
                    outcome.dropped += 1;
                }
            }
        }
        persist::remove(path)?;
        tracing::info!(
            added = outcome.added,
            dropped = outcome.dropped,
            path = %path.display(),
            "txpool loaded"
        );
        Ok(outcome)
    }

    fn notify(&self, changes: &Changes) {
        let discarded: HashSet<&B256> = changes.discarded.iter().collect();
        for hash in &changes.new_pending {
            if !discarded.contains(hash) {
                // No subscriber is not an error.
                let _ = self.inner.new_pending.send(*hash);
            }
        }
    }

    #[cfg(test)]
    fn assert_invariants(&self) {
        self.read().assert_invariants();
    }

    fn read(&self) -> RwLockReadGuard<'_, Pool> {
        self.inner
            .pool
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Pool> {
        self.inner
            .pool
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
