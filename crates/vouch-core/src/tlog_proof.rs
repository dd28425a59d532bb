//! C2SP tlog-proof: an offline-verifiable proof that an entry is in a log, as text.
//!
//! Spec: <https://github.com/C2SP/C2SP/blob/main/tlog-proof.md>. The format is the line
//! `c2sp.org/tlog-proof@v1`, an optional `extra <base64>` line, `index <N>`, one base64
//! inclusion-proof hash per line (leaf's sibling first), an empty line, and the checkpoint
//! (a signed note, cosignatures included) verbatim.

use crate::encoding::{b64_decode, b64_encode};
use crate::limits;
use crate::merkle::{self, Hash, ProofError};
use crate::note::{Checkpoint, NoteError, NoteVerifier, SignedNote};
use crate::witness::parse_canonical_u64;

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The media type proofs are served with.
pub const MEDIA_TYPE: &str = "text/plain; charset=utf-8";

/// Why a tlog-proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The text is not a tlog-proof.
    #[error("malformed tlog-proof: {0}")]
    Malformed(&'static str),
    /// More inclusion-proof hashes than any tree needs.
    #[error("tlog-proof has {0} proof hashes, over the limit of {max}", max = limits::MAX_PROOF_HASHES)]
    TooManyHashes(usize),
    /// The embedded checkpoint does not parse or verify.
    #[error("tlog-proof checkpoint: {0}")]
    Checkpoint(#[source] NoteError),
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("tlog-proof inclusion of index {index} in tree size {size}: {source}")]
    Inclusion {
        /// Entry index.
        index: u64,
        /// Checkpoint size.
        size: u64,
        /// The Merkle failure.
        #[source]
        source: ProofError,
    },
}

/// A parsed `c2sp.org/tlog-proof@v1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry.
    pub index: u64,
    /// RFC 6962 inclusion proof, leaf's sibling first.
    pub hashes: Vec<Hash>,
    /// The checkpoint as a signed note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// Parse a proof (bounded: the checkpoint by [`limits::MAX_NOTE_LEN`], the proof by
    /// [`limits::MAX_PROOF_HASHES`]).
    pub fn parse(text: &str) -> Result<Self, TlogProofError> {
        if text.len() > limits::MAX_NOTE_LEN + 8192 {
            return Err(TlogProofError::Malformed("proof is too large"));
        }
        let (head, checkpoint) = text.split_once("\n\n").ok_or(TlogProofError::Malformed(
            "no empty line before the checkpoint",
        ))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(TlogProofError::Malformed(
                "first line is not c2sp.org/tlog-proof@v1",
            ));
        }
        let mut line = lines
            .next()
            .ok_or(TlogProofError::Malformed("missing index line"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                b64_decode(b64).map_err(|_| TlogProofError::Malformed("extra is not base64"))?,
            );
            line = lines
                .next()
                .ok_or(TlogProofError::Malformed("missing index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_u64)
            .ok_or(TlogProofError::Malformed(
                "index line is not `index <decimal>`",
            ))?;
        let mut hashes = Vec::new();
        for l in lines {
            if hashes.len() >= limits::MAX_PROOF_HASHES {
                return Err(TlogProofError::TooManyHashes(hashes.len() + 1));
            }
            let raw =
                b64_decode(l).map_err(|_| TlogProofError::Malformed("proof hash is not base64"))?;
            let h: Hash = raw
                .try_into()
                .map_err(|_| TlogProofError::Malformed("proof hash is not 32 bytes"))?;
            hashes.push(h);
        }
        // The checkpoint must at least be a signed note with a checkpoint body.
        let note = SignedNote::parse(checkpoint).map_err(TlogProofError::Checkpoint)?;
        Checkpoint::parse(&note.text).map_err(TlogProofError::Checkpoint)?;
        Ok(Self {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// Render the proof as text.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(64 + self.hashes.len() * 45 + self.checkpoint.len());
        s.push_str(HEADER);
        s.push('\n');
        if let Some(e) = &self.extra {
            s.push_str("extra ");
            s.push_str(&b64_encode(e));
            s.push('\n');
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            s.push_str(&b64_encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Verify the checkpoint's signature with `log` and that `leaf` (the entry's RFC 6962 leaf
    /// hash) is at [`index`](Self::index) in it; returns the checkpoint. Witness cosignatures
    /// are left to the caller's policy ([`crate::tlog_policy::WitnessPolicy::check`]).
    pub fn verify(&self, log: &NoteVerifier, leaf: &Hash) -> Result<Checkpoint, TlogProofError> {
        let note = SignedNote::parse(&self.checkpoint).map_err(TlogProofError::Checkpoint)?;
        note.verify(log).map_err(TlogProofError::Checkpoint)?;
        let cp = Checkpoint::parse(&note.text).map_err(TlogProofError::Checkpoint)?;
        merkle::verify_inclusion(self.index, cp.size, leaf, &self.hashes, &cp.root_hash).map_err(
            |source| TlogProofError::Inclusion {
                index: self.index,
                size: cp.size,
                source,
            },
        )?;
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CP: &str = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} example.com/log AAAAAQID\n";

    #[test]
    fn round_trip() {
        let p = TlogProof {
            extra: Some(b"ctx".to_vec()),
            index: 2,
            hashes: vec![[1u8; 32], [2u8; 32]],
            checkpoint: CP.to_string(),
        };
        let text = p.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra Y3R4\nindex 2\n"));
        assert_eq!(TlogProof::parse(&text).unwrap(), p);
        let bare = TlogProof {
            extra: None,
            hashes: Vec::new(),
            ..p
        };
        assert_eq!(TlogProof::parse(&bare.to_text()).unwrap(), bare);
    }

    #[test]
    fn rejects() {
        let ok = format!("{HEADER}\nindex 0\n\n{CP}");
        assert!(TlogProof::parse(&ok).is_ok());
        for bad in [
            format!("c2sp.org/tlog-proof@v2\nindex 0\n\n{CP}"),
            format!("{HEADER}\nindex 01\n\n{CP}"),
            format!("{HEADER}\nindex -1\n\n{CP}"),
            format!("{HEADER}\nindex 0\nAAAA\n\n{CP}"),
            format!("{HEADER}\nindex 0\n{CP}"),
            format!("{HEADER}\nindex 0\n\nnot a note\n"),
        ] {
            assert!(TlogProof::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn verifies_inclusion() {
        use crate::merkle::{inclusion_proof, leaf_hash, root_of_leaves};
        let leaves: Vec<Hash> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
        let root = root_of_leaves(&leaves);
        let raw = [7u8; 32];
        let v = NoteVerifier::ed25519("example.com/log", raw);
        // A wrong signature must fail before any proof is looked at.
        let text = Checkpoint {
            origin: "example.com/log".into(),
            size: 5,
            root_hash: root,
            extensions: Vec::new(),
        }
        .to_text();
        let note = SignedNote {
            text,
            signatures: vec![crate::note::NoteSignature {
                name: "example.com/log".into(),
                key_id: v.key_id,
                signature: vec![0u8; 64],
            }],
        };
        let p = TlogProof {
            extra: None,
            index: 3,
            hashes: inclusion_proof(&leaves, 3),
            checkpoint: note.to_text(),
        };
        assert!(matches!(
            p.verify(&v, &leaves[3]),
            Err(TlogProofError::Checkpoint(NoteError::BadSignature { .. }))
        ));
    }
}
