//! OpenSSF Model Signing manifests and the in-toto statement that carries them.
//!
//! Spec: the format PyPI `model-signing` 1.1.1 (sigstore/model-transparency) writes, described
//! in its `src/model_signing/_signing/signing.py` and `manifest.py`:
//!
//! * predicate type [`MODEL_SIGNATURE_V1`]; the statement has **one** subject, named after the
//!   model directory, whose `sha256` digest is SHA-256 over the concatenated raw digests of
//!   `predicate.resources`, in the order listed;
//! * `predicate.resources` lists every file (`name`, `algorithm`, hex `digest`), sorted the way
//!   Python's `PurePosixPath` compares: component by component ([`ModelPath`]);
//! * `predicate.serialization` records how the manifest was computed (`method: files`,
//!   `hash_type`, `allow_symlinks`, `ignore_paths`), so a verifier can recompute it;
//! * the legacy predicate [`MODEL_DIGESTS_V0_1`] (model-signing 0.2) has one subject per file and
//!   no serialization record; it is accepted when reading.
//!
//! This module is pure: walking and hashing a directory lives with the signing flows.

use crate::intoto::{STATEMENT_V1, Statement, Subject};
use crate::keys::HashKind;
use crate::limits;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Predicate type of a model signature (model-signing 1.0 and later).
pub const MODEL_SIGNATURE_V1: &str = "https://model_signing/signature/v1.0";
/// Predicate type of the legacy model-signing 0.2 statement (read only).
pub const MODEL_DIGESTS_V0_1: &str = "https://model_signing/Digests/v0.1";
/// The `files` serialization method: one manifest item per file.
pub const SERIALIZATION_FILES: &str = "files";
/// The only hash vouch computes for manifests.
pub const HASH_SHA256: &str = "sha256";
/// Paths model-signing ignores unless told otherwise (`--ignore-git-paths`, the default).
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];
/// The subject name model-signing gives a legacy v0.1 manifest (it records no model name).
pub const LEGACY_MODEL_NAME: &str = "compat-undefined-not-present";

/// A path inside a model, relative to its root, as components.
///
/// Ordering is component-wise (`a/b` sorts before `a-c`), as Python's `PurePosixPath`, so the
/// resource order, and with it the subject digest, is the one model-signing computes. A model
/// that is a single file has the empty path, written `.`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ModelPath(Vec<String>);

impl ModelPath {
    /// Parse a resource name or an ignore path the way `PurePosixPath` normalizes it: empty and
    /// `.` components are dropped. Absolute paths and `..` are refused (they leave the model).
    pub fn parse(name: &str) -> Result<Self, ModelError> {
        if name.starts_with('/') {
            return Err(ModelError::BadPath {
                name: name.to_string(),
                reason: "absolute path",
            });
        }
        let mut parts = Vec::new();
        for c in name.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    return Err(ModelError::BadPath {
                        name: name.to_string(),
                        reason: "`..` leaves the model directory",
                    });
                }
                c => parts.push(c.to_string()),
            }
        }
        Ok(Self(parts))
    }

    /// A path from components already split (one directory entry name each).
    pub fn from_components(parts: Vec<String>) -> Self {
        Self(parts)
    }

    /// The components.
    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// True when `self` is `prefix` or lies inside it (`is_relative_to` in Python).
    pub fn starts_with(&self, prefix: &ModelPath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl fmt::Display for ModelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&self.0.join("/"))
        }
    }
}

/// `predicate.serialization`: how the manifest was computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serialization {
    /// `files` (or `shards`, which vouch reads but does not recompute).
    pub method: String,
    /// The per-item hash: `sha256` (model-signing also writes `blake2b`, `blake3`).
    pub hash_type: String,
    /// Shard size, for `shards`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_size: Option<u64>,
    /// Whether symbolic links were followed.
    pub allow_symlinks: bool,
    /// Paths (relative to the model) left out of the manifest, the signature file among them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_paths: Vec<String>,
}

impl Serialization {
    /// `files` serialization with SHA-256.
    pub fn files_sha256(allow_symlinks: bool, ignore_paths: Vec<String>) -> Self {
        Self {
            method: SERIALIZATION_FILES.to_string(),
            hash_type: HASH_SHA256.to_string(),
            shard_size: None,
            allow_symlinks,
            ignore_paths,
        }
    }
}

/// One entry of `predicate.resources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The item: a path relative to the model (`name:start:end` for shards).
    pub name: String,
    /// Hash algorithm name (`sha256`).
    pub algorithm: String,
    /// Lowercase hex digest.
    pub digest: String,
}

/// The v1.0 predicate. Fields a later version adds are ignored, as v1.0 verifiers must.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPredicate {
    /// How the manifest was computed.
    pub serialization: Serialization,
    /// Every item and its digest.
    pub resources: Vec<Resource>,
}

/// A digest of one manifest item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemDigest {
    /// Algorithm name (`sha256`).
    pub algorithm: String,
    /// Raw digest bytes.
    pub value: Vec<u8>,
}

impl fmt::Display for ItemDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, hex::encode(&self.value))
    }
}

/// Which predicate a signed manifest came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ManifestVersion {
    /// [`MODEL_SIGNATURE_V1`].
    V1,
    /// [`MODEL_DIGESTS_V0_1`] (legacy).
    LegacyV01,
}

/// A model manifest: every item of the model paired with its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Informative name (the model directory's name); not covered by comparisons.
    pub model_name: String,
    /// How it was computed.
    pub serialization: Serialization,
    /// Items in model-signing's order.
    pub items: BTreeMap<ModelPath, ItemDigest>,
}

impl Manifest {
    /// The `resources` list, in order.
    pub fn resources(&self) -> Vec<Resource> {
        self.items
            .iter()
            .map(|(p, d)| Resource {
                name: p.to_string(),
                algorithm: d.algorithm.clone(),
                digest: hex::encode(&d.value),
            })
            .collect()
    }

    /// SHA-256 over the items' raw digests in order: the statement's subject digest.
    pub fn root_digest(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.items.len() * 32);
        for d in self.items.values() {
            all.extend_from_slice(&d.value);
        }
        HashKind::Sha256.digest(&all)
    }

    /// The v1.0 in-toto statement for this manifest.
    pub fn to_statement(&self) -> Statement {
        let predicate = ModelPredicate {
            serialization: self.serialization.clone(),
            resources: self.resources(),
        };
        Statement {
            type_: STATEMENT_V1.to_string(),
            subject: vec![Subject {
                name: self.model_name.clone(),
                digest: BTreeMap::from([(
                    HASH_SHA256.to_string(),
                    hex::encode(self.root_digest()),
                )]),
                annotations: BTreeMap::new(),
            }],
            predicate_type: MODEL_SIGNATURE_V1.to_string(),
            // A struct of strings, bools and vectors always serializes.
            predicate: serde_json::to_value(predicate).ok(),
        }
    }

    /// The manifest a signed statement describes (v1.0, or legacy v0.1), after checking that
    /// the v1.0 subject digest is the digest of the listed resources.
    pub fn from_statement(st: &Statement) -> Result<(Self, ManifestVersion), ModelError> {
        match st.predicate_type.as_str() {
            MODEL_SIGNATURE_V1 => Self::from_v1(st).map(|m| (m, ManifestVersion::V1)),
            MODEL_DIGESTS_V0_1 => Self::from_legacy(st).map(|m| (m, ManifestVersion::LegacyV01)),
            other => Err(ModelError::PredicateType {
                got: other.to_string(),
            }),
        }
    }

    fn from_v1(st: &Statement) -> Result<Self, ModelError> {
        let [subject] = st.subject.as_slice() else {
            return Err(ModelError::SubjectCount {
                count: st.subject.len(),
            });
        };
        let expected = subject
            .digest
            .get(HASH_SHA256)
            .ok_or(ModelError::NoSubjectDigest)?;
        let predicate: ModelPredicate =
            serde_json::from_value(st.predicate.clone().unwrap_or(serde_json::Value::Null))
                .map_err(ModelError::Predicate)?;
        if predicate.resources.len() > limits::MAX_MODEL_RESOURCES {
            return Err(ModelError::TooManyResources {
                count: predicate.resources.len(),
                max: limits::MAX_MODEL_RESOURCES,
            });
        }
        // The subject digest covers the resources in the order listed.
        let mut all = Vec::new();
        let mut items = BTreeMap::new();
        for r in &predicate.resources {
            let value = hex::decode(&r.digest).map_err(|_| ModelError::BadDigest {
                name: r.name.clone(),
            })?;
            all.extend_from_slice(&value);
            let path = ModelPath::parse(&r.name)?;
            let d = ItemDigest {
                algorithm: r.algorithm.clone(),
                value,
            };
            if items.insert(path, d).is_some() {
                return Err(ModelError::DuplicateResource {
                    name: r.name.clone(),
                });
            }
        }
        let computed = hex::encode(HashKind::Sha256.digest(&all));
        if !computed.eq_ignore_ascii_case(expected) {
            return Err(ModelError::RootDigestMismatch {
                subject: expected.clone(),
                computed,
            });
        }
        Ok(Self {
            model_name: subject.name.clone(),
            serialization: predicate.serialization,
            items,
        })
    }

    fn from_legacy(st: &Statement) -> Result<Self, ModelError> {
        let mut items = BTreeMap::new();
        for s in &st.subject {
            let hex_digest = s.digest.get(HASH_SHA256).ok_or(ModelError::BadDigest {
                name: s.name.clone(),
            })?;
            let value = hex::decode(hex_digest).map_err(|_| ModelError::BadDigest {
                name: s.name.clone(),
            })?;
            let d = ItemDigest {
                algorithm: HASH_SHA256.to_string(),
                value,
            };
            if items.insert(ModelPath::parse(&s.name)?, d).is_some() {
                return Err(ModelError::DuplicateResource {
                    name: s.name.clone(),
                });
            }
        }
        Ok(Self {
            model_name: LEGACY_MODEL_NAME.to_string(),
            serialization: Serialization::files_sha256(false, Vec::new()),
            items,
        })
    }

    /// Compare the signed manifest (`self`) with one computed from disk. The first difference
    /// in path order is reported, with the count of the others.
    pub fn compare(&self, actual: &Manifest) -> Result<(), ManifestMismatch> {
        let mut diffs: Vec<(ModelPath, Difference)> = Vec::new();
        for (p, want) in &self.items {
            match actual.items.get(p) {
                None => diffs.push((p.clone(), Difference::Missing)),
                Some(got) if got != want => diffs.push((
                    p.clone(),
                    Difference::Changed {
                        expected: want.to_string(),
                        actual: got.to_string(),
                    },
                )),
                Some(_) => {}
            }
        }
        for p in actual.items.keys() {
            if !self.items.contains_key(p) {
                diffs.push((p.clone(), Difference::Added));
            }
        }
        diffs.sort_by(|a, b| a.0.cmp(&b.0));
        let others = diffs.len().saturating_sub(1);
        match diffs.into_iter().next() {
            None => Ok(()),
            Some((path, difference)) => Err(ManifestMismatch {
                path: path.to_string(),
                difference,
                others,
            }),
        }
    }
}

/// How a model on disk differs from its signed manifest, at one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// The file's digest is not the signed one.
    Changed {
        /// Signed digest (`sha256:<hex>`).
        expected: String,
        /// Digest on disk.
        actual: String,
    },
    /// A signed file is not on disk.
    Missing,
    /// A file on disk is not in the signature.
    Added,
}

/// The first difference between a signed manifest and the model on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ManifestMismatch {
    /// The path (relative to the model).
    pub path: String,
    /// What differs.
    pub difference: Difference,
    /// How many other paths differ.
    pub others: usize,
}

impl ManifestMismatch {
    fn describe(&self) -> String {
        let what = match &self.difference {
            Difference::Changed { expected, actual } => format!(
                "model file {} differs from the signed manifest: expected {expected}, got {actual}",
                self.path
            ),
            Difference::Missing => {
                format!(
                    "model file {} is in the signature but missing on disk",
                    self.path
                )
            }
            Difference::Added => format!(
                "model file {} is on disk but not in the signature (an added file)",
                self.path
            ),
        };
        match self.others {
            0 => what,
            n => format!("{what} (and {n} more differing paths)"),
        }
    }
}

/// Why a statement is not a usable model signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Not a model-signing predicate.
    #[error(
        "predicate type {got:?} is not a model signature ({MODEL_SIGNATURE_V1} or {MODEL_DIGESTS_V0_1})"
    )]
    PredicateType {
        /// The statement's predicate type.
        got: String,
    },
    /// A v1.0 statement must have exactly one subject.
    #[error("a model signature statement has exactly one subject, this one has {count}")]
    SubjectCount {
        /// How many.
        count: usize,
    },
    /// The v1.0 subject carries no sha256 digest.
    #[error("the model signature's subject has no sha256 digest")]
    NoSubjectDigest,
    /// The predicate does not fit the v1.0 shape.
    #[error("model signature predicate")]
    Predicate(#[source] serde_json::Error),
    /// The subject digest is not the digest of the listed resources.
    #[error(
        "model manifest is inconsistent: the subject digest is {subject}, but the listed resources hash to {computed}"
    )]
    RootDigestMismatch {
        /// Subject digest (hex).
        subject: String,
        /// Digest of the resources (hex).
        computed: String,
    },
    /// A digest is not hex (or absent).
    #[error("model resource {name:?} has no valid hex digest")]
    BadDigest {
        /// The resource.
        name: String,
    },
    /// A resource name or ignore path is not a path inside the model.
    #[error("model path {name:?}: {reason}")]
    BadPath {
        /// The path as written.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A resource is listed twice.
    #[error("model resource {name:?} is listed twice")]
    DuplicateResource {
        /// The resource.
        name: String,
    },
    /// Too many resources.
    #[error("model signature lists {count} resources, over the limit of {max}")]
    TooManyResources {
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(b: u8) -> ItemDigest {
        ItemDigest {
            algorithm: "sha256".into(),
            value: vec![b; 32],
        }
    }

    fn manifest(paths: &[(&str, u8)]) -> Manifest {
        Manifest {
            model_name: "m".into(),
            serialization: Serialization::files_sha256(false, vec!["model.sig".into()]),
            items: paths
                .iter()
                .map(|(p, b)| (ModelPath::parse(p).unwrap(), item(*b)))
                .collect(),
        }
    }

    /// Paths sort component-wise, as PurePosixPath: `a/b` before `a-c` (bytewise it is after).
    #[test]
    fn order_is_component_wise() {
        let m = manifest(&[("a-c", 1), ("a/b", 2), ("B", 3)]);
        let names: Vec<String> = m.resources().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["B", "a/b", "a-c"]);
    }

    #[test]
    fn statement_round_trip_and_root_digest() {
        let m = manifest(&[("w.bin", 1), ("d/c.json", 2)]);
        let st = m.to_statement();
        let mut all = vec![2u8; 32];
        all.extend_from_slice(&[1u8; 32]);
        assert_eq!(
            st.subject[0].digest["sha256"],
            hex::encode(HashKind::Sha256.digest(&all))
        );
        let bytes = serde_json::to_vec(&st).unwrap();
        let back = Statement::from_json(&bytes).unwrap();
        let (m2, v) = Manifest::from_statement(&back).unwrap();
        assert_eq!(v, ManifestVersion::V1);
        assert_eq!(m2, m);
        // A resource altered after the fact breaks the subject digest.
        let mut tampered = back.clone();
        tampered.predicate.as_mut().unwrap()["resources"][0]["digest"] =
            serde_json::Value::String(hex::encode([9u8; 32]));
        assert!(matches!(
            Manifest::from_statement(&tampered),
            Err(ModelError::RootDigestMismatch { .. })
        ));
    }

    #[test]
    fn first_difference_is_named() {
        let signed = manifest(&[("a", 1), ("b", 2), ("c", 3)]);
        assert!(signed.compare(&signed.clone()).is_ok());
        let changed = manifest(&[("a", 1), ("b", 9), ("c", 3)]);
        let e = signed.compare(&changed).unwrap_err();
        assert_eq!(e.path, "b");
        assert!(matches!(e.difference, Difference::Changed { .. }));
        let e = signed
            .compare(&manifest(&[("a", 1), ("c", 3)]))
            .unwrap_err();
        assert_eq!(
            (e.path.as_str(), &e.difference),
            ("b", &Difference::Missing)
        );
        let e = signed
            .compare(&manifest(&[("a", 1), ("b", 2), ("c", 3), ("d", 4)]))
            .unwrap_err();
        assert_eq!((e.path.as_str(), &e.difference), ("d", &Difference::Added));
        assert_eq!(e.others, 0);
    }

    #[test]
    fn paths_are_normalized_and_bounded() {
        assert_eq!(ModelPath::parse("./a//b/").unwrap().to_string(), "a/b");
        assert_eq!(ModelPath::parse(".").unwrap().to_string(), ".");
        assert!(ModelPath::parse("../x").is_err());
        assert!(ModelPath::parse("/etc/passwd").is_err());
        assert!(
            ModelPath::parse("a/b")
                .unwrap()
                .starts_with(&ModelPath::parse("a").unwrap())
        );
        assert!(
            !ModelPath::parse("ab")
                .unwrap()
                .starts_with(&ModelPath::parse("a").unwrap())
        );
    }

    /// The legacy v0.1 statement (model-signing 0.2): one subject per file.
    #[test]
    fn legacy_statement_is_read() {
        let st = Statement::from_json(
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[
            {"name":"signme-1","digest":{"sha256":"11ad7efa24975ee4b0c3c3a38ed18737f0658a5f75a0a96787b576a78a023361"},
             "annotations":{"actual_hash_algorithm":"file-sha256"}}],
            "predicateType":"https://model_signing/Digests/v0.1","predicate":{"unused":"x"}}"#,
        )
        .unwrap();
        let (m, v) = Manifest::from_statement(&st).unwrap();
        assert_eq!(v, ManifestVersion::LegacyV01);
        assert_eq!(m.items.len(), 1);
        assert_eq!(m.resources()[0].name, "signme-1");
    }
}
