//! RFC 3161 timestamp responses as Sigstore stores them, parsed and verified.
//!
//! A Sigstore bundle carries each timestamp as the whole DER `TimeStampResp`
//! ([RFC 3161](https://www.rfc-editor.org/rfc/rfc3161) §2.4.2) in
//! `verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp`.
//! The token inside is a CMS `SignedData` ([RFC 5652](https://www.rfc-editor.org/rfc/rfc5652) §5)
//! over a `TSTInfo`, and its message imprint is the hash of the bundle's *signature bytes*.
//!
//! [`TsaVerifier`] holds one trusted timestamping authority (its chain from the trusted root,
//! checked once at construction) and verifies responses against it in the order sigstore-go and
//! `sigstore/timestamp-authority` do; [`parse_timestamp_response`] only decodes, for inspection and
//! fuzzing. Certificate validity is checked at the token's `genTime` (hybrid model), never at the
//! current time, so a chain that expired after issuing the token still verifies. The trust root's
//! `validFor` window of the authority is the caller's check.
//!
//! Layout, one concern per file: [`oid`] (object identifiers), [`asn1`] (the RFC 3161 / RFC 5652
//! wire structures, declared once for every crate of the workspace), `error` ([`TimestampError`]),
//! `alg` (hash and signature algorithms), `cert` (TSA chain certificates), `time` (`genTime`),
//! `parse` (decoding a response), `attrs` (signed attributes) and `verify` ([`TsaVerifier`]).
//!
//! Design notes:
//! * The ASN.1 for `TimeStampResp`, `PKIStatusInfo`, `TSTInfo`, `MessageImprint`, `Accuracy` and the
//!   ESS signing-certificate attributes is declared here with `der` derive (`x509-tsp` is still on
//!   `der` 0.7).
//! * `SignedData` and `SignerInfo` are declared here too, borrowing from the input, instead of using
//!   `cms::signed_data::SignedData`: `der` 0.8 re-sorts every `SET OF` while decoding, so decoding
//!   into `cms` types and re-encoding could change the bytes of the signed attributes (which the
//!   signature covers) and of embedded certificates. The leaf types (`SignerIdentifier`, `CmsVersion`)
//!   come from `cms`.
//! * All hashing and signature verification goes through `aws-lc-rs`.

mod alg;
pub mod asn1;
mod attrs;
mod cert;
mod error;
pub mod oid;
mod parse;
mod time;
mod verify;

pub use error::TimestampError;
pub use parse::{TimestampInfo, parse_timestamp_response};
pub use verify::{TsaVerifier, VerifiedTimestamp};

/// Upper bound on the DER size of one timestamp response we accept.
pub const MAX_TIMESTAMP_RESPONSE_LEN: usize = 64 * 1024;

/// Most certificates a timestamp token may embed; real TSAs send the leaf and perhaps its chain.
pub const MAX_EMBEDDED_CERTIFICATES: usize = 16;

/// Most signed attributes accepted on the token's `SignerInfo` (real TSAs send four or five).
pub const MAX_SIGNED_ATTRIBUTES: usize = 32;
