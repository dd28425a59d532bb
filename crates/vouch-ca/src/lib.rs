//! Keyless certificate authority core for vouch (a Fulcio-compatible CA).
//!
//! * [`config`]: Fulcio's issuer configuration (`OIDCIssuers`, `MetaIssuers`), JSON form.
//! * [`identity`]: verified OIDC claims → SAN and Sigstore OID extensions, per issuer type.
//! * [`cert`]: Fulcio-profile leaf issuance, CT precertificates / SCT embedding, and a
//!   generated development root + intermediate.
//! * [`oidc`]: OIDC identity-token verification (discovery, cached JWKS, signature and
//!   `iss`/`aud`/`exp`/`nbf`/`iat` checks).
//!
//! The HTTP API and the CT log are not part of this crate yet.

pub mod cert;
pub mod config;
pub mod identity;
pub mod oidc;

pub use cert::{
    CaError, CaKeyAlgorithm, CaSigner, DevHierarchy, DevHierarchyOptions, IssuingCa, LeafOptions,
    generate_dev_hierarchy,
};
pub use config::{ConfigError, FulcioConfig, IssuerConfig, IssuerType};
pub use identity::{CertIdentity, IdentityError, San, SigstoreExtension, identity_from_claims};
pub use oidc::{OidcError, OidcVerifier, OidcVerifierOptions, VerifiedToken};
