//! Execution witnesses: every block of a chain with transfers, contract deployments, storage
//! writes and deletions, self-destructs and an EIP-7702 delegation re-executes statelessly from
//! its `hb_getExecutionWitness` data to the block's own state root; a witness with a node, a
//! code or a header taken out or altered does not.

use crate::common::{DEV_KEYS, temp_engine};
use alloy_consensus::{
    Block, SignableTransaction, TxEip1559, TxEip7702, TxEnvelope, transaction::Recovered,
};
use alloy_eips::eip7702::Authorization;
use alloy_primitives::keccak256;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, sol};
use alloy_trie::{Nibbles, proof::verify_proof};
use hauptbuch_reth::{
    chainspec::ChainSpec,
    engine::Engine,
    execution::BlockAttributes,
    withdrawals::{
        MESSAGE_PASSER_ADDRESS,
        history::account_proof_at,
        stateless::{ExecutionWitness, WitnessError, execute_stateless},
        witness::execution_witness,
    },
};

sol! {
    function initiateWithdrawal(address _target, uint256 _gasLimit, bytes _data) payable;
    function burn();
}

const CHAIN_ID: u64 = 31_337_420;

/// Runtime: with calldata `(key, value)` stores `value` at `key`; with no calldata
/// self-destructs to the caller.
const STORE_OR_DESTRUCT: &str = "361560 0d57 6020 35 6000 35 55 00 5b 33 ff";
/// Initcode returning the 16-byte runtime above.
const INIT_PREFIX: &str = "6010 80 600b 6000 39 6000 f3";

fn hex(s: &str) -> Vec<u8> {
    alloy_primitives::hex::decode(s.replace(' ', "")).expect("hex")
}

struct Chain {
    spec: std::sync::Arc<ChainSpec>,
    engine: Engine,
    signers: Vec<PrivateKeySigner>,
    nonces: Vec<u64>,
    timestamp: u64,
}

impl Chain {
    fn eip1559(
        &mut self,
        who: usize,
        to: TxKind,
        value: u64,
        input: Vec<u8>,
    ) -> Recovered<TxEnvelope> {
        let tx = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce: self.nonces[who],
            gas_limit: 500_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value: U256::from(value),
            input: input.into(),
            ..Default::default()
        };
        self.nonces[who] += 1;
        let signer = &self.signers[who];
        let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        Recovered::new_unchecked(
            TxEnvelope::from(tx.into_signed(signature)),
            signer.address(),
        )
    }

    /// `who` sends a 7702 transaction that makes `authority`'s account run `code_at`'s code.
    fn delegate(
        &mut self,
        who: usize,
        authority: usize,
        code_at: Address,
    ) -> Recovered<TxEnvelope> {
        let auth = Authorization {
            chain_id: U256::from(CHAIN_ID),
            address: code_at,
            nonce: self.nonces[authority],
        };
        self.nonces[authority] += 1;
        let signature = self.signers[authority]
            .sign_hash_sync(&auth.signature_hash())
            .expect("sign authorization");
        let tx = TxEip7702 {
            chain_id: CHAIN_ID,
            nonce: self.nonces[who],
            gas_limit: 200_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: self.signers[authority].address(),
            authorization_list: vec![auth.into_signed(signature)],
            ..Default::default()
        };
        self.nonces[who] += 1;
        let signer = &self.signers[who];
        let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        Recovered::new_unchecked(
            TxEnvelope::from(tx.into_signed(signature)),
            signer.address(),
        )
    }

    fn block(&mut self, txs: Vec<Recovered<TxEnvelope>>) -> Block<TxEnvelope> {
        self.timestamp += 12;
        let attributes = BlockAttributes {
            timestamp: self.timestamp,
            gas_limit: self.spec.genesis_header.gas_limit,
            parent_beacon_block_root: Some(B256::ZERO),
            ..Default::default()
        };
        let (block, built) = self
            .engine
            .build_and_commit(attributes, txs)
            .expect("block");
        assert!(built.rejected.is_empty(), "{:?}", built.rejected);
        block
    }
}

fn store(key: u64, value: u64) -> Vec<u8> {
    [B256::from(U256::from(key)), B256::from(U256::from(value))].concat()
}

#[test]
fn blocks_re_execute_statelessly_from_their_witness() {
    let spec = ChainSpec::from_arg("devnet").expect("devnet");
    let (_dir, engine) = temp_engine(spec.clone());
    engine.init_genesis().expect("genesis");
    let signers: Vec<PrivateKeySigner> = DEV_KEYS.iter().map(|k| k.parse().expect("key")).collect();
    let mut chain = Chain {
        spec: spec.clone(),
        engine: engine.clone(),
        nonces: vec![0; signers.len()],
        signers,
        timestamp: 0,
    };
    let contract = chain.signers[0].address().create(0);
    let fresh = address!("0x00000000000000000000000000000000000f4e55");
    let withdraw = initiateWithdrawalCall {
        _target: fresh,
        _gasLimit: U256::from(100_000),
        _data: Bytes::new(),
    }
    .abi_encode();

    let mut blocks = Vec::new();
    // 1: a deployment, a transfer to a new account, a withdrawal.
    let init = [hex(INIT_PREFIX), hex(STORE_OR_DESTRUCT)].concat();
    let txs = vec![
        chain.eip1559(0, TxKind::Create, 0, init),
        chain.eip1559(1, TxKind::Call(fresh), 5, Vec::new()),
        chain.eip1559(1, TxKind::Call(MESSAGE_PASSER_ADDRESS), 1_000, withdraw),
    ];
    blocks.push(chain.block(txs));
    // 2: storage writes, and account 2 delegates its code to the contract (EIP-7702); the 7702
    //    transaction calls account 2 without calldata, so its new code self-destructs, moving
    //    its whole balance to the sender.
    let mut txs: Vec<_> = (1..=6)
        .map(|k| chain.eip1559(0, TxKind::Call(contract), 0, store(k, k * 100)))
        .collect();
    txs.push(chain.delegate(1, 2, contract));
    blocks.push(chain.block(txs));
    // 3: storage deletions (branch collapses), a write through the delegation, burn() (creates
    //    and self-destructs a contract in one transaction).
    let mut txs: Vec<_> = [1, 2, 3, 5]
        .into_iter()
        .map(|k| chain.eip1559(0, TxKind::Call(contract), 0, store(k, 0)))
        .collect();
    let delegated = chain.signers[2].address();
    txs.push(chain.eip1559(1, TxKind::Call(delegated), 0, store(7, 9)));
    txs.push(chain.eip1559(
        1,
        TxKind::Call(MESSAGE_PASSER_ADDRESS),
        0,
        burnCall {}.abi_encode(),
    ));
    blocks.push(chain.block(txs));
    // 4: the contract self-destructs (EIP-6780: only its balance moves), more transfers.
    let txs = vec![
        chain.eip1559(0, TxKind::Call(contract), 0, Vec::new()),
        chain.eip1559(1, TxKind::Call(fresh), 7, Vec::new()),
        chain.eip1559(0, TxKind::Call(fresh), 9, Vec::new()),
    ];
    blocks.push(chain.block(txs));
    // 5: an empty block.
    blocks.push(chain.block(Vec::new()));

    let provider = engine.db().provider().expect("provider");
    assert_eq!(
        provider.storage(delegated, U256::from(7)).expect("slot"),
        U256::from(9),
        "the delegated write landed in the authority's storage"
    );
    for (slot, value) in [(1, 0), (3, 0), (4, 400), (5, 0), (6, 600)] {
        assert_eq!(
            provider.storage(contract, U256::from(slot)).expect("slot"),
            U256::from(value),
            "slot {slot}"
        );
    }
    let authority = provider.account(delegated).expect("read").expect("exists");
    assert_eq!(
        authority.balance,
        U256::ZERO,
        "the delegated self-destruct moved the balance"
    );
    assert_ne!(
        authority.code_hash,
        alloy_trie::KECCAK_EMPTY,
        "delegation code is set"
    );
    let mut witnesses = Vec::new();
    for block in &blocks {
        let number = block.header.number;
        let witness = execution_witness(&spec, &provider, number).expect("witness");
        let outcome = execute_stateless(&spec, block, &witness)
            .unwrap_or_else(|e| panic!("block {number} does not re-execute: {e}"));
        assert_eq!(
            outcome.state_root, block.header.state_root,
            "block {number}: stateless root differs"
        );
        // The witness survives its JSON form unchanged.
        let json = serde_json::to_string(&witness).expect("json");
        let back: ExecutionWitness = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, witness);
        witnesses.push(witness);
    }

    // Taken out or altered data fails the re-execution or changes the root.
    let (block, witness) = (&blocks[2], &witnesses[2]);
    for i in 0..witness.state.len() {
        let mut cut = witness.clone();
        cut.state.remove(i);
        match execute_stateless(&spec, block, &cut) {
            Err(_) => {}
            Ok(outcome) => assert_eq!(
                outcome.state_root, block.header.state_root,
                "a witness without node {i} gave another root instead of failing"
            ),
        }
    }
    let mut no_root = witness.clone();
    no_root.state.clear();
    assert!(matches!(
        execute_stateless(&spec, block, &no_root),
        Err(WitnessError::Execution(_))
    ));
    let mut no_code = witness.clone();
    no_code.codes.clear();
    assert!(execute_stateless(&spec, block, &no_code).is_err());
    let mut bad_header = witness.clone();
    let last = bad_header.headers.len() - 1;
    let mut bytes = bad_header.headers[last].to_vec();
    let end = bytes.len() - 1;
    bytes[end] ^= 1;
    bad_header.headers[last] = bytes.into();
    assert!(matches!(
        execute_stateless(&spec, block, &bad_header),
        Err(WitnessError::Headers(_))
    ));
    // Another block's witness does not fit.
    assert!(execute_stateless(&spec, block, &witnesses[1]).is_err());
    assert!(
        execution_witness(&spec, &provider, 0).is_err(),
        "genesis has no witness"
    );
    assert!(
        execution_witness(&spec, &provider, 6).is_err(),
        "beyond the head"
    );

    // eth_getProof below the head: proofs from the rebuilt history verify against each block's
    // state root, and at the head they equal the proofs read from the persisted trie.
    let head = blocks.last().expect("blocks").header.number;
    let slots: Vec<B256> = (0..8u64).map(|k| B256::from(U256::from(k))).collect();
    let addresses = [
        contract,
        delegated,
        fresh,
        MESSAGE_PASSER_ADDRESS,
        chain.signers[0].address(),
        Address::repeat_byte(0x99),
    ];
    for address in addresses {
        let live = hauptbuch_reth::trie::account_proof(provider.txn(), address, &slots)
            .expect("live proof");
        let rebuilt = account_proof_at(&provider, head, address, &slots).expect("head proof");
        assert_eq!(rebuilt, live, "{address} at the head");
        for number in 0..=head {
            let proof = account_proof_at(&provider, number, address, &slots).expect("proof");
            let header = provider
                .header_by_number(number)
                .expect("read")
                .expect("header");
            verify_proof(
                header.state_root,
                Nibbles::unpack(keccak256(address)),
                proof.account.map(alloy_rlp::encode),
                &proof.account_proof,
            )
            .unwrap_or_else(|e| panic!("{address} at block {number}: {e}"));
            let storage_root = proof
                .account
                .map_or(alloy_trie::EMPTY_ROOT_HASH, |a| a.storage_root);
            for slot in &proof.storage_proofs {
                let expected = (!slot.value.is_zero()).then(|| alloy_rlp::encode(slot.value));
                verify_proof(
                    storage_root,
                    Nibbles::unpack(keccak256(slot.key)),
                    expected,
                    &slot.proof,
                )
                .unwrap_or_else(|e| panic!("{address} slot {} at {number}: {e}", slot.key));
            }
            if address == contract {
                let slot1 = proof.storage_proofs[1].value;
                let expected = if number == 2 {
                    U256::from(100)
                } else {
                    U256::ZERO
                };
                assert_eq!(slot1, expected, "contract slot 1 at block {number}");
            }
        }
    }
    assert!(account_proof_at(&provider, head + 1, contract, &slots).is_err());
}
