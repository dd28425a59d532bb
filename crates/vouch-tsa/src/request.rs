//! Timestamp requests: DER `TimeStampReq` (RFC 3161 §2.4.1) and the JSON form of
//! sigstore/timestamp-authority, both parsed into one [`TimestampRequest`].

use der::asn1::{Any, IntRef, ObjectIdentifier, OctetStringRef, Uint};
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use spki::AlgorithmIdentifierOwned;
use vouch_core::tsa::asn1::{MessageImprint, TimeStampReq};
use vouch_core::tsa::oid::{
    ID_SHA1 as OID_SHA1, ID_SHA224 as OID_SHA224, ID_SHA256 as OID_SHA256, ID_SHA384 as OID_SHA384,
    ID_SHA512 as OID_SHA512,
};

/// Largest DER `TimeStampReq` accepted (real ones are under 200 bytes).
pub const MAX_DER_REQUEST_BYTES: usize = 8 * 1024;

/// Largest JSON request body accepted (sigstore/timestamp-authority's limit).
pub const MAX_JSON_REQUEST_BYTES: usize = 1024;

/// Largest nonce accepted, in bytes of two's complement.
pub const MAX_NONCE_BYTES: usize = 64;

/// Message imprint hash algorithms accepted (SHA-1 is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-256 (32-byte digests).
    Sha256,
    /// SHA-384 (48-byte digests).
    Sha384,
    /// SHA-512 (64-byte digests).
    Sha512,
}

impl HashAlgorithm {
    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    /// The algorithm OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlgorithm::Sha256 => OID_SHA256,
            HashAlgorithm::Sha384 => OID_SHA384,
            HashAlgorithm::Sha512 => OID_SHA512,
        }
    }

    /// Lowercase name as in the JSON API (`sha256`, …).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// Parse a JSON `hashAlgorithm` name (case-insensitive, `sha-256` spelling accepted).
    pub fn from_name(name: &str) -> Result<Self, RequestError> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(HashAlgorithm::Sha256),
            "sha384" => Ok(HashAlgorithm::Sha384),
            "sha512" => Ok(HashAlgorithm::Sha512),
            "sha1" => Err(RequestError::new("SHA-1 message imprints are not accepted")),
            "" => Err(RequestError::new("hashAlgorithm is required")),
            _ => Err(RequestError::new(format!(
                "unsupported hashAlgorithm {:?} (use sha256, sha384 or sha512)",
                truncate(name)
            ))),
        }
    }

    fn from_oid(oid: &ObjectIdentifier) -> Result<Self, RequestError> {
        if *oid == OID_SHA256 {
            Ok(HashAlgorithm::Sha256)
        } else if *oid == OID_SHA384 {
            Ok(HashAlgorithm::Sha384)
        } else if *oid == OID_SHA512 {
            Ok(HashAlgorithm::Sha512)
        } else if *oid == OID_SHA1 {
            Err(RequestError::new("SHA-1 message imprints are not accepted"))
        } else if *oid == OID_SHA224 {
            Err(RequestError::new(
                "SHA-224 message imprints are not accepted (use sha256, sha384 or sha512)",
            ))
        } else {
            Err(RequestError::new(format!(
                "unsupported message imprint hash algorithm {oid} (use sha256, sha384 or sha512)"
            )))
        }
    }
}

/// Why a request was refused (the message names the problem; answered as HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

impl RequestError {
    pub(crate) fn new(m: impl Into<String>) -> Self {
        RequestError(m.into())
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A validated timestamp request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRequest {
    /// The imprint's hash algorithm.
    pub hash: HashAlgorithm,
    /// The imprint's `AlgorithmIdentifier` carried NULL parameters (copied to the token).
    pub hash_params_null: bool,
    /// The digest (length checked against `hash`).
    pub digest: Vec<u8>,
    /// The nonce as DER INTEGER content bytes (two's complement, minimal), echoed in the token.
    pub nonce: Option<Vec<u8>>,
    /// Whether the token must embed the certificate chain (`certReq`).
    pub cert_req: bool,
    /// The requested policy (`reqPolicy` / `tsaPolicyOID`), dotted.
    pub policy: Option<String>,
}

impl TimestampRequest {
    /// A request for `digest` under `hash` (no nonce, no certificates, any policy).
    pub fn new(hash: HashAlgorithm, digest: Vec<u8>) -> Result<Self, RequestError> {
        check_len(hash, &digest)?;
        Ok(TimestampRequest {
            hash,
            hash_params_null: false,
            digest,
            nonce: None,
            cert_req: false,
            policy: None,
        })
    }

    /// Parse a DER `TimeStampReq`.
    pub fn from_der(der: &[u8]) -> Result<Self, RequestError> {
        if der.len() > MAX_DER_REQUEST_BYTES {
            return Err(RequestError::new(format!(
                "TimeStampReq is {} bytes, more than {MAX_DER_REQUEST_BYTES}",
                der.len()
            )));
        }
        let req = TimeStampReq::from_der(der)
            .map_err(|e| RequestError::new(format!("malformed TimeStampReq: {e}")))?;
        if req.version.as_bytes() != [1] {
            return Err(RequestError::new("TimeStampReq version must be 1"));
        }
        let alg = &req.message_imprint.hash_algorithm;
        let hash = HashAlgorithm::from_oid(&alg.oid)?;
        let hash_params_null = match &alg.parameters {
            None => false,
            Some(p) if p.is_null() => true,
            Some(_) => {
                return Err(RequestError::new(
                    "message imprint hash algorithm has unexpected parameters",
                ));
            }
        };
        let digest = req.message_imprint.hashed_message.as_bytes().to_vec();
        check_len(hash, &digest)?;
        let nonce = match req.nonce {
            None => None,
            Some(n) => {
                if n.as_bytes().len() > MAX_NONCE_BYTES {
                    return Err(RequestError::new(format!(
                        "nonce is longer than {MAX_NONCE_BYTES} bytes"
                    )));
                }
                Some(n.as_bytes().to_vec())
            }
        };
        if let Some(e) = req.extensions.iter().flatten().find(|e| e.critical) {
            return Err(RequestError::new(format!(
                "unsupported critical request extension {}",
                e.extn_id
            )));
        }
        Ok(TimestampRequest {
            hash,
            hash_params_null,
            digest,
            nonce,
            cert_req: req.cert_req.unwrap_or(false),
            policy: req.req_policy.map(|p| p.to_string()),
        })
    }

    /// Parse the JSON form `{"artifactHash","hashAlgorithm","nonce","certificates","tsaPolicyOID"}`.
    pub fn from_json(body: &[u8]) -> Result<Self, RequestError> {
        if body.len() > MAX_JSON_REQUEST_BYTES {
            return Err(RequestError::new(format!(
                "JSON request is {} bytes, more than {MAX_JSON_REQUEST_BYTES}",
                body.len()
            )));
        }
        let req: JsonTimestampRequest = serde_json::from_slice(body)
            .map_err(|e| RequestError::new(format!("malformed JSON request: {e}")))?;
        let hash = HashAlgorithm::from_name(req.hash_algorithm.as_deref().unwrap_or(""))?;
        let b64 = req
            .artifact_hash
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| RequestError::new("artifactHash is required"))?;
        let digest = vouch_core::encoding::b64_decode(b64.trim())
            .map_err(|_| RequestError::new("artifactHash is not valid base64"))?;
        check_len(hash, &digest)?;
        let nonce = match &req.nonce {
            None => None,
            Some(raw) => decimal_nonce(raw.get())?,
        };
        let policy = match req.tsa_policy_oid.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(p) => Some(
                ObjectIdentifier::new(p)
                    .map_err(|_| {
                        RequestError::new(format!(
                            "tsaPolicyOID {:?} is not a dotted OID",
                            truncate(p)
                        ))
                    })?
                    .to_string(),
            ),
        };
        Ok(TimestampRequest {
            hash,
            hash_params_null: false,
            digest,
            nonce,
            cert_req: req.certificates.unwrap_or(false),
            policy,
        })
    }

    /// Encode as a DER `TimeStampReq` (for clients, tests and the benchmark).
    pub fn to_der(&self) -> Result<Vec<u8>, RequestError> {
        let bad = |e: der::Error| RequestError::new(format!("cannot encode TimeStampReq: {e}"));
        let parameters = if self.hash_params_null {
            Some(Any::null())
        } else {
            None
        };
        let policy = match &self.policy {
            Some(p) => Some(
                ObjectIdentifier::new(p)
                    .map_err(|_| RequestError::new(format!("policy {p:?} is not a dotted OID")))?,
            ),
            None => None,
        };
        let nonce = match &self.nonce {
            Some(n) => {
                Some(IntRef::new(n).map_err(|e| RequestError::new(format!("bad nonce: {e}")))?)
            }
            None => None,
        };
        let out = TimeStampReq {
            version: IntRef::new(&[1]).map_err(bad)?,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: self.hash.oid(),
                    parameters,
                },
                hashed_message: OctetStringRef::new(&self.digest).map_err(bad)?,
            },
            req_policy: policy,
            nonce,
            cert_req: self.cert_req.then_some(true),
            extensions: None,
        };
        out.to_der().map_err(bad)
    }
}

fn check_len(hash: HashAlgorithm, digest: &[u8]) -> Result<(), RequestError> {
    if digest.len() != hash.digest_len() {
        return Err(RequestError::new(format!(
            "message imprint is {} bytes, but a {} digest is {} bytes",
            digest.len(),
            hash.name(),
            hash.digest_len()
        )));
    }
    Ok(())
}

/// A JSON number (non-negative integer, any size up to [`MAX_NONCE_BYTES`]) as INTEGER content.
fn decimal_nonce(raw: &str) -> Result<Option<Vec<u8>>, RequestError> {
    let s = raw.trim();
    if s == "null" {
        return Ok(None);
    }
    let bad = || RequestError::new("nonce must be a non-negative integer");
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Each decimal digit adds < 4 bits; bound the work before converting.
    if s.len() > MAX_NONCE_BYTES * 5 / 2 {
        return Err(RequestError::new(format!(
            "nonce is longer than {MAX_NONCE_BYTES} bytes"
        )));
    }
    // Big-endian magnitude, built by repeated multiply-by-10-and-add.
    let mut mag: Vec<u8> = vec![0];
    for d in s.bytes() {
        let mut carry = u32::from(d - b'0');
        for byte in mag.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            mag.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let u = Uint::new(&mag).map_err(|_| bad())?;
    let tlv = u.to_der().map_err(|_| bad())?;
    let content = IntRef::from_der(&tlv)
        .map_err(|_| bad())?
        .as_bytes()
        .to_vec();
    if content.len() > MAX_NONCE_BYTES {
        return Err(RequestError::new(format!(
            "nonce is longer than {MAX_NONCE_BYTES} bytes"
        )));
    }
    Ok(Some(content))
}

/// The JSON form of a timestamp request (timestamp-authority's `JSONRequest`), read by the
/// TSA and written by clients such as `vouch bench tsa`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonTimestampRequest {
    /// Base64 of the digest to timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_hash: Option<String>,
    /// `sha256`, `sha384` or `sha512`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_algorithm: Option<String>,
    /// A decimal integer of any size, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Box<serde_json::value::RawValue>>,
    /// Whether to include the TSA's certificate in the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<bool>,
    /// The policy OID requested, dotted.
    #[serde(
        default,
        rename = "tsaPolicyOID",
        skip_serializing_if = "Option::is_none"
    )]
    pub tsa_policy_oid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_decimal() {
        assert_eq!(decimal_nonce("0").ok().flatten(), Some(vec![0]));
        assert_eq!(decimal_nonce("255").ok().flatten(), Some(vec![0, 255]));
        assert_eq!(decimal_nonce("256").ok().flatten(), Some(vec![1, 0]));
        assert_eq!(
            decimal_nonce("18446744073709551616").ok().flatten(),
            Some(vec![1, 0, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(decimal_nonce("null").ok().flatten(), None);
        assert!(decimal_nonce("-1").is_err());
        assert!(decimal_nonce("1.5").is_err());
        assert!(decimal_nonce("\"12\"").is_err());
        assert!(decimal_nonce(&"9".repeat(400)).is_err());
    }

    #[test]
    fn der_round_trip() {
        let mut r =
            TimestampRequest::new(HashAlgorithm::Sha256, vec![7; 32]).unwrap_or_else(|_| {
                TimestampRequest {
                    hash: HashAlgorithm::Sha256,
                    hash_params_null: false,
                    digest: vec![],
                    nonce: None,
                    cert_req: false,
                    policy: None,
                }
            });
        r.nonce = Some(vec![0x00, 0x80]);
        r.cert_req = true;
        r.hash_params_null = true;
        r.policy = Some("1.2.3".into());
        let der = r.to_der().unwrap_or_default();
        assert_eq!(TimestampRequest::from_der(&der), Ok(r));
    }

    #[test]
    fn rejects() {
        assert!(HashAlgorithm::from_name("sha1").is_err());
        assert!(TimestampRequest::new(HashAlgorithm::Sha384, vec![0; 32]).is_err());
        assert!(TimestampRequest::from_der(b"garbage").is_err());
        assert!(TimestampRequest::from_json(b"{").is_err());
        assert!(
            TimestampRequest::from_json(br#"{"artifactHash":"AAAA","hashAlgorithm":"sha256"}"#)
                .is_err()
        );
    }
}
