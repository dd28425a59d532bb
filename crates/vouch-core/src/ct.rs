//! RFC 6962 §4.1 CT log JSON API messages (`add-chain`, `add-pre-chain`), declared once for
//! the CT log that answers them and the CA that submits to it.

use serde::{Deserialize, Serialize};

/// `POST /ct/v1/add-chain` and `/ct/v1/add-pre-chain` body: base64 DER certificates, the
/// leaf (or precertificate) first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddChainRequest {
    /// Base64 (standard alphabet) DER certificates.
    pub chain: Vec<String>,
}

/// The answer: the SCT's fields, base64 where binary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddChainResponse {
    /// 0 for a v1 SCT.
    pub sct_version: u8,
    /// Base64 of the log ID (SHA-256 of the log's public key).
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Base64 of the SCT extensions (empty in v1).
    #[serde(default)]
    pub extensions: String,
    /// Base64 of the TLS `DigitallySigned` structure.
    pub signature: String,
}

/// `GET /ct/v1/get-sth` answer: the signed tree head.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSthResponse {
    /// Number of entries.
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Base64 of the Merkle tree root.
    pub sha256_root_hash: String,
    /// Base64 of the TLS `DigitallySigned` `TreeHeadSignature`.
    pub tree_head_signature: String,
}

/// `GET /ct/v1/get-sth-consistency` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSthConsistencyResponse {
    /// Base64 node hashes of the consistency proof.
    pub consistency: Vec<String>,
}

/// `GET /ct/v1/get-proof-by-hash` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetProofByHashResponse {
    /// The entry's index.
    pub leaf_index: u64,
    /// Base64 node hashes of the inclusion proof.
    pub audit_path: Vec<String>,
}

/// One entry of a `get-entries` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafEntry {
    /// Base64 `MerkleTreeLeaf`.
    pub leaf_input: String,
    /// Base64 chain data (the certificate chain, or the precertificate and its chain).
    pub extra_data: String,
}

/// `GET /ct/v1/get-entries` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEntriesResponse {
    /// The entries, in index order.
    pub entries: Vec<LeafEntry>,
}

/// `GET /ct/v1/get-roots` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRootsResponse {
    /// Base64 DER root certificates the log accepts.
    pub certificates: Vec<String>,
}

/// `GET /ct/v1/get-entry-and-proof` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetEntryAndProofResponse {
    /// Base64 `MerkleTreeLeaf`.
    pub leaf_input: String,
    /// Base64 chain data.
    pub extra_data: String,
    /// Base64 node hashes of the inclusion proof.
    pub audit_path: Vec<String>,
}

/// TLS hash algorithm byte for SHA-256 (RFC 5246 §7.4.1.4.1).
pub const HASH_SHA256: u8 = 4;
/// TLS signature algorithm byte for ECDSA.
pub const SIG_ECDSA: u8 = 3;

/// The TLS `DigitallySigned` structure (RFC 5246 §4.7, as RFC 6962 uses it): the hash and
/// signature algorithm bytes, then the u16-length-prefixed signature. `None` when the
/// signature is longer than 65,535 bytes.
pub fn digitally_signed(hash_alg: u8, sig_alg: u8, signature: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(signature.len()).ok()?;
    let mut out = Vec::with_capacity(signature.len() + 4);
    out.push(hash_alg);
    out.push(sig_alg);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(signature);
    Some(out)
}

/// RFC 6962 `LogEntryType` `x509_entry`.
pub const ENTRY_X509: u16 = 0;
/// RFC 6962 `LogEntryType` `precert_entry`.
pub const ENTRY_PRECERT: u16 = 1;

/// Why CT log data does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CtError {
    /// Shorter than its length prefixes say.
    #[error("{0} is truncated")]
    Truncated(&'static str),
    /// Not a v1 `timestamped_entry` leaf.
    #[error("not a v1 timestamped_entry MerkleTreeLeaf (version {version}, leaf type {leaf_type})")]
    NotTimestampedEntry {
        /// The version byte.
        version: u8,
        /// The leaf type byte.
        leaf_type: u8,
    },
    /// An entry type RFC 6962 does not define.
    #[error("unknown LogEntryType {0}")]
    UnknownEntryType(u16),
    /// Bytes after the structure.
    #[error("{0} has trailing bytes")]
    Trailing(&'static str),
    /// Not a TLS `DigitallySigned`.
    #[error("tree_head_signature is not a TLS DigitallySigned")]
    DigitallySigned,
}

/// What a `TimestampedEntry` logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignedEntry<'a> {
    /// `x509_entry`: the DER certificate.
    X509 {
        /// DER certificate.
        certificate: &'a [u8],
    },
    /// `precert_entry`: the issuer's key hash and the precertificate's TBS (poison removed).
    Precert {
        /// SHA-256 of the issuer's SubjectPublicKeyInfo.
        issuer_key_hash: [u8; 32],
        /// DER TBSCertificate.
        tbs: &'a [u8],
    },
}

/// An RFC 6962 §3.4 `MerkleTreeLeaf` (v1, `timestamped_entry`), borrowed from its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTreeLeaf<'a> {
    /// The leaf's own bytes (what the Merkle leaf hash covers).
    pub bytes: &'a [u8],
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// [`ENTRY_X509`] or [`ENTRY_PRECERT`].
    pub entry_type: u16,
    /// The logged certificate or precertificate.
    pub entry: SignedEntry<'a>,
    /// The `signed_entry` bytes as encoded (with their length prefix).
    pub signed_entry: &'a [u8],
    /// The CT extensions.
    pub extensions: &'a [u8],
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CtError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(CtError::Truncated(self.what))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(CtError::Truncated(self.what))?;
        self.pos = end;
        Ok(s)
    }
    fn uint(&mut self, width: usize) -> Result<usize, CtError> {
        Ok(self
            .take(width)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    }
    /// A TLS `opaque<..2^24-1>`.
    fn u24_vec(&mut self) -> Result<&'a [u8], CtError> {
        let n = self.uint(3)?;
        self.take(n)
    }
    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }
}

impl<'a> MerkleTreeLeaf<'a> {
    /// Parse a leaf at the start of `bytes`; returns it and the bytes after it (a stored entry
    /// keeps its `extra_data` there).
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), CtError> {
        let mut r = Reader {
            buf: bytes,
            pos: 0,
            what: "MerkleTreeLeaf",
        };
        let head = r.take(2)?;
        if head != [0, 0] {
            return Err(CtError::NotTimestampedEntry {
                version: head.first().copied().unwrap_or_default(),
                leaf_type: head.get(1).copied().unwrap_or_default(),
            });
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(r.take(8)?);
        let timestamp_ms = u64::from_be_bytes(t);
        let entry_type = u16::try_from(r.uint(2)?).unwrap_or(u16::MAX);
        let se_start = r.pos;
        let entry = match entry_type {
            ENTRY_X509 => SignedEntry::X509 {
                certificate: r.u24_vec()?,
            },
            ENTRY_PRECERT => {
                let mut issuer_key_hash = [0u8; 32];
                issuer_key_hash.copy_from_slice(r.take(32)?);
                SignedEntry::Precert {
                    issuer_key_hash,
                    tbs: r.u24_vec()?,
                }
            }
            other => return Err(CtError::UnknownEntryType(other)),
        };
        let signed_entry = bytes.get(se_start..r.pos).unwrap_or_default();
        let ext_len = r.uint(2)?;
        let extensions = r.take(ext_len)?;
        let leaf = Self {
            bytes: bytes.get(..r.pos).unwrap_or_default(),
            timestamp_ms,
            entry_type,
            entry,
            signed_entry,
            extensions,
        };
        Ok((leaf, r.rest()))
    }

    /// Parse exactly one leaf (a `get-entries` `leaf_input`).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CtError> {
        let (leaf, rest) = Self::parse_prefix(bytes)?;
        if !rest.is_empty() {
            return Err(CtError::Trailing("MerkleTreeLeaf"));
        }
        Ok(leaf)
    }
}

/// The certificates of a TLS `ASN.1Cert<1..2^24-1>` list, itself `<0..2^24-1>`.
fn cert_list<'a>(r: &mut Reader<'a>) -> Result<Vec<&'a [u8]>, CtError> {
    let list = r.u24_vec()?;
    let mut inner = Reader {
        buf: list,
        pos: 0,
        what: r.what,
    };
    let mut out = Vec::new();
    while inner.pos < list.len() {
        out.push(inner.u24_vec()?);
    }
    Ok(out)
}

/// The `extra_data` of a `get-entries` entry: for an x509 entry the issuer chain; for a
/// precert entry the submitted precertificate, then its chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraData<'a> {
    /// The precertificate as submitted (precert entries).
    pub pre_certificate: Option<&'a [u8]>,
    /// The chain, issuer first.
    pub chain: Vec<&'a [u8]>,
}

impl<'a> ExtraData<'a> {
    /// Parse the `extra_data` of an entry of `entry_type`.
    pub fn parse(entry_type: u16, bytes: &'a [u8]) -> Result<Self, CtError> {
        let mut r = Reader {
            buf: bytes,
            pos: 0,
            what: "extra_data",
        };
        let pre_certificate = match entry_type {
            ENTRY_X509 => None,
            ENTRY_PRECERT => Some(r.u24_vec()?),
            other => return Err(CtError::UnknownEntryType(other)),
        };
        let chain = cert_list(&mut r)?;
        if !r.rest().is_empty() {
            return Err(CtError::Trailing("extra_data"));
        }
        Ok(Self {
            pre_certificate,
            chain,
        })
    }
}

/// The bytes a `get-sth` `tree_head_signature` signs (RFC 6962 §3.5 `TreeHeadSignature`):
/// version v1, signature type `tree_hash`, the timestamp, the tree size and the root.
pub fn tree_head_signature_input(timestamp_ms: u64, tree_size: u64, root: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(50);
    m.push(0); // version v1
    m.push(1); // signature_type tree_hash
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    m.extend_from_slice(&tree_size.to_be_bytes());
    m.extend_from_slice(root);
    m
}

/// Split a TLS `DigitallySigned` into (hash algorithm, signature algorithm, signature).
pub fn parse_digitally_signed(ds: &[u8]) -> Result<(u8, u8, &[u8]), CtError> {
    let mut r = Reader {
        buf: ds,
        pos: 0,
        what: "DigitallySigned",
    };
    let algs = r.take(2).map_err(|_| CtError::DigitallySigned)?;
    let n = r.uint(2).map_err(|_| CtError::DigitallySigned)?;
    let sig = r.take(n).map_err(|_| CtError::DigitallySigned)?;
    if !r.rest().is_empty() {
        return Err(CtError::DigitallySigned);
    }
    Ok((
        algs.first().copied().unwrap_or_default(),
        algs.get(1).copied().unwrap_or_default(),
        sig,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_and_extra_data_parse_and_never_panic() {
        let tbs = [0x30u8, 0x00];
        let mut se = [7u8; 32].to_vec();
        se.extend_from_slice(&[0, 0, 2]);
        se.extend_from_slice(&tbs);
        let leaf = crate::sct::signed_data_no_extensions(5, ENTRY_PRECERT, &se);
        let mut body = leaf.clone();
        // PrecertChainEntry: a 1-byte "precertificate", then a chain of one 1-byte cert.
        let extra = [0u8, 0, 1, 0xaa, 0, 0, 4, 0, 0, 1, 0xbb];
        body.extend_from_slice(&extra);
        let (l, rest) = MerkleTreeLeaf::parse_prefix(&body).unwrap();
        assert_eq!(l.bytes, leaf.as_slice());
        assert_eq!(l.timestamp_ms, 5);
        assert_eq!(
            l.entry,
            SignedEntry::Precert {
                issuer_key_hash: [7; 32],
                tbs: &tbs
            }
        );
        assert_eq!(rest, &extra);
        assert!(MerkleTreeLeaf::parse(&body).is_err());
        let x = ExtraData::parse(ENTRY_PRECERT, rest).unwrap();
        assert_eq!(x.pre_certificate, Some(&[0xaa][..]));
        assert_eq!(x.chain, vec![&[0xbb][..]]);
        for n in 0..body.len() {
            let _ = MerkleTreeLeaf::parse(&body[..n]);
            let _ = ExtraData::parse(ENTRY_PRECERT, &body[..n]);
        }
        assert_eq!(
            parse_digitally_signed(&[4, 3, 0, 1, 9]).unwrap(),
            (4, 3, &[9][..])
        );
        assert!(parse_digitally_signed(&[4, 3, 0, 2, 9]).is_err());
    }

    #[test]
    fn digitally_signed_header() {
        assert_eq!(
            digitally_signed(HASH_SHA256, SIG_ECDSA, &[9, 9]).unwrap(),
            vec![4, 3, 0, 2, 9, 9]
        );
    }

    #[test]
    fn response_round_trips_with_the_rfc_field_names() {
        let r = AddChainResponse {
            sct_version: 0,
            id: "aWQ=".into(),
            timestamp: 1,
            extensions: String::new(),
            signature: "c2ln".into(),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"sct_version":0,"id":"aWQ=","timestamp":1,"extensions":"","signature":"c2ln"}"#
        );
        assert_eq!(serde_json::from_str::<AddChainResponse>(&json).unwrap(), r);
    }
}
