//! The ASN.1 of RFC 3161 (`TimeStampResp`, `PKIStatusInfo`, `TSTInfo`, `MessageImprint`,
//! `Accuracy`), RFC 5652 (`ContentInfo`, `SignedData`, `SignerInfo`) and the ESS
//! signing-certificate attributes (RFC 2634, RFC 5035), declared with `der` derive.
//!
//! The CMS structures borrow from the input so that what was signed (the signed attributes, the
//! embedded certificates, the `TSTInfo`) stays byte-exact: `der` 0.8 re-sorts every `SET OF` while
//! decoding owned types, so decoding into `cms` types and re-encoding could change signed bytes.

use cms::content_info::CmsVersion;
use cms::signed_data::SignerIdentifier;
use der::Sequence;
use der::asn1::{AnyRef, BitStringRef, IntRef, ObjectIdentifier, OctetStringRef};
use spki::AlgorithmIdentifierOwned;

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`
#[derive(Sequence)]
pub(crate) struct TimeStampResp<'a> {
    pub(crate) status: PkiStatusInfo<'a>,
    pub(crate) time_stamp_token: Option<ContentInfoRef<'a>>,
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL, failInfo PKIFailureInfo OPTIONAL }`
#[derive(Sequence)]
pub(crate) struct PkiStatusInfo<'a> {
    pub(crate) status: i64,
    pub(crate) status_string: Option<Vec<AnyRef<'a>>>,
    pub(crate) fail_info: Option<BitStringRef<'a>>,
}

/// `ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }` (RFC 5652 §3)
#[derive(Sequence)]
pub(crate) struct ContentInfoRef<'a> {
    pub(crate) content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub(crate) content: AnyRef<'a>,
}

/// `SignedData` (RFC 5652 §5.1), borrowing so signed bytes stay byte-exact.
#[derive(Sequence)]
pub(crate) struct SignedDataRef<'a> {
    pub(crate) version: CmsVersion,
    pub(crate) digest_algorithms: AnyRef<'a>,
    pub(crate) encap_content_info: EncapsulatedContentInfoRef<'a>,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub(crate) certificates: Option<Vec<AnyRef<'a>>>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub(crate) crls: Option<Vec<AnyRef<'a>>>,
    pub(crate) signer_infos: AnyRef<'a>,
}

/// `EncapsulatedContentInfo ::= SEQUENCE { eContentType OID, eContent [0] EXPLICIT OCTET STRING OPTIONAL }`
#[derive(Sequence)]
pub(crate) struct EncapsulatedContentInfoRef<'a> {
    pub(crate) econtent_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub(crate) econtent: Option<&'a OctetStringRef>,
}

/// `SignerInfo` (RFC 5652 §5.3); signed attributes kept as raw elements in their original order.
#[derive(Sequence)]
pub(crate) struct SignerInfoRef<'a> {
    pub(crate) version: CmsVersion,
    pub(crate) sid: SignerIdentifier,
    pub(crate) digest_alg: AlgorithmIdentifierOwned,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub(crate) signed_attrs: Option<Vec<AnyRef<'a>>>,
    pub(crate) signature_algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: &'a OctetStringRef,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub(crate) unsigned_attrs: Option<Vec<AnyRef<'a>>>,
}

/// `TSTInfo` (RFC 3161 §2.4.2).
#[derive(Sequence)]
pub(crate) struct TstInfo<'a> {
    pub(crate) version: i64,
    pub(crate) policy: ObjectIdentifier,
    pub(crate) message_imprint: MessageImprint<'a>,
    pub(crate) serial_number: IntRef<'a>,
    pub(crate) gen_time: AnyRef<'a>,
    pub(crate) accuracy: Option<Accuracy>,
    pub(crate) ordering: Option<bool>,
    pub(crate) nonce: Option<IntRef<'a>>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub(crate) tsa: Option<AnyRef<'a>>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub(crate) extensions: Option<Vec<AnyRef<'a>>>,
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`
#[derive(Sequence)]
pub(crate) struct MessageImprint<'a> {
    pub(crate) hash_algorithm: AlgorithmIdentifierOwned,
    pub(crate) hashed_message: &'a OctetStringRef,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL }`
#[derive(Sequence)]
pub(crate) struct Accuracy {
    pub(crate) seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub(crate) micros: Option<u16>,
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies ... OPTIONAL }` (RFC 2634 §5.4)
#[derive(Sequence)]
pub(crate) struct SigningCertificate<'a> {
    pub(crate) certs: Vec<EssCertId<'a>>,
    pub(crate) policies: Option<Vec<AnyRef<'a>>>,
}

/// `ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial IssuerSerial OPTIONAL }`
#[derive(Sequence)]
pub(crate) struct EssCertId<'a> {
    pub(crate) cert_hash: &'a OctetStringRef,
    pub(crate) issuer_serial: Option<AnyRef<'a>>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }` (RFC 5035 §3)
#[derive(Sequence)]
pub(crate) struct SigningCertificateV2<'a> {
    pub(crate) certs: Vec<EssCertIdV2<'a>>,
    pub(crate) policies: Option<Vec<AnyRef<'a>>>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash OCTET STRING, issuerSerial OPTIONAL }`
#[derive(Sequence)]
pub(crate) struct EssCertIdV2<'a> {
    pub(crate) hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub(crate) cert_hash: &'a OctetStringRef,
    pub(crate) issuer_serial: Option<AnyRef<'a>>,
}

/// A certificate split so the exact signed `tbsCertificate` bytes are at hand.
#[derive(Sequence)]
pub(crate) struct RawCertificate<'a> {
    pub(crate) tbs_certificate: AnyRef<'a>,
    pub(crate) signature_algorithm: AnyRef<'a>,
    pub(crate) signature: BitStringRef<'a>,
}

/// `RSASSA-PSS-params` (RFC 4055 §3.1); absent fields take the SHA-1 defaults, which we reject.
#[derive(Sequence)]
pub(crate) struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub(crate) hash_algorithm: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub(crate) mask_gen_algorithm: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub(crate) salt_length: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    pub(crate) trailer_field: Option<u8>,
}
