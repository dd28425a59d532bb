//! The log's checkpoint key: generated on first start, kept in the data directory, used to
//! sign checkpoints (C2SP signed notes) and, for the Rekor v1 API, signed entry timestamps.

use crate::LogError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use std::path::Path;
use vouch_core::keys::PublicKey;
use vouch_core::note::{Checkpoint, NoteSignature, NoteVerifier, SignedNote};

/// Signature algorithm of the log key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Ed25519 (default; what Rekor v2 uses).
    Ed25519,
    /// ECDSA P-256 with SHA-256.
    EcdsaP256,
}

enum Inner {
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// Signs checkpoints and SETs for one log.
pub struct LogSigner {
    inner: Inner,
    spki: Vec<u8>,
    verifier: NoteVerifier,
    origin: String,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSigner")
            .field("origin", &self.origin)
            .finish()
    }
}

fn io(e: std::io::Error, what: &str) -> LogError {
    LogError::io(what, e)
}

impl LogSigner {
    /// Load `log.key` (PKCS#8 DER) from `dir`, or generate one with `alg` and save it (mode 0600).
    pub fn load_or_generate(dir: &Path, origin: &str, alg: KeyAlgorithm) -> Result<Self, LogError> {
        let path = dir.join("log.key");
        let pkcs8 = if path.exists() {
            std::fs::read(&path).map_err(|e| io(e, "read log key"))?
        } else {
            let pkcs8 = match alg {
                KeyAlgorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| LogError::Key("cannot generate Ed25519 key".into()))?
                    .as_ref()
                    .to_vec(),
                KeyAlgorithm::EcdsaP256 => EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|_| LogError::Key("cannot generate P-256 key".into()))?
                .as_ref()
                .to_vec(),
            };
            crate::storage::write_file_durably(&path, &pkcs8, true)?;
            pkcs8
        };
        Self::from_pkcs8(&pkcs8, origin)
    }

    /// Build from a PKCS#8 DER private key (Ed25519 or P-256).
    pub fn from_pkcs8(pkcs8: &[u8], origin: &str) -> Result<Self, LogError> {
        let inner = if let Ok(k) = Ed25519KeyPair::from_pkcs8(pkcs8) {
            Inner::Ed25519(k)
        } else if let Ok(k) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8) {
            Inner::Ecdsa(k)
        } else {
            return Err(LogError::Key(
                "log key is neither Ed25519 nor ECDSA P-256 PKCS#8".into(),
            ));
        };
        let spki = match &inner {
            Inner::Ed25519(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Inner::Ecdsa(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| LogError::Key("cannot encode public key".into()))?;
        let public = PublicKey::from_spki_der(&spki).map_err(LogError::PublicKey)?;
        let verifier = NoteVerifier::for_log_key(origin, &public).map_err(LogError::NoteKey)?;
        Ok(Self {
            inner,
            spki,
            verifier,
            origin: origin.to_string(),
        })
    }

    /// DER SubjectPublicKeyInfo of the log key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The log ID: the full signed-note key hash (Rekor v2 rule), also used for the v1 API.
    pub fn log_id(&self) -> [u8; 32] {
        self.verifier.key_hash
    }

    /// The note verifier for this log's checkpoints.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The checkpoint origin (also the key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `PublicKeyDetails` name of the key.
    pub fn key_details(&self) -> &'static str {
        match self.inner {
            Inner::Ed25519(_) => "PKIX_ED25519",
            Inner::Ecdsa(_) => "PKIX_ECDSA_P256_SHA_256",
        }
    }

    /// Sign raw bytes with the log key.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, LogError> {
        match &self.inner {
            Inner::Ed25519(k) => Ok(k.sign(msg).as_ref().to_vec()),
            Inner::Ecdsa(k) => k
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| LogError::Key("ECDSA signing failed".into())),
        }
    }

    /// Sign a checkpoint, returning the signed note text.
    pub fn sign_checkpoint(&self, cp: &Checkpoint) -> Result<String, LogError> {
        let text = cp.to_text();
        let signature = self.sign(text.as_bytes())?;
        Ok(SignedNote {
            text,
            signatures: vec![NoteSignature {
                name: self.origin.clone(),
                key_id: self.verifier.key_id,
                signature,
            }],
        }
        .to_text())
    }

    /// A `trusted_root.json` `tlogs[]` entry for this log.
    pub fn trusted_root_entry(
        &self,
        base_url: &str,
        valid_from: &str,
    ) -> vouch_core::trust::TransparencyLogInstanceJson {
        vouch_core::trust::TransparencyLogInstanceJson::sha256_log(
            base_url,
            &self.spki,
            self.key_details(),
            valid_from,
            &self.log_id(),
            true,
        )
    }
}
