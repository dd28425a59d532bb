//! Whole verification: `Verifier::verify_json` with the public-good trusted root, the
//! sigstore-conformance default identity policy and the conformance `a.txt` artifact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vouch_core::trust::TrustRoot;
use vouch_verify::{Artifact, Policy, PolicyBuilder, Verifier};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// `conformance/bundle-verify/a.txt`, the artifact most conformance bundles sign.
const ARTIFACT: &[u8] = b"DO NOT MODIFY ME!\n\nthis is \"a.txt\", a sample input for sigstore-conformance's test suite.\n\nDO NOT MODIFY ME!\n";

fn setup() -> &'static (Verifier, Policy) {
    static S: OnceLock<(Verifier, Policy)> = OnceLock::new();
    S.get_or_init(|| {
        let verifier = Verifier::new(TrustRoot::public_good().expect("embedded public-good root"));
        let policy = PolicyBuilder::new()
            .certificate_identity(IDENTITY)
            .certificate_oidc_issuer(ISSUER)
            .build()
            .expect("fixed policy");
        (verifier, policy)
    })
}

fuzz_target!(|data: &[u8]| {
    let (verifier, policy) = setup();
    if let Ok(result) = verifier.verify_json(data, Artifact::Bytes(ARTIFACT), policy) {
        // Anything that verifies must be a bundle that parses and validates on its own.
        let _ = format!("{result:?}");
    }
});
