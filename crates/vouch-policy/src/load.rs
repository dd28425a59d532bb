//! Loading policy documents from files and directories (multi-document YAML), validating them
//! as policy-controller's admission validation does, and compiling them into a [`PolicySet`].

use crate::error::{Location, PolicyError};
use crate::glob::ImageGlob;
use crate::model::{
    self, ArtifactPolicyDoc, Authority, ClusterImagePolicy, PolicyBody, TrustRootDoc, TypeMeta,
};
use crate::rego::RegoPolicy;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vouch_core::keys::PublicKey;
use vouch_oci::sign::Layout;
use vouch_verify::{IdentityPolicy, Matcher};

/// Largest policy file read (bytes).
pub const MAX_POLICY_FILE_LEN: u64 = 4 << 20;
/// Most documents loaded from all paths together.
pub const MAX_DOCUMENTS: usize = 10_000;

/// `enforce` or `warn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A failure denies.
    Enforce,
    /// A failure allows with a warning.
    Warn,
}

/// What a policy applies to.
#[derive(Clone, Debug)]
pub enum Target {
    /// Container images, by policy-controller glob.
    Images(Vec<ImageGlob>),
    /// Files, by file-name glob.
    Artifacts(Vec<ArtifactGlob>),
}

/// A compiled file-name glob: `*` within a path segment, `**` across, everything else literal.
#[derive(Clone, Debug)]
pub struct ArtifactGlob {
    glob: String,
    re: Regex,
}

impl ArtifactGlob {
    /// Compile.
    pub fn compile(glob: &str) -> Result<Self, regex::Error> {
        let mut re = String::from("^");
        let mut rest = glob;
        while let Some(i) = rest.find('*') {
            re.push_str(&regex::escape(&rest[..i]));
            if rest[i..].starts_with("**") {
                re.push_str(".*");
                rest = &rest[i + 2..];
            } else {
                re.push_str("[^/]*");
                rest = &rest[i + 1..];
            }
        }
        re.push_str(&regex::escape(rest));
        re.push('$');
        Ok(Self {
            glob: glob.to_string(),
            re: Regex::new(&re)?,
        })
    }

    /// Whether the path matches, as given or by its file name alone.
    pub fn matches(&self, path: &str) -> bool {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        self.re.is_match(path) || self.re.is_match(file_name)
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.glob
    }
}

/// A resource selector from `spec.match[]`.
#[derive(Clone, Debug)]
pub struct MatchSpec {
    /// API group.
    pub group: String,
    /// Version or `*`.
    pub version: String,
    /// Plural resource.
    pub resource: String,
    /// Label selector.
    pub selector: Option<model::LabelSelector>,
}

/// What an authority checks.
#[derive(Clone, Debug)]
pub enum AuthorityCheck {
    /// Signed with this key.
    Key {
        /// The key.
        key: PublicKey,
    },
    /// Signed with a certificate for one of these identities.
    Keyless {
        /// Accepted identities.
        identities: Vec<IdentityPolicy>,
        /// DER CA certificates replacing the trusted root's CAs (`ca-cert`).
        ca_certs: Option<Vec<Vec<u8>>>,
        /// Do not require an SCT.
        insecure_ignore_sct: bool,
    },
    /// A fixed answer.
    Static {
        /// `pass` (true) or `fail`.
        pass: bool,
        /// Message for `fail`.
        message: String,
    },
}

/// A compiled `attestations[]` entry.
#[derive(Clone, Debug)]
pub struct AttestationSpec {
    /// Name.
    pub name: String,
    /// Predicate type URI (cosign shorthands expanded).
    pub predicate_type: String,
    /// Policy over the statement.
    pub policy: Option<RegoPolicy>,
}

/// A compiled authority.
#[derive(Clone, Debug)]
pub struct AuthoritySpec {
    /// Name (`authority-<index>` by default).
    pub name: String,
    /// What it checks.
    pub check: AuthorityCheck,
    /// Repository holding the signatures instead of the image's own (`source[0].oci`).
    pub source_repository: Option<String>,
    /// Attestations required instead of signatures.
    pub attestations: Vec<AttestationSpec>,
    /// Require an RFC 3161 timestamp (`rfc3161timestamp`).
    pub require_signed_timestamp: bool,
    /// The TrustRoot to verify against (`keyless.trustRootRef`, `ctlog.trustRootRef`,
    /// `rfc3161timestamp.trustRootRef`, which must agree); `None` = the default trusted root.
    pub trust_root: Option<String>,
    /// Only this signature layout (`signatureFormat`); `None` = both.
    pub layout: Option<Layout>,
}

/// A compiled ClusterImagePolicy or ArtifactPolicy.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// Images or artifacts.
    pub target: Target,
    /// Authorities.
    pub authorities: Vec<AuthoritySpec>,
    /// CIP-level policy.
    pub policy: Option<RegoPolicy>,
    /// Mode.
    pub mode: Mode,
    /// Resource selectors (empty: every resource).
    pub matches: Vec<MatchSpec>,
    /// Distinct authorities that must pass (1 unless `threshold` is set).
    pub threshold: usize,
}

/// A TrustRoot document, validated.
#[derive(Clone, Debug)]
pub struct TrustRootEntry {
    /// Name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The spec.
    pub spec: model::TrustRootSpec,
}

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

fn loc(path: &Path, kind: &str, name: &str, field: &str) -> Box<Location> {
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

fn parse_mode(at: Box<Location>, mode: Option<&str>) -> Result<Mode, PolicyError> {
    match mode {
        None | Some("") | Some("enforce") => Ok(Mode::Enforce),
        Some("warn") => Ok(Mode::Warn),
        Some(other) => Err(PolicyError::Invalid {
            at,
            reason: format!("unsupported mode {other:?}: expected enforce or warn"),
        }),
    }
}

fn compile_cip(path: &Path, d: &ClusterImagePolicy) -> Result<CompiledPolicy, PolicyError> {
    let name = d.metadata.name.as_str();
    let at = |field: &str| loc(path, "ClusterImagePolicy", name, field);
    if d.spec.images.is_empty() {
        return Err(PolicyError::Invalid {
            at: at("spec.images"),
            reason: "missing: at least one glob is required".into(),
        });
    }
    let mut globs = Vec::new();
    for (i, img) in d.spec.images.iter().enumerate() {
        let field = format!("spec.images[{i}].glob");
        if img.glob.is_empty() {
            return Err(PolicyError::Invalid {
                at: at(&field),
                reason: "missing".into(),
            });
        }
        globs.push(
            ImageGlob::compile(&img.glob).map_err(|source| PolicyError::Glob {
                at: at(&field),
                source,
            })?,
        );
    }
    let mut matches = Vec::new();
    for (i, m) in d.spec.match_.iter().enumerate() {
        if m.selector.is_some()
            && m.resource.is_empty()
            && m.version.is_empty()
            && m.group.is_empty()
        {
            return Err(PolicyError::Invalid {
                at: at(&format!("spec.match[{i}].selector")),
                reason: "selector requires a resource type to match the labels".into(),
            });
        }
        if let Some(sel) = &m.selector {
            for (j, e) in sel.match_expressions.iter().enumerate() {
                if !matches!(
                    e.operator.as_str(),
                    "In" | "NotIn" | "Exists" | "DoesNotExist"
                ) {
                    return Err(PolicyError::Invalid {
                        at: at(&format!(
                            "spec.match[{i}].selector.matchExpressions[{j}].operator"
                        )),
                        reason: format!("unsupported operator {:?}", e.operator),
                    });
                }
            }
        }
        matches.push(MatchSpec {
            group: m.group.clone(),
            version: m.version.clone(),
            resource: m.resource.clone(),
            selector: m.selector.clone(),
        });
    }
    let common = compile_common(
        path,
        "ClusterImagePolicy",
        name,
        &d.spec.authorities,
        d.spec.policy.as_ref(),
        d.spec.mode.as_deref(),
        d.spec.threshold,
    )?;
    Ok(CompiledPolicy {
        target: Target::Images(globs),
        matches,
        ..common
    })
}

fn compile_artifact(path: &Path, d: &ArtifactPolicyDoc) -> Result<CompiledPolicy, PolicyError> {
    let name = d.metadata.name.as_str();
    let at = |field: &str| loc(path, "ArtifactPolicy", name, field);
    if d.spec.artifacts.is_empty() {
        return Err(PolicyError::Invalid {
            at: at("spec.artifacts"),
            reason: "missing: at least one glob is required".into(),
        });
    }
    let mut globs = Vec::new();
    for (i, a) in d.spec.artifacts.iter().enumerate() {
        let field = format!("spec.artifacts[{i}].glob");
        if a.glob.is_empty() {
            return Err(PolicyError::Invalid {
                at: at(&field),
                reason: "missing".into(),
            });
        }
        globs.push(
            ArtifactGlob::compile(&a.glob).map_err(|source| PolicyError::Regex {
                at: at(&field),
                pattern: a.glob.clone(),
                source,
            })?,
        );
    }
    for (i, a) in d.spec.authorities.iter().enumerate() {
        if !a.sources.is_empty() {
            return Err(PolicyError::Invalid {
                at: at(&format!("spec.authorities[{i}].source")),
                reason: "artifacts carry their bundles; source applies to images only".into(),
            });
        }
    }
    let common = compile_common(
        path,
        "ArtifactPolicy",
        name,
        &d.spec.authorities,
        d.spec.policy.as_ref(),
        d.spec.mode.as_deref(),
        d.spec.threshold,
    )?;
    Ok(CompiledPolicy {
        target: Target::Artifacts(globs),
        ..common
    })
}

fn compile_common(
    path: &Path,
    kind: &str,
    name: &str,
    authorities: &[Authority],
    policy: Option<&PolicyBody>,
    mode: Option<&str>,
    threshold: Option<usize>,
) -> Result<CompiledPolicy, PolicyError> {
    let at = |field: &str| loc(path, kind, name, field);
    let mode = parse_mode(at("spec.mode"), mode)?;
    if authorities.is_empty() {
        return Err(PolicyError::Invalid {
            at: at("spec.authorities"),
            reason: "missing: a policy without authorities would admit nothing (policy-controller's failOnEmptyAuthorities)".into(),
        });
    }
    let mut compiled = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, a) in authorities.iter().enumerate() {
        let c = compile_authority(path, kind, name, i, a)?;
        if !names.insert(c.name.clone()) {
            return Err(PolicyError::Invalid {
                at: at(&format!("spec.authorities[{i}].name")),
                reason: format!("authority name {:?} is used twice", c.name),
            });
        }
        compiled.push(c);
    }
    let threshold = match threshold {
        None => 1,
        Some(0) => {
            return Err(PolicyError::Invalid {
                at: at("spec.threshold"),
                reason: "must be at least 1".into(),
            });
        }
        Some(k) if k > compiled.len() => {
            return Err(PolicyError::Invalid {
                at: at("spec.threshold"),
                reason: format!("{k} exceeds the {} authorities listed", compiled.len()),
            });
        }
        Some(k) => k,
    };
    let policy = match policy {
        Some(p) => Some(compile_policy_body(
            path,
            kind,
            name,
            "spec.policy",
            p,
            true,
        )?),
        None => None,
    };
    Ok(CompiledPolicy {
        name: name.to_string(),
        path: path.to_path_buf(),
        target: Target::Images(Vec::new()),
        authorities: compiled,
        policy,
        mode,
        matches: Vec::new(),
        threshold,
    })
}

fn compile_policy_body(
    path: &Path,
    kind: &str,
    name: &str,
    field: &str,
    p: &PolicyBody,
    at_spec_level: bool,
) -> Result<RegoPolicy, PolicyError> {
    let at = |sub: &str| loc(path, kind, name, &format!("{field}{sub}"));
    match p.type_.as_str() {
        "rego" => {}
        "cue" => return Err(PolicyError::CueUnsupported { at: at(".type") }),
        other => {
            return Err(PolicyError::Invalid {
                at: at(".type"),
                reason: format!("unsupported policy type {other:?}: expected rego"),
            });
        }
    }
    if p.remote.is_some() {
        return Err(PolicyError::Unsupported {
            at: at(".remote"),
            what: "a remote policy (inline it in data)",
        });
    }
    if p.config_map_ref.is_some() {
        return Err(PolicyError::Unsupported {
            at: at(".configMapRef"),
            what: "a ConfigMap policy (inline it in data)",
        });
    }
    for (set, f) in [
        (p.fetch_config_file, ".fetchConfigFile"),
        (p.include_spec, ".includeSpec"),
        (p.include_object_meta, ".includeObjectMeta"),
        (p.include_type_meta, ".includeTypeMeta"),
    ] {
        if set.is_some() && !at_spec_level {
            return Err(PolicyError::Invalid {
                at: at(f),
                reason: "only allowed in spec.policy".into(),
            });
        }
        if set == Some(true) {
            return Err(PolicyError::Unsupported {
                at: at(f),
                what: "adding the image config or the resource to the policy input",
            });
        }
    }
    if p.data.is_empty() {
        return Err(PolicyError::Invalid {
            at: at(".data"),
            reason: "missing".into(),
        });
    }
    RegoPolicy::compile(&format!("{name}/{field}"), &p.data).map_err(|source| PolicyError::Rego {
        at: at(".data"),
        source,
    })
}

fn compile_regex(at: Box<Location>, pattern: &str) -> Result<Regex, PolicyError> {
    Regex::new(pattern).map_err(|source| PolicyError::Regex {
        at,
        pattern: pattern.to_string(),
        source,
    })
}

fn compile_authority(
    path: &Path,
    kind: &str,
    name: &str,
    index: usize,
    a: &Authority,
) -> Result<AuthoritySpec, PolicyError> {
    let base = format!("spec.authorities[{index}]");
    let at = |sub: &str| loc(path, kind, name, &format!("{base}{sub}"));
    let set = [a.key.is_some(), a.keyless.is_some(), a.static_.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if set != 1 {
        return Err(PolicyError::Invalid {
            at: at(""),
            reason: "exactly one of key, keyless, static is required".into(),
        });
    }
    let mut trust_refs: Vec<&str> = Vec::new();
    let check = if let Some(k) = &a.key {
        if !k.kms.is_empty() {
            return Err(PolicyError::Unsupported {
                at: at(".key.kms"),
                what: "a KMS key (put the PEM public key in key.data)",
            });
        }
        if k.secret_ref.is_some() {
            return Err(PolicyError::Unsupported {
                at: at(".key.secretRef"),
                what: "a Secret key reference (put the PEM public key in key.data)",
            });
        }
        if !matches!(
            k.hash_algorithm.as_str(),
            "" | "sha224" | "sha256" | "sha384" | "sha512"
        ) {
            return Err(PolicyError::Invalid {
                at: at(".key.hashAlgorithm"),
                reason: format!("unsupported hash algorithm {:?}", k.hash_algorithm),
            });
        }
        if k.data.is_empty() {
            return Err(PolicyError::Invalid {
                at: at(".key.data"),
                reason: "missing".into(),
            });
        }
        let key = PublicKey::from_pem(&k.data).map_err(|source| PolicyError::Key {
            at: at(".key.data"),
            source,
        })?;
        AuthorityCheck::Key { key }
    } else if let Some(kl) = &a.keyless {
        if kl.identities.is_empty() {
            return Err(PolicyError::Invalid {
                at: at(".keyless.identities"),
                reason: "missing: at least one identity is required".into(),
            });
        }
        let mut identities = Vec::new();
        for (j, id) in kl.identities.iter().enumerate() {
            let f = |s: &str| at(&format!(".keyless.identities[{j}]{s}"));
            identities.push(identity_policy(
                &id.issuer,
                &id.issuer_regexp,
                &id.subject,
                &id.subject_regexp,
                f,
            )?);
        }
        let ca_certs = match &kl.ca_cert {
            None => None,
            Some(c) => {
                if c.data.is_empty() {
                    return Err(PolicyError::Unsupported {
                        at: at(".keyless.ca-cert"),
                        what: "a CA certificate by KMS or Secret (put the PEM in ca-cert.data)",
                    });
                }
                let certs =
                    vouch_core::x509::Certificate::from_pem_chain(&c.data).map_err(|source| {
                        PolicyError::Certificate {
                            at: at(".keyless.ca-cert.data"),
                            source,
                        }
                    })?;
                Some(certs.iter().map(|c| c.der().to_vec()).collect())
            }
        };
        if kl.url.is_some() && kl.ca_cert.is_some() {
            return Err(PolicyError::Invalid {
                at: at(".keyless"),
                reason: "url and ca-cert are mutually exclusive".into(),
            });
        }
        if let Some(t) = &kl.trust_root_ref {
            trust_refs.push(t);
        }
        AuthorityCheck::Keyless {
            identities,
            ca_certs,
            insecure_ignore_sct: kl.insecure_ignore_sct.unwrap_or(false),
        }
    } else {
        let s = a.static_.as_ref().ok_or_else(|| PolicyError::Invalid {
            at: at(""),
            reason: "exactly one of key, keyless, static is required".into(),
        })?;
        let pass = match s.action.as_str() {
            "pass" => true,
            "fail" => false,
            other => {
                return Err(PolicyError::Invalid {
                    at: at(".static.action"),
                    reason: format!("unsupported action {other:?}: expected pass or fail"),
                });
            }
        };
        for (present, f) in [
            (!a.attestations.is_empty(), ".attestations"),
            (!a.sources.is_empty(), ".source"),
            (a.ctlog.is_some(), ".ctlog"),
            (a.rfc3161timestamp.is_some(), ".rfc3161timestamp"),
        ] {
            if present {
                return Err(PolicyError::Invalid {
                    at: at(f),
                    reason: "does not apply to a static authority".into(),
                });
            }
        }
        AuthorityCheck::Static {
            pass,
            message: s.message.clone(),
        }
    };
    if a.sources.len() > 1 {
        return Err(PolicyError::Invalid {
            at: at(".source"),
            reason: "only a single source is supported".into(),
        });
    }
    let mut source_repository = None;
    if let Some(src) = a.sources.first() {
        if src.tag_prefix.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(PolicyError::Unsupported {
                at: at(".source[0].tagPrefix"),
                what: "a signature tag prefix",
            });
        }
        if !src.signature_pull_secrets.is_empty() {
            return Err(PolicyError::Unsupported {
                at: at(".source[0].signaturePullSecrets"),
                what: "pull secrets (give the engine registry credentials)",
            });
        }
        if !src.oci.is_empty() {
            let n =
                crate::glob::ImageName::parse(&src.oci).map_err(|source| PolicyError::Glob {
                    at: at(".source[0].oci"),
                    source,
                })?;
            source_repository = Some(n.repository_name());
        }
    }
    if let Some(c) = &a.ctlog
        && let Some(t) = &c.trust_root_ref
    {
        trust_refs.push(t);
    }
    if let Some(r) = &a.rfc3161timestamp
        && let Some(t) = &r.trust_root_ref
    {
        trust_refs.push(t);
    }
    trust_refs.dedup();
    if trust_refs.len() > 1 {
        return Err(PolicyError::Unsupported {
            at: at(".trustRootRef"),
            what: "different TrustRoots for the CA, the log and the TSA of one authority",
        });
    }
    let layout = match a.signature_format.as_deref() {
        None | Some("") => None,
        Some("legacy") => Some(Layout::Legacy),
        Some("bundle") => Some(Layout::Bundle),
        Some(other) => {
            return Err(PolicyError::Invalid {
                at: at(".signatureFormat"),
                reason: format!(
                    "unsupported signature format {other:?}: expected legacy or bundle"
                ),
            });
        }
    };
    let mut attestations = Vec::new();
    for (j, att) in a.attestations.iter().enumerate() {
        let f = format!("{base}.attestations[{j}]");
        if att.name.is_empty() {
            return Err(PolicyError::Invalid {
                at: loc(path, kind, name, &format!("{f}.name")),
                reason: "missing".into(),
            });
        }
        if att.predicate_type.is_empty() {
            return Err(PolicyError::Invalid {
                at: loc(path, kind, name, &format!("{f}.predicateType")),
                reason: "missing".into(),
            });
        }
        let policy = match &att.policy {
            Some(p) => Some(compile_policy_body(
                path,
                kind,
                name,
                &format!("{f}.policy"),
                p,
                false,
            )?),
            None => None,
        };
        attestations.push(AttestationSpec {
            name: att.name.clone(),
            predicate_type: vouch_core::intoto::predicate_type_for(&att.predicate_type).to_string(),
            policy,
        });
    }
    Ok(AuthoritySpec {
        name: a
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("authority-{index}")),
        check,
        source_repository,
        attestations,
        require_signed_timestamp: a.rfc3161timestamp.is_some(),
        trust_root: trust_refs.first().map(|s| s.to_string()),
        layout,
    })
}

/// Build an identity policy from policy-controller's four fields (exact or regexp for each of
/// issuer and subject; exactly one of each pair). `at` names the field in errors.
pub fn identity_policy(
    issuer: &str,
    issuer_regexp: &str,
    subject: &str,
    subject_regexp: &str,
    at: impl Fn(&str) -> Box<Location>,
) -> Result<IdentityPolicy, PolicyError> {
    let pick =
        |exact: &str, re: &str, exact_name: &str, re_name: &str| -> Result<Matcher, PolicyError> {
            match (exact.is_empty(), re.is_empty()) {
                (false, true) => Ok(Matcher::Exact(exact.to_string())),
                (true, false) => Ok(Matcher::Regex(compile_regex(
                    at(&format!(".{re_name}")),
                    re,
                )?)),
                (false, false) => Err(PolicyError::Invalid {
                    at: at(""),
                    reason: format!("{exact_name} and {re_name} are mutually exclusive"),
                }),
                (true, true) => Err(PolicyError::Invalid {
                    at: at(""),
                    reason: format!("missing: {exact_name} or {re_name} is required"),
                }),
            }
        };
    Ok(IdentityPolicy {
        issuer: pick(issuer, issuer_regexp, "issuer", "issuerRegExp")?,
        san: pick(subject, subject_regexp, "subject", "subjectRegExp")?,
        extensions: Vec::new(),
    })
}

fn validate_trust_root(path: &Path, d: TrustRootDoc) -> Result<TrustRootEntry, PolicyError> {
    let name = d.metadata.name.clone();
    let at = |field: &str| loc(path, "TrustRoot", &name, field);
    let s = &d.spec;
    let set = [
        s.remote.is_some(),
        s.repository.is_some(),
        s.sigstore_keys.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set != 1 {
        return Err(PolicyError::Invalid {
            at: at("spec"),
            reason: "exactly one of remote, repository, sigstoreKeys is required".into(),
        });
    }
    if s.repository.is_some() {
        return Err(PolicyError::Unsupported {
            at: at("spec.repository"),
            what: "a serialized TUF repository (serve it and use spec.remote, or use sigstoreKeys)",
        });
    }
    if let Some(r) = &s.remote {
        if r.mirror.is_empty() {
            return Err(PolicyError::Invalid {
                at: at("spec.remote.mirror"),
                reason: "missing".into(),
            });
        }
        crate::trust::decode_b64(&r.root).map_err(|e| PolicyError::Invalid {
            at: at("spec.remote.root"),
            reason: format!("not base64: {e}"),
        })?;
        if !matches!(r.targets.as_str(), "" | "targets") {
            return Err(PolicyError::Unsupported {
                at: at("spec.remote.targets"),
                what: "a targets path other than `targets`",
            });
        }
        if !matches!(r.trusted_root_target.as_str(), "" | "trusted_root.json") {
            return Err(PolicyError::Unsupported {
                at: at("spec.remote.trustedRootTarget"),
                what: "a trusted root target other than trusted_root.json",
            });
        }
    }
    if let Some(k) = &s.sigstore_keys {
        // Converting validates every certificate and key.
        crate::trust::sigstore_keys_to_root(&name, k).map_err(|e| match e {
            PolicyError::TrustRoot { source, .. } => PolicyError::Invalid {
                at: at("spec.sigstoreKeys"),
                reason: source.to_string(),
            },
            other => other,
        })?;
    }
    Ok(TrustRootEntry {
        name,
        path: path.to_path_buf(),
        spec: d.spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIP: &str = r#"
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: release
spec:
  images:
  - glob: "registry.local:5000/app/**"
  authorities:
  - keyless:
      url: https://fulcio.example
      identities:
      - issuer: https://idp.example
        subjectRegExp: ".*@example.com"
"#;

    #[test]
    fn loads_and_digest_is_stable() {
        let a = PolicySet::from_yaml(Path::new("a.yaml"), CIP).unwrap();
        let b =
            PolicySet::from_yaml(Path::new("b.yaml"), &format!("# comment\n{CIP}\n---\n")).unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.policies()[0].authorities[0].name, "authority-0");
        let c =
            PolicySet::from_yaml(Path::new("c.yaml"), &CIP.replace("app/**", "other/**")).unwrap();
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = PolicySet::from_yaml(
            Path::new("p.yaml"),
            &CIP.replace("subjectRegExp", "subjectRegex"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("p.yaml") && e.contains("subjectRegex"), "{e}");
        let e = PolicySet::from_yaml(
            Path::new("p.yaml"),
            &CIP.replace(".*@example.com", "(unclosed"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("identities[0].subjectRegExp") && e.contains("(unclosed"),
            "{e}"
        );
        let cue = format!("{CIP}  policy:\n    type: cue\n    data: \"x: 1\"\n");
        let e = PolicySet::from_yaml(Path::new("p.yaml"), &cue).unwrap_err();
        assert!(matches!(e, PolicyError::CueUnsupported { .. }), "{e}");
        assert!(e.to_string().contains("CUE"), "{e}");
        let bad_key = CIP.replace(
            "  - keyless:\n      url: https://fulcio.example\n      identities:\n      - issuer: https://idp.example\n        subjectRegExp: \".*@example.com\"\n",
            "  - key:\n      data: not a key\n",
        );
        let e = PolicySet::from_yaml(Path::new("p.yaml"), &bad_key)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("key.data") && e.contains("invalid public key"),
            "{e}"
        );
        let e = PolicySet::from_yaml(Path::new("p.yaml"), "kind: [unclosed").unwrap_err();
        assert!(matches!(e, PolicyError::Yaml { .. }), "{e}");
        let e =
            PolicySet::from_yaml(Path::new("p.yaml"), &CIP.replace("v1beta1", "v9")).unwrap_err();
        assert!(matches!(e, PolicyError::UnknownKind { .. }), "{e}");
    }

    #[test]
    fn artifact_globs() {
        let g = ArtifactGlob::compile("release-*.tar.gz").unwrap();
        assert!(g.matches("dist/release-1.2.tar.gz"));
        assert!(!g.matches("dist/release-1.2.tar.gz.sig"));
        assert!(!g.matches("release-1+2.tgz"));
        assert!(
            ArtifactGlob::compile("dist/**")
                .unwrap()
                .matches("dist/a/b.bin")
        );
    }
}
