//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>): one trace ID per
//! CLI run, sent on every request to the CA, log and TSA and recorded by each server in its
//! request log line, so that one signing can be followed across services' logs (and, with an
//! OTLP exporter, as one trace).
//!
//! A CLI run takes its trace from the `TRACEPARENT` environment variable when it holds a valid
//! value (OpenTelemetry's environment-carrier convention, which CI systems set), otherwise it
//! starts a new sampled trace.

use std::fmt;
use std::sync::OnceLock;

/// A parsed `traceparent` header value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// 16-byte trace ID, never all zeros.
    pub trace_id: [u8; 16],
    /// 8-byte ID of the calling span (the parent of whoever receives it), never all zeros.
    pub span_id: [u8; 8],
    /// Trace flags; bit 0 is "sampled".
    pub flags: u8,
}

/// Why a `traceparent` value was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceParentError {
    /// Not `version-traceid-parentid-flags` with the lengths the spec fixes.
    #[error("traceparent {value:?} is not version-traceid(32 hex)-parentid(16 hex)-flags(2 hex)")]
    Shape {
        /// The rejected value (truncated to 80 characters).
        value: String,
    },
    /// Version `ff`, or version `00` with trailing data.
    #[error("traceparent version {version:?} is not supported")]
    Version {
        /// The version field.
        version: String,
    },
    /// An all-zero trace ID or parent ID (the spec's "invalid" values).
    #[error("traceparent has an all-zero {field}")]
    Zero {
        /// `trace-id` or `parent-id`.
        field: &'static str,
    },
}

fn lower_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    // The spec allows only lowercase hex; `hex::decode` would also take uppercase.
    if s.len() != 2 * N
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl TraceParent {
    /// Parse a header value. Future versions (not `ff`) are read by their version-00 prefix,
    /// as the spec asks.
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let shape = || TraceParentError::Shape {
            value: value.chars().take(80).collect(),
        };
        let value = value.trim();
        if value.len() < 55 {
            return Err(shape());
        }
        let version = value.get(0..2).ok_or_else(shape)?;
        let version_byte = lower_hex::<1>(version).ok_or_else(shape)?[0];
        if version_byte == 0xff || (version_byte == 0 && value.len() != 55) {
            return Err(TraceParentError::Version {
                version: version.to_string(),
            });
        }
        if version_byte != 0 && value.len() > 55 && value.as_bytes()[55] != b'-' {
            return Err(shape());
        }
        let b = value.as_bytes();
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(shape());
        }
        let trace_id = lower_hex::<16>(&value[3..35]).ok_or_else(shape)?;
        let span_id = lower_hex::<8>(&value[36..52]).ok_or_else(shape)?;
        let flags = lower_hex::<1>(&value[53..55]).ok_or_else(shape)?[0];
        if trace_id == [0; 16] {
            return Err(TraceParentError::Zero { field: "trace-id" });
        }
        if span_id == [0; 8] {
            return Err(TraceParentError::Zero { field: "parent-id" });
        }
        Ok(TraceParent {
            trace_id,
            span_id,
            flags,
        })
    }

    /// A new sampled trace with a random trace ID and span ID.
    pub fn new_root() -> Self {
        TraceParent {
            trace_id: random_nonzero(),
            span_id: random_nonzero(),
            flags: 0x01,
        }
    }

    /// The same trace with a new span ID: what a client sends for one outgoing request.
    pub fn child(&self) -> Self {
        TraceParent {
            span_id: random_nonzero(),
            ..*self
        }
    }

    /// The trace ID as 32 lowercase hex digits (the form logs and OTLP/JSON use).
    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// The span ID as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex::encode(self.span_id)
    }
}

impl fmt::Display for TraceParent {
    /// The version-00 header value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id_hex(),
            self.span_id_hex(),
            self.flags
        )
    }
}

/// A random ID that is not all zeros (the spec's invalid value).
pub fn random_nonzero<const N: usize>() -> [u8; N] {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let rng = SystemRandom::new();
    let mut out = [0u8; N];
    loop {
        if rng.fill(&mut out).is_err() {
            // The system RNG failing is not recoverable in a meaningful way for an ID that is
            // only used for correlation; fall back to a fixed non-zero pattern.
            out = [0x5a; N];
        }
        if out != [0u8; N] {
            return out;
        }
    }
}

static PROCESS: OnceLock<TraceParent> = OnceLock::new();
static LOCAL_SPAN: OnceLock<[u8; 8]> = OnceLock::new();

/// The `TRACEPARENT` environment variable, when it holds a valid value.
pub fn from_env() -> Option<TraceParent> {
    std::env::var("TRACEPARENT")
        .ok()
        .and_then(|v| TraceParent::parse(&v).ok())
}

/// This process's trace: the one adopted by [`set_process`], else `TRACEPARENT` when valid,
/// else a new root.
pub fn process() -> &'static TraceParent {
    PROCESS.get_or_init(|| from_env().unwrap_or_else(TraceParent::new_root))
}

/// Adopt `tp` as this process's trace (an exporter's root span); false when a trace was
/// already in use.
pub fn set_process(tp: TraceParent) -> bool {
    PROCESS.set(tp).is_ok()
}

/// Parent every later outgoing request on span `id` of this process (the exported span of the
/// CLI run) instead of on a fresh, unexported span ID.
pub fn set_local_span(id: [u8; 8]) {
    let _ = LOCAL_SPAN.set(id);
}

/// The `traceparent` value for one outgoing request of this process: its trace, and the
/// process's exported span or else a new span ID.
pub fn outgoing() -> String {
    let p = process();
    match LOCAL_SPAN.get() {
        Some(id) => TraceParent { span_id: *id, ..*p },
        None => p.child(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_round_trips() {
        let v = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let t = TraceParent::parse(v).unwrap();
        assert_eq!(t.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(t.span_id_hex(), "b7ad6b7169203331");
        assert_eq!(t.flags, 1);
        assert_eq!(t.to_string(), v);
        let c = t.child();
        assert_eq!(c.trace_id, t.trace_id);
        assert_ne!(c.span_id, t.span_id);
    }

    #[test]
    fn rejects_what_the_spec_rejects() {
        let cases = [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        ];
        for c in cases {
            assert!(TraceParent::parse(c).is_err(), "{c:?} accepted");
        }
        // A future version keeps its version-00 prefix readable.
        let t = TraceParent::parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-later")
            .unwrap();
        assert_eq!(t.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
    }

    #[test]
    fn new_roots_are_valid_and_distinct() {
        let a = TraceParent::new_root();
        let b = TraceParent::new_root();
        assert_ne!(a.trace_id, b.trace_id);
        assert_eq!(TraceParent::parse(&a.to_string()).unwrap(), a);
    }
}
