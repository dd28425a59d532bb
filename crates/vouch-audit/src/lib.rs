//! # vouch-audit
//!
//! Verification coverage as a measurable KPI. For each artifact (an image digest in a
//! registry, or a file with its bundles beside it) the audit establishes, offline from the
//! fetched bundles and against the trusted root:
//!
//! * whether a signature verifies, and by which identity (any identity is accepted here so
//!   that the signer can be named; the policies decide whether it is the right one);
//! * whether SLSA provenance (v1 or v0.2) is present, verifies, and is about the same digest;
//! * whether an SBOM attestation (SPDX, CycloneDX) is present;
//! * which policies applied and their verdict (the vouch-policy engine, as `policy check`);
//! * "still on old keys": signed only with long-lived keys, no keyless signature;
//! * the failure reason.
//!
//! [`Summary`] gives the ratios overall, per repository and per signer; [`Report`] renders a
//! table, JSON, a Kubernetes PolicyReport (one result per image) and a self-contained HTML page
//! with inline SVG charts ([`html`]). [`decisions`] reports on the admission decision log;
//! [`inventory`] groups the short-lived certificates a log recorded over a time window.

pub mod decisions;
pub mod dir;
pub mod facts;
pub mod html;
pub mod inventory;
pub mod registry;
pub mod report;
pub mod summary;

pub use facts::{ArtifactAudit, EvidenceCheck, EvidenceChecker, EvidenceKind, Signer};
pub use report::{PolicyReport, Report};
pub use summary::{Coverage, Ratio, Summary};

use std::path::PathBuf;

/// Why an audit could not run (a failed check is a finding, never an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Directories nest too deep.
    #[error("{path} is nested more than {} directories deep", dir::MAX_DIR_DEPTH)]
    TooDeep {
        /// The path.
        path: PathBuf,
    },
    /// More images than the bound.
    #[error("more than {max} images under the prefix (raise --max-images)")]
    TooManyImages {
        /// The bound.
        max: usize,
    },
    /// A registry request failed.
    #[error("registry: {0}")]
    Registry(#[source] vouch_oci::OciError),
    /// A registry listing named an image that is not a usable policy subject.
    #[error("registry: image reference: {source}")]
    ImageRef {
        /// The policy engine's error.
        #[source]
        source: vouch_policy::engine::ImageRefError,
    },
}

/// Public keys named by the policies' key authorities: key-signed evidence is checked
/// against them.
pub fn policy_keys(policies: &vouch_policy::PolicySet) -> Vec<vouch_core::keys::PublicKey> {
    let mut keys = Vec::new();
    for p in policies.policies() {
        for a in &p.authorities {
            if let vouch_policy::compiled::AuthorityCheck::Key { key } = &a.check {
                keys.push(key.clone());
            }
        }
    }
    keys
}
