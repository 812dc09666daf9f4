//! The withdrawal part of the `hb_` namespace: output roots, withdrawals, proofs and status.
//!
//! Its own jsonrpsee trait (merged into `hb` by the server) so that it evolves independently of
//! the rest of the namespace.

use super::{
    OutputRootPreimage, WithdrawalError, index, index::WithdrawalRecord, output, sent_message_slot,
    stateless::ExecutionWitness,
};
use crate::{
    engine::Engine,
    rpc::{
        error::{RpcError, RpcResult},
        hb::BlockRefJson,
    },
    storage::{Provider, StorageError},
};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::proc_macros::rpc;
use serde::Serialize;

/// Finality of a block: `soft` (executed, BFT-final) or `firm` (its DA blob is final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Finality {
    /// At or below `latest`/`safe`, above `finalized`.
    Soft,
    /// At or below `finalized`.
    Firm,
}

/// `hb_outputAtBlock`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputJson {
    /// Output root version (zero).
    pub version: B256,
    /// `keccak256(version ‖ stateRoot ‖ withdrawalStorageRoot ‖ blockHash)`.
    pub output_root: B256,
    /// The block.
    pub block_ref: BlockRefJson,
    /// Block timestamp.
    pub timestamp: U64,
    /// Storage root of the message passer after the block.
    pub withdrawal_storage_root: B256,
    /// State root of the block.
    pub state_root: B256,
    /// `soft` or `firm`.
    pub status: Finality,
}

/// `hb_getWithdrawal`: a withdrawal and where it was initiated.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalJson {
    /// The withdrawal hash (key of `sentMessages`).
    pub withdrawal_hash: B256,
    /// Versioned message nonce.
    pub nonce: U256,
    /// L2 sender.
    pub sender: Address,
    /// L1 target.
    pub target: Address,
    /// Wei withdrawn.
    pub value: U256,
    /// Gas limit of the L1 call.
    pub gas_limit: U256,
    /// Calldata of the L1 call.
    pub data: Bytes,
    /// Block number.
    pub block_number: U64,
    /// Block hash.
    pub block_hash: B256,
    /// Block timestamp.
    pub block_timestamp: U64,
    /// Initiating transaction.
    pub transaction_hash: B256,
    /// Its index in the block.
    pub transaction_index: U64,
    /// Index of the `MessagePassed` log in the block.
    pub log_index: U64,
}

/// OP Stack `OutputRootProof`: the preimage of an output root.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputRootProofJson {
    /// Version (zero).
    pub version: B256,
    /// State root.
    pub state_root: B256,
    /// Message passer storage root.
    pub message_passer_storage_root: B256,
    /// Block hash.
    pub latest_blockhash: B256,
}

/// `hb_getWithdrawalProof`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalProofJson {
    /// The withdrawal being proven.
    pub withdrawal: WithdrawalJson,
    /// The block the proof is against: the latest firm block.
    pub block_ref: BlockRefJson,
    /// Its output root.
    pub output_root: B256,
    /// The output root's preimage.
    pub output_root_proof: OutputRootProofJson,
    /// Storage slot of `sentMessages[withdrawalHash]`: `keccak256(withdrawalHash ‖ 0)`.
    pub slot: B256,
    /// The slot's value (1).
    pub value: U256,
    /// Storage trie nodes from `messagePasserStorageRoot` towards `keccak256(slot)`.
    pub storage_proof: Vec<Bytes>,
}

/// Where a withdrawal is on its way to L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WithdrawalPhase {
    /// In a soft block; no proof yet.
    Initiated,
    /// Its block is firm: `hb_getWithdrawalProof` works; the challenge window is running.
    Provable,
    /// The challenge window has passed.
    Finalizable,
}

/// `hb_withdrawalStatus`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalStatusJson {
    /// The withdrawal hash.
    pub withdrawal_hash: B256,
    /// `initiated`, `provable` or `finalizable`.
    pub status: WithdrawalPhase,
    /// The block that initiated it.
    pub block_ref: BlockRefJson,
    /// Its timestamp (seconds).
    pub initiated_at: U64,
    /// The latest firm block.
    pub firm_head: BlockRefJson,
    /// The chainspec's challenge window (seconds).
    pub challenge_window_secs: U64,
    /// `initiatedAt + challengeWindowSecs`: from then on the withdrawal is finalizable once firm.
    pub finalizable_at: U64,
    /// L2 time: the timestamp of the latest soft block, the clock the window is measured in.
    pub chain_time: U64,
}

/// Output roots and withdrawals.
#[rpc(server, namespace = "hb")]
pub trait WithdrawalsApi {
    /// Output root of a block (number or tag) with its preimage and finality.
    #[method(name = "outputAtBlock")]
    fn output_at_block(&self, block: BlockNumberOrTag) -> RpcResult<OutputJson>;

    /// A withdrawal by withdrawal hash or by the hash of its transaction.
    #[method(name = "getWithdrawal")]
    fn get_withdrawal(&self, hash: B256) -> RpcResult<WithdrawalJson>;

    /// Storage proof of a firm withdrawal against the latest firm output root.
    #[method(name = "getWithdrawalProof")]
    fn get_withdrawal_proof(&self, hash: B256) -> RpcResult<WithdrawalProofJson>;

    /// Initiated, provable or finalizable, with the timestamps that decide it.
    #[method(name = "withdrawalStatus")]
    fn withdrawal_status(&self, hash: B256) -> RpcResult<WithdrawalStatusJson>;

    /// What a stateless verifier needs to re-execute a block (number or tag).
    #[method(name = "getExecutionWitness")]
    fn get_execution_witness(&self, block: BlockNumberOrTag) -> RpcResult<ExecutionWitness>;
}

/// Implementation of [`WithdrawalsApiServer`].
#[derive(Debug, Clone)]
pub struct WithdrawalsRpc {
    engine: Engine,
}

impl WithdrawalsRpc {
    /// Serves withdrawals from the engine's database.
    pub const fn new(engine: Engine) -> Self {
        Self { engine }
    }

    fn provider(&self) -> Result<Provider, RpcError> {
        Ok(self.engine.db().provider()?)
    }
}

/// Number and hash of a forkchoice pointer.
fn pointer(provider: &Provider, name: &str) -> Result<BlockRefJson, StorageError> {
    let hash = provider
        .pointer(name)?
        .ok_or(StorageError::NotInitialised)?;
    let number = provider
        .block_number(hash)?
        .ok_or_else(|| StorageError::Corrupt {
            table: "meta",
            key: name.to_string(),
            message: format!("pointer names unknown block {hash}"),
        })?;
    Ok(BlockRefJson {
        number: U64::from(number),
        hash,
    })
}

/// The block number a number or tag names.
fn resolve(provider: &Provider, block: BlockNumberOrTag) -> Result<u64, RpcError> {
    let tag = match block {
        BlockNumberOrTag::Number(n) => return Ok(n),
        BlockNumberOrTag::Earliest => return Ok(0),
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => "head",
        BlockNumberOrTag::Safe => "safe",
        BlockNumberOrTag::Finalized => "finalized",
    };
    Ok(pointer(provider, tag)?.number.to())
}

fn withdrawal_json(record: &WithdrawalRecord) -> WithdrawalJson {
    let message = &record.message;
    WithdrawalJson {
        withdrawal_hash: message.withdrawal_hash,
        nonce: message.nonce,
        sender: message.sender,
        target: message.target,
        value: message.value,
        gas_limit: message.gas_limit,
        data: message.data.clone(),
        block_number: U64::from(record.location.block),
        block_hash: record.block_hash,
        block_timestamp: U64::from(record.header.timestamp),
        transaction_hash: record.tx_hash,
        transaction_index: U64::from(record.location.tx_index),
        log_index: U64::from(record.location.log_index),
    }
}

const fn block_ref(number: u64, hash: B256) -> BlockRefJson {
    BlockRefJson {
        number: U64::from_limbs([number]),
        hash,
    }
}

fn output_json(output: &output::BlockOutput, firm: u64) -> OutputJson {
    let OutputRootPreimage {
        version,
        state_root,
        message_passer_storage_root,
        block_hash,
    } = output.preimage;
    OutputJson {
        version,
        output_root: output.preimage.output_root(),
        block_ref: block_ref(output.header.number, block_hash),
        timestamp: U64::from(output.header.timestamp),
        withdrawal_storage_root: message_passer_storage_root,
        state_root,
        status: if output.header.number <= firm {
            Finality::Firm
        } else {
            Finality::Soft
        },
    }
}

impl WithdrawalsApiServer for WithdrawalsRpc {
    fn output_at_block(&self, block: BlockNumberOrTag) -> RpcResult<OutputJson> {
        let provider = self.provider()?;
        let number = resolve(&provider, block)?;
        let firm: u64 = pointer(&provider, "finalized")
            .map_err(RpcError::from)?
            .number
            .to();
        let output = output::block_output(&provider, number).map_err(RpcError::from)?;
        Ok(output_json(&output, firm))
    }

    fn get_execution_witness(&self, block: BlockNumberOrTag) -> RpcResult<ExecutionWitness> {
        let provider = self.provider()?;
        let number = resolve(&provider, block)?;
        Ok(
            super::witness::execution_witness(self.engine.spec(), &provider, number)
                .map_err(RpcError::from)?,
        )
    }

    fn get_withdrawal(&self, hash: B256) -> RpcResult<WithdrawalJson> {
        let provider = self.provider()?;
        let record = index::find(&provider, hash).map_err(RpcError::from)?;
        Ok(withdrawal_json(&record))
    }

    fn get_withdrawal_proof(&self, hash: B256) -> RpcResult<WithdrawalProofJson> {
        let provider = self.provider()?;
        let record = index::find(&provider, hash).map_err(RpcError::from)?;
        let firm: u64 = pointer(&provider, "finalized")
            .map_err(RpcError::from)?
            .number
            .to();
        let withdrawal_hash = record.message.withdrawal_hash;
        if record.location.block > firm {
            return Err(RpcError::from(WithdrawalError::NotFirm {
                hash: withdrawal_hash,
                block: record.location.block,
                firm,
            })
            .into());
        }
        let output = output::block_output(&provider, firm).map_err(RpcError::from)?;
        let slot = sent_message_slot(withdrawal_hash);
        let (value, storage_proof) =
            output::message_passer_proof(&provider, &output, slot).map_err(RpcError::from)?;
        let preimage = output.preimage;
        Ok(WithdrawalProofJson {
            withdrawal: withdrawal_json(&record),
            block_ref: block_ref(firm, preimage.block_hash),
            output_root: preimage.output_root(),
            output_root_proof: OutputRootProofJson {
                version: preimage.version,
                state_root: preimage.state_root,
                message_passer_storage_root: preimage.message_passer_storage_root,
                latest_blockhash: preimage.block_hash,
            },
            slot,
            value,
            storage_proof,
        })
    }

    fn withdrawal_status(&self, hash: B256) -> RpcResult<WithdrawalStatusJson> {
        let provider = self.provider()?;
        let record = index::find(&provider, hash).map_err(RpcError::from)?;
        let firm_head = pointer(&provider, "finalized").map_err(RpcError::from)?;
        let chain_time = provider
            .head()
            .map_err(RpcError::from)?
            .ok_or(StorageError::NotInitialised)
            .map_err(RpcError::from)?
            .timestamp;
        let window = self.engine.spec().hauptbuch.challenge_window_secs;
        let initiated_at = record.header.timestamp;
        let finalizable_at = initiated_at.saturating_add(window);
        let status = if record.location.block > firm_head.number.to::<u64>() {
            WithdrawalPhase::Initiated
        } else if chain_time >= finalizable_at {
            WithdrawalPhase::Finalizable
        } else {
            WithdrawalPhase::Provable
        };
        Ok(WithdrawalStatusJson {
            withdrawal_hash: record.message.withdrawal_hash,
            status,
            block_ref: block_ref(record.location.block, record.block_hash),
            initiated_at: U64::from(initiated_at),
            firm_head,
            challenge_window_secs: U64::from(window),
            finalizable_at: U64::from(finalizable_at),
            chain_time: U64::from(chain_time),
        })
    }
}
