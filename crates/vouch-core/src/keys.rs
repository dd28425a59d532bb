//! Public keys and signature verification, all arithmetic done by aws-lc-rs.
//!
//! Keys arrive as DER SubjectPublicKeyInfo (certificates, trusted roots, PEM `PUBLIC KEY`
//! files). The signature scheme and hash follow the key, as Sigstore's algorithm registry
//! prescribes: P-256 → SHA-256, P-384 → SHA-384, P-521 → SHA-512, RSA → SHA-256, Ed25519 pure.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use der::Decode;
use spki::SubjectPublicKeyInfoRef;

use der::asn1::ObjectIdentifier as Oid;

const OID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const OID_P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: Oid = Oid::new_unwrap("1.3.132.0.34");
const OID_P521: Oid = Oid::new_unwrap("1.3.132.0.35");
const OID_ED25519: Oid = Oid::new_unwrap("1.3.101.112");
const OID_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");

/// The key types Sigstore uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// ECDSA on P-521.
    EcdsaP521,
    /// Ed25519.
    Ed25519,
    /// RSA (PKCS#1 v1.5 unless the trust root says PSS).
    Rsa,
}

impl KeyKind {
    /// Readable name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ECDSA P-256",
            Self::EcdsaP384 => "ECDSA P-384",
            Self::EcdsaP521 => "ECDSA P-521",
            Self::Ed25519 => "Ed25519",
            Self::Rsa => "RSA",
        }
    }
}

/// Hash functions used with signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashKind {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashKind {
    /// The aws-lc-rs digest algorithm.
    pub fn algorithm(&self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }
    /// Hash `data`.
    pub fn digest(&self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.algorithm(), data).as_ref().to_vec()
    }
    /// Hash everything `r` yields, streamed in 1 MiB chunks (files of any size).
    pub fn digest_reader(&self, mut r: impl std::io::Read) -> std::io::Result<Vec<u8>> {
        let mut ctx = digest::Context::new(self.algorithm());
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(ctx.finish().as_ref().to_vec());
            }
            ctx.update(&buf[..n]);
        }
    }
    /// Output length in bytes.
    pub fn len(&self) -> usize {
        self.algorithm().output_len()
    }
    /// Always false; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Lowercase name as in `sha256:<hex>`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }
    /// Parse `sha256`/`sha384`/`sha512`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// RSA padding scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaPadding {
    /// PKCS#1 v1.5.
    Pkcs1v15,
    /// RSASSA-PSS.
    Pss,
}

/// Errors parsing keys or verifying signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The DER is not a SubjectPublicKeyInfo.
    #[error("public key is not valid DER SubjectPublicKeyInfo: {0}")]
    Malformed(String),
    /// The DER does not decode as a SubjectPublicKeyInfo.
    #[error("public key is not valid DER SubjectPublicKeyInfo: {0}")]
    Der(#[source] der::Error),
    /// The algorithm or curve is not one Sigstore uses.
    #[error("unsupported public key algorithm {0}")]
    Unsupported(String),
    /// aws-lc rejected the key material.
    #[error("{kind} public key rejected: {reason}")]
    Rejected {
        /// Key type.
        kind: &'static str,
        /// Reason from the crypto library.
        reason: String,
    },
    /// The signature does not verify.
    #[error("{kind} signature does not verify")]
    BadSignature {
        /// Key type.
        kind: &'static str,
    },
    /// A digest was supplied with the wrong length or for a key that cannot verify digests.
    #[error("cannot verify a {hash} digest with a {kind} key")]
    DigestNotSupported {
        /// Key type.
        kind: &'static str,
        /// Digest algorithm.
        hash: &'static str,
    },
    /// PEM input did not decode.
    #[error("invalid PEM")]
    Pem(#[from] crate::pem::PemError),
}

/// A parsed public key, ready to verify many signatures.
#[derive(Debug, Clone)]
pub struct PublicKey {
    kind: KeyKind,
    rsa_padding: RsaPadding,
    spki_der: Vec<u8>,
    parsed: ParsedPublicKey,
}

impl PublicKey {
    /// Parse a DER SubjectPublicKeyInfo (RSA defaults to PKCS#1 v1.5).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::from_spki_der_with(der, RsaPadding::Pkcs1v15)
    }

    /// Parse a DER SubjectPublicKeyInfo with an explicit RSA padding.
    pub fn from_spki_der_with(der: &[u8], rsa_padding: RsaPadding) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(KeyError::Der)?;
        let alg = spki.algorithm.oid;
        let kind = if alg == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|_| KeyError::Malformed("EC key without named curve".into()))?;
            if curve == OID_P256 {
                KeyKind::EcdsaP256
            } else if curve == OID_P384 {
                KeyKind::EcdsaP384
            } else if curve == OID_P521 {
                KeyKind::EcdsaP521
            } else {
                return Err(KeyError::Unsupported(format!("EC curve {curve}")));
            }
        } else if alg == OID_ED25519 {
            KeyKind::Ed25519
        } else if alg == OID_RSA {
            KeyKind::Rsa
        } else {
            return Err(KeyError::Unsupported(format!("public key algorithm {alg}")));
        };
        let alg = default_algorithm(kind, rsa_padding);
        let parsed = ParsedPublicKey::new(alg, der).map_err(|e| KeyError::Rejected {
            kind: kind.name(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            kind,
            rsa_padding,
            spki_der: der.to_vec(),
            parsed,
        })
    }

    /// Parse a PEM `PUBLIC KEY` block.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_decode(pem, &["PUBLIC KEY"])?;
        Self::from_spki_der(&der)
    }

    /// The key type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The hash Sigstore pairs with this key for message signatures.
    pub fn default_hash(&self) -> HashKind {
        match self.kind {
            KeyKind::EcdsaP384 => HashKind::Sha384,
            KeyKind::EcdsaP521 | KeyKind::Ed25519 => HashKind::Sha512,
            KeyKind::EcdsaP256 | KeyKind::Rsa => HashKind::Sha256,
        }
    }

    /// SHA-256 of the SPKI DER: the RFC 6962 / Rekor v1 key ID.
    pub fn key_id(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, &self.spki_der).as_ref());
        out
    }

    /// Verify `sig` over `message` with the key's default scheme and hash.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        self.parsed
            .verify_sig(message, sig)
            .map_err(|_| KeyError::BadSignature {
                kind: self.kind.name(),
            })
    }

    /// Verify `sig` over `message` hashed with `hash` (ECDSA/RSA only; Ed25519 ignores `hash`).
    pub fn verify_with_hash(
        &self,
        hash: HashKind,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), KeyError> {
        if hash == self.default_hash() || self.kind == KeyKind::Ed25519 {
            return self.verify(message, sig);
        }
        let alg = algorithm_for(self.kind, hash, self.rsa_padding).ok_or(
            KeyError::DigestNotSupported {
                kind: self.kind.name(),
                hash: hash.name(),
            },
        )?;
        signature::UnparsedPublicKey::new(alg, &self.spki_der)
            .verify(message, sig)
            .map_err(|_| KeyError::BadSignature {
                kind: self.kind.name(),
            })
    }

    /// Verify `sig` over a precomputed digest (ECDSA and RSA; Ed25519 cannot, it signs messages).
    pub fn verify_digest(
        &self,
        hash: HashKind,
        digest_bytes: &[u8],
        sig: &[u8],
    ) -> Result<(), KeyError> {
        let unsupported = KeyError::DigestNotSupported {
            kind: self.kind.name(),
            hash: hash.name(),
        };
        if self.kind == KeyKind::Ed25519 {
            // Ed25519 over a digest is Ed25519ph (RFC 8032 §5.1, prehash SHA-512), what
            // hashedrekord entries with PKIX_ED25519_PH keys carry.
            return if hash == HashKind::Sha512 {
                self.verify_ed25519ph(digest_bytes, sig)
            } else {
                Err(unsupported)
            };
        }
        let d = digest::Digest::import_less_safe(digest_bytes, hash.algorithm())
            .map_err(|_| unsupported.clone())?;
        if hash == self.default_hash() {
            return self
                .parsed
                .verify_digest_sig(&d, sig)
                .map_err(|_| KeyError::BadSignature {
                    kind: self.kind.name(),
                });
        }
        let alg = algorithm_for(self.kind, hash, self.rsa_padding).ok_or(unsupported)?;
        signature::UnparsedPublicKey::new(alg, &self.spki_der)
            .verify_digest(&d, sig)
            .map_err(|_| KeyError::BadSignature {
                kind: self.kind.name(),
            })
    }
}

impl PublicKey {
    /// Verify an Ed25519ph signature given the SHA-512 digest of the message (RFC 8032 §5.1,
    /// empty context). aws-lc-rs has no Ed25519ph, so ed25519-dalek does the arithmetic.
    pub fn verify_ed25519ph(&self, sha512_digest: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        let bad = || KeyError::BadSignature { kind: "Ed25519ph" };
        let raw: [u8; 32] = crate::note::ed25519_raw(&self.spki_der).map_err(|_| bad())?;
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| bad())?;
        let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| bad())?;
        let ph = Sha512Output::from_slice(sha512_digest).ok_or(KeyError::DigestNotSupported {
            kind: "Ed25519ph",
            hash: "non-SHA-512",
        })?;
        vk.verify_prehashed(ph, None, &sig).map_err(|_| bad())
    }
}

/// A SHA-512 digest computed elsewhere, presented through the `Digest` interface that
/// ed25519-dalek's prehashed verification takes; it only ever yields those 64 bytes.
#[derive(Clone)]
struct Sha512Output([u8; 64]);

impl Sha512Output {
    fn from_slice(d: &[u8]) -> Option<Self> {
        <[u8; 64]>::try_from(d).ok().map(Self)
    }
}

impl Default for Sha512Output {
    fn default() -> Self {
        Self([0; 64])
    }
}

impl ed25519_dalek::ed25519::signature::digest::HashMarker for Sha512Output {}

impl ed25519_dalek::ed25519::signature::digest::OutputSizeUser for Sha512Output {
    type OutputSize = ed25519_dalek::ed25519::signature::digest::consts::U64;
}

impl ed25519_dalek::ed25519::signature::digest::Update for Sha512Output {
    fn update(&mut self, _data: &[u8]) {
        // The digest is already final; prehashed verification only calls finalize.
    }
}

impl ed25519_dalek::ed25519::signature::digest::FixedOutput for Sha512Output {
    fn finalize_into(self, out: &mut ed25519_dalek::ed25519::signature::digest::Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

fn default_algorithm(kind: KeyKind, pad: RsaPadding) -> &'static dyn VerificationAlgorithm {
    match kind {
        KeyKind::EcdsaP256 => &signature::ECDSA_P256_SHA256_ASN1,
        KeyKind::EcdsaP384 => &signature::ECDSA_P384_SHA384_ASN1,
        KeyKind::EcdsaP521 => &signature::ECDSA_P521_SHA512_ASN1,
        KeyKind::Ed25519 => &signature::ED25519,
        KeyKind::Rsa => match pad {
            RsaPadding::Pkcs1v15 => &signature::RSA_PKCS1_2048_8192_SHA256,
            RsaPadding::Pss => &signature::RSA_PSS_2048_8192_SHA256,
        },
    }
}

fn algorithm_for(
    kind: KeyKind,
    hash: HashKind,
    pad: RsaPadding,
) -> Option<&'static dyn VerificationAlgorithm> {
    use HashKind::*;
    Some(match (kind, hash, pad) {
        (KeyKind::EcdsaP256, Sha256, _) => &signature::ECDSA_P256_SHA256_ASN1,
        (KeyKind::EcdsaP256, Sha384, _) => &signature::ECDSA_P256_SHA384_ASN1,
        (KeyKind::EcdsaP256, Sha512, _) => &signature::ECDSA_P256_SHA512_ASN1,
        (KeyKind::EcdsaP384, Sha256, _) => &signature::ECDSA_P384_SHA256_ASN1,
        (KeyKind::EcdsaP384, Sha384, _) => &signature::ECDSA_P384_SHA384_ASN1,
        (KeyKind::EcdsaP384, Sha512, _) => &signature::ECDSA_P384_SHA512_ASN1,
        (KeyKind::EcdsaP521, Sha256, _) => &signature::ECDSA_P521_SHA256_ASN1,
        (KeyKind::EcdsaP521, Sha384, _) => &signature::ECDSA_P521_SHA384_ASN1,
        (KeyKind::EcdsaP521, Sha512, _) => &signature::ECDSA_P521_SHA512_ASN1,
        (KeyKind::Rsa, Sha256, RsaPadding::Pkcs1v15) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (KeyKind::Rsa, Sha384, RsaPadding::Pkcs1v15) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (KeyKind::Rsa, Sha512, RsaPadding::Pkcs1v15) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (KeyKind::Rsa, Sha256, RsaPadding::Pss) => &signature::RSA_PSS_2048_8192_SHA256,
        (KeyKind::Rsa, Sha384, RsaPadding::Pss) => &signature::RSA_PSS_2048_8192_SHA384,
        (KeyKind::Rsa, Sha512, RsaPadding::Pss) => &signature::RSA_PSS_2048_8192_SHA512,
        (KeyKind::Ed25519, _, _) => &signature::ED25519,
    })
}

/// Decode the first PEM block whose label is one of `labels` (see [`crate::pem`]).
pub fn pem_decode(pem: &str, labels: &[&str]) -> Result<Vec<u8>, KeyError> {
    Ok(crate::pem::decode(pem, labels)?)
}

/// Decode every PEM block in `pem` as (label, DER) (see [`crate::pem`]).
pub fn pem_blocks(pem: &str) -> Result<Vec<(String, Vec<u8>)>, KeyError> {
    Ok(crate::pem::blocks(pem)?)
}

/// Encode DER as a PEM block (see [`crate::pem`]).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    crate::pem::encode(label, der)
}
