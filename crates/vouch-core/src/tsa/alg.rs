//! Hash algorithms and signature verification (through `aws-lc-rs`) for tokens and TSA chains.

use aws_lc_rs::{digest, signature};
use der::asn1::ObjectIdentifier;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::TimestampError;
use super::asn1::PssParams;
use super::oid::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The SHA-2 algorithm an `AlgorithmIdentifier` names; parameters must be absent or NULL.
    pub(crate) fn from_identifier(alg: &AlgorithmIdentifierOwned) -> Option<Self> {
        if let Some(params) = &alg.parameters
            && !params.is_null()
        {
            return None;
        }
        match alg.oid {
            ID_SHA256 => Some(Self::Sha256),
            ID_SHA384 => Some(Self::Sha384),
            ID_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg: &'static digest::Algorithm = match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }

    pub(crate) fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// A readable name for a hash OID (`sha256` …), or the dotted OID.
pub(crate) fn hash_name(oid: &ObjectIdentifier) -> String {
    match *oid {
        ID_SHA1 => "sha1".to_owned(),
        ID_SHA224 => "sha224".to_owned(),
        ID_SHA256 => "sha256".to_owned(),
        ID_SHA384 => "sha384".to_owned(),
        ID_SHA512 => "sha512".to_owned(),
        other => other.to_string(),
    }
}

pub(crate) fn required_hash(
    alg: &AlgorithmIdentifierOwned,
    field: &'static str,
) -> Result<HashAlg, TimestampError> {
    HashAlg::from_identifier(alg).ok_or_else(|| TimestampError::UnsupportedHashAlgorithm {
        field,
        algorithm: hash_name(&alg.oid),
    })
}

pub(crate) enum SigCheck {
    Unsupported(String),
    Invalid,
}

/// Verifies `signature` over `message` with `spki`, for a signature algorithm given either as a
/// combined OID (`ecdsa-with-SHA384`, `sha256WithRSAEncryption`, `id-RSASSA-PSS`, `Ed25519`) or,
/// as CMS permits, as a bare key algorithm whose hash is the `SignerInfo` digest algorithm.
pub(crate) fn verify_signature(
    sig_alg: &AlgorithmIdentifierOwned,
    digest_hint: Option<HashAlg>,
    spki: &SubjectPublicKeyInfoOwned,
    message: &[u8],
    sig: &[u8],
) -> Result<(), SigCheck> {
    let key_oid = spki.algorithm.oid;
    let mismatch = || SigCheck::Unsupported(format!("{} with a {} key", sig_alg.oid, key_oid));
    let bare_hash = || {
        digest_hint
            .ok_or_else(|| SigCheck::Unsupported(format!("{} without a digest", sig_alg.oid)))
    };
    let algorithm: &'static dyn signature::VerificationAlgorithm = match sig_alg.oid {
        ECDSA_WITH_SHA256 => ecdsa_algorithm(spki, HashAlg::Sha256).ok_or_else(mismatch)?,
        ECDSA_WITH_SHA384 => ecdsa_algorithm(spki, HashAlg::Sha384).ok_or_else(mismatch)?,
        ECDSA_WITH_SHA512 => ecdsa_algorithm(spki, HashAlg::Sha512).ok_or_else(mismatch)?,
        ID_EC_PUBLIC_KEY => ecdsa_algorithm(spki, bare_hash()?).ok_or_else(mismatch)?,
        SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA | RSA_ENCRYPTION => {
            if key_oid != RSA_ENCRYPTION && key_oid != ID_RSASSA_PSS {
                return Err(mismatch());
            }
            let hash = match sig_alg.oid {
                SHA256_WITH_RSA => HashAlg::Sha256,
                SHA384_WITH_RSA => HashAlg::Sha384,
                SHA512_WITH_RSA => HashAlg::Sha512,
                _ => bare_hash()?,
            };
            match hash {
                HashAlg::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                HashAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                HashAlg::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        ID_RSASSA_PSS => {
            if key_oid != RSA_ENCRYPTION && key_oid != ID_RSASSA_PSS {
                return Err(mismatch());
            }
            match pss_hash(sig_alg) {
                Some(HashAlg::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
                Some(HashAlg::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
                Some(HashAlg::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
                None => {
                    return Err(SigCheck::Unsupported(
                        "rsassa-pss with parameters other than sha-2, mgf1 with the same hash and salt = hash length"
                            .to_owned(),
                    ));
                }
            }
        }
        ID_ED25519 => {
            if key_oid != ID_ED25519 {
                return Err(mismatch());
            }
            &signature::ED25519
        }
        other => return Err(SigCheck::Unsupported(other.to_string())),
    };
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(SigCheck::Invalid)?;
    signature::UnparsedPublicKey::new(algorithm, key)
        .verify(message, sig)
        .map_err(|_| SigCheck::Invalid)
}

/// The aws-lc-rs ECDSA algorithm for an EC key's named curve and a hash.
pub(crate) fn ecdsa_algorithm(
    spki: &SubjectPublicKeyInfoOwned,
    hash: HashAlg,
) -> Option<&'static dyn signature::VerificationAlgorithm> {
    if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
        return None;
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()?
        .decode_as::<ObjectIdentifier>()
        .ok()?;
    Some(match (curve, hash) {
        (SECP256R1, HashAlg::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
        (SECP256R1, HashAlg::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
        (SECP256R1, HashAlg::Sha512) => &signature::ECDSA_P256_SHA512_ASN1,
        (SECP384R1, HashAlg::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
        (SECP384R1, HashAlg::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
        (SECP384R1, HashAlg::Sha512) => &signature::ECDSA_P384_SHA512_ASN1,
        (SECP521R1, HashAlg::Sha256) => &signature::ECDSA_P521_SHA256_ASN1,
        (SECP521R1, HashAlg::Sha384) => &signature::ECDSA_P521_SHA384_ASN1,
        (SECP521R1, HashAlg::Sha512) => &signature::ECDSA_P521_SHA512_ASN1,
        _ => return None,
    })
}

/// The hash of RSASSA-PSS parameters we can verify: SHA-2, MGF1 with the same hash, salt = hash length.
pub(crate) fn pss_hash(sig_alg: &AlgorithmIdentifierOwned) -> Option<HashAlg> {
    let params: PssParams = sig_alg.parameters.as_ref()?.decode_as().ok()?;
    let hash = HashAlg::from_identifier(params.hash_algorithm.as_ref()?)?;
    let mgf = params.mask_gen_algorithm.as_ref()?;
    if mgf.oid != ID_MGF1 {
        return None;
    }
    let mgf_hash: AlgorithmIdentifierOwned = mgf.parameters.as_ref()?.decode_as().ok()?;
    if HashAlg::from_identifier(&mgf_hash)? != hash {
        return None;
    }
    let salt = usize::try_from(params.salt_length?).ok()?;
    if salt != hash.output_len() || params.trailer_field.is_some_and(|t| t != 1) {
        return None;
    }
    Some(hash)
}
