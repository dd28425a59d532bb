//! Rekor clients: v2 (`POST /api/v2/log/entries`, `hashedRekordRequestV002`, answered with a
//! protojson `TransparencyLogEntry`) and v1 (`POST /api/v1/log/entries`, `hashedrekord` or `dsse`
//! 0.0.1, answered with a `LogEntry` map that is converted to a `TransparencyLogEntry`).

use crate::SignError;
use crate::http::HttpClient;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::BTreeMap;
use vouch_core::bundle::{
    Checkpoint, InclusionPromise, InclusionProof, KindVersion, LogId, TransparencyLogEntry,
};
use vouch_core::encoding::{Base64Bytes, Int64};
use vouch_core::keys::pem_encode;
use vouch_core::rekor::{
    DsseProposedContentV001, DsseProposedV001, HashValue, HashedRekordDataV001,
    HashedRekordRequestBodyV002, HashedRekordRequestV002, HashedRekordSignatureV001,
    HashedRekordV001, LogEntryV1, PemContent, RawBytes, SignatureV002, TypedEntry, VerifierV002,
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
    .map_err(SignError::Encode)
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
    .map_err(SignError::Encode)
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
    serde_json::from_slice::<TransparencyLogEntry>(&resp.body).map_err(|source| {
        SignError::TlogAnswer {
            url,
            what: "a TransparencyLogEntry",
            source,
        }
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
    v1_answer_to_tle(&resp.body, &url)
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
    v1_answer_to_tle(&resp.body, entry_url.as_str())
}

/// Convert a Rekor v1 answer from `url` (`{"<entry ID>": LogEntry}`, exactly one entry) to a
/// bundle `TransparencyLogEntry`.
pub fn v1_answer_to_tle(body: &[u8], url: &str) -> Result<TransparencyLogEntry, SignError> {
    let entries: BTreeMap<String, LogEntryV1> =
        serde_json::from_slice(body).map_err(|source| SignError::TlogAnswer {
            url: url.to_string(),
            what: "a Rekor v1 {entry ID: LogEntry} map",
            source,
        })?;
    let mut it = entries.values();
    match (it.next(), it.next()) {
        (Some(e), None) => v1_entry_to_tle(e),
        _ => Err(SignError::Tlog(format!(
            "Rekor v1 answer from {url}: expected exactly one entry, got {}",
            entries.len()
        ))),
    }
}

/// Convert a Rekor v1 `LogEntry` to a bundle `TransparencyLogEntry` (hex becomes bytes; the
/// kind and version come from the canonicalized body).
pub fn v1_entry_to_tle(e: &LogEntryV1) -> Result<TransparencyLogEntry, SignError> {
    let bad = |m: &str| SignError::Tlog(format!("Rekor v1 answer: {m}"));
    let body = STANDARD
        .decode(&e.body)
        .map_err(|_| bad("body is not base64"))?;
    let head: TypedEntry<serde::de::IgnoredAny> = serde_json::from_slice(&body)
        .map_err(|_| bad("body is not a Rekor entry (apiVersion, kind, spec)"))?;
    let log_id = hex::decode(&e.log_id).map_err(|_| bad("logID is not hex"))?;
    let int64 = |what: &str, v: u64| {
        i64::try_from(v)
            .map(Int64)
            .map_err(|_| bad(&format!("{what} {v} is out of range")))
    };
    let verification = e
        .verification
        .as_ref()
        .ok_or_else(|| bad("no verification"))?;
    let set = verification
        .signed_entry_timestamp
        .as_deref()
        .ok_or_else(|| bad("no signedEntryTimestamp"))?;
    let set = vouch_core::encoding::b64_decode(set)
        .map_err(|_| bad("signedEntryTimestamp is not base64"))?;
    let inclusion_proof = match &verification.inclusion_proof {
        None => None,
        Some(p) => {
            let hex_bytes = |h: &str, what: &str| {
                hex::decode(h)
                    .map(Base64Bytes)
                    .map_err(|_| bad(&format!("proof {what} is not hex")))
            };
            Some(InclusionProof {
                log_index: int64("proof logIndex", p.log_index)?,
                root_hash: hex_bytes(&p.root_hash, "rootHash")?,
                tree_size: int64("proof treeSize", p.tree_size)?,
                hashes: p
                    .hashes
                    .iter()
                    .map(|h| hex_bytes(h, "hash"))
                    .collect::<Result<_, _>>()?,
                checkpoint: Some(Checkpoint {
                    envelope: p.checkpoint.clone().unwrap_or_default(),
                }),
            })
        }
    };
    Ok(TransparencyLogEntry {
        log_index: int64("logIndex", e.log_index)?,
        log_id: Some(LogId {
            key_id: Base64Bytes(log_id),
        }),
        kind_version: Some(KindVersion {
            kind: head.kind,
            version: head.api_version,
        }),
        integrated_time: Int64(e.integrated_time),
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: Base64Bytes(set),
        }),
        inclusion_proof,
        canonicalized_body: Base64Bytes(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A Rekor v1 answer becomes the bundle entry it describes, hex turned into bytes.
    #[test]
    fn v1_answer_converts() {
        let body = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#;
        let answer = json!({"24296fb2": {
            "body": STANDARD.encode(body),
            "integratedTime": 1700000000,
            "logID": "abcd",
            "logIndex": 7,
            "verification": {
                "signedEntryTimestamp": STANDARD.encode([5, 6]),
                "inclusionProof": {
                    "logIndex": 7, "rootHash": "0102", "treeSize": 8,
                    "hashes": ["03", "04"], "checkpoint": "note\n"
                }
            }
        }});
        let tle = v1_answer_to_tle(answer.to_string().as_bytes(), "http://log").unwrap();
        let want = json!({
            "logIndex": "7",
            "logId": {"keyId": STANDARD.encode([0xab, 0xcd])},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
            "integratedTime": "1700000000",
            "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode([5, 6])},
            "inclusionProof": {
                "logIndex": "7", "rootHash": STANDARD.encode([1, 2]), "treeSize": "8",
                "hashes": [STANDARD.encode([3]), STANDARD.encode([4])],
                "checkpoint": {"envelope": "note\n"}
            },
            "canonicalizedBody": STANDARD.encode(body),
        });
        assert_eq!(serde_json::to_value(&tle).unwrap(), want);
        // Two entries, or none, are not one answer.
        let two = json!({"a": answer["24296fb2"], "b": answer["24296fb2"]});
        assert!(v1_answer_to_tle(two.to_string().as_bytes(), "http://log").is_err());
        assert!(v1_answer_to_tle(b"{}", "http://log").is_err());
        assert!(v1_answer_to_tle(b"[]", "http://log").is_err());
    }

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
