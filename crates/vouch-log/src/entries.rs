//! Submissions: validation, signature verification and canonicalization into log entries.
//!
//! Rekor v2 `hashedRekordRequestV002` (protocols.md §3.1): the signature is verified over the
//! digest with the key or certificate given, and the entry is the JCS canonical form of the
//! `hashedrekord` 0.0.2 protojson. DSSE arrives as a hashedrekord over `H(PAE)` (§3.5).

use crate::LogError;
use serde::Deserialize;
use vouch_core::bundle::HashAlgorithm;
use vouch_core::keys::{HashKind, KeyKind, PublicKey};
use vouch_core::merkle::{Hash, leaf_hash};
use vouch_core::x509::Certificate;

use vouch_core::rekor::{HashedRekordDataV002, HashedRekordSpecV002, HashedRekordV002, TypedEntry};
pub use vouch_core::rekor::{HashedRekordRequestV002, RawBytes, SignatureV002, VerifierV002};

/// Largest canonical entry accepted (an entry bundle stores a u16 length).
pub const MAX_ENTRY_LEN: usize = 65_535;

/// A validated entry ready to be sequenced.
#[derive(Clone, Debug)]
pub struct PreparedEntry {
    /// Canonical body: the Merkle leaf data.
    pub body: Vec<u8>,
    /// `H(0x00 || body)`.
    pub leaf_hash: Hash,
    /// Search index keys.
    pub search_keys: Vec<String>,
    /// Entry kind.
    pub kind: &'static str,
    /// Entry version.
    pub version: &'static str,
}

/// `CreateEntryRequest` of the Rekor v2 API.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateEntryRequest {
    /// The only supported request type.
    #[serde(default, alias = "hashed_rekord_request_v002")]
    pub hashed_rekord_request_v002: Option<HashedRekordRequestV002>,
    /// Deprecated upstream and rejected.
    #[serde(default, alias = "dsse_request_v002")]
    pub dsse_request_v002: Option<serde_json::Value>,
}

/// (key type, hash, protojson algorithm) allowed for each `keyDetails`.
fn key_details(details: &str) -> Option<(KeyKind, HashKind, HashAlgorithm)> {
    Some(match details {
        "PKIX_ECDSA_P256_SHA_256" => (
            KeyKind::EcdsaP256,
            HashKind::Sha256,
            HashAlgorithm::SHA2_256,
        ),
        "PKIX_ECDSA_P384_SHA_384" => (
            KeyKind::EcdsaP384,
            HashKind::Sha384,
            HashAlgorithm::SHA2_384,
        ),
        "PKIX_ECDSA_P521_SHA_512" => (
            KeyKind::EcdsaP521,
            HashKind::Sha512,
            HashAlgorithm::SHA2_512,
        ),
        "PKIX_ED25519_PH" => (KeyKind::Ed25519, HashKind::Sha512, HashAlgorithm::SHA2_512),
        "PKIX_RSA_PKCS1V15_2048_SHA256"
        | "PKIX_RSA_PKCS1V15_3072_SHA256"
        | "PKIX_RSA_PKCS1V15_4096_SHA256" => {
            (KeyKind::Rsa, HashKind::Sha256, HashAlgorithm::SHA2_256)
        }
        _ => return None,
    })
}

fn invalid(msg: impl Into<String>) -> LogError {
    LogError::InvalidArgument(msg.into())
}

fn serialize(e: serde_json::Error) -> LogError {
    LogError::Serialize(std::sync::Arc::new(e))
}

/// Validate a Rekor v2 create-entry request and build the canonical entry.
pub fn prepare_v2(req: &CreateEntryRequest) -> Result<PreparedEntry, LogError> {
    if req.dsse_request_v002.is_some() {
        return Err(invalid(
            "invalid type, must be hashedrekord: DSSE entries are logged as hashedrekord over the PAE digest",
        ));
    }
    let hr = req
        .hashed_rekord_request_v002
        .as_ref()
        .ok_or_else(|| invalid("missing hashedRekordRequestV002"))?;
    let sig = &hr.signature;
    if sig.content.is_empty() {
        return Err(invalid("missing signature content"));
    }
    let ver = &sig.verifier;
    let (want_kind, hash, algorithm) = match ver.key_details.as_str() {
        "PKIX_ED25519" => {
            return Err(invalid(
                "unsupported key algorithm PKIX_ED25519: hashedrekord needs a prehash algorithm (PKIX_ED25519_PH)",
            ));
        }
        "" => return Err(invalid("missing verifier keyDetails")),
        d => key_details(d).ok_or_else(|| invalid(format!("unsupported keyDetails {d}")))?,
    };
    let (key, search_keys) = match (&ver.x509_certificate, &ver.public_key) {
        (Some(c), None) => {
            let cert = Certificate::from_der(c.raw_bytes.as_slice())
                .map_err(|e| invalid(format!("invalid x509Certificate: {e}")))?;
            let key = cert
                .public_key()
                .map_err(|e| invalid(format!("invalid certificate key: {e}")))?;
            let mut keys = Vec::new();
            if let Ok(id) = cert.fulcio_identity()
                && let Some(san) = id.san
            {
                if id.san_kind == Some("email") {
                    keys.push(format!("email:{}", san.to_lowercase()));
                }
                keys.push(format!("subject:{}", san.to_lowercase()));
            }
            (key, keys)
        }
        (None, Some(k)) => {
            let key = PublicKey::from_spki_der(k.raw_bytes.as_slice())
                .map_err(|e| invalid(format!("invalid publicKey: {e}")))?;
            (key, Vec::new())
        }
        _ => {
            return Err(invalid(
                "verifier must hold exactly one of publicKey, x509Certificate",
            ));
        }
    };
    if key.kind() != want_kind {
        return Err(invalid(format!(
            "keyDetails {} does not match the {} key",
            ver.key_details,
            key.kind().name()
        )));
    }
    if hr.digest.as_slice().len() != hash.len() {
        return Err(invalid(format!(
            "digest is {} bytes, {} needs {}",
            hr.digest.as_slice().len(),
            hash.name(),
            hash.len()
        )));
    }
    key.verify_digest(hash, hr.digest.as_slice(), sig.content.as_slice())
        .map_err(|_| invalid("signature does not verify over the digest with the given key"))?;
    // The body's types declare their members in JCS order and hold only ASCII strings, so
    // serializing them writes the canonical form directly.
    let body = TypedEntry {
        api_version: "0.0.2".to_string(),
        kind: "hashedrekord".to_string(),
        spec: HashedRekordSpecV002 {
            hashed_rekord_v002: HashedRekordV002 {
                data: HashedRekordDataV002 {
                    algorithm,
                    digest: hr.digest.clone(),
                },
                signature: SignatureV002 {
                    content: sig.content.clone(),
                    verifier: VerifierV002 {
                        key_details: ver.key_details.clone(),
                        public_key: ver.public_key.clone(),
                        x509_certificate: ver.x509_certificate.clone(),
                    },
                },
            },
        },
    };
    let body = serde_json::to_vec(&body).map_err(serialize)?;
    if body.len() > MAX_ENTRY_LEN {
        return Err(LogError::TooLarge(body.len()));
    }
    let mut search = search_keys;
    search.push(format!(
        "{}:{}",
        hash.name(),
        hex::encode(hr.digest.as_slice())
    ));
    search.push(format!("key:{}", hex::encode(key.key_id())));
    Ok(PreparedEntry {
        leaf_hash: leaf_hash(&body),
        body,
        search_keys: search,
        kind: "hashedrekord",
        version: "0.0.2",
    })
}

/// RFC 8785 canonical JSON for the values logs produce (objects, arrays, strings, integers).
pub fn canonical_json(v: &serde_json::Value) -> Result<Vec<u8>, LogError> {
    fn write(v: &serde_json::Value, out: &mut String) -> Result<(), LogError> {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                // JCS sorts by UTF-16 code units.
                keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).map_err(serialize)?);
                    out.push(':');
                    write(&m[k.as_str()], out)?;
                }
                out.push('}');
            }
            serde_json::Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out)?;
                }
                out.push(']');
            }
            serde_json::Value::Number(n) if n.is_f64() => {
                return Err(LogError::Internal(
                    "floating point numbers are not canonicalized".into(),
                ));
            }
            other => out.push_str(&serde_json::to_string(other).map_err(serialize)?),
        }
        Ok(())
    }
    let mut s = String::new();
    write(v, &mut s)?;
    if s.len() > MAX_ENTRY_LEN {
        return Err(LogError::TooLarge(s.len()));
    }
    Ok(s.into_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use vouch_core::encoding::Base64Bytes;

    /// The body is written straight from the typed structs; it must be exactly the RFC 8785
    /// form (sorted members, no whitespace) that a JCS canonicalizer makes of it.
    #[test]
    fn typed_body_is_canonical_json() {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let spki = key.public_key().as_der().unwrap().as_ref().to_vec();
        let digest = HashKind::Sha256.digest(b"artifact");
        let sig = key.sign(&SystemRandom::new(), b"artifact").unwrap();
        let req: CreateEntryRequest = serde_json::from_value(serde_json::json!({
            "hashed_rekord_request_v002": {
                "digest": vouch_core::encoding::b64_encode(&digest),
                "signature": {
                    "content": vouch_core::encoding::b64_encode(sig.as_ref()),
                    "verifier": {"public_key": {"raw_bytes": vouch_core::encoding::b64_encode(&spki)},
                                 "key_details": "PKIX_ECDSA_P256_SHA_256"}
                }
            }
        }))
        .unwrap();
        let entry = prepare_v2(&req).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&entry.body).unwrap();
        assert_eq!(entry.body, canonical_json(&value).unwrap());
        let spec = &value["spec"]["hashedRekordV002"];
        assert_eq!(spec["data"]["algorithm"], "SHA2_256");
        assert_eq!(
            spec["signature"]["verifier"]["publicKey"]["rawBytes"],
            vouch_core::encoding::b64_encode(&spki)
        );
        assert_eq!(
            Base64Bytes(digest.clone()),
            serde_json::from_value::<Base64Bytes>(spec["data"]["digest"].clone()).unwrap()
        );
        // A request without a signature names what is missing.
        let empty: CreateEntryRequest =
            serde_json::from_str(r#"{"hashedRekordRequestV002": {"digest": "AAAA"}}"#).unwrap();
        let err = prepare_v2(&empty).unwrap_err().to_string();
        assert!(err.contains("missing signature content"), "{err}");
    }
}
