//! HTTP API of the proxy: the C2SP tlog-tiles read API (`/checkpoint`, `/tile/…`, also under
//! `/api/v2/`), proofs (`/proof?index=N`, in `c2sp.org/tlog-proof@v1` or, with
//! `&format=sigstore`, as a Sigstore `InclusionProof`), the Rekor v1 read endpoints v2 dropped
//! (`/api/v1/log`, `/api/v1/log/proof`), `/healthz` and `/metrics`.
//!
//! While the upstream fails, answers come from the cache with `X-Vouch-Stale: <seconds>` (the
//! time since the upstream last confirmed the checkpoint) and `Warning: 110 - "Response is
//! Stale"`; past `--max-stale` they are refused with 503.

use crate::ProxyError;
use crate::proxy::{Freshness, Proxy, Served};
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;
use vouch_core::bundle::{Checkpoint, InclusionProof};
use vouch_core::encoding::{Base64Bytes, Int64};
use vouch_core::rekor::{ConsistencyProof, LogInfo, tree_id};
use vouch_core::tiles::parse_tile_path;
use vouch_core::tlog_proof::{self, TlogProof};

/// The header carrying the age of a stale checkpoint, in seconds.
pub const STALE_HEADER: &str = "x-vouch-stale";

/// An error answer: `{"code": <HTTP status>, "message": "…"}`, the shape of Rekor v1's errors.
pub use vouch_core::http_error::StatusBody as ErrorBody;

/// A proxy error as an HTTP answer.
#[derive(Debug)]
pub struct ApiError(pub ProxyError);

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            ProxyError::NotFound(_) | ProxyError::Task { .. } => StatusCode::NOT_FOUND,
            ProxyError::BadRequest(_) | ProxyError::Proof(_) => StatusCode::BAD_REQUEST,
            ProxyError::NoCheckpoint | ProxyError::TooStale { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::Fs(_)
            | ProxyError::Corrupt { .. }
            | ProxyError::CorruptCheckpoint { .. }
            | ProxyError::CorruptTile { .. }
            | ProxyError::LogKey(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_GATEWAY,
        };
        let body = ErrorBody {
            code: status.as_u16(),
            message: self.0.to_string(),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

/// The router of a proxy.
pub fn router(proxy: Proxy) -> Router {
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/api/v2/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/api/v2/tile/{*path}", get(tile))
        .route("/proof", get(proof))
        .route("/api/v1/log", get(log_info))
        .route("/api/v1/log/proof", get(consistency))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(proxy)
}

/// Headers every answer derived from the served checkpoint carries.
fn headers(fresh: &Freshness, content_type: &'static str, cache: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Freshness::Stale { age_secs, .. } = fresh {
        if let Ok(v) = HeaderValue::from_str(&age_secs.to_string()) {
            h.insert(STALE_HEADER, v);
        }
        h.insert(
            header::WARNING,
            HeaderValue::from_static("110 - \"Response is Stale\""),
        );
    }
    h
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";
const NO_CACHE: &str = "no-cache";

async fn checkpoint(State(p): State<Proxy>) -> Result<Response, ApiError> {
    let (served, fresh) = p.serving()?;
    Ok((
        StatusCode::OK,
        headers(&fresh, TEXT, NO_CACHE),
        served.note.clone(),
    )
        .into_response())
}

async fn tile(State(p): State<Proxy>, Path(path): Path<String>) -> Result<Response, ApiError> {
    let full = format!("tile/{path}");
    let (id, entries) = parse_tile_path(&full)
        .ok_or_else(|| ProxyError::NotFound(format!("no such tile path {full}")))?;
    // Tiles are immutable and verified: they are served even past --max-stale.
    let (served, fresh) = match p.serving() {
        Ok(s) => s,
        Err(ProxyError::TooStale { .. }) => match p.current() {
            Some(s) => (
                s,
                Freshness::Stale {
                    age_secs: p.age_secs().unwrap_or(u64::MAX),
                    last_error: String::new(),
                },
            ),
            None => return Err(ProxyError::NoCheckpoint.into()),
        },
        Err(e) => return Err(e.into()),
    };
    let (bytes, hit) = if entries {
        p.entry_bundle(&served, id).await?
    } else {
        p.hash_tile(&served, id).await?
    };
    p.metrics()
        .lookup(if entries { "entries" } else { "tile" }, hit);
    Ok((
        StatusCode::OK,
        headers(
            &fresh,
            "application/octet-stream",
            "public, max-age=31536000, immutable",
        ),
        bytes,
    )
        .into_response())
}

fn params(
    q: Result<Query<std::collections::HashMap<String, String>>, QueryRejection>,
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    q.map(|Query(m)| m)
        .map_err(|r| ProxyError::BadRequest(r.body_text()).into())
}

fn parse_u64(
    p: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<u64>, ApiError> {
    p.get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ProxyError::BadRequest(format!("{name} must be a non-negative integer, got {v:?}"))
                    .into()
            })
        })
        .transpose()
}

async fn proof(
    State(p): State<Proxy>,
    q: Result<Query<std::collections::HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let q = params(q)?;
    let index = parse_u64(&q, "index")?
        .ok_or_else(|| ProxyError::BadRequest("index is required: /proof?index=N".into()))?;
    let sigstore = match q.get("format").map(String::as_str) {
        None | Some("tlog-proof") => false,
        Some("sigstore") => true,
        Some(f) => {
            return Err(ProxyError::BadRequest(format!(
                "unknown format {f:?}: use tlog-proof (the default) or sigstore"
            ))
            .into());
        }
    };
    let (served, fresh) = p.serving()?;
    let (hashes, hit) = p.inclusion(&served, index).await?;
    p.metrics().lookup("proof", hit);
    let resp = if sigstore {
        let body = sigstore_proof(&served, index, &hashes);
        (
            StatusCode::OK,
            headers(&fresh, JSON, NO_CACHE),
            axum::Json(body),
        )
            .into_response()
    } else {
        let body = TlogProof {
            extra: None,
            index,
            hashes,
            checkpoint: served.note.clone(),
        }
        .to_text();
        (
            StatusCode::OK,
            headers(&fresh, tlog_proof::MEDIA_TYPE, NO_CACHE),
            body,
        )
            .into_response()
    };
    p.metrics().proof(
        if sigstore { "sigstore" } else { "tlog-proof" },
        started.elapsed().as_secs_f64(),
    );
    Ok(resp)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The Sigstore `InclusionProof` for `index` against the served checkpoint.
fn sigstore_proof(served: &Arc<Served>, index: u64, hashes: &[[u8; 32]]) -> InclusionProof {
    InclusionProof {
        log_index: Int64(to_i64(index)),
        root_hash: Base64Bytes(served.checkpoint.root_hash.to_vec()),
        tree_size: Int64(to_i64(served.size())),
        hashes: hashes.iter().map(|h| Base64Bytes(h.to_vec())).collect(),
        checkpoint: Some(Checkpoint {
            envelope: served.note.clone(),
        }),
    }
}

async fn log_info(State(p): State<Proxy>) -> Result<Response, ApiError> {
    let (served, fresh) = p.serving()?;
    let log_id = p.log_id().ok_or(ProxyError::NoCheckpoint)?;
    let info = LogInfo {
        root_hash: hex::encode(served.checkpoint.root_hash),
        tree_size: served.size(),
        signed_tree_head: served.note.clone(),
        tree_id: tree_id(&log_id).to_string(),
    };
    Ok((
        StatusCode::OK,
        headers(&fresh, JSON, NO_CACHE),
        axum::Json(info),
    )
        .into_response())
}

async fn consistency(
    State(p): State<Proxy>,
    q: Result<Query<std::collections::HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let q = params(q)?;
    let first = parse_u64(&q, "firstSize")?.unwrap_or(1);
    let last = parse_u64(&q, "lastSize")?
        .ok_or_else(|| ProxyError::BadRequest("lastSize is required".into()))?;
    if first < 1 || first > last {
        return Err(ProxyError::BadRequest(format!(
            "firstSize({first}) must be at least 1 and at most lastSize({last})"
        ))
        .into());
    }
    let (served, fresh) = p.serving()?;
    let (hashes, root) = p.consistency(&served, first, last).await?;
    let body = ConsistencyProof {
        root_hash: hex::encode(root),
        hashes: hashes.iter().map(hex::encode).collect(),
    };
    p.metrics()
        .proof("consistency", started.elapsed().as_secs_f64());
    Ok((
        StatusCode::OK,
        headers(&fresh, JSON, NO_CACHE),
        axum::Json(body),
    )
        .into_response())
}

/// `/healthz`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`, `stale` (serving from the cache) or `failing` (refusing: no checkpoint, or past
    /// `--max-stale`).
    pub status: String,
    /// The served tree size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    /// Seconds since the upstream last confirmed the served checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_age_seconds: Option<u64>,
    /// The upstream's URL.
    pub upstream: String,
    /// The last refresh failure, if the upstream is failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

async fn healthz(State(p): State<Proxy>) -> Response {
    let (failing, last_error) = p.upstream_status();
    let (status, code) = match p.serving() {
        Ok((_, Freshness::Fresh)) => ("ok", StatusCode::OK),
        Ok((_, Freshness::Stale { .. })) => ("stale", StatusCode::OK),
        Err(_) => ("failing", StatusCode::SERVICE_UNAVAILABLE),
    };
    let h = Health {
        status: status.into(),
        tree_size: p.current().map(|s| s.size()),
        checkpoint_age_seconds: p.age_secs(),
        upstream: p.upstream().to_string(),
        last_error: if failing { last_error } else { None },
    };
    (code, axum::Json(h)).into_response()
}

async fn metrics(State(p): State<Proxy>) -> Response {
    if let Some(age) = p.age_secs() {
        p.metrics().checkpoint_age.set(age as f64);
    }
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    (StatusCode::OK, h, p.metrics().encode()).into_response()
}
