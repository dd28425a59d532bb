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

use std::fmt;

use aws_lc_rs::{digest, signature};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::SignerIdentifier;
use der::asn1::{AnyRef, BitStringRef, IntRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode, Header, Length, Reader, Sequence, SliceReader, Tag, Tagged};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};

use crate::limits::{MAX_CERTIFICATE_LEN, MAX_CHAIN_LEN};

/// Upper bound on the DER size of one timestamp response we accept.
pub const MAX_TIMESTAMP_RESPONSE_LEN: usize = 64 * 1024;

/// Most certificates a timestamp token may embed; real TSAs send the leaf and perhaps its chain.
pub const MAX_EMBEDDED_CERTIFICATES: usize = 16;

/// Most signed attributes accepted on the token's `SignerInfo` (real TSAs send four or five).
pub const MAX_SIGNED_ATTRIBUTES: usize = 32;

// ---------------------------------------------------------------------------------------------
// Object identifiers
// ---------------------------------------------------------------------------------------------

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// Why a timestamp response or a TSA chain was rejected; each variant names the failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The response is larger than [`MAX_TIMESTAMP_RESPONSE_LEN`].
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
    /// The TSA chain given to [`TsaVerifier::new`] is empty.
    #[error("tsa certificate chain is empty")]
    EmptyChain,
    /// The TSA chain is longer than [`MAX_CHAIN_LEN`].
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
    /// The TSA leaf certificate lacks the id-kp-timeStamping extended key usage.
    #[error("tsa certificate {subject} lacks the timeStamping extended key usage")]
    MissingTimestampingEku {
        /// Its subject.
        subject: String,
    },
}

impl TimestampError {
    fn malformed(what: &'static str, detail: impl fmt::Display) -> Self {
        Self::Malformed {
            what,
            detail: detail.to_string(),
        }
    }
}

/// What a verified token attests: when (`genTime`), under which policy and serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// `genTime` as Unix seconds.
    pub gen_time_unix: i64,
    /// Sub-second part of `genTime` in nanoseconds (0 when absent).
    pub gen_time_nanos: u32,
    /// `TSTInfo.serialNumber`: big-endian two's complement, without a leading 0x00 sign byte.
    pub serial: Vec<u8>,
    /// `TSTInfo.policy` as a dotted OID.
    pub policy: String,
    /// `TSTInfo.nonce` when present: big-endian two's complement, without a leading 0x00 sign byte.
    pub nonce: Option<Vec<u8>>,
}

/// The contents of a timestamp response, decoded but NOT verified (for display and fuzzing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampInfo {
    /// `genTime` as Unix seconds.
    pub gen_time_unix: i64,
    /// Sub-second part of `genTime` in nanoseconds (0 when absent).
    pub gen_time_nanos: u32,
    /// Imprint hash algorithm: `sha256`, `sha384`, `sha512`, `sha1`, `sha224`, or a dotted OID.
    pub imprint_algorithm: String,
    /// The imprint (hash of the timestamped data).
    pub imprint: Vec<u8>,
    /// `TSTInfo.policy` as a dotted OID.
    pub policy: String,
    /// `TSTInfo.serialNumber`: big-endian two's complement, without a leading 0x00 sign byte.
    pub serial: Vec<u8>,
    /// How many certificates the token embeds.
    pub embedded_certificates: usize,
}

/// A trusted timestamping authority: its chain from the trusted root (leaf first, root last),
/// pre-parsed and pre-validated once so verifying many tokens costs only the token checks.
#[derive(Debug, Clone)]
pub struct TsaVerifier {
    chain: Vec<ChainCert>,
}

// ---------------------------------------------------------------------------------------------
// ASN.1 declarations (RFC 3161, RFC 5652, RFC 5035, RFC 2634)
// ---------------------------------------------------------------------------------------------

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`
#[derive(Sequence)]
struct TimeStampResp<'a> {
    status: PkiStatusInfo<'a>,
    time_stamp_token: Option<ContentInfoRef<'a>>,
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL, failInfo PKIFailureInfo OPTIONAL }`
#[derive(Sequence)]
struct PkiStatusInfo<'a> {
    status: i64,
    status_string: Option<Vec<AnyRef<'a>>>,
    fail_info: Option<BitStringRef<'a>>,
}

/// `ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }` (RFC 5652 §3)
#[derive(Sequence)]
struct ContentInfoRef<'a> {
    content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: AnyRef<'a>,
}

/// `SignedData` (RFC 5652 §5.1), borrowing so signed bytes stay byte-exact.
#[derive(Sequence)]
struct SignedDataRef<'a> {
    version: CmsVersion,
    digest_algorithms: AnyRef<'a>,
    encap_content_info: EncapsulatedContentInfoRef<'a>,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    certificates: Option<Vec<AnyRef<'a>>>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    crls: Option<Vec<AnyRef<'a>>>,
    signer_infos: AnyRef<'a>,
}

/// `EncapsulatedContentInfo ::= SEQUENCE { eContentType OID, eContent [0] EXPLICIT OCTET STRING OPTIONAL }`
#[derive(Sequence)]
struct EncapsulatedContentInfoRef<'a> {
    econtent_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    econtent: Option<&'a OctetStringRef>,
}

/// `SignerInfo` (RFC 5652 §5.3); signed attributes kept as raw elements in their original order.
#[derive(Sequence)]
struct SignerInfoRef<'a> {
    version: CmsVersion,
    sid: SignerIdentifier,
    digest_alg: AlgorithmIdentifierOwned,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    signed_attrs: Option<Vec<AnyRef<'a>>>,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: &'a OctetStringRef,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    unsigned_attrs: Option<Vec<AnyRef<'a>>>,
}

/// `TSTInfo` (RFC 3161 §2.4.2).
#[derive(Sequence)]
struct TstInfo<'a> {
    version: i64,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint<'a>,
    serial_number: IntRef<'a>,
    gen_time: AnyRef<'a>,
    accuracy: Option<Accuracy>,
    ordering: Option<bool>,
    nonce: Option<IntRef<'a>>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<AnyRef<'a>>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    extensions: Option<Vec<AnyRef<'a>>>,
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`
#[derive(Sequence)]
struct MessageImprint<'a> {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: &'a OctetStringRef,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL }`
#[derive(Sequence)]
struct Accuracy {
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies ... OPTIONAL }` (RFC 2634 §5.4)
#[derive(Sequence)]
struct SigningCertificate<'a> {
    certs: Vec<EssCertId<'a>>,
    policies: Option<Vec<AnyRef<'a>>>,
}

/// `ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial IssuerSerial OPTIONAL }`
#[derive(Sequence)]
struct EssCertId<'a> {
    cert_hash: &'a OctetStringRef,
    issuer_serial: Option<AnyRef<'a>>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }` (RFC 5035 §3)
#[derive(Sequence)]
struct SigningCertificateV2<'a> {
    certs: Vec<EssCertIdV2<'a>>,
    policies: Option<Vec<AnyRef<'a>>>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash OCTET STRING, issuerSerial OPTIONAL }`
#[derive(Sequence)]
struct EssCertIdV2<'a> {
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: &'a OctetStringRef,
    issuer_serial: Option<AnyRef<'a>>,
}

/// A certificate split so the exact signed `tbsCertificate` bytes are at hand.
#[derive(Sequence)]
struct RawCertificate<'a> {
    tbs_certificate: AnyRef<'a>,
    signature_algorithm: AnyRef<'a>,
    signature: BitStringRef<'a>,
}

/// `RSASSA-PSS-params` (RFC 4055 §3.1); absent fields take the SHA-1 defaults, which we reject.
#[derive(Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen_algorithm: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_length: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<u8>,
}

// ---------------------------------------------------------------------------------------------
// Hash algorithms
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The SHA-2 algorithm an `AlgorithmIdentifier` names; parameters must be absent or NULL.
    fn from_identifier(alg: &AlgorithmIdentifierOwned) -> Option<Self> {
        if let Some(params) = &alg.parameters
            && !params.is_null()
        {
            return None;
        }
        match alg.oid {
            ID_SHA256 => Some(Self::Sha256),
            ID_SHA384 => Some(Self::Sha384),
            ID_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg: &'static digest::Algorithm = match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }

    fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// A readable name for a hash OID (`sha256` …), or the dotted OID.
fn hash_name(oid: &ObjectIdentifier) -> String {
    match *oid {
        ID_SHA1 => "sha1".to_owned(),
        ID_SHA224 => "sha224".to_owned(),
        ID_SHA256 => "sha256".to_owned(),
        ID_SHA384 => "sha384".to_owned(),
        ID_SHA512 => "sha512".to_owned(),
        other => other.to_string(),
    }
}

fn required_hash(
    alg: &AlgorithmIdentifierOwned,
    field: &'static str,
) -> Result<HashAlg, TimestampError> {
    HashAlg::from_identifier(alg).ok_or_else(|| TimestampError::UnsupportedHashAlgorithm {
        field,
        algorithm: hash_name(&alg.oid),
    })
}

// ---------------------------------------------------------------------------------------------
// Signature verification (aws-lc-rs)
// ---------------------------------------------------------------------------------------------

enum SigCheck {
    Unsupported(String),
    Invalid,
}

/// Verifies `signature` over `message` with `spki`, for a signature algorithm given either as a
/// combined OID (`ecdsa-with-SHA384`, `sha256WithRSAEncryption`, `id-RSASSA-PSS`, `Ed25519`) or,
/// as CMS permits, as a bare key algorithm whose hash is the `SignerInfo` digest algorithm.
fn verify_signature(
    sig_alg: &AlgorithmIdentifierOwned,
    digest_hint: Option<HashAlg>,
    spki: &SubjectPublicKeyInfoOwned,
    message: &[u8],
    sig: &[u8],
) -> Result<(), SigCheck> {
    let key_oid = spki.algorithm.oid;
    let mismatch = || SigCheck::Unsupported(format!("{} with a {} key", sig_alg.oid, key_oid));
    let bare_hash = || {
        digest_hint
            .ok_or_else(|| SigCheck::Unsupported(format!("{} without a digest", sig_alg.oid)))
    };
    let algorithm: &'static dyn signature::VerificationAlgorithm = match sig_alg.oid {
        ECDSA_WITH_SHA256 => ecdsa_algorithm(spki, HashAlg::Sha256).ok_or_else(mismatch)?,
        ECDSA_WITH_SHA384 => ecdsa_algorithm(spki, HashAlg::Sha384).ok_or_else(mismatch)?,
        ECDSA_WITH_SHA512 => ecdsa_algorithm(spki, HashAlg::Sha512).ok_or_else(mismatch)?,
        ID_EC_PUBLIC_KEY => ecdsa_algorithm(spki, bare_hash()?).ok_or_else(mismatch)?,
        SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA | RSA_ENCRYPTION => {
            if key_oid != RSA_ENCRYPTION && key_oid != ID_RSASSA_PSS {
                return Err(mismatch());
            }
            let hash = match sig_alg.oid {
                SHA256_WITH_RSA => HashAlg::Sha256,
                SHA384_WITH_RSA => HashAlg::Sha384,
                SHA512_WITH_RSA => HashAlg::Sha512,
                _ => bare_hash()?,
            };
            match hash {
                HashAlg::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                HashAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                HashAlg::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        ID_RSASSA_PSS => {
            if key_oid != RSA_ENCRYPTION && key_oid != ID_RSASSA_PSS {
                return Err(mismatch());
            }
            match pss_hash(sig_alg) {
                Some(HashAlg::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
                Some(HashAlg::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
                Some(HashAlg::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
                None => {
                    return Err(SigCheck::Unsupported(
                        "rsassa-pss with parameters other than sha-2, mgf1 with the same hash and salt = hash length"
                            .to_owned(),
                    ));
                }
            }
        }
        ID_ED25519 => {
            if key_oid != ID_ED25519 {
                return Err(mismatch());
            }
            &signature::ED25519
        }
        other => return Err(SigCheck::Unsupported(other.to_string())),
    };
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(SigCheck::Invalid)?;
    signature::UnparsedPublicKey::new(algorithm, key)
        .verify(message, sig)
        .map_err(|_| SigCheck::Invalid)
}

/// The aws-lc-rs ECDSA algorithm for an EC key's named curve and a hash.
fn ecdsa_algorithm(
    spki: &SubjectPublicKeyInfoOwned,
    hash: HashAlg,
) -> Option<&'static dyn signature::VerificationAlgorithm> {
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return None;
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()?
        .decode_as::<ObjectIdentifier>()
        .ok()?;
    Some(match (curve, hash) {
        (SECP256R1, HashAlg::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
        (SECP256R1, HashAlg::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
        (SECP256R1, HashAlg::Sha512) => &signature::ECDSA_P256_SHA512_ASN1,
        (SECP384R1, HashAlg::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
        (SECP384R1, HashAlg::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
        (SECP384R1, HashAlg::Sha512) => &signature::ECDSA_P384_SHA512_ASN1,
        (SECP521R1, HashAlg::Sha256) => &signature::ECDSA_P521_SHA256_ASN1,
        (SECP521R1, HashAlg::Sha384) => &signature::ECDSA_P521_SHA384_ASN1,
        (SECP521R1, HashAlg::Sha512) => &signature::ECDSA_P521_SHA512_ASN1,
        _ => return None,
    })
}

/// The hash of RSASSA-PSS parameters we can verify: SHA-2, MGF1 with the same hash, salt = hash length.
fn pss_hash(sig_alg: &AlgorithmIdentifierOwned) -> Option<HashAlg> {
    let params: PssParams = sig_alg.parameters.as_ref()?.decode_as().ok()?;
    let hash = HashAlg::from_identifier(params.hash_algorithm.as_ref()?)?;
    let mgf = params.mask_gen_algorithm.as_ref()?;
    if mgf.oid != ID_MGF1 {
        return None;
    }
    let mgf_hash: AlgorithmIdentifierOwned = mgf.parameters.as_ref()?.decode_as().ok()?;
    if HashAlg::from_identifier(&mgf_hash)? != hash {
        return None;
    }
    let salt = usize::try_from(params.salt_length?).ok()?;
    if salt != hash.output_len() || params.trailer_field.is_some_and(|t| t != 1) {
        return None;
    }
    Some(hash)
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

/// A certificate with everything verification needs, extracted once.
#[derive(Debug, Clone)]
struct ChainCert {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: Vec<u8>,
    spki: SubjectPublicKeyInfoOwned,
    subject: String,
    subject_der: Vec<u8>,
    issuer: String,
    issuer_der: Vec<u8>,
    serial: Vec<u8>,
    ski: Option<Vec<u8>>,
    not_before: i64,
    not_after: i64,
    is_ca: bool,
    path_len: Option<u8>,
    key_cert_sign: Option<bool>,
    timestamping_eku: bool,
}

impl ChainCert {
    fn parse(der: &[u8]) -> Result<Self, String> {
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(format!(
                "{} bytes, more than the {MAX_CERTIFICATE_LEN} accepted",
                der.len()
            ));
        }
        let raw = RawCertificate::from_der(der).map_err(|e| e.to_string())?;
        let cert = Certificate::from_der(der).map_err(|e| e.to_string())?;
        let tbs = cert.tbs_certificate();
        let signature = raw
            .signature
            .as_bytes()
            .ok_or("signature bit string has unused bits")?
            .to_vec();
        let unix = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).map_err(|e| e.to_string())
        };
        let validity = tbs.validity();
        let bc = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| format!("basic constraints: {e}"))?
            .map(|(_, bc)| bc);
        let ku = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| format!("key usage: {e}"))?
            .map(|(_, ku)| ku);
        let eku = tbs
            .get_extension::<ExtendedKeyUsage>()
            .map_err(|e| format!("extended key usage: {e}"))?
            .map(|(_, eku)| eku);
        let ski = tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(|e| format!("subject key identifier: {e}"))?
            .map(|(_, ski)| ski.0.as_bytes().to_vec());
        Ok(Self {
            der: der.to_vec(),
            tbs_der: raw.tbs_certificate.to_der().map_err(|e| e.to_string())?,
            signature_algorithm: cert.signature_algorithm().clone(),
            signature,
            spki: tbs.subject_public_key_info().clone(),
            subject: tbs.subject().to_string(),
            subject_der: tbs.subject().to_der().map_err(|e| e.to_string())?,
            issuer: tbs.issuer().to_string(),
            issuer_der: tbs.issuer().to_der().map_err(|e| e.to_string())?,
            serial: tbs.serial_number().as_bytes().to_vec(),
            ski,
            not_before: unix(validity.not_before)?,
            not_after: unix(validity.not_after)?,
            is_ca: bc.as_ref().is_some_and(|bc| bc.ca),
            path_len: bc.and_then(|bc| bc.path_len_constraint),
            key_cert_sign: ku.map(|ku| ku.key_cert_sign()),
            timestamping_eku: eku.is_some_and(|eku| eku.0.contains(&ID_KP_TIME_STAMPING)),
        })
    }

    /// Does the CMS signer identifier name this certificate?
    fn matches_sid(&self, sid: &SignerIdentifier) -> bool {
        match sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                isn.serial_number.as_bytes() == self.serial.as_slice()
                    && isn.issuer.to_der().is_ok_and(|d| d == self.issuer_der)
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                self.ski.as_deref() == Some(ski.0.as_bytes())
            }
        }
    }

    /// Is this certificate signed by `issuer`'s key (names chained, signature valid)?
    fn is_signed_by(&self, issuer: &ChainCert) -> Result<bool, SigCheck> {
        if self.issuer_der != issuer.subject_der {
            return Ok(false);
        }
        match verify_signature(
            &self.signature_algorithm,
            None,
            &issuer.spki,
            &self.tbs_der,
            &self.signature,
        ) {
            Ok(()) => Ok(true),
            Err(SigCheck::Invalid) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Is the instant (`secs`, `nanos`) within `notBefore..=notAfter`?
    fn valid_at(&self, secs: i64, nanos: u32) -> bool {
        secs >= self.not_before && (secs < self.not_after || (secs == self.not_after && nanos == 0))
    }
}

/// The big-endian two's complement bytes of an INTEGER, minus a leading 0x00 sign byte
/// (so non-negative values come out as their plain magnitude).
fn integer_bytes(value: IntRef<'_>) -> Vec<u8> {
    let bytes = value.as_bytes();
    match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest.to_vec(),
        _ => bytes.to_vec(),
    }
}

fn rfc3339(secs: i64, nanos: u32) -> String {
    let nanos = i32::try_from(nanos).unwrap_or(0);
    match jiff::Timestamp::new(secs, nanos) {
        Ok(ts) => ts.to_string(),
        Err(_) => format!("@{secs}"),
    }
}

fn describe_sid(sid: &SignerIdentifier) -> String {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer,
            serial_number,
        }) => {
            let serial = serial_number.as_bytes();
            let serial = match serial {
                [0, rest @ ..] if !rest.is_empty() => rest,
                _ => serial,
            };
            format!("issuer {issuer}, serial {}", hex::encode(serial))
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            format!("subject key id {}", hex::encode(ski.0.as_bytes()))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Everything decoded from a response, borrowing from it.
struct ParsedToken<'a> {
    tst: TstInfo<'a>,
    tst_der: &'a [u8],
    gen_time_unix: i64,
    gen_time_nanos: u32,
    certificates: Vec<AnyRef<'a>>,
    signer: SignerInfoRef<'a>,
}

fn parse_token(response_der: &[u8]) -> Result<ParsedToken<'_>, TimestampError> {
    if response_der.len() > MAX_TIMESTAMP_RESPONSE_LEN {
        return Err(TimestampError::ResponseTooLarge {
            len: response_der.len(),
            max: MAX_TIMESTAMP_RESPONSE_LEN,
        });
    }
    let resp = TimeStampResp::from_der(response_der)
        .map_err(|e| TimestampError::malformed("TimeStampResp", e))?;
    let status = resp.status.status;
    if status != 0 && status != 1 {
        return Err(TimestampError::NotGranted { status });
    }
    let token = resp.time_stamp_token.ok_or_else(|| {
        TimestampError::malformed("TimeStampResp", "status is granted but no token is present")
    })?;
    if token.content_type != ID_SIGNED_DATA {
        return Err(TimestampError::NotSignedData {
            content_type: token.content_type.to_string(),
        });
    }
    let signed_data: SignedDataRef<'_> = token
        .content
        .decode_as()
        .map_err(|e| TimestampError::malformed("SignedData", e))?;
    let econtent_type = signed_data.encap_content_info.econtent_type;
    if econtent_type != ID_CT_TST_INFO {
        return Err(TimestampError::WrongContentType {
            content_type: econtent_type.to_string(),
        });
    }

    if signed_data.signer_infos.tag() != Tag::Set {
        return Err(TimestampError::malformed(
            "SignedData",
            "signerInfos is not a SET",
        ));
    }
    let mut reader = SliceReader::new(signed_data.signer_infos.value())
        .map_err(|e| TimestampError::malformed("SignerInfo", e))?;
    let mut signers = Vec::new();
    while !reader.is_finished() {
        let si: SignerInfoRef<'_> = reader
            .decode()
            .map_err(|e| TimestampError::malformed("SignerInfo", e))?;
        signers.push(si);
        if signers.len() > 1 {
            // Count the rest without keeping them; any count other than one is an error anyway.
            let mut count = signers.len();
            while !reader.is_finished() {
                let _: AnyRef<'_> = reader
                    .decode()
                    .map_err(|e| TimestampError::malformed("SignerInfo", e))?;
                count += 1;
            }
            return Err(TimestampError::SignerInfoCount { count });
        }
    }
    let signer = signers
        .pop()
        .ok_or(TimestampError::SignerInfoCount { count: 0 })?;

    let tst_der = signed_data
        .encap_content_info
        .econtent
        .ok_or_else(|| TimestampError::malformed("SignedData", "no encapsulated TSTInfo"))?
        .as_bytes();
    let tst = TstInfo::from_der(tst_der).map_err(|e| TimestampError::malformed("TSTInfo", e))?;
    if tst.version != 1 {
        return Err(TimestampError::UnsupportedVersion {
            version: tst.version,
        });
    }
    let (gen_time_unix, gen_time_nanos) = parse_generalized_time(tst.gen_time)?;
    let certificates = signed_data.certificates.unwrap_or_default();
    if certificates.len() > MAX_EMBEDDED_CERTIFICATES {
        return Err(TimestampError::malformed(
            "SignedData",
            format!(
                "{} embedded certificates, more than the {MAX_EMBEDDED_CERTIFICATES} accepted",
                certificates.len()
            ),
        ));
    }
    Ok(ParsedToken {
        tst,
        tst_der,
        gen_time_unix,
        gen_time_nanos,
        certificates,
        signer,
    })
}

/// Parses `YYYYMMDDHHMMSS[.f{1,9}]Z` (RFC 3161 §2.4.2 `genTime`) into Unix seconds and nanoseconds.
fn parse_generalized_time(value: AnyRef<'_>) -> Result<(i64, u32), TimestampError> {
    let bad = |detail: &str| TimestampError::malformed("genTime", detail);
    if value.tag() != Tag::GeneralizedTime {
        return Err(bad("not a GeneralizedTime"));
    }
    let text = value.value();
    let body = text
        .strip_suffix(b"Z")
        .ok_or_else(|| bad("does not end in Z"))?;
    let (whole, fraction) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (
            body.get(..dot).unwrap_or_default(),
            body.get(dot + 1..).unwrap_or_default(),
        ),
        None => (body, &[][..]),
    };
    if whole.len() != 14 || !whole.iter().all(u8::is_ascii_digit) {
        return Err(bad("expected YYYYMMDDHHMMSS"));
    }
    if body.len() != whole.len() && (fraction.is_empty() || fraction.len() > 9) {
        return Err(bad("fraction of a second must have 1 to 9 digits"));
    }
    if !fraction.iter().all(u8::is_ascii_digit) {
        return Err(bad("fraction of a second is not numeric"));
    }
    let num = |range: std::ops::Range<usize>| -> i32 {
        whole
            .get(range)
            .unwrap_or_default()
            .iter()
            .fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(4..6), num(6..8));
    let (hour, minute, second) = (num(8..10), num(10..12), num(12..14));
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let digit = fraction.get(i).map_or(0, |&d| u32::from(d - b'0'));
        nanos = nanos * 10 + digit;
    }
    let to_i8 = |v: i32| i8::try_from(v).map_err(|_| bad("field out of range"));
    let dt = jiff::civil::DateTime::new(
        i16::try_from(year).map_err(|_| bad("year out of range"))?,
        to_i8(month)?,
        to_i8(day)?,
        to_i8(hour)?,
        to_i8(minute)?,
        to_i8(second)?,
        0,
    )
    .map_err(|e| TimestampError::malformed("genTime", e))?;
    let ts = dt
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| TimestampError::malformed("genTime", e))?
        .timestamp();
    Ok((ts.as_second(), nanos))
}

/// Parse a DER `TimeStampResp` without verifying anything (for `bundle inspect` and fuzzing).
///
/// Fails if it is too large, malformed, not granted, or not a `SignedData` over a v1 `TSTInfo`.
pub fn parse_timestamp_response(response_der: &[u8]) -> Result<TimestampInfo, TimestampError> {
    let token = parse_token(response_der)?;
    let imprint = &token.tst.message_imprint;
    Ok(TimestampInfo {
        gen_time_unix: token.gen_time_unix,
        gen_time_nanos: token.gen_time_nanos,
        imprint_algorithm: hash_name(&imprint.hash_algorithm.oid),
        imprint: imprint.hashed_message.as_bytes().to_vec(),
        policy: token.tst.policy.to_string(),
        serial: integer_bytes(token.tst.serial_number),
        embedded_certificates: token.certificates.len(),
    })
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// The signed attributes we check, decoded.
struct SignedAttrs {
    content_type: Option<ObjectIdentifier>,
    message_digest: Option<Vec<u8>>,
    signing_certificate: Option<Vec<u8>>,
    signing_certificate_v2: Option<Vec<u8>>,
}

/// Decodes the signed attributes; each attribute of interest must appear once with one value.
fn decode_signed_attrs(raw: &[AnyRef<'_>]) -> Result<SignedAttrs, TimestampError> {
    const WHAT: &str = "signed attributes";
    if raw.len() > MAX_SIGNED_ATTRIBUTES {
        return Err(TimestampError::malformed(
            WHAT,
            format!(
                "{} attributes, more than the {MAX_SIGNED_ATTRIBUTES} accepted",
                raw.len()
            ),
        ));
    }
    let mut out = SignedAttrs {
        content_type: None,
        message_digest: None,
        signing_certificate: None,
        signing_certificate_v2: None,
    };
    for element in raw {
        let attr: Attribute = element
            .decode_as()
            .map_err(|e| TimestampError::malformed(WHAT, e))?;
        let slot_name = match attr.oid {
            ID_CONTENT_TYPE => "content-type",
            ID_MESSAGE_DIGEST => "message-digest",
            ID_AA_SIGNING_CERTIFICATE => "signing-certificate",
            ID_AA_SIGNING_CERTIFICATE_V2 => "signing-certificate-v2",
            _ => continue,
        };
        let value = match attr.values.as_slice() {
            [value] => value,
            _ => {
                return Err(TimestampError::malformed(
                    WHAT,
                    format!("{slot_name} attribute must have exactly one value"),
                ));
            }
        };
        let duplicate =
            || TimestampError::malformed(WHAT, format!("duplicate {slot_name} attribute"));
        match attr.oid {
            ID_CONTENT_TYPE => {
                let oid: ObjectIdentifier = value
                    .decode_as()
                    .map_err(|e| TimestampError::malformed(WHAT, e))?;
                if out.content_type.replace(oid).is_some() {
                    return Err(duplicate());
                }
            }
            ID_MESSAGE_DIGEST => {
                let digest: &OctetStringRef = value
                    .decode_as()
                    .map_err(|e| TimestampError::malformed(WHAT, e))?;
                if out
                    .message_digest
                    .replace(digest.as_bytes().to_vec())
                    .is_some()
                {
                    return Err(duplicate());
                }
            }
            ID_AA_SIGNING_CERTIFICATE => {
                let der = value
                    .to_der()
                    .map_err(|e| TimestampError::malformed(WHAT, e))?;
                if out.signing_certificate.replace(der).is_some() {
                    return Err(duplicate());
                }
            }
            _ => {
                let der = value
                    .to_der()
                    .map_err(|e| TimestampError::malformed(WHAT, e))?;
                if out.signing_certificate_v2.replace(der).is_some() {
                    return Err(duplicate());
                }
            }
        }
    }
    Ok(out)
}

/// Checks the ESS signing-certificate attribute(s), when present, name the signer certificate.
fn check_signing_certificate(attrs: &SignedAttrs, signer_der: &[u8]) -> Result<(), TimestampError> {
    const WHAT: &str = "signing-certificate attribute";
    let mismatch = |expected: &[u8], got: &[u8]| TimestampError::SigningCertificateMismatch {
        expected: hex::encode(expected),
        got: hex::encode(got),
    };
    if let Some(der) = &attrs.signing_certificate_v2 {
        let sc =
            SigningCertificateV2::from_der(der).map_err(|e| TimestampError::malformed(WHAT, e))?;
        let first = sc
            .certs
            .first()
            .ok_or_else(|| TimestampError::malformed(WHAT, "no ESSCertIDv2"))?;
        let hash = match &first.hash_algorithm {
            None => HashAlg::Sha256,
            Some(alg) => required_hash(alg, "signing-certificate-v2")?,
        };
        let expected = hash.digest(signer_der);
        if expected != first.cert_hash.as_bytes() {
            return Err(mismatch(&expected, first.cert_hash.as_bytes()));
        }
    }
    if let Some(der) = &attrs.signing_certificate {
        let sc =
            SigningCertificate::from_der(der).map_err(|e| TimestampError::malformed(WHAT, e))?;
        let first = sc
            .certs
            .first()
            .ok_or_else(|| TimestampError::malformed(WHAT, "no ESSCertID"))?;
        // ESSCertID (RFC 2634) fixes SHA-1; here it only identifies the certificate, it is not
        // what the security rests on (the signer certificate is pinned by the trust root).
        let expected = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, signer_der)
            .as_ref()
            .to_vec();
        if expected != first.cert_hash.as_bytes() {
            return Err(mismatch(&expected, first.cert_hash.as_bytes()));
        }
    }
    Ok(())
}

/// Re-encodes the signed attributes as the `SET OF` (tag 0x31) that CMS signs (RFC 5652 §5.4).
fn signed_attrs_der(raw: &[AnyRef<'_>]) -> Result<Vec<u8>, TimestampError> {
    let mut body = Vec::new();
    for element in raw {
        element
            .encode_to_vec(&mut body)
            .map_err(|e| TimestampError::malformed("signed attributes", e))?;
    }
    let len = Length::try_from(body.len())
        .map_err(|e| TimestampError::malformed("signed attributes", e))?;
    let mut out = Header::new(Tag::Set, len)
        .to_der()
        .map_err(|e| TimestampError::malformed("signed attributes", e))?;
    out.extend_from_slice(&body);
    Ok(out)
}

impl TsaVerifier {
    /// Build from DER certificates (leaf first, last = trust anchor), validating the chain once.
    ///
    /// Each certificate's signature is checked against the next one's key, issuers must be CAs
    /// (basic constraints, keyCertSign when key usage is present, path length), and the leaf must
    /// carry the id-kp-timeStamping EKU. Validity periods are checked per token at `genTime`.
    pub fn new(chain_der: &[Vec<u8>]) -> Result<Self, TimestampError> {
        if chain_der.is_empty() {
            return Err(TimestampError::EmptyChain);
        }
        if chain_der.len() > MAX_CHAIN_LEN {
            return Err(TimestampError::ChainTooLong {
                len: chain_der.len(),
                max: MAX_CHAIN_LEN,
            });
        }
        let chain = chain_der
            .iter()
            .enumerate()
            .map(|(index, der)| {
                ChainCert::parse(der)
                    .map_err(|detail| TimestampError::InvalidCertificate { index, detail })
            })
            .collect::<Result<Vec<_>, _>>()?;

        for (index, pair) in chain.windows(2).enumerate() {
            let [cert, issuer] = pair else { continue };
            let issuer_index = index + 1;
            if cert.issuer_der != issuer.subject_der {
                return Err(TimestampError::IssuerMismatch {
                    index,
                    subject: cert.subject.clone(),
                    issuer: cert.issuer.clone(),
                    next_subject: issuer.subject.clone(),
                });
            }
            check_issuer(issuer, issuer_index, index)?;
            match cert.is_signed_by(issuer) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(TimestampError::ChainSignatureInvalid {
                        index,
                        subject: cert.subject.clone(),
                        issuer: issuer.subject.clone(),
                    });
                }
                Err(SigCheck::Invalid) => {
                    return Err(TimestampError::ChainSignatureInvalid {
                        index,
                        subject: cert.subject.clone(),
                        issuer: issuer.subject.clone(),
                    });
                }
                Err(SigCheck::Unsupported(algorithm)) => {
                    return Err(TimestampError::UnsupportedSignatureAlgorithm { algorithm });
                }
            }
        }
        let leaf = chain.first().ok_or(TimestampError::EmptyChain)?;
        if !leaf.timestamping_eku {
            return Err(TimestampError::MissingTimestampingEku {
                subject: leaf.subject.clone(),
            });
        }
        Ok(Self { chain })
    }

    /// Subject of the TSA leaf certificate (for messages).
    pub fn leaf_subject(&self) -> &str {
        self.chain.first().map_or("", |c| c.subject.as_str())
    }

    /// Verify one DER `TimeStampResp` over `signed_bytes` (Sigstore timestamps the signature bytes).
    ///
    /// Checks, in order: size, parse and granted status; `SignedData` over id-ct-TSTInfo; exactly one
    /// `SignerInfo`; `TSTInfo` v1; message imprint = `H(signed_bytes)`; the signer is this authority;
    /// content-type and message-digest signed attributes (and ESS signing-certificate when present);
    /// the signature; and `genTime` within the validity of every certificate of the chain used.
    pub fn verify(
        &self,
        response_der: &[u8],
        signed_bytes: &[u8],
    ) -> Result<VerifiedTimestamp, TimestampError> {
        let token = parse_token(response_der)?;

        // Message imprint.
        let imprint = &token.tst.message_imprint;
        let imprint_hash = required_hash(&imprint.hash_algorithm, "messageImprint")?;
        let expected = imprint_hash.digest(signed_bytes);
        if expected != imprint.hashed_message.as_bytes() {
            return Err(TimestampError::ImprintMismatch {
                expected: hex::encode(&expected),
                got: hex::encode(imprint.hashed_message.as_bytes()),
            });
        }

        // Signer: this authority's leaf, or an embedded certificate issued by its chain.
        let sid = &token.signer.sid;
        let embedded_signer = self.embedded_signer(&token.certificates, sid)?;
        let (signer, path): (&ChainCert, Vec<&ChainCert>) = match &embedded_signer {
            Some((cert, issuer_index)) => {
                let mut path = vec![cert];
                path.extend(self.chain.get(*issuer_index..).unwrap_or_default());
                (cert, path)
            }
            None => {
                let leaf = self.chain.first().ok_or(TimestampError::EmptyChain)?;
                if !leaf.matches_sid(sid) {
                    return Err(TimestampError::SignerNotTrusted {
                        signer: describe_sid(sid),
                        reason: "it does not identify the trusted tsa certificate",
                    });
                }
                (leaf, self.chain.iter().collect())
            }
        };

        // Signed attributes.
        let raw_attrs = token
            .signer
            .signed_attrs
            .as_deref()
            .ok_or(TimestampError::MissingSignedAttributes)?;
        let attrs = decode_signed_attrs(raw_attrs)?;
        let content_type = attrs
            .content_type
            .ok_or(TimestampError::MissingSignedAttribute {
                attribute: "content-type",
            })?;
        if content_type != ID_CT_TST_INFO {
            return Err(TimestampError::ContentTypeAttributeMismatch {
                got: content_type.to_string(),
            });
        }
        let message_digest =
            attrs
                .message_digest
                .as_deref()
                .ok_or(TimestampError::MissingSignedAttribute {
                    attribute: "message-digest",
                })?;
        let digest_alg = required_hash(&token.signer.digest_alg, "signerInfo digestAlgorithm")?;
        let computed = digest_alg.digest(token.tst_der);
        if computed != message_digest {
            return Err(TimestampError::MessageDigestMismatch {
                expected: hex::encode(&computed),
                got: hex::encode(message_digest),
            });
        }
        check_signing_certificate(&attrs, &signer.der)?;

        // Signature over DER(SET OF signed attributes).
        let signed = signed_attrs_der(raw_attrs)?;
        verify_signature(
            &token.signer.signature_algorithm,
            Some(digest_alg),
            &signer.spki,
            &signed,
            token.signer.signature.as_bytes(),
        )
        .map_err(|e| match e {
            SigCheck::Invalid => TimestampError::SignatureInvalid,
            SigCheck::Unsupported(algorithm) => {
                TimestampError::UnsupportedSignatureAlgorithm { algorithm }
            }
        })?;

        // Hybrid model: every certificate of the chain must be valid at genTime.
        let (secs, nanos) = (token.gen_time_unix, token.gen_time_nanos);
        if let Some(cert) = path.iter().find(|c| !c.valid_at(secs, nanos)) {
            return Err(TimestampError::CertificateNotValidAtGenTime {
                subject: cert.subject.clone(),
                gen_time: rfc3339(secs, nanos),
                not_before: rfc3339(cert.not_before, 0),
                not_after: rfc3339(cert.not_after, 0),
            });
        }

        Ok(VerifiedTimestamp {
            gen_time_unix: secs,
            gen_time_nanos: nanos,
            serial: integer_bytes(token.tst.serial_number),
            policy: token.tst.policy.to_string(),
            nonce: token.tst.nonce.map(integer_bytes),
        })
    }

    /// If the token embeds a certificate matching the signer identifier, decides whether it is
    /// acceptable: byte-identical to the trusted leaf (`Ok(None)`: use the trusted chain), or
    /// issued by a CA of the trusted chain with the timeStamping EKU (`Ok(Some((cert, issuer)))`).
    /// Anything else is [`TimestampError::SignerNotTrusted`]. No embedded match is `Ok(None)`.
    fn embedded_signer(
        &self,
        certificates: &[AnyRef<'_>],
        sid: &SignerIdentifier,
    ) -> Result<Option<(ChainCert, usize)>, TimestampError> {
        let mut candidate = None;
        for choice in certificates {
            // Only plain certificates (SEQUENCE); other CertificateChoices are ignored.
            if choice.tag() != Tag::Sequence {
                continue;
            }
            let der = choice
                .to_der()
                .map_err(|e| TimestampError::malformed("embedded certificate", e))?;
            let cert = ChainCert::parse(&der).map_err(|detail| TimestampError::Malformed {
                what: "embedded certificate",
                detail,
            })?;
            if cert.matches_sid(sid) {
                candidate = Some(cert);
                break;
            }
        }
        let Some(cert) = candidate else {
            return Ok(None);
        };
        if self.chain.first().is_some_and(|leaf| leaf.der == cert.der) {
            return Ok(None);
        }
        let untrusted = |reason| TimestampError::SignerNotTrusted {
            signer: describe_sid(sid),
            reason,
        };
        for (index, issuer) in self.chain.iter().enumerate() {
            if !issuer.is_ca || issuer.key_cert_sign == Some(false) {
                continue;
            }
            match cert.is_signed_by(issuer) {
                Ok(true) => {
                    if !cert.timestamping_eku {
                        return Err(untrusted(
                            "the embedded signer certificate lacks the timeStamping extended key usage",
                        ));
                    }
                    return Ok(Some((cert, index)));
                }
                Ok(false) | Err(SigCheck::Invalid) => {}
                Err(SigCheck::Unsupported(algorithm)) => {
                    return Err(TimestampError::UnsupportedSignatureAlgorithm { algorithm });
                }
            }
        }
        Err(untrusted(
            "the embedded signer certificate is neither the trusted tsa certificate nor issued by its chain",
        ))
    }
}

/// Checks that chain certificate `issuer_index` may issue certificate `issued_index`.
fn check_issuer(
    issuer: &ChainCert,
    issuer_index: usize,
    issued_index: usize,
) -> Result<(), TimestampError> {
    let fail = |reason| TimestampError::IssuerNotCa {
        index: issuer_index,
        subject: issuer.subject.clone(),
        reason,
    };
    if !issuer.is_ca {
        return Err(fail("basic constraints do not mark it as a ca"));
    }
    if issuer.key_cert_sign == Some(false) {
        return Err(fail("key usage lacks keyCertSign"));
    }
    // CAs below this issuer in the chain are chain[1..=issued_index]: issued_index of them.
    if issuer
        .path_len
        .is_some_and(|max| usize::from(max) < issued_index)
    {
        return Err(fail("path length constraint exceeded"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use std::path::PathBuf;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");

    struct Case {
        chains: Vec<Vec<Vec<u8>>>,
        responses: Vec<Vec<u8>>,
        signed_bytes: Vec<u8>,
    }

    fn case_dir(name: &str) -> Option<PathBuf> {
        let root = PathBuf::from(TESTDATA);
        if !root.is_dir() {
            eprintln!("skipping: shared test data not found at {}", root.display());
            return None;
        }
        Some(root.join("conformance/bundle-verify").join(name))
    }

    fn read_json(path: &std::path::Path) -> serde_json::Value {
        let text = std::fs::read_to_string(path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn b64(v: &serde_json::Value) -> Vec<u8> {
        // Some fixtures were made with `base64` and carry line breaks, which Go's decoder skips.
        let text: String = v.as_str().unwrap().split_whitespace().collect();
        STANDARD.decode(text).unwrap()
    }

    fn load_dir(dir: &std::path::Path) -> Case {
        let bundle = read_json(&dir.join("bundle.sigstore.json"));
        let root = read_json(&dir.join("trusted_root.json"));
        let chains = root["timestampAuthorities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tsa| {
                tsa["certChain"]["certificates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| b64(&c["rawBytes"]))
                    .collect()
            })
            .collect();
        let responses =
            bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| b64(&t["signedTimestamp"]))
                .collect();
        let signed_bytes = if bundle["messageSignature"].is_object() {
            b64(&bundle["messageSignature"]["signature"])
        } else {
            b64(&bundle["dsseEnvelope"]["signatures"][0]["sig"])
        };
        Case {
            chains,
            responses,
            signed_bytes,
        }
    }

    fn load(name: &str) -> Option<Case> {
        case_dir(name).map(|d| load_dir(&d))
    }

    /// Verifies every response of the case against every TSA of its trust root; returns, per
    /// response, the first success or the last error.
    fn verify_case(case: &Case) -> Vec<Result<VerifiedTimestamp, TimestampError>> {
        let verifiers: Vec<TsaVerifier> = case
            .chains
            .iter()
            .map(|c| TsaVerifier::new(c).unwrap())
            .collect();
        assert!(!verifiers.is_empty());
        case.responses
            .iter()
            .map(|resp| {
                let mut last = Err(TimestampError::EmptyChain);
                for v in &verifiers {
                    last = v.verify(resp, &case.signed_bytes);
                    if last.is_ok() {
                        break;
                    }
                }
                last
            })
            .collect()
    }

    fn single(name: &str) -> Option<Result<VerifiedTimestamp, TimestampError>> {
        let case = load(name)?;
        let mut results = verify_case(&case);
        assert_eq!(results.len(), 1, "{name}");
        results.pop()
    }

    #[test]
    fn happy_path_verifies() {
        let Some(result) = single("rekor2-happy-path") else {
            return;
        };
        let ts = result.unwrap();
        assert_eq!(ts.policy, "1.3.6.1.4.1.57264.2");
        // openssl ts -reply -text: "Time stamp: Jun 12 12:02:20 2025 GMT"
        assert_eq!(
            rfc3339(ts.gen_time_unix, ts.gen_time_nanos),
            "2025-06-12T12:02:20Z"
        );
        assert_eq!(
            hex::encode(&ts.serial),
            "559742c71edae5b645233a7ac43a8d033142a5ac"
        );
        assert_eq!(
            ts.nonce.as_deref().map(hex::encode),
            Some("8f59f2afe69cc8a8".to_owned())
        );
    }

    #[test]
    fn valid_timestamps_verify() {
        for name in [
            "rekor2-timestamp-with-embedded-cert",
            "rekor2-timestamp-without-embedded-cert",
            "rekor2-timestamp-with-expired-cert-chain",
            // These fail bundle verification for reasons outside the token (trust-root validFor,
            // signing-certificate lifetime); the token itself is valid.
            "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
            "rekor2-timestamp-with-incorrect-time_fail",
        ] {
            let Some(result) = single(name) else { return };
            if let Err(e) = result {
                panic!("{name}: {e}");
            }
        }
    }

    #[test]
    fn every_valid_conformance_timestamp_verifies() {
        let Some(dir) = case_dir("") else { return };
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with("_fail") || !path.join("trusted_root.json").is_file() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(path.join("bundle.sigstore.json")) else {
                continue;
            };
            let bundle: serde_json::Value = serde_json::from_str(&text).unwrap();
            if !bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
                .is_array()
            {
                continue;
            }
            let case = load_dir(&path);
            if case.chains.is_empty() {
                continue;
            }
            for result in verify_case(&case) {
                if let Err(e) = result {
                    panic!("{name}: {e}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 4, "only {checked} timestamps checked");
    }

    #[test]
    fn payload_mismatch_is_imprint_mismatch() {
        let Some(result) = single("rekor2-timestamp-payload-mismatch_fail") else {
            return;
        };
        assert!(
            matches!(result, Err(TimestampError::ImprintMismatch { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn untrusted_tsa_is_rejected() {
        for name in [
            "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
            "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        ] {
            let Some(result) = single(name) else { return };
            assert!(
                matches!(result, Err(TimestampError::SignerNotTrusted { .. })),
                "{name}: {result:?}"
            );
        }
    }

    #[test]
    fn gen_time_outside_cert_validity_is_rejected() {
        let Some(result) = single("rekor2-timestamp-outside-tsa-cert-validity_fail") else {
            return;
        };
        match result {
            Err(TimestampError::CertificateNotValidAtGenTime {
                subject, gen_time, ..
            }) => {
                assert!(subject.contains("Test TSA"), "{subject}");
                assert!(gen_time.starts_with("2025-08-07T"), "{gen_time}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_reports_fields() {
        let Some(case) = load("rekor2-timestamp-with-embedded-cert") else {
            return;
        };
        let info = parse_timestamp_response(&case.responses[0]).unwrap();
        assert_eq!(info.imprint_algorithm, "sha256");
        assert_eq!(
            info.imprint,
            digest::digest(&digest::SHA256, &case.signed_bytes).as_ref()
        );
        assert_eq!(info.policy, "1.3.6.1.4.1.57264.2");
        assert_eq!(info.embedded_certificates, 1);
        let without = load("rekor2-timestamp-without-embedded-cert").unwrap();
        let info = parse_timestamp_response(&without.responses[0]).unwrap();
        assert_eq!(info.embedded_certificates, 0);
    }

    #[test]
    fn tampered_responses_error_without_panicking() {
        let Some(case) = load("rekor2-happy-path") else {
            return;
        };
        let verifier = TsaVerifier::new(&case.chains[0]).unwrap();
        let response = &case.responses[0];
        let original = verifier.verify(response, &case.signed_bytes).unwrap();
        let mut accepted = 0;
        for i in 0..response.len() {
            let mut bad = response.clone();
            bad[i] ^= 0x01;
            let _ = parse_timestamp_response(&bad);
            if let Ok(ts) = verifier.verify(&bad, &case.signed_bytes) {
                // Only unsigned, unchecked bytes may change (the unused digestAlgorithms set,
                // versions, an embedded certificate that no longer matches the signer id and is
                // then ignored); what the token attests must not.
                assert_eq!(ts, original, "byte {i}");
                accepted += 1;
            }
        }
        assert!(
            accepted < response.len() / 8,
            "{accepted} tampered responses verified"
        );

        // A flip inside the signed TSTInfo (its last byte, part of the TSA name or nonce) must fail.
        let tst_start = response
            .windows(11)
            .position(|w| {
                w == [
                    0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10,
                ]
            })
            .unwrap();
        let mut bad = response.clone();
        bad[tst_start + 60] ^= 0x01;
        assert!(verifier.verify(&bad, &case.signed_bytes).is_err());
    }

    #[test]
    fn truncated_input_is_malformed() {
        let Some(case) = load("rekor2-happy-path") else {
            return;
        };
        let response = &case.responses[0];
        for len in [0, 1, 2, 10, response.len() / 2, response.len() - 1] {
            let result = parse_timestamp_response(&response[..len]);
            assert!(
                matches!(result, Err(TimestampError::Malformed { .. })),
                "len {len}: {result:?}"
            );
        }
        let verifier = TsaVerifier::new(&case.chains[0]).unwrap();
        assert!(matches!(
            verifier.verify(&response[..response.len() - 1], &case.signed_bytes),
            Err(TimestampError::Malformed { .. })
        ));
    }

    #[test]
    fn oversized_input_is_rejected() {
        let big = vec![0u8; MAX_TIMESTAMP_RESPONSE_LEN + 1];
        assert!(matches!(
            parse_timestamp_response(&big),
            Err(TimestampError::ResponseTooLarge { .. })
        ));
    }

    #[test]
    fn not_granted_status_is_reported() {
        // TimeStampResp { status { rejection(2) } } with no token.
        let der = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02];
        assert_eq!(
            parse_timestamp_response(&der),
            Err(TimestampError::NotGranted { status: 2 })
        );
    }

    #[test]
    fn chain_checks() {
        let Some(case) = load("rekor2-happy-path") else {
            return;
        };
        let chain = &case.chains[0];
        assert_eq!(
            TsaVerifier::new(&[]).unwrap_err(),
            TimestampError::EmptyChain
        );
        // Root first: the root is not issued by the leaf.
        let reversed: Vec<Vec<u8>> = chain.iter().rev().cloned().collect();
        assert!(TsaVerifier::new(&reversed).is_err());
        // The root alone has no timeStamping EKU.
        assert!(matches!(
            TsaVerifier::new(&chain[1..]),
            Err(TimestampError::MissingTimestampingEku { .. })
        ));
        // A chain from another TSA cannot sign for this one.
        let Some(other) = load("rekor2-timestamp-with-expired-cert-chain") else {
            return;
        };
        let foreign = TsaVerifier::new(&other.chains[0]).unwrap();
        assert!(matches!(
            foreign.verify(&case.responses[0], &case.signed_bytes),
            Err(TimestampError::SignerNotTrusted { .. })
        ));
        // Garbage certificate.
        assert!(matches!(
            TsaVerifier::new(&[vec![0x30, 0x00]]),
            Err(TimestampError::InvalidCertificate { index: 0, .. })
        ));
    }

    #[test]
    fn generalized_time_parsing() {
        let t = |s: &str| {
            parse_generalized_time(AnyRef::new(Tag::GeneralizedTime, s.as_bytes()).unwrap())
        };
        assert_eq!(t("20250612120220Z").unwrap(), (1_749_729_740, 0));
        assert_eq!(
            t("20250612120220.5Z").unwrap(),
            (1_749_729_740, 500_000_000)
        );
        assert_eq!(
            t("20250612120220.123456789Z").unwrap(),
            (1_749_729_740, 123_456_789)
        );
        for bad in [
            "20250612120220",
            "20250612120220.Z",
            "20250612120220.1234567890Z",
            "2025061212022Z",
            "20251312120220Z",
            "2025061212022aZ",
            "20250612120260Z",
        ] {
            assert!(
                matches!(t(bad), Err(TimestampError::Malformed { .. })),
                "{bad}"
            );
        }
    }
}

/// Tests against an in-process "virtual TSA": certificates and tokens assembled here and signed
/// with aws-lc-rs keys, to reach the branches the recorded conformance data does not.
#[cfg(test)]
mod virtual_tsa_tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};

    // --- minimal DER writer -------------------------------------------------------------

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let len = content.len();
        let mut out = vec![tag];
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }
    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }
    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &cat(parts))
    }
    fn set(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x31, &cat(parts))
    }
    fn ctx(n: u8, parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0xa0 | n, &cat(parts))
    }
    fn oid(s: &str) -> Vec<u8> {
        ObjectIdentifier::new_unwrap(s).to_der().unwrap()
    }
    fn int(bytes: &[u8]) -> Vec<u8> {
        tlv(0x02, bytes)
    }
    fn octets(bytes: &[u8]) -> Vec<u8> {
        tlv(0x04, bytes)
    }
    fn bits(bytes: &[u8]) -> Vec<u8> {
        tlv(0x03, &[&[0u8][..], bytes].concat())
    }
    fn null() -> Vec<u8> {
        vec![0x05, 0x00]
    }
    fn utc(secs: i64) -> Vec<u8> {
        let d = std::time::Duration::from_secs(u64::try_from(secs).unwrap());
        der::asn1::UtcTime::from_unix_duration(d)
            .unwrap()
            .to_der()
            .unwrap()
    }
    fn name(cn: &str) -> Vec<u8> {
        seq(&[set(&[seq(&[oid("2.5.4.3"), tlv(0x0c, cn.as_bytes())])])])
    }
    fn sha256_algid() -> Vec<u8> {
        seq(&[oid("2.16.840.1.101.3.4.2.1")])
    }
    fn sha256(data: &[u8]) -> Vec<u8> {
        HashAlg::Sha256.digest(data)
    }

    // --- keys ---------------------------------------------------------------------------

    enum Key {
        P256(EcdsaKeyPair),
        P384(EcdsaKeyPair),
        Ed25519(Ed25519KeyPair),
        Rsa(aws_lc_rs::rsa::KeyPair, bool),
    }

    impl Key {
        fn p256() -> Self {
            Key::P256(EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap())
        }
        fn spki(&self) -> Vec<u8> {
            match self {
                Key::P256(k) => seq(&[
                    seq(&[oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")]),
                    bits(k.public_key().as_ref()),
                ]),
                Key::P384(k) => seq(&[
                    seq(&[oid("1.2.840.10045.2.1"), oid("1.3.132.0.34")]),
                    bits(k.public_key().as_ref()),
                ]),
                Key::Ed25519(k) => {
                    seq(&[seq(&[oid("1.3.101.112")]), bits(k.public_key().as_ref())])
                }
                Key::Rsa(k, _) => seq(&[
                    seq(&[oid("1.2.840.113549.1.1.1"), null()]),
                    bits(k.public_key().as_ref()),
                ]),
            }
        }
        fn sig_alg(&self) -> Vec<u8> {
            match self {
                Key::P256(_) => seq(&[oid("1.2.840.10045.4.3.2")]),
                Key::P384(_) => seq(&[oid("1.2.840.10045.4.3.3")]),
                Key::Ed25519(_) => seq(&[oid("1.3.101.112")]),
                Key::Rsa(_, false) => seq(&[oid("1.2.840.113549.1.1.11"), null()]),
                Key::Rsa(_, true) => seq(&[
                    oid("1.2.840.113549.1.1.10"),
                    seq(&[
                        ctx(0, &[sha256_algid()]),
                        ctx(1, &[seq(&[oid("1.2.840.113549.1.1.8"), sha256_algid()])]),
                        ctx(2, &[int(&[32])]),
                    ]),
                ]),
            }
        }
        fn sign(&self, msg: &[u8]) -> Vec<u8> {
            let rng = SystemRandom::new();
            match self {
                Key::P256(k) | Key::P384(k) => k.sign(&rng, msg).unwrap().as_ref().to_vec(),
                Key::Ed25519(k) => k.sign(msg).as_ref().to_vec(),
                Key::Rsa(k, pss) => {
                    let mut sig = vec![0; k.public_modulus_len()];
                    let enc: &'static dyn signature::RsaEncoding = if *pss {
                        &signature::RSA_PSS_SHA256
                    } else {
                        &signature::RSA_PKCS1_SHA256
                    };
                    k.sign(enc, &rng, msg, &mut sig).unwrap();
                    sig
                }
            }
        }
    }

    // --- certificates -------------------------------------------------------------------

    const T0: i64 = 1_748_736_000; // 2025-06-01T00:00:00Z

    struct CertSpec<'a> {
        subject: &'a str,
        issuer: &'a str,
        serial: u8,
        not_before: i64,
        not_after: i64,
        ca: bool,
        timestamping: bool,
        ski: u8,
    }

    impl<'a> CertSpec<'a> {
        fn leaf(subject: &'a str, issuer: &'a str) -> Self {
            Self {
                subject,
                issuer,
                serial: 0x11,
                not_before: T0 - 86_400,
                not_after: T0 + 86_400,
                ca: false,
                timestamping: true,
                ski: 0x51,
            }
        }
        fn root(subject: &'a str) -> Self {
            Self {
                subject,
                issuer: subject,
                serial: 0x01,
                not_before: T0 - 10 * 86_400,
                not_after: T0 + 10 * 86_400,
                ca: true,
                timestamping: false,
                ski: 0x01,
            }
        }
        fn build(&self, key: &Key, issuer_key: &Key) -> Vec<u8> {
            let mut exts = vec![seq(&[oid("2.5.29.14"), octets(&octets(&[self.ski; 20]))])];
            if self.ca {
                exts.push(seq(&[
                    oid("2.5.29.19"),
                    tlv(0x01, &[0xff]),
                    octets(&seq(&[tlv(0x01, &[0xff])])),
                ]));
            }
            if self.timestamping {
                exts.push(seq(&[
                    oid("2.5.29.37"),
                    tlv(0x01, &[0xff]),
                    octets(&seq(&[oid("1.3.6.1.5.5.7.3.8")])),
                ]));
            }
            let tbs = seq(&[
                ctx(0, &[int(&[2])]),
                int(&[self.serial]),
                issuer_key.sig_alg(),
                name(self.issuer),
                seq(&[utc(self.not_before), utc(self.not_after)]),
                name(self.subject),
                key.spki(),
                ctx(3, &[seq(&exts)]),
            ]);
            let sig = issuer_key.sign(&tbs);
            seq(&[tbs, issuer_key.sig_alg(), bits(&sig)])
        }
    }

    /// A trusted chain [leaf, root] plus the leaf key.
    struct Tsa {
        root_key: Key,
        root: Vec<u8>,
        leaf_key: Key,
        leaf: Vec<u8>,
    }

    impl Tsa {
        fn with_leaf_key(leaf_key: Key) -> Self {
            let root_key = Key::p256();
            let root = CertSpec::root("Virtual Root").build(&root_key, &root_key);
            let leaf = CertSpec::leaf("Virtual TSA", "Virtual Root").build(&leaf_key, &root_key);
            Self {
                root_key,
                root,
                leaf_key,
                leaf,
            }
        }
        fn new() -> Self {
            Self::with_leaf_key(Key::p256())
        }
        fn verifier(&self) -> TsaVerifier {
            TsaVerifier::new(&[self.leaf.clone(), self.root.clone()]).unwrap()
        }
        fn token(&self) -> Token<'_> {
            Token::new(&self.leaf_key, &self.leaf, "Virtual Root", 0x11)
        }
    }

    // --- tokens -------------------------------------------------------------------------

    const SIGNED: &[u8] = b"the artifact signature bytes";

    struct Token<'a> {
        key: &'a Key,
        status: u8,
        version: u8,
        econtent_type: &'static str,
        imprint: Vec<u8>,
        gen_time: String,
        sid: Vec<u8>,
        sid_is_ski: bool,
        certs: Vec<Vec<u8>>,
        content_type_attr: &'static str,
        message_digest: Option<Vec<u8>>,
        ess_hash: Option<Vec<u8>>,
        reverse_attrs: bool,
        signed_attrs: bool,
        signers: usize,
        corrupt_signature: bool,
    }

    impl<'a> Token<'a> {
        fn new(key: &'a Key, cert: &[u8], issuer: &str, serial: u8) -> Self {
            Self {
                key,
                status: 0,
                version: 1,
                econtent_type: "1.2.840.113549.1.9.16.1.4",
                imprint: sha256(SIGNED),
                gen_time: "20250601000000Z".to_owned(),
                sid: seq(&[name(issuer), int(&[serial])]),
                sid_is_ski: false,
                certs: Vec::new(),
                content_type_attr: "1.2.840.113549.1.9.16.1.4",
                message_digest: None,
                ess_hash: Some(sha256(cert)),
                reverse_attrs: false,
                signed_attrs: true,
                signers: 1,
                corrupt_signature: false,
            }
        }
        fn ski_sid(mut self, ski: u8) -> Self {
            self.sid = tlv(0x80, &[ski; 20]);
            self.sid_is_ski = true;
            self
        }
        fn build(&self) -> Vec<u8> {
            let tst = seq(&[
                int(&[self.version]),
                oid("1.3.6.1.4.1.57264.2"),
                seq(&[sha256_algid(), octets(&self.imprint)]),
                int(&[0x00, 0x9a, 0xbc]),
                tlv(0x18, self.gen_time.as_bytes()),
                seq(&[int(&[1])]),
                int(&[0x42]),
            ]);
            let mut attrs = vec![
                seq(&[
                    oid("1.2.840.113549.1.9.3"),
                    set(&[oid(self.content_type_attr)]),
                ]),
                seq(&[
                    oid("1.2.840.113549.1.9.4"),
                    set(&[octets(
                        self.message_digest.as_deref().unwrap_or(&sha256(&tst)),
                    )]),
                ]),
            ];
            if let Some(h) = &self.ess_hash {
                attrs.push(seq(&[
                    oid("1.2.840.113549.1.9.16.2.47"),
                    set(&[seq(&[seq(&[seq(&[octets(h)])])])]),
                ]));
            }
            attrs.sort();
            if self.reverse_attrs {
                attrs.reverse();
            }
            let mut sig = self.key.sign(&set(&attrs));
            if self.corrupt_signature {
                let last = sig.len() - 1;
                sig[last] ^= 1;
            }
            let mut signer_info = vec![
                int(&[if self.sid_is_ski { 3 } else { 1 }]),
                self.sid.clone(),
                sha256_algid(),
            ];
            if self.signed_attrs {
                signer_info.push(tlv(0xa0, &cat(&attrs)));
            }
            signer_info.extend([self.key.sig_alg(), octets(&sig)]);
            let signer_info = seq(&signer_info);
            let mut signed_data = vec![
                int(&[3]),
                set(&[sha256_algid()]),
                seq(&[oid(self.econtent_type), ctx(0, &[octets(&tst)])]),
            ];
            if !self.certs.is_empty() {
                signed_data.push(tlv(0xa0, &cat(&self.certs)));
            }
            signed_data.push(set(&vec![signer_info; self.signers]));
            seq(&[
                seq(&[int(&[self.status])]),
                seq(&[oid("1.2.840.113549.1.7.2"), ctx(0, &[seq(&signed_data)])]),
            ])
        }
    }

    // --- tests --------------------------------------------------------------------------

    #[test]
    fn virtual_tsa_token_verifies() {
        let tsa = Tsa::new();
        let v = tsa.verifier();
        let ts = v.verify(&tsa.token().build(), SIGNED).unwrap();
        assert_eq!(ts.gen_time_unix, T0);
        assert_eq!(ts.gen_time_nanos, 0);
        assert_eq!(ts.serial, vec![0x9a, 0xbc]);
        assert_eq!(ts.nonce, Some(vec![0x42]));
        assert_eq!(ts.policy, "1.3.6.1.4.1.57264.2");
        assert_eq!(v.leaf_subject(), "CN=Virtual TSA");

        // Embedded leaf, byte-identical to the trusted one; SKI signer identifier.
        let mut token = tsa.token();
        token.certs = vec![tsa.leaf.clone(), tsa.root.clone()];
        v.verify(&token.build(), SIGNED).unwrap();
        v.verify(&tsa.token().ski_sid(0x51).build(), SIGNED)
            .unwrap();

        // Signed attributes not in DER order are verified over their bytes as sent.
        let mut token = tsa.token();
        token.reverse_attrs = true;
        v.verify(&token.build(), SIGNED).unwrap();

        // No ESS signing-certificate attribute is tolerated.
        let mut token = tsa.token();
        token.ess_hash = None;
        v.verify(&token.build(), SIGNED).unwrap();

        // Fractional genTime.
        let mut token = tsa.token();
        token.gen_time = "20250601000000.25Z".to_owned();
        assert_eq!(
            v.verify(&token.build(), SIGNED).unwrap().gen_time_nanos,
            250_000_000
        );
    }

    #[test]
    fn virtual_tsa_other_key_types() {
        let rsa = |pss| {
            Key::Rsa(
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
                pss,
            )
        };
        for key in [
            Key::Ed25519(Ed25519KeyPair::generate().unwrap()),
            Key::P384(EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING).unwrap()),
            rsa(false),
            rsa(true),
        ] {
            let tsa = Tsa::with_leaf_key(key);
            tsa.verifier().verify(&tsa.token().build(), SIGNED).unwrap();
            let mut token = tsa.token();
            token.corrupt_signature = true;
            assert_eq!(
                tsa.verifier().verify(&token.build(), SIGNED),
                Err(TimestampError::SignatureInvalid)
            );
        }
    }

    #[test]
    fn embedded_signer_must_chain_to_the_trusted_root() {
        let tsa = Tsa::new();
        let v = tsa.verifier();

        // A second TSA certificate issued by the trusted root, embedded: accepted.
        let key2 = Key::p256();
        let mut spec = CertSpec::leaf("Virtual TSA 2", "Virtual Root");
        spec.serial = 0x22;
        spec.ski = 0x52;
        let leaf2 = spec.build(&key2, &tsa.root_key);
        let mut token = Token::new(&key2, &leaf2, "Virtual Root", 0x22);
        token.certs = vec![leaf2.clone()];
        v.verify(&token.build(), SIGNED).unwrap();
        // Not embedded: the trust root does not know it.
        token.certs.clear();
        assert!(matches!(
            v.verify(&token.build(), SIGNED),
            Err(TimestampError::SignerNotTrusted { .. })
        ));

        // The same without the timeStamping EKU: rejected.
        spec.timestamping = false;
        let leaf2_no_eku = spec.build(&key2, &tsa.root_key);
        let mut token = Token::new(&key2, &leaf2_no_eku, "Virtual Root", 0x22);
        token.certs = vec![leaf2_no_eku];
        assert!(matches!(
            v.verify(&token.build(), SIGNED),
            Err(TimestampError::SignerNotTrusted { .. })
        ));

        // An impostor reusing the trusted names and serial, under another root key: rejected.
        let impostor_root = Key::p256();
        let impostor_key = Key::p256();
        let impostor =
            CertSpec::leaf("Virtual TSA", "Virtual Root").build(&impostor_key, &impostor_root);
        let mut token = Token::new(&impostor_key, &impostor, "Virtual Root", 0x11);
        token.certs = vec![impostor.clone()];
        assert!(matches!(
            v.verify(&token.build(), SIGNED),
            Err(TimestampError::SignerNotTrusted { .. })
        ));
        // Without embedding, the impostor matches the trusted leaf's sid but not its key.
        token.certs.clear();
        token.ess_hash = Some(sha256(&tsa.leaf));
        assert_eq!(
            v.verify(&token.build(), SIGNED),
            Err(TimestampError::SignatureInvalid)
        );
    }

    #[test]
    fn each_check_has_its_variant() {
        let tsa = Tsa::new();
        let v = tsa.verifier();
        let check = |token: &Token<'_>| v.verify(&token.build(), SIGNED).unwrap_err();

        let mut t = tsa.token();
        t.status = 2;
        assert_eq!(check(&t), TimestampError::NotGranted { status: 2 });
        let mut t = tsa.token();
        t.status = 1;
        v.verify(&t.build(), SIGNED).unwrap();

        let mut t = tsa.token();
        t.econtent_type = "1.2.840.113549.1.7.1";
        assert!(matches!(check(&t), TimestampError::WrongContentType { .. }));

        let mut t = tsa.token();
        t.signers = 2;
        assert_eq!(check(&t), TimestampError::SignerInfoCount { count: 2 });
        t.signers = 0;
        assert_eq!(check(&t), TimestampError::SignerInfoCount { count: 0 });

        let mut t = tsa.token();
        t.version = 2;
        assert_eq!(check(&t), TimestampError::UnsupportedVersion { version: 2 });

        assert!(matches!(
            v.verify(&tsa.token().build(), b"other bytes").unwrap_err(),
            TimestampError::ImprintMismatch { .. }
        ));

        assert!(matches!(
            check(&tsa.token().ski_sid(0x99)),
            TimestampError::SignerNotTrusted { .. }
        ));

        let mut t = tsa.token();
        t.signed_attrs = false;
        assert_eq!(check(&t), TimestampError::MissingSignedAttributes);

        let mut t = tsa.token();
        t.content_type_attr = "1.2.840.113549.1.7.1";
        assert!(matches!(
            check(&t),
            TimestampError::ContentTypeAttributeMismatch { .. }
        ));

        let mut t = tsa.token();
        t.message_digest = Some(vec![0; 32]);
        assert!(matches!(
            check(&t),
            TimestampError::MessageDigestMismatch { .. }
        ));

        let mut t = tsa.token();
        t.ess_hash = Some(sha256(&tsa.root));
        assert!(matches!(
            check(&t),
            TimestampError::SigningCertificateMismatch { .. }
        ));

        let mut t = tsa.token();
        t.corrupt_signature = true;
        assert_eq!(check(&t), TimestampError::SignatureInvalid);
    }

    #[test]
    fn gen_time_is_checked_against_every_certificate() {
        let tsa = Tsa::new();
        let v = tsa.verifier();
        let at = |gen_time: &str| {
            let mut t = tsa.token();
            t.gen_time = gen_time.to_owned();
            v.verify(&t.build(), SIGNED)
        };
        // Leaf validity is T0 ± 1 day, both ends inclusive.
        at("20250531000000Z").unwrap();
        at("20250602000000Z").unwrap();
        for outside in ["20250602000000.5Z", "20250530235959Z"] {
            match at(outside) {
                Err(TimestampError::CertificateNotValidAtGenTime { subject, .. }) => {
                    assert_eq!(subject, "CN=Virtual TSA");
                }
                other => panic!("{outside}: {other:?}"),
            }
        }

        // A leaf outliving its root: genTime past the root's notAfter names the root.
        let root_key = Key::p256();
        let mut root_spec = CertSpec::root("Short Root");
        root_spec.not_after = T0 - 3600;
        let root = root_spec.build(&root_key, &root_key);
        let leaf_key = Key::p256();
        let leaf = CertSpec::leaf("Long TSA", "Short Root").build(&leaf_key, &root_key);
        let v = TsaVerifier::new(&[leaf.clone(), root]).unwrap();
        let token = Token::new(&leaf_key, &leaf, "Short Root", 0x11);
        match v.verify(&token.build(), SIGNED) {
            Err(TimestampError::CertificateNotValidAtGenTime { subject, .. }) => {
                assert_eq!(subject, "CN=Short Root");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chain_is_validated_once() {
        let tsa = Tsa::new();
        // Leaf without the timeStamping EKU.
        let mut spec = CertSpec::leaf("Virtual TSA", "Virtual Root");
        spec.timestamping = false;
        let no_eku = spec.build(&tsa.leaf_key, &tsa.root_key);
        assert!(matches!(
            TsaVerifier::new(&[no_eku, tsa.root.clone()]),
            Err(TimestampError::MissingTimestampingEku { .. })
        ));
        // Issuer that is not a CA.
        let mut not_ca = CertSpec::root("Virtual Root");
        not_ca.ca = false;
        let not_ca = not_ca.build(&tsa.root_key, &tsa.root_key);
        assert!(matches!(
            TsaVerifier::new(&[tsa.leaf.clone(), not_ca]),
            Err(TimestampError::IssuerNotCa { index: 1, .. })
        ));
        // Same names, another key: the leaf's signature does not verify.
        let other_key = Key::p256();
        let other_root = CertSpec::root("Virtual Root").build(&other_key, &other_key);
        assert!(matches!(
            TsaVerifier::new(&[tsa.leaf.clone(), other_root]),
            Err(TimestampError::ChainSignatureInvalid { index: 0, .. })
        ));
        // Names that do not chain.
        let stranger = CertSpec::root("Stranger").build(&tsa.root_key, &tsa.root_key);
        assert!(matches!(
            TsaVerifier::new(&[tsa.leaf.clone(), stranger]),
            Err(TimestampError::IssuerMismatch { index: 0, .. })
        ));
        // Too long.
        let long = vec![tsa.root.clone(); MAX_CHAIN_LEN + 1];
        assert!(matches!(
            TsaVerifier::new(&long),
            Err(TimestampError::ChainTooLong { .. })
        ));
        // A leaf alone is its own trust anchor.
        let v = TsaVerifier::new(std::slice::from_ref(&tsa.leaf)).unwrap();
        v.verify(&tsa.token().build(), SIGNED).unwrap();
    }

    #[test]
    fn error_messages_are_one_lowercase_line() {
        let tsa = Tsa::new();
        let mut t = tsa.token();
        t.gen_time = "20250701000000Z".to_owned();
        let e = tsa.verifier().verify(&t.build(), SIGNED).unwrap_err();
        let msg = e.to_string();
        assert_eq!(
            msg,
            "timestamp time 2025-07-01T00:00:00Z is outside the validity of CN=Virtual TSA \
             (2025-05-31T00:00:00Z to 2025-06-02T00:00:00Z)"
        );
        assert!(!msg.contains('\n'));
    }
}
