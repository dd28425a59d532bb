//! `vouch up --ca-config` (issue 12, finding 2): an operator's issuer config means real
//! identities, so the CA no longer trusts the built-in any-email development IdP beside them
//! unless asked (`--insecure-ca-trust-any-email-idp`) or the IdP has a users file. The IdP's
//! CI-token issuers (`--allow-ci-tokens`, mintable by anyone who reaches it) are trusted only
//! without --ca-config or when asked, never because of a users file, and never off loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{Instance, ci_token, start_up_with};
use common::vouch;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
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
    let tok = inst.token("boss@example.com");
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
    let tok = inst.token("dev@example.com");
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

#[test]
fn ci_issuers_need_the_flag_and_are_dropped_beside_a_ca_config() {
    // Without --allow-ci-tokens the IdP mints no CI token and the CA lists no CI issuer.
    let dir = tempfile::tempdir().unwrap();
    let inst = start_up_with(&dir.path().join("data"), 0, &dir.path().join("up.log"), &[]);
    assert!(
        !inst.banner.iter().any(|l| l.contains("CI token issuer")),
        "{:?}",
        inst.banner
    );
    let out = output(vouch().args([
        "oidc",
        "token",
        "--url",
        &inst.urls["oidc"],
        "--ci",
        "github-actions",
    ]));
    assert!(!out.status.success());
    drop(inst);

    // Beside an operator's --ca-config, with a users file (which makes the email IdP trusted),
    // the CI issuers are still not trusted: the IdP mints the token, the CA refuses it.
    let dir = tempfile::tempdir().unwrap();
    let cfg = company_config(dir.path());
    let users = dir.path().join("users.txt");
    std::fs::write(&users, "dev@example.com\n").unwrap();
    let inst = start_up_with(
        &dir.path().join("data"),
        0,
        &dir.path().join("up.log"),
        &[
            "--ca-config",
            cfg.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
            "--allow-ci-tokens",
        ],
    );
    let ci = ci_token(&inst.urls["oidc"], "github-actions", &[]);
    let out = sign(&inst, dir.path(), &ci);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the CA trusted CI tokens beside --ca-config"
    );
    assert!(
        err.contains(&format!("{}/ci/github-actions", inst.urls["oidc"])),
        "{err}"
    );
    // The users file's identity is still trusted.
    let out = sign(&inst, dir.path(), &inst.token("dev@example.com"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(inst);

    // Asked for loudly, the CI issuers are trusted beside the operator's config.
    let dir = tempfile::tempdir().unwrap();
    let cfg = company_config(dir.path());
    let inst = start_up_with(
        &dir.path().join("data"),
        0,
        &dir.path().join("up.log"),
        &[
            "--ca-config",
            cfg.to_str().unwrap(),
            "--insecure-ca-trust-any-email-idp",
            "--allow-ci-tokens",
        ],
    );
    let ci = ci_token(&inst.urls["oidc"], "gitlab", &[]);
    let out = sign(&inst, dir.path(), &ci);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Off loopback, --allow-ci-tokens would let anyone on the network mint trusted CI tokens.
    let users = dir.path().join("users2.txt");
    std::fs::write(&users, "dev@example.com\n").unwrap();
    let out = output(
        vouch()
            .args([
                "up",
                "--host",
                "0.0.0.0",
                "--port",
                "0",
                "--allow-ci-tokens",
                "--users",
            ])
            .arg(&users)
            .arg("--data")
            .arg(dir.path().join("data2")),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow-ci-tokens"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
