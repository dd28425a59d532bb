//! The signature format: a detached CMS (RFC 5652) `SignedData` over the git payload, as gitsign
//! writes it (protocols §10.3), armoured as PEM `SIGNED MESSAGE`.
//!
//! * `SignedData` version 1, digest algorithms {sha256}, `encapContentInfo` = id-data with no
//!   content (detached), `certificates` = the leaf only.
//! * One `SignerInfo` (version 1, `IssuerAndSerialNumber`), signed attributes contentType,
//!   signingTime and messageDigest, ecdsa-with-SHA256 over the DER `SET OF` signed attributes.
//! * Unsigned attributes (beyond gitsign, so that verification needs no network):
//!   [`OID_TLOG_ENTRY`] holds the transparency log entry and [`OID_TIMESTAMP_TOKEN`] the RFC 3161
//!   token over the signature.
//!
//! The CMS structures are the workspace's one declaration, [`vouch_core::tsa::asn1`], which
//! borrows from the input: the signed attributes and the leaf certificate are handed on exactly as
//! the signer encoded them, never decoded and re-encoded (which would re-sort `SET OF`s and change
//! the bytes the signature covers).

use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, OctetStringRef, SetOfVec, UtcTime};
use der::{Any, AnyRef, Decode, Encode, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use vouch_core::tsa::asn1::{
    AttributeRef, CertificateFields, ContentInfoRef, EncapsulatedContentInfoRef, SignedDataRef,
    SignerInfoRef, TimeStampResp, set_elements, set_of_der,
};
use x509_cert::attr::Attribute;

use cms::content_info::CmsVersion;
use cms::signed_data::SignerIdentifier;

/// id-data (RFC 5652).
pub const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// id-signedData (RFC 5652).
pub const OID_SIGNED_DATA: ObjectIdentifier = vouch_core::tsa::oid::ID_SIGNED_DATA;
/// id-contentType signed attribute.
pub const OID_CONTENT_TYPE: ObjectIdentifier = vouch_core::tsa::oid::ID_CONTENT_TYPE;
/// id-messageDigest signed attribute.
pub const OID_MESSAGE_DIGEST: ObjectIdentifier = vouch_core::tsa::oid::ID_MESSAGE_DIGEST;
/// id-signingTime signed attribute.
pub const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// id-aa-timeStampToken (RFC 3161 appendix A): the `TimeStampToken` over the signature, the
/// attribute gitsign uses too.
pub const OID_TIMESTAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// SHA-256.
pub const OID_SHA256: ObjectIdentifier = vouch_core::tsa::oid::ID_SHA256;
/// ecdsa-with-SHA256.
pub const OID_ECDSA_SHA256: ObjectIdentifier = vouch_core::tsa::oid::ECDSA_WITH_SHA256;

/// PLACEHOLDER arc for vouch's own CMS attributes: `1.3.6.1.4.1.32473` is IANA's *example*
/// Private Enterprise Number, reserved for documentation (RFC 5612). vouch has no PEN of its own
/// yet; this arc is used so that we neither squat on Sigstore's PEN 57264 nor on anyone else's.
/// Replace it (keeping the sub-arcs) once a PEN is registered; verifiers should then accept both.
pub const PLACEHOLDER_ARC: &str = "1.3.6.1.4.1.32473";

/// Unsigned attribute: the transparency log entry for this signature, an OCTET STRING holding
/// the bundle `TransparencyLogEntry` as proto3 JSON (with `canonicalizedBody`, the inclusion
/// proof and checkpoint, and for Rekor v1 the SET). Placeholder arc, see [`PLACEHOLDER_ARC`].
/// (gitsign uses `1.3.6.1.4.1.57264.3.1` with binary protobuf; that is Sigstore's to define.)
pub const OID_TLOG_ENTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.1.1");

/// The PEM label git recognises for x509 signatures.
pub const PEM_LABEL: &str = "SIGNED MESSAGE";

/// Why a CMS signature could not be built or read; each variant names the failed step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// A structure could not be encoded or decoded.
    #[error("{what}: {source}")]
    Der {
        /// Which structure.
        what: &'static str,
        /// The decoder's error, with the position when it knows it.
        #[source]
        source: der::Error,
    },
    /// The signing time cannot be written as a `UTCTime`.
    #[error("signing time {secs} cannot be encoded")]
    SigningTime {
        /// The time given, in Unix seconds.
        secs: i64,
    },
    /// The `ContentInfo` is not a `SignedData`.
    #[error("CMS content type {content_type} is not signedData")]
    NotSignedData {
        /// The content type found.
        content_type: ObjectIdentifier,
    },
    /// The encapsulated content type is not id-data.
    #[error("encapsulated content type {content_type} is not id-data")]
    NotData {
        /// The content type found.
        content_type: ObjectIdentifier,
    },
    /// The signature carries its content.
    #[error("the signature is not detached (it carries its content)")]
    NotDetached,
    /// There is not exactly one `SignerInfo`.
    #[error("expected exactly one signer, found {count}")]
    SignerCount {
        /// How many there are.
        count: usize,
    },
    /// No embedded certificate matches the signer identifier.
    #[error("the signer's certificate is not in the signature")]
    SignerCertificateMissing,
    /// The `SignerInfo` has no signed attributes.
    #[error("the signer has no signed attributes")]
    NoSignedAttributes,
    /// An attribute of interest does not have exactly one value.
    #[error("attribute {oid} must have exactly one value")]
    AttributeValues {
        /// The attribute type.
        oid: ObjectIdentifier,
    },
    /// The messageDigest attribute appears twice.
    #[error("duplicate messageDigest attribute")]
    DuplicateMessageDigest,
    /// The contentType attribute is not id-data.
    #[error("contentType attribute {content_type} is not id-data")]
    ContentTypeNotData {
        /// The content type found.
        content_type: ObjectIdentifier,
    },
    /// A required signed attribute is absent.
    #[error("the {attribute} signed attribute is missing")]
    MissingSignedAttribute {
        /// Its name.
        attribute: &'static str,
    },
    /// The signature is neither PEM nor DER.
    #[error("signature is neither PEM nor DER")]
    NotPemOrDer,
    /// The PEM armour is unusable.
    #[error("signature PEM: {source}")]
    Pem {
        /// Why.
        #[source]
        source: vouch_core::keys::KeyError,
    },
    /// The timestamp response has no token.
    #[error("the timestamp response carries no token")]
    NoTimestampToken,
}

/// `map_err` adapter naming the structure a `der` error is about.
fn der_err(what: &'static str) -> impl Fn(der::Error) -> CmsError {
    move |source| CmsError::Der { what, source }
}

/// The parts of a signature that signing produces before the unsigned attributes are known.
pub struct Unsigned {
    /// DER `SET OF` signed attributes, i.e. what the signature covers.
    pub signed_attrs_der: Vec<u8>,
}

fn attr(oid: ObjectIdentifier, value: Any) -> Result<Attribute, der::Error> {
    let mut values = SetOfVec::new();
    values.insert(value)?;
    Ok(Attribute { oid, values })
}

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: OID_SHA256,
        parameters: None,
    }
}

/// Build the signed attributes for a payload digest (SHA-256) and a signing time (unix seconds).
pub fn signed_attributes(payload_sha256: &[u8], signing_time: i64) -> Result<Unsigned, CmsError> {
    let bad_time = || CmsError::SigningTime { secs: signing_time };
    let secs = u64::try_from(signing_time).map_err(|_| bad_time())?;
    let t = UtcTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map_err(|_| bad_time())?;
    let build = || -> Result<Vec<u8>, der::Error> {
        let mut set = SetOfVec::new();
        set.insert(attr(OID_CONTENT_TYPE, Any::encode_from(&OID_DATA)?)?)?;
        set.insert(attr(OID_SIGNING_TIME, Any::encode_from(&t)?)?)?;
        set.insert(attr(
            OID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(payload_sha256)?)?,
        )?)?;
        set.to_der()
    };
    Ok(Unsigned {
        signed_attrs_der: build().map_err(der_err("signed attributes"))?,
    })
}

/// Assemble the `ContentInfo` DER from the signed attributes, the signature over them, the leaf
/// certificate and the unsigned attributes (`(oid, DER value)`).
///
/// The signed attributes and the leaf are embedded byte for byte as given.
pub fn assemble(
    unsigned: Unsigned,
    signature: &[u8],
    leaf_der: &[u8],
    unsigned_attrs: Vec<(ObjectIdentifier, Vec<u8>)>,
) -> Result<Vec<u8>, CmsError> {
    let fields =
        CertificateFields::from_certificate(leaf_der).map_err(der_err("leaf certificate"))?;
    let leaf_any = AnyRef::from_der(leaf_der).map_err(der_err("leaf certificate"))?;
    let signed_set =
        AnyRef::from_der(&unsigned.signed_attrs_der).map_err(der_err("signed attributes"))?;
    let signed_attrs = set_elements(signed_set).map_err(der_err("signed attributes"))?;

    let unsigned_der = {
        let mut ua = SetOfVec::new();
        for (oid, value) in unsigned_attrs {
            let value = Any::from_der(&value).map_err(der_err("unsigned attribute"))?;
            ua.insert(attr(oid, value).map_err(der_err("unsigned attribute"))?)
                .map_err(der_err("unsigned attributes"))?;
        }
        ua.to_der().map_err(der_err("unsigned attributes"))?
    };
    let unsigned_set = AnyRef::from_der(&unsigned_der).map_err(der_err("unsigned attributes"))?;
    let unsigned_attrs = set_elements(unsigned_set).map_err(der_err("unsigned attributes"))?;

    let encode = || -> Result<Vec<u8>, der::Error> {
        let sid = fields.issuer_and_serial_number().to_der()?;
        let si = SignerInfoRef {
            version: CmsVersion::V1,
            sid: AnyRef::from_der(&sid)?,
            digest_alg: sha256_alg(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: OID_ECDSA_SHA256,
                parameters: None,
            },
            signature: OctetStringRef::new(signature)?,
            unsigned_attrs: (!unsigned_attrs.is_empty()).then_some(unsigned_attrs),
        }
        .to_der()?;
        let signer_infos = set_of_der(&[AnyRef::from_der(&si)?])?;
        let digest_algorithms = set_of_der(&[AnyRef::from_der(&sha256_alg().to_der()?)?])?;
        let sd = SignedDataRef {
            version: CmsVersion::V1,
            digest_algorithms: AnyRef::from_der(&digest_algorithms)?,
            encap_content_info: EncapsulatedContentInfoRef {
                econtent_type: OID_DATA,
                econtent: None,
            },
            certificates: Some(vec![leaf_any]),
            crls: None,
            signer_infos: AnyRef::from_der(&signer_infos)?,
        }
        .to_der()?;
        ContentInfoRef {
            content_type: OID_SIGNED_DATA,
            content: AnyRef::from_der(&sd)?,
        }
        .to_der()
    };
    encode().map_err(der_err("signature"))
}

/// PEM-armour a CMS `ContentInfo` with the `SIGNED MESSAGE` label.
pub fn to_pem(der: &[u8]) -> String {
    vouch_core::keys::pem_encode(PEM_LABEL, der)
}

/// Read a signature: PEM (`SIGNED MESSAGE`, `CMS` or `PKCS7`) or raw DER.
pub fn from_pem_or_der(bytes: &[u8]) -> Result<Vec<u8>, CmsError> {
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| CmsError::NotPemOrDer)?;
    vouch_core::keys::pem_decode(text, &[PEM_LABEL, "CMS", "PKCS7"])
        .map_err(|source| CmsError::Pem { source })
}

/// A parsed detached signature.
#[derive(Debug)]
pub struct ParsedSignature {
    /// The signer's certificate, exactly as embedded (DER).
    pub leaf_der: Vec<u8>,
    /// DER `SET OF` signed attributes, exactly as the signer encoded them: what the signature
    /// covers.
    pub signed_attrs_der: Vec<u8>,
    /// The signature value.
    pub signature: Vec<u8>,
    /// The signature algorithm OID.
    pub signature_algorithm: ObjectIdentifier,
    /// The digest algorithm OID (SHA-256 only is accepted).
    pub digest_algorithm: ObjectIdentifier,
    /// The messageDigest attribute.
    pub message_digest: Vec<u8>,
    /// The signingTime attribute (unix seconds), if present.
    pub signing_time: Option<i64>,
    /// The embedded transparency log entry JSON, if present.
    pub tlog_entry_json: Option<Vec<u8>>,
    /// The embedded RFC 3161 `TimeStampToken` (DER ContentInfo), if present.
    pub timestamp_token: Option<Vec<u8>>,
}

/// Decodes one raw attribute and its single value.
fn single_value<'a>(raw: &AnyRef<'a>) -> Result<(ObjectIdentifier, AnyRef<'a>), CmsError> {
    let a: AttributeRef<'a> = raw.decode_as().map_err(der_err("attribute"))?;
    let value = a
        .single_value()
        .map_err(der_err("attribute"))?
        .ok_or(CmsError::AttributeValues { oid: a.attr_type })?;
    Ok((a.attr_type, value))
}

/// Does the embedded certificate `cert` carry the signer identifier `sid`?
fn names_signer(cert: &x509_cert::Certificate, sid: &SignerIdentifier) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            &isn.issuer == tbs.issuer() && &isn.serial_number == tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(tbs.get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>(),
                Ok(Some((_, k))) if &k == ski)
        }
    }
}

/// Parse a CMS `ContentInfo` (DER) holding a detached gitsign-style `SignedData`.
pub fn parse(der_bytes: &[u8]) -> Result<ParsedSignature, CmsError> {
    let ci = ContentInfoRef::from_der(der_bytes)
        .map_err(der_err("signature is not a CMS ContentInfo"))?;
    if ci.content_type != OID_SIGNED_DATA {
        return Err(CmsError::NotSignedData {
            content_type: ci.content_type,
        });
    }
    let sd: SignedDataRef<'_> = ci
        .content
        .decode_as()
        .map_err(der_err("CMS content is not a SignedData"))?;
    let econtent_type = sd.encap_content_info.econtent_type;
    if econtent_type != OID_DATA {
        return Err(CmsError::NotData {
            content_type: econtent_type,
        });
    }
    if sd.encap_content_info.econtent.is_some() {
        return Err(CmsError::NotDetached);
    }
    let signers = set_elements(sd.signer_infos).map_err(der_err("signerInfos"))?;
    let si: SignerInfoRef<'_> = match signers.as_slice() {
        [si] => si.decode_as().map_err(der_err("SignerInfo"))?,
        other => return Err(CmsError::SignerCount { count: other.len() }),
    };
    let sid = si.signer_identifier().map_err(der_err("SignerInfo"))?;
    let mut leaf_der = None;
    for choice in sd.certificates.iter().flatten() {
        // Only plain certificates (SEQUENCE); other CertificateChoices are skipped.
        if choice.tag() != Tag::Sequence {
            continue;
        }
        let der = choice.to_der().map_err(der_err("embedded certificate"))?;
        let cert =
            x509_cert::Certificate::from_der(&der).map_err(der_err("embedded certificate"))?;
        if names_signer(&cert, &sid) {
            leaf_der = Some(der);
            break;
        }
    }
    let leaf_der = leaf_der.ok_or(CmsError::SignerCertificateMissing)?;
    let signed = si
        .signed_attrs
        .as_deref()
        .ok_or(CmsError::NoSignedAttributes)?;
    let mut message_digest = None;
    let mut content_type_ok = false;
    let mut signing_time = None;
    for raw in signed {
        let a: AttributeRef<'_> = raw.decode_as().map_err(der_err("signed attribute"))?;
        if a.attr_type == OID_MESSAGE_DIGEST {
            let (_, v) = single_value(raw)?;
            let v: &OctetStringRef = v.decode_as().map_err(der_err("messageDigest"))?;
            if message_digest.replace(v.as_bytes().to_vec()).is_some() {
                return Err(CmsError::DuplicateMessageDigest);
            }
        } else if a.attr_type == OID_CONTENT_TYPE {
            let (_, v) = single_value(raw)?;
            let v: ObjectIdentifier = v.decode_as().map_err(der_err("contentType"))?;
            if v != OID_DATA {
                return Err(CmsError::ContentTypeNotData { content_type: v });
            }
            content_type_ok = true;
        } else if a.attr_type == OID_SIGNING_TIME {
            let (_, v) = single_value(raw)?;
            let v: x509_cert::time::Time = v.decode_as().map_err(der_err("signingTime"))?;
            signing_time = i64::try_from(v.to_unix_duration().as_secs()).ok();
        }
    }
    if !content_type_ok {
        return Err(CmsError::MissingSignedAttribute {
            attribute: "contentType",
        });
    }
    let message_digest = message_digest.ok_or(CmsError::MissingSignedAttribute {
        attribute: "messageDigest",
    })?;
    let mut tlog_entry_json = None;
    let mut timestamp_token = None;
    for raw in si.unsigned_attrs.iter().flatten() {
        let a: AttributeRef<'_> = raw.decode_as().map_err(der_err("unsigned attribute"))?;
        if a.attr_type == OID_TLOG_ENTRY {
            let (_, v) = single_value(raw)?;
            let v: &OctetStringRef = v.decode_as().map_err(der_err("log entry attribute"))?;
            tlog_entry_json = Some(v.as_bytes().to_vec());
        } else if a.attr_type == OID_TIMESTAMP_TOKEN {
            let (_, v) = single_value(raw)?;
            timestamp_token = Some(v.to_der().map_err(der_err("timestamp token attribute"))?);
        }
    }
    Ok(ParsedSignature {
        leaf_der,
        signed_attrs_der: set_of_der(signed).map_err(der_err("signed attributes"))?,
        signature: si.signature.as_bytes().to_vec(),
        signature_algorithm: si.signature_algorithm.oid,
        digest_algorithm: si.digest_alg.oid,
        message_digest,
        signing_time,
        tlog_entry_json,
        timestamp_token,
    })
}

/// The `TimeStampToken` (DER) inside a DER `TimeStampResp`.
pub fn token_from_response(resp: &[u8]) -> Result<Vec<u8>, CmsError> {
    let r = TimeStampResp::from_der(resp).map_err(der_err("timestamp response"))?;
    r.time_stamp_token
        .ok_or(CmsError::NoTimestampToken)?
        .to_der()
        .map_err(der_err("timestamp token"))
}

/// Wrap a `TimeStampToken` (DER) as a granted `TimeStampResp`, the form bundles carry.
pub fn response_from_token(token: &[u8]) -> Result<Vec<u8>, CmsError> {
    let token = ContentInfoRef::from_der(token).map_err(der_err("timestamp token"))?;
    TimeStampResp::granted(token)
        .to_der()
        .map_err(der_err("timestamp response"))
}

/// An OCTET STRING value (DER) holding `bytes`.
pub fn octet_string_der(bytes: &[u8]) -> Result<Vec<u8>, CmsError> {
    OctetString::new(bytes)
        .and_then(|o| o.to_der())
        .map_err(der_err("octet string"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let body = parts.concat();
        let len = body.len();
        let mut out = vec![tag];
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(&body);
        out
    }

    fn oid(s: &str) -> Vec<u8> {
        ObjectIdentifier::new_unwrap(s).to_der().unwrap()
    }

    /// A certificate whose subject has a multi-valued RDN written out of DER order: decoding it
    /// with `der` 0.8 and encoding it again sorts the SET and so changes its bytes.
    fn leaf_with_unsorted_rdn() -> Vec<u8> {
        let atv = |o: &str, v: &str| tlv(0x30, &[&oid(o), &tlv(0x0c, &[v.as_bytes()])]);
        let rdn = tlv(0x31, &[&atv("2.5.4.10", "org"), &atv("2.5.4.3", "cn")]);
        let name = tlv(0x30, &[&rdn]);
        let alg = tlv(0x30, &[&oid("1.2.840.10045.4.3.2")]);
        let validity = tlv(
            0x30,
            &[
                &tlv(0x17, &[b"250601000000Z"]),
                &tlv(0x17, &[b"250602000000Z"]),
            ],
        );
        let spki = tlv(
            0x30,
            &[
                &tlv(
                    0x30,
                    &[&oid("1.2.840.10045.2.1"), &oid("1.2.840.10045.3.1.7")],
                ),
                &tlv(0x03, &[&[0u8], &[4u8; 65]]),
            ],
        );
        let tbs = tlv(
            0x30,
            &[
                &tlv(0xa0, &[&tlv(0x02, &[&[2]])]),
                &tlv(0x02, &[&[0x2a]]),
                &alg,
                &name,
                &validity,
                &name,
                &spki,
            ],
        );
        tlv(0x30, &[&tbs, &alg, &tlv(0x03, &[&[0u8], &[1u8; 8]])])
    }

    /// Regression test: parsing decoded the signed attributes and the leaf into owned `cms` types
    /// and encoded them again, which re-sorts every SET OF and so changed the signed bytes.
    #[test]
    fn signed_attributes_and_leaf_are_passed_on_byte_for_byte() {
        let leaf = leaf_with_unsorted_rdn();
        let reencoded = x509_cert::Certificate::from_der(&leaf)
            .unwrap()
            .to_der()
            .unwrap();
        assert_ne!(
            reencoded, leaf,
            "the fixture must be one der re-encodes differently"
        );

        // Signed attributes in reverse DER order, as another signer may write them.
        let sorted = signed_attributes(&[7u8; 32], 1_748_736_000).unwrap();
        let set = AnyRef::from_der(&sorted.signed_attrs_der).unwrap();
        let mut elements = set_elements(set).unwrap();
        elements.reverse();
        let unsorted = set_of_der(&elements).unwrap();
        assert_ne!(unsorted, sorted.signed_attrs_der);

        let der = assemble(
            Unsigned {
                signed_attrs_der: unsorted.clone(),
            },
            b"signature",
            &leaf,
            vec![(OID_TLOG_ENTRY, octet_string_der(b"{}").unwrap())],
        )
        .unwrap();
        let p = parse(&der).unwrap();
        assert_eq!(p.signed_attrs_der, unsorted);
        assert_eq!(p.leaf_der, leaf);
        assert_eq!(p.message_digest, [7u8; 32]);
        assert_eq!(p.signing_time, Some(1_748_736_000));
        assert_eq!(p.tlog_entry_json.as_deref(), Some(&b"{}"[..]));
        assert_eq!(p.signature, b"signature");
    }

    #[test]
    fn timestamp_response_wrap_roundtrip() {
        let token = ContentInfoRef {
            content_type: OID_SIGNED_DATA,
            content: AnyRef::from_der(&[0x30, 0x00]).unwrap(),
        }
        .to_der()
        .unwrap();
        let resp = response_from_token(&token).unwrap();
        assert_eq!(&resp[2..7], &[0x30, 0x03, 0x02, 0x01, 0x00]);
        assert_eq!(token_from_response(&resp).unwrap(), token);
    }

    #[test]
    fn signed_attrs_are_a_der_set() {
        let u = signed_attributes(&[7u8; 32], 1_700_000_000).unwrap();
        assert_eq!(u.signed_attrs_der[0], 0x31);
        let parsed = SetOfVec::<Attribute>::from_der(&u.signed_attrs_der).unwrap();
        assert_eq!(parsed.len(), 3);
    }
}
