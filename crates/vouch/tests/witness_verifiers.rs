//! `--witness-policy` on the verifiers beyond verify-blob: the policy engine (`vouch policy
//! check`) and `vouch gitsign verify`, against a `vouch up --witnesses 1` whose log collects a
//! cosignature on every checkpoint. With the instance's own policy the signature verifies;
//! with a policy naming a witness that never cosigned, verification fails naming the group.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{sibling_bin, start_up_with};
use common::vouch;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The instance's policy with its witness replaced by a fresh one that never cosigned.
fn policy_with_stranger(dir: &Path, good: &Path) -> PathBuf {
    let out = vouch()
        .args(["witness", "key"])
        .arg(dir.join("stranger"))
        .args(["--name", "stranger.example/w"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // Its vkeys: Ed25519 (cosignature/v1), then ML-DSA-44 (subtree/v1).
    let vkeys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(vkeys.len(), 2, "{vkeys:?}");
    let policy: String = std::fs::read_to_string(good)
        .unwrap()
        .lines()
        .map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            if t.first() == Some(&"witness") && t.len() >= 3 {
                let mut t: Vec<String> = t.iter().map(|s| s.to_string()).collect();
                t[2] = vkeys[usize::from(t[1].ends_with("-mldsa"))].clone();
                t.join(" ")
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    let p = dir.join("stranger-policy.txt");
    std::fs::write(&p, policy).unwrap();
    p
}

#[test]
fn policy_engine_and_gitsign_verify_require_the_witness_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let inst = start_up_with(&data, 0, &dir.path().join("up.log"), &["--witnesses", "1"]);
    let good = data.join("witness_policy.txt");
    let bad = policy_with_stranger(dir.path(), &good);
    let issuer = inst.urls["oidc"].clone();
    let tok = inst.token("dev@example.com");

    // The policy engine.
    let blob = dir.path().join("release-1.0.tar.gz");
    std::fs::write(&blob, "release").unwrap();
    let bundle = dir.path().join("release-1.0.tar.gz.sigstore.json");
    let out = vouch()
        .arg("sign-blob")
        .arg(&blob)
        .arg("--bundle")
        .arg(&bundle)
        .args(["--identity-token", &tok, "-y", "--trust-config"])
        .arg(&inst.trust_config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let ap = dir.path().join("ap.yaml");
    std::fs::write(
        &ap,
        format!(
            "apiVersion: policy.vouch.dev/v1alpha1\nkind: ArtifactPolicy\nmetadata:\n  name: releases\nspec:\n  artifacts:\n  - glob: \"release-*.tar.gz\"\n  authorities:\n  - name: ci\n    keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {issuer}\n        subject: dev@example.com\n"
        ),
    )
    .unwrap();
    let check = |policy: &Path| {
        vouch()
            .args(["policy", "check", "--policy"])
            .arg(&ap)
            .arg("--trust-config")
            .arg(&inst.trust_config)
            .arg("--witness-policy")
            .arg(policy)
            .arg(&blob)
            .arg("--bundle")
            .arg(&bundle)
            .output()
            .unwrap()
    };
    let out = check(&good);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("policy releases (enforce): passed"),
        "{}",
        text(&out)
    );
    let out = check(&bad);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("witness quorum not met: \"local\" needs 2 of [w1, w1-mldsa]"),
        "the failure names the group: {}",
        text(&out)
    );

    // gitsign verify.
    if Command::new("git").arg("--version").output().is_err() {
        vouch_testkit::skip(format_args!("git is not installed"));
        return;
    }
    let program = sibling_bin("vouch-gitsign", "vouch-gitsign");
    let repo = dir.path().join("repo");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(&repo)
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("VOUCH_TRUST_CONFIG")
            .env_remove("GITSIGN_TRUST_CONFIG")
            .env("SIGSTORE_ID_TOKEN", &tok)
            .args(["-c", "gpg.format=x509", "-c"])
            .arg(format!("gpg.x509.program={}", program.display()))
            .arg("-c")
            .arg(format!(
                "gitsign.trustConfig={}",
                inst.trust_config.display()
            ))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    };
    git(&["init", "-q"]);
    git(&["config", "user.name", "Dev"]);
    git(&["config", "user.email", "dev@example.com"]);
    std::fs::write(repo.join("a.txt"), "hello\n").unwrap();
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-S", "-m", "signed"]);
    let verify = |policy: &Path| {
        vouch()
            .current_dir(&repo)
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("VOUCH_TRUST_CONFIG")
            .args(["gitsign", "verify", "--trust-config"])
            .arg(&inst.trust_config)
            .args([
                "--certificate-identity",
                "dev@example.com",
                "--certificate-oidc-issuer",
                &issuer,
                "--witness-policy",
            ])
            .arg(policy)
            .arg("HEAD")
            .output()
            .unwrap()
    };
    let out = verify(&good);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Verified commit HEAD"),
        "{}",
        text(&out)
    );
    let out = verify(&bad);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("witness quorum not met: \"local\" needs 2 of [w1, w1-mldsa]"),
        "the failure names the group: {}",
        text(&out)
    );
}
