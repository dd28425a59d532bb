//! C2SP signed notes, tlog checkpoints and witness cosignatures.
//!
//! Specs: <https://github.com/C2SP/C2SP/blob/main/signed-note.md>,
//! <https://github.com/C2SP/C2SP/blob/main/tlog-checkpoint.md>,
//! <https://github.com/C2SP/C2SP/blob/main/tlog-cosignature.md>. Rekor v1 checkpoints are
//! signed notes whose origin is `<host> - <tree id>` and whose ECDSA key ID is the first four
//! bytes of SHA-256(SPKI) (protocols.md §2.7).

use crate::encoding::{b64_decode, b64_encode};
use crate::keys::{KeyKind, PublicKey};
use crate::limits;
use aws_lc_rs::digest;
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};

/// Signature type byte of an Ed25519 note signature.
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type byte of an ECDSA note signature.
pub const SIG_TYPE_ECDSA: u8 = 0x02;
/// Signature type byte of a timestamped Ed25519 cosignature (tlog-cosignature v1).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;
/// Identifier used for Sigstore's RSA note keys (after a 0xff type byte).
pub const RSA_KEY_TYPE_ID: &[u8] = b"PKIX-RSA-PKCS#1v1.5";

/// Errors from parsing or verifying notes and checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is not well formed.
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    /// The note is larger than allowed.
    #[error("signed note is {0} bytes, over the limit")]
    TooLarge(usize),
    /// Too many signature lines.
    #[error("signed note has {0} signature lines, over the limit")]
    TooManySignatures(usize),
    /// A checkpoint body line is wrong.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(&'static str),
    /// No signature line from the expected key.
    #[error("checkpoint has no signature from key {name:?} (key ID {key_id:08x})")]
    NoMatchingSignature {
        /// Key name expected.
        name: String,
        /// Key ID expected.
        key_id: u32,
    },
    /// A signature from the expected key failed to verify.
    #[error("checkpoint signature by {name:?} does not verify")]
    BadSignature {
        /// Key name.
        name: String,
    },
    /// The checkpoint's origin is not the log's.
    #[error("checkpoint origin mismatch: expected {expected:?}, got {got:?}")]
    OriginMismatch {
        /// Expected origin.
        expected: String,
        /// Origin in the checkpoint.
        got: String,
    },
    /// A verifier key could not be used.
    #[error("unusable note verifier key: {0}")]
    BadKey(String),
    /// A verifier key's SubjectPublicKeyInfo does not decode.
    #[error("unusable note verifier key: {0}")]
    KeyDer(#[source] der::Error),
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// 4-byte key ID.
    pub key_id: u32,
    /// Signature bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A parsed signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, including its final newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parse a signed note (bounded).
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        if note.len() > limits::MAX_NOTE_LEN {
            return Err(NoteError::TooLarge(note.len()));
        }
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::Malformed("control character in note"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before signatures"))?;
        let text = &note[..split + 1];
        let sigs = &note[split + 2..];
        if !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signature block does not end in a newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() >= limits::MAX_NOTE_SIGNATURES {
                return Err(NoteError::TooManySignatures(signatures.len() + 1));
            }
            let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
                "signature line does not start with an em dash",
            ))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or(NoteError::Malformed("signature line has no key name"))?;
            if name.is_empty() || name.contains('+') {
                return Err(NoteError::Malformed("invalid key name"));
            }
            let raw =
                b64_decode(b64).map_err(|_| NoteError::Malformed("signature is not base64"))?;
            if raw.len() < 5 {
                return Err(NoteError::Malformed("signature too short"));
            }
            let key_id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            signatures.push(NoteSignature {
                name: name.to_string(),
                key_id,
                signature: raw[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(NoteError::Malformed("no signature lines"));
        }
        Ok(Self {
            text: text.to_string(),
            signatures,
        })
    }

    /// Render the note back to text.
    pub fn to_text(&self) -> String {
        let mut s = self.text.clone();
        s.push('\n');
        for sig in &self.signatures {
            let mut raw = sig.key_id.to_be_bytes().to_vec();
            raw.extend_from_slice(&sig.signature);
            s.push_str(&format!("\u{2014} {} {}\n", sig.name, b64_encode(&raw)));
        }
        s
    }

    /// Verify with `verifier`: at least one matching line must verify and no matching line may fail.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<(), NoteError> {
        let mut ok = false;
        for sig in &self.signatures {
            if sig.name != verifier.name || sig.key_id != verifier.key_id {
                continue;
            }
            if verifier.verify_raw(self.text.as_bytes(), &sig.signature) {
                ok = true;
            } else {
                return Err(NoteError::BadSignature {
                    name: verifier.name.clone(),
                });
            }
        }
        if ok {
            Ok(())
        } else {
            Err(NoteError::NoMatchingSignature {
                name: verifier.name.clone(),
                key_id: verifier.key_id,
            })
        }
    }
}

/// The key a note signature is checked with.
#[derive(Clone, Debug)]
enum VerifierKey {
    Ed25519([u8; 32]),
    Pkix(PublicKey),
}

/// A note verifier: key name, key ID and public key.
#[derive(Clone, Debug)]
pub struct NoteVerifier {
    /// Key name (for logs, the origin / host).
    pub name: String,
    /// 4-byte key ID.
    pub key_id: u32,
    /// Full 32-byte key hash this ID was cut from (the Rekor v2 log ID for Ed25519 keys).
    pub key_hash: [u8; 32],
    key: VerifierKey,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn id_of(hash: &[u8; 32]) -> u32 {
    u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]])
}

impl NoteVerifier {
    /// A verifier for a log key given as SPKI DER, with the key-ID rule for its type:
    /// Ed25519 → C2SP (name, 0x01, raw key); ECDSA → SHA-256(SPKI); RSA → Sigstore's 0xff rule.
    pub fn for_log_key(name: &str, key: &PublicKey) -> Result<Self, NoteError> {
        match key.kind() {
            KeyKind::Ed25519 => {
                let raw = ed25519_raw(key.spki_der())?;
                Ok(Self::ed25519(name, raw))
            }
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521 => {
                let hash = sha256(&[key.spki_der()]);
                Ok(Self {
                    name: name.to_string(),
                    key_id: id_of(&hash),
                    key_hash: hash,
                    key: VerifierKey::Pkix(key.clone()),
                })
            }
            KeyKind::Rsa => {
                let hash = sha256(&[
                    name.as_bytes(),
                    b"\n",
                    &[0xff],
                    RSA_KEY_TYPE_ID,
                    key.spki_der(),
                ]);
                Ok(Self {
                    name: name.to_string(),
                    key_id: id_of(&hash),
                    key_hash: hash,
                    key: VerifierKey::Pkix(key.clone()),
                })
            }
        }
    }

    /// An Ed25519 verifier from the raw 32-byte key.
    pub fn ed25519(name: &str, raw: [u8; 32]) -> Self {
        let hash = sha256(&[name.as_bytes(), b"\n", &[SIG_TYPE_ED25519], &raw]);
        Self {
            name: name.to_string(),
            key_id: id_of(&hash),
            key_hash: hash,
            key: VerifierKey::Ed25519(raw),
        }
    }

    /// Parse a C2SP verifier key string `name+hexid+base64(type||key)` (Ed25519 only).
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKey("expected name+id+key".into()));
        };
        let raw = b64_decode(b64).map_err(|_| NoteError::BadKey("key is not base64".into()))?;
        let (ty, key) = raw
            .split_first()
            .ok_or_else(|| NoteError::BadKey("empty key".into()))?;
        if *ty != SIG_TYPE_ED25519 {
            return Err(NoteError::BadKey(format!(
                "unsupported key type 0x{ty:02x}"
            )));
        }
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| NoteError::BadKey("Ed25519 key is not 32 bytes".into()))?;
        let v = Self::ed25519(name, key);
        let id = u32::from_str_radix(id_hex, 16)
            .map_err(|_| NoteError::BadKey("key ID is not hex".into()))?;
        if id != v.key_id {
            return Err(NoteError::BadKey(format!(
                "key ID {id:08x} does not match computed {:08x}",
                v.key_id
            )));
        }
        Ok(v)
    }

    /// The C2SP vkey `name+hexid+base64(0x01 || key)` of an Ed25519 verifier; `None` for
    /// other key types (which have no vkey encoding here).
    pub fn to_vkey(&self) -> Option<String> {
        match &self.key {
            VerifierKey::Ed25519(raw) => {
                let mut b = vec![SIG_TYPE_ED25519];
                b.extend_from_slice(raw);
                Some(format!(
                    "{}+{:08x}+{}",
                    self.name,
                    self.key_id,
                    b64_encode(&b)
                ))
            }
            VerifierKey::Pkix(_) => None,
        }
    }

    /// The public key bytes: the raw 32-byte key for Ed25519, else the SPKI DER.
    pub fn public_key_bytes(&self) -> &[u8] {
        match &self.key {
            VerifierKey::Ed25519(raw) => raw,
            VerifierKey::Pkix(k) => k.spki_der(),
        }
    }

    fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.key {
            VerifierKey::Ed25519(raw) => UnparsedPublicKey::new(&ED25519, raw)
                .verify(msg, sig)
                .is_ok(),
            VerifierKey::Pkix(k) => k.verify(msg, sig).is_ok(),
        }
    }
}

/// Extract the raw 32-byte key from an Ed25519 SPKI.
pub fn ed25519_raw(spki_der: &[u8]) -> Result<[u8; 32], NoteError> {
    use der::Decode;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(NoteError::KeyDer)?;
    spki.subject_public_key
        .as_bytes()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| NoteError::BadKey("Ed25519 key is not 32 bytes".into()))
}

/// A tlog checkpoint body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root_hash: [u8; 32],
    /// Extension lines (rarely used; Rekor v1 once wrote `Timestamp: …`).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Parse checkpoint text (the note text, with its final newline).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::BadCheckpoint("text does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(NoteError::BadCheckpoint("missing origin line"));
        }
        let size_line = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("missing tree size line"))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(NoteError::BadCheckpoint(
                "tree size is not a canonical decimal",
            ));
        }
        let size: u64 = size_line
            .parse()
            .map_err(|_| NoteError::BadCheckpoint("tree size out of range"))?;
        let root_line = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("missing root hash line"))?;
        let root = b64_decode(root_line)
            .map_err(|_| NoteError::BadCheckpoint("root hash is not base64"))?;
        let root_hash: [u8; 32] = root
            .try_into()
            .map_err(|_| NoteError::BadCheckpoint("root hash is not 32 bytes"))?;
        let mut extensions = Vec::new();
        for l in lines {
            if l.is_empty() {
                return Err(NoteError::BadCheckpoint("empty extension line"));
            }
            extensions.push(l.to_string());
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root_hash,
            extensions,
        })
    }

    /// Render the checkpoint body.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            b64_encode(&self.root_hash)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }
}

/// A verified witness cosignature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    /// Witness name.
    pub name: String,
    /// Time the witness cosigned, unix seconds.
    pub timestamp: u64,
}

/// Verify a tlog-cosignature/v1 line from `witness` over `note`; `Ok(None)` if the witness did not sign.
pub fn verify_cosignature(
    note: &SignedNote,
    witness: &NoteVerifier,
) -> Result<Option<Cosignature>, NoteError> {
    let VerifierKey::Ed25519(raw) = &witness.key else {
        return Err(NoteError::BadKey("cosignatures use Ed25519 keys".into()));
    };
    let hash = sha256(&[
        witness.name.as_bytes(),
        b"\n",
        &[SIG_TYPE_COSIGNATURE_V1],
        raw,
    ]);
    let id = id_of(&hash);
    for sig in &note.signatures {
        if sig.name != witness.name || sig.key_id != id {
            continue;
        }
        if sig.signature.len() != 8 + 64 {
            return Err(NoteError::BadSignature {
                name: witness.name.clone(),
            });
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&sig.signature[..8]);
        let timestamp = u64::from_be_bytes(ts);
        let msg = format!("cosignature/v1\ntime {timestamp}\n{}", note.text);
        if UnparsedPublicKey::new(&ED25519, raw)
            .verify(msg.as_bytes(), &sig.signature[8..])
            .is_err()
        {
            return Err(NoteError::BadSignature {
                name: witness.name.clone(),
            });
        }
        return Ok(Some(Cosignature {
            name: witness.name.clone(),
            timestamp,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_checkpoint_note() {
        let n = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} example.com/log AAAAAQID\n";
        let note = SignedNote::parse(n).unwrap();
        assert_eq!(note.signatures.len(), 1);
        assert_eq!(note.signatures[0].key_id, 1);
        let cp = Checkpoint::parse(&note.text).unwrap();
        assert_eq!(cp.origin, "example.com/log");
        assert_eq!(cp.size, 3);
        assert_eq!(note.to_text(), n);
        assert!(Checkpoint::parse("o\n03\nAAAA\n").is_err());
        assert!(SignedNote::parse("no sigs\n").is_err());
    }

    #[test]
    fn vkey_roundtrip() {
        // From C2SP signed-note.md.
        let v = NoteVerifier::from_vkey(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        assert_eq!(v.key_id, 0xc74f20a3);
        assert_eq!(
            v.to_vkey().as_deref(),
            Some("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        );
    }
}
