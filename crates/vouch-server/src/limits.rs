//! Connection limits and timeouts of a vouch server, as named constants.
//!
//! The defaults bound what one client can hold: a connection must deliver its request head
//! within [`DEFAULT_HEADER_READ_TIMEOUT`], its body within [`DEFAULT_REQUEST_BODY_TIMEOUT`],
//! may then sit idle for [`DEFAULT_IDLE_TIMEOUT`], and a listener holds at most
//! [`DEFAULT_MAX_CONNECTIONS`] connections at once (the next ones are answered 503). Every
//! limit can be raised per server by a command-line flag of the `vouch` binary.

use std::time::Duration;

/// Time a client has to send a complete request head (request line and headers): from accept
/// (including the TLS handshake) for the first request on a connection, from the first byte
/// of the request for later ones. Slow-loris clients are cut off here.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a keep-alive connection may sit with no request in flight and no bytes moving, after
/// its first request, before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Time a client has to send a whole request body, counted from the end of the request head.
/// A body still incomplete then is answered `408 Request Timeout` and the connection closed.
pub const DEFAULT_REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections one listener serves at once; beyond that a new connection is answered
/// `503 Service Unavailable` (`Retry-After: 1`) and closed, on TLS listeners closed at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Largest declared `Content-Length` accepted before the body is read; a larger one is answered
/// `413 Payload Too Large` at once. Services pass their own (smaller) request limit.
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: u64 = 1024 * 1024;

/// Time in-flight requests get to finish after a shutdown signal before the server stops anyway.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Over-limit connections being answered 503 at the same time; beyond that they are closed
/// without an answer, so a flood cannot turn the rejection path into a new resource sink.
pub const MAX_CONCURRENT_REJECTIONS: usize = 64;

/// How long a rejected connection is drained (so the client reads the 503 instead of a reset).
pub const REJECTION_LINGER: Duration = Duration::from_secs(1);

/// The limits one listener enforces. [`Limits::default`] uses the `DEFAULT_…` constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// See [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`DEFAULT_REQUEST_BODY_TIMEOUT`].
    pub request_body_timeout: Duration,
    /// See [`DEFAULT_MAX_CONNECTIONS`]; at least 1.
    pub max_connections: usize,
    /// See [`DEFAULT_MAX_REQUEST_BODY_BYTES`].
    pub max_request_body_bytes: u64,
    /// See [`DEFAULT_SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_body_timeout: DEFAULT_REQUEST_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_request_body_bytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl Limits {
    /// The same limits with another request body limit (a service's own maximum).
    #[must_use]
    pub fn with_max_request_body_bytes(mut self, bytes: u64) -> Self {
        self.max_request_body_bytes = bytes;
        self
    }

    /// The same limits with another connection budget (at least 1).
    #[must_use]
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }
}
