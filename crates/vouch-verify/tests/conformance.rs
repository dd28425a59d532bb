//! Runs every sigstore-conformance `bundle-verify` case through the library verifier, once with
//! the artifact bytes and once with `sha256:<digest>`, and checks the expected verdict.
//! Needs `../shared/testdata` (present in CI); skips with a message when it is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::trust::TrustRoot;
use vouch_verify::{Artifact, PolicyBuilder, Verifier};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/conformance/bundle-verify");
    p.is_dir().then_some(p)
}

/// Verify one case; Ok(()) on success, Err(message) on rejection.
fn run_case(dir: &Path, by_digest: bool) -> Result<(), String> {
    let read = |n: &str| std::fs::read(dir.join(n)).ok();
    let trust = match read("trusted_root.json") {
        Some(j) => TrustRoot::from_json(&j).map_err(|e| format!("trusted root: {e}"))?,
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
        let key =
            PublicKey::from_pem(std::str::from_utf8(&k).unwrap()).map_err(|e| e.to_string())?;
        PolicyBuilder::new().key(key).build()
    } else {
        let id = read("identity").map(|b| String::from_utf8(b).unwrap().trim().to_string());
        let iss = read("issuer").map(|b| String::from_utf8(b).unwrap().trim().to_string());
        PolicyBuilder::new()
            .certificate_identity(id.unwrap_or_else(|| DEFAULT_IDENTITY.into()))
            .certificate_oidc_issuer(iss.unwrap_or_else(|| DEFAULT_ISSUER.into()))
            .build()
    }
    .map_err(|e| e.to_string())?;
    let bundle = std::fs::read(dir.join("bundle.sigstore.json")).unwrap();
    Verifier::new(trust)
        .verify_json(&bundle, art, &policy)
        .map(|_| ())
        .map_err(|e| e.to_string())
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
                (Err(e), true) => println!("ok   {name} [{mode}] rejected: {e}"),
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
