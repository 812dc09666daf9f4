//! The data square of a DA block: blob layout, erasure coding, and blob inclusion proofs.
//!
//! Layout follows celestia-app's non-interactive default rules (ADR 013) as far as blobs go:
//! blobs are sorted by namespace (stable, so submission order is kept within a namespace), each
//! starts at a share index aligned to its subtree width, and the gap before it is namespace
//! padding in the previous blob's namespace; the rest of the square is tail padding. There are
//! no transaction or PayForBlobs shares, since the server runs no chain. The original square is
//! the smallest power-of-two width that holds everything; it is then extended with
//! `ExtendedDataSquare::from_ods`, and the DAH from it commits to every share.
//!
//! Invariant: the layout is a pure function of the blobs, so a square (and thus proofs) can be
//! rebuilt from the stored blobs of a height at any time.

use celestia_types::consts::appconsts::{SHARE_SIZE, SUBTREE_ROOT_THRESHOLD};
use celestia_types::nmt::{NS_SIZE, Namespace, NamespaceProof};
use celestia_types::{Blob, ExtendedDataSquare};

use super::error::Result;

/// Widest original data square (celestia-app v6+), which bounds the shares of one DA block.
pub(crate) const MAX_ODS_WIDTH: usize = 512;

/// A square built from blobs, with where each blob starts in the original square.
#[derive(Debug)]
pub(crate) struct Square {
    /// The extended data square.
    pub(crate) eds: ExtendedDataSquare,
    /// Width of the original data square.
    pub(crate) ods_width: usize,
}

/// Lays `blobs` out in a square: sorts them by namespace and sets each blob's `index` to its
/// first share's position in the extended square (row × EDS width + column).
pub(crate) fn build_square(blobs: &mut [Blob]) -> Result<Square> {
    if blobs.is_empty() {
        return Ok(Square {
            eds: ExtendedDataSquare::empty(),
            ods_width: 1,
        });
    }
    blobs.sort_by_key(|blob| blob.namespace);
    let mut shares: Vec<Vec<u8>> = Vec::new();
    let mut starts = Vec::with_capacity(blobs.len());
    let mut previous: Option<Namespace> = None;
    for blob in blobs.iter() {
        let blob_shares = blob.to_shares()?;
        let start = align_up(shares.len(), subtree_width(blob_shares.len()));
        if let Some(namespace) = previous {
            shares.resize_with(start, || padding_share(namespace));
        }
        starts.push(start);
        shares.extend(blob_shares.iter().map(|share| share.as_ref().to_vec()));
        previous = Some(blob.namespace);
    }
    let ods_width = ods_width_for(shares.len());
    shares.resize_with(ods_width * ods_width, || {
        padding_share(Namespace::TAIL_PADDING)
    });
    let eds = ExtendedDataSquare::from_ods(shares)?;
    for (blob, start) in blobs.iter_mut().zip(starts) {
        blob.index = Some(eds_index(start, ods_width));
    }
    Ok(Square { eds, ods_width })
}

/// Shares a block of these blobs occupies at most (alignment padding included), to keep a DA
/// block within [`MAX_ODS_WIDTH`].
pub(crate) fn shares_upper_bound(blobs: &[Blob]) -> usize {
    blobs
        .iter()
        .map(|blob| {
            let len = blob.shares_len();
            len + subtree_width(len) - 1
        })
        .sum()
}

/// NMT range proofs of `blob`'s shares, one per row it spans, against the row roots.
pub(crate) fn blob_proofs(square: &Square, blob: &Blob) -> Result<Vec<NamespaceProof>> {
    let eds_width = 2 * square.ods_width as u64;
    let index = blob.index.unwrap_or_default();
    let start = (index / eds_width) as usize * square.ods_width + (index % eds_width) as usize;
    let end = start + blob.shares_len();
    let mut proofs = Vec::new();
    let mut row = start / square.ods_width;
    while row * square.ods_width < end {
        let row_start = row * square.ods_width;
        let from = start.max(row_start) - row_start;
        let to = end.min(row_start + square.ods_width) - row_start;
        let row_index = u16::try_from(row).map_err(|_| {
            super::error::DaServerError::Config(format!("row {row} outside the square"))
        })?;
        let proof = square.eds.row_nmt(row_index)?.build_range_proof(from..to);
        proofs.push(NamespaceProof::from(
            nmt_rs::NamespaceProof::PresenceProof {
                proof,
                ignore_max_ns: true,
            },
        ));
        row += 1;
    }
    Ok(proofs)
}

/// Position in the extended square of share `ods_index` of the original square.
fn eds_index(ods_index: usize, ods_width: usize) -> u64 {
    let row = ods_index / ods_width;
    let column = ods_index % ods_width;
    (row * 2 * ods_width + column) as u64
}

/// Smallest power-of-two width whose square holds `shares`.
fn ods_width_for(shares: usize) -> usize {
    let mut width = 1;
    while width * width < shares {
        width *= 2;
    }
    width
}

fn align_up(index: usize, alignment: usize) -> usize {
    index.div_ceil(alignment) * alignment
}

/// Subtree width of a blob of `shares` shares (ADR 013), which is also its alignment.
fn subtree_width(shares: usize) -> usize {
    let threshold = SUBTREE_ROOT_THRESHOLD as usize;
    let by_threshold = shares.div_ceil(threshold).next_power_of_two();
    let min_square = ((shares as f64).sqrt().ceil() as usize).next_power_of_two();
    by_threshold.min(min_square).max(1)
}

/// A padding share: namespace, info byte (share version 0, sequence start), zero length.
fn padding_share(namespace: Namespace) -> Vec<u8> {
    let mut share = vec![0u8; SHARE_SIZE];
    share[..NS_SIZE].copy_from_slice(namespace.as_bytes());
    share[NS_SIZE] = 1;
    share
}

#[cfg(test)]
mod tests {
    use celestia_types::DataAvailabilityHeader;

    use super::*;

    fn blob(id: u8, len: usize) -> Blob {
        let namespace = Namespace::new_v0(&[id; 10]).expect("namespace");
        Blob::new(namespace, vec![id; len], None).expect("blob")
    }

    #[test]
    fn empty_block_is_the_empty_square() {
        let square = build_square(&mut []).expect("square");
        let dah = DataAvailabilityHeader::from_eds(&square.eds);
        let empty = DataAvailabilityHeader::from_eds(&ExtendedDataSquare::empty());
        assert_eq!(dah, empty);
    }

    #[test]
    fn blobs_are_sorted_indexed_and_provable() {
        let mut blobs = vec![blob(9, 3000), blob(2, 100), blob(5, 40_000), blob(2, 700)];
        let square = build_square(&mut blobs).expect("square");
        let order: Vec<u8> = blobs.iter().map(|b| b.data[0]).collect();
        assert_eq!(order, vec![2, 2, 5, 9]);
        assert_eq!(blobs[0].index, Some(0));
        let dah = DataAvailabilityHeader::from_eds(&square.eds);
        for blob in &blobs {
            let shares = blob.to_shares().expect("shares");
            let proofs = blob_proofs(&square, blob).expect("proofs");
            let eds_width = 2 * square.ods_width as u64;
            let first_row = (blob.index.expect("index") / eds_width) as u16;
            let mut used = 0;
            for (row, proof) in (first_row..).zip(&proofs) {
                let n = (proof.end_idx() - proof.start_idx()) as usize;
                let root = dah.row_root(row).expect("row root");
                let leaves: Vec<&[u8]> =
                    shares[used..used + n].iter().map(|s| s.as_ref()).collect();
                proof
                    .verify_range(&root, &leaves, *blob.namespace)
                    .expect("proof verifies");
                used += n;
            }
            assert_eq!(used, shares.len());
        }
    }
}
