//! `vouch up --ca-config` (issue 12, finding 2): an operator's issuer config means real
//! identities, so the CA no longer trusts the built-in any-email development IdP beside them
//! unless asked (`--insecure-ca-trust-any-email-idp`) or the IdP has a users file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{Instance, start_up_with};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn token(inst: &Instance, email: &str) -> String {
    let out = output(vouch().args([
        "oidc",
        "token",
        "--url",
        &inst.urls["oidc"],
        "--email",
        email,
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sign(inst: &Instance, dir: &Path, token: &str) -> Output {
    let file = dir.join("a.txt");
    std::fs::write(&file, "hello\n").unwrap();
    output(
        vouch()
            .arg("sign-blob")
            .arg(&file)
            .arg("--bundle")
            .arg(dir.join("a.txt.sigstore.json"))
            .args(["--identity-token", token, "-y", "--trust-config"])
            .arg(&inst.trust_config),
    )
}

fn company_config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("issuers.json");
    std::fs::write(
        &p,
        r#"{"OIDCIssuers": {"https://accounts.example.com": {"IssuerURL": "https://accounts.example.com", "ClientID": "sigstore", "Type": "email"}}}"#,
    )
    .unwrap();
    p
}

#[test]
fn ca_config_drops_the_any_email_dev_idp() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = company_config(dir.path());
    let cfg = cfg.to_str().unwrap();
    let inst = start_up_with(
        &dir.path().join("data"),
        0,
        &dir.path().join("up.log"),
        &["--ca-config", cfg],
    );
    // Anyone can get a token for the boss's email from the development IdP ...
    let tok = token(&inst, "boss@example.com");
    // ... but the CA, configured for the company's IdP, no longer issues a certificate for it.
    let out = sign(&inst, dir.path(), &tok);
    assert!(
        !out.status.success(),
        "the CA trusted the any-email IdP next to --ca-config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(inst);

    // Asked for loudly, it is trusted again.
    let dir2 = tempfile::tempdir().unwrap();
    let inst = start_up_with(
        &dir2.path().join("data"),
        0,
        &dir2.path().join("up.log"),
        &["--ca-config", cfg, "--insecure-ca-trust-any-email-idp"],
    );
    let tok = token(&inst, "dev@example.com");
    let out = sign(&inst, dir2.path(), &tok);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_insecure_flag_needs_a_ca_config() {
    let out = output(vouch().args(["up", "--insecure-ca-trust-any-email-idp"]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--ca-config"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
