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

/// The DER SPKI of the Ed25519 key in a C2SP vkey (`name+id+base64(0x04 || key)`), and the
/// vkey's name.
fn ed25519_spki_of(vkey: &str) -> (String, Vec<u8>) {
    use base64::Engine;
    let mut parts = vkey.splitn(3, '+');
    let name = parts.next().unwrap().to_string();
    let _id = parts.next().unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(parts.next().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 33, "not an Ed25519 cosigner vkey: {vkey}");
    assert_eq!(raw[0], 0x04, "not a cosignature/v1 vkey: {vkey}");
    let mut spki = hex_literal_spki_prefix();
    spki.extend_from_slice(&raw[1..]);
    (name, spki)
}

/// `SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }` without the key.
fn hex_literal_spki_prefix() -> Vec<u8> {
    vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ]
}

/// `trust_config.json` with `witnessConfig` (TrustedRoot v0.2 draft) on its transparency log:
/// one group holding the given Ed25519 witnesses, `group_selector` within it, ANY group.
fn with_witness_config(
    trust_config: &Path,
    witnesses: &[(String, Vec<u8>)],
    group_selector: &str,
    out: &Path,
) -> PathBuf {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut tc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(trust_config).unwrap()).unwrap();
    let ws: Vec<serde_json::Value> = witnesses
        .iter()
        .map(|(name, spki)| {
            serde_json::json!({
                "publicKey": {"rawBytes": b64(spki), "keyDetails": "PKIX_ED25519"},
                "operator": name,
            })
        })
        .collect();
    let config = serde_json::json!({
        "witnessGroups": [{"witnesses": ws, "serviceConfig": {"selector": group_selector}}],
        "serviceConfig": {"selector": "ANY"},
    });
    let tlogs = tc["trustedRoot"]["tlogs"].as_array_mut().unwrap();
    assert!(!tlogs.is_empty());
    for t in tlogs.iter_mut() {
        t["witnessConfig"] = config.clone();
    }
    std::fs::write(out, serde_json::to_vec_pretty(&tc).unwrap()).unwrap();
    out.to_path_buf()
}

#[test]
fn trusted_root_witness_config_requires_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let inst = start_up_with(&data, 0, &dir.path().join("up.log"), &["--witnesses", "1"]);
    let tok = inst.token("dev@example.com");
    let blob = dir.path().join("artifact.txt");
    std::fs::write(&blob, "witnessed").unwrap();
    let bundle = dir.path().join("artifact.txt.sigstore.json");
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

    // The instance's witness (its Ed25519 key) from the policy `vouch up` wrote.
    let policy = std::fs::read_to_string(data.join("witness_policy.txt")).unwrap();
    let vkey = policy
        .lines()
        .find_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            (t.first() == Some(&"witness") && t.get(1) == Some(&"w1")).then(|| t[2].to_string())
        })
        .unwrap_or_else(|| panic!("no witness w1 in {policy}"));
    let w1 = ed25519_spki_of(&vkey);
    let stranger_dir = dir.path().join("stranger");
    let out = vouch()
        .args(["witness", "key"])
        .arg(&stranger_dir)
        .args(["--name", "stranger.example/w"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stranger = ed25519_spki_of(String::from_utf8_lossy(&out.stdout).lines().next().unwrap());

    let verify = |tc: &Path| {
        vouch()
            .arg("verify-blob")
            .arg(&blob)
            .arg("--bundle")
            .arg(&bundle)
            .args(["--certificate-identity", "dev@example.com"])
            .args(["--certificate-oidc-issuer", &inst.urls["oidc"]])
            .arg("--trust-config")
            .arg(tc)
            .output()
            .unwrap()
    };
    // The root alone asks for the quorum (no --witness-policy): met by the instance's witness.
    let good = with_witness_config(
        &inst.trust_config,
        std::slice::from_ref(&w1),
        "ALL",
        &dir.path().join("good.json"),
    );
    let out = verify(&good);
    assert!(out.status.success(), "{}", text(&out));
    // Both of the group's witnesses required, one of them never cosigned: refused, naming it.
    let both = with_witness_config(
        &inst.trust_config,
        &[w1.clone(), stranger.clone()],
        "ALL",
        &dir.path().join("both.json"),
    );
    let out = verify(&both);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("witness quorum not met: \"witnessConfig\"")
            && text(&out).contains("g0"),
        "the failure names the configuration and its group: {}",
        text(&out)
    );
    // ANY of the two: met again.
    let any = with_witness_config(
        &inst.trust_config,
        &[w1, stranger],
        "ANY",
        &dir.path().join("any.json"),
    );
    let out = verify(&any);
    assert!(out.status.success(), "{}", text(&out));
    // A malformed configuration is a trust-root error, not an ignored field.
    let bad = dir.path().join("bad.json");
    let text_any = std::fs::read_to_string(&any)
        .unwrap()
        .replace("\"ANY\"", "\"MOST\"");
    std::fs::write(&bad, text_any).unwrap();
    let out = verify(&bad);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("witnessConfig") && text(&out).contains("MOST"),
        "{}",
        text(&out)
    );
    // Without the configuration, the same bundle verifies with no witness requirement.
    let out = verify(&inst.trust_config);
    assert!(out.status.success(), "{}", text(&out));
}
