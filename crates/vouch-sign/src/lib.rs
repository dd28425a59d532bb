//! Sigstore signing client: turns an identity (an OIDC token, or a key) and an artifact into a
//! Sigstore bundle v0.3, talking to a Fulcio-compatible CA, a Rekor v1 or v2 log and an RFC 3161
//! timestamp authority as a [`SigningConfig`](vouch_core::trust::SigningConfig) selects them.
//!
//! The flow is the one sigstore-go and cosign v3 follow: ephemeral P-256 key (memory only) →
//! certificate with proof of possession → signature → timestamp over the signature → log entry
//! → bundle, then the bundle is verified against the trusted root before it is returned, so a
//! misbehaving service can never make us hand out a bundle that does not verify.

pub mod fulcio;
pub mod http;
pub mod keys;
pub mod rekor;
pub mod select;
pub mod sign;
pub mod timestamp;
pub mod token;

pub use http::HttpClient;
pub use keys::EcdsaSigner;
pub use select::{SelectedServices, select_services};
pub use sign::{Content, Credential, SignOptions, SignOutcome, Signer};
pub use token::IdentityToken;

/// Why signing failed. Each variant names the service or step that failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// No usable identity token.
    #[error("identity token: {0}")]
    Token(String),
    /// The signing config offers no usable service of a kind.
    #[error("signing config: {0}")]
    Config(String),
    /// An HTTP request failed (connection, status, or body).
    #[error("{service} at {url}: {detail}")]
    Http {
        /// Which service: "CA", "Rekor", "TSA", ...
        service: &'static str,
        /// The URL requested.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The CA answered with something unusable.
    #[error("certificate authority: {0}")]
    Ca(String),
    /// The transparency log answered with something unusable.
    #[error("transparency log: {0}")]
    Tlog(String),
    /// The timestamp authority answered with something unusable.
    #[error("timestamp authority: {0}")]
    Tsa(String),
    /// A local key problem.
    #[error("signing key: {0}")]
    Key(String),
    /// The finished bundle does not verify against the trusted root.
    #[error("the new bundle does not verify: {0}")]
    Verify(String),
}
