//! Per-artifact facts: which evidence was found, whether each piece verifies (offline, against
//! the trusted root, with any identity so that the signer can be named), what it is bound to,
//! and what the policy engine decided.

use serde::Serialize;
use vouch_core::bundle::{Bundle, Content, Material};
use vouch_core::intoto::Statement;
use vouch_core::keys::{HashKind, PublicKey};
use vouch_oci::layout::{COSIGN_SIGN_PREDICATE, Kind};
use vouch_oci::verify::{Evidence, Found, verify_found_with};
use vouch_policy::{ImageDecision, Verdict};
use vouch_verify::{Artifact, Policy, PolicyBuilder, VerificationResult, Verifier};

/// SLSA provenance predicate types (v1 and v0.2).
pub const PROVENANCE_TYPES: [&str; 2] = [
    "https://slsa.dev/provenance/v1",
    "https://slsa.dev/provenance/v0.2",
];

/// True for an SBOM predicate type (SPDX or CycloneDX, any version).
pub fn is_sbom(predicate_type: &str) -> bool {
    predicate_type.starts_with("https://spdx.dev/Document")
        || predicate_type.starts_with("https://cyclonedx.org/bom")
}

/// Signature or attestation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceKind {
    /// A signature over the artifact.
    Signature,
    /// An in-toto attestation (DSSE) about it.
    Attestation,
}

/// Who signed a piece of evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Signer {
    /// A short-lived certificate.
    Keyless {
        /// The certificate's SAN.
        identity: String,
        /// Its OIDC issuer.
        issuer: String,
    },
    /// A long-lived key a policy names.
    Key {
        /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo.
        fingerprint: String,
    },
}

impl Signer {
    /// How reports name the signer.
    pub fn label(&self) -> String {
        match self {
            Signer::Keyless { identity, .. } => identity.clone(),
            Signer::Key { fingerprint } => {
                format!("key {}", &fingerprint[..fingerprint.len().min(19)])
            }
        }
    }
}

/// One signature or attestation and what checking it established.
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceCheck {
    /// Signature or attestation.
    pub kind: EvidenceKind,
    /// Where it was found (file, referrer digest, legacy tag).
    pub location: String,
    /// The attestation's predicate type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Whether the signature and its log/timestamp evidence verify against the trusted root.
    pub valid: bool,
    /// Whether it is about this artifact's digest.
    pub bound: bool,
    /// The digest an attestation is about instead, when not bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<String>,
    /// Who signed it, when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<Signer>,
    /// When it was signed, when valid: the latest verified time (log integrated time or TSA
    /// timestamp; a Rekor v2 entry without a TSA timestamp has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<jiff::Timestamp>,
    /// Why it is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checks evidence offline against one trusted root and the keys the policies name.
pub struct EvidenceChecker<'a> {
    verifier: &'a Verifier,
    keys: Vec<PublicKey>,
}

/// The latest verified time of `r`.
fn signed_at(r: &VerificationResult) -> Option<jiff::Timestamp> {
    r.timestamps
        .iter()
        .filter_map(|t| jiff::Timestamp::new(t.time.secs, 0).ok())
        .max()
}

fn signer_of(r: &VerificationResult, key: Option<&PublicKey>) -> Signer {
    match (&r.identity, key) {
        (Some(id), _) => Signer::Keyless {
            identity: id.san.clone().unwrap_or_default(),
            issuer: id.issuer.clone().unwrap_or_default(),
        },
        (None, Some(k)) => Signer::Key {
            fingerprint: format!(
                "sha256:{}",
                hex::encode(HashKind::Sha256.digest(k.spki_der()))
            ),
        },
        (None, None) => Signer::Key {
            fingerprint: String::new(),
        },
    }
}

/// The statement a DSSE bundle carries, if it parses.
fn statement_of(bundle: &Bundle) -> Option<Statement> {
    match bundle.content()? {
        Content::Dsse(env) => Statement::from_json(env.payload.as_slice()).ok(),
        Content::Message(_) => None,
    }
}

impl<'a> EvidenceChecker<'a> {
    /// A checker verifying against `verifier`'s trusted root; key-signed evidence is checked
    /// against each of `keys` (the policies' key authorities).
    pub fn new(verifier: &'a Verifier, keys: Vec<PublicKey>) -> Self {
        Self { verifier, keys }
    }

    /// The policies to try: any identity for certificates, else each known key.
    fn policies(
        &self,
        bundle_has_key: bool,
        predicate_type: Option<&str>,
    ) -> Vec<(Policy, Option<&PublicKey>)> {
        let with_type = |pb: PolicyBuilder| match predicate_type {
            Some(t) => pb.predicate_type(t),
            None => pb,
        };
        if bundle_has_key {
            self.keys
                .iter()
                .filter_map(|k| {
                    with_type(PolicyBuilder::new().key(k.clone()))
                        .build()
                        .ok()
                        .map(|p| (p, Some(k)))
                })
                .collect()
        } else {
            with_type(PolicyBuilder::new().insecure_any_identity(true))
                .build()
                .ok()
                .map(|p| vec![(p, None)])
                .unwrap_or_default()
        }
    }

    /// Verify `bundle` against `digest` under each candidate policy; the first success wins,
    /// else the last error.
    fn verify_bundle(
        &self,
        bundle: &Bundle,
        digest: &[u8],
        predicate_type: Option<&str>,
    ) -> Result<(Signer, Option<jiff::Timestamp>), String> {
        let has_key = matches!(bundle.material(), Some(Material::PublicKey(_)));
        let candidates = self.policies(has_key, predicate_type);
        if candidates.is_empty() {
            return Err("signed with a key that no policy names".to_string());
        }
        let mut last = String::new();
        for (policy, key) in candidates {
            match self.verifier.verify(
                bundle,
                Artifact::Digest {
                    algorithm: HashKind::Sha256,
                    digest,
                },
                &policy,
            ) {
                Ok(r) => return Ok((signer_of(&r, key), signed_at(&r))),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    /// Check a Sigstore bundle about the artifact with SHA-256 `digest`. `kind` is the layout's
    /// claim (OCI); for files it is derived from the content (DSSE: attestation).
    pub fn check_bundle(
        &self,
        json: &[u8],
        digest: &[u8],
        location: &str,
        kind: Option<EvidenceKind>,
    ) -> EvidenceCheck {
        let bundle = match Bundle::from_json(json) {
            Ok(b) => b,
            Err(e) => {
                return EvidenceCheck {
                    kind: kind.unwrap_or(EvidenceKind::Signature),
                    location: location.to_string(),
                    predicate_type: None,
                    valid: false,
                    bound: false,
                    bound_to: None,
                    signer: None,
                    signed_at: None,
                    error: Some(format!("bundle: {e}")),
                };
            }
        };
        let statement = statement_of(&bundle);
        let kind = kind.unwrap_or(match bundle.content() {
            Some(Content::Dsse(_)) => EvidenceKind::Attestation,
            _ => EvidenceKind::Signature,
        });
        // cosign's bundle-layout image signatures are DSSE statements of the sign predicate.
        let predicate_type = statement.as_ref().map(|s| s.predicate_type.clone());
        let hex_digest = hex::encode(digest);
        let (bound, target, bound_to) = match &statement {
            None => (true, digest.to_vec(), None),
            Some(st) if st.has_subject_digest("sha256", &hex_digest) => {
                (true, digest.to_vec(), None)
            }
            Some(st) => {
                let other = st
                    .subject
                    .iter()
                    .find_map(|s| s.digest.get("sha256"))
                    .cloned()
                    .unwrap_or_default();
                (
                    false,
                    hex::decode(&other).unwrap_or_default(),
                    Some(format!("sha256:{other}")),
                )
            }
        };
        let want_type = match (kind, &predicate_type) {
            (EvidenceKind::Signature, Some(_)) => Some(COSIGN_SIGN_PREDICATE),
            _ => None,
        };
        let (valid, signer, at, error) = match self.verify_bundle(&bundle, &target, want_type) {
            Ok((s, at)) => (true, Some(s), at, None),
            Err(e) => (false, None, None, Some(e)),
        };
        EvidenceCheck {
            kind,
            location: location.to_string(),
            predicate_type: if kind == EvidenceKind::Attestation {
                predicate_type
            } else {
                None
            },
            valid,
            bound,
            bound_to,
            signer,
            signed_at: at,
            error,
        }
    }

    /// Check something found in a registry for the image `digest` (`sha256:<hex>`).
    pub fn check_found(&self, found: &Found, digest: &str) -> EvidenceCheck {
        let kind = match found.kind {
            Kind::Signature => EvidenceKind::Signature,
            Kind::Attestation => EvidenceKind::Attestation,
        };
        let raw = hex::decode(digest.trim_start_matches("sha256:")).unwrap_or_default();
        match &found.evidence {
            Evidence::Bundle {
                bundle,
                payload: None,
                ..
            } => self.check_bundle(bundle, &raw, &found.location(), Some(kind)),
            Evidence::Bundle {
                bundle,
                payload: Some(_),
                ..
            } => {
                // A legacy signature upgraded by `--upgrade-bundles`: its message signature is
                // over the simple-signing payload stored beside it, which names the image;
                // the same check as for the legacy layer, plus the bundle's log proof.
                let has_key = Bundle::from_json(bundle)
                    .is_ok_and(|b| matches!(b.material(), Some(Material::PublicKey(_))));
                self.check_with_policies(found, digest, kind, None, has_key, true)
            }
            Evidence::Legacy { layer, blob, .. } => {
                // Legacy layers: cosign's own verification of the layer (simple-signing
                // payload for signatures, the DSSE envelope blob for attestations).
                let statement = (kind == EvidenceKind::Attestation)
                    .then(|| {
                        serde_json::from_slice::<vouch_core::dsse::Envelope>(blob)
                            .ok()
                            .and_then(|e| Statement::from_json(e.payload.as_slice()).ok())
                    })
                    .flatten();
                let has_key = layer
                    .annotations
                    .get(vouch_oci::layout::ANN_CERTIFICATE)
                    .is_none_or(|c| c.trim().is_empty());
                let bound = statement
                    .as_ref()
                    .is_none_or(|s| s.has_subject_digest("sha256", &hex::encode(&raw)));
                self.check_with_policies(found, digest, kind, statement, has_key, bound)
            }
        }
    }

    /// Verify `found` with each policy that could apply (cosign's own verification of a legacy
    /// layer, or of an upgraded legacy signature with its payload).
    fn check_with_policies(
        &self,
        found: &Found,
        digest: &str,
        kind: EvidenceKind,
        statement: Option<Statement>,
        has_key: bool,
        bound: bool,
    ) -> EvidenceCheck {
        let mut last = String::from("signed with a key that no policy names");
        let mut outcome = None;
        for (policy, key) in self.policies(has_key, None) {
            match verify_found_with(self.verifier, &policy, digest, found, None) {
                Ok(v) => {
                    outcome = Some((signer_of(&v.result, key), signed_at(&v.result)));
                    break;
                }
                Err(e) => last = e,
            }
        }
        EvidenceCheck {
            kind,
            location: found.location(),
            predicate_type: statement.as_ref().map(|s| s.predicate_type.clone()),
            valid: outcome.is_some(),
            bound,
            bound_to: None,
            error: outcome.is_none().then_some(last),
            signed_at: outcome.as_ref().and_then(|o| o.1),
            signer: outcome.map(|o| o.0),
        }
    }
}

/// Provenance facts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Provenance {
    /// A SLSA provenance attestation is present.
    pub present: bool,
    /// One verifies.
    pub valid: bool,
    /// One that verifies is about this artifact's digest.
    pub bound: bool,
    /// Its predicate type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
}

/// Everything the audit established about one artifact.
#[derive(Clone, Debug, Serialize)]
pub struct ArtifactAudit {
    /// Image (`registry/repo@sha256:…`) or file path.
    pub name: String,
    /// Repository (images) or directory (files): the grouping of the per-repository ratios.
    pub repository: String,
    /// Tags pointing at it (images).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `sha256:<hex>`.
    pub digest: String,
    /// A signature verifies.
    pub signed: bool,
    /// Who signed (each valid signature's signer).
    pub signers: Vec<Signer>,
    /// Signed only with long-lived keys: no valid keyless signature ("still on old keys").
    pub old_keys: bool,
    /// Provenance.
    pub provenance: Provenance,
    /// An SBOM attestation is present.
    pub sbom: bool,
    /// Policies that applied.
    pub policies: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why the artifact fails, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each piece of evidence.
    pub evidence: Vec<EvidenceCheck>,
}

impl ArtifactAudit {
    /// The latest verified signing time of its valid evidence (signatures and attestations);
    /// `None` when nothing verified carries a time (unsigned, or Rekor v2 without a TSA).
    pub fn last_signed(&self) -> Option<jiff::Timestamp> {
        self.evidence
            .iter()
            .filter(|e| e.valid)
            .filter_map(|e| e.signed_at)
            .max()
    }

    /// Whether `--since` keeps it: signed at or after `since`, or with no signing time at
    /// all (an unsigned image has no age, and coverage must still count it).
    pub fn within(&self, since: jiff::Timestamp) -> bool {
        self.last_signed().is_none_or(|t| t >= since)
    }

    /// Combine the evidence checks and the policy decision for one artifact.
    pub fn new(
        name: String,
        repository: String,
        tags: Vec<String>,
        evidence: Vec<EvidenceCheck>,
        decision: &ImageDecision,
    ) -> Self {
        let valid_sigs: Vec<&EvidenceCheck> = evidence
            .iter()
            .filter(|e| e.kind == EvidenceKind::Signature && e.valid && e.bound)
            .collect();
        let mut signers: Vec<Signer> = Vec::new();
        for s in valid_sigs.iter().filter_map(|e| e.signer.clone()) {
            if !signers.contains(&s) {
                signers.push(s);
            }
        }
        let signed = !valid_sigs.is_empty();
        let old_keys = signed && signers.iter().all(|s| matches!(s, Signer::Key { .. }));
        let prov: Vec<&EvidenceCheck> = evidence
            .iter()
            .filter(|e| {
                e.kind == EvidenceKind::Attestation
                    && e.predicate_type
                        .as_deref()
                        .is_some_and(|t| PROVENANCE_TYPES.contains(&t))
            })
            .collect();
        let best = prov
            .iter()
            .find(|e| e.valid && e.bound)
            .or_else(|| prov.iter().find(|e| e.valid))
            .or_else(|| prov.first());
        let provenance = Provenance {
            present: !prov.is_empty(),
            valid: prov.iter().any(|e| e.valid),
            bound: prov.iter().any(|e| e.valid && e.bound),
            predicate_type: best.and_then(|e| e.predicate_type.clone()),
        };
        let sbom = evidence.iter().any(|e| {
            e.kind == EvidenceKind::Attestation && e.predicate_type.as_deref().is_some_and(is_sbom)
        });
        let reason = if decision.verdict == Verdict::Deny {
            Some(decision.message())
        } else if !signed {
            Some(
                evidence
                    .iter()
                    .filter(|e| e.kind == EvidenceKind::Signature)
                    .find_map(|e| e.error.clone())
                    .unwrap_or_else(|| "no signature found".to_string()),
            )
        } else {
            None
        };
        Self {
            name,
            repository,
            tags,
            digest: decision.subject.digest().to_string(),
            signed,
            signers,
            old_keys,
            provenance,
            sbom,
            policies: decision.policies.iter().map(|p| p.name.clone()).collect(),
            verdict: decision.verdict,
            reason,
            evidence,
        }
    }

    /// Whether the policy verdict admits it.
    pub fn passes(&self) -> bool {
        self.verdict != Verdict::Deny
    }

    /// Provenance present, valid and bound to this digest.
    pub fn has_provenance(&self) -> bool {
        self.provenance.present && self.provenance.valid && self.provenance.bound
    }
}
