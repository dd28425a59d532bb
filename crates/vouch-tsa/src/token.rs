//! Building the DER `TimeStampResp` (RFC 3161 §2.4.2): a CMS `SignedData` (RFC 5652 §5) over a
//! `TSTInfo`, signed attributes contentType, messageDigest and signingCertificateV2 (RFC 5816).
//!
//! The fixed parts (signer identifier, ESSCertIDv2 attribute, certificate set, TSA name) are
//! encoded once; per request only the `TSTInfo`, the messageDigest attribute and the signature
//! are computed. `SET OF` contents are sorted by their encodings as DER requires.

use crate::TsaError;
use crate::cert::{RawLeaf, Signer};
use crate::request::{MessageImprintOut, TimestampRequest};
use aws_lc_rs::digest;
use der::asn1::{Any, AnyRef, GeneralizedTime, Int, ObjectIdentifier, OctetString, Uint};
use der::{Decode, Encode, Header, Length, Sequence, Tag, TagNumber};
use spki::AlgorithmIdentifierOwned;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ID_DATA_SIGNED: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

fn enc(e: der::Error) -> TsaError {
    TsaError::Encoding(e.to_string())
}

/// `tag` + length + concatenated `parts`.
fn tlv(tag: Tag, parts: &[&[u8]]) -> Result<Vec<u8>, TsaError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Header::new(tag, Length::try_from(len).map_err(enc)?)
        .to_der()
        .map_err(enc)?;
    out.reserve(len);
    for p in parts {
        out.extend_from_slice(p);
    }
    Ok(out)
}

fn context(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}

/// A `SET OF` whose elements (full encodings) are sorted as DER requires.
fn set_of(mut elements: Vec<Vec<u8>>) -> Result<Vec<u8>, TsaError> {
    elements.sort();
    let refs: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    tlv(Tag::Set, &refs)
}

/// `Attribute ::= SEQUENCE { attrType OID, attrValues SET OF ANY }` with one value.
fn attribute(oid: ObjectIdentifier, value_der: &[u8]) -> Result<Vec<u8>, TsaError> {
    let oid_der = oid.to_der().map_err(enc)?;
    let values = tlv(Tag::Set, &[value_der])?;
    tlv(Tag::Sequence, &[&oid_der, &values])
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, … }`
#[derive(Sequence)]
struct AccuracyOut {
    seconds: u32,
}

/// `TSTInfo` as encoded (`ordering` is DEFAULT FALSE, so never encoded).
#[derive(Sequence)]
struct TstInfoOut<'a> {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprintOut,
    serial_number: Uint,
    gen_time: GeneralizedTime,
    accuracy: Option<AccuracyOut>,
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<AnyRef<'a>>,
}

/// The parts of every token that do not depend on the request.
pub(crate) struct TokenTemplate {
    policy: ObjectIdentifier,
    /// `SignerIdentifier` (IssuerAndSerialNumber) TLV.
    sid: Vec<u8>,
    /// The signingCertificateV2 attribute TLV.
    signing_cert_attr: Vec<u8>,
    /// The contentType attribute TLV.
    content_type_attr: Vec<u8>,
    /// `digestAlgorithms` SET TLV.
    digest_algorithms: Vec<u8>,
    /// `[0] IMPLICIT CertificateSet` TLV with the whole chain.
    certificates: Vec<u8>,
    /// `GeneralName` directoryName TLV of the TSA (leaf subject), when named.
    tsa_name: Option<Vec<u8>>,
    digest_alg: AlgorithmIdentifierOwned,
    sig_alg: AlgorithmIdentifierOwned,
    accuracy_seconds: Option<u32>,
}

/// What a freshly issued token contains (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The DER `TimeStampResp`.
    pub response_der: Vec<u8>,
    /// `genTime` as Unix seconds.
    pub gen_time_unix: u64,
    /// `serialNumber` content bytes (big-endian, positive).
    pub serial: Vec<u8>,
}

impl TokenTemplate {
    pub(crate) fn new(
        signer: &Signer,
        chain_der: &[Vec<u8>],
        leaf: &RawLeaf,
        policy: ObjectIdentifier,
        include_tsa_name: bool,
        accuracy_seconds: Option<u32>,
    ) -> Result<Self, TsaError> {
        let leaf_der = chain_der
            .first()
            .ok_or_else(|| TsaError::Certificate("empty certificate chain".into()))?;
        let sid = tlv(Tag::Sequence, &[&leaf.issuer, &leaf.serial])?;

        // ESSCertIDv2 { hashAlgorithm DEFAULT sha256 (omitted), certHash, issuerSerial }
        let cert_hash = digest::digest(&digest::SHA256, leaf_der);
        let cert_hash = OctetString::new(cert_hash.as_ref())
            .map_err(enc)?
            .to_der()
            .map_err(enc)?;
        let directory_name = tlv(context(4, true), &[&leaf.issuer])?;
        let general_names = tlv(Tag::Sequence, &[&directory_name])?;
        let issuer_serial = tlv(Tag::Sequence, &[&general_names, &leaf.serial])?;
        let ess_cert_id = tlv(Tag::Sequence, &[&cert_hash, &issuer_serial])?;
        let certs = tlv(Tag::Sequence, &[&ess_cert_id])?;
        let signing_certificate_v2 = tlv(Tag::Sequence, &[&certs])?;
        let signing_cert_attr = attribute(ID_AA_SIGNING_CERTIFICATE_V2, &signing_certificate_v2)?;

        let content_type_attr = attribute(ID_CONTENT_TYPE, &ID_CT_TST_INFO.to_der().map_err(enc)?)?;
        let digest_alg = signer.alg.digest_alg();
        let digest_algorithms = set_of(vec![digest_alg.to_der().map_err(enc)?])?;

        let mut sorted = chain_der.to_vec();
        sorted.sort();
        let refs: Vec<&[u8]> = sorted.iter().map(Vec::as_slice).collect();
        let certificates = tlv(context(0, true), &refs)?;

        let tsa_name = if include_tsa_name {
            Some(tlv(context(4, true), &[&leaf.subject])?)
        } else {
            None
        };
        Ok(TokenTemplate {
            policy,
            sid,
            signing_cert_attr,
            content_type_attr,
            digest_algorithms,
            certificates,
            tsa_name,
            digest_alg,
            sig_alg: signer.alg.sig_alg(),
            accuracy_seconds,
        })
    }

    /// The policy OID of every token.
    pub(crate) fn policy(&self) -> &ObjectIdentifier {
        &self.policy
    }

    /// Sign a token for `req` at `now` and wrap it in a granted `TimeStampResp`.
    pub(crate) fn issue(
        &self,
        signer: &Signer,
        req: &TimestampRequest,
        now: SystemTime,
    ) -> Result<IssuedToken, TsaError> {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TsaError::Encoding("clock before 1970".into()))?
            .as_secs();
        // Whole seconds: every verifier (openssl, Go's encoding/asn1, der) parses it; the
        // truncation is covered by the 1 s accuracy.
        let gen_time =
            GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).map_err(enc)?;
        let mut serial = [0u8; 20];
        signer.random(&mut serial)?;
        serial[0] &= 0x7f; // positive, at most 20 bytes
        if serial[0] == 0 {
            serial[0] = 0x01;
        }
        let serial_number = Uint::new(&serial).map_err(enc)?;
        let nonce = match &req.nonce {
            Some(n) => Some(Int::new(n).map_err(enc)?),
            None => None,
        };
        let tsa = match &self.tsa_name {
            Some(n) => Some(AnyRef::from_der(n).map_err(enc)?),
            None => None,
        };
        let tst = TstInfoOut {
            version: 1,
            policy: self.policy,
            message_imprint: MessageImprintOut {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: req.hash.oid(),
                    parameters: req.hash_params_null.then(Any::null),
                },
                hashed_message: OctetString::new(req.digest.clone()).map_err(enc)?,
            },
            serial_number,
            gen_time,
            accuracy: self.accuracy_seconds.map(|seconds| AccuracyOut { seconds }),
            nonce,
            tsa,
        };
        let tst_der = tst.to_der().map_err(enc)?;

        // Signed attributes.
        let tst_digest = digest::digest(signer.alg.digest(), &tst_der);
        let md = OctetString::new(tst_digest.as_ref())
            .map_err(enc)?
            .to_der()
            .map_err(enc)?;
        let md_attr = attribute(ID_MESSAGE_DIGEST, &md)?;
        let mut attrs = vec![
            self.content_type_attr.as_slice(),
            md_attr.as_slice(),
            self.signing_cert_attr.as_slice(),
        ];
        attrs.sort();
        let to_sign = tlv(Tag::Set, &attrs)?;
        let signed_attrs = tlv(context(0, true), &attrs)?;
        let signature = signer.sign(&to_sign)?;

        let version1 = 1u8.to_der().map_err(enc)?;
        let signer_info = tlv(
            Tag::Sequence,
            &[
                &version1,
                &self.sid,
                &self.digest_alg.to_der().map_err(enc)?,
                &signed_attrs,
                &self.sig_alg.to_der().map_err(enc)?,
                &OctetString::new(signature)
                    .map_err(enc)?
                    .to_der()
                    .map_err(enc)?,
            ],
        )?;
        let signer_infos = tlv(Tag::Set, &[&signer_info])?;

        let econtent = tlv(
            context(0, true),
            &[&OctetString::new(tst_der)
                .map_err(enc)?
                .to_der()
                .map_err(enc)?],
        )?;
        let encap = tlv(
            Tag::Sequence,
            &[&ID_CT_TST_INFO.to_der().map_err(enc)?, &econtent],
        )?;
        // RFC 5652 §5.1: version 3 because eContentType is not id-data.
        let version3 = 3u8.to_der().map_err(enc)?;
        let mut parts: Vec<&[u8]> = vec![&version3, &self.digest_algorithms, &encap];
        if req.cert_req {
            parts.push(&self.certificates);
        }
        parts.push(&signer_infos);
        let signed_data = tlv(Tag::Sequence, &parts)?;
        let content_info = tlv(
            Tag::Sequence,
            &[
                &ID_DATA_SIGNED.to_der().map_err(enc)?,
                &tlv(context(0, true), &[&signed_data])?,
            ],
        )?;
        // PKIStatusInfo { status granted (0) }
        let status = tlv(Tag::Sequence, &[&0u8.to_der().map_err(enc)?])?;
        let response_der = tlv(Tag::Sequence, &[&status, &content_info])?;
        Ok(IssuedToken {
            response_der,
            gen_time_unix: secs,
            serial: serial.to_vec(),
        })
    }
}
