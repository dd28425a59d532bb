//! RFC 3161 timestamp authority, compatible with sigstore/timestamp-authority.
//!
//! * [`TsaService`] holds the ECDSA signing key (P-256 by default, or P-384) and its chain
//!   (self-signed root + TSA leaf with the critical id-kp-timeStamping EKU), generated on first
//!   start into a data directory ([`TsaService::load_or_generate`]) or supplied by the operator
//!   ([`TsaService::from_parts`]).
//! * [`TimestampRequest`] parses DER `TimeStampReq`s and the JSON form of the Sigstore TSA.
//! * Tokens are CMS `SignedData` over `TSTInfo` with signed attributes contentType,
//!   messageDigest and signingCertificateV2 (RFC 5816), as `openssl ts -verify` and
//!   sigstore-go expect; the chain is embedded only when `certReq` is set.
//! * [`router`] serves `POST /api/v1/timestamp`, `GET /api/v1/timestamp/certchain`,
//!   `/healthz` and `/metrics`.
//!
//! All cryptography is done by aws-lc-rs.

mod api;
mod cert;
mod request;
mod service;
mod token;

pub use api::{
    MAX_BODY_BYTES, Metrics, Outcome, PEM_CHAIN, TIMESTAMP_QUERY, TIMESTAMP_REPLY, router,
};
pub use cert::TsaKeyAlgorithm;
pub use request::{
    HashAlgorithm, JsonTimestampRequest, MAX_DER_REQUEST_BYTES, MAX_JSON_REQUEST_BYTES,
    MAX_NONCE_BYTES, RequestError, TimestampRequest,
};
pub use service::{
    CHAIN_FILE, DEFAULT_POLICY_OID, KEY_FILE, TsaOptions, TsaService, parse_pem_chain,
};
pub use token::IssuedToken;

/// Errors of the timestamp authority.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TsaError {
    /// The request is malformed or asks for something this authority does not do (HTTP 400).
    #[error("{0}")]
    Request(#[from] RequestError),
    /// The signing key could not be generated, loaded or used.
    #[error("TSA key error: {0}")]
    Key(String),
    /// The certificate chain is malformed or does not fit the key.
    #[error("TSA certificate error: {0}")]
    Certificate(String),
    /// Invalid configuration (e.g. a policy that is not an OID).
    #[error("TSA configuration error: {0}")]
    Config(String),
    /// ASN.1 encoding failed.
    #[error("encoding error: {0}")]
    Encoding(#[source] der::Error),
    /// The generated chain's certificates could not be assembled.
    #[error("cannot build the TSA certificate chain")]
    Build(#[from] vouch_core::x509::build::BuildError),
    /// A time cannot be encoded (before 1970, or beyond what a certificate can say).
    #[error("encoding error: {what}")]
    TimeOutOfRange {
        /// Which time, and why.
        what: &'static str,
    },
    /// Reading or writing the data directory failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Writing or reading a key or chain file failed.
    #[error("{0}")]
    Fs(#[from] vouch_fs::FsError),
    /// A file in the data directory could not be read.
    #[error("storage error: {what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is not a PKCS#8 `PRIVATE KEY` PEM.
    #[error("TSA key error: {}: {source}", path.display())]
    KeyPem {
        /// The key file.
        path: std::path::PathBuf,
        /// The PEM error.
        #[source]
        source: vouch_core::keys::KeyError,
    },
    /// The chain file does not hold a usable certificate chain.
    #[error("TSA certificate error: {}: {source}", path.display())]
    ChainFile {
        /// The chain file.
        path: std::path::PathBuf,
        /// Why the chain is unusable.
        #[source]
        source: Box<TsaError>,
    },
    /// A certificate chain's PEM does not decode.
    #[error("TSA certificate error: {0}")]
    ChainPem(#[source] vouch_core::keys::KeyError),
    /// The chain cannot verify timestamps (or the self-test token does not verify).
    #[error("TSA certificate error: {what}: {source}")]
    Chain {
        /// What was checked.
        what: &'static str,
        /// The verifier's error.
        #[source]
        source: vouch_core::tsa::TimestampError,
    },
    /// A certificate's DER does not decode or re-encode.
    #[error("TSA certificate error: {what}: {source}")]
    CertificateDer {
        /// Which certificate.
        what: &'static str,
        /// The DER error.
        #[source]
        source: der::Error,
    },
}
