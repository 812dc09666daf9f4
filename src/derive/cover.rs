//! Certificate coverage on a chain with a validator set: which blocks read from DA may be
//! imported.
//!
//! Anyone can post to a namespace, so a block from DA is imported only when a finalization
//! certificate covers it: its own, or that of a descendant whose ancestry reaches it by parent
//! hashes (a block finalized through a descendant carries none of its own). Blocks that no
//! certificate covers yet are held ([`Held`]) until one does; a blob whose certificates do not
//! verify is skipped as a whole.
//!
//! Invariants: nothing held is imported before a verified certificate covers it; held blocks
//! are keyed by number and hash, so a forged block never stands in for the real one (whose
//! hash the certified descendant fixes); what is held is bounded ([`MAX_COPIES`] per number,
//! [`MAX_HELD`] in all; past that, new candidates are dropped with a warning).

use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::B256;
use std::collections::BTreeMap;

/// Candidates kept for one block number (the real block and a few of anyone's).
pub(crate) const MAX_COPIES: usize = 4;
/// Blocks held in all: far more than ever sit between two certified blocks.
pub(crate) const MAX_HELD: usize = 8192;

/// A block from DA that no certificate covers yet.
#[derive(Debug)]
pub(crate) struct HeldBlock {
    pub(crate) block: Block<TxEnvelope>,
    pub(crate) hash: B256,
    /// DA height of the blob it came in.
    pub(crate) da_height: u64,
}

/// Blocks waiting for a certificate, by number.
#[derive(Debug, Default)]
pub(crate) struct Held {
    blocks: BTreeMap<u64, Vec<HeldBlock>>,
    len: usize,
}

impl Held {
    /// Holds `block`; `false` if it was dropped because the bounds are reached.
    pub(crate) fn insert(&mut self, block: HeldBlock) -> bool {
        let copies = self.blocks.entry(block.block.header.number).or_default();
        if copies.iter().any(|held| held.hash == block.hash) {
            return true;
        }
        if copies.len() >= MAX_COPIES || self.len >= MAX_HELD {
            return false;
        }
        copies.push(block);
        self.len += 1;
        true
    }

    /// The held block `number` with hash `hash`.
    pub(crate) fn get(&self, number: u64, hash: B256) -> Option<&HeldBlock> {
        self.blocks
            .get(&number)?
            .iter()
            .find(|held| held.hash == hash)
    }

    /// Takes the held block `number` with hash `hash`.
    pub(crate) fn take(&mut self, number: u64, hash: B256) -> Option<HeldBlock> {
        let copies = self.blocks.get_mut(&number)?;
        let index = copies.iter().position(|held| held.hash == hash)?;
        let held = copies.swap_remove(index);
        self.len -= 1;
        if copies.is_empty() {
            self.blocks.remove(&number);
        }
        Some(held)
    }

    /// Drops every candidate for blocks up to `number` (imported, or superseded by them).
    pub(crate) fn forget_through(&mut self, number: u64) {
        let keep = self.blocks.split_off(&(number + 1));
        self.blocks = keep;
        self.len = self.blocks.values().map(Vec::len).sum();
    }

    /// Lowest DA height a held block came from: derivation must read it again after a restart.
    pub(crate) fn min_da_height(&self) -> Option<u64> {
        self.blocks
            .values()
            .flatten()
            .map(|held| held.da_height)
            .min()
    }

    /// Number of blocks held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(number: u64, tag: u8, da_height: u64) -> HeldBlock {
        let mut block = Block::<TxEnvelope>::default();
        block.header.number = number;
        block.header.extra_data = vec![tag].into();
        HeldBlock {
            hash: block.header.hash_slow(),
            block,
            da_height,
        }
    }

    #[test]
    fn held_blocks_are_found_by_number_and_hash_and_bounded() {
        let mut set = Held::default();
        let real = held(5, 0, 10);
        let real_hash = real.hash;
        assert!(set.insert(real));
        assert!(
            set.insert(held(5, 0, 11)),
            "the same block again is kept once"
        );
        assert_eq!(set.len(), 1);
        for tag in 1..MAX_COPIES as u8 {
            assert!(set.insert(held(5, tag, 12)));
        }
        assert!(
            !set.insert(held(5, 99, 12)),
            "copies per number are bounded"
        );
        assert!(set.insert(held(6, 0, 9)));
        assert_eq!(set.min_da_height(), Some(9));

        assert!(
            set.take(5, B256::ZERO).is_none(),
            "a wrong hash finds nothing"
        );
        let taken = set.take(5, real_hash).expect("the real block");
        assert_eq!(taken.da_height, 10);
        assert_eq!(set.len(), MAX_COPIES);

        set.forget_through(5);
        assert_eq!(set.len(), 1);
        set.forget_through(6);
        assert_eq!((set.len(), set.min_da_height()), (0, None));
    }
}
