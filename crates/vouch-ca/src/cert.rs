//! Certificate issuance in the Fulcio profile (protocols.md §1.6), CT precertificates and SCT
//! embedding (§1.10), and a generated development root + intermediate.
//!
//! TBS certificates are assembled with `der`/`x509-cert` types and signed with aws-lc-rs
//! ECDSA keys (P-256 or P-384).

use crate::identity::{CertIdentity, San};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, KeyPair,
};
use der::asn1::{Any, Ia5String, Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::str::FromStr;
use std::time::{Duration, SystemTime};
use vouch_core::x509::build::{
    BuildError, TbsCertificate as Tbs, extension, extension_raw, extension_with_oid,
    key_identifier, random_serial, validity,
};
use x509_cert::certificate::Version;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::time::Validity;

const OID_KP_CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const OID_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// CT precertificate poison extension OID.
pub const OID_CT_POISON: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.3");
/// Embedded SCT list extension OID.
pub const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// Default leaf validity (Fulcio: 10 minutes).
pub const DEFAULT_LEAF_VALIDITY: Duration = Duration::from_secs(600);

/// Errors issuing certificates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// A key could not be generated, loaded or used; the crypto library gives no detail.
    #[error("CA key error: {0}")]
    Key(String),
    /// The PKCS#11 token could not open the key or sign with it.
    #[error("CA key on the PKCS#11 token")]
    Pkcs11(#[source] vouch_pkcs11::Pkcs11Error),
    /// The CA key file is not a PKCS#8 `PRIVATE KEY` or `ENCRYPTED PRIVATE KEY` PEM.
    #[error("CA key must be a PKCS#8 PRIVATE KEY or ENCRYPTED PRIVATE KEY PEM")]
    KeyPem(#[source] vouch_core::keys::KeyError),
    /// The `ENCRYPTED PRIVATE KEY` block is not an `EncryptedPrivateKeyInfo`.
    #[error("CA key is not an encrypted PKCS#8 key")]
    KeyNotEncryptedPkcs8(#[source] der::Error),
    /// The encrypted CA key does not decrypt.
    #[error("cannot decrypt the CA key (wrong password or unsupported scheme)")]
    KeyDecrypt(#[source] pkcs8::Error),
    /// ASN.1 encoding or decoding failed.
    #[error("certificate encoding error")]
    Encoding(#[source] der::Error),
    /// A Sigstore extension OID does not encode.
    #[error("certificate extension OID {oid:?} does not encode")]
    Oid {
        /// The OID as text.
        oid: String,
        /// The OID parser's error.
        #[source]
        source: der::oid::Error,
    },
    /// The requester's public key is of an unsupported type, or its key material is invalid.
    #[error("unsupported or malformed subject public key")]
    BadPublicKey(#[source] vouch_core::keys::KeyError),
    /// The SAN value cannot be encoded (e.g. non-ASCII email or URI).
    #[error("SAN value {value:?} cannot be encoded: {reason}")]
    BadSan {
        /// The SAN value.
        value: String,
        /// Why.
        reason: String,
    },
    /// The CA certificate does not belong to the CA key, or is otherwise unusable.
    #[error("CA certificate unusable: {0}")]
    BadCaCertificate(String),
    /// A CA certificate failed a check of the certificate library.
    #[error("CA certificate unusable: {context}")]
    CaCertificate {
        /// Which certificate and which check.
        context: String,
        /// The check's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A precertificate passed for SCT embedding is not one this CA issued.
    #[error("not a precertificate of this CA: {0}")]
    NotPrecertificate(String),
    /// A certificate could not be assembled (encoding, serial number, validity).
    #[error("cannot build the certificate")]
    Build(#[from] BuildError),
}

fn enc(e: der::Error) -> CaError {
    CaError::Encoding(e)
}

/// Curves supported for CA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaKeyAlgorithm {
    /// ECDSA P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA P-384 with SHA-384 (public-good intermediate).
    EcdsaP384,
}

impl CaKeyAlgorithm {
    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            CaKeyAlgorithm::EcdsaP256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
            CaKeyAlgorithm::EcdsaP384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }
    fn sig_oid(self) -> ObjectIdentifier {
        match self {
            CaKeyAlgorithm::EcdsaP256 => OID_ECDSA_SHA256,
            CaKeyAlgorithm::EcdsaP384 => OID_ECDSA_SHA384,
        }
    }
}

/// Where a CA key lives.
enum CaKey {
    /// In memory (generated, or loaded from a PEM file).
    Memory(EcdsaKeyPair),
    /// On a PKCS#11 token; never leaves it.
    Pkcs11(vouch_pkcs11::Pkcs11Key),
}

/// An ECDSA CA signing key, in memory or on a PKCS#11 token.
pub struct CaSigner {
    key: CaKey,
    alg: CaKeyAlgorithm,
    rng: SystemRandom,
}

impl std::fmt::Debug for CaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaSigner").field("alg", &self.alg).finish()
    }
}

impl CaSigner {
    /// Generate a fresh key.
    pub fn generate(alg: CaKeyAlgorithm) -> Result<Self, CaError> {
        let key = EcdsaKeyPair::generate(alg.signing())
            .map_err(|_| CaError::Key("key generation failed".into()))?;
        Ok(CaSigner {
            key: CaKey::Memory(key),
            alg,
            rng: SystemRandom::new(),
        })
    }

    /// Open a CA key on a PKCS#11 token by its `pkcs11:` URI (RFC 7512).
    pub fn from_pkcs11_uri(uri: &str) -> Result<Self, CaError> {
        let key = vouch_pkcs11::Pkcs11Key::open(uri).map_err(CaError::Pkcs11)?;
        let alg = match key.curve() {
            vouch_pkcs11::Curve::P256 => CaKeyAlgorithm::EcdsaP256,
            vouch_pkcs11::Curve::P384 => CaKeyAlgorithm::EcdsaP384,
        };
        Ok(CaSigner {
            key: CaKey::Pkcs11(key),
            alg,
            rng: SystemRandom::new(),
        })
    }

    /// Load a PKCS#8 DER ECDSA P-384 or P-256 private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, CaError> {
        for alg in [CaKeyAlgorithm::EcdsaP384, CaKeyAlgorithm::EcdsaP256] {
            if let Ok(key) = EcdsaKeyPair::from_pkcs8(alg.signing(), der) {
                return Ok(CaSigner {
                    key: CaKey::Memory(key),
                    alg,
                    rng: SystemRandom::new(),
                });
            }
        }
        Err(CaError::Key(
            "not a PKCS#8 ECDSA P-256 or P-384 private key".into(),
        ))
    }

    /// The private key as PKCS#8 v1 DER.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, CaError> {
        match &self.key {
            CaKey::Memory(k) => k
                .to_pkcs8v1()
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| CaError::Key("PKCS#8 export failed".into())),
            CaKey::Pkcs11(_) => Err(CaError::Key(
                "the key is on a PKCS#11 token and cannot be exported".into(),
            )),
        }
    }

    /// The curve of this key.
    pub fn algorithm(&self) -> CaKeyAlgorithm {
        self.alg
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>, CaError> {
        use aws_lc_rs::encoding::AsDer;
        match &self.key {
            CaKey::Memory(k) => k
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| CaError::Key("public key export failed".into())),
            CaKey::Pkcs11(k) => Ok(k.spki_der().to_vec()),
        }
    }

    /// Sign `msg`, returning an ASN.1 DER ECDSA signature.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CaError> {
        match &self.key {
            CaKey::Memory(k) => k
                .sign(&self.rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CaError::Key("signing failed".into())),
            CaKey::Pkcs11(k) => k.sign(msg).map_err(CaError::Pkcs11),
        }
    }

    fn sig_alg(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.alg.sig_oid(),
            parameters: None,
        }
    }
}

fn sign_tbs(signer: &CaSigner, tbs: &Tbs) -> Result<Vec<u8>, CaError> {
    tbs.sign(|der| signer.sign(der))
}

fn parse_name(s: &str) -> Result<Name, CaError> {
    Name::from_str(s).map_err(enc)
}

fn san_extension(san: &San) -> Result<Extension, CaError> {
    let bad = |e: der::Error| CaError::BadSan {
        value: san.value().to_string(),
        reason: e.to_string(),
    };
    let gn = match san {
        San::Email(s) => GeneralName::Rfc822Name(Ia5String::new(s).map_err(bad)?),
        San::Uri(s) => GeneralName::UniformResourceIdentifier(Ia5String::new(s).map_err(bad)?),
        San::Username(s) => GeneralName::OtherName(OtherName {
            type_id: OID_USERNAME,
            value: Any::encode_from(&der::asn1::Utf8StringRef::new(s).map_err(bad)?)
                .map_err(bad)?,
        }),
    };
    // Critical because the subject is empty (RFC 5280 §4.2.1.6).
    Ok(extension(true, &SubjectAltName(vec![gn]))?)
}

/// Options for a leaf certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeafOptions {
    /// notBefore (truncated to whole seconds); `None` means now.
    pub not_before: Option<SystemTime>,
    /// notAfter − notBefore.
    pub validity: Duration,
}

impl Default for LeafOptions {
    fn default() -> Self {
        LeafOptions {
            not_before: None,
            validity: DEFAULT_LEAF_VALIDITY,
        }
    }
}

impl LeafOptions {
    /// Options with an explicit start time and lifetime.
    pub fn new(not_before: Option<SystemTime>, validity: Duration) -> Self {
        LeafOptions {
            not_before,
            validity,
        }
    }
}

/// An issuing CA: a signing key and its (intermediate or root) certificate.
#[derive(Debug)]
pub struct IssuingCa {
    signer: CaSigner,
    cert_der: Vec<u8>,
    subject: Name,
    ski: Vec<u8>,
}

impl IssuingCa {
    /// Pair a signer with its certificate (DER). Fails when the certificate's public key is
    /// not the signer's.
    pub fn new(signer: CaSigner, cert_der: &[u8]) -> Result<Self, CaError> {
        let cert =
            x509_cert::Certificate::from_der(cert_der).map_err(|e| CaError::CaCertificate {
                context: "the CA certificate does not parse".into(),
                source: Box::new(e),
            })?;
        let tbs = cert.tbs_certificate();
        let cert_spki = tbs.subject_public_key_info().to_der().map_err(enc)?;
        if cert_spki != signer.spki_der()? {
            return Err(CaError::BadCaCertificate(
                "certificate public key does not match the CA key".into(),
            ));
        }
        let ski = match tbs.get_extension::<SubjectKeyIdentifier>() {
            Ok(Some((_, ski))) => ski.0.as_bytes().to_vec(),
            _ => {
                let spki = SubjectPublicKeyInfoOwned::from_der(&cert_spki).map_err(enc)?;
                key_identifier(&spki)
            }
        };
        Ok(IssuingCa {
            subject: tbs.subject().clone(),
            signer,
            cert_der: cert_der.to_vec(),
            ski,
        })
    }

    /// The CA certificate (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA signing key.
    pub fn signer(&self) -> &CaSigner {
        &self.signer
    }

    fn leaf_tbs(
        &self,
        identity: &CertIdentity,
        subject_spki_der: &[u8],
        opts: &LeafOptions,
        poison: bool,
    ) -> Result<Tbs, CaError> {
        // Only accept keys a Sigstore verifier can use.
        vouch_core::keys::PublicKey::from_spki_der(subject_spki_der)
            .map_err(CaError::BadPublicKey)?;
        let spki = SubjectPublicKeyInfoOwned::from_der(subject_spki_der)
            .map_err(|e| CaError::BadPublicKey(vouch_core::keys::KeyError::Der(e)))?;
        let mut exts = vec![
            extension(true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
            extension(false, &ExtendedKeyUsage(vec![OID_KP_CODE_SIGNING]))?,
            extension(
                false,
                &SubjectKeyIdentifier(OctetString::new(key_identifier(&spki)).map_err(enc)?),
            )?,
            extension(
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(self.ski.clone()).map_err(enc)?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?,
            san_extension(&identity.san)?,
        ];
        let mut sigstore = identity.extensions.clone();
        sigstore.sort_by_key(|e| e.arc);
        for e in &sigstore {
            let text = e.oid();
            let oid = ObjectIdentifier::new(&text)
                .map_err(|source| CaError::Oid { oid: text, source })?;
            exts.push(extension_raw(oid, false, e.der_value().map_err(enc)?)?);
        }
        if poison {
            exts.push(extension_with_oid(OID_CT_POISON, true, &Null)?);
        }
        let not_before = opts.not_before.unwrap_or_else(SystemTime::now);
        Ok(Tbs {
            version: Version::V3,
            serial_number: random_serial(&self.signer.rng)?,
            signature: self.signer.sig_alg(),
            issuer: self.subject.clone(),
            validity: validity(not_before, opts.validity)?,
            subject: Name::default(),
            subject_public_key_info: spki,
            extensions: Some(exts),
        })
    }

    /// Issue a leaf certificate (DER) in the Fulcio profile for `identity` and the requester's
    /// public key (`subject_spki_der`, DER SubjectPublicKeyInfo).
    pub fn issue_leaf(
        &self,
        identity: &CertIdentity,
        subject_spki_der: &[u8],
        opts: &LeafOptions,
    ) -> Result<Vec<u8>, CaError> {
        let tbs = self.leaf_tbs(identity, subject_spki_der, opts, false)?;
        sign_tbs(&self.signer, &tbs)
    }

    /// Issue a CT precertificate: the leaf plus the critical poison extension
    /// (`1.3.6.1.4.1.11129.2.4.3`, NULL), last.
    pub fn issue_precertificate(
        &self,
        identity: &CertIdentity,
        subject_spki_der: &[u8],
        opts: &LeafOptions,
    ) -> Result<Precertificate, CaError> {
        let tbs = self.leaf_tbs(identity, subject_spki_der, opts, true)?;
        let der = sign_tbs(&self.signer, &tbs)?;
        Ok(Precertificate {
            der,
            tbs,
            issuer_ski: self.ski.clone(),
        })
    }

    /// Turn a precertificate issued by this CA into the final certificate: drop the poison
    /// extension, append the embedded SCT list extension (non-critical) whose extnValue is
    /// `OCTET STRING { sct_list }` (`sct_list` = TLS-encoded SignedCertificateTimestampList),
    /// and re-sign the otherwise identical TBS. The TBS is the one kept at issuance, so the
    /// precertificate is neither parsed nor verified again.
    pub fn embed_scts(&self, pre: &Precertificate, sct_list: &[u8]) -> Result<Vec<u8>, CaError> {
        if pre.issuer_ski != self.ski || pre.tbs.issuer != self.subject {
            return Err(CaError::NotPrecertificate(
                "the precertificate was issued by another CA".into(),
            ));
        }
        let mut exts: Vec<Extension> = pre.tbs.extensions.clone().unwrap_or_default();
        let before = exts.len();
        exts.retain(|e| e.extn_id != OID_CT_POISON);
        if exts.len() + 1 != before {
            return Err(CaError::NotPrecertificate("no CT poison extension".into()));
        }
        exts.retain(|e| e.extn_id != OID_SCT_LIST);
        let inner = OctetString::new(sct_list.to_vec()).map_err(enc)?;
        exts.push(extension_with_oid(OID_SCT_LIST, false, &inner)?);
        let tbs = Tbs {
            extensions: Some(exts),
            ..pre.tbs.clone()
        };
        sign_tbs(&self.signer, &tbs)
    }
}

/// A precertificate from [`IssuingCa::issue_precertificate`]: the DER submitted to CT logs,
/// and the TBS it was signed over, from which [`IssuingCa::embed_scts`] builds the final
/// certificate.
#[derive(Debug, Clone)]
pub struct Precertificate {
    der: Vec<u8>,
    tbs: Tbs,
    issuer_ski: Vec<u8>,
}

impl Precertificate {
    /// The signed precertificate (DER).
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// A generated development hierarchy: self-signed root and an intermediate that issues leaves.
#[derive(Debug)]
#[non_exhaustive]
pub struct DevHierarchy {
    /// Root certificate (DER).
    pub root_der: Vec<u8>,
    /// Root private key (PKCS#8 DER).
    pub root_key_pkcs8: Vec<u8>,
    /// The issuing intermediate (certificate + key).
    pub intermediate: IssuingCa,
}

/// Options for [`generate_dev_hierarchy`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DevHierarchyOptions {
    /// Organization name in both subjects.
    pub organization: String,
    /// Root key curve.
    pub root_algorithm: CaKeyAlgorithm,
    /// Intermediate key curve (P-384 like public-good).
    pub intermediate_algorithm: CaKeyAlgorithm,
    /// notBefore of both certificates (`None` = now).
    pub not_before: Option<SystemTime>,
    /// Lifetime of both certificates.
    pub validity: Duration,
}

impl Default for DevHierarchyOptions {
    fn default() -> Self {
        DevHierarchyOptions {
            organization: "vouch-dev".into(),
            root_algorithm: CaKeyAlgorithm::EcdsaP384,
            intermediate_algorithm: CaKeyAlgorithm::EcdsaP384,
            not_before: None,
            validity: Duration::from_secs(10 * 365 * 24 * 3600),
        }
    }
}

fn ca_cert(
    signer: &CaSigner,
    issuer: &Name,
    issuer_ski: Option<&[u8]>,
    subject: &Name,
    subject_spki_der: &[u8],
    path_len: Option<u8>,
    validity: Validity,
) -> Result<Vec<u8>, CaError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(subject_spki_der).map_err(enc)?;
    let mut exts = vec![
        extension(true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
        extension(
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
        )?,
        extension(
            false,
            &SubjectKeyIdentifier(OctetString::new(key_identifier(&spki)).map_err(enc)?),
        )?,
    ];
    if let Some(aki) = issuer_ski {
        exts.push(extension(
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(aki.to_vec()).map_err(enc)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?);
    }
    // Intermediates (non-self-signed) carry EKU codeSigning like public-good's.
    if issuer_ski.is_some() {
        exts.push(extension(
            false,
            &ExtendedKeyUsage(vec![OID_KP_CODE_SIGNING]),
        )?);
    }
    let tbs = Tbs {
        version: Version::V3,
        serial_number: random_serial(&signer.rng)?,
        signature: signer.sig_alg(),
        issuer: issuer.clone(),
        validity,
        subject: subject.clone(),
        subject_public_key_info: spki,
        extensions: Some(exts),
    };
    sign_tbs(signer, &tbs)
}

/// Generate a self-signed root and an intermediate (pathlen 0, EKU codeSigning like
/// public-good) for tests and first start.
pub fn generate_dev_hierarchy(opts: &DevHierarchyOptions) -> Result<DevHierarchy, CaError> {
    let root_key = CaSigner::generate(opts.root_algorithm)?;
    let int_key = CaSigner::generate(opts.intermediate_algorithm)?;
    let org = opts
        .organization
        .replace([',', '+', '=', '\\', '"', '<', '>', ';'], "");
    let root_name = parse_name(&format!("CN={org}-root,O={org}"))?;
    let int_name = parse_name(&format!("CN={org}-intermediate,O={org}"))?;
    let not_before = opts.not_before.unwrap_or_else(SystemTime::now);
    let v = validity(not_before, opts.validity)?;
    let root_spki = root_key.spki_der()?;
    let root_ski = key_identifier(&SubjectPublicKeyInfoOwned::from_der(&root_spki).map_err(enc)?);
    let root_der = ca_cert(&root_key, &root_name, None, &root_name, &root_spki, None, v)?;
    let int_der = ca_cert(
        &root_key,
        &root_name,
        Some(&root_ski),
        &int_name,
        &int_key.spki_der()?,
        Some(0),
        v,
    )?;
    Ok(DevHierarchy {
        root_der,
        root_key_pkcs8: root_key.to_pkcs8()?,
        intermediate: IssuingCa::new(int_key, &int_der)?,
    })
}
