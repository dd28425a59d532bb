//! [`TsaVerifier`]: one trusted timestamping authority, and verifying tokens against it.

use cms::signed_data::SignerIdentifier;
use der::asn1::AnyRef;
use der::{Encode, Tag, Tagged};

use crate::limits::MAX_CHAIN_LEN;

use super::TimestampError;
use super::alg::{SigCheck, required_hash, verify_signature};
use super::attrs::{check_signing_certificate, decode_signed_attrs, signed_attrs_der};
use super::cert::{ChainCert, describe_sid, integer_bytes};
use super::oid::ID_CT_TST_INFO;
use super::parse::parse_token;
use super::time::rfc3339;

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

/// A trusted timestamping authority: its chain from the trusted root (leaf first, root last),
/// pre-parsed and pre-validated once so verifying many tokens costs only the token checks.
#[derive(Debug, Clone)]
pub struct TsaVerifier {
    chain: Vec<ChainCert>,
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
        // A CA certificate must not sign timestamps (RFC 3161 §2.3: the TSA's own key).
        if leaf.is_ca {
            return Err(TimestampError::LeafIsCa {
                subject: leaf.subject.clone(),
            });
        }
        // A leaf pinned alone is its own trust anchor and never goes through path validation:
        // check here that webpki understands every critical extension it carries.
        if chain.len() == 1 {
            crate::x509::check_critical_extensions(&leaf.x509).map_err(|source| {
                TimestampError::ChainRejected {
                    gen_time: None,
                    source,
                }
            })?;
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
        let sid = &token.sid;
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
        // The same path through rustls-webpki at genTime: every signature, the timeStamping EKU,
        // basic constraints and key usage of the issuers, no unknown critical extension and no CA
        // certificate as the signer.
        if let [leaf, intermediates @ .., anchor] = path.as_slice() {
            let intermediates: Vec<&crate::x509::Certificate> =
                intermediates.iter().map(|c| &c.x509).collect();
            crate::x509::verify_path(
                &leaf.x509,
                &intermediates,
                &anchor.x509,
                crate::time::Instant { secs, nanos },
                crate::x509::EKU_TIME_STAMPING,
            )
            .map_err(|source| TimestampError::ChainRejected {
                gen_time: Some(rfc3339(secs, nanos)),
                source,
            })?;
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
