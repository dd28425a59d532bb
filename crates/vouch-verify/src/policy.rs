//! Verification policy: who must have signed (identity or key) and which evidence is required.
//!
//! Built with [`PolicyBuilder`], which refuses contradictory or empty policies at build time,
//! in the manner of sigstore-go's `PolicyBuilder`. Options that weaken verification carry
//! `insecure` in their name.

use regex::Regex;
use vouch_core::keys::PublicKey;
use vouch_core::tlog_policy::WitnessPolicy;
use vouch_core::x509::FulcioIdentity;

/// Matches a string exactly or by (unanchored, RE2-style) regular expression.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Exact string equality.
    Exact(String),
    /// Regular expression; anchor it yourself (`^…$`).
    Regex(Regex),
}

impl Matcher {
    /// True when `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(s) => s == value,
            Self::Regex(r) => r.is_match(value),
        }
    }

    /// How the expectation reads in an error.
    pub fn describe(&self) -> String {
        match self {
            Self::Exact(s) => format!("{s:?}"),
            Self::Regex(r) => format!("a match for /{}/", r.as_str()),
        }
    }
}

/// Why an identity did not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The certificate has no SAN.
    #[error("certificate has no subject alternative name")]
    NoSan,
    /// The SAN differs.
    #[error("certificate identity mismatch: expected {expected}, got {got:?}")]
    San {
        /// What the policy wanted.
        expected: String,
        /// What the certificate says.
        got: String,
    },
    /// The certificate has no OIDC issuer extension.
    #[error("certificate has no OIDC issuer extension (1.3.6.1.4.1.57264.1.1 or .1.8)")]
    NoIssuer,
    /// The issuer differs.
    #[error("certificate OIDC issuer mismatch: expected {expected}, got {got:?}")]
    Issuer {
        /// What the policy wanted.
        expected: String,
        /// What the certificate says.
        got: String,
    },
    /// A Fulcio extension differs or is missing.
    #[error(
        "certificate extension {name} (1.3.6.1.4.1.57264.1.{arc}) mismatch: expected {expected:?}, got {got:?}"
    )]
    Extension {
        /// Extension name.
        name: &'static str,
        /// Arc number.
        arc: u32,
        /// Expected value.
        expected: String,
        /// Actual value, empty when absent.
        got: String,
    },
}

/// One acceptable signer identity.
#[derive(Clone, Debug)]
pub struct IdentityPolicy {
    /// SAN matcher.
    pub san: Matcher,
    /// OIDC issuer matcher.
    pub issuer: Matcher,
    /// Exact values required for Fulcio extensions, by arc number (e.g. 2 = workflow trigger).
    pub extensions: Vec<(u32, String)>,
}

impl IdentityPolicy {
    /// Check a certificate identity against this policy.
    pub fn check(&self, id: &FulcioIdentity) -> Result<(), IdentityError> {
        let san = id.san.as_deref().ok_or(IdentityError::NoSan)?;
        if !self.san.matches(san) {
            return Err(IdentityError::San {
                expected: self.san.describe(),
                got: san.to_string(),
            });
        }
        let issuer = id.issuer.as_deref().ok_or(IdentityError::NoIssuer)?;
        if !self.issuer.matches(issuer) {
            return Err(IdentityError::Issuer {
                expected: self.issuer.describe(),
                got: issuer.to_string(),
            });
        }
        for (arc, expected) in &self.extensions {
            let got = id.extension(*arc).unwrap_or_default();
            if got != expected {
                return Err(IdentityError::Extension {
                    name: vouch_core::x509::fulcio_extension_name(*arc),
                    arc: *arc,
                    expected: expected.clone(),
                    got: got.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Who must have signed.
#[derive(Clone, Debug)]
pub enum SignerPolicy {
    /// A Fulcio certificate matching any of these identities.
    Identities(Vec<IdentityPolicy>),
    /// A specific public key.
    Key(PublicKey),
    /// Any certificate from a trusted CA, identity unchecked (dangerous; for inspection tools).
    InsecureAnyIdentity,
}

/// A complete verification policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Who must have signed.
    pub signer: SignerPolicy,
    /// Distinct transparency logs that must have verified entries (0 = tlog not required).
    pub tlog_threshold: usize,
    /// Require a verified embedded SCT for certificates.
    pub require_sct: bool,
    /// Minimum verified RFC 3161 timestamps.
    pub signed_timestamp_threshold: usize,
    /// Minimum observer timestamps (TSA + SET-verified integrated times).
    pub observer_threshold: usize,
    /// For DSSE bundles, the predicate type the statement must carry.
    pub predicate_type: Option<String>,
    /// A C2SP tlog-policy: every log entry's checkpoint must carry its witness quorum (and,
    /// if it lists logs, be signed by one of them).
    pub witness_policy: Option<WitnessPolicy>,
}

/// Why a policy could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Neither identity nor key given.
    #[error(
        "no signer given: pass --certificate-identity(-regexp) with --certificate-oidc-issuer(-regexp), or --key"
    )]
    NoSigner,
    /// Both identity and key given.
    #[error("--key cannot be combined with certificate identity options")]
    KeyAndIdentity,
    /// Identity without issuer or the reverse.
    #[error("{0}")]
    Incomplete(&'static str),
    /// Both exact and regexp forms of the same option.
    #[error("{0} and {0}-regexp are mutually exclusive")]
    Conflict(&'static str),
    /// A witness policy cannot be checked when the transparency log is ignored.
    #[error("--witness-policy cannot be combined with --insecure-ignore-tlog")]
    WitnessPolicyWithoutTlog,
    /// A regular expression failed to compile.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    BadRegex {
        /// The pattern.
        pattern: String,
        /// Compiler message.
        reason: String,
    },
}

/// Builds a [`Policy`] from cosign-style options.
#[derive(Clone, Debug, Default)]
pub struct PolicyBuilder {
    identity: Option<String>,
    identity_regexp: Option<String>,
    issuer: Option<String>,
    issuer_regexp: Option<String>,
    extensions: Vec<(u32, String)>,
    key: Option<PublicKey>,
    insecure_ignore_tlog: bool,
    insecure_ignore_sct: bool,
    insecure_any_identity: bool,
    use_signed_timestamps: bool,
    predicate_type: Option<String>,
    witness_policy: Option<WitnessPolicy>,
}

fn compile(p: &str) -> Result<Regex, PolicyError> {
    Regex::new(p).map_err(|e| PolicyError::BadRegex {
        pattern: p.to_string(),
        reason: e.to_string(),
    })
}

impl PolicyBuilder {
    /// Start an empty builder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Exact SAN (`--certificate-identity`).
    pub fn certificate_identity(mut self, v: impl Into<String>) -> Self {
        self.identity = Some(v.into());
        self
    }
    /// SAN regexp (`--certificate-identity-regexp`).
    pub fn certificate_identity_regexp(mut self, v: impl Into<String>) -> Self {
        self.identity_regexp = Some(v.into());
        self
    }
    /// Exact issuer (`--certificate-oidc-issuer`).
    pub fn certificate_oidc_issuer(mut self, v: impl Into<String>) -> Self {
        self.issuer = Some(v.into());
        self
    }
    /// Issuer regexp (`--certificate-oidc-issuer-regexp`).
    pub fn certificate_oidc_issuer_regexp(mut self, v: impl Into<String>) -> Self {
        self.issuer_regexp = Some(v.into());
        self
    }
    /// Require Fulcio extension `1.3.6.1.4.1.57264.1.<arc>` to equal `value`.
    pub fn require_extension(mut self, arc: u32, value: impl Into<String>) -> Self {
        self.extensions.push((arc, value.into()));
        self
    }
    /// Verify with this key instead of a certificate identity (`--key`).
    pub fn key(mut self, key: PublicKey) -> Self {
        self.key = Some(key);
        self
    }
    /// Do not require a transparency log entry (`--insecure-ignore-tlog`).
    pub fn insecure_ignore_tlog(mut self, v: bool) -> Self {
        self.insecure_ignore_tlog = v;
        self
    }
    /// Do not require an SCT (`--insecure-ignore-sct`).
    pub fn insecure_ignore_sct(mut self, v: bool) -> Self {
        self.insecure_ignore_sct = v;
        self
    }
    /// Accept any identity from a trusted CA (never for real policy decisions).
    pub fn insecure_any_identity(mut self, v: bool) -> Self {
        self.insecure_any_identity = v;
        self
    }
    /// Require an RFC 3161 timestamp (`--use-signed-timestamps`).
    pub fn use_signed_timestamps(mut self, v: bool) -> Self {
        self.use_signed_timestamps = v;
        self
    }
    /// Require this in-toto predicate type (`--type`).
    pub fn predicate_type(mut self, v: impl Into<String>) -> Self {
        self.predicate_type = Some(v.into());
        self
    }

    /// Require each log entry's checkpoint to satisfy this C2SP tlog-policy's witness quorum
    /// (`--witness-policy`).
    pub fn witness_policy(mut self, p: WitnessPolicy) -> Self {
        self.witness_policy = Some(p);
        self
    }

    /// Build, refusing contradictory or incomplete options.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let has_identity = self.identity.is_some()
            || self.identity_regexp.is_some()
            || self.issuer.is_some()
            || self.issuer_regexp.is_some()
            || !self.extensions.is_empty();
        if self.identity.is_some() && self.identity_regexp.is_some() {
            return Err(PolicyError::Conflict("--certificate-identity"));
        }
        if self.issuer.is_some() && self.issuer_regexp.is_some() {
            return Err(PolicyError::Conflict("--certificate-oidc-issuer"));
        }
        let signer = match (self.key, has_identity, self.insecure_any_identity) {
            (Some(_), true, _) => return Err(PolicyError::KeyAndIdentity),
            (Some(k), false, _) => SignerPolicy::Key(k),
            (None, true, _) => {
                let san = match (self.identity, self.identity_regexp) {
                    (Some(s), None) => Matcher::Exact(s),
                    (None, Some(r)) => Matcher::Regex(compile(&r)?),
                    _ => {
                        return Err(PolicyError::Incomplete(
                            "--certificate-identity or --certificate-identity-regexp is required",
                        ));
                    }
                };
                let issuer = match (self.issuer, self.issuer_regexp) {
                    (Some(s), None) => Matcher::Exact(s),
                    (None, Some(r)) => Matcher::Regex(compile(&r)?),
                    _ => {
                        return Err(PolicyError::Incomplete(
                            "--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required",
                        ));
                    }
                };
                SignerPolicy::Identities(vec![IdentityPolicy {
                    san,
                    issuer,
                    extensions: self.extensions,
                }])
            }
            (None, false, true) => SignerPolicy::InsecureAnyIdentity,
            (None, false, false) => return Err(PolicyError::NoSigner),
        };
        let is_key = matches!(signer, SignerPolicy::Key(_));
        if self.witness_policy.is_some() && self.insecure_ignore_tlog {
            return Err(PolicyError::WitnessPolicyWithoutTlog);
        }
        Ok(Policy {
            signer,
            tlog_threshold: usize::from(!self.insecure_ignore_tlog),
            require_sct: !self.insecure_ignore_sct && !is_key,
            signed_timestamp_threshold: usize::from(self.use_signed_timestamps),
            // Certificates are short-lived: some trusted observer must vouch for the signing time.
            // Long-lived keys may be verified without one (cosign's WithNoObserverTimestamps).
            observer_threshold: usize::from(!is_key),
            predicate_type: self.predicate_type,
            witness_policy: self.witness_policy,
        })
    }
}
