//! Sigstore bundle (`dev.sigstore.bundle.v1.Bundle`), versions 0.1, 0.2 and 0.3, in proto3 JSON.
//!
//! Reading is lenient the way proto3 JSON requires (unknown fields ignored, `null` = unset,
//! snake_case names, int64 as string or number, any base64 flavour); writing emits the
//! canonical form (lowerCamelCase, int64 as strings, defaults omitted). Structural rules
//! of each version (protocols.md §5.1) are enforced by [`Bundle::validate`].
//! Spec: <https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_bundle.proto>.

use crate::dsse::Envelope;
use crate::encoding::{Base64Bytes, Int64, null_default};
use crate::limits;
use serde::{Deserialize, Serialize};

/// Media type of a v0.1 bundle.
pub const MEDIA_TYPE_V0_1: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
/// Media type of a v0.2 bundle.
pub const MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
/// Media type of a v0.3 bundle (the current spelling; writers emit this).
pub const MEDIA_TYPE_V0_3: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The older spelling of the v0.3 media type, still accepted on read.
pub const MEDIA_TYPE_V0_3_LEGACY: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";

/// Bundle format versions this crate understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    /// v0.1: every tlog entry carries an inclusion promise (SET).
    V0_1,
    /// v0.2: every tlog entry carries an inclusion proof with a checkpoint.
    V0_2,
    /// v0.3: as v0.2, and a single leaf `certificate` instead of a chain.
    V0_3,
}

impl BundleVersion {
    /// Map a media type string to a version, `None` when unsupported.
    pub fn from_media_type(mt: &str) -> Option<Self> {
        match mt {
            MEDIA_TYPE_V0_1 => Some(Self::V0_1),
            MEDIA_TYPE_V0_2 => Some(Self::V0_2),
            MEDIA_TYPE_V0_3 | MEDIA_TYPE_V0_3_LEGACY => Some(Self::V0_3),
            _ => None,
        }
    }
    /// Human form, e.g. `0.3`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::V0_1 => "0.1",
            Self::V0_2 => "0.2",
            Self::V0_3 => "0.3",
        }
    }
}

/// Why a bundle document was rejected before any cryptographic check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The document is larger than [`limits::MAX_BUNDLE_JSON_LEN`].
    #[error("bundle is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Size of the document.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The JSON did not parse into a bundle.
    #[error("bundle is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The media type names a version this verifier does not support.
    #[error("unsupported bundle media type {0:?}")]
    UnsupportedMediaType(String),
    /// A structural rule of the bundle format was broken.
    #[error("invalid bundle: {0}")]
    Invalid(&'static str),
    /// A field is present but out of range.
    #[error("invalid bundle: {field} is {value}")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// The offending value.
        value: String,
    },
}

/// A Sigstore bundle.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// The bundle media type, which carries its version.
    #[serde(alias = "media_type", default, deserialize_with = "null_default")]
    pub media_type: String,
    /// Certificate or key, log entries and timestamps.
    #[serde(
        alias = "verification_material",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub verification_material: Option<VerificationMaterial>,
    /// A signature over an artifact digest.
    #[serde(
        alias = "message_signature",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message_signature: Option<MessageSignature>,
    /// A DSSE envelope (attestations).
    #[serde(
        alias = "dsse_envelope",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dsse_envelope: Option<Envelope>,
}

/// Key material and the evidence (log entries, timestamps) that a signature was observed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// A hint naming a key the verifier already has.
    #[serde(alias = "public_key", default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    /// Certificate chain, leaf first (v0.1/v0.2 only).
    #[serde(
        alias = "x509_certificate_chain",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x509_certificate_chain: Option<X509CertificateChain>,
    /// Single leaf certificate (v0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<X509Certificate>,
    /// Transparency log entries.
    #[serde(
        alias = "tlog_entries",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tlog_entries: Vec<TransparencyLogEntry>,
    /// RFC 3161 timestamps.
    #[serde(
        alias = "timestamp_verification_data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

/// `PublicKeyIdentifier`: an unauthenticated hint for key lookup.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    /// The hint (often an RFC 6962-style key ID); may be empty.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub hint: String,
}

/// A DER certificate.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X509Certificate {
    /// DER bytes.
    #[serde(alias = "raw_bytes", default, deserialize_with = "null_default")]
    pub raw_bytes: Base64Bytes,
}

/// A chain of DER certificates, leaf first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct X509CertificateChain {
    /// The certificates.
    #[serde(default, deserialize_with = "null_default")]
    pub certificates: Vec<X509Certificate>,
}

/// RFC 3161 timestamps over the signature.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampVerificationData {
    /// Each a DER `TimeStampResp`.
    #[serde(
        alias = "rfc3161_timestamps",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rfc3161_timestamps: Vec<Rfc3161SignedTimestamp>,
}

/// One RFC 3161 timestamp response.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161SignedTimestamp {
    /// DER `TimeStampResp` (status + token).
    #[serde(alias = "signed_timestamp", default, deserialize_with = "null_default")]
    pub signed_timestamp: Base64Bytes,
}

/// Hash algorithms of `dev.sigstore.common.v1.HashAlgorithm`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(non_camel_case_types)]
pub enum HashAlgorithm {
    /// Unset.
    #[default]
    HASH_ALGORITHM_UNSPECIFIED,
    /// SHA-256.
    SHA2_256,
    /// SHA-384.
    SHA2_384,
    /// SHA-512.
    SHA2_512,
    /// SHA3-256 (deprecated).
    SHA3_256,
    /// SHA3-384 (deprecated).
    SHA3_384,
}

impl HashAlgorithm {
    /// Digest length in bytes.
    pub fn digest_len(&self) -> Option<usize> {
        match self {
            Self::SHA2_256 | Self::SHA3_256 => Some(32),
            Self::SHA2_384 | Self::SHA3_384 => Some(48),
            Self::SHA2_512 => Some(64),
            Self::HASH_ALGORITHM_UNSPECIFIED => None,
        }
    }
    /// The name Rekor v1 bodies and CLI digests use (`sha256`, …).
    pub fn rekor_name(&self) -> &'static str {
        match self {
            Self::SHA2_256 => "sha256",
            Self::SHA2_384 => "sha384",
            Self::SHA2_512 => "sha512",
            Self::SHA3_256 => "sha3-256",
            Self::SHA3_384 => "sha3-384",
            Self::HASH_ALGORITHM_UNSPECIFIED => "unspecified",
        }
    }
}

/// A digest with its algorithm.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HashOutput {
    /// The algorithm.
    #[serde(default, deserialize_with = "null_default")]
    pub algorithm: HashAlgorithm,
    /// The digest bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub digest: Base64Bytes,
}

/// A signature over an artifact (its digest is an unauthenticated hint).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    /// Digest of the artifact as claimed by the signer.
    #[serde(
        alias = "message_digest",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message_digest: Option<HashOutput>,
    /// Raw signature bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub signature: Base64Bytes,
}

/// `LogId`: identifies a transparency log (v1: SHA-256 of its SPKI; v2: signed-note key hash).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// The key ID bytes.
    #[serde(alias = "key_id", default, deserialize_with = "null_default")]
    pub key_id: Base64Bytes,
}

/// Entry kind and version, e.g. `hashedrekord` / `0.0.1`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KindVersion {
    /// Entry kind.
    #[serde(default, deserialize_with = "null_default")]
    pub kind: String,
    /// Kind version.
    #[serde(default, deserialize_with = "null_default")]
    pub version: String,
}

/// A signed checkpoint in signed-note form.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The note text and signature lines.
    #[serde(default, deserialize_with = "null_default")]
    pub envelope: String,
}

/// A Merkle inclusion proof against a checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// Index of the leaf in the (shard) tree.
    #[serde(alias = "log_index", default, deserialize_with = "null_default")]
    pub log_index: Int64,
    /// Root hash of the tree the proof is against.
    #[serde(alias = "root_hash", default, deserialize_with = "null_default")]
    pub root_hash: Base64Bytes,
    /// Size of that tree.
    #[serde(alias = "tree_size", default, deserialize_with = "null_default")]
    pub tree_size: Int64,
    /// Sibling hashes, leaf to root.
    #[serde(default, deserialize_with = "null_default")]
    pub hashes: Vec<Base64Bytes>,
    /// The signed checkpoint committing to `root_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// A Rekor v1 signed entry timestamp.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    /// The SET signature bytes.
    #[serde(
        alias = "signed_entry_timestamp",
        default,
        deserialize_with = "null_default"
    )]
    pub signed_entry_timestamp: Base64Bytes,
}

/// One transparency log entry as carried in a bundle.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    /// Global index of the entry.
    #[serde(alias = "log_index", default, deserialize_with = "null_default")]
    pub log_index: Int64,
    /// Which log.
    #[serde(alias = "log_id", default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<LogId>,
    /// Entry kind/version.
    #[serde(
        alias = "kind_version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind_version: Option<KindVersion>,
    /// Rekor v1 integration time, unix seconds (0/absent in Rekor v2).
    #[serde(
        alias = "integrated_time",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Int64::is_zero"
    )]
    pub integrated_time: Int64,
    /// Rekor v1 SET.
    #[serde(
        alias = "inclusion_promise",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inclusion_promise: Option<InclusionPromise>,
    /// Inclusion proof with checkpoint.
    #[serde(
        alias = "inclusion_proof",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inclusion_proof: Option<InclusionProof>,
    /// The canonicalized entry body (the Merkle leaf).
    #[serde(
        alias = "canonicalized_body",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Base64Bytes::is_empty"
    )]
    pub canonicalized_body: Base64Bytes,
}

/// Which key material a bundle carries.
#[derive(Clone, Copy, Debug)]
pub enum Material<'a> {
    /// A hint naming a verifier-held key.
    PublicKey(&'a PublicKeyIdentifier),
    /// Leaf certificate DER, plus any further chain certificates (v0.1/v0.2).
    Certificate {
        /// Leaf DER.
        leaf: &'a [u8],
        /// Certificates after the leaf, as shipped in the bundle.
        rest: &'a [X509Certificate],
    },
}

/// What the bundle signs.
#[derive(Clone, Copy, Debug)]
pub enum Content<'a> {
    /// Signature over an artifact digest.
    Message(&'a MessageSignature),
    /// DSSE envelope.
    Dsse(&'a Envelope),
}

impl Bundle {
    /// Parse bundle JSON (bounded) without validating its structure.
    pub fn from_json(json: &[u8]) -> Result<Self, BundleError> {
        if json.len() > limits::MAX_BUNDLE_JSON_LEN {
            return Err(BundleError::TooLarge {
                len: json.len(),
                max: limits::MAX_BUNDLE_JSON_LEN,
            });
        }
        Ok(serde_json::from_slice(json)?)
    }

    /// Parse and validate in one step.
    pub fn parse(json: &[u8]) -> Result<(Self, BundleVersion), BundleError> {
        let b = Self::from_json(json)?;
        let v = b.validate()?;
        Ok((b, v))
    }

    /// Serialize as canonical proto3 JSON (compact).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Serialize as canonical proto3 JSON, indented for humans.
    pub fn to_json_pretty(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The bundle's version from its media type.
    pub fn version(&self) -> Result<BundleVersion, BundleError> {
        BundleVersion::from_media_type(&self.media_type)
            .ok_or_else(|| BundleError::UnsupportedMediaType(self.media_type.clone()))
    }

    /// Check the structural rules of the bundle's version (protocols.md §5.1, §7.2 step 0).
    pub fn validate(&self) -> Result<BundleVersion, BundleError> {
        let version = self.version()?;
        let vm = self
            .verification_material
            .as_ref()
            .ok_or(BundleError::Invalid("verificationMaterial is missing"))?;
        // Content: exactly one of messageSignature / dsseEnvelope.
        match (&self.message_signature, &self.dsse_envelope) {
            (Some(ms), None) => {
                if ms.signature.is_empty() {
                    return Err(BundleError::Invalid("messageSignature.signature is empty"));
                }
                if let Some(d) = &ms.message_digest
                    && let Some(len) = d.algorithm.digest_len()
                    && d.digest.0.len() != len
                {
                    return Err(BundleError::OutOfRange {
                        field: "messageSignature.messageDigest.digest length",
                        value: d.digest.0.len().to_string(),
                    });
                }
            }
            (None, Some(env)) => {
                if env.signatures.len() != 1 {
                    return Err(BundleError::OutOfRange {
                        field: "dsseEnvelope signature count (must be exactly 1)",
                        value: env.signatures.len().to_string(),
                    });
                }
                if env.signatures[0].sig.is_empty() {
                    return Err(BundleError::Invalid("dsseEnvelope signature is empty"));
                }
            }
            (None, None) => {
                return Err(BundleError::Invalid(
                    "bundle has neither messageSignature nor dsseEnvelope",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(BundleError::Invalid(
                    "bundle has both messageSignature and dsseEnvelope",
                ));
            }
        }
        // Key material: exactly one kind.
        let kinds = usize::from(vm.public_key.is_some())
            + usize::from(vm.x509_certificate_chain.is_some())
            + usize::from(vm.certificate.is_some());
        if kinds != 1 {
            return Err(BundleError::Invalid(
                "verificationMaterial must hold exactly one of publicKey, x509CertificateChain, certificate",
            ));
        }
        if let Some(chain) = &vm.x509_certificate_chain {
            if version >= BundleVersion::V0_3 {
                return Err(BundleError::Invalid(
                    "v0.3 bundles must not use x509CertificateChain",
                ));
            }
            if chain.certificates.is_empty() {
                return Err(BundleError::Invalid("x509CertificateChain is empty"));
            }
            if chain.certificates.len() > limits::MAX_CHAIN_LEN {
                return Err(BundleError::OutOfRange {
                    field: "x509CertificateChain length",
                    value: chain.certificates.len().to_string(),
                });
            }
        }
        if let Some(Material::Certificate { leaf, rest }) = self.material() {
            if leaf.is_empty() {
                return Err(BundleError::Invalid("certificate rawBytes is empty"));
            }
            for c in std::iter::once(leaf).chain(rest.iter().map(|c| c.raw_bytes.as_slice())) {
                if c.len() > limits::MAX_CERTIFICATE_LEN {
                    return Err(BundleError::OutOfRange {
                        field: "certificate size",
                        value: c.len().to_string(),
                    });
                }
            }
        }
        if vm.tlog_entries.len() > limits::MAX_TLOG_ENTRIES {
            return Err(BundleError::OutOfRange {
                field: "tlogEntries count",
                value: vm.tlog_entries.len().to_string(),
            });
        }
        let ts = vm
            .timestamp_verification_data
            .as_ref()
            .map_or(0, |t| t.rfc3161_timestamps.len());
        if ts > limits::MAX_RFC3161_TIMESTAMPS {
            return Err(BundleError::OutOfRange {
                field: "rfc3161Timestamps count",
                value: ts.to_string(),
            });
        }
        for e in &vm.tlog_entries {
            validate_entry(e, version)?;
        }
        Ok(version)
    }

    /// The key material, if any is present.
    pub fn material(&self) -> Option<Material<'_>> {
        let vm = self.verification_material.as_ref()?;
        if let Some(pk) = &vm.public_key {
            return Some(Material::PublicKey(pk));
        }
        if let Some(c) = &vm.certificate {
            return Some(Material::Certificate {
                leaf: c.raw_bytes.as_slice(),
                rest: &[],
            });
        }
        let chain = vm.x509_certificate_chain.as_ref()?;
        let (first, rest) = chain.certificates.split_first()?;
        Some(Material::Certificate {
            leaf: first.raw_bytes.as_slice(),
            rest,
        })
    }

    /// The signed content.
    pub fn content(&self) -> Option<Content<'_>> {
        match (&self.message_signature, &self.dsse_envelope) {
            (Some(m), None) => Some(Content::Message(m)),
            (None, Some(d)) => Some(Content::Dsse(d)),
            _ => None,
        }
    }

    /// The raw signature bytes: the message signature or the single DSSE signature.
    pub fn signature_bytes(&self) -> Option<&[u8]> {
        match self.content()? {
            Content::Message(m) => Some(m.signature.as_slice()),
            Content::Dsse(e) => e.signatures.first().map(|s| s.sig.as_slice()),
        }
    }

    /// Transparency log entries (empty when none).
    pub fn tlog_entries(&self) -> &[TransparencyLogEntry] {
        self.verification_material
            .as_ref()
            .map_or(&[], |vm| vm.tlog_entries.as_slice())
    }

    /// RFC 3161 timestamp responses (empty when none).
    pub fn rfc3161_timestamps(&self) -> &[Rfc3161SignedTimestamp] {
        self.verification_material
            .as_ref()
            .and_then(|vm| vm.timestamp_verification_data.as_ref())
            .map_or(&[], |t| t.rfc3161_timestamps.as_slice())
    }
}

fn validate_entry(e: &TransparencyLogEntry, version: BundleVersion) -> Result<(), BundleError> {
    if e.log_index.0 < 0 {
        return Err(BundleError::OutOfRange {
            field: "tlogEntries[].logIndex",
            value: e.log_index.0.to_string(),
        });
    }
    if e.integrated_time.0 < 0 {
        return Err(BundleError::OutOfRange {
            field: "tlogEntries[].integratedTime",
            value: e.integrated_time.0.to_string(),
        });
    }
    if e.log_id.as_ref().is_none_or(|id| id.key_id.is_empty()) {
        return Err(BundleError::Invalid("tlog entry has no logId"));
    }
    if e.kind_version.is_none() {
        return Err(BundleError::Invalid("tlog entry has no kindVersion"));
    }
    if e.canonicalized_body.is_empty() {
        return Err(BundleError::Invalid("tlog entry has no canonicalizedBody"));
    }
    if e.canonicalized_body.0.len() > limits::MAX_ENTRY_BODY_LEN {
        return Err(BundleError::OutOfRange {
            field: "tlogEntries[].canonicalizedBody size",
            value: e.canonicalized_body.0.len().to_string(),
        });
    }
    if let Some(p) = &e.inclusion_proof {
        if p.log_index.0 < 0 || p.tree_size.0 < 0 {
            return Err(BundleError::OutOfRange {
                field: "inclusionProof logIndex/treeSize",
                value: format!("{}/{}", p.log_index.0, p.tree_size.0),
            });
        }
        if p.hashes.len() > limits::MAX_PROOF_HASHES {
            return Err(BundleError::OutOfRange {
                field: "inclusionProof hash count",
                value: p.hashes.len().to_string(),
            });
        }
    }
    match version {
        BundleVersion::V0_1 => {
            if e.inclusion_promise.is_none() {
                return Err(BundleError::Invalid(
                    "v0.1 bundle tlog entry lacks an inclusion promise (SET)",
                ));
            }
        }
        BundleVersion::V0_2 | BundleVersion::V0_3 => match &e.inclusion_proof {
            None => {
                return Err(BundleError::Invalid(
                    "tlog entry lacks an inclusion proof (required from bundle v0.2)",
                ));
            }
            Some(p) if p.checkpoint.as_ref().is_none_or(|c| c.envelope.is_empty()) => {
                return Err(BundleError::Invalid(
                    "tlog entry inclusion proof lacks a checkpoint",
                ));
            }
            Some(_) => {}
        },
    }
    Ok(())
}
