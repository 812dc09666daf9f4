//! Admission checks: decoding, signature, and every rule that does not depend on other pooled
//! transactions. The order of the checks follows geth so that the same bad transaction gets the
//! same error from both.

use super::{
    PoolConfig, PoolEnv,
    error::{PoolError, Result},
};
use alloy_consensus::{
    Transaction, TxEnvelope,
    transaction::{Recovered, SignerRecoverable, TxHashRef},
};
use alloy_eips::{
    eip1559::MIN_PROTOCOL_BASE_FEE,
    eip2718::{Decodable2718, Eip2718Error, Encodable2718},
};
use alloy_primitives::{B256, U256};
use revm::{
    context_interface::cfg::{gas::calculate_initial_tx_gas, gas_params::Eip2780TxInfo},
    primitives::{eip3860, eip7825, eip7954, hardfork::SpecId},
};

/// EIP-2718 type byte of blob transactions, which this rollup does not carry.
const EIP4844_TX_TYPE: u8 = 0x03;
/// Typed transactions this pool decodes: EIP-2930, EIP-1559, EIP-7702.
const KNOWN_TX_TYPES: [u8; 3] = [0x01, 0x02, 0x04];
/// Largest EIP-2718 type byte.
const MAX_TX_TYPE: u8 = 0x7f;

/// A transaction that passed every check that needs no account state, with the figures the pool
/// keeps about it.
#[derive(Debug, Clone)]
pub(super) struct ValidTx {
    /// The transaction and its sender.
    pub(super) tx: Recovered<TxEnvelope>,
    /// Transaction hash.
    pub(super) hash: B256,
    /// Fee cap (gas price for legacy and EIP-2930 transactions).
    pub(super) max_fee: u128,
    /// Priority fee cap (gas price for legacy and EIP-2930 transactions).
    pub(super) priority_fee: u128,
    /// `gas_limit * max_fee + value`: the most the sender can be charged.
    pub(super) cost: U256,
    /// Gas limit.
    pub(super) gas_limit: u64,
}

/// Decodes raw EIP-2718 bytes as `eth_sendRawTransaction` receives them.
pub(super) fn decode(raw: &[u8], config: &PoolConfig) -> Result<TxEnvelope> {
    // Checked before decoding so that a huge blob of bytes is not parsed at all.
    if raw.len() > config.max_tx_size {
        return Err(PoolError::OversizedData {
            size: raw.len(),
            limit: config.max_tx_size,
        });
    }
    // A blob transaction sent in network form (with sidecar) would not even decode as a
    // `TxEnvelope`; name the real reason instead of a decoding error.
    match raw.first() {
        None => return Err(PoolError::Decode("empty input".to_string())),
        Some(&EIP4844_TX_TYPE) => return Err(blob_not_supported()),
        // EIP-2718 type bytes are 0x00..=0x7f; legacy transactions start with an RLP list
        // header (0xc0..). The decoder reports unknown types only as a generic RLP error.
        Some(&ty) if ty <= MAX_TX_TYPE && !KNOWN_TX_TYPES.contains(&ty) => {
            return Err(unknown_type(ty));
        }
        _ => {}
    }
    TxEnvelope::decode_2718_exact(raw).map_err(|error| match error {
        Eip2718Error::UnexpectedType(ty) => unknown_type(ty),
        other => PoolError::Decode(other.to_string()),
    })
}

fn unknown_type(ty: u8) -> PoolError {
    PoolError::TxTypeNotSupported(format!("unknown transaction type {ty:#04x}"))
}

/// Recovers the sender. `recover_signer` enforces EIP-2 (low `s`), as every fork since
/// Homestead does.
pub(super) fn recover(tx: TxEnvelope) -> Result<Recovered<TxEnvelope>> {
    let sender = tx
        .recover_signer()
        .map_err(|error| PoolError::InvalidSender(error.to_string()))?;
    Ok(Recovered::new_unchecked(tx, sender))
}

/// Checks that need only the transaction, the next block's rules and the pool limits.
pub(super) fn validate(
    tx: Recovered<TxEnvelope>,
    env: &PoolEnv,
    config: &PoolConfig,
) -> Result<ValidTx> {
    let spec = env.spec_id;
    check_type(&tx, spec)?;

    let size = tx.encode_2718_len();
    if size > config.max_tx_size {
        return Err(PoolError::OversizedData {
            size,
            limit: config.max_tx_size,
        });
    }

    match tx.chain_id() {
        Some(got) if got != env.chain_id => {
            return Err(PoolError::InvalidChainId {
                expected: env.chain_id,
                got,
            });
        }
        Some(_) => {}
        None => return Err(PoolError::Unprotected),
    }

    if tx.nonce() == u64::MAX {
        return Err(PoolError::NonceMax);
    }

    let gas_limit = tx.gas_limit();
    if gas_limit > env.block_gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit {
            gas_limit,
            block_gas_limit: env.block_gas_limit,
        });
    }
    // EIP-7825 caps a transaction's gas from Osaka; Amsterdam (EIP-8037) lifts the cap again.
    if spec.is_enabled_in(SpecId::OSAKA)
        && !spec.is_enabled_in(SpecId::AMSTERDAM)
        && gas_limit > eip7825::TX_GAS_LIMIT_CAP
    {
        return Err(PoolError::GasLimitTooHigh {
            gas_limit,
            cap: eip7825::TX_GAS_LIMIT_CAP,
        });
    }

    let max_fee = tx.max_fee_per_gas();
    let priority_fee = tx.max_priority_fee_per_gas().unwrap_or(max_fee);
    if priority_fee > max_fee {
        return Err(PoolError::TipAboveFeeCap);
    }
    // The EIP-1559 base fee cannot fall below this once it is there, so a lower fee cap could
    // never be included (reth's rule). Fee caps between this and the current base fee are
    // accepted and wait (see the module docs).
    if max_fee < u128::from(MIN_PROTOCOL_BASE_FEE) {
        return Err(PoolError::Underpriced {
            max_fee,
            minimum: MIN_PROTOCOL_BASE_FEE,
        });
    }

    if tx.is_create() && spec.is_enabled_in(SpecId::SHANGHAI) {
        let limit = if spec.is_enabled_in(SpecId::AMSTERDAM) {
            eip7954::MAX_INITCODE_SIZE
        } else {
            eip3860::MAX_INITCODE_SIZE
        };
        if tx.input().len() > limit {
            return Err(PoolError::InitcodeTooLarge {
                size: tx.input().len(),
                limit,
            });
        }
    }

    if tx
        .authorization_list()
        .is_some_and(|authorizations| authorizations.is_empty())
    {
        return Err(PoolError::EmptyAuthorizationList);
    }

    check_intrinsic_gas(&tx, spec)?;

    let cost = U256::from(gas_limit) * U256::from(max_fee) + tx.value();
    Ok(ValidTx {
        hash: *tx.tx_hash(),
        max_fee,
        priority_fee,
        cost,
        gas_limit,
        tx,
    })
}

/// Checks against the sender's account in the head state.
pub(super) fn check_account(tx: &ValidTx, nonce: u64, balance: U256) -> Result<()> {
    if tx.tx.nonce() < nonce {
        return Err(PoolError::NonceTooLow {
            state: nonce,
            tx: tx.tx.nonce(),
        });
    }
    if tx.cost > balance {
        return Err(PoolError::InsufficientFunds {
            balance,
            cost: tx.cost,
        });
    }
    Ok(())
}

/// Legacy, EIP-2930, EIP-1559 and EIP-7702 transactions once their fork is active; never blobs.
fn check_type(tx: &TxEnvelope, spec: SpecId) -> Result<()> {
    let (fork, name) = match tx {
        TxEnvelope::Legacy(_) => return Ok(()),
        TxEnvelope::Eip2930(_) => (SpecId::BERLIN, "EIP-2930 transactions require Berlin"),
        TxEnvelope::Eip1559(_) => (SpecId::LONDON, "EIP-1559 transactions require London"),
        TxEnvelope::Eip4844(_) => return Err(blob_not_supported()),
        TxEnvelope::Eip7702(_) => (SpecId::PRAGUE, "EIP-7702 transactions require Prague"),
    };
    if spec.is_enabled_in(fork) {
        Ok(())
    } else {
        Err(PoolError::TxTypeNotSupported(name.to_string()))
    }
}

fn blob_not_supported() -> PoolError {
    PoolError::TxTypeNotSupported(
        "blob (EIP-4844) transactions are not accepted by this rollup".to_string(),
    )
}

/// Intrinsic gas as revm charges it for the next block's rules, including the EIP-7623 calldata
/// floor from Prague and the EIP-7702 per-authorization cost.
fn check_intrinsic_gas(tx: &Recovered<TxEnvelope>, spec: SpecId) -> Result<()> {
    let (accounts, storage_keys) = tx.access_list().map_or((0, 0), |list| {
        let keys = list.iter().map(|item| item.storage_keys.len() as u64).sum();
        (list.len() as u64, keys)
    });
    let authorizations = tx.authorization_list().map_or(0, |list| list.len() as u64);
    // Amsterdam's EIP-2780 prices the base cost by recipient and value (as revm's handler does).
    let eip2780 = spec
        .is_enabled_in(SpecId::AMSTERDAM)
        .then(|| Eip2780TxInfo {
            value: tx.value(),
            is_self_transfer: tx.kind().to() == Some(&tx.signer()),
        });
    let gas = calculate_initial_tx_gas(
        spec,
        tx.input(),
        tx.is_create(),
        accounts,
        storage_keys,
        authorizations,
        eip2780,
    );
    let gas_limit = tx.gas_limit();
    if gas.initial_total_gas() > gas_limit {
        return Err(PoolError::IntrinsicGasTooLow {
            gas_limit,
            intrinsic: gas.initial_total_gas(),
        });
    }
    if spec.is_enabled_in(SpecId::PRAGUE) && gas.floor_gas() > gas_limit {
        return Err(PoolError::FloorGasTooLow {
            gas_limit,
            floor: gas.floor_gas(),
        });
    }
    Ok(())
}
