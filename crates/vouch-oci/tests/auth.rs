//! The registry client's auth handshakes against a mock registry: a bearer-token challenge
//! answered once per repository and scope (with basic credentials at the token endpoint), a
//! Basic challenge, plain anonymous access, a retry after 503, and the request counter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use vouch_oci::{Credentials, Registry, RegistryOptions, parse_reference};

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

#[derive(Clone)]
struct Mock {
    mode: &'static str,
    addr: String,
    hits: Arc<AtomicUsize>,
}

async fn handle(State(m): State<Mock>, req: Request) -> Response {
    m.hits.fetch_add(1, Ordering::SeqCst);
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let path = req.uri().path().to_string();
    let basic_ok = auth == "Basic dXNlcjpwYXNz"; // user:pass
    if path == "/token" {
        let q = req.uri().query().unwrap_or_default();
        assert!(q.contains("scope=repository%3Ateam%2Fapp%3Apull"), "{q}");
        assert!(q.contains("service=mock"), "{q}");
        if m.mode == "bearer" && !basic_ok {
            return Response::builder().status(401).body(Body::empty()).unwrap();
        }
        return Response::builder()
            .status(200)
            .body(Body::from(r#"{"token":"tok123"}"#))
            .unwrap();
    }
    if m.mode == "flaky" && m.hits.load(Ordering::SeqCst) == 1 {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(Body::empty())
            .unwrap();
    }
    let allowed = match m.mode {
        "bearer" | "anon-bearer" => auth == "Bearer tok123",
        "basic" => basic_ok,
        _ => true,
    };
    if !allowed {
        let challenge = if m.mode == "basic" {
            r#"Basic realm="mock""#.to_string()
        } else {
            format!(r#"Bearer realm="http://{}/token",service="mock""#, m.addr)
        };
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", challenge)
            .body(Body::empty())
            .unwrap();
    }
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        "application/vnd.oci.image.manifest.v1+json"
            .parse()
            .unwrap(),
    );
    h.insert(
        "docker-content-digest",
        vouch_oci::registry::sha256_digest(MANIFEST)
            .parse()
            .unwrap(),
    );
    let mut resp = Response::builder().status(200);
    for (k, v) in &h {
        resp = resp.header(k, v);
    }
    resp.body(Body::from(MANIFEST)).unwrap()
}

async fn serve(mode: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new().fallback(handle).with_state(Mock {
        mode,
        addr: addr.clone(),
        hits: hits.clone(),
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, hits)
}

fn client(c: Option<Credentials>) -> Registry {
    Registry::new(RegistryOptions {
        credentials: Some(c.unwrap_or_default()),
        ..RegistryOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn bearer_token_with_basic_credentials() {
    let (addr, hits) = serve("bearer").await;
    let reg = client(Some(Credentials::Basic {
        username: "user".into(),
        password: "pass".into(),
    }));
    let r = parse_reference(&format!("{addr}/team/app:v1")).unwrap();
    let got = reg.resolve(&r).await.unwrap();
    assert_eq!(got.digest, vouch_oci::registry::sha256_digest(MANIFEST));
    // 401, token, retry.
    assert_eq!(reg.request_count(), 3);
    // The token is cached for the repository: one request from now on.
    let m = reg.get_manifest(&r).await.unwrap().unwrap();
    assert_eq!(m.bytes, MANIFEST);
    assert_eq!(reg.request_count(), 4);
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn bearer_token_refused_without_credentials() {
    let (addr, _) = serve("bearer").await;
    let reg = client(None);
    let r = parse_reference(&format!("{addr}/team/app:v1")).unwrap();
    let err = reg.resolve(&r).await.unwrap_err().to_string();
    assert!(err.contains("registry authentication"), "{err}");
}

#[tokio::test]
async fn anonymous_bearer_token() {
    let (addr, _) = serve("anon-bearer").await;
    let reg = client(None);
    let r = parse_reference(&format!("{addr}/team/app:v1")).unwrap();
    reg.resolve(&r).await.unwrap();
    assert_eq!(reg.request_count(), 3);
}

#[tokio::test]
async fn basic_challenge() {
    let (addr, hits) = serve("basic").await;
    let reg = client(Some(Credentials::Basic {
        username: "user".into(),
        password: "pass".into(),
    }));
    let r = parse_reference(&format!("{addr}/team/app:v1")).unwrap();
    reg.resolve(&r).await.unwrap();
    reg.resolve(&r).await.unwrap();
    // 401 + retry, then the cached header.
    assert_eq!(reg.request_count(), 3);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn anonymous_no_probe() {
    let (addr, hits) = serve("open").await;
    let reg = client(None);
    let r = parse_reference(&format!("{addr}/team/app:v1")).unwrap();
    reg.resolve(&r).await.unwrap();
    reg.get_manifest(&r).await.unwrap().unwrap();
    // No /v2/ probe before each request.
    assert_eq!(reg.request_count(), 2);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn retries_after_503() {
    let (addr, hits) = serve("flaky").await;
    let reg = client(None);
    let r = parse_reference(&format!("{addr}/team/app:v1")).unwrap();
    reg.resolve(&r).await.unwrap();
    assert_eq!(reg.request_count(), 2);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}
