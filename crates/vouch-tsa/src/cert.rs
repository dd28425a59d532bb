//! The TSA signing key and its generated two-certificate chain (self-signed root CA + TSA leaf).
//!
//! TBS certificates are assembled with `der`/`x509-cert` types and signed with aws-lc-rs ECDSA.
//! The profile is RFC 5280 / RFC 3161 §2.3 clean, so `openssl verify -x509_strict -purpose
//! timestampsign` accepts it: the root has critical basicConstraints CA, critical keyUsage
//! keyCertSign|cRLSign and an SKI; the leaf has critical keyUsage digitalSignature, a critical
//! extendedKeyUsage holding only id-kp-timeStamping, an SKI and an AKI naming the root's SKI.

use crate::TsaError;
use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, KeyPair,
};
use der::asn1::OctetString;
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::str::FromStr;
use std::time::{Duration, SystemTime};
use vouch_core::tsa::asn1::CertificateFields;
use vouch_core::tsa::oid::{
    ECDSA_WITH_SHA256 as OID_ECDSA_SHA256, ECDSA_WITH_SHA384 as OID_ECDSA_SHA384,
    ID_KP_TIME_STAMPING as OID_KP_TIME_STAMPING, ID_SHA256 as OID_SHA256, ID_SHA384 as OID_SHA384,
};
use vouch_core::x509::build::{
    TbsCertificate as Tbs, extension, key_identifier, random_serial, validity,
};
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;

/// Curve of the TSA signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TsaKeyAlgorithm {
    /// ECDSA P-256; tokens are signed with ecdsa-with-SHA256 (the default).
    #[default]
    EcdsaP256,
    /// ECDSA P-384; tokens are signed with ecdsa-with-SHA384.
    EcdsaP384,
}

impl TsaKeyAlgorithm {
    pub(crate) fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            TsaKeyAlgorithm::EcdsaP256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
            TsaKeyAlgorithm::EcdsaP384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }

    /// The signature algorithm (`ecdsa-with-SHA256` / `ecdsa-with-SHA384`).
    pub(crate) fn sig_alg(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: match self {
                TsaKeyAlgorithm::EcdsaP256 => OID_ECDSA_SHA256,
                TsaKeyAlgorithm::EcdsaP384 => OID_ECDSA_SHA384,
            },
            parameters: None,
        }
    }

    /// The CMS digest algorithm paired with the curve (SHA-256 / SHA-384).
    pub(crate) fn digest_alg(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: match self {
                TsaKeyAlgorithm::EcdsaP256 => OID_SHA256,
                TsaKeyAlgorithm::EcdsaP384 => OID_SHA384,
            },
            parameters: None,
        }
    }

    /// The aws-lc-rs digest paired with the curve.
    pub(crate) fn digest(self) -> &'static digest::Algorithm {
        match self {
            TsaKeyAlgorithm::EcdsaP256 => &digest::SHA256,
            TsaKeyAlgorithm::EcdsaP384 => &digest::SHA384,
        }
    }

    /// A short name (`ecdsa-p256`, `ecdsa-p384`).
    pub fn name(self) -> &'static str {
        match self {
            TsaKeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            TsaKeyAlgorithm::EcdsaP384 => "ecdsa-p384",
        }
    }
}

/// An ECDSA key held in memory with its curve.
pub(crate) struct Signer {
    pub(crate) key: EcdsaKeyPair,
    pub(crate) alg: TsaKeyAlgorithm,
    pub(crate) rng: SystemRandom,
}

impl Signer {
    pub(crate) fn generate(alg: TsaKeyAlgorithm) -> Result<Self, TsaError> {
        let key = EcdsaKeyPair::generate(alg.signing())
            .map_err(|_| TsaError::Key("key generation failed".into()))?;
        Ok(Signer {
            key,
            alg,
            rng: SystemRandom::new(),
        })
    }

    /// A PKCS#8 DER ECDSA P-256 or P-384 private key.
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self, TsaError> {
        for alg in [TsaKeyAlgorithm::EcdsaP256, TsaKeyAlgorithm::EcdsaP384] {
            if let Ok(key) = EcdsaKeyPair::from_pkcs8(alg.signing(), der) {
                return Ok(Signer {
                    key,
                    alg,
                    rng: SystemRandom::new(),
                });
            }
        }
        Err(TsaError::Key(
            "not a PKCS#8 ECDSA P-256 or P-384 private key".into(),
        ))
    }

    pub(crate) fn to_pkcs8(&self) -> Result<Vec<u8>, TsaError> {
        self.key
            .to_pkcs8v1()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| TsaError::Key("PKCS#8 export failed".into()))
    }

    pub(crate) fn spki_der(&self) -> Result<Vec<u8>, TsaError> {
        self.key
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| TsaError::Key("public key export failed".into()))
    }

    /// ASN.1 DER ECDSA signature over `msg` (hashed with the curve's digest).
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, TsaError> {
        self.key
            .sign(&self.rng, msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| TsaError::Key("signing failed".into()))
    }

    /// `n` random bytes.
    pub(crate) fn random(&self, out: &mut [u8]) -> Result<(), TsaError> {
        self.rng
            .fill(out)
            .map_err(|_| TsaError::Key("random generator failed".into()))
    }
}

fn enc(e: der::Error) -> TsaError {
    TsaError::Encoding(e)
}

fn sign_tbs(signer: &Signer, tbs: &Tbs) -> Result<Vec<u8>, TsaError> {
    tbs.sign(|der| signer.sign(der))
}

/// Strips characters that would need escaping in an RFC 4514 string.
fn clean(s: &str) -> String {
    s.replace([',', '+', '=', '\\', '"', '<', '>', ';', '#'], "")
        .trim()
        .to_string()
}

/// A generated chain: the leaf key, the leaf and the root (DER).
pub(crate) struct GeneratedChain {
    pub(crate) signer: Signer,
    pub(crate) leaf_der: Vec<u8>,
    pub(crate) root_der: Vec<u8>,
}

/// Generate a TSA key plus a self-signed root (same curve, key discarded after signing).
pub(crate) fn generate_chain(
    alg: TsaKeyAlgorithm,
    organization: &str,
    common_name: &str,
    lifetime: Duration,
) -> Result<GeneratedChain, TsaError> {
    let root_key = Signer::generate(alg)?;
    let leaf_key = Signer::generate(alg)?;
    let org = clean(organization);
    let cn = clean(common_name);
    let org = if org.is_empty() { "vouch".into() } else { org };
    let cn = if cn.is_empty() {
        "vouch TSA".into()
    } else {
        cn
    };
    let root_name = Name::from_str(&format!("CN={cn} root,O={org}")).map_err(enc)?;
    let leaf_name = Name::from_str(&format!("CN={cn},O={org}")).map_err(enc)?;
    let v = validity(SystemTime::now(), lifetime)?;

    let root_spki = SubjectPublicKeyInfoOwned::from_der(&root_key.spki_der()?).map_err(enc)?;
    let root_ski = key_identifier(&root_spki);
    let root_tbs = Tbs {
        version: Version::V3,
        serial_number: random_serial(&root_key.rng)?,
        signature: alg.sig_alg(),
        issuer: root_name.clone(),
        validity: v,
        subject: root_name.clone(),
        subject_public_key_info: root_spki,
        extensions: Some(vec![
            extension(
                true,
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: Some(0),
                },
            )?,
            extension(true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
            extension(
                false,
                &SubjectKeyIdentifier(OctetString::new(root_ski.clone()).map_err(enc)?),
            )?,
        ]),
    };
    let root_der = sign_tbs(&root_key, &root_tbs)?;

    let leaf_spki = SubjectPublicKeyInfoOwned::from_der(&leaf_key.spki_der()?).map_err(enc)?;
    let leaf_ski = key_identifier(&leaf_spki);
    let leaf_tbs = Tbs {
        version: Version::V3,
        serial_number: random_serial(&root_key.rng)?,
        signature: alg.sig_alg(),
        issuer: root_name,
        validity: v,
        subject: leaf_name,
        subject_public_key_info: leaf_spki,
        extensions: Some(vec![
            extension(true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
            // RFC 3161 §2.3: the only EKU, and critical.
            extension(true, &ExtendedKeyUsage(vec![OID_KP_TIME_STAMPING]))?,
            extension(
                false,
                &SubjectKeyIdentifier(OctetString::new(leaf_ski).map_err(enc)?),
            )?,
            extension(
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(root_ski).map_err(enc)?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?,
        ]),
    };
    let leaf_der = sign_tbs(&root_key, &leaf_tbs)?;
    Ok(GeneratedChain {
        signer: leaf_key,
        leaf_der,
        root_der,
    })
}

/// The raw (byte-exact) parts of a certificate the token needs.
pub(crate) struct RawLeaf {
    /// Issuer `Name` TLV.
    pub(crate) issuer: Vec<u8>,
    /// Serial number `INTEGER` TLV.
    pub(crate) serial: Vec<u8>,
    /// Subject `Name` TLV.
    pub(crate) subject: Vec<u8>,
    /// SubjectPublicKeyInfo TLV.
    pub(crate) spki: Vec<u8>,
}

/// Split a certificate into its byte-exact TBS fields (no re-encoding, so names with unsorted
/// multi-valued RDNs survive).
pub(crate) fn raw_leaf(cert_der: &[u8]) -> Result<RawLeaf, TsaError> {
    let bad = |source: der::Error| TsaError::CertificateDer {
        what: "leaf certificate",
        source,
    };
    let fields = CertificateFields::from_certificate(cert_der).map_err(bad)?;
    Ok(RawLeaf {
        serial: fields.serial_number.to_der().map_err(bad)?,
        issuer: fields.issuer.to_der().map_err(bad)?,
        subject: fields.subject.to_der().map_err(bad)?,
        spki: fields.subject_public_key_info.to_der().map_err(bad)?,
    })
}
