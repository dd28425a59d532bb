//! Offline verification of signatures recorded from a `vouch up` instance (fixtures: two signed
//! commits, one logged in Rekor v2 with a TSA timestamp, one in Rekor v1 with a SET, and the
//! instance's trust config), plus mutations: tampered payload, corrupted signature, wrong
//! identity, log entries swapped between signatures, stripped log entry, stripped timestamp —
//! through the library and through the `vouch-gitsign` program's gpgsm interface.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfos};
use const_oid::ObjectIdentifier;
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use vouch_gitsign::cms::{OID_TIMESTAMP_TOKEN, OID_TLOG_ENTRY, from_pem_or_der};
use vouch_gitsign::config::load_client_trust_config;
use vouch_gitsign::git::split_commit;
use vouch_gitsign::{IdentityPolicy, VerifyFailure};

const ISSUER: &str = "http://127.0.0.1:36581";
const IDENTITY: &str = "dev@example.com";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// (payload, signature DER) of a fixture commit.
fn commit(name: &str) -> (Vec<u8>, Vec<u8>) {
    let raw = std::fs::read(fixture(name)).unwrap();
    let s = split_commit(&raw);
    let der = from_pem_or_der(&s.signature.unwrap()).unwrap();
    (s.payload, der)
}

fn verify(
    sig: &[u8],
    payload: &[u8],
    policy: &IdentityPolicy,
) -> Result<vouch_gitsign::Verified, VerifyFailure> {
    let (trust, _) = load_client_trust_config(&fixture("trust_config.json")).unwrap();
    vouch_gitsign::verify::verify(sig, payload, trust, policy)
}

fn policy(identity: &str, issuer: &str) -> IdentityPolicy {
    IdentityPolicy {
        identity: Some(identity.into()),
        issuer: Some(issuer.into()),
        ..IdentityPolicy::default()
    }
}

/// Rewrite the signer's unsigned attributes: drop `drop`, then add `add`.
fn rewrite_unsigned(
    der: &[u8],
    drop: &[ObjectIdentifier],
    add: Vec<x509_cert::attr::Attribute>,
) -> Vec<u8> {
    let ci = ContentInfo::from_der(der).unwrap();
    let mut sd: SignedData = ci.content.decode_as().unwrap();
    let mut sis = sd.signer_infos.0.into_vec();
    let mut attrs: Vec<x509_cert::attr::Attribute> = sis[0]
        .unsigned_attrs
        .take()
        .map(|a| a.into_vec())
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !drop.contains(&a.oid))
        .collect();
    attrs.extend(add);
    sis[0].unsigned_attrs = if attrs.is_empty() {
        None
    } else {
        Some(SetOfVec::try_from(attrs).unwrap())
    };
    sd.signer_infos = SignerInfos::try_from(sis).unwrap();
    ContentInfo {
        content_type: ci.content_type,
        content: Any::encode_from(&sd).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn unsigned_attr(der: &[u8], oid: ObjectIdentifier) -> x509_cert::attr::Attribute {
    let ci = ContentInfo::from_der(der).unwrap();
    let sd: SignedData = ci.content.decode_as().unwrap();
    sd.signer_infos.0.as_slice()[0]
        .unsigned_attrs
        .as_ref()
        .unwrap()
        .iter()
        .find(|a| a.oid == oid)
        .unwrap()
        .clone()
}

#[test]
fn rekor_v2_with_timestamp_verifies_offline() {
    let (payload, sig) = commit("commit-rekor-v2.txt");
    let v = verify(&sig, &payload, &policy(IDENTITY, ISSUER)).unwrap();
    assert_eq!(v.identity, IDENTITY);
    assert_eq!(v.issuer, ISSUER);
    assert!(v.policy_checked);
    assert!(
        v.time_source.starts_with("timestamp authority"),
        "{}",
        v.time_source
    );
    assert_eq!(v.log_entries.len(), 1);
    let any = verify(&sig, &payload, &IdentityPolicy::default()).unwrap();
    assert!(!any.policy_checked);
}

#[test]
fn rekor_v1_verifies_offline_even_without_timestamp() {
    let (payload, sig) = commit("commit-rekor-v1.txt");
    verify(&sig, &payload, &policy(IDENTITY, ISSUER)).unwrap();
    // The SET's integrated time is a verified time on its own.
    let no_tsa = rewrite_unsigned(&sig, &[OID_TIMESTAMP_TOKEN], vec![]);
    let v = verify(&no_tsa, &payload, &policy(IDENTITY, ISSUER)).unwrap();
    assert!(
        v.time_source.starts_with("transparency log"),
        "{}",
        v.time_source
    );
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let (payload, sig) = commit("commit-rekor-v2.txt");
    let mut bad = payload.clone();
    let n = bad.len();
    bad[n - 2] ^= 1;
    match verify(&sig, &bad, &IdentityPolicy::default()) {
        Err(VerifyFailure::Bad { reason, .. }) => {
            assert_eq!(reason, vouch_gitsign::BadSignature::PayloadDigest)
        }
        other => panic!("expected BADSIG, got {other:?}"),
    }
    // The other fixture's payload.
    let (other_payload, _) = commit("commit-rekor-v1.txt");
    assert!(matches!(
        verify(&sig, &other_payload, &IdentityPolicy::default()),
        Err(VerifyFailure::Bad { .. })
    ));
}

#[test]
fn corrupted_signature_value_is_a_bad_signature() {
    let (payload, sig) = commit("commit-rekor-v2.txt");
    // The ECDSA signature is the last OCTET STRING before the unsigned attributes; flip a byte
    // inside it by locating it through the parser.
    let ci = ContentInfo::from_der(&sig).unwrap();
    let mut sd: SignedData = ci.content.decode_as().unwrap();
    let mut sis = sd.signer_infos.0.into_vec();
    let mut s = sis[0].signature.as_bytes().to_vec();
    let n = s.len();
    s[n - 3] ^= 0x55;
    sis[0].signature = der::asn1::OctetString::new(s).unwrap();
    sd.signer_infos = SignerInfos::try_from(sis).unwrap();
    let bad = ContentInfo {
        content_type: ci.content_type,
        content: Any::encode_from(&sd).unwrap(),
    }
    .to_der()
    .unwrap();
    assert!(matches!(
        verify(&bad, &payload, &IdentityPolicy::default()),
        Err(VerifyFailure::Bad { .. })
    ));
}

#[test]
fn wrong_identity_or_issuer_fails() {
    let (payload, sig) = commit("commit-rekor-v2.txt");
    let e = verify(&sig, &payload, &policy("mallory@example.com", ISSUER)).unwrap_err();
    assert!(e.to_string().contains("identity mismatch"), "{e}");
    let e = verify(
        &sig,
        &payload,
        &policy(IDENTITY, "https://accounts.example.com"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("issuer"), "{e}");
    let re = IdentityPolicy {
        identity_regexp: Some("^dev@example\\.com$".into()),
        issuer: Some(ISSUER.into()),
        ..IdentityPolicy::default()
    };
    verify(&sig, &payload, &re).unwrap();
}

#[test]
fn log_entry_must_belong_to_this_signature() {
    let (payload2, sig2) = commit("commit-rekor-v2.txt");
    let (payload1, sig1) = commit("commit-rekor-v1.txt");
    // Swap the entries: each names the other signature and certificate.
    let e1 = unsigned_attr(&sig1, OID_TLOG_ENTRY);
    let e2 = unsigned_attr(&sig2, OID_TLOG_ENTRY);
    let swapped2 = rewrite_unsigned(&sig2, &[OID_TLOG_ENTRY], vec![e1]);
    let swapped1 = rewrite_unsigned(&sig1, &[OID_TLOG_ENTRY], vec![e2]);
    for (sig, payload) in [(&swapped2, &payload2), (&swapped1, &payload1)] {
        match verify(sig, payload, &IdentityPolicy::default()) {
            Err(VerifyFailure::Error {
                reason: vouch_gitsign::Unverified::Verify { source },
                ..
            }) => {
                assert!(
                    source.to_string().contains("records a different signature"),
                    "{source}"
                )
            }
            other => panic!("a foreign log entry was accepted: {other:?}"),
        }
    }
    // No entry at all.
    let stripped = rewrite_unsigned(&sig2, &[OID_TLOG_ENTRY], vec![]);
    let e = verify(&stripped, &payload2, &IdentityPolicy::default()).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyFailure::Error {
                reason: vouch_gitsign::Unverified::NoLogEntry,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("no transparency log entry"), "{e}");
    // Rekor v2 entries carry no time: without the timestamp there is no verified signing time.
    let no_tsa = rewrite_unsigned(&sig2, &[OID_TIMESTAMP_TOKEN], vec![]);
    let e = verify(&no_tsa, &payload2, &IdentityPolicy::default()).unwrap_err();
    assert!(e.to_string().contains("no trusted signing time"), "{e}");
}

#[test]
fn untrusted_root_fails() {
    let (payload, sig) = commit("commit-rekor-v2.txt");
    let trust = vouch_core::trust::TrustRoot::public_good().unwrap();
    let e = vouch_gitsign::verify::verify(&sig, &payload, trust, &IdentityPolicy::default())
        .unwrap_err();
    assert!(matches!(e, VerifyFailure::Error { .. }), "{e}");
}

/// The program git runs, offline, with the fixture trust config.
fn program_verify(
    commit_name: &str,
    tamper: bool,
    extra_env: &[(&str, &str)],
) -> (i32, String, String) {
    let raw = std::fs::read(fixture(commit_name)).unwrap();
    let s = split_commit(&raw);
    let dir = tempfile::tempdir().unwrap();
    let sig_path = dir.path().join("sig");
    std::fs::write(&sig_path, s.signature.unwrap()).unwrap();
    let mut payload = s.payload;
    if tamper {
        payload.extend_from_slice(b"tampered\n");
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch-gitsign"));
    cmd.current_dir(dir.path())
        .env("HOME", dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GITSIGN_TRUST_CONFIG", fixture("trust_config.json"))
        .env_remove("VOUCH_TRUST_CONFIG")
        .args(["--status-fd=1", "--verify"])
        .arg(&sig_path)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&payload).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn gpgsm_verify_status_lines() {
    let (code, out, err) = program_verify("commit-rekor-v2.txt", false, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "[GNUPG:] NEWSIG");
    assert!(lines[1].starts_with("[GNUPG:] GOODSIG ") && lines[1].ends_with(" dev@example.com"));
    let fpr = lines[1].split(' ').nth(2).unwrap();
    assert_eq!(fpr.len(), 40);
    let validsig: Vec<&str> = lines[2].split(' ').collect();
    assert_eq!(validsig[1], "VALIDSIG");
    assert_eq!(validsig[2], fpr);
    assert_eq!(validsig[11], fpr, "primary fingerprint is the 10th field");
    assert_eq!(lines[3], "[GNUPG:] TRUST_UNDEFINED 0 shell");
    assert!(
        err.contains("Good signature from [dev@example.com]"),
        "{err}"
    );

    let (code, out, _) = program_verify(
        "commit-rekor-v1.txt",
        false,
        &[
            ("GITSIGN_MATCH_IDENTITY", IDENTITY),
            ("GITSIGN_MATCH_ISSUER", ISSUER),
        ],
    );
    assert_eq!(code, 0);
    assert!(out.ends_with("[GNUPG:] TRUST_FULLY 0 shell\n"), "{out}");

    let (code, out, err) = program_verify("commit-rekor-v2.txt", true, &[]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("[GNUPG:] NEWSIG\n[GNUPG:] BADSIG "),
        "{out}"
    );
    assert!(!out.contains("GOODSIG"));
    assert!(err.contains("BAD signature"), "{err}");

    let (code, out, err) = program_verify(
        "commit-rekor-v2.txt",
        false,
        &[
            ("GITSIGN_MATCH_IDENTITY", "mallory@example.com"),
            ("GITSIGN_MATCH_ISSUER", ISSUER),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        out.starts_with("[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG "),
        "{out}"
    );
    assert!(err.contains("identity mismatch"), "{err}");
}

/// Issue 12 finding 2: a half-set policy (only `gitsign.matchIdentity`, or only
/// `gitsign.matchIssuer`) used to be widened to "any issuer" / "any identity" and reported
/// `TRUST_FULLY` (`%G?` = `G`): the same email from another trusted issuer (e.g. the any-email
/// development IdP) passed as fully trusted. The half that is set is still enforced, but trust
/// is only `TRUST_UNDEFINED`, with a warning naming the missing half.
#[test]
fn half_set_identity_policy_is_not_full_trust() {
    for (env, missing) in [
        (("GITSIGN_MATCH_IDENTITY", IDENTITY), "gitsign.matchIssuer"),
        (("GITSIGN_MATCH_ISSUER", ISSUER), "gitsign.matchIdentity"),
    ] {
        let (code, out, err) = program_verify("commit-rekor-v2.txt", false, &[env]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("[GNUPG:] GOODSIG "), "{out}");
        assert!(!out.contains("TRUST_FULLY"), "{env:?}: {out}");
        assert!(out.ends_with("[GNUPG:] TRUST_UNDEFINED 0 shell\n"), "{out}");
        assert!(err.contains(missing), "{err}");
    }
    // The half that is set is still enforced.
    for env in [
        ("GITSIGN_MATCH_IDENTITY", "mallory@example.com"),
        ("GITSIGN_MATCH_ISSUER", "https://accounts.example.com"),
    ] {
        let (code, out, _) = program_verify("commit-rekor-v2.txt", false, &[env]);
        assert_eq!(code, 1, "{env:?}: {out}");
        assert!(!out.contains("GOODSIG"), "{out}");
    }
    // Through the library: a half-set policy verifies, but is not reported as checked.
    let (payload, sig) = commit("commit-rekor-v2.txt");
    let half = IdentityPolicy {
        identity: Some(IDENTITY.into()),
        ..IdentityPolicy::default()
    };
    let v = verify(&sig, &payload, &half).unwrap();
    assert!(!v.policy_checked);
    let v = verify(&sig, &payload, &policy(IDENTITY, ISSUER)).unwrap();
    assert!(v.policy_checked);
}
