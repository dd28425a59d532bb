//! Shared by the HTTP-level targets: drive a server's real axum `Router` in process (no socket)
//! with a request built from the fuzz input, and fail on a panic or a 5xx other than 503
//! (overload). Every answer body is read to the end, as a client would.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use std::sync::LazyLock;
use tower::ServiceExt;

/// One runtime for the whole fuzzing process; servers' background tasks (the log's sequencer,
/// an in-process OIDC issuer) run on it while a request is being answered.
pub static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
});

/// Send one request and return its status; panics (a finding) on a server error other than 503.
pub fn call(
    router: &Router,
    method: Method,
    uri: &str,
    content_type: &str,
    extra_header: Option<(&str, &str)>,
    body: Vec<u8>,
) -> Option<u16> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type);
    if let Some((k, v)) = extra_header {
        b = b.header(k, v);
    }
    // An input that is not a valid URI or header never reaches a server: skip it.
    let req = b.body(Body::from(body)).ok()?;
    let router = router.clone();
    let status = RT.block_on(async move {
        let resp = router.oneshot(req).await.expect("infallible");
        let status = resp.status();
        let _ = axum::body::to_bytes(resp.into_body(), 64 << 20).await;
        status
    });
    assert!(
        !status.is_server_error() || status.as_u16() == 503,
        "{uri}: server error {status}"
    );
    Some(status.as_u16())
}

#[allow(dead_code)] // not every target builds URIs from the input
/// The input as a URI-safe string: percent-encode every byte outside unreserved characters and
/// the few separators a query or path needs, so the parser under test sees odd values rather
/// than the HTTP layer rejecting them.
pub fn uri_part(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 3);
    for &b in data {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'=' | b'&' => {
                s.push(b as char)
            }
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

/// A fresh directory for a server's state, kept for the whole process.
pub fn state_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vouch-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("state dir");
    d
}

/// A log engine (embedded storage in a fresh directory, ECDSA P-256 key, 1 ms batches) for the
/// log and CT targets. Call inside [`RT`] (the sequencer is a task on it).
#[allow(dead_code)] // only the log targets open a log
pub fn open_log(name: &str, origin: &str) -> vouch_log::Log<vouch_log::EmbeddedStorage> {
    use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner};
    let dir = state_dir(name);
    let storage = EmbeddedStorage::open(&dir).expect("storage");
    let signer = LogSigner::load_or_generate(&dir, origin, KeyAlgorithm::EcdsaP256).expect("key");
    Log::open(
        storage,
        signer,
        LogConfig {
            origin: origin.into(),
            batch_interval: std::time::Duration::from_millis(1),
            ..LogConfig::default()
        },
    )
    .expect("log")
}
