//! A small HTTP/1.1 filtering proxy in front of a log: it answers 404 to every path a `block`
//! prefix matches (e.g. the tlog-tiles paths, so that only the Rekor v1 API works), forwards the
//! rest to an upstream that can be switched while it runs (to show a client another log at the
//! same URL), optionally after a delay, and records every request line it saw.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The proxy's shared settings and record.
#[derive(Default)]
struct Shared {
    upstream: String,
    delay: Duration,
    seen: Vec<(String, u16)>,
}

/// A running proxy (its listener thread lives as long as the test process).
pub struct FilterProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl FilterProxy {
    /// Proxy to `upstream` (`http://host:port`), answering 404 to paths starting with any of
    /// `block`.
    pub fn start(upstream: &str, block: &'static [&'static str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared {
            upstream: upstream.to_string(),
            ..Shared::default()
        }));
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, &s, block);
                });
            }
        });
        Self { url, shared }
    }

    /// Forward to another upstream from now on.
    pub fn set_upstream(&self, upstream: &str) {
        self.shared.lock().unwrap().upstream = upstream.to_string();
    }

    /// Wait this long before forwarding each request.
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().unwrap().delay = delay;
    }

    /// Every (request path, status answered by the proxy: 404 when blocked, 0 when forwarded).
    pub fn seen(&self) -> Vec<(String, u16)> {
        self.shared.lock().unwrap().seen.clone()
    }
}

fn handle(mut client: TcpStream, shared: &Mutex<Shared>, block: &[&str]) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    // Read the request head.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let blocked = block.iter().any(|b| path.starts_with(b));
    let (upstream, delay) = {
        let mut s = shared.lock().unwrap();
        s.seen.push((path.clone(), if blocked { 404 } else { 0 }));
        (s.upstream.clone(), s.delay)
    };
    if blocked {
        let body = br#"{"code":404,"message":"not served by this proxy"}"#;
        write!(
            client,
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )?;
        client.write_all(body)?;
        return client.shutdown(Shutdown::Both);
    }
    std::thread::sleep(delay);
    // One request per connection: the upstream is asked to close after answering.
    let mut out = format!("{request_line}\r\n");
    for l in lines.filter(|l| !l.is_empty()) {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out.push_str("connection: close\r\n\r\n");
    let addr = upstream.strip_prefix("http://").unwrap_or(&upstream);
    let mut up = TcpStream::connect(addr)?;
    up.write_all(out.as_bytes())?;
    up.write_all(&buf[end..])?;
    let mut from_client = client.try_clone()?;
    let mut to_up = up.try_clone()?;
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_up);
    });
    std::io::copy(&mut up, &mut client)?;
    client.shutdown(Shutdown::Both)
}
