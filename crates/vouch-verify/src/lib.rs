//! # vouch-verify
//!
//! The Sigstore client verification algorithm (protocols.md §7, after sigstore-go's
//! `Verifier.Verify` and the architecture-docs client spec): transparency log entries,
//! trusted time, certificate chain, SCTs, signature, then identity policy. Every failure is a
//! [`VerifyError`] variant naming the check and the values involved.
//!
//! ```no_run
//! use vouch_core::trust::TrustRoot;
//! use vouch_verify::{Artifact, PolicyBuilder, Verifier};
//! let verifier = Verifier::new(TrustRoot::public_good().unwrap());
//! let policy = PolicyBuilder::new()
//!     .certificate_identity("https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1")
//!     .certificate_oidc_issuer("https://token.actions.githubusercontent.com")
//!     .build()
//!     .unwrap();
//! let bundle = std::fs::read("a.txt.sigstore.json").unwrap();
//! let result = verifier.verify_json(&bundle, Artifact::Bytes(b"hello"), &policy);
//! ```

mod error;
mod policy;
mod verifier;

pub use error::{EntryError, VerifyError};
pub use policy::{
    IdentityError, IdentityPolicy, Matcher, Policy, PolicyBuilder, PolicyError, SignerPolicy,
};
pub use verifier::{
    Artifact, ProvenInclusion, TimeSource, VerificationResult, VerifiedEntry, VerifiedTime,
    Verifier, verify_inclusion_promise, verify_inclusion_proof,
};
