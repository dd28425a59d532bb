//! Validating documents as policy-controller's admission validation does, and compiling them.
//! Every error names the file, the document and the field.

use crate::compiled::{
    ArtifactGlob, AttestationSpec, AuthorityCheck, AuthoritySpec, CompiledPolicy, MatchSpec, Mode,
    Target, TrustRootEntry,
};
use crate::error::{Location, PolicyError};
use crate::glob::ImageGlob;
use crate::load::loc;
use crate::model::{ArtifactPolicyDoc, Authority, ClusterImagePolicy, PolicyBody, TrustRootDoc};
use crate::rego::RegoPolicy;
use regex::Regex;
use std::path::Path;
use vouch_core::keys::PublicKey;
use vouch_oci::sign::Layout;
use vouch_verify::{IdentityPolicy, Matcher};

/// Resources `spec.match[].resource` may name: policy-controller's webhook set, plus
/// `replicationcontrollers` (vouch's webhook admits them too).
pub const MATCH_RESOURCES: &[&str] = &[
    "replicasets",
    "deployments",
    "pods",
    "cronjobs",
    "jobs",
    "statefulsets",
    "daemonsets",
    "replicationcontrollers",
];

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

pub(crate) fn compile_cip(
    path: &Path,
    d: &ClusterImagePolicy,
) -> Result<CompiledPolicy, PolicyError> {
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
        if !m.resource.is_empty() && !MATCH_RESOURCES.contains(&m.resource.as_str()) {
            return Err(PolicyError::Invalid {
                at: at(&format!("spec.match[{i}].resource")),
                reason: format!(
                    "unsupported resource name {:?}: expected one of {}",
                    m.resource,
                    MATCH_RESOURCES.join(", ")
                ),
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

pub(crate) fn compile_artifact(
    path: &Path,
    d: &ArtifactPolicyDoc,
) -> Result<CompiledPolicy, PolicyError> {
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

pub(crate) fn validate_trust_root(
    path: &Path,
    d: TrustRootDoc,
) -> Result<TrustRootEntry, PolicyError> {
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
            PolicyError::TrustRoot { source, .. } => PolicyError::TrustRootDoc {
                at: at("spec.sigstoreKeys"),
                source,
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
