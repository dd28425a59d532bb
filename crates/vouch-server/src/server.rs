//! The listener: accept loop with a connection budget, per-connection serving, shutdown.

use crate::body::{DeadlineBody, closing_answer, declared_length};
use crate::conn::{ConnState, Watched};
use crate::limits::{MAX_CONCURRENT_REJECTIONS, REJECTION_LINGER};
use crate::{Limits, ServerError, TlsConfig};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// The canned answer to a connection over the budget.
const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 33\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections, retry later\n";

/// A bound listener, ready to serve a router with [`Server::serve`].
///
/// ```no_run
/// # async fn demo() -> Result<(), vouch_server::ServerError> {
/// let server = vouch_server::Server::bind("127.0.0.1:0").await?.named("demo");
/// println!("listening on {}", server.url());
/// server
///     .serve(axum::Router::new(), vouch_server::shutdown_signal())
///     .await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    name: String,
    limits: Limits,
    tls: Option<TlsConfig>,
}

impl Server {
    /// Bind `addr` (`host:port`; port 0 picks a free one) with the default [`Limits`].
    pub async fn bind<A>(addr: A) -> Result<Self, ServerError>
    where
        A: tokio::net::ToSocketAddrs + std::fmt::Display,
    {
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        Self::from_listener(listener)
    }

    /// Serve an already bound listener.
    pub fn from_listener(listener: TcpListener) -> Result<Self, ServerError> {
        let addr = listener.local_addr().map_err(ServerError::LocalAddr)?;
        Ok(Server {
            listener,
            addr,
            name: "server".into(),
            limits: Limits::default(),
            tls: None,
        })
    }

    /// Name the server in its log lines (e.g. `log`, `ca`).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Enforce these limits instead of the defaults.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self.limits.max_connections = self.limits.max_connections.clamp(1, u32::MAX as usize);
        self
    }

    /// Serve HTTPS with this configuration (`None`: plain HTTP).
    #[must_use]
    pub fn with_tls(mut self, tls: Option<TlsConfig>) -> Self {
        self.tls = tls;
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The limits this server enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Serve `router` until `shutdown` resolves, then stop accepting, let in-flight requests
    /// finish for at most the shutdown grace, and return.
    ///
    /// Every request gets a `ConnectInfo<SocketAddr>` extension (the peer address) and a trace
    /// span with its W3C trace ID (see [`crate::access`]).
    pub async fn serve<F>(self, router: Router, shutdown: F)
    where
        F: Future<Output = ()> + Send,
    {
        let Server {
            listener,
            addr,
            name,
            limits,
            tls,
        } = self;
        let router = router.layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(crate::access::RequestSpan {
                    service: name.clone(),
                })
                .on_request(())
                .on_response(crate::access::on_response),
        );
        let limits = Arc::new(limits);
        let budget = limits.max_connections;
        let conns = Arc::new(Semaphore::new(budget));
        let rejections = Arc::new(Semaphore::new(MAX_CONCURRENT_REJECTIONS));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut last_warning: Option<Instant> = None;
        let mut rejected: u64 = 0;
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        accept_error(&name, e).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            match conns.clone().try_acquire_owned() {
                Ok(permit) => {
                    let router = router.clone();
                    let limits = limits.clone();
                    let tls = tls.clone();
                    let stop_rx = stop_rx.clone();
                    tokio::spawn(async move {
                        serve_connection(stream, peer, router, limits, tls, stop_rx).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    rejected += 1;
                    if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(server = %name, %addr, budget, rejected, "connection budget exhausted: answering 503");
                        last_warning = Some(Instant::now());
                    }
                    reject(stream, tls.is_some(), &rejections);
                }
            }
        }
        drop(listener);
        tracing::info!(server = %name, "shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
        let all = u32::try_from(budget).unwrap_or(u32::MAX);
        match tokio::time::timeout(limits.shutdown_grace, conns.acquire_many(all)).await {
            Ok(_) => tracing::info!(server = %name, "stopped"),
            Err(_) => tracing::warn!(
                server = %name,
                grace = ?limits.shutdown_grace,
                "in-flight requests did not finish in time; stopping anyway"
            ),
        }
    }
}

async fn accept_error(name: &str, e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    // Typically EMFILE: wait for connections to close instead of spinning.
    tracing::error!(server = %name, "accept error: {e}");
    tokio::time::sleep(Duration::from_millis(250)).await;
}

/// Answer a connection over the budget with 503 and close it; over TLS (no handshake is spent
/// on it) or when too many rejections are in progress, close it at once.
fn reject(stream: TcpStream, tls: bool, rejections: &Arc<Semaphore>) {
    if tls {
        return;
    }
    let Ok(permit) = rejections.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let mut stream = stream;
        let _ = tokio::time::timeout(REJECTION_LINGER, async {
            stream.write_all(OVERLOADED).await?;
            stream.shutdown().await?;
            // Drain what the client sends so closing does not reset the connection before
            // the client has read the answer.
            let mut buf = [0u8; 2048];
            while stream.read(&mut buf).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
        drop(permit);
    });
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Arc<Limits>,
    tls: Option<TlsConfig>,
    stop_rx: watch::Receiver<bool>,
) {
    let state = Arc::new(ConnState::new());
    let io = Watched::new(stream, state.clone());
    match tls {
        None => drive(io, state, peer, router, limits, stop_rx).await,
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io)).await {
                Ok(Ok(tls_stream)) => {
                    if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                        state.set_h2();
                    }
                    drive(tls_stream, state, peer, router, limits, stop_rx).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn drive<I>(
    io: I,
    state: Arc<ConnState>,
    peer: SocketAddr,
    router: Router,
    limits: Arc<Limits>,
    mut stop_rx: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = {
        let state = state.clone();
        let limits = limits.clone();
        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let guard = state.request_started();
            let router = router.clone();
            let limits = limits.clone();
            async move {
                let resp = handle(router, req, peer, &limits).await;
                drop(guard);
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true).header_read_timeout(None);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let recheck = limits
        .header_read_timeout
        .min(limits.idle_timeout)
        .min(Duration::from_secs(1));
    let mut stopping = *stop_rx.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let wake = state
            .deadline(&limits)
            .map_or_else(|| Instant::now() + recheck, |(at, _)| at);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
                return;
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if let Some((at, why)) = state.deadline(&limits)
                    && Instant::now() >= at
                {
                    tracing::debug!(%peer, "closing connection: {}", why.as_str());
                    return;
                }
            }
            r = stop_rx.changed(), if !stopping => {
                if r.is_err() || *stop_rx.borrow() {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// One request: early 413, peer address, body deadline (408).
async fn handle(
    mut router: Router,
    req: Request<hyper::body::Incoming>,
    peer: SocketAddr,
    limits: &Limits,
) -> Response<Body> {
    let version = req.version();
    if let Some(len) = declared_length(req.headers())
        && len > limits.max_request_body_bytes
    {
        return closing_answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            version,
            format!(
                "request body of {len} bytes is over the limit of {} bytes\n",
                limits.max_request_body_bytes
            ),
        );
    }
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let timed_out = Arc::new(AtomicBool::new(false));
    let body = Body::new(DeadlineBody::new(
        body,
        limits.request_body_timeout,
        timed_out.clone(),
    ));
    let resp =
        match tower_service::Service::call(&mut router, Request::from_parts(parts, body)).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
    if timed_out.load(Ordering::Acquire) {
        return closing_answer(
            StatusCode::REQUEST_TIMEOUT,
            version,
            format!(
                "request body not received within {} ms\n",
                limits.request_body_timeout.as_millis()
            ),
        );
    }
    resp
}
