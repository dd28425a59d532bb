//! TLS for a listener: a certificate chain and private key from PEM files, served with rustls
//! (aws-lc-rs provider, TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`).

use crate::ServerError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// A TLS server configuration, cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Load the certificate chain (`CERTIFICATE` blocks, leaf first) and the private key
    /// (`PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`) from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, ServerError> {
        let cert_pem = std::fs::read(cert).map_err(|source| ServerError::ReadPem {
            path: cert.to_path_buf(),
            source,
        })?;
        let key_pem = std::fs::read(key).map_err(|source| ServerError::ReadPem {
            path: key.to_path_buf(),
            source,
        })?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| ServerError::NoCertificate {
                path: cert.to_path_buf(),
                source,
            })?;
        if chain.is_empty() {
            return Err(ServerError::NoCertificate {
                path: cert.to_path_buf(),
                source: rustls_pki_types::pem::Error::NoItemsFound,
            });
        }
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| {
            ServerError::NoPrivateKey {
                path: key.to_path_buf(),
                source,
            }
        })?;
        Self::from_der(chain, key_der)
    }

    /// Build from DER: the chain (leaf first) and the leaf's private key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, ServerError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(ServerError::Tls)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(ServerError::Tls)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsConfig {
            config: Arc::new(config),
        })
    }
}
