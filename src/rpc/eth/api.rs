//! [`EthApiServer`] implementation.

use super::{
    EthApiServer, access_list, call, config, convert, fees, pending::PendingBlockCache, proof,
};
use crate::{
    engine::{Engine, PreviewBlock},
    preconf::Preconfer,
    rpc::error::{RpcError, RpcResult},
    storage::{Provider, StateProviderDatabase},
    txpool::{AccountReader, PoolError, TxPool},
};
use alloy_consensus::{BlockBody, Header, TxEnvelope};
use alloy_eips::{BlockId, BlockNumberOrTag, RpcBlockHash};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    AccessListResult, Block, EIP1186AccountProofResponse, FeeHistory, Index, Transaction,
    TransactionReceipt, TransactionRequest, state::StateOverride,
};
use revm::DatabaseRef;
use std::sync::Arc;

/// Suggested priority fee (1 gwei), as geth's default `--miner.gasprice`-derived tip. The
/// sequencer orders first-come-first-served, so a higher tip buys nothing but inclusion.
const SUGGESTED_PRIORITY_FEE: u64 = 1_000_000_000;

/// Most slots one `eth_getStorageValues` call may read.
const MAX_STORAGE_VALUES: usize = 1024;

/// The `eth_` namespace over the chain database and the pool.
#[derive(Debug, Clone)]
pub struct EthRpc {
    engine: Engine,
    pool: TxPool,
    /// Gas cap for `eth_call` / `eth_estimateGas`.
    gas_cap: u64,
    /// The preconfirmation issuer, whose promises the `pending` block holds.
    preconf: Option<Preconfer>,
    pending: Arc<PendingBlockCache>,
}

/// A resolved block: its number, hash and header.
pub(crate) struct ResolvedBlock {
    pub(crate) number: u64,
    pub(crate) hash: B256,
    pub(crate) header: Header,
}

impl ResolvedBlock {
    fn pending(pending: &PreviewBlock) -> Self {
        Self {
            number: pending.block.header.number,
            hash: pending.hash,
            header: pending.block.header.clone(),
        }
    }
}

impl EthRpc {
    /// Creates the namespace.
    pub fn new(engine: Engine, pool: TxPool, gas_cap: u64) -> Self {
        Self {
            engine,
            pool,
            gas_cap,
            preconf: None,
            pending: Arc::default(),
        }
    }

    /// The `pending` block holds `preconf`'s promises for the next block.
    #[must_use]
    pub fn with_preconf(mut self, preconf: Option<Preconfer>) -> Self {
        self.preconf = preconf;
        self
    }

    pub(crate) const fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) const fn pool(&self) -> &TxPool {
        &self.pool
    }

    pub(crate) const fn preconf(&self) -> Option<&Preconfer> {
        self.preconf.as_ref()
    }

    pub(crate) fn pending_cache(&self) -> &PendingBlockCache {
        &self.pending
    }

    fn provider(&self) -> Result<Provider, RpcError> {
        Ok(self.engine.db().provider()?)
    }

    /// Resolves a block tag, number or hash (EIP-1898) against one snapshot.
    pub(crate) fn resolve(
        provider: &Provider,
        block: BlockId,
    ) -> Result<Option<ResolvedBlock>, RpcError> {
        let hash = match block {
            BlockId::Hash(RpcBlockHash {
                block_hash,
                require_canonical,
            }) => {
                let Some(number) = provider.block_number(block_hash)? else {
                    return Ok(None);
                };
                if require_canonical == Some(true)
                    && provider.canonical_hash(number)? != Some(block_hash)
                {
                    return Err(RpcError::InvalidParams(format!(
                        "block {block_hash} is not canonical"
                    )));
                }
                Some(block_hash)
            }
            BlockId::Number(tag) => match tag {
                BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => provider.pointer("head")?,
                BlockNumberOrTag::Safe => provider.pointer("safe")?,
                BlockNumberOrTag::Finalized => provider.pointer("finalized")?,
                BlockNumberOrTag::Earliest => provider.canonical_hash(0)?,
                BlockNumberOrTag::Number(n) => provider.canonical_hash(n)?,
            },
        };
        let Some(hash) = hash else { return Ok(None) };
        let Some(header) = provider.header(hash)? else {
            return Ok(None);
        };
        Ok(Some(ResolvedBlock {
            number: header.number,
            hash,
            header,
        }))
    }

    /// The state after `block` (default `latest`); an unknown block is an error.
    pub(crate) fn state_at(
        &self,
        provider: &Provider,
        block: Option<BlockId>,
    ) -> Result<(ResolvedBlock, StateProviderDatabase), RpcError> {
        let block = block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
        if block == BlockId::Number(BlockNumberOrTag::Pending) {
            let pending = self.pending_block()?;
            let state = provider.state()?.with_overlay(pending.state.clone());
            return Ok((ResolvedBlock::pending(&pending), state));
        }
        let resolved = Self::resolve(provider, block)?.ok_or(RpcError::HeaderNotFound)?;
        let head = provider.head()?.map(|h| h.number).unwrap_or_default();
        let state = if resolved.number >= head {
            provider.state()?
        } else {
            provider.state_at(resolved.number)?
        };
        Ok((resolved, state))
    }

    fn block(&self, block: BlockId, full: bool) -> Result<Option<Block>, RpcError> {
        if let Some(pending) = self.if_pending(block)? {
            let body = pending.block.body.clone();
            let header = pending.block.header.clone();
            return Ok(Some(convert::rpc_block(header, pending.hash, body, full)));
        }
        let provider = self.provider()?;
        let Some(resolved) = Self::resolve(&provider, block)? else {
            return Ok(None);
        };
        let body = self.body(&provider, resolved.hash)?;
        Ok(Some(convert::rpc_block(
            resolved.header,
            resolved.hash,
            body,
            full,
        )))
    }

    /// The pending block if `block` is the `pending` tag.
    fn if_pending(&self, block: BlockId) -> Result<Option<Arc<PreviewBlock>>, RpcError> {
        if block == BlockId::Number(BlockNumberOrTag::Pending) {
            self.pending_block().map(Some)
        } else {
            Ok(None)
        }
    }

    fn body(&self, provider: &Provider, hash: B256) -> Result<BlockBody<TxEnvelope>, RpcError> {
        provider
            .body(hash)?
            .ok_or_else(|| RpcError::internal(format!("body of {hash} missing")))
    }

    fn transaction_at(
        &self,
        block: BlockId,
        index: usize,
    ) -> Result<Option<Transaction>, RpcError> {
        if let Some(pending) = self.if_pending(block)? {
            let (header, body) = (&pending.block.header, &pending.block.body);
            return Ok(body
                .transactions
                .get(index)
                .map(|tx| convert::rpc_transaction(tx, header, pending.hash, index)));
        }
        let provider = self.provider()?;
        let Some(resolved) = Self::resolve(&provider, block)? else {
            return Ok(None);
        };
        let body = self.body(&provider, resolved.hash)?;
        Ok(body
            .transactions
            .get(index)
            .map(|tx| convert::rpc_transaction(tx, &resolved.header, resolved.hash, index)))
    }

    fn receipts(
        &self,
        provider: &Provider,
        resolved: &ResolvedBlock,
        index: Option<usize>,
    ) -> Result<Vec<TransactionReceipt>, RpcError> {
        let body = self.body(provider, resolved.hash)?;
        let receipts = provider
            .receipts(resolved.hash)?
            .ok_or_else(|| RpcError::internal(format!("receipts of {} missing", resolved.hash)))?;
        Ok(self.rpc_receipts(&resolved.header, resolved.hash, &body, receipts, index))
    }

    fn rpc_receipts(
        &self,
        header: &Header,
        hash: B256,
        body: &BlockBody<TxEnvelope>,
        receipts: Vec<alloy_consensus::ReceiptEnvelope>,
        index: Option<usize>,
    ) -> Vec<TransactionReceipt> {
        let blob_gas_price = self
            .engine
            .spec()
            .blob_params_at_timestamp(header.timestamp)
            .zip(header.excess_blob_gas)
            .map(|(params, excess)| params.calc_blob_fee(excess));
        convert::rpc_receipts(header, hash, body, receipts, index, blob_gas_price)
    }

    fn transaction_count_at(
        &self,
        address: Address,
        block: Option<BlockId>,
    ) -> Result<U256, RpcError> {
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)))
            && let Some(nonce) = self.pool.pending_nonce(address)
        {
            return Ok(U256::from(nonce));
        }
        let provider = self.provider()?;
        let (_, state) = self.state_at(&provider, block)?;
        Ok(U256::from(
            state.account(address)?.map(|a| a.nonce).unwrap_or_default(),
        ))
    }
}

/// Parses a storage slot the way geth does: hex, at most 32 bytes, leading zeros allowed.
fn parse_storage_key(text: &str) -> Result<U256, RpcError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.len() > 64 {
        return Err(RpcError::InvalidParams(format!(
            "storage key too long (want at most 32 bytes): {text:?}"
        )));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RpcError::InvalidParams(format!(
            "invalid hex in storage key: {text:?}"
        )));
    }
    U256::from_str_radix(digits, 16)
        .map_err(|_| RpcError::InvalidParams(format!("invalid hex in storage key: {text:?}")))
}

/// The pool reads account state from the head snapshot.
impl AccountReader for Provider {
    fn account(&self, address: Address) -> Result<Option<(u64, U256)>, PoolError> {
        Self::account(self, address)
            .map(|account| account.map(|a| (a.nonce, a.balance)))
            .map_err(PoolError::state)
    }
}

impl EthApiServer for EthRpc {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.engine.spec().chain_id))
    }

    fn config(&self) -> RpcResult<alloy_eips::eip7910::EthConfig> {
        let head = self.engine.head().map_err(RpcError::internal)?;
        Ok(config::eth_config(self.engine.spec(), head.timestamp)?)
    }

    fn block_number(&self) -> RpcResult<U64> {
        let head = self.engine.head().map_err(RpcError::internal)?;
        Ok(U64::from(head.number))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn gas_price(&self) -> RpcResult<U256> {
        Ok(U256::from(self.pool.env().next_base_fee) + U256::from(SUGGESTED_PRIORITY_FEE))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(SUGGESTED_PRIORITY_FEE))
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let provider = self.provider()?;
        let (_, state) = self.state_at(&provider, block)?;
        Ok(state
            .account(address)
            .map_err(RpcError::from)?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        Ok(self.transaction_count_at(address, block)?)
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let provider = self.provider()?;
        let (_, state) = self.state_at(&provider, block)?;
        let Some(account) = state.account(address).map_err(RpcError::from)? else {
            return Ok(Bytes::new());
        };
        let code = state
            .code_by_hash_ref(account.code_hash)
            .map_err(RpcError::from)?;
        Ok(code.original_bytes())
    }

    fn storage_at(
        &self,
        address: Address,
        slot: String,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        let slot = parse_storage_key(&slot)?;
        let provider = self.provider()?;
        let (_, state) = self.state_at(&provider, block)?;
        let value = state.storage_ref(address, slot).map_err(RpcError::from)?;
        Ok(B256::from(value))
    }

    fn storage_values(
        &self,
        slots: std::collections::BTreeMap<Address, Vec<String>>,
        block: Option<BlockId>,
    ) -> RpcResult<std::collections::BTreeMap<Address, Vec<B256>>> {
        let requested: usize = slots.values().map(Vec::len).sum();
        if requested == 0 {
            return Err(RpcError::InvalidParams("empty request".into()).into());
        }
        if requested > MAX_STORAGE_VALUES {
            return Err(RpcError::InvalidParams(format!(
                "too many slots requested: {requested} > {MAX_STORAGE_VALUES}"
            ))
            .into());
        }
        let provider = self.provider()?;
        let (_, state) = self.state_at(&provider, block)?;
        let mut out = std::collections::BTreeMap::new();
        for (address, keys) in slots {
            let mut values = Vec::with_capacity(keys.len());
            for key in keys {
                let slot = parse_storage_key(&key)?;
                values.push(B256::from(
                    state.storage_ref(address, slot).map_err(RpcError::from)?,
                ));
            }
            out.insert(address, values);
        }
        Ok(out)
    }

    fn capabilities(&self) -> RpcResult<serde_json::Value> {
        let head = self.engine.head().map_err(RpcError::internal)?;
        let full = serde_json::json!({ "disabled": false, "oldestBlock": "0x0" });
        Ok(serde_json::json!({
            "head": { "number": U64::from(head.number), "hash": head.hash() },
            "state": full,
            "tx": full,
            "logs": full,
            "receipts": full,
            "blocks": full,
            // Head proofs come from the live trie, older ones from the rebuilt history.
            "stateproofs": full,
        }))
    }

    fn base_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(self.pool.env().next_base_fee))
    }

    fn blob_base_fee(&self) -> RpcResult<U256> {
        let head = self.engine.head().map_err(RpcError::internal)?;
        Ok(U256::from(
            fees::next_blob_base_fee(self.engine.spec(), head.inner()).unwrap_or(1),
        ))
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let provider = self.provider()?;
        Ok(fees::fee_history(
            self.engine.spec(),
            &provider,
            block_count.to(),
            newest,
            reward_percentiles,
        )?)
    }

    fn proof(
        &self,
        address: Address,
        slots: Vec<alloy_serde::JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        let provider = self.provider()?;
        let block = block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
        let resolved = Self::resolve(&provider, block)?.ok_or(RpcError::HeaderNotFound)?;
        Ok(proof::account_proof(&provider, &resolved, address, slots)?)
    }

    fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult> {
        let provider = self.provider()?;
        let (resolved, state) = self.state_at(&provider, block)?;
        Ok(access_list::create_access_list(
            self.engine.spec(),
            state,
            &resolved.header,
            request,
            self.gas_cap,
        )?)
    }

    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>> {
        Ok(self.block(BlockId::Number(number), full)?)
    }

    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        Ok(self.block(BlockId::Hash(hash.into()), full)?)
    }

    fn block_transaction_count_by_number(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>> {
        if let Some(pending) = self.if_pending(BlockId::Number(number))? {
            return Ok(Some(U64::from(pending.block.body.transactions.len())));
        }
        let provider = self.provider()?;
        let Some(resolved) = Self::resolve(&provider, BlockId::Number(number))? else {
            return Ok(None);
        };
        Ok(Some(U64::from(
            self.body(&provider, resolved.hash)?.transactions.len(),
        )))
    }

    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        let provider = self.provider()?;
        let Some(resolved) = Self::resolve(&provider, BlockId::Hash(hash.into()))? else {
            return Ok(None);
        };
        Ok(Some(U64::from(
            self.body(&provider, resolved.hash)?.transactions.len(),
        )))
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        let provider = self.provider()?;
        if let Some((number, index)) = provider
            .transaction_location(hash)
            .map_err(RpcError::from)?
        {
            return Ok(self.transaction_at(BlockId::number(number), index as usize)?);
        }
        Ok(self
            .pool
            .get(&hash)
            .map(|tx| convert::rpc_pending_transaction(&tx)))
    }

    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        Ok(self.transaction_at(BlockId::Hash(hash.into()), index.0)?)
    }

    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        Ok(self.transaction_at(BlockId::Number(number), index.0)?)
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        let provider = self.provider()?;
        let Some((number, index)) = provider
            .transaction_location(hash)
            .map_err(RpcError::from)?
        else {
            return Ok(None);
        };
        let Some(resolved) = Self::resolve(&provider, BlockId::number(number))? else {
            return Ok(None);
        };
        Ok(self
            .receipts(&provider, &resolved, Some(index as usize))?
            .into_iter()
            .next())
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        if let Some(pending) = self.if_pending(block)? {
            let (header, body) = (&pending.block.header, &pending.block.body);
            let receipts = pending.receipts.clone();
            return Ok(Some(self.rpc_receipts(
                header,
                pending.hash,
                body,
                receipts,
                None,
            )));
        }
        let provider = self.provider()?;
        let Some(resolved) = Self::resolve(&provider, block)? else {
            return Ok(None);
        };
        Ok(Some(self.receipts(&provider, &resolved, None)?))
    }

    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes> {
        let provider = self.provider()?;
        let (resolved, state) = self.state_at(&provider, block)?;
        let spec = self.engine.spec();
        Ok(call::call(
            spec,
            state,
            &resolved.header,
            request,
            state_overrides,
            self.gas_cap,
        )?)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        let provider = self.provider()?;
        let (resolved, state) = self.state_at(&provider, block)?;
        let spec = self.engine.spec();
        let gas = call::estimate_gas(
            spec,
            state,
            &resolved.header,
            request,
            state_overrides,
            self.gas_cap,
        )?;
        Ok(U64::from(gas))
    }

    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        let provider = self.provider()?;
        match self.pool.add_raw(&raw, &provider) {
            Ok(added) => Ok(added.hash),
            Err(err) => Err(RpcError::Custom {
                code: err.code(),
                message: err.to_string(),
            }
            .into()),
        }
    }
}
