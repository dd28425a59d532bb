//! RFC 6962 signed certificate timestamps embedded in certificates, and their verification
//! against the precertificate (the TBS with the SCT list extension removed).
//!
//! Spec: <https://www.rfc-editor.org/rfc/rfc6962#section-3.2>, protocols.md §1.10.

use crate::keys::PublicKey;
use crate::limits;
use crate::x509::{Certificate, OID_SCT_LIST};
use der::asn1::{AnyRef, BitStringRef, OctetStringRef};
use der::{Decode, Encode, Sequence};

/// Errors decoding or verifying SCTs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SctError {
    /// The SCT list or an SCT is not well formed.
    #[error("malformed SCT: {0}")]
    Malformed(&'static str),
    /// The certificate's TBS could not be rebuilt for verification.
    #[error("cannot rebuild precertificate TBS: {0}")]
    Tbs(String),
    /// The certificate's TBS does not decode or re-encode as DER.
    #[error("cannot rebuild precertificate TBS: {0}")]
    TbsDer(#[source] der::Error),
    /// The SCT signature does not verify.
    #[error("SCT signature from log {log_id} does not verify")]
    BadSignature {
        /// Hex log ID.
        log_id: String,
    },
}

/// One SCT (v1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sct {
    /// Log ID: SHA-256 of the log's SPKI.
    pub log_id: [u8; 32],
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// CT extensions (non-empty for static-ct-api logs).
    pub extensions: Vec<u8>,
    /// Hash algorithm byte (4 = SHA-256).
    pub hash_alg: u8,
    /// Signature algorithm byte (3 = ECDSA, 1 = RSA).
    pub sig_alg: u8,
    /// DER signature.
    pub signature: Vec<u8>,
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SctError> {
        if self.buf.len() < n {
            return Err(SctError::Malformed("truncated"));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SctError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, SctError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u64(&mut self) -> Result<u64, SctError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
}

/// Parse the TLS-encoded `SignedCertificateTimestampList` (the inner OCTET STRING contents).
pub fn parse_sct_list(list: &[u8]) -> Result<Vec<Sct>, SctError> {
    let mut r = Reader { buf: list };
    let total = r.u16()?;
    if total != r.buf.len() {
        return Err(SctError::Malformed("list length does not match"));
    }
    let mut out = Vec::new();
    while !r.buf.is_empty() {
        if out.len() >= limits::MAX_SCTS {
            return Err(SctError::Malformed("too many SCTs"));
        }
        let len = r.u16()?;
        let mut s = Reader { buf: r.take(len)? };
        let version = s.u8()?;
        if version != 0 {
            return Err(SctError::Malformed("unsupported SCT version"));
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(s.take(32)?);
        let timestamp_ms = s.u64()?;
        let ext_len = s.u16()?;
        let extensions = s.take(ext_len)?.to_vec();
        let hash_alg = s.u8()?;
        let sig_alg = s.u8()?;
        let sig_len = s.u16()?;
        let signature = s.take(sig_len)?.to_vec();
        if !s.buf.is_empty() {
            return Err(SctError::Malformed("trailing bytes in SCT"));
        }
        out.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            hash_alg,
            sig_alg,
            signature,
        });
    }
    Ok(out)
}

impl Sct {
    /// The TLS `DigitallySigned` structure: hash and signature algorithm bytes, then the
    /// u16-length-prefixed signature (RFC 5246 §4.7, as RFC 6962 uses it).
    pub fn digitally_signed(&self) -> Result<Vec<u8>, SctError> {
        crate::ct::digitally_signed(self.hash_alg, self.sig_alg, &self.signature)
            .ok_or(SctError::Malformed("signature too long"))
    }

    /// The TLS encoding of this v1 SCT, as it appears in a `SignedCertificateTimestampList`.
    pub fn to_tls(&self) -> Result<Vec<u8>, SctError> {
        let ext_len = u16::try_from(self.extensions.len())
            .map_err(|_| SctError::Malformed("extensions too long"))?;
        let ds = self.digitally_signed()?;
        let mut out = Vec::with_capacity(32 + 8 + 2 + self.extensions.len() + ds.len() + 1);
        out.push(0); // sct_version v1
        out.extend_from_slice(&self.log_id);
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&ext_len.to_be_bytes());
        out.extend_from_slice(&self.extensions);
        out.extend_from_slice(&ds);
        Ok(out)
    }

    /// The SCT of a CT log's JSON `add-chain` / `add-pre-chain` answer.
    pub fn from_add_chain_response(r: &crate::ct::AddChainResponse) -> Result<Self, SctError> {
        use crate::encoding::b64_decode;
        if r.sct_version != 0 {
            return Err(SctError::Malformed("unsupported SCT version"));
        }
        let log_id: [u8; 32] = b64_decode(&r.id)
            .map_err(|_| SctError::Malformed("id is not base64"))?
            .try_into()
            .map_err(|_| SctError::Malformed("log id is not 32 bytes"))?;
        let extensions = b64_decode(&r.extensions)
            .map_err(|_| SctError::Malformed("extensions is not base64"))?;
        let ds =
            b64_decode(&r.signature).map_err(|_| SctError::Malformed("signature is not base64"))?;
        let mut d = Reader { buf: &ds };
        let hash_alg = d.u8()?;
        let sig_alg = d.u8()?;
        let len = d.u16()?;
        let signature = d.take(len)?.to_vec();
        if !d.buf.is_empty() {
            return Err(SctError::Malformed(
                "signature is not a TLS DigitallySigned",
            ));
        }
        Ok(Sct {
            log_id,
            timestamp_ms: r.timestamp,
            extensions,
            hash_alg,
            sig_alg,
            signature,
        })
    }

    /// This SCT as a CT log's JSON answer.
    pub fn to_add_chain_response(&self) -> Result<crate::ct::AddChainResponse, SctError> {
        use crate::encoding::b64_encode;
        Ok(crate::ct::AddChainResponse {
            sct_version: 0,
            id: b64_encode(&self.log_id),
            timestamp: self.timestamp_ms,
            extensions: b64_encode(&self.extensions),
            signature: b64_encode(&self.digitally_signed()?),
        })
    }
}

/// The TLS-encoded `SignedCertificateTimestampList` of `scts` (the inverse of
/// [`parse_sct_list`]).
pub fn encode_sct_list(scts: &[Sct]) -> Result<Vec<u8>, SctError> {
    let mut body = Vec::new();
    for sct in scts {
        let one = sct.to_tls()?;
        let len = u16::try_from(one.len()).map_err(|_| SctError::Malformed("SCT too long"))?;
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(&one);
    }
    let total = u16::try_from(body.len()).map_err(|_| SctError::Malformed("SCT list too long"))?;
    let mut out = total.to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

/// The bytes a v1 SCT signs (RFC 6962 §3.2): `sct_version`, `signature_type`
/// certificate_timestamp, the timestamp, the `entry_type` (0 x509_entry, 1 precert_entry),
/// the already length-prefixed `signed_entry`, and the u16-prefixed extensions. With no
/// extensions these bytes are also the entry's `MerkleTreeLeaf` (§3.4).
pub fn signed_data(
    timestamp_ms: u64,
    entry_type: u16,
    signed_entry: &[u8],
    extensions: &[u8],
) -> Result<Vec<u8>, SctError> {
    let ext_len =
        u16::try_from(extensions.len()).map_err(|_| SctError::Malformed("extensions too long"))?;
    let mut m = Vec::with_capacity(signed_entry.len() + extensions.len() + 14);
    m.push(0); // sct_version v1 (MerkleTreeLeaf: version v1)
    m.push(0); // signature_type certificate_timestamp (MerkleTreeLeaf: timestamped_entry)
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    m.extend_from_slice(&entry_type.to_be_bytes());
    m.extend_from_slice(signed_entry);
    m.extend_from_slice(&ext_len.to_be_bytes());
    m.extend_from_slice(extensions);
    Ok(m)
}

/// [`signed_data`] without extensions, which cannot fail: what a log that adds no SCT
/// extensions signs, and its `MerkleTreeLeaf`.
pub fn signed_data_no_extensions(
    timestamp_ms: u64,
    entry_type: u16,
    signed_entry: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(signed_entry.len() + 14);
    m.extend_from_slice(&[0, 0]); // sct_version v1, signature_type certificate_timestamp
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    m.extend_from_slice(&entry_type.to_be_bytes());
    m.extend_from_slice(signed_entry);
    m.extend_from_slice(&[0, 0]); // no extensions
    m
}

/// The SCTs embedded in `cert` (empty when it has no SCT extension).
pub fn embedded_scts(cert: &Certificate) -> Result<Vec<Sct>, SctError> {
    let Some(value) = cert.extension_value(OID_SCT_LIST) else {
        return Ok(Vec::new());
    };
    let inner = <&OctetStringRef>::from_der(value)
        .map_err(|_| SctError::Malformed("extension is not an OCTET STRING"))?;
    parse_sct_list(inner.as_bytes())
}

/// A certificate split into its three top-level fields, unparsed.
#[derive(Sequence)]
struct RawCertificate<'a> {
    tbs: AnyRef<'a>,
    _algorithm: AnyRef<'a>,
    _signature: AnyRef<'a>,
}

/// TBSCertificate with every field kept opaque, so extensions can be edited and the rest re-encoded byte for byte.
#[derive(Sequence)]
struct OpaqueTbs<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<AnyRef<'a>>,
    serial: AnyRef<'a>,
    signature: AnyRef<'a>,
    issuer: AnyRef<'a>,
    validity: AnyRef<'a>,
    subject: AnyRef<'a>,
    spki: AnyRef<'a>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    issuer_uid: Option<BitStringRef<'a>>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    subject_uid: Option<BitStringRef<'a>>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<AnyRef<'a>>>,
}

/// DER of `OBJECT IDENTIFIER 1.3.6.1.4.1.11129.2.4.2`, how an SCT-list extension starts.
const SCT_LIST_OID_TLV: &[u8] = &[
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02,
];

/// DER of `OBJECT IDENTIFIER 1.3.6.1.4.1.11129.2.4.3`, how a CT poison extension starts.
const POISON_OID_TLV: &[u8] = &[
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03,
];

/// DER of the certificate's TBS with the SCT list extension removed (what the CT log signed).
pub fn precert_tbs_der(cert: &Certificate) -> Result<Vec<u8>, SctError> {
    tbs_without_extensions(cert, &[SCT_LIST_OID_TLV])
}

/// The RFC 6962 precertificate TBS a CT log signs, computed from a *precertificate*: its TBS
/// with the poison extension (and any SCT list extension) removed. For the final certificate
/// built by removing the poison and appending the SCT list, this equals [`precert_tbs_der`].
pub fn precert_tbs_der_from_precert(precert: &Certificate) -> Result<Vec<u8>, SctError> {
    tbs_without_extensions(precert, &[SCT_LIST_OID_TLV, POISON_OID_TLV])
}

/// The certificate's TBS re-encoded without the extensions whose OID TLV is in `drop`.
fn tbs_without_extensions(cert: &Certificate, drop: &[&[u8]]) -> Result<Vec<u8>, SctError> {
    // Slice the TBS out of the original DER rather than re-encoding the parsed certificate.
    let raw = RawCertificate::from_der(cert.der()).map_err(SctError::TbsDer)?;
    let mut opaque: OpaqueTbs<'_> = raw.tbs.decode_as().map_err(SctError::TbsDer)?;
    if let Some(exts) = opaque.extensions.as_mut() {
        // Each extension is a SEQUENCE whose value starts with its OID TLV.
        exts.retain(|e| !drop.iter().any(|oid| e.value().starts_with(oid)));
    }
    opaque.to_der().map_err(SctError::TbsDer)
}

/// The exact bytes an SCT over a precertificate signs (RFC 6962 §3.2, precert_entry).
pub fn precert_signed_data(
    sct: &Sct,
    issuer_key_hash: &[u8; 32],
    precert_tbs: &[u8],
) -> Result<Vec<u8>, SctError> {
    let tbs_len =
        u32::try_from(precert_tbs.len()).map_err(|_| SctError::Tbs("TBS too large".into()))?;
    if tbs_len >= 1 << 24 {
        return Err(SctError::Tbs("TBS too large".into()));
    }
    let mut signed_entry = Vec::with_capacity(precert_tbs.len() + 35);
    signed_entry.extend_from_slice(issuer_key_hash);
    signed_entry.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    signed_entry.extend_from_slice(precert_tbs);
    signed_data(sct.timestamp_ms, 1, &signed_entry, &sct.extensions) // precert_entry
}

/// Verify `sct` with the CT log's key over the precertificate built from `cert` and its issuer's SPKI.
pub fn verify_sct(
    sct: &Sct,
    log_key: &PublicKey,
    issuer_key_hash: &[u8; 32],
    precert_tbs: &[u8],
) -> Result<(), SctError> {
    let msg = precert_signed_data(sct, issuer_key_hash, precert_tbs)?;
    log_key
        .verify(&msg, &sct.signature)
        .map_err(|_| SctError::BadSignature {
            log_id: hex::encode(sct.log_id),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_data_without_extensions_is_the_same_bytes() {
        let e = [0u8, 0, 3, 1, 2, 3];
        assert_eq!(
            signed_data(42, 1, &e, &[]).ok(),
            Some(signed_data_no_extensions(42, 1, &e))
        );
    }
}
