//! Loading policy documents from files and directories (multi-document YAML) into a
//! [`PolicySet`] (validation and compilation are in `compile.rs`).

pub use crate::compile::{MATCH_RESOURCES, identity_policy};
use crate::compile::{compile_artifact, compile_cip, validate_trust_root};
pub use crate::compiled::{
    ArtifactGlob, AttestationSpec, AuthorityCheck, AuthoritySpec, CompiledPolicy, MatchSpec, Mode,
    Target, TrustRootEntry,
};
use crate::error::{Location, PolicyError};
use crate::model::{self, ArtifactPolicyDoc, ClusterImagePolicy, TrustRootDoc, TypeMeta};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest policy file read (bytes).
pub const MAX_POLICY_FILE_LEN: u64 = 4 << 20;
/// Most documents loaded from all paths together.
pub const MAX_DOCUMENTS: usize = 10_000;

/// Every loaded policy and TrustRoot, compiled. Immutable; reload to change.
#[derive(Clone, Debug)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    trust_roots: Vec<TrustRootEntry>,
    digest: String,
}

/// One parsed document, before compilation.
enum Doc {
    Cip(Box<ClusterImagePolicy>),
    Artifact(Box<ArtifactPolicyDoc>),
    TrustRoot(Box<TrustRootDoc>),
}

impl PolicySet {
    /// Load every `*.yaml` / `*.yml` / `*.json` file under each path (files are read as given;
    /// directories recursively, in name order). Each file may hold several YAML documents.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Self, PolicyError> {
        let mut files = Vec::new();
        for p in paths {
            collect_files(p.as_ref(), true, &mut files)?;
        }
        let mut docs: Vec<(PathBuf, Doc)> = Vec::new();
        for f in &files {
            let text = read_limited(f)?;
            parse_documents(f, &text, &mut docs)?;
            if docs.len() > MAX_DOCUMENTS {
                return Err(PolicyError::Invalid {
                    at: loc(f, "", "", ""),
                    reason: format!("more than {MAX_DOCUMENTS} documents"),
                });
            }
        }
        Self::from_documents(
            docs,
            paths.iter().map(|p| p.as_ref().to_path_buf()).collect(),
        )
    }

    /// Load from YAML text (for tests and embedding); `origin` names it in errors.
    pub fn from_yaml(origin: &Path, text: &str) -> Result<Self, PolicyError> {
        let mut docs = Vec::new();
        parse_documents(origin, text, &mut docs)?;
        Self::from_documents(docs, vec![origin.to_path_buf()])
    }

    fn from_documents(docs: Vec<(PathBuf, Doc)>, paths: Vec<PathBuf>) -> Result<Self, PolicyError> {
        let mut policies: Vec<CompiledPolicy> = Vec::new();
        let mut trust_roots: Vec<TrustRootEntry> = Vec::new();
        let mut canonical: Vec<String> = Vec::new();
        let mut seen: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
        for (path, doc) in docs {
            let (kind, name, json) = match &doc {
                Doc::Cip(d) => (
                    "ClusterImagePolicy",
                    d.metadata.name.clone(),
                    serde_json::to_string(d),
                ),
                Doc::Artifact(d) => (
                    "ArtifactPolicy",
                    d.metadata.name.clone(),
                    serde_json::to_string(d),
                ),
                Doc::TrustRoot(d) => (
                    "TrustRoot",
                    d.metadata.name.clone(),
                    serde_json::to_string(d),
                ),
            };
            if name.is_empty() {
                return Err(PolicyError::Invalid {
                    at: loc(&path, kind, "", "metadata.name"),
                    reason: "missing: every document needs a name".into(),
                });
            }
            let family = if kind == "TrustRoot" {
                "TrustRoot"
            } else {
                "policy"
            };
            if let Some(first) = seen.insert((family.to_string(), name.clone()), path.clone()) {
                return Err(PolicyError::Duplicate {
                    kind: kind.to_string(),
                    name,
                    first,
                    second: path,
                });
            }
            canonical.push(json.map_err(|e| PolicyError::Invalid {
                at: loc(&path, kind, &name, ""),
                reason: format!("cannot serialize: {e}"),
            })?);
            match doc {
                Doc::Cip(d) => policies.push(compile_cip(&path, &d)?),
                Doc::Artifact(d) => policies.push(compile_artifact(&path, &d)?),
                Doc::TrustRoot(d) => trust_roots.push(validate_trust_root(&path, *d)?),
            }
        }
        if policies.is_empty() {
            return Err(PolicyError::Empty { paths });
        }
        // Every trustRootRef must name a loaded TrustRoot.
        for p in &policies {
            for (i, a) in p.authorities.iter().enumerate() {
                if let Some(tr) = &a.trust_root
                    && !trust_roots.iter().any(|t| &t.name == tr)
                {
                    return Err(PolicyError::UnknownTrustRoot {
                        at: loc(
                            &p.path,
                            kind_of(p),
                            &p.name,
                            &format!("spec.authorities[{i}].trustRootRef"),
                        ),
                        trust_root: tr.clone(),
                    });
                }
            }
        }
        canonical.sort();
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for c in &canonical {
            ctx.update(&(c.len() as u64).to_be_bytes());
            ctx.update(c.as_bytes());
        }
        let digest = format!("sha256:{}", hex::encode(ctx.finish().as_ref()));
        Ok(Self {
            policies,
            trust_roots,
            digest,
        })
    }

    /// A stable hash of the loaded documents (their meaning, not their bytes or file names):
    /// `sha256:<hex>`. Two loads of the same documents give the same digest. Together with the
    /// trust digest and the image digest it keys cached verifications.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The compiled policies (ClusterImagePolicy and ArtifactPolicy).
    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    /// The TrustRoot documents.
    pub fn trust_roots(&self) -> &[TrustRootEntry] {
        &self.trust_roots
    }
}

fn kind_of(p: &CompiledPolicy) -> &'static str {
    match p.target {
        Target::Images(_) => "ClusterImagePolicy",
        Target::Artifacts(_) => "ArtifactPolicy",
    }
}

pub(crate) fn loc(path: &Path, kind: &str, name: &str, field: &str) -> Box<Location> {
    Box::new(Location {
        path: path.to_path_buf(),
        kind: kind.to_string(),
        name: name.to_string(),
        field: field.to_string(),
    })
}

fn collect_files(p: &Path, explicit: bool, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let read_err = |source| PolicyError::Read {
        path: p.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(p).map_err(read_err)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(read_err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(read_err)?;
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if !hidden {
                collect_files(&e, false, out)?;
            }
        }
    } else {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if explicit || matches!(ext, "yaml" | "yml" | "json") {
            out.push(p.to_path_buf());
        }
    }
    Ok(())
}

fn read_limited(p: &Path) -> Result<String, PolicyError> {
    let read_err = |source| PolicyError::Read {
        path: p.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(p).map_err(read_err)?;
    if meta.len() > MAX_POLICY_FILE_LEN {
        return Err(PolicyError::Invalid {
            at: loc(p, "", "", ""),
            reason: format!("file is larger than {MAX_POLICY_FILE_LEN} bytes"),
        });
    }
    std::fs::read_to_string(p).map_err(read_err)
}

fn parse_documents(
    path: &Path,
    text: &str,
    out: &mut Vec<(PathBuf, Doc)>,
) -> Result<(), PolicyError> {
    for (index, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let yaml = |source| PolicyError::Yaml {
            path: path.to_path_buf(),
            index,
            source,
        };
        let value = serde_yaml_ng::Value::deserialize(de).map_err(yaml)?;
        if value.is_null() {
            continue; // an empty document (`---` at the end)
        }
        let tm: TypeMeta = serde_yaml_ng::from_value(value.clone()).map_err(yaml)?;
        let doc = match (tm.api_version.as_str(), tm.kind.as_str()) {
            (model::CIP_V1BETA1 | model::CIP_V1ALPHA1, "ClusterImagePolicy") => {
                Doc::Cip(Box::new(serde_yaml_ng::from_value(value).map_err(yaml)?))
            }
            (model::CIP_V1ALPHA1 | model::CIP_V1BETA1, "TrustRoot") => {
                Doc::TrustRoot(Box::new(serde_yaml_ng::from_value(value).map_err(yaml)?))
            }
            (model::VOUCH_V1ALPHA1, "ArtifactPolicy") => {
                Doc::Artifact(Box::new(serde_yaml_ng::from_value(value).map_err(yaml)?))
            }
            _ => {
                return Err(PolicyError::UnknownKind {
                    path: path.to_path_buf(),
                    index,
                    api_version: tm.api_version,
                    kind: tm.kind,
                });
            }
        };
        out.push((path.to_path_buf(), doc));
    }
    Ok(())
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
