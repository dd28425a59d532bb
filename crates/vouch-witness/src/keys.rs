//! The witness's two signing keys, generated on first start and kept in the data directory
//! (PKCS#8, mode 0600): Ed25519 for `cosignature/v1` and ML-DSA-44 for `subtree/v1`, both
//! through aws-lc-rs (its stable `signature::ML_DSA_44_SIGNING` API).

use crate::error::WitnessError;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, ML_DSA_44_SIGNING, PqdsaKeyPair};
use std::path::Path;
use vouch_core::cosignature::{CosignatureKind, CosignerKey};
use vouch_core::note::NoteSignature;
use vouch_fs::{Access, write_durably};

/// File of the Ed25519 key (PKCS#8 DER).
pub const ED25519_KEY_FILE: &str = "witness-ed25519.pk8";
/// File of the ML-DSA-44 key (PKCS#8 DER, seed form).
pub const MLDSA44_KEY_FILE: &str = "witness-mldsa44.pk8";

/// The witness's signing keys and their public cosigner keys.
pub struct WitnessKeys {
    ed25519: Ed25519KeyPair,
    mldsa44: PqdsaKeyPair,
    ed25519_public: CosignerKey,
    mldsa44_public: CosignerKey,
}

impl std::fmt::Debug for WitnessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessKeys")
            .field("ed25519", &self.ed25519_public.to_vkey())
            .field(
                "mldsa44_key_id",
                &format_args!("{:08x}", self.mldsa44_public.key_id),
            )
            .finish()
    }
}

fn load_or_create(
    path: &Path,
    generate: impl FnOnce() -> Result<Vec<u8>, WitnessError>,
) -> Result<(Vec<u8>, bool), WitnessError> {
    if let Some(der) = vouch_fs::read_optional(path)? {
        return Ok((der, false));
    }
    let der = generate()?;
    write_durably(path, &der, Access::Private)?;
    Ok((der, true))
}

impl WitnessKeys {
    /// Load the keys from `dir`, generating (and durably writing) any that is missing.
    /// Returns the keys and whether any was generated.
    pub fn load_or_generate(dir: &Path, name: &str) -> Result<(Self, bool), WitnessError> {
        let ed_path = dir.join(ED25519_KEY_FILE);
        let (ed_der, ed_new) = load_or_create(&ed_path, || {
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| WitnessError::KeyGeneration { kind: "Ed25519" })
        })?;
        let ml_path = dir.join(MLDSA44_KEY_FILE);
        let (ml_der, ml_new) = load_or_create(&ml_path, || {
            PqdsaKeyPair::generate(&ML_DSA_44_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| WitnessError::KeyGeneration { kind: "ML-DSA-44" })
        })?;
        let ed25519 =
            Ed25519KeyPair::from_pkcs8(&ed_der).map_err(|e| WitnessError::BadKeyFile {
                path: ed_path.clone(),
                source: e,
            })?;
        let mldsa44 = PqdsaKeyPair::from_pkcs8(&ML_DSA_44_SIGNING, &ml_der).map_err(|e| {
            WitnessError::BadKeyFile {
                path: ml_path.clone(),
                source: e,
            }
        })?;
        let ed25519_public = CosignerKey::new(
            name,
            CosignatureKind::Ed25519,
            ed25519.public_key().as_ref(),
        )
        .map_err(|source| WitnessError::Name { source })?;
        let mldsa44_public = CosignerKey::new(
            name,
            CosignatureKind::MlDsa44,
            mldsa44.public_key().as_ref(),
        )
        .map_err(|source| WitnessError::Name { source })?;
        Ok((
            Self {
                ed25519,
                mldsa44,
                ed25519_public,
                mldsa44_public,
            },
            ed_new || ml_new,
        ))
    }

    /// The public keys: Ed25519 first, then ML-DSA-44.
    pub fn public_keys(&self) -> [&CosignerKey; 2] {
        [&self.ed25519_public, &self.mldsa44_public]
    }

    /// Cosign a checkpoint note text at `timestamp` with both keys: the Ed25519 line, then
    /// the ML-DSA-44 line.
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<[NoteSignature; 2], WitnessError> {
        let ed_msg = self
            .ed25519_public
            .signed_message(checkpoint_text, timestamp)
            .map_err(|source| WitnessError::Message { source })?;
        let ed_sig = self.ed25519.sign(&ed_msg);
        let ml_msg = self
            .mldsa44_public
            .signed_message(checkpoint_text, timestamp)
            .map_err(|source| WitnessError::Message { source })?;
        let mut ml_sig = vec![0u8; ML_DSA_44_SIGNING.signature_len()];
        let n = self
            .mldsa44
            .sign(&ml_msg, &mut ml_sig)
            .map_err(|_| WitnessError::Signing { kind: "ML-DSA-44" })?;
        ml_sig.truncate(n);
        Ok([
            self.ed25519_public
                .signature_line(timestamp, ed_sig.as_ref()),
            self.mldsa44_public.signature_line(timestamp, &ml_sig),
        ])
    }
}
