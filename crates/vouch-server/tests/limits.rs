//! The bootstrap's limits, tested from outside over real sockets on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use vouch_server::{Limits, Server, TlsConfig};

fn app() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route("/echo", post(|body: axum::body::Bytes| async move { body }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "done"
            }),
        )
}

fn short_limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(600),
        idle_timeout: Duration::from_millis(900),
        request_body_timeout: Duration::from_millis(600),
        max_connections: 8,
        max_request_body_bytes: 1024,
        shutdown_grace: Duration::from_secs(5),
    }
}

/// A server on its own runtime thread; dropping the sender stops it.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn stop(&mut self) -> Duration {
        let t = Instant::now();
        drop(self.stop.take());
        if let Some(th) = self.thread.take() {
            th.join().unwrap();
        }
        t.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start(limits: Limits, tls: Option<TlsConfig>) -> Running {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = vouch_server::runtime("test-server").unwrap();
        rt.block_on(async move {
            let server = Server::bind("127.0.0.1:0")
                .await
                .unwrap()
                .named("test")
                .with_limits(limits)
                .with_tls(tls);
            addr_tx.send(server.local_addr()).unwrap();
            server
                .serve(app(), async move {
                    let _ = stop_rx.await;
                })
                .await;
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Running {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Read one response head + body of known length (or to EOF).
fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(len) = len
                && buf.len() >= end + 4 + len
            {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

/// Wait until the server closes `s`; returns how long that took (panics after `max`).
fn closed_within(s: &mut TcpStream, max: Duration) -> Duration {
    let t = Instant::now();
    s.set_read_timeout(Some(max)).unwrap();
    let mut b = [0u8; 256];
    loop {
        match s.read(&mut b) {
            Ok(0) => return t.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return t.elapsed(),
            Err(e) => panic!("connection still open after {:?}: {e}", t.elapsed()),
        }
    }
}

#[test]
fn slow_request_head_is_cut_off_after_the_header_read_timeout() {
    let srv = start(short_limits(), None);
    let mut s = connect(srv.addr);
    // A slow-loris head: one byte at a time, never finished.
    let t = Instant::now();
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || {
            for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa" {
                if w.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let took = closed_within(&mut s, Duration::from_secs(3));
    assert!(
        took >= Duration::from_millis(400),
        "closed too early: {took:?}"
    );
    assert!(t.elapsed() < Duration::from_millis(2500));
    let _ = writer.join();
}

#[test]
fn silent_connection_is_closed_after_the_header_read_timeout() {
    let srv = start(short_limits(), None);
    let mut s = connect(srv.addr);
    let took = closed_within(&mut s, Duration::from_secs(3));
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(2000),
        "{took:?}"
    );
}

#[test]
fn idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let srv = start(short_limits(), None);
    let mut s = connect(srv.addr);
    for _ in 0..2 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (status, text) = read_response(&mut s);
        assert_eq!(status, 200, "{text}");
        std::thread::sleep(Duration::from_millis(400)); // under the idle timeout: still open
    }
    let took = closed_within(&mut s, Duration::from_secs(3));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
}

#[test]
fn connections_over_the_budget_are_answered_503() {
    let limits = Limits {
        max_connections: 3,
        header_read_timeout: Duration::from_secs(5),
        ..short_limits()
    };
    let srv = start(limits, None);
    let held: Vec<TcpStream> = (0..3).map(|_| connect(srv.addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = connect(srv.addr);
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (status, text) = read_response(&mut extra);
    assert_eq!(status, 503, "{text}");
    assert!(text.to_lowercase().contains("retry-after: 1"), "{text}");
    drop(held);
    // Once the held connections are gone, requests are served again.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut s = connect(srv.addr);
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (status, _) = read_response(&mut s);
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "budget not released");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn declared_content_length_over_the_limit_is_answered_413_at_once() {
    let srv = start(short_limits(), None);
    let mut s = connect(srv.addr);
    let t = Instant::now();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n")
        .unwrap();
    let (status, text) = read_response(&mut s);
    assert_eq!(status, 413, "{text}");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert!(text.to_lowercase().contains("connection: close"), "{text}");
}

#[test]
fn a_body_not_sent_in_time_is_answered_408() {
    let srv = start(short_limits(), None);
    let mut s = connect(srv.addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        .unwrap();
    let t = Instant::now();
    let (status, text) = read_response(&mut s);
    assert_eq!(status, 408, "{text}");
    assert!(
        t.elapsed() < Duration::from_millis(2000),
        "{:?}",
        t.elapsed()
    );
    // A body in time is echoed.
    let mut s = connect(srv.addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    let (status, text) = read_response(&mut s);
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("hello"), "{text}");
}

#[test]
fn handlers_see_the_peer_address() {
    let srv = start(short_limits(), None);
    let mut s = connect(srv.addr);
    let local = s.local_addr().unwrap();
    s.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (status, text) = read_response(&mut s);
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with(&local.to_string()), "{text}");
}

#[test]
fn shutdown_lets_in_flight_requests_finish() {
    let mut srv = start(short_limits(), None);
    let mut s = connect(srv.addr);
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let reader = std::thread::spawn(move || read_response(&mut s));
    let took = srv.stop();
    let (status, text) = reader.join().unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("done"), "{text}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(TcpStream::connect_timeout(&srv.addr, Duration::from_millis(500)).is_err());
}

/// A self-signed certificate for 127.0.0.1 from the openssl CLI (a CI peer).
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=vouch-server test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (a CI peer) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

#[test]
fn serves_https_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let tls = TlsConfig::from_pem_files(&cert, &key).unwrap();
    let srv = start(short_limits(), Some(tls));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .tls_certs_only([ca])
            .build()
            .unwrap();
        let url = format!("https://{}/healthz", srv.addr);
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok");
        // Plain HTTP to the TLS port gets no answer.
        let plain = reqwest::Client::new()
            .get(format!("http://{}/healthz", srv.addr))
            .send()
            .await;
        assert!(plain.is_err());
    });
    // A TLS client that never finishes its handshake is dropped after the header timeout.
    let mut s = connect(srv.addr);
    let took = closed_within(&mut s, Duration::from_secs(3));
    assert!(took < Duration::from_millis(2000), "{took:?}");
}

#[test]
fn unusable_tls_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.pem");
    let e = TlsConfig::from_pem_files(&missing, &missing).unwrap_err();
    assert!(
        matches!(e, vouch_server::ServerError::ReadPem { .. }),
        "{e}"
    );
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not pem").unwrap();
    let e = TlsConfig::from_pem_files(&empty, &empty).unwrap_err();
    assert!(
        matches!(e, vouch_server::ServerError::NoCertificate { .. }),
        "{e}"
    );
    let (cert, _) = self_signed(dir.path());
    let e = TlsConfig::from_pem_files(&cert, &cert).unwrap_err();
    assert!(
        matches!(e, vouch_server::ServerError::NoPrivateKey { .. }),
        "{e}"
    );
}
