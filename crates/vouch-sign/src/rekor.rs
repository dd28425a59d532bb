//! Rekor clients: v2 (`POST /api/v2/log/entries`, `hashedRekordRequestV002`, answered with a
//! protojson `TransparencyLogEntry`) and v1 (`POST /api/v1/log/entries`, `hashedrekord` or `dsse`
//! 0.0.1, answered with a `LogEntry` map that is converted to a `TransparencyLogEntry`).

use crate::SignError;
use crate::http::HttpClient;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use vouch_core::bundle::TransparencyLogEntry;
use vouch_core::encoding::Base64Bytes;
use vouch_core::keys::pem_encode;
use vouch_core::rekor::{
    DsseProposedContentV001, DsseProposedV001, HashValue, HashedRekordDataV001,
    HashedRekordRequestBodyV002, HashedRekordRequestV002, HashedRekordSignatureV001,
    HashedRekordV001, PemContent, RawBytes, SignatureV002, TypedEntry, VerifierV002,
};

/// Who verifies a log entry's signature: the signing certificate or a bare public key.
#[derive(Clone, Debug)]
pub enum VerifierMaterial {
    /// DER leaf certificate.
    Certificate(Vec<u8>),
    /// DER SubjectPublicKeyInfo.
    PublicKey(Vec<u8>),
}

impl VerifierMaterial {
    fn v2_verifier(&self, key_details: &str) -> VerifierV002 {
        let raw = |d: &[u8]| {
            Some(RawBytes {
                raw_bytes: Base64Bytes(d.to_vec()),
            })
        };
        let (public_key, x509_certificate) = match self {
            VerifierMaterial::Certificate(d) => (None, raw(d)),
            VerifierMaterial::PublicKey(d) => (raw(d), None),
        };
        VerifierV002 {
            key_details: key_details.to_owned(),
            public_key,
            x509_certificate,
        }
    }

    fn pem(&self) -> String {
        match self {
            VerifierMaterial::Certificate(d) => pem_encode("CERTIFICATE", d),
            VerifierMaterial::PublicKey(d) => pem_encode("PUBLIC KEY", d),
        }
    }
}

/// What to record in the log.
#[derive(Clone, Debug)]
pub enum Record<'a> {
    /// A signature over an artifact digest (hashedrekord).
    Hashed {
        /// The digest that was signed (SHA-256 for P-256 keys).
        digest: &'a [u8],
        /// Rekor v1 algorithm name of the digest (`sha256`, ...).
        algorithm: &'a str,
        /// The signature.
        signature: &'a [u8],
    },
    /// A DSSE envelope. On Rekor v2 it is logged as a hashedrekord over `H(PAE)`.
    Dsse {
        /// The envelope JSON exactly as it goes into the bundle.
        envelope_json: &'a str,
        /// `H(PAE(payloadType, payload))` with the key's hash.
        pae_digest: &'a [u8],
        /// The envelope's one signature.
        signature: &'a [u8],
    },
}

/// The Rekor v2 `POST /api/v2/log/entries` body for `record`.
fn v2_body(
    record: &Record<'_>,
    verifier: &VerifierMaterial,
    key_details: &str,
) -> Result<Vec<u8>, SignError> {
    let (digest, sig) = match record {
        Record::Hashed {
            digest, signature, ..
        } => (*digest, *signature),
        Record::Dsse {
            pae_digest,
            signature,
            ..
        } => (*pae_digest, *signature),
    };
    serde_json::to_vec(&HashedRekordRequestBodyV002 {
        hashed_rekord_request_v002: HashedRekordRequestV002 {
            digest: Base64Bytes(digest.to_vec()),
            signature: SignatureV002 {
                content: Base64Bytes(sig.to_vec()),
                verifier: verifier.v2_verifier(key_details),
            },
        },
    })
    .map_err(|e| SignError::Tlog(format!("cannot encode the request: {e}")))
}

/// The Rekor v1 `ProposedEntry` for `record`.
fn v1_body(record: &Record<'_>, verifier: &VerifierMaterial) -> Result<Vec<u8>, SignError> {
    let pem_b64 = STANDARD.encode(verifier.pem());
    match record {
        Record::Hashed {
            digest,
            algorithm,
            signature,
        } => serde_json::to_vec(&TypedEntry {
            api_version: "0.0.1".to_owned(),
            kind: "hashedrekord".to_owned(),
            spec: HashedRekordV001 {
                data: HashedRekordDataV001 {
                    hash: HashValue {
                        algorithm: (*algorithm).to_owned(),
                        value: hex::encode(digest),
                    },
                },
                signature: HashedRekordSignatureV001 {
                    content: STANDARD.encode(signature),
                    public_key: PemContent { content: pem_b64 },
                },
            },
        }),
        Record::Dsse { envelope_json, .. } => serde_json::to_vec(&TypedEntry {
            api_version: "0.0.1".to_owned(),
            kind: "dsse".to_owned(),
            spec: DsseProposedV001 {
                proposed_content: DsseProposedContentV001 {
                    envelope: (*envelope_json).to_owned(),
                    verifiers: vec![pem_b64],
                },
            },
        }),
    }
    .map_err(|e| SignError::Tlog(format!("cannot encode the entry: {e}")))
}

/// Append to a Rekor v2 log at `base`.
pub async fn upload_v2(
    http: &HttpClient,
    base: &str,
    record: &Record<'_>,
    verifier: &VerifierMaterial,
    key_details: &str,
) -> Result<TransparencyLogEntry, SignError> {
    let body = v2_body(record, verifier, key_details)?;
    let url = format!("{}/api/v2/log/entries", base.trim_end_matches('/'));
    let resp = http
        .post(
            "Rekor",
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body,
            &[],
        )
        .await?;
    serde_json::from_slice::<TransparencyLogEntry>(&resp.body).map_err(|e| {
        SignError::Tlog(format!(
            "answer is not a TransparencyLogEntry ({e}) from {url}"
        ))
    })
}

/// Append to a Rekor v1 log at `base`.
pub async fn upload_v1(
    http: &HttpClient,
    base: &str,
    record: &Record<'_>,
    verifier: &VerifierMaterial,
) -> Result<TransparencyLogEntry, SignError> {
    let body = v1_body(record, verifier)?;
    let url = format!("{}/api/v1/log/entries", base.trim_end_matches('/'));
    let resp = http
        .post(
            "Rekor",
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body,
            &[409],
        )
        .await?;
    if resp.status == reqwest::StatusCode::CONFLICT {
        // The identical entry is already in the log: most often this very upload, retried
        // after its first answer was lost (the client retries on timeouts). Rekor points at the
        // existing entry with `Location`; fetch it, as cosign does, instead of failing.
        return fetch_existing_v1(http, &url, &resp.headers).await;
    }
    let v: Value = serde_json::from_slice(&resp.body)
        .map_err(|_| SignError::Tlog(format!("answer from {url} is not JSON")))?;
    v1_entry_to_tle(&v)
}

/// Fetch the entry a Rekor v1 `409 Conflict` answer to `post_url` points at with its
/// `Location` header (a path or an absolute URL).
async fn fetch_existing_v1(
    http: &HttpClient,
    post_url: &str,
    headers: &reqwest::header::HeaderMap,
) -> Result<TransparencyLogEntry, SignError> {
    let location = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            SignError::Tlog(format!(
                "{post_url} answered 409 (the entry is already logged) without a Location header to fetch it from"
            ))
        })?;
    let entry_url = url::Url::parse(post_url)
        .and_then(|u| u.join(location))
        .map_err(|e| {
            SignError::Tlog(format!(
                "{post_url} answered 409 with an unusable Location {location:?}: {e}"
            ))
        })?;
    let resp = http
        .get(
            "Rekor",
            entry_url.as_str(),
            &[("Accept", "application/json".into())],
        )
        .await?;
    let v: Value = serde_json::from_slice(&resp.body)
        .map_err(|_| SignError::Tlog(format!("answer from {entry_url} is not JSON")))?;
    v1_entry_to_tle(&v)
}

/// Convert a Rekor v1 `{uuid: LogEntry}` answer to a bundle `TransparencyLogEntry`.
pub fn v1_entry_to_tle(v: &Value) -> Result<TransparencyLogEntry, SignError> {
    let bad = |m: &str| SignError::Tlog(format!("Rekor v1 answer: {m}"));
    let obj = v.as_object().ok_or_else(|| bad("not an object"))?;
    let (_uuid, e) = match obj.iter().next() {
        Some(x) if obj.len() == 1 => x,
        _ => return Err(bad("expected exactly one entry")),
    };
    let body_b64 = e
        .get("body")
        .and_then(|b| b.as_str())
        .ok_or_else(|| bad("no body"))?;
    let body = STANDARD
        .decode(body_b64)
        .map_err(|_| bad("body is not base64"))?;
    let body_json: Value = serde_json::from_slice(&body).map_err(|_| bad("body is not JSON"))?;
    let kind = body_json
        .get("kind")
        .and_then(|k| k.as_str())
        .ok_or_else(|| bad("body has no kind"))?;
    let version = body_json
        .get("apiVersion")
        .and_then(|k| k.as_str())
        .ok_or_else(|| bad("body has no apiVersion"))?;
    let log_id = e
        .get("logID")
        .and_then(|k| k.as_str())
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| bad("no hex logID"))?;
    let index = e
        .get("logIndex")
        .and_then(|k| k.as_i64())
        .ok_or_else(|| bad("no logIndex"))?;
    let time = e
        .get("integratedTime")
        .and_then(|k| k.as_i64())
        .ok_or_else(|| bad("no integratedTime"))?;
    let verification = e
        .get("verification")
        .ok_or_else(|| bad("no verification"))?;
    let set = verification
        .get("signedEntryTimestamp")
        .and_then(|k| k.as_str())
        .ok_or_else(|| bad("no signedEntryTimestamp"))?;
    let mut tle = json!({
        "logIndex": index.to_string(),
        "logId": {"keyId": STANDARD.encode(&log_id)},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": set},
        "canonicalizedBody": body_b64,
    });
    if let Some(p) = verification.get("inclusionProof") {
        let hex_b64 = |s: &str| hex::decode(s).map(|b| STANDARD.encode(b));
        let hashes = p
            .get("hashes")
            .and_then(|h| h.as_array())
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|h| {
                h.as_str()
                    .and_then(|s| hex_b64(s).ok())
                    .ok_or_else(|| bad("proof hash is not hex"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let root = p
            .get("rootHash")
            .and_then(|h| h.as_str())
            .and_then(|s| hex_b64(s).ok())
            .ok_or_else(|| bad("proof rootHash is not hex"))?;
        let num = |k: &str| {
            p.get(k)
                .and_then(|x| x.as_i64())
                .ok_or_else(|| bad(&format!("proof has no {k}")))
        };
        tle["inclusionProof"] = json!({
            "logIndex": num("logIndex")?.to_string(),
            "rootHash": root,
            "treeSize": num("treeSize")?.to_string(),
            "hashes": hashes,
            "checkpoint": {"envelope": p.get("checkpoint").and_then(|c| c.as_str()).unwrap_or_default()},
        });
    }
    serde_json::from_value(tle).map_err(|e| bad(&format!("cannot convert: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed bodies are the JSON the `json!` literals used to build.
    #[test]
    fn bodies_keep_their_shape() {
        let record = Record::Hashed {
            digest: &[1, 2],
            algorithm: "sha256",
            signature: &[3],
        };
        let cert = VerifierMaterial::Certificate(vec![9]);
        let v2: Value = serde_json::from_slice(&v2_body(&record, &cert, "KD").unwrap()).unwrap();
        assert_eq!(
            v2,
            json!({"hashedRekordRequestV002": {
                "digest": STANDARD.encode([1, 2]),
                "signature": {"content": STANDARD.encode([3]), "verifier": {
                    "x509Certificate": {"rawBytes": STANDARD.encode([9])}, "keyDetails": "KD"
                }}
            }})
        );
        let pem_b64 = STANDARD.encode(cert.pem());
        let v1: Value = serde_json::from_slice(&v1_body(&record, &cert).unwrap()).unwrap();
        assert_eq!(
            v1,
            json!({
                "apiVersion": "0.0.1", "kind": "hashedrekord",
                "spec": {
                    "signature": {"content": STANDARD.encode([3]), "publicKey": {"content": pem_b64}},
                    "data": {"hash": {"algorithm": "sha256", "value": "0102"}}
                }
            })
        );
        let dsse = Record::Dsse {
            envelope_json: "{}",
            pae_digest: &[1],
            signature: &[3],
        };
        let key = VerifierMaterial::PublicKey(vec![8]);
        let pem_b64 = STANDARD.encode(key.pem());
        let v1: Value = serde_json::from_slice(&v1_body(&dsse, &key).unwrap()).unwrap();
        assert_eq!(
            v1,
            json!({
                "apiVersion": "0.0.1", "kind": "dsse",
                "spec": {"proposedContent": {"envelope": "{}", "verifiers": [pem_b64]}}
            })
        );
        let v2: Value = serde_json::from_slice(&v2_body(&dsse, &key, "KD").unwrap()).unwrap();
        assert_eq!(
            v2["hashedRekordRequestV002"]["signature"]["verifier"],
            json!({"publicKey": {"rawBytes": STANDARD.encode([8])}, "keyDetails": "KD"})
        );
    }
}
