//! HTTP API compatible with sigstore/timestamp-authority (protocols.md §12.1):
//! `POST /api/v1/timestamp`, `GET /api/v1/timestamp/certchain`, plus `/healthz` and `/metrics`.
//!
//! Errors are JSON `{"code": <HTTP status>, "message": "…"}`.

use crate::TsaError;
use crate::request::{MAX_DER_REQUEST_BYTES, MAX_JSON_REQUEST_BYTES};
use crate::service::TsaService;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

/// Media type of a DER `TimeStampReq`.
pub const TIMESTAMP_QUERY: &str = "application/timestamp-query";
/// Media type of a DER `TimeStampResp`.
pub const TIMESTAMP_REPLY: &str = "application/timestamp-reply";
/// Media type of the PEM certificate chain.
pub const PEM_CHAIN: &str = "application/pem-certificate-chain";

/// Largest request body read at all (larger bodies get 413).
pub const MAX_BODY_BYTES: usize = MAX_DER_REQUEST_BYTES;

/// Outcome label of a timestamp request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// `issued`, `bad_request`, `unsupported_media_type`, `too_large` or `error`.
    pub outcome: String,
    /// `der` or `json` (`other` for unsupported media types).
    pub format: String,
}

/// The TSA's Prometheus metrics.
pub struct Metrics {
    registry: Registry,
    /// Timestamp requests by outcome and request format.
    pub requests: Family<Outcome, Counter>,
    /// Latency of timestamp requests (seconds), all outcomes.
    pub latency: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Create and register all metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vouch_tsa");
        let requests = Family::<Outcome, Counter>::default();
        // 50 µs … ~1.6 s.
        let latency = Histogram::new(exponential_buckets(0.00005, 2.0, 16));
        registry.register(
            "timestamp_requests",
            "Timestamp requests by outcome and format",
            requests.clone(),
        );
        registry.register(
            "timestamp_request_duration_seconds",
            "Time to answer a timestamp request",
            latency.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    fn record(&self, outcome: &str, format: &str, started: Instant) {
        self.requests
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
                format: format.to_string(),
            })
            .inc();
        self.latency.observe(started.elapsed().as_secs_f64());
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = vouch_core::http_error::StatusBody {
        code: status.as_u16(),
        message: message.into(),
    };
    (status, axum::Json(body)).into_response()
}

/// The router of a TSA.
pub fn router(service: Arc<TsaService>) -> Router {
    Router::new()
        .route("/api/v1/timestamp", post(timestamp))
        .route("/api/v1/timestamp/certchain", get(certchain))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Der,
    Json,
}

fn request_format(headers: &HeaderMap) -> Option<Format> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case(TIMESTAMP_QUERY) {
        Some(Format::Der)
    } else if media.eq_ignore_ascii_case("application/json") {
        Some(Format::Json)
    } else {
        None
    }
}

async fn timestamp(
    State(svc): State<Arc<TsaService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let m = svc.metrics();
    let Some(format) = request_format(&headers) else {
        m.record("unsupported_media_type", "other", started);
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be {TIMESTAMP_QUERY} or application/json"),
        );
    };
    let fname = match format {
        Format::Der => "der",
        Format::Json => "json",
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let outcome = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            };
            m.record(outcome, fname, started);
            return json_error(status, format!("cannot read the request body: {rejection}"));
        }
    };
    if format == Format::Json && body.len() > MAX_JSON_REQUEST_BYTES {
        m.record("too_large", fname, started);
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "JSON request is {} bytes, more than {MAX_JSON_REQUEST_BYTES}",
                body.len()
            ),
        );
    }
    let result = match format {
        Format::Der => svc.timestamp_der(&body),
        Format::Json => svc.timestamp_json(&body),
    };
    match result {
        Ok(der) => {
            m.record("issued", fname, started);
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(TIMESTAMP_REPLY),
                )],
                der,
            )
                .into_response()
        }
        Err(TsaError::Request(e)) => {
            m.record("bad_request", fname, started);
            json_error(StatusCode::BAD_REQUEST, e.0)
        }
        Err(e) => {
            m.record("error", fname, started);
            tracing::error!(error = %e, "timestamp issuance failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error issuing the timestamp",
            )
        }
    }
}

async fn certchain(State(svc): State<Arc<TsaService>>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(PEM_CHAIN))],
        svc.chain_pem().to_string(),
    )
        .into_response()
}

async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

async fn metrics(State(svc): State<Arc<TsaService>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        svc.metrics().encode(),
    )
        .into_response()
}
