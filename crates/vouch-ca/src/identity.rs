//! Verified OIDC claims → certificate identity (SAN + Sigstore extensions), protocols.md §1.5
//! and §1.7.
//!
//! The claims passed here must already be signature-, audience- and time-verified; this module
//! only applies the per-issuer-type mapping rules.

use crate::config::{FulcioConfig, IssuerConfig, IssuerType, parse_url};
use der::Encode;
use der::asn1::Utf8StringRef;
use serde_json::{Map, Value};

/// Errors mapping claims to a certificate identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The token's `iss` has no entry in the config.
    #[error("unknown OIDC issuer {0:?}")]
    UnknownIssuer(String),
    /// The token's `iss` differs from the issuer config's `IssuerURL`.
    #[error("token issuer {got:?} does not match the configured issuer {expected:?}")]
    IssuerMismatch {
        /// The configured issuer URL.
        expected: String,
        /// The token's `iss`.
        got: String,
    },
    /// A required claim is absent or null.
    #[error("required claim {0:?} is missing")]
    MissingClaim(String),
    /// A claim has the wrong type or an unacceptable value.
    #[error("claim {claim:?} is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: String,
        /// Why it was rejected.
        reason: String,
    },
    /// `email_verified` is false or absent.
    #[error("email {0:?} is not verified by the issuer")]
    EmailNotVerified(String),
    /// An issuer type whose mapping this crate does not implement.
    #[error("issuer type {0} is not supported by this CA")]
    UnsupportedType(IssuerType),
}

/// The subject alternative name an identity gets (exactly one per certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum San {
    /// rfc822Name.
    Email(String),
    /// uniformResourceIdentifier.
    Uri(String),
    /// OtherName with type-id 1.3.6.1.4.1.57264.1.7, value `<user>!<domain>`.
    Username(String),
}

impl San {
    /// The SAN value as text.
    pub fn value(&self) -> &str {
        match self {
            San::Email(s) | San::Uri(s) | San::Username(s) => s,
        }
    }
}

/// One Sigstore extension `1.3.6.1.4.1.57264.1.<arc>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreExtension {
    /// Last arc of the OID.
    pub arc: u32,
    /// The string value.
    pub value: String,
}

impl SigstoreExtension {
    /// Dotted OID of this extension.
    pub fn oid(&self) -> String {
        format!("{}.{}", vouch_core::x509::FULCIO_ARC, self.arc)
    }

    /// The extnValue contents: raw UTF-8 for arcs 1–6, DER UTF8String for 8 and above.
    pub fn der_value(&self) -> Result<Vec<u8>, der::Error> {
        if self.arc <= 6 {
            Ok(self.value.as_bytes().to_vec())
        } else {
            Utf8StringRef::new(&self.value)?.to_der()
        }
    }
}

/// The certificate identity derived from a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertIdentity {
    /// The SAN.
    pub san: San,
    /// The principal name used as the proof-of-possession challenge (email or `sub`).
    pub name: String,
    /// The Sigstore extensions, ascending by arc, empty values omitted.
    pub extensions: Vec<SigstoreExtension>,
}

impl CertIdentity {
    /// The value of extension arc `arc`, if present.
    pub fn extension(&self, arc: u32) -> Option<&str> {
        self.extensions
            .iter()
            .find(|e| e.arc == arc)
            .map(|e| e.value.as_str())
    }
}

impl FulcioConfig {
    /// Look up the token's issuer and map its claims to a certificate identity.
    pub fn identity_for(&self, claims: &Map<String, Value>) -> Result<CertIdentity, IdentityError> {
        let iss = claim_str(claims, "iss")?;
        let cfg = self
            .lookup(&iss)
            .ok_or_else(|| IdentityError::UnknownIssuer(iss.clone()))?;
        identity_from_claims(claims, &cfg)
    }
}

/// A claim stringified the way Fulcio does: strings verbatim, integral numbers without
/// decimals, booleans as `true`/`false`. Absent or null → [`IdentityError::MissingClaim`].
fn claim_str(claims: &Map<String, Value>, name: &str) -> Result<String, IdentityError> {
    stringify(claims.get(name), name)
}

fn stringify(v: Option<&Value>, name: &str) -> Result<String, IdentityError> {
    match v {
        None | Some(Value::Null) => Err(IdentityError::MissingClaim(name.to_string())),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(i.to_string())
            } else if let Some(u) = n.as_u64() {
                Ok(u.to_string())
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(format!("{f:.0}")),
                    _ => Ok(n.to_string()),
                }
            }
        }
        Some(_) => Err(IdentityError::InvalidClaim {
            claim: name.to_string(),
            reason: "expected a string, number or boolean".into(),
        }),
    }
}

/// A required, non-empty string claim.
fn required(claims: &Map<String, Value>, name: &str) -> Result<String, IdentityError> {
    let s = claim_str(claims, name)?;
    if s.is_empty() {
        return Err(IdentityError::MissingClaim(name.to_string()));
    }
    Ok(s)
}

/// Look up a `$.a.b` path (the subset of JSONPath Fulcio's `IssuerClaim` uses).
fn json_path<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix("$.")?;
    let mut parts = rest.split('.');
    let mut cur = claims.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

struct Builder {
    exts: Vec<SigstoreExtension>,
}

impl Builder {
    fn add(&mut self, arc: u32, value: String) {
        if !value.is_empty() {
            self.exts.push(SigstoreExtension { arc, value });
        }
    }
    fn finish(mut self, san: San, name: String) -> CertIdentity {
        self.exts.sort_by_key(|e| e.arc);
        CertIdentity {
            san,
            name,
            extensions: self.exts,
        }
    }
}

/// Map verified `claims` to the certificate identity for issuer `cfg` (already resolved with
/// [`FulcioConfig::lookup`], so `cfg.issuer_url` is the expected `iss`).
pub fn identity_from_claims(
    claims: &Map<String, Value>,
    cfg: &IssuerConfig,
) -> Result<CertIdentity, IdentityError> {
    let iss = required(claims, "iss")?;
    if iss != cfg.issuer_url {
        return Err(IdentityError::IssuerMismatch {
            expected: cfg.issuer_url.clone(),
            got: iss,
        });
    }
    let sub = claim_str(claims, "sub").unwrap_or_default();
    let mut b = Builder { exts: Vec::new() };
    // Issuer value for the 1.1 / 1.8 extensions; only email issuers may override it.
    let mut issuer_value = iss.clone();

    let (san, name) = match cfg.issuer_type {
        IssuerType::Email => {
            let email = required(claims, "email")?;
            if !is_email(&email) {
                return Err(IdentityError::InvalidClaim {
                    claim: "email".into(),
                    reason: "not a valid email address".into(),
                });
            }
            if !cfg.skip_email_verification {
                let verified = match claims.get("email_verified") {
                    Some(Value::Bool(b)) => *b,
                    Some(Value::String(s)) if s == "true" || s == "True" => true,
                    Some(Value::String(s)) if s == "false" || s == "False" => false,
                    None | Some(Value::Null) => false,
                    Some(_) => {
                        return Err(IdentityError::InvalidClaim {
                            claim: "email_verified".into(),
                            reason: "expected a boolean".into(),
                        });
                    }
                };
                if !verified {
                    return Err(IdentityError::EmailNotVerified(email));
                }
            }
            if !cfg.issuer_claim.is_empty() {
                issuer_value = stringify(json_path(claims, &cfg.issuer_claim), &cfg.issuer_claim)?;
                if issuer_value.is_empty() {
                    return Err(IdentityError::MissingClaim(cfg.issuer_claim.clone()));
                }
            }
            (San::Email(email.clone()), email)
        }
        IssuerType::GithubWorkflow => {
            let r = |n: &str| required(claims, n);
            let base = "https://github.com";
            let job_workflow_ref = r("job_workflow_ref")?;
            let sha = r("sha")?;
            let event_name = r("event_name")?;
            let repository = r("repository")?;
            let workflow = r("workflow")?;
            let git_ref = r("ref")?;
            let job_workflow_sha = r("job_workflow_sha")?;
            let runner_environment = r("runner_environment")?;
            let repository_id = r("repository_id")?;
            let repository_owner = r("repository_owner")?;
            let repository_owner_id = r("repository_owner_id")?;
            let repository_visibility = r("repository_visibility")?;
            let workflow_ref = r("workflow_ref")?;
            let workflow_sha = r("workflow_sha")?;
            let run_id = r("run_id")?;
            let run_attempt = r("run_attempt")?;
            let signer = format!("{base}/{job_workflow_ref}");
            b.add(2, event_name.clone());
            b.add(3, sha.clone());
            b.add(4, workflow);
            b.add(5, repository.clone());
            b.add(6, git_ref.clone());
            b.add(9, signer.clone());
            b.add(10, job_workflow_sha);
            b.add(11, runner_environment);
            b.add(12, format!("{base}/{repository}"));
            b.add(13, sha);
            b.add(14, git_ref);
            b.add(15, repository_id);
            b.add(16, format!("{base}/{repository_owner}"));
            b.add(17, repository_owner_id);
            b.add(18, format!("{base}/{workflow_ref}"));
            b.add(19, workflow_sha);
            b.add(20, event_name);
            b.add(
                21,
                format!("{base}/{repository}/actions/runs/{run_id}/attempts/{run_attempt}"),
            );
            b.add(22, repository_visibility);
            (San::Uri(signer), sub.clone())
        }
        IssuerType::GitlabPipeline => {
            // Fulcio's pkg/identity/gitlabcom: the instance is gitlab.com (a self-hosted
            // GitLab is a `ci-provider` issuer with its own `url`); `ci_config_sha` and
            // `project_visibility` may be absent, `runner_id` is a non-zero integer.
            let r = |n: &str| required(claims, n);
            let opt = |n: &str| claim_str(claims, n).unwrap_or_default();
            let base = "https://gitlab.com";
            let project_path = r("project_path")?;
            let pipeline_source = r("pipeline_source")?;
            r("pipeline_id")?;
            let ci_config_ref_uri = r("ci_config_ref_uri")?;
            let job_id = r("job_id")?;
            let git_ref = r("ref")?;
            let ref_type = r("ref_type")?;
            let namespace_path = r("namespace_path")?;
            let namespace_id = r("namespace_id")?;
            let project_id = r("project_id")?;
            let sha = r("sha")?;
            let runner_environment = r("runner_environment")?;
            match claims.get("runner_id") {
                None | Some(Value::Null) => {
                    return Err(IdentityError::MissingClaim("runner_id".into()));
                }
                Some(Value::Number(n)) if n.as_i64().is_some_and(|i| i != 0) => {}
                Some(Value::Number(n)) if n.as_i64() == Some(0) => {
                    return Err(IdentityError::MissingClaim("runner_id".into()));
                }
                Some(_) => {
                    return Err(IdentityError::InvalidClaim {
                        claim: "runner_id".into(),
                        reason: "expected an integer".into(),
                    });
                }
            }
            let ci_config_sha = opt("ci_config_sha");
            let project_visibility = opt("project_visibility");
            let full_ref = match ref_type.as_str() {
                "branch" => format!("refs/heads/{git_ref}"),
                "tag" => format!("refs/tags/{git_ref}"),
                _ => {
                    return Err(IdentityError::InvalidClaim {
                        claim: "ref_type".into(),
                        reason: "expected \"branch\" or \"tag\"".into(),
                    });
                }
            };
            // The claim has no scheme; Fulcio gives it https.
            let config_uri = format!("https://{ci_config_ref_uri}");
            b.add(9, config_uri.clone());
            b.add(10, ci_config_sha.clone());
            b.add(11, runner_environment);
            b.add(12, format!("{base}/{project_path}"));
            b.add(13, sha);
            b.add(14, full_ref);
            b.add(15, project_id);
            b.add(16, format!("{base}/{namespace_path}"));
            b.add(17, namespace_id);
            b.add(18, config_uri.clone());
            b.add(19, ci_config_sha);
            b.add(20, pipeline_source);
            b.add(21, format!("{base}/{project_path}/-/jobs/{job_id}"));
            b.add(22, project_visibility);
            (San::Uri(config_uri), sub.clone())
        }
        IssuerType::BuildkiteJob => {
            let org = required(claims, "organization_slug")?;
            let pipeline = required(claims, "pipeline_slug")?;
            (
                San::Uri(format!("https://buildkite.com/{org}/{pipeline}")),
                required(claims, "sub")?,
            )
        }
        IssuerType::ChainguardIdentity => {
            let sub = required(claims, "sub")?;
            let uri = format!(
                "{}/{}",
                iss.trim_end_matches('/'),
                sub.trim_start_matches('/')
            );
            (San::Uri(uri), sub)
        }
        IssuerType::Kubernetes => {
            let sub = required(claims, "sub")?;
            let k8s = claims
                .get("kubernetes.io")
                .ok_or_else(|| IdentityError::MissingClaim("kubernetes.io".into()))?;
            let ns = stringify(k8s.get("namespace"), "kubernetes.io.namespace")?;
            let sa = stringify(
                k8s.get("serviceaccount").and_then(|s| s.get("name")),
                "kubernetes.io.serviceaccount.name",
            )?;
            for (claim, v) in [
                ("kubernetes.io.namespace", &ns),
                ("kubernetes.io.serviceaccount.name", &sa),
            ] {
                if v.is_empty() || v.contains('/') {
                    return Err(IdentityError::InvalidClaim {
                        claim: claim.into(),
                        reason: "must be a non-empty name without '/'".into(),
                    });
                }
            }
            (
                San::Uri(format!(
                    "https://kubernetes.io/namespaces/{ns}/serviceaccounts/{sa}"
                )),
                sub,
            )
        }
        IssuerType::Spiffe => {
            let sub = required(claims, "sub")?;
            let invalid = |reason: &str| IdentityError::InvalidClaim {
                claim: "sub".into(),
                reason: reason.into(),
            };
            let rest = sub
                .strip_prefix("spiffe://")
                .ok_or_else(|| invalid("not a SPIFFE ID"))?;
            let (domain, path) = rest.split_once('/').unwrap_or((rest, ""));
            if domain.is_empty() || path.is_empty() {
                return Err(invalid("SPIFFE ID needs a trust domain and a path"));
            }
            if !domain.eq_ignore_ascii_case(&cfg.spiffe_trust_domain) {
                return Err(invalid(&format!(
                    "SPIFFE trust domain {domain:?} is not {:?}",
                    cfg.spiffe_trust_domain
                )));
            }
            (San::Uri(sub.clone()), sub)
        }
        IssuerType::Uri => {
            let sub = required(claims, "sub")?;
            let invalid = |reason: String| IdentityError::InvalidClaim {
                claim: "sub".into(),
                reason,
            };
            if is_email(&sub) {
                return Err(invalid("must be a URI, not an email address".into()));
            }
            let u = parse_url(&sub).map_err(|e| invalid(format!("not a URI: {e}")))?;
            let d = parse_url(&cfg.subject_domain)
                .map_err(|e| invalid(format!("SubjectDomain is not a URL: {e}")))?;
            if u.scheme != d.scheme || u.host != d.host {
                return Err(invalid(format!(
                    "scheme and host must match SubjectDomain {:?}",
                    cfg.subject_domain
                )));
            }
            (San::Uri(sub.clone()), sub)
        }
        IssuerType::Username => {
            let sub = required(claims, "sub")?;
            if sub.contains('!') || is_email(&sub) {
                return Err(IdentityError::InvalidClaim {
                    claim: "sub".into(),
                    reason: "a username must not contain '!' nor be an email address".into(),
                });
            }
            (San::Username(format!("{sub}!{}", cfg.subject_domain)), sub)
        }
        IssuerType::CodefreshWorkflow => {
            // Fulcio's pkg/identity/codefresh: account_id, pipeline_id and workflow_id are
            // required; platform_url defaults to the public Codefresh platform.
            let account_id = required(claims, "account_id")?;
            let pipeline_id = required(claims, "pipeline_id")?;
            let workflow_id = required(claims, "workflow_id")?;
            let opt = |n: &str| claim_str(claims, n).unwrap_or_default();
            let mut platform = opt("platform_url");
            if platform.is_empty() {
                platform = "https://g.codefresh.io".into();
            }
            let platform = platform.trim_end_matches('/').to_string();
            parse_url(&platform).map_err(|e| IdentityError::InvalidClaim {
                claim: "platform_url".into(),
                reason: e,
            })?;
            let san = format!(
                "{platform}/{}/{}:{account_id}/{pipeline_id}",
                opt("account_name"),
                opt("pipeline_name")
            );
            let build = format!("{platform}/build/{workflow_id}");
            b.add(9, build.clone());
            b.add(11, opt("runner_environment"));
            b.add(12, opt("scm_repo_url"));
            b.add(14, opt("scm_ref"));
            b.add(18, build.clone());
            b.add(21, build);
            (San::Uri(san), required(claims, "sub")?)
        }
        IssuerType::CiProvider => {
            let meta = cfg
                .ci_metadata
                .as_ref()
                .ok_or_else(|| IdentityError::InvalidClaim {
                    claim: "iss".into(),
                    reason: format!(
                        "ci-provider issuer has no usable CIIssuerMetadata entry {:?}",
                        cfg.ci_provider
                    ),
                })?;
            // Defaults first, claims over them (claims win); non-scalar claims are left out.
            let mut data = meta.default_template_values.clone();
            for (k, v) in claims {
                if let Ok(s) = stringify(Some(v), k) {
                    data.insert(k.clone(), s);
                }
            }
            let apply = |what: String, t: &str| {
                crate::template::apply_template_or_replace(t, &data).map_err(|e| {
                    IdentityError::InvalidClaim {
                        claim: what,
                        reason: e.to_string(),
                    }
                })
            };
            for (arc, t) in &meta.extension_templates {
                let v = apply(format!("extension 1.3.6.1.4.1.57264.1.{arc}"), t)?;
                b.add(*arc, v);
            }
            let san = apply(
                "SubjectAlternativeNameTemplate".into(),
                &meta.subject_alternative_name_template,
            )?;
            parse_url(&san).map_err(|e| IdentityError::InvalidClaim {
                claim: "SubjectAlternativeNameTemplate".into(),
                reason: format!("{san:?} is not a URI: {e}"),
            })?;
            (San::Uri(san), required(claims, "sub")?)
        }
    };
    b.add(1, issuer_value.clone());
    b.add(8, issuer_value);
    b.add(24, sub);
    Ok(b.finish(san, name))
}
