//! What the engine answers: per-authority and per-policy results (the cacheable
//! [`Verification`]), and the [`ImageDecision`] taken from them at one instant.

use crate::glob::ImageName;
use crate::load::Mode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `--no-match-policy`: what to do with an image (or artifact) no policy matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoMatchPolicy {
    /// Admit it.
    Allow,
    /// Refuse it (policy-controller's default).
    #[default]
    Deny,
    /// Admit it with a warning.
    Warn,
}

impl std::str::FromStr for NoMatchPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            "warn" => Ok(Self::Warn),
            o => Err(format!("{o:?}: expected allow, deny or warn")),
        }
    }
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Admit.
    Allow,
    /// Admit, with warnings (warn mode, an exception, no match under `warn`).
    Warn,
    /// Refuse.
    Deny,
}

/// One authority's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct AuthorityResult {
    /// Authority name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why not: the failed check with its values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Who signed what passed (`alice@example.com (issuer https://…)`, `key`, `static`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
}

/// One policy's outcome (mode not yet applied).
#[derive(Clone, Debug, Serialize)]
pub struct PolicyResult {
    /// Policy name.
    pub name: String,
    /// Its mode.
    pub mode: Mode,
    /// Whether it passed (threshold met and the CIP-level policy satisfied).
    pub passed: bool,
    /// Each authority.
    pub authorities: Vec<AuthorityResult>,
    /// Why the policy failed, as one line naming the authorities and checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Warnings from Rego policies that passed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Resource selectors (`spec.match`), applied at decision time.
    #[serde(skip)]
    pub(crate) matches: Vec<crate::load::MatchSpec>,
}

/// What was verified.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Subject {
    /// A container image, by digest.
    Image {
        /// Qualified name with digest (`registry/repo@sha256:…`).
        image: String,
        /// The tag it was named by, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        /// `sha256:…`.
        digest: String,
        /// Parsed name.
        #[serde(skip)]
        name: ImageName,
    },
    /// A file.
    Artifact {
        /// Its path as given.
        name: String,
        /// `sha256:…`.
        digest: String,
    },
}

impl Subject {
    /// How messages name it.
    pub fn display(&self) -> String {
        match self {
            Self::Image { image, .. } => image.clone(),
            Self::Artifact { name, .. } => name.clone(),
        }
    }
    /// Its digest.
    pub fn digest(&self) -> &str {
        match self {
            Self::Image { digest, .. } | Self::Artifact { digest, .. } => digest,
        }
    }
}

/// What verification against the authorities established: a pure function of the policy
/// digest, the trust digest and the subject (image digest), so it may be cached under
/// [`Verification::key`]. It covers every policy whose globs match, whatever the resource;
/// modes, `match` selectors, exceptions and no-match are applied by
/// [`Engine::decide`](crate::Engine::decide) at decision time and never cached.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    /// What was verified.
    pub subject: Subject,
    /// The cache key.
    pub key: CacheKey,
    /// Every policy whose globs matched.
    pub policies: Vec<PolicyResult>,
    /// When verification ran.
    pub verified_at: jiff::Timestamp,
}

/// The name used by the webhook API: an image's verification.
pub type ImageVerification = Verification;

/// Key of a cached verification.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CacheKey {
    /// [`PolicySet::digest`](crate::PolicySet::digest).
    pub policy_digest: String,
    /// [`Trust::digest`](crate::Trust::digest).
    pub trust_digest: String,
    /// The qualified image with digest (or artifact digest).
    pub subject: String,
}

/// One use of an exception in a decision (also a decision log field).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionUse {
    /// Exception ID (`exc-` + 16 hex of the signed statement's SHA-256).
    pub id: String,
    /// The bundle file.
    pub file: String,
    /// The policy it waived.
    pub policy: String,
    /// Who approved it.
    pub approver: String,
    /// Ticket.
    pub ticket: String,
    /// Reason.
    pub reason: String,
    /// Expiry (RFC 3339).
    pub expires: String,
    /// Grant time as stated in the exception (RFC 3339).
    #[serde(default)]
    pub issued_at: String,
}

impl ExceptionUse {
    /// The use of `e` to waive `policy`.
    pub fn of(e: &crate::exception::Exception, policy: &str) -> Self {
        Self {
            id: e.id.clone(),
            file: e.file.display().to_string(),
            policy: policy.to_string(),
            approver: e.approver.clone(),
            ticket: e.predicate.ticket.clone(),
            reason: e.predicate.reason.clone(),
            expires: e.predicate.expires.clone(),
            issued_at: e.predicate.issued_at.clone(),
        }
    }
}

/// The decision for one image (or artifact) at one instant.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDecision {
    /// What was decided about.
    pub subject: Subject,
    /// Allow, warn or deny.
    pub verdict: Verdict,
    /// Policies that applied (globs and `match` selectors), with their results.
    pub policies: Vec<PolicyResult>,
    /// Warnings (warn-mode failures, exceptions used, no match under `warn`).
    pub warnings: Vec<String>,
    /// Reasons for a deny: image, policy, authority and failed check.
    pub denials: Vec<String>,
    /// Exceptions that waived a failure.
    pub exceptions_used: Vec<ExceptionUse>,
    /// Annotations for the Kubernetes audit log (`exception-<n>`, `policy-digest`): keys without
    /// a prefix, since the API server prefixes them with the webhook name.
    pub audit_annotations: BTreeMap<String, String>,
}

impl ImageDecision {
    /// A short, bounded label for metrics and the decision log: `no-match`, `verified`,
    /// `exception`, `warn-mode` or `policy-failed`.
    pub fn reason_label(&self) -> &'static str {
        match (
            self.verdict,
            self.policies.is_empty(),
            self.exceptions_used.is_empty(),
        ) {
            (_, true, _) => "no-match",
            (Verdict::Allow, false, _) => "verified",
            (Verdict::Warn, false, false) => "exception",
            (Verdict::Warn, false, true) => "warn-mode",
            (Verdict::Deny, false, _) => "policy-failed",
        }
    }

    /// Whether to admit.
    pub fn allowed(&self) -> bool {
        self.verdict != Verdict::Deny
    }

    /// One message for a deny (every reason, `; `-separated), or the warnings otherwise.
    pub fn message(&self) -> String {
        if self.verdict == Verdict::Deny {
            self.denials.join("; ")
        } else {
            self.warnings.join("; ")
        }
    }
}
