//! Rekor clients: v2 (`POST /api/v2/log/entries`, `hashedRekordRequestV002`, answered with a
//! protojson `TransparencyLogEntry`) and v1 (`POST /api/v1/log/entries`, `hashedrekord` or `dsse`
//! 0.0.1, answered with a `LogEntry` map that is converted to a `TransparencyLogEntry`).

use crate::SignError;
use crate::http::HttpClient;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use vouch_core::bundle::TransparencyLogEntry;
use vouch_core::keys::pem_encode;

/// Who verifies a log entry's signature: the signing certificate or a bare public key.
#[derive(Clone, Debug)]
pub enum VerifierMaterial {
    /// DER leaf certificate.
    Certificate(Vec<u8>),
    /// DER SubjectPublicKeyInfo.
    PublicKey(Vec<u8>),
}

impl VerifierMaterial {
    fn v2_json(&self, key_details: &str) -> Value {
        match self {
            VerifierMaterial::Certificate(d) => json!({
                "x509Certificate": {"rawBytes": STANDARD.encode(d)}, "keyDetails": key_details
            }),
            VerifierMaterial::PublicKey(d) => json!({
                "publicKey": {"rawBytes": STANDARD.encode(d)}, "keyDetails": key_details
            }),
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

/// Append to a Rekor v2 log at `base`.
pub async fn upload_v2(
    http: &HttpClient,
    base: &str,
    record: &Record<'_>,
    verifier: &VerifierMaterial,
    key_details: &str,
) -> Result<TransparencyLogEntry, SignError> {
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
    let body = json!({"hashedRekordRequestV002": {
        "digest": STANDARD.encode(digest),
        "signature": {"content": STANDARD.encode(sig), "verifier": verifier.v2_json(key_details)}
    }});
    let url = format!("{}/api/v2/log/entries", base.trim_end_matches('/'));
    let resp = http
        .post(
            "Rekor",
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body.to_string().into_bytes(),
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
    let pem_b64 = STANDARD.encode(verifier.pem());
    let body = match record {
        Record::Hashed {
            digest,
            algorithm,
            signature,
        } => json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "signature": {"content": STANDARD.encode(signature), "publicKey": {"content": pem_b64}},
                "data": {"hash": {"algorithm": algorithm, "value": hex::encode(digest)}}
            }
        }),
        Record::Dsse { envelope_json, .. } => json!({
            "apiVersion": "0.0.1", "kind": "dsse",
            "spec": {"proposedContent": {"envelope": envelope_json, "verifiers": [pem_b64]}}
        }),
    };
    let url = format!("{}/api/v1/log/entries", base.trim_end_matches('/'));
    let resp = http
        .post(
            "Rekor",
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body.to_string().into_bytes(),
            &[],
        )
        .await?;
    let v: Value = serde_json::from_slice(&resp.body)
        .map_err(|_| SignError::Tlog(format!("answer from {url} is not JSON")))?;
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
