//! End-to-end tests of the `vouch` binary and the sigstore-conformance entrypoint script.
//! Needs `../shared/testdata` (present in CI); each test skips with a message when it is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/conformance/bundle-verify");
    if p.is_dir() {
        Some(p)
    } else {
        vouch_testkit::skip(format_args!(
            "../shared/testdata/conformance/bundle-verify not found (CI provides it)"
        ));
        None
    }
}

fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(vouch_core::keys::HashKind::Sha256.digest(data))
}

/// Every conformance case through `scripts/sigstore-conformance verify-bundle`, in path and digest modes.
#[test]
fn conformance_entrypoint_all_cases() {
    let Some(dir) = cases() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/sigstore-conformance");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut wrong = Vec::new();
    let mut runs = 0;
    for name in &names {
        let case = dir.join(name);
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            dir.join("a.txt")
        };
        let digest = format!("sha256:{}", sha256_hex(&std::fs::read(&artifact).unwrap()));
        for target in [artifact.display().to_string(), digest] {
            let mut c = Command::new(&script);
            c.env("VOUCH_BIN", env!("CARGO_BIN_EXE_vouch"));
            c.arg("verify-bundle")
                .arg("--bundle")
                .arg(case.join("bundle.sigstore.json"));
            if case.join("key.pub").exists() {
                c.arg("--key").arg(case.join("key.pub"));
            } else {
                let read = |f: &str, d: &str| {
                    std::fs::read_to_string(case.join(f))
                        .map(|s| s.trim().to_string())
                        .unwrap_or_else(|_| d.to_string())
                };
                c.arg("--certificate-identity")
                    .arg(read("identity", DEFAULT_IDENTITY));
                c.arg("--certificate-oidc-issuer")
                    .arg(read("issuer", DEFAULT_ISSUER));
            }
            if case.join("trusted_root.json").exists() {
                c.arg("--trusted-root").arg(case.join("trusted_root.json"));
            }
            c.arg(&target);
            let out = c.output().unwrap();
            runs += 1;
            let stderr = String::from_utf8_lossy(&out.stderr);
            let expect_fail = name.ends_with("_fail");
            if out.status.success() == expect_fail {
                wrong.push(format!(
                    "{name} [{target}]: exit {:?}: {stderr}",
                    out.status.code()
                ));
            }
            if !out.status.success() {
                // Failures are one readable line, never a panic.
                assert!(
                    stderr.starts_with("error: "),
                    "{name}: unexpected stderr {stderr}"
                );
                assert!(!stderr.contains("panicked"), "{name}: panic: {stderr}");
            }
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    println!("conformance entrypoint: {runs} runs, all verdicts as expected");
}

#[test]
fn identity_mismatch_is_one_clear_line() {
    let Some(dir) = cases() else { return };
    let out = vouch()
        .args(["verify-blob", "--bundle"])
        .arg(dir.join("happy-path-v0.3/bundle.sigstore.json"))
        .args([
            "--certificate-identity",
            "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main",
        ])
        .args(["--certificate-oidc-issuer", DEFAULT_ISSUER])
        .arg(dir.join("a.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "error: certificate identity mismatch: expected \"https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main\", got \"{DEFAULT_IDENTITY}\""
        )
    );
    assert!(stderr.lines().nth(1).unwrap().starts_with("hint: "));
}

#[test]
fn regexp_identity_and_json_output() {
    let Some(dir) = cases() else { return };
    let out = vouch()
        .args(["verify-blob", "--output", "json", "--bundle"])
        .arg(dir.join("happy-path-v0.3/bundle.sigstore.json"))
        .args([
            "--certificate-identity-regexp",
            "^https://github.com/sigstore-conformance/",
        ])
        .args([
            "--certificate-oidc-issuer-regexp",
            "^https://token\\.actions\\.githubusercontent\\.com$",
        ])
        .args([
            "--certificate-github-workflow-repository",
            "sigstore-conformance/extremely-dangerous-public-oidc-beacon",
        ])
        .arg(dir.join("a.txt"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["identity"]["san"], DEFAULT_IDENTITY);
    assert_eq!(v["identity"]["issuer"], DEFAULT_ISSUER);
    assert_eq!(v["tlog_entries"][0]["log"], "https://rekor.sigstore.dev");
    assert_eq!(v["timestamps"][0]["source"]["type"], "Tlog");

    // A wrong workflow extension is refused with the extension named.
    let out = vouch()
        .args(["verify-blob", "--bundle"])
        .arg(dir.join("happy-path-v0.3/bundle.sigstore.json"))
        .args([
            "--certificate-identity",
            DEFAULT_IDENTITY,
            "--certificate-oidc-issuer",
            DEFAULT_ISSUER,
        ])
        .args(["--certificate-github-workflow-trigger", "push"])
        .arg(dir.join("a.txt"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("githubWorkflowTrigger"), "{stderr}");
}

#[test]
fn attestation_type_is_checked() {
    let Some(dir) = cases() else { return };
    let case = dir.join("happy-path-intoto-in-dsse-v3");
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("bundle.sigstore.json")).unwrap()).unwrap();
    let payload =
        vouch_core::encoding::b64_decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let predicate_type = st["predicateType"].as_str().unwrap().to_string();
    let artifact = dir.join("a.txt");
    let run = |t: &str| {
        vouch()
            .args(["verify-blob-attestation", "--type", t, "--bundle"])
            .arg(case.join("bundle.sigstore.json"))
            .args([
                "--certificate-identity",
                DEFAULT_IDENTITY,
                "--certificate-oidc-issuer",
                DEFAULT_ISSUER,
            ])
            .arg(&artifact)
            .output()
            .unwrap()
    };
    let ok = run(&predicate_type);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = run("https://example.com/not-this-type");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("predicate type mismatch"));
}

#[test]
fn bundle_inspect_reports_signer_and_log() {
    let Some(dir) = cases() else { return };
    let out = vouch()
        .args(["bundle", "inspect", "--output", "json"])
        .arg(dir.join("happy-path-v0.3/bundle.sigstore.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signer"]["subjectAlternativeName"], DEFAULT_IDENTITY);
    assert_eq!(v["signer"]["issuer"], DEFAULT_ISSUER);
    assert_eq!(v["tlogEntries"][0]["log"], "https://rekor.sigstore.dev");
    assert_eq!(v["offlineVerification"]["verified"], true);
    let text = vouch()
        .args(["bundle", "inspect"])
        .arg(dir.join("rekor2-happy-path/bundle.sigstore.json"))
        .args(["--trusted-root"])
        .arg(dir.join("rekor2-happy-path/trusted_root.json"))
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(s.contains("Offline:     VERIFIED"), "{s}");
    assert!(s.contains("Timestamp:"), "{s}");
}

#[test]
fn missing_files_give_a_cause() {
    let out = vouch()
        .args([
            "verify-blob",
            "--bundle",
            "/nonexistent.json",
            "--certificate-identity",
            "a",
            "--certificate-oidc-issuer",
            "b",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: cannot read"), "{stderr}");
    let out = vouch()
        .args(["verify-blob", "--bundle", "x.json", "f"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no signer given"), "{stderr}");
}
