//! The engine, in two steps:
//!
//! 1. [`Engine::verify_image`] / [`Engine::verify_artifact`]: verify the subject against the
//!    authorities of every policy whose globs match it. The result ([`Verification`]) depends
//!    only on the policy digest, the trust digest and the subject's digest: cache it under
//!    [`Verification::key`]. The registry is read only when an authority needs signatures
//!    (an image matched only by `static` authorities costs no request).
//! 2. [`Engine::decide`]: apply `spec.match` selectors, modes, exceptions and the no-match
//!    policy at one instant ([`EvalContext::now`]). Cheap and pure; never cache it, so that an
//!    exception stops applying at the second it expires.
//!
//! [`Engine::evaluate_image`] and [`Engine::evaluate_artifact`] do both.

use crate::authority::{
    AuthorityMatch, authority_policy, check_artifact_authority, check_image_authority, fail,
    finish_policy, pass,
};
use crate::decision::{
    CacheKey, ExceptionUse, ImageDecision, NoMatchPolicy, PolicyResult, Subject, Verdict,
    Verification,
};
use crate::error::{Location, PolicyError};
use crate::exception::ExceptionSet;
use crate::glob::{GlobError, ImageName};
use crate::load::{AuthorityCheck, CompiledPolicy, MatchSpec, Mode, PolicySet, Target};
use crate::source::SignatureSource;
use crate::trust::Trust;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use vouch_core::bundle::Bundle;
use vouch_oci::Reference;
use vouch_oci::layout::Kind;
use vouch_oci::verify::Found;
use vouch_verify::{Artifact, Verifier};

/// An image named by digest (the engine never verifies a tag: resolve it first).
#[derive(Clone, Debug)]
pub struct ImageRef {
    written: String,
    name: ImageName,
    reference: Reference,
}

/// Why an image reference is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageRefError {
    /// It does not parse.
    #[error(transparent)]
    Parse(#[from] GlobError),
    /// It has no digest.
    #[error(
        "{image} has no digest: resolve the tag to a digest first (policies are evaluated by digest)"
    )]
    NoDigest {
        /// The reference.
        image: String,
    },
}

impl ImageRef {
    /// Parse `registry/repo[:tag]@sha256:…`.
    pub fn parse(image: &str) -> Result<Self, ImageRefError> {
        let name = ImageName::parse(image)?;
        let Some(digest) = name.digest.clone() else {
            return Err(ImageRefError::NoDigest {
                image: image.to_string(),
            });
        };
        Ok(Self::from_parts(image, name, &digest))
    }

    /// `image` (a tag or digest reference) pinned to `digest` (what the tag resolved to).
    pub fn with_digest(image: &str, digest: &str) -> Result<Self, ImageRefError> {
        let mut name = ImageName::parse(image)?;
        name.digest = Some(digest.to_string());
        let check = ImageName::parse(&format!("{}@{digest}", name.repository_name()))?;
        Ok(Self::from_parts(
            image,
            name,
            check.digest.as_deref().unwrap_or(digest),
        ))
    }

    fn from_parts(written: &str, name: ImageName, digest: &str) -> Self {
        // oci-client spells Docker Hub `docker.io`.
        let registry = if name.registry == crate::glob::DOCKER_HUB {
            "docker.io".to_string()
        } else {
            name.registry.clone()
        };
        let reference =
            Reference::with_digest(registry, name.repository.clone(), digest.to_string());
        Self {
            written: written.to_string(),
            name,
            reference,
        }
    }

    /// `sha256:…`.
    pub fn digest(&self) -> &str {
        self.name.digest.as_deref().unwrap_or_default()
    }
    /// `registry/repo@sha256:…` (what globs match).
    pub fn qualified(&self) -> String {
        self.name.qualified()
    }
    /// As written.
    pub fn as_written(&self) -> &str {
        &self.written
    }
    /// The registry reference (by digest).
    pub fn reference(&self) -> &Reference {
        &self.reference
    }
    /// The parsed name.
    pub fn name(&self) -> &ImageName {
        &self.name
    }

    fn subject(&self) -> Subject {
        Subject::Image {
            image: self.qualified(),
            tag: self.name.tag.clone(),
            digest: self.digest().to_string(),
            name: self.name.clone(),
        }
    }
}

/// A Kubernetes resource type (`spec.match` selects on it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceKind {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural resource (`pods`, `deployments`).
    pub resource: String,
}

impl ResourceKind {
    /// From an object's `apiVersion` and `kind`, guessing the plural resource as Kubernetes'
    /// `UnsafeGuessKindToResource` does (what policy-controller matches `spec.match` with):
    /// `apps/v1` + `Deployment` → `apps`, `v1`, `deployments`.
    pub fn from_kind(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        let lower = kind.to_ascii_lowercase();
        let resource = if lower.is_empty() {
            lower
        } else if lower.ends_with('s') {
            format!("{lower}es")
        } else if let Some(stem) = lower.strip_suffix('y') {
            format!("{stem}ies")
        } else {
            format!("{lower}s")
        };
        Self {
            group,
            version,
            resource,
        }
    }
}

/// What a decision depends on besides the verification.
#[derive(Clone, Debug)]
pub struct EvalContext {
    /// The namespace (exceptions are scoped by it); `None` outside Kubernetes.
    pub namespace: Option<String>,
    /// The resource type; `None` outside Kubernetes, where `spec.match` is not consulted and
    /// every policy whose globs match applies.
    pub resource: Option<ResourceKind>,
    /// The resource's labels.
    pub labels: BTreeMap<String, String>,
    /// The decision time (exception expiry is checked against it, to the second).
    pub now: jiff::Timestamp,
}

impl EvalContext {
    /// A context for a gate outside Kubernetes at `now`.
    pub fn cli(now: jiff::Timestamp) -> Self {
        Self {
            namespace: None,
            resource: None,
            labels: BTreeMap::new(),
            now,
        }
    }
}

/// Engine options.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// What to do when no policy matches.
    pub no_match: NoMatchPolicy,
}

/// A file to check against ArtifactPolicies, with its bundles.
#[derive(Clone, Copy, Debug)]
pub struct ArtifactInput<'a> {
    /// Its path or name (globs match it and its file name).
    pub name: &'a str,
    /// Its bytes (or digest).
    pub artifact: Artifact<'a>,
    /// Sigstore bundles: message signatures over it, or DSSE attestations about it.
    pub bundles: &'a [Vec<u8>],
}

/// Per-authority verifiers, parallel to the policies' authorities.
type Verifiers = Vec<Vec<Option<Arc<Verifier>>>>;

/// The policy engine.
pub struct Engine<S> {
    policies: Arc<PolicySet>,
    trust: Arc<Trust>,
    source: S,
    exceptions: Arc<ExceptionSet>,
    options: EngineOptions,
    verifiers: Verifiers,
    witness_policy: Option<vouch_core::tlog_policy::WitnessPolicy>,
}

impl<S> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("policy_digest", &self.policies.digest())
            .field("trust_digest", &self.trust.digest())
            .field("exceptions", &self.exceptions.exceptions.len())
            .finish_non_exhaustive()
    }
}

fn selector_matches(sel: &crate::model::LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    sel.match_labels
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && sel.match_expressions.iter().all(|e| {
            let got = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => got.is_some_and(|g| e.values.contains(g)),
                "NotIn" => got.is_none_or(|g| !e.values.contains(g)),
                "Exists" => got.is_some(),
                "DoesNotExist" => got.is_none(),
                _ => false,
            }
        })
}

fn applies(matches: &[MatchSpec], ctx: &EvalContext) -> bool {
    let Some(r) = &ctx.resource else {
        return true;
    };
    matches.is_empty()
        || matches.iter().any(|m| {
            m.resource == r.resource
                && (m.version == r.version || m.version == "*")
                && m.group == r.group
                && m.selector
                    .as_ref()
                    .is_none_or(|s| selector_matches(s, &ctx.labels))
        })
}

impl<S: SignatureSource> Engine<S> {
    /// Build an engine. Fails when an authority needs a trusted root that is not there
    /// (keyless or key authorities without a default root or their `trustRootRef`), or when a
    /// `ca-cert` does not form a usable root.
    pub fn new(
        policies: Arc<PolicySet>,
        trust: Arc<Trust>,
        source: S,
        exceptions: Arc<ExceptionSet>,
        options: EngineOptions,
    ) -> Result<Self, PolicyError> {
        let mut verifiers = Vec::new();
        for p in policies.policies() {
            let mut per = Vec::new();
            for (i, a) in p.authorities.iter().enumerate() {
                let at = || {
                    Box::new(Location {
                        path: p.path.clone(),
                        kind: match p.target {
                            Target::Images(_) => "ClusterImagePolicy".into(),
                            Target::Artifacts(_) => "ArtifactPolicy".into(),
                        },
                        name: p.name.clone(),
                        field: format!("spec.authorities[{i}]"),
                    })
                };
                let v = match &a.check {
                    AuthorityCheck::Static { .. } => None,
                    check => {
                        let base =
                            trust.verifier(a.trust_root.as_deref()).ok_or_else(|| {
                                match &a.trust_root {
                                    Some(t) => PolicyError::UnknownTrustRoot {
                                        at: at(),
                                        trust_root: t.clone(),
                                    },
                                    None => PolicyError::NoTrustRoot { at: at() },
                                }
                            })?;
                        match check {
                            AuthorityCheck::Keyless {
                                ca_certs: Some(certs),
                                ..
                            } => Some(Arc::new(Trust::with_ca_certs(base, certs)?)),
                            _ => Some(base.clone()),
                        }
                    }
                };
                per.push(v);
            }
            verifiers.push(per);
        }
        Ok(Self {
            policies,
            trust,
            source,
            exceptions,
            options,
            verifiers,
            witness_policy: None,
        })
    }

    /// The loaded policies.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The trust material.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The exceptions.
    pub fn exceptions(&self) -> &ExceptionSet {
        &self.exceptions
    }

    /// The signature source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The cache key of `image`'s verification under this engine.
    pub fn cache_key(&self, image: &ImageRef) -> CacheKey {
        CacheKey {
            policy_digest: self.policies.digest().to_string(),
            trust_digest: self.trust.digest().to_string(),
            subject: image.qualified(),
        }
    }

    fn image_policies<'a>(
        &'a self,
        image: &'a ImageRef,
    ) -> impl Iterator<Item = (usize, &'a CompiledPolicy)> + 'a {
        let qualified = image.qualified();
        let tagged = image
            .name
            .tag
            .as_ref()
            .map(|t| format!("{}:{t}", image.name.repository_name()));
        self.policies
            .policies()
            .iter()
            .enumerate()
            .filter(move |(_, p)| match &p.target {
                Target::Images(globs) => globs.iter().any(|g| {
                    g.matches_qualified(&qualified, image.as_written())
                        || tagged.as_ref().is_some_and(|t| g.matches_qualified(t, t))
                }),
                Target::Artifacts(_) => false,
            })
    }

    /// Verify `image` against every policy whose globs match it (cacheable; see the module
    /// docs). Registry failures become authority failures, never a hang or a silent pass.
    pub async fn verify_image(&self, image: &ImageRef) -> Verification {
        let mut found: HashMap<(String, bool), Result<Vec<Found>, String>> = HashMap::new();
        let mut results = Vec::new();
        let shown = image.qualified();
        for (pi, p) in self.image_policies(image) {
            let mut outcomes = Vec::new();
            for (ai, a) in p.authorities.iter().enumerate() {
                let outcome = match &a.check {
                    AuthorityCheck::Static { pass: true, .. } => pass(
                        &a.name,
                        vec!["static".into()],
                        AuthorityMatch {
                            static_: true,
                            ..Default::default()
                        },
                    ),
                    AuthorityCheck::Static {
                        pass: false,
                        message,
                    } => fail(
                        &a.name,
                        format!(
                            "disallowed by static policy{}",
                            if message.is_empty() {
                                String::new()
                            } else {
                                format!(": {message}")
                            }
                        ),
                    ),
                    _ => {
                        let (Some(verifier), Some(policy)) =
                            (self.verifiers[pi][ai].as_deref(), self.authority_policy(a))
                        else {
                            outcomes.push(fail(&a.name, "no verifier for this authority".into()));
                            continue;
                        };
                        let where_ = match &a.source_repository {
                            Some(repo) => {
                                let (reg, path) =
                                    repo.split_once('/').unwrap_or((repo.as_str(), ""));
                                // oci-client spells Docker Hub `docker.io`.
                                let reg = if reg == crate::glob::DOCKER_HUB {
                                    "docker.io"
                                } else {
                                    reg
                                };
                                Reference::with_digest(
                                    reg.to_string(),
                                    path.to_string(),
                                    image.digest().to_string(),
                                )
                            }
                            None => image.reference().clone(),
                        };
                        let kind = if a.attestations.is_empty() {
                            Kind::Signature
                        } else {
                            Kind::Attestation
                        };
                        let key = (where_.whole(), kind == Kind::Attestation);
                        if !found.contains_key(&key) {
                            let got = self
                                .source
                                .discover(&where_, kind)
                                .await
                                .map_err(|e| e.to_string());
                            found.insert(key.clone(), got);
                        }
                        let list = found.get(&key).cloned().unwrap_or_else(|| Ok(Vec::new()));
                        check_image_authority(a, verifier, &policy, image, &where_, kind, list)
                    }
                };
                outcomes.push(outcome);
            }
            results.push(finish_policy(p, outcomes, &shown));
        }
        Verification {
            subject: image.subject(),
            key: self.cache_key(image),
            policies: results,
            verified_at: jiff::Timestamp::now(),
        }
    }

    /// Verify a file against every ArtifactPolicy whose globs match its name (pure: the
    /// bundles are given).
    pub fn verify_artifact(&self, input: &ArtifactInput<'_>) -> Verification {
        let digest = match input.artifact {
            Artifact::Bytes(b) => format!(
                "sha256:{}",
                hex::encode(vouch_core::keys::HashKind::Sha256.digest(b))
            ),
            Artifact::Digest { algorithm, digest } => {
                format!("{}:{}", algorithm.name(), hex::encode(digest))
            }
        };
        let bundles: Vec<Result<Bundle, String>> = input
            .bundles
            .iter()
            .map(|b| Bundle::from_json(b).map_err(|e| e.to_string()))
            .collect();
        let mut results = Vec::new();
        for (pi, p) in self.policies.policies().iter().enumerate() {
            let Target::Artifacts(globs) = &p.target else {
                continue;
            };
            if !globs.iter().any(|g| g.matches(input.name)) {
                continue;
            }
            let mut outcomes = Vec::new();
            for (ai, a) in p.authorities.iter().enumerate() {
                let outcome = match &a.check {
                    AuthorityCheck::Static { pass: true, .. } => pass(
                        &a.name,
                        vec!["static".into()],
                        AuthorityMatch {
                            static_: true,
                            ..Default::default()
                        },
                    ),
                    AuthorityCheck::Static {
                        pass: false,
                        message,
                    } => fail(&a.name, format!("disallowed by static policy: {message}")),
                    _ => match (self.verifiers[pi][ai].as_deref(), self.authority_policy(a)) {
                        (Some(v), Some(policy)) => {
                            check_artifact_authority(a, v, &policy, input, &bundles)
                        }
                        _ => fail(&a.name, "no verifier for this authority".into()),
                    },
                };
                outcomes.push(outcome);
            }
            results.push(finish_policy(p, outcomes, input.name));
        }
        Verification {
            subject: Subject::Artifact {
                name: input.name.to_string(),
                digest: digest.clone(),
            },
            key: CacheKey {
                policy_digest: self.policies.digest().to_string(),
                trust_digest: self.trust.digest().to_string(),
                subject: digest,
            },
            policies: results,
            verified_at: jiff::Timestamp::now(),
        }
    }

    /// Decide at `ctx.now` from a (possibly cached) verification: `spec.match`, modes,
    /// exceptions, no-match. Never cache the result.
    pub fn decide(&self, v: &Verification, ctx: &EvalContext) -> ImageDecision {
        self.decide_with(v, ctx, &self.exceptions)
    }

    /// Require every transparency log checkpoint a signature relies on to carry the witness
    /// quorum of `policy` (C2SP tlog-policy), for every authority.
    pub fn with_witness_policy(mut self, policy: vouch_core::tlog_policy::WitnessPolicy) -> Self {
        self.witness_policy = Some(policy);
        self
    }

    /// The verification policy of authority `a`, with the engine's witness policy.
    fn authority_policy(&self, a: &crate::load::AuthoritySpec) -> Option<vouch_verify::Policy> {
        let mut p = authority_policy(a)?;
        p.witness_policy.clone_from(&self.witness_policy);
        Some(p)
    }

    /// Replace the exceptions (e.g. after the exceptions directory changed); verifications
    /// stay valid, since exceptions only enter decisions.
    pub fn with_exceptions(mut self, exceptions: Arc<ExceptionSet>) -> Self {
        self.exceptions = exceptions;
        self
    }

    /// [`Engine::decide`] with another exception set (for callers that reload exceptions
    /// without rebuilding the engine).
    pub fn decide_with(
        &self,
        v: &Verification,
        ctx: &EvalContext,
        exceptions: &ExceptionSet,
    ) -> ImageDecision {
        let subject = v.subject.display();
        let applied: Vec<PolicyResult> = v
            .policies
            .iter()
            .filter(|p| applies(&p.matches, ctx))
            .cloned()
            .collect();
        let mut warnings = Vec::new();
        let mut denials = Vec::new();
        let mut used = Vec::new();
        let mut annotations = BTreeMap::new();
        if applied.is_empty() {
            let msg = format!("{subject}: no matching policies");
            match self.options.no_match {
                NoMatchPolicy::Allow => {}
                NoMatchPolicy::Warn => warnings.push(msg),
                NoMatchPolicy::Deny => denials.push(msg),
            }
        }
        for p in &applied {
            warnings.extend(p.warnings.iter().cloned());
            if p.passed {
                continue;
            }
            let reason = format!(
                "{subject}: policy {}: {}",
                p.name,
                p.error.as_deref().unwrap_or("failed")
            );
            if p.mode == Mode::Warn {
                warnings.push(format!("{reason} (warn mode)"));
                continue;
            }
            match exceptions.find(&v.subject, ctx.namespace.as_deref(), &p.name, ctx.now) {
                Some(e) => {
                    warnings.push(format!(
                        "{reason}; allowed by exception {} (approved by {}, ticket {}, expires {})",
                        e.id, e.approver, e.predicate.ticket, e.predicate.expires
                    ));
                    annotations.insert(
                        format!("exception-{}", used.len()),
                        format!(
                            "{} policy={} approver={} ticket={} expires={}",
                            e.id, p.name, e.approver, e.predicate.ticket, e.predicate.expires
                        ),
                    );
                    used.push(ExceptionUse::of(e, &p.name));
                }
                None => {
                    let expired: Vec<String> = exceptions
                        .matching(&v.subject, ctx.namespace.as_deref(), &p.name)
                        .map(|e| format!("{} expired at {}", e.id, e.predicate.expires))
                        .collect();
                    if expired.is_empty() {
                        denials.push(reason);
                    } else {
                        denials.push(format!("{reason} (exception {})", expired.join(", ")));
                    }
                }
            }
        }
        let verdict = if !denials.is_empty() {
            Verdict::Deny
        } else if !warnings.is_empty() {
            Verdict::Warn
        } else {
            Verdict::Allow
        };
        annotations.insert("policy-digest".into(), v.key.policy_digest.clone());
        ImageDecision {
            subject: v.subject.clone(),
            verdict,
            policies: applied,
            warnings,
            denials,
            exceptions_used: used,
            audit_annotations: annotations,
        }
    }

    /// Verify and decide.
    pub async fn evaluate_image(&self, image: &ImageRef, ctx: &EvalContext) -> ImageDecision {
        let v = self.verify_image(image).await;
        self.decide(&v, ctx)
    }

    /// Verify and decide for a file.
    pub fn evaluate_artifact(&self, input: &ArtifactInput<'_>, ctx: &EvalContext) -> ImageDecision {
        let v = self.verify_artifact(input);
        self.decide(&v, ctx)
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
