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

use crate::cms::{self, CmsError, ParsedSignature};
use vouch_core::bundle::{
    Bundle, HashAlgorithm, HashOutput, MEDIA_TYPE_V0_3, MessageSignature, Rfc3161SignedTimestamp,
    TimestampVerificationData, TransparencyLogEntry, VerificationMaterial, X509Certificate,
};
use vouch_core::encoding::Base64Bytes;
use vouch_core::keys::HashKind;
use vouch_core::rekor::{EntryBody, SearchIndex};
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

/// Why verification failed: gpg's two outcomes, each with the certificate fingerprint when the
/// signature parsed far enough to have one.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    /// The signature does not match the payload (gpg `BADSIG`).
    #[error("bad signature: {reason}")]
    Bad {
        /// Certificate fingerprint, when the signature parsed.
        fingerprint: Option<String>,
        /// Which binding failed.
        #[source]
        reason: BadSignature,
    },
    /// The signature could not be checked or its trust could not be established (gpg `ERRSIG`).
    #[error("{reason}")]
    Error {
        /// Certificate fingerprint, when the signature parsed.
        fingerprint: Option<String>,
        /// Which check failed.
        #[source]
        reason: Unverified,
    },
}

/// Why a signature is *bad*: it does not bind this payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadSignature {
    /// The messageDigest signed attribute is not SHA-256 of the payload.
    #[error("the payload does not match the signed message digest")]
    PayloadDigest,
    /// The signature over the signed attributes does not verify with the signer's key.
    #[error("the signature over the signed attributes is invalid")]
    SignedAttributes,
}

/// Why a signature could not be checked, or its trust could not be established.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Unverified {
    /// The CMS structure does not parse.
    #[error("malformed signature: {source}")]
    Malformed {
        /// Why.
        #[source]
        source: CmsError,
    },
    /// The digest algorithm is not SHA-256.
    #[error("unsupported digest algorithm {oid}")]
    DigestAlgorithm {
        /// The OID found.
        oid: const_oid::ObjectIdentifier,
    },
    /// The signature algorithm is not ecdsa-with-SHA256.
    #[error("unsupported signature algorithm {oid}")]
    SignatureAlgorithm {
        /// The OID found.
        oid: const_oid::ObjectIdentifier,
    },
    /// The signer certificate (or its key) is unusable.
    #[error("signer {what}: {source}")]
    SignerCertificate {
        /// `certificate` or `public key`.
        what: &'static str,
        /// Why.
        #[source]
        source: vouch_core::x509::CertError,
    },
    /// The embedded log entry or timestamp cannot be turned into bundle material.
    #[error("embedded material: {source}")]
    EmbeddedMaterial {
        /// Why.
        #[source]
        source: MaterialError,
    },
    /// Neither an embedded entry nor a log to look it up in.
    #[error(
        "the signature carries no transparency log entry (a gitsign online-mode signature: its entry must be looked up in Rekor v1, which needs a log URL)"
    )]
    NoLogEntry,
    /// The online lookup failed.
    #[error("looking up the log entry at {rekor}: {source}")]
    Lookup {
        /// The Rekor v1 URL.
        rekor: String,
        /// Why.
        #[source]
        source: LookupError,
    },
    /// The log has no entry for this object signed with this certificate.
    #[error("no log entry at {rekor} for object {object_id} signed with this certificate")]
    NotInLog {
        /// The Rekor v1 URL.
        rekor: String,
        /// The git object ID looked up.
        object_id: String,
    },
    /// The identity policy is invalid (e.g. a bad regular expression).
    #[error("policy: {source}")]
    Policy {
        /// Why.
        #[source]
        source: vouch_verify::PolicyError,
    },
    /// The verifier rejected the equivalent bundle (log entry, timestamp, chain, identity).
    #[error("{source}")]
    Verify {
        /// The failed check.
        #[source]
        source: Box<vouch_verify::VerifyError>,
    },
}

/// Why the embedded log entry or timestamp is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaterialError {
    /// The embedded log entry is larger than a bundle may be.
    #[error("embedded log entry is {len} bytes, over the {max}-byte limit")]
    EntryTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The embedded log entry is not a `TransparencyLogEntry` in JSON.
    #[error("embedded log entry is not JSON: {source}")]
    EntryJson {
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The embedded timestamp token cannot be wrapped as a response.
    #[error(transparent)]
    Timestamp(#[from] CmsError),
}

/// Why looking up an online-mode signature's entry in Rekor v1 failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The HTTP client or a request failed.
    #[error("{source}")]
    Http {
        /// Why.
        #[source]
        source: Box<vouch_sign::SignError>,
    },
    /// The async runtime could not be started.
    #[error("cannot start the async runtime: {source}")]
    Runtime {
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The query could not be encoded.
    #[error("cannot encode the search query: {source}")]
    Query {
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The search answer is not a list of entry IDs.
    #[error("Rekor search answer: {source}")]
    SearchAnswer {
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

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

fn err(fp: Option<&str>, reason: Unverified) -> VerifyFailure {
    VerifyFailure::Error {
        fingerprint: fp.map(str::to_string),
        reason,
    }
}

/// The v0.3 Sigstore bundle that says what `signature` over `digest` (SHA-256) says, with
/// `certificate` as the verification material.
fn message_bundle(
    certificate: &[u8],
    digest: &[u8],
    signature: &[u8],
    tlog_entries: Vec<TransparencyLogEntry>,
    timestamps: Vec<Vec<u8>>,
) -> Bundle {
    Bundle {
        media_type: MEDIA_TYPE_V0_3.to_string(),
        verification_material: Some(VerificationMaterial {
            certificate: Some(X509Certificate {
                raw_bytes: Base64Bytes(certificate.to_vec()),
            }),
            tlog_entries,
            timestamp_verification_data: (!timestamps.is_empty()).then(|| {
                TimestampVerificationData {
                    rfc3161_timestamps: timestamps
                        .into_iter()
                        .map(|t| Rfc3161SignedTimestamp {
                            signed_timestamp: Base64Bytes(t),
                        })
                        .collect(),
                }
            }),
            ..VerificationMaterial::default()
        }),
        message_signature: Some(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: HashAlgorithm::SHA2_256,
                digest: Base64Bytes(digest.to_vec()),
            }),
            signature: Base64Bytes(signature.to_vec()),
        }),
        dsse_envelope: None,
    }
}

/// The Sigstore bundle (v0.3) equivalent to a parsed CMS signature: artifact DER(signedAttrs),
/// the leaf, the embedded log entry and the embedded RFC 3161 token as a response.
pub fn to_bundle(p: &ParsedSignature) -> Result<Bundle, MaterialError> {
    let digest = HashKind::Sha256.digest(&p.signed_attrs_der);
    let mut entries = Vec::new();
    if let Some(j) = &p.tlog_entry_json {
        let max = vouch_core::limits::MAX_BUNDLE_JSON_LEN;
        if j.len() > max {
            return Err(MaterialError::EntryTooLarge { len: j.len(), max });
        }
        entries
            .push(serde_json::from_slice(j).map_err(|source| MaterialError::EntryJson { source })?);
    }
    let mut timestamps = Vec::new();
    if let Some(t) = &p.timestamp_token {
        timestamps.push(cms::response_from_token(t)?);
    }
    Ok(message_bundle(
        &p.leaf_der,
        &digest,
        &p.signature,
        entries,
        timestamps,
    ))
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

/// Candidate entries for an online-mode signature: (log entry, signature), those whose
/// `hashedrekord` body names the signer certificate `leaf_der`.
fn lookup_entries(
    lk: &Lookup,
    leaf_der: &[u8],
) -> Result<Vec<(TransparencyLogEntry, Vec<u8>)>, LookupError> {
    let http = vouch_sign::HttpClient::new().map_err(|source| LookupError::Http {
        source: Box::new(source),
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| LookupError::Runtime { source })?;
    let base = lk.rekor.trim_end_matches('/');
    rt.block_on(async {
        let digest = hex::encode(HashKind::Sha256.digest(lk.object_id.as_bytes()));
        let query = SearchIndex {
            hash: Some(format!("sha256:{digest}")),
            ..SearchIndex::default()
        };
        let body = serde_json::to_vec(&query).map_err(|source| LookupError::Query { source })?;
        let resp = http
            .post(
                "Rekor",
                &format!("{base}/api/v1/index/retrieve"),
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                ],
                body,
                &[],
            )
            .await
            .map_err(|source| LookupError::Http {
                source: Box::new(source),
            })?;
        let ids: Vec<String> = serde_json::from_slice(&resp.body)
            .map_err(|source| LookupError::SearchAnswer { source })?;
        let mut out = Vec::new();
        for id in ids.iter().take(16) {
            let url = format!("{base}/api/v1/log/entries/{id}");
            let resp = http
                .get("Rekor", &url, &[])
                .await
                .map_err(|source| LookupError::Http {
                    source: Box::new(source),
                })?;
            // An entry that is not a usable hashedrekord by this certificate is not a
            // candidate; the search may well return other signers' entries for the object.
            let Ok(tle) = vouch_sign::rekor::v1_answer_to_tle(&resp.body, &url) else {
                continue;
            };
            let Some(kv) = &tle.kind_version else {
                continue;
            };
            let Ok(EntryBody::HashedRekordV001 {
                signature,
                public_key_pem,
                ..
            }) = EntryBody::parse(tle.canonicalized_body.as_slice(), &kv.kind, &kv.version)
            else {
                continue;
            };
            let cert = std::str::from_utf8(&public_key_pem)
                .ok()
                .and_then(|pem| vouch_core::keys::pem_decode(pem, &["CERTIFICATE"]).ok());
            if cert.as_deref() == Some(leaf_der) {
                out.push((tle, signature));
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
    let p = cms::parse(sig_der).map_err(|source| err(None, Unverified::Malformed { source }))?;
    let fp = crate::sign::fingerprint(&p.leaf_der);
    let fpr = Some(fp.as_str());
    if p.digest_algorithm != cms::OID_SHA256 {
        return Err(err(
            fpr,
            Unverified::DigestAlgorithm {
                oid: p.digest_algorithm,
            },
        ));
    }
    if p.signature_algorithm != cms::OID_ECDSA_SHA256 {
        return Err(err(
            fpr,
            Unverified::SignatureAlgorithm {
                oid: p.signature_algorithm,
            },
        ));
    }
    let signer = |what| move |source| err(fpr, Unverified::SignerCertificate { what, source });
    let cert = Certificate::from_der(&p.leaf_der).map_err(signer("certificate"))?;
    // Content binding: the signed attributes must name this payload.
    if HashKind::Sha256.digest(payload) != p.message_digest {
        return Err(VerifyFailure::Bad {
            fingerprint: Some(fp),
            reason: BadSignature::PayloadDigest,
        });
    }
    let key = cert.public_key().map_err(signer("public key"))?;
    if key
        .verify_with_hash(HashKind::Sha256, &p.signed_attrs_der, &p.signature)
        .is_err()
    {
        return Err(VerifyFailure::Bad {
            fingerprint: Some(fp),
            reason: BadSignature::SignedAttributes,
        });
    }
    // (bundle, the digest its signature covers)
    let mut candidates: Vec<(Bundle, Vec<u8>)> = Vec::new();
    if p.tlog_entry_json.is_some() {
        let bundle =
            to_bundle(&p).map_err(|source| err(fpr, Unverified::EmbeddedMaterial { source }))?;
        candidates.push((bundle, HashKind::Sha256.digest(&p.signed_attrs_der)));
    } else {
        let Some(lk) = lookup else {
            return Err(err(fpr, Unverified::NoLogEntry));
        };
        let found = lookup_entries(lk, &p.leaf_der).map_err(|source| {
            err(
                fpr,
                Unverified::Lookup {
                    rekor: lk.rekor.clone(),
                    source,
                },
            )
        })?;
        if found.is_empty() {
            return Err(err(
                fpr,
                Unverified::NotInLog {
                    rekor: lk.rekor.clone(),
                    object_id: lk.object_id.clone(),
                },
            ));
        }
        let digest = HashKind::Sha256.digest(lk.object_id.as_bytes());
        for (tle, sig) in found {
            candidates.push((
                message_bundle(&p.leaf_der, &digest, &sig, vec![tle], Vec::new()),
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
    let pol = pb
        .build()
        .map_err(|source| err(fpr, Unverified::Policy { source }))?;
    let verifier = Verifier::new(trust);
    // Every candidate is tried; the last one's failure is reported (there is at least one).
    let mut outcome = None;
    for (bundle, digest) in &candidates {
        let r = verifier.verify(
            bundle,
            Artifact::Digest {
                algorithm: HashKind::Sha256,
                digest,
            },
            &pol,
        );
        let ok = r.is_ok();
        outcome = Some(r);
        if ok {
            break;
        }
    }
    let result = match outcome {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            return Err(err(
                fpr,
                Unverified::Verify {
                    source: Box::new(e),
                },
            ));
        }
        None => return Err(err(fpr, Unverified::NoLogEntry)),
    };
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
