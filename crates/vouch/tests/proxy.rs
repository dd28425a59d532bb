//! `vouch serve proxy` end to end, with real `vouch serve log` processes as upstreams: a fresh
//! and a warm cache, proofs in both formats and the Rekor v1 endpoints, a tampered tile from a
//! lying upstream, the upstream stopped (stale answers, then fail closed), its return, a forked
//! upstream with the same key (refused, cache not poisoned), a restart that keeps the cache,
//! a witness policy that is not met, `verify-blob --log-proxy` and `vouch bench proxy`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{Server, start, tail, vouch};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use vouch_core::bundle::InclusionProof;
use vouch_core::keys::PublicKey;
use vouch_core::merkle::leaf_hash;
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::tiles::parse_entry_bundle;
use vouch_core::tlog_proof::TlogProof;

const ORIGIN: &str = "log.vouch.test/proxy";

/// A running `vouch serve proxy`, killed when dropped.
struct Proxy {
    child: Child,
    url: String,
    stdout: Vec<String>,
    log: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_proxy(upstream: &str, key: &Path, data: &Path, log: &Path, extra: &[&str]) -> Proxy {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = vouch()
        .args(["serve", "proxy", "--upstream", upstream, "--public-key"])
        .arg(key)
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--refresh", "200ms"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("spawn vouch serve proxy");
    let rx = common::line_channel(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => {
                let u = l
                    .strip_prefix("vouch proxy listening on ")
                    .map(str::to_string);
                lines.push(l);
                if let Some(u) = u {
                    break u;
                }
            }
            Err(e) => panic!("proxy did not start ({e:?}): {lines:?}\n{}", tail(log)),
        }
    };
    // The upstream and tree-size lines follow.
    for _ in 0..2 {
        if let Ok(l) = rx.recv_timeout(Duration::from_secs(10)) {
            lines.push(l);
        }
    }
    Proxy {
        child,
        url,
        stdout: lines,
        log: log.to_path_buf(),
    }
}

/// A response: status, lowercase header names with values, body.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

fn http_get(url: &str, path: &str) -> Resp {
    let host = url.strip_prefix("http://").unwrap();
    let addr: std::net::SocketAddr = host.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    }
}

fn ok(url: &str, path: &str) -> Resp {
    let r = http_get(url, path);
    assert_eq!(r.status, 200, "GET {url}{path}: {}", r.text());
    r
}

fn run_ok(args: &[&str]) -> String {
    let o = vouch().args(args).output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    assert!(o.status.success(), "vouch {args:?}:\n{out}\n{err}");
    out + &err
}

fn fill(log: &str, n: u64) {
    let out = run_ok(&[
        "bench",
        "log",
        "--url",
        log,
        "--duration",
        "60s",
        "--clients",
        "8",
        "--entries",
        &n.to_string(),
    ]);
    assert!(out.contains(&format!("entries={n} ")), "{out}");
}

fn size_of(note: &[u8]) -> u64 {
    let n = SignedNote::parse(std::str::from_utf8(note).unwrap()).unwrap();
    Checkpoint::parse(&n.text).unwrap().size
}

/// Wait until the proxy serves a checkpoint of `size`.
fn wait_size(p: &Proxy, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = http_get(&p.url, "/checkpoint");
        if r.status == 200 && size_of(&r.body) == size {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "proxy never served size {size}: {} {}\n{}",
                r.status,
                r.text(),
                tail(&p.log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Poll `/healthz` until `pred` holds on its JSON.
fn wait_health(
    p: &Proxy,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = http_get(&p.url, "/healthz");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if pred(&v) {
            return v;
        }
        if Instant::now() > deadline {
            panic!("proxy health never {what}: {v}\n{}", tail(&p.log));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The body of entry `index` from the proxy's (verified) entry bundles.
fn entry(p: &Proxy, index: u64, size: u64) -> Vec<u8> {
    let tile = index / 256;
    let width = (size - tile * 256).min(256);
    let mut path = format!("/tile/entries/{}", vouch_core::tiles::format_index(tile));
    if width < 256 {
        path.push_str(&format!(".p/{width}"));
    }
    let bundle = ok(&p.url, &path).body;
    parse_entry_bundle(&bundle).unwrap()[usize::try_from(index % 256).unwrap()].clone()
}

/// Fetch `/proof?index=N`, verify it (log signature and inclusion of the entry) and return
/// the checkpoint size it is against.
fn verified_proof(p: &Proxy, verifier: &NoteVerifier, index: u64) -> u64 {
    let r = ok(&p.url, &format!("/proof?index={index}"));
    let proof = TlogProof::parse(&r.text()).unwrap();
    assert_eq!(proof.index, index);
    let size = size_of(proof.checkpoint.as_bytes());
    let body = entry(p, index, size);
    proof
        .verify(verifier, &leaf_hash(&body))
        .unwrap_or_else(|e| panic!("proof for {index}: {e}"));
    size
}

fn metric(p: &Proxy, line_prefix: &str) -> f64 {
    let m = ok(&p.url, "/metrics").text();
    m.lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Start `vouch serve log` on a fixed address (an upstream coming back where it was).
fn restart_log(data: &Path, log: &Path, addr: &str) -> Server {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = vouch()
        .args(["serve", "log", "--data"])
        .arg(data)
        .args([
            "--origin",
            ORIGIN,
            "--listen",
            addr,
            "--batch-interval",
            "20ms",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("http://{addr}"),
        pem: String::new(),
        stdout: Vec::new(),
        log: log.to_path_buf(),
    };
    common::wait_healthy(&server);
    server
}

#[test]
fn proxy_verifies_caches_and_survives_its_upstream() {
    let tmp = tempfile::tempdir().unwrap();
    let data_a = tmp.path().join("log-a");
    let log_a_out = tmp.path().join("log-a.log");
    let mut upstream = start(&data_a, ORIGIN, &log_a_out, &["--batch-interval", "20ms"]);
    let up_url = upstream.url.clone();
    let port = up_url.strip_prefix("http://").unwrap().to_string();
    let key = tmp.path().join("log.pub");
    std::fs::write(&key, &upstream.pem).unwrap();
    let verifier =
        NoteVerifier::for_log_key(ORIGIN, &PublicKey::from_pem(&upstream.pem).unwrap()).unwrap();
    fill(&up_url, 300);

    // A fresh cache.
    let cache = tmp.path().join("cache");
    let proxy_log = tmp.path().join("proxy.log");
    let mut proxy = start_proxy(&up_url, &key, &cache, &proxy_log, &["--max-stale", "3s"]);
    assert!(
        proxy.stdout.iter().any(|l| l.contains("tree size: 300")),
        "{:?}",
        proxy.stdout
    );
    assert_eq!(
        ok(&proxy.url, "/checkpoint").body,
        ok(&up_url, "/checkpoint").body
    );
    assert_eq!(verified_proof(&proxy, &verifier, 5), 300);
    assert_eq!(
        metric(
            &proxy,
            "vouch_proxy_cache_lookups_total{kind=\"proof\",result=\"miss\"} "
        ),
        1.0
    );
    // Warm: the same tiles again are hits.
    assert_eq!(verified_proof(&proxy, &verifier, 7), 300);
    assert_eq!(
        metric(
            &proxy,
            "vouch_proxy_cache_lookups_total{kind=\"proof\",result=\"hit\"} "
        ),
        1.0
    );
    assert_eq!(
        ok(&proxy.url, "/tile/0/000").body,
        ok(&up_url, "/tile/0/000").body
    );
    assert_eq!(
        ok(&proxy.url, "/tile/0/001.p/44").body,
        ok(&up_url, "/tile/0/001.p/44").body
    );
    assert_eq!(ok(&proxy.url, "/tile/0/001.p/10").body.len(), 320);
    assert_eq!(http_get(&proxy.url, "/tile/0/001").status, 404);
    assert_eq!(http_get(&proxy.url, "/proof?index=300").status, 404);
    assert_eq!(http_get(&proxy.url, "/proof").status, 400);
    assert_eq!(
        http_get(&proxy.url, "/proof?index=1&format=xml").status,
        400
    );
    // The Sigstore format carries the same proof.
    let sig: InclusionProof =
        serde_json::from_slice(&ok(&proxy.url, "/proof?index=5&format=sigstore").body).unwrap();
    let text = TlogProof::parse(&ok(&proxy.url, "/proof?index=5").text()).unwrap();
    assert_eq!(sig.log_index.0, 5);
    assert_eq!(sig.tree_size.0, 300);
    assert_eq!(
        sig.hashes
            .iter()
            .map(|h| h.as_slice().to_vec())
            .collect::<Vec<_>>(),
        text.hashes.iter().map(|h| h.to_vec()).collect::<Vec<_>>()
    );
    assert_eq!(sig.checkpoint.unwrap().envelope, text.checkpoint);
    // Rekor v1 read endpoints answer as the log itself does.
    for path in [
        "/api/v1/log/proof?firstSize=10&lastSize=300",
        "/api/v1/log/proof?firstSize=1&lastSize=257",
    ] {
        assert_eq!(ok(&proxy.url, path).body, ok(&up_url, path).body, "{path}");
    }
    let info_p: serde_json::Value =
        serde_json::from_slice(&ok(&proxy.url, "/api/v1/log").body).unwrap();
    let info_u: serde_json::Value =
        serde_json::from_slice(&ok(&up_url, "/api/v1/log").body).unwrap();
    assert_eq!(info_p, info_u);

    // The upstream grows past a tile boundary: the proxy advances with consistency proven.
    fill(&up_url, 300);
    wait_size(&proxy, 600);
    assert_eq!(verified_proof(&proxy, &verifier, 550), 600);
    assert_eq!(verified_proof(&proxy, &verifier, 5), 600);

    // A lying upstream: tile 0/001 (full now, not yet fetched by the proxy) altered on disk.
    let tile = data_a.join("tile/0/001");
    let original = std::fs::read(&tile).unwrap();
    let mut bad = original.clone();
    bad[40] ^= 0x55;
    std::fs::write(&tile, &bad).unwrap();
    let r = http_get(&proxy.url, "/proof?index=300");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(
        r.text().contains("does not verify against the checkpoint"),
        "{}",
        r.text()
    );
    assert_eq!(http_get(&proxy.url, "/tile/0/001").status, 502);
    assert!(
        !cache.join("tile/0/001").exists(),
        "a tampered tile was cached"
    );
    assert!(
        metric(
            &proxy,
            "vouch_proxy_upstream_errors_total{reason=\"tile\"} "
        ) >= 0.0
    );
    std::fs::write(&tile, &original).unwrap();
    assert_eq!(verified_proof(&proxy, &verifier, 300), 600);
    assert!(cache.join("tile/0/001").exists());

    // The upstream stops: answers come from the cache, marked stale, then fail closed.
    drop(upstream);
    wait_health(&proxy, "stale", |v| v["status"] == "stale");
    let r = ok(&proxy.url, "/proof?index=5");
    assert!(r.header("x-vouch-stale").is_some(), "{:?}", r.headers);
    assert_eq!(r.header("warning"), Some("110 - \"Response is Stale\""));
    let v = wait_health(&proxy, "failing", |v| v["status"] == "failing");
    assert!(
        v["lastError"].as_str().unwrap().contains("unreachable"),
        "{v}"
    );
    let r = http_get(&proxy.url, "/checkpoint");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("--max-stale 3 s"), "{}", r.text());
    assert_eq!(http_get(&proxy.url, "/proof?index=5").status, 503);
    // Verified tiles are immutable: still served.
    assert_eq!(ok(&proxy.url, "/tile/0/000").status, 200);

    // It returns (same data, same port) and grows: reconciled with consistency proven.
    upstream = restart_log(&data_a, &log_a_out, &port);
    wait_health(&proxy, "ok again", |v| v["status"] == "ok");
    assert!(
        ok(&proxy.url, "/checkpoint")
            .header("x-vouch-stale")
            .is_none()
    );
    fill(&up_url, 100);
    wait_size(&proxy, 700);
    assert_eq!(verified_proof(&proxy, &verifier, 650), 700);
    let served_a = ok(&proxy.url, "/checkpoint").body;

    // The upstream is replaced by a fork: the same key, another tree, larger.
    drop(upstream);
    let data_b = tmp.path().join("log-b");
    std::fs::create_dir_all(&data_b).unwrap();
    for f in ["log.key", "log.json"] {
        std::fs::copy(data_a.join(f), data_b.join(f)).unwrap();
    }
    let fork = restart_log(&data_b, &tmp.path().join("log-b.log"), &port);
    fill(&up_url, 800);
    let v = wait_health(&proxy, "refusing the fork", |v| {
        v["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("not consistent"))
    });
    assert!(v["lastError"].as_str().unwrap().contains("size 700"), "{v}");
    assert!(
        metric(
            &proxy,
            "vouch_proxy_upstream_errors_total{reason=\"consistency\"} "
        ) >= 1.0
    );
    // Stale but within --max-stale, the old checkpoint is served; past it, nothing is. Never
    // the fork's.
    let r = http_get(&proxy.url, "/checkpoint");
    match r.status {
        200 => {
            assert_eq!(r.body, served_a, "the fork's checkpoint was served");
            assert!(r.header("x-vouch-stale").is_some());
        }
        503 => assert!(r.text().contains("not consistent"), "{}", r.text()),
        s => panic!("GET /checkpoint: {s} {}", r.text()),
    }
    assert_eq!(std::fs::read(cache.join("checkpoint")).unwrap(), served_a);
    drop(fork);

    // A restart with the upstream gone keeps the cache: proofs come from disk.
    drop(proxy);
    proxy = start_proxy(&up_url, &key, &cache, &proxy_log, &["--max-stale", "1h"]);
    assert!(
        proxy
            .stdout
            .iter()
            .any(|l| l.contains("tree size: 700 (from the cache")),
        "{:?}",
        proxy.stdout
    );
    let r = ok(&proxy.url, "/checkpoint");
    assert_eq!(r.body, served_a);
    assert!(r.header("x-vouch-stale").is_some());
    assert_eq!(verified_proof(&proxy, &verifier, 5), 700);
    assert_eq!(verified_proof(&proxy, &verifier, 300), 700);
    assert_eq!(verified_proof(&proxy, &verifier, 650), 700);
    assert_eq!(verified_proof(&proxy, &verifier, 699), 700);
}

#[test]
fn witness_policy_not_met_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("log");
    let upstream = start(
        &data,
        ORIGIN,
        &tmp.path().join("log.log"),
        &["--batch-interval", "20ms"],
    );
    let key = tmp.path().join("log.pub");
    std::fs::write(&key, &upstream.pem).unwrap();
    fill(&upstream.url, 3);
    let log_vkey = std::fs::read_to_string(data.join("log.vkey")).unwrap();
    let witness = vouch_core::cosignature::CosignerKey::new(
        "witness.example/w1",
        vouch_core::cosignature::CosignatureKind::Ed25519,
        &[9u8; 32],
    )
    .unwrap();
    let policy = tmp.path().join("policy.txt");
    std::fs::write(
        &policy,
        format!(
            "log {}\nwitness w1 {}\nquorum w1\n",
            log_vkey.trim(),
            witness.to_vkey()
        ),
    )
    .unwrap();
    let proxy = start_proxy(
        &upstream.url,
        &key,
        &tmp.path().join("cache"),
        &tmp.path().join("proxy.log"),
        &["--witness-policy", policy.to_str().unwrap()],
    );
    let v = wait_health(&proxy, "refusing", |v| {
        v["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("witness"))
    });
    assert_eq!(v["status"], "failing", "{v}");
    let r = http_get(&proxy.url, "/checkpoint");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(!tmp.path().join("cache/checkpoint").exists());
}

#[test]
fn verify_blob_fills_its_proof_from_the_proxy_and_bench_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("up");
    let inst = common::up::start_up(&data, 0, &tmp.path().join("up.log"));
    let log_url = inst.urls["log"].clone();
    let key = tmp.path().join("log.pub");
    std::fs::write(&key, ok(&log_url, "/api/v1/log/publicKey").body).unwrap();

    // A key-signed blob, logged in the instance's log.
    let prefix = tmp.path().join("cosign");
    let o = vouch()
        .args(["generate-key-pair", "--output-key-prefix"])
        .arg(&prefix)
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let blob = tmp.path().join("blob.txt");
    std::fs::write(&blob, b"deploy me\n").unwrap();
    let bundle_path = tmp.path().join("blob.txt.sigstore.json");
    let o = vouch()
        .arg("sign-blob")
        .arg(&blob)
        .arg("--key")
        .arg(prefix.with_extension("key"))
        .arg("--bundle")
        .arg(&bundle_path)
        .args(["-y", "--trust-config"])
        .arg(&inst.trust_config)
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sign-blob: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The log grows after signing.
    fill(&log_url, 40);
    let proxy = start_proxy(
        &log_url,
        &key,
        &tmp.path().join("cache"),
        &tmp.path().join("proxy.log"),
        &[],
    );
    // Without its proof the bundle does not verify; with --log-proxy the proof is filled in.
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
    b["verificationMaterial"]["tlogEntries"][0]
        .as_object_mut()
        .unwrap()
        .remove("inclusionProof");
    let stripped = tmp.path().join("stripped.sigstore.json");
    std::fs::write(&stripped, serde_json::to_vec(&b).unwrap()).unwrap();
    let pubkey = prefix.with_extension("pub");
    let trusted_root = data.join("trusted_root.json");
    let base = [
        "verify-blob",
        blob.to_str().unwrap(),
        "--bundle",
        stripped.to_str().unwrap(),
        "--key",
        pubkey.to_str().unwrap(),
        "--trusted-root",
        trusted_root.to_str().unwrap(),
    ];
    let o = vouch().args(base).output().unwrap();
    assert!(
        !o.status.success(),
        "a bundle without an inclusion proof verified"
    );
    let mut with_proxy = base.to_vec();
    with_proxy.extend(["--log-proxy", proxy.url.as_str()]);
    let out = run_ok(&with_proxy);
    assert!(
        out.contains("from the log proxy (tree size none -> "),
        "{out}"
    );
    assert!(out.contains("Verified OK"), "{out}");
    // The original bundle's proof is older than the proxy's checkpoint: it is upgraded too.
    let mut upgrade = base.to_vec();
    upgrade[3] = bundle_path.to_str().unwrap();
    upgrade.extend(["--log-proxy", proxy.url.as_str()]);
    let out = run_ok(&upgrade);
    assert!(out.contains("from the log proxy (tree size "), "{out}");
    assert!(out.contains("Verified OK"), "{out}");

    let out = run_ok(&[
        "bench",
        "proxy",
        "--url",
        &proxy.url,
        "--duration",
        "1s",
        "--clients",
        "4",
    ]);
    assert!(out.contains("errors=0"), "{out}");
    assert!(out.contains("proofs_per_sec="), "{out}");
}
