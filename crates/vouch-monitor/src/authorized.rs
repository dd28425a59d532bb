//! The authorized signings: what CI recorded for its own releases, so that a watched identity
//! signing anything else raises "someone signed as your release identity".
//!
//! The directory holds Sigstore bundles (`*.json`, `*.sigstore`, `*.sigstore.json`): a log entry
//! is authorized when its canonicalized body is one a bundle carries (compared by RFC 6962 leaf
//! hash, so the exact signing, not merely the artifact, is allowed). Any other file is a digest
//! list: one `sha256:<hex>` (or bare 64-hex) per line, `#` comments allowed; an entry over such a
//! digest is authorized whoever's signature it holds (for CI that records only digests).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use vouch_core::bundle::Bundle;
use vouch_core::merkle::{Hash, leaf_hash};

/// Why the authorized set could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizedError {
    /// Listing or reading failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A bundle does not parse.
    #[error("{path} is not a Sigstore bundle: {reason}")]
    Bundle {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A bundle without a log entry authorizes nothing.
    #[error("{path} has no transparency log entry: it cannot authorize a signing")]
    NoEntry {
        /// The file.
        path: PathBuf,
    },
    /// A digest line is malformed.
    #[error("{path} line {line}: expected sha256:<64 hex digits>")]
    Digest {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
}

/// The authorized leaf hashes and digests.
#[derive(Debug, Clone, Default)]
pub struct Authorized {
    leaves: HashSet<Hash>,
    digests: HashSet<String>,
    /// Hex SHA-256 of the signing certificates of the recorded bundles (CA audit lines, CT
    /// x509 entries).
    certificates: HashSet<String>,
    /// Hex SHA-256 of their precertificate TBS (what a CT log's precert entry holds: the TBS
    /// without the SCT list).
    precert_tbs: HashSet<String>,
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b))
}

fn is_bundle_name(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    n.ends_with(".json") || n.ends_with(".sigstore")
}

impl Authorized {
    /// Read every file of `dir` (not recursive; hidden files skipped).
    pub fn load(dir: &Path) -> Result<Self, AuthorizedError> {
        let read_err = |path: &Path, source| AuthorizedError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut set = Self::default();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| read_err(dir, e))?
            .map(|e| e.map(|e| e.path()).map_err(|e| read_err(dir, e)))
            .collect::<Result<_, _>>()?;
        paths.sort();
        for p in paths {
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden || !p.is_file() {
                continue;
            }
            let bytes = std::fs::read(&p).map_err(|e| read_err(&p, e))?;
            if is_bundle_name(&p) {
                let b = Bundle::from_json(&bytes).map_err(|e| AuthorizedError::Bundle {
                    path: p.clone(),
                    reason: e.to_string(),
                })?;
                let material = b.verification_material.unwrap_or_default();
                let leaf = material.certificate.as_ref().or_else(|| {
                    material
                        .x509_certificate_chain
                        .as_ref()
                        .and_then(|c| c.certificates.first())
                });
                if let Some(c) = leaf {
                    let der = c.raw_bytes.as_slice();
                    set.certificates.insert(sha256_hex(der));
                    if let Some(tbs) = vouch_core::x509::Certificate::from_der(der)
                        .ok()
                        .and_then(|c| vouch_core::sct::precert_tbs_der(&c).ok())
                    {
                        set.precert_tbs.insert(sha256_hex(&tbs));
                    }
                }
                let entries = material.tlog_entries;
                if entries.is_empty() {
                    return Err(AuthorizedError::NoEntry { path: p });
                }
                for e in entries {
                    set.leaves
                        .insert(leaf_hash(e.canonicalized_body.as_slice()));
                }
            } else {
                let text = String::from_utf8_lossy(&bytes);
                for (i, line) in text.lines().enumerate() {
                    let l = line.trim();
                    if l.is_empty() || l.starts_with('#') {
                        continue;
                    }
                    let hex_part = l.strip_prefix("sha256:").unwrap_or(l).to_ascii_lowercase();
                    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(AuthorizedError::Digest {
                            path: p.clone(),
                            line: i + 1,
                        });
                    }
                    set.digests.insert(format!("sha256:{hex_part}"));
                }
            }
        }
        Ok(set)
    }

    /// Whether the entry (its leaf hash and signed digest) is authorized.
    pub fn allows(&self, leaf: &Hash, digest: Option<&str>) -> bool {
        self.leaves.contains(leaf) || digest.is_some_and(|d| self.digests.contains(d))
    }

    /// Whether a recorded bundle was signed with the certificate of hex SHA-256 `sha256` (how
    /// a CA audit line is matched to CI's record).
    pub fn allows_certificate(&self, sha256: &str) -> bool {
        self.certificates.contains(&sha256.to_ascii_lowercase())
    }

    /// Whether a recorded bundle's certificate has the precertificate TBS of hex SHA-256
    /// `sha256` (how a CT log's precert entry is matched to CI's record).
    pub fn allows_precert_tbs(&self, sha256: &str) -> bool {
        self.precert_tbs.contains(&sha256.to_ascii_lowercase())
    }

    /// How many signings and digests are recorded.
    pub fn len(&self) -> usize {
        self.leaves.len() + self.digests.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn digest_lists() {
        let d = tempfile::tempdir().unwrap();
        let h = "ab".repeat(32);
        std::fs::write(
            d.path().join("releases.txt"),
            format!("# v1\nsha256:{h}\n\n{}\n", "CD".repeat(32)),
        )
        .unwrap();
        let a = Authorized::load(d.path()).unwrap();
        assert_eq!(a.len(), 2);
        assert!(a.allows(&[0; 32], Some(&format!("sha256:{h}"))));
        assert!(a.allows(&[0; 32], Some(&format!("sha256:{}", "cd".repeat(32)))));
        assert!(!a.allows(&[0; 32], Some("sha256:00")));
        std::fs::write(d.path().join("bad.txt"), "sha256:xyz\n").unwrap();
        assert!(matches!(
            Authorized::load(d.path()),
            Err(AuthorizedError::Digest { line: 1, .. })
        ));
    }
}
