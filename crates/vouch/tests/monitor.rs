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
//! The instance runs with `--witnesses 2`, and the first monitor requires their quorum on every
//! checkpoint (`--witness-policy`), so the log's cosignature collection is exercised too.
//!
//! `VOUCH_MONITOR_TEST_ENTRIES` sets the log's total size (default 30,000 in this debug test;
//! the issue's 10⁵ runs with `VOUCH_MONITOR_TEST_ENTRIES=100000`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{Instance, start_up_with};
use common::{post, start, tail, try_get, vouch};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
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

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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

fn token(inst: &Instance, email: &str) -> String {
    let out = run(
        vouch().args([
            "oidc",
            "token",
            "--url",
            &inst.urls["oidc"],
            "--email",
            email,
        ]),
        Duration::from_secs(30),
    );
    ok(&out, "vouch oidc token").trim().to_string()
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
    let tok = token(&inst, "release@example.com");
    let bob = token(&inst, "bob@example.com");
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
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
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

/// A `vouch serve witness` following one log; killed when dropped.
struct Witness {
    child: std::process::Child,
    url: String,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_witness(dir: &Path, origin: &str, vkey: &str, log: &Path) -> Witness {
    let mut child = vouch()
        .args(["serve", "witness", "--data"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0", "--log"])
        .arg(format!("{origin} {vkey}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let url = loop {
        let l = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("witness did not start ({e}): {}", tail(log)));
        if let Some(u) = l.strip_prefix("vouch witness listening on ") {
            break u.to_string();
        }
    };
    Witness { child, url }
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
