//! Offline verification of a detached gitsign-style CMS signature over a git payload.
//!
//! 1. The CMS structure (one signer, detached id-data, contentType + messageDigest attributes).
//! 2. Content binding: messageDigest == SHA-256(payload); and the signature over DER(signedAttrs)
//!    with the signer certificate's key. Failing either is a *bad* signature (`BADSIG`).
//! 3. Everything else through vouch-verify, on the equivalent bundle (protocols §10.4: artifact =
//!    DER(signedAttrs), `messageSignature.signature` = the CMS signature, certificate = the leaf,
//!    the embedded log entry and RFC 3161 token): the log entry (inclusion proof, checkpoint or
//!    SET, and that its body records this signature and certificate), the timestamp, the chain to
//!    a trusted CA at the verified signing time, the SCT, and the identity policy.

use crate::cms::{self, ParsedSignature};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use vouch_core::keys::HashKind;
use vouch_core::trust::TrustRoot;
use vouch_core::x509::Certificate;
use vouch_verify::{Artifact, PolicyBuilder, TimeSource, Verifier};

/// Who must have signed; empty means any identity certified by a trusted CA.
#[derive(Clone, Debug, Default)]
pub struct IdentityPolicy {
    /// Exact certificate identity (SAN).
    pub identity: Option<String>,
    /// Certificate identity regular expression.
    pub identity_regexp: Option<String>,
    /// Exact OIDC issuer.
    pub issuer: Option<String>,
    /// OIDC issuer regular expression.
    pub issuer_regexp: Option<String>,
    /// A C2SP tlog-policy the log checkpoint of the signature's entry must satisfy.
    pub witness_policy: Option<vouch_core::tlog_policy::WitnessPolicy>,
}

impl IdentityPolicy {
    /// Whether any identity requirement is set.
    pub fn is_set(&self) -> bool {
        self.identity.is_some()
            || self.identity_regexp.is_some()
            || self.issuer.is_some()
            || self.issuer_regexp.is_some()
    }

    /// Whether both halves are set: who signed (identity) *and* who vouched for it (issuer).
    /// Only a complete policy establishes trust: an identity alone can be minted by any other
    /// trusted issuer (an any-email development IdP, for one), an issuer alone admits all of
    /// its users.
    pub fn is_complete(&self) -> bool {
        (self.identity.is_some() || self.identity_regexp.is_some())
            && (self.issuer.is_some() || self.issuer_regexp.is_some())
    }

    /// The git config key of the missing half of a half-set policy, if it is half-set.
    pub fn missing_half(&self) -> Option<&'static str> {
        if !self.is_set() || self.is_complete() {
            None
        } else if self.identity.is_none() && self.identity_regexp.is_none() {
            Some("gitsign.matchIdentity")
        } else {
            Some("gitsign.matchIssuer")
        }
    }
}

/// Why verification failed.
#[derive(Debug)]
pub enum VerifyFailure {
    /// The signature does not match the payload (gpg `BADSIG`).
    Bad {
        /// Certificate fingerprint, when the signature parsed.
        fingerprint: Option<String>,
        /// The reason.
        reason: String,
    },
    /// The signature could not be checked or its trust could not be established (gpg `ERRSIG`).
    Error {
        /// Certificate fingerprint, when the signature parsed.
        fingerprint: Option<String>,
        /// The reason.
        reason: String,
    },
}

impl std::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyFailure::Bad { reason, .. } => write!(f, "bad signature: {reason}"),
            VerifyFailure::Error { reason, .. } => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for VerifyFailure {}

/// A verified signature.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Hex SHA-1 of the leaf certificate.
    pub fingerprint: String,
    /// Certificate identity (SAN).
    pub identity: String,
    /// OIDC issuer.
    pub issuer: String,
    /// The verified signing time (log integrated time or TSA time), unix seconds.
    pub time: i64,
    /// Where the time came from.
    pub time_source: String,
    /// Verified log entries: (log, index).
    pub log_entries: Vec<(String, i64)>,
    /// Whether a complete identity policy (identity and issuer, see
    /// [`IdentityPolicy::is_complete`]) was checked: only then is the signer trusted.
    pub policy_checked: bool,
    /// OpenPGP public key algorithm id.
    pub pk_algo: u8,
    /// OpenPGP hash algorithm id.
    pub hash_algo: u8,
    /// The certificate's subject DN (usually empty for Fulcio certificates).
    pub subject: String,
}

fn err(fp: Option<&str>, reason: impl Into<String>) -> VerifyFailure {
    VerifyFailure::Error {
        fingerprint: fp.map(str::to_string),
        reason: reason.into(),
    }
}

/// The Sigstore bundle (v0.3 JSON) equivalent to a parsed CMS signature.
pub fn to_bundle_json(p: &ParsedSignature) -> anyhow::Result<Value> {
    let digest = HashKind::Sha256.digest(&p.signed_attrs_der);
    let mut vm = json!({
        "certificate": {"rawBytes": STANDARD.encode(&p.leaf_der)},
        "tlogEntries": [],
    });
    if let Some(j) = &p.tlog_entry_json {
        let entry: Value = serde_json::from_slice(j)
            .map_err(|e| anyhow::anyhow!("embedded log entry is not JSON: {e}"))?;
        vm["tlogEntries"] = json!([entry]);
    }
    if let Some(t) = &p.timestamp_token {
        let resp = cms::response_from_token(t)?;
        vm["timestampVerificationData"] =
            json!({"rfc3161Timestamps": [{"signedTimestamp": STANDARD.encode(resp)}]});
    }
    Ok(json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": vm,
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest)},
            "signature": STANDARD.encode(&p.signature),
        }
    }))
}

/// Where to look up the log entry of a signature that carries none (gitsign's online mode: the
/// signed object's ID was logged as a `hashedrekord` in Rekor v1).
#[derive(Clone, Debug)]
pub struct Lookup {
    /// Rekor v1 base URL.
    pub rekor: String,
    /// Hex SHA-1 ID of the signed git object (see [`crate::git::signed_object_id`]).
    pub object_id: String,
}

/// Candidate entries for an online-mode signature: (TransparencyLogEntry JSON, signature).
fn lookup_entries(lk: &Lookup, leaf_der: &[u8]) -> Result<Vec<(Value, Vec<u8>)>, String> {
    let http = vouch_sign::HttpClient::new().map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let base = lk.rekor.trim_end_matches('/');
    rt.block_on(async {
        let digest = hex::encode(HashKind::Sha256.digest(lk.object_id.as_bytes()));
        let q = json!({"hash": format!("sha256:{digest}")});
        let resp = http
            .post(
                "Rekor",
                &format!("{base}/api/v1/index/retrieve"),
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                ],
                q.to_string().into_bytes(),
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        let ids: Vec<String> =
            serde_json::from_slice(&resp.body).map_err(|e| format!("Rekor search answer: {e}"))?;
        let mut out = Vec::new();
        for id in ids.iter().take(16) {
            let resp = http
                .get("Rekor", &format!("{base}/api/v1/log/entries/{id}"), &[])
                .await
                .map_err(|e| e.to_string())?;
            let v: Value =
                serde_json::from_slice(&resp.body).map_err(|e| format!("Rekor entry {id}: {e}"))?;
            let Ok(tle) = vouch_sign::rekor::v1_entry_to_tle(&v) else {
                continue;
            };
            let Ok(tle_json) = serde_json::to_value(&tle) else {
                continue;
            };
            let body = tle_json["canonicalizedBody"]
                .as_str()
                .and_then(|b| STANDARD.decode(b).ok())
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .unwrap_or_default();
            let spec = &body["spec"]["signature"];
            let sig = spec["content"]
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok());
            let cert = spec["publicKey"]["content"]
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .and_then(|pem| String::from_utf8(pem).ok())
                .and_then(|pem| vouch_core::keys::pem_decode(&pem, &["CERTIFICATE"]).ok());
            if let (Some(sig), Some(cert)) = (sig, cert)
                && cert == leaf_der
            {
                out.push((tle_json, sig));
            }
        }
        Ok(out)
    })
}

/// Verify a detached CMS signature (DER) over `payload` against `trust` and `policy`, with the
/// embedded log entry only (no network).
pub fn verify(
    sig_der: &[u8],
    payload: &[u8],
    trust: TrustRoot,
    policy: &IdentityPolicy,
) -> Result<Verified, VerifyFailure> {
    verify_with_lookup(sig_der, payload, trust, policy, None)
}

/// [`verify`], and when the signature carries no log entry and `lookup` is given, search the
/// log for it online (gitsign's online mode).
pub fn verify_with_lookup(
    sig_der: &[u8],
    payload: &[u8],
    trust: TrustRoot,
    policy: &IdentityPolicy,
    lookup: Option<&Lookup>,
) -> Result<Verified, VerifyFailure> {
    let p = cms::parse(sig_der).map_err(|e| err(None, format!("malformed signature: {e:#}")))?;
    let fp = crate::sign::fingerprint(&p.leaf_der);
    let fpr = Some(fp.as_str());
    if p.digest_algorithm != cms::OID_SHA256 {
        return Err(err(
            fpr,
            format!("unsupported digest algorithm {}", p.digest_algorithm),
        ));
    }
    if p.signature_algorithm != cms::OID_ECDSA_SHA256 {
        return Err(err(
            fpr,
            format!("unsupported signature algorithm {}", p.signature_algorithm),
        ));
    }
    let cert = Certificate::from_der(&p.leaf_der)
        .map_err(|e| err(fpr, format!("signer certificate: {e}")))?;
    // Content binding: the signed attributes must name this payload.
    if HashKind::Sha256.digest(payload) != p.message_digest {
        return Err(VerifyFailure::Bad {
            fingerprint: Some(fp),
            reason: "the payload does not match the signed message digest".into(),
        });
    }
    let key = cert
        .public_key()
        .map_err(|e| err(fpr, format!("signer public key: {e}")))?;
    if key
        .verify_with_hash(HashKind::Sha256, &p.signed_attrs_der, &p.signature)
        .is_err()
    {
        return Err(VerifyFailure::Bad {
            fingerprint: Some(fp),
            reason: "the signature over the signed attributes is invalid".into(),
        });
    }
    // (bundle JSON, the digest its signature covers)
    let mut candidates: Vec<(Value, Vec<u8>)> = Vec::new();
    if p.tlog_entry_json.is_some() {
        let bundle_json =
            to_bundle_json(&p).map_err(|e| err(fpr, format!("embedded material: {e:#}")))?;
        candidates.push((bundle_json, HashKind::Sha256.digest(&p.signed_attrs_der)));
    } else {
        let Some(lk) = lookup else {
            return Err(err(
                fpr,
                "the signature carries no transparency log entry (a gitsign online-mode signature: its entry must be looked up in Rekor v1, which needs a log URL)",
            ));
        };
        let found = lookup_entries(lk, &p.leaf_der).map_err(|e| {
            err(
                fpr,
                format!("looking up the log entry at {}: {e}", lk.rekor),
            )
        })?;
        if found.is_empty() {
            return Err(err(
                fpr,
                format!(
                    "no log entry at {} for object {} signed with this certificate",
                    lk.rekor, lk.object_id
                ),
            ));
        }
        let digest = HashKind::Sha256.digest(lk.object_id.as_bytes());
        for (tle, sig) in found {
            candidates.push((
                json!({
                    "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                    "verificationMaterial": {
                        "certificate": {"rawBytes": STANDARD.encode(&p.leaf_der)},
                        "tlogEntries": [tle],
                    },
                    "messageSignature": {
                        "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(&digest)},
                        "signature": STANDARD.encode(sig),
                    }
                }),
                digest.clone(),
            ));
        }
    }
    let mut pb = PolicyBuilder::new();
    if policy.is_set() {
        // A half-set policy enforces the half that is set; the result is then not trusted
        // (`policy_checked` is false), see `IdentityPolicy::is_complete`.
        let any = "^.*$".to_string();
        pb = match (&policy.identity, &policy.identity_regexp) {
            (Some(i), _) => pb.certificate_identity(i.clone()),
            (None, Some(r)) => pb.certificate_identity_regexp(r.clone()),
            (None, None) => pb.certificate_identity_regexp(any.clone()),
        };
        pb = match (&policy.issuer, &policy.issuer_regexp) {
            (Some(i), _) => pb.certificate_oidc_issuer(i.clone()),
            (None, Some(r)) => pb.certificate_oidc_issuer_regexp(r.clone()),
            (None, None) => pb.certificate_oidc_issuer_regexp(any),
        };
    } else {
        pb = pb.insecure_any_identity(true);
    }
    if let Some(wp) = &policy.witness_policy {
        pb = pb.witness_policy(wp.clone());
    }
    let pol = pb.build().map_err(|e| err(fpr, format!("policy: {e}")))?;
    let verifier = Verifier::new(trust);
    let mut last_error = String::new();
    let mut verified = None;
    for (bundle_json, digest) in &candidates {
        let bundle_bytes =
            serde_json::to_vec(bundle_json).map_err(|e| err(fpr, format!("bundle: {e}")))?;
        match verifier.verify_json(
            &bundle_bytes,
            Artifact::Digest {
                algorithm: HashKind::Sha256,
                digest,
            },
            &pol,
        ) {
            Ok(r) => {
                verified = Some(r);
                break;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let result = verified.ok_or_else(|| err(fpr, last_error))?;
    let id = result.identity.clone().unwrap_or_default();
    let (time, time_source) = match result.timestamps.first() {
        Some(t) => (
            t.time.secs,
            match &t.source {
                TimeSource::Tlog { log } => format!("transparency log {log}"),
                TimeSource::TimestampAuthority { uri } => format!("timestamp authority {uri}"),
            },
        ),
        None => (
            p.signing_time.unwrap_or_default(),
            "signingTime attribute".into(),
        ),
    };
    Ok(Verified {
        fingerprint: fp.clone(),
        identity: id.san.unwrap_or_default(),
        issuer: id.issuer.unwrap_or_default(),
        time,
        time_source,
        log_entries: result
            .tlog_entries
            .iter()
            .map(|e| (e.log.clone(), e.log_index))
            .collect(),
        policy_checked: policy.is_complete(),
        pk_algo: crate::sign::openpgp_pk_algo(&p.leaf_der),
        hash_algo: crate::sign::openpgp_hash_algo(&p.leaf_der),
        subject: cert.subject(),
    })
}
