//! Sigstore signing client: turns an identity (an OIDC token, or a key) and an artifact into a
//! Sigstore bundle v0.3, talking to a Fulcio-compatible CA, a Rekor v1 or v2 log and an RFC 3161
//! timestamp authority as a [`SigningConfig`](vouch_core::trust::SigningConfig) selects them.
//!
//! The flow is the one sigstore-go and cosign v3 follow: ephemeral P-256 key (memory only) →
//! certificate with proof of possession → signature → timestamp over the signature → log entry
//! → bundle, then the bundle is verified against the trusted root before it is returned, so a
//! misbehaving service can never make us hand out a bundle that does not verify.
//!
//! [`model`] hashes ML model directories into OpenSSF Model Signing manifests, signed as DSSE
//! attestations by the same flow.

pub mod fulcio;
pub mod http;
pub mod keys;
pub mod model;
pub mod rekor;
pub mod select;
pub mod sign;
pub mod timestamp;
pub mod token;

pub use http::HttpClient;
pub use keys::EcdsaSigner;
pub use select::{SelectedServices, select_services};
pub use sign::{Content, Credential, KeyHint, SignOptions, SignOutcome, Signer};
pub use token::IdentityToken;

/// Why signing failed. Each variant names the service or step that failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// No usable identity token.
    #[error("identity token: {0}")]
    Token(String),
    /// A command that prints the identity token could not be run.
    #[error("identity token: cannot run {command}: {source}")]
    TokenCommand {
        /// The command.
        command: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The signing config offers no usable service of a kind.
    #[error("signing config: {0}")]
    Config(String),
    /// `--offline` forbids the connection (names the host and the service that tried).
    #[error(transparent)]
    Offline(Box<vouch_core::egress::EgressRefused>),
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
    /// The timestamp authority's response does not decode as a granted RFC 3161 response.
    #[error("timestamp authority: unusable answer from {url}: {source}")]
    TsaResponse {
        /// The TSA URL.
        url: String,
        /// What is wrong with the response.
        #[source]
        source: vouch_core::tsa::TimestampError,
    },
    /// The timestamp request could not be encoded.
    #[error("timestamp authority: cannot encode the request: {0}")]
    TsaRequest(#[source] der::Error),
    /// A certificate from the CA is unusable.
    #[error("certificate authority: {what}: {source}")]
    CaCertificate {
        /// Which certificate, and what was done with it.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: vouch_core::x509::CertError,
    },
    /// A public key is unusable.
    #[error("signing key: {what}: {source}")]
    PublicKey {
        /// Which key.
        what: &'static str,
        /// Why.
        #[source]
        source: vouch_core::keys::KeyError,
    },
    /// A local key problem.
    #[error("signing key: {0}")]
    Key(String),
    /// A PKCS#8 private key is rejected by the crypto library.
    #[error("signing key: bad PKCS#8 key: {source}")]
    Pkcs8 {
        /// Why the key was rejected.
        #[source]
        source: aws_lc_rs::error::KeyRejected,
    },
    /// A key on a PKCS#11 token cannot be opened or cannot sign.
    #[error("signing key: {source}")]
    Pkcs11 {
        /// The token's error.
        #[source]
        source: vouch_pkcs11::Pkcs11Error,
    },
    /// The finished bundle does not verify against the trusted root: the verifier's own error,
    /// naming the failed check.
    #[error("the new bundle does not verify: {0}")]
    Verify(#[source] vouch_verify::VerifyError),
    /// Verifying the new bundle was asked for, but there is no trusted root.
    #[error("the new bundle does not verify: no trusted root to verify the new bundle against")]
    NoTrustedRoot,
    /// The policy to verify the new bundle with could not be built.
    #[error("the new bundle does not verify: policy: {0}")]
    VerifyPolicy(#[source] vouch_verify::PolicyError),
    /// The bundle could not be serialized as JSON.
    #[error("the new bundle does not verify: cannot encode the bundle: {0}")]
    BundleEncoding(#[source] serde_json::Error),
    /// A transparency log answered with JSON that is not the document expected.
    #[error("transparency log: answer from {url} is not {what}: {source}")]
    TlogAnswer {
        /// The URL that answered.
        url: String,
        /// What the answer should have been.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A request body could not be serialized as JSON.
    #[error("cannot encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    /// The assembled bundle is not a valid bundle.
    #[error("the new bundle does not verify: the assembled bundle is invalid: {0}")]
    BundleInvalid(#[source] vouch_core::bundle::BundleError),
}

impl From<vouch_core::egress::EgressRefused> for SignError {
    fn from(e: vouch_core::egress::EgressRefused) -> Self {
        SignError::Offline(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// The verifier's typed error survives as the source, so callers can match the failed check.
    #[test]
    fn verify_failure_keeps_the_verifier_error() {
        let e = SignError::Verify(vouch_verify::VerifyError::CertificateNotKey);
        let source = e
            .source()
            .and_then(|s| s.downcast_ref::<vouch_verify::VerifyError>());
        assert!(matches!(
            source,
            Some(vouch_verify::VerifyError::CertificateNotKey)
        ));
        assert!(
            e.to_string()
                .starts_with("the new bundle does not verify: ")
        );
    }
}
