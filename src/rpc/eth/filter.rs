//! Logs and polled filters of the `eth_` namespace: the jsonrpsee trait ([`EthFilterApiServer`])
//! and its implementation ([`EthFilterRpc`]), with geth's semantics, errors and limits.
//!
//! # Log queries
//!
//! `eth_getLogs` resolves the block range (`fromBlock`/`toBlock`, default `latest`..`latest`, or
//! one `blockHash`), then walks the canonical blocks of the range. A block whose header bloom
//! cannot contain the filter's addresses and topics is skipped without reading its receipts.
//! Logs carry their block, transaction and position in the block (`logIndex` counts every log of
//! the block, matching or not).
//!
//! # Filters
//!
//! A filter is an id in an in-memory table. Log and block filters remember only the next block
//! they have not reported: a poll reads the new canonical blocks from the database, so nothing is
//! buffered per filter. A pending-transaction filter holds its own receiver of the pool's
//! broadcast of new pending hashes; the broadcast's fixed capacity bounds what a filter that is
//! not polled can hold (it misses the oldest hashes, like a lagging subscriber).
//! Every call sweeps filters not polled for [`FILTER_TIMEOUT`].
//!
//! Invariants and assumptions:
//! - The canonical chain only grows (no reorgs: the engine appends finalized blocks only), so a
//!   block reported once is never reported as removed and a filter's `next_block` never moves back.
//! - Each poll reads one database snapshot; a filter's `next_block` is advanced under the table
//!   lock before the blocks are read, so concurrent polls of one filter never report a block twice.

use crate::{
    engine::Engine,
    rpc::error::{RpcError, RpcResult},
    storage::Provider,
    txpool::TxPool,
};
use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::{BlockNumberOrTag, Encodable2718};
use alloy_primitives::{B256, Bloom};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, FilterChanges, FilterId, Log};
use jsonrpsee::proc_macros::rpc;
use serde::Deserialize;
use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};
use tokio::sync::broadcast::{self, error::TryRecvError};

/// Most blocks one log query may span (reth's `--rpc.max-blocks-per-filter` default): bounds the
/// work of one request while covering any realistic indexer page.
pub const MAX_BLOCK_RANGE: u64 = 100_000;
/// Most logs one response may carry (reth's `--rpc.max-logs-per-response` default): bounds the
/// response size; a single block is always returned whole.
pub const MAX_LOGS_PER_RESPONSE: usize = 20_000;
/// A filter not polled for this long is removed (geth's and reth's five minutes).
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Most block hashes one poll of a block filter returns; the rest come with the next poll. Five
/// minutes of 100 ms blocks is 3,000, so this only bites on a stuck client.
const MAX_BLOCK_HASHES_PER_POLL: u64 = 10_000;
/// EIP-1474 "limit exceeded", used by geth and reth for log queries over their limits.
const LIMIT_EXCEEDED: i32 = -32005;

/// Log queries and polled filters (`eth_getLogs`, `eth_newFilter`, …), as specified by the
/// execution-apis and implemented by geth.
#[rpc(server, namespace = "eth")]
pub trait EthFilterApi {
    /// Logs matching a filter (address, topics, and a block range or one block hash).
    #[method(name = "getLogs", blocking)]
    fn logs(&self, filter: FilterParam) -> RpcResult<Vec<Log>>;

    /// Installs a log filter; `eth_getFilterChanges` then returns the matching logs of blocks
    /// added since the previous poll.
    #[method(name = "newFilter")]
    fn new_filter(&self, filter: FilterParam) -> RpcResult<FilterId>;

    /// Installs a filter for the hashes of new canonical blocks.
    #[method(name = "newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<FilterId>;

    /// Installs a filter for the hashes of transactions entering the pool as pending.
    #[method(name = "newPendingTransactionFilter")]
    fn new_pending_transaction_filter(&self) -> RpcResult<FilterId>;

    /// What a filter saw since it was last polled.
    #[method(name = "getFilterChanges", blocking)]
    fn filter_changes(&self, id: FilterId) -> RpcResult<FilterChanges>;

    /// All logs matching a log filter's criteria, as `eth_getLogs` would return them.
    #[method(name = "getFilterLogs", blocking)]
    fn filter_logs(&self, id: FilterId) -> RpcResult<Vec<Log>>;

    /// Removes a filter; `false` if there was none with this id.
    #[method(name = "uninstallFilter")]
    fn uninstall_filter(&self, id: FilterId) -> RpcResult<bool>;
}

/// A log filter as received. The method parses it (not jsonrpsee), so that a malformed filter gets
/// geth's answer — `-32602`, `invalid argument 0: …`, no `data` — like the execution-apis expect.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct FilterParam(serde_json::Value);

impl FilterParam {
    /// The filter, or geth's invalid-argument error.
    pub fn parse(self) -> Result<Filter, RpcError> {
        if let Some(object) = self.0.as_object() {
            let set = |key: &str| object.get(key).is_some_and(|v| !v.is_null());
            if set("blockHash") && (set("fromBlock") || set("toBlock")) {
                return Err(RpcError::InvalidParams(
                    "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, \
                     choose one or the other"
                        .into(),
                ));
            }
        }
        serde_json::from_value(self.0)
            .map_err(|e| RpcError::InvalidParams(format!("invalid argument 0: {e}")))
    }
}

/// Limits of one log query (`eth_getLogs`, `eth_getFilterLogs`, one poll of a log filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogQueryLimits {
    /// Most blocks one query may span.
    pub max_block_range: u64,
    /// Most logs one response may carry, unless they all come from one block.
    pub max_logs: usize,
}

impl Default for LogQueryLimits {
    fn default() -> Self {
        Self {
            max_block_range: MAX_BLOCK_RANGE,
            max_logs: MAX_LOGS_PER_RESPONSE,
        }
    }
}

/// What a filter watches, and what it still has to report.
#[derive(Debug)]
enum FilterKind {
    /// Logs of new blocks.
    Logs(Box<Filter>),
    /// Hashes of new blocks.
    Blocks,
    /// Hashes of new pending transactions, buffered by the pool's broadcast.
    PendingTransactions(broadcast::Receiver<B256>),
}

#[derive(Debug)]
struct ActiveFilter {
    kind: FilterKind,
    /// First block this log or block filter has not reported yet.
    next_block: u64,
    last_poll: Instant,
}

/// What one poll has to read, decided under the lock.
enum Poll {
    Logs {
        filter: Box<Filter>,
        from: u64,
        to: u64,
    },
    Blocks {
        from: u64,
        to: u64,
    },
    Hashes(Vec<B256>),
}

/// The `eth_` logs and filters over the chain database and the pool.
#[derive(Debug, Clone)]
pub struct EthFilterRpc {
    engine: Engine,
    pool: TxPool,
    limits: LogQueryLimits,
    /// A filter not polled for this long is removed.
    timeout: Duration,
    filters: Arc<Mutex<HashMap<String, ActiveFilter>>>,
}

impl EthFilterRpc {
    /// Creates the namespace, with no filters installed and the default limits.
    pub fn new(engine: Engine, pool: TxPool) -> Self {
        Self {
            engine,
            pool,
            limits: LogQueryLimits::default(),
            timeout: FILTER_TIMEOUT,
            filters: Default::default(),
        }
    }

    /// Replaces the time after which an unpolled filter is removed ([`FILTER_TIMEOUT`]).
    pub const fn with_filter_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Replaces the log query limits.
    pub const fn with_limits(mut self, limits: LogQueryLimits) -> Self {
        self.limits = limits;
        self
    }

    fn provider(&self) -> Result<Provider, RpcError> {
        Ok(self.engine.db().provider()?)
    }

    /// The filter table, with expired filters removed.
    fn filters(&self) -> MutexGuard<'_, HashMap<String, ActiveFilter>> {
        let mut filters = self.filters.lock().unwrap_or_else(PoisonError::into_inner);
        let timeout = self.timeout;
        filters.retain(|_, filter| filter.last_poll.elapsed() < timeout);
        filters
    }

    fn install(&self, kind: FilterKind) -> Result<FilterId, RpcError> {
        let next_block = head_number(&self.provider()?)? + 1;
        let id = new_filter_id();
        self.filters().insert(
            id.clone(),
            ActiveFilter {
                kind,
                next_block,
                last_poll: Instant::now(),
            },
        );
        Ok(FilterId::Str(id))
    }

    fn changes(&self, id: &FilterId) -> Result<FilterChanges, RpcError> {
        let provider = self.provider()?;
        let head = head_number(&provider)?;
        let poll = {
            let mut filters = self.filters();
            let filter = filters.get_mut(&filter_key(id)).ok_or_else(not_found)?;
            filter.last_poll = Instant::now();
            let from = filter.next_block;
            match &mut filter.kind {
                FilterKind::Logs(criteria) => {
                    // Only numeric bounds limit a polled filter; tags like `latest` do not.
                    let (low, high) = match criteria.block_option {
                        FilterBlockOption::Range {
                            from_block,
                            to_block,
                        } => (
                            from_block.and_then(|b| b.as_number()).unwrap_or(0),
                            to_block.and_then(|b| b.as_number()).unwrap_or(u64::MAX),
                        ),
                        FilterBlockOption::AtBlockHash(_) => (1, 0),
                    };
                    let span = self.limits.max_block_range.max(1);
                    let to = head.min(from.saturating_add(span - 1));
                    filter.next_block = filter.next_block.max(to + 1);
                    Poll::Logs {
                        filter: criteria.clone(),
                        from: from.max(low),
                        to: to.min(high),
                    }
                }
                FilterKind::Blocks => {
                    let to = head.min(from.saturating_add(MAX_BLOCK_HASHES_PER_POLL - 1));
                    filter.next_block = filter.next_block.max(to + 1);
                    Poll::Blocks { from, to }
                }
                FilterKind::PendingTransactions(receiver) => {
                    let mut hashes = Vec::new();
                    loop {
                        match receiver.try_recv() {
                            Ok(hash) => hashes.push(hash),
                            // The oldest hashes were overwritten; carry on with the rest.
                            Err(TryRecvError::Lagged(_)) => {}
                            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                        }
                    }
                    Poll::Hashes(hashes)
                }
            }
        };
        Ok(match poll {
            Poll::Logs { filter, from, to } => {
                FilterChanges::Logs(logs_in_range(&provider, &filter, from, to, self.limits)?)
            }
            Poll::Blocks { from, to } => FilterChanges::Hashes(
                (from..=to)
                    .map(|n| {
                        provider.canonical_hash(n)?.ok_or_else(|| {
                            RpcError::internal(format!("canonical block {n} missing"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Poll::Hashes(hashes) => FilterChanges::Hashes(hashes),
        })
    }

    fn filter_criteria(&self, id: &FilterId) -> Result<Filter, RpcError> {
        let mut filters = self.filters();
        let filter = filters.get_mut(&filter_key(id)).ok_or_else(not_found)?;
        filter.last_poll = Instant::now();
        match &filter.kind {
            FilterKind::Logs(criteria) => Ok(criteria.as_ref().clone()),
            FilterKind::Blocks | FilterKind::PendingTransactions(_) => Err(not_found()),
        }
    }
}

impl EthFilterApiServer for EthFilterRpc {
    fn logs(&self, filter: FilterParam) -> RpcResult<Vec<Log>> {
        let filter = filter.parse()?;
        Ok(query_logs(&self.provider()?, &filter, self.limits)?)
    }

    fn new_filter(&self, filter: FilterParam) -> RpcResult<FilterId> {
        let filter = filter.parse()?;
        if filter.get_block_hash().is_some() {
            return Err(RpcError::InvalidParams(
                "a filter cannot watch one block hash; use eth_getLogs".into(),
            )
            .into());
        }
        Ok(self.install(FilterKind::Logs(Box::new(filter)))?)
    }

    fn new_block_filter(&self) -> RpcResult<FilterId> {
        Ok(self.install(FilterKind::Blocks)?)
    }

    fn new_pending_transaction_filter(&self) -> RpcResult<FilterId> {
        Ok(self.install(FilterKind::PendingTransactions(self.pool.subscribe()))?)
    }

    fn filter_changes(&self, id: FilterId) -> RpcResult<FilterChanges> {
        Ok(self.changes(&id)?)
    }

    fn filter_logs(&self, id: FilterId) -> RpcResult<Vec<Log>> {
        let filter = self.filter_criteria(&id)?;
        Ok(query_logs(&self.provider()?, &filter, self.limits)?)
    }

    fn uninstall_filter(&self, id: FilterId) -> RpcResult<bool> {
        Ok(self.filters().remove(&filter_key(&id)).is_some())
    }
}

/// geth's `filter not found`, with the generic server error code.
fn not_found() -> RpcError {
    RpcError::Server("filter not found".into())
}

/// A fresh filter id: 128 bits in geth's `0x…` form, unguessable enough that one client cannot
/// poll or remove another's filter (std's `RandomState` keys are random per process).
fn new_filter_id() -> String {
    let state = RandomState::new();
    let high = u128::from(state.hash_one(0u8));
    let low = u128::from(state.hash_one(1u8));
    format!("0x{:x}", (high << 64) | low)
}

/// The table key of an id as a client sends it back (hex strings compare case-insensitively).
fn filter_key(id: &FilterId) -> String {
    match id {
        FilterId::Str(id) => id.to_ascii_lowercase(),
        FilterId::Num(n) => format!("0x{n:x}"),
    }
}

fn head_number(provider: &Provider) -> Result<u64, RpcError> {
    Ok(provider
        .head()?
        .ok_or_else(|| RpcError::internal("database not initialised"))?
        .number)
}

/// The block number a tag names on this snapshot.
fn tag_number(provider: &Provider, tag: BlockNumberOrTag, head: u64) -> Result<u64, RpcError> {
    let pointer = |name: &str| -> Result<u64, RpcError> {
        let hash = provider
            .pointer(name)?
            .ok_or_else(|| RpcError::internal(format!("no `{name}` block")))?;
        provider
            .block_number(hash)?
            .ok_or_else(|| RpcError::internal(format!("`{name}` block {hash} missing")))
    };
    Ok(match tag {
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => head,
        BlockNumberOrTag::Safe => pointer("safe")?,
        BlockNumberOrTag::Finalized => pointer("finalized")?,
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Number(n) => n,
    })
}

/// The inclusive block range a filter selects, checked against the head and the range limit.
fn block_range(
    provider: &Provider,
    filter: &Filter,
    limits: LogQueryLimits,
) -> Result<(u64, u64), RpcError> {
    match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let number = provider
                .block_number(hash)?
                .ok_or_else(|| RpcError::Server("unknown block".into()))?;
            Ok((number, number))
        }
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let head = head_number(provider)?;
            let to_block = to_block.unwrap_or_default();
            if to_block.as_number().is_some_and(|to| to > head) {
                return Err(RpcError::InvalidParams(
                    "block range extends beyond current head block".into(),
                ));
            }
            let from = tag_number(provider, from_block.unwrap_or_default(), head)?;
            let to = tag_number(provider, to_block, head)?;
            if from > to {
                return Err(RpcError::InvalidParams("invalid block range params".into()));
            }
            if to - from >= limits.max_block_range {
                return Err(RpcError::Custom {
                    code: LIMIT_EXCEEDED,
                    message: format!("query exceeds max block range {}", limits.max_block_range),
                });
            }
            Ok((from, to))
        }
    }
}

/// `eth_getLogs`: the logs a filter selects.
fn query_logs(
    provider: &Provider,
    filter: &Filter,
    limits: LogQueryLimits,
) -> Result<Vec<Log>, RpcError> {
    let (from, to) = block_range(provider, filter, limits)?;
    logs_in_range(provider, filter, from, to, limits)
}

/// Matching logs of the canonical blocks `from..=to` (empty when `from > to`), at most
/// `limits.max_logs` unless they all come from one block.
fn logs_in_range(
    provider: &Provider,
    filter: &Filter,
    from: u64,
    to: u64,
    limits: LogQueryLimits,
) -> Result<Vec<Log>, RpcError> {
    let mut logs = Vec::new();
    for number in from..=to {
        let hash = provider
            .canonical_hash(number)?
            .ok_or_else(|| RpcError::internal(format!("canonical block {number} missing")))?;
        let header = provider
            .header(hash)?
            .ok_or_else(|| RpcError::internal(format!("header of {hash} missing")))?;
        if !may_contain(filter, header.logs_bloom) {
            continue;
        }
        let body = provider
            .body(hash)?
            .ok_or_else(|| RpcError::internal(format!("body of {hash} missing")))?;
        let receipts = provider
            .receipts(hash)?
            .ok_or_else(|| RpcError::internal(format!("receipts of {hash} missing")))?;
        append_block_logs(&mut logs, filter, hash, &header, &body, &receipts);
        if logs.len() > limits.max_logs && from != to {
            return Err(RpcError::Custom {
                code: LIMIT_EXCEEDED,
                message: format!("query exceeds max results {}", limits.max_logs),
            });
        }
    }
    Ok(logs)
}

/// Whether a block with this bloom may hold a log the filter matches (a block without logs never
/// does).
pub(crate) fn may_contain(filter: &Filter, bloom: Bloom) -> bool {
    bloom != Bloom::ZERO && filter.matches_bloom(bloom)
}

/// Appends the logs of one block that match the filter's addresses and topics (its block range
/// is not looked at), in RPC form.
pub(crate) fn append_block_logs(
    out: &mut Vec<Log>,
    filter: &Filter,
    block_hash: B256,
    header: &Header,
    body: &BlockBody<TxEnvelope>,
    receipts: &[ReceiptEnvelope],
) {
    let mut log_index = 0u64;
    for (index, (tx, receipt)) in body.transactions.iter().zip(receipts).enumerate() {
        let mut tx_hash = None;
        for log in receipt.logs() {
            if filter.matches(log) {
                let transaction_hash = *tx_hash.get_or_insert_with(|| tx.trie_hash());
                out.push(Log {
                    inner: log.clone(),
                    block_hash: Some(block_hash),
                    block_number: Some(header.number),
                    block_timestamp: Some(header.timestamp),
                    transaction_hash: Some(transaction_hash),
                    transaction_index: Some(index as u64),
                    log_index: Some(log_index),
                    removed: false,
                });
            }
            log_index += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        chainspec::ChainSpec,
        execution::BlockAttributes,
        storage::Database,
        txpool::{PoolConfig, PoolEnv},
    };
    use alloy_consensus::{SignableTransaction, TxEip1559, transaction::Recovered};
    use alloy_primitives::{Address, Bytes, TxKind};
    use alloy_signer::SignerSync;
    use jsonrpsee::{MethodsError, RpcModule};
    use revm::primitives::hardfork::SpecId;

    /// First dev account (the public `test … junk` mnemonic), funded on the devnet.
    const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    /// Creation code of a contract logging its calldata under topic `0x11…11` on every call.
    fn emitter_initcode() -> Bytes {
        let mut runtime = vec![0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x7f];
        runtime.extend_from_slice(&[0x11; 32]);
        runtime.extend_from_slice(&[0x36, 0x60, 0x00, 0xa1, 0x00]);
        let len = runtime.len() as u8;
        let mut code = vec![
            0x60, len, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
        ];
        code.extend_from_slice(&runtime);
        code.into()
    }

    fn tx(chain_id: u64, nonce: u64, to: TxKind, input: Bytes) -> Recovered<TxEnvelope> {
        let signer: alloy_signer_local::PrivateKeySigner = DEV_KEY.parse().expect("key");
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: 200_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            input,
            ..Default::default()
        };
        let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        Recovered::new_unchecked(tx.into_signed(signature).into(), signer.address())
    }

    /// [`filter_rpc`] as a module.
    fn chain(dir: &std::path::Path, limits: LogQueryLimits) -> RpcModule<EthFilterRpc> {
        filter_rpc(dir, limits).into_rpc()
    }

    /// A devnet chain: block 1 deploys the emitter and calls it 3 times, block 2 calls it twice,
    /// block 3 is empty. Returns the `eth_` filter namespace with `limits`.
    fn filter_rpc(dir: &std::path::Path, limits: LogQueryLimits) -> EthFilterRpc {
        let spec = ChainSpec::from_arg("devnet").expect("devnet");
        let engine = Engine::new(spec.clone(), Arc::new(Database::open(dir).expect("db")));
        engine.init_genesis().expect("genesis");
        let signer: alloy_signer_local::PrivateKeySigner = DEV_KEY.parse().expect("key");
        let emitter = TxKind::Call(signer.address().create(0));
        let call = |nonce: u64| {
            tx(
                spec.chain_id,
                nonce,
                emitter,
                B256::with_last_byte(nonce as u8).into(),
            )
        };
        let blocks = [
            vec![
                tx(spec.chain_id, 0, TxKind::Create, emitter_initcode()),
                call(1),
                call(2),
                call(3),
            ],
            vec![call(4), call(5)],
            vec![],
        ];
        for transactions in blocks {
            let head = engine.head().expect("head");
            let attributes = BlockAttributes {
                timestamp: head.timestamp + 1,
                gas_limit: head.gas_limit,
                ..Default::default()
            };
            let (_, built) = engine
                .build_and_commit(attributes, transactions)
                .expect("block");
            assert!(built.rejected.is_empty(), "{:?}", built.rejected);
        }
        let env = PoolEnv {
            chain_id: spec.chain_id,
            spec_id: SpecId::PRAGUE,
            next_base_fee: 1_000_000_000,
            block_gas_limit: 30_000_000,
        };
        let pool = TxPool::new(PoolConfig::default(), env);
        EthFilterRpc::new(engine, pool).with_limits(limits)
    }

    #[tokio::test]
    async fn a_filter_not_polled_within_the_timeout_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let module = filter_rpc(dir.path(), LogQueryLimits::default())
            .with_filter_timeout(Duration::from_secs(1))
            .into_rpc();
        let id: String = module
            .call("eth_newBlockFilter", jsonrpsee::rpc_params![])
            .await
            .expect("install");
        // Each poll restarts the clock: polled every 300 ms, the filter outlives its timeout.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _: Vec<B256> = module
                .call("eth_getFilterChanges", [id.clone()])
                .await
                .expect("polled in time");
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        match module
            .call::<_, Vec<B256>>("eth_getFilterChanges", [id.clone()])
            .await
        {
            Err(MethodsError::JsonRpc(err)) => assert_eq!(err.message(), "filter not found"),
            other => panic!("expected an expired filter, got {other:?}"),
        }
        let removed: bool = module
            .call("eth_uninstallFilter", [id])
            .await
            .expect("uninstall");
        assert!(!removed, "an expired filter is gone");
    }

    async fn get_logs(
        module: &RpcModule<EthFilterRpc>,
        filter: serde_json::Value,
    ) -> Result<Vec<Log>, (i32, String)> {
        module
            .call("eth_getLogs", [filter])
            .await
            .map_err(|err| match err {
                MethodsError::JsonRpc(err) => (err.code(), err.message().to_string()),
                other => panic!("{other}"),
            })
    }

    #[tokio::test]
    async fn queries_over_the_limits_are_refused_but_one_block_is_always_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let limits = LogQueryLimits {
            max_block_range: 2,
            max_logs: 2,
        };
        let module = chain(dir.path(), limits);

        // One block is returned whole even above the log limit; log indexes count the block.
        let logs = get_logs(
            &module,
            serde_json::json!({"fromBlock": "0x1", "toBlock": "0x1"}),
        )
        .await
        .expect("one block");
        assert_eq!(logs.len(), 3);
        let positions: Vec<_> = logs
            .iter()
            .map(|l| (l.transaction_index, l.log_index))
            .collect();
        assert_eq!(
            positions,
            [(Some(1), Some(0)), (Some(2), Some(1)), (Some(3), Some(2))]
        );
        assert!(logs.iter().all(|l| l.topics() == [B256::repeat_byte(0x11)]));

        // Two blocks, five logs: over the log limit.
        let err = get_logs(
            &module,
            serde_json::json!({"fromBlock": "0x1", "toBlock": "0x2"}),
        )
        .await
        .expect_err("too many logs");
        assert_eq!(err, (-32005, "query exceeds max results 2".into()));
        // Exactly at the limit is fine; the empty block 3 costs nothing.
        let logs = get_logs(
            &module,
            serde_json::json!({"fromBlock": "0x2", "toBlock": "latest"}),
        )
        .await
        .expect("two logs");
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[0].log_index, Some(0));
        // Three blocks: over the range limit.
        let err = get_logs(
            &module,
            serde_json::json!({"fromBlock": "0x1", "toBlock": "0x3"}),
        )
        .await
        .expect_err("too many blocks");
        assert_eq!(err, (-32005, "query exceeds max block range 2".into()));
        // An unknown block hash.
        let err = get_logs(
            &module,
            serde_json::json!({"blockHash": B256::repeat_byte(9)}),
        )
        .await
        .expect_err("unknown");
        assert_eq!(err, (-32000, "unknown block".into()));
        // A filter on a wrong address never reads a receipt, and finds nothing.
        let logs = get_logs(
            &module,
            serde_json::json!({"fromBlock": "0x1", "toBlock": "0x2", "address": Address::ZERO}),
        )
        .await
        .expect("nothing");
        assert!(logs.is_empty());
    }

    fn parse(json: serde_json::Value) -> Result<Filter, RpcError> {
        FilterParam(json).parse()
    }

    #[test]
    fn a_block_hash_with_a_range_is_geths_invalid_argument() {
        let err = parse(serde_json::json!({
            "blockHash": B256::ZERO, "fromBlock": "0x3", "toBlock": "0x4"
        }))
        .expect_err("both");
        let object = jsonrpsee::types::ErrorObjectOwned::from(err);
        assert_eq!(object.code(), -32602);
        assert_eq!(
            object.message(),
            "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
        );
        assert!(object.data().is_none());
        // A null range next to a hash is no range.
        assert!(parse(serde_json::json!({"blockHash": B256::ZERO, "fromBlock": null})).is_ok());
        let err = parse(serde_json::json!({"topics": [null, null, null, null, null]}))
            .expect_err("five topics");
        assert!(err.to_string().starts_with("invalid argument 0: "), "{err}");
    }

    #[test]
    fn filter_ids_are_unique_and_hex() {
        let a = new_filter_id();
        let b = new_filter_id();
        assert_ne!(a, b);
        assert!(
            a.starts_with("0x") && u128::from_str_radix(&a[2..], 16).is_ok(),
            "{a}"
        );
        assert_eq!(
            filter_key(&FilterId::Str(a.to_uppercase().replace("0X", "0x"))),
            a
        );
        assert_eq!(filter_key(&FilterId::Num(255)), "0xff");
    }

    #[test]
    fn a_block_without_logs_is_skipped_and_an_empty_filter_matches_any_other() {
        let filter = Filter::new();
        assert!(!may_contain(&filter, Bloom::ZERO));
        assert!(may_contain(&filter, Bloom::repeat_byte(1)));
        let filter = Filter::new().address(alloy_primitives::Address::repeat_byte(7));
        let mut bloom = Bloom::ZERO;
        bloom.accrue(alloy_primitives::BloomInput::Raw(&[8; 20]));
        assert!(!may_contain(&filter, bloom));
        bloom.accrue(alloy_primitives::BloomInput::Raw(&[7; 20]));
        assert!(may_contain(&filter, bloom));
    }
}
