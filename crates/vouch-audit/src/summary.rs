//! Coverage ratios: overall, per repository and per signer identity.

use crate::facts::ArtifactAudit;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `count` of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// How many.
    pub count: usize,
    /// Of how many.
    pub total: usize,
    /// `count / total` (0 when `total` is 0).
    pub ratio: f64,
}

impl Ratio {
    /// `count` of `total`.
    pub fn of(count: usize, total: usize) -> Self {
        let ratio = if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        };
        Self {
            count,
            total,
            ratio,
        }
    }

    /// `3/4 (75%)`.
    pub fn display(&self) -> String {
        format!("{}/{} ({:.0}%)", self.count, self.total, self.ratio * 100.0)
    }
}

/// The KPIs of one group of artifacts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Artifacts in the group.
    pub artifacts: usize,
    /// With a valid signature.
    pub signed: Ratio,
    /// With valid SLSA provenance bound to their digest.
    pub provenance: Ratio,
    /// With an SBOM attestation.
    pub sbom: Ratio,
    /// Admitted by the policies (allow or warn).
    pub policy_pass: Ratio,
    /// Signed only with long-lived keys.
    pub old_keys: Ratio,
}

impl Coverage {
    /// The KPIs of `items`.
    pub fn of<'a>(items: impl IntoIterator<Item = &'a ArtifactAudit>) -> Self {
        let items: Vec<&ArtifactAudit> = items.into_iter().collect();
        let n = items.len();
        let count = |f: &dyn Fn(&ArtifactAudit) -> bool| {
            Ratio::of(items.iter().filter(|a| f(a)).count(), n)
        };
        Self {
            artifacts: n,
            signed: count(&|a| a.signed),
            provenance: count(&|a| a.has_provenance()),
            sbom: count(&|a| a.sbom),
            policy_pass: count(&|a| a.passes()),
            old_keys: count(&|a| a.old_keys),
        }
    }
}

/// Ratios overall, per repository and per signer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Every artifact.
    pub overall: Coverage,
    /// By repository (images) or directory (files).
    pub by_repository: BTreeMap<String, Coverage>,
    /// By signer identity (keyless SAN, or `key sha256:…`), over the artifacts it signed.
    pub by_signer: BTreeMap<String, Coverage>,
}

impl Summary {
    /// Summarize `artifacts`.
    pub fn of(artifacts: &[ArtifactAudit]) -> Self {
        let mut repos: BTreeMap<String, Vec<&ArtifactAudit>> = BTreeMap::new();
        let mut signers: BTreeMap<String, Vec<&ArtifactAudit>> = BTreeMap::new();
        for a in artifacts {
            repos.entry(a.repository.clone()).or_default().push(a);
            for s in &a.signers {
                signers.entry(s.label()).or_default().push(a);
            }
        }
        Self {
            overall: Coverage::of(artifacts),
            by_repository: repos
                .into_iter()
                .map(|(k, v)| (k, Coverage::of(v)))
                .collect(),
            by_signer: signers
                .into_iter()
                .map(|(k, v)| (k, Coverage::of(v)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        let r = Ratio::of(6, 7);
        assert_eq!(r.display(), "6/7 (86%)");
        assert_eq!(Ratio::of(0, 0).ratio, 0.0);
        let empty = Summary::of(&[]);
        assert_eq!(empty.overall.artifacts, 0);
        assert!(empty.by_signer.is_empty());
    }
}
