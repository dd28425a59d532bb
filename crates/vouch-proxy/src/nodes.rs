//! Verified tiles with their interior nodes precomputed, so a proof from a warm cache is a
//! handful of lookups instead of hundreds of hashes.

use std::collections::HashMap;
use std::sync::Arc;
use vouch_core::merkle::{Hash, ProofError, node_hash};
use vouch_core::tiles::{self, NodeSource, TILE_HEIGHT, TileId};

/// One tile's hashes and every complete node above them inside the tile:
/// `levels[k][i]` is the root of hashes `i·2^k .. (i+1)·2^k`.
#[derive(Debug)]
pub struct TileNodes {
    levels: Vec<Vec<Hash>>,
}

impl TileNodes {
    /// Precompute the nodes over `hashes` (1..=256 of them).
    pub fn new(hashes: Vec<Hash>) -> Self {
        let mut levels = vec![hashes];
        while let Some(last) = levels.last() {
            if last.len() < 2 {
                break;
            }
            let next: Vec<Hash> = last
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        Self { levels }
    }

    /// The stored hashes.
    pub fn hashes(&self) -> &[Hash] {
        &self.levels[0]
    }

    /// Number of stored hashes.
    pub fn width(&self) -> usize {
        self.levels[0].len()
    }

    /// The root of `count` (a power of two) hashes starting at `first` (aligned to `count`).
    pub fn run(&self, first: usize, count: usize) -> Option<Hash> {
        let k = count.trailing_zeros() as usize;
        if !count.is_power_of_two() || !first.is_multiple_of(count) {
            return None;
        }
        self.levels.get(k)?.get(first >> k).copied()
    }

    /// The tile's Merkle root, the node one level up (full tiles only).
    pub fn root(&self) -> Option<Hash> {
        (self.width() as u64 == tiles::TILE_WIDTH).then(|| self.levels[TILE_HEIGHT as usize][0])
    }

    /// The tile bytes of its first `width` hashes.
    pub fn bytes(&self, width: usize) -> Vec<u8> {
        self.levels[0][..width.min(self.width())]
            .iter()
            .flat_map(|h| h.iter().copied())
            .collect()
    }
}

/// A position of a tile in the tree, independent of its width.
pub type TileKey = (u8, u64);

/// The key of a tile.
pub fn key(id: &TileId) -> TileKey {
    (id.level, id.index)
}

/// A [`NodeSource`] over a set of tiles for the tree of `size` leaves; a node whose tile is
/// absent is recorded in `missing` (so the caller can fetch it and retry).
pub struct TileSource<'a> {
    /// Tree size.
    pub size: u64,
    /// Tiles by position (a wider or full tile serves any narrower width).
    pub tiles: &'a dyn Fn(TileKey) -> Option<Arc<TileNodes>>,
    /// Extra tiles for this computation only (fetched, not yet verified).
    pub extra: &'a HashMap<TileKey, Arc<TileNodes>>,
    /// Tiles that were needed and absent.
    pub missing: Vec<TileId>,
    /// Tiles read, with the highest hash position read in each (for coverage checks).
    pub read: HashMap<TileKey, usize>,
}

impl NodeSource for TileSource<'_> {
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        let out = ProofError::IndexOutOfRange {
            index,
            size: self.size,
        };
        let (id, first, count) = tiles::tile_for_node(height, index, self.size).ok_or(out)?;
        let k = key(&id);
        let t = self.extra.get(&k).cloned().or_else(|| (self.tiles)(k));
        let Some(t) = t.filter(|t| t.width() >= usize::from(id.width)) else {
            if !self.missing.contains(&id) {
                self.missing.push(id);
            }
            // A placeholder: the caller discards the result when anything is missing.
            return Ok([0u8; 32]);
        };
        let end = first + count;
        let r = self.read.entry(k).or_insert(0);
        *r = (*r).max(end);
        t.run(first, count).ok_or(ProofError::IndexOutOfRange {
            index,
            size: self.size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::merkle::leaf_hash;

    #[test]
    fn runs_match_hash_run() {
        let hashes: Vec<Hash> = (0..256u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let t = TileNodes::new(hashes.clone());
        for (first, count) in [(0, 1), (4, 4), (128, 128), (0, 256), (250, 2)] {
            assert_eq!(
                t.run(first, count),
                Some(tiles::hash_run(&hashes[first..first + count]))
            );
        }
        assert_eq!(t.run(3, 2), None);
        assert_eq!(t.root(), Some(tiles::hash_run(&hashes)));
        let p = TileNodes::new(hashes[..5].to_vec());
        assert_eq!(p.run(4, 1), Some(hashes[4]));
        assert_eq!(p.run(4, 2), None);
        assert_eq!(p.root(), None);
    }
}
