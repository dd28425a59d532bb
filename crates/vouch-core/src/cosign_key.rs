//! cosign-compatible key files and key-based signing keys (protocols.md §9.3).
//!
//! `cosign.key` is a PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (legacy
//! `ENCRYPTED COSIGN PRIVATE KEY`) whose payload is UTF-8 JSON:
//!
//! ```json
//! { "kdf": { "name": "scrypt", "params": { "N": 65536, "r": 8, "p": 1 }, "salt": "<b64 32 bytes>" },
//!   "cipher": { "name": "nacl/secretbox", "nonce": "<b64 24 bytes>" },
//!   "ciphertext": "<b64 secretbox(PKCS#8 DER)>" }
//! ```
//!
//! The key-encryption key is `scrypt(password, salt, N, r, p, 32)` and the ciphertext is NaCl
//! `secretbox` (XSalsa20-Poly1305, tag first). Only cosign's three scrypt parameter sets are
//! accepted on decryption, so a hostile file cannot demand an unbounded scrypt cost.
//! `cosign.pub` is a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
//!
//! scrypt and secretbox come from RustCrypto; key generation and signing from aws-lc-rs.

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use der::Decode;
use der::asn1::ObjectIdentifier as Oid;
use serde::{Deserialize, Serialize};
pub use zeroize::Zeroizing;

use crate::encoding::{b64_decode, b64_encode};
use crate::keys::{self, KeyKind, PublicKey};

/// PEM label of cosign's encrypted private keys.
pub const ENCRYPTED_SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label of cosign's encrypted private keys before cosign 2.0 (still accepted).
pub const ENCRYPTED_COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// Largest key file accepted, in bytes (a real one is well under 1 KiB; RSA 8192 under 8 KiB).
pub const MAX_KEY_FILE_LEN: usize = 64 * 1024;
/// Longest scrypt salt accepted from a key file, in bytes (cosign writes 32).
pub const MAX_SALT_LEN: usize = 1024;

const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

const OID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const OID_P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: Oid = Oid::new_unwrap("1.3.132.0.34");
const OID_P521: Oid = Oid::new_unwrap("1.3.132.0.35");
const OID_ED25519: Oid = Oid::new_unwrap("1.3.101.112");
const OID_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");

/// Errors reading, decrypting or using private keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CosignKeyError {
    /// The input is not PEM text.
    #[error("not a PEM key file")]
    Pem(#[source] crate::pem::PemError),
    /// The PEM text holds no private key block.
    #[error("not a private key file: no private key block (found: {found})")]
    NoPrivateKey {
        /// The labels of the blocks that are there.
        found: String,
    },
    /// The file is larger than [`MAX_KEY_FILE_LEN`].
    #[error("key file is {0} bytes, more than the {MAX_KEY_FILE_LEN} accepted")]
    TooLarge(usize),
    /// The encrypted key's JSON envelope does not parse.
    #[error("malformed encrypted key: the JSON envelope does not parse")]
    Envelope(#[source] serde_json::Error),
    /// A field of the encrypted key's envelope is not Base64.
    #[error("malformed encrypted key: {field} is not valid base64")]
    Base64 {
        /// The envelope field.
        field: &'static str,
        /// The decoder's error.
        #[source]
        source: base64::DecodeError,
    },
    /// A field of the encrypted key's envelope has an impossible size.
    #[error("malformed encrypted key: {0}")]
    Malformed(String),
    /// The key derivation function is not scrypt.
    #[error("unsupported key derivation function {0:?} (only scrypt)")]
    UnsupportedKdf(String),
    /// The scrypt parameters are not one of cosign's sets.
    #[error(
        "unsupported scrypt parameters N={n} r={r} p={p} (accepted: N=32768, 65536 or 131072 with r=8, p=1)"
    )]
    UnsupportedScryptParams {
        /// CPU/memory cost.
        n: u64,
        /// Block size.
        r: u64,
        /// Parallelism.
        p: u64,
    },
    /// The cipher is not NaCl secretbox.
    #[error("unsupported cipher {0:?} (only nacl/secretbox)")]
    UnsupportedCipher(String),
    /// Authentication failed: the password is wrong or the file was altered.
    #[error("wrong password or corrupted key")]
    WrongPassword,
    /// The key is encrypted and no password was supplied.
    #[error("the private key is encrypted and no password was given")]
    PasswordRequired,
    /// The key type is not one vouch signs with.
    #[error("unsupported private key type: {0}")]
    UnsupportedKey(String),
    /// The crypto library rejected the key material.
    #[error("private key rejected")]
    Rejected(#[source] aws_lc_rs::error::KeyRejected),
    /// The DER is not a PKCS#8 `PrivateKeyInfo`.
    #[error("not a PKCS#8 private key")]
    NotPkcs8(#[source] der::Error),
    /// The DER is not an `ECPrivateKey` on a supported curve.
    #[error("not a P-256/P-384/P-521 EC private key")]
    NotEcKey(#[source] Option<aws_lc_rs::error::KeyRejected>),
    /// The key material is inconsistent (no named curve, a digest of the wrong length).
    #[error("private key rejected: {0}")]
    Invalid(String),
    /// The public half of the key could not be parsed back.
    #[error("public key rejected")]
    PublicKey(#[source] crate::keys::KeyError),
    /// scrypt refused its parameters or output length.
    #[error("scrypt key derivation failed")]
    Scrypt(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The key envelope could not be serialized.
    #[error("serializing the key envelope")]
    Serialize(#[source] serde_json::Error),
    /// An internal failure of the crypto library (randomness, signing) that carries no detail.
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, CosignKeyError>;

/// The scrypt parameter sets cosign writes and reads (all with r=8, p=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScryptCost {
    /// N=32768: keys written by cosign before 2.0 (go-tuf's legacy set).
    Legacy,
    /// N=65536: cosign's default.
    #[default]
    Standard,
    /// N=131072: the OWASP-recommended set.
    Owasp,
}

impl ScryptCost {
    /// The CPU/memory cost N.
    pub fn n(&self) -> u64 {
        1 << self.log_n()
    }

    fn log_n(&self) -> u8 {
        match self {
            Self::Legacy => 15,
            Self::Standard => 16,
            Self::Owasp => 17,
        }
    }

    /// The set with these parameters, if cosign accepts it.
    pub fn from_params(n: u64, r: u64, p: u64) -> Result<Self> {
        match (n, r, p) {
            (32768, 8, 1) => Ok(Self::Legacy),
            (65536, 8, 1) => Ok(Self::Standard),
            (131072, 8, 1) => Ok(Self::Owasp),
            _ => Err(CosignKeyError::UnsupportedScryptParams { n, r, p }),
        }
    }

    fn derive(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let params = scrypt::Params::new(self.log_n(), 8, 1)
            .map_err(|e| CosignKeyError::Scrypt(Box::new(e)))?;
        let mut key = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(password, salt, &params, key.as_mut_slice())
            .map_err(|e| CosignKeyError::Scrypt(Box::new(e)))?;
        Ok(key)
    }
}

#[derive(Serialize, Deserialize)]
struct EncryptedKey {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| CosignKeyError::Crypto("system random generator failed"))?;
    Ok(out)
}

fn secretbox(key: &[u8; 32]) -> Result<XSalsa20Poly1305> {
    XSalsa20Poly1305::new_from_slice(key)
        .map_err(|_| CosignKeyError::Crypto("secretbox key length"))
}

/// Encrypt a PKCS#8 DER private key as cosign does (scrypt N=65536, r=8, p=1), giving the PEM
/// `ENCRYPTED SIGSTORE PRIVATE KEY` text of a `cosign.key` file. An empty password is allowed.
pub fn encrypt(pkcs8_der: &[u8], password: &[u8]) -> Result<String> {
    encrypt_with(pkcs8_der, password, ScryptCost::Standard)
}

/// [`encrypt`] with an explicit scrypt parameter set.
pub fn encrypt_with(pkcs8_der: &[u8], password: &[u8], cost: ScryptCost) -> Result<String> {
    let salt: [u8; SALT_LEN] = random_bytes()?;
    let nonce: [u8; NONCE_LEN] = random_bytes()?;
    let key = cost.derive(password, &salt)?;
    let ciphertext = secretbox(&key)?
        .encrypt(&Nonce::from(nonce), pkcs8_der)
        .map_err(|_| CosignKeyError::Crypto("secretbox encryption failed"))?;
    let doc = EncryptedKey {
        kdf: Kdf {
            name: KDF_NAME.into(),
            params: KdfParams {
                n: cost.n(),
                r: 8,
                p: 1,
            },
            salt: b64_encode(&salt),
        },
        cipher: Cipher {
            name: CIPHER_NAME.into(),
            nonce: b64_encode(&nonce),
        },
        ciphertext: b64_encode(&ciphertext),
    };
    let json = serde_json::to_vec(&doc).map_err(CosignKeyError::Serialize)?;
    Ok(keys::pem_encode(ENCRYPTED_SIGSTORE_LABEL, &json))
}

/// True when `pem` holds a cosign encrypted private key block (either label).
pub fn is_encrypted(pem: &str) -> bool {
    pem.contains(&format!("-----BEGIN {ENCRYPTED_SIGSTORE_LABEL}-----"))
        || pem.contains(&format!("-----BEGIN {ENCRYPTED_COSIGN_LABEL}-----"))
}

/// Decrypt a cosign encrypted private key (`ENCRYPTED SIGSTORE PRIVATE KEY` or the legacy
/// `ENCRYPTED COSIGN PRIVATE KEY`) to its PKCS#8 DER.
///
/// Only scrypt with N ∈ {32768, 65536, 131072}, r=8, p=1 and the `nacl/secretbox` cipher are
/// accepted; anything else fails before any key derivation.
pub fn decrypt(pem: &str, password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_size(pem)?;
    let json = keys::pem_decode(pem, &[ENCRYPTED_SIGSTORE_LABEL, ENCRYPTED_COSIGN_LABEL]).map_err(
        |e| match e {
            keys::KeyError::Pem(p) => CosignKeyError::Pem(p),
            other => CosignKeyError::PublicKey(other),
        },
    )?;
    decrypt_json(&json, password)
}

fn decrypt_json(json: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let doc: EncryptedKey = serde_json::from_slice(json).map_err(CosignKeyError::Envelope)?;
    if doc.kdf.name != KDF_NAME {
        return Err(CosignKeyError::UnsupportedKdf(doc.kdf.name));
    }
    let p = &doc.kdf.params;
    let cost = ScryptCost::from_params(p.n, p.r, p.p)?;
    if doc.cipher.name != CIPHER_NAME {
        return Err(CosignKeyError::UnsupportedCipher(doc.cipher.name));
    }
    let field = |field: &'static str, v: &str| {
        b64_decode(v).map_err(|source| CosignKeyError::Base64 { field, source })
    };
    let salt = field("kdf.salt", &doc.kdf.salt)?;
    if salt.is_empty() || salt.len() > MAX_SALT_LEN {
        return Err(CosignKeyError::Malformed(format!(
            "kdf.salt is {} bytes (1 to {MAX_SALT_LEN} accepted)",
            salt.len()
        )));
    }
    let nonce: [u8; NONCE_LEN] = field("cipher.nonce", &doc.cipher.nonce)?
        .try_into()
        .map_err(|v: Vec<u8>| {
            CosignKeyError::Malformed(format!(
                "cipher.nonce is {} bytes, not {NONCE_LEN}",
                v.len()
            ))
        })?;
    let ciphertext = field("ciphertext", &doc.ciphertext)?;
    if ciphertext.len() <= TAG_LEN {
        return Err(CosignKeyError::Malformed(format!(
            "ciphertext is {} bytes, too short for a secretbox",
            ciphertext.len()
        )));
    }
    let key = cost.derive(password, &salt)?;
    let plaintext = secretbox(&key)?
        .decrypt(&Nonce::from(nonce), ciphertext.as_slice())
        .map_err(|_| CosignKeyError::WrongPassword)?;
    Ok(Zeroizing::new(plaintext))
}

fn check_size(pem: &str) -> Result<()> {
    if pem.len() > MAX_KEY_FILE_LEN {
        return Err(CosignKeyError::TooLarge(pem.len()));
    }
    Ok(())
}

/// The signature algorithms of signing keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256 (cosign's default).
    #[default]
    EcdsaP256Sha256,
    /// ECDSA P-384 with SHA-384.
    EcdsaP384Sha384,
    /// ECDSA P-521 with SHA-512.
    EcdsaP521Sha512,
    /// Ed25519 (pure).
    Ed25519,
}

impl SigningAlgorithm {
    /// The Sigstore `PublicKeyDetails` name, e.g. `PKIX_ECDSA_P256_SHA_256`.
    pub fn key_details(&self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "PKIX_ECDSA_P256_SHA_256",
            Self::EcdsaP384Sha384 => "PKIX_ECDSA_P384_SHA_384",
            Self::EcdsaP521Sha512 => "PKIX_ECDSA_P521_SHA_512",
            Self::Ed25519 => "PKIX_ED25519",
        }
    }

    /// The key type.
    pub fn key_kind(&self) -> KeyKind {
        match self {
            Self::EcdsaP256Sha256 => KeyKind::EcdsaP256,
            Self::EcdsaP384Sha384 => KeyKind::EcdsaP384,
            Self::EcdsaP521Sha512 => KeyKind::EcdsaP521,
            Self::Ed25519 => KeyKind::Ed25519,
        }
    }

    /// The message hash of ECDSA signatures (`None` for Ed25519, which signs the message).
    pub fn hash(&self) -> Option<keys::HashKind> {
        match self {
            Self::EcdsaP256Sha256 => Some(keys::HashKind::Sha256),
            Self::EcdsaP384Sha384 => Some(keys::HashKind::Sha384),
            Self::EcdsaP521Sha512 => Some(keys::HashKind::Sha512),
            Self::Ed25519 => None,
        }
    }

    /// Parse a `PublicKeyDetails` name or a short name (`ecdsa-p256`, `ecdsa-p384`,
    /// `ecdsa-p521`, `ed25519`).
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "PKIX_ECDSA_P256_SHA_256" | "ecdsa-p256" | "p256" => Self::EcdsaP256Sha256,
            "PKIX_ECDSA_P384_SHA_384" | "ecdsa-p384" | "p384" => Self::EcdsaP384Sha384,
            "PKIX_ECDSA_P521_SHA_512" | "ecdsa-p521" | "p521" => Self::EcdsaP521Sha512,
            "PKIX_ED25519" | "ed25519" => Self::Ed25519,
            _ => return None,
        })
    }

    fn ecdsa(&self) -> Option<&'static sig::EcdsaSigningAlgorithm> {
        match self {
            Self::EcdsaP256Sha256 => Some(&sig::ECDSA_P256_SHA256_ASN1_SIGNING),
            Self::EcdsaP384Sha384 => Some(&sig::ECDSA_P384_SHA384_ASN1_SIGNING),
            Self::EcdsaP521Sha512 => Some(&sig::ECDSA_P521_SHA512_ASN1_SIGNING),
            Self::Ed25519 => None,
        }
    }
}

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private signing key held by aws-lc-rs: ECDSA P-256 (default), P-384, P-521 or Ed25519.
pub struct SigningKey {
    alg: SigningAlgorithm,
    inner: Inner,
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("public_key", &b64_encode(&self.spki_der))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generate a fresh key.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self> {
        let inner = match alg.ecdsa() {
            Some(a) => Inner::Ecdsa(
                EcdsaKeyPair::generate(a)
                    .map_err(|_| CosignKeyError::Crypto("ECDSA key generation failed"))?,
            ),
            None => Inner::Ed25519(
                Ed25519KeyPair::generate()
                    .map_err(|_| CosignKeyError::Crypto("Ed25519 key generation failed"))?,
            ),
        };
        Self::new(alg, inner)
    }

    fn new(alg: SigningAlgorithm, inner: Inner) -> Result<Self> {
        let spki = match &inner {
            Inner::Ecdsa(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Inner::Ed25519(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| CosignKeyError::Crypto("encoding the public key"))?;
        Ok(Self {
            alg,
            inner,
            spki_der: spki,
        })
    }

    /// Parse an unencrypted PKCS#8 DER private key (v1 or v2). The algorithm follows the key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(CosignKeyError::NotPkcs8)?;
        let oid = info.algorithm.oid;
        let alg = if oid == OID_EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|_| {
                CosignKeyError::Invalid("EC private key without a named curve".into())
            })?;
            if curve == OID_P256 {
                SigningAlgorithm::EcdsaP256Sha256
            } else if curve == OID_P384 {
                SigningAlgorithm::EcdsaP384Sha384
            } else if curve == OID_P521 {
                SigningAlgorithm::EcdsaP521Sha512
            } else {
                return Err(CosignKeyError::UnsupportedKey(format!("EC curve {curve}")));
            }
        } else if oid == OID_ED25519 {
            SigningAlgorithm::Ed25519
        } else if oid == OID_RSA || oid == OID_RSA_PSS {
            return Err(CosignKeyError::UnsupportedKey(
                "RSA (use an ECDSA or Ed25519 key)".into(),
            ));
        } else {
            return Err(CosignKeyError::UnsupportedKey(format!("algorithm {oid}")));
        };
        let inner = match alg.ecdsa() {
            Some(a) => {
                Inner::Ecdsa(EcdsaKeyPair::from_pkcs8(a, der).map_err(CosignKeyError::Rejected)?)
            }
            None => Inner::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(CosignKeyError::Rejected)?,
            ),
        };
        Self::new(alg, inner)
    }

    /// Parse an unencrypted SEC1 / RFC 5915 `ECPrivateKey` DER (PEM `EC PRIVATE KEY`).
    pub fn from_sec1(der: &[u8]) -> Result<Self> {
        let mut last = None;
        for alg in [
            SigningAlgorithm::EcdsaP256Sha256,
            SigningAlgorithm::EcdsaP384Sha384,
            SigningAlgorithm::EcdsaP521Sha512,
        ] {
            let Some(a) = alg.ecdsa() else { continue };
            match EcdsaKeyPair::from_private_key_der(a, der) {
                Ok(k) => return Self::new(alg, Inner::Ecdsa(k)),
                Err(e) => last = Some(e),
            }
        }
        Err(CosignKeyError::NotEcKey(last))
    }

    /// The key as PKCS#8 v1 DER (what cosign encrypts).
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = match &self.inner {
            Inner::Ecdsa(k) => k.to_pkcs8v1(),
            Inner::Ed25519(k) => k.to_pkcs8v1(),
        }
        .map_err(|_| CosignKeyError::Crypto("encoding the private key"))?;
        Ok(Zeroizing::new(doc.as_ref().to_vec()))
    }

    /// The key encrypted as a cosign `cosign.key` file (scrypt N=65536).
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String> {
        encrypt(&self.to_pkcs8()?, password)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The Sigstore `PublicKeyDetails` name, e.g. `PKIX_ECDSA_P256_SHA_256`.
    pub fn key_details(&self) -> &'static str {
        self.alg.key_details()
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The public key as PEM `PUBLIC KEY`, the content of `cosign.pub`.
    pub fn public_key_pem(&self) -> String {
        keys::pem_encode("PUBLIC KEY", &self.spki_der)
    }

    /// The public key, ready to verify.
    pub fn public_key(&self) -> Result<PublicKey> {
        PublicKey::from_spki_der(&self.spki_der).map_err(CosignKeyError::PublicKey)
    }

    /// Sign `msg`: DER ECDSA over the algorithm's hash (SHA-256 for P-256), or pure Ed25519.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::Ecdsa(k) => k
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CosignKeyError::Crypto("ECDSA signing failed")),
            Inner::Ed25519(k) => k
                .try_sign(msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CosignKeyError::Crypto("Ed25519 signing failed")),
        }
    }

    /// Sign a precomputed digest of the algorithm's hash (ECDSA only), giving a DER signature.
    /// Ed25519 keys cannot sign digests and return [`CosignKeyError::UnsupportedKey`].
    pub fn sign_prehashed(&self, digest_bytes: &[u8]) -> Result<Vec<u8>> {
        let (Inner::Ecdsa(k), Some(hash)) = (&self.inner, self.alg.hash()) else {
            return Err(CosignKeyError::UnsupportedKey(
                "Ed25519 signs messages, not digests".into(),
            ));
        };
        let d = digest::Digest::import_less_safe(digest_bytes, hash.algorithm()).map_err(|_| {
            CosignKeyError::Invalid(format!(
                "digest is {} bytes, not a {} digest",
                digest_bytes.len(),
                hash.name()
            ))
        })?;
        k.sign_digest(&d)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| CosignKeyError::Crypto("ECDSA signing failed"))
    }
}

/// Load a private key from PEM: cosign's encrypted forms (`ENCRYPTED SIGSTORE PRIVATE KEY`,
/// `ENCRYPTED COSIGN PRIVATE KEY`, needing `password`), or unencrypted PKCS#8 `PRIVATE KEY`
/// and SEC1 `EC PRIVATE KEY`. RSA keys are rejected as unsupported.
pub fn load_private_key(pem: &str, password: Option<&[u8]>) -> Result<SigningKey> {
    check_size(pem)?;
    let blocks = crate::pem::blocks(pem).map_err(CosignKeyError::Pem)?;
    for (label, der) in &blocks {
        match label.as_str() {
            ENCRYPTED_SIGSTORE_LABEL | ENCRYPTED_COSIGN_LABEL => {
                let password = password.ok_or(CosignKeyError::PasswordRequired)?;
                let pkcs8 = decrypt_json(der, password)?;
                return SigningKey::from_pkcs8(&pkcs8);
            }
            "PRIVATE KEY" => return SigningKey::from_pkcs8(&Zeroizing::new(der.clone())),
            "EC PRIVATE KEY" => return SigningKey::from_sec1(&Zeroizing::new(der.clone())),
            "RSA PRIVATE KEY" => {
                return Err(CosignKeyError::UnsupportedKey(
                    "RSA (use an ECDSA or Ed25519 key)".into(),
                ));
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(CosignKeyError::UnsupportedKey(
                    "PKCS#8 PBES2-encrypted key (decrypt it with openssl first)".into(),
                ));
            }
            _ => {}
        }
    }
    let labels: Vec<&str> = blocks.iter().map(|(l, _)| l.as_str()).collect();
    Err(CosignKeyError::NoPrivateKey {
        found: labels.join(", "),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn roundtrip(cost: ScryptCost) {
        let k = SigningKey::generate(SigningAlgorithm::default()).unwrap();
        let pem = encrypt_with(&k.to_pkcs8().unwrap(), b"hunter2", cost).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let json = keys::pem_decode(&pem, &[ENCRYPTED_SIGSTORE_LABEL]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["kdf"]["name"], "scrypt");
        assert_eq!(v["kdf"]["params"]["N"], cost.n());
        assert_eq!(v["kdf"]["params"]["r"], 8);
        assert_eq!(v["kdf"]["params"]["p"], 1);
        assert_eq!(
            b64_decode(v["kdf"]["salt"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert_eq!(v["cipher"]["name"], "nacl/secretbox");
        assert_eq!(
            b64_decode(v["cipher"]["nonce"].as_str().unwrap())
                .unwrap()
                .len(),
            24
        );
        // One scrypt derivation per test (slow in debug builds).
        let k2 = load_private_key(&pem, Some(b"hunter2")).unwrap();
        assert_eq!(k2.to_pkcs8().unwrap(), k.to_pkcs8().unwrap());
        assert_eq!(k2.public_key_der(), k.public_key_der());
    }

    #[test]
    fn round_trip_default_cost() {
        roundtrip(ScryptCost::Standard);
    }

    #[test]
    fn round_trip_legacy_cost() {
        roundtrip(ScryptCost::Legacy);
    }

    #[test]
    fn wrong_password() {
        let k = SigningKey::generate(SigningAlgorithm::default()).unwrap();
        let pem = encrypt_with(&k.to_pkcs8().unwrap(), b"right", ScryptCost::Legacy).unwrap();
        let e = decrypt(&pem, b"wrong").unwrap_err();
        assert!(matches!(e, CosignKeyError::WrongPassword));
        assert_eq!(e.to_string(), "wrong password or corrupted key");
        assert!(matches!(
            load_private_key(&pem, None).unwrap_err(),
            CosignKeyError::PasswordRequired
        ));
    }

    #[test]
    fn empty_password() {
        let k = SigningKey::generate(SigningAlgorithm::default()).unwrap();
        let pem = encrypt_with(&k.to_pkcs8().unwrap(), b"", ScryptCost::Legacy).unwrap();
        assert!(load_private_key(&pem, Some(b"")).is_ok());
        assert!(matches!(
            decrypt(&pem, b"x").unwrap_err(),
            CosignKeyError::WrongPassword
        ));
    }

    fn envelope(n: u64, r: u64, p: u64, kdf: &str, cipher: &str) -> String {
        let json = serde_json::json!({
            "kdf": {"name": kdf, "params": {"N": n, "r": r, "p": p}, "salt": b64_encode(&[7u8; 32])},
            "cipher": {"name": cipher, "nonce": b64_encode(&[1u8; 24])},
            "ciphertext": b64_encode(&[0u8; 64]),
        });
        keys::pem_encode(ENCRYPTED_SIGSTORE_LABEL, json.to_string().as_bytes())
    }

    #[test]
    fn bad_params_rejected_before_kdf() {
        for (n, r, p) in [
            (1u64 << 40, 8u64, 1u64),
            (1 << 20, 8, 1),
            (16384, 8, 1),
            (65536, 16, 1),
            (65536, 8, 2),
            (65535, 8, 1),
            (0, 0, 0),
        ] {
            let e = decrypt(&envelope(n, r, p, "scrypt", "nacl/secretbox"), b"pw").unwrap_err();
            assert!(
                matches!(e, CosignKeyError::UnsupportedScryptParams { n: n2, r: r2, p: p2 } if (n2, r2, p2) == (n, r, p))
            );
            assert!(e.to_string().contains(&format!("N={n} r={r} p={p}")));
        }
        assert!(
            matches!(decrypt(&envelope(65536, 8, 1, "pbkdf2", "nacl/secretbox"), b"pw").unwrap_err(), CosignKeyError::UnsupportedKdf(ref v) if v == "pbkdf2")
        );
        assert!(
            matches!(decrypt(&envelope(65536, 8, 1, "scrypt", "aes-gcm"), b"pw").unwrap_err(), CosignKeyError::UnsupportedCipher(ref v) if v == "aes-gcm")
        );
    }

    #[test]
    fn malformed_envelopes() {
        let bad = |json: &str| {
            decrypt(
                &keys::pem_encode(ENCRYPTED_SIGSTORE_LABEL, json.as_bytes()),
                b"pw",
            )
            .unwrap_err()
        };
        assert!(matches!(bad("{}"), CosignKeyError::Envelope(_)));
        assert!(matches!(bad("not json"), CosignKeyError::Envelope(_)));
        let short_nonce = r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAA"},"ciphertext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
        assert!(matches!(bad(short_nonce), CosignKeyError::Malformed(_)));
        let neg = r#"{"kdf":{"name":"scrypt","params":{"N":-1,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAA"},"ciphertext":"AAAA"}"#;
        assert!(matches!(bad(neg), CosignKeyError::Envelope(_)));
        let big = "x".repeat(MAX_KEY_FILE_LEN + 1);
        assert!(matches!(
            decrypt(&big, b"pw").unwrap_err(),
            CosignKeyError::TooLarge(_)
        ));
        assert!(matches!(
            decrypt("hello", b"pw").unwrap_err(),
            CosignKeyError::Pem(_)
        ));
    }

    #[test]
    fn corrupted_ciphertext_is_wrong_password() {
        let k = SigningKey::generate(SigningAlgorithm::default()).unwrap();
        let pem = encrypt_with(&k.to_pkcs8().unwrap(), b"pw", ScryptCost::Legacy).unwrap();
        let json = keys::pem_decode(&pem, &[ENCRYPTED_SIGSTORE_LABEL]).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let mut ct = b64_decode(v["ciphertext"].as_str().unwrap()).unwrap();
        ct[20] ^= 1;
        v["ciphertext"] = b64_encode(&ct).into();
        let pem = keys::pem_encode(ENCRYPTED_SIGSTORE_LABEL, v.to_string().as_bytes());
        assert!(matches!(
            decrypt(&pem, b"pw").unwrap_err(),
            CosignKeyError::WrongPassword
        ));
    }

    #[test]
    fn legacy_label() {
        let k = SigningKey::generate(SigningAlgorithm::default()).unwrap();
        let pem = encrypt_with(&k.to_pkcs8().unwrap(), b"pw", ScryptCost::Legacy).unwrap();
        let legacy = pem.replace(ENCRYPTED_SIGSTORE_LABEL, ENCRYPTED_COSIGN_LABEL);
        assert!(legacy.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"));
        assert!(is_encrypted(&legacy));
        let k2 = load_private_key(&legacy, Some(b"pw")).unwrap();
        assert_eq!(k2.public_key_der(), k.public_key_der());
    }

    #[test]
    fn signatures_verify_with_public_key() {
        for alg in [
            SigningAlgorithm::EcdsaP256Sha256,
            SigningAlgorithm::EcdsaP384Sha384,
            SigningAlgorithm::EcdsaP521Sha512,
            SigningAlgorithm::Ed25519,
        ] {
            let k = SigningKey::generate(alg).unwrap();
            let pk = PublicKey::from_pem(&k.public_key_pem()).unwrap();
            assert_eq!(pk.kind(), alg.key_kind());
            let s = k.sign(b"hello").unwrap();
            pk.verify(b"hello", &s).unwrap();
            assert!(pk.verify(b"hellO", &s).is_err());
            // Through PKCS#8 and back.
            let k2 = SigningKey::from_pkcs8(&k.to_pkcs8().unwrap()).unwrap();
            assert_eq!(k2.algorithm(), alg);
            pk.verify(b"again", &k2.sign(b"again").unwrap()).unwrap();
            if let Some(h) = alg.hash() {
                let d = h.digest(b"prehashed");
                let s = k.sign_prehashed(&d).unwrap();
                pk.verify(b"prehashed", &s).unwrap();
                pk.verify_digest(h, &d, &s).unwrap();
                assert!(k.sign_prehashed(&d[1..]).is_err());
            } else {
                assert!(k.sign_prehashed(&[0u8; 64]).is_err());
            }
        }
        let k = SigningKey::generate(SigningAlgorithm::default()).unwrap();
        assert_eq!(k.key_details(), "PKIX_ECDSA_P256_SHA_256");
        assert!(
            k.public_key_pem()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
        // DER ECDSA: a SEQUENCE.
        assert_eq!(k.sign(b"x").unwrap()[0], 0x30);
    }

    #[test]
    fn unencrypted_forms() {
        let k = SigningKey::generate(SigningAlgorithm::EcdsaP384Sha384).unwrap();
        let pkcs8 = keys::pem_encode("PRIVATE KEY", &k.to_pkcs8().unwrap());
        let k2 = load_private_key(&pkcs8, None).unwrap();
        assert_eq!(k2.public_key_der(), k.public_key_der());
        // A fixed SEC1 key (Python cryptography, TraditionalOpenSSL) and its public key.
        let sec1 = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIJFtuYi7YRCaTXvvFiEivQ9dy/yhCoiZXlz2+WzKbYjzoAoGCCqGSM49
AwEHoUQDQgAEQx1+oBD5bzgeg9wKe1rEzvbB2m1yNrAQvSh7fqsOHlGsdm/tqQ5q
xjvVrgXGlAqxs4y3IZRied7MmbHQ1vw9Fg==
-----END EC PRIVATE KEY-----
";
        let sec1_pub = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQx1+oBD5bzgeg9wKe1rEzvbB2m1y
NrAQvSh7fqsOHlGsdm/tqQ5qxjvVrgXGlAqxs4y3IZRied7MmbHQ1vw9Fg==
-----END PUBLIC KEY-----
";
        let k3 = load_private_key(sec1, None).unwrap();
        assert_eq!(k3.algorithm(), SigningAlgorithm::EcdsaP256Sha256);
        assert_eq!(k3.public_key_pem(), sec1_pub);
        k3.public_key()
            .unwrap()
            .verify(b"m", &k3.sign(b"m").unwrap())
            .unwrap();
        let rsa = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            load_private_key(rsa, None).unwrap_err(),
            CosignKeyError::UnsupportedKey(_)
        ));
        let pubonly = k.public_key_pem();
        assert!(matches!(
            load_private_key(&pubonly, None).unwrap_err(),
            CosignKeyError::NoPrivateKey { .. }
        ));
    }
}
