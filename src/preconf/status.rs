//! Where a preconfirmation stands: read from the store and the chain, never from memory, so the
//! answer after a restart is the same as before it.

use super::{
    PreconfStore,
    error::Result,
    inclusion::{DaLocationJson, InclusionProof},
};
use crate::engine::Engine;
use alloy_consensus::Block;
use alloy_eips::Encodable2718;
use alloy_primitives::{B256, U64};
use serde::Serialize;
use std::{path::Path, sync::Arc};

/// The finality of a preconfirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PreconfState {
    /// Promised; the block is not sealed yet.
    Preconfirmed,
    /// The block is sealed with the transaction at the promised index.
    Soft,
    /// As soft, and the block is firm (final on DA).
    Firm,
    /// The promised block was not sealed before the expiry.
    Expired,
    /// The promised block is sealed without the transaction at the promised index.
    Violated,
}

/// `hb_preconfStatus`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconfStatusJson {
    /// The state.
    pub status: PreconfState,
    /// The transaction.
    pub tx_hash: B256,
    /// The promised block.
    pub block_number: U64,
    /// The promised index.
    pub tx_index: U64,
    /// Once sealed: the hash of the transaction at the promised index (`null` if none).
    pub included_tx_hash: Option<B256>,
}

/// Reads a node's preconfirmations (issued there or forwarded through it) against its chain.
/// Cloning is cheap.
#[derive(Debug, Clone)]
pub struct PreconfReader {
    engine: Engine,
    store: Arc<PreconfStore>,
}

impl PreconfReader {
    /// A reader of `store` against `engine`'s chain.
    pub fn new(engine: Engine, store: Arc<PreconfStore>) -> Self {
        Self { engine, store }
    }

    /// The store.
    pub fn store(&self) -> &PreconfStore {
        &self.store
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The number of this node's head block.
    pub(crate) fn head_number(&self) -> Result<u64> {
        Ok(self
            .engine
            .head()
            .map_err(|e| super::PreconfError::Store(e.to_string()))?
            .number)
    }

    /// The canonical block `number`, if sealed.
    fn sealed_block(
        &self,
        number: u64,
    ) -> Result<Option<(Block<alloy_consensus::TxEnvelope>, B256)>> {
        let provider = self.engine().db().provider()?;
        let Some(hash) = provider.canonical_hash(number)? else {
            return Ok(None);
        };
        let (Some(header), Some(body)) = (provider.header(hash)?, provider.body(hash)?) else {
            return Ok(None);
        };
        Ok(Some((Block { header, body }, hash)))
    }

    /// The status of the preconfirmation of `tx_hash`; `None` if none was issued.
    pub fn status(&self, tx_hash: B256) -> Result<Option<PreconfStatusJson>> {
        let Some((signed, _)) = self.store().get(tx_hash)? else {
            return Ok(None);
        };
        let number = signed.block_number.to::<u64>();
        let index = signed.tx_index.to::<u64>() as usize;
        let (status, included) = match self.sealed_block(number)? {
            Some((block, _)) => {
                let included = block.body.transactions.get(index).map(|tx| tx.trie_hash());
                let status = if included != Some(tx_hash) {
                    PreconfState::Violated
                } else if number
                    <= self
                        .engine()
                        .forkchoice()
                        .map_err(|e| super::PreconfError::Store(e.to_string()))?
                        .finalized
                        .number
                {
                    PreconfState::Firm
                } else {
                    PreconfState::Soft
                };
                (status, included)
            }
            None if super::issuer::now_ms() > signed.expiry_ms.to::<u64>() => {
                (PreconfState::Expired, None)
            }
            None => (PreconfState::Preconfirmed, None),
        };
        Ok(Some(PreconfStatusJson {
            status,
            tx_hash,
            block_number: signed.block_number,
            tx_index: signed.tx_index,
            included_tx_hash: included,
        }))
    }

    /// The inclusion proof for `tx_hash`: of its promised position if it was preconfirmed (so a
    /// broken promise is proven too), else of where it was mined. `None` if the block is not
    /// sealed or the transaction unknown.
    pub fn inclusion_proof(
        &self,
        tx_hash: B256,
        da_dir: Option<&Path>,
    ) -> Result<Option<InclusionProof>> {
        let position = match self.store().get(tx_hash)? {
            Some((signed, _)) => {
                Some((signed.block_number.to::<u64>(), signed.tx_index.to::<u64>()))
            }
            None => self
                .engine()
                .db()
                .provider()?
                .transaction_location(tx_hash)?
                .map(|(block, index)| (block, u64::from(index))),
        };
        let Some((number, index)) = position else {
            return Ok(None);
        };
        let Some((block, hash)) = self.sealed_block(number)? else {
            return Ok(None);
        };
        let mut proof = InclusionProof::build(&block, hash, index as usize);
        proof.finalization_certificate = self
            .engine()
            .db()
            .provider()?
            .certificate(number)?
            .map(Into::into);
        if let Some(dir) = da_dir {
            let location = hauptbuch_exex::celestia::DaLog::open(dir)
                .and_then(|log| log.location(number))
                .map_err(|e| super::PreconfError::Store(e.to_string()))?;
            proof.da = location.map(|l| DaLocationJson {
                height: U64::from(l.height),
                namespace: l.namespace,
                commitment: l.commitment,
            });
        }
        Ok(Some(proof))
    }
}
