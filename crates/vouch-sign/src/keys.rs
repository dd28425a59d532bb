//! Signing keys held in memory: the ephemeral keyless key (generated per signature and dropped
//! after) and ECDSA keys loaded from files (cosign key pairs).

use crate::SignError;
use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, KeyPair,
};
use vouch_core::keys::HashKind;

/// Where the private key lives.
enum Backend {
    /// In this process's memory.
    Memory(EcdsaKeyPair),
    /// On a PKCS#11 token.
    Pkcs11(vouch_pkcs11::Pkcs11Key),
}

/// An ECDSA signing key (P-256 with SHA-256, or P-384 with SHA-384), in memory or on a
/// PKCS#11 token.
pub struct EcdsaSigner {
    key: Backend,
    hash: HashKind,
    details: &'static str,
    spki: Vec<u8>,
}

impl std::fmt::Debug for EcdsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdsaSigner")
            .field("details", &self.details)
            .finish_non_exhaustive()
    }
}

/// Which curve an [`EcdsaSigner`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 with SHA-256 (Sigstore's default).
    P256,
    /// NIST P-384 with SHA-384.
    P384,
}

impl Curve {
    fn alg(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
            Curve::P384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }
}

impl EcdsaSigner {
    /// A fresh key, kept only in memory.
    pub fn generate(curve: Curve) -> Result<Self, SignError> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(curve.alg(), &SystemRandom::new())
            .map_err(|_| SignError::Key("cannot generate a key".into()))?;
        Self::from_pkcs8_curve(pkcs8.as_ref(), curve)
    }

    /// Load a PKCS#8 DER ECDSA key (P-256 or P-384).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, SignError> {
        Self::from_pkcs8_curve(der, Curve::P256)
            .or_else(|_| Self::from_pkcs8_curve(der, Curve::P384))
            .map_err(|_| {
                SignError::Key(
                    "not an ECDSA P-256 or P-384 PKCS#8 private key (other key types cannot sign here yet)"
                        .into(),
                )
            })
    }

    fn from_pkcs8_curve(der: &[u8], curve: Curve) -> Result<Self, SignError> {
        let key = EcdsaKeyPair::from_pkcs8(curve.alg(), der)
            .map_err(|source| SignError::Pkcs8 { source })?;
        let spki = key
            .public_key()
            .as_der()
            .map_err(|_| SignError::Key("cannot encode the public key".into()))?
            .as_ref()
            .to_vec();
        let (hash, details) = match curve {
            Curve::P256 => (HashKind::Sha256, "PKIX_ECDSA_P256_SHA_256"),
            Curve::P384 => (HashKind::Sha384, "PKIX_ECDSA_P384_SHA_384"),
        };
        Ok(EcdsaSigner {
            key: Backend::Memory(key),
            hash,
            details,
            spki,
        })
    }

    /// Open a key on a PKCS#11 token by its `pkcs11:` URI (RFC 7512, as cosign takes it).
    pub fn from_pkcs11_uri(uri: &str) -> Result<Self, SignError> {
        let key =
            vouch_pkcs11::Pkcs11Key::open(uri).map_err(|source| SignError::Pkcs11 { source })?;
        let (hash, details) = match key.curve() {
            vouch_pkcs11::Curve::P256 => (HashKind::Sha256, "PKIX_ECDSA_P256_SHA_256"),
            vouch_pkcs11::Curve::P384 => (HashKind::Sha384, "PKIX_ECDSA_P384_SHA_384"),
        };
        Ok(EcdsaSigner {
            spki: key.spki_der().to_vec(),
            key: Backend::Pkcs11(key),
            hash,
            details,
        })
    }

    /// DER SubjectPublicKeyInfo of the public key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// Sigstore `PublicKeyDetails` name, e.g. `PKIX_ECDSA_P256_SHA_256`.
    pub fn key_details(&self) -> &'static str {
        self.details
    }

    /// The hash this key signs with.
    pub fn hash(&self) -> HashKind {
        self.hash
    }

    /// Sign `msg` (hashed with [`hash`](Self::hash)); DER ECDSA signature.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.key {
            Backend::Memory(k) => k
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError::Key("signing failed".into())),
            Backend::Pkcs11(k) => k.sign(msg).map_err(|source| SignError::Pkcs11 { source }),
        }
    }

    /// Sign a precomputed digest of the message (must be [`hash`](Self::hash)'s length).
    pub fn sign_digest(&self, digest_bytes: &[u8]) -> Result<Vec<u8>, SignError> {
        let alg = self.hash.algorithm();
        if digest_bytes.len() != alg.output_len() {
            return Err(SignError::Key(format!(
                "digest is {} bytes, {} needs {}",
                digest_bytes.len(),
                self.hash.name(),
                alg.output_len()
            )));
        }
        match &self.key {
            Backend::Memory(k) => {
                let d = digest::Digest::import_less_safe(digest_bytes, alg)
                    .map_err(|_| SignError::Key("bad digest".into()))?;
                k.sign_digest(&d)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| SignError::Key("signing failed".into()))
            }
            Backend::Pkcs11(k) => k
                .sign_digest(digest_bytes)
                .map_err(|source| SignError::Pkcs11 { source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::keys::PublicKey;

    #[test]
    fn digest_and_message_signatures_verify() {
        for curve in [Curve::P256, Curve::P384] {
            let k = EcdsaSigner::generate(curve).unwrap();
            let pk = PublicKey::from_spki_der(k.spki_der()).unwrap();
            let msg = b"hello";
            pk.verify(msg, &k.sign(msg).unwrap()).unwrap();
            let d = k.hash().digest(msg);
            let sig = k.sign_digest(&d).unwrap();
            pk.verify(msg, &sig).unwrap();
            assert!(k.sign_digest(&d[1..]).is_err());
        }
    }
}
