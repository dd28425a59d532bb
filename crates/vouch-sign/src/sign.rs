//! The signing flow: credential → (certificate) → signature → (timestamp) → (log entry) →
//! bundle v0.3 → verification against the trusted root.

use crate::SignError;
use crate::fulcio::request_certificate;
use crate::http::HttpClient;
use crate::keys::{Curve, EcdsaSigner};
use crate::rekor::{Record, VerifierMaterial, upload_v1, upload_v2};
use crate::select::SelectedServices;
use crate::timestamp::timestamp;
use crate::token::IdentityToken;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vouch_core::bundle::{
    Bundle, HashAlgorithm, HashOutput, MEDIA_TYPE_V0_3, MessageSignature, PublicKeyIdentifier,
    Rfc3161SignedTimestamp, TimestampVerificationData, VerificationMaterial, X509Certificate,
};
use vouch_core::dsse::{Envelope, Signature as DsseSignature};
use vouch_core::encoding::Base64Bytes;
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::trust::TrustRoot;
use vouch_core::x509::Certificate;
use vouch_verify::{Artifact, PolicyBuilder, Verifier};

/// What to sign.
#[derive(Clone, Debug)]
pub enum Content {
    /// An artifact, by its digest (computed with the signing key's hash, see
    /// [`Credential::hash`]).
    Digest {
        /// The digest algorithm.
        algorithm: HashKind,
        /// The digest.
        digest: Vec<u8>,
    },
    /// A DSSE envelope over `payload` (an in-toto statement for attestations).
    Dsse {
        /// The payload type, e.g. `application/vnd.in-toto+json`.
        payload_type: String,
        /// The payload bytes.
        payload: Vec<u8>,
        /// The artifact the statement is about, for the post-signing verification.
        subject: (HashKind, Vec<u8>),
    },
}

/// Who signs.
pub enum Credential {
    /// Keyless: an OIDC identity token buys a short-lived certificate for an ephemeral key.
    Token(IdentityToken),
    /// A long-lived key (cosign key pair); the bundle names it by a hint.
    Key(EcdsaSigner),
}

impl Credential {
    /// The hash the signature uses (SHA-256 for keyless and P-256 keys).
    pub fn hash(&self) -> HashKind {
        match self {
            Credential::Token(_) => HashKind::Sha256,
            Credential::Key(k) => k.hash(),
        }
    }
}

/// Signing options.
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// Record the signature in the transparency log (cosign `--tlog-upload`).
    pub tlog_upload: bool,
    /// Ask the TSA(s) for timestamps when the signing config lists any.
    pub timestamp: bool,
    /// Verify the finished bundle against the trusted root (always on in the CLI).
    pub verify: bool,
    /// How a key-signed bundle names its key in `publicKey.hint`.
    pub key_hint: KeyHint,
}

/// The `publicKey.hint` format of key-signed bundles (the hint is unauthenticated; verifiers
/// use it to pick a key, and OpenSSF Model Signing compares it with the key it is given).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyHint {
    /// Base64 of SHA-256 over the DER SubjectPublicKeyInfo (cosign's and sigstore-go's).
    #[default]
    Sha256DerBase64,
    /// Lowercase hex of SHA-256 over the PEM public key, as PyPI `model-signing` writes and
    /// checks it.
    Sha256PemHex,
}

impl KeyHint {
    /// The hint for the key with DER SubjectPublicKeyInfo `spki_der`.
    pub fn for_key(self, spki_der: &[u8]) -> String {
        match self {
            KeyHint::Sha256DerBase64 => STANDARD.encode(HashKind::Sha256.digest(spki_der)),
            KeyHint::Sha256PemHex => hex::encode(
                HashKind::Sha256
                    .digest(vouch_core::keys::pem_encode("PUBLIC KEY", spki_der).as_bytes()),
            ),
        }
    }
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            tlog_upload: true,
            timestamp: true,
            verify: true,
            key_hint: KeyHint::default(),
        }
    }
}

/// The result of signing.
#[derive(Debug)]
pub struct SignOutcome {
    /// The bundle (v0.3).
    pub bundle: Bundle,
    /// The certificate's identity (SAN) and issuer, keyless only.
    pub identity: Option<(String, String)>,
    /// Log URL and index of each entry.
    pub log_entries: Vec<(String, i64)>,
    /// TSA URLs that timestamped the signature.
    pub timestamps: Vec<String>,
    /// Whether the certificate's SCT came detached (not embedded).
    pub detached_sct: bool,
}

/// A signer bound to a set of services and a trusted root.
#[derive(Debug)]
pub struct Signer {
    http: HttpClient,
    services: SelectedServices,
    verifier: Option<Verifier>,
}

impl Signer {
    /// A signer using `services`, verifying its bundles against `trust` when given.
    pub fn new(http: HttpClient, services: SelectedServices, trust: Option<TrustRoot>) -> Self {
        Signer {
            http,
            services,
            verifier: trust.map(Verifier::new),
        }
    }

    /// The selected services.
    pub fn services(&self) -> &SelectedServices {
        &self.services
    }

    /// Sign `content` as `credential`.
    pub async fn sign(
        &self,
        content: &Content,
        credential: Credential,
        opts: &SignOptions,
    ) -> Result<SignOutcome, SignError> {
        // 1. The key, and for keyless the certificate.
        let (key, cert_chain, detached_sct, token_issuer) = match credential {
            Credential::Token(token) => {
                let now = jiff::Timestamp::now().as_second();
                token.check_not_expired(now)?;
                let ca = self.services.ca.as_deref().ok_or_else(|| {
                    SignError::Config("keyless signing needs a CA (caUrls is empty)".into())
                })?;
                let key = EcdsaSigner::generate(Curve::P256)?;
                let issued = request_certificate(&self.http, ca, &token, &key).await?;
                let iss = token.issuer().unwrap_or_default().to_string();
                (key, Some(issued.chain_der), issued.detached_sct, Some(iss))
            }
            Credential::Key(k) => (k, None, false, None),
        };
        let leaf = cert_chain.as_ref().and_then(|c| c.first().cloned());
        let verifier_material = match &leaf {
            Some(der) => VerifierMaterial::Certificate(der.clone()),
            None => VerifierMaterial::PublicKey(key.spki_der().to_vec()),
        };

        // 2. The signature, and what goes into the bundle's content.
        let (signature, message_signature, dsse_envelope, record_digest, envelope_json) =
            match content {
                Content::Digest { algorithm, digest } => {
                    if *algorithm != key.hash() {
                        return Err(SignError::Key(format!(
                            "a {} key signs {} digests, got {}",
                            key.key_details(),
                            key.hash().name(),
                            algorithm.name()
                        )));
                    }
                    let sig = key.sign_digest(digest)?;
                    let ms = MessageSignature {
                        message_digest: Some(HashOutput {
                            algorithm: hash_enum(*algorithm),
                            digest: Base64Bytes(digest.clone()),
                        }),
                        signature: Base64Bytes(sig.clone()),
                    };
                    (sig, Some(ms), None, digest.clone(), None)
                }
                Content::Dsse {
                    payload_type,
                    payload,
                    ..
                } => {
                    let pae = vouch_core::dsse::pae(payload_type, payload);
                    let sig = key.sign(&pae)?;
                    let env = Envelope {
                        payload: Base64Bytes(payload.clone()),
                        payload_type: payload_type.clone(),
                        signatures: vec![DsseSignature {
                            sig: Base64Bytes(sig.clone()),
                            keyid: String::new(),
                        }],
                    };
                    // The envelope as it goes into the bundle is what the log records.
                    let env_json = serde_json::to_string(&env).map_err(SignError::Encode)?;
                    (
                        sig,
                        None,
                        Some(env),
                        key.hash().digest(&pae),
                        Some(env_json),
                    )
                }
            };

        // 3. Timestamps over the signature.
        let mut timestamps = Vec::new();
        let mut signed_timestamps = Vec::new();
        if opts.timestamp {
            for url in &self.services.tsas {
                let resp = timestamp(&self.http, url, &signature).await?;
                signed_timestamps.push(Rfc3161SignedTimestamp {
                    signed_timestamp: Base64Bytes(resp),
                });
                timestamps.push(url.clone());
            }
        }

        // 4. Log entries.
        let mut entries = Vec::new();
        let mut log_entries = Vec::new();
        if opts.tlog_upload {
            if self.services.tlogs.is_empty() {
                return Err(SignError::Config(
                    "no transparency log in the signing config (pass --tlog-upload=false to sign without one)"
                        .into(),
                ));
            }
            for (url, major) in &self.services.tlogs {
                let record = match &envelope_json {
                    None => Record::Hashed {
                        digest: &record_digest,
                        algorithm: key.hash().name(),
                        signature: &signature,
                    },
                    Some(env) => Record::Dsse {
                        envelope_json: env,
                        pae_digest: &record_digest,
                        signature: &signature,
                    },
                };
                let tle = match major {
                    2 => {
                        upload_v2(
                            &self.http,
                            url,
                            &record,
                            &verifier_material,
                            key.key_details(),
                        )
                        .await?
                    }
                    _ => upload_v1(&self.http, url, &record, &verifier_material).await?,
                };
                log_entries.push((url.clone(), tle.log_index.0));
                entries.push(tle);
            }
        }

        // 5. The bundle.
        let (certificate, public_key) = match &leaf {
            Some(der) => (
                Some(X509Certificate {
                    raw_bytes: Base64Bytes(der.clone()),
                }),
                None,
            ),
            None => (
                None,
                Some(PublicKeyIdentifier {
                    hint: opts.key_hint.for_key(key.spki_der()),
                }),
            ),
        };
        let bundle = Bundle {
            media_type: MEDIA_TYPE_V0_3.to_string(),
            verification_material: Some(VerificationMaterial {
                public_key,
                x509_certificate_chain: None,
                certificate,
                tlog_entries: entries,
                timestamp_verification_data: (!signed_timestamps.is_empty()).then_some(
                    TimestampVerificationData {
                        rfc3161_timestamps: signed_timestamps,
                    },
                ),
            }),
            message_signature,
            dsse_envelope,
        };

        let identity = match &leaf {
            Some(der) => {
                let c = Certificate::from_der(der).map_err(|source| SignError::CaCertificate {
                    what: "leaf certificate",
                    source,
                })?;
                let id = c
                    .fulcio_identity()
                    .map_err(|source| SignError::CaCertificate {
                        what: "leaf certificate identity",
                        source,
                    })?;
                Some((
                    id.san.unwrap_or_default(),
                    id.issuer.or(token_issuer).unwrap_or_default(),
                ))
            }
            None => None,
        };

        // 6. Verify what we produced, as a verifier will.
        if opts.verify {
            let verifier = self.verifier.as_ref().ok_or(SignError::NoTrustedRoot)?;
            let mut pb = PolicyBuilder::new().insecure_ignore_tlog(!opts.tlog_upload);
            match &identity {
                Some((san, iss)) => {
                    pb = pb
                        .certificate_identity(san.clone())
                        .certificate_oidc_issuer(iss.clone());
                    if detached_sct {
                        pb = pb.insecure_ignore_sct(true);
                    }
                }
                None => {
                    let pk = PublicKey::from_spki_der(key.spki_der()).map_err(|source| {
                        SignError::PublicKey {
                            what: "public key",
                            source,
                        }
                    })?;
                    pb = pb.key(pk);
                }
            }
            let policy = pb.build().map_err(SignError::VerifyPolicy)?;
            let (alg, digest) = match content {
                Content::Digest { algorithm, digest } => (*algorithm, digest.as_slice()),
                Content::Dsse { subject, .. } => (subject.0, subject.1.as_slice()),
            };
            verifier
                .verify(
                    &bundle,
                    Artifact::Digest {
                        algorithm: alg,
                        digest,
                    },
                    &policy,
                )
                .map_err(SignError::Verify)?;
        }
        let _ = cert_chain;
        Ok(SignOutcome {
            bundle,
            identity,
            log_entries,
            timestamps,
            detached_sct,
        })
    }
}

fn hash_enum(h: HashKind) -> HashAlgorithm {
    match h {
        HashKind::Sha256 => HashAlgorithm::SHA2_256,
        HashKind::Sha384 => HashAlgorithm::SHA2_384,
        HashKind::Sha512 => HashAlgorithm::SHA2_512,
    }
}

/// Convenience for callers holding a JSON value.
pub fn bundle_to_pretty_json(b: &Bundle) -> Result<String, SignError> {
    b.to_json_pretty().map_err(SignError::BundleEncoding)
}
