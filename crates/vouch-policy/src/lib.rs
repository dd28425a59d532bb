//! # vouch-policy
//!
//! The vouch policy engine, used by `vouch policy check`, the admission webhook and (later)
//! audit and the monitor. Its policy format is sigstore
//! [policy-controller](https://github.com/sigstore/policy-controller)'s, so existing policies
//! work unchanged:
//!
//! * `ClusterImagePolicy` (`policy.sigstore.dev/v1beta1` and `v1alpha1`): `spec.images[].glob`
//!   (policy-controller's glob semantics, [`glob`]), `authorities[]` (`key`, `keyless`,
//!   `static`, `source`, `ctlog`, `rfc3161timestamp`, `signatureFormat`, `attestations` with
//!   Rego policies), the CIP-level `spec.policy` over `authorityMatches`, `spec.mode`,
//!   `spec.match[]`;
//! * `TrustRoot` (`sigstoreKeys`, `remote` as a TUF mirror + root).
//!
//! Beyond policy-controller, as named extensions: `spec.threshold` (k distinct authorities
//! must pass: dual or hybrid signing), `kind: ArtifactPolicy` (`policy.vouch.dev/v1alpha1`)
//! for files, and signed, expiring, audited [`exception`]s.
//!
//! Semantics are policy-controller's: every policy matching an image must pass; within a
//! policy any authority passes unless a threshold is set; an image no policy matches follows
//! [`NoMatchPolicy`] (default deny); a policy that fails to load is an error, never a silent
//! allow. Rego runs on regorus; CUE is refused at load time (no Rust CUE exists).
//!
//! The engine is pure except for reading signatures, which sits behind [`SignatureSource`]
//! ([`OciSource`] reads a registry through vouch-oci). Verification ([`Engine::verify_image`],
//! cacheable under [`Verification::key`]) is split from the decision at an instant
//! ([`Engine::decide`], never cached), so exceptions expire to the second even when a
//! verification is served from a cache.
//!
//! ## Use from the admission webhook
//!
//! At start: [`PolicySet::load`] (fails on any bad document), [`Trust::resolve`] (default root
//! plus `TrustRoot` documents; TUF `remote`s are fetched here), [`ExceptionSet::load`] (bundles
//! verified against the [`Approvers`]; refused ones are listed, never honoured), then
//! [`Engine::new`]. Per image: pin it to a digest ([`ImageRef::with_digest`]), look up
//! [`Engine::cache_key`] in a [`VerificationCache`], else [`Engine::verify_image`] (bounded by
//! the caller's deadline) and insert; then [`Engine::decide`] with the request's
//! [`EvalContext`] (namespace, resource, labels, `now`). [`ImageDecision::message`] names the
//! image, policy, authority and failed check; [`ImageDecision::audit_annotations`] and
//! [`ImageDecision::exceptions_used`] feed the audit log and metrics. A reloaded exceptions
//! directory needs no re-verification: [`Engine::decide_with`] or [`Engine::with_exceptions`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use vouch_policy::*;
//! let policies = Arc::new(PolicySet::load(&["./policies"])?);
//! let trust = Arc::new(Trust::new(Some(vouch_core::trust::TrustRoot::public_good()?)));
//! let registry = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default())?;
//! let engine = Engine::new(policies, trust, OciSource::new(registry),
//!     Arc::new(ExceptionSet::none()), EngineOptions::default())?;
//! let image = ImageRef::parse("registry.local:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")?;
//! let decision = engine.evaluate_image(&image, &EvalContext::cli(jiff::Timestamp::now())).await;
//! if !decision.allowed() { eprintln!("{}", decision.message()); }
//! # Ok(()) }
//! ```

mod authority;
pub mod cache;
mod compile;
pub mod compiled;
pub mod decision;
pub mod decision_log;
pub mod engine;
pub mod error;
pub mod exception;
pub mod glob;
pub mod load;
pub mod model;
pub mod rego;
pub mod source;
pub mod trust;

pub use cache::VerificationCache;
pub use decision::{
    AuthorityResult, CacheKey, ExceptionUse, ImageDecision, ImageVerification, NoMatchPolicy,
    PolicyResult, Subject, Verdict, Verification,
};
pub use decision_log::{DecisionRecord, count_exception_uses, read_decision_log};
pub use engine::{
    ArtifactInput, Engine, EngineOptions, EvalContext, ImageRef, ImageRefError, ResourceKind,
};
pub use error::{Location, PolicyError};
pub use exception::{
    Approvers, EXCEPTION_PREDICATE_TYPE, Exception, ExceptionError, ExceptionPredicate,
    ExceptionSet,
};
pub use load::{Mode, PolicySet};
pub use source::{NoSource, OciSource, SignatureSource};
pub use trust::Trust;
