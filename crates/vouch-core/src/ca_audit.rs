//! The CA's issuance audit log: one JSON object per line, one line per certificate issued
//! (`vouch serve ca --audit-log FILE`), read by `vouch monitor --ca-audit FILE`.
//!
//! ```json
//! {"time":"2026-12-03T18:00:00Z","identity":"release@example.com","issuer":"https://idp.example",
//!  "serial":"5f…","certificateSha256":"9a…","clientAddress":"10.0.0.7:52144","certificate":"-----BEGIN CERTIFICATE-----…"}
//! ```
//!
//! `certificateSha256` is the hex SHA-256 of the DER certificate (a rekor-monitor
//! `fingerprints` value); `certificate` is the certificate itself (PEM), so that a monitor can
//! apply every watch (SANs, OID extensions) to the same bytes the signer received.

use serde::{Deserialize, Serialize};

/// Longest audit line a reader accepts, in bytes (a certificate plus its metadata).
pub const MAX_AUDIT_LINE: usize = 64 * 1024;

/// One issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuanceRecord {
    /// When it was issued (RFC 3339, UTC).
    pub time: String,
    /// The identity the certificate names (its SAN value).
    pub identity: String,
    /// The OIDC issuer that vouched for the identity.
    pub issuer: String,
    /// The certificate's serial number (hex).
    pub serial: String,
    /// Hex SHA-256 of the DER certificate.
    pub certificate_sha256: String,
    /// The requesting peer (`ip:port`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    /// The certificate (PEM).
    pub certificate: String,
}
