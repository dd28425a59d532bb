//! `vouch monitor` as a user runs it, against real logs started here:
//!
//! * a `vouch up` instance whose log holds many filler entries (`vouch bench log`) and three
//!   keyless signings by a watched identity (hashedrekord 0.0.2, dsse 0.0.1, hashedrekord
//!   0.0.1), two of them recorded in the authorized set: exactly one alert, with the entry's
//!   index and certificate; without the authorized set, three;
//! * the same monitor killed (SIGKILL) mid-scan resumes without missing or repeating an alert;
//! * a forked log (a second `vouch serve log` with the same key and origin, other entries): the
//!   monitor raises the consistency alert with both checkpoints and the failing proof, and a
//!   witness that cosigned the first history refuses the second (409 without a proof, 422 with
//!   the fork's proof).
//!
//! * a v1-only log (a proxy refusing the tile paths in front of the log): the monitor reads it
//!   through the Rekor v1 API (detected, or `--api v1`), alerts exactly for the watched
//!   signings, resumes after a kill without repeating one, and raises the consistency alert
//!   for a rolled-back and a forked v1 tree head;
//! * the CT log of a `vouch up` (`--ct-log`): one `ct-identity` alert per certificate issued to
//!   the watched identity, with its CT index and precertificate; resumed runs alert only for new
//!   issuances, and an authorized bundle's certificate does not alert.
//!
//! The first instance runs with `--witnesses 2`, and the first monitor requires their quorum on every
//! checkpoint (`--witness-policy`), so the log's cosignature collection is exercised too.
//!
//! `VOUCH_MONITOR_TEST_ENTRIES` sets the log's total size (default 30,000 in this debug test;
//! the issue's 10⁵ runs with `VOUCH_MONITOR_TEST_ENTRIES=100000`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::proxy::FilterProxy;
use common::up::{Instance, start_up_with};
use common::witness::start_witness;
use common::{get, ok_stdout as ok, post, start, try_get, vouch};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Run to completion with a time limit.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t2 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "timed out after {limit:?}: {cmd:?}\nstderr: {}",
                String::from_utf8_lossy(&t2.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

fn total_entries() -> u64 {
    std::env::var("VOUCH_MONITOR_TEST_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000)
}

/// The tree size the log serves now.
fn tree_size(log_url: &str) -> u64 {
    let (st, body) = try_get(log_url, "/checkpoint").unwrap();
    assert_eq!(st, 200);
    String::from_utf8(body)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Append `n` distinct signed filler entries with `vouch bench log` (again for any it could
/// not place, e.g. a request that timed out on this shared machine).
fn filler(log_url: &str, n: u64) {
    let target = tree_size(log_url) + n;
    for _ in 0..5 {
        let missing = target.saturating_sub(tree_size(log_url));
        if missing == 0 {
            return;
        }
        let out = run(
            vouch().args([
                "bench",
                "log",
                "--url",
                log_url,
                "--entries",
                &missing.to_string(),
                "--clients",
                "256",
                "--duration",
                "600s",
            ]),
            Duration::from_secs(900),
        );
        let report = String::from_utf8_lossy(&out.stdout);
        let errors = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "bench log: {} {}",
            report.trim(),
            errors
                .lines()
                .filter(|l| l.contains("error"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    assert_eq!(
        tree_size(log_url),
        target,
        "vouch bench log could not append {n} entries"
    );
}

/// A keyless signing; returns the bundle's (log index, certificate DER base64).
fn sign(inst: &Instance, args: &[&str], file: &Path, bundle: &Path, tok: &str) -> (u64, String) {
    let out = run(
        vouch()
            .args(args)
            .arg(file)
            .arg("--bundle")
            .arg(bundle)
            .args(["--identity-token", tok, "-y", "--trust-config"])
            .arg(&inst.trust_config),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    let vm = &b["verificationMaterial"];
    let index = vm["tlogEntries"][0]["logIndex"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let cert = vm["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
        .unwrap()
        .to_string();
    (index, cert)
}

fn monitor(log: &str, key: &Path, state: &Path, config: &Path, extra: &[&str]) -> Command {
    let mut c = vouch();
    c.args(["monitor", "--log", log, "--public-key"])
        .arg(key)
        .arg("--state")
        .arg(state)
        .arg("--config")
        .arg(config)
        .args(extra);
    c
}

fn alerts(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn pem_b64(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// The state's scan position and whether alerts wait in its outbox.
fn position(state: &Path) -> (u64, bool) {
    std::fs::read(state.join("monitor.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .map(|v| {
            (
                v["scanned"].as_u64().unwrap_or(0),
                v.get("outbox").is_some(),
            )
        })
        .unwrap_or((0, false))
}

fn scanned(state: &Path) -> u64 {
    position(state).0
}

#[test]
fn monitor_alerts_once_for_an_unauthorized_signing_and_resumes_after_kill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Two local witnesses cosign every checkpoint; the monitor requires their quorum.
    let inst = start_up_with(&data, 0, &dir.path().join("up.log"), &["--witnesses", "2"]);
    let policy = data.join("witness_policy.txt");
    assert!(
        inst.banner
            .iter()
            .filter(|l| l.trim_start().starts_with("witness "))
            .count()
            == 3,
        "two witnesses and the policy in the banner: {:?}",
        inst.banner
    );
    let log = inst.urls["log"].clone();
    let key = data.join("log/public.pem");
    assert!(key.exists(), "vouch up writes the log's public key");
    let total = total_entries().max(2_000);
    let tok = inst.token("release@example.com");
    let bob = inst.token("bob@example.com");
    let art = |n: &str| {
        let p = dir.path().join(n);
        std::fs::write(&p, format!("artifact {n}")).unwrap();
        p
    };
    let authorized = dir.path().join("release-records");
    std::fs::create_dir_all(&authorized).unwrap();
    let predicate = dir.path().join("provenance.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/b"}}"#,
    )
    .unwrap();

    // Filler, then the signings spread through the log: two recorded by CI, one not, and
    // one by an identity nobody watches.
    let started = Instant::now();
    filler(&log, total / 10);
    let b1 = authorized.join("v1.0.sigstore.json");
    let s1 = sign(&inst, &["sign-blob"], &art("v1.0.tar.gz"), &b1, &tok);
    filler(&log, total * 4 / 10 - tree_size(&log).min(total * 4 / 10));
    let b2 = authorized.join("v1.0.intoto.sigstore.json");
    let pred = predicate.to_str().unwrap();
    let s2 = sign(
        &inst,
        &[
            "attest-blob",
            "--predicate",
            pred,
            "--type",
            "slsaprovenance1",
            "--rekor-version",
            "1",
        ],
        &art("v1.0.tar.gz"),
        &b2,
        &tok,
    );
    sign(
        &inst,
        &["sign-blob"],
        &art("bobs.tar.gz"),
        &dir.path().join("bob.sigstore.json"),
        &bob,
    );
    filler(&log, total * 8 / 10 - tree_size(&log).min(total * 8 / 10));
    let rogue = dir.path().join("rogue.sigstore.json");
    let s3 = sign(
        &inst,
        &["sign-blob", "--rekor-version", "1"],
        &art("rogue.tar.gz"),
        &rogue,
        &tok,
    );
    filler(&log, total - tree_size(&log).min(total));
    let size = tree_size(&log);
    eprintln!(
        "log of {size} entries built in {:?}; watched signings at {}, {}, {}",
        started.elapsed(),
        s1.0,
        s2.0,
        s3.0
    );
    assert!(s1.0 < s2.0 && s2.0 < s3.0 && s3.0 < size);

    let issuer = regex::escape(&inst.urls["oidc"]);
    let config = dir.path().join("watch.yaml");
    std::fs::write(
        &config,
        format!(
            "# rekor-monitor's format\nmonitoredValues:\n  certIdentities:\n    - certSubject: ^release@example\\.com$\n      issuers:\n        - ^{issuer}$\noutputIdentities: identities.txt\n"
        ),
    )
    .unwrap();

    // With the authorized set: exactly one alert, the rogue signing, with its certificate.
    let st_a = dir.path().join("state-a");
    let auth_arg = authorized.to_str().unwrap();
    let t = Instant::now();
    let out = run(
        &mut monitor(
            &log,
            &key,
            &st_a,
            &config,
            &[
                "--once",
                "--authorized",
                auth_arg,
                "--witness-policy",
                policy.to_str().unwrap(),
            ],
        ),
        Duration::from_secs(600),
    );
    eprintln!("scan of {size} entries took {:?}", t.elapsed());
    assert_eq!(
        out.status.code(),
        Some(1),
        "an alert exits 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got.len(), 1, "{got:#?}");
    let a = &got[0];
    assert_eq!(a["kind"], "identity");
    assert_eq!(a["index"], s3.0);
    assert_eq!(a["entryKind"], "hashedrekord 0.0.1");
    assert_eq!(a["identity"]["certSubject"], "release@example.com");
    assert_eq!(a["identity"]["watched"]["type"], "certIdentity");
    assert_eq!(
        pem_b64(a["identity"]["certificate"].as_str().unwrap()),
        s3.1,
        "the alert carries the signing certificate"
    );
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains("someone signed as your release identity")
    );
    assert_eq!(scanned(&st_a), size);
    // Nothing new: no alert, exit 0.
    let out = run(
        &mut monitor(
            &log,
            &key,
            &st_a,
            &config,
            &["--once", "--authorized", auth_arg],
        ),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(alerts(&String::from_utf8_lossy(&out.stdout)).is_empty());

    // Without it: every watched signing, across entry kinds.
    let st_b = dir.path().join("state-b");
    let out = run(
        &mut monitor(&log, &key, &st_b, &config, &["--once"]),
        Duration::from_secs(600),
    );
    assert_eq!(out.status.code(), Some(1));
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    let indexes: Vec<u64> = got.iter().map(|a| a["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [s1.0, s2.0, s3.0], "{got:#?}");
    let kinds: Vec<&str> = got
        .iter()
        .map(|a| a["entryKind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["hashedrekord 0.0.2", "dsse 0.0.1", "hashedrekord 0.0.1"]
    );
    assert_eq!(
        pem_b64(got[0]["identity"]["certificate"].as_str().unwrap()),
        s1.1
    );
    assert_eq!(
        pem_b64(got[1]["identity"]["certificate"].as_str().unwrap()),
        s2.1
    );
    let expected: BTreeSet<String> = got
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();

    // Killed mid-scan (after the first watched signing, before the last): the next run
    // delivers exactly the rest.
    let st_c = dir.path().join("state-c");
    let mut child = monitor(&log, &key, &st_c, &config, &["--once"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = common::drained_lines(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(600);
    // Past the first watched signing, with its alert delivered (not waiting in the outbox).
    while !matches!(position(&st_c), (at, false) if at > s1.0) {
        assert!(Instant::now() < deadline, "the monitor made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the monitor exited early"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = scanned(&st_c);
    assert!(
        at_kill <= s3.0,
        "the kill came after the whole scan (at {at_kill}); the log is too small to test resumption"
    );
    let mut first: Vec<Value> = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        first.extend(alerts(&l));
    }
    assert!(
        !first.is_empty(),
        "the alert for index {} came before the kill",
        s1.0
    );
    let out = run(
        &mut monitor(&log, &key, &st_c, &config, &["--once"]),
        Duration::from_secs(600),
    );
    assert_eq!(out.status.code(), Some(1));
    let second = alerts(&String::from_utf8_lossy(&out.stdout));
    let mut ids: Vec<String> = first
        .iter()
        .chain(second.iter())
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        n,
        "an alert was repeated after the kill: {first:#?} {second:#?}"
    );
    assert_eq!(
        ids.into_iter().collect::<BTreeSet<_>>(),
        expected,
        "killed at {at_kill}: before {first:#?}, after {second:#?}"
    );
    eprintln!(
        "killed at index {at_kill}: {} alert(s) before, {} after",
        first.len(),
        second.len()
    );
}

fn checkpoint(url: &str) -> String {
    let (st, body) = try_get(url, "/checkpoint").unwrap();
    assert_eq!(st, 200);
    String::from_utf8(body).unwrap()
}

#[test]
fn monitor_and_witness_catch_a_forked_log() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = "fork.vouch.test/2026";
    let a_dir = tmp.path().join("log-a");
    let log_a = start(&a_dir, origin, &tmp.path().join("a.txt"), &[]);
    filler(&log_a.url, 700);
    let key_pem = a_dir.join("public.pem");

    // A monitor and a witness see history A.
    let config = tmp.path().join("watch.yaml");
    std::fs::write(
        &config,
        "monitoredValues:\n  certIdentities:\n    - certSubject: ^release@example\\.com$\n",
    )
    .unwrap();
    let state = tmp.path().join("state");
    let out = run(
        &mut monitor(&log_a.url, &key_pem, &state, &config, &["--once"]),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cp_a = checkpoint(&log_a.url);
    let vkey = std::fs::read_to_string(a_dir.join("log.vkey")).unwrap();
    let witness = start_witness(
        &tmp.path().join("w"),
        origin,
        vkey.trim(),
        &tmp.path().join("w.txt"),
    );
    let (st, _, body) = post(
        &witness.url,
        "/add-checkpoint",
        format!("old 0\n\n{cp_a}").as_bytes(),
    );
    assert_eq!(st, 200, "{body}");

    // History B: the same key and origin, other entries, a larger tree.
    let b_dir = tmp.path().join("log-b");
    std::fs::create_dir_all(&b_dir).unwrap();
    for f in ["log.key", "log.json"] {
        std::fs::copy(a_dir.join(f), b_dir.join(f)).unwrap();
    }
    let log_b = start(&b_dir, origin, &tmp.path().join("b.txt"), &[]);
    filler(&log_b.url, 1_000);
    let cp_b = checkpoint(&log_b.url);

    // The monitor, pointed at B with A's state: a critical consistency alert with evidence.
    let out = run(
        &mut monitor(&log_b.url, &key_pem, &state, &config, &["--once"]),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got.len(), 1, "{got:#?}");
    let a = &got[0];
    assert_eq!(a["kind"], "consistency");
    assert_eq!(a["severity"], "critical");
    assert_eq!(a["oldCheckpoint"].as_str(), Some(cp_a.as_str()));
    assert_eq!(a["newCheckpoint"].as_str(), Some(cp_b.as_str()));
    let proof: Vec<&str> = a["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(!proof.is_empty());
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("root does not match"),
        "{a:#?}"
    );

    // Run again: refused still (exit 1), but the same evidence is not alerted twice.
    let out = run(
        &mut monitor(&log_b.url, &key_pem, &state, &config, &["--once"]),
        Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(alerts(&String::from_utf8_lossy(&out.stdout)).is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));

    // The witness refuses the second history: without a proof (409, it holds A's size), and
    // with the fork's own consistency proof (422).
    let size_a: u64 = cp_a.lines().nth(1).unwrap().parse().unwrap();
    let (st, ct, body) = post(
        &witness.url,
        "/add-checkpoint",
        format!("old 0\n\n{cp_b}").as_bytes(),
    );
    assert_eq!(
        (st, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", &*format!("{size_a}\n"))
    );
    let req = format!("old {size_a}\n{}\n\n{cp_b}", proof.join("\n"));
    let (st, _, body) = post(&witness.url, "/add-checkpoint", req.as_bytes());
    assert_eq!(st, 422, "{body}");

    // The monitor keeps its state on A's checkpoint: A itself is still fine.
    drop(log_b);
    let out = run(
        &mut monitor(&log_a.url, &key_pem, &state, &config, &["--once"]),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tlog-tiles paths: a proxy that refuses them leaves only the Rekor v1 API.
const TILE_PATHS: &[&str] = &["/tile/", "/checkpoint"];

/// The signed tree head a log serves through its Rekor v1 API.
fn v1_tree_head(url: &str) -> String {
    let v: Value = serde_json::from_slice(&get(url, "/api/v1/log")).unwrap();
    v["signedTreeHead"].as_str().unwrap().to_string()
}

/// No tile path reached the log through `proxy`, and the v1 entries were read in batches.
fn assert_only_v1_used(proxy: &FilterProxy) {
    let seen = proxy.seen();
    let forwarded: Vec<&str> = seen
        .iter()
        .filter(|(_, st)| *st == 0)
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(
        forwarded.iter().all(|p| p.starts_with("/api/v1/")),
        "only the v1 API was forwarded: {forwarded:?}"
    );
    assert!(
        forwarded.contains(&"/api/v1/log"),
        "the v1 tree head was read: {forwarded:?}"
    );
}

#[test]
fn monitor_follows_a_v1_only_log_and_resumes_after_kill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let inst = start_up_with(&data, 0, &dir.path().join("up.log"), &[]);
    let log = inst.urls["log"].clone();
    let key = data.join("log/public.pem");
    let proxy = FilterProxy::start(&log, TILE_PATHS);
    assert_eq!(try_get(&proxy.url, "/checkpoint").unwrap().0, 404);
    let tok = inst.token("release@example.com");
    let bob = inst.token("bob@example.com");
    let art = |n: &str| {
        let p = dir.path().join(n);
        std::fs::write(&p, format!("artifact {n}")).unwrap();
        p
    };
    filler(&log, 100);
    let s1 = sign(
        &inst,
        &["sign-blob"],
        &art("a.tar.gz"),
        &dir.path().join("a.sigstore.json"),
        &tok,
    );
    sign(
        &inst,
        &["sign-blob"],
        &art("bobs.tar.gz"),
        &dir.path().join("bob.sigstore.json"),
        &bob,
    );
    filler(&log, 1_500);
    let s2 = sign(
        &inst,
        &["sign-blob", "--rekor-version", "1"],
        &art("b.tar.gz"),
        &dir.path().join("b.sigstore.json"),
        &tok,
    );
    filler(&log, 200);
    let size = tree_size(&log);
    let issuer = regex::escape(&inst.urls["oidc"]);
    let config = dir.path().join("watch.yaml");
    std::fs::write(
        &config,
        format!(
            "monitoredValues:\n  certIdentities:\n    - certSubject: ^release@example\\.com$\n      issuers: ['^{issuer}$']\n"
        ),
    )
    .unwrap();

    // Auto-detected: the proxy refuses /checkpoint, so the monitor reads the v1 API.
    let st = dir.path().join("state-a");
    let out = run(
        &mut monitor(&proxy.url, &key, &st, &config, &["--once"]),
        Duration::from_secs(600),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    let indexes: Vec<u64> = got.iter().map(|a| a["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [s1.0, s2.0], "{got:#?}");
    for (a, s) in got.iter().zip([&s1, &s2]) {
        assert_eq!(a["kind"], "identity");
        assert_eq!(a["identity"]["certSubject"], "release@example.com");
        assert_eq!(pem_b64(a["identity"]["certificate"].as_str().unwrap()), s.1);
    }
    assert_eq!(got[1]["entryKind"], "hashedrekord 0.0.1");
    assert_eq!(scanned(&st), size);
    assert_only_v1_used(&proxy);
    assert!(
        proxy
            .seen()
            .iter()
            .any(|(p, _)| p == "/api/v1/log/entries/retrieve"),
        "entries were read in batches"
    );
    // Nothing new: exit 0, no alert.
    let out = run(
        &mut monitor(&proxy.url, &key, &st, &config, &["--once", "--api", "v1"]),
        Duration::from_secs(60),
    );
    ok(&out, "second v1 pass");
    assert!(alerts(&String::from_utf8_lossy(&out.stdout)).is_empty());

    // Killed mid-scan (the proxy slowed down, one batch at a time): the next run delivers
    // exactly the rest.
    let expected: BTreeSet<String> = got
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    proxy.set_delay(Duration::from_millis(40));
    let st_c = dir.path().join("state-c");
    let mut child = monitor(
        &proxy.url,
        &key,
        &st_c,
        &config,
        &["--once", "--api", "v1", "--concurrency", "1"],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let rx = common::drained_lines(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(300);
    while !matches!(position(&st_c), (at, false) if at > s1.0) {
        assert!(Instant::now() < deadline, "the monitor made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the monitor exited early"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = scanned(&st_c);
    assert!(
        at_kill <= s2.0,
        "killed after the whole scan (at {at_kill})"
    );
    let mut first: Vec<Value> = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        first.extend(alerts(&l));
    }
    proxy.set_delay(Duration::ZERO);
    let out = run(
        &mut monitor(&proxy.url, &key, &st_c, &config, &["--once", "--api", "v1"]),
        Duration::from_secs(600),
    );
    assert_eq!(out.status.code(), Some(1));
    let second = alerts(&String::from_utf8_lossy(&out.stdout));
    let ids: Vec<String> = first
        .iter()
        .chain(second.iter())
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "repeated: {first:#?} {second:#?}");
    assert_eq!(unique, expected, "killed at {at_kill}");
    assert_only_v1_used(&proxy);
}

#[test]
fn v1_monitor_catches_a_rollback_and_a_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = "fork-v1.vouch.test/2026";
    let a_dir = tmp.path().join("log-a");
    let log_a = start(&a_dir, origin, &tmp.path().join("a.txt"), &[]);
    filler(&log_a.url, 300);
    let key_pem = a_dir.join("public.pem");
    let proxy = FilterProxy::start(&log_a.url, TILE_PATHS);
    let config = tmp.path().join("watch.yaml");
    std::fs::write(
        &config,
        "monitoredValues:\n  certIdentities:\n    - certSubject: ^release@example\\.com$\n",
    )
    .unwrap();
    let state = tmp.path().join("state");
    let mon = |extra: &[&str]| {
        let mut args = vec!["--once", "--api", "v1"];
        args.extend_from_slice(extra);
        run(
            &mut monitor(&proxy.url, &key_pem, &state, &config, &args),
            Duration::from_secs(120),
        )
    };
    ok(&mon(&[]), "v1 monitor of log A");
    let head_a = v1_tree_head(&log_a.url);

    // Log B: the same key and origin, other entries; first smaller than A, then larger.
    let b_dir = tmp.path().join("log-b");
    std::fs::create_dir_all(&b_dir).unwrap();
    for f in ["log.key", "log.json"] {
        std::fs::copy(a_dir.join(f), b_dir.join(f)).unwrap();
    }
    let log_b = start(&b_dir, origin, &tmp.path().join("b.txt"), &[]);
    filler(&log_b.url, 100);
    proxy.set_upstream(&log_b.url);
    let out = mon(&[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["kind"], "consistency");
    assert_eq!(got[0]["severity"], "critical");
    assert!(
        got[0]["reason"].as_str().unwrap().contains("rollback"),
        "{got:#?}"
    );
    assert_eq!(got[0]["oldCheckpoint"].as_str(), Some(head_a.as_str()));
    assert_eq!(
        got[0]["newCheckpoint"].as_str(),
        Some(v1_tree_head(&log_b.url).as_str())
    );

    filler(&log_b.url, 900);
    let head_b = v1_tree_head(&log_b.url);
    let out = mon(&[]);
    assert_eq!(out.status.code(), Some(1));
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got.len(), 1, "{got:#?}");
    let a = &got[0];
    assert_eq!(a["kind"], "consistency");
    assert_eq!(a["oldCheckpoint"].as_str(), Some(head_a.as_str()));
    assert_eq!(a["newCheckpoint"].as_str(), Some(head_b.as_str()));
    assert!(!a["proof"].as_array().unwrap().is_empty(), "{a:#?}");
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("root does not match"),
        "{a:#?}"
    );
    // Refused still, not alerted twice.
    let out = mon(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(alerts(&String::from_utf8_lossy(&out.stdout)).is_empty());

    // Back on A: still consistent with the stored state.
    drop(log_b);
    proxy.set_upstream(&log_a.url);
    ok(&mon(&[]), "v1 monitor of log A again");
    assert_only_v1_used(&proxy);
}

/// The CT log's tree size (`get-sth`).
fn ct_size(ct: &str) -> u64 {
    let v: Value = serde_json::from_slice(&get(ct, "/ct/v1/get-sth")).unwrap();
    v["tree_size"].as_u64().unwrap()
}

/// The serial of a DER certificate given in base64 or PEM.
fn serial(cert: &str) -> String {
    let der = if cert.starts_with("-----") {
        vouch_core::keys::pem_decode(cert, &["CERTIFICATE"]).unwrap()
    } else {
        vouch_core::encoding::b64_decode(cert).unwrap()
    };
    vouch_core::x509::Certificate::from_der(&der)
        .unwrap()
        .serial_hex()
}

#[test]
fn monitor_watches_the_ct_log_for_certificates_issued_to_a_watched_identity() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let inst = start_up_with(&data, 0, &dir.path().join("up.log"), &[]);
    let ct = inst.urls["ct"].clone();
    let ct_key = data.join("ct/public.pem");
    assert!(ct_key.exists(), "vouch up writes the CT log's public key");
    let tok = inst.token("release@example.com");
    let bob = inst.token("bob@example.com");
    // Each keyless signing is one certificate, whose precertificate the CA logs: one CT entry.
    let issue = |name: &str, tok: &str| {
        let before = ct_size(&ct);
        let file = dir.path().join(name);
        std::fs::write(&file, format!("artifact {name}")).unwrap();
        let bundle = dir.path().join(format!("{name}.sigstore.json"));
        let (_, cert) = sign(&inst, &["sign-blob"], &file, &bundle, tok);
        let deadline = Instant::now() + Duration::from_secs(10);
        while ct_size(&ct) != before + 1 {
            assert!(Instant::now() < deadline, "no CT entry for {name}");
            std::thread::sleep(Duration::from_millis(20));
        }
        (before, bundle, serial(&cert))
    };
    let r1 = issue("a.tar.gz", &tok);
    let _unwatched = issue("bobs.tar.gz", &bob);
    let r2 = issue("b.tar.gz", &tok);
    let issuer = regex::escape(&inst.urls["oidc"]);
    let config = dir.path().join("watch.yaml");
    std::fs::write(
        &config,
        format!(
            "monitoredValues:\n  certIdentities:\n    - certSubject: ^release@example\\.com$\n      issuers: ['^{issuer}$']\n"
        ),
    )
    .unwrap();
    let ct_mon = |state: &Path, extra: &[&str]| {
        let mut c = vouch();
        c.args(["monitor", "--once", "--ct-log", &ct, "--ct-public-key"])
            .arg(&ct_key)
            .arg("--state")
            .arg(state)
            .arg("--config")
            .arg(&config)
            .args(extra);
        run(&mut c, Duration::from_secs(120))
    };
    let check = |a: &Value, r: &(u64, std::path::PathBuf, String)| {
        assert_eq!(a["kind"], "ct-identity", "{a:#?}");
        assert_eq!(a["index"], r.0, "{a:#?}");
        assert_eq!(a["entryKind"], "ct precert");
        assert_eq!(a["identity"]["certSubject"], "release@example.com");
        assert_eq!(
            a["identity"]["issuer"].as_str(),
            Some(inst.urls["oidc"].as_str())
        );
        assert_eq!(
            serial(a["identity"]["certificate"].as_str().unwrap()),
            r.2,
            "the alert carries the precertificate of the issued certificate"
        );
    };

    let st = dir.path().join("state");
    let out = ct_mon(&st, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got.len(), 2, "{got:#?}");
    check(&got[0], &r1);
    check(&got[1], &r2);
    // Resumed: nothing new, no alert; one more issuance, exactly its alert.
    let out = ct_mon(&st, &[]);
    ok(&out, "second CT pass");
    assert!(alerts(&String::from_utf8_lossy(&out.stdout)).is_empty());
    let r3 = issue("c.tar.gz", &tok);
    let out = ct_mon(&st, &[]);
    assert_eq!(out.status.code(), Some(1));
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got.len(), 1, "{got:#?}");
    check(&got[0], &r3);

    // With CI's record of the first release, its certificate is authorized: the others alert.
    let authorized = dir.path().join("release-records");
    std::fs::create_dir_all(&authorized).unwrap();
    std::fs::copy(&r1.1, authorized.join("a.sigstore.json")).unwrap();
    let out = ct_mon(
        &dir.path().join("state-auth"),
        &["--authorized", authorized.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(got.len(), 2, "{got:#?}");
    check(&got[0], &r2);
    check(&got[1], &r3);
    assert!(
        got[0]["message"]
            .as_str()
            .unwrap()
            .contains("not in the authorized set")
    );

    // The log and the CT log followed in one run, side by side in one state directory.
    let both = dir.path().join("state-both");
    let log_key = data.join("log/public.pem");
    let out = ct_mon(
        &both,
        &[
            "--log",
            &inst.urls["log"],
            "--public-key",
            log_key.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let got = alerts(&String::from_utf8_lossy(&out.stdout));
    let count = |k: &str| got.iter().filter(|a| a["kind"] == k).count();
    assert_eq!(
        (count("identity"), count("ct-identity")),
        (3, 3),
        "{got:#?}"
    );
    assert!(both.join("monitor.json").exists() && both.join("ct.json").exists());
}
