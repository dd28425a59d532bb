//! Keyless certificate authority core for vouch (a Fulcio-compatible CA).
//!
//! * [`config`]: Fulcio's issuer configuration (`OIDCIssuers`, `MetaIssuers`,
//!   `CIIssuerMetadata`), JSON or YAML.
//! * [`pemca`]: an operator-provided CA from PEM files (optionally encrypted PKCS#8 key).
//! * [`template`]: the Go `text/template` subset of `ci-provider` claim templates.
//! * [`identity`]: verified OIDC claims → SAN and Sigstore OID extensions, per issuer type.
//! * [`cert`]: Fulcio-profile leaf issuance, CT precertificates / SCT embedding, and a
//!   generated development root + intermediate.
//! * [`oidc`]: OIDC identity-token verification (discovery, cached JWKS, signature and
//!   `iss`/`aud`/`exp`/`nbf`/`iat` checks).
//! * [`api`]: the Fulcio-compatible HTTP API (`/api/v2/signingCert`, `trustBundle`,
//!   `configuration`); certificates embed an SCT when a CT log is configured.
//! * [`audit`]: the issuance audit log (one JSON line per certificate, fsynced).
//! * [`ratelimit`]: per-identity and per-issuer issuance rate limits (`RateLimits`).

pub mod api;
pub mod audit;
pub mod cert;
pub mod config;
pub mod identity;
pub mod oidc;
pub mod pemca;
pub mod ratelimit;
pub mod template;

pub use cert::{
    CaError, CaKeyAlgorithm, CaSigner, DevHierarchy, DevHierarchyOptions, IssuingCa, LeafOptions,
    generate_dev_hierarchy,
};
pub use config::{
    CiIssuerMetadata, ConfigError, FulcioConfig, IssuerConfig, IssuerType, RateLimit, RateLimits,
};
pub use identity::{CertIdentity, IdentityError, San, SigstoreExtension, identity_from_claims};
pub use oidc::{OidcError, OidcVerifier, OidcVerifierOptions, VerifiedToken};
