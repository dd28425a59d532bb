//! in-toto Statements (v1, and v0.1 on read) and subject digest matching.
//!
//! Spec: <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>.

use crate::limits;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of the legacy in-toto Statement v0.1.
pub const STATEMENT_V0_1: &str = "https://in-toto.io/Statement/v0.1";

/// An in-toto Statement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Statement {
    /// Statement type URI.
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about.
    #[serde(default)]
    pub subject: Vec<Subject>,
    /// Predicate type URI.
    #[serde(rename = "predicateType", default)]
    pub predicate_type: String,
    /// The predicate, kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Value>,
}

/// A subject (ResourceDescriptor): matched by digest only.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Subject {
    /// Human name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Algorithm → lowercase hex digest.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    /// Free-form annotations (cosign writes `-a key=value` here); omitted when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

/// Why a payload is not an acceptable statement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    /// JSON did not parse.
    #[error("in-toto statement is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `_type` is not a known statement type.
    #[error("unsupported in-toto statement type {0:?}")]
    UnsupportedType(String),
    /// A bound was exceeded.
    #[error("in-toto statement has {count} {what}, over the limit of {max}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl Statement {
    /// Parse a statement from a DSSE payload, with bounds.
    pub fn from_json(payload: &[u8]) -> Result<Self, StatementError> {
        let st: Statement = serde_json::from_slice(payload)?;
        if st.type_ != STATEMENT_V1 && st.type_ != STATEMENT_V0_1 {
            return Err(StatementError::UnsupportedType(st.type_));
        }
        if st.subject.len() > limits::MAX_STATEMENT_SUBJECTS {
            return Err(StatementError::TooMany {
                what: "subjects",
                count: st.subject.len(),
                max: limits::MAX_STATEMENT_SUBJECTS,
            });
        }
        for s in &st.subject {
            if s.digest.len() > limits::MAX_SUBJECT_DIGESTS {
                return Err(StatementError::TooMany {
                    what: "digests in one subject",
                    count: s.digest.len(),
                    max: limits::MAX_SUBJECT_DIGESTS,
                });
            }
        }
        Ok(st)
    }

    /// True when some subject carries `digest` (lowercase hex compared case-insensitively) under `algorithm`.
    pub fn has_subject_digest(&self, algorithm: &str, digest_hex: &str) -> bool {
        self.subject.iter().any(|s| {
            s.digest
                .get(algorithm)
                .is_some_and(|d| d.eq_ignore_ascii_case(digest_hex))
        })
    }
}

/// cosign's `--type` shorthands mapped to predicate type URIs; other values are taken as URIs.
pub fn predicate_type_for(shorthand: &str) -> &str {
    match shorthand {
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "spdx" | "spdxjson" => "https://spdx.dev/Document",
        "cyclonedx" => "https://cyclonedx.org/bom",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "link" => "https://in-toto.io/Link/v1",
        "openvex" => "https://openvex.dev/ns",
        "model" => crate::model::MODEL_SIGNATURE_V1,
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        other => other,
    }
}
