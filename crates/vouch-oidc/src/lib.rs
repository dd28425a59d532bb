//! vouch's embedded OpenID Connect identity provider, for private deployments and tests, and
//! OIDC client helpers for the signing client.
//!
//! # The identity provider
//!
//! [`Idp::load_or_generate`] loads (or creates) the ES256 signing key in a data directory
//! (`oidc.key.pem`, P-256 PKCS#8 PEM, mode 0600) and writes `issuer.json`, a CA issuer config
//! for this IdP. [`router`] serves:
//!
//! * `GET /.well-known/openid-configuration` — discovery; `GET /jwks` — the public key, `kid`
//!   is its RFC 7638 thumbprint; `GET /healthz`.
//! * **Authorization code + PKCE** (S256 only): `GET /auth` renders a login page, `POST /auth`
//!   checks it and redirects (303) to the client's `redirect_uri` with `code` and `state`;
//!   `POST /token` with `grant_type=authorization_code` exchanges the code (single use, 60 s).
//!   Redirect URIs must be loopback `http` (RFC 8252 native apps, any port) or allow-listed.
//! * **Device authorization grant** (RFC 8628): `POST /device/code`, the `GET /device` page
//!   where the user enters the code and logs in, and `POST /token` with
//!   `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
//! * **The development grant** (unchanged from the original `vouch serve oidc`): `POST /token`
//!   with `{"email": ..., "audience": ...}` issues a token for an allowed email without a
//!   login — unless that user has a password in the users file, which must then be given as
//!   `"password"`.
//! * **CI-style machine tokens** (only with [`IdpOptions::allow_ci_tokens`]): `POST /token`
//!   with `{"ci": "github-actions"|"gitlab"|"buildkite", "claims": {...}, "audience": ...}`
//!   mints a token whose claims mimic that CI system. Each CI kind has its own issuer URL,
//!   `<issuer>/ci/<kind>` (with its own discovery document and the same JWKS), so that a CA
//!   can give it the right issuer type (`github-workflow`, `gitlab-pipeline`,
//!   `buildkite-job`); `issuer.json` lists them. **This is a test and private-deployment
//!   facility**: anyone who can reach the IdP can mint tokens for any repository, so a CA
//!   that trusts these issuers must only be trusted by parties that trust the IdP's operator.
//!
//! Errors from `/token` and `/device/code` are RFC 6749 §5.2 JSON
//! (`{"error", "error_description"}`). All pending state (login requests, codes, device
//! grants) is in memory, capped and expiring.
//!
//! # Client helpers
//!
//! [`pkce_pair`], [`device_flow`] and [`auth_code_flow_loopback`] obtain an ID token from this
//! IdP or any standard OIDC provider (e.g. Dex as used by `oauth2.sigstore.dev`).

mod ci;
mod client;
mod fair;
mod idp;
mod server;
mod util;

pub use ci::CiKind;
pub use client::{
    DeviceAuthorization, DevicePrompt, PkcePair, ProviderMetadata, auth_code_flow_loopback,
    device_flow, discover, pkce_pair,
};
pub use idp::{
    CaIssuer, CaIssuerConfig, DEFAULT_AUDIENCE, ISSUER_FILE, Idp, IdpOptions, KEY_FILE,
    TOKEN_LIFETIME, UserPolicy, check_email, hash_password,
};
pub use server::{MAX_BODY_BYTES, router};

/// Errors of the IdP set-up and of the client helpers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration problem (options, users file, issuer URL).
    #[error("{0}")]
    Config(String),
    /// A file-system or key problem in the data directory.
    #[error("{0}")]
    Storage(String),
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The signing key file is not a PKCS#8 `PRIVATE KEY` PEM file.
    #[error("{} is corrupt: not a PKCS#8 PRIVATE KEY PEM file", path.display())]
    KeyPem {
        /// The key file.
        path: std::path::PathBuf,
        /// The PEM decoder's error.
        #[source]
        source: vouch_core::pem::PemError,
    },
    /// The signing key file holds a key that is not P-256.
    #[error("{} is not a P-256 PKCS#8 key", path.display())]
    KeyRejected {
        /// The key file.
        path: std::path::PathBuf,
        /// The crypto library's error.
        #[source]
        source: aws_lc_rs::error::KeyRejected,
    },
    /// A document could not be serialized or parsed as JSON.
    #[error("{what}: invalid JSON")]
    Json {
        /// Which document.
        what: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A URL does not parse.
    #[error("invalid {what} {url:?}")]
    Url {
        /// Which URL.
        what: &'static str,
        /// The URL as given.
        url: String,
        /// The parser's error.
        #[source]
        source: url::ParseError,
    },
    /// An HTTP request could not be sent or its answer not read.
    #[error("{what} {url}")]
    Request {
        /// What was being done ("cannot fetch", "cannot reach", …).
        what: &'static str,
        /// The URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The loopback listener for the browser redirect could not be opened.
    #[error("cannot listen on 127.0.0.1")]
    Listen(#[source] std::io::Error),
    /// Writing a file in the data directory failed.
    #[error("{0}")]
    Fs(#[from] vouch_fs::FsError),
    /// An HTTP request of a client helper failed.
    #[error("{0}")]
    Http(String),
    /// The provider answered with an OAuth error.
    #[error("{error}: {description}")]
    OAuth {
        /// The OAuth `error` code.
        error: String,
        /// The `error_description`, or a note that there was none.
        description: String,
    },
    /// The provider's answer breaks the protocol (missing fields, bad `state` or `nonce`).
    #[error("{0}")]
    Protocol(String),
    /// The user did not finish logging in in time.
    #[error("{0}")]
    Timeout(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
