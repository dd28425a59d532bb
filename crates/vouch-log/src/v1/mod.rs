//! The Rekor v1 REST API (`/api/v1/…`, protocols.md §2), served over the same tree as the
//! Rekor v2 and tlog-tiles APIs.
//!
//! Writes accept `hashedrekord` 0.0.1, `dsse` 0.0.1 and `intoto` 0.0.2 `ProposedEntry`s,
//! validated and canonicalized as Rekor does (signatures verified, keys and certificates
//! re-encoded as canonical PEM, JCS). Every returned `LogEntry` carries an inclusion proof against
//! a signed checkpoint and a signed entry timestamp (SET, §2.6) made with the log key.
//!
//! Identifiers: the entry UUID is `hex(leaf hash)` (64 hex); the entry ID prefixes it with a
//! 16-hex tree ID (80 hex). The tree ID is fixed and derived from the log ID ([`tree_id`]). As
//! upstream Rekor does, responses name entries by entry ID (the `LogEntry` key, `ETag`,
//! `Location`, `/api/v1/index/retrieve` results); requests accept either form.
//!
//! Errors are `{"code": <HTTP status>, "message": "…"}`, the Rekor v1 shape.

use crate::api::MAX_REQUEST_BYTES;
use crate::search::{Matches, intersect};
use crate::storage::{Storage, StoredCheckpoint};
use crate::{Log, LogError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use vouch_core::encoding::b64_encode;
use vouch_core::http_error::StatusBody;
use vouch_core::keys::pem_encode;
use vouch_core::merkle::{Hash, leaf_hash};
use vouch_core::rekor::{
    ConsistencyProof, InclusionProofV1, LogEntryV1, LogEntryVerificationV1, LogInfo, set_payload,
};

/// A Rekor v1 entry answer: `{"<entryID>": LogEntry}`.
pub type LogEntryAnswer = BTreeMap<String, LogEntryV1>;

/// Most lookups one `POST /api/v1/log/entries/retrieve` may ask for (Rekor's limit).
pub const MAX_SEARCH_QUERIES: usize = 10;
/// Most entry IDs one `POST /api/v1/index/retrieve` answers with. Upstream Rekor answers with
/// every match (no limit); here a query matching more is refused with 422, naming the limit,
/// rather than truncated: a client must not take 1,000 of a popular identity's entries for all
/// of them. The explorer's `GET /api/explorer/search` pages through any number of matches.
pub const MAX_INDEX_RESULTS: usize = 1000;
/// Longest certificate chain accepted as a verifier (Rekor's limit).
pub const MAX_CHAIN_LEN: usize = 10;
/// Most signatures, and most verifiers, one dsse or intoto entry may carry (bounds the
/// signature checks a request can cause; Sigstore clients send one).
pub const MAX_SIGNATURES: usize = 16;

/// A Rekor v1 API error: an HTTP status and `{"code": <status>, "message": "…"}`.
#[derive(Debug)]
pub struct V1Error {
    status: StatusCode,
    message: String,
    location: Option<String>,
}

impl V1Error {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            location: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 409 for an entry already in the log, pointing at it.
    fn conflict(entry_id: &str) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            message: format!(
                "An equivalent entry already exists in the transparency log with UUID {entry_id}"
            ),
            location: Some(entry_path(entry_id)),
        }
    }

    /// Map an engine error to its HTTP status.
    pub fn from_log(e: LogError) -> Self {
        let status = match &e {
            LogError::InvalidArgument(_) | LogError::BadProofRequest(_) => StatusCode::BAD_REQUEST,
            LogError::AlreadyExists(_) => StatusCode::CONFLICT,
            LogError::NotFound(_) => StatusCode::NOT_FOUND,
            LogError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            e if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let body = StatusBody {
            code: self.status.as_u16(),
            message: self.message,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(loc) = self.location
            && let Ok(v) = HeaderValue::from_str(&loc)
        {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

fn body_rejection(r: BytesRejection) -> V1Error {
    V1Error::new(r.status(), r.body_text())
}

fn query_rejection(r: QueryRejection) -> V1Error {
    V1Error::bad_request(r.body_text())
}

pub(super) fn invalid(msg: impl Into<String>) -> LogError {
    LogError::InvalidArgument(msg.into())
}

// ---------------------------------------------------------------------------------------------
// Identifiers

/// The fixed tree ID this log reports (derived from the log ID, see [`vouch_core::rekor::tree_id`]).
pub use vouch_core::rekor::tree_id;

/// The 80-hex entry ID: 16-hex tree ID followed by the 64-hex UUID (`hex(leaf hash)`).
pub fn entry_id(tree_id: u64, leaf_hash: &Hash) -> String {
    format!("{tree_id:016x}{}", hex::encode(leaf_hash))
}

fn entry_path(entry_id: &str) -> String {
    format!("/api/v1/log/entries/{entry_id}")
}

/// Parse a 64-hex UUID or 80-hex entry ID. `Ok(None)` when the entry ID names another tree.
pub(crate) fn parse_entry_id(s: &str, tree: u64) -> Result<Option<Hash>, V1Error> {
    let bad = || {
        V1Error::bad_request(format!(
            "invalid entry UUID {s:?}: need 64 hex characters (UUID) or 80 (tree ID + UUID)"
        ))
    };
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let uuid = match s.len() {
        64 => s,
        80 => {
            let (tid, uuid) = s.split_at(16);
            let tid = u64::from_str_radix(tid, 16).map_err(|_| bad())?;
            if tid == 0 {
                return Err(V1Error::bad_request("invalid entry ID: tree ID 0"));
            }
            if tid != tree {
                return Ok(None);
            }
            uuid
        }
        _ => return Err(bad()),
    };
    let mut h = [0u8; 32];
    hex::decode_to_slice(uuid, &mut h).map_err(|_| bad())?;
    Ok(Some(h))
}

mod proposed;

pub use proposed::{ProposedEntry, prepare_v1};
use proposed::{b64, parse_key_material};

// ---------------------------------------------------------------------------------------------
// LogEntry

/// The Rekor v1 `LogEntry` for the entry at `index` (`{"<entryID>": {…}}`), with its inclusion
/// `proof` against `checkpoint` and a fresh SET over
/// `set_payload(body, integrated_time, log_id, index)`. Returns the entry ID too.
pub fn log_entry<S: Storage>(
    log: &Log<S>,
    index: u64,
    integrated_time: i64,
    body: &[u8],
    checkpoint: &StoredCheckpoint,
    proof: &[Hash],
) -> Result<(String, LogEntryAnswer), LogError> {
    let signer = log.signer();
    let log_id = signer.log_id();
    let idx = i64::try_from(index)
        .map_err(|_| LogError::Internal(format!("log index {index} is out of range")))?;
    let set = signer.sign(&set_payload(body, integrated_time, &log_id, idx))?;
    let id = entry_id(tree_id(&log_id), &leaf_hash(body));
    let entry = LogEntryV1 {
        body: b64_encode(body),
        integrated_time,
        log_id: hex::encode(log_id),
        log_index: index,
        verification: Some(LogEntryVerificationV1 {
            inclusion_proof: Some(InclusionProofV1 {
                log_index: index,
                root_hash: hex::encode(checkpoint.root),
                tree_size: checkpoint.size,
                hashes: proof.iter().map(hex::encode).collect(),
                checkpoint: Some(checkpoint.note.clone()),
            }),
            signed_entry_timestamp: Some(b64_encode(&set)),
        }),
    };
    Ok((id.clone(), BTreeMap::from([(id, entry)])))
}

/// The entry at `index` with a proof against `cp`, or `None` if `cp` does not cover it.
fn entry_at<S: Storage>(
    log: &Log<S>,
    index: u64,
    cp: &StoredCheckpoint,
) -> Result<Option<LogEntryAnswer>, LogError> {
    if index >= cp.size {
        return Ok(None);
    }
    let Some(body) = log.entry(index)? else {
        return Ok(None);
    };
    let t = log.storage().integrated_time(index)?.ok_or_else(|| {
        LogError::Storage(format!("no integration time recorded for entry {index}"))
    })?;
    let proof = log.inclusion_proof(index, cp.size)?;
    log_entry(log, index, t, &body, cp, &proof).map(|(_, v)| Some(v))
}

/// The entry with this leaf hash, with a proof against `cp`.
fn entry_by_leaf<S: Storage>(
    log: &Log<S>,
    leaf: &Hash,
    cp: &StoredCheckpoint,
) -> Result<Option<LogEntryAnswer>, LogError> {
    match log.storage().lookup_leaf(leaf)? {
        Some(index) => entry_at(log, index, cp),
        None => Ok(None),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, V1Error> + Send + 'static,
) -> Result<T, V1Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| V1Error::from_log(LogError::Blocking(std::sync::Arc::new(e))))?
}

// ---------------------------------------------------------------------------------------------
// Router and handlers

/// The Rekor v1 routes for a log (with their own request body limit), ready to merge.
pub fn router<S: Storage>(log: Log<S>) -> Router {
    Router::new()
        .route("/api/v1/log", get(log_info::<S>))
        .route("/api/v1/log/publicKey", get(public_key::<S>))
        .route("/api/v1/log/proof", get(consistency::<S>))
        .route(
            "/api/v1/log/entries",
            get(entry_by_index::<S>).post(create_entry::<S>),
        )
        .route("/api/v1/log/entries/retrieve", post(search_entries::<S>))
        .route("/api/v1/log/entries/{entry_uuid}", get(entry_by_uuid::<S>))
        .route("/api/v1/index/retrieve", post(search_index::<S>))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(log)
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(q: Params) -> Result<HashMap<String, String>, V1Error> {
    q.map(|Query(m)| m).map_err(query_rejection)
}

fn parse_u64(p: &HashMap<String, String>, name: &str) -> Result<Option<u64>, V1Error> {
    p.get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                V1Error::bad_request(format!("{name} must be a non-negative integer, got {v:?}"))
            })
        })
        .transpose()
}

/// Refuse a `treeID` parameter naming another tree.
fn check_tree<S: Storage>(log: &Log<S>, p: &HashMap<String, String>) -> Result<(), V1Error> {
    if let Some(t) = p.get("treeID") {
        let ours = tree_id(&log.signer().log_id());
        let t: u64 = t
            .parse()
            .map_err(|_| V1Error::bad_request(format!("invalid treeID {t:?}")))?;
        if t != ours {
            return Err(V1Error::not_found(format!(
                "unknown tree {t}: this log has the single tree {ours}"
            )));
        }
    }
    Ok(())
}

async fn log_info<S: Storage>(State(log): State<Log<S>>, q: Params) -> Result<Response, V1Error> {
    check_tree(&log, &params(q)?)?;
    let cp = log.checkpoint();
    Ok(axum::Json(LogInfo {
        root_hash: hex::encode(cp.root),
        tree_size: cp.size,
        signed_tree_head: cp.note,
        tree_id: tree_id(&log.signer().log_id()).to_string(),
    })
    .into_response())
}

async fn public_key<S: Storage>(State(log): State<Log<S>>, q: Params) -> Result<Response, V1Error> {
    check_tree(&log, &params(q)?)?;
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    Ok((
        StatusCode::OK,
        h,
        pem_encode("PUBLIC KEY", log.signer().spki_der()),
    )
        .into_response())
}

async fn consistency<S: Storage>(
    State(log): State<Log<S>>,
    q: Params,
) -> Result<Response, V1Error> {
    let p = params(q)?;
    check_tree(&log, &p)?;
    let first = parse_u64(&p, "firstSize")?.unwrap_or(1);
    let last =
        parse_u64(&p, "lastSize")?.ok_or_else(|| V1Error::bad_request("lastSize is required"))?;
    if first < 1 || last < 1 {
        return Err(V1Error::bad_request(
            "firstSize and lastSize must be at least 1",
        ));
    }
    if first > last {
        return Err(V1Error::bad_request(format!(
            "firstSize({first}) must be less than or equal to lastSize({last})"
        )));
    }
    let size = log.checkpoint().size;
    if last > size {
        return Err(V1Error::bad_request(format!(
            "lastSize({last}) is larger than the log ({size})"
        )));
    }
    let (root, hashes) = blocking(move || {
        let hashes = log
            .consistency_proof(first, last)
            .map_err(V1Error::from_log)?;
        let root = log.root_at(last).map_err(V1Error::from_log)?;
        Ok((root, hashes))
    })
    .await?;
    Ok(axum::Json(ConsistencyProof {
        root_hash: hex::encode(root),
        hashes: hashes.iter().map(hex::encode).collect(),
    })
    .into_response())
}

async fn create_entry<S: Storage>(
    State(log): State<Log<S>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, V1Error> {
    let body = body.map_err(body_rejection)?;
    let req: ProposedEntry = serde_json::from_slice(&body)
        .map_err(|e| V1Error::bad_request(format!("invalid ProposedEntry JSON: {e}")))?;
    let entry = prepare_v1(&req).map_err(|e| {
        log.metrics().rejected("invalid");
        V1Error::from_log(e)
    })?;
    let id = entry_id(tree_id(&log.signer().log_id()), &entry.leaf_hash);
    let integrated = match log.submit(entry).await {
        Ok(i) => i,
        Err(LogError::AlreadyExists(_)) => return Err(V1Error::conflict(&id)),
        Err(e) => return Err(V1Error::from_log(e)),
    };
    let (id, value) = log_entry(
        &log,
        integrated.index,
        integrated.integrated_time,
        &integrated.body,
        &integrated.checkpoint,
        &integrated.proof,
    )
    .map_err(V1Error::from_log)?;
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&entry_path(&id)) {
        h.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, h, axum::Json(value)).into_response())
}

async fn entry_by_index<S: Storage>(
    State(log): State<Log<S>>,
    q: Params,
) -> Result<Response, V1Error> {
    let p = params(q)?;
    let index =
        parse_u64(&p, "logIndex")?.ok_or_else(|| V1Error::bad_request("logIndex is required"))?;
    let cp = log.checkpoint();
    let v = blocking(move || entry_at(&log, index, &cp).map_err(V1Error::from_log)).await?;
    match v {
        Some(v) => Ok(axum::Json(v).into_response()),
        None => Err(V1Error::not_found(format!("no entry at log index {index}"))),
    }
}

async fn entry_by_uuid<S: Storage>(
    State(log): State<Log<S>>,
    Path(id): Path<String>,
) -> Result<Response, V1Error> {
    let tree = tree_id(&log.signer().log_id());
    let Some(leaf) = parse_entry_id(&id, tree)? else {
        return Err(V1Error::not_found(format!(
            "no entry {id}: it names another tree than this log's ({tree:016x})"
        )));
    };
    let cp = log.checkpoint();
    let v = blocking(move || entry_by_leaf(&log, &leaf, &cp).map_err(V1Error::from_log)).await?;
    match v {
        Some(v) => Ok(axum::Json(v).into_response()),
        None => Err(V1Error::not_found(format!("no entry with UUID {id}"))),
    }
}

/// `SearchLogQuery`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchLogQuery {
    #[serde(rename = "entryUUIDs")]
    entry_uuids: Option<Vec<String>>,
    #[serde(rename = "logIndexes")]
    log_indexes: Option<Vec<i64>>,
    entries: Option<Vec<ProposedEntry>>,
}

async fn search_entries<S: Storage>(
    State(log): State<Log<S>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, V1Error> {
    let body = body.map_err(body_rejection)?;
    let q: SearchLogQuery = serde_json::from_slice(&body)
        .map_err(|e| V1Error::bad_request(format!("invalid SearchLogQuery JSON: {e}")))?;
    let uuids = q.entry_uuids.unwrap_or_default();
    let indexes = q.log_indexes.unwrap_or_default();
    let proposed = q.entries.unwrap_or_default();
    let total = uuids.len() + indexes.len() + proposed.len();
    if total > MAX_SEARCH_QUERIES {
        return Err(V1Error::unprocessable(format!(
            "maximum number of search queries is {MAX_SEARCH_QUERIES}, got {total}"
        )));
    }
    let tree = tree_id(&log.signer().log_id());
    let mut leaves = Vec::new();
    for id in &uuids {
        if let Some(leaf) = parse_entry_id(id, tree)? {
            leaves.push(leaf);
        }
    }
    for (i, e) in proposed.iter().enumerate() {
        let p = prepare_v1(e).map_err(|e| {
            V1Error::from_log(match e {
                LogError::InvalidArgument(m) => invalid(format!("entries[{i}]: {m}")),
                other => other,
            })
        })?;
        leaves.push(p.leaf_hash);
    }
    let indexes = indexes
        .into_iter()
        .map(|i| {
            u64::try_from(i).map_err(|_| {
                V1Error::unprocessable(format!("logIndexes must be non-negative, got {i}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cp = log.checkpoint();
    let found = blocking(move || {
        let mut out = Vec::new();
        for leaf in &leaves {
            if let Some(v) = entry_by_leaf(&log, leaf, &cp).map_err(V1Error::from_log)? {
                out.push(v);
            }
        }
        for &i in &indexes {
            if let Some(v) = entry_at(&log, i, &cp).map_err(V1Error::from_log)? {
                out.push(v);
            }
        }
        Ok(out)
    })
    .await?;
    Ok(axum::Json(found).into_response())
}

/// `SearchIndex`.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SearchIndex {
    email: Option<String>,
    subject: Option<String>,
    public_key: Option<SearchKey>,
    hash: Option<String>,
    operator: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchKey {
    format: Option<String>,
    content: Option<String>,
    url: Option<String>,
}

/// Normalize `sha256:<hex>` (or bare hex, typed by its length) to a search key.
pub(crate) fn hash_search_key(h: &str) -> Result<String, V1Error> {
    let h = h.trim().to_ascii_lowercase();
    let bad = || {
        V1Error::bad_request(format!(
            "invalid hash {h:?}: expected <sha256|sha384|sha512|sha1>:<hex> or bare hex"
        ))
    };
    let (alg, value) = match h.split_once(':') {
        Some((a, v)) => (a.to_string(), v.to_string()),
        None => {
            let alg = match h.len() {
                40 => "sha1",
                64 => "sha256",
                96 => "sha384",
                128 => "sha512",
                _ => return Err(bad()),
            };
            (alg.to_string(), h.clone())
        }
    };
    let want = match alg.as_str() {
        "sha1" => 40,
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(bad()),
    };
    if value.len() != want || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(format!("{alg}:{value}"))
}

async fn search_index<S: Storage>(
    State(log): State<Log<S>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, V1Error> {
    let body = body.map_err(body_rejection)?;
    let q: SearchIndex = serde_json::from_slice(&body)
        .map_err(|e| V1Error::bad_request(format!("invalid SearchIndex JSON: {e}")))?;
    let and = match q.operator.as_deref() {
        None | Some("") | Some("or") => false,
        Some("and") => true,
        Some(o) => {
            return Err(V1Error::bad_request(format!(
                "invalid operator {o:?}: must be and or or"
            )));
        }
    };
    // Each criterion is a set of alternative keys (a certificate gives several).
    let mut criteria: Vec<Vec<String>> = Vec::new();
    if let Some(h) = q.hash.as_deref().filter(|h| !h.is_empty()) {
        criteria.push(vec![hash_search_key(h)?]);
    }
    if let Some(e) = q.email.as_deref().filter(|e| !e.is_empty()) {
        if !e.contains('@') {
            return Err(V1Error::bad_request(format!("invalid email {e:?}")));
        }
        criteria.push(vec![format!("email:{}", e.trim().to_lowercase())]);
    }
    if let Some(s) = q.subject.as_deref().filter(|s| !s.is_empty()) {
        criteria.push(vec![format!("subject:{}", s.trim().to_lowercase())]);
    }
    if let Some(k) = q.public_key {
        match k.format.as_deref() {
            Some("x509") => {}
            Some(f @ ("pgp" | "minisign" | "ssh" | "tuf")) => {
                return Err(V1Error::bad_request(format!(
                    "publicKey format {f} is not supported by this log: only x509"
                )));
            }
            Some(f) => {
                return Err(V1Error::bad_request(format!(
                    "invalid publicKey format {f:?}"
                )));
            }
            None => return Err(V1Error::bad_request("missing publicKey.format")),
        }
        if k.url.is_some_and(|u| !u.is_empty()) {
            return Err(V1Error::bad_request(
                "publicKey.url is not supported: send publicKey.content",
            ));
        }
        let content = k
            .content
            .filter(|c| !c.is_empty())
            .ok_or_else(|| V1Error::bad_request("missing publicKey.content"))?;
        let pem = b64(&content, "publicKey.content").map_err(V1Error::from_log)?;
        let km = parse_key_material(&pem, "publicKey.content").map_err(V1Error::from_log)?;
        criteria.push(
            km.search_keys
                .into_iter()
                .filter(|k| k.starts_with("key:"))
                .collect(),
        );
    }
    let cp = log.checkpoint();
    let ids = blocking(move || {
        // Each criterion streams its keys' matches merged, oldest first; "and" joins the
        // streams, "or" merges all keys into one. Nothing beyond the limit is read.
        let store = log.storage();
        let stream = |keys: &[String]| Matches::new(store, keys, &[], 0..cp.size, false);
        let found = if criteria.is_empty() {
            Vec::new()
        } else if and {
            let mut streams: Vec<_> = criteria.iter().map(|keys| stream(keys)).collect();
            intersect(&mut streams, MAX_INDEX_RESULTS + 1).map_err(V1Error::from_log)?
        } else {
            let keys: Vec<String> = criteria.concat();
            stream(&keys)
                .take(MAX_INDEX_RESULTS + 1)
                .map_err(V1Error::from_log)?
        };
        if found.len() > MAX_INDEX_RESULTS {
            return Err(V1Error::unprocessable(format!(
                "the query matches more than {MAX_INDEX_RESULTS} entries, the most this log answers with: narrow it (operator \"and\" with another criterion), or page through every match with GET /api/explorer/search"
            )));
        }
        let tree = tree_id(&log.signer().log_id());
        let mut ids = Vec::with_capacity(found.len());
        for index in found {
            if let Some(body) = log.entry(index).map_err(V1Error::from_log)? {
                ids.push(entry_id(tree, &leaf_hash(&body)));
            }
        }
        Ok(ids)
    })
    .await?;
    Ok(axum::Json(ids).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids() {
        let mut log_id = [0u8; 32];
        assert_eq!(tree_id(&log_id), 1);
        log_id[0] = 0xff;
        log_id[7] = 0x01;
        assert_eq!(tree_id(&log_id), 0x7f00_0000_0000_0001);
        let leaf = [0xab; 32];
        let id = entry_id(0x1234, &leaf);
        assert_eq!(id.len(), 80);
        assert!(id.starts_with("0000000000001234abab"));
        assert_eq!(parse_entry_id(&id, 0x1234).unwrap(), Some(leaf));
        assert_eq!(parse_entry_id(&id[16..], 0x1234).unwrap(), Some(leaf));
        assert_eq!(
            parse_entry_id(&id.to_uppercase(), 0x1234).unwrap(),
            Some(leaf)
        );
        assert_eq!(parse_entry_id(&id, 0x99).unwrap(), None);
        assert!(parse_entry_id("abc", 1).is_err());
        assert!(parse_entry_id(&"g".repeat(64), 1).is_err());
        assert!(parse_entry_id(&format!("{}{}", "0".repeat(16), &id[16..]), 1).is_err());
    }

    #[test]
    fn hash_keys() {
        let h = "ab".repeat(32);
        assert_eq!(hash_search_key(&h).unwrap(), format!("sha256:{h}"));
        assert_eq!(
            hash_search_key(&format!("SHA256:{}", h.to_uppercase())).unwrap(),
            format!("sha256:{h}")
        );
        assert!(hash_search_key("sha256:abcd").is_err());
        assert!(hash_search_key("md5:abcd").is_err());
    }

    #[test]
    fn unknown_kinds_are_refused() {
        for (kind, version) in [("rekord", "0.0.1"), ("hashedrekord", "0.0.2"), ("x", "1")] {
            let e = prepare_v1(&ProposedEntry {
                kind: kind.into(),
                api_version: version.into(),
                spec: json!({}),
            })
            .unwrap_err();
            assert!(matches!(e, LogError::InvalidArgument(_)), "{e}");
        }
    }
}
