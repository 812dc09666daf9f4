//! Why the pool refused a transaction, or could not do its job.
//!
//! The `Display` text of every validation error starts with the wording geth uses, because
//! wallets and SDKs match on it (`nonce too low`, `replacement transaction underpriced`, …);
//! anything after `": "` is detail for humans. Do not reword the prefixes.

use alloy_primitives::U256;
use std::path::PathBuf;

/// Result of pool operations.
pub type Result<T, E = PoolError> = std::result::Result<T, E>;

/// JSON-RPC error code geth returns for every rejected transaction.
pub(crate) const CODE_INVALID_TX: i32 = -32000;
/// JSON-RPC "internal error": the request was fine, the node failed.
pub(crate) const CODE_INTERNAL: i32 = -32603;

/// A transaction was rejected, or the pool failed internally.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The bytes are not an EIP-2718 transaction.
    #[error("failed to decode signed transaction: {0}")]
    Decode(String),
    /// The signature does not recover to an address (or has a high `s`, EIP-2).
    #[error("invalid sender: {0}")]
    InvalidSender(String),
    /// A legacy transaction without an EIP-155 chain id.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// The transaction is signed for another chain.
    #[error("invalid chain id: expected {expected}, got {got}")]
    InvalidChainId {
        /// Chain id of this chain.
        expected: u64,
        /// Chain id in the transaction.
        got: u64,
    },
    /// Blob transactions, unknown types, or a type whose fork is not active yet.
    #[error("transaction type not supported: {0}")]
    TxTypeNotSupported(String),
    /// The EIP-2718 encoding is larger than [`PoolConfig::max_tx_size`](super::PoolConfig).
    #[error("oversized data: transaction size {size}, limit {limit}")]
    OversizedData {
        /// Encoded size.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// Contract creation with initcode above the EIP-3860 limit.
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    InitcodeTooLarge {
        /// Initcode size.
        size: usize,
        /// Limit of the active fork.
        limit: usize,
    },
    /// EIP-2681: the nonce can never be followed by another one.
    #[error("nonce has max value")]
    NonceMax,
    /// The gas limit does not fit in a block.
    #[error("exceeds block gas limit: tx gas limit {gas_limit}, block gas limit {block_gas_limit}")]
    ExceedsBlockGasLimit {
        /// Gas limit of the transaction.
        gas_limit: u64,
        /// Gas limit of the next block.
        block_gas_limit: u64,
    },
    /// EIP-7825 (Osaka): the gas limit is above the per-transaction cap.
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas_limit})")]
    GasLimitTooHigh {
        /// Gas limit of the transaction.
        gas_limit: u64,
        /// The cap.
        cap: u64,
    },
    /// The gas limit does not cover the intrinsic gas.
    #[error("intrinsic gas too low: gas limit {gas_limit}, intrinsic gas {intrinsic}")]
    IntrinsicGasTooLow {
        /// Gas limit of the transaction.
        gas_limit: u64,
        /// Intrinsic gas of the transaction.
        intrinsic: u64,
    },
    /// EIP-7623 (Prague): the gas limit does not cover the calldata floor.
    #[error("intrinsic gas too low: gas limit {gas_limit}, EIP-7623 calldata floor {floor}")]
    FloorGasTooLow {
        /// Gas limit of the transaction.
        gas_limit: u64,
        /// Floor gas of the transaction.
        floor: u64,
    },
    /// The priority fee is above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// The fee cap is below the lowest base fee the protocol can reach, so the transaction could
    /// never be included.
    #[error("transaction underpriced: max fee per gas {max_fee} below minimum {minimum}")]
    Underpriced {
        /// Fee cap (gas price for legacy transactions).
        max_fee: u128,
        /// Lowest acceptable fee cap.
        minimum: u64,
    },
    /// An EIP-7702 transaction must carry at least one authorization.
    #[error("EIP-7702 transaction with empty auth list")]
    EmptyAuthorizationList,
    /// The nonce is already used in the head state.
    #[error("nonce too low: next nonce {state}, tx nonce {tx}")]
    NonceTooLow {
        /// Nonce of the account in the head state.
        state: u64,
        /// Nonce of the transaction.
        tx: u64,
    },
    /// The sender cannot pay `gas_limit * max_fee_per_gas + value`.
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}, overshot {}", cost.saturating_sub(*balance))]
    InsufficientFunds {
        /// Balance in the head state.
        balance: U256,
        /// Most the transaction can cost.
        cost: U256,
    },
    /// The exact transaction is in the pool already.
    #[error("already known")]
    AlreadyKnown,
    /// A transaction with the same sender and nonce is pooled and the new one does not raise both
    /// fees by the configured bump.
    #[error(
        "replacement transaction underpriced: need max fee per gas >= {min_max_fee} and priority fee >= {min_priority_fee}"
    )]
    ReplacementUnderpriced {
        /// Smallest acceptable fee cap.
        min_max_fee: U256,
        /// Smallest acceptable priority fee (gas price for legacy transactions).
        min_priority_fee: U256,
    },
    /// The sender has [`PoolConfig::max_account_slots`](super::PoolConfig) transactions pooled
    /// and none of them may be evicted for this one.
    #[error("account limit exceeded: sender has {limit} pooled transactions")]
    AccountLimitExceeded {
        /// Configured per-sender limit.
        limit: usize,
    },
    /// The pending or the queued set is full. First come, first served: a newer transaction
    /// never pushes out an older one.
    #[error("txpool is full: {0}")]
    PoolFull(&'static str),
    /// Reading the account state failed (internal error).
    #[error("failed to read account state: {0}")]
    State(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Reading or writing the pool file failed (internal error).
    #[error("txpool file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The pool file is not in the expected format (internal error).
    #[error("txpool file {} is corrupt: {detail}", path.display())]
    CorruptFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

impl PoolError {
    /// Wraps an error of the state provider (for [`AccountReader`](super::AccountReader)
    /// implementations).
    pub fn state(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::State(error.into())
    }

    /// Whether the node failed rather than the transaction being invalid.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Self::State(_) | Self::Io { .. } | Self::CorruptFile { .. }
        )
    }

    /// JSON-RPC error code: -32000 for every rejected transaction (as geth), -32603 for internal
    /// errors.
    pub fn code(&self) -> i32 {
        if self.is_internal() {
            CODE_INTERNAL
        } else {
            CODE_INVALID_TX
        }
    }
}
