//! C2SP tlog-cosignature: witness cosignatures over checkpoints, in both defined types.
//!
//! Spec: <https://github.com/C2SP/C2SP/blob/main/tlog-cosignature.md>.
//!
//! * Ed25519 (`cosignature/v1`, signature type `0x04`): the signed message is the header line
//!   `cosignature/v1`, a `time <timestamp>` line, then the whole checkpoint note text.
//! * ML-DSA-44 (`subtree/v1`, signature type `0x06`): the signed message is the binary
//!   `cosigned_message` structure (label, cosigner name, timestamp, origin, start, end, root
//!   hash); it commits to the cosigner's name but not to checkpoint extension lines.
//!
//! Both signatures are a `timestamped_signature`: a big-endian u64 POSIX timestamp followed by
//! the raw signature. Key IDs are `SHA-256(name || "\n" || type || public key)[:4]`.
//!
//! This module builds the messages and verifies cosignatures; the witness signs them with the
//! same message builders.

use crate::encoding::{b64_decode, b64_encode};
use crate::note::{Checkpoint, NoteError, NoteSignature, SignedNote};
use aws_lc_rs::digest;
use aws_lc_rs::signature::{ED25519, ML_DSA_44, UnparsedPublicKey};

/// Signature type byte of a timestamped Ed25519 cosignature (`cosignature/v1`).
pub const SIG_TYPE_ED25519_COSIGNATURE: u8 = 0x04;
/// Signature type byte of a timestamped ML-DSA-44 (sub)tree cosignature (`subtree/v1`).
pub const SIG_TYPE_MLDSA44_COSIGNATURE: u8 = 0x06;
/// Length of a raw Ed25519 public key.
pub const ED25519_PUBLIC_KEY_LEN: usize = 32;
/// Length of a raw ML-DSA-44 public key (FIPS 204).
pub const MLDSA44_PUBLIC_KEY_LEN: usize = 1312;
/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;
/// Length of an ML-DSA-44 signature (FIPS 204).
pub const MLDSA44_SIGNATURE_LEN: usize = 2420;
/// Largest timestamp a cosignature may carry (`2^63 - 1`).
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;
/// The fixed 12-byte label opening an ML-DSA-44 `cosigned_message`.
pub const SUBTREE_V1_LABEL: &[u8; 12] = b"subtree/v1\n\0";

/// Which cosignature type a witness key makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CosignatureKind {
    /// Ed25519 `cosignature/v1` (type `0x04`).
    Ed25519,
    /// ML-DSA-44 `subtree/v1` (type `0x06`).
    MlDsa44,
}

impl CosignatureKind {
    /// The signed-note signature type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            Self::Ed25519 => SIG_TYPE_ED25519_COSIGNATURE,
            Self::MlDsa44 => SIG_TYPE_MLDSA44_COSIGNATURE,
        }
    }

    /// Length of the raw public key.
    pub fn public_key_len(self) -> usize {
        match self {
            Self::Ed25519 => ED25519_PUBLIC_KEY_LEN,
            Self::MlDsa44 => MLDSA44_PUBLIC_KEY_LEN,
        }
    }

    /// Length of the raw signature (after the timestamp).
    pub fn signature_len(self) -> usize {
        match self {
            Self::Ed25519 => ED25519_SIGNATURE_LEN,
            Self::MlDsa44 => MLDSA44_SIGNATURE_LEN,
        }
    }

    /// A short name for messages: `Ed25519` or `ML-DSA-44`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "Ed25519",
            Self::MlDsa44 => "ML-DSA-44",
        }
    }
}

/// A cosigner's public key: name, type and raw key, with its key ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerKey {
    /// The cosigner (key) name.
    pub name: String,
    /// The cosignature type.
    pub kind: CosignatureKind,
    /// The raw public key (32 bytes for Ed25519, 1312 for ML-DSA-44).
    pub public_key: Vec<u8>,
    /// The 4-byte key ID.
    pub key_id: u32,
}

/// `SHA-256(name || "\n" || type || key)[:4]`, big-endian.
fn key_id(name: &str, type_byte: u8, key: &[u8]) -> u32 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[type_byte]);
    ctx.update(key);
    let h = ctx.finish();
    let h = h.as_ref();
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.len() > 255 || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::BadKey(
            "key name must be 1 to 255 bytes without spaces or '+'".into(),
        ));
    }
    Ok(())
}

impl CosignerKey {
    /// A key from its parts; the key ID is computed.
    pub fn new(name: &str, kind: CosignatureKind, public_key: &[u8]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        if public_key.len() != kind.public_key_len() {
            return Err(NoteError::BadKey(format!(
                "{} cosigner key is {} bytes, expected {}",
                kind.name(),
                public_key.len(),
                kind.public_key_len()
            )));
        }
        Ok(Self {
            name: name.to_string(),
            kind,
            public_key: public_key.to_vec(),
            key_id: key_id(name, kind.type_byte(), public_key),
        })
    }

    /// Parse a vkey `name+hexid+base64(type || key)` of type `0x04` or `0x06`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKey("expected name+id+key".into()));
        };
        if id_hex.len() != 8 {
            return Err(NoteError::BadKey("key ID is not 8 hex digits".into()));
        }
        let id = u32::from_str_radix(id_hex, 16)
            .map_err(|_| NoteError::BadKey("key ID is not hex".into()))?;
        let raw = b64_decode(b64).map_err(|_| NoteError::BadKey("key is not base64".into()))?;
        let (ty, key) = raw
            .split_first()
            .ok_or_else(|| NoteError::BadKey("empty key".into()))?;
        let kind = match *ty {
            SIG_TYPE_ED25519_COSIGNATURE => CosignatureKind::Ed25519,
            SIG_TYPE_MLDSA44_COSIGNATURE => CosignatureKind::MlDsa44,
            other => {
                return Err(NoteError::BadKey(format!(
                    "key type 0x{other:02x} is not a cosignature type (0x04 or 0x06)"
                )));
            }
        };
        let k = Self::new(name, kind, key)?;
        if k.key_id != id {
            return Err(NoteError::BadKey(format!(
                "key ID {id:08x} does not match computed {:08x}",
                k.key_id
            )));
        }
        Ok(k)
    }

    /// The vkey text of this key.
    pub fn to_vkey(&self) -> String {
        let mut raw = Vec::with_capacity(1 + self.public_key.len());
        raw.push(self.kind.type_byte());
        raw.extend_from_slice(&self.public_key);
        format!("{}+{:08x}+{}", self.name, self.key_id, b64_encode(&raw))
    }

    /// The message this key signs for `checkpoint_text` (the note text, final newline
    /// included) at `timestamp`.
    pub fn signed_message(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<Vec<u8>, NoteError> {
        match self.kind {
            CosignatureKind::Ed25519 => Ok(ed25519_message(checkpoint_text, timestamp)),
            CosignatureKind::MlDsa44 => {
                let cp = Checkpoint::parse(checkpoint_text)?;
                subtree_message(&self.name, timestamp, &cp.origin, 0, cp.size, &cp.root_hash)
            }
        }
    }

    /// The note signature line for a raw signature made at `timestamp`.
    pub fn signature_line(&self, timestamp: u64, signature: &[u8]) -> NoteSignature {
        let mut sig = Vec::with_capacity(8 + signature.len());
        sig.extend_from_slice(&timestamp.to_be_bytes());
        sig.extend_from_slice(signature);
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: sig,
        }
    }

    /// Find and verify this key's cosignature on `note`: `Ok(None)` if it has none, an error
    /// if its line fails (a note with a failing known signature is rejected).
    pub fn verify(&self, note: &SignedNote) -> Result<Option<Cosignature>, NoteError> {
        let mut found = None;
        for sig in &note.signatures {
            if sig.name != self.name || sig.key_id != self.key_id {
                continue;
            }
            let bad = || NoteError::BadSignature {
                name: self.name.clone(),
            };
            if sig.signature.len() != 8 + self.kind.signature_len() {
                return Err(bad());
            }
            let (ts, raw) = sig.signature.split_at(8);
            let mut t = [0u8; 8];
            t.copy_from_slice(ts);
            let timestamp = u64::from_be_bytes(t);
            if timestamp > MAX_COSIGNATURE_TIMESTAMP {
                return Err(bad());
            }
            let msg = self.signed_message(&note.text, timestamp)?;
            let ok = match self.kind {
                CosignatureKind::Ed25519 => UnparsedPublicKey::new(&ED25519, &self.public_key)
                    .verify(&msg, raw)
                    .is_ok(),
                CosignatureKind::MlDsa44 => UnparsedPublicKey::new(&ML_DSA_44, &self.public_key)
                    .verify(&msg, raw)
                    .is_ok(),
            };
            if !ok {
                return Err(bad());
            }
            found.get_or_insert(Cosignature {
                name: self.name.clone(),
                timestamp,
            });
        }
        Ok(found)
    }
}

/// A verified cosignature: who and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    /// The cosigner name.
    pub name: String,
    /// When it cosigned, POSIX seconds.
    pub timestamp: u64,
}

/// The Ed25519 `cosignature/v1` signed message over a checkpoint note text.
pub fn ed25519_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

fn opaque8(out: &mut Vec<u8>, field: &'static str, v: &[u8]) -> Result<(), NoteError> {
    let len = u8::try_from(v.len())
        .ok()
        .filter(|l| *l >= 1)
        .ok_or(NoteError::Malformed(field))?;
    out.push(len);
    out.extend_from_slice(v);
    Ok(())
}

/// The ML-DSA-44 `subtree/v1` `cosigned_message`. Cosigner name and origin must be 1..=255
/// bytes; a non-zero `start` requires a zero `timestamp`.
pub fn subtree_message(
    cosigner_name: &str,
    timestamp: u64,
    origin: &str,
    start: u64,
    end: u64,
    hash: &[u8; 32],
) -> Result<Vec<u8>, NoteError> {
    if start != 0 && timestamp != 0 {
        return Err(NoteError::Malformed(
            "a subtree cosignature with a non-zero start has a zero timestamp",
        ));
    }
    let mut m = Vec::with_capacity(12 + 2 + cosigner_name.len() + origin.len() + 24 + 32);
    m.extend_from_slice(SUBTREE_V1_LABEL);
    opaque8(
        &mut m,
        "cosigner name must be 1 to 255 bytes",
        cosigner_name.as_bytes(),
    )?;
    m.extend_from_slice(&timestamp.to_be_bytes());
    opaque8(
        &mut m,
        "log origin must be 1 to 255 bytes",
        origin.as_bytes(),
    )?;
    m.extend_from_slice(&start.to_be_bytes());
    m.extend_from_slice(&end.to_be_bytes());
    m.extend_from_slice(hash);
    Ok(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_message_is_the_spec_example() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            ed25519_message(text, 1679315147),
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn subtree_message_layout() {
        let m = subtree_message("w", 7, "o", 0, 5, &[9u8; 32]).unwrap();
        let mut want = b"subtree/v1\n\0".to_vec();
        want.extend_from_slice(&[1, b'w']);
        want.extend_from_slice(&7u64.to_be_bytes());
        want.extend_from_slice(&[1, b'o']);
        want.extend_from_slice(&0u64.to_be_bytes());
        want.extend_from_slice(&5u64.to_be_bytes());
        want.extend_from_slice(&[9u8; 32]);
        assert_eq!(m, want);
        assert!(subtree_message("w", 7, "o", 1, 5, &[0; 32]).is_err());
        assert!(subtree_message("", 0, "o", 0, 5, &[0; 32]).is_err());
        assert!(subtree_message("w", 0, &"o".repeat(256), 0, 5, &[0; 32]).is_err());
    }

    #[test]
    fn vkey_roundtrip_and_type_checks() {
        let k =
            CosignerKey::new("witness.example/w1", CosignatureKind::Ed25519, &[7u8; 32]).unwrap();
        let v = k.to_vkey();
        assert_eq!(CosignerKey::from_vkey(&v).unwrap(), k);
        // An Ed25519 note key (type 0x01) is not a cosigner key.
        assert!(
            CosignerKey::from_vkey(
                "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            )
            .is_err()
        );
        assert!(CosignerKey::new("w", CosignatureKind::MlDsa44, &[0u8; 32]).is_err());
    }
}
