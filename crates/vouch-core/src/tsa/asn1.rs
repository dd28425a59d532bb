//! The ASN.1 of RFC 3161 (`TimeStampReq`, `TimeStampResp`, `PKIStatusInfo`, `TSTInfo`,
//! `MessageImprint`, `Accuracy`), RFC 5652 (`ContentInfo`, `SignedData`, `SignerInfo`,
//! `Attribute`) and the ESS signing-certificate attributes (RFC 2634, RFC 5035), declared once for
//! the whole workspace with `der` derive and used for decoding and encoding alike: the verifier
//! here, the TSA server (`vouch-tsa`), the TSA client (`vouch-sign`) and git signatures
//! (`vouch-gitsign`).
//!
//! The CMS structures borrow from the input so that what was signed (the signed attributes, the
//! embedded certificates, the `TSTInfo`) stays byte-exact: `der` 0.8 re-sorts every `SET OF` while
//! decoding owned types, so decoding into `cms` types and re-encoding could change signed bytes.
//! [`AnyRef`] re-encodes to exactly the bytes it was decoded from (DER has one length encoding),
//! so an element list such as [`SignerInfoRef::signed_attrs`] can be written back verbatim with
//! [`set_of_der`].

pub use cms::content_info::CmsVersion;
pub use cms::signed_data::SignerIdentifier;
use der::asn1::{AnyRef, BitStringRef, IntRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode, Header, Length, Reader, Sequence, SliceReader, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;

/// `TimeStampReq` (RFC 3161 §2.4.1).
///
/// `certReq` is `BOOLEAN DEFAULT FALSE`: encode `None` rather than `Some(false)`.
#[derive(Sequence)]
pub struct TimeStampReq<'a> {
    /// `version INTEGER { v1(1) }`, kept raw so that any value decodes and can be reported.
    pub version: IntRef<'a>,
    /// What is to be timestamped.
    pub message_imprint: MessageImprint<'a>,
    /// `reqPolicy TSAPolicyId OPTIONAL`.
    pub req_policy: Option<ObjectIdentifier>,
    /// `nonce INTEGER OPTIONAL`.
    pub nonce: Option<IntRef<'a>>,
    /// `certReq BOOLEAN DEFAULT FALSE`.
    pub cert_req: Option<bool>,
    /// `extensions [0] IMPLICIT Extensions OPTIONAL`.
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub extensions: Option<Vec<Extension>>,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }`
#[derive(Sequence)]
pub struct TimeStampResp<'a> {
    /// Whether the request was granted.
    pub status: PkiStatusInfo<'a>,
    /// The token (a CMS `ContentInfo` holding `SignedData`) when granted.
    pub time_stamp_token: Option<ContentInfoRef<'a>>,
}

impl<'a> TimeStampResp<'a> {
    /// A granted (status 0) response carrying `token`.
    pub fn granted(token: ContentInfoRef<'a>) -> Self {
        Self {
            status: PkiStatusInfo {
                status: 0,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(token),
        }
    }
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL, failInfo PKIFailureInfo OPTIONAL }`
#[derive(Sequence)]
pub struct PkiStatusInfo<'a> {
    /// `PKIStatus`: granted(0), grantedWithMods(1), rejection(2) …
    pub status: i64,
    /// `PKIFreeText`, the UTF8Strings undecoded.
    pub status_string: Option<Vec<AnyRef<'a>>>,
    /// `PKIFailureInfo`.
    pub fail_info: Option<BitStringRef<'a>>,
}

/// `ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }` (RFC 5652 §3)
#[derive(Sequence)]
pub struct ContentInfoRef<'a> {
    /// The content type (id-signedData for tokens and signatures).
    pub content_type: ObjectIdentifier,
    /// The content, undecoded.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub content: AnyRef<'a>,
}

/// `SignedData` (RFC 5652 §5.1), borrowing so signed bytes stay byte-exact.
#[derive(Sequence)]
pub struct SignedDataRef<'a> {
    /// `CMSVersion` (1 for id-data content, 3 for a `TSTInfo`).
    pub version: CmsVersion,
    /// `digestAlgorithms`: the whole `SET OF DigestAlgorithmIdentifier`.
    pub digest_algorithms: AnyRef<'a>,
    /// What is signed (or, detached, only its type).
    pub encap_content_info: EncapsulatedContentInfoRef<'a>,
    /// `certificates [0] IMPLICIT CertificateSet OPTIONAL`, each `CertificateChoices` undecoded.
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub certificates: Option<Vec<AnyRef<'a>>>,
    /// `crls [1] IMPLICIT RevocationInfoChoices OPTIONAL`, undecoded.
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub crls: Option<Vec<AnyRef<'a>>>,
    /// `signerInfos`: the whole `SET OF SignerInfo` (see [`set_elements`]).
    pub signer_infos: AnyRef<'a>,
}

/// `EncapsulatedContentInfo ::= SEQUENCE { eContentType OID, eContent [0] EXPLICIT OCTET STRING OPTIONAL }`
#[derive(Sequence)]
pub struct EncapsulatedContentInfoRef<'a> {
    /// `eContentType`.
    pub econtent_type: ObjectIdentifier,
    /// `eContent` (absent in a detached signature).
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub econtent: Option<&'a OctetStringRef>,
}

/// `SignerInfo` (RFC 5652 §5.3); attributes kept as raw elements in their original order.
#[derive(Sequence)]
pub struct SignerInfoRef<'a> {
    /// `CMSVersion` (1 with `IssuerAndSerialNumber`, 3 with a subject key identifier).
    pub version: CmsVersion,
    /// `sid SignerIdentifier`: which certificate signed, exactly as encoded (a name written with
    /// unsorted multi-valued RDNs survives); see [`SignerInfoRef::signer_identifier`].
    pub sid: AnyRef<'a>,
    /// `digestAlgorithm`.
    pub digest_alg: AlgorithmIdentifierOwned,
    /// `signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL`: each `Attribute` exactly as encoded;
    /// the signature covers [`set_of_der`] of them.
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub signed_attrs: Option<Vec<AnyRef<'a>>>,
    /// `signatureAlgorithm`.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// `signature`.
    pub signature: &'a OctetStringRef,
    /// `unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL`, each exactly as encoded.
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub unsigned_attrs: Option<Vec<AnyRef<'a>>>,
}

impl SignerInfoRef<'_> {
    /// The signer identifier, decoded.
    pub fn signer_identifier(&self) -> der::Result<SignerIdentifier> {
        self.sid.decode_as()
    }
}

/// `IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber CertificateSerialNumber }`
/// (RFC 5652 §10.2.4), both exactly as encoded in the certificate.
#[derive(Sequence)]
pub struct IssuerAndSerialNumberRef<'a> {
    /// The issuer `Name`.
    pub issuer: AnyRef<'a>,
    /// The serial number `INTEGER`.
    pub serial_number: AnyRef<'a>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber, … }`
/// (RFC 5035 §4, in an ESS certificate identifier), both undecoded.
#[derive(Sequence)]
pub struct IssuerSerialRef<'a> {
    /// `GeneralNames` naming the issuer (a directoryName).
    pub issuer: AnyRef<'a>,
    /// The serial number `INTEGER`.
    pub serial_number: AnyRef<'a>,
}

/// `Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue }` (RFC 5652 §5.3),
/// borrowing its values.
#[derive(Sequence)]
pub struct AttributeRef<'a> {
    /// `attrType`.
    pub attr_type: ObjectIdentifier,
    /// `attrValues`: the whole `SET OF`, see [`AttributeRef::single_value`].
    pub attr_values: AnyRef<'a>,
}

impl<'a> AttributeRef<'a> {
    /// The attribute's only value, or `None` when it has none or several.
    pub fn single_value(&self) -> der::Result<Option<AnyRef<'a>>> {
        let values = set_elements(self.attr_values)?;
        Ok(match values.as_slice() {
            [value] => Some(*value),
            _ => None,
        })
    }
}

/// `TSTInfo` (RFC 3161 §2.4.2).
#[derive(Sequence)]
pub struct TstInfo<'a> {
    /// `version INTEGER { v1(1) }`.
    pub version: i64,
    /// The TSA's policy.
    pub policy: ObjectIdentifier,
    /// The hash of what was timestamped.
    pub message_imprint: MessageImprint<'a>,
    /// `serialNumber`.
    pub serial_number: IntRef<'a>,
    /// `genTime GeneralizedTime`, kept raw (fractions of a second vary by TSA).
    pub gen_time: AnyRef<'a>,
    /// `accuracy`.
    pub accuracy: Option<Accuracy>,
    /// `ordering BOOLEAN DEFAULT FALSE` (encode `None` rather than `Some(false)`).
    pub ordering: Option<bool>,
    /// `nonce`, echoed from the request.
    pub nonce: Option<IntRef<'a>>,
    /// `tsa [0] GeneralName OPTIONAL`, undecoded.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<AnyRef<'a>>,
    /// `extensions [1] IMPLICIT Extensions OPTIONAL`, undecoded.
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub extensions: Option<Vec<AnyRef<'a>>>,
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`
#[derive(Sequence)]
pub struct MessageImprint<'a> {
    /// The hash algorithm.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// The hash.
    pub hashed_message: &'a OctetStringRef,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL }`
#[derive(Sequence)]
pub struct Accuracy {
    /// Whole seconds.
    pub seconds: Option<u64>,
    /// Milliseconds (1..=999).
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    /// Microseconds (1..=999).
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies ... OPTIONAL }` (RFC 2634 §5.4)
#[derive(Sequence)]
pub struct SigningCertificate<'a> {
    /// The signer's certificate first.
    pub certs: Vec<EssCertId<'a>>,
    /// `policies`, undecoded.
    pub policies: Option<Vec<AnyRef<'a>>>,
}

/// `ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial IssuerSerial OPTIONAL }`
#[derive(Sequence)]
pub struct EssCertId<'a> {
    /// SHA-1 of the certificate.
    pub cert_hash: &'a OctetStringRef,
    /// `issuerSerial`, undecoded.
    pub issuer_serial: Option<AnyRef<'a>>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }` (RFC 5035 §3)
#[derive(Sequence)]
pub struct SigningCertificateV2<'a> {
    /// The signer's certificate first.
    pub certs: Vec<EssCertIdV2<'a>>,
    /// `policies`, undecoded.
    pub policies: Option<Vec<AnyRef<'a>>>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash OCTET STRING, issuerSerial OPTIONAL }`
#[derive(Sequence)]
pub struct EssCertIdV2<'a> {
    /// The hash algorithm; `None` is the default, SHA-256 (DER omits it).
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// The certificate's hash.
    pub cert_hash: &'a OctetStringRef,
    /// `issuerSerial`, undecoded.
    pub issuer_serial: Option<AnyRef<'a>>,
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

/// The fields of a certificate's `tbsCertificate` that CMS refers to, exactly as encoded.
#[derive(Debug, Clone, Copy)]
pub struct CertificateFields<'a> {
    /// `serialNumber` (the `INTEGER` TLV).
    pub serial_number: AnyRef<'a>,
    /// `issuer` (the `Name` TLV).
    pub issuer: AnyRef<'a>,
    /// `subject` (the `Name` TLV).
    pub subject: AnyRef<'a>,
    /// `subjectPublicKeyInfo` (TLV).
    pub subject_public_key_info: AnyRef<'a>,
}

impl<'a> CertificateFields<'a> {
    /// Splits a DER certificate into its `tbsCertificate` fields without decoding them, so that a
    /// name with unsorted multi-valued RDNs keeps its bytes.
    pub fn from_certificate(cert_der: &'a [u8]) -> der::Result<Self> {
        let cert = RawCertificate::from_der(cert_der)?;
        let mut reader = SliceReader::new(cert.tbs_certificate.value())?;
        // version [0] EXPLICIT DEFAULT v1, then serialNumber, signature, issuer, validity,
        // subject, subjectPublicKeyInfo.
        let mut first: AnyRef<'a> = reader.decode()?;
        if first.tag().is_context_specific() {
            first = reader.decode()?;
        }
        let _signature: AnyRef<'a> = reader.decode()?;
        let issuer: AnyRef<'a> = reader.decode()?;
        let _validity: AnyRef<'a> = reader.decode()?;
        let subject: AnyRef<'a> = reader.decode()?;
        let subject_public_key_info: AnyRef<'a> = reader.decode()?;
        Ok(Self {
            serial_number: first,
            issuer,
            subject,
            subject_public_key_info,
        })
    }

    /// The `IssuerAndSerialNumber` naming this certificate (a CMS signer identifier).
    pub fn issuer_and_serial_number(&self) -> IssuerAndSerialNumberRef<'a> {
        IssuerAndSerialNumberRef {
            issuer: self.issuer,
            serial_number: self.serial_number,
        }
    }
}

/// The elements of a `SET` (or `SET OF`), each exactly as encoded and in their original order.
pub fn set_elements(set: AnyRef<'_>) -> der::Result<Vec<AnyRef<'_>>> {
    if set.tag() != Tag::Set {
        return Err(set.tag().unexpected_error(Some(Tag::Set)).into());
    }
    let mut reader = SliceReader::new(set.value())?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(reader.decode()?);
    }
    Ok(out)
}

/// `SET OF` (tag 0x31) over `elements`, written in the given order.
///
/// This is what a CMS signature covers for signed attributes (RFC 5652 §5.4): the elements of
/// [`SignerInfoRef::signed_attrs`] with the `SET OF` tag in place of `[0] IMPLICIT`.
pub fn set_of_der(elements: &[AnyRef<'_>]) -> der::Result<Vec<u8>> {
    let mut body = Vec::new();
    for element in elements {
        element.encode_to_vec(&mut body)?;
    }
    let mut out = Header::new(Tag::Set, Length::try_from(body.len())?).to_der()?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// `SET OF` (tag 0x31) over full element encodings, sorted as DER requires (X.690 §11.6).
pub fn sorted_set_of_der(mut elements: Vec<Vec<u8>>) -> der::Result<Vec<u8>> {
    elements.sort();
    let refs = elements
        .iter()
        .map(|e| AnyRef::from_der(e))
        .collect::<der::Result<Vec<_>>>()?;
    set_of_der(&refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_elements_keep_their_order_and_bytes() {
        // SET { INTEGER 2, INTEGER 1 }: not in DER order, as some signers write signed attributes.
        let unsorted = [0x31, 0x06, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01];
        let set = AnyRef::from_der(&unsorted).unwrap();
        let elements = set_elements(set).unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(set_of_der(&elements).unwrap(), unsorted);
        // Sorting is explicit.
        let owned = elements.iter().map(|e| e.to_der().unwrap()).collect();
        assert_eq!(
            sorted_set_of_der(owned).unwrap(),
            [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]
        );
        // Not a SET.
        assert!(set_elements(AnyRef::from_der(&[0x30, 0x00]).unwrap()).is_err());
    }
}
