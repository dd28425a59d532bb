//! Checking one authority: signatures or attestations found for a subject, verified with the
//! authority's policy, attestation Rego policies, and the per-policy finish (threshold, then the
//! CIP-level policy over policy-controller's `authorityMatches` input).

use crate::decision::{AuthorityResult, PolicyResult};
use crate::engine::{ArtifactInput, ImageRef};
use crate::load::{AuthorityCheck, AuthoritySpec, CompiledPolicy};
use crate::rego::RegoOutcome;
use serde::Serialize;
use std::collections::BTreeMap;
use vouch_core::bundle::{Bundle, Content};
use vouch_oci::Reference;
use vouch_oci::layout::Kind;
use vouch_oci::verify::{Found, Verified, verify_found_with};
use vouch_verify::{Policy, SignerPolicy, VerificationResult, Verifier};

/// Signature-policy-controller's `authorityMatches` input for the CIP-level policy.
#[derive(Serialize)]
pub(crate) struct PolicyInput {
    #[serde(rename = "authorityMatches")]
    pub(crate) authority_matches: BTreeMap<String, AuthorityMatch>,
}

#[derive(Serialize, Default, Clone)]
pub(crate) struct AuthorityMatch {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) signatures: Vec<PolicySignature>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) attestations: BTreeMap<String, Vec<PolicyAttestation>>,
    #[serde(rename = "static", skip_serializing_if = "std::ops::Not::not")]
    pub(crate) static_: bool,
}

#[derive(Serialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicySignature {
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
pub(crate) struct PolicyAttestation {
    #[serde(flatten)]
    signature: PolicySignature,
    #[serde(skip_serializing_if = "String::is_empty")]
    predicate_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    digest: String,
}

pub(crate) fn policy_signature(id: String, r: &VerificationResult) -> PolicySignature {
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

pub(crate) fn signer_of(r: &VerificationResult) -> String {
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
pub(crate) fn authority_policy(a: &AuthoritySpec) -> Option<Policy> {
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
        witness_policy: None,
    })
}

/// Pick the most telling failure: one about a signature made the way the authority asks
/// (certificate vs key) before "signed the other way" mismatches.
pub(crate) fn most_telling(failures: &[String]) -> String {
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

pub(crate) struct AuthorityOutcome {
    pub(crate) result: AuthorityResult,
    pub(crate) matched: Option<AuthorityMatch>,
}

pub(crate) fn fail(name: &str, error: String) -> AuthorityOutcome {
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

pub(crate) fn pass(name: &str, signers: Vec<String>, matched: AuthorityMatch) -> AuthorityOutcome {
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
pub(crate) type AttestationMatches = BTreeMap<String, Vec<PolicyAttestation>>;

/// A verified attestation (statement and signer) with where it was found.
pub(crate) struct VerifiedAttestation {
    pub(crate) location: String,
    pub(crate) result: VerificationResult,
}

/// Check `attestations[]` of an authority against verified attestations.
pub(crate) fn check_attestations(
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
pub(crate) fn finish_policy(
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

#[allow(clippy::too_many_arguments)]
pub(crate) fn check_image_authority(
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
    let all = list.len();
    let list: Vec<&Found> = list
        .iter()
        .filter(|f| a.layout.is_none_or(|l| l == f.layout))
        .collect();
    if list.is_empty() && all > 0 {
        return fail(
            &a.name,
            format!(
                "no {what}s in the {} layout for {}@{} (signatureFormat); {all} in the other layout",
                a.layout.map(|l| l.name()).unwrap_or_default(),
                where_.repository(),
                image.digest()
            ),
        );
    }
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

pub(crate) fn check_artifact_authority(
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
