//! The seam between the webhook and the policy engine: [`ImageDecider`].
//!
//! The webhook knows Kubernetes (AdmissionReview, kinds, image fields, JSON patches), the
//! cache and the deadline; it knows nothing about policies. The engine behind the trait knows
//! policies, trust roots and registries, and nothing about HTTP. A decision is split in two:
//!
//! 1. [`ImageDecider::verify`]: the expensive, cacheable part. It must be a pure function of
//!    ([`CacheKeyParts::policy_digest`], [`CacheKeyParts::trust_digest`],
//!    [`CacheKeyParts::witness_policy_digest`], the image by digest):
//!    the webhook caches its result under exactly that key and serves it without calling the
//!    engine again until the entry is re-verified.
//! 2. [`ImageDecider::decide`]: the cheap, never cached part: enforce or warn mode, exceptions
//!    (which expire at a second), the no-match policy. It runs on every admission.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed error from the engine behind the trait, kept as the `#[source]` of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The boxed future the trait's async methods return (keeps the trait object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The digests that, with the image digest, key a cached verification.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKeyParts {
    /// Digest of the loaded policy set (all ClusterImagePolicies and TrustRoots).
    pub policy_digest: String,
    /// Digest of the trust material verification uses (trusted root, keys).
    pub trust_digest: String,
    /// Digest of the witness policy every log checkpoint must satisfy (empty: none), so that
    /// a verification made under one witness policy is never served under another.
    pub witness_policy_digest: String,
}

/// The cacheable result of verifying one image by digest.
#[derive(Debug)]
pub struct Verified<O> {
    /// The engine's own result, handed back to [`ImageDecider::decide`].
    pub outcome: O,
    /// Whether every matching policy passed on its own (before mode and exceptions). A failed
    /// verification is cached for the shorter negative TTL and is not refreshed in the
    /// background, so that an image signed after a denial is admitted soon.
    pub passed: bool,
}

/// Why an image has no verification result to decide on.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Unverified {
    /// Verification did not finish within the admission deadline; it goes on in the
    /// background and fills the cache.
    #[error("verification of {image} did not finish within the {deadline:?} admission deadline")]
    DeadlineExceeded {
        /// The image by digest.
        image: String,
        /// The configured deadline.
        deadline: Duration,
    },
    /// Verification could not be carried out (registry down, …).
    #[error(transparent)]
    Failed(Arc<VerifyFailure>),
    /// The tag could not be resolved to a digest.
    #[error(transparent)]
    Unresolved(Arc<ResolveError>),
}

impl Unverified {
    /// A short, bounded label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Unverified::DeadlineExceeded { .. } => "deadline-exceeded",
            Unverified::Failed(f) => match f.as_ref() {
                VerifyFailure::Registry { .. } => "registry-unavailable",
                VerifyFailure::Engine { .. } => "verification-error",
            },
            Unverified::Unresolved(r) => match r.as_ref() {
                ResolveError::InvalidReference { .. } => "invalid-reference",
                ResolveError::Registry { .. } => "registry-unavailable",
                ResolveError::NotFound { .. } => "image-not-found",
            },
        }
    }
}

/// A verification that could not be carried out. It is never cached: the next admission (or
/// the background refresher) tries again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyFailure {
    /// The registry could not be reached or answered an error.
    #[error("registry unavailable while verifying {image}: {source}")]
    Registry {
        /// The image by digest.
        image: String,
        /// The registry client's error.
        #[source]
        source: BoxError,
    },
    /// The engine failed for another reason.
    #[error("cannot verify {image}: {source}")]
    Engine {
        /// The image by digest.
        image: String,
        /// The engine's error.
        #[source]
        source: BoxError,
    },
}

/// A tag that could not be resolved to a digest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The reference cannot be parsed.
    #[error("invalid image reference {image:?}: {source}")]
    InvalidReference {
        /// The reference as written in the object.
        image: String,
        /// The parser's error.
        #[source]
        source: BoxError,
    },
    /// The registry could not be reached or answered an error.
    #[error("registry unavailable while resolving {image}: {source}")]
    Registry {
        /// The reference as written in the object.
        image: String,
        /// The registry client's error.
        #[source]
        source: BoxError,
    },
    /// The registry has no such tag.
    #[error("image {image} not found in its registry")]
    NotFound {
        /// The reference as written in the object.
        image: String,
    },
}

/// What [`ImageDecider::decide`] knows about the admitted object besides the image.
#[derive(Clone, Debug)]
pub struct DecisionContext {
    /// The object's namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// The object's kind, e.g. `Deployment`.
    pub kind: String,
    /// The object's API group (`""` for core, `apps`, `batch`).
    pub group: String,
    /// The object's resource (plural), e.g. `deployments`.
    pub resource: String,
    /// The object's name (may be empty on CREATE with `generateName`).
    pub name: String,
    /// The object's labels.
    pub labels: BTreeMap<String, String>,
    /// The time of the decision (exceptions expire at the second).
    pub now: jiff::Timestamp,
}

/// The verdict on one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Admit.
    Allow,
    /// Admit, with a warning to the client (warn mode, an exception, a no-match `warn`).
    Warn,
    /// Refuse.
    Deny,
}

impl Verdict {
    /// `allow`, `warn` or `deny` (metrics label, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Warn => "warn",
            Verdict::Deny => "deny",
        }
    }
}

/// The decision on one image.
#[derive(Clone, Debug)]
pub struct Decision {
    /// Allow, warn or deny.
    pub verdict: Verdict,
    /// The policies that matched the image.
    pub policies: Vec<String>,
    /// For a deny or warn: what failed, naming the image, the policy, the authority and the
    /// failed check. Empty for a plain allow.
    pub message: String,
    /// A short, bounded label for metrics: `verified`, `no-match`, `signature`, `identity`,
    /// `deadline-exceeded`, … (never free text).
    pub reason: String,
    /// Warnings for the client.
    pub warnings: Vec<String>,
    /// Names of the exceptions that allowed this image.
    pub exceptions_used: Vec<String>,
    /// Audit annotations to add to the request's audit event.
    pub audit_annotations: BTreeMap<String, String>,
}

impl Decision {
    /// A decision with only a verdict, a reason label and a message.
    pub fn new(verdict: Verdict, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Decision {
            verdict,
            policies: Vec::new(),
            message: message.into(),
            reason: reason.into(),
            warnings: Vec::new(),
            exceptions_used: Vec::new(),
            audit_annotations: BTreeMap::new(),
        }
    }
}

/// The policy engine as the webhook sees it. Object-safe once `Outcome` is fixed:
/// `Arc<dyn ImageDecider<Outcome = MyOutcome>>`.
pub trait ImageDecider: Send + Sync + 'static {
    /// The engine's cacheable verification result.
    type Outcome: Send + Sync + 'static;

    /// The current (policy digest, trust digest). When either changes, every cached result
    /// under the old parts is dead.
    fn cache_key_parts(&self) -> CacheKeyParts;

    /// Resolve a tagged reference to its manifest digest (`sha256:<hex>`) with one registry
    /// request.
    fn resolve_tag<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Result<String, ResolveError>>;

    /// Verify `image_by_digest` (`name@sha256:<hex>`) against every matching policy. Must not
    /// depend on anything but the cache key parts and the image (no clock-dependent decision,
    /// no namespace). An image that no policy matches should answer without network.
    fn verify<'a>(
        &'a self,
        image_by_digest: &'a str,
    ) -> BoxFuture<'a, Result<Verified<Self::Outcome>, VerifyFailure>>;

    /// Decide on `image_by_digest` given its verification (or why there is none), in `ctx`.
    /// Cheap and synchronous: it runs on every admission.
    fn decide(
        &self,
        image_by_digest: &str,
        verified: Result<&Verified<Self::Outcome>, &Unverified>,
        ctx: &DecisionContext,
    ) -> Decision;

    /// A stand-in verification to decide on when there is no real one (deadline passed,
    /// registry down): typically every signature authority failed with `why`, while `static`
    /// authorities still answer. Never cached. `None` (the default): [`ImageDecider::decide`]
    /// gets the [`Unverified`] itself.
    fn stand_in<'a>(
        &'a self,
        _image_by_digest: &'a str,
        _why: &'a Unverified,
    ) -> BoxFuture<'a, Option<Verified<Self::Outcome>>> {
        Box::pin(async { None })
    }

    /// Registry requests the engine has sent so far, for `/metrics` (None: not counted).
    fn registry_requests(&self) -> Option<u64> {
        None
    }

    /// Age of the oldest exception that is valid at `now`, for `/metrics` (None: no exceptions).
    fn oldest_open_exception_age(&self, _now: jiff::Timestamp) -> Option<Duration> {
        None
    }
}
