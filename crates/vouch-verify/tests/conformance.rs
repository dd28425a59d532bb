//! Runs every sigstore-conformance `bundle-verify` case through the library verifier, once with
//! the artifact bytes and once with `sha256:<digest>`, and checks the expected verdict.
//! Needs `../shared/testdata` (present in CI); skips with a message when it is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::trust::TrustRoot;
use vouch_verify::{Artifact, EntryError, PolicyBuilder, Verifier, VerifyError};

/// Why a case was rejected: by the verifier, or earlier, while reading its inputs.
#[derive(Debug)]
enum Failure {
    /// The verifier rejected the bundle.
    Verify(VerifyError),
    /// The case's trusted root does not load.
    TrustRoot(String),
    /// The case's key.pub does not load.
    Key(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Verify(e) => write!(f, "{e}"),
            Failure::TrustRoot(e) => write!(f, "trusted root: {e}"),
            Failure::Key(e) => write!(f, "key.pub: {e}"),
        }
    }
}

macro_rules! entry {
    ($p:pat) => {
        Failure::Verify(VerifyError::Entry { source: $p, .. })
    };
}

/// The check each `_fail` case must fail, as the mutation corpus asserts the error variant:
/// a case rejected for an unrelated reason is a wrong verdict too.
fn failed_the_right_check(name: &str, f: &Failure) -> Option<bool> {
    use Failure::Verify as V;
    Some(match name {
        "bundle-empty-certificate-chain_fail"
        | "bundle-invalid-base64-signature_fail"
        | "bundle-malformed-json_fail"
        | "bundle-negative-log-index_fail"
        | "bundle-unknown-version_fail"
        | "intoto-missing-inclusion-proof_fail"
        | "invalid-inclusion-proof_fail"
        | "rekor2-no-inclusion-proof_fail" => matches!(f, V(VerifyError::Bundle(_))),
        "bundle-from-wrong-instance_fail" => matches!(f, V(VerifyError::TlogThreshold { .. })),
        "bundle-with-root-cert_fail" => matches!(f, V(VerifyError::ChainContainsRoot { .. })),
        "checkpoint-bad-keyhint_fail"
        | "invalid-checkpoint-signature_fail"
        | "rekor2-checkpoint-missing-log-signature_fail"
        | "rekor2-checkpoint-missing-origin_fail"
        | "rekor2-checkpoint-missing-root-hash_fail"
        | "rekor2-checkpoint-missing-size_fail" => matches!(f, entry!(EntryError::Checkpoint(_))),
        "rekor2-checkpoint-no-matching-signature_fail" => {
            matches!(f, entry!(EntryError::CheckpointOrigin { .. }))
        }
        "checkpoint-wrong-roothash_fail" => {
            matches!(f, entry!(EntryError::CheckpointMismatch { .. }))
        }
        "dsse-invalid-sig_fail"
        | "dsse-mismatch-sig_fail"
        | "rekor2-dsse-invalid-sig_fail"
        | "rekor2-dsse-mismatch-envelope_fail"
        | "rekor2-dsse-mismatch-sig_fail"
        | "signature-mismatch_fail"
        | "wrong-hashedrekord-artifact_fail"
        | "wrong-hashedrekord-cert-and-sig_fail"
        | "wrong-hashedrekord-entry_fail" => matches!(f, entry!(EntryError::SignatureMismatch)),
        "dsse-mismatch-envelope_fail" => matches!(f, entry!(EntryError::DigestMismatch { .. })),
        "inclusion-proof-corrupted-hash_fail" => matches!(f, entry!(EntryError::Inclusion(_))),
        "incorrect-public-key_fail" | "set-invalid-signature_fail" => {
            matches!(f, entry!(EntryError::BadSet { .. }))
        }
        "integrated-time-in-future_fail"
        | "intoto-expired-certificate_fail"
        | "intoto-set-outside-signing-cert-validity_fail" => {
            matches!(
                f,
                entry!(EntryError::IntegratedTimeOutsideCertificate { .. })
            )
        }
        "intoto-log-entry-mismatch_fail" => matches!(f, entry!(EntryError::Body(_))),
        "intoto-tsa-timestamp-outside-cert-validity_fail"
        | "rekor2-timestamp-with-incorrect-time_fail" => matches!(f, V(VerifyError::Chain { .. })),
        "invalid-ct-key_fail" => matches!(f, V(VerifyError::NoTrustedSct { .. })),
        "managed-key-no-key_fail" => matches!(f, V(VerifyError::KeyRequired { .. })),
        "managed-key-wrong-key_fail" => matches!(f, Failure::Key(_)),
        "message-digest-mismatch_fail" | "wrong-material_fail" => {
            matches!(f, V(VerifyError::ArtifactMismatch { .. }))
        }
        "rekor2-no-timestamp_fail" => matches!(f, V(VerifyError::NoObserverTimestamp)),
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail" => {
            matches!(f, V(VerifyError::TimestampOutsideTsaValidity { .. }))
        }
        "rekor2-timestamp-outside-tsa-cert-validity_fail"
        | "rekor2-timestamp-payload-mismatch_fail"
        | "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail"
        | "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail" => {
            matches!(f, V(VerifyError::Timestamp { .. }))
        }
        "trust-root-tlog-missing-validity-start_fail" => matches!(f, Failure::TrustRoot(_)),
        _ => return None,
    })
}

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/conformance/bundle-verify");
    p.is_dir().then_some(p)
}

/// Verify one case; Ok(()) on success, Err(why) on rejection.
fn run_case(dir: &Path, by_digest: bool) -> Result<(), Failure> {
    let read = |n: &str| std::fs::read(dir.join(n)).ok();
    let trust = match read("trusted_root.json") {
        Some(j) => TrustRoot::from_json(&j).map_err(|e| Failure::TrustRoot(e.to_string()))?,
        None => TrustRoot::public_good().unwrap(),
    };
    let artifact = read("artifact").unwrap_or_else(|| std::fs::read(dir.join("../a.txt")).unwrap());
    let digest = HashKind::Sha256.digest(&artifact);
    let art = if by_digest {
        Artifact::Digest {
            algorithm: HashKind::Sha256,
            digest: &digest,
        }
    } else {
        Artifact::Bytes(&artifact)
    };
    let policy = if let Some(k) = read("key.pub") {
        let key = PublicKey::from_pem(std::str::from_utf8(&k).unwrap())
            .map_err(|e| Failure::Key(e.to_string()))?;
        PolicyBuilder::new().key(key).build()
    } else {
        let id = read("identity").map(|b| String::from_utf8(b).unwrap().trim().to_string());
        let iss = read("issuer").map(|b| String::from_utf8(b).unwrap().trim().to_string());
        PolicyBuilder::new()
            .certificate_identity(id.unwrap_or_else(|| DEFAULT_IDENTITY.into()))
            .certificate_oidc_issuer(iss.unwrap_or_else(|| DEFAULT_ISSUER.into()))
            .build()
    }
    .map_err(|e| Failure::Verify(e.into()))?;
    let bundle = std::fs::read(dir.join("bundle.sigstore.json")).unwrap();
    Verifier::new(trust)
        .verify_json(&bundle, art, &policy)
        .map(|_| ())
        .map_err(Failure::Verify)
}

#[test]
fn conformance_bundle_verify_cases() {
    let Some(dir) = cases_dir() else {
        vouch_testkit::skip(format_args!(
            "../shared/testdata/conformance/bundle-verify not found (CI provides it)"
        ));
        return;
    };
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        names.len() >= 70,
        "expected at least 70 cases, found {}",
        names.len()
    );
    let mut wrong = Vec::new();
    for name in &names {
        let expect_fail = name.ends_with("_fail");
        for by_digest in [false, true] {
            let mode = if by_digest { "digest" } else { "path" };
            let res = run_case(&dir.join(name), by_digest);
            match (&res, expect_fail) {
                (Ok(()), false) => println!("ok   {name} [{mode}]"),
                (Err(e), true) => match failed_the_right_check(name, e) {
                    Some(true) => println!("ok   {name} [{mode}] rejected: {e}"),
                    Some(false) => {
                        wrong.push(format!("{name} [{mode}]: rejected by the wrong check: {e}"))
                    }
                    None => wrong.push(format!(
                        "{name} [{mode}]: no expected check recorded for this case (rejected: {e})"
                    )),
                },
                (Ok(()), true) => wrong.push(format!("{name} [{mode}]: accepted but must fail")),
                (Err(e), false) => wrong.push(format!("{name} [{mode}]: rejected: {e}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    println!("{} cases x 2 modes: all verdicts as expected", names.len());
}
