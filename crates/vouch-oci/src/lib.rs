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
    /// A file of an OCI image layout does not follow the image spec.
    #[error("OCI image layout {}: {what}: {source}", path.display())]
    LayoutSpec {
        /// The layout directory or file.
        path: std::path::PathBuf,
        /// Which file.
        what: &'static str,
        /// The image-spec error.
        #[source]
        source: oci_spec::OciSpecError,
    },
    /// A directory has no readable `oci-layout` marker.
    #[error("OCI image layout {}: not an OCI image layout (oci-layout: {source})", path.display())]
    NotLayout {
        /// The layout directory.
        path: std::path::PathBuf,
        /// The image-spec error.
        #[source]
        source: oci_spec::OciSpecError,
    },
    /// An image reference does not parse.
    #[error("image reference: {input:?}: {source}")]
    ReferenceParse {
        /// The text given.
        input: String,
        /// The parser's error.
        #[source]
        source: oci_client::ParseError,
    },
    /// A digest does not parse.
    #[error("image reference: {digest:?} is not a digest: {source}")]
    Digest {
        /// The text given.
        digest: String,
        /// The image-spec error.
        #[source]
        source: oci_spec::OciSpecError,
    },
    /// A concurrent task of the operation panicked or was cancelled.
    #[error("protocol: {what}: {source}")]
    Task {
        /// Which task.
        what: &'static str,
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The HTTP client cannot be set up (CA certificates, TLS).
    #[error("configuration: {what}: {source}")]
    HttpClient {
        /// What was being set up.
        what: &'static str,
        /// The client error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry's token realm is not a URL.
    #[error("registry authentication: token realm {realm:?}: {source}")]
    TokenRealm {
        /// The realm from `WWW-Authenticate`.
        realm: String,
        /// The URL error.
        #[source]
        source: UrlParseError,
    },
    /// The registry's token endpoint did not answer a token document.
    #[error("registry authentication: token endpoint {realm}: {source}")]
    TokenResponse {
        /// The realm from `WWW-Authenticate`.
        realm: String,
        /// The transport or JSON error.
        #[source]
        source: reqwest::Error,
    },
    /// A URL the registry gave (or one built from it) does not parse.
    #[error("protocol: {context}: {source}")]
    Url {
        /// Which URL.
        context: String,
        /// The URL error.
        #[source]
        source: UrlParseError,
    },
    /// A media type cannot be sent as a `Content-Type` header.
    #[error("protocol: media type {media_type:?}: {source}")]
    MediaType {
        /// The media type.
        media_type: String,
        /// The header error.
        #[source]
        source: reqwest::header::InvalidHeaderValue,
    },
    /// A registry document (or one we write) is not the JSON expected.
    #[error("protocol: {context}: {source}")]
    ProtocolJson {
        /// Which document.
        context: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A registry document (or one we write) does not follow the image spec.
    #[error("protocol: {context}: {source}")]
    ProtocolSpec {
        /// Which document.
        context: String,
        /// The image-spec error.
        #[source]
        source: oci_spec::OciSpecError,
    },
    /// A detached signature given on the command line is not base64.
    #[error("configuration: the signature is not base64: {source} (cosign writes base64)")]
    SignatureBase64 {
        /// The base64 error.
        #[source]
        source: base64::DecodeError,
    },
    /// A document given on the command line is not the JSON expected.
    #[error("configuration: {context}: {source}")]
    ConfigJson {
        /// What the document should be.
        context: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// The error of parsing a URL (`url::ParseError`, named through `reqwest::Url`).
pub type UrlParseError = <reqwest::Url as std::str::FromStr>::Err;

/// Parse an image reference (`registry/repo[:tag][@sha256:…]`, Docker Hub defaults apply).
pub fn parse_reference(s: &str) -> Result<Reference, OciError> {
    s.parse::<Reference>()
        .map_err(|source| OciError::ReferenceParse {
            input: s.to_string(),
            source,
        })
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
