//! Errors of the server bootstrap.

use std::path::PathBuf;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address as given.
        addr: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The bound listener has no local address.
    #[error("cannot read the listening address: {0}")]
    LocalAddr(#[source] std::io::Error),
    /// The async runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A TLS certificate or key file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadPem {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS certificate file holds no parsable `CERTIFICATE`.
    #[error("{} holds no PEM CERTIFICATE: {source}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the PEM decoder found.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A TLS key file holds no parsable private key (PKCS#8, SEC1 or PKCS#1).
    #[error("{} holds no PEM private key: {source}", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
        /// What the PEM decoder found.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// rustls refused the certificate and key (e.g. they do not match, unsupported key type).
    #[error("unusable TLS certificate and key: {0}")]
    Tls(#[source] rustls::Error),
}
