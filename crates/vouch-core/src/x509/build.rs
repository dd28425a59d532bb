//! Building certificates: the TBSCertificate as vouch's issuers emit it (the CA's Fulcio-profile
//! leaves, precertificates and development hierarchy; the TSA's generated chain), its
//! extensions, serials and validity, and signing it. One place, so that every issuer encodes
//! alike and the signature always covers exactly the bytes that are embedded.
//!
//! The signing key stays with the caller (aws-lc-rs in memory, or a PKCS#11 token): signing is
//! a closure over the TBS DER.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SecureRandom;
use der::asn1::{AnyRef, BitString, ObjectIdentifier, OctetString};
use der::oid::AssociatedOid;
use der::{Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use x509_cert::certificate::Version;
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// Why a certificate could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A field does not encode as DER.
    #[error("certificate encoding error")]
    Encoding(#[from] der::Error),
    /// The system random generator failed (no detail from the crypto library).
    #[error("the random generator failed while drawing a serial number")]
    Random,
    /// A validity time cannot be said in X.509 (before 1970, or past 9999).
    #[error("{what} is outside the X.509 time range")]
    TimeRange {
        /// Which time.
        what: &'static str,
    },
}

/// A v3 TBSCertificate as vouch emits it (RFC 5280 §4.1, without the unique identifiers).
/// x509-cert's own type cannot be constructed outside its builder, which wants `signature`
/// crate signers; ours sign with aws-lc-rs or PKCS#11.
#[derive(Sequence, Clone, Debug, PartialEq, Eq)]
pub struct TbsCertificate {
    /// Always v3.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub version: Version,
    /// The serial number (see [`random_serial`]).
    pub serial_number: SerialNumber,
    /// The issuer's signature algorithm (equal to the certificate's `signatureAlgorithm`).
    pub signature: AlgorithmIdentifierOwned,
    /// The issuer's subject name.
    pub issuer: Name,
    /// notBefore / notAfter.
    pub validity: Validity,
    /// The subject name (empty for Fulcio-profile leaves).
    pub subject: Name,
    /// The certified public key.
    pub subject_public_key_info: SubjectPublicKeyInfoOwned,
    /// The extensions, in order.
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    pub extensions: Option<Vec<Extension>>,
}

/// A signed certificate over the TBS bytes exactly as they were signed.
#[derive(Sequence)]
struct SignedCertificate<'a> {
    tbs: AnyRef<'a>,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

impl TbsCertificate {
    /// Encode this TBS, sign the DER with `sign` (an ASN.1 signature over exactly those bytes)
    /// and return the certificate's DER.
    pub fn sign<E: From<BuildError>>(
        &self,
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        let tbs_der = self.to_der().map_err(BuildError::from)?;
        let signature = sign(&tbs_der)?;
        let cert = SignedCertificate {
            tbs: AnyRef::from_der(&tbs_der).map_err(BuildError::from)?,
            signature_algorithm: self.signature.clone(),
            signature: BitString::from_bytes(&signature).map_err(BuildError::from)?,
        };
        Ok(cert.to_der().map_err(BuildError::from)?)
    }
}

/// An extension of a type that knows its own OID (the x509-cert PKIX extensions).
pub fn extension<T: Encode + AssociatedOid>(
    critical: bool,
    value: &T,
) -> Result<Extension, BuildError> {
    extension_with_oid(T::OID, critical, value)
}

/// An extension `oid` whose extnValue is the DER of `value`.
pub fn extension_with_oid<T: Encode>(
    oid: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension, BuildError> {
    extension_raw(oid, critical, value.to_der()?)
}

/// An extension `oid` whose extnValue is `der`, already encoded.
pub fn extension_raw(
    oid: ObjectIdentifier,
    critical: bool,
    der: Vec<u8>,
) -> Result<Extension, BuildError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(der)?,
    })
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (an identifier, not a
/// security property).
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        spki.subject_public_key.raw_bytes(),
    )
    .as_ref()
    .to_vec()
}

/// A positive, minimally encoded 159-bit random serial number (CA/B BR §7.1: ≥ 64 random bits).
pub fn random_serial(rng: &dyn SecureRandom) -> Result<SerialNumber, BuildError> {
    let mut b = [0u8; 20];
    rng.fill(&mut b).map_err(|_| BuildError::Random)?;
    b[0] = (b[0] & 0x7f) | 0x40;
    Ok(SerialNumber::new(&b)?)
}

/// An X.509 time at whole seconds (UTCTime up to 2049, GeneralizedTime after, as DER wants).
pub fn x509_time(t: SystemTime, what: &'static str) -> Result<Time, BuildError> {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| BuildError::TimeRange { what })?
        .as_secs();
    let dt = der::DateTime::from_unix_duration(Duration::from_secs(secs))
        .map_err(|_| BuildError::TimeRange { what })?;
    Ok(Time::from(dt))
}

/// The validity `[not_before, not_before + lifetime]`.
pub fn validity(not_before: SystemTime, lifetime: Duration) -> Result<Validity, BuildError> {
    let not_after = not_before
        .checked_add(lifetime)
        .ok_or(BuildError::TimeRange { what: "notAfter" })?;
    Ok(Validity::new(
        x509_time(not_before, "notBefore")?,
        x509_time(not_after, "notAfter")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    use std::str::FromStr;
    use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};

    #[test]
    fn a_signed_certificate_parses_and_embeds_the_signed_bytes() {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let spki_der = key.public_key().as_der().unwrap();
        let spki = SubjectPublicKeyInfoOwned::from_der(spki_der.as_ref()).unwrap();
        let name = Name::from_str("CN=test root,O=vouch").unwrap();
        let alg = AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        };
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial(&rng).unwrap(),
            signature: alg,
            issuer: name.clone(),
            validity: validity(SystemTime::now(), Duration::from_secs(3600)).unwrap(),
            subject: name,
            subject_public_key_info: spki.clone(),
            extensions: Some(vec![
                extension(
                    true,
                    &BasicConstraints {
                        ca: true,
                        path_len_constraint: Some(0),
                    },
                )
                .unwrap(),
                extension(true, &KeyUsage(KeyUsages::KeyCertSign.into())).unwrap(),
                extension(
                    false,
                    &SubjectKeyIdentifier(OctetString::new(key_identifier(&spki)).unwrap()),
                )
                .unwrap(),
            ]),
        };
        let mut signed = Vec::new();
        let der = tbs
            .sign(|m: &[u8]| -> Result<Vec<u8>, BuildError> {
                signed = m.to_vec();
                Ok(key.sign(&rng, m).unwrap().as_ref().to_vec())
            })
            .unwrap();
        let cert = x509_cert::Certificate::from_der(&der).unwrap();
        assert_eq!(cert.tbs_certificate().to_der().unwrap(), signed);
        assert_eq!(cert.tbs_certificate().version(), Version::V3);
        let serial = cert.tbs_certificate().serial_number().as_bytes();
        assert_eq!((serial.len(), serial[0] & 0xc0), (20, 0x40));
        let parsed = crate::x509::Certificate::from_der(&der).unwrap();
        parsed.verify_signed_by(&parsed).unwrap();
    }

    #[test]
    fn times_outside_x509_are_named() {
        let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(
            x509_time(before_1970, "notBefore"),
            Err(BuildError::TimeRange { what: "notBefore" })
        ));
        assert!(matches!(
            validity(SystemTime::now(), Duration::from_secs(u64::MAX / 2)),
            Err(BuildError::TimeRange { .. })
        ));
    }
}
