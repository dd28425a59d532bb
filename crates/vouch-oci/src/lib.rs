//! Container image signatures and attestations in OCI registries, compatible with cosign.
//!
//! Two storage layouts (see `protocols.md` §9):
//!
//! * **Bundle layout** (cosign v3 default, written by default): an OCI 1.1 referrer manifest
//!   of `artifactType` [`layout::BUNDLE_MEDIA_TYPE`] whose single layer is a Sigstore bundle
//!   v0.3 holding a DSSE envelope over an in-toto statement about the image digest (predicate
//!   [`layout::COSIGN_SIGN_PREDICATE`] for signatures). Registries without the referrers API
//!   get the referrers tag-schema fallback index at `sha256-<hex>`.
//! * **Legacy layout** (cosign ≤ 2): tags `sha256-<hex>.sig` / `.att` whose manifest layers
//!   are simple-signing payloads (or DSSE envelopes) with the signature, certificate, chain and
//!   Rekor bundle in layer annotations.
//!
//! [`registry::Registry`] is the counted registry client (also over an on-disk OCI image
//! layout, [`oci_dir`]), [`sign`] writes both layouts, [`verify`] discovers and verifies both,
//! and [`copy`] moves an image with everything attached to it between registries and layouts
//! (`copy`, `save`, `load`), removes attachments (`clean`) and attaches unsigned ones;
//! [`upgrade`] adds bundles with inclusion proofs to legacy signatures (`--upgrade-bundles`).

pub mod attach;
pub mod clean;
pub mod copy;
pub mod docker_config;
pub mod layout;
pub mod oci_dir;
pub mod policy;
pub mod registry;
pub mod sign;
pub mod upgrade;
pub mod verify;

pub use oci_client::Reference;
/// The OCI image-spec types (manifests, indexes, image layouts) this crate reads and writes.
pub use oci_spec;
pub use registry::{Credentials, Registry, RegistryOptions, Resolved};

/// Why an OCI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The image reference cannot be parsed or is not usable as given.
    #[error("image reference: {0}")]
    Reference(String),
    /// The registry could not be reached.
    #[error("registry unreachable at {url}: {detail}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// The transport error.
        detail: String,
    },
    /// The registry refused our credentials.
    #[error("registry authentication: {0}")]
    Auth(String),
    /// The registry answered with an unexpected status.
    #[error("registry answered {status} for {url}: {detail}")]
    Registry {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        detail: String,
    },
    /// Something does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Content does not match its digest.
    #[error("integrity: {0}")]
    Integrity(String),
    /// The registry or a stored artifact does not follow the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Local configuration problem.
    #[error("configuration: {0}")]
    Config(String),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] vouch_sign::SignError),
    /// `--offline` forbids the connection.
    #[error(transparent)]
    Offline(Box<vouch_core::egress::EgressRefused>),
    /// An OCI image layout file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    LayoutIo {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A durable write into an OCI image layout failed.
    #[error(transparent)]
    Fs(#[from] vouch_fs::FsError),
    /// `--upgrade-bundles` could not upgrade a legacy signature: a check failed.
    #[error(transparent)]
    Upgrade(Box<upgrade::UpgradeError>),
    /// A document (manifest, index, payload) could not be read or written as JSON.
    #[error("{what}: {source}")]
    Json {
        /// Which document.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// An OCI document does not follow the image spec (a digest, a required member).
    #[error("{what}: {source}")]
    Spec {
        /// Which document.
        what: &'static str,
        /// The image-spec error.
        #[source]
        source: oci_spec::OciSpecError,
    },
    /// A directory is not a usable OCI image layout.
    #[error("OCI image layout {}: {detail}", path.display())]
    Layout {
        /// The layout directory or file.
        path: std::path::PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// Parse an image reference (`registry/repo[:tag][@sha256:…]`, Docker Hub defaults apply).
pub fn parse_reference(s: &str) -> Result<Reference, OciError> {
    s.parse::<Reference>()
        .map_err(|e| OciError::Reference(format!("{s:?}: {e}")))
}

impl From<upgrade::UpgradeError> for OciError {
    fn from(e: upgrade::UpgradeError) -> Self {
        OciError::Upgrade(Box::new(e))
    }
}

impl From<vouch_core::egress::EgressRefused> for OciError {
    fn from(e: vouch_core::egress::EgressRefused) -> Self {
        OciError::Offline(Box::new(e))
    }
}
