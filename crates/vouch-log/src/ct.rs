//! RFC 6962 Certificate Transparency personality over a [`Log`] (RFC 6962 §4):
//!
//! * `POST /ct/v1/add-chain` (X.509 certificates) and `POST /ct/v1/add-pre-chain`
//!   (precertificates, for CAs embedding SCTs): `{"chain": [b64 DER, …]}` → the SCT
//!   `{"sct_version", "id", "timestamp", "extensions", "signature"}`;
//! * `GET /ct/v1/get-sth` → `{"tree_size", "timestamp", "sha256_root_hash", "tree_head_signature"}`;
//! * `GET /ct/v1/get-sth-consistency?first=&second=` → `{"consistency": [b64 hash, …]}`;
//! * `GET /ct/v1/get-proof-by-hash?hash=&tree_size=` → `{"leaf_index", "audit_path": [b64, …]}`;
//! * `GET /ct/v1/get-entries?start=&end=` → `{"entries": [{"leaf_input", "extra_data"}, …]}`
//!   (at most [`MAX_GET_ENTRIES`] per answer; clients ask again for the rest, as RFC 6962 allows);
//! * `GET /ct/v1/get-roots` → `{"certificates": [b64 DER, …]}`;
//! * `GET /ct/v1/get-entry-and-proof?leaf_index=&tree_size=` →
//!   `{"leaf_input", "extra_data", "audit_path"}`.
//!
//! Errors are JSON (`{"code", "message", "details"}`): 400 for bad parameters or chains, 404 for
//! an unknown leaf hash, 503 when the log is busy.
//!
//! A submitted chain `[leaf, issuer, …]` is validated (poison extension: absent for add-chain,
//! critical for add-pre-chain; each link signed by the next, issuers are CAs; the last
//! certificate is an accepted root or is signed by one, which is then appended), turned into an
//! RFC 6962 `MerkleTreeLeaf` (`timestamped_entry`, `x509_entry` or `precert_entry`), made
//! durable through [`Log::submit`], and only then answered with an SCT signed by the log's ECDSA
//! P-256 key over the RFC 6962 §3.2 signed data (protocols.md §1.10).
//!
//! **Stored entry.** The Merkle leaf hash is `SHA-256(0x00 || MerkleTreeLeaf)`; the stored entry
//! body is the `MerkleTreeLeaf` followed by the entry's RFC 6962 `extra_data` (x509: the
//! `certificate_chain`; precert: the `PrecertChainEntry`), so `get-entries` reproduces both
//! exactly (the `MerkleTreeLeaf` encoding is self-delimiting). Precertificate entries logged
//! before this layout hold only the `MerkleTreeLeaf`: their `extra_data` is served empty.
//!
//! **Duplicates.** Each entry is indexed under `ct-x509:<hex SHA-256 of the certificate>` or
//! `ct-precert:<hex SHA-256 of issuer_key_hash ‖ TBS>`; resubmitting the same certificate
//! returns an SCT with the original timestamp over the original entry (re-signed: ECDSA
//! signatures are randomized, the SCT verifies the same), without a new log entry.
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
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::Arc;
use vouch_core::ct::{
    self as ct_api, AddChainRequest, AddChainResponse, ENTRY_PRECERT, ENTRY_X509, GetSthResponse,
    HASH_SHA256, MerkleTreeLeaf, SIG_ECDSA,
};
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::merkle::leaf_hash;
use vouch_core::sct::precert_tbs_der_from_precert;
use vouch_core::tiles::{TILE_WIDTH, TileId};
use vouch_core::x509::{Certificate, OID_CT_POISON};

/// Entry kind of CT entries in the log.
pub const CT_KIND: &str = "ct";
/// Entry version of precertificate entries.
pub const CT_VERSION_PRECERT: &str = "precert";
/// Entry version of X.509 certificate entries.
pub const CT_VERSION_X509: &str = "x509";
/// Longest chain accepted.
pub const MAX_CHAIN_LEN: usize = 10;
/// Most entries one `get-entries` answer holds.
pub const MAX_GET_ENTRIES: u64 = 256;

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
) -> vouch_core::trust::TransparencyLogInstanceJson {
    vouch_core::trust::TransparencyLogInstanceJson::sha256_log(
        base_url,
        signer.spki_der(),
        signer.key_details(),
        valid_from,
        &ct_log_id(signer),
        false,
    )
}

/// Per-key async locks: a lookup-then-submit for one certificate runs alone, so concurrent
/// duplicates get the first one's entry instead of a second entry.
#[derive(Default)]
struct KeyLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl KeyLocks {
    fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.entry(key.to_string()).or_default().clone()
    }

    /// Forget `key`'s lock once nobody but the map holds it.
    fn release(&self, key: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut m = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        drop(lock);
        if m.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
            m.remove(key);
        }
    }
}

/// The most issuer-to-issuer links [`VerifiedLinks`] remembers before it starts over.
const MAX_VERIFIED_LINKS: usize = 1024;

/// Links between two CA certificates of submitted chains whose signature has been verified.
/// Every submission from one CA repeats the same intermediate-to-root link, so its signature
/// (a P-384 verification for a Fulcio-style CA) is checked once, not per certificate. Keyed by
/// SHA-256 of the child's DER followed by the issuer's DER; the leaf's own link is always
/// verified.
#[derive(Default)]
struct VerifiedLinks(std::sync::Mutex<std::collections::HashSet<[u8; 32]>>);

impl VerifiedLinks {
    fn key(child: &Certificate, issuer: &Certificate) -> [u8; 32] {
        let mut d = aws_lc_rs::digest::Context::new(&SHA256);
        d.update(child.der());
        d.update(issuer.der());
        let mut k = [0u8; 32];
        k.copy_from_slice(d.finish().as_ref());
        k
    }

    /// Verify that `issuer` signed the CA certificate `child`, once per pair.
    fn verify(
        &self,
        child: &Certificate,
        issuer: &Certificate,
    ) -> Result<(), vouch_core::x509::CertError> {
        let key = Self::key(child, issuer);
        if self.0.lock().is_ok_and(|m| m.contains(&key)) {
            return Ok(());
        }
        child.verify_signed_by(issuer)?;
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= MAX_VERIFIED_LINKS {
                m.clear();
            }
            m.insert(key);
        }
        Ok(())
    }
}

struct CtState<S: Storage> {
    log: Log<S>,
    accepted_roots: Vec<Vec<u8>>,
    log_id: [u8; 32],
    locks: KeyLocks,
    links: VerifiedLinks,
}

/// The CT router for `log`, accepting chains that end in (or are issued by) one of
/// `accepted_roots` (DER). Fails when the log key is not ECDSA P-256 (RFC 6962 logs sign with
/// ECDSA or RSA) or no root is given.
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
        locks: KeyLocks::default(),
        links: VerifiedLinks::default(),
    });
    Ok(Router::new()
        .route("/ct/v1/add-chain", post(add_chain::<S>))
        .route("/ct/v1/add-pre-chain", post(add_pre_chain::<S>))
        .route("/ct/v1/get-sth", get(get_sth::<S>))
        .route("/ct/v1/get-sth-consistency", get(get_sth_consistency::<S>))
        .route("/ct/v1/get-proof-by-hash", get(get_proof_by_hash::<S>))
        .route("/ct/v1/get-entries", get(get_entries::<S>))
        .route("/ct/v1/get-roots", get(get_roots::<S>))
        .route("/ct/v1/get-entry-and-proof", get(get_entry_and_proof::<S>))
        .route("/metrics", get(ct_metrics::<S>))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state))
}

async fn ct_metrics<S: Storage>(State(st): State<Arc<CtState<S>>>) -> axum::response::Response {
    crate::api::metrics_response(&st.log)
}

fn bad(msg: impl Into<String>) -> LogError {
    LogError::InvalidArgument(msg.into())
}

fn api_bad(msg: impl Into<String>) -> ApiError {
    ApiError::from_log(bad(msg))
}

/// Which endpoint a chain came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Submission {
    X509,
    Precert,
}

/// A validated chain: the leaf first, then its issuers up to and including an accepted root.
struct ValidChain {
    certs: Vec<Certificate>,
    ders: Vec<Vec<u8>>,
}

/// Validate a submitted chain (see the module docs); the root is appended when the last
/// certificate is issued by an accepted root rather than being one.
fn validate_chain(
    chain: Vec<Vec<u8>>,
    accepted_roots: &[Vec<u8>],
    links: &VerifiedLinks,
    kind: Submission,
) -> Result<ValidChain, LogError> {
    if chain.is_empty() {
        return Err(bad(
            "chain is empty: it must hold the certificate, its issuers, and optionally the root",
        ));
    }
    if chain.len() > MAX_CHAIN_LEN {
        return Err(bad(format!(
            "chain has {} certificates, at most {MAX_CHAIN_LEN} accepted",
            chain.len()
        )));
    }
    let mut certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            Certificate::from_der(der)
                .map_err(|e| bad(format!("chain[{i}] is not a certificate: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut ders = chain;
    let leaf = certs.first().ok_or_else(|| bad("chain is empty"))?;
    let poison = leaf
        .extensions()
        .find(|(oid, _, _)| oid.to_string() == OID_CT_POISON)
        .map(|(_, critical, _)| critical);
    match (kind, poison) {
        (Submission::Precert, Some(true)) | (Submission::X509, None) => {}
        (Submission::Precert, _) => {
            return Err(bad(format!(
                "chain[0] is not a precertificate: no critical CT poison extension {OID_CT_POISON}"
            )));
        }
        (Submission::X509, Some(_)) => {
            return Err(bad(format!(
                "chain[0] carries the CT poison extension {OID_CT_POISON}: submit precertificates to add-pre-chain"
            )));
        }
    }
    for (i, pair) in certs.windows(2).enumerate() {
        let [child, issuer] = pair else { continue };
        if !issuer.is_ca() {
            return Err(bad(format!(
                "chain[{}] is not a CA certificate (basicConstraints cA)",
                i + 1
            )));
        }
        let checked = if i == 0 {
            child.verify_signed_by(issuer)
        } else {
            links.verify(child, issuer)
        };
        checked.map_err(|e| bad(format!("chain[{i}] is not signed by chain[{}]: {e}", i + 1)))?;
    }
    let last_der = ders.last().map(Vec::as_slice).unwrap_or_default();
    if !accepted_roots.iter().any(|r| r.as_slice() == last_der) {
        let last = certs.last().ok_or_else(|| bad("chain is empty"))?;
        let root = accepted_roots
            .iter()
            .filter_map(|r| Certificate::from_der(r).ok())
            .find(|r| {
                last.names_issuer(r)
                    && if certs.len() == 1 {
                        last.verify_signed_by(r).is_ok()
                    } else {
                        links.verify(last, r).is_ok()
                    }
            })
            .ok_or_else(|| {
                bad("chain does not end in, or chain to, a root accepted by this log")
            })?;
        ders.push(root.der().to_vec());
        certs.push(root);
    }
    if kind == Submission::Precert && certs.len() < 2 {
        return Err(bad(
            "a precertificate chain needs the precertificate's issuer",
        ));
    }
    Ok(ValidChain { certs, ders })
}

/// A TLS `opaque <0..2^24-1>`: 3-byte length, then the bytes.
fn put_u24_vec(out: &mut Vec<u8>, data: &[u8]) -> Result<(), LogError> {
    let len = u32::try_from(data.len())
        .ok()
        .filter(|l| *l < 1 << 24)
        .ok_or(LogError::TooLarge(data.len()))?;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(data);
    Ok(())
}

/// The TLS `ASN.1Cert <1..2^24-1>` list of `certs`, itself `<0..2^24-1>`.
fn cert_list(certs: &[Vec<u8>]) -> Result<Vec<u8>, LogError> {
    let mut inner = Vec::new();
    for c in certs {
        put_u24_vec(&mut inner, c)?;
    }
    let mut out = Vec::with_capacity(inner.len() + 3);
    put_u24_vec(&mut out, &inner)?;
    Ok(out)
}

/// What an entry's `TimestampedEntry` holds after the timestamp: its type and `signed_entry`
/// (x509: `ASN.1Cert`; precert: `issuer_key_hash[32]` then the TBS as `<1..2^24-1>`).
struct SignedEntry {
    entry_type: u16,
    signed_entry: Vec<u8>,
}

/// RFC 6962 `TimestampedEntry` bytes preceded by two zero bytes: for v1 this is both the
/// `MerkleTreeLeaf` (`version` v1, `leaf_type` timestamped_entry) and the SCT's signed data
/// (`sct_version` v1, `signature_type` certificate_timestamp), §3.2 and §3.4. No extensions.
fn timestamped(timestamp_ms: u64, e: &SignedEntry) -> Vec<u8> {
    vouch_core::sct::signed_data_no_extensions(timestamp_ms, e.entry_type, &e.signed_entry)
}

/// The RFC 6962 `MerkleTreeLeaf` of a precertificate entry.
#[cfg(test)]
fn merkle_tree_leaf(
    timestamp_ms: u64,
    issuer_key_hash: &[u8; 32],
    tbs: &[u8],
) -> Result<Vec<u8>, LogError> {
    let mut signed_entry = issuer_key_hash.to_vec();
    put_u24_vec(&mut signed_entry, tbs)?;
    Ok(timestamped(
        timestamp_ms,
        &SignedEntry {
            entry_type: ENTRY_PRECERT,
            signed_entry,
        },
    ))
}

/// A stored entry split into its `MerkleTreeLeaf` and `extra_data`.
struct StoredLeaf<'a> {
    mtl: &'a [u8],
    timestamp_ms: u64,
    entry_type: u16,
    signed_entry: &'a [u8],
    extensions: &'a [u8],
    extra_data: &'a [u8],
}

/// Split a stored CT entry body (module docs) into its parts.
fn split_stored(body: &[u8]) -> Result<StoredLeaf<'_>, LogError> {
    let (leaf, extra_data) = MerkleTreeLeaf::parse_prefix(body).map_err(LogError::CtEntry)?;
    Ok(StoredLeaf {
        mtl: leaf.bytes,
        timestamp_ms: leaf.timestamp_ms,
        entry_type: leaf.entry_type,
        signed_entry: leaf.signed_entry,
        extensions: leaf.extensions,
        extra_data,
    })
}

/// TLS `DigitallySigned` for ECDSA with SHA-256.
fn digitally_signed(sig: &[u8]) -> Result<Vec<u8>, LogError> {
    vouch_core::ct::digitally_signed(HASH_SHA256, SIG_ECDSA, sig)
        .ok_or_else(|| LogError::Internal("signature too long".into()))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Run blocking log reads off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::from_log(LogError::Blocking(std::sync::Arc::new(e))))?
        .map_err(ApiError::from_log)
}

async fn add_chain<S: Storage>(
    State(st): State<Arc<CtState<S>>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    add(st, body, Submission::X509).await
}

async fn add_pre_chain<S: Storage>(
    State(st): State<Arc<CtState<S>>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    add(st, body, Submission::Precert).await
}

async fn add<S: Storage>(
    st: Arc<CtState<S>>,
    body: Bytes,
    kind: Submission,
) -> Result<Response, ApiError> {
    let req: AddChainRequest =
        serde_json::from_slice(&body).map_err(|e| api_bad(format!("invalid request JSON: {e}")))?;
    let chain = req
        .chain
        .iter()
        .enumerate()
        .map(|(i, s)| b64_decode(s).map_err(|_| bad(format!("chain[{i}] is not base64"))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::from_log)?;
    let valid =
        validate_chain(chain, &st.accepted_roots, &st.links, kind).map_err(ApiError::from_log)?;
    let (leaf, leaf_der) = match (valid.certs.first(), valid.ders.first()) {
        (Some(c), Some(d)) => (c, d),
        _ => return Err(api_bad("chain is empty")),
    };
    let issuers = valid.ders.get(1..).unwrap_or_default();
    let (entry, extra, dedup_key, version) = match kind {
        Submission::X509 => {
            let mut signed_entry = Vec::with_capacity(leaf_der.len() + 3);
            put_u24_vec(&mut signed_entry, leaf_der).map_err(ApiError::from_log)?;
            let extra = cert_list(issuers).map_err(ApiError::from_log)?;
            let key = format!("ct-x509:{}", hex::encode(sha256(leaf_der)));
            let entry = SignedEntry {
                entry_type: ENTRY_X509,
                signed_entry,
            };
            (entry, extra, key, CT_VERSION_X509)
        }
        Submission::Precert => {
            let issuer = valid
                .certs
                .get(1)
                .ok_or_else(|| api_bad("precertificate chain has no issuer"))?;
            let issuer_spki = issuer
                .spki_der()
                .map_err(|e| api_bad(format!("issuer key: {e}")))?;
            let tbs = precert_tbs_der_from_precert(leaf).map_err(|e| api_bad(e.to_string()))?;
            let mut signed_entry = sha256(&issuer_spki).to_vec();
            put_u24_vec(&mut signed_entry, &tbs).map_err(ApiError::from_log)?;
            // PrecertChainEntry: pre_certificate, then precertificate_chain.
            let mut extra = Vec::new();
            put_u24_vec(&mut extra, leaf_der).map_err(ApiError::from_log)?;
            extra.extend(cert_list(issuers).map_err(ApiError::from_log)?);
            let key = format!("ct-precert:{}", hex::encode(sha256(&signed_entry)));
            let entry = SignedEntry {
                entry_type: ENTRY_PRECERT,
                signed_entry,
            };
            (entry, extra, key, CT_VERSION_PRECERT)
        }
    };

    let lock = st.locks.get(&dedup_key);
    let result = {
        let _guard = lock.lock().await;
        log_once(&st, &entry, extra, &dedup_key, version).await
    };
    st.locks.release(&dedup_key, lock);
    let timestamp_ms = result?;

    let signed = timestamped(timestamp_ms, &entry);
    let sig = st.log.signer().sign(&signed).map_err(ApiError::from_log)?;
    let ds = digitally_signed(&sig).map_err(ApiError::from_log)?;
    Ok(axum::Json(AddChainResponse {
        sct_version: 0,
        id: b64_encode(&st.log_id),
        timestamp: timestamp_ms,
        extensions: String::new(),
        signature: b64_encode(&ds),
    })
    .into_response())
}

/// Log `entry` unless an entry for `dedup_key` is already durable; returns the timestamp of the
/// logged entry (the original one for a duplicate). The caller holds `dedup_key`'s lock.
async fn log_once<S: Storage>(
    st: &Arc<CtState<S>>,
    entry: &SignedEntry,
    extra: Vec<u8>,
    dedup_key: &str,
    version: &'static str,
) -> Result<u64, ApiError> {
    let existing = {
        let (log, key) = (st.log.clone(), dedup_key.to_string());
        blocking(move || {
            let Some(index) = log
                .storage()
                .search(&key, 0..u64::MAX, true, 1)?
                .into_iter()
                .next()
            else {
                return Ok(None);
            };
            let body = log.entry(index)?.ok_or_else(|| {
                LogError::Internal(format!("entry {index} is indexed but not readable yet"))
            })?;
            Ok(Some(body))
        })
        .await?
    };
    if let Some(body) = existing {
        let stored = split_stored(&body).map_err(ApiError::from_log)?;
        if stored.entry_type == entry.entry_type
            && stored.signed_entry == entry.signed_entry.as_slice()
            && stored.extensions.is_empty()
        {
            return Ok(stored.timestamp_ms);
        }
    }
    let timestamp_ms = now_ms();
    let mut body = timestamped(timestamp_ms, entry);
    let leaf = leaf_hash(&body);
    body.extend(extra);
    if body.len() > MAX_ENTRY_LEN {
        return Err(ApiError::from_log(LogError::TooLarge(body.len())));
    }
    let prepared = PreparedEntry {
        leaf_hash: leaf,
        body,
        search_keys: vec![dedup_key.to_string()],
        kind: CT_KIND,
        version,
    };
    match st.log.submit(prepared).await {
        // The identical leaf (same timestamp) is already durable: its SCT is just as valid.
        Ok(_) | Err(LogError::AlreadyExists(_)) => Ok(timestamp_ms),
        Err(e) => Err(ApiError::from_log(e)),
    }
}

/// RFC 6962 `get-sth`: the latest durable tree head, signed as a `TreeHeadSignature`.
async fn get_sth<S: Storage>(State(st): State<Arc<CtState<S>>>) -> Result<Response, ApiError> {
    let cp = st.log.checkpoint();
    let timestamp_ms = now_ms();
    let m = ct_api::tree_head_signature_input(timestamp_ms, cp.size, &cp.root);
    let sig = st.log.signer().sign(&m).map_err(ApiError::from_log)?;
    let ds = digitally_signed(&sig).map_err(ApiError::from_log)?;
    Ok(axum::Json(GetSthResponse {
        tree_size: cp.size,
        timestamp: timestamp_ms,
        sha256_root_hash: b64_encode(&cp.root),
        tree_head_signature: b64_encode(&ds),
    })
    .into_response())
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(q: Params) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(m)| m)
        .map_err(|e| api_bad(format!("invalid query: {}", e.body_text())))
}

/// A required decimal `u64` query parameter.
fn param_u64(q: &HashMap<String, String>, name: &str) -> Result<u64, ApiError> {
    let v = q
        .get(name)
        .ok_or_else(|| api_bad(format!("missing parameter {name}")))?;
    v.trim().parse::<u64>().map_err(|_| {
        api_bad(format!(
            "parameter {name} must be a non-negative integer, got {v:?}"
        ))
    })
}

/// Check `tree_size` names a non-empty tree the log has published.
fn check_tree_size(tree_size: u64, current: u64) -> Result<(), ApiError> {
    if tree_size == 0 {
        return Err(api_bad("tree_size must be at least 1"));
    }
    if tree_size > current {
        return Err(api_bad(format!(
            "tree_size {tree_size} is larger than the log's current size {current}"
        )));
    }
    Ok(())
}

fn b64_hashes(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|h| b64_encode(h)).collect()
}

/// RFC 6962 §4.4 `get-sth-consistency`.
async fn get_sth_consistency<S: Storage>(
    State(st): State<Arc<CtState<S>>>,
    q: Params,
) -> Result<Response, ApiError> {
    let q = params(q)?;
    let first = param_u64(&q, "first")?;
    let second = param_u64(&q, "second")?;
    let current = st.log.checkpoint().size;
    if first > second {
        return Err(api_bad(format!(
            "first ({first}) must not be larger than second ({second})"
        )));
    }
    if second > current {
        return Err(api_bad(format!(
            "second ({second}) is larger than the log's current size {current}"
        )));
    }
    let log = st.log.clone();
    let proof = blocking(move || log.consistency_proof(first, second)).await?;
    Ok(axum::Json(ct_api::GetSthConsistencyResponse {
        consistency: b64_hashes(&proof),
    })
    .into_response())
}

/// RFC 6962 §4.5 `get-proof-by-hash`.
async fn get_proof_by_hash<S: Storage>(
    State(st): State<Arc<CtState<S>>>,
    q: Params,
) -> Result<Response, ApiError> {
    let q = params(q)?;
    let hash_b64 = q
        .get("hash")
        .ok_or_else(|| api_bad("missing parameter hash"))?;
    // A `+` the client left unescaped arrives as a space.
    let hash = b64_decode(&hash_b64.trim().replace(' ', "+"))
        .map_err(|_| api_bad("parameter hash is not base64"))?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| api_bad("parameter hash must be a 32-byte SHA-256 leaf hash"))?;
    let tree_size = param_u64(&q, "tree_size")?;
    check_tree_size(tree_size, st.log.checkpoint().size)?;
    let log = st.log.clone();
    let (index, proof) = blocking(move || {
        let index = log
            .storage()
            .lookup_leaf(&hash)?
            .filter(|i| *i < tree_size)
            .ok_or_else(|| {
                LogError::NotFound(format!(
                    "no entry with leaf hash {} in the tree of size {tree_size}",
                    hex::encode(hash)
                ))
            })?;
        Ok((index, log.inclusion_proof(index, tree_size)?))
    })
    .await?;
    Ok(axum::Json(ct_api::GetProofByHashResponse {
        leaf_index: index,
        audit_path: b64_hashes(&proof),
    })
    .into_response())
}

/// The stored bodies of entries `start..=end` (all below the published size).
fn read_range<S: Storage>(log: &Log<S>, start: u64, end: u64) -> Result<Vec<Vec<u8>>, LogError> {
    let size = log.checkpoint().size;
    let mut out = Vec::new();
    for tile in start / TILE_WIDTH..=end / TILE_WIDTH {
        let tile_start = tile * TILE_WIDTH;
        let width = (size - tile_start).min(TILE_WIDTH);
        let id = TileId {
            level: 0,
            index: tile,
            width: u16::try_from(width).unwrap_or(256),
        };
        let bundle = log.read_tile(&id, true)?.ok_or_else(|| {
            LogError::Storage(format!("missing entry bundle {}", id.entries_path()))
        })?;
        let entries = crate::tree::parse_bundle(&bundle)?;
        for (i, body) in entries.into_iter().enumerate() {
            let index = tile_start + i as u64;
            if (start..=end).contains(&index) {
                out.push(body);
            }
        }
    }
    Ok(out)
}

fn entry_json(body: &[u8]) -> Result<ct_api::LeafEntry, LogError> {
    let s = split_stored(body)?;
    Ok(ct_api::LeafEntry {
        leaf_input: b64_encode(s.mtl),
        extra_data: b64_encode(s.extra_data),
    })
}

/// RFC 6962 §4.6 `get-entries`: at most [`MAX_GET_ENTRIES`] entries from `start`; `end` past the
/// tree is clamped to its last entry.
async fn get_entries<S: Storage>(
    State(st): State<Arc<CtState<S>>>,
    q: Params,
) -> Result<Response, ApiError> {
    let q = params(q)?;
    let start = param_u64(&q, "start")?;
    let end = param_u64(&q, "end")?;
    if start > end {
        return Err(api_bad(format!(
            "start ({start}) must not be larger than end ({end})"
        )));
    }
    let size = st.log.checkpoint().size;
    if start >= size {
        return Err(api_bad(format!(
            "start ({start}) is beyond the log's current size {size}"
        )));
    }
    let end = end
        .min(size - 1)
        .min(start.saturating_add(MAX_GET_ENTRIES - 1));
    let log = st.log.clone();
    let entries = blocking(move || {
        read_range(&log, start, end)?
            .iter()
            .map(|b| entry_json(b))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(axum::Json(ct_api::GetEntriesResponse { entries }).into_response())
}

/// RFC 6962 §4.7 `get-roots`.
async fn get_roots<S: Storage>(State(st): State<Arc<CtState<S>>>) -> Response {
    let certs: Vec<String> = st.accepted_roots.iter().map(|r| b64_encode(r)).collect();
    axum::Json(ct_api::GetRootsResponse {
        certificates: certs,
    })
    .into_response()
}

/// RFC 6962 §4.8 `get-entry-and-proof`.
async fn get_entry_and_proof<S: Storage>(
    State(st): State<Arc<CtState<S>>>,
    q: Params,
) -> Result<Response, ApiError> {
    let q = params(q)?;
    let leaf_index = param_u64(&q, "leaf_index")?;
    let tree_size = param_u64(&q, "tree_size")?;
    check_tree_size(tree_size, st.log.checkpoint().size)?;
    if leaf_index >= tree_size {
        return Err(api_bad(format!(
            "leaf_index ({leaf_index}) must be smaller than tree_size ({tree_size})"
        )));
    }
    let log = st.log.clone();
    let (entry, proof) = blocking(move || {
        let body = log
            .entry(leaf_index)?
            .ok_or_else(|| LogError::NotFound(format!("no entry {leaf_index}")))?;
        Ok((
            entry_json(&body)?,
            log.inclusion_proof(leaf_index, tree_size)?,
        ))
    })
    .await?;
    Ok(axum::Json(ct_api::GetEntryAndProofResponse {
        leaf_input: entry.leaf_input,
        extra_data: entry.extra_data,
        audit_path: b64_hashes(&proof),
    })
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
    fn precert_leaf_is_the_signed_data() {
        let sct = vouch_core::sct::Sct {
            log_id: [0; 32],
            timestamp_ms: 77,
            extensions: Vec::new(),
            hash_alg: 4,
            sig_alg: 3,
            signature: Vec::new(),
        };
        let tbs = [0x30, 0x03, 1, 2, 3];
        assert_eq!(
            merkle_tree_leaf(77, &[9; 32], &tbs).ok(),
            vouch_core::sct::precert_signed_data(&sct, &[9; 32], &tbs).ok()
        );
    }

    #[test]
    fn split_round_trip() {
        let mut se = Vec::new();
        assert!(put_u24_vec(&mut se, &[0x30, 0x00]).is_ok());
        let e = SignedEntry {
            entry_type: ENTRY_X509,
            signed_entry: se,
        };
        let mtl = timestamped(5, &e);
        let mut body = mtl.clone();
        body.extend([0, 0, 0]);
        let s = split_stored(&body);
        assert!(s.is_ok());
        if let Ok(s) = s {
            assert_eq!(s.mtl, mtl.as_slice());
            assert_eq!(s.timestamp_ms, 5);
            assert_eq!(s.extra_data, &[0, 0, 0]);
            assert_eq!(s.signed_entry, e.signed_entry.as_slice());
        }
        // Truncations never panic.
        for n in 0..body.len() {
            let _ = split_stored(&body[..n]);
        }
    }

    #[test]
    fn digitally_signed_header() {
        assert_eq!(
            digitally_signed(&[9, 9]).unwrap_or_default(),
            vec![4, 3, 0, 2, 9, 9]
        );
    }
}
