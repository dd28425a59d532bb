//! The token's signed attributes: decoded, checked, and the exact bytes the signature covers.

use aws_lc_rs::digest;
use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Encode};
use x509_cert::attr::Attribute;

use super::alg::{HashAlg, required_hash};
use super::asn1::{SigningCertificate, SigningCertificateV2};
use super::oid::*;
use super::{MAX_SIGNED_ATTRIBUTES, TimestampError};

/// The signed attributes we check, decoded.
pub(crate) struct SignedAttrs {
    pub(crate) content_type: Option<ObjectIdentifier>,
    pub(crate) message_digest: Option<Vec<u8>>,
    pub(crate) signing_certificate: Option<Vec<u8>>,
    pub(crate) signing_certificate_v2: Option<Vec<u8>>,
}

/// Decodes the signed attributes; each attribute of interest must appear once with one value.
pub(crate) fn decode_signed_attrs(raw: &[AnyRef<'_>]) -> Result<SignedAttrs, TimestampError> {
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
pub(crate) fn check_signing_certificate(
    attrs: &SignedAttrs,
    signer_der: &[u8],
) -> Result<(), TimestampError> {
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
pub(crate) fn signed_attrs_der(raw: &[AnyRef<'_>]) -> Result<Vec<u8>, TimestampError> {
    super::asn1::set_of_der(raw).map_err(|e| TimestampError::malformed("signed attributes", e))
}
