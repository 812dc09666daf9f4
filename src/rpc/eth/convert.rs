//! From stored blocks, transactions and receipts to their JSON-RPC shapes (`alloy-rpc-types-eth`).

use alloy_consensus::{
    BlockBody, Header, ReceiptEnvelope, Transaction as _, TxEnvelope,
    transaction::{Recovered, SignerRecoverable, TransactionInfo},
};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Header as RpcHeader, Log, Transaction, TransactionReceipt,
};

/// The sender of a stored (already validated) transaction.
pub(crate) fn sender(tx: &TxEnvelope) -> Address {
    tx.recover_signer_unchecked().unwrap_or_default()
}

/// A transaction with its position in a block.
pub(crate) fn rpc_transaction(
    tx: &TxEnvelope,
    header: &Header,
    block_hash: B256,
    index: usize,
) -> Transaction {
    let info = TransactionInfo {
        hash: Some(tx.trie_hash()),
        index: Some(index as u64),
        block_hash: Some(block_hash),
        block_number: Some(header.number),
        base_fee: header.base_fee_per_gas,
        block_timestamp: Some(header.timestamp),
    };
    Transaction::from_transaction(Recovered::new_unchecked(tx.clone(), sender(tx)), info)
}

/// A pending (pool) transaction: no block fields.
pub(crate) fn rpc_pending_transaction(tx: &Recovered<TxEnvelope>) -> Transaction {
    Transaction::from_transaction(
        tx.clone(),
        TransactionInfo {
            hash: Some(tx.trie_hash()),
            ..Default::default()
        },
    )
}

/// A block, with transaction hashes or full transactions.
pub(crate) fn rpc_block(
    header: Header,
    hash: B256,
    body: BlockBody<TxEnvelope>,
    full: bool,
) -> Block {
    let size = U256::from(
        alloy_rlp::encode(alloy_consensus::Block {
            header: header.clone(),
            body: body.clone(),
        })
        .len(),
    );
    let transactions = if full {
        BlockTransactions::Full(
            body.transactions
                .iter()
                .enumerate()
                .map(|(i, tx)| rpc_transaction(tx, &header, hash, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(body.transactions.iter().map(|tx| tx.trie_hash()).collect())
    };
    let uncles = body.ommers.iter().map(Header::hash_slow).collect();
    Block {
        header: RpcHeader {
            hash,
            inner: header,
            total_difficulty: None,
            size: Some(size),
        },
        uncles,
        transactions,
        withdrawals: body.withdrawals,
    }
}

/// The receipts of a block in RPC form. `index` selects one transaction, `None` gives all.
pub(crate) fn rpc_receipts(
    header: &Header,
    block_hash: B256,
    body: &BlockBody<TxEnvelope>,
    receipts: Vec<ReceiptEnvelope>,
    index: Option<usize>,
    blob_gas_price: Option<u128>,
) -> Vec<TransactionReceipt> {
    let mut out = Vec::new();
    let mut log_index = 0u64;
    let mut previous_cumulative = 0u64;
    for (i, (tx, receipt)) in body.transactions.iter().zip(receipts).enumerate() {
        let cumulative = receipt.cumulative_gas_used();
        let gas_used = cumulative - previous_cumulative;
        previous_cumulative = cumulative;
        let logs_in_tx = receipt.logs().len() as u64;
        if index.is_some_and(|wanted| wanted != i) {
            log_index += logs_in_tx;
            continue;
        }
        let tx_hash = tx.trie_hash();
        let inner = receipt.map_logs(|log| {
            let rpc_log = Log {
                inner: log,
                block_hash: Some(block_hash),
                block_number: Some(header.number),
                block_timestamp: Some(header.timestamp),
                transaction_hash: Some(tx_hash),
                transaction_index: Some(i as u64),
                log_index: Some(log_index),
                removed: false,
            };
            log_index += 1;
            rpc_log
        });
        let from = sender(tx);
        let contract_address = tx.kind().is_create().then(|| from.create(tx.nonce()));
        let blob_gas_used = tx.blob_gas_used();
        out.push(TransactionReceipt {
            inner,
            transaction_hash: tx_hash,
            transaction_index: Some(i as u64),
            block_hash: Some(block_hash),
            block_number: Some(header.number),
            gas_used,
            effective_gas_price: tx.effective_gas_price(header.base_fee_per_gas),
            blob_gas_used,
            blob_gas_price: blob_gas_used.and(blob_gas_price),
            from,
            to: tx.to(),
            contract_address,
        });
    }
    out
}
