//! C2SP tlog-tiles: tile coordinates, paths, and Merkle proofs computed from tiles.
//!
//! Spec: <https://github.com/C2SP/C2SP/blob/main/tlog-tiles.md>. Tile `(L, N)` holds, for
//! `i` in `0..256`, the hash of the perfect subtree of height `8·L` whose index at that height is
//! `N·256 + i`. Level-0 tiles hold leaf hashes. Partial tiles (`.p/<W>`) hold the first `W`
//! hashes of a tile that is not full yet; a partial tile never feeds the level above.

use crate::merkle::{Hash, ProofError, node_hash};

/// Hashes per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree height covered by one tile.
pub const TILE_HEIGHT: u32 = 8;
/// Size of one hash in a tile.
pub const HASH_SIZE: usize = 32;

/// Format a tile index the tlog-tiles way: 3-digit groups, all but the last prefixed `x`.
/// `0 → 000`, `1234067 → x001/x234/067`, `1000 → x001/000`.
pub fn format_index(n: u64) -> String {
    let mut groups = Vec::new();
    let mut v = n;
    loop {
        groups.push(v % 1000);
        v /= 1000;
        if v == 0 {
            break;
        }
    }
    groups.reverse();
    let last = groups.len() - 1;
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if i == last {
                format!("{g:03}")
            } else {
                format!("x{g:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Parse a tile index path (the inverse of [`format_index`]), strict as the spec requires.
pub fn parse_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let (last, rest) = parts.split_last()?;
    let mut n: u64 = 0;
    for p in rest {
        let d = p.strip_prefix('x')?;
        if d.len() != 3 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(d.parse().ok()?)?;
    }
    if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v = n.checked_mul(1000)?.checked_add(last.parse().ok()?)?;
    // No leading x000 groups: the encoding is canonical.
    (format_index(v) == s).then_some(v)
}

/// A tile coordinate: level, index, and width (256 for a full tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Level (0 = leaf hashes).
    pub level: u8,
    /// Index at that level.
    pub index: u64,
    /// Number of hashes (1..=256).
    pub width: u16,
}

impl TileId {
    /// The hash tile path, `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let mut p = format!("tile/{}/{}", self.level, format_index(self.index));
        if u64::from(self.width) < TILE_WIDTH {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// The entry bundle path for a level-0 tile, `tile/entries/<N>[.p/<W>]`.
    pub fn entries_path(&self) -> String {
        let mut p = format!("tile/entries/{}", format_index(self.index));
        if u64::from(self.width) < TILE_WIDTH {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// True for a full (immutable) tile.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }
}

/// Parse `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` (without any prefix).
/// Returns the tile and whether it names an entry bundle.
pub fn parse_tile_path(path: &str) -> Option<(TileId, bool)> {
    let rest = path.strip_prefix("tile/")?;
    let (level, rest, entries) = if let Some(r) = rest.strip_prefix("entries/") {
        (0u8, r, true)
    } else {
        let (l, r) = rest.split_once('/')?;
        if l.is_empty()
            || (l.len() > 1 && l.starts_with('0'))
            || !l.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let l: u8 = l.parse().ok()?;
        if l > 63 {
            return None;
        }
        (l, r, false)
    };
    let (idx, width) = match rest.split_once(".p/") {
        Some((i, w)) => {
            if w.is_empty() || w.starts_with('0') || !w.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let w: u16 = w.parse().ok()?;
            if w == 0 || u64::from(w) >= TILE_WIDTH {
                return None;
            }
            (i, w)
        }
        None => (rest, 256),
    };
    Some((
        TileId {
            level,
            index: parse_index(idx)?,
            width,
        },
        entries,
    ))
}

/// Why tile bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// A hash tile is not `width × 32` bytes.
    #[error("hash tile is {got} bytes, expected {expected} for width {width}")]
    WrongLength {
        /// The tile's width.
        width: u16,
        /// Expected byte count.
        expected: usize,
        /// Actual byte count.
        got: usize,
    },
    /// An entry bundle ends inside an entry.
    #[error("entry bundle is truncated at byte {offset}")]
    TruncatedBundle {
        /// Where the incomplete entry starts.
        offset: usize,
    },
    /// An entry bundle holds more entries than a tile can.
    #[error("entry bundle holds more than {max} entries", max = TILE_WIDTH)]
    TooManyEntries,
}

/// Split a hash tile of `width` hashes into its hashes, checking its length.
pub fn parse_hash_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>, TileError> {
    let expected = usize::from(width) * HASH_SIZE;
    if bytes.len() != expected {
        return Err(TileError::WrongLength {
            width,
            expected,
            got: bytes.len(),
        });
    }
    Ok(bytes
        .chunks_exact(HASH_SIZE)
        .map(|c| {
            let mut h = [0u8; HASH_SIZE];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Parse a tlog-tiles entry bundle (`u16 big-endian length || bytes`, repeated) into bodies.
pub fn parse_entry_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, TileError> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        if out.len() as u64 >= TILE_WIDTH {
            return Err(TileError::TooManyEntries);
        }
        let len = bytes
            .get(offset..offset + 2)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            .ok_or(TileError::TruncatedBundle { offset })?;
        let body = bytes
            .get(offset + 2..offset + 2 + len)
            .ok_or(TileError::TruncatedBundle { offset })?;
        out.push(body.to_vec());
        offset += 2 + len;
    }
    Ok(out)
}

/// Number of hashes stored at `level` for a tree of `size` leaves (`floor(size / 256^level)`).
pub fn hashes_at_level(size: u64, level: u8) -> u64 {
    let shift = u32::from(level) * TILE_HEIGHT;
    if shift >= 64 { 0 } else { size >> shift }
}

/// The tiles (full and partial) that exist for a tree of `size` leaves at `level`.
pub fn tiles_for_size(size: u64, level: u8) -> Vec<TileId> {
    let n = hashes_at_level(size, level);
    let mut out: Vec<TileId> = (0..n / TILE_WIDTH)
        .map(|index| TileId {
            level,
            index,
            width: 256,
        })
        .collect();
    let rem = n % TILE_WIDTH;
    if rem > 0 {
        out.push(TileId {
            level,
            index: n / TILE_WIDTH,
            width: u16::try_from(rem).unwrap_or(255),
        });
    }
    out
}

/// The tile holding the node of `height` and `index`, for a tree of `size` leaves, and the
/// position and count of the stored hashes that must be combined to get that node.
/// Returns `(tile, first, count)`: the node is the Merkle root of `count` consecutive hashes
/// (a power of two) of `tile` starting at `first`.
pub fn tile_for_node(height: u32, index: u64, size: u64) -> Option<(TileId, usize, usize)> {
    let level = height / TILE_HEIGHT;
    let sub = height % TILE_HEIGHT;
    let level8 = u8::try_from(level).ok()?;
    // Index of the first stored hash (at height 8·level) under this node.
    let first_global = index.checked_shl(sub)?;
    let count = 1u64 << sub;
    let tile_index = first_global / TILE_WIDTH;
    let stored = hashes_at_level(size, level8);
    if first_global + count > stored {
        return None; // not a complete node of this tree
    }
    let width = (stored - tile_index * TILE_WIDTH).min(TILE_WIDTH);
    Some((
        TileId {
            level: level8,
            index: tile_index,
            width: u16::try_from(width).ok()?,
        },
        usize::try_from(first_global % TILE_WIDTH).ok()?,
        usize::try_from(count).ok()?,
    ))
}

/// Merkle root of a power-of-two run of hashes.
pub fn hash_run(hashes: &[Hash]) -> Hash {
    if hashes.len() == 1 {
        return hashes[0];
    }
    let mid = hashes.len() / 2;
    node_hash(&hash_run(&hashes[..mid]), &hash_run(&hashes[mid..]))
}

/// Something that can produce the hash of any complete node of one fixed tree.
pub trait NodeSource {
    /// The hash of the perfect subtree of `height` at `index` (leaves `index·2^h .. (index+1)·2^h`).
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError>;
}

/// MTH of leaves `[start, end)` where the range is a valid subtree range of the tree
/// (start aligned so that it decomposes into perfect subtrees left to right).
fn range_hash<S: NodeSource>(src: &mut S, start: u64, end: u64) -> Result<Hash, ProofError> {
    // Decompose into the largest aligned perfect subtrees, then fold from the right.
    let mut parts = Vec::new();
    let mut s = start;
    while s < end {
        let mut h = 0u32;
        while h < 63 {
            let size = 1u64 << (h + 1);
            if !s.is_multiple_of(size) || s + size > end {
                break;
            }
            h += 1;
        }
        parts.push(src.node(h, s >> h)?);
        s += 1u64 << h;
    }
    let mut acc = parts.pop().ok_or(ProofError::IndexOutOfRange {
        index: start,
        size: end,
    })?;
    while let Some(left) = parts.pop() {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

fn split_point(n: u64) -> u64 {
    // Largest power of two strictly below n (n ≥ 2).
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Root hash of the tree of `size` leaves.
pub fn tree_root<S: NodeSource>(src: &mut S, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(crate::merkle::empty_root());
    }
    range_hash(src, 0, size)
}

/// RFC 6962 inclusion proof for leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<S: NodeSource>(
    src: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    // Walk down from the root, recording the sibling subtree at each split, then reverse.
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index - lo < k {
            proof.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(src, lo, lo + k)?);
            lo += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// RFC 6962 consistency proof from size `first` to size `second`.
pub fn consistency_proof<S: NodeSource>(
    src: &mut S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofError> {
    if first == 0 || first >= second {
        if first > second {
            return Err(ProofError::Inconsistent {
                first,
                second,
                reason: "old size is larger than new size",
            });
        }
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], complete) from RFC 6962 §2.1.2, iteratively.
    let mut proof = Vec::new();
    let (mut lo, mut hi, mut m) = (0u64, second, first);
    let mut complete = true;
    loop {
        let n = hi - lo;
        if m == n {
            if !complete {
                proof.push(range_hash(src, lo, hi)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(src, lo, lo + k)?);
            lo += k;
            m -= k;
            complete = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// A node source that only records which tiles a computation reads (the hashes it returns are
/// dummies: which nodes a proof or root needs depends only on indexes and sizes). Clients run a
/// computation over it first, fetch the recorded tiles concurrently, then run it for real.
#[derive(Debug, Clone)]
pub struct TilePlanner {
    /// The tree size the computation is for.
    pub size: u64,
    /// The tiles read so far.
    pub tiles: std::collections::BTreeSet<TileId>,
}

impl TilePlanner {
    /// A planner for the tree of `size` leaves.
    pub fn new(size: u64) -> Self {
        Self {
            size,
            tiles: std::collections::BTreeSet::new(),
        }
    }
}

impl NodeSource for TilePlanner {
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        let (tile, _, _) =
            tile_for_node(height, index, self.size).ok_or(ProofError::IndexOutOfRange {
                index,
                size: self.size,
            })?;
        self.tiles.insert(tile);
        Ok([0u8; 32])
    }
}

/// A node source over an in-memory list of leaf hashes (for tests and small trees).
pub struct LeafHashes<'a>(pub &'a [Hash]);

impl NodeSource for LeafHashes<'_> {
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        let start = usize::try_from(index << height)
            .map_err(|_| ProofError::IndexOutOfRange { index, size: 0 })?;
        let len = 1usize << height;
        let leaves = self
            .0
            .get(start..start + len)
            .ok_or(ProofError::IndexOutOfRange {
                index,
                size: self.0.len() as u64,
            })?;
        Ok(hash_run(leaves))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{self, leaf_hash};

    #[test]
    fn index_format() {
        assert_eq!(format_index(0), "000");
        assert_eq!(format_index(1234067), "x001/x234/067");
        assert_eq!(format_index(1000), "x001/000");
        assert_eq!(parse_index("x001/x234/067"), Some(1234067));
        assert_eq!(parse_index("x000/001"), None);
        assert_eq!(parse_index("1"), None);
        let t = parse_tile_path("tile/1/x001/000.p/17").unwrap();
        assert_eq!(
            t,
            (
                TileId {
                    level: 1,
                    index: 1000,
                    width: 17
                },
                false
            )
        );
        assert_eq!(t.0.path(), "tile/1/x001/000.p/17");
        assert_eq!(
            parse_tile_path("tile/entries/002")
                .unwrap()
                .0
                .entries_path(),
            "tile/entries/002"
        );
        assert!(parse_tile_path("tile/01/000").is_none());
        assert!(parse_tile_path("tile/0/000.p/256").is_none());
        assert!(parse_tile_path("tile/0/000.p/0").is_none());
    }

    #[test]
    fn tile_bytes() {
        let t = parse_hash_tile(&[1u8; 64], 2).unwrap();
        assert_eq!(t, vec![[1u8; 32], [1u8; 32]]);
        assert!(matches!(
            parse_hash_tile(&[1u8; 63], 2),
            Err(TileError::WrongLength { got: 63, .. })
        ));
        assert_eq!(
            parse_entry_bundle(&[0, 1, 9, 0, 0]).unwrap(),
            vec![vec![9u8], vec![]]
        );
        assert_eq!(
            parse_entry_bundle(&[0, 2, 9]),
            Err(TileError::TruncatedBundle { offset: 0 })
        );
        assert_eq!(
            parse_entry_bundle(&[0, 0, 0]),
            Err(TileError::TruncatedBundle { offset: 2 })
        );
    }

    #[test]
    fn tiles_for_70000() {
        // The example from the tlog-tiles spec.
        let l0 = tiles_for_size(70_000, 0);
        assert_eq!(l0.len(), 274);
        assert_eq!(l0.last().unwrap().width, 112);
        let l1 = tiles_for_size(70_000, 1);
        assert_eq!(l1.len(), 2);
        assert_eq!(l1[1].width, 17);
        let l2 = tiles_for_size(70_000, 2);
        assert_eq!(
            l2,
            vec![TileId {
                level: 2,
                index: 0,
                width: 1
            }]
        );
    }

    #[test]
    fn proofs_match_reference() {
        let leaves: Vec<Hash> = (0..300u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for size in [1usize, 2, 3, 7, 8, 9, 64, 255, 256, 257, 300] {
            let l = &leaves[..size];
            let root = merkle::root_of_leaves(l);
            assert_eq!(tree_root(&mut LeafHashes(l), size as u64).unwrap(), root);
            for i in [0, size / 2, size - 1] {
                let p = inclusion_proof(&mut LeafHashes(l), i as u64, size as u64).unwrap();
                assert_eq!(p, merkle::inclusion_proof(l, i));
                merkle::verify_inclusion(i as u64, size as u64, &l[i], &p, &root).unwrap();
            }
            for m in [1, size / 3, size / 2, size - 1] {
                if m == 0 || m >= size {
                    continue;
                }
                let p = consistency_proof(&mut LeafHashes(l), m as u64, size as u64).unwrap();
                assert_eq!(p, merkle::consistency_proof(l, m), "m={m} n={size}");
                let old = merkle::root_of_leaves(&l[..m]);
                merkle::verify_consistency(m as u64, size as u64, &old, &root, &p).unwrap();
            }
        }
    }

    #[test]
    fn node_locations() {
        // Height 0 node 300 of a 1000-leaf tree: level-0 tile 1, position 44.
        let (t, first, count) = tile_for_node(0, 300, 1000).unwrap();
        assert_eq!(
            (t.level, t.index, t.width, first, count),
            (0, 1, 256, 44, 1)
        );
        // Height 9 node 1 (leaves 512..1024) is incomplete in a 1000-leaf tree.
        assert!(tile_for_node(9, 1, 1000).is_none());
        // Height 8 node 2 lives in level-1 tile 0 at position 2, in a partial tile of width 3.
        let (t, first, count) = tile_for_node(8, 2, 1000).unwrap();
        assert_eq!((t.level, t.index, t.width, first, count), (1, 0, 3, 2, 1));
    }
}
