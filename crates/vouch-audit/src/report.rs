//! The audit report and its renderings: a terminal table, JSON, and Kubernetes PolicyReport
//! (`wgpolicyk8s.io/v1alpha2`) with one result per image.

use crate::facts::ArtifactAudit;
use crate::summary::{Coverage, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use vouch_policy::Verdict;

/// A whole audit run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// When it ran (RFC 3339).
    pub generated_at: String,
    /// What was audited (a directory or a registry prefix).
    pub source: String,
    /// Registry requests made (registry audits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_requests: Option<u64>,
    /// The ratios.
    pub summary: Summary,
    /// Each artifact.
    pub artifacts: Vec<ArtifactAudit>,
}

impl Report {
    /// A report over `artifacts` from `source`, summarized.
    pub fn new(source: String, mut artifacts: Vec<ArtifactAudit>, now: jiff::Timestamp) -> Self {
        artifacts.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            generated_at: now.to_string(),
            source,
            registry_requests: None,
            summary: Summary::of(&artifacts),
            artifacts,
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A terminal table: one row per artifact, then the ratios.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<[String; 7]> = vec![[
            "ARTIFACT".into(),
            "SIGNED BY".into(),
            "PROVENANCE".into(),
            "SBOM".into(),
            "POLICY".into(),
            "VERDICT".into(),
            "REASON".into(),
        ]];
        for a in &self.artifacts {
            let signer = if a.signed {
                let s: Vec<String> = a.signers.iter().map(|s| s.label()).collect();
                let mut s = s.join(", ");
                if a.old_keys {
                    s.push_str(" (old keys)");
                }
                s
            } else {
                "-".into()
            };
            let prov = match (
                &a.provenance.present,
                a.provenance.valid,
                a.provenance.bound,
            ) {
                (false, _, _) => "-".to_string(),
                (true, true, true) => "valid".to_string(),
                (true, true, false) => "other digest".to_string(),
                (true, false, _) => "invalid".to_string(),
            };
            rows.push([
                a.name.clone(),
                signer,
                prov,
                if a.sbom { "yes" } else { "-" }.into(),
                if a.policies.is_empty() {
                    "(none)".into()
                } else {
                    a.policies.join(",")
                },
                verdict_name(a.verdict).into(),
                a.reason.clone().unwrap_or_default(),
            ]);
        }
        let mut widths = [0usize; 7];
        for r in &rows {
            for (i, c) in r.iter().enumerate().take(6) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in &rows {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i < 6 {
                    let _ = write!(line, "{c:<w$}  ", w = widths[i]);
                } else {
                    line.push_str(c);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
        let _ = writeln!(out, "{}", coverage_line("overall", &self.summary.overall));
        for (repo, c) in &self.summary.by_repository {
            let _ = writeln!(out, "{}", coverage_line(&format!("repository {repo}"), c));
        }
        for (signer, c) in &self.summary.by_signer {
            let _ = writeln!(out, "{}", coverage_line(&format!("signer {signer}"), c));
        }
        out
    }

    /// Kubernetes PolicyReport YAML: one result per image (or file).
    pub fn to_policy_report(&self, name: &str) -> Result<String, serde_yaml_ng::Error> {
        serde_yaml_ng::to_string(&PolicyReport::from_report(self, name))
    }
}

/// `allow`, `warn`, `deny`.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Allow => "allow",
        Verdict::Warn => "warn",
        Verdict::Deny => "deny",
    }
}

/// One line of ratios: `label: N artifacts; signed …; provenance …; …`.
pub fn coverage_line(label: &str, c: &Coverage) -> String {
    format!(
        "{label}: {} artifacts; signed {}; provenance {}; SBOM {}; policy pass {}; old keys {}",
        c.artifacts,
        c.signed.display(),
        c.provenance.display(),
        c.sbom.display(),
        c.policy_pass.display(),
        c.old_keys.display()
    )
}

/// `apiVersion` of the PolicyReport CRD.
pub const POLICY_REPORT_API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";

/// A `wgpolicyk8s.io/v1alpha2` PolicyReport (kubernetes-sigs/wg-policy-prototypes), the fields
/// vouch fills.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyReport {
    /// [`POLICY_REPORT_API_VERSION`].
    pub api_version: String,
    /// `PolicyReport`.
    pub kind: String,
    /// Name.
    pub metadata: PolicyReportMeta,
    /// Counts per result.
    pub summary: PolicyReportSummary,
    /// One per image.
    pub results: Vec<PolicyReportResult>,
}

/// `metadata`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyReportMeta {
    /// Name.
    pub name: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `summary`: how many results of each kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyReportSummary {
    /// Passed.
    pub pass: u32,
    /// Failed.
    pub fail: u32,
    /// Warned.
    pub warn: u32,
    /// Could not be evaluated.
    pub error: u32,
    /// Skipped.
    pub skip: u32,
}

/// `timestamp` (a protobuf Timestamp).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportTimestamp {
    /// Seconds since the epoch.
    pub seconds: i64,
    /// Nanoseconds.
    pub nanos: i32,
}

/// An object reference (`resources[]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRef {
    /// `Image` or `File`.
    pub kind: String,
    /// The image with digest, or the file path.
    pub name: String,
}

/// One result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyReportResult {
    /// `source`: `vouch`.
    pub source: String,
    /// The policies that applied (comma-separated), or `(no policy)`.
    pub policy: String,
    /// `pass`, `fail`, `warn`, `error`, `skip`.
    pub result: String,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// `high` for a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// When it was evaluated.
    pub timestamp: ReportTimestamp,
    /// The image.
    pub resources: Vec<ResourceRef>,
    /// The audit facts as strings.
    pub properties: BTreeMap<String, String>,
}

impl PolicyReport {
    /// The PolicyReport of `r`.
    pub fn from_report(r: &Report, name: &str) -> Self {
        let seconds = r
            .generated_at
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .unwrap_or_default();
        let mut summary = PolicyReportSummary::default();
        let results = r
            .artifacts
            .iter()
            .map(|a| {
                let result = match a.verdict {
                    Verdict::Allow => {
                        summary.pass += 1;
                        "pass"
                    }
                    Verdict::Warn => {
                        summary.warn += 1;
                        "warn"
                    }
                    Verdict::Deny => {
                        summary.fail += 1;
                        "fail"
                    }
                };
                let signers: Vec<String> = a.signers.iter().map(|s| s.label()).collect();
                let properties = BTreeMap::from([
                    ("digest".to_string(), a.digest.clone()),
                    ("signed".to_string(), a.signed.to_string()),
                    ("signers".to_string(), signers.join(",")),
                    ("provenance".to_string(), a.has_provenance().to_string()),
                    ("sbom".to_string(), a.sbom.to_string()),
                    ("oldKeys".to_string(), a.old_keys.to_string()),
                    ("repository".to_string(), a.repository.clone()),
                ]);
                PolicyReportResult {
                    source: "vouch".into(),
                    policy: if a.policies.is_empty() {
                        "(no policy)".into()
                    } else {
                        a.policies.join(",")
                    },
                    result: result.into(),
                    message: a.reason.clone().unwrap_or_default(),
                    severity: (a.verdict == Verdict::Deny).then(|| "high".into()),
                    timestamp: ReportTimestamp { seconds, nanos: 0 },
                    resources: vec![ResourceRef {
                        kind: if a.tags.is_empty() && !a.name.contains('@') {
                            "File".into()
                        } else {
                            "Image".into()
                        },
                        name: a.name.clone(),
                    }],
                    properties,
                }
            })
            .collect();
        Self {
            api_version: POLICY_REPORT_API_VERSION.into(),
            kind: "PolicyReport".into(),
            metadata: PolicyReportMeta {
                name: name.to_string(),
                labels: BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_string(),
                    "vouch".to_string(),
                )]),
            },
            summary,
            results,
        }
    }
}
