//! Unit tests of the pool, with transactions signed by real keys and account state in a map.

mod lifecycle;
mod limits;
mod ordering;
mod random;
mod validation;

use super::*;
use alloy_consensus::{SignableTransaction, Signed, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Signature, TxKind, address, map::HashMap};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::cell::RefCell;

const CHAIN_ID: u64 = 31_337_420;
const BASE_FEE: u64 = 1_000_000_000;
const GWEI: u128 = 1_000_000_000;
const BLOCK_GAS_LIMIT: u64 = 30_000_000;
const RECIPIENT: Address = address!("0x000000000000000000000000000000000000beef");

/// The first dev accounts of the public `test … junk` mnemonic.
const KEYS: [&str; 4] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

fn signer(index: usize) -> PrivateKeySigner {
    KEYS[index].parse().expect("valid key")
}

fn ether(amount: u64) -> U256 {
    U256::from(amount) * U256::from(10).pow(U256::from(18))
}

fn env() -> PoolEnv {
    PoolEnv {
        chain_id: CHAIN_ID,
        spec_id: SpecId::PRAGUE,
        next_base_fee: BASE_FEE,
        block_gas_limit: BLOCK_GAS_LIMIT,
    }
}

fn pool() -> TxPool {
    TxPool::new(PoolConfig::default(), env())
}

fn pool_with(config: PoolConfig) -> TxPool {
    TxPool::new(config, env())
}

/// Account state in a map; `RefCell` so that tests can change it between calls.
#[derive(Debug, Default)]
struct State(RefCell<HashMap<Address, (u64, U256)>>);

impl State {
    /// Every test key funded with 1000 ether at nonce 0.
    fn funded() -> Self {
        let state = Self::default();
        for index in 0..KEYS.len() {
            state.set(signer(index).address(), 0, ether(1000));
        }
        state
    }

    fn set(&self, address: Address, nonce: u64, balance: U256) {
        self.0.borrow_mut().insert(address, (nonce, balance));
    }

    fn set_nonce(&self, address: Address, nonce: u64) {
        let balance = self.0.borrow().get(&address).map_or(U256::ZERO, |a| a.1);
        self.set(address, nonce, balance);
    }
}

impl AccountReader for State {
    fn account(&self, address: Address) -> Result<Option<(u64, U256)>, PoolError> {
        Ok(self.0.borrow().get(&address).copied())
    }
}

/// A state provider that always fails.
struct BrokenState;

impl AccountReader for BrokenState {
    fn account(&self, _: Address) -> Result<Option<(u64, U256)>, PoolError> {
        Err(PoolError::state("database is gone"))
    }
}

/// Signs any transaction type into an envelope.
fn sign<T>(signer: &PrivateKeySigner, tx: T) -> TxEnvelope
where
    T: SignableTransaction<Signature>,
    TxEnvelope: From<Signed<T>>,
{
    let signature = signer
        .sign_hash_sync(&tx.signature_hash())
        .expect("signing works");
    TxEnvelope::from(tx.into_signed(signature))
}

/// A plain EIP-1559 transfer with room to change any field.
fn eip1559(nonce: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(1),
        ..Default::default()
    }
}

/// A signed EIP-1559 transfer from `KEYS[who]` with the given fees.
fn transfer(who: usize, nonce: u64, max_fee: u128, tip: u128) -> TxEnvelope {
    sign(
        &signer(who),
        TxEip1559 {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            ..eip1559(nonce)
        },
    )
}

fn raw(tx: &TxEnvelope) -> Vec<u8> {
    tx.encoded_2718()
}

fn add(pool: &TxPool, state: &State, tx: &TxEnvelope) -> Result<AddedTransaction, PoolError> {
    pool.add_raw(&raw(tx), state)
}

/// Adds and expects success.
fn add_ok(pool: &TxPool, state: &State, tx: &TxEnvelope) -> AddedTransaction {
    add(pool, state, tx).unwrap_or_else(|error| panic!("rejected: {error}"))
}

/// Adds and expects an error whose message starts with `prefix`.
fn add_err(pool: &TxPool, state: &State, tx: &TxEnvelope, prefix: &str) -> PoolError {
    let error = add(pool, state, tx).expect_err("must be rejected");
    assert!(
        error.to_string().starts_with(prefix),
        "expected `{prefix}…`, got `{error}`"
    );
    error
}

fn hash(tx: &TxEnvelope) -> B256 {
    *tx.tx_hash()
}

fn hashes(txs: &[Recovered<TxEnvelope>]) -> Vec<B256> {
    txs.iter().map(|tx| *tx.tx_hash()).collect()
}

fn best_hashes(pool: &TxPool) -> Vec<B256> {
    hashes(&pool.best_transactions(usize::MAX))
}

fn status(pending: usize, queued: usize) -> PoolStatus {
    PoolStatus { pending, queued }
}
