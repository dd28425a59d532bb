//! The in-memory right edge of the tree: partial hash tiles per level and the bodies of the
//! partial entry bundle. Appending leaves yields exactly the tiles that changed.

use crate::LogError;
use crate::storage::Storage;
use std::collections::HashMap;
use std::sync::Arc;
use vouch_core::merkle::{Hash, ProofError};
use vouch_core::tiles::{self, HASH_SIZE, NodeSource, TILE_WIDTH, TileId, hashes_at_level};

/// Right edge of the tree at some size.
#[derive(Clone, Debug, Default)]
pub struct Edge {
    /// Tree size.
    pub size: u64,
    /// For each level, the hashes of the partial (not yet full) tile at that level.
    pub levels: Vec<Vec<Hash>>,
    /// Bodies of the entries in the partial entry bundle.
    pub entries: Vec<Vec<u8>>,
}

/// (level, index) of a full tile.
pub type TileKey = (u8, u64);

/// Tiles changed by an append.
#[derive(Debug, Default)]
pub struct Changes {
    /// Hash tiles.
    pub tiles: Vec<(TileId, Vec<u8>)>,
    /// Entry bundles.
    pub entry_bundles: Vec<(TileId, Vec<u8>)>,
    /// Full tiles completed by this append, decoded, for the cache.
    pub full: Vec<(TileKey, Arc<Vec<Hash>>)>,
}

/// Serialize hashes as a tile.
pub fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.iter().copied()).collect()
}

/// Parse tile bytes into hashes.
pub fn parse_tile(bytes: &[u8]) -> Result<Vec<Hash>, LogError> {
    if !bytes.len().is_multiple_of(HASH_SIZE) {
        return Err(LogError::Storage(format!(
            "tile of {} bytes is not a multiple of 32",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(HASH_SIZE)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Serialize entry bodies as a tlog-tiles entry bundle (`u16 length || bytes` each).
pub fn bundle_bytes(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
    for e in entries {
        let len = u16::try_from(e.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&e[..usize::from(len)]);
    }
    out
}

/// Parse an entry bundle into bodies.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, LogError> {
    vouch_core::tiles::parse_entry_bundle(bytes).map_err(|source| LogError::Tile {
        what: "entry bundle".into(),
        source,
    })
}

impl Edge {
    /// Rebuild the edge for `size` from storage (partial tiles and the partial entry bundle).
    pub fn load(storage: &dyn Storage, size: u64) -> Result<Self, LogError> {
        let mut levels = Vec::new();
        let mut level = 0u8;
        loop {
            let stored = hashes_at_level(size, level);
            if stored == 0 {
                break;
            }
            let width = stored % TILE_WIDTH;
            let mut hashes = Vec::new();
            if width > 0 {
                let id = TileId {
                    level,
                    index: stored / TILE_WIDTH,
                    width: u16::try_from(width).unwrap_or(255),
                };
                let bytes = storage
                    .read_tile(&id)?
                    .ok_or_else(|| LogError::Storage(format!("missing tile {}", id.path())))?;
                hashes = parse_tile(&bytes)?;
                if hashes.len() as u64 != width {
                    return Err(LogError::Storage(format!(
                        "tile {} has {} hashes",
                        id.path(),
                        hashes.len()
                    )));
                }
            }
            levels.push(hashes);
            level += 1;
        }
        let width = size % TILE_WIDTH;
        let entries = if width > 0 {
            let id = TileId {
                level: 0,
                index: size / TILE_WIDTH,
                width: u16::try_from(width).unwrap_or(255),
            };
            let b = storage.read_entry_bundle(&id)?.ok_or_else(|| {
                LogError::Storage(format!("missing entry bundle {}", id.entries_path()))
            })?;
            parse_bundle(&b)?
        } else {
            Vec::new()
        };
        Ok(Self {
            size,
            levels,
            entries,
        })
    }

    /// Append entries (bodies with their leaf hashes); returns the changed tiles.
    pub fn append(&mut self, items: &[(Vec<u8>, Hash)]) -> Changes {
        let mut ch = Changes::default();
        for (body, leaf) in items {
            self.entries.push(body.clone());
            if self.levels.is_empty() {
                self.levels.push(Vec::new());
            }
            self.levels[0].push(*leaf);
            self.size += 1;
            // Entry bundle full?
            if self.entries.len() as u64 == TILE_WIDTH {
                let id = TileId {
                    level: 0,
                    index: (self.size - 1) / TILE_WIDTH,
                    width: 256,
                };
                ch.entry_bundles.push((id, bundle_bytes(&self.entries)));
                self.entries.clear();
            }
            // Carry full tiles upward.
            let mut level = 0usize;
            while self.levels[level].len() as u64 == TILE_WIDTH {
                let hashes = std::mem::take(&mut self.levels[level]);
                let l8 = u8::try_from(level).unwrap_or(u8::MAX);
                let index = hashes_at_level(self.size, l8) / TILE_WIDTH - 1;
                let root = tiles::hash_run(&hashes);
                ch.tiles.push((
                    TileId {
                        level: l8,
                        index,
                        width: 256,
                    },
                    tile_bytes(&hashes),
                ));
                ch.full.push(((l8, index), Arc::new(hashes)));
                if self.levels.len() == level + 1 {
                    self.levels.push(Vec::new());
                }
                self.levels[level + 1].push(root);
                level += 1;
            }
        }
        // Partial tiles at the new size.
        for (level, hashes) in self.levels.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let l8 = u8::try_from(level).unwrap_or(u8::MAX);
            let id = TileId {
                level: l8,
                index: hashes_at_level(self.size, l8) / TILE_WIDTH,
                width: u16::try_from(hashes.len()).unwrap_or(255),
            };
            ch.tiles.push((id, tile_bytes(hashes)));
        }
        if !self.entries.is_empty() {
            let id = TileId {
                level: 0,
                index: self.size / TILE_WIDTH,
                width: u16::try_from(self.entries.len()).unwrap_or(255),
            };
            ch.entry_bundles.push((id, bundle_bytes(&self.entries)));
        }
        ch
    }
}

/// A bounded cache of full (immutable) hash tiles. Upper-level tiles are few and stay; level-0
/// tiles are evicted oldest first, so the cache holds a steady window of the newest tiles
/// instead of emptying all at once when it fills (which made resident memory saw-tooth).
#[derive(Debug, Default)]
pub struct TileCache {
    map: HashMap<(u8, u64), Arc<Vec<Hash>>>,
    /// Cached tiles in insertion order, oldest first: the eviction order.
    order: std::collections::VecDeque<(u8, u64)>,
}

/// Most full tiles kept in memory (8 KiB each, so at most 16 MiB): level-0 tiles of the
/// last half-million entries, or the upper levels of a far larger tree.
pub const TILE_CACHE_ENTRIES: usize = 2048;

impl TileCache {
    /// Remember a full tile, evicting the oldest level-0 tile (or, with none left, the oldest
    /// tile) when the cache is full.
    pub fn insert(&mut self, key: (u8, u64), tile: Arc<Vec<Hash>>) {
        if self.map.insert(key, tile).is_some() {
            return;
        }
        self.order.push_back(key);
        while self.map.len() > TILE_CACHE_ENTRIES {
            let victim = self
                .order
                .iter()
                .position(|(level, _)| *level == 0)
                .unwrap_or(0);
            match self.order.remove(victim) {
                Some(k) => {
                    self.map.remove(&k);
                }
                None => break,
            }
        }
    }
    /// Look a tile up.
    pub fn get(&self, key: &(u8, u64)) -> Option<Arc<Vec<Hash>>> {
        self.map.get(key).cloned()
    }
    /// How many tiles are cached.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Node source for the tree of `size` leaves (any size up to the edge's), over the edge
/// (partial tiles), the cache and storage (full tiles).
pub struct TreeReader<'a> {
    /// The tree size proofs are made for (≤ `edge.size`).
    pub size: u64,
    /// The current edge.
    pub edge: &'a Edge,
    /// Storage for full tiles.
    pub storage: &'a dyn Storage,
    /// Full-tile cache.
    pub cache: &'a std::sync::Mutex<TileCache>,
    /// Interior nodes computed so far.
    pub memo: HashMap<(u32, u64), Hash>,
}

impl TreeReader<'_> {
    fn full_tile(&self, level: u8, index: u64) -> Result<Arc<Vec<Hash>>, ProofError> {
        if let Ok(c) = self.cache.lock()
            && let Some(t) = c.get(&(level, index))
        {
            return Ok(t);
        }
        let id = TileId {
            level,
            index,
            width: 256,
        };
        let bytes =
            self.storage
                .read_tile(&id)
                .ok()
                .flatten()
                .ok_or(ProofError::IndexOutOfRange {
                    index,
                    size: self.edge.size,
                })?;
        let hashes = Arc::new(parse_tile(&bytes).map_err(|_| ProofError::IndexOutOfRange {
            index,
            size: self.edge.size,
        })?);
        if let Ok(mut c) = self.cache.lock() {
            c.insert((level, index), hashes.clone());
        }
        Ok(hashes)
    }
}

impl TreeReader<'_> {
    /// A stored hash (height a multiple of 8): from a full tile or the edge's partial tile.
    fn stored(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        let size = self.size;
        let (tile, first, _) = tiles::tile_for_node(height, index, size)
            .ok_or(ProofError::IndexOutOfRange { index, size })?;
        // Tiles are append-only: a tile partial at `size` is a prefix of today's tile.
        let stored_now = hashes_at_level(self.edge.size, tile.level);
        if (tile.index + 1) * TILE_WIDTH <= stored_now {
            let t = self.full_tile(tile.level, tile.index)?;
            t.get(first)
                .copied()
                .ok_or(ProofError::IndexOutOfRange { index, size })
        } else {
            self.edge
                .levels
                .get(usize::from(tile.level))
                .and_then(|p| p.get(first))
                .copied()
                .ok_or(ProofError::IndexOutOfRange { index, size })
        }
    }
}

impl NodeSource for TreeReader<'_> {
    /// Interior nodes are computed from their children and memoized, so proofs for a whole
    /// batch cost about one hash per distinct node.
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        if self.size > self.edge.size {
            return Err(ProofError::IndexOutOfRange {
                index: self.size,
                size: self.edge.size,
            });
        }
        if height.is_multiple_of(tiles::TILE_HEIGHT) {
            return self.stored(height, index);
        }
        if let Some(h) = self.memo.get(&(height, index)) {
            return Ok(*h);
        }
        let left = self.node(height - 1, index * 2)?;
        let right = self.node(height - 1, index * 2 + 1)?;
        let h = vouch_core::merkle::node_hash(&left, &right);
        self.memo.insert((height, index), h);
        Ok(h)
    }
}

#[cfg(test)]
mod tile_cache_tests {
    use super::*;

    fn tile(fill: u8) -> Arc<Vec<Hash>> {
        Arc::new(vec![[fill; 32]; 256])
    }

    #[test]
    fn full_cache_evicts_the_oldest_level0_tile_and_keeps_upper_levels() {
        let mut c = TileCache::default();
        c.insert((1, 0), tile(1));
        for i in 0..TILE_CACHE_ENTRIES as u64 {
            c.insert((0, i), tile(0));
        }
        assert_eq!(c.len(), TILE_CACHE_ENTRIES);
        // The cache is full: the oldest level-0 tile (index 0) goes, nothing else does.
        assert!(c.get(&(0, 0)).is_none(), "oldest level-0 tile kept");
        assert!(c.get(&(1, 0)).is_some(), "upper-level tile evicted");
        c.insert((0, 10_000), tile(2));
        assert_eq!(c.len(), TILE_CACHE_ENTRIES);
        assert!(c.get(&(0, 1)).is_none());
        assert!(c.get(&(0, 2)).is_some());
        assert!(c.get(&(0, 10_000)).is_some());
        // Re-inserting a cached tile neither grows the cache nor evicts.
        c.insert((0, 10_000), tile(2));
        assert_eq!(c.len(), TILE_CACHE_ENTRIES);
        assert!(c.get(&(0, 2)).is_some());
    }

    #[test]
    fn a_cache_of_upper_levels_only_evicts_the_oldest() {
        let mut c = TileCache::default();
        for i in 0..=TILE_CACHE_ENTRIES as u64 {
            c.insert((2, i), tile(3));
        }
        assert_eq!(c.len(), TILE_CACHE_ENTRIES);
        assert!(c.get(&(2, 0)).is_none());
        assert!(c.get(&(2, TILE_CACHE_ENTRIES as u64)).is_some());
    }
}
