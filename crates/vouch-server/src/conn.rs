//! One accepted connection: the timeouts watchdog and the I/O wrapper that feeds it.
//!
//! hyper's own `header_read_timeout` starts whenever a connection waits for a request head,
//! so it cannot tell a slow head from an idle keep-alive connection, and it does not exist for
//! HTTP/2. The watchdog here keeps the three apart:
//! - before the first request (TLS handshake included): the head must be complete
//!   `header_read_timeout` after accept;
//! - HTTP/1 between requests: idle for at most `idle_timeout` (no bytes either way), and once
//!   bytes of the next head arrive, that head must be complete `header_read_timeout` later;
//! - HTTP/2 between requests: `idle_timeout` after the last request ended (pings don't count);
//! - while a request is in flight, its body has `request_body_timeout` (see [`crate::body`]).

use crate::Limits;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the watchdog knows about a connection; shared by the I/O wrapper and the service.
#[derive(Debug)]
pub(crate) struct ConnState {
    accepted: Instant,
    /// Milliseconds since `accepted` of the last byte read or written.
    last_activity: AtomicU64,
    /// 1 + milliseconds since `accepted` when the first byte of the pending head arrived, or 0.
    head_started: AtomicU64,
    /// Milliseconds since `accepted` when the last request finished.
    last_request_end: AtomicU64,
    inflight: AtomicUsize,
    served: AtomicU64,
    bytes_read: AtomicU64,
    h2: AtomicBool,
}

/// Why the watchdog closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// The first request head did not arrive in time.
    FirstHead,
    /// A later request head started but did not complete in time.
    Head,
    /// No request and no traffic for the idle timeout.
    Idle,
}

impl Expiry {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Expiry::FirstHead => "no complete request head within the header-read timeout",
            Expiry::Head => "request head not completed within the header-read timeout",
            Expiry::Idle => "idle for the idle timeout",
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ConnState {
    pub(crate) fn new() -> Self {
        ConnState {
            accepted: Instant::now(),
            last_activity: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            last_request_end: AtomicU64::new(0),
            inflight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            h2: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        ms(self.accepted.elapsed())
    }

    /// Mark the connection as HTTP/2 (ALPN or the client preface).
    pub(crate) fn set_h2(&self) {
        self.h2.store(true, Ordering::Relaxed);
    }

    fn on_read(&self, first_bytes: &[u8]) {
        let now = self.now_ms();
        self.last_activity.store(now, Ordering::Relaxed);
        let before = self
            .bytes_read
            .fetch_add(first_bytes.len() as u64, Ordering::Relaxed);
        if before == 0 && first_bytes.starts_with(b"PRI ") {
            self.set_h2();
        }
        if self.inflight.load(Ordering::Acquire) == 0 {
            let _ = self.head_started.compare_exchange(
                0,
                now.saturating_add(1),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    fn on_write(&self) {
        self.last_activity.store(self.now_ms(), Ordering::Relaxed);
    }

    /// A request head is complete and the request goes to the service.
    pub(crate) fn request_started(self: &Arc<Self>) -> InflightGuard {
        self.inflight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(0, Ordering::Release);
        InflightGuard(self.clone())
    }

    /// When the connection expires if nothing changes, and why; `None` while a request is in
    /// flight.
    pub(crate) fn deadline(&self, limits: &Limits) -> Option<(Instant, Expiry)> {
        if self.inflight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let at = |since_ms: u64, d: Duration| self.accepted + Duration::from_millis(since_ms) + d;
        if self.served.load(Ordering::Acquire) == 0 {
            return Some((at(0, limits.header_read_timeout), Expiry::FirstHead));
        }
        if self.h2.load(Ordering::Relaxed) {
            let end = self.last_request_end.load(Ordering::Acquire);
            return Some((at(end, limits.idle_timeout), Expiry::Idle));
        }
        let head = self.head_started.load(Ordering::Acquire);
        if head != 0 {
            return Some((at(head - 1, limits.header_read_timeout), Expiry::Head));
        }
        let last = self.last_activity.load(Ordering::Relaxed);
        Some((at(last, limits.idle_timeout), Expiry::Idle))
    }
}

/// Counts a request in flight until dropped.
pub(crate) struct InflightGuard(Arc<ConnState>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let s = &self.0;
        let now = s.now_ms();
        s.last_request_end.store(now, Ordering::Release);
        s.last_activity.store(now, Ordering::Relaxed);
        s.served.fetch_add(1, Ordering::AcqRel);
        s.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An I/O stream that reports its traffic to a [`ConnState`].
pub(crate) struct Watched<S> {
    inner: S,
    state: Arc<ConnState>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, state: Arc<ConnState>) -> Self {
        Watched { inner, state }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                this.state.on_read(new);
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            this.state.on_write();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            this.state.on_write();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
