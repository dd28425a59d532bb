//! Helpers shared by the log CLI and crash tests: start `vouch serve log`, tiny HTTP GET.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod admission;
pub mod audit;
pub mod proxy;
pub mod registry;
pub mod up;
pub mod witness;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `vouch` binary under test.
pub fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

/// A running `vouch serve log`. Killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub pem: String,
    pub stdout: Vec<String>,
    pub log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a server log, for failure messages.
pub fn tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Start `vouch serve log` on 127.0.0.1 with a free port (port 0; the printed URL is parsed),
/// logging to `log`, and wait until `/healthz` answers.
pub fn start(data: &Path, origin: &str, log: &Path, extra: &[&str]) -> Server {
    start_with_env(data, origin, log, extra, &[])
}

/// [`start`] with extra environment variables (credentials of the scale-out backend).
pub fn start_with_env(
    data: &Path,
    origin: &str,
    log: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = vouch()
        .args(["serve", "log", "--data"])
        .arg(data)
        .args(["--origin", origin, "--listen", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("spawn vouch serve log");
    let rx = line_channel(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    let mut url = None;
    let mut pem = String::new();
    let mut in_pem = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(u) = line.strip_prefix("vouch log listening on ") {
                    url = Some(u.trim().to_string());
                }
                if line.starts_with("-----BEGIN PUBLIC KEY-----") {
                    in_pem = true;
                }
                if in_pem {
                    pem.push_str(&line);
                    pem.push('\n');
                }
                let end = line.starts_with("-----END PUBLIC KEY-----");
                lines.push(line);
                if end {
                    break;
                }
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not print its URL and key ({e:?}); stdout: {lines:?}; log:\n{}",
                    tail(log)
                );
            }
        }
    }
    let url = url.expect("URL line");
    let server = Server {
        child,
        url,
        pem,
        stdout: lines,
        log: log.to_path_buf(),
    };
    wait_healthy(&server);
    server
}

/// Poll `/healthz` (retrying refused connections) for at most 20 s.
pub fn wait_healthy(s: &Server) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match try_get(&s.url, "/healthz") {
            Ok((200, _)) => return,
            other => {
                if Instant::now() > deadline {
                    panic!(
                        "server at {} not healthy: {other:?}; log:\n{}",
                        s.url,
                        tail(&s.log)
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// GET over HTTP/1.0 (one connection per request), with timeouts.
pub fn try_get(url: &str, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let host = url.strip_prefix("http://").unwrap_or(url);
    let addr: std::net::SocketAddr = host
        .parse()
        .map_err(|e| std::io::Error::other(format!("{host}: {e}")))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    Ok((status, buf[split + 4..].to_vec()))
}

/// GET that must succeed with 200.
pub fn get(url: &str, path: &str) -> Vec<u8> {
    match try_get(url, path) {
        Ok((200, body)) => body,
        other => panic!("GET {url}{path}: {other:?}"),
    }
}

/// POST over HTTP/1.0: (status, content type, body as text).
pub fn post(url: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    let (status, head, body) = post_with_headers(url, path, &[], body);
    let ct = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_string();
    (status, ct, body)
}

/// POST over HTTP/1.0 with extra `headers`: (status, response head lowercased, body as text).
pub fn post_with_headers(
    url: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let host = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {host}\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// Debian's chromium, if installed (rendered pages, screenshots).
pub fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The `sigstore` CLI next to `$VOUCH_PYTHON`, if it is installed.
pub fn sigstore_python() -> Option<PathBuf> {
    let py = std::env::var_os("VOUCH_PYTHON")?;
    let cli = Path::new(&py).with_file_name("sigstore");
    cli.exists().then_some(cli)
}

/// Run `cmd` to completion (stdin closed, output captured); panics after `limit`.
pub fn run_within(cmd: &mut Command, limit: std::time::Duration) -> std::process::Output {
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "timed out after {limit:?}: {cmd:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Assert that `out` succeeded (naming `what`, with both streams) and return its stdout.
pub fn ok_stdout(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`run_within`] with the two-minute limit of the CLI tests against a real instance.
pub fn run(cmd: &mut Command) -> std::process::Output {
    run_within(cmd, Duration::from_secs(120))
}

/// Assert that `out` succeeded (naming `what`, with both streams) and return its stderr (where
/// vouch reports what it did).
pub fn ok_stderr(out: &std::process::Output, what: &str) -> String {
    ok_stdout(out, what);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Assert that `out` failed with exit code 1 and that its stderr contains `needle`; return the
/// stderr.
pub fn fails_with(out: &std::process::Output, what: &str, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected failure (exit code 1), got: {err}"
    );
    assert!(
        err.contains(needle),
        "{what}: expected {needle:?} in: {err}"
    );
    err
}

/// A counter's value in Prometheus `/metrics` text: the first line starting with `series`
/// (name and labels), 0 when there is none.
pub fn counter(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The log index of a bundle's (first) transparency log entry.
pub fn bundle_log_index(bundle: &Path) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    v["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The URL a server prints on its first stdout line (`<prefix><url>`), within 30 s (`what`
/// names the server in the panic). The rest of its stdout is drained, so that the server never
/// blocks on a full pipe.
pub fn first_line_url(stdout: std::process::ChildStdout, prefix: &str, what: &str) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = tx.send(first);
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{what} did not start within 30 s ({e})"));
    line.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim()
        .to_string()
}

/// The lines of a child's output stream on a channel, as they come (a thread reads them); the
/// thread stops reading once the receiver is gone.
pub fn line_channel(out: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// [`line_channel`] that keeps reading (and dropping) the lines after the receiver is gone, so
/// that the child never blocks on a full pipe.
pub fn drained_lines(out: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0 and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A policy-controller ClusterImagePolicy `name` for the images matching `glob`, with
/// `extra_spec` (indented spec lines such as `  mode: warn\n`) and the `authorities` list items.
pub fn cip(name: &str, glob: &str, extra_spec: &str, authorities: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n{extra_spec}  authorities:\n{authorities}"
    )
}

/// `vouch generate-key-pair` run in `dir` (created if missing) with `COSIGN_PASSWORD=pw`:
/// (`dir/cosign.key`, `dir/cosign.pub`).
pub fn cosign_key_pair(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    ok_stdout(
        &run(vouch()
            .arg("generate-key-pair")
            .current_dir(dir)
            .env("COSIGN_PASSWORD", "pw")),
        "generate-key-pair",
    );
    (dir.join("cosign.key"), dir.join("cosign.pub"))
}
