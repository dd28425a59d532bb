//! Request logging: one span per request carrying the service, method, path, peer and the W3C
//! trace ID (taken from the caller's `traceparent` when valid, else new), and one
//! `target: "vouch::access"` event per response with its status and latency.
//!
//! The span and its events are off unless the subscriber enables the `vouch::access` target
//! (the `vouch` binary's `--log-requests`, or its OpenTelemetry exporter), because a busy log
//! answers thousands of requests a second; when off, they cost nothing. When on, every other
//! event emitted while the request is handled carries the span's fields, so an error logged by
//! a handler names the trace it belongs to.
//!
//! With the `otlp` feature and an OpenTelemetry layer installed, the span is parented on the
//! caller's `traceparent` and the logged `trace_id` is the exported trace's.

use axum::http::{Request, Response};
use std::net::SocketAddr;
use std::time::Duration;
use tower_http::trace::MakeSpan;
use tracing::Span;
use vouch_core::trace::TraceParent;

/// The target of the per-request access events.
pub const ACCESS_TARGET: &str = "vouch::access";

/// Builds the per-request span for one service.
#[derive(Clone, Debug)]
pub(crate) struct RequestSpan {
    pub(crate) service: String,
}

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, req: &Request<B>) -> Span {
        let span = tracing::info_span!(
            target: "vouch::access",
            "request",
            service = %self.service,
            method = %req.method(),
            path = %req.uri().path(),
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            peer = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            parent_span_id = tracing::field::Empty,
        );
        if span.is_disabled() {
            return span;
        }
        if let Some(peer) = req
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
        {
            span.record("peer", tracing::field::display(peer.0));
        }
        let parent = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| TraceParent::parse(v).ok());
        if let Some(p) = &parent {
            span.record("parent_span_id", p.span_id_hex().as_str());
        }
        let name = format!("{} {}", req.method(), req.uri().path());
        let trace_id = otel::join(&span, &name, parent.as_ref())
            .or_else(|| parent.map(|p| p.trace_id_hex()))
            .unwrap_or_else(|| TraceParent::new_root().trace_id_hex());
        span.record("trace_id", trace_id.as_str());
        span
    }
}

/// The access event for a finished response.
pub(crate) fn on_response<B>(res: &Response<B>, latency: Duration, span: &Span) {
    span.record("http.response.status_code", res.status().as_u16());
    tracing::info!(
        target: "vouch::access",
        status = res.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request"
    );
}

#[cfg(feature = "otlp")]
pub use otel::remote_context;

#[cfg(feature = "otlp")]
mod otel {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing::Span;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use vouch_core::trace::TraceParent;

    /// An OpenTelemetry context whose remote parent is `p` (a received `traceparent`).
    pub fn remote_context(p: &TraceParent) -> opentelemetry::Context {
        let remote = SpanContext::new(
            TraceId::from_bytes(p.trace_id),
            SpanId::from_bytes(p.span_id),
            TraceFlags::new(p.flags),
            true,
            TraceState::default(),
        );
        opentelemetry::Context::new().with_remote_span_context(remote)
    }

    /// Name the span for OpenTelemetry, parent it on the caller's trace, and return the
    /// exported trace ID (None when no OpenTelemetry layer records the span).
    pub(super) fn join(span: &Span, name: &str, parent: Option<&TraceParent>) -> Option<String> {
        span.record("otel.kind", "server");
        span.record("otel.name", name);
        if let Some(p) = parent {
            let _ = span.set_parent(remote_context(p));
        }
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }
}

#[cfg(not(feature = "otlp"))]
mod otel {
    use tracing::Span;
    use vouch_core::trace::TraceParent;

    /// Without OpenTelemetry there is no exported trace to join.
    pub(super) fn join(_span: &Span, _name: &str, _parent: Option<&TraceParent>) -> Option<String> {
        None
    }
}
