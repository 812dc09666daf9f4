//! The `eth_` namespace: the jsonrpsee trait ([`EthApiServer`]) and its implementation
//! ([`EthRpc`]) over the engine's database and the transaction pool.

mod access_list;
mod api;
mod call;
mod config;
pub(crate) mod convert;
mod fees;
mod filter;
mod pending;
mod proof;
mod pubsub;
mod send_sync;

pub use api::EthRpc;
pub use filter::{
    EthFilterApiServer, EthFilterRpc, FILTER_TIMEOUT, FilterParam, LogQueryLimits, MAX_BLOCK_RANGE,
    MAX_LOGS_PER_RESPONSE,
};
pub use pubsub::{EthPubSubApiServer, EthPubSubRpc, SEND_TIMEOUT};
pub use send_sync::{EthSendSyncApiServer, EthSendSyncRpc};

use crate::rpc::error::RpcResult;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    AccessListResult, Block, EIP1186AccountProofResponse, FeeHistory, Index, Transaction,
    TransactionReceipt, TransactionRequest, state::StateOverride,
};
use jsonrpsee::proc_macros::rpc;

/// Ethereum JSON-RPC methods (`eth_`), as specified by the execution-apis.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// EIP-155 chain id.
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;

    /// The fork configuration at the head, the next scheduled fork and the last configured
    /// one (EIP-7910).
    #[method(name = "config")]
    fn config(&self) -> RpcResult<alloy_eips::eip7910::EthConfig>;

    /// Number of the latest block.
    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;

    /// Always `false`: a sequencer node is its own source of truth.
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<bool>;

    /// Suggested legacy gas price: next base fee plus the suggested tip.
    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;

    /// Suggested priority fee.
    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;

    /// Balance of an account at a block.
    #[method(name = "getBalance")]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;

    /// Nonce of an account at a block (`pending` counts pool transactions).
    #[method(name = "getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;

    /// Code of an account at a block.
    #[method(name = "getCode")]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;

    /// A storage slot at a block. The slot is a hex quantity of at most 32 bytes.
    #[method(name = "getStorageAt")]
    fn storage_at(&self, address: Address, slot: String, block: Option<BlockId>)
    -> RpcResult<B256>;

    /// Several storage slots of several accounts at once.
    #[method(name = "getStorageValues")]
    fn storage_values(
        &self,
        slots: std::collections::BTreeMap<Address, Vec<String>>,
        block: Option<BlockId>,
    ) -> RpcResult<std::collections::BTreeMap<Address, Vec<B256>>>;

    /// What history this node can serve, for routing decisions.
    #[method(name = "capabilities")]
    fn capabilities(&self) -> RpcResult<serde_json::Value>;

    /// Base fee of the next block.
    #[method(name = "baseFee")]
    fn base_fee(&self) -> RpcResult<U256>;

    /// Blob base fee of the next block.
    #[method(name = "blobBaseFee")]
    fn blob_base_fee(&self) -> RpcResult<U256>;

    /// Base fees, gas use and tip percentiles of a range of blocks ending at `newest`.
    #[method(name = "feeHistory")]
    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;

    /// Merkle proof of an account and slots (EIP-1186).
    #[method(name = "getProof")]
    fn proof(
        &self,
        address: Address,
        slots: Vec<alloy_serde::JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;

    /// The access list a transaction would touch, and the gas it uses with it.
    #[method(name = "createAccessList", blocking)]
    fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult>;

    /// Block by number or tag.
    #[method(name = "getBlockByNumber")]
    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>>;

    /// Block by hash.
    #[method(name = "getBlockByHash")]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;

    /// Number of transactions in a block, by number.
    #[method(name = "getBlockTransactionCountByNumber")]
    fn block_transaction_count_by_number(&self, number: BlockNumberOrTag)
    -> RpcResult<Option<U64>>;

    /// Number of transactions in a block, by hash.
    #[method(name = "getBlockTransactionCountByHash")]
    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    /// A transaction by hash (mined or pending).
    #[method(name = "getTransactionByHash")]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;

    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;

    /// A transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;

    /// Receipt of a mined transaction.
    #[method(name = "getTransactionReceipt")]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;

    /// All receipts of a block.
    #[method(name = "getBlockReceipts")]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;

    /// Executes a call without creating a transaction.
    #[method(name = "call", blocking)]
    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes>;

    /// Smallest gas limit with which the transaction succeeds.
    #[method(name = "estimateGas", blocking)]
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;

    /// Submits a signed transaction to the pool.
    #[method(name = "sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
}
