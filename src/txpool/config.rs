//! Pool limits, tunable from the command line.

/// Limits of the transaction pool. The defaults are those shown in `--help`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most executable-in-order (pending) transactions over all senders
    /// (`--txpool.pending-max-count`).
    pub pending_max_count: usize,
    /// Most transactions waiting behind a nonce gap (queued) over all senders
    /// (`--txpool.queued-max-count`).
    pub queued_max_count: usize,
    /// Most transactions, pending plus queued, of one sender (`--txpool.max-account-slots`).
    pub max_account_slots: usize,
    /// Percentage by which a replacement must raise both the fee cap and the priority fee
    /// (gas price for legacy transactions) of the transaction it replaces (`--txpool.price-bump`).
    pub price_bump_percent: u64,
    /// Largest accepted transaction, in bytes of its EIP-2718 encoding.
    pub max_tx_size: usize,
}

/// Default of [`PoolConfig::pending_max_count`].
pub const DEFAULT_PENDING_MAX_COUNT: usize = 10_000;
/// Default of [`PoolConfig::queued_max_count`].
pub const DEFAULT_QUEUED_MAX_COUNT: usize = 10_000;
/// Default of [`PoolConfig::max_account_slots`].
pub const DEFAULT_MAX_ACCOUNT_SLOTS: usize = 64;
/// Default of [`PoolConfig::price_bump_percent`] (geth's and reth's value).
pub const DEFAULT_PRICE_BUMP_PERCENT: u64 = 10;
/// Default of [`PoolConfig::max_tx_size`]: 128 KiB, geth's `txMaxSize` (four 32 KiB slots).
pub const DEFAULT_MAX_TX_SIZE: usize = 128 * 1024;

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            pending_max_count: DEFAULT_PENDING_MAX_COUNT,
            queued_max_count: DEFAULT_QUEUED_MAX_COUNT,
            max_account_slots: DEFAULT_MAX_ACCOUNT_SLOTS,
            price_bump_percent: DEFAULT_PRICE_BUMP_PERCENT,
            max_tx_size: DEFAULT_MAX_TX_SIZE,
        }
    }
}
