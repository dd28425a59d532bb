//! Routes: `POST /validate`, `POST /mutate`, `POST /prefetch`, `GET /healthz`, `GET /metrics`.
//!
//! Handlers are thin: read the body (bounded), call [`Webhook`], serialize. A body the webhook
//! cannot answer gets a 400 with a JSON [`ErrorBody`], never a crash.

use crate::decider::ImageDecider;
use crate::limits::MAX_REVIEW_BYTES;
use crate::review::{ReviewError, review_json};
use crate::webhook::{Answer, PrefetchRequest, Webhook};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Bodies up to this size are read to the end before a too-large body is refused, so that
/// the client reads the 400 instead of a reset connection.
pub const MAX_DRAINED_BODY: usize = 16 << 20;

/// The JSON body of every 4xx/5xx answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// What was wrong.
    pub error: String,
}

/// A refusal with its status, as a response.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    error: String,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody { error: self.error }).unwrap_or_default();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

impl From<ReviewError> for Rejection {
    fn from(e: ReviewError) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            error: e.to_string(),
        }
    }
}

/// The router over `webhook`.
pub fn router<D: ImageDecider>(webhook: Arc<Webhook<D>>) -> Router {
    Router::new()
        .route("/validate", post(validate::<D>))
        .route("/mutate", post(mutate::<D>))
        .route("/prefetch", post(prefetch::<D>))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::<D>))
        .with_state(webhook)
}

async fn read_json(headers: &HeaderMap, body: Body) -> Result<Bytes, Rejection> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(Rejection {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error: format!("expected Content-Type application/json, got {ct:?}"),
        });
    }
    let bytes = axum::body::to_bytes(body, MAX_DRAINED_BODY)
        .await
        .map_err(|source| {
            // Over the drain limit (or a broken body): refuse without reading further.
            let _ = source;
            ReviewError::TooLarge {
                limit: MAX_REVIEW_BYTES,
            }
        })?;
    if bytes.len() > MAX_REVIEW_BYTES {
        return Err(ReviewError::TooLarge {
            limit: MAX_REVIEW_BYTES,
        }
        .into());
    }
    Ok(bytes)
}

fn answer<D: ImageDecider>(
    webhook: &Webhook<D>,
    endpoint: &str,
    result: Result<Answer, ReviewError>,
) -> Response {
    let response = match result {
        Ok(a) => match review_json(a.response) {
            Ok(body) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response(),
            Err(e) => Rejection {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: format!("cannot serialize the AdmissionReview: {e}"),
            }
            .into_response(),
        },
        Err(e) => {
            tracing::warn!(endpoint, "refused a request: {e}");
            Rejection::from(e).into_response()
        }
    };
    webhook
        .metrics()
        .request(endpoint, response.status().as_u16());
    response
}

async fn validate<D: ImageDecider>(
    State(w): State<Arc<Webhook<D>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_json(&headers, body).await {
        Ok(bytes) => answer(&w, "validate", w.validate(&bytes).await),
        Err(r) => {
            let r = r.into_response();
            w.metrics().request("validate", r.status().as_u16());
            r
        }
    }
}

async fn mutate<D: ImageDecider>(
    State(w): State<Arc<Webhook<D>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_json(&headers, body).await {
        Ok(bytes) => answer(&w, "mutate", w.mutate(&bytes).await),
        Err(r) => {
            let r = r.into_response();
            w.metrics().request("mutate", r.status().as_u16());
            r
        }
    }
}

async fn prefetch<D: ImageDecider>(
    State(w): State<Arc<Webhook<D>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_json(&headers, body).await?;
        let req: PrefetchRequest = serde_json::from_slice(&bytes).map_err(|e| Rejection {
            status: StatusCode::BAD_REQUEST,
            error: format!("malformed prefetch request: {e}"),
        })?;
        let resp = w.prefetch(req).await?;
        serde_json::to_vec(&resp).map_err(|e| Rejection {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: format!("cannot serialize the prefetch answer: {e}"),
        })
    }
    .await;
    let r = match result {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(r) => r.into_response(),
    };
    w.metrics().request("prefetch", r.status().as_u16());
    r
}

async fn metrics<D: ImageDecider>(State(w): State<Arc<Webhook<D>>>) -> Response {
    w.update_gauges();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        w.metrics().encode(),
    )
        .into_response()
}
