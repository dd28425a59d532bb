//! Cross-check of vouch's verdicts against an independent Sigstore verifier,
//! sigstore-rust's `sigstore-verify` 0.15.1.
//!
//! Both verifiers are driven from the same sigstore-conformance `bundle-verify`
//! case directory, using the conformance suite's defaults (see the suite's
//! `README.md`): `artifact` falls back to `../a.txt`, `identity` and `issuer`
//! fall back to the conformance beacon's workflow identity and GitHub's issuer,
//! `key.pub` selects managed-key verification, and a missing
//! `trusted_root.json` means the public-good production root.
//!
//! Each verdict is `Ok(())` when the bundle is accepted and `Err(message)` when
//! it is rejected (or the case's inputs cannot be read).

use std::path::Path;

/// Identity used when a case has no `identity` file (the conformance default).
pub const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
/// Issuer used when a case has no `issuer` file (the conformance default).
pub const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// How the artifact is handed to the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The artifact's bytes.
    Bytes,
    /// Only the artifact's SHA-256 digest (`sha256:<hex>` style input).
    Digest,
}

impl Input {
    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Input::Bytes => "bytes",
            Input::Digest => "digest",
        }
    }
}

/// The inputs of one conformance case, read from its directory.
#[derive(Debug, Clone)]
pub struct Case {
    /// `bundle.sigstore.json`, raw.
    pub bundle: Vec<u8>,
    /// `artifact`, or `../a.txt` when absent.
    pub artifact: Vec<u8>,
    /// `trusted_root.json`, if the case has one (else: public-good root).
    pub trusted_root: Option<Vec<u8>>,
    /// `key.pub` (PEM), if present: verify with this key instead of an identity.
    pub key_pem: Option<String>,
    /// Expected certificate identity (SAN).
    pub identity: String,
    /// Expected OIDC issuer.
    pub issuer: String,
}

fn read_opt(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, String> {
    let p = dir.join(name);
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading {}: {e}", p.display())),
    }
}

fn read_text_opt(dir: &Path, name: &str) -> Result<Option<String>, String> {
    read_opt(dir, name)?
        .map(|b| String::from_utf8(b).map_err(|e| format!("{name}: not UTF-8: {e}")))
        .transpose()
}

impl Case {
    /// Reads a case directory, applying the conformance defaults.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let bundle = read_opt(dir, "bundle.sigstore.json")?
            .ok_or_else(|| format!("{}: no bundle.sigstore.json", dir.display()))?;
        let artifact = match read_opt(dir, "artifact")? {
            Some(a) => a,
            None => {
                let p = dir.join("../a.txt");
                std::fs::read(&p).map_err(|e| format!("reading {}: {e}", p.display()))?
            }
        };
        Ok(Self {
            bundle,
            artifact,
            trusted_root: read_opt(dir, "trusted_root.json")?,
            key_pem: read_text_opt(dir, "key.pub")?,
            identity: read_text_opt(dir, "identity")?
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|| DEFAULT_IDENTITY.to_string()),
            issuer: read_text_opt(dir, "issuer")?
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|| DEFAULT_ISSUER.to_string()),
        })
    }
}

/// vouch's verdict on a case, run exactly as `vouch-verify`'s conformance test
/// runs it (same defaults, same policy construction).
pub fn vouch_verdict(case_dir: &Path, input: Input) -> Result<(), String> {
    use vouch_core::keys::{HashKind, PublicKey};
    use vouch_core::trust::TrustRoot;
    use vouch_verify::{Artifact, PolicyBuilder, Verifier};

    let case = Case::load(case_dir)?;
    let trust = match &case.trusted_root {
        Some(j) => TrustRoot::from_json(j).map_err(|e| format!("trusted root: {e}"))?,
        None => TrustRoot::public_good().map_err(|e| format!("public-good root: {e}"))?,
    };
    let digest = HashKind::Sha256.digest(&case.artifact);
    let art = match input {
        Input::Bytes => Artifact::Bytes(&case.artifact),
        Input::Digest => Artifact::Digest {
            algorithm: HashKind::Sha256,
            digest: &digest,
        },
    };
    let policy = match &case.key_pem {
        Some(pem) => {
            let key = PublicKey::from_pem(pem).map_err(|e| e.to_string())?;
            PolicyBuilder::new().key(key).build()
        }
        None => PolicyBuilder::new()
            .certificate_identity(case.identity.clone())
            .certificate_oidc_issuer(case.issuer.clone())
            .build(),
    }
    .map_err(|e| e.to_string())?;
    Verifier::new(trust)
        .verify_json(&case.bundle, art, &policy)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// sigstore-rust's (`sigstore-verify` 0.15.1) verdict on the same case inputs.
///
/// Keyless cases use `VerificationPolicy::new(identity, issuer)` (all checks on:
/// chain, SCT, tlog); managed-key cases use `PublicKeyVerificationPolicy::new(key)`.
/// Digest mode passes a `Sha256Hash` computed by sigstore-rust's own hasher.
pub fn sigstore_rust_verdict(case_dir: &Path, input: Input) -> Result<(), String> {
    use sigstore_trust_root::{SIGSTORE_PRODUCTION_TRUSTED_ROOT, TrustedRoot};
    use sigstore_types::{Bundle, DerPublicKey};
    use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, Verifier};

    let case = Case::load(case_dir)?;
    let root = match &case.trusted_root {
        Some(j) => {
            let s = std::str::from_utf8(j).map_err(|e| format!("trusted root: not UTF-8: {e}"))?;
            TrustedRoot::from_json(s).map_err(|e| format!("trusted root: {e}"))?
        }
        None => TrustedRoot::from_json(SIGSTORE_PRODUCTION_TRUSTED_ROOT)
            .map_err(|e| format!("production root: {e}"))?,
    };
    let verifier = Verifier::new(&root).map_err(|e| format!("verifier: {e}"))?;
    let bundle_json =
        std::str::from_utf8(&case.bundle).map_err(|e| format!("bundle: not UTF-8: {e}"))?;
    let bundle = Bundle::from_json(bundle_json).map_err(|e| format!("bundle: {e}"))?;
    let artifact: sigstore_types::Artifact<'_> = match input {
        Input::Bytes => sigstore_types::Artifact::from_blob(&case.artifact),
        Input::Digest => sigstore_verify::crypto::sha256(&case.artifact).into(),
    };
    let result = match &case.key_pem {
        Some(pem) => {
            let key = DerPublicKey::from_pem(pem).map_err(|e| format!("key.pub: {e}"))?;
            verifier.verify(artifact, &bundle, &PublicKeyVerificationPolicy::new(key))
        }
        None => verifier.verify(
            artifact,
            &bundle,
            &VerificationPolicy::new(case.identity.as_str(), case.issuer.clone()),
        ),
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}
