//! Rekor entry bodies (the canonicalized leaves) and the Rekor v1 signed entry timestamp.
//!
//! Kinds read: `hashedrekord` 0.0.1 (Rekor v1) and 0.0.2 (Rekor v2), `dsse` 0.0.1 and
//! `intoto` 0.0.2. Shapes per protocols.md §2.2–2.4 and §3.1; SET bytes per §2.6.

use crate::bundle::HashAlgorithm;
use crate::encoding::{Base64Bytes, b64_decode, b64_encode};
use crate::keys::pem_blocks;
use serde::{Deserialize, Serialize};

/// Errors decoding an entry body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Not JSON of the expected shape.
    #[error("tlog entry body is malformed: {0}")]
    Malformed(String),
    /// A base64 member of the body does not decode.
    #[error("tlog entry body is malformed: {what} is not base64: {source}")]
    Base64 {
        /// Which member.
        what: &'static str,
        /// The base64 error.
        #[source]
        source: base64::DecodeError,
    },
    /// A key or certificate in the body does not decode.
    #[error("tlog entry body is malformed: {what}: {source}")]
    Key {
        /// Which member.
        what: &'static str,
        /// The key error.
        #[source]
        source: crate::keys::KeyError,
    },
    /// A kind/version this verifier does not read.
    #[error("unsupported tlog entry kind {kind} {version}")]
    Unsupported {
        /// Kind.
        kind: String,
        /// Version.
        version: String,
    },
    /// The body's kind/version differ from the entry's kindVersion.
    #[error("tlog entry body is {body_kind} {body_version} but kindVersion says {kind} {version}")]
    KindMismatch {
        /// Kind in the body.
        body_kind: String,
        /// Version in the body.
        body_version: String,
        /// Kind in kindVersion.
        kind: String,
        /// Version in kindVersion.
        version: String,
    },
}

/// Who verifies a Rekor v2 signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V2Verifier {
    /// DER X.509 certificate.
    Certificate(Vec<u8>),
    /// DER SubjectPublicKeyInfo.
    PublicKey(Vec<u8>),
}

/// A decoded entry body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryBody {
    /// hashedrekord 0.0.1.
    HashedRekordV001 {
        /// `sha256`, `sha384` or `sha512`.
        algorithm: String,
        /// Lowercase hex digest.
        digest_hex: String,
        /// Signature bytes.
        signature: Vec<u8>,
        /// PEM of the certificate or public key.
        public_key_pem: Vec<u8>,
    },
    /// hashedrekord 0.0.2 (Rekor v2).
    HashedRekordV002 {
        /// Digest algorithm.
        algorithm: HashAlgorithm,
        /// Digest bytes.
        digest: Vec<u8>,
        /// Signature bytes.
        signature: Vec<u8>,
        /// Certificate or key.
        verifier: V2Verifier,
        /// `PublicKeyDetails` name.
        key_details: String,
    },
    /// dsse 0.0.1.
    DsseV001 {
        /// Algorithm of the payload hash.
        payload_hash_algorithm: String,
        /// Hex SHA-256 of the decoded payload.
        payload_hash_hex: String,
        /// (signature bytes, PEM of the verifier).
        signatures: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// intoto 0.0.2.
    IntotoV002 {
        /// Algorithm of the payload hash.
        payload_hash_algorithm: String,
        /// Hex SHA-256 of the decoded payload.
        payload_hash_hex: String,
        /// (signature bytes, PEM of the public key or certificate).
        signatures: Vec<(Vec<u8>, Vec<u8>)>,
    },
}

/// A typed Rekor entry `{"apiVersion", "kind", "spec"}`: a Rekor v1 `ProposedEntry` and a
/// canonicalized v1 body alike (protocols.md §2.2).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TypedEntry<T> {
    /// Version of the kind, e.g. `0.0.1`.
    pub api_version: String,
    /// The kind, e.g. `hashedrekord`.
    pub kind: String,
    /// The kind's content.
    pub spec: T,
}

/// `hashedrekord` 0.0.1 spec: a signature over an artifact digest, the same in a proposed entry
/// and in the canonicalized body.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HashedRekordV001 {
    /// What was signed.
    pub data: HashedRekordDataV001,
    /// The signature and who verifies it.
    pub signature: HashedRekordSignatureV001,
}

/// `hashedrekord` 0.0.1 `data`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HashedRekordDataV001 {
    /// The artifact digest.
    pub hash: HashValue,
}

/// A digest as Rekor v1 writes it: `{"algorithm": "sha256", "value": "<hex>"}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HashValue {
    /// `sha256`, `sha384` or `sha512`.
    pub algorithm: String,
    /// Lowercase hex.
    pub value: String,
}

/// `hashedrekord` 0.0.1 `signature`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HashedRekordSignatureV001 {
    /// Base64 signature.
    pub content: String,
    /// The verifier.
    pub public_key: PemContent,
}

/// `{"content": "<base64 of a PEM public key or certificate>"}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PemContent {
    /// Base64 of the PEM text.
    pub content: String,
}

/// `dsse` 0.0.1 proposed spec (what a client sends; the log stores [`EntryBody::DsseV001`]).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DsseProposedV001 {
    /// The envelope and its verifiers.
    pub proposed_content: DsseProposedContentV001,
}

/// `dsse` 0.0.1 `proposedContent`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DsseProposedContentV001 {
    /// The DSSE envelope as JSON text.
    pub envelope: String,
    /// Base64 PEM of each verifier (key or certificate).
    pub verifiers: Vec<String>,
}

/// Rekor v2 `POST /api/v2/log/entries` body for a hashedrekord (protocols.md §3.1).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HashedRekordRequestBodyV002 {
    /// The request.
    pub hashed_rekord_request_v002: HashedRekordRequestV002,
}

/// `hashedRekordRequestV002`: the digest and its signature. Missing members read as empty, so
/// that the log can name what is missing; protojson's snake_case names are accepted too.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct HashedRekordRequestV002 {
    /// The artifact digest (SHA-256 for P-256 keys).
    #[serde(default)]
    pub digest: Base64Bytes,
    /// The signature and its verifier.
    #[serde(default)]
    pub signature: SignatureV002,
}

/// Rekor v2 `Signature`: `{"content", "verifier"}` (request and canonicalized body alike).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureV002 {
    /// The signature bytes.
    #[serde(default)]
    pub content: Base64Bytes,
    /// Who verifies it.
    #[serde(default)]
    pub verifier: VerifierV002,
}

/// Rekor v2 `Verifier`: exactly one of `publicKey` and `x509Certificate`, plus `keyDetails`.
/// The members are in JCS order, so serializing writes canonical JSON.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VerifierV002 {
    /// The Sigstore `PublicKeyDetails` name, e.g. `PKIX_ECDSA_P256_SHA_256`.
    #[serde(default, alias = "key_details")]
    pub key_details: String,
    /// DER SubjectPublicKeyInfo.
    #[serde(default, alias = "public_key", skip_serializing_if = "Option::is_none")]
    pub public_key: Option<RawBytes>,
    /// DER certificate.
    #[serde(
        default,
        alias = "x509_certificate",
        skip_serializing_if = "Option::is_none"
    )]
    pub x509_certificate: Option<RawBytes>,
}

/// `{"rawBytes": "<base64>"}`.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RawBytes {
    /// The bytes.
    #[serde(default, alias = "raw_bytes")]
    pub raw_bytes: Base64Bytes,
}

/// The `spec` of a canonicalized `hashedrekord` 0.0.2 body (Rekor v2):
/// `{"hashedRekordV002": {"data", "signature"}}`. Every struct of the body declares its members
/// in JCS (RFC 8785) order and holds only ASCII strings, so `serde_json::to_vec` of a
/// [`TypedEntry`] of it is the canonical body the log stores.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HashedRekordSpecV002 {
    /// The entry.
    pub hashed_rekord_v002: HashedRekordV002,
}

/// `hashedRekordV002`: what was signed, and the signature with its verifier.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HashedRekordV002 {
    /// The digest.
    pub data: HashedRekordDataV002,
    /// The signature and who verifies it.
    pub signature: SignatureV002,
}

/// `hashedRekordV002.data`: `{"algorithm", "digest"}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HashedRekordDataV002 {
    /// The digest's algorithm, e.g. `SHA2_256`.
    #[serde(default)]
    pub algorithm: HashAlgorithm,
    /// The digest.
    #[serde(default)]
    pub digest: Base64Bytes,
}

/// `dsse` 0.0.1 canonicalized spec (what the log stores): the envelope's and payload's hashes
/// and each signature with its verifier. Members in JCS order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DsseV001 {
    /// SHA-256 of the envelope text as submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_hash: Option<HashValue>,
    /// SHA-256 of the decoded payload.
    pub payload_hash: HashValue,
    /// The signatures, sorted by signature text.
    pub signatures: Vec<DsseSignatureV001>,
}

/// One signature of a canonicalized `dsse` 0.0.1 body.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DsseSignatureV001 {
    /// The envelope's signature, base64 as in the envelope.
    pub signature: String,
    /// Base64 of the PEM key or certificate that verifies it.
    pub verifier: String,
}

/// `intoto` 0.0.2 canonicalized spec: `{"content": …}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IntotoV002 {
    /// The envelope summary and hashes.
    pub content: IntotoContentV002,
}

/// `intoto` 0.0.2 `content` as stored. Members in JCS order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IntotoContentV002 {
    /// The envelope without its payload.
    pub envelope: IntotoEnvelopeV002,
    /// SHA-256 of the envelope as Rekor re-serializes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<HashValue>,
    /// SHA-256 of the decoded payload.
    pub payload_hash: HashValue,
}

/// The stored envelope of an `intoto` 0.0.2 body: its payload type and signatures.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IntotoEnvelopeV002 {
    /// The DSSE payload type.
    #[serde(default)]
    pub payload_type: String,
    /// The signatures.
    pub signatures: Vec<IntotoSignatureV002>,
}

/// One signature of a stored `intoto` 0.0.2 envelope. Members in JCS order.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IntotoSignatureV002 {
    /// The key hint, when the envelope had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    /// Base64 of the PEM key or certificate.
    pub public_key: String,
    /// Base64 of the envelope's base64 signature text.
    pub sig: String,
}

fn b64(s: &str, what: &'static str) -> Result<Vec<u8>, BodyError> {
    b64_decode(s).map_err(|source| BodyError::Base64 { what, source })
}

fn malformed(e: serde_json::Error) -> BodyError {
    BodyError::Malformed(e.to_string())
}

impl EntryBody {
    /// Decode a canonicalized body, checking it matches `kind`/`version` from the entry.
    pub fn parse(body: &[u8], kind: &str, version: &str) -> Result<Self, BodyError> {
        /// Parse the whole body as `TypedEntry<T>` in one pass and check its kind/version.
        fn typed<T: serde::de::DeserializeOwned>(
            body: &[u8],
            kind: &str,
            version: &str,
        ) -> Result<T, BodyError> {
            let env: TypedEntry<T> = match serde_json::from_slice(body) {
                Ok(e) => e,
                Err(e) => {
                    // Report a kind mismatch rather than a shape error when that is the cause.
                    if let Ok(head) =
                        serde_json::from_slice::<TypedEntry<serde::de::IgnoredAny>>(body)
                        && (head.kind != kind || head.api_version != version)
                    {
                        return Err(BodyError::KindMismatch {
                            body_kind: head.kind,
                            body_version: head.api_version,
                            kind: kind.to_string(),
                            version: version.to_string(),
                        });
                    }
                    return Err(malformed(e));
                }
            };
            if env.kind != kind || env.api_version != version {
                return Err(BodyError::KindMismatch {
                    body_kind: env.kind,
                    body_version: env.api_version,
                    kind: kind.to_string(),
                    version: version.to_string(),
                });
            }
            Ok(env.spec)
        }
        match (kind, version) {
            ("hashedrekord", "0.0.1") => {
                let s: HashedRekordV001 = typed(body, kind, version)?;
                Ok(Self::HashedRekordV001 {
                    algorithm: s.data.hash.algorithm,
                    digest_hex: s.data.hash.value.to_ascii_lowercase(),
                    signature: b64(&s.signature.content, "signature.content")?,
                    public_key_pem: b64(&s.signature.public_key.content, "publicKey.content")?,
                })
            }
            ("hashedrekord", "0.0.2") => {
                let s: HashedRekordSpecV002 = typed(body, kind, version)?;
                let v = s.hashed_rekord_v002;
                let verifier = match (
                    v.signature.verifier.x509_certificate,
                    v.signature.verifier.public_key,
                ) {
                    (Some(c), None) => V2Verifier::Certificate(c.raw_bytes.0),
                    (None, Some(k)) => V2Verifier::PublicKey(k.raw_bytes.0),
                    _ => {
                        return Err(BodyError::Malformed(
                            "verifier must hold exactly one of x509Certificate, publicKey".into(),
                        ));
                    }
                };
                Ok(Self::HashedRekordV002 {
                    algorithm: v.data.algorithm,
                    digest: v.data.digest.0,
                    signature: v.signature.content.0,
                    verifier,
                    key_details: v.signature.verifier.key_details,
                })
            }
            ("dsse", "0.0.1") => {
                let s: DsseV001 = typed(body, kind, version)?;
                let signatures = s
                    .signatures
                    .iter()
                    .map(|g| {
                        Ok((
                            b64(&g.signature, "signature")?,
                            b64(&g.verifier, "verifier")?,
                        ))
                    })
                    .collect::<Result<_, BodyError>>()?;
                Ok(Self::DsseV001 {
                    payload_hash_algorithm: s.payload_hash.algorithm,
                    payload_hash_hex: s.payload_hash.value.to_ascii_lowercase(),
                    signatures,
                })
            }
            ("intoto", "0.0.2") => {
                let s: IntotoV002 = typed(body, kind, version)?;
                let signatures = s
                    .content
                    .envelope
                    .signatures
                    .iter()
                    .map(|g| {
                        // `sig` is base64 of the envelope's base64 signature text.
                        let inner = b64(&g.sig, "sig")?;
                        let inner = std::str::from_utf8(&inner)
                            .map_err(|_| BodyError::Malformed("sig is not base64 text".into()))?;
                        Ok((b64(inner, "sig (inner)")?, b64(&g.public_key, "publicKey")?))
                    })
                    .collect::<Result<_, BodyError>>()?;
                Ok(Self::IntotoV002 {
                    payload_hash_algorithm: s.content.payload_hash.algorithm,
                    payload_hash_hex: s.content.payload_hash.value.to_ascii_lowercase(),
                    signatures,
                })
            }
            _ => {
                typed::<serde::de::IgnoredAny>(body, kind, version)?;
                Err(BodyError::Unsupported {
                    kind: kind.to_string(),
                    version: version.to_string(),
                })
            }
        }
    }
}

/// Key or certificate material of one signer of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A DER certificate.
    Certificate(Vec<u8>),
    /// A DER SubjectPublicKeyInfo.
    PublicKey(Vec<u8>),
}

/// Who signed an entry and what: read from any body kind the log stores (monitor, explorer).
#[derive(Debug, Clone)]
pub struct EntryInfo {
    /// Entry kind, e.g. `hashedrekord`.
    pub kind: String,
    /// Kind version, e.g. `0.0.2`.
    pub version: String,
    /// What was signed, as `<algorithm>:<hex>` (the artifact digest, or the DSSE payload hash).
    pub digest: Option<String>,
    /// The signers.
    pub signers: Vec<Signer>,
}

/// Why an entry body could not be summarized ([`EntryInfo::parse`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryInfoError {
    /// Not a typed Rekor entry at all.
    #[error("entry is not a Rekor entry (apiVersion, kind, spec): {0}")]
    NotAnEntry(#[source] serde_json::Error),
    /// The body does not decode.
    #[error(transparent)]
    Body(#[from] BodyError),
}

fn signers_from_pem(pem: &[u8], out: &mut Vec<Signer>) {
    let Ok(text) = std::str::from_utf8(pem) else {
        return;
    };
    let Ok(blocks) = pem_blocks(text) else {
        return;
    };
    // A chain's first certificate is the signer's; keys stand on their own.
    if let Some((_, der)) = blocks.iter().find(|(l, _)| l == "CERTIFICATE") {
        out.push(Signer::Certificate(der.clone()));
    } else if let Some((_, der)) = blocks.iter().find(|(l, _)| l == "PUBLIC KEY") {
        out.push(Signer::PublicKey(der.clone()));
    }
}

impl EntryInfo {
    /// Read an entry body (the Merkle leaf data).
    pub fn parse(body: &[u8]) -> Result<Self, EntryInfoError> {
        let head: TypedEntry<serde::de::IgnoredAny> =
            serde_json::from_slice(body).map_err(EntryInfoError::NotAnEntry)?;
        let parsed = EntryBody::parse(body, &head.kind, &head.api_version)?;
        let mut signers = Vec::new();
        let digest = match parsed {
            EntryBody::HashedRekordV001 {
                algorithm,
                digest_hex,
                public_key_pem,
                ..
            } => {
                signers_from_pem(&public_key_pem, &mut signers);
                Some(format!("{algorithm}:{digest_hex}"))
            }
            EntryBody::HashedRekordV002 {
                algorithm,
                digest,
                verifier,
                ..
            } => {
                signers.push(match verifier {
                    V2Verifier::Certificate(c) => Signer::Certificate(c),
                    V2Verifier::PublicKey(k) => Signer::PublicKey(k),
                });
                use crate::bundle::HashAlgorithm as H;
                let alg = match algorithm {
                    H::SHA2_384 => "sha384",
                    H::SHA2_512 => "sha512",
                    H::SHA3_256 => "sha3-256",
                    H::SHA3_384 => "sha3-384",
                    _ => "sha256",
                };
                Some(format!("{alg}:{}", hex::encode(digest)))
            }
            EntryBody::DsseV001 {
                payload_hash_algorithm,
                payload_hash_hex,
                signatures,
            }
            | EntryBody::IntotoV002 {
                payload_hash_algorithm,
                payload_hash_hex,
                signatures,
            } => {
                for (_, pem) in &signatures {
                    signers_from_pem(pem, &mut signers);
                }
                Some(format!("{payload_hash_algorithm}:{payload_hash_hex}"))
            }
        };
        Ok(Self {
            kind: head.kind,
            version: head.api_version,
            digest,
            signers,
        })
    }
}

/// The canonical JSON a Rekor v1 SET signs: `{"body":…,"integratedTime":…,"logID":…,"logIndex":…}`.
pub fn set_payload(body: &[u8], integrated_time: i64, log_id: &[u8], log_index: i64) -> Vec<u8> {
    // Keys are already in JCS order and every value is ASCII without escapes.
    format!(
        "{{\"body\":\"{}\",\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
        b64_encode(body),
        integrated_time,
        hex::encode(log_id),
        log_index
    )
    .into_bytes()
}

/// The Rekor v1 tree ID of a log: the first 8 bytes of its log ID as a big-endian integer,
/// reduced to a positive `int64` (Trillian tree IDs are `int64`; 0 is invalid, so 0 maps to 1).
pub fn tree_id(log_id: &[u8; 32]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&log_id[..8]);
    let id = u64::from_be_bytes(b) & 0x7fff_ffff_ffff_ffff;
    if id == 0 { 1 } else { id }
}

/// Rekor v1 `LogInfo` (`GET /api/v1/log`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogInfo {
    /// Hex root hash of the current tree.
    pub root_hash: String,
    /// Current tree size.
    pub tree_size: u64,
    /// The signed checkpoint (signed note text).
    pub signed_tree_head: String,
    /// The tree ID, as a decimal string.
    #[serde(rename = "treeID")]
    pub tree_id: String,
}

/// The fields of a Rekor v1 `LogEntry` value (`GET /api/v1/log/entries?logIndex=N` answers
/// `{"<entryID>": LogEntryV1}`) that readers of the log use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntryV1 {
    /// The canonicalized entry body, base64.
    pub body: String,
    /// When the log integrated it (Unix seconds).
    pub integrated_time: i64,
    /// Hex log ID.
    #[serde(rename = "logID")]
    pub log_id: String,
    /// Its index.
    pub log_index: u64,
    /// The inclusion proof and SET (absent from some search answers of older logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<LogEntryVerificationV1>,
}

/// `LogEntry.verification`: the entry's inclusion proof and signed entry timestamp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntryVerificationV1 {
    /// The inclusion proof against a checkpoint of the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProofV1>,
    /// Base64 SET over [`set_payload`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_entry_timestamp: Option<String>,
}

/// Rekor v1 `InclusionProof`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProofV1 {
    /// The entry's index.
    pub log_index: u64,
    /// Hex root hash of the tree the proof is against.
    pub root_hash: String,
    /// Size of that tree.
    pub tree_size: u64,
    /// Hex proof hashes, leaf to root.
    pub hashes: Vec<String>,
    /// The signed checkpoint (note text) of that tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// Rekor v1 `SearchIndex` (`POST /api/v1/index/retrieve`): the criteria, combined with
/// `operator` (`and` or `or`, default `or`). Unset criteria are omitted when written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SearchIndex {
    /// Entries whose signer certificate names this email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Entries whose signer certificate names this subject (any SAN; a vouch extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Entries signed by this key or certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<SearchPublicKey>,
    /// Entries over this artifact digest, `<algorithm>:<hex>` (or bare hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// `and` or `or`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// `SearchIndex.publicKey`: a key or certificate, inline (`content`, base64) or by `url`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchPublicKey {
    /// `x509`, `ssh`, `pgp`, … .
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Base64 of the key (for `x509`: of its PEM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Where to fetch the key from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Rekor v1 `ConsistencyProof` (`GET /api/v1/log/proof`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyProof {
    /// Hex root hash of the tree at `lastSize`.
    pub root_hash: String,
    /// Hex proof hashes.
    pub hashes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_mismatch_is_reported() {
        let body = br#"{"apiVersion":"0.0.1","kind":"dsse","spec":{}}"#;
        assert!(matches!(
            EntryBody::parse(body, "hashedrekord", "0.0.1"),
            Err(BodyError::KindMismatch { .. })
        ));
    }

    #[test]
    fn set_payload_shape() {
        let p = set_payload(b"{}", 5, &[0xab], 7);
        assert_eq!(
            std::str::from_utf8(&p).unwrap(),
            r#"{"body":"e30=","integratedTime":5,"logID":"ab","logIndex":7}"#
        );
    }
}
