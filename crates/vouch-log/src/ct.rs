//! RFC 6962 Certificate Transparency personality over a [`Log`]: `POST /ct/v1/add-pre-chain`
//! (precertificates only, for CAs embedding SCTs) and `GET /ct/v1/get-sth`.
//!
//! A submitted chain `[precert, issuer, …, root]` is validated (critical poison extension, each
//! link signed by the next, last certificate byte-equal to an accepted root), turned into an
//! RFC 6962 `MerkleTreeLeaf` (`timestamped_entry`, `precert_entry`) that becomes the log entry,
//! made durable through [`Log::submit`], and only then answered with an SCT signed by the log's
//! ECDSA P-256 key over the RFC 6962 §3.2 signed data (protocols.md §1.10).
//!
//! The CT log ID is SHA-256 of the log's SubjectPublicKeyInfo (not the signed-note key hash).

use crate::api::{ApiError, MAX_REQUEST_BYTES};
use crate::entries::{MAX_ENTRY_LEN, PreparedEntry};
use crate::signer::LogSigner;
use crate::storage::Storage;
use crate::{Log, LogError};
use aws_lc_rs::digest::{SHA256, digest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::sync::Arc;
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::merkle::leaf_hash;
use vouch_core::sct::{Sct, precert_signed_data, precert_tbs_der_from_precert};
use vouch_core::x509::{Certificate, OID_CT_POISON};

/// Entry kind of CT entries in the log.
pub const CT_KIND: &str = "ct";
/// Entry version of precertificate entries.
pub const CT_VERSION_PRECERT: &str = "precert";
/// Longest chain accepted.
pub const MAX_CHAIN_LEN: usize = 10;

/// The CT log ID: SHA-256 of the log key's DER SubjectPublicKeyInfo.
pub fn ct_log_id(signer: &LogSigner) -> [u8; 32] {
    sha256(signer.spki_der())
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

/// A `trusted_root.json` `ctlogs[]` entry for this CT log.
pub fn trusted_root_ctlog_entry(
    signer: &LogSigner,
    base_url: &str,
    valid_from: &str,
) -> serde_json::Value {
    serde_json::json!({
        "baseUrl": base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": b64_encode(signer.spki_der()),
            "keyDetails": signer.key_details(),
            "validFor": {"start": valid_from}
        },
        "logId": {"keyId": b64_encode(&ct_log_id(signer))}
    })
}

struct CtState<S: Storage> {
    log: Log<S>,
    accepted_roots: Vec<Vec<u8>>,
    log_id: [u8; 32],
}

/// The CT router for `log`, accepting chains that end in one of `accepted_roots` (DER).
/// Fails when the log key is not ECDSA P-256 (RFC 6962 logs sign with ECDSA or RSA).
pub fn router<S: Storage>(log: Log<S>, accepted_roots: Vec<Vec<u8>>) -> Result<Router, LogError> {
    if log.signer().key_details() != "PKIX_ECDSA_P256_SHA_256" {
        return Err(LogError::Key(format!(
            "a CT log needs an ECDSA P-256 key, this log's key is {}",
            log.signer().key_details()
        )));
    }
    if accepted_roots.is_empty() {
        return Err(LogError::InvalidArgument(
            "a CT log needs at least one accepted root".into(),
        ));
    }
    let log_id = ct_log_id(log.signer());
    let state = Arc::new(CtState {
        log,
        accepted_roots,
        log_id,
    });
    Ok(Router::new()
        .route("/ct/v1/add-pre-chain", post(add_pre_chain::<S>))
        .route("/ct/v1/get-sth", get(get_sth::<S>))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state))
}

#[derive(Deserialize)]
struct AddChainRequest {
    chain: Vec<String>,
}

fn bad(msg: impl Into<String>) -> LogError {
    LogError::InvalidArgument(msg.into())
}

/// Validate an add-pre-chain chain; returns the precertificate and its issuer.
fn validate_chain(
    chain: &[Vec<u8>],
    accepted_roots: &[Vec<u8>],
) -> Result<(Certificate, Certificate), LogError> {
    if chain.len() < 2 {
        return Err(bad(
            "chain must hold the precertificate, its issuer, …, and an accepted root",
        ));
    }
    if chain.len() > MAX_CHAIN_LEN {
        return Err(bad(format!(
            "chain has {} certificates, at most {MAX_CHAIN_LEN} accepted",
            chain.len()
        )));
    }
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            Certificate::from_der(der)
                .map_err(|e| bad(format!("chain[{i}] is not a certificate: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut certs = certs.into_iter();
    let (Some(precert), Some(issuer)) = (certs.next(), certs.next()) else {
        return Err(bad("chain is too short"));
    };
    let poison_critical = precert
        .extensions()
        .any(|(oid, critical, _)| oid.to_string() == OID_CT_POISON && critical);
    if !poison_critical {
        return Err(bad(format!(
            "chain[0] is not a precertificate: no critical CT poison extension {OID_CT_POISON}"
        )));
    }
    precert
        .verify_signed_by(&issuer)
        .map_err(|e| bad(format!("precertificate is not signed by chain[1]: {e}")))?;
    let mut prev = &issuer;
    let rest: Vec<Certificate> = certs.collect();
    for (i, c) in rest.iter().enumerate() {
        prev.verify_signed_by(c).map_err(|e| {
            bad(format!(
                "chain[{}] is not signed by chain[{}]: {e}",
                i + 1,
                i + 2
            ))
        })?;
        prev = c;
    }
    let last = chain.last().map(Vec::as_slice).unwrap_or_default();
    if !accepted_roots.iter().any(|r| r.as_slice() == last) {
        return Err(bad("chain does not end in a root accepted by this log"));
    }
    Ok((precert, issuer))
}

/// The RFC 6962 `MerkleTreeLeaf` of a precertificate entry.
fn merkle_tree_leaf(
    timestamp_ms: u64,
    issuer_key_hash: &[u8; 32],
    tbs: &[u8],
) -> Result<Vec<u8>, LogError> {
    let len = u32::try_from(tbs.len())
        .ok()
        .filter(|l| *l < 1 << 24)
        .ok_or(LogError::TooLarge(tbs.len()))?;
    let mut m = Vec::with_capacity(tbs.len() + 50);
    m.push(0); // version v1
    m.push(0); // leaf_type timestamped_entry
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
    m.extend_from_slice(issuer_key_hash);
    m.extend_from_slice(&len.to_be_bytes()[1..]);
    m.extend_from_slice(tbs);
    m.extend_from_slice(&0u16.to_be_bytes()); // no extensions
    Ok(m)
}

/// TLS `DigitallySigned` for ECDSA with SHA-256.
fn digitally_signed(sig: &[u8]) -> Result<Vec<u8>, LogError> {
    let len =
        u16::try_from(sig.len()).map_err(|_| LogError::Internal("signature too long".into()))?;
    let mut out = vec![4, 3];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(sig);
    Ok(out)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

async fn add_pre_chain<S: Storage>(
    State(st): State<Arc<CtState<S>>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: AddChainRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::from_log(bad(format!("invalid request JSON: {e}"))))?;
    let chain = req
        .chain
        .iter()
        .enumerate()
        .map(|(i, s)| b64_decode(s).map_err(|_| bad(format!("chain[{i}] is not base64"))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::from_log)?;
    let (precert, issuer) =
        validate_chain(&chain, &st.accepted_roots).map_err(ApiError::from_log)?;
    let issuer_spki = issuer
        .spki_der()
        .map_err(|e| ApiError::from_log(bad(format!("issuer key: {e}"))))?;
    let issuer_key_hash = sha256(&issuer_spki);
    let tbs = precert_tbs_der_from_precert(&precert)
        .map_err(|e| ApiError::from_log(bad(e.to_string())))?;
    let timestamp_ms = now_ms();
    let leaf =
        merkle_tree_leaf(timestamp_ms, &issuer_key_hash, &tbs).map_err(ApiError::from_log)?;
    if leaf.len() > MAX_ENTRY_LEN {
        return Err(ApiError::from_log(LogError::TooLarge(leaf.len())));
    }
    let entry = PreparedEntry {
        leaf_hash: leaf_hash(&leaf),
        body: leaf,
        search_keys: Vec::new(),
        kind: CT_KIND,
        version: CT_VERSION_PRECERT,
    };
    match st.log.submit(entry).await {
        // The identical leaf (same timestamp) is already durable: its SCT is just as valid.
        Ok(_) | Err(LogError::AlreadyExists(_)) => {}
        Err(e) => return Err(ApiError::from_log(e)),
    }
    let sct = Sct {
        log_id: st.log_id,
        timestamp_ms,
        extensions: Vec::new(),
        hash_alg: 4,
        sig_alg: 3,
        signature: Vec::new(),
    };
    let signed = precert_signed_data(&sct, &issuer_key_hash, &tbs)
        .map_err(|e| ApiError::from_log(bad(e.to_string())))?;
    let sig = st.log.signer().sign(&signed).map_err(ApiError::from_log)?;
    let ds = digitally_signed(&sig).map_err(ApiError::from_log)?;
    Ok(axum::Json(serde_json::json!({
        "sct_version": 0,
        "id": b64_encode(&st.log_id),
        "timestamp": timestamp_ms,
        "extensions": "",
        "signature": b64_encode(&ds),
    }))
    .into_response())
}

/// RFC 6962 `get-sth`: the latest durable tree head, signed as a `TreeHeadSignature`.
async fn get_sth<S: Storage>(State(st): State<Arc<CtState<S>>>) -> Result<Response, ApiError> {
    let cp = st.log.checkpoint();
    let timestamp_ms = now_ms();
    let mut m = Vec::with_capacity(50);
    m.push(0); // version v1
    m.push(1); // signature_type tree_hash
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    m.extend_from_slice(&cp.size.to_be_bytes());
    m.extend_from_slice(&cp.root);
    let sig = st.log.signer().sign(&m).map_err(ApiError::from_log)?;
    let ds = digitally_signed(&sig).map_err(ApiError::from_log)?;
    Ok(axum::Json(serde_json::json!({
        "tree_size": cp.size,
        "timestamp": timestamp_ms,
        "sha256_root_hash": b64_encode(&cp.root),
        "tree_head_signature": b64_encode(&ds),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_layout() {
        let leaf = merkle_tree_leaf(0x0102, &[7; 32], &[0x30, 0x00]).unwrap_or_default();
        assert_eq!(leaf.len(), 2 + 8 + 2 + 32 + 3 + 2 + 2);
        assert_eq!(&leaf[..2], &[0, 0]);
        assert_eq!(&leaf[10..12], &[0, 1]);
        assert_eq!(&leaf[44..47], &[0, 0, 2]);
    }

    #[test]
    fn digitally_signed_header() {
        assert_eq!(
            digitally_signed(&[9, 9]).unwrap_or_default(),
            vec![4, 3, 0, 2, 9, 9]
        );
    }
}
