//! `vouch ca issuers check` and `vouch serve ca` through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

const GOOD: &str = r#"{
  "OIDCIssuers": {
    "https://accounts.google.com": {"IssuerURL": "https://accounts.google.com", "ClientID": "sigstore", "Type": "email"},
    "https://token.actions.githubusercontent.com": {"IssuerURL": "https://token.actions.githubusercontent.com", "ClientID": "sigstore", "Type": "github-workflow"}
  },
  "MetaIssuers": {
    "https://oidc.eks.*.amazonaws.com/id/*": {"ClientID": "sigstore", "Type": "kubernetes"}
  }
}"#;

#[test]
fn issuers_check_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ca.json");
    std::fs::write(&cfg, GOOD).unwrap();
    let out = vouch()
        .args(["ca", "issuers", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 issuer(s), valid"), "{stdout}");
    assert!(
        stdout.contains("https://accounts.google.com\n  type: email"),
        "{stdout}"
    );
    assert!(stdout.contains("challenge claim: email"), "{stdout}");
    assert!(
        stdout.contains("https://github.com/<job_workflow_ref>"),
        "{stdout}"
    );
    assert!(
        stdout.contains("https://oidc.eks.*.amazonaws.com/id/* (wildcard)\n  type: kubernetes"),
        "{stdout}"
    );
}

#[test]
fn issuers_check_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ca.json");
    std::fs::write(
        &cfg,
        r#"{"OIDCIssuers": {"https://x.example": {"IssuerURL": "https://x.example", "ClientID": "sigstore", "Type": "telepathy"}}}"#,
    )
    .unwrap();
    let out = vouch()
        .args(["ca", "issuers", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: invalid issuer config"),
        "{stderr}"
    );
    assert!(stderr.contains("telepathy"), "{stderr}");
    assert!(stderr.contains("\nhint: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");

    let out = vouch()
        .args(["ca", "issuers", "check"])
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read issuer config"));
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_ca_generates_then_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ca.json");
    std::fs::write(&cfg, GOOD).unwrap();
    let data = dir.path().join("data");
    let mut roots = Vec::new();
    for expect in ["generated", "loaded"] {
        let mut child = vouch()
            .args(["serve", "ca", "--listen", "127.0.0.1:0", "--config"])
            .arg(&cfg)
            .arg("--data")
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first
            .strip_prefix("vouch ca listening on ")
            .unwrap()
            .to_string();
        let second = lines.next().unwrap().unwrap();
        assert!(second.starts_with(&format!("CA {expect}")), "{second}");
        let resp = http_get(url.strip_prefix("http://").unwrap(), "/api/v2/trustBundle");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(
            resp.contains(r#"{"chains":[{"certificates":["-----BEGIN CERTIFICATE-----"#),
            "{resp}"
        );
        let tr: serde_json::Value =
            serde_json::from_slice(&std::fs::read(data.join("trusted_root.ca.json")).unwrap())
                .unwrap();
        assert_eq!(tr["uri"], url.as_str());
        assert_eq!(tr["certChain"]["certificates"].as_array().unwrap().len(), 2);
        assert!(tr["validFor"]["start"].is_string());
        roots.push(tr["certChain"]["certificates"][1]["rawBytes"].clone());
    }
    assert_eq!(roots[0], roots[1], "the root is reloaded, not regenerated");
}
