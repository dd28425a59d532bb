//! The CA watches identities, tested as a user runs it against a real `vouch up`:
//!
//! * `RateLimits.perIdentity` in the CA config (`vouch up --ca-config`): past the limit one
//!   identity is answered 429 with `Retry-After` and a JSON message naming the limit, over
//!   HTTP, while another identity is still issued certificates;
//! * the issuance audit log `vouch up` writes (`<data>/ca_audit.jsonl`): one typed line per
//!   certificate, read by `vouch monitor --ca-audit --once`, which raises one `identity` alert
//!   per unauthorized issuance and a `spike` alert for the burst (exit status 1); with the
//!   bundles in `--authorized`, only the spike remains;
//! * the same burst seen in the log's entries (`vouch monitor --log … --once`) raises the
//!   spike alert too, and `vouch bench monitor` scans it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{Instance, start_up_with};
use common::{ok_stdout, post_with_headers, vouch};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn sign(inst: &Instance, dir: &Path, name: &str, tok: &str) -> Output {
    let file = dir.join(name);
    std::fs::write(&file, format!("artifact {name}")).unwrap();
    vouch()
        .current_dir(dir)
        .args(["sign-blob", name, "--bundle"])
        .arg(format!("{name}.sigstore.json"))
        .args(["--identity-token", tok, "-y", "--trust-config"])
        .arg(&inst.trust_config)
        .output()
        .unwrap()
}

/// POST a signing-certificate request with `tok` as bearer: (status, headers, body).
fn post_signing_cert(ca: &str, tok: &str) -> (u16, String, String) {
    let body = br#"{"publicKeyRequest":{"publicKey":{"algorithm":"ECDSA","content":"AAAA"},"proofOfPossession":"AAAA"}}"#;
    let bearer = format!("Bearer {tok}");
    post_with_headers(
        ca,
        "/api/v2/signingCert",
        &[
            ("Authorization", bearer.as_str()),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn kinds(a: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = a
        .iter()
        .map(|v| v["kind"].as_str().unwrap().to_string())
        .collect();
    k.sort();
    k
}

#[test]
fn ca_rate_limits_one_identity_and_the_monitor_sees_the_burst() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ca_config = dir.path().join("ca.json");
    std::fs::write(
        &ca_config,
        br#"{"RateLimits": {"perIdentity": {"requests": 3, "window": "1h"}}}"#,
    )
    .unwrap();
    let inst = start_up_with(
        &data,
        0,
        &dir.path().join("up.log"),
        &[
            "--ca-config",
            ca_config.to_str().unwrap(),
            "--insecure-ca-trust-any-email-idp",
        ],
    );
    let audit = data.join("ca_audit.jsonl");
    assert!(
        inst.banner
            .iter()
            .any(|l| l.contains("CA audit log") && l.contains("ca_audit.jsonl")),
        "{:?}",
        inst.banner
    );
    let work = dir.path().join("work");
    let records = work.join("release-records");
    std::fs::create_dir_all(&records).unwrap();
    let alice = inst.token("release@example.com");
    let bob = inst.token("bob@example.com");

    // Three signings by one identity: all served.
    for n in ["a1", "a2", "a3"] {
        let out = sign(&inst, &work, n, &alice);
        assert!(
            out.status.success(),
            "{n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::copy(
            work.join(format!("{n}.sigstore.json")),
            records.join(format!("{n}.sigstore.json")),
        )
        .unwrap();
    }
    // The fourth is refused: 429, Retry-After, a JSON message naming the limit.
    let (status, head, body) = post_signing_cert(&inst.urls["ca"], &alice);
    assert_eq!(status, 429, "{head}\n{body}");
    let retry: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .unwrap_or_else(|| panic!("no Retry-After: {head}"))
        .trim()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let err: Value = serde_json::from_str(&body).unwrap();
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.starts_with("rate_limit: ")
            && msg.contains("perIdentity")
            && msg.contains("release@example.com")
            && msg.contains("3 certificates per 1h"),
        "{msg}"
    );
    let out = sign(&inst, &work, "a4", &alice);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("perIdentity"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another identity is still served.
    let out = sign(&inst, &work, "b1", &bob);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The audit log: one typed line per issued certificate, none for the refused ones.
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for l in &lines {
        for f in [
            "time",
            "identity",
            "issuer",
            "serial",
            "certificateSha256",
            "clientAddress",
        ] {
            assert!(l[f].as_str().is_some_and(|v| !v.is_empty()), "{f}: {l}");
        }
        assert!(
            l["clientAddress"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
    }
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["identity"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "release@example.com",
            "release@example.com",
            "release@example.com",
            "bob@example.com"
        ]
    );

    // The monitor over the audit log: a watched identity issued three certificates within
    // the window, over a threshold of two.
    let config = work.join("watch.yaml");
    std::fs::write(
        &config,
        "monitoredValues:\n  certIdentities:\n    - certSubject: release@example\\.com\nspike:\n  threshold: 2\n  window: 1h\n",
    )
    .unwrap();
    let monitor = |state: &str, extra: &[&str]| {
        vouch()
            .current_dir(&work)
            .args([
                "monitor",
                "--state",
                state,
                "--config",
                "watch.yaml",
                "--once",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let audit_arg = audit.to_str().unwrap();
    let out = monitor("mon-all", &["--ca-audit", audit_arg]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = alerts(&out);
    assert_eq!(
        kinds(&a),
        ["identity", "identity", "identity", "spike"],
        "{a:?}"
    );
    let spike = a.iter().find(|v| v["kind"] == "spike").unwrap();
    assert_eq!(
        spike["index"], 2,
        "the third issuance crosses the threshold: {spike}"
    );
    assert_eq!(spike["identity"]["certSubject"], "release@example.com");
    assert_eq!(spike["entryKind"], "ca-issuance");
    // Resumed: nothing new, nothing repeated.
    let out = monitor("mon-all", &["--ca-audit", audit_arg]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(alerts(&out).is_empty());

    // With CI's bundles as the authorized set, the issuances are expected: only the spike.
    let out = monitor(
        "mon-auth",
        &["--ca-audit", audit_arg, "--authorized", "release-records"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(kinds(&alerts(&out)), ["spike"]);

    // The same burst in the log's entries.
    let key = data.join("log/public.pem");
    let out = monitor(
        "mon-log",
        &[
            "--log",
            &inst.urls["log"],
            "--public-key",
            key.to_str().unwrap(),
            "--authorized",
            "release-records",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = alerts(&out);
    assert_eq!(kinds(&a), ["spike"], "{a:?}");
    assert!(
        a[0]["entryKind"]
            .as_str()
            .unwrap()
            .starts_with("hashedrekord"),
        "{a:?}"
    );

    // `vouch bench monitor` scans the same log (shape only: the lead measures the rate).
    let out = vouch()
        .args([
            "bench",
            "monitor",
            "--url",
            &inst.urls["log"],
            "--public-key",
        ])
        .arg(&key)
        .output()
        .unwrap();
    let report = ok_stdout(&out, "vouch bench monitor");
    for field in ["entries=4 ", "errors=0", "p50_ms=", "entries_per_sec="] {
        assert!(report.contains(field), "{field} in {report}");
    }
}
