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

use anyhow::{Context, Result, anyhow, bail};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

/// id-data (RFC 5652).
pub const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// id-signedData (RFC 5652).
pub const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-contentType signed attribute.
pub const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest signed attribute.
pub const OID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// id-signingTime signed attribute.
pub const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// id-aa-timeStampToken (RFC 3161 appendix A): the `TimeStampToken` over the signature, the
/// attribute gitsign uses too.
pub const OID_TIMESTAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// SHA-256.
pub const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// ecdsa-with-SHA256.
pub const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

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

/// The parts of a signature that signing produces before the unsigned attributes are known.
pub struct Unsigned {
    /// DER `SET OF` signed attributes, i.e. what the signature covers.
    pub signed_attrs_der: Vec<u8>,
    signed_attrs: SetOfVec<Attribute>,
}

fn attr(oid: ObjectIdentifier, value: Any) -> Result<Attribute> {
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
pub fn signed_attributes(payload_sha256: &[u8], signing_time: i64) -> Result<Unsigned> {
    let secs = u64::try_from(signing_time).map_err(|_| anyhow!("signing time before 1970"))?;
    let t = UtcTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map_err(|e| anyhow!("signing time: {e}"))?;
    let mut set = SetOfVec::new();
    set.insert(attr(OID_CONTENT_TYPE, Any::encode_from(&OID_DATA)?)?)?;
    set.insert(attr(OID_SIGNING_TIME, Any::encode_from(&t)?)?)?;
    set.insert(attr(
        OID_MESSAGE_DIGEST,
        Any::encode_from(&OctetString::new(payload_sha256)?)?,
    )?)?;
    let signed_attrs_der = set.to_der()?;
    Ok(Unsigned {
        signed_attrs_der,
        signed_attrs: set,
    })
}

/// Assemble the `ContentInfo` DER from the signed attributes, the signature over them, the leaf
/// certificate and the unsigned attributes (`(oid, DER value)`).
pub fn assemble(
    unsigned: Unsigned,
    signature: &[u8],
    leaf_der: &[u8],
    unsigned_attrs: Vec<(ObjectIdentifier, Vec<u8>)>,
) -> Result<Vec<u8>> {
    let leaf = x509_cert::Certificate::from_der(leaf_der).context("leaf certificate")?;
    let tbs = leaf.tbs_certificate();
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: tbs.issuer().clone(),
        serial_number: tbs.serial_number().clone(),
    });
    let mut ua = SetOfVec::new();
    for (oid, value) in unsigned_attrs {
        ua.insert(attr(oid, Any::from_der(&value)?)?)?;
    }
    let si = SignerInfo {
        version: CmsVersion::V1,
        sid,
        digest_alg: sha256_alg(),
        signed_attrs: Some(unsigned.signed_attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: OID_ECDSA_SHA256,
            parameters: None,
        },
        signature: OctetString::new(signature)?,
        unsigned_attrs: if ua.is_empty() { None } else { Some(ua) },
    };
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(sha256_alg())?;
    let certs = CertificateSet::try_from(vec![CertificateChoices::Certificate(leaf)])?;
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: OID_DATA,
            econtent: None,
        },
        certificates: Some(certs),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![si])?,
    };
    let ci = ContentInfo {
        content_type: OID_SIGNED_DATA,
        content: Any::encode_from(&sd)?,
    };
    Ok(ci.to_der()?)
}

/// PEM-armour a CMS `ContentInfo` with the `SIGNED MESSAGE` label.
pub fn to_pem(der: &[u8]) -> String {
    vouch_core::keys::pem_encode(PEM_LABEL, der)
}

/// Read a signature: PEM (`SIGNED MESSAGE`, `CMS` or `PKCS7`) or raw DER.
pub fn from_pem_or_der(bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.first() == Some(&0x30) {
        return Ok(bytes.to_vec());
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| anyhow!("signature is neither PEM nor DER"))?;
    vouch_core::keys::pem_decode(text, &[PEM_LABEL, "CMS", "PKCS7"])
        .map_err(|e| anyhow!("signature PEM: {e}"))
}

/// A parsed detached signature.
#[derive(Debug)]
pub struct ParsedSignature {
    /// The signer's certificate (DER).
    pub leaf_der: Vec<u8>,
    /// DER `SET OF` signed attributes: what the signature covers.
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

fn single_value(a: &Attribute) -> Result<&Any> {
    match a.values.as_slice() {
        [v] => Ok(v),
        _ => bail!("attribute {} must have exactly one value", a.oid),
    }
}

/// Parse a CMS `ContentInfo` (DER) holding a detached gitsign-style `SignedData`.
pub fn parse(der_bytes: &[u8]) -> Result<ParsedSignature> {
    let ci = ContentInfo::from_der(der_bytes).context("signature is not a CMS ContentInfo")?;
    if ci.content_type != OID_SIGNED_DATA {
        bail!("CMS content type {} is not signedData", ci.content_type);
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .context("CMS content is not a SignedData")?;
    if sd.encap_content_info.econtent_type != OID_DATA {
        bail!(
            "encapsulated content type {} is not id-data",
            sd.encap_content_info.econtent_type
        );
    }
    if sd.encap_content_info.econtent.is_some() {
        bail!("the signature is not detached (it carries its content)");
    }
    let si = match sd.signer_infos.0.as_slice() {
        [si] => si,
        other => bail!("expected exactly one signer, found {}", other.len()),
    };
    let certs: Vec<&x509_cert::Certificate> = sd
        .certificates
        .as_ref()
        .map(|c| {
            c.0.iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(c) => Some(c),
                    CertificateChoices::Other(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let leaf = certs
        .iter()
        .find(|c| {
            let tbs = c.tbs_certificate();
            match &si.sid {
                SignerIdentifier::IssuerAndSerialNumber(isn) => {
                    &isn.issuer == tbs.issuer() && &isn.serial_number == tbs.serial_number()
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(tbs.get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>(),
                        Ok(Some((_, k))) if &k == ski)
                }
            }
        })
        .ok_or_else(|| anyhow!("the signer's certificate is not in the signature"))?;
    let signed = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| anyhow!("the signer has no signed attributes"))?;
    let mut message_digest = None;
    let mut content_type_ok = false;
    let mut signing_time = None;
    for a in signed.iter() {
        if a.oid == OID_MESSAGE_DIGEST {
            let v: OctetString = single_value(a)?.decode_as()?;
            if message_digest.replace(v.as_bytes().to_vec()).is_some() {
                bail!("duplicate messageDigest attribute");
            }
        } else if a.oid == OID_CONTENT_TYPE {
            let v: ObjectIdentifier = single_value(a)?.decode_as()?;
            if v != OID_DATA {
                bail!("contentType attribute {v} is not id-data");
            }
            content_type_ok = true;
        } else if a.oid == OID_SIGNING_TIME {
            let v: x509_cert::time::Time = single_value(a)?.decode_as()?;
            signing_time = i64::try_from(v.to_unix_duration().as_secs()).ok();
        }
    }
    if !content_type_ok {
        bail!("the contentType signed attribute is missing");
    }
    let message_digest =
        message_digest.ok_or_else(|| anyhow!("the messageDigest signed attribute is missing"))?;
    let mut tlog_entry_json = None;
    let mut timestamp_token = None;
    if let Some(ua) = &si.unsigned_attrs {
        for a in ua.iter() {
            if a.oid == OID_TLOG_ENTRY {
                let v: OctetString = single_value(a)?.decode_as()?;
                tlog_entry_json = Some(v.as_bytes().to_vec());
            } else if a.oid == OID_TIMESTAMP_TOKEN {
                timestamp_token = Some(single_value(a)?.to_der()?);
            }
        }
    }
    Ok(ParsedSignature {
        leaf_der: leaf.to_der()?,
        signed_attrs_der: signed.to_der()?,
        signature: si.signature.as_bytes().to_vec(),
        signature_algorithm: si.signature_algorithm.oid,
        digest_algorithm: si.digest_alg.oid,
        message_digest,
        signing_time,
        tlog_entry_json,
        timestamp_token,
    })
}

#[derive(Sequence)]
struct PkiStatusInfoOut {
    status: u8,
}

#[derive(Sequence)]
struct TimeStampRespOut {
    status: PkiStatusInfoOut,
    time_stamp_token: Any,
}

#[derive(Sequence)]
struct TimeStampRespIn {
    status: Any,
    time_stamp_token: Option<Any>,
}

/// The `TimeStampToken` (DER) inside a DER `TimeStampResp`.
pub fn token_from_response(resp: &[u8]) -> Result<Vec<u8>> {
    let r = TimeStampRespIn::from_der(resp).context("timestamp response")?;
    let t = r
        .time_stamp_token
        .ok_or_else(|| anyhow!("the timestamp response carries no token"))?;
    Ok(t.to_der()?)
}

/// Wrap a `TimeStampToken` (DER) as a granted `TimeStampResp`, the form bundles carry.
pub fn response_from_token(token: &[u8]) -> Result<Vec<u8>> {
    Ok(TimeStampRespOut {
        status: PkiStatusInfoOut { status: 0 },
        time_stamp_token: Any::from_der(token)?,
    }
    .to_der()?)
}

/// An OCTET STRING value (DER) holding `bytes`.
pub fn octet_string_der(bytes: &[u8]) -> Result<Vec<u8>> {
    Ok(OctetString::new(bytes)?.to_der()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn timestamp_response_wrap_roundtrip() {
        let token = Any::encode_from(&OID_DATA).unwrap().to_der().unwrap();
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
