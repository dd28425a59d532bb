//! [`TimestampError`]: why a timestamp response or a TSA chain was rejected.

use std::fmt;

/// Why a timestamp response or a TSA chain was rejected; each variant names the failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The response is larger than [`MAX_TIMESTAMP_RESPONSE_LEN`](super::MAX_TIMESTAMP_RESPONSE_LEN).
    #[error("timestamp response is {len} bytes, more than the {max} accepted")]
    ResponseTooLarge {
        /// Size of the response.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A structure could not be decoded (or violates RFC 3161 / RFC 5652).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// What is wrong with it, with the position when the decoder knows it.
        detail: String,
    },
    /// The TSA did not grant the request (`PKIStatus` other than granted(0) / grantedWithMods(1)).
    #[error("timestamp request was not granted: pki status {status}")]
    NotGranted {
        /// The `PKIStatus` value.
        status: i64,
    },
    /// The token's `ContentInfo` is not CMS `SignedData`.
    #[error("timestamp token is not cms signed-data (content type {content_type})")]
    NotSignedData {
        /// The content type found.
        content_type: String,
    },
    /// The encapsulated content is not a `TSTInfo`.
    #[error("timestamp token encapsulates {content_type}, not id-ct-TSTInfo")]
    WrongContentType {
        /// The `eContentType` found.
        content_type: String,
    },
    /// The token must have exactly one `SignerInfo`.
    #[error("timestamp token has {count} signer infos, expected exactly one")]
    SignerInfoCount {
        /// How many were found.
        count: usize,
    },
    /// `TSTInfo.version` is not 1.
    #[error("unsupported tstinfo version {version}, expected 1")]
    UnsupportedVersion {
        /// The version found.
        version: i64,
    },
    /// A hash algorithm other than SHA-256/384/512 where one is needed.
    #[error("unsupported hash algorithm {algorithm} in {field}")]
    UnsupportedHashAlgorithm {
        /// Where the algorithm appears (e.g. `messageImprint`).
        field: &'static str,
        /// The algorithm OID (dotted) or name.
        algorithm: String,
    },
    /// The message imprint is not the hash of the signed bytes.
    #[error("timestamp message imprint {got} does not match the signature hash {expected}")]
    ImprintMismatch {
        /// Hex of `H(signed_bytes)`.
        expected: String,
        /// Hex of the imprint in the token.
        got: String,
    },
    /// The token was not signed by this authority's certificate.
    #[error("timestamp signer ({signer}) is not the trusted tsa: {reason}")]
    SignerNotTrusted {
        /// The signer identifier from the token.
        signer: String,
        /// Why it was not accepted.
        reason: &'static str,
    },
    /// The `SignerInfo` has no signed attributes (RFC 3161 requires them).
    #[error("timestamp signer info has no signed attributes")]
    MissingSignedAttributes,
    /// A required signed attribute is absent.
    #[error("timestamp signed attributes lack the {attribute} attribute")]
    MissingSignedAttribute {
        /// Its name.
        attribute: &'static str,
    },
    /// The content-type signed attribute is not id-ct-TSTInfo.
    #[error("timestamp content-type attribute is {got}, expected id-ct-TSTInfo")]
    ContentTypeAttributeMismatch {
        /// The content type found.
        got: String,
    },
    /// The message-digest signed attribute is not the hash of the `TSTInfo`.
    #[error("timestamp message-digest attribute {got} does not match the tstinfo hash {expected}")]
    MessageDigestMismatch {
        /// Hex of the computed digest.
        expected: String,
        /// Hex of the attribute.
        got: String,
    },
    /// The ESS signing-certificate attribute names another certificate than the signer's.
    #[error(
        "timestamp signing-certificate attribute hash {got} does not match the signer certificate {expected}"
    )]
    SigningCertificateMismatch {
        /// Hex of the signer certificate's hash.
        expected: String,
        /// Hex of the hash in the attribute.
        got: String,
    },
    /// A signature or key algorithm this implementation does not verify.
    #[error("unsupported signature algorithm {algorithm}")]
    UnsupportedSignatureAlgorithm {
        /// Description of the algorithm (OIDs, dotted).
        algorithm: String,
    },
    /// The CMS signature over the signed attributes does not verify with the signer key.
    #[error("timestamp signature does not verify with the tsa key")]
    SignatureInvalid,
    /// `genTime` lies outside a certificate's validity.
    #[error(
        "timestamp time {gen_time} is outside the validity of {subject} ({not_before} to {not_after})"
    )]
    CertificateNotValidAtGenTime {
        /// Certificate subject.
        subject: String,
        /// The token's `genTime` (RFC 3339).
        gen_time: String,
        /// `notBefore` (RFC 3339).
        not_before: String,
        /// `notAfter` (RFC 3339).
        not_after: String,
    },
    /// The TSA chain given to [`TsaVerifier::new`](super::TsaVerifier::new) is empty.
    #[error("tsa certificate chain is empty")]
    EmptyChain,
    /// The TSA chain is longer than [`MAX_CHAIN_LEN`](crate::limits::MAX_CHAIN_LEN).
    #[error("tsa certificate chain has {len} certificates, more than the {max} accepted")]
    ChainTooLong {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A certificate of the TSA chain could not be parsed.
    #[error("tsa chain certificate {index} is invalid: {detail}")]
    InvalidCertificate {
        /// Position in the chain (0 = leaf).
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// A chain certificate's issuer is not the next certificate's subject.
    #[error(
        "tsa chain certificate {index} ({subject}) is issued by {issuer}, but the next certificate is {next_subject}"
    )]
    IssuerMismatch {
        /// Position of the issued certificate.
        index: usize,
        /// Its subject.
        subject: String,
        /// Its issuer name.
        issuer: String,
        /// Subject of the next certificate.
        next_subject: String,
    },
    /// A chain certificate's signature does not verify with the next certificate's key.
    #[error("tsa chain certificate {index} ({subject}) is not signed by {issuer}")]
    ChainSignatureInvalid {
        /// Position of the issued certificate.
        index: usize,
        /// Its subject.
        subject: String,
        /// The issuer's subject.
        issuer: String,
    },
    /// An issuing certificate is not a CA (basic constraints, key usage or path length).
    #[error("tsa chain certificate {index} ({subject}) may not issue certificates: {reason}")]
    IssuerNotCa {
        /// Position of the issuer.
        index: usize,
        /// Its subject.
        subject: String,
        /// Which constraint failed.
        reason: &'static str,
    },
    /// The TSA signing certificate is a CA certificate (basic constraints `cA`).
    #[error("tsa certificate {subject} is a ca certificate and may not sign timestamps")]
    LeafIsCa {
        /// Its subject.
        subject: String,
    },
    /// Path validation by rustls-webpki rejected the TSA chain (at `genTime` when verifying a
    /// token; `None` for the checks done once when the chain is loaded).
    #[error("tsa certificate chain rejected{}: {source}", gen_time.as_ref().map(|t| format!(" at {t}")).unwrap_or_default())]
    ChainRejected {
        /// The token's `genTime` (RFC 3339) the path was validated at.
        gen_time: Option<String>,
        /// What webpki rejected.
        #[source]
        source: crate::x509::ChainError,
    },
    /// The TSA leaf certificate lacks the id-kp-timeStamping extended key usage.
    #[error("tsa certificate {subject} lacks the timeStamping extended key usage")]
    MissingTimestampingEku {
        /// Its subject.
        subject: String,
    },
}

impl TimestampError {
    pub(crate) fn malformed(what: &'static str, detail: impl fmt::Display) -> Self {
        Self::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}
