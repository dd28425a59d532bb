//! The policy documents as written: sigstore policy-controller's `ClusterImagePolicy`
//! (`policy.sigstore.dev/v1beta1` and `v1alpha1`, which share one schema) and `TrustRoot`
//! (`v1alpha1`), and vouch's `ArtifactPolicy` (`policy.vouch.dev/v1alpha1`).
//!
//! Field names are policy-controller's (`pkg/apis/policy/v1beta1/clusterimagepolicy_types.go`,
//! `v1alpha1/trustroot_types.go`). Every spec struct refuses unknown fields, so a typo is a
//! load error rather than a silently ignored requirement. `metadata` keeps only what the
//! engine uses and tolerates the rest (exported objects carry `uid`, `creationTimestamp`, …);
//! `status` is ignored.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `apiVersion` of policy-controller's current ClusterImagePolicy.
pub const CIP_V1BETA1: &str = "policy.sigstore.dev/v1beta1";
/// `apiVersion` of policy-controller's earlier ClusterImagePolicy (same schema) and TrustRoot.
pub const CIP_V1ALPHA1: &str = "policy.sigstore.dev/v1alpha1";
/// `apiVersion` of vouch's ArtifactPolicy extension.
pub const VOUCH_V1ALPHA1: &str = "policy.vouch.dev/v1alpha1";

/// The part of `metadata` the engine reads.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ObjectMeta {
    /// The object's name (policies are reported by it).
    #[serde(default)]
    pub name: String,
    /// Labels (informational).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Kind and apiVersion, read first to pick the document type.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeMeta {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: String,
    /// `kind`.
    #[serde(default)]
    pub kind: String,
}

/// A ClusterImagePolicy document.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterImagePolicy {
    /// `policy.sigstore.dev/v1beta1` or `v1alpha1`.
    pub api_version: String,
    /// `ClusterImagePolicy`.
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The policy.
    pub spec: ClusterImagePolicySpec,
    /// Ignored.
    #[serde(default, skip_serializing)]
    pub status: Option<IgnoredAny>,
}

/// `spec` of a ClusterImagePolicy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterImagePolicySpec {
    /// Image globs this policy applies to.
    #[serde(default)]
    pub images: Vec<ImagePattern>,
    /// Who may have signed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorities: Vec<Authority>,
    /// Policy over the authorities that passed (`authorityMatches`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyBody>,
    /// `enforce` (default) or `warn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Resources the policy applies to (admission only).
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub match_: Vec<MatchResource>,
    /// vouch extension: at least this many distinct authorities must pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<usize>,
}

/// `spec.images[]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePattern {
    /// The glob.
    #[serde(default)]
    pub glob: String,
}

/// `spec.authorities[]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authority {
    /// Name (default `authority-<index>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyRef>,
    /// Keyless (certificate identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<KeylessRef>,
    /// A fixed answer.
    #[serde(default, rename = "static", skip_serializing_if = "Option::is_none")]
    pub static_: Option<StaticRef>,
    /// Where the signatures are stored, when not next to the image.
    #[serde(default, rename = "source", skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Transparency log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctlog: Option<TLog>,
    /// Attestations that must verify (instead of signatures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<AttestationRef>,
    /// RFC 3161 timestamps required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc3161timestamp: Option<Rfc3161Timestamp>,
    /// `legacy` or `bundle` (unset: both layouts are read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_format: Option<String>,
}

/// `authorities[].key`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRef {
    /// Inline PEM public key (or, under `ca-cert`, PEM certificates).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
    /// KMS URI (not supported by vouch).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kms: String,
    /// Kubernetes Secret reference (not supported by vouch: keys are inline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
    /// `sha224`, `sha256` (default), `sha384`, `sha512`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash_algorithm: String,
}

/// A Secret reference.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretReference {
    /// Secret name.
    #[serde(default)]
    pub name: String,
    /// Secret namespace.
    #[serde(default)]
    pub namespace: String,
}

/// `authorities[].keyless`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeylessRef {
    /// Fulcio URL (informational in vouch: the CA must be in the trusted root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Accepted signer identities.
    #[serde(default)]
    pub identities: Vec<Identity>,
    /// CA certificates to trust instead of the trusted root's CAs.
    #[serde(default, rename = "ca-cert", skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<KeyRef>,
    /// Name of a TrustRoot document to verify against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_root_ref: Option<String>,
    /// Do not require an embedded SCT.
    #[serde(
        default,
        rename = "insecureIgnoreSCT",
        skip_serializing_if = "Option::is_none"
    )]
    pub insecure_ignore_sct: Option<bool>,
}

/// `keyless.identities[]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    /// Exact OIDC issuer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    /// Exact subject (certificate SAN).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Issuer regular expression.
    #[serde(
        default,
        rename = "issuerRegExp",
        skip_serializing_if = "String::is_empty"
    )]
    pub issuer_regexp: String,
    /// Subject regular expression.
    #[serde(
        default,
        rename = "subjectRegExp",
        skip_serializing_if = "String::is_empty"
    )]
    pub subject_regexp: String,
}

/// `authorities[].static`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRef {
    /// `pass` or `fail`.
    #[serde(default)]
    pub action: String,
    /// Message for `fail`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// `authorities[].source[]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// Repository holding the signatures (`registry/repo`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub oci: String,
    /// Pull secrets (not supported by vouch: use registry credentials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signature_pull_secrets: Vec<LocalObjectReference>,
    /// Prefix of legacy signature tags (not supported by vouch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_prefix: Option<String>,
}

/// A name reference.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalObjectReference {
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// `authorities[].ctlog`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TLog {
    /// Rekor URL (informational in vouch: the log must be in the trusted root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// TrustRoot whose logs to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_root_ref: Option<String>,
}

/// `authorities[].rfc3161timestamp`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rfc3161Timestamp {
    /// TrustRoot whose TSAs to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_root_ref: Option<String>,
}

/// `authorities[].attestations[]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttestationRef {
    /// Name (referenced from the CIP-level policy).
    #[serde(default)]
    pub name: String,
    /// Predicate type: URI or cosign shorthand.
    #[serde(default)]
    pub predicate_type: String,
    /// Policy the statement must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyBody>,
}

/// A policy (`type: rego|cue`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyBody {
    /// `rego` (supported) or `cue` (refused).
    #[serde(default, rename = "type")]
    pub type_: String,
    /// The policy text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
    /// Remote policy (not supported by vouch: inline it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemotePolicy>,
    /// ConfigMap policy (not supported by vouch: inline it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapReference>,
    /// Fetch the image config for the policy (not supported by vouch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_config_file: Option<bool>,
    /// Include the resource spec (not supported by vouch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_spec: Option<bool>,
    /// Include the resource metadata (not supported by vouch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_object_meta: Option<bool>,
    /// Include the resource type metadata (not supported by vouch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_type_meta: Option<bool>,
}

/// `policy.remote`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemotePolicy {
    /// URL.
    #[serde(default)]
    pub url: String,
    /// SHA-256 of the body.
    #[serde(default)]
    pub sha256sum: String,
}

/// `policy.configMapRef`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigMapReference {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
    /// Key.
    #[serde(default)]
    pub key: String,
}

/// `spec.match[]`: a group/version/resource and an optional label selector.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchResource {
    /// API group (`""` for core, `apps`, `batch`).
    #[serde(default)]
    pub group: String,
    /// Version (`v1`, or `*`).
    #[serde(default)]
    pub version: String,
    /// Plural resource (`pods`, `deployments`, …).
    #[serde(default)]
    pub resource: String,
    /// Labels the resource must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// A Kubernetes label selector.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Exact labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One label selector expression.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// Values for `In` / `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A TrustRoot document.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustRootDoc {
    /// `policy.sigstore.dev/v1alpha1`.
    pub api_version: String,
    /// `TrustRoot`.
    pub kind: String,
    /// Name (what `trustRootRef` names).
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The trust material.
    pub spec: TrustRootSpec,
    /// Ignored.
    #[serde(default, skip_serializing)]
    pub status: Option<IgnoredAny>,
}

/// `spec` of a TrustRoot.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustRootSpec {
    /// A TUF repository to fetch `trusted_root.json` from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<TufRemote>,
    /// A serialized TUF repository (not supported by vouch: export a mirror and use `remote`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<TufRepository>,
    /// Keys and certificates given inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigstore_keys: Option<SigstoreKeys>,
}

/// `spec.remote`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TufRemote {
    /// Base64 of the initial `root.json`.
    #[serde(default)]
    pub root: String,
    /// The mirror URL.
    #[serde(default)]
    pub mirror: String,
    /// Targets path (only `targets` is supported).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub targets: String,
    /// Target holding the trusted root (only `trusted_root.json` is supported).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trusted_root_target: String,
}

/// `spec.repository`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TufRepository {
    /// Base64 of the initial `root.json`.
    #[serde(default)]
    pub root: String,
    /// Base64 of a tar.gz of the repository.
    #[serde(default, rename = "mirrorFS")]
    pub mirror_fs: String,
    /// Targets path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub targets: String,
    /// Target holding the trusted root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trusted_root_target: String,
}

/// `spec.sigstoreKeys`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigstoreKeys {
    /// Fulcio CAs.
    #[serde(default)]
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// Rekor logs.
    #[serde(default, rename = "tLogs", skip_serializing_if = "Vec::is_empty")]
    pub tlogs: Vec<TransparencyLogInstance>,
    /// CT logs.
    #[serde(default, rename = "ctLogs", skip_serializing_if = "Vec::is_empty")]
    pub ctlogs: Vec<TransparencyLogInstance>,
    /// Timestamp authorities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

/// A CA or TSA in `sigstoreKeys`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateAuthority {
    /// Subject summary.
    #[serde(default)]
    pub subject: DistinguishedName,
    /// Service URI.
    #[serde(default)]
    pub uri: String,
    /// Base64 of the PEM chain (root last).
    #[serde(default)]
    pub cert_chain: String,
}

/// A subject summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DistinguishedName {
    /// O=.
    #[serde(default)]
    pub organization: String,
    /// CN=.
    #[serde(default)]
    pub common_name: String,
}

/// A log in `sigstoreKeys`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransparencyLogInstance {
    /// Base URL.
    #[serde(default, rename = "baseURL")]
    pub base_url: String,
    /// Tree hash (`sha-256`).
    #[serde(default, rename = "hashAlgorithm")]
    pub hash_algorithm: String,
    /// Base64 of the PEM public key.
    #[serde(default, rename = "publicKey")]
    pub public_key: String,
}

/// vouch's ArtifactPolicy: ClusterImagePolicy authorities for files (release archives, VM
/// images, packages) matched by file-name globs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactPolicyDoc {
    /// `policy.vouch.dev/v1alpha1`.
    pub api_version: String,
    /// `ArtifactPolicy`.
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The policy.
    pub spec: ArtifactPolicySpec,
    /// Ignored.
    #[serde(default, skip_serializing)]
    pub status: Option<IgnoredAny>,
}

/// `spec` of an ArtifactPolicy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactPolicySpec {
    /// File-name globs.
    #[serde(default)]
    pub artifacts: Vec<ArtifactPattern>,
    /// Who may have signed (`key`, `keyless`, `static`; `attestations` for DSSE bundles).
    #[serde(default)]
    pub authorities: Vec<Authority>,
    /// Policy over the authorities that passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyBody>,
    /// `enforce` (default) or `warn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// At least this many distinct authorities must pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<usize>,
}

/// `spec.artifacts[]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactPattern {
    /// Glob over the file name (`*` within a path segment, `**` across segments).
    #[serde(default)]
    pub glob: String,
}
