//! HTTP APIs: Rekor v2 write (`POST /api/v2/log/entries`), C2SP tlog-tiles read
//! (`/checkpoint`, `/tile/…`, also under `/api/v2/`), `/healthz` and `/metrics`.
//!
//! Handlers are thin: validation lives in [`crate::entries`], sequencing in [`crate::Log`].
//! Errors are JSON. Rekor v2 errors use the grpc-gateway shape upstream clients parse:
//! `{"code": <gRPC code>, "message": "…", "details": []}`.

use crate::entries::{CreateEntryRequest, prepare_v2};
use crate::storage::Storage;
use crate::{Integrated, Log, LogError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use vouch_core::bundle::{Checkpoint, InclusionProof, KindVersion, LogId, TransparencyLogEntry};
use vouch_core::encoding::{Base64Bytes, Int64};
use vouch_core::tiles::parse_tile_path;

/// Largest request body accepted.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// An API error with its HTTP status and JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    grpc_code: u16,
    message: String,
    log_index: Option<u64>,
}

impl ApiError {
    /// Map an engine error to its HTTP status and gRPC code.
    pub fn from_log(e: LogError) -> Self {
        let (status, grpc_code, log_index) = match &e {
            LogError::InvalidArgument(_) | LogError::BadProofRequest(_) => {
                (StatusCode::BAD_REQUEST, 3, None)
            }
            LogError::AlreadyExists(i) => (StatusCode::CONFLICT, 6, Some(*i)),
            LogError::NotFound(_) => (StatusCode::NOT_FOUND, 5, None),
            LogError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, 3, None),
            e if e.is_unavailable() => (StatusCode::SERVICE_UNAVAILABLE, 14, None),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, 13, None),
        };
        Self {
            status,
            grpc_code,
            message: e.to_string(),
            log_index,
        }
    }

    fn bad_request(msg: impl Into<String>) -> Self {
        Self::from_log(LogError::InvalidArgument(msg.into()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = vouch_core::fulcio::ErrorBody {
            code: i32::from(self.grpc_code),
            message: self.message,
            details: Vec::new(),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(i) = self.log_index
            && let Ok(v) = HeaderValue::from_str(&i.to_string())
        {
            resp.headers_mut().insert("x-log-index", v);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// The router for a log.
pub fn router<S: Storage>(log: Log<S>) -> Router {
    Router::new()
        .route("/api/v2/log/entries", post(create_entry::<S>))
        .route("/checkpoint", get(checkpoint::<S>))
        .route("/api/v2/checkpoint", get(checkpoint::<S>))
        .route("/tile/{*path}", get(tile::<S>))
        .route("/api/v2/tile/{*path}", get(tile::<S>))
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics::<S>))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(log.clone())
        .merge(crate::explorer::router(log.clone()))
        .merge(crate::v1::router(log))
}

/// The protojson `TransparencyLogEntry` Rekor v2 answers with.
pub fn transparency_log_entry<S: Storage>(
    log: &Log<S>,
    i: &Integrated,
    kind: &str,
    version: &str,
) -> TransparencyLogEntry {
    let index = i64::try_from(i.index).unwrap_or(i64::MAX);
    TransparencyLogEntry {
        log_index: Int64(index),
        log_id: Some(LogId {
            key_id: Base64Bytes(log.signer().log_id().to_vec()),
        }),
        kind_version: Some(KindVersion {
            kind: kind.into(),
            version: version.into(),
        }),
        integrated_time: Int64(0),
        inclusion_promise: None,
        inclusion_proof: Some(InclusionProof {
            log_index: Int64(index),
            root_hash: Base64Bytes(i.checkpoint.root.to_vec()),
            tree_size: Int64(i64::try_from(i.checkpoint.size).unwrap_or(i64::MAX)),
            hashes: i.proof.iter().map(|h| Base64Bytes(h.to_vec())).collect(),
            checkpoint: Some(Checkpoint {
                envelope: i.checkpoint.note.clone(),
            }),
        }),
        canonicalized_body: Base64Bytes(i.body.clone()),
    }
}

async fn create_entry<S: Storage>(
    State(log): State<Log<S>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: CreateEntryRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid request JSON: {e}")))?;
    let entry = prepare_v2(&req).map_err(|e| {
        log.metrics().rejected("invalid");
        ApiError::from_log(e)
    })?;
    let (kind, version) = (entry.kind, entry.version);
    let integrated = log.submit(entry).await.map_err(ApiError::from_log)?;
    let tle = transparency_log_entry(&log, &integrated, kind, version);
    Ok((StatusCode::CREATED, axum::Json(tle)).into_response())
}

async fn checkpoint<S: Storage>(State(log): State<Log<S>>) -> Response {
    let cp = log.checkpoint();
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (StatusCode::OK, h, cp.note).into_response()
}

async fn tile<S: Storage>(
    State(log): State<Log<S>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let full = format!("tile/{path}");
    let (id, entries) = parse_tile_path(&full).ok_or_else(|| {
        ApiError::from_log(LogError::NotFound(format!("no such tile path {full}")))
    })?;
    let data = tokio::task::spawn_blocking(move || log.read_tile(&id, entries))
        .await
        .map_err(|e| ApiError::from_log(LogError::Blocking(std::sync::Arc::new(e))))?
        .map_err(ApiError::from_log)?
        .ok_or_else(|| {
            ApiError::from_log(LogError::NotFound(format!(
                "{full} is beyond the current checkpoint"
            )))
        })?;
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // A tile path (full or .p/W) always names the same bytes.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok((StatusCode::OK, h, data).into_response())
}

/// The `/healthz` answer: the log is up, and the size of its current checkpoint.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    tree_size: u64,
}

async fn healthz<S: Storage>(State(log): State<Log<S>>) -> Response {
    let cp = log.checkpoint();
    axum::Json(Health {
        status: "ok",
        tree_size: cp.size,
    })
    .into_response()
}

async fn metrics<S: Storage>(State(log): State<Log<S>>) -> Response {
    metrics_response(&log)
}

/// The `/metrics` answer of a log (also served by its CT personality).
pub(crate) fn metrics_response<S: Storage>(log: &Log<S>) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    (StatusCode::OK, h, log.metrics().encode()).into_response()
}
