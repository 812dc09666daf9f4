//! Inclusion proofs: the transaction at a position of a block, proven against the block header's
//! `transactionsRoot` with a Merkle-Patricia proof (the Ethereum transactions trie: key
//! `rlp(index)`, value the EIP-2718 encoding). A proof for an index past the last transaction
//! proves that nothing is there. The header is included (RLP) so the verifier checks that it
//! hashes to `blockHash`; that the block hash is canonical is vouched for by the block's
//! finalization certificate (BFT; verify with the chainspec's validator set, see
//! `consensus::CertificateVerifier`) or a trusted `eth_getBlock`.

use super::error::{PreconfError, Result};
use alloy_consensus::{Block, Header, TxEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::{B256, Bytes, U64, keccak256};
use alloy_rlp::{Decodable, Encodable};
use alloy_trie::{HashBuilder, Nibbles, proof::ProofRetainer};
use serde::{Deserialize, Serialize};

/// Where a block's blob sits on the DA layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DaLocationJson {
    /// DA (Celestia) height.
    pub height: U64,
    /// Namespace (29 bytes).
    pub namespace: Bytes,
    /// Blob share commitment.
    pub commitment: B256,
}

/// `hb_getInclusionProof`: what sits at one position of a sealed block, with the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionProof {
    /// Block number.
    pub block_number: U64,
    /// Block hash (`keccak256(header)`).
    pub block_hash: B256,
    /// RLP of the block header.
    pub header: Bytes,
    /// The header's transactions root.
    pub transactions_root: B256,
    /// The proven position.
    pub tx_index: U64,
    /// EIP-2718 bytes of the transaction at that position; `null` if the block has fewer.
    pub transaction: Option<Bytes>,
    /// Hash of that transaction.
    pub transaction_hash: Option<B256>,
    /// MPT nodes from the root towards `rlp(txIndex)`.
    pub proof: Vec<Bytes>,
    /// The block's BFT finalization certificate (`null` for a block finalized only through a
    /// descendant's certificate).
    pub finalization_certificate: Option<Bytes>,
    /// DA location of the block's blob once posted.
    pub da: Option<DaLocationJson>,
}

fn trie_key(index: usize) -> Nibbles {
    let mut key = Vec::new();
    index.encode(&mut key);
    Nibbles::unpack(&key)
}

impl InclusionProof {
    /// Proves position `index` of `block` (whose hash the caller computed).
    pub fn build(block: &Block<TxEnvelope>, block_hash: B256, index: usize) -> Self {
        let target = trie_key(index);
        let mut leaves: Vec<(Nibbles, Vec<u8>)> = block
            .body
            .transactions
            .iter()
            .enumerate()
            .map(|(i, tx)| (trie_key(i), tx.encoded_2718()))
            .collect();
        leaves.sort_by_key(|a| a.0);
        let mut builder =
            HashBuilder::default().with_proof_retainer(ProofRetainer::new(vec![target]));
        for (key, value) in &leaves {
            builder.add_leaf(*key, value);
        }
        let _root = builder.root();
        let proof = builder
            .take_proof_nodes()
            .matching_nodes_sorted(&target)
            .into_iter()
            .map(|(_, node)| node)
            .collect();
        let transaction = block
            .body
            .transactions
            .get(index)
            .map(|tx| Bytes::from(tx.encoded_2718()));
        let mut header = Vec::new();
        block.header.encode(&mut header);
        Self {
            block_number: U64::from(block.header.number),
            block_hash,
            header: header.into(),
            transactions_root: block.header.transactions_root,
            tx_index: U64::from(index),
            transaction_hash: transaction.as_ref().map(keccak256),
            transaction,
            proof,
            finalization_certificate: None,
            da: None,
        }
    }

    /// Proves position `index` of a block given as the JSON of `eth_getBlockByNumber(n, true)`:
    /// its fields must hash to its `hash` and its transactions to its `transactionsRoot`.
    pub fn from_block_json(json: &str, index: u64) -> Result<Self> {
        let block: alloy_rpc_types_eth::Block = super::verify::parse("block", json)?;
        let hash = block.header.hash;
        let transactions = block.transactions.try_into_transactions().map_err(|_| {
            PreconfError::invalid(
                "block",
                "it lists transaction hashes only; fetch it with full transactions \
                 (eth_getBlockByNumber with `true`)",
            )
        })?;
        let header = block.header.inner;
        if header.hash_slow() != hash {
            return Err(PreconfError::invalid(
                "block",
                format!(
                    "its fields hash to {}, not its hash {hash}",
                    header.hash_slow()
                ),
            ));
        }
        let block = Block {
            header,
            body: alloy_consensus::BlockBody {
                transactions: transactions.into_iter().map(|tx| tx.into_inner()).collect(),
                ommers: Vec::new(),
                withdrawals: block.withdrawals,
            },
        };
        let root = alloy_consensus::proofs::calculate_transaction_root(&block.body.transactions);
        if root != block.header.transactions_root {
            return Err(PreconfError::invalid(
                "block",
                format!(
                    "its transactions have root {root}, not its transactionsRoot {}",
                    block.header.transactions_root
                ),
            ));
        }
        let index =
            usize::try_from(index).map_err(|_| PreconfError::invalid("txIndex", "too large"))?;
        Ok(Self::build(&block, hash, index))
    }

    /// Checks the header against `blockHash`, the root and the MPT proof; returns the hash of
    /// the transaction proven at `txIndex` (`None`: the block has no transaction there).
    pub fn verify(&self) -> Result<Option<B256>> {
        let header = Header::decode(&mut self.header.as_ref())
            .map_err(|e| PreconfError::invalid("proof header", e))?;
        let hash = header.hash_slow();
        if hash != self.block_hash {
            return Err(PreconfError::invalid(
                "proof header",
                format!("hashes to {hash}, not blockHash {}", self.block_hash),
            ));
        }
        if header.number != self.block_number.to::<u64>() {
            return Err(PreconfError::invalid(
                "proof header",
                "its number differs from blockNumber",
            ));
        }
        if header.transactions_root != self.transactions_root {
            return Err(PreconfError::invalid(
                "proof transactionsRoot",
                "differs from the header's",
            ));
        }
        let index = usize::try_from(self.tx_index.to::<u64>())
            .map_err(|_| PreconfError::invalid("proof txIndex", "too large"))?;
        alloy_trie::proof::verify_proof(
            header.transactions_root,
            trie_key(index),
            self.transaction.as_ref().map(|t| t.to_vec()),
            &self.proof,
        )
        .map_err(|e| PreconfError::invalid("inclusion proof", e))?;
        let proven = self.transaction.as_ref().map(keccak256);
        if proven != self.transaction_hash {
            return Err(PreconfError::invalid(
                "proof transactionHash",
                "is not the hash of transaction",
            ));
        }
        Ok(proven)
    }
}
