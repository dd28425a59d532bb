//! C2SP tlog-witness wire formats: the `add-checkpoint` request body and the
//! `text/x.tlog.size` conflict body, declared once for the witness and for logs that call it.
//!
//! Spec: <https://github.com/C2SP/C2SP/blob/main/tlog-witness.md>. A request body is an
//! `old <size>` line, zero to 63 base64 consistency proof lines, an empty line, then a signed
//! checkpoint; every line ends in a newline.

use crate::encoding::{b64_decode, b64_encode};
use crate::merkle::Hash;
use crate::note::{NoteError, SignedNote};

/// Most consistency proof lines a client may send (the spec's bound).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest `add-checkpoint` body accepted, in bytes: the old-size line, 63 proof lines and a
/// checkpoint carrying a few dozen signatures (an ML-DSA-44 line is about 3.3 kB).
pub const MAX_ADD_CHECKPOINT_LEN: usize = 256 * 1024;
/// Media type of the 409 body carrying the witness's latest size.
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why an `add-checkpoint` body is malformed (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is over [`MAX_ADD_CHECKPOINT_LEN`].
    #[error("request body is {len} bytes, over the limit of {MAX_ADD_CHECKPOINT_LEN}")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The body is not UTF-8.
    #[error("request body is not UTF-8")]
    NotUtf8,
    /// The first line is not `old <canonical decimal>`.
    #[error("first line must be `old <size>` with a canonical decimal size")]
    OldLine,
    /// A proof line is not a base64 32-byte hash.
    #[error("consistency proof line {line} is not a base64 SHA-256 hash")]
    ProofLine {
        /// 1-based position among the proof lines.
        line: usize,
    },
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// No empty line before the checkpoint.
    #[error("no empty line between the consistency proof and the checkpoint")]
    NoSeparator,
    /// The checkpoint is not a signed note.
    #[error("checkpoint: {0}")]
    Checkpoint(#[source] NoteError),
}

/// A parsed `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// The size of the checkpoint the client believes the witness holds.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the new checkpoint.
    pub proof: Vec<Hash>,
    /// The signed checkpoint (parsed as a note; its text is not yet read as a checkpoint).
    pub checkpoint: SignedNote,
}

/// Parse a canonical ASCII decimal (no sign, no leading zeros except `0`).
pub fn parse_canonical_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl AddCheckpointRequest {
    /// Parse a request body (bounded).
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        if body.len() > MAX_ADD_CHECKPOINT_LEN {
            return Err(RequestError::TooLarge { len: body.len() });
        }
        let text = std::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
        let (first, mut rest) = text.split_once('\n').ok_or(RequestError::OldLine)?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(parse_canonical_u64)
            .ok_or(RequestError::OldLine)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(RequestError::NoSeparator)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::TooManyProofLines);
            }
            let bad = RequestError::ProofLine {
                line: proof.len() + 1,
            };
            let raw = b64_decode(line).map_err(|_| bad.clone())?;
            let h: Hash = raw.try_into().map_err(|_| bad)?;
            proof.push(h);
        }
        let checkpoint = SignedNote::parse(rest).map_err(RequestError::Checkpoint)?;
        Ok(Self {
            old_size,
            proof,
            checkpoint,
        })
    }

    /// Render the request body.
    pub fn to_text(&self) -> String {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&b64_encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint.to_text());
        s
    }
}

/// The 409 body: the witness's latest size and a newline.
pub fn tlog_size_body(size: u64) -> String {
    format!("{size}\n")
}

/// Parse a 409 `text/x.tlog.size` body.
pub fn parse_tlog_size_body(body: &str) -> Option<u64> {
    body.strip_suffix('\n').and_then(parse_canonical_u64)
}

/// Parse a 200 `add-checkpoint` response: one or more note signature lines.
pub fn parse_cosignature_lines(body: &str) -> Result<Vec<crate::note::NoteSignature>, NoteError> {
    // A signature block is parsed the way a note's is: attach it to a placeholder text.
    let note = SignedNote::parse(&format!("x\n\n{body}"))?;
    Ok(note.signatures)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";

    #[test]
    fn parses_the_spec_example_and_renders_it_back() {
        let r = AddCheckpointRequest::parse(SPEC_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(r.old_size, 20852014);
        assert_eq!(r.proof.len(), 4);
        assert_eq!(r.checkpoint.signatures.len(), 2);
        assert_eq!(r.to_text(), SPEC_EXAMPLE);
    }

    #[test]
    fn refuses_malformed_bodies() {
        let cp = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} o AAAAAQID\n";
        let ok = format!("old 0\n\n{cp}");
        assert!(AddCheckpointRequest::parse(ok.as_bytes()).is_ok());
        for bad in [
            format!("old 01\n\n{cp}"),
            format!("old -1\n\n{cp}"),
            format!("old  1\n\n{cp}"),
            format!("new 1\n\n{cp}"),
            format!("old 1\nnot-base64!\n\n{cp}"),
            format!("old 1\nAAAA\n\n{cp}"),
            format!("old 1\n{cp}"),
            "old 1".to_string(),
            format!("old 1\n\n{}", &cp[..cp.len() - 1]),
        ] {
            assert!(
                AddCheckpointRequest::parse(bad.as_bytes()).is_err(),
                "{bad:?}"
            );
        }
        let h = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let many = format!("old 1\n{}\n{cp}", h.repeat(64));
        assert_eq!(
            AddCheckpointRequest::parse(many.as_bytes()),
            Err(RequestError::TooManyProofLines)
        );
        let max = format!("old 1\n{}\n{cp}", h.repeat(63));
        assert!(AddCheckpointRequest::parse(max.as_bytes()).is_ok());
        assert!(AddCheckpointRequest::parse(&[0xff, b'\n']).is_err());
    }

    #[test]
    fn size_bodies() {
        assert_eq!(tlog_size_body(42), "42\n");
        assert_eq!(parse_tlog_size_body("42\n"), Some(42));
        assert_eq!(parse_tlog_size_body("042\n"), None);
        assert_eq!(parse_tlog_size_body("42"), None);
    }
}
