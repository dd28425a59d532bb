//! Fulcio's OIDC issuer configuration (protocols.md §1.9), JSON or YAML.
//!
//! JSON: top-level keys `OIDCIssuers`, `MetaIssuers` and `CIIssuerMetadata`, per-issuer fields
//! in Fulcio's PascalCase spelling (`IssuerURL`, `ClientID`, …). YAML: Fulcio's kebab-case
//! spelling (`oidc-issuers`, `meta-issuers`, `ci-issuer-metadata`; `issuer-url`, `client-id`,
//! `type`, `ci-provider`, …), parsed with `serde-saphyr` and mapped onto the same schema.
//! [`FulcioConfig::parse`] sniffs the format the way Fulcio does (JSON first, else YAML).
//!
//! Issuer URLs must be https, or plain http for loopback hosts only (`localhost`,
//! `127.0.0.0/8`, `::1`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Errors found while loading or validating an issuer configuration.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The document is not valid JSON for this schema.
    #[error("issuer config is not valid JSON: {source}")]
    Parse {
        /// The JSON parser's error.
        #[source]
        source: std::sync::Arc<serde_json::Error>,
    },
    /// The document is not valid YAML.
    #[error("issuer config is not valid YAML: {source}")]
    ParseYaml {
        /// The YAML parser's error.
        #[source]
        source: std::sync::Arc<serde_saphyr::Error>,
    },
    /// The YAML document does not fit the config schema.
    #[error("issuer config is not valid YAML: {source}")]
    YamlSchema {
        /// The schema mapping's error.
        #[source]
        source: std::sync::Arc<serde_json::Error>,
    },
    /// The YAML document's shape is wrong (a mapping expected, a key of the wrong kind).
    #[error("issuer config is not valid YAML: {0}")]
    YamlShape(String),
    /// A `CIIssuerMetadata` entry (ci-provider templates) is malformed.
    #[error("CIIssuerMetadata {provider:?}: {reason}")]
    CiMetadata {
        /// The provider name (key of `CIIssuerMetadata`).
        provider: String,
        /// What is wrong.
        reason: String,
    },
    /// A `RateLimits` entry is not acceptable.
    #[error("RateLimits.{field}: {reason}")]
    RateLimit {
        /// `perIdentity` or `perIssuer`.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// An issuer `Type` string that Fulcio does not define.
    #[error("unknown issuer type {0:?}")]
    UnknownType(String),
    /// An issuer URL (or meta-issuer pattern) that is not an acceptable URL.
    #[error("issuer {issuer:?}: invalid issuer URL: {reason}")]
    BadIssuerUrl {
        /// The config key of the issuer.
        issuer: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A required per-issuer field is missing or empty.
    #[error("issuer {issuer:?}: field {field} is required")]
    MissingField {
        /// The config key of the issuer.
        issuer: String,
        /// The JSON field name.
        field: &'static str,
    },
    /// A field value is not acceptable for this issuer.
    #[error("issuer {issuer:?}: field {field}: {reason}")]
    InvalidField {
        /// The config key of the issuer.
        issuer: String,
        /// The JSON field name.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}

/// Issuer types (`Type` in the config), protocols.md §1.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum IssuerType {
    /// `email`: rfc822Name SAN from the `email` claim.
    Email,
    /// `github-workflow`: legacy GitHub Actions principal.
    GithubWorkflow,
    /// `gitlab-pipeline`: legacy GitLab CI principal.
    GitlabPipeline,
    /// `buildkite-job`: legacy Buildkite principal.
    BuildkiteJob,
    /// `codefresh-workflow`: legacy Codefresh principal.
    CodefreshWorkflow,
    /// `chainguard-identity`: URI SAN = issuer joined with `sub`.
    ChainguardIdentity,
    /// `kubernetes`: service account URI SAN.
    Kubernetes,
    /// `spiffe`: URI SAN = `sub` (a SPIFFE ID).
    Spiffe,
    /// `uri`: URI SAN = `sub`.
    Uri,
    /// `username`: OtherName SAN `<sub>!<SubjectDomain>`.
    Username,
    /// `ci-provider`: SAN and extensions from `CIIssuerMetadata` templates.
    CiProvider,
}

impl IssuerType {
    /// The config spelling of this type.
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerType::Email => "email",
            IssuerType::GithubWorkflow => "github-workflow",
            IssuerType::GitlabPipeline => "gitlab-pipeline",
            IssuerType::BuildkiteJob => "buildkite-job",
            IssuerType::CodefreshWorkflow => "codefresh-workflow",
            IssuerType::ChainguardIdentity => "chainguard-identity",
            IssuerType::Kubernetes => "kubernetes",
            IssuerType::Spiffe => "spiffe",
            IssuerType::Uri => "uri",
            IssuerType::Username => "username",
            IssuerType::CiProvider => "ci-provider",
        }
    }
}

impl fmt::Display for IssuerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IssuerType {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "email" => IssuerType::Email,
            "github-workflow" => IssuerType::GithubWorkflow,
            "gitlab-pipeline" => IssuerType::GitlabPipeline,
            "buildkite-job" => IssuerType::BuildkiteJob,
            "codefresh-workflow" => IssuerType::CodefreshWorkflow,
            "chainguard-identity" => IssuerType::ChainguardIdentity,
            "kubernetes" => IssuerType::Kubernetes,
            "spiffe" => IssuerType::Spiffe,
            "uri" => IssuerType::Uri,
            "username" => IssuerType::Username,
            "ci-provider" => IssuerType::CiProvider,
            other => return Err(ConfigError::UnknownType(other.to_string())),
        })
    }
}

impl TryFrom<String> for IssuerType {
    type Error = ConfigError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<IssuerType> for String {
    fn from(t: IssuerType) -> String {
        t.as_str().to_string()
    }
}

/// One issuer entry (`OIDCIssuers` value or `MetaIssuers` value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IssuerConfig {
    /// The expected `iss` claim. Empty for meta-issuers until resolved.
    #[serde(
        rename = "IssuerURL",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub issuer_url: String,
    /// The expected audience (`aud`), `sigstore` on public-good.
    #[serde(rename = "ClientID", default)]
    pub client_id: String,
    /// How identities of this issuer map to certificates.
    #[serde(rename = "Type")]
    pub issuer_type: IssuerType,
    /// For `ci-provider` issuers: the key into `CIIssuerMetadata`.
    #[serde(
        rename = "CIProvider",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ci_provider: String,
    /// For `email` issuers: JSONPath (`$.a.b`) of the claim that replaces `iss` in the
    /// certificate's Issuer extension.
    #[serde(
        rename = "IssuerClaim",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub issuer_claim: String,
    /// For `uri` (with scheme) and `username` (without scheme) issuers.
    #[serde(
        rename = "SubjectDomain",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub subject_domain: String,
    /// For `spiffe` issuers: the required trust domain.
    #[serde(
        rename = "SPIFFETrustDomain",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub spiffe_trust_domain: String,
    /// Claim used as the proof-of-possession challenge (informational here).
    #[serde(
        rename = "ChallengeClaim",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub challenge_claim: String,
    /// Free-form description.
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// Operator contact.
    #[serde(rename = "Contact", default, skip_serializing_if = "String::is_empty")]
    pub contact: String,
    /// Deployment environment label.
    #[serde(
        rename = "Environment",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub environment: String,
    /// PEM roots pinned for discovery TLS.
    #[serde(rename = "CACert", default, skip_serializing_if = "String::is_empty")]
    pub ca_cert: String,
    /// For `email` issuers: do not require `email_verified`.
    #[serde(rename = "SkipEmailVerification", default)]
    pub skip_email_verification: bool,
    /// For `ci-provider` issuers: the parsed `CIIssuerMetadata` entry named by `CIProvider`,
    /// filled in by [`FulcioConfig::lookup`] (not part of the serialized form).
    #[serde(skip)]
    pub ci_metadata: Option<CiIssuerMetadata>,
}

impl IssuerConfig {
    /// A minimal issuer entry with the given URL, client ID and type.
    pub fn new(issuer_url: &str, client_id: &str, issuer_type: IssuerType) -> Self {
        IssuerConfig {
            issuer_url: issuer_url.to_string(),
            client_id: client_id.to_string(),
            issuer_type,
            ci_provider: String::new(),
            issuer_claim: String::new(),
            subject_domain: String::new(),
            spiffe_trust_domain: String::new(),
            challenge_claim: String::new(),
            description: String::new(),
            contact: String::new(),
            environment: String::new(),
            ca_cert: String::new(),
            skip_email_verification: false,
            ci_metadata: None,
        }
    }
}

/// A Fulcio issuer configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FulcioConfig {
    /// Issuers keyed by exact issuer URL.
    #[serde(rename = "OIDCIssuers", default)]
    pub oidc_issuers: BTreeMap<String, IssuerConfig>,
    /// Issuers keyed by URL patterns where `*` matches one or more of `[-_a-zA-Z0-9]`.
    #[serde(rename = "MetaIssuers", default)]
    pub meta_issuers: BTreeMap<String, IssuerConfig>,
    /// `ci-provider` template metadata, kept verbatim (templates are not evaluated here).
    #[serde(rename = "CIIssuerMetadata", default)]
    pub ci_issuer_metadata: BTreeMap<String, serde_json::Value>,
    /// Issuance rate limits (a vouch extension; Fulcio has none).
    #[serde(
        rename = "RateLimits",
        alias = "rateLimits",
        default,
        skip_serializing_if = "RateLimits::is_empty"
    )]
    pub rate_limits: RateLimits,
}

/// Issuance rate limits: `RateLimits` in JSON, `rate-limits` (or `rateLimits`) in YAML.
///
/// ```yaml
/// rate-limits:
///   perIdentity: {requests: 20, window: 1h}   # per SAN, per issuer
///   perIssuer: {requests: 1000, window: 1m}   # per OIDC issuer
/// ```
///
/// Past a limit the CA answers 429 with `Retry-After` (seconds) and a message naming it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimits {
    /// Certificates per identity (SAN and issuer) per window.
    #[serde(
        default,
        alias = "per-identity",
        alias = "PerIdentity",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_identity: Option<RateLimit>,
    /// Certificates per OIDC issuer per window.
    #[serde(
        default,
        alias = "per-issuer",
        alias = "PerIssuer",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_issuer: Option<RateLimit>,
}

impl RateLimits {
    /// True when no limit is configured.
    pub fn is_empty(&self) -> bool {
        self.per_identity.is_none() && self.per_issuer.is_none()
    }
}

/// At most `requests` certificates per `window` (`60s`, `10m`, `1h`; at most 24 h).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Certificates allowed per window (at least 1).
    pub requests: u32,
    /// The window, e.g. `60s`.
    pub window: String,
}

impl RateLimit {
    /// The window as a duration (checked by [`FulcioConfig::validate`]).
    pub fn window(&self) -> Result<std::time::Duration, vouch_core::time::DurationError> {
        vouch_core::time::parse_duration(&self.window)
    }
}

impl FulcioConfig {
    /// Parse a JSON config and validate it.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let cfg: FulcioConfig = serde_json::from_str(json).map_err(|e| ConfigError::Parse {
            source: std::sync::Arc::new(e),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parse a YAML config (Fulcio's kebab-case keys; the PascalCase JSON keys are accepted
    /// too) and validate it.
    pub fn from_yaml(yaml: &str) -> Result<Self, ConfigError> {
        let doc: serde_json::Value =
            serde_saphyr::from_str(yaml).map_err(|e| ConfigError::ParseYaml {
                source: std::sync::Arc::new(e),
            })?;
        let doc = yaml_to_json_schema(doc)?;
        let cfg: FulcioConfig =
            serde_json::from_value(doc).map_err(|e| ConfigError::YamlSchema {
                source: std::sync::Arc::new(e),
            })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parse a config in either format: JSON when the document starts with `{`, else YAML
    /// (Fulcio tries JSON, then YAML).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text.trim_start().starts_with('{') {
            Self::from_json(text)
        } else {
            Self::from_yaml(text)
        }
    }

    /// Parse a config read from a file named `file_name`: `.yaml`/`.yml` as YAML, `.json` as
    /// JSON, anything else by [`FulcioConfig::parse`].
    pub fn from_file_contents(file_name: &str, text: &str) -> Result<Self, ConfigError> {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Self::from_yaml(text)
        } else if lower.ends_with(".json") {
            Self::from_json(text)
        } else {
            Self::parse(text)
        }
    }

    /// The parsed `CIIssuerMetadata` entry `provider`.
    pub fn ci_metadata(&self, provider: &str) -> Result<CiIssuerMetadata, ConfigError> {
        let v = self
            .ci_issuer_metadata
            .get(provider)
            .ok_or_else(|| ConfigError::CiMetadata {
                provider: provider.to_string(),
                reason: "no entry of that name".into(),
            })?;
        CiIssuerMetadata::from_value(provider, v)
    }

    /// Check every issuer entry (URL schemes, per-type required fields) and the rate limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, limit) in [
            ("perIdentity", &self.rate_limits.per_identity),
            ("perIssuer", &self.rate_limits.per_issuer),
        ] {
            let Some(l) = limit else { continue };
            if l.requests == 0 {
                return Err(ConfigError::RateLimit {
                    field,
                    reason: "requests must be at least 1".into(),
                });
            }
            l.window().map_err(|e| ConfigError::RateLimit {
                field,
                reason: e.to_string(),
            })?;
        }
        for (key, iss) in &self.oidc_issuers {
            let url = if iss.issuer_url.is_empty() {
                key.as_str()
            } else {
                iss.issuer_url.as_str()
            };
            if !iss.issuer_url.is_empty() && iss.issuer_url != *key {
                return Err(ConfigError::InvalidField {
                    issuer: key.clone(),
                    field: "IssuerURL",
                    reason: "must equal the OIDCIssuers key".into(),
                });
            }
            check_issuer_url(key, url)?;
            self.validate_entry(key, url, iss, false)?;
        }
        for (pattern, iss) in &self.meta_issuers {
            // Validate the pattern as a URL with each `*` replaced by a label character.
            let sample = pattern.replace('*', "x");
            check_issuer_url(pattern, &sample)?;
            self.validate_entry(pattern, &sample, iss, true)?;
        }
        Ok(())
    }

    fn validate_entry(
        &self,
        key: &str,
        url: &str,
        iss: &IssuerConfig,
        meta: bool,
    ) -> Result<(), ConfigError> {
        if iss.client_id.is_empty() {
            return Err(ConfigError::MissingField {
                issuer: key.to_string(),
                field: "ClientID",
            });
        }
        if !iss.issuer_claim.is_empty() && iss.issuer_type != IssuerType::Email {
            return Err(ConfigError::InvalidField {
                issuer: key.to_string(),
                field: "IssuerClaim",
                reason: "only allowed on email issuers".into(),
            });
        }
        let invalid = |field: &'static str, reason: &str| ConfigError::InvalidField {
            issuer: key.to_string(),
            field,
            reason: reason.to_string(),
        };
        let missing = |field: &'static str| ConfigError::MissingField {
            issuer: key.to_string(),
            field,
        };
        match iss.issuer_type {
            IssuerType::Spiffe => {
                if meta {
                    return Err(invalid("Type", "spiffe issuers cannot be meta-issuers"));
                }
                if iss.spiffe_trust_domain.is_empty() {
                    return Err(missing("SPIFFETrustDomain"));
                }
            }
            IssuerType::Uri => {
                if iss.subject_domain.is_empty() {
                    return Err(missing("SubjectDomain"));
                }
                let sd = parse_url(&iss.subject_domain)
                    .map_err(|r| invalid("SubjectDomain", &format!("must be a URL: {r}")))?;
                let host = parse_url(url).map(|u| u.host).unwrap_or_default();
                if !same_registered_domain(&sd.host, &host) {
                    return Err(invalid(
                        "SubjectDomain",
                        "must share its top- and second-level domain with the issuer",
                    ));
                }
            }
            IssuerType::Username => {
                if iss.subject_domain.is_empty() {
                    return Err(missing("SubjectDomain"));
                }
                if iss.subject_domain.contains("://") {
                    return Err(invalid("SubjectDomain", "must not have a scheme"));
                }
                let host = parse_url(url).map(|u| u.host).unwrap_or_default();
                if !same_registered_domain(&iss.subject_domain, &host) {
                    return Err(invalid(
                        "SubjectDomain",
                        "must share its top- and second-level domain with the issuer",
                    ));
                }
            }
            IssuerType::CiProvider => {
                if iss.ci_provider.is_empty() {
                    return Err(missing("CIProvider"));
                }
                if !self.ci_issuer_metadata.contains_key(&iss.ci_provider) {
                    return Err(invalid(
                        "CIProvider",
                        "no CIIssuerMetadata entry of that name",
                    ));
                }
                self.ci_metadata(&iss.ci_provider)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Find the issuer config for the (unverified) `iss` of a token: an exact
    /// `OIDCIssuers` key, else the first matching `MetaIssuers` pattern (in key order), with
    /// `IssuerURL` set to `iss`.
    pub fn lookup(&self, iss: &str) -> Option<IssuerConfig> {
        if let Some(c) = self.oidc_issuers.get(iss) {
            let mut c = c.clone();
            if c.issuer_url.is_empty() {
                c.issuer_url = iss.to_string();
            }
            return Some(self.with_ci_metadata(c));
        }
        self.meta_issuers
            .iter()
            .find(|(pattern, _)| meta_issuer_matches(pattern, iss))
            .map(|(_, c)| {
                let mut c = c.clone();
                c.issuer_url = iss.to_string();
                self.with_ci_metadata(c)
            })
    }

    fn with_ci_metadata(&self, mut c: IssuerConfig) -> IssuerConfig {
        if c.issuer_type == IssuerType::CiProvider {
            c.ci_metadata = self.ci_metadata(&c.ci_provider).ok();
        }
        c
    }
}

/// The `ci-provider` extension template names: (JSON name, YAML name, arc of
/// `1.3.6.1.4.1.57264.1`). `Issuer` and `Subject` are always taken from the token.
pub const CI_EXTENSION_FIELDS: &[(&str, &str, u32)] = &[
    ("GithubWorkflowTrigger", "github-workflow-trigger", 2),
    ("GithubWorkflowSHA", "github-workflow-sha", 3),
    ("GithubWorkflowName", "github-workflow-name", 4),
    ("GithubWorkflowRepository", "github-workflow-repository", 5),
    ("GithubWorkflowRef", "github-workflow-ref", 6),
    ("BuildSignerURI", "build-signer-uri", 9),
    ("BuildSignerDigest", "build-signer-digest", 10),
    ("RunnerEnvironment", "runner-environment", 11),
    ("SourceRepositoryURI", "source-repository-uri", 12),
    ("SourceRepositoryDigest", "source-repository-digest", 13),
    ("SourceRepositoryRef", "source-repository-ref", 14),
    (
        "SourceRepositoryIdentifier",
        "source-repository-identifier",
        15,
    ),
    (
        "SourceRepositoryOwnerURI",
        "source-repository-owner-uri",
        16,
    ),
    (
        "SourceRepositoryOwnerIdentifier",
        "source-repository-owner-identifier",
        17,
    ),
    ("BuildConfigURI", "build-config-uri", 18),
    ("BuildConfigDigest", "build-config-digest", 19),
    ("BuildTrigger", "build-trigger", 20),
    ("RunInvocationURI", "run-invocation-uri", 21),
    (
        "SourceRepositoryVisibilityAtSigning",
        "source-repository-visibility-at-signing",
        22,
    ),
    ("DeploymentEnvironment", "deployment-environment", 23),
];

/// One `CIIssuerMetadata` entry: how a `ci-provider` issuer's claims become the SAN and the
/// Sigstore extensions (protocols.md §1.8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CiIssuerMetadata {
    /// `DefaultTemplateValues`: merged under the token's claims (claims win).
    pub default_template_values: BTreeMap<String, String>,
    /// `ExtensionTemplates` by extension arc: a template (contains `{{`) or a claim name.
    pub extension_templates: BTreeMap<u32, String>,
    /// `SubjectAlternativeNameTemplate`: a template or claim name giving the URI SAN.
    pub subject_alternative_name_template: String,
}

impl CiIssuerMetadata {
    /// Parse an entry given in JSON (`DefaultTemplateValues`, `ExtensionTemplates` — or
    /// Fulcio's older `ClaimsTemplates` — and `SubjectAlternativeNameTemplate`, extension
    /// names as in Fulcio's `certificate.Extensions` JSON) or YAML spelling
    /// (`default-template-values`, `extension-templates`, `subject-alternative-name-template`,
    /// kebab-case extension names). Every template is parsed here.
    pub fn from_value(provider: &str, v: &serde_json::Value) -> Result<Self, ConfigError> {
        let err = |reason: String| ConfigError::CiMetadata {
            provider: provider.to_string(),
            reason,
        };
        let obj = v.as_object().ok_or_else(|| err("not an object".into()))?;
        let mut out = CiIssuerMetadata::default();
        for (key, val) in obj {
            match key.as_str() {
                "DefaultTemplateValues" | "default-template-values" => {
                    let m = val
                        .as_object()
                        .ok_or_else(|| err(format!("{key} is not a map")))?;
                    for (k, v) in m {
                        let s = match v {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Null => String::new(),
                            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
                                v.to_string()
                            }
                            _ => return Err(err(format!("{key}.{k} is not a string"))),
                        };
                        out.default_template_values.insert(k.clone(), s);
                    }
                }
                "ExtensionTemplates" | "extension-templates" | "ClaimsTemplates" => {
                    let m = val
                        .as_object()
                        .ok_or_else(|| err(format!("{key} is not a map")))?;
                    for (name, t) in m {
                        if matches!(name.as_str(), "Issuer" | "issuer" | "Subject" | "subject") {
                            // Always taken from the token, as in Fulcio.
                            continue;
                        }
                        let arc = CI_EXTENSION_FIELDS
                            .iter()
                            .find(|(j, y, _)| j == name || y == name)
                            .map(|(_, _, arc)| *arc)
                            .ok_or_else(|| err(format!("unknown extension template {name:?}")))?;
                        let t = t
                            .as_str()
                            .ok_or_else(|| err(format!("{key}.{name} is not a string")))?;
                        if t.is_empty() {
                            continue;
                        }
                        check_template(t).map_err(|e| err(format!("{key}.{name}: {e}")))?;
                        out.extension_templates.insert(arc, t.to_string());
                    }
                }
                "SubjectAlternativeNameTemplate" | "subject-alternative-name-template" => {
                    let t = val
                        .as_str()
                        .ok_or_else(|| err(format!("{key} is not a string")))?;
                    check_template(t).map_err(|e| err(format!("{key}: {e}")))?;
                    out.subject_alternative_name_template = t.to_string();
                }
                other => return Err(err(format!("unknown field {other:?}"))),
            }
        }
        if out.subject_alternative_name_template.is_empty() {
            return Err(err("SubjectAlternativeNameTemplate is required".into()));
        }
        Ok(out)
    }
}

fn check_template(t: &str) -> Result<(), crate::template::TemplateError> {
    if t.contains("{{") {
        crate::template::Template::parse(t)?;
    }
    Ok(())
}

/// Map a YAML document in Fulcio's kebab-case spelling onto the JSON schema's keys.
fn yaml_to_json_schema(doc: serde_json::Value) -> Result<serde_json::Value, ConfigError> {
    use serde_json::Value;
    let Value::Object(top) = doc else {
        return Err(ConfigError::YamlShape(
            "the document is not a mapping".into(),
        ));
    };
    let mut out = serde_json::Map::new();
    for (k, v) in top {
        let key = match k.as_str() {
            "oidc-issuers" | "OIDCIssuers" => "OIDCIssuers",
            "meta-issuers" | "MetaIssuers" => "MetaIssuers",
            "ci-issuer-metadata" | "CIIssuerMetadata" => "CIIssuerMetadata",
            "rate-limits" | "rateLimits" | "RateLimits" => "RateLimits",
            // Fulcio ignores unknown top-level keys (e.g. YAML anchors under `define:`).
            _ => continue,
        };
        let v = if key == "CIIssuerMetadata" || key == "RateLimits" {
            v
        } else {
            issuers_to_json_schema(key, v)?
        };
        if out.insert(key.to_string(), v).is_some() {
            return Err(ConfigError::YamlShape(format!(
                "{key} is given twice (kebab-case and PascalCase)"
            )));
        }
    }
    Ok(Value::Object(out))
}

fn issuers_to_json_schema(
    section: &str,
    v: serde_json::Value,
) -> Result<serde_json::Value, ConfigError> {
    use serde_json::Value;
    let Value::Object(issuers) = v else {
        return Err(ConfigError::YamlShape(format!(
            "{section} is not a mapping"
        )));
    };
    let mut out = serde_json::Map::new();
    for (url, entry) in issuers {
        let Value::Object(fields) = entry else {
            return Err(ConfigError::YamlShape(format!(
                "{section}.{url} is not a mapping"
            )));
        };
        let mut e = serde_json::Map::new();
        for (k, v) in fields {
            let key = match k.as_str() {
                "issuer-url" => "IssuerURL",
                "client-id" => "ClientID",
                "type" => "Type",
                "ci-provider" => "CIProvider",
                "issuer-claim" => "IssuerClaim",
                "subject-domain" => "SubjectDomain",
                "spiffe-trust-domain" => "SPIFFETrustDomain",
                "challenge-claim" => "ChallengeClaim",
                "description" => "Description",
                "contact" => "Contact",
                "environment" => "Environment",
                "ca-cert" => "CACert",
                "skip-email-verification" => "SkipEmailVerification",
                other => other,
            };
            e.insert(key.to_string(), v);
        }
        out.insert(url, Value::Object(e));
    }
    Ok(Value::Object(out))
}

/// True when `iss` matches the meta-issuer `pattern` (anchored); each `*` matches one or more
/// characters of `[-_a-zA-Z0-9]`, everything else matches literally.
pub fn meta_issuer_matches(pattern: &str, iss: &str) -> bool {
    fn is_wild(c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
    }
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => {
                let mut i = 0;
                while i < s.len() && is_wild(s[i]) {
                    i += 1;
                    if go(rest, &s[i..]) {
                        return true;
                    }
                }
                false
            }
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), iss.as_bytes())
}

/// The parts of a URL we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimpleUrl {
    pub scheme: String,
    pub host: String,
}

/// The scheme and host of an absolute URL, no userinfo. Parsed with the WHATWG `url` crate,
/// the parser reqwest fetches with, so that the policy checks the host that is actually
/// contacted (`http://127.1/` is 127.0.0.1 for both; a hand-written parser saw "127.1").
pub(crate) fn parse_url(s: &str) -> Result<SimpleUrl, String> {
    let u = url::Url::parse(s).map_err(|e| e.to_string())?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err("userinfo is not allowed".into());
    }
    let host = match u.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err("no host".into()),
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    Ok(SimpleUrl {
        scheme: u.scheme().to_string(),
        host,
    })
}

/// True for `localhost`, `127.0.0.0/8`, `::1` and `::ffff:127.0.0.0/104`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn check_issuer_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let bad = |reason: String| ConfigError::BadIssuerUrl {
        issuer: key.to_string(),
        reason,
    };
    let u = parse_url(url).map_err(bad)?;
    match u.scheme.as_str() {
        "https" => Ok(()),
        "http" if is_loopback_host(&u.host) => Ok(()),
        "http" => Err(bad(format!(
            "plain http is only allowed for loopback hosts, not {:?}",
            u.host
        ))),
        other => Err(bad(format!("unsupported scheme {other:?}"))),
    }
}

/// Whether two hosts share their last two DNS labels (Fulcio's "TLD+SLD" rule).
fn same_registered_domain(a: &str, b: &str) -> bool {
    fn last2(h: &str) -> Option<(&str, &str)> {
        let mut it = h.trim_end_matches('.').rsplit('.');
        let tld = it.next()?;
        let sld = it.next()?;
        Some((sld, tld))
    }
    match (last2(a), last2(b)) {
        (Some(x), Some(y)) => x.0.eq_ignore_ascii_case(y.0) && x.1.eq_ignore_ascii_case(y.1),
        _ => a.eq_ignore_ascii_case(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard() {
        let p = "https://oidc.eks.*.amazonaws.com/id/*";
        assert!(meta_issuer_matches(
            p,
            "https://oidc.eks.us-west-2.amazonaws.com/id/B02C93B6A2D30341AD01E1B6D48164CB"
        ));
        assert!(!meta_issuer_matches(
            p,
            "https://oidc.eks..amazonaws.com/id/x"
        ));
        assert!(!meta_issuer_matches(
            p,
            "https://oidc.eks.a/b.amazonaws.com/id/x"
        ));
        assert!(!meta_issuer_matches(
            p,
            "https://oidc.eks.a.amazonaws.com/id/x/y"
        ));
    }

    #[test]
    fn urls() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("::1"));
        assert!(!is_loopback_host("example.com"));
        assert_eq!(
            parse_url("http://[::1]:8080/x").map(|u| u.host),
            Ok("::1".to_string())
        );
        assert!(parse_url("https://user@host/").is_err());
        // The host reqwest would contact, not a hand-parsed string (issue 11: parser
        // differential between the policy and the fetch).
        for (url, host) in [
            ("http://127.1:8080/", "127.0.0.1"),
            ("http://0x7f.0.0.1/", "127.0.0.1"),
            ("HTTPS://Accounts.Example.COM/x", "accounts.example.com"),
            ("http://127.0.0.1\\@evil.example/", "127.0.0.1"),
        ] {
            assert_eq!(
                parse_url(url).map(|u| u.host),
                Ok(host.to_string()),
                "{url}"
            );
            let reqwest_host = url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()));
            assert_eq!(reqwest_host.as_deref(), Some(host), "{url}");
        }
        assert!(is_loopback_host("::ffff:127.0.0.1"));
        assert!(parse_url("http://[::ffff:127.0.0.1]/").is_ok_and(|u| is_loopback_host(&u.host)));
        assert!(check_issuer_url("x", "http://127.1:5556").is_ok());
        assert!(check_issuer_url("x", "http://example.com").is_err());
        assert!(parse_url("urn:example:x").is_err());
    }

    #[test]
    fn rate_limits_in_json_and_yaml() {
        let json = r#"{"OIDCIssuers":{"https://idp.example":{"IssuerURL":"https://idp.example","ClientID":"sigstore","Type":"email"}},
            "RateLimits":{"perIdentity":{"requests":3,"window":"60s"},"perIssuer":{"requests":100,"window":"1m"}}}"#;
        let c = FulcioConfig::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        let id = c
            .rate_limits
            .per_identity
            .clone()
            .unwrap_or_else(|| panic!("no limit"));
        assert_eq!(id.requests, 3);
        assert_eq!(id.window().ok(), Some(std::time::Duration::from_secs(60)));
        let yaml = "oidc-issuers:\n  https://idp.example:\n    issuer-url: https://idp.example\n    client-id: sigstore\n    type: email\nrate-limits:\n  per-identity: {requests: 3, window: 60s}\n";
        let y = FulcioConfig::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(y.rate_limits.per_identity, c.rate_limits.per_identity);
        assert!(y.rate_limits.per_issuer.is_none());
        for bad in [
            r#"{"RateLimits":{"perIdentity":{"requests":0,"window":"60s"}}}"#,
            r#"{"RateLimits":{"perIdentity":{"requests":1,"window":"forever"}}}"#,
            r#"{"RateLimits":{"perIdentiti":{"requests":1,"window":"1s"}}}"#,
        ] {
            assert!(FulcioConfig::from_json(bad).is_err(), "{bad}");
        }
    }
}
