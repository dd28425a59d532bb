//! A log collecting witness cosignatures, as a user runs it: two `vouch serve witness` and a
//! `vouch serve log --witness-policy policy.txt --require-witness-quorum` with quorum 2 of 2.
//!
//! * a write (`vouch sign-blob --key`) succeeds, its bundle carries the cosigned checkpoint and
//!   verifies with `verify-blob --witness-policy`; `/checkpoint` serves the cosignatures;
//! * with one witness stopped, writes fail closed (503 naming the quorum group), and a bundle
//!   made by the same log without `--require-witness-quorum` fails verification with the
//!   policy, naming the group and who cosigned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::witness::{generate_key_pair, sign, trust_config, two_witnesses, verify};
use common::{post, start, tail, try_get};
use std::process::Output;

/// A Rekor v2 hashedrekord request signed with a fresh P-256 key.
fn signed_request(artifact: &[u8]) -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use vouch_core::encoding::b64_encode;
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let sig = key
        .sign(&aws_lc_rs::rand::SystemRandom::new(), artifact)
        .unwrap();
    let spki = key.public_key().as_der().unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, artifact);
    format!(
        r#"{{"hashedRekordRequestV002":{{"digest":"{}","signature":{{"content":"{}","verifier":{{"publicKey":{{"rawBytes":"{}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}}}}}"#,
        b64_encode(digest.as_ref()),
        b64_encode(sig.as_ref()),
        b64_encode(spki.as_ref())
    )
    .into_bytes()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn quorum_of_two_witnesses_fails_closed_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let origin = "wq.vouch.test/log";
    let log_data = dir.join("log");
    // First start creates the log key; its vkey is what the witnesses follow.
    drop(start(&log_data, origin, &dir.join("log0.txt"), &[]));
    let log_vkey = std::fs::read_to_string(log_data.join("log.vkey")).unwrap();
    let log_vkey = log_vkey.trim();
    let (w1, w2, policy) = two_witnesses(dir, origin, log_vkey);
    let policy_arg = policy.to_str().unwrap();
    let log = start(
        &log_data,
        origin,
        &dir.join("log1.txt"),
        &["--witness-policy", policy_arg, "--require-witness-quorum"],
    );
    assert!(
        log.stdout
            .iter()
            .filter(|l| l.starts_with("witness: "))
            .count()
            == 2,
        "{:?}",
        log.stdout
    );
    let tc = trust_config(dir, &log_data, &log.url);
    generate_key_pair(dir);

    // Quorum met: the write is acknowledged, the bundle carries both cosignatures.
    let art = dir.join("release.tar.gz");
    std::fs::write(&art, b"release").unwrap();
    let b1 = dir.join("release.sigstore.json");
    let out = sign(dir, &tc, &art, &b1);
    assert!(
        out.status.success(),
        "{}; log:\n{}",
        stderr(&out),
        tail(&log.log)
    );
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&b1).unwrap()).unwrap();
    let env = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
        ["envelope"]
        .as_str()
        .unwrap()
        .to_string();
    for name in ["w1.vouch.test", "w2.vouch.test"] {
        assert!(
            env.lines()
                .any(|l| l.starts_with(&format!("\u{2014} {name} "))),
            "{name} missing from {env}"
        );
    }
    let out = verify(dir, &art, &b1, &policy);
    assert!(out.status.success(), "{}", stderr(&out));
    let (st, cp) = try_get(&log.url, "/checkpoint").unwrap();
    assert_eq!(st, 200);
    let cp = String::from_utf8(cp).unwrap();
    // The log's signature, then each witness's Ed25519 and ML-DSA-44 cosignatures.
    assert_eq!(
        cp.lines().filter(|l| l.starts_with('\u{2014}')).count(),
        5,
        "{cp}"
    );

    // One witness down: writes fail closed, naming the group.
    drop(w2);
    let (st, _, body) = post(&log.url, "/api/v2/log/entries", &signed_request(b"entry 2"));
    assert_eq!(st, 503, "{body}");
    assert!(
        body.contains("witness quorum not met")
            && body.contains("\\\"both\\\" needs 2 of [w1, w2], 1 met"),
        "{body}"
    );
    let art2 = dir.join("release2.tar.gz");
    std::fs::write(&art2, b"release 2").unwrap();
    let out = sign(dir, &tc, &art2, &dir.join("r2.sigstore.json"));
    assert!(
        !out.status.success(),
        "write acknowledged without the quorum"
    );
    assert!(!dir.join("r2.sigstore.json").exists());

    // The same log without --require-witness-quorum serves 1 of 2: verification with the
    // policy names the group that fell short and who signed.
    drop(log);
    let log = start(
        &log_data,
        origin,
        &dir.join("log2.txt"),
        &["--witness-policy", policy_arg],
    );
    let tc = trust_config(dir, &log_data, &log.url);
    let art3 = dir.join("release3.tar.gz");
    std::fs::write(&art3, b"release 3").unwrap();
    let b3 = dir.join("r3.sigstore.json");
    let out = sign(dir, &tc, &art3, &b3);
    assert!(
        out.status.success(),
        "{}; log:\n{}",
        stderr(&out),
        tail(&log.log)
    );
    let out = verify(dir, &art3, &b3, &policy);
    assert!(!out.status.success(), "verified without the quorum");
    let err = stderr(&out);
    assert!(
        err.contains("\"both\" needs 2 of [w1, w2], 1 met") && err.contains("cosigned by: w1"),
        "{err}"
    );
    drop(w1);
}
