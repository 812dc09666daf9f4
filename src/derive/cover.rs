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
//! hash the certified descendant fixes); a certified block that arrives before its ancestors
//! waits for them; what is held is bounded ([`MAX_COPIES`] per number, [`MAX_HELD`] blocks and
//! [`MAX_HELD_BYTES`] in all, within [`WINDOW`] blocks of the head; when full, the blocks
//! furthest ahead make room for those needed sooner).

use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::B256;
use std::collections::BTreeMap;

/// Candidates kept for one block number (the real block and a few of anyone's).
pub(crate) const MAX_COPIES: usize = 4;
/// Blocks held in all: far more than ever sit between two certified blocks.
pub(crate) const MAX_HELD: usize = 8192;
/// Bytes of blocks held in all (RLP length), whatever the blocks carry.
pub(crate) const MAX_HELD_BYTES: usize = 256 * 1024 * 1024;
/// Blocks further than this past the head are not held.
pub(crate) const WINDOW: u64 = 65_536;

/// A block from DA not imported yet.
#[derive(Debug)]
pub(crate) struct HeldBlock {
    pub(crate) block: Block<TxEnvelope>,
    pub(crate) hash: B256,
    /// DA height of the blob it came in.
    pub(crate) da_height: u64,
    /// Whether its own certificate (verified) covers it.
    pub(crate) certified: bool,
}

impl HeldBlock {
    fn bytes(&self) -> usize {
        alloy_rlp::Encodable::length(&self.block)
    }
}

/// Blocks waiting for a certificate or their ancestors, by number.
#[derive(Debug, Default)]
pub(crate) struct Held {
    blocks: BTreeMap<u64, Vec<HeldBlock>>,
    len: usize,
    bytes: usize,
}

impl Held {
    /// Holds `block` (head is `head`); `false` if it was dropped: too far ahead, or the bounds
    /// are reached and nothing further ahead can make room (blocks furthest ahead go first,
    /// the ones needed next stay).
    pub(crate) fn insert(&mut self, head: u64, block: HeldBlock) -> bool {
        let number = block.block.header.number;
        if number <= head || number > head.saturating_add(WINDOW) {
            return false;
        }
        let copies = self.blocks.entry(number).or_default();
        if let Some(same) = copies.iter_mut().find(|held| held.hash == block.hash) {
            // The same block again; keep a copy that carries its certificate.
            same.certified |= block.certified;
            return true;
        }
        if copies.len() >= MAX_COPIES {
            return false;
        }
        let size = block.bytes();
        while self.len >= MAX_HELD || self.bytes + size > MAX_HELD_BYTES {
            match self.blocks.last_key_value().map(|(n, _)| *n) {
                Some(furthest) if furthest > number => {
                    if let Some(dropped) = self.blocks.remove(&furthest) {
                        self.len -= dropped.len();
                        self.bytes -= dropped.iter().map(HeldBlock::bytes).sum::<usize>();
                    }
                }
                _ => {
                    self.blocks.retain(|_, copies| !copies.is_empty());
                    return false;
                }
            }
        }
        self.len += 1;
        self.bytes += size;
        self.blocks.entry(number).or_default().push(block);
        true
    }

    /// The held block `number` with hash `hash`.
    pub(crate) fn get(&self, number: u64, hash: B256) -> Option<&HeldBlock> {
        self.blocks
            .get(&number)?
            .iter()
            .find(|held| held.hash == hash)
    }

    /// Takes the longest chain from the block after `head` (hash `head_hash`) up to a held
    /// certified block, through parent hashes, oldest first, and drops every other candidate
    /// up to its end. `None` when no held certified block reaches the head yet;
    /// `Some(Err((number, hash)))` when one reaches the head's height but not the head (the
    /// chain derived so far is not the one the validators finalized).
    #[allow(clippy::type_complexity)]
    pub(crate) fn take_covered(
        &mut self,
        head: u64,
        head_hash: B256,
    ) -> Option<Result<Vec<HeldBlock>, (u64, B256)>> {
        let tops: Vec<(u64, B256)> = self
            .blocks
            .iter()
            .rev()
            .flat_map(|(n, copies)| copies.iter().filter(|b| b.certified).map(|b| (*n, b.hash)))
            .collect();
        for (top, top_hash) in tops {
            let mut path = vec![(top, top_hash)];
            let (mut number, mut hash) = (top, top_hash);
            let reached = loop {
                let Some(block) = self.get(number, hash) else {
                    break None;
                };
                let parent = block.block.header.parent_hash;
                if number == head + 1 {
                    break Some(parent == head_hash);
                }
                (number, hash) = (number - 1, parent);
                path.push((number, hash));
            };
            match reached {
                Some(true) => {
                    let chain = path
                        .into_iter()
                        .rev()
                        .filter_map(|(n, h)| self.take(n, h))
                        .collect();
                    self.forget_through(top);
                    return Some(Ok(chain));
                }
                Some(false) => return Some(Err((head + 1, hash))),
                None => {}
            }
        }
        None
    }

    /// Takes the held block `number` with hash `hash`.
    fn take(&mut self, number: u64, hash: B256) -> Option<HeldBlock> {
        let copies = self.blocks.get_mut(&number)?;
        let index = copies.iter().position(|held| held.hash == hash)?;
        let held = copies.swap_remove(index);
        self.len -= 1;
        self.bytes -= held.bytes();
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
        self.bytes = self.blocks.values().flatten().map(HeldBlock::bytes).sum();
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

    /// Block `number` with parent `parent`, tagged to tell copies apart.
    fn held(number: u64, parent: B256, tag: u8, certified: bool) -> HeldBlock {
        let mut block = Block::<TxEnvelope>::default();
        block.header.number = number;
        block.header.parent_hash = parent;
        block.header.extra_data = vec![tag].into();
        HeldBlock {
            hash: block.header.hash_slow(),
            block,
            da_height: 10 + number,
            certified,
        }
    }

    #[test]
    fn a_certified_block_takes_its_ancestors_whenever_they_arrive() {
        let head = B256::repeat_byte(1);
        let mut set = Held::default();
        let b1 = held(1, head, 0, false);
        let b2 = held(2, b1.hash, 0, false);
        let b3 = held(3, b2.hash, 0, true);
        let (h1, h3) = (b1.hash, b3.hash);
        // The certified block 3 first, then its ancestors (a forged 1 among them).
        assert!(set.insert(0, b3));
        assert!(set.take_covered(0, head).is_none());
        assert!(set.insert(0, held(1, head, 9, false)));
        assert!(set.insert(0, b2));
        assert!(set.take_covered(0, head).is_none(), "block 1 is missing");
        assert!(set.insert(0, b1));
        assert_eq!(set.min_da_height(), Some(11));
        let chain = set
            .take_covered(0, head)
            .expect("covered")
            .expect("extends the head");
        let hashes: Vec<B256> = chain.iter().map(|b| b.hash).collect();
        assert_eq!(hashes.first(), Some(&h1));
        assert_eq!(hashes.last(), Some(&h3));
        assert_eq!(set.len(), 0, "the forged copy of 1 went with them");

        // A certified chain that reaches the head's height but not the head: a fork.
        let other = held(1, B256::repeat_byte(2), 0, true);
        assert!(set.insert(0, other));
        assert!(matches!(set.take_covered(0, head), Some(Err((1, _)))));
    }

    #[test]
    fn the_blocks_furthest_ahead_make_room_and_far_ones_are_not_held() {
        let mut set = Held::default();
        assert!(
            !set.insert(0, held(WINDOW + 1, B256::ZERO, 0, false)),
            "too far ahead"
        );
        assert!(
            !set.insert(5, held(5, B256::ZERO, 0, false)),
            "at or below the head"
        );
        for number in 1..=MAX_HELD as u64 {
            assert!(set.insert(0, held(number + 100, B256::ZERO, 0, false)));
        }
        assert_eq!(set.len(), MAX_HELD);
        // Full: a block further ahead is refused, one needed sooner evicts the furthest.
        assert!(!set.insert(0, held(MAX_HELD as u64 + 200, B256::ZERO, 0, false)));
        assert!(set.insert(0, held(1, B256::ZERO, 0, false)));
        assert_eq!(set.len(), MAX_HELD);
        assert!(
            set.get(
                MAX_HELD as u64 + 100,
                held(MAX_HELD as u64 + 100, B256::ZERO, 0, false).hash
            )
            .is_none()
        );
        for tag in 1..MAX_COPIES as u8 {
            assert!(set.insert(0, held(1, B256::ZERO, tag, false)));
        }
        assert!(
            !set.insert(0, held(1, B256::ZERO, 99, false)),
            "copies per number are bounded"
        );
        set.forget_through(200);
        assert!(set.len() < MAX_HELD);
    }
}
