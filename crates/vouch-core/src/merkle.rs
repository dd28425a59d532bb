//! RFC 6962 / RFC 9162 Merkle tree hashing with inclusion and consistency proof verification.
//!
//! Spec: <https://www.rfc-editor.org/rfc/rfc9162#section-2.1>. Leaf hash = `SHA-256(0x00 || data)`,
//! node hash = `SHA-256(0x01 || left || right)`.

use aws_lc_rs::digest;

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// Why a Merkle proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for (index, size).
    #[error("proof has {got} hashes, expected {expected} for this index and tree size")]
    WrongLength {
        /// Expected count.
        expected: usize,
        /// Actual count.
        got: usize,
    },
    /// A proof hash is not 32 bytes.
    #[error("proof hash {position} is {len} bytes, not 32")]
    BadHashLength {
        /// Position in the proof.
        position: usize,
        /// Its length.
        len: usize,
    },
    /// The proof does not lead to the expected root.
    #[error("computed root {computed} does not match expected root {expected}")]
    RootMismatch {
        /// Hex of the computed root.
        computed: String,
        /// Hex of the expected root.
        expected: String,
    },
    /// A consistency proof between these sizes is malformed.
    #[error("consistency proof from size {first} to {second} is invalid: {reason}")]
    Inconsistent {
        /// Old size.
        first: u64,
        /// New size.
        second: u64,
        /// What was wrong.
        reason: &'static str,
    },
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[0]);
    ctx.update(data);
    to_hash(ctx.finish())
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[1]);
    ctx.update(left);
    ctx.update(right);
    to_hash(ctx.finish())
}

/// Root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    to_hash(digest::digest(&digest::SHA256, b""))
}

fn to_hash(d: digest::Digest) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(d.as_ref());
    h
}

fn as_hash(bytes: &[u8], position: usize) -> Result<Hash, ProofError> {
    bytes.try_into().map_err(|_| ProofError::BadHashLength {
        position,
        len: bytes.len(),
    })
}

/// Number of proof hashes RFC 9162 inclusion needs: inner + border.
fn inclusion_lengths(index: u64, size: u64) -> (usize, usize) {
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    (inner, border)
}

/// Compute the root implied by an inclusion proof (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof<H: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[H],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = inclusion_lengths(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength {
            expected: inner + border,
            got: proof.len(),
        });
    }
    let mut r = *leaf;
    for (i, p) in proof.iter().enumerate().take(inner) {
        let p = as_hash(p.as_ref(), i)?;
        r = if (index >> i) & 1 == 0 {
            node_hash(&r, &p)
        } else {
            node_hash(&p, &r)
        };
    }
    for (i, p) in proof.iter().enumerate().skip(inner) {
        let p = as_hash(p.as_ref(), i)?;
        r = node_hash(&p, &r);
    }
    Ok(r)
}

/// Verify that `leaf` is at `index` in the tree of `size` leaves with root `root`.
pub fn verify_inclusion<H: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[H],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if &computed != root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(computed),
            expected: hex::encode(root),
        });
    }
    Ok(())
}

/// Verify an RFC 9162 consistency proof from (`first`, `first_root`) to (`second`, `second_root`).
pub fn verify_consistency<H: AsRef<[u8]>>(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[H],
) -> Result<(), ProofError> {
    let bad = |reason| ProofError::Inconsistent {
        first,
        second,
        reason,
    };
    if first > second {
        return Err(bad("old size is larger than new size"));
    }
    if first == second {
        if !proof.is_empty() {
            return Err(bad("proof must be empty for equal sizes"));
        }
        if first_root != second_root {
            return Err(bad("equal sizes with different roots"));
        }
        return Ok(());
    }
    if first == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(bad("proof must be empty from the empty tree"))
        };
    }
    if proof.is_empty() {
        return Err(bad("proof is empty"));
    }
    let mut hashes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        hashes.push(*first_root);
    }
    for (i, p) in proof.iter().enumerate() {
        hashes.push(as_hash(p.as_ref(), i)?);
    }
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (first_h, rest) = hashes.split_first().ok_or_else(|| bad("proof is empty"))?;
    let mut fr = *first_h;
    let mut sr = *first_h;
    for c in rest {
        if sn == 0 {
            return Err(bad("proof is too long"));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(bad("proof is too short"));
    }
    if &fr != first_root {
        return Err(bad("old root does not match"));
    }
    if &sr != second_root {
        return Err(bad("new root does not match"));
    }
    Ok(())
}

/// Merkle tree hash of a list of leaf hashes (reference implementation, O(n) memory).
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n as u64) as usize;
            node_hash(&root_of_leaves(&leaves[..k]), &root_of_leaves(&leaves[k..]))
        }
    }
}

/// Inclusion proof for `index` in `leaves` (reference implementation, for tests and small trees).
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 || index >= n {
        return Vec::new();
    }
    let k = largest_power_of_two_below(n as u64) as usize;
    if index < k {
        let mut p = inclusion_proof(&leaves[..k], index);
        p.push(root_of_leaves(&leaves[k..]));
        p
    } else {
        let mut p = inclusion_proof(&leaves[k..], index - k);
        p.push(root_of_leaves(&leaves[..k]));
        p
    }
}

/// Consistency proof from the first `m` leaves to all of `leaves` (RFC 6962 §2.1.2 reference).
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![root_of_leaves(leaves)]
            };
        }
        let k = largest_power_of_two_below(n as u64) as usize;
        if m <= k {
            let mut p = subproof(m, &leaves[..k], complete);
            p.push(root_of_leaves(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(root_of_leaves(&leaves[..k]));
            p
        }
    }
    if m == 0 || m >= leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn largest_power_of_two_below(n: u64) -> u64 {
    if n < 2 {
        return 0;
    }
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&[i as u8, (i >> 8) as u8]))
            .collect()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn inclusion_all_sizes() {
        for n in 1..=70 {
            let l = leaves(n);
            let root = root_of_leaves(&l);
            for i in 0..n {
                let p = inclusion_proof(&l, i);
                verify_inclusion(i as u64, n as u64, &l[i], &p, &root).unwrap();
                // Wrong index must fail.
                if n > 1 {
                    let j = (i + 1) % n;
                    assert!(verify_inclusion(j as u64, n as u64, &l[i], &p, &root).is_err());
                }
                // Flipped bit must fail.
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    let mut h = *first;
                    h[0] ^= 1;
                    bad[0] = h;
                    assert!(verify_inclusion(i as u64, n as u64, &l[i], &bad, &root).is_err());
                }
            }
        }
    }

    #[test]
    fn consistency_all_sizes() {
        for n in 1..=40 {
            let l = leaves(n);
            let root = root_of_leaves(&l);
            for m in 0..=n {
                let p = consistency_proof(&l, m);
                let old = root_of_leaves(&l[..m]);
                verify_consistency(m as u64, n as u64, &old, &root, &p).unwrap();
                if m > 0 && m < n {
                    let mut bad_root = old;
                    bad_root[5] ^= 0x80;
                    assert!(verify_consistency(m as u64, n as u64, &bad_root, &root, &p).is_err());
                }
            }
        }
    }

    #[test]
    fn index_out_of_range() {
        let l = leaves(3);
        let root = root_of_leaves(&l);
        assert!(matches!(
            verify_inclusion::<Hash>(3, 3, &l[0], &[], &root),
            Err(ProofError::IndexOutOfRange { .. })
        ));
    }
}
