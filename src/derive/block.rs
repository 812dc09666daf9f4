//! From a DA blob to executable blocks.
//!
//! A [`BatchBlock`] carries three RLP byte strings: the consensus header, the RLP list of the
//! transactions' EIP-2718 envelopes (as byte strings) and the finalization certificate; this is
//! what the node's ExEx feed writes (`node::exex::committed_block`). Bodies are rebuilt from them:
//! ommers are always empty, and withdrawals are empty when the header commits to an empty list
//! (format v1 carries no withdrawals, so a header with a non-empty withdrawals root cannot be
//! rebuilt and its blob is rejected).
//!
//! Everything in a blob is decoded before any block of it is imported, so a malformed blob is
//! skipped as a whole.

use super::error::BlobError;
use alloy_consensus::{Block, BlockBody, Header, TxEnvelope};
use alloy_eips::{Decodable2718, eip4895::Withdrawals};
use alloy_primitives::Bytes;
use alloy_rlp::Decodable;
use hauptbuch_exex::celestia::{BatchBlock, decode_blob};

/// The blocks of one blob of this chain.
#[derive(Debug)]
pub(crate) struct DerivedBatch {
    /// First block number.
    pub(crate) first: u64,
    /// Last block number.
    pub(crate) last: u64,
    /// The blocks, `first` first.
    pub(crate) blocks: Vec<Block<TxEnvelope>>,
    /// Each block's finalization certificate (empty when it has none of its own).
    pub(crate) certificates: Vec<Bytes>,
}

/// Decodes `data` as a blob of chain `chain_id`.
pub(crate) fn decode_batch(chain_id: u64, data: &[u8]) -> Result<DerivedBatch, BlobError> {
    // Check the cheap fixed header first: a foreign blob is not decompressed at all.
    let header = hauptbuch_exex::celestia::BlobHeader::parse(data)?;
    if header.chain_id != chain_id {
        return Err(BlobError::ForeignChain {
            found: header.chain_id,
            expected: chain_id,
        });
    }
    let decoded = decode_blob(data)?;
    let mut blocks = Vec::with_capacity(decoded.blocks.len());
    let mut certificates = Vec::with_capacity(decoded.blocks.len());
    for (number, batch_block) in (decoded.header.first_block..).zip(&decoded.blocks) {
        certificates.push(batch_block.certificate.clone());
        let block =
            decode_block(batch_block).map_err(|message| BlobError::Block { number, message })?;
        if block.header.number != number {
            return Err(BlobError::Block {
                number,
                message: format!("header says block {}", block.header.number),
            });
        }
        blocks.push(block);
    }
    Ok(DerivedBatch {
        first: decoded.header.first_block,
        last: decoded.header.last_block,
        blocks,
        certificates,
    })
}

/// Rebuilds one block from its blob form.
fn decode_block(block: &BatchBlock) -> Result<Block<TxEnvelope>, String> {
    let header = decode_exact::<Header>(&block.header).map_err(|e| format!("header: {e}"))?;
    let envelopes = decode_exact::<Vec<Bytes>>(&block.transactions)
        .map_err(|e| format!("transactions: {e}"))?;
    let transactions = envelopes
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            TxEnvelope::decode_2718_exact(raw).map_err(|e| format!("transaction {index}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let withdrawals = match header.withdrawals_root {
        None => None,
        Some(root) if root == alloy_trie::EMPTY_ROOT_HASH => Some(Withdrawals::default()),
        Some(root) => {
            return Err(format!(
                "withdrawals root {root} is not empty, and blob format v1 carries no withdrawals"
            ));
        }
    };
    Ok(Block {
        header,
        body: BlockBody {
            transactions,
            ommers: Vec::new(),
            withdrawals,
        },
    })
}

/// Decodes a `T` that must use all of `bytes`.
fn decode_exact<T: Decodable>(bytes: &[u8]) -> Result<T, alloy_rlp::Error> {
    let mut buf = bytes;
    let value = T::decode(&mut buf)?;
    if !buf.is_empty() {
        return Err(alloy_rlp::Error::Custom("trailing bytes"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hauptbuch_exex::celestia::{MAX_BLOB_BYTES, encode_blob};

    fn batch_block(number: u64) -> BatchBlock {
        let header = Header {
            number,
            base_fee_per_gas: Some(7),
            withdrawals_root: Some(alloy_trie::EMPTY_ROOT_HASH),
            ..Default::default()
        };
        let mut transactions = Vec::new();
        alloy_rlp::encode_list::<Bytes, Bytes>(&[], &mut transactions);
        BatchBlock {
            header: alloy_rlp::encode(&header).into(),
            transactions: transactions.into(),
            certificate: Bytes::new(),
        }
    }

    #[test]
    fn a_blob_of_this_chain_decodes_to_blocks() {
        let blob =
            encode_blob(7, 5, &[batch_block(5), batch_block(6)], MAX_BLOB_BYTES).expect("encode");
        let batch = decode_batch(7, &blob.bytes).expect("decode");
        assert_eq!((batch.first, batch.last), (5, 6));
        assert_eq!(batch.blocks[1].header.number, 6);
        assert_eq!(
            batch.blocks[0].body.withdrawals,
            Some(Withdrawals::default())
        );
        assert!(batch.certificates.iter().all(|c| c.is_empty()));
    }

    #[test]
    fn foreign_and_garbage_blobs_are_refused() {
        let blob = encode_blob(8, 5, &[batch_block(5)], MAX_BLOB_BYTES).expect("encode");
        let err = decode_batch(7, &blob.bytes).expect_err("foreign");
        assert!(
            matches!(
                err,
                BlobError::ForeignChain {
                    found: 8,
                    expected: 7
                }
            ),
            "{err}"
        );
        let err = decode_batch(7, b"not a blob at all, just some bytes").expect_err("garbage");
        assert!(err.to_string().contains("magic"), "{err}");
    }

    #[test]
    fn a_block_numbered_out_of_place_is_refused() {
        let blob = encode_blob(7, 5, &[batch_block(9)], MAX_BLOB_BYTES).expect("encode");
        let err = decode_batch(7, &blob.bytes).expect_err("misnumbered");
        assert!(err.to_string().contains("block 5"), "{err}");
    }
}
