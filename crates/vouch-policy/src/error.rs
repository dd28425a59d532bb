//! Why policies, trust roots or exceptions could not be loaded.

use std::path::PathBuf;

/// A boxed error from a dependency whose error type is not nameable (regorus).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where in the policy documents something is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// Document kind (`ClusterImagePolicy`, …).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// The field, as a path (`spec.authorities[0].keyless.identities[1].subjectRegExp`).
    pub field: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} {:?}: {}",
            self.path.display(),
            self.kind,
            self.name,
            self.field
        )
    }
}

/// Why the policy set could not be loaded. A policy that does not load is an error at start,
/// never a silent allow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A file or directory cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A document is not YAML, or does not fit the schema (unknown field, wrong type).
    #[error("{}: document {index}: {source}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// Position of the document in the file (0-based).
        index: usize,
        /// The parser's message (it names the unknown field or wrong type).
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// A document's kind or apiVersion is not one vouch knows.
    #[error(
        "{}: document {index}: unsupported kind {kind:?} (apiVersion {api_version:?}); expected ClusterImagePolicy or TrustRoot (policy.sigstore.dev/v1beta1, v1alpha1) or ArtifactPolicy (policy.vouch.dev/v1alpha1)",
        path.display()
    )]
    UnknownKind {
        /// The file.
        path: PathBuf,
        /// Position of the document.
        index: usize,
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
    },
    /// A field has an invalid value.
    #[error("{at}: {reason}")]
    Invalid {
        /// Where.
        at: Box<Location>,
        /// What is wrong.
        reason: String,
    },
    /// A regular expression does not compile.
    #[error("{at}: invalid regular expression {pattern:?}")]
    Regex {
        /// Where.
        at: Box<Location>,
        /// The pattern.
        pattern: String,
        /// The compiler's error.
        #[source]
        source: regex::Error,
    },
    /// A glob is invalid.
    #[error("{at}: {source}")]
    Glob {
        /// Where.
        at: Box<Location>,
        /// Why.
        #[source]
        source: crate::glob::GlobError,
    },
    /// A public key does not parse.
    #[error("{at}: invalid public key")]
    Key {
        /// Where.
        at: Box<Location>,
        /// Why.
        #[source]
        source: vouch_core::keys::KeyError,
    },
    /// A certificate does not parse.
    #[error("{at}: invalid certificate")]
    Certificate {
        /// Where.
        at: Box<Location>,
        /// Why.
        #[source]
        source: vouch_core::x509::CertError,
    },
    /// A Rego policy does not compile.
    #[error("{at}: Rego policy does not compile")]
    Rego {
        /// Where.
        at: Box<Location>,
        /// regorus's error.
        #[source]
        source: BoxError,
    },
    /// A CUE policy: vouch has no CUE engine (no Rust implementation exists).
    #[error(
        "{at}: CUE policies are not supported by vouch (there is no Rust CUE implementation); rewrite the policy in Rego (type: rego)"
    )]
    CueUnsupported {
        /// Where.
        at: Box<Location>,
    },
    /// A policy-controller feature vouch does not implement; refused rather than ignored.
    #[error("{at}: {what} is not supported by vouch")]
    Unsupported {
        /// Where.
        at: Box<Location>,
        /// What.
        what: &'static str,
    },
    /// Two documents of one kind share a name.
    #[error("{kind} {name:?} is defined twice: in {} and {}", first.display(), second.display())]
    Duplicate {
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// First definition.
        first: PathBuf,
        /// Second definition.
        second: PathBuf,
    },
    /// `trustRootRef` names a TrustRoot that is not loaded.
    #[error("{at}: TrustRoot {trust_root:?} is not defined in the policy documents")]
    UnknownTrustRoot {
        /// Where.
        at: Box<Location>,
        /// The missing name.
        trust_root: String,
    },
    /// Nothing to enforce: no policy documents were found.
    #[error("no ClusterImagePolicy or ArtifactPolicy documents found in {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Empty {
        /// The paths searched.
        paths: Vec<PathBuf>,
    },
    /// A TrustRoot's trust material is unusable.
    #[error("TrustRoot {name:?}: trusted root")]
    TrustRoot {
        /// The TrustRoot's name (`""` for the default root).
        name: String,
        /// Why.
        #[source]
        source: vouch_core::trust::TrustError,
    },
    /// A TrustRoot document's trust material is invalid.
    #[error("{at}: invalid trust material")]
    TrustRootDoc {
        /// Where.
        at: Box<Location>,
        /// Why.
        #[source]
        source: vouch_core::trust::TrustError,
    },
    /// A TrustRoot's TUF repository cannot be read.
    #[error("TrustRoot {name:?}: TUF repository {mirror}")]
    Tuf {
        /// The TrustRoot's name.
        name: String,
        /// The mirror.
        mirror: String,
        /// Why.
        #[source]
        source: Box<vouch_tuf::TufError>,
    },
    /// No trusted root to verify keyless signatures against.
    #[error(
        "{at}: keyless verification needs a trusted root: pass --trust-config (or set VOUCH_TRUST_CONFIG), or name a TrustRoot with trustRootRef"
    )]
    NoTrustRoot {
        /// Where.
        at: Box<Location>,
    },
}
