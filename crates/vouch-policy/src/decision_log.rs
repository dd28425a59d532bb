//! The decision log: one JSON line per decision ([`DecisionRecord`]), written by
//! `vouch policy check --decision-log` and `vouch admission serve --decision-log` (one line per
//! image of each admission), and read back by `vouch exception list` (uses of each exception)
//! and `vouch audit decisions` (deploys allowed, warned and denied over time).

use crate::decision::{ExceptionUse, ImageDecision, Verdict};
use crate::engine::EvalContext;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One decision, as logged.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
    /// Decision time (RFC 3339).
    pub time: String,
    /// The image (qualified, with digest) or artifact.
    pub subject: String,
    /// Its digest.
    pub digest: String,
    /// The namespace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The admitted object, `Kind/name` (admission only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The AdmissionReview request uid (admission only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uid: Option<String>,
    /// Allow, warn or deny.
    pub verdict: Verdict,
    /// A short, bounded reason label: `verified`, `no-match`, `exception`, `warn-mode`,
    /// `policy-failed`, `deadline-exceeded`, … (absent from lines of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Policies that applied.
    #[serde(default)]
    pub policies: Vec<String>,
    /// The exceptions used, with their expiry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions_used: Vec<ExceptionUse>,
    /// Deny reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denials: Vec<String>,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl DecisionRecord {
    /// The record of `d`, taken in `ctx`.
    pub fn new(d: &ImageDecision, ctx: &EvalContext) -> Self {
        Self {
            time: ctx.now.to_string(),
            subject: d.subject.display(),
            digest: d.subject.digest().to_string(),
            namespace: ctx.namespace.clone(),
            resource: None,
            request_uid: None,
            verdict: d.verdict,
            reason: Some(d.reason_label().to_string()),
            policies: d.policies.iter().map(|p| p.name.clone()).collect(),
            exceptions_used: d.exceptions_used.clone(),
            denials: d.denials.clone(),
            warnings: d.warnings.clone(),
        }
    }

    /// One JSON line (with the trailing newline).
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        let mut s = serde_json::to_string(self)?;
        s.push('\n');
        Ok(s)
    }
}

/// The records of a decision log, and how many non-empty lines were not records (other log
/// lines are skipped, not fatal: a log may be shared with other output).
pub fn read_decision_log(log: &str) -> (Vec<DecisionRecord>, usize) {
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<DecisionRecord>(line) {
            Ok(r) => records.push(r),
            Err(_) => skipped += 1,
        }
    }
    (records, skipped)
}

/// How often each exception ID appears in a decision log, and how many lines were skipped.
pub fn count_exception_uses(log: &str) -> (BTreeMap<String, u64>, usize) {
    let (records, skipped) = read_decision_log(log);
    let mut counts = BTreeMap::new();
    for r in records {
        for e in r.exceptions_used {
            *counts.entry(e.id).or_insert(0) += 1;
        }
    }
    (counts, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_uses_and_skips_other_lines() {
        let r = DecisionRecord {
            time: "2026-12-02T15:00:00Z".into(),
            subject: "reg/app@sha256:00".into(),
            digest: "sha256:00".into(),
            namespace: Some("prod".into()),
            resource: Some("Deployment/web".into()),
            request_uid: None,
            verdict: Verdict::Warn,
            reason: Some("exception".into()),
            policies: vec!["release".into()],
            exceptions_used: vec![ExceptionUse {
                id: "exc-1".into(),
                file: "e.json".into(),
                policy: "release".into(),
                approver: "lead@example.com".into(),
                ticket: "CHG-1".into(),
                reason: "hotfix".into(),
                expires: "2026-12-05T15:00:00Z".into(),
                issued_at: "2026-12-02T15:00:00Z".into(),
            }],
            denials: Vec::new(),
            warnings: vec!["w".into()],
        };
        let line = r.to_line().unwrap();
        let log = format!("{line}not json\n{line}\n");
        let (counts, skipped) = count_exception_uses(&log);
        assert_eq!(counts.get("exc-1"), Some(&2));
        assert_eq!(skipped, 1);
    }
}
