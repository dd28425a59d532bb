//! `vouch serve log`, `vouch bench log` and `vouch log info|get|verify|search` end to end on
//! loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{get, start, vouch};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

const ORIGIN: &str = "log.vouch.test/cli";

fn run(args: &[&str]) -> Output {
    vouch().args(args).output().expect("run vouch")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "vouch {args:?} failed:\n{out}\n{err}");
    out
}

/// A failure reported the CLI way: exit 1, one `error:` line, optionally one `hint:` line.
fn fails(args: &[&str]) -> String {
    let o = run(args);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "vouch {args:?}:\n{out}\n{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        !lines.is_empty() && lines[0].starts_with("error: "),
        "stderr: {err}"
    );
    assert!(
        lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")),
        "stderr: {err}"
    );
    lines[0].to_string()
}

fn value<'a>(out: &'a str, key: &str) -> &'a str {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

fn tree_size(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix("Tree size: "))
        .unwrap_or_else(|| panic!("no tree size in {out}"))
        .trim()
        .parse()
        .unwrap()
}

fn write(path: &Path, data: &[u8]) -> String {
    std::fs::write(path, data).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn serve_bench_and_read_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = start(
        &data,
        ORIGIN,
        &tmp.path().join("server.log"),
        &["--batch-interval", "20ms"],
    );
    let url = server.url.clone();
    let key = write(&tmp.path().join("log.pub"), server.pem.as_bytes());
    assert!(
        server
            .stdout
            .iter()
            .any(|l| l == &format!("origin: {ORIGIN}"))
    );
    let tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("trusted_root.tlog.json")).unwrap())
            .unwrap();
    assert_eq!(tr["baseUrl"], format!("https://{ORIGIN}"));
    assert_eq!(tr["publicKey"]["keyDetails"], "PKIX_ED25519");

    let cp0 = write(&tmp.path().join("cp0.txt"), &get(&url, "/checkpoint"));

    // A first short run, enough to cross a tile boundary, then an early checkpoint.
    let out = ok(&[
        "bench",
        "log",
        "--url",
        &url,
        "--duration",
        "60s",
        "--clients",
        "8",
        "--entries",
        "300",
    ]);
    assert_eq!(value(&out, "entries="), "300", "{out}");
    let early = write(&tmp.path().join("early.txt"), &get(&url, "/checkpoint"));

    // The benchmark proper.
    let out = ok(&[
        "bench",
        "log",
        "--url",
        &url,
        "--duration",
        "2s",
        "--clients",
        "8",
    ]);
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("appends_per_sec="), "{out}");
    let rate: f64 = value(last, "appends_per_sec=").parse().unwrap();
    let entries: u64 = value(&out, "entries=").parse().unwrap();
    assert!(entries > 0 && rate > 0.0, "{out}");
    assert_eq!(value(&out, "errors="), "0", "{out}");
    for k in ["p50_ms=", "p90_ms=", "p99_ms="] {
        let v: f64 = value(&out, k).parse().unwrap();
        assert!(v > 0.0, "{out}");
    }
    let total = 300 + entries;

    // info: size, root, origin, signature.
    let out = ok(&["log", "info", "--url", &url, "--public-key", &key]);
    assert_eq!(tree_size(&out), total, "{out}");
    assert!(out.contains(&format!("Origin: {ORIGIN}")), "{out}");
    assert!(out.contains("checkpoint signature OK"), "{out}");
    let out = ok(&["log", "info", "--url", &url]);
    assert!(out.contains("not checked"), "{out}");

    // get: first and last entries, inclusion proofs computed from tiles.
    for index in [0, 255, 256, total - 1] {
        let i = index.to_string();
        let out = ok(&[
            "log",
            "get",
            "--url",
            &url,
            "--index",
            &i,
            "--public-key",
            &key,
        ]);
        assert!(out.contains(&format!("Index: {index}")), "{out}");
        assert!(out.contains("\"kind\": \"hashedrekord\""), "{out}");
        assert!(out.contains("checkpoint signature OK"), "{out}");
        assert!(out.contains("inclusion proof OK"), "{out}");
    }
    let e = fails(&["log", "get", "--url", &url, "--index", &total.to_string()]);
    assert!(e.contains("beyond the log"), "{e}");

    // verify: consistency from the empty and the early checkpoints.
    for cp in [&cp0, &early] {
        let out = ok(&[
            "log",
            "verify",
            "--url",
            &url,
            "--from-checkpoint",
            cp,
            "--public-key",
            &key,
        ]);
        assert!(out.contains("consistency proof OK"), "{out}");
        assert!(out.contains("Checkpoint signatures OK"), "{out}");
    }

    // A tampered checkpoint: root changed (signature then fails; without a key, the proof).
    let early_text = std::fs::read_to_string(&early).unwrap();
    let mut lines: Vec<String> = early_text.split('\n').map(String::from).collect();
    let flipped = if lines[2].starts_with('A') { "B" } else { "A" };
    lines[2] = format!("{flipped}{}", &lines[2][1..]);
    let tampered = write(
        &tmp.path().join("tampered.txt"),
        lines.join("\n").as_bytes(),
    );
    let e = fails(&[
        "log",
        "verify",
        "--url",
        &url,
        "--from-checkpoint",
        &tampered,
        "--public-key",
        &key,
    ]);
    assert!(e.contains("does not verify"), "{e}");
    let e = fails(&[
        "log",
        "verify",
        "--url",
        &url,
        "--from-checkpoint",
        &tampered,
    ]);
    assert!(e.contains("not consistent"), "{e}");
    // Size changed instead.
    let mut lines: Vec<String> = early_text.split('\n').map(String::from).collect();
    lines[1] = (lines[1].parse::<u64>().unwrap() + 1).to_string();
    let tampered = write(
        &tmp.path().join("tampered2.txt"),
        lines.join("\n").as_bytes(),
    );
    let e = fails(&[
        "log",
        "verify",
        "--url",
        &url,
        "--from-checkpoint",
        &tampered,
    ]);
    assert!(e.contains("not consistent"), "{e}");
    // Another log's key.
    let other = write(
        &tmp.path().join("other.pub"),
        b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAPwuyU2EUhmtLR1a9zLVD61OczKA1zrt71KrpkesHs5s=\n-----END PUBLIC KEY-----\n",
    );
    let e = fails(&["log", "info", "--url", &url, "--public-key", &other]);
    assert!(e.contains("checkpoint"), "{e}");

    // search: needs the Rekor v1 index API; a log without it gives a clear error.
    let o = run(&["log", "search", "--url", &url, "--sha256", &"0".repeat(64)]);
    let (out, err) = text(&o);
    assert!(
        o.status.success() || err.contains("does not serve the Rekor v1 search API"),
        "{out}\n{err}"
    );
    if o.status.success() {
        // With the v1 API: find entry 0 by its artifact digest, then read it by UUID.
        assert!(out.trim().is_empty(), "{out}");
        let entry0 = ok(&["log", "get", "--url", &url, "--index", "0"]);
        let digest_b64 = entry0
            .lines()
            .find_map(|l| l.trim().strip_prefix("\"digest\": \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no digest in {entry0}"));
        let digest = hex::encode(vouch_core::encoding::b64_decode(digest_b64).unwrap());
        let out = ok(&["log", "search", "--url", &url, "--sha256", &digest]);
        let uuids: Vec<&str> = out.lines().collect();
        assert_eq!(uuids.len(), 1, "{out}");
        let out = ok(&["log", "get", "--url", &url, "--uuid", uuids[0]]);
        assert!(out.contains("Index: 0\n"), "{out}");
        assert!(out.contains("inclusion proof OK"), "{out}");
    }

    // Graceful shutdown on SIGTERM, then a restart keeps the log, key and trusted root.
    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    drop(server);
    let server = start(&data, ORIGIN, &tmp.path().join("server2.log"), &[]);
    let tr2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("trusted_root.tlog.json")).unwrap())
            .unwrap();
    assert_eq!(tr, tr2, "trusted root entry changed across restarts");
    let out = ok(&["log", "info", "--url", &server.url, "--public-key", &key]);
    assert_eq!(tree_size(&out), total, "{out}");
    let out = ok(&[
        "log",
        "verify",
        "--url",
        &server.url,
        "--from-checkpoint",
        &early,
        "--public-key",
        &key,
    ]);
    assert!(out.contains("consistency proof OK"), "{out}");
    // The same data directory cannot be served twice, nor under another origin.
    let d = data.to_str().unwrap();
    let e = fails(&["serve", "log", "--data", d, "--listen", "127.0.0.1:0"]);
    assert!(e.contains("cannot open the log store"), "{e}");
    drop(server);
    let e = fails(&["serve", "log", "--data", d, "--origin", "other.test"]);
    assert!(e.contains("holds the log"), "{e}");
}

#[test]
fn bad_flags_and_data_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(&tmp.path().join("file"), b"x");
    let e = fails(&["serve", "log", "--data", &file, "--origin", ORIGIN]);
    assert!(e.contains("not a directory"), "{e}");
    let new = tmp.path().join("new");
    let e = fails(&["serve", "log", "--data", new.to_str().unwrap()]);
    assert!(e.contains("--origin is required"), "{e}");
    assert!(!new.exists());
    let e = fails(&[
        "serve",
        "log",
        "--data",
        new.to_str().unwrap(),
        "--origin",
        "has space",
    ]);
    assert!(e.contains("invalid --origin"), "{e}");
    // clap rejects a malformed duration (exit 2, its own usage message).
    let o = run(&[
        "serve",
        "log",
        "--data",
        new.to_str().unwrap(),
        "--origin",
        ORIGIN,
        "--batch-interval",
        "soon",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.starts_with("error: invalid value 'soon'"));
    let e = fails(&["bench", "log", "--url", "https://log.example.test"]);
    assert!(e.contains("only targets a log on this machine"), "{e}");
    let e = fails(&["bench", "log", "--url", "ftp://127.0.0.1/"]);
    assert!(e.contains("only http"), "{e}");
    let e = fails(&["log", "info", "--url", "http://127.0.0.1:1"]);
    assert!(e.contains("cannot reach"), "{e}");
}
