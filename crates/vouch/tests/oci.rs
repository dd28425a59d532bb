//! Container images against a real registry: Debian's `docker-registry` (distribution 2.8,
//! no referrers API, so the referrers tag schema is used) on 127.0.0.1 with a temp storage
//! dir, and `vouch up` for keyless signing. Prints SKIP when `docker-registry` is absent
//! (`apt-get install -y --no-install-recommends docker-registry`; `python3-cryptography` for
//! the independent-writer case).
//!
//! Cases: keyless sign → verify (bundle layout) with the request count checked against the
//! registry's access log; a bare tag refused unless --resolve-tag; legacy layout; key-based in
//! both layouts; a wrong identity rejected; a moved tag reported while verification by digest
//! holds; attest → verify-attestation in both layouts, with and without a Rego policy;
//! `vouch tree`, `triangulate`, `download`; a cosign-legacy
//! signature (with a Rekor v1 SET) written by an independent Python script verifies with
//! `--key`; an unreachable registry gives a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::registry::{push_image, registry_bin_or_skip, start_registry};
use common::up::{sibling_bin, start_up};
use common::{cosign_key_pair, fails_with as fails, free_port, ok_stderr as ok, run, vouch};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// "Registry requests: N" as printed by vouch.
fn printed_requests(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Registry requests:"))
        .unwrap_or_else(|| panic!("no request count in: {stderr}"));
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    (nums[0], nums.get(1).copied().unwrap_or(0))
}

#[test]
fn unreachable_registry() {
    let port = free_port();
    let out = run(vouch()
        .arg("verify")
        .arg(format!("127.0.0.1:{port}/nothing/here:v1"))
        .args([
            "--certificate-identity",
            "a@b",
            "--certificate-oidc-issuer",
            "https://x",
        ]));
    let err = fails(
        &out,
        "unreachable registry",
        "registry unreachable at http://127.0.0.1:",
    );
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn images_round_trip() {
    let Some(bin) = registry_bin_or_skip("images_round_trip") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let reg = start_registry(&bin, dir.path());
    let inst = start_up(&dir.path().join("data"), 0, &dir.path().join("up.log"));
    let oidc = inst.urls["oidc"].clone();
    let tok = inst.token("alice@example.com");
    let addr = reg.addr.clone();
    let digest = push_image(&addr, "team/app", "v1", b"layer one");
    let by_digest = format!("{addr}/team/app@{digest}");
    let by_tag = format!("{addr}/team/app:v1");
    let tc = inst.trust_config.clone();
    let sign = |image: &str, extra: &[&str]| {
        run(vouch()
            .arg("sign")
            .arg(image)
            .args(["-y", "--trust-config"])
            .arg(&tc)
            .args(extra))
    };
    let verify = |cmd: &str, image: &str, extra: &[&str]| {
        run(vouch()
            .arg(cmd)
            .arg(image)
            .arg("--trust-config")
            .arg(&tc)
            .args(extra))
    };
    let alice = [
        "--certificate-identity",
        "alice@example.com",
        "--certificate-oidc-issuer",
        oidc.as_str(),
    ];

    // A bare tag is refused; --resolve-tag signs the digest and says so.
    fails(
        &sign(&by_tag, &["--identity-token", &tok]),
        "sign a bare tag",
        "--resolve-tag",
    );

    // 1. Keyless, bundle layout (default).
    let err = ok(
        &sign(&by_digest, &["--identity-token", &tok]),
        "keyless sign (bundle)",
    );
    assert!(err.contains("bundle (OCI referrer)"), "{err}");
    let fallback = format!("sha256-{}", digest.trim_start_matches("sha256:"));
    assert!(err.contains(&format!("tag {fallback}")), "{err}");

    // Verify by tag; count requests, and cross-check against the registry's access log.
    let before = reg.vouch_requests();
    let err = ok(
        &verify("verify", &by_tag, &alice),
        "verify keyless (bundle)",
    );
    std::thread::sleep(Duration::from_millis(200));
    let logged = reg.vouch_requests() - before;
    assert!(err.contains("Verified OK: 1 of 1"), "{err}");
    assert!(err.contains("signer alice@example.com"), "{err}");
    let (total, discovery) = printed_requests(&err);
    assert_eq!(
        total, logged,
        "our count vs the registry's access log: {err}"
    );
    assert!(
        discovery <= 4,
        "one signature took {discovery} requests: {err}"
    );
    eprintln!("bundle layout, 1 signature: {total} requests ({discovery} after tag resolution)");
    // By digest there is nothing to resolve: the whole verification fits the budget.
    let before = reg.vouch_requests();
    let err = ok(&verify("verify", &by_digest, &alice), "verify by digest");
    std::thread::sleep(Duration::from_millis(200));
    let (total, _) = printed_requests(&err);
    assert_eq!(total, reg.vouch_requests() - before, "{err}");
    assert!(total <= 4, "verify by digest took {total} requests: {err}");

    // The stored layout is the one protocols.md §9.2 describes.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let index = rt.block_on(async {
        let c = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        let r = vouch_oci::parse_reference(&format!("{addr}/team/app:{fallback}")).unwrap();
        c.get_manifest(&r).await.unwrap().unwrap()
    });
    let idx: serde_json::Value = serde_json::from_slice(&index.bytes).unwrap();
    assert_eq!(idx["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(
        idx["manifests"][0]["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        idx["manifests"][0]["annotations"]["dev.sigstore.bundle.predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );

    // A wrong identity is rejected, naming the check.
    fails(
        &verify(
            "verify",
            &by_tag,
            &[
                "--certificate-identity",
                "mallory@example.com",
                "--certificate-oidc-issuer",
                &oidc,
            ],
        ),
        "wrong identity",
        "identity",
    );

    // 2. Keyless, legacy layout, via --resolve-tag.
    let err = ok(
        &sign(
            &by_tag,
            &["--identity-token", &tok, "--legacy", "--resolve-tag"],
        ),
        "keyless sign (legacy)",
    );
    assert!(err.contains("Resolved tag v1 to"), "{err}");
    assert!(err.contains(&format!("tag {fallback}.sig")), "{err}");
    let err = ok(&verify("verify", &by_digest, &alice), "verify both layouts");
    assert!(err.contains("Verified OK: 2 of 2"), "{err}");
    assert!(err.contains("legacy (cosign tag)"), "{err}");

    // 3. Key-based, both layouts.
    let (key, pubkey) = cosign_key_pair(&dir.path().join("keys"));
    for extra in [&[][..], &["--legacy"][..]] {
        let mut args = vec!["--key", key.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = run(vouch()
            .arg("sign")
            .arg(&by_digest)
            .args(["-y", "--trust-config"])
            .arg(&tc)
            .args(&args)
            .env("COSIGN_PASSWORD", "pw"));
        ok(&out, "key-based sign");
    }
    let err = ok(
        &verify("verify", &by_digest, &["--key", pubkey.to_str().unwrap()]),
        "verify with key",
    );
    assert!(err.contains("Verified OK: 2 of 4"), "{err}");
    // 3b. An independent cosign verifier, sigstore-rs's cosign module, accepts vouch's legacy
    //     signature with the key and rejects another key.
    match sigstore_rs_verifier() {
        None => vouch_testkit::skip(format_args!(
            "sigstore-rs cross-check (VOUCH_SKIP_SIGSTORE_RS is set)"
        )),
        Some(bin) => {
            let out = run(Command::new(&bin)
                .arg(&by_digest)
                .arg(&pubkey)
                .arg("--http"));
            ok(
                &out,
                "sigstore-rs cosign verification of vouch's legacy signature",
            );
            let other = dir.path().join("other");
            cosign_key_pair(&other);
            let out = run(Command::new(&bin)
                .arg(&by_digest)
                .arg(other.join("cosign.pub"))
                .arg("--http"));
            assert!(
                !out.status.success(),
                "sigstore-rs accepted the signature with the wrong key"
            );
        }
    }

    // 4. Attestations, both layouts.
    let predicate = dir.path().join("sbom.json");
    std::fs::write(
        &predicate,
        br#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#,
    )
    .unwrap();
    for (ty, extra) in [
        ("cyclonedx", &[][..]),
        ("slsaprovenance1", &["--legacy"][..]),
    ] {
        let out = run(vouch()
            .arg("attest")
            .arg(&by_digest)
            .arg("--predicate")
            .arg(&predicate)
            .args([
                "--type",
                ty,
                "--identity-token",
                &tok,
                "-y",
                "--trust-config",
            ])
            .arg(&tc)
            .args(extra));
        ok(&out, "attest");
    }
    for (ty, layout) in [("cyclonedx", "bundle"), ("slsaprovenance1", "legacy")] {
        let mut args = vec!["--type", ty];
        args.extend_from_slice(&alice);
        let err = ok(
            &verify("verify-attestation", &by_tag, &args),
            "verify-attestation",
        );
        assert!(
            err.contains("Verified OK: 1 of 1 attestation"),
            "{ty}: {err}"
        );
        assert!(err.contains(layout), "{ty}: {err}");
    }
    // ...with a Rego policy over the statement (allowed, then denied).
    let allow = dir.path().join("allow.rego");
    std::fs::write(
        &allow,
        "package signature\nimport rego.v1\ndefault allow := false\nallow if input.predicate.specVersion == \"1.5\"\n",
    )
    .unwrap();
    let deny = dir.path().join("deny.rego");
    std::fs::write(
        &deny,
        "package signature\ndefault allow = false\nallow { input.predicate.specVersion == \"1.4\" }\n",
    )
    .unwrap();
    let mut args = vec!["--type", "cyclonedx", "--policy", allow.to_str().unwrap()];
    args.extend_from_slice(&alice);
    let err = ok(
        &verify("verify-attestation", &by_tag, &args),
        "verify-attestation with an allowing policy",
    );
    assert!(err.contains("allow.rego: allowed"), "{err}");
    let mut args = vec!["--type", "cyclonedx", "--policy", deny.to_str().unwrap()];
    args.extend_from_slice(&alice);
    fails(
        &verify("verify-attestation", &by_tag, &args),
        "verify-attestation with a denying policy",
        "data.signature.allow is false",
    );
    let mut args = vec!["--type", "vuln"];
    args.extend_from_slice(&alice);
    fails(
        &verify("verify-attestation", &by_tag, &args),
        "attestation of another type",
        "no attestations of type https://cosign.sigstore.dev/attestation/vuln/v1",
    );

    // 5. tree lists both layouts.
    let out = run(vouch().arg("tree").arg(&by_tag));
    ok(&out, "tree");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.contains(&format!("referrers (tag {fallback}): 3")),
        "{tree}"
    );
    assert!(
        tree.contains(&format!("signatures (tag {fallback}.sig): 2")),
        "{tree}"
    );
    assert!(
        tree.contains(&format!("attestations (tag {fallback}.att): 1")),
        "{tree}"
    );

    // triangulate and download.
    let out = run(vouch().arg("triangulate").arg(&by_tag));
    ok(&out, "triangulate");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{addr}/team/app:{fallback}.sig")
    );
    let out = run(vouch().args(["download", "signature"]).arg(&by_digest));
    ok(&out, "download signature");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().any(|l| l["dsseEnvelope"].is_object()));
    assert!(lines.iter().any(|l| l["Base64Signature"].is_string()));

    // 6. The tag moves: verification by digest still holds, and the move is reported.
    let new_digest = push_image(&addr, "team/app", "v1", b"layer two");
    assert_ne!(new_digest, digest);
    let err = ok(
        &verify("verify", &format!("{addr}/team/app:v1@{digest}"), &alice),
        "verify by digest after the tag moved",
    );
    assert!(
        err.contains(&format!("tag v1 has moved: it now points to {new_digest}")),
        "{err}"
    );
    fails(
        &verify("verify", &by_tag, &alice),
        "verify the moved tag",
        "no signatures found",
    );

    // 7. A cosign-legacy signature written by an independent tool (Python, stdlib HTTP +
    //    `cryptography`), with a Rekor v1 entry from our log.
    let py_ok = Command::new(std::env::var_os("VOUCH_PYTHON").unwrap_or_else(|| "python3".into()))
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !py_ok {
        vouch_testkit::skip(format_args!(
            "python3 with cryptography not available (independent legacy writer)"
        ));
        return;
    }
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../vouch-oci/testdata/cosign_legacy_push.py");
    let py_digest = push_image(&addr, "team/py", "v1", b"python-signed layer");
    let py_pub = dir.path().join("py.pub");
    let out = run(Command::new(
        std::env::var_os("VOUCH_PYTHON").unwrap_or_else(|| "python3".into()),
    )
    .arg(&script)
    .args([&addr, "team/py", &py_digest])
    .arg(&py_pub)
    .args(["--rekor", &inst.urls["log"]]));
    ok(&out, "independent legacy writer");
    let err = ok(
        &verify(
            "verify",
            &format!("{addr}/team/py:v1"),
            &["--key", py_pub.to_str().unwrap()],
        ),
        "verify the independent legacy signature",
    );
    assert!(err.contains("Verified OK: 1 of 1"), "{err}");
    assert!(err.contains("legacy (cosign tag)"), "{err}");
    assert!(err.contains("transparency log"), "{err}");
    let (_, discovery) = printed_requests(&err);
    assert!(
        discovery <= 4,
        "legacy signature took {discovery} requests: {err}"
    );
    eprintln!("legacy layout, 1 signature: {discovery} requests after tag resolution");
    // A valid signature whose payload names another image is rejected.
    let replay_digest = push_image(&addr, "team/replay", "v1", b"replay target");
    let replay_pub = dir.path().join("replay.pub");
    let out = run(Command::new(
        std::env::var_os("VOUCH_PYTHON").unwrap_or_else(|| "python3".into()),
    )
    .arg(&script)
    .args([&addr, "team/replay", &replay_digest])
    .arg(&replay_pub)
    .args(["--claim", &py_digest]));
    ok(&out, "independent legacy writer (replayed payload)");
    fails(
        &verify(
            "verify",
            &format!("{addr}/team/replay:v1"),
            &[
                "--key",
                replay_pub.to_str().unwrap(),
                "--insecure-ignore-tlog",
            ],
        ),
        "payload naming another digest",
        "is not the image digest",
    );
    // ...and with another key it does not.
    fails(
        &verify(
            "verify",
            &format!("{addr}/team/py:v1"),
            &["--key", pubkey.to_str().unwrap()],
        ),
        "independent signature, wrong key",
        "none of the 1 signature(s)",
    );
}

/// Build the crosscheck's `cosign-verify-rs` (sigstore-rs's cosign verifier) next to the `vouch`
/// binary under test; `None` when `VOUCH_SKIP_SIGSTORE_RS` is set.
fn sigstore_rs_verifier() -> Option<PathBuf> {
    if std::env::var_os("VOUCH_SKIP_SIGSTORE_RS").is_some() {
        return None;
    }
    Some(sibling_bin("vouch-crosscheck", "cosign-verify-rs"))
}
