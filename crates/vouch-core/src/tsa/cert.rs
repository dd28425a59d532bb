//! TSA chain certificates: parsed once with everything verification needs.

use cms::cert::IssuerAndSerialNumber;
use cms::signed_data::SignerIdentifier;
use der::asn1::IntRef;
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};

use crate::limits::MAX_CERTIFICATE_LEN;

use super::alg::{SigCheck, verify_signature};
use super::asn1::RawCertificate;
use super::oid::ID_KP_TIME_STAMPING;

/// A certificate with everything verification needs, extracted once.
#[derive(Debug, Clone)]
pub(crate) struct ChainCert {
    pub(crate) der: Vec<u8>,
    /// The same certificate for path validation by webpki ([`crate::x509::verify_path`]).
    pub(crate) x509: crate::x509::Certificate,
    pub(crate) tbs_der: Vec<u8>,
    pub(crate) signature_algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: Vec<u8>,
    pub(crate) spki: SubjectPublicKeyInfoOwned,
    pub(crate) subject: String,
    pub(crate) subject_der: Vec<u8>,
    pub(crate) issuer: String,
    pub(crate) issuer_der: Vec<u8>,
    pub(crate) serial: Vec<u8>,
    pub(crate) ski: Option<Vec<u8>>,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    pub(crate) is_ca: bool,
    pub(crate) path_len: Option<u8>,
    pub(crate) key_cert_sign: Option<bool>,
    pub(crate) timestamping_eku: bool,
}

impl ChainCert {
    pub(crate) fn parse(der: &[u8]) -> Result<Self, String> {
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
        let x509 = crate::x509::Certificate::from_der(der).map_err(|e| e.to_string())?;
        Ok(Self {
            der: der.to_vec(),
            x509,
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
    pub(crate) fn matches_sid(&self, sid: &SignerIdentifier) -> bool {
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
    pub(crate) fn is_signed_by(&self, issuer: &ChainCert) -> Result<bool, SigCheck> {
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
    pub(crate) fn valid_at(&self, secs: i64, nanos: u32) -> bool {
        secs >= self.not_before && (secs < self.not_after || (secs == self.not_after && nanos == 0))
    }
}

/// The big-endian two's complement bytes of an INTEGER, minus a leading 0x00 sign byte
/// (so non-negative values come out as their plain magnitude).
pub(crate) fn integer_bytes(value: IntRef<'_>) -> Vec<u8> {
    let bytes = value.as_bytes();
    match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest.to_vec(),
        _ => bytes.to_vec(),
    }
}

pub(crate) fn describe_sid(sid: &SignerIdentifier) -> String {
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
