//! X.509 certificates in the Fulcio profile: parsing, Sigstore OID extensions, and chain checks.
//!
//! Spec: Fulcio's certificate specification and OID registry
//! (<https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md>), protocols.md §1.6–1.7.
//! Path validation of issued leaves is delegated to rustls-webpki with the issuing CA as the
//! trust anchor; the CA chain itself is validated once when the trusted root is loaded.
//! Issuing certificates (the CA's and the TSA's) goes through [`build`].

pub mod build;

use crate::keys::{KeyError, PublicKey};
use crate::time::Instant;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use der::asn1::{Ia5StringRef, ObjectIdentifier, Utf8StringRef};
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use std::collections::BTreeMap;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};

/// DER value of the codeSigning EKU OID (1.3.6.1.5.5.7.3.3), as webpki wants it.
pub const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// DER value of the timeStamping EKU OID (1.3.6.1.5.5.7.3.8).
pub const EKU_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// Fulcio's OID arc, `1.3.6.1.4.1.57264.1`.
pub const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1";
/// OtherName type-id for username identities.
pub const OID_OTHERNAME_USERNAME: &str = "1.3.6.1.4.1.57264.1.7";
/// Embedded SCT list extension.
pub const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
/// Subject alternative name extension.
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// DER body of the Fulcio arc 1.3.6.1.4.1.57264.1 (without tag and length).
const FULCIO_ARC_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01];

/// If `oid` is `1.3.6.1.4.1.57264.1.<n>`, return `n` (without formatting the OID).
fn fulcio_arc(oid: &ObjectIdentifier) -> Option<u32> {
    let rest = oid.as_bytes().strip_prefix(FULCIO_ARC_DER)?;
    let mut n: u32 = 0;
    for (i, b) in rest.iter().enumerate() {
        n = n.checked_mul(128)?.checked_add(u32::from(b & 0x7f))?;
        let last = b & 0x80 == 0;
        if last != (i + 1 == rest.len()) {
            return None;
        }
    }
    (!rest.is_empty()).then_some(n)
}

/// CT precertificate poison extension.
pub const OID_CT_POISON: &str = "1.3.6.1.4.1.11129.2.4.3";

/// Errors about a single certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// Not a DER X.509 certificate.
    #[error("certificate is not valid DER X.509: {0}")]
    Malformed(String),
    /// The DER does not decode (or re-encode) as an X.509 certificate.
    #[error("certificate is not valid DER X.509: {0}")]
    Der(#[source] der::Error),
    /// An extension's DER does not decode.
    #[error("certificate extension {oid} is malformed: {source}")]
    ExtensionDer {
        /// Extension OID.
        oid: String,
        /// The DER error.
        #[source]
        source: der::Error,
    },
    /// The value of the Fulcio username OtherName in the SAN does not decode.
    #[error("certificate extension 2.5.29.17 is malformed: OtherName value: {0}")]
    SanOtherName(#[source] der::Error),
    /// An extension could not be decoded.
    #[error("certificate extension {oid} is malformed: {reason}")]
    BadExtension {
        /// Extension OID.
        oid: String,
        /// Why.
        reason: String,
    },
    /// Signature algorithm not supported.
    #[error("unsupported certificate signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// The issuer's signature on this certificate is invalid.
    #[error("certificate {subject:?} is not signed by {issuer:?}")]
    BadSignature {
        /// Subject of the certificate.
        subject: String,
        /// Subject of the claimed issuer.
        issuer: String,
    },
    /// Key problem.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Errors validating a leaf against a trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The time is before notBefore of a certificate.
    #[error("certificate {subject:?} is not yet valid at {time} (notBefore {not_before})")]
    NotYetValid {
        /// Certificate subject.
        subject: String,
        /// The time checked.
        time: Instant,
        /// Its notBefore.
        not_before: Instant,
    },
    /// The time is after notAfter of a certificate.
    #[error("certificate {subject:?} has expired at {time} (notAfter {not_after})")]
    Expired {
        /// Certificate subject.
        subject: String,
        /// The time checked.
        time: Instant,
        /// Its notAfter.
        not_after: Instant,
    },
    /// The required extended key usage is absent.
    #[error("certificate lacks the required extended key usage {eku}")]
    MissingEku {
        /// Dotted OID.
        eku: &'static str,
    },
    /// The leaf is a CA certificate.
    #[error("leaf certificate is a CA certificate")]
    LeafIsCa,
    /// No trusted CA issued this certificate.
    #[error("certificate issuer {issuer:?} is not a trusted certificate authority")]
    UnknownIssuer {
        /// The leaf's issuer DN.
        issuer: String,
    },
    /// The issuing CA's signature does not verify.
    #[error("certificate signature by {issuer:?} does not verify")]
    BadSignature {
        /// Issuer DN.
        issuer: String,
    },
    /// Rejected by path validation for another reason.
    #[error("certificate rejected by path validation: {reason}")]
    Rejected {
        /// webpki's reason.
        reason: String,
    },
}

/// A parsed certificate with its original DER.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    cert: x509_cert::Certificate,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Certificate {
    /// Parse a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        if der.len() > crate::limits::MAX_CERTIFICATE_LEN {
            return Err(CertError::Malformed(format!(
                "{} bytes is over the limit",
                der.len()
            )));
        }
        let cert = x509_cert::Certificate::from_der(der).map_err(CertError::Der)?;
        Ok(Self {
            der: der.to_vec(),
            cert,
        })
    }

    /// Parse every `CERTIFICATE` block of a PEM document.
    pub fn from_pem_chain(pem: &str) -> Result<Vec<Self>, CertError> {
        let blocks = crate::keys::pem_blocks(pem)?;
        blocks
            .into_iter()
            .filter(|(l, _)| l == "CERTIFICATE")
            .map(|(_, der)| Self::from_der(&der))
            .collect()
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The x509-cert structure.
    pub fn inner(&self) -> &x509_cert::Certificate {
        &self.cert
    }

    /// Subject DN in RFC 4514 form; Fulcio leaves have an empty subject, shown by serial instead.
    pub fn subject(&self) -> String {
        let s = self.cert.tbs_certificate().subject().to_string();
        if s.is_empty() {
            format!("(empty subject, serial {})", self.serial_hex())
        } else {
            s
        }
    }

    /// Issuer DN in RFC 4514 form.
    pub fn issuer(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    /// True when subject and issuer names are equal (a root or self-issued certificate).
    pub fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate().subject() == self.cert.tbs_certificate().issuer()
    }

    /// True when `issuer`'s subject name equals this certificate's issuer name.
    pub fn names_issuer(&self, issuer: &Certificate) -> bool {
        self.cert.tbs_certificate().issuer() == issuer.cert.tbs_certificate().subject()
    }

    /// Serial number, hex.
    pub fn serial_hex(&self) -> String {
        hex::encode(self.cert.tbs_certificate().serial_number().as_bytes())
    }

    /// notBefore.
    pub fn not_before(&self) -> Instant {
        to_instant(self.cert.tbs_certificate().validity().not_before)
    }

    /// notAfter.
    pub fn not_after(&self) -> Instant {
        to_instant(self.cert.tbs_certificate().validity().not_after)
    }

    /// Check `t` against notBefore/notAfter (inclusive).
    pub fn check_valid_at(&self, t: Instant) -> Result<(), ChainError> {
        let nb = self.not_before();
        let na = self.not_after();
        if t < nb {
            return Err(ChainError::NotYetValid {
                subject: self.subject(),
                time: t,
                not_before: nb,
            });
        }
        if t > na {
            return Err(ChainError::Expired {
                subject: self.subject(),
                time: t,
                not_after: na,
            });
        }
        Ok(())
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>, CertError> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(CertError::Der)
    }

    /// The subject public key.
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        Ok(PublicKey::from_spki_der(&self.spki_der()?)?)
    }

    /// DER of the TBSCertificate.
    pub fn tbs_der(&self) -> Result<Vec<u8>, CertError> {
        self.cert.tbs_certificate().to_der().map_err(CertError::Der)
    }

    /// Extensions as (OID, critical, value bytes).
    pub fn extensions(&self) -> impl Iterator<Item = (&ObjectIdentifier, bool, &[u8])> {
        self.cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .map(|e| (&e.extn_id, e.critical, e.extn_value.as_bytes()))
    }

    /// Value bytes of the extension with `oid` (dotted form), if present.
    pub fn extension_value(&self, oid: &str) -> Option<&[u8]> {
        let oid = ObjectIdentifier::new(oid).ok()?;
        self.extension_value_oid(&oid)
    }

    /// Value bytes of the extension with `oid`, if present.
    pub fn extension_value_oid(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .find(|e| &e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    /// True if BasicConstraints says cA.
    pub fn is_ca(&self) -> bool {
        self.cert
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .ok()
            .flatten()
            .is_some_and(|(_, bc)| bc.ca)
    }

    /// True when the KeyUsage extension is present and includes digitalSignature.
    pub fn has_digital_signature_usage(&self) -> bool {
        self.cert
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .ok()
            .flatten()
            .is_some_and(|(_, ku)| ku.digital_signature())
    }

    /// True when the ExtendedKeyUsage extension lists `oid` (dotted).
    pub fn has_eku(&self, oid: &str) -> bool {
        self.cert
            .tbs_certificate()
            .get_extension::<ExtendedKeyUsage>()
            .ok()
            .flatten()
            .is_some_and(|(_, eku)| {
                ObjectIdentifier::new(oid).is_ok_and(|want| eku.0.contains(&want))
            })
    }

    /// Verify that `issuer` signed this certificate (signature only, no other checks).
    pub fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), CertError> {
        let alg_oid = self.cert.signature_algorithm().oid.to_string();
        let alg: &'static dyn VerificationAlgorithm = match alg_oid.as_str() {
            "1.2.840.10045.4.3.2" => match issuer.public_key()?.kind() {
                crate::keys::KeyKind::EcdsaP384 => &signature::ECDSA_P384_SHA256_ASN1,
                _ => &signature::ECDSA_P256_SHA256_ASN1,
            },
            "1.2.840.10045.4.3.3" => match issuer.public_key()?.kind() {
                crate::keys::KeyKind::EcdsaP256 => &signature::ECDSA_P256_SHA384_ASN1,
                _ => &signature::ECDSA_P384_SHA384_ASN1,
            },
            "1.2.840.10045.4.3.4" => &signature::ECDSA_P521_SHA512_ASN1,
            "1.2.840.113549.1.1.11" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "1.2.840.113549.1.1.12" => &signature::RSA_PKCS1_2048_8192_SHA384,
            "1.2.840.113549.1.1.13" => &signature::RSA_PKCS1_2048_8192_SHA512,
            "1.3.101.112" => &signature::ED25519,
            other => return Err(CertError::UnsupportedAlgorithm(other.to_string())),
        };
        let sig =
            self.cert.signature().as_bytes().ok_or_else(|| {
                CertError::Malformed("signature bit string has unused bits".into())
            })?;
        let tbs = self.tbs_der()?;
        UnparsedPublicKey::new(alg, issuer.spki_der()?)
            .verify(&tbs, sig)
            .map_err(|_| CertError::BadSignature {
                subject: self.subject(),
                issuer: issuer.subject(),
            })
    }

    /// Every subject alternative name value: DNS names, emails, IP addresses, URIs and the
    /// Fulcio username OtherName, in certificate order (what monitors match identities against).
    pub fn subject_alt_names(&self) -> Result<Vec<String>, CertError> {
        let Some(san_der) = self.extension_value_oid(&OID_SAN) else {
            return Ok(Vec::new());
        };
        let san = SubjectAltName::from_der(san_der).map_err(|source| CertError::ExtensionDer {
            oid: "2.5.29.17".into(),
            source,
        })?;
        let mut out = Vec::new();
        for gn in &san.0 {
            match gn {
                GeneralName::DnsName(d) => out.push(ia5(d)),
                GeneralName::Rfc822Name(e) => out.push(ia5(e)),
                GeneralName::UniformResourceIdentifier(u) => out.push(ia5(u)),
                GeneralName::IpAddress(ip) => {
                    let b = ip.as_bytes();
                    if let Ok(v4) = <[u8; 4]>::try_from(b) {
                        out.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                        out.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                GeneralName::OtherName(on)
                    if on.type_id == ObjectIdentifier::new_unwrap(OID_OTHERNAME_USERNAME) =>
                {
                    if let Ok(s) = on.value.decode_as::<Utf8StringRef<'_>>() {
                        out.push(s.as_str().to_string());
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Summarize the Fulcio identity: SAN and the Sigstore OID extensions.
    pub fn fulcio_identity(&self) -> Result<FulcioIdentity, CertError> {
        FulcioIdentity::from_certificate(self)
    }
}

fn to_instant(t: x509_cert::time::Time) -> Instant {
    let d = t.to_unix_duration();
    Instant {
        secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos(),
    }
}

/// Validate `leaf` as issued by the trusted `issuer` at time `at`, requiring EKU `eku`
/// (use [`EKU_CODE_SIGNING`] or [`EKU_TIME_STAMPING`]). Checks the issuer's signature,
/// the leaf's validity window, key usage/EKU, critical extensions and that it is not a CA.
pub fn verify_leaf(
    leaf: &Certificate,
    issuer: &Certificate,
    at: Instant,
    eku: &'static [u8],
) -> Result<(), ChainError> {
    verify_path(leaf, &[], issuer, at, eku)
}

/// Validate the path `leaf` → `intermediates` (nearest the leaf first) → the trusted `anchor` at
/// time `at` with rustls-webpki, requiring EKU `eku`: every signature, the validity of the leaf
/// and of the intermediates, basic constraints and key usage of the issuers, and no unknown
/// critical extension. The leaf must not be a CA. (webpki treats a trust anchor as valid at all
/// times: the anchor's own validity is the caller's check.)
pub fn verify_path(
    leaf: &Certificate,
    intermediates: &[&Certificate],
    anchor: &Certificate,
    at: Instant,
    eku: &'static [u8],
) -> Result<(), ChainError> {
    // Time first: gives a precise structured error.
    leaf.check_valid_at(at)?;
    if leaf.is_ca() {
        return Err(ChainError::LeafIsCa);
    }
    let eku_name = if eku == EKU_TIME_STAMPING {
        "1.3.6.1.5.5.7.3.8 (timeStamping)"
    } else {
        "1.3.6.1.5.5.7.3.3 (codeSigning)"
    };
    let leaf_der = CertificateDer::from(leaf.der());
    let anchor_der = CertificateDer::from(anchor.der());
    let intermediates_der: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| ChainError::Rejected {
        reason: format!("{e:?}"),
    })?;
    let trust_anchor =
        webpki::anchor_from_trusted_cert(&anchor_der).map_err(|e| ChainError::Rejected {
            reason: format!("trusted CA certificate unusable: {e:?}"),
        })?;
    let secs = u64::try_from(at.secs).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[trust_anchor],
        &intermediates_der,
        time,
        webpki::KeyUsage::required(eku),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| match e {
        webpki::Error::UnknownIssuer => ChainError::UnknownIssuer {
            issuer: leaf.issuer(),
        },
        webpki::Error::InvalidSignatureForPublicKey => ChainError::BadSignature {
            issuer: intermediates
                .first()
                .map_or_else(|| anchor.subject(), |c| c.subject()),
        },
        webpki::Error::RequiredEkuNotFoundContext(_) => ChainError::MissingEku { eku: eku_name },
        webpki::Error::CaUsedAsEndEntity => ChainError::LeafIsCa,
        other => ChainError::Rejected {
            reason: format!("{other:?}"),
        },
    })
}

/// Checks that rustls-webpki understands every critical extension of `cert`, for a certificate
/// trusted on its own (pinned), which never goes through [`verify_path`].
pub fn check_critical_extensions(cert: &Certificate) -> Result<(), ChainError> {
    let der = CertificateDer::from(cert.der());
    webpki::EndEntityCert::try_from(&der)
        .map(|_| ())
        .map_err(|e| ChainError::Rejected {
            reason: format!("{e:?}"),
        })
}

/// The identity a Fulcio certificate attests.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FulcioIdentity {
    /// The SAN value (first URI, else email, else username OtherName).
    pub san: Option<String>,
    /// Which kind of SAN it was: `uri`, `email` or `othername`.
    pub san_kind: Option<&'static str>,
    /// OIDC issuer (1.8 preferred, else 1.1).
    pub issuer: Option<String>,
    /// Sigstore extensions by last arc number (1.x → x), decoded to strings.
    pub extensions: BTreeMap<u32, String>,
}

/// Names of Fulcio extension arcs, for display and JSON output.
pub fn fulcio_extension_name(arc: u32) -> &'static str {
    match arc {
        1 => "issuer (v1)",
        2 => "githubWorkflowTrigger",
        3 => "githubWorkflowSha",
        4 => "githubWorkflowName",
        5 => "githubWorkflowRepository",
        6 => "githubWorkflowRef",
        8 => "issuer",
        9 => "buildSignerURI",
        10 => "buildSignerDigest",
        11 => "runnerEnvironment",
        12 => "sourceRepositoryURI",
        13 => "sourceRepositoryDigest",
        14 => "sourceRepositoryRef",
        15 => "sourceRepositoryIdentifier",
        16 => "sourceRepositoryOwnerURI",
        17 => "sourceRepositoryOwnerIdentifier",
        18 => "buildConfigURI",
        19 => "buildConfigDigest",
        20 => "buildTrigger",
        21 => "runInvocationURI",
        22 => "sourceRepositoryVisibilityAtSigning",
        23 => "deploymentEnvironment",
        24 => "tokenSubject",
        _ => "unknown",
    }
}

impl FulcioIdentity {
    fn from_certificate(cert: &Certificate) -> Result<Self, CertError> {
        let mut id = FulcioIdentity::default();
        for (oid, _critical, value) in cert.extensions() {
            let Some(arc) = fulcio_arc(oid) else {
                continue;
            };
            let text = if arc <= 6 {
                // Legacy extensions: raw UTF-8 bytes, no DER wrapper.
                String::from_utf8(value.to_vec()).map_err(|_| CertError::BadExtension {
                    oid: oid.to_string(),
                    reason: "not UTF-8".into(),
                })?
            } else {
                Utf8StringRef::from_der(value)
                    .map(|s| s.as_str().to_string())
                    .map_err(|source| CertError::ExtensionDer {
                        oid: oid.to_string(),
                        source,
                    })?
            };
            id.extensions.insert(arc, text);
        }
        id.issuer = id
            .extensions
            .get(&8)
            .or_else(|| id.extensions.get(&1))
            .cloned();
        if let Some(san_der) = cert.extension_value_oid(&OID_SAN) {
            let san =
                SubjectAltName::from_der(san_der).map_err(|source| CertError::ExtensionDer {
                    oid: "2.5.29.17".into(),
                    source,
                })?;
            let mut uri = None;
            let mut email = None;
            let mut other = None;
            for gn in &san.0 {
                match gn {
                    GeneralName::UniformResourceIdentifier(u) if uri.is_none() => {
                        uri = Some(ia5(u));
                    }
                    GeneralName::Rfc822Name(e) if email.is_none() => {
                        email = Some(ia5(e));
                    }
                    GeneralName::OtherName(on)
                        if other.is_none()
                            && on.type_id
                                == ObjectIdentifier::new_unwrap(OID_OTHERNAME_USERNAME) =>
                    {
                        let s = on
                            .value
                            .decode_as::<Utf8StringRef<'_>>()
                            .map_err(CertError::SanOtherName)?;
                        other = Some(s.as_str().to_string());
                    }
                    _ => {}
                }
            }
            if let Some(u) = uri {
                id.san = Some(u);
                id.san_kind = Some("uri");
            } else if let Some(e) = email {
                id.san = Some(e);
                id.san_kind = Some("email");
            } else if let Some(o) = other {
                id.san = Some(o);
                id.san_kind = Some("othername");
            }
        }
        Ok(id)
    }

    /// The value of Fulcio extension `1.3.6.1.4.1.57264.1.<arc>`.
    pub fn extension(&self, arc: u32) -> Option<&str> {
        self.extensions.get(&arc).map(String::as_str)
    }
}

fn ia5(s: &x509_cert::der::asn1::Ia5String) -> String {
    let r: Ia5StringRef<'_> = s.into();
    r.as_str().to_string()
}
