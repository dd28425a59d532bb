//! vouch-gitsign: keyless git commit and tag signing through the gpgsm interface git uses for
//! `gpg.format = x509` (a drop-in for sigstore's gitsign), with verification that needs no
//! network: the transparency log entry (inclusion proof + checkpoint / SET) and the RFC 3161
//! timestamp travel inside the CMS signature as unsigned attributes (see [`cms`]).
//!
//! ```text
//! git config gpg.format x509
//! git config gpg.x509.program vouch-gitsign
//! git config gitsign.trustConfig ./vouch-data/trust_config.json
//! git commit -S -m msg && git verify-commit HEAD
//! ```
//!
//! Errors are typed per step: [`args::ArgsError`], [`git::GitError`], [`config::ConfigError`],
//! [`sign::SigningError`], [`verify::VerifyFailure`] (gpg's `BADSIG` / `ERRSIG`),
//! [`cms::CmsError`] and [`gpg::GpgError`]; each keeps its cause as `source`.

pub mod args;
pub mod cms;
pub mod config;
pub mod git;
pub mod gpg;
pub mod sign;
pub mod verify;

pub use args::ArgsError;
pub use cms::CmsError;
pub use config::{Config, ConfigError};
pub use git::GitError;
pub use gpg::GpgError;
pub use sign::SigningError;
pub use verify::{BadSignature, IdentityPolicy, Unverified, Verified, VerifyFailure};
