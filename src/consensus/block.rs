//! The block as consensus sees it: an Ethereum block whose digest is its block hash.
//!
//! Wire format: a 4-byte big-endian length, then the block's RLP (`[header, transactions,
//! ommers, withdrawals?]`). Decoding is strict because blocks arrive from peers: the length is
//! bounded by the codec config, the RLP must be canonical (re-encoding gives the same bytes), and
//! the body must match the header's transactions root, ommers hash and withdrawals root — the
//! digest is the header hash, so a body that the header does not commit to is rejected here.

use super::Digest;
use alloy_consensus::{Block, EMPTY_OMMER_ROOT_HASH, Header, TxEnvelope, proofs};
use alloy_primitives::{B256, Bytes};
use alloy_rlp::{Decodable, Encodable};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, Write};
use commonware_consensus::{BoundedBlock, Heightable, types::Height};
use commonware_cryptography::{Digestible, sha256::Digest as Sha256Digest};
use std::sync::Arc;

/// Length prefix of the encoding.
const LENGTH_PREFIX: usize = 4;

/// A block ordered by consensus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConsensusBlock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    block: Block<TxEnvelope>,
    hash: B256,
    rlp: Bytes,
}

impl ConsensusBlock {
    /// Wraps a block.
    pub fn new(block: Block<TxEnvelope>) -> Self {
        let hash = block.header.hash_slow();
        let mut rlp = Vec::with_capacity(block.length());
        block.encode(&mut rlp);
        Self {
            inner: Arc::new(Inner {
                block,
                hash,
                rlp: rlp.into(),
            }),
        }
    }

    /// The genesis block of a chain (no transactions).
    pub fn genesis(header: Header, withdrawals: bool) -> Self {
        Self::new(Block {
            header,
            body: alloy_consensus::BlockBody {
                transactions: Vec::new(),
                ommers: Vec::new(),
                withdrawals: withdrawals.then(Default::default),
            },
        })
    }

    /// The Ethereum block.
    pub fn block(&self) -> &Block<TxEnvelope> {
        &self.inner.block
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.inner.block.header
    }

    /// The block hash.
    pub fn hash(&self) -> B256 {
        self.inner.hash
    }

    /// The block's RLP.
    pub fn rlp(&self) -> &Bytes {
        &self.inner.rlp
    }

    /// Decodes and checks one block's RLP (see the module docs).
    pub fn decode_rlp(rlp: Bytes) -> Result<Self, BlockDecodeError> {
        let block = Block::<TxEnvelope>::decode(&mut &rlp[..])
            .map_err(|err| BlockDecodeError(format!("invalid block RLP: {err}")))?;
        if block.length() != rlp.len() {
            return Err(BlockDecodeError(format!(
                "block RLP is {} bytes but encodes {} bytes",
                rlp.len(),
                block.length()
            )));
        }
        let mut canonical = Vec::with_capacity(rlp.len());
        block.encode(&mut canonical);
        if canonical[..] != rlp[..] {
            return Err(BlockDecodeError("block RLP is not canonical".into()));
        }
        let header = &block.header;
        let body = &block.body;
        if !body.ommers.is_empty() || header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
            return Err(BlockDecodeError("blocks carry no ommers".into()));
        }
        let transactions_root = proofs::calculate_transaction_root(&body.transactions);
        if transactions_root != header.transactions_root {
            return Err(BlockDecodeError(format!(
                "transactions root {transactions_root} does not match the header's {}",
                header.transactions_root
            )));
        }
        let withdrawals_root = body
            .withdrawals
            .as_ref()
            .map(|w| proofs::calculate_withdrawals_root(w));
        if withdrawals_root != header.withdrawals_root {
            return Err(BlockDecodeError(
                "withdrawals do not match the header's withdrawals root".into(),
            ));
        }
        let hash = header.hash_slow();
        Ok(Self {
            inner: Arc::new(Inner { block, hash, rlp }),
        })
    }
}

/// Why bytes are not a valid consensus block.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BlockDecodeError(pub String);

impl Write for ConsensusBlock {
    fn write(&self, buf: &mut impl BufMut) {
        // Blocks are bounded far below 4 GiB by the codec config.
        buf.put_u32(self.inner.rlp.len() as u32);
        buf.put_slice(&self.inner.rlp);
    }
}

impl EncodeSize for ConsensusBlock {
    fn encode_size(&self) -> usize {
        LENGTH_PREFIX + self.inner.rlp.len()
    }
}

impl Read for ConsensusBlock {
    /// The largest accepted block RLP, in bytes.
    type Cfg = usize;

    fn read_cfg(buf: &mut impl Buf, max_len: &usize) -> Result<Self, CodecError> {
        if buf.remaining() < LENGTH_PREFIX {
            return Err(CodecError::EndOfBuffer);
        }
        let len = buf.get_u32() as usize;
        if len > *max_len {
            return Err(CodecError::InvalidLength(len));
        }
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let rlp = buf.copy_to_bytes(len);
        Self::decode_rlp(rlp.into()).map_err(|err| CodecError::Wrapped("block", Box::new(err)))
    }
}

impl Digestible for ConsensusBlock {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        Sha256Digest(self.inner.hash.0)
    }
}

impl Heightable for ConsensusBlock {
    fn height(&self) -> Height {
        Height::new(self.inner.block.header.number)
    }
}

impl commonware_consensus::Block for ConsensusBlock {
    fn parent(&self) -> Digest {
        Sha256Digest(self.inner.block.header.parent_hash.0)
    }
}

impl BoundedBlock for ConsensusBlock {
    fn max_encode_size(max_len: &usize) -> usize {
        LENGTH_PREFIX + max_len
    }
}

/// The block hash behind a consensus digest.
pub fn digest_hash(digest: &Digest) -> B256 {
    B256::from(digest.0)
}
