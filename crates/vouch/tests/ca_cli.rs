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

const GOOD_YAML: &str = r#"
oidc-issuers:
  https://accounts.google.com:
    issuer-url: https://accounts.google.com
    client-id: sigstore
    type: email
  https://token.actions.githubusercontent.com:
    issuer-url: https://token.actions.githubusercontent.com
    client-id: sigstore
    type: ci-provider
    ci-provider: github-workflow
meta-issuers:
  https://oidc.eks.*.amazonaws.com/id/*:
    client-id: sigstore
    type: kubernetes
ci-issuer-metadata:
  github-workflow:
    default-template-values:
      url: "https://github.com"
    extension-templates:
      build-signer-uri: "{{ .url }}/{{ .job_workflow_ref }}"
      source-repository-digest: "sha"
    subject-alternative-name-template: "{{ .url }}/{{ .job_workflow_ref }}"
"#;

#[test]
fn issuers_check_yaml_config() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ca.yaml", "ca.yml", "ca.conf"] {
        let cfg = dir.path().join(name);
        std::fs::write(&cfg, GOOD_YAML).unwrap();
        let out = vouch()
            .args(["ca", "issuers", "check"])
            .arg(&cfg)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("3 issuer(s), valid"), "{stdout}");
        assert!(
            stdout.contains(
                "type: ci-provider\n  audience: sigstore\n  challenge claim: sub\n  identity: SAN URI from template \"{{ .url }}/{{ .job_workflow_ref }}\""
            ),
            "{stdout}"
        );
        assert!(stdout.contains("extensions 1.9, 1.13"), "{stdout}");
    }
    // Plain http to a non-loopback issuer is refused in YAML too.
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "oidc-issuers:\n  http://idp.example.com:\n    issuer-url: http://idp.example.com\n    client-id: sigstore\n    type: email\n",
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
        stderr.contains("plain http is only allowed for loopback"),
        "{stderr}"
    );
}

/// Start `vouch serve ca` and return (child, URL, the second stdout line), or the failed
/// output when it exits.
fn start_ca(
    args: &[&std::ffi::OsStr],
    envs: &[(&str, &str)],
) -> Result<(std::process::Child, String, String), String> {
    let mut cmd = vouch();
    cmd.args(["serve", "ca", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    match lines.next() {
        Some(Ok(first)) => {
            let url = first
                .strip_prefix("vouch ca listening on ")
                .unwrap()
                .to_string();
            let second = lines.next().unwrap().unwrap();
            Ok((child, url, second))
        }
        _ => {
            let out = child.wait_with_output().unwrap();
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

#[test]
fn serve_ca_with_operator_pem_ca() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ca.yaml");
    std::fs::write(&cfg, GOOD_YAML).unwrap();
    // A CA to hand over: the one `serve ca` generates.
    let gen_data = dir.path().join("gen");
    let (mut child, _, _) = start_ca(
        &[
            "--config".as_ref(),
            cfg.as_os_str(),
            "--data".as_ref(),
            gen_data.as_os_str(),
        ],
        &[],
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let root = std::fs::read_to_string(gen_data.join("root.crt.pem")).unwrap();
    let int = std::fs::read_to_string(gen_data.join("intermediate.crt.pem")).unwrap();
    let chain = dir.path().join("chain.pem");
    std::fs::write(&chain, format!("{int}{root}")).unwrap();
    let plain_key = gen_data.join("intermediate.key.pem");

    // Encrypt the key with openssl when available (else use the plain key).
    let enc_key = dir.path().join("key.enc.pem");
    let encrypted = Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "env:VOUCH_TEST_CA_PW",
            "-in",
        ])
        .arg(&plain_key)
        .arg("-out")
        .arg(&enc_key)
        .env("VOUCH_TEST_CA_PW", "hunter2")
        .status()
        .is_ok_and(|s| s.success());
    let key = if encrypted {
        enc_key.clone()
    } else {
        vouch_testkit::skip(format_args!(
            "encrypted --ca-key: openssl not found, testing a plain PKCS#8 key"
        ));
        plain_key.clone()
    };

    let data = dir.path().join("data");
    let args = [
        "--config".as_ref(),
        cfg.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--ca-cert".as_ref(),
        chain.as_os_str(),
        "--ca-key".as_ref(),
        key.as_os_str(),
        "--ca-key-password-env".as_ref(),
        "VOUCH_TEST_CA_PW".as_ref(),
    ];
    let (mut child, url, second) = start_ca(&args, &[("VOUCH_TEST_CA_PW", "hunter2")]).unwrap();
    assert!(second.starts_with("CA loaded from"), "{second}");
    let resp = http_get(url.strip_prefix("http://").unwrap(), "/api/v2/trustBundle");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("trusted_root.ca.json")).unwrap()).unwrap();
    let gen_tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(gen_data.join("trusted_root.ca.json")).unwrap())
            .unwrap();
    assert_eq!(
        tr["certChain"], gen_tr["certChain"],
        "the operator's CA is served"
    );

    if encrypted {
        // Wrong password, and no password variable.
        let err = start_ca(&args, &[("VOUCH_TEST_CA_PW", "wrong")]).unwrap_err();
        assert!(err.contains("cannot decrypt the CA key"), "{err}");
        let err = start_ca(&args, &[]).unwrap_err();
        assert!(err.contains("VOUCH_TEST_CA_PW"), "{err}");
        let err = start_ca(&args[..8], &[]).unwrap_err();
        assert!(err.contains("is encrypted"), "{err}");
    }
    // A chain whose root did not issue the intermediate.
    let other = dir.path().join("other.pem");
    std::fs::write(&other, format!("{int}{int}")).unwrap();
    let mut bad = args.to_vec();
    bad[5] = other.as_os_str();
    let err = start_ca(&bad, &[("VOUCH_TEST_CA_PW", "hunter2")]).unwrap_err();
    assert!(err.contains("unusable CA"), "{err}");
}
