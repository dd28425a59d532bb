//! PEM (RFC 7468) text encoding of DER documents: the one PEM codec of the workspace.
//!
//! Encoding and decoding of each block are done by `pem-rfc7468` (through `der::pem`), which
//! is strict about boundaries, labels and Base64. This module adds what files in the wild
//! need on top: finding every block in a text that may carry other lines between blocks
//! (`openssl x509 -text` output, concatenated chains), and picking blocks by label.

use der::pem::{self as rfc7468, LineEnding};

/// Why PEM text did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// The text holds no `-----BEGIN …-----` line at all.
    #[error("no PEM block found")]
    NoBlock,
    /// The text holds PEM blocks, but none with a label that was asked for.
    #[error("no PEM block labelled {wanted} (found: {found})")]
    NoBlockLabelled {
        /// The labels asked for, joined by " or ".
        wanted: String,
        /// The labels present, joined by ", ".
        found: String,
    },
    /// A `-----BEGIN …-----` line has no matching `-----END …-----` line.
    #[error("PEM block {label:?} has no \"-----END {label}-----\" line")]
    Unterminated {
        /// The block's label.
        label: String,
    },
    /// A block's boundaries or Base64 body are malformed.
    #[error("PEM block {label:?} does not decode")]
    Malformed {
        /// The block's label.
        label: String,
        /// The RFC 7468 decoder's error.
        #[source]
        source: rfc7468::Error,
    },
}

/// Every PEM block in `text`, in order, as (label, DER).
pub fn blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, PemError> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let after = &block[BEGIN.len()..];
        let label = after
            .find("-----")
            .map(|end| &after[..end])
            .ok_or_else(|| PemError::Unterminated {
                label: after.lines().next().unwrap_or_default().to_string(),
            })?;
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .map(|at| at + end_marker.len())
            .ok_or_else(|| PemError::Unterminated {
                label: label.to_string(),
            })?;
        let (_, der) =
            rfc7468::decode_vec(canonical(label, &block[..end]).as_bytes()).map_err(|source| {
                PemError::Malformed {
                    label: label.to_string(),
                    source,
                }
            })?;
        out.push((label.to_string(), der));
        rest = &block[end..];
    }
    if out.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(out)
}

/// `block` (one BEGIN…END block) with its Base64 body re-wrapped at 64 columns and LF line
/// endings: RFC 7468's strict form, which the decoder requires. Producers in the wild wrap at
/// 76 columns, use CRLF or indent; the Base64 itself is still checked strictly.
fn canonical(label: &str, block: &str) -> String {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = block
        .get(begin.len()..block.len().saturating_sub(end.len()))
        .unwrap_or_default();
    let b64: String = body.split_whitespace().collect();
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + begin.len() + end.len() + 4);
    out.push_str(&begin);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&end);
    out.push('\n');
    out
}

/// The DER of the first block in `text` whose label is one of `labels`.
pub fn decode(text: &str, labels: &[&str]) -> Result<Vec<u8>, PemError> {
    let all = blocks(text)?;
    let found = all
        .iter()
        .map(|(l, _)| l.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    all.into_iter()
        .find(|(label, _)| labels.contains(&label.as_str()))
        .map(|(_, der)| der)
        .ok_or_else(|| PemError::NoBlockLabelled {
            wanted: labels.join(" or "),
            found,
        })
}

/// The DER of every block in `text` labelled `label`, in order (none is not an error).
pub fn decode_all(text: &str, label: &str) -> Result<Vec<Vec<u8>>, PemError> {
    match blocks(text) {
        Ok(all) => Ok(all
            .into_iter()
            .filter(|(l, _)| l == label)
            .map(|(_, der)| der)
            .collect()),
        Err(PemError::NoBlock) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// `der` as one PEM block labelled `label`, with 64-column lines and LF line endings.
pub fn encode(label: &str, der: &[u8]) -> String {
    // Labels are compile-time constants of the workspace; the encoder only fails on an
    // invalid label, which falls back to a hand-assembled block with the same layout.
    rfc7468::encode_string(label, LineEnding::LF, der).unwrap_or_else(|_| {
        let b64 = crate::encoding::b64_encode(der);
        let mut s = format!("-----BEGIN {label}-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            s.push_str(&String::from_utf8_lossy(chunk));
            s.push('\n');
        }
        s.push_str(&format!("-----END {label}-----\n"));
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_labels() {
        let der = (0u8..200).collect::<Vec<_>>();
        let pem = encode("PUBLIC KEY", &der);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(decode(&pem, &["PUBLIC KEY"]).unwrap(), der);
        let two = format!(
            "junk before\n{pem}text between\n{}",
            encode("CERTIFICATE", &[1])
        );
        let all = blocks(&two).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1], ("CERTIFICATE".to_string(), vec![1]));
        assert_eq!(decode_all(&two, "CERTIFICATE").unwrap(), vec![vec![1]]);
        let e = decode(&two, &["PRIVATE KEY"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no PEM block labelled PRIVATE KEY (found: PUBLIC KEY, CERTIFICATE)"
        );
    }

    #[test]
    fn malformed_blocks_are_errors() {
        assert!(matches!(blocks("nothing"), Err(PemError::NoBlock)));
        assert!(matches!(
            blocks("-----BEGIN X-----\nAAAA\n"),
            Err(PemError::Unterminated { .. })
        ));
        assert!(matches!(
            blocks("-----BEGIN X-----\n!!!!\n-----END X-----\n"),
            Err(PemError::Malformed { .. })
        ));
        assert_eq!(decode_all("no pem", "X").unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn crlf_and_other_line_widths() {
        let der = (0u8..120).collect::<Vec<_>>();
        let b64 = crate::encoding::b64_encode(&der);
        let wrapped76 = b64
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n");
        let pem = format!("-----BEGIN DATA-----\r\n{wrapped76}\r\n-----END DATA-----\r\n");
        assert_eq!(decode(&pem, &["DATA"]).unwrap(), der);
    }
}
