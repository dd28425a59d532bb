//! DSSE envelopes and the pre-authentication encoding (PAE).
//!
//! Spec: <https://github.com/secure-systems-lab/dsse/blob/master/protocol.md>. Signatures are
//! always checked over `PAE(payloadType, payload)` of the exact decoded payload bytes.

use crate::encoding::{Base64Bytes, null_default};
use serde::{Deserialize, Serialize};

/// The payload type Sigstore requires for in-toto Statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope (`io.intoto.Envelope`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The serialized body.
    #[serde(default, deserialize_with = "null_default")]
    pub payload: Base64Bytes,
    /// How to interpret the payload.
    #[serde(alias = "payload_type", default, deserialize_with = "null_default")]
    pub payload_type: String,
    /// Signatures over the PAE.
    #[serde(default, deserialize_with = "null_default")]
    pub signatures: Vec<Signature>,
}

/// One DSSE signature.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Signature {
    /// Raw signature bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub sig: Base64Bytes,
    /// Optional unauthenticated key hint.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub keyid: String,
}

/// Compute `PAE(payload_type, payload)`:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// The PAE bytes this envelope's signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, self.payload.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }
}
