//! The compiled form of the policy documents: what the engine evaluates.

use crate::glob::ImageGlob;
use crate::model;
use crate::rego::RegoPolicy;
use regex::Regex;
use std::path::PathBuf;
use vouch_core::keys::PublicKey;
use vouch_oci::sign::Layout;
use vouch_verify::IdentityPolicy;

/// `enforce` or `warn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A failure denies.
    Enforce,
    /// A failure allows with a warning.
    Warn,
}

/// What a policy applies to.
#[derive(Clone, Debug)]
pub enum Target {
    /// Container images, by policy-controller glob.
    Images(Vec<ImageGlob>),
    /// Files, by file-name glob.
    Artifacts(Vec<ArtifactGlob>),
}

/// A compiled file-name glob: `*` within a path segment, `**` across, everything else literal.
#[derive(Clone, Debug)]
pub struct ArtifactGlob {
    glob: String,
    re: Regex,
}

impl ArtifactGlob {
    /// Compile.
    pub fn compile(glob: &str) -> Result<Self, regex::Error> {
        let mut re = String::from("^");
        let mut rest = glob;
        while let Some(i) = rest.find('*') {
            re.push_str(&regex::escape(&rest[..i]));
            if rest[i..].starts_with("**") {
                re.push_str(".*");
                rest = &rest[i + 2..];
            } else {
                re.push_str("[^/]*");
                rest = &rest[i + 1..];
            }
        }
        re.push_str(&regex::escape(rest));
        re.push('$');
        Ok(Self {
            glob: glob.to_string(),
            re: Regex::new(&re)?,
        })
    }

    /// Whether the path matches, as given or by its file name alone.
    pub fn matches(&self, path: &str) -> bool {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        self.re.is_match(path) || self.re.is_match(file_name)
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.glob
    }
}

/// A resource selector from `spec.match[]`.
#[derive(Clone, Debug)]
pub struct MatchSpec {
    /// API group.
    pub group: String,
    /// Version or `*`.
    pub version: String,
    /// Plural resource.
    pub resource: String,
    /// Label selector.
    pub selector: Option<model::LabelSelector>,
}

/// What an authority checks.
#[derive(Clone, Debug)]
pub enum AuthorityCheck {
    /// Signed with this key.
    Key {
        /// The key.
        key: PublicKey,
    },
    /// Signed with a certificate for one of these identities.
    Keyless {
        /// Accepted identities.
        identities: Vec<IdentityPolicy>,
        /// DER CA certificates replacing the trusted root's CAs (`ca-cert`).
        ca_certs: Option<Vec<Vec<u8>>>,
        /// Do not require an SCT.
        insecure_ignore_sct: bool,
    },
    /// A fixed answer.
    Static {
        /// `pass` (true) or `fail`.
        pass: bool,
        /// Message for `fail`.
        message: String,
    },
}

/// A compiled `attestations[]` entry.
#[derive(Clone, Debug)]
pub struct AttestationSpec {
    /// Name.
    pub name: String,
    /// Predicate type URI (cosign shorthands expanded).
    pub predicate_type: String,
    /// Policy over the statement.
    pub policy: Option<RegoPolicy>,
}

/// A compiled authority.
#[derive(Clone, Debug)]
pub struct AuthoritySpec {
    /// Name (`authority-<index>` by default).
    pub name: String,
    /// What it checks.
    pub check: AuthorityCheck,
    /// Repository holding the signatures instead of the image's own (`source[0].oci`).
    pub source_repository: Option<String>,
    /// Attestations required instead of signatures.
    pub attestations: Vec<AttestationSpec>,
    /// Require an RFC 3161 timestamp (`rfc3161timestamp`).
    pub require_signed_timestamp: bool,
    /// The TrustRoot to verify against (`keyless.trustRootRef`, `ctlog.trustRootRef`,
    /// `rfc3161timestamp.trustRootRef`, which must agree); `None` = the default trusted root.
    pub trust_root: Option<String>,
    /// Only this signature layout (`signatureFormat`); `None` = both.
    pub layout: Option<Layout>,
}

/// A compiled ClusterImagePolicy or ArtifactPolicy.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    /// `metadata.name`.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// Images or artifacts.
    pub target: Target,
    /// Authorities.
    pub authorities: Vec<AuthoritySpec>,
    /// CIP-level policy.
    pub policy: Option<RegoPolicy>,
    /// Mode.
    pub mode: Mode,
    /// Resource selectors (empty: every resource).
    pub matches: Vec<MatchSpec>,
    /// Distinct authorities that must pass (1 unless `threshold` is set).
    pub threshold: usize,
}

/// A TrustRoot document, validated.
#[derive(Clone, Debug)]
pub struct TrustRootEntry {
    /// Name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The spec.
    pub spec: model::TrustRootSpec,
}
