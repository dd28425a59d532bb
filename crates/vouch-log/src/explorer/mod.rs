//! The log explorer: a web page at `/explorer` (HTML, JS and CSS embedded in the binary, no
//! external fetches) and its JSON API.
//!
//! `GET /api/explorer/search?q=…[&perPage=…][&before=<index>|&after=<index>]` searches the one
//! index every entry is in, whichever API (Rekor v1 or v2) logged it: log index, UUID
//! (`hex(leaf hash)`) or 80-hex entry ID, artifact digest (`sha256:<hex>` or bare hex), identity
//! (certificate SAN email or URI), public-key fingerprint (SHA-256 of the SPKI DER, hex) and git
//! commit SHA (gitsign's online mode logs the SHA-256 of the commit ID's text, so a 40-hex query
//! also looks that up).
//!
//! Paging is by keyset cursor, newest first, through every match (there is no result cap): a
//! page holds the `perPage` newest matches below `before` (or, with `after`, the `perPage`
//! oldest above it, still listed newest first; an `after` page that reaches the newest match is
//! the first page). `next` and `prev` are the URLs of the older and newer pages. A cursor stays
//! valid while the log grows: new entries only ever appear before the first page. `total`
//! counts the matches up to [`COUNT_LIMIT`] (`totalExact` false beyond it: "at least"), and
//! `first` is the position of the page's first result when fewer than [`COUNT_LIMIT`] matches
//! are newer. Exact totals of a term with millions of entries would cost a scan of all of them
//! per request; a page costs one index range read per term plus the capped counts. Memory per
//! request is one chunk of matches per term ([`crate::search`]), whatever the number of matches.
//! `GET /api/explorer/entry/{index}` gives what the page cannot check by itself: the signers'
//! certificates decoded (subject, SANs, Fulcio extensions). The page takes the entry body,
//! inclusion proof and checkpoint from the Rekor v1 API and verifies them in the browser.

use crate::search::Matches;
use crate::storage::Storage;
use crate::v1::{entry_id, hash_search_key, parse_entry_id, tree_id};
use crate::{Log, LogError};
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use vouch_core::keys::HashKind;
use vouch_core::merkle::leaf_hash;
use vouch_core::rekor::{EntryInfo, Signer};
use vouch_core::x509::{Certificate, fulcio_extension_name};

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// Most matches a search counts for its `total` (and for a page's position).
pub const COUNT_LIMIT: usize = 10_000;
/// Largest page size.
pub const MAX_PER_PAGE: usize = 100;
const DEFAULT_PER_PAGE: usize = 20;

/// An explorer API error: an HTTP status and `{"code": <status>, "message": "…"}`.
#[derive(Debug)]
pub struct ExplorerError {
    status: StatusCode,
    message: String,
}

impl ExplorerError {
    fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn from_log(e: LogError) -> Self {
        let v = crate::v1::V1Error::from_log(e);
        Self {
            status: v.status(),
            message: v.message().to_string(),
        }
    }
}

impl IntoResponse for ExplorerError {
    fn into_response(self) -> Response {
        let body = vouch_core::http_error::StatusBody {
            code: self.status.as_u16(),
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// `GET /api/explorer/search` parameters.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    /// The query: index, UUID, entry ID, digest, identity, key fingerprint or commit SHA.
    pub q: String,
    /// Results per page (at most [`MAX_PER_PAGE`]).
    #[serde(default)]
    pub per_page: Option<usize>,
    /// Cursor: the page of matches below this log index (a `next` link).
    #[serde(default)]
    pub before: Option<u64>,
    /// Cursor: the page of matches above this log index (a `prev` link).
    #[serde(default)]
    pub after: Option<u64>,
    /// Page numbers are replaced by the `before`/`after` cursors; given, it is refused rather
    /// than silently answered with the first page.
    #[serde(default)]
    pub page: Option<String>,
}

/// One search result.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    /// Log index.
    pub index: u64,
    /// Entry UUID: `hex(leaf hash)`.
    pub uuid: String,
    /// Entry ID: 16-hex tree ID and the UUID (what the Rekor v1 API names entries by).
    pub entry_id: String,
    /// Entry kind, e.g. `hashedrekord`.
    pub kind: String,
    /// Kind version (`0.0.2` for Rekor v2 entries).
    pub version: String,
    /// Unix seconds at integration, when the log recorded it.
    pub integrated_time: Option<i64>,
    /// The first signer's identity: certificate SAN, else `key sha256:<fingerprint>`.
    pub identity: Option<String>,
}

/// `GET /api/explorer/search` answer.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    /// The query as given.
    pub query: String,
    /// What the query was searched as (e.g. `artifact digest sha256:…`).
    pub searched_as: Vec<String>,
    /// Number of matching entries, counted up to [`COUNT_LIMIT`].
    pub total: usize,
    /// Whether `total` is exact; false: at least `total` entries match.
    pub total_exact: bool,
    /// 1-based position of this page's first result among all matches (newest first); `None`
    /// for an empty page, or when more than [`COUNT_LIMIT`] matches are newer.
    pub first: Option<usize>,
    /// Page size.
    pub per_page: usize,
    /// This page's results, newest first.
    pub results: Vec<SearchHit>,
    /// URL of the next page (older matches), if there are any.
    pub next: Option<String>,
    /// URL of the previous page (newer matches), if there are any.
    pub prev: Option<String>,
}

/// A Fulcio extension (`1.3.6.1.4.1.57264.1.<arc>`) of a certificate.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FulcioExtension {
    /// Dotted OID.
    pub oid: String,
    /// Name, e.g. `issuer` or `sourceRepositoryURI`.
    pub name: String,
    /// Decoded value.
    pub value: String,
}

/// A signer's certificate, decoded on the server (with x509-cert).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// Every subject alternative name.
    pub sans: Vec<String>,
    /// The OIDC issuer (extension 1.8, else the deprecated 1.1).
    pub oidc_issuer: Option<String>,
    /// Every Fulcio extension, by OID.
    pub extensions: Vec<FulcioExtension>,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
}

/// One signer of an entry.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SignerInfo {
    /// Public-key fingerprint: SHA-256 of the SPKI DER, hex (a search key).
    pub key_fingerprint: Option<String>,
    /// The certificate, when the signer gave one.
    pub certificate: Option<CertificateInfo>,
    /// Why the certificate could not be decoded, if it could not.
    pub certificate_error: Option<String>,
}

/// `GET /api/explorer/entry/{index}` answer.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EntryDetails {
    /// The entry's summary, as in search results.
    #[serde(flatten)]
    pub hit: SearchHit,
    /// What was signed, `<algorithm>:<hex>`.
    pub digest: Option<String>,
    /// The signers.
    pub signers: Vec<SignerInfo>,
}

/// The explorer page, its assets and its JSON API.
pub fn router<S: Storage>(log: Log<S>) -> Router {
    Router::new()
        .route(
            "/explorer",
            get(|| asset(INDEX_HTML, "text/html; charset=utf-8")),
        )
        .route(
            "/explorer/",
            get(|| asset(INDEX_HTML, "text/html; charset=utf-8")),
        )
        .route(
            "/explorer/app.js",
            get(|| asset(APP_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/explorer/app.css",
            get(|| asset(APP_CSS, "text/css; charset=utf-8")),
        )
        .route("/api/explorer/search", get(search::<S>))
        .route("/api/explorer/entry/{index}", get(entry::<S>))
        .with_state(log)
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Everything comes from this origin; nothing else may be loaded or connected to.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// What a query is searched as: search index terms, entry indexes and leaf hashes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    terms: Vec<String>,
    indexes: Vec<u64>,
    leaves: Vec<[u8; 32]>,
    described: Vec<String>,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Interpret a query (see the module docs).
fn plan(q: &str, tree: u64) -> Result<Plan, ExplorerError> {
    let q = q.trim();
    if q.is_empty() {
        return Err(ExplorerError::bad_request(
            "empty query: give a log index, UUID, artifact digest, email or URI identity, key fingerprint or commit SHA",
        ));
    }
    let mut p = Plan::default();
    let lower = q.to_ascii_lowercase();
    if q.bytes().all(|b| b.is_ascii_digit()) {
        let i = q
            .parse::<u64>()
            .map_err(|_| ExplorerError::bad_request(format!("log index {q} is out of range")))?;
        p.indexes.push(i);
        p.described.push(format!("log index {i}"));
        return Ok(p);
    }
    if let Some((alg, _)) = lower.split_once(':')
        && ["sha1", "sha256", "sha384", "sha512"].contains(&alg)
    {
        let key = hash_search_key(&lower).map_err(|e| ExplorerError::bad_request(e.message()))?;
        p.described.push(format!("artifact digest {key}"));
        p.terms.push(key);
        return Ok(p);
    }
    if is_hex(&lower) {
        match lower.len() {
            40 => {
                // gitsign (online mode) logs SHA-256 over the commit ID's hex text.
                let d = hex::encode(HashKind::Sha256.digest(lower.as_bytes()));
                p.described.push(format!("commit SHA {lower}"));
                p.terms.push(format!("sha256:{d}"));
                p.described.push(format!("artifact digest sha1:{lower}"));
                p.terms.push(format!("sha1:{lower}"));
            }
            64 => {
                p.described.push(format!("artifact digest sha256:{lower}"));
                p.terms.push(format!("sha256:{lower}"));
                p.described.push(format!("public-key fingerprint {lower}"));
                p.terms.push(format!("key:{lower}"));
                if let Ok(Some(leaf)) = parse_entry_id(&lower, tree) {
                    p.described.push(format!("UUID {lower}"));
                    p.leaves.push(leaf);
                }
            }
            80 => {
                let leaf = parse_entry_id(&lower, tree)
                    .map_err(|e| ExplorerError::bad_request(e.message()))?;
                p.described.push(format!("entry ID {lower}"));
                p.leaves.extend(leaf);
            }
            96 | 128 => {
                let key =
                    hash_search_key(&lower).map_err(|e| ExplorerError::bad_request(e.message()))?;
                p.described.push(format!("artifact digest {key}"));
                p.terms.push(key);
            }
            n => {
                return Err(ExplorerError::bad_request(format!(
                    "{n} hex characters is no known key: a UUID, digest or key fingerprint has 64, a commit SHA 40, an entry ID 80"
                )));
            }
        }
        return Ok(p);
    }
    let id = q.to_lowercase();
    if id.contains('@') && !id.contains("://") {
        p.described.push(format!("email identity {id}"));
        p.terms.push(format!("email:{id}"));
    } else {
        p.described.push(format!("identity {id}"));
    }
    p.terms.push(format!("subject:{id}"));
    Ok(p)
}

fn signer_info(s: &Signer) -> SignerInfo {
    match s {
        Signer::PublicKey(spki) => SignerInfo {
            key_fingerprint: Some(hex::encode(HashKind::Sha256.digest(spki))),
            certificate: None,
            certificate_error: None,
        },
        Signer::Certificate(der) => match certificate_info(der) {
            Ok((fp, c)) => SignerInfo {
                key_fingerprint: Some(fp),
                certificate: Some(c),
                certificate_error: None,
            },
            Err(e) => SignerInfo {
                key_fingerprint: None,
                certificate: None,
                certificate_error: Some(e.to_string()),
            },
        },
    }
}

fn certificate_info(der: &[u8]) -> Result<(String, CertificateInfo), vouch_core::x509::CertError> {
    let cert = Certificate::from_der(der)?;
    let id = cert.fulcio_identity()?;
    let fp = hex::encode(HashKind::Sha256.digest(&cert.spki_der()?));
    let info = CertificateInfo {
        subject: cert.subject(),
        issuer: cert.issuer(),
        serial: cert.serial_hex(),
        not_before: cert.not_before().secs,
        not_after: cert.not_after().secs,
        sans: cert.subject_alt_names()?,
        oidc_issuer: id.issuer,
        extensions: id
            .extensions
            .into_iter()
            .map(|(arc, value)| FulcioExtension {
                oid: format!("1.3.6.1.4.1.57264.1.{arc}"),
                name: fulcio_extension_name(arc).to_string(),
                value,
            })
            .collect(),
        sha256: hex::encode(HashKind::Sha256.digest(der)),
    };
    Ok((fp, info))
}

/// The summary and signers of the entry at `index`; `None` beyond the checkpoint.
fn details<S: Storage>(
    log: &Log<S>,
    index: u64,
    size: u64,
) -> Result<Option<EntryDetails>, LogError> {
    if index >= size {
        return Ok(None);
    }
    let Some(body) = log.entry(index)? else {
        return Ok(None);
    };
    let leaf = leaf_hash(&body);
    let (kind, version, digest, signers) = match EntryInfo::parse(&body) {
        Ok(e) => (
            e.kind,
            e.version,
            e.digest,
            e.signers.iter().map(signer_info).collect(),
        ),
        // An entry kind the explorer does not decode is still listed.
        Err(_) => (String::new(), String::new(), None, Vec::new()),
    };
    let identity = signers.iter().find_map(|s: &SignerInfo| {
        s.certificate
            .as_ref()
            .and_then(|c| c.sans.first().cloned())
            .or_else(|| {
                s.key_fingerprint
                    .as_ref()
                    .map(|f| format!("key sha256:{f}"))
            })
    });
    Ok(Some(EntryDetails {
        hit: SearchHit {
            index,
            uuid: hex::encode(leaf),
            entry_id: entry_id(tree_id(&log.signer().log_id()), &leaf),
            kind,
            version,
            integrated_time: log.storage().integrated_time(index)?,
            identity,
        },
        digest,
        signers,
    }))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, ExplorerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ExplorerError::from_log(LogError::Blocking(std::sync::Arc::new(e))))?
        .map_err(ExplorerError::from_log)
}

/// Which page of a search to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cursor {
    First,
    Before(u64),
    After(u64),
}

/// The link to a page of the search for `q`.
fn page_link(q: &str, per_page: usize, cursor: Cursor) -> String {
    let mut url = reqwest::Url::parse("http://explorer/api/explorer/search")
        .unwrap_or_else(|_| unreachable!("a constant URL parses"));
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("q", q);
        pairs.append_pair("perPage", &per_page.to_string());
        match cursor {
            Cursor::First => {}
            Cursor::Before(i) => {
                pairs.append_pair("before", &i.to_string());
            }
            Cursor::After(i) => {
                pairs.append_pair("after", &i.to_string());
            }
        }
    }
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// One page of matches for `terms` and the `fixed` indexes, in a tree of `size` entries.
struct Page {
    /// Newest first.
    indexes: Vec<u64>,
    older: bool,
    /// Matches newer than the page's first one, counted up to [`COUNT_LIMIT`].
    newer: (usize, bool),
    total: (usize, bool),
}

fn search_page<S: Storage>(
    storage: &S,
    terms: &[String],
    fixed: &[u64],
    size: u64,
    per_page: usize,
    cursor: Cursor,
) -> Result<Page, LogError> {
    let matches = |range: std::ops::Range<u64>, newest_first: bool| {
        Matches::new(storage, terms, fixed, range, newest_first)
    };
    let newest = |end: u64| -> Result<(Vec<u64>, bool), LogError> {
        let mut page = matches(0..end.min(size), true).take(per_page + 1)?;
        let older = page.len() > per_page;
        page.truncate(per_page);
        Ok((page, older))
    };
    let (indexes, older, top) = match cursor {
        Cursor::First => {
            let (p, older) = newest(size)?;
            (p, older, true)
        }
        Cursor::Before(b) => {
            let (p, older) = newest(b)?;
            (p, older, false)
        }
        Cursor::After(a) => {
            let mut p = matches(a.saturating_add(1)..size, false).take(per_page + 1)?;
            if p.len() <= per_page {
                // Nothing newer than this page: it is the first page.
                let (p, older) = newest(size)?;
                (p, older, true)
            } else {
                p.truncate(per_page);
                p.reverse();
                let older = match p.last() {
                    Some(&last) => matches(0..last, true).peek()?.is_some(),
                    None => false,
                };
                (p, older, false)
            }
        }
    };
    let newer = if top {
        (0, true)
    } else {
        let from = match (indexes.first(), cursor) {
            (Some(&f), _) => f.saturating_add(1),
            (None, Cursor::Before(b)) => b,
            (None, _) => 0,
        };
        matches(from..size, false).count_up_to(COUNT_LIMIT)?
    };
    let total = matches(0..size, true).count_up_to(COUNT_LIMIT)?;
    Ok(Page {
        indexes,
        older,
        newer,
        total,
    })
}

async fn search<S: Storage>(
    State(log): State<Log<S>>,
    q: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ExplorerError> {
    let Query(q) = q.map_err(|e| ExplorerError::bad_request(e.body_text()))?;
    let per_page = q.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(ExplorerError::bad_request(format!(
            "perPage must be between 1 and {MAX_PER_PAGE}, got {per_page}"
        )));
    }
    if let Some(p) = &q.page {
        return Err(ExplorerError::bad_request(format!(
            "page={p} is not supported: pages are keyset cursors, before=<index> or after=<index>; follow the next and prev links of an answer"
        )));
    }
    let cursor = match (q.before, q.after) {
        (None, None) => Cursor::First,
        (Some(b), None) => Cursor::Before(b),
        (None, Some(a)) => Cursor::After(a),
        (Some(_), Some(_)) => {
            return Err(ExplorerError::bad_request(
                "give at most one of before and after",
            ));
        }
    };
    let plan = plan(&q.q, tree_id(&log.signer().log_id()))?;
    let searched_as = plan.described.clone();
    let size = log.checkpoint().size;
    let (page, results) = blocking(move || {
        let mut fixed: Vec<u64> = plan.indexes.clone();
        for leaf in &plan.leaves {
            fixed.extend(log.storage().lookup_leaf(leaf)?);
        }
        let page = search_page(log.storage(), &plan.terms, &fixed, size, per_page, cursor)?;
        let mut results = Vec::with_capacity(page.indexes.len());
        for &i in &page.indexes {
            if let Some(d) = details(&log, i, size)? {
                results.push(d.hit);
            }
        }
        Ok((page, results))
    })
    .await?;
    let next = match (page.older, page.indexes.last()) {
        (true, Some(&last)) => Some(page_link(&q.q, per_page, Cursor::Before(last))),
        _ => None,
    };
    let prev = match (page.newer.0 > 0, page.indexes.first()) {
        (false, _) => None,
        (true, Some(&first)) => Some(page_link(&q.q, per_page, Cursor::After(first))),
        (true, None) => Some(page_link(&q.q, per_page, Cursor::First)),
    };
    let first = (!results.is_empty() && page.newer.1).then_some(page.newer.0 + 1);
    Ok(axum::Json(SearchResults {
        query: q.q,
        searched_as,
        total: page.total.0,
        total_exact: page.total.1,
        first,
        per_page,
        results,
        next,
        prev,
    })
    .into_response())
}

async fn entry<S: Storage>(
    State(log): State<Log<S>>,
    index: Result<Path<u64>, PathRejection>,
) -> Result<Response, ExplorerError> {
    let Path(index) = index.map_err(|e| {
        ExplorerError::bad_request(format!(
            "log index must be a non-negative integer: {}",
            e.body_text()
        ))
    })?;
    let size = log.checkpoint().size;
    match blocking(move || details(&log, index, size)).await? {
        Some(d) => Ok(axum::Json(d).into_response()),
        None => Err(ExplorerError {
            status: StatusCode::NOT_FOUND,
            message: format!("no entry at log index {index}: the log has {size} entries"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{CommitBatch, EmbeddedStorage, EntryRecord, StoredCheckpoint};

    #[test]
    #[allow(clippy::unwrap_used)]
    fn pages_past_the_count_limit() {
        // COUNT_LIMIT + 50 entries of one identity, and one of another at index 5.
        let n = (COUNT_LIMIT + 50) as u64;
        let dir = tempfile::tempdir().unwrap();
        let s = EmbeddedStorage::open(dir.path()).unwrap();
        let entries = (0..n)
            .map(|i| {
                let mut leaf_hash = [0; 32];
                leaf_hash[..8].copy_from_slice(&i.to_be_bytes());
                let term = if i == 5 {
                    "subject:other"
                } else {
                    "subject:ci"
                };
                EntryRecord {
                    leaf_hash,
                    integrated_time: 0,
                    search_keys: vec![term.to_string()],
                }
            })
            .collect();
        s.commit(&CommitBatch {
            first_index: 0,
            entries,
            tiles: vec![],
            entry_bundles: vec![],
            checkpoint: StoredCheckpoint {
                size: n,
                root: [0; 32],
                note: String::new(),
            },
        })
        .unwrap();
        let ci = vec!["subject:ci".to_string()];
        let page = |cursor| search_page(&s, &ci, &[], n, 100, cursor).unwrap();
        // First page: newest first; the total is capped and says so.
        let p = page(Cursor::First);
        assert_eq!(p.indexes, (n - 100..n).rev().collect::<Vec<_>>());
        assert_eq!(p.total, (COUNT_LIMIT, false));
        assert_eq!(p.newer, (0, true));
        assert!(p.older);
        // Deep in: the position is exact while fewer than COUNT_LIMIT are newer.
        let p = page(Cursor::Before(n - 500));
        assert_eq!(p.indexes.first(), Some(&(n - 501)));
        assert_eq!(p.newer, (500, true));
        // Past COUNT_LIMIT newer matches: still paged, position unknown.
        let p = page(Cursor::Before(20));
        assert_eq!(
            p.indexes,
            vec![
                19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 4, 3, 2, 1, 0
            ]
        );
        assert!(!p.older);
        assert_eq!(p.newer, (COUNT_LIMIT, false));
        // Newer from the oldest page: the 100 matches above it, listed newest first.
        let p = page(Cursor::After(19));
        assert_eq!(p.indexes, (20..120).rev().collect::<Vec<_>>());
        assert!(p.older);
        // Newer that reaches the newest match is the first page.
        let p = page(Cursor::After(n - 50));
        assert_eq!(p.indexes.first(), Some(&(n - 1)));
        assert_eq!(p.indexes.len(), 100);
        assert_eq!(p.newer, (0, true));
        // Another identity, a fixed index and nothing at all.
        let other = vec!["subject:other".to_string()];
        let p = search_page(&s, &other, &[7], n, 100, Cursor::First).unwrap();
        assert_eq!((p.indexes, p.total), (vec![7, 5], (2, true)));
        let p = search_page(&s, &ci, &[], n, 100, Cursor::Before(0)).unwrap();
        assert!(p.indexes.is_empty() && !p.older);
        let link = page_link("a b&c", 20, Cursor::Before(7));
        assert_eq!(link, "/api/explorer/search?q=a+b%26c&perPage=20&before=7");
    }

    #[test]
    fn plans() {
        let p = plan("42", 1).unwrap();
        assert_eq!(p.indexes, vec![42]);
        let h = "ab".repeat(32);
        let p = plan(&h.to_uppercase(), 1).unwrap();
        assert_eq!(p.terms, vec![format!("sha256:{h}"), format!("key:{h}")]);
        assert_eq!(p.leaves, vec![[0xab; 32]]);
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let p = plan(commit, 1).unwrap();
        assert_eq!(
            p.terms[0],
            format!(
                "sha256:{}",
                hex::encode(HashKind::Sha256.digest(commit.as_bytes()))
            )
        );
        let p = plan(" Alice@Example.com ", 1).unwrap();
        assert_eq!(
            p.terms,
            vec!["email:alice@example.com", "subject:alice@example.com"]
        );
        let p = plan(
            "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main",
            1,
        )
        .unwrap();
        assert_eq!(
            p.terms,
            vec!["subject:https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"]
        );
        assert!(plan("", 1).is_err());
        assert!(plan("abcd", 1).is_err());
        assert!(plan("sha256:abcd", 1).is_err());
        let id = format!("{:016x}{h}", 7);
        assert_eq!(plan(&id, 7).unwrap().leaves, vec![[0xab; 32]]);
        assert!(plan(&id, 8).unwrap().leaves.is_empty());
    }
}
