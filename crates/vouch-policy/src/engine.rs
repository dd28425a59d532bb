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

use crate::decision::{
    AuthorityResult, CacheKey, ExceptionUse, ImageDecision, NoMatchPolicy, PolicyResult, Subject,
    Verdict, Verification,
};
use crate::error::{Location, PolicyError};
use crate::exception::ExceptionSet;
use crate::glob::{GlobError, ImageName};
use crate::load::{
    AuthorityCheck, AuthoritySpec, CompiledPolicy, MatchSpec, Mode, PolicySet, Target,
};
use crate::rego::RegoOutcome;
use crate::source::SignatureSource;
use crate::trust::Trust;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use vouch_core::bundle::{Bundle, Content};
use vouch_oci::Reference;
use vouch_oci::layout::Kind;
use vouch_oci::verify::{Found, Verified, verify_found_with};
use vouch_verify::{Artifact, Policy, SignerPolicy, VerificationResult, Verifier};

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

/// Signature-policy-controller's `authorityMatches` input for the CIP-level policy.
#[derive(Serialize)]
struct PolicyInput {
    #[serde(rename = "authorityMatches")]
    authority_matches: BTreeMap<String, AuthorityMatch>,
}

#[derive(Serialize, Default, Clone)]
struct AuthorityMatch {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signatures: Vec<PolicySignature>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attestations: BTreeMap<String, Vec<PolicyAttestation>>,
    #[serde(rename = "static", skip_serializing_if = "std::ops::Not::not")]
    static_: bool,
}

#[derive(Serialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct PolicySignature {
    #[serde(skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    issuer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    github_workflow_trigger: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    github_workflow_sha: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    github_workflow_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    github_workflow_repo: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    github_workflow_ref: String,
}

#[derive(Serialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct PolicyAttestation {
    #[serde(flatten)]
    signature: PolicySignature,
    #[serde(skip_serializing_if = "String::is_empty")]
    predicate_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    digest: String,
}

fn policy_signature(id: String, r: &VerificationResult) -> PolicySignature {
    let mut s = PolicySignature {
        id,
        ..Default::default()
    };
    if let Some(ident) = &r.identity {
        let ext = |arc| ident.extensions.get(&arc).cloned().unwrap_or_default();
        s.subject = ident.san.clone().unwrap_or_default();
        s.issuer = ident.issuer.clone().unwrap_or_default();
        s.github_workflow_trigger = ext(2);
        s.github_workflow_sha = ext(3);
        s.github_workflow_name = ext(4);
        s.github_workflow_repo = ext(5);
        s.github_workflow_ref = ext(6);
    }
    s
}

fn signer_of(r: &VerificationResult) -> String {
    match &r.identity {
        Some(id) => format!(
            "{} (issuer {})",
            id.san.as_deref().unwrap_or("?"),
            id.issuer.as_deref().unwrap_or("?")
        ),
        None => format!("{} key", r.key),
    }
}

/// The verification policy an authority implies.
fn authority_policy(a: &AuthoritySpec) -> Option<Policy> {
    let (signer, keyless, ignore_sct) = match &a.check {
        AuthorityCheck::Key { key } => (SignerPolicy::Key(key.clone()), false, true),
        AuthorityCheck::Keyless {
            identities,
            insecure_ignore_sct,
            ..
        } => (
            SignerPolicy::Identities(identities.clone()),
            true,
            *insecure_ignore_sct,
        ),
        AuthorityCheck::Static { .. } => return None,
    };
    Some(Policy {
        signer,
        tlog_threshold: 1,
        require_sct: keyless && !ignore_sct,
        signed_timestamp_threshold: usize::from(a.require_signed_timestamp),
        observer_threshold: usize::from(keyless),
        predicate_type: None,
    })
}

/// Pick the most telling failure: one about a signature made the way the authority asks
/// (certificate vs key) before "signed the other way" mismatches.
fn most_telling(failures: &[String]) -> String {
    let other_way = |f: &&String| {
        f.contains("not a certificate: verify it with --key")
            || f.contains("verification was asked with --key")
    };
    failures
        .iter()
        .find(|f| !other_way(f))
        .or(failures.first())
        .cloned()
        .unwrap_or_default()
}

struct AuthorityOutcome {
    result: AuthorityResult,
    matched: Option<AuthorityMatch>,
}

fn fail(name: &str, error: String) -> AuthorityOutcome {
    AuthorityOutcome {
        result: AuthorityResult {
            name: name.to_string(),
            passed: false,
            error: Some(error),
            signers: Vec::new(),
        },
        matched: None,
    }
}

fn pass(name: &str, signers: Vec<String>, matched: AuthorityMatch) -> AuthorityOutcome {
    AuthorityOutcome {
        result: AuthorityResult {
            name: name.to_string(),
            passed: true,
            error: None,
            signers,
        },
        matched: Some(matched),
    }
}

/// Verified attestations by `attestations[].name`.
type AttestationMatches = BTreeMap<String, Vec<PolicyAttestation>>;

/// A verified attestation (statement and signer) with where it was found.
struct VerifiedAttestation {
    location: String,
    result: VerificationResult,
}

/// Check `attestations[]` of an authority against verified attestations.
fn check_attestations(
    a: &AuthoritySpec,
    verified: &[VerifiedAttestation],
    subject: &str,
) -> Result<(Vec<String>, AttestationMatches), String> {
    let mut out = BTreeMap::new();
    let mut signers = Vec::new();
    for want in &a.attestations {
        let candidates: Vec<&VerifiedAttestation> = verified
            .iter()
            .filter(|v| v.result.predicate_type.as_deref() == Some(want.predicate_type.as_str()))
            .collect();
        if candidates.is_empty() {
            let mut types: Vec<&str> = verified
                .iter()
                .filter_map(|v| v.result.predicate_type.as_deref())
                .collect();
            types.sort();
            types.dedup();
            return Err(format!(
                "attestation {:?}: no verified attestation of type {} for {subject} (verified types: {})",
                want.name,
                want.predicate_type,
                if types.is_empty() {
                    "none".to_string()
                } else {
                    types.join(", ")
                }
            ));
        }
        let mut passed = Vec::new();
        let mut first_denial = None;
        for c in candidates {
            if let Some(p) = &want.policy {
                let statement = c.result.statement.clone().unwrap_or_default();
                if let RegoOutcome::NotCompliant { reason } = p.evaluate(&statement) {
                    first_denial
                        .get_or_insert_with(|| format!("{} [{}]: {reason}", c.location, p.name()));
                    continue;
                }
            }
            signers.push(signer_of(&c.result));
            passed.push(PolicyAttestation {
                signature: policy_signature(c.location.clone(), &c.result),
                predicate_type: want.predicate_type.clone(),
                digest: String::new(),
            });
        }
        if passed.is_empty() {
            return Err(format!(
                "attestation {:?} ({}): Rego policy denied: {}",
                want.name,
                want.predicate_type,
                first_denial.unwrap_or_default()
            ));
        }
        out.insert(want.name.clone(), passed);
    }
    signers.sort();
    signers.dedup();
    Ok((signers, out))
}

/// Finish a policy from its authority outcomes: threshold, then the CIP-level policy.
fn finish_policy(
    p: &CompiledPolicy,
    outcomes: Vec<AuthorityOutcome>,
    subject: &str,
) -> PolicyResult {
    let passed_count = outcomes.iter().filter(|o| o.result.passed).count();
    let mut matches = BTreeMap::new();
    for o in &outcomes {
        if let Some(m) = &o.matched {
            matches.insert(o.result.name.clone(), m.clone());
        }
    }
    let authorities: Vec<AuthorityResult> = outcomes.into_iter().map(|o| o.result).collect();
    let mut warnings = Vec::new();
    let failed_list = || {
        authorities
            .iter()
            .filter(|a| !a.passed)
            .map(|a| {
                format!(
                    "authority {}: {}",
                    a.name,
                    a.error.as_deref().unwrap_or("failed")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let error = if passed_count < p.threshold {
        Some(if p.threshold > 1 {
            format!(
                "{passed_count} of {} authorities passed, threshold is {}: {}",
                authorities.len(),
                p.threshold,
                failed_list()
            )
        } else {
            failed_list()
        })
    } else if let Some(rego) = &p.policy {
        match rego.evaluate(&PolicyInput {
            authority_matches: matches,
        }) {
            RegoOutcome::Compliant { warning } => {
                warnings.extend(warning.map(|w| format!("{subject}: policy {}: {w}", p.name)));
                None
            }
            RegoOutcome::NotCompliant { reason } => {
                Some(format!("spec.policy (Rego) denied: {reason}"))
            }
        }
    } else {
        None
    };
    PolicyResult {
        name: p.name.clone(),
        mode: p.mode,
        passed: error.is_none(),
        authorities,
        error,
        warnings,
        matches: p.matches.clone(),
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
                            (self.verifiers[pi][ai].as_deref(), authority_policy(a))
                        else {
                            outcomes.push(fail(&a.name, "no verifier for this authority".into()));
                            continue;
                        };
                        let where_ = match &a.source_repository {
                            Some(repo) => {
                                let (reg, path) =
                                    repo.split_once('/').unwrap_or((repo.as_str(), ""));
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
                        self.check_image_authority(a, verifier, &policy, image, &where_, kind, list)
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

    #[allow(clippy::too_many_arguments)]
    fn check_image_authority(
        &self,
        a: &AuthoritySpec,
        verifier: &Verifier,
        policy: &Policy,
        image: &ImageRef,
        where_: &Reference,
        kind: Kind,
        list: Result<Vec<Found>, String>,
    ) -> AuthorityOutcome {
        let what = match kind {
            Kind::Signature => "signature",
            Kind::Attestation => "attestation",
        };
        let list = match list {
            Ok(l) => l,
            Err(e) => {
                return fail(
                    &a.name,
                    format!("cannot read {what}s from the registry: {e}"),
                );
            }
        };
        let list: Vec<&Found> = list
            .iter()
            .filter(|f| a.layout.is_none_or(|l| l == f.layout))
            .collect();
        if list.is_empty() {
            return fail(
                &a.name,
                format!(
                    "no {what}s found for {}@{} (looked for OCI referrers and tag {})",
                    where_.repository(),
                    image.digest(),
                    vouch_oci::layout::legacy_tag(image.digest(), kind)
                ),
            );
        }
        let mut ok: Vec<Verified> = Vec::new();
        let mut failures = Vec::new();
        for f in &list {
            match verify_found_with(verifier, policy, image.digest(), f, None) {
                Ok(v) => ok.push(v),
                Err(e) => failures.push(format!("{} [{}]: {e}", f.location(), f.layout.name())),
            }
        }
        if ok.is_empty() {
            return fail(
                &a.name,
                format!(
                    "none of the {} {what}(s) verified: {}",
                    list.len(),
                    most_telling(&failures)
                ),
            );
        }
        match kind {
            Kind::Signature => {
                let mut signers: Vec<String> = ok.iter().map(|v| signer_of(&v.result)).collect();
                signers.sort();
                signers.dedup();
                let signatures = ok
                    .iter()
                    .map(|v| policy_signature(v.location.clone(), &v.result))
                    .collect();
                pass(
                    &a.name,
                    signers,
                    AuthorityMatch {
                        signatures,
                        ..Default::default()
                    },
                )
            }
            Kind::Attestation => {
                let verified: Vec<VerifiedAttestation> = ok
                    .into_iter()
                    .map(|v| VerifiedAttestation {
                        location: v.location,
                        result: v.result,
                    })
                    .collect();
                match check_attestations(a, &verified, &image.qualified()) {
                    Ok((signers, attestations)) => pass(
                        &a.name,
                        signers,
                        AuthorityMatch {
                            attestations,
                            ..Default::default()
                        },
                    ),
                    Err(e) => fail(&a.name, e),
                }
            }
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
                    _ => match (self.verifiers[pi][ai].as_deref(), authority_policy(a)) {
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
            match self
                .exceptions
                .find(&v.subject, ctx.namespace.as_deref(), &p.name, ctx.now)
            {
                Some(e) => {
                    warnings.push(format!(
                        "{reason}; allowed by exception {} (approved by {}, ticket {}, expires {})",
                        e.id, e.approver, e.predicate.ticket, e.predicate.expires
                    ));
                    annotations.insert(
                        format!("vouch.dev/exception.{}", used.len()),
                        format!(
                            "{} policy={} approver={} ticket={} expires={}",
                            e.id, p.name, e.approver, e.predicate.ticket, e.predicate.expires
                        ),
                    );
                    used.push(ExceptionUse {
                        id: e.id.clone(),
                        file: e.file.display().to_string(),
                        policy: p.name.clone(),
                        approver: e.approver.clone(),
                        ticket: e.predicate.ticket.clone(),
                        reason: e.predicate.reason.clone(),
                        expires: e.predicate.expires.clone(),
                    });
                }
                None => {
                    let expired: Vec<String> = self
                        .exceptions
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
        annotations.insert(
            "vouch.dev/policy-digest".into(),
            v.key.policy_digest.clone(),
        );
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

fn check_artifact_authority(
    a: &AuthoritySpec,
    verifier: &Verifier,
    policy: &Policy,
    input: &ArtifactInput<'_>,
    bundles: &[Result<Bundle, String>],
) -> AuthorityOutcome {
    let want_dsse = !a.attestations.is_empty();
    let what = if want_dsse {
        "attestation"
    } else {
        "signature"
    };
    let mut failures = Vec::new();
    let mut ok = Vec::new();
    let mut considered = 0usize;
    for (i, b) in bundles.iter().enumerate() {
        let location = format!("bundle {}", i + 1);
        let b = match b {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{location}: {e}"));
                continue;
            }
        };
        let is_dsse = matches!(b.content(), Some(Content::Dsse(_)));
        if is_dsse != want_dsse {
            continue;
        }
        considered += 1;
        match verifier.verify(b, input.artifact, policy) {
            Ok(r) => ok.push(VerifiedAttestation {
                location,
                result: r,
            }),
            Err(e) => failures.push(format!("{location}: {e}")),
        }
    }
    if ok.is_empty() {
        return fail(
            &a.name,
            if considered == 0 && failures.is_empty() {
                format!("no {what} bundle given for {}", input.name)
            } else {
                format!(
                    "none of the {what} bundles verified: {}",
                    most_telling(&failures)
                )
            },
        );
    }
    if want_dsse {
        return match check_attestations(a, &ok, input.name) {
            Ok((signers, attestations)) => pass(
                &a.name,
                signers,
                AuthorityMatch {
                    attestations,
                    ..Default::default()
                },
            ),
            Err(e) => fail(&a.name, e),
        };
    }
    let mut signers: Vec<String> = ok.iter().map(|v| signer_of(&v.result)).collect();
    signers.sort();
    signers.dedup();
    let signatures = ok
        .iter()
        .map(|v| policy_signature(v.location.clone(), &v.result))
        .collect();
    pass(
        &a.name,
        signers,
        AuthorityMatch {
            signatures,
            ..Default::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SignatureSource;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts discover calls: a policy of static authorities must not read the registry.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl SignatureSource for Counting {
        async fn discover(
            &self,
            _image: &Reference,
            _kind: Kind,
        ) -> Result<Vec<Found>, vouch_oci::OciError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }
    }

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn engine(yaml: &str, no_match: NoMatchPolicy) -> Engine<Counting> {
        let set = PolicySet::from_yaml(Path::new("t.yaml"), yaml).unwrap();
        Engine::new(
            Arc::new(set),
            Arc::new(Trust::new(None)),
            Counting::default(),
            Arc::new(ExceptionSet::none()),
            EngineOptions { no_match },
        )
        .unwrap()
    }

    fn cip(name: &str, glob: &str, extra: &str, action: &str) -> String {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n{extra}  authorities:\n  - static:\n      action: {action}\n      message: frozen\n---\n"
        )
    }

    fn decide(e: &Engine<Counting>, image: &str, ctx: &EvalContext) -> ImageDecision {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let img = ImageRef::parse(&format!("{image}@{DIGEST}")).unwrap();
        rt.block_on(e.evaluate_image(&img, ctx))
    }

    #[test]
    fn static_policies_modes_and_no_match() {
        let yaml = format!(
            "{}{}{}",
            cip("open", "reg.local/open/**", "", "pass"),
            cip("frozen", "reg.local/frozen/**", "", "fail"),
            cip("soft", "reg.local/soft/**", "  mode: warn\n", "fail"),
        );
        let e = engine(&yaml, NoMatchPolicy::Deny);
        let ctx = EvalContext::cli(jiff::Timestamp::now());
        assert_eq!(
            decide(&e, "reg.local/open/app", &ctx).verdict,
            Verdict::Allow
        );
        let d = decide(&e, "reg.local/frozen/app", &ctx);
        assert_eq!(d.verdict, Verdict::Deny);
        assert!(
            d.message().contains("policy frozen")
                && d.message().contains("disallowed by static policy: frozen"),
            "{}",
            d.message()
        );
        assert!(
            d.message()
                .contains(&format!("reg.local/frozen/app@{DIGEST}")),
            "{}",
            d.message()
        );
        let d = decide(&e, "reg.local/soft/app", &ctx);
        assert_eq!(d.verdict, Verdict::Warn, "{d:?}");
        let d = decide(&e, "reg.local/none/app", &ctx);
        assert_eq!(d.verdict, Verdict::Deny);
        assert!(d.message().contains("no matching policies"));
        assert_eq!(
            e.source().0.load(Ordering::SeqCst),
            0,
            "static policies read the registry"
        );
        for (nm, want) in [
            (NoMatchPolicy::Allow, Verdict::Allow),
            (NoMatchPolicy::Warn, Verdict::Warn),
        ] {
            let e = engine(&yaml, nm);
            assert_eq!(decide(&e, "reg.local/none/app", &ctx).verdict, want);
        }
    }

    #[test]
    fn every_matching_policy_must_pass_and_threshold_counts_authorities() {
        let yaml = format!(
            "{}{}",
            cip("a", "reg.local/**", "", "pass"),
            cip("b", "reg.local/app/*", "", "fail")
        );
        let e = engine(&yaml, NoMatchPolicy::Deny);
        let ctx = EvalContext::cli(jiff::Timestamp::now());
        assert_eq!(decide(&e, "reg.local/app/x", &ctx).verdict, Verdict::Deny);
        assert_eq!(
            decide(&e, "reg.local/other/x", &ctx).verdict,
            Verdict::Allow
        );
        let two = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: dual\nspec:\n  images:\n  - glob: \"**\"\n  threshold: 2\n  authorities:\n  - static: {action: pass}\n  - static: {action: fail}\n";
        let e = engine(two, NoMatchPolicy::Deny);
        let d = decide(&e, "reg.local/app/x", &ctx);
        assert_eq!(d.verdict, Verdict::Deny);
        assert!(
            d.message()
                .contains("1 of 2 authorities passed, threshold is 2"),
            "{}",
            d.message()
        );
        let e = engine(&two.replace("  threshold: 2\n", ""), NoMatchPolicy::Deny);
        assert_eq!(decide(&e, "reg.local/app/x", &ctx).verdict, Verdict::Allow);
    }

    #[test]
    fn match_selectors_apply_at_decision_time() {
        let extra = "  match:\n  - group: apps\n    version: v1\n    resource: deployments\n    selector:\n      matchLabels:\n        tier: prod\n";
        let e = engine(&cip("prod-only", "**", extra, "fail"), NoMatchPolicy::Allow);
        let img = ImageRef::parse(&format!("reg.local/app@{DIGEST}")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let v = rt.block_on(e.verify_image(&img));
        let mut ctx = EvalContext::cli(jiff::Timestamp::now());
        // Outside Kubernetes `match` is not consulted: the policy applies.
        assert_eq!(e.decide(&v, &ctx).verdict, Verdict::Deny);
        ctx.resource = Some(ResourceKind {
            group: "apps".into(),
            version: "v1".into(),
            resource: "deployments".into(),
        });
        assert_eq!(e.decide(&v, &ctx).verdict, Verdict::Allow, "no prod label");
        ctx.labels.insert("tier".into(), "prod".into());
        assert_eq!(e.decide(&v, &ctx).verdict, Verdict::Deny);
        ctx.resource = Some(ResourceKind {
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
        });
        assert_eq!(
            e.decide(&v, &ctx).verdict,
            Verdict::Allow,
            "another resource"
        );
    }

    /// The webhook shares one engine between tasks and spawns verifications.
    #[test]
    fn engine_and_verification_futures_are_send() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Engine<crate::OciSource>>();
        send_sync::<Verification>();
        fn send<T: Send>(_: &T) {}
        let e = engine(&cip("a", "**", "", "pass"), NoMatchPolicy::Deny);
        let img = ImageRef::parse(&format!("reg.local/app@{DIGEST}")).unwrap();
        let fut = e.verify_image(&img);
        send(&fut);
        let reg = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        let set = Arc::new(
            PolicySet::from_yaml(Path::new("t.yaml"), &cip("a", "**", "", "pass")).unwrap(),
        );
        let oci = Engine::new(
            set,
            Arc::new(Trust::new(None)),
            crate::OciSource::new(reg),
            Arc::new(ExceptionSet::none()),
            EngineOptions::default(),
        )
        .unwrap();
        send(&oci.verify_image(&img));
    }

    #[test]
    fn image_refs_need_a_digest() {
        assert!(matches!(
            ImageRef::parse("reg.local/app:v1"),
            Err(ImageRefError::NoDigest { .. })
        ));
        let r = ImageRef::with_digest("reg.local/app:v1", DIGEST).unwrap();
        assert_eq!(r.qualified(), format!("reg.local/app@{DIGEST}"));
        assert!(ImageRef::with_digest("reg.local/app:v1", "sha256:12").is_err());
    }
}
