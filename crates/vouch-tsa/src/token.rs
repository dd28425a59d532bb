//! Building the DER `TimeStampResp` (RFC 3161 §2.4.2): a CMS `SignedData` (RFC 5652 §5) over a
//! `TSTInfo`, signed attributes contentType, messageDigest and signingCertificateV2 (RFC 5816).
//!
//! The structures are vouch-core's declarations ([`vouch_core::tsa::asn1`]), the same the
//! verifier decodes. The fixed parts (signer identifier, ESSCertIDv2 attribute, certificate set,
//! TSA name) are encoded once; per request only the `TSTInfo`, the messageDigest attribute and the
//! signature are computed. `SET OF` contents are sorted by their encodings as DER requires.

use crate::TsaError;
use crate::cert::{RawLeaf, Signer};
use crate::request::TimestampRequest;
use aws_lc_rs::digest;
use der::asn1::{
    Any, AnyRef, ContextSpecific, GeneralizedTime, IntRef, ObjectIdentifier, OctetStringRef,
};
use der::{Decode, Encode, TagMode, TagNumber};
use spki::AlgorithmIdentifierOwned;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vouch_core::tsa::asn1::{
    Accuracy, AttributeRef, CmsVersion, ContentInfoRef, EncapsulatedContentInfoRef, EssCertIdV2,
    IssuerSerialRef, MessageImprint, SignedDataRef, SignerInfoRef, SigningCertificateV2,
    TimeStampResp, TstInfo, set_of_der, sorted_set_of_der,
};
use vouch_core::tsa::oid::{
    ID_AA_SIGNING_CERTIFICATE_V2, ID_CONTENT_TYPE, ID_CT_TST_INFO, ID_MESSAGE_DIGEST,
    ID_SIGNED_DATA,
};

fn enc(e: der::Error) -> TsaError {
    TsaError::Encoding(e)
}

/// Borrows one encoded element (TLV) as an [`AnyRef`], so it is written back byte for byte.
fn any(der: &[u8]) -> Result<AnyRef<'_>, TsaError> {
    AnyRef::from_der(der).map_err(enc)
}

/// `GeneralName ::= directoryName [4] Name` around a raw `Name` TLV.
fn directory_name(name: &[u8]) -> Result<Vec<u8>, TsaError> {
    ContextSpecific {
        tag_number: TagNumber(4),
        tag_mode: TagMode::Explicit,
        value: any(name)?,
    }
    .to_der()
    .map_err(enc)
}

/// `Attribute ::= SEQUENCE { attrType OID, attrValues SET OF ANY }` with one value.
fn attribute(oid: ObjectIdentifier, value_der: &[u8]) -> Result<Vec<u8>, TsaError> {
    let values = set_of_der(&[any(value_der)?]).map_err(enc)?;
    AttributeRef {
        attr_type: oid,
        attr_values: any(&values)?,
    }
    .to_der()
    .map_err(enc)
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
    /// The whole chain for the `CertificateSet`, sorted by encoding as DER requires.
    certificates: Vec<Vec<u8>>,
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
        let issuer = any(&leaf.issuer)?;
        let serial_number = any(&leaf.serial)?;
        let sid = vouch_core::tsa::asn1::IssuerAndSerialNumberRef {
            issuer,
            serial_number,
        }
        .to_der()
        .map_err(enc)?;

        // ESSCertIDv2 { hashAlgorithm DEFAULT sha256 (omitted), certHash, issuerSerial }
        let cert_hash = digest::digest(&digest::SHA256, leaf_der);
        let general_names = [any(&directory_name(&leaf.issuer)?)?]
            .to_vec()
            .to_der()
            .map_err(enc)?;
        let issuer_serial = IssuerSerialRef {
            issuer: any(&general_names)?,
            serial_number,
        }
        .to_der()
        .map_err(enc)?;
        let signing_certificate_v2 = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetStringRef::new(cert_hash.as_ref()).map_err(enc)?,
                issuer_serial: Some(any(&issuer_serial)?),
            }],
            policies: None,
        }
        .to_der()
        .map_err(enc)?;
        let signing_cert_attr = attribute(ID_AA_SIGNING_CERTIFICATE_V2, &signing_certificate_v2)?;

        let content_type_attr = attribute(ID_CONTENT_TYPE, &ID_CT_TST_INFO.to_der().map_err(enc)?)?;
        let digest_alg = signer.alg.digest_alg();
        let digest_algorithms =
            sorted_set_of_der(vec![digest_alg.to_der().map_err(enc)?]).map_err(enc)?;

        let mut certificates = chain_der.to_vec();
        certificates.sort();

        let tsa_name = if include_tsa_name {
            Some(directory_name(&leaf.subject)?)
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
            .map_err(|_| TsaError::TimeOutOfRange {
                what: "clock before 1970",
            })?
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
        let gen_time = gen_time.to_der().map_err(enc)?;
        let tst = TstInfo {
            version: 1,
            policy: self.policy,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: req.hash.oid(),
                    parameters: req.hash_params_null.then(Any::null),
                },
                hashed_message: OctetStringRef::new(&req.digest).map_err(enc)?,
            },
            serial_number: IntRef::new(&serial).map_err(enc)?,
            gen_time: any(&gen_time)?,
            accuracy: self.accuracy_seconds.map(|seconds| Accuracy {
                seconds: Some(u64::from(seconds)),
                millis: None,
                micros: None,
            }),
            ordering: None,
            nonce: req
                .nonce
                .as_deref()
                .map(IntRef::new)
                .transpose()
                .map_err(enc)?,
            tsa: self.tsa_name.as_deref().map(any).transpose()?,
            extensions: None,
        };
        let tst_der = tst.to_der().map_err(enc)?;

        // Signed attributes.
        let tst_digest = digest::digest(signer.alg.digest(), &tst_der);
        let md = OctetStringRef::new(tst_digest.as_ref())
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
        let attrs = attrs.into_iter().map(any).collect::<Result<Vec<_>, _>>()?;
        let to_sign = set_of_der(&attrs).map_err(enc)?;
        let signature = signer.sign(&to_sign)?;

        let signer_info = SignerInfoRef {
            version: CmsVersion::V1,
            sid: any(&self.sid)?,
            digest_alg: self.digest_alg.clone(),
            signed_attrs: Some(attrs),
            signature_algorithm: self.sig_alg.clone(),
            signature: OctetStringRef::new(&signature).map_err(enc)?,
            unsigned_attrs: None,
        }
        .to_der()
        .map_err(enc)?;
        let signer_infos = set_of_der(&[any(&signer_info)?]).map_err(enc)?;
        let certificates = if req.cert_req {
            Some(
                self.certificates
                    .iter()
                    .map(|c| any(c))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        // RFC 5652 §5.1: version 3 because eContentType is not id-data.
        let signed_data = SignedDataRef {
            version: CmsVersion::V3,
            digest_algorithms: any(&self.digest_algorithms)?,
            encap_content_info: EncapsulatedContentInfoRef {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(OctetStringRef::new(&tst_der).map_err(enc)?),
            },
            certificates,
            crls: None,
            signer_infos: any(&signer_infos)?,
        }
        .to_der()
        .map_err(enc)?;
        let response_der = TimeStampResp::granted(ContentInfoRef {
            content_type: ID_SIGNED_DATA,
            content: any(&signed_data)?,
        })
        .to_der()
        .map_err(enc)?;
        Ok(IssuedToken {
            response_der,
            gen_time_unix: secs,
            serial: serial.to_vec(),
        })
    }
}
