//! Trust material for the engine: the default trusted root (from a ClientTrustConfig or TUF)
//! and the named `TrustRoot` documents (`sigstoreKeys` converted to a trusted root, `remote`
//! fetched through vouch-tuf's TUF client), each as a [`Verifier`], with a digest over all of
//! it for cache keys.

use crate::error::PolicyError;
use crate::load::PolicySet;
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use vouch_core::bundle::{HashAlgorithm, LogId, X509Certificate, X509CertificateChain};
use vouch_core::encoding::Base64Bytes;
use vouch_core::keys::PublicKey;
use vouch_core::trust::{
    CertificateAuthorityJson, DistinguishedNameJson, PublicKeyJson, TRUSTED_ROOT_MEDIA_TYPE_V0_1,
    TimeRangeJson, TransparencyLogInstanceJson, TrustError, TrustRoot, TrustedRootJson,
};
use vouch_verify::Verifier;

/// `sigstoreKeys` carries no validity periods: its material is valid from the epoch on.
const SIGSTORE_KEYS_VALID_FROM: &str = "1970-01-01T00:00:00Z";

/// Decode standard base64, tolerating whitespace (YAML folds long values).
pub(crate) fn decode_b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean)
}

/// Verifiers for the default trusted root and every named TrustRoot.
#[derive(Debug, Clone)]
pub struct Trust {
    default: Option<Arc<Verifier>>,
    named: BTreeMap<String, Arc<Verifier>>,
    digest: String,
}

fn root_digest(tr: &TrustRoot) -> String {
    // The JSON the root was built from, re-serialized through its type: stable for one root.
    let json = serde_json::to_vec(&tr.json).unwrap_or_default();
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &json))
}

fn invalid(name: &str, what: String, detail: String) -> PolicyError {
    PolicyError::TrustRoot {
        name: name.to_string(),
        source: TrustError::Invalid { what, detail },
    }
}

/// Convert policy-controller's `sigstoreKeys` into a trusted root (validating every
/// certificate chain and key).
pub fn sigstore_keys_to_root(
    name: &str,
    k: &crate::model::SigstoreKeys,
) -> Result<TrustRoot, PolicyError> {
    let valid = || {
        Some(TimeRangeJson {
            start: Some(SIGSTORE_KEYS_VALID_FROM.to_string()),
            end: None,
        })
    };
    let ca = |kind: &str, i: usize, c: &crate::model::CertificateAuthority| {
        let what = format!("{kind}[{i}].certChain");
        let pem = decode_b64(&c.cert_chain)
            .map_err(|e| invalid(name, what.clone(), format!("not base64: {e}")))?;
        let pem = String::from_utf8(pem)
            .map_err(|_| invalid(name, what.clone(), "not PEM text".into()))?;
        let certs = vouch_core::x509::Certificate::from_pem_chain(&pem)
            .map_err(|e| invalid(name, what.clone(), e.to_string()))?;
        if certs.is_empty() {
            return Err(invalid(name, what, "no certificates".into()));
        }
        Ok(CertificateAuthorityJson {
            subject: DistinguishedNameJson {
                organization: c.subject.organization.clone(),
                common_name: c.subject.common_name.clone(),
            },
            uri: c.uri.clone(),
            cert_chain: X509CertificateChain {
                certificates: certs
                    .iter()
                    .map(|c| X509Certificate {
                        raw_bytes: Base64Bytes(c.der().to_vec()),
                    })
                    .collect(),
            },
            valid_for: valid(),
            operator: String::new(),
        })
    };
    let log = |kind: &str, i: usize, l: &crate::model::TransparencyLogInstance| {
        let what = format!("{kind}[{i}].publicKey");
        let pem = decode_b64(&l.public_key)
            .map_err(|e| invalid(name, what.clone(), format!("not base64: {e}")))?;
        let pem = String::from_utf8(pem)
            .map_err(|_| invalid(name, what.clone(), "not PEM text".into()))?;
        let key =
            PublicKey::from_pem(&pem).map_err(|e| invalid(name, what.clone(), e.to_string()))?;
        let spki = key.spki_der().to_vec();
        // The log ID rule of the key type (C2SP signed-note key hash for Ed25519 / Rekor v2,
        // SHA-256 of the SPKI for ECDSA / Rekor v1), as the trusted root loader derives it.
        let origin = vouch_core::trust::origin_from_url(&l.base_url);
        let log_id =
            vouch_core::note::NoteVerifier::for_log_key(vouch_core::trust::host_of(&origin), &key)
                .map(|v| v.key_hash.to_vec())
                .map_err(|e| invalid(name, what.clone(), e.to_string()))?;
        Ok(TransparencyLogInstanceJson {
            base_url: l.base_url.clone(),
            hash_algorithm: HashAlgorithm::SHA2_256,
            public_key: PublicKeyJson {
                raw_bytes: Base64Bytes(spki),
                key_details: String::new(),
                valid_for: valid(),
            },
            log_id: Some(LogId {
                key_id: Base64Bytes(log_id),
            }),
            ..Default::default()
        })
    };
    let mut tr = TrustedRootJson {
        media_type: TRUSTED_ROOT_MEDIA_TYPE_V0_1.to_string(),
        ..Default::default()
    };
    for (i, c) in k.certificate_authorities.iter().enumerate() {
        tr.certificate_authorities
            .push(ca("certificateAuthorities", i, c)?);
    }
    for (i, c) in k.timestamp_authorities.iter().enumerate() {
        tr.timestamp_authorities
            .push(ca("timestampAuthorities", i, c)?);
    }
    for (i, l) in k.tlogs.iter().enumerate() {
        tr.tlogs.push(log("tLogs", i, l)?);
    }
    for (i, l) in k.ctlogs.iter().enumerate() {
        tr.ctlogs.push(log("ctLogs", i, l)?);
    }
    TrustRoot::from_parsed(tr).map_err(|source| PolicyError::TrustRoot {
        name: name.to_string(),
        source,
    })
}

impl Trust {
    /// Trust with only a default root (no TrustRoot documents), or none at all (key-only
    /// policies without transparency logs cannot verify; a default root is normally given).
    pub fn new(default: Option<TrustRoot>) -> Self {
        Self::build(default, BTreeMap::new())
    }

    fn build(default: Option<TrustRoot>, named: BTreeMap<String, TrustRoot>) -> Self {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        if let Some(d) = &default {
            ctx.update(b"default:");
            ctx.update(root_digest(d).as_bytes());
        }
        for (n, t) in &named {
            ctx.update(format!("\n{n}:").as_bytes());
            ctx.update(root_digest(t).as_bytes());
        }
        let digest = format!("sha256:{}", hex::encode(ctx.finish().as_ref()));
        Self {
            default: default.map(|t| Arc::new(Verifier::new(t))),
            named: named
                .into_iter()
                .map(|(n, t)| (n, Arc::new(Verifier::new(t))))
                .collect(),
            digest,
        }
    }

    /// The default root plus every TrustRoot document of `policies`: `sigstoreKeys` converted
    /// in place, `remote` fetched and TUF-verified through vouch-tuf (cached under
    /// `tuf_cache/<name>`). The only network access of the engine besides the registry.
    pub async fn resolve(
        default: Option<TrustRoot>,
        policies: &PolicySet,
        tuf_cache: &Path,
    ) -> Result<Self, PolicyError> {
        let mut named = BTreeMap::new();
        for tr in policies.trust_roots() {
            let root = if let Some(k) = &tr.spec.sigstore_keys {
                sigstore_keys_to_root(&tr.name, k)?
            } else if let Some(r) = &tr.spec.remote {
                let root_json = decode_b64(&r.root).map_err(|e| {
                    invalid(
                        &tr.name,
                        "spec.remote.root".into(),
                        format!("not base64: {e}"),
                    )
                })?;
                let cache = tuf_cache.join(&tr.name);
                let (trusted_root, _) = vouch_tuf::fetch_trust(&r.mirror, &root_json, &cache)
                    .await
                    .map_err(|source| PolicyError::Tuf {
                        name: tr.name.clone(),
                        mirror: r.mirror.clone(),
                        source: Box::new(source),
                    })?;
                TrustRoot::from_json(&trusted_root).map_err(|source| PolicyError::TrustRoot {
                    name: tr.name.clone(),
                    source,
                })?
            } else {
                // Refused at load time (spec.repository).
                continue;
            };
            named.insert(tr.name.clone(), root);
        }
        Ok(Self::build(default, named))
    }

    /// `sha256:<hex>` over every trusted root in use; part of the verification cache key.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The verifier for `name` (a TrustRoot), or the default one.
    pub fn verifier(&self, name: Option<&str>) -> Option<&Arc<Verifier>> {
        match name {
            Some(n) => self.named.get(n),
            None => self.default.as_ref(),
        }
    }

    /// A verifier whose CAs are `ca_certs` (DER, issuing CA first, root last) and whose logs,
    /// CT logs and TSAs are those of `base` (keyless `ca-cert`).
    pub fn with_ca_certs(base: &Verifier, ca_certs: &[Vec<u8>]) -> Result<Verifier, PolicyError> {
        let mut json = base.trust_root().json.clone();
        json.certificate_authorities = vec![CertificateAuthorityJson {
            cert_chain: X509CertificateChain {
                certificates: ca_certs
                    .iter()
                    .map(|d| X509Certificate {
                        raw_bytes: Base64Bytes(d.clone()),
                    })
                    .collect(),
            },
            valid_for: Some(TimeRangeJson {
                start: Some(SIGSTORE_KEYS_VALID_FROM.to_string()),
                end: None,
            }),
            ..Default::default()
        }];
        let tr = TrustRoot::from_parsed(json).map_err(|source| PolicyError::TrustRoot {
            name: "ca-cert".into(),
            source,
        })?;
        Ok(Verifier::new(tr))
    }
}
