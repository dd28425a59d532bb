//! The HTTP interface (C2SP tlog-witness): `POST /add-checkpoint` at the submission prefix,
//! `GET /<hex SHA-256(origin)>/checkpoint` at the monitoring prefix (the same base URL), plus
//! `/healthz` and `/metrics`.

use crate::error::AddCheckpointError;
use crate::service::Witness;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;
use vouch_core::witness::{MAX_ADD_CHECKPOINT_LEN, TLOG_SIZE_CONTENT_TYPE, tlog_size_body};

const TEXT: &str = "text/plain; charset=utf-8";

/// Outcome label of an `add-checkpoint` request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// `cosigned`, `malformed`, `unknown_log`, `bad_signature`, `conflict`, `inconsistent`,
    /// `too_large` or `error`.
    pub outcome: String,
}

/// Label of a per-log gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LogLabel {
    /// The log's origin.
    pub origin: String,
}

/// The witness's Prometheus metrics.
pub struct Metrics {
    registry: Registry,
    /// `add-checkpoint` requests by outcome.
    pub requests: Family<Outcome, Counter>,
    /// Latency of `add-checkpoint` (seconds), all outcomes.
    pub latency: Histogram,
    /// Latest cosigned tree size per log.
    pub tree_size: Family<LogLabel, Gauge>,
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
        let mut registry = Registry::with_prefix("vouch_witness");
        let requests = Family::<Outcome, Counter>::default();
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        let tree_size = Family::<LogLabel, Gauge>::default();
        registry.register(
            "add_checkpoint_requests",
            "add-checkpoint requests by outcome",
            requests.clone(),
        );
        registry.register(
            "add_checkpoint_duration_seconds",
            "Time to answer add-checkpoint (cosigning and the durable write included)",
            latency.clone(),
        );
        registry.register(
            "cosigned_tree_size",
            "Latest cosigned tree size per log",
            tree_size.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            tree_size,
        }
    }

    fn record(&self, outcome: &str, started: Instant) {
        self.requests
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
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

struct AppState {
    witness: Arc<Witness>,
    metrics: Metrics,
}

/// The router of a witness.
pub fn router(witness: Arc<Witness>) -> Router {
    let metrics = Metrics::new();
    for o in witness.origins() {
        if let Some(size) = witness.latest_size(o) {
            metrics
                .tree_size
                .get_or_create(&LogLabel {
                    origin: o.to_string(),
                })
                .set(i64::try_from(size).unwrap_or(i64::MAX));
        }
    }
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(monitoring_checkpoint))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_handler))
        .layer(DefaultBodyLimit::max(MAX_ADD_CHECKPOINT_LEN))
        .with_state(Arc::new(AppState { witness, metrics }))
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT))],
        body,
    )
        .into_response()
}

fn refusal(e: &AddCheckpointError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match e {
        AddCheckpointError::Conflict { latest, .. } => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(TLOG_SIZE_CONTENT_TYPE),
            )],
            tlog_size_body(*latest),
        )
            .into_response(),
        AddCheckpointError::Internal(_) => text(status, "internal error\n".into()),
        e => text(status, format!("{e}\n")),
    }
}

async fn add_checkpoint(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            st.metrics.record(
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "too_large"
                } else {
                    "malformed"
                },
                started,
            );
            return text(
                status,
                format!("cannot read the request body: {rejection}\n"),
            );
        }
    };
    let w = st.witness.clone();
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body)).await;
    match result {
        Ok(Ok(c)) => {
            st.metrics.record("cosigned", started);
            st.metrics
                .tree_size
                .get_or_create(&LogLabel { origin: c.origin })
                .set(i64::try_from(c.size).unwrap_or(i64::MAX));
            text(StatusCode::OK, c.lines)
        }
        Ok(Err(e)) => {
            st.metrics.record(e.outcome(), started);
            if let AddCheckpointError::Internal(inner) = &e {
                tracing::error!(error = %inner, "add-checkpoint failed");
            } else {
                tracing::info!(status = e.status(), error = %e, "add-checkpoint refused");
            }
            refusal(&e)
        }
        Err(join) => {
            st.metrics.record("error", started);
            tracing::error!(error = %join, "add-checkpoint task failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into())
        }
    }
}

async fn monitoring_checkpoint(
    State(st): State<Arc<AppState>>,
    Path(origin_hash): Path<String>,
) -> Response {
    match st.witness.latest_by_origin_hash(&origin_hash) {
        Some(note) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(TEXT)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            note,
        )
            .into_response(),
        None => text(
            StatusCode::NOT_FOUND,
            "no cosigned checkpoint for this origin\n".into(),
        ),
    }
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".into())
}

async fn metrics_handler(State(st): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        st.metrics.encode(),
    )
        .into_response()
}
