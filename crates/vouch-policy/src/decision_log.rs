//! The decision log: one JSON line per decision ([`DecisionRecord`]), written by
//! `vouch policy check --decision-log` (and meant for the webhook's structured decision log),
//! and read back to count how often each exception was used.

use crate::decision::{ImageDecision, Verdict};
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
    /// Allow, warn or deny.
    pub verdict: Verdict,
    /// Policies that applied.
    #[serde(default)]
    pub policies: Vec<String>,
    /// IDs of the exceptions used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions_used: Vec<String>,
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
            verdict: d.verdict,
            policies: d.policies.iter().map(|p| p.name.clone()).collect(),
            exceptions_used: d.exceptions_used.iter().map(|e| e.id.clone()).collect(),
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

/// How often each exception ID appears in a decision log (lines that are not records, such as
/// other log lines, are skipped), and how many lines were skipped.
pub fn count_exception_uses(log: &str) -> (BTreeMap<String, u64>, usize) {
    let mut counts = BTreeMap::new();
    let mut skipped = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<DecisionRecord>(line) {
            Ok(r) => {
                for id in r.exceptions_used {
                    *counts.entry(id).or_insert(0) += 1;
                }
            }
            Err(_) => skipped += 1,
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
            verdict: Verdict::Warn,
            policies: vec!["release".into()],
            exceptions_used: vec!["exc-1".into()],
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
