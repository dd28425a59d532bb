//! Trust material: `trusted_root.json` (TrustedRoot), `signing_config.v0.2.json` (SigningConfig)
//! and `ClientTrustConfig`, plus [`TrustRoot`], the verified, ready-to-use form of a TrustedRoot.
//!
//! Spec: <https://github.com/sigstore/protobuf-specs/blob/main/protos/sigstore_trustroot.proto>,
//! protocols.md §6. Loading a TrustRoot checks every CA chain's signatures once, so per-bundle
//! verification only checks the leaf.

use crate::bundle::{HashAlgorithm, LogId, X509CertificateChain};
use crate::encoding::{Base64Bytes, null_default};
use crate::keys::{PublicKey, RsaPadding};
use crate::limits;
use crate::note::NoteVerifier;
use crate::time::{Instant, TimeRange};
use crate::tsa::TsaVerifier;
use crate::x509::Certificate;
use serde::{Deserialize, Serialize};

/// The public-good Sigstore trusted root, embedded as the default trust anchor.
pub const PUBLIC_GOOD_TRUSTED_ROOT: &str = include_str!("../trust/public-good.trusted_root.json");
/// The public staging Sigstore trusted root (`--staging`).
pub const STAGING_TRUSTED_ROOT: &str = include_str!("../trust/staging.trusted_root.json");
/// The public-good TUF root (v16), the anchor for refreshing the trusted root through TUF.
pub const PUBLIC_GOOD_TUF_ROOT: &str = include_str!("../trust/public-good.tuf-root.json");
/// The public-good signing configuration (service URLs).
pub const PUBLIC_GOOD_SIGNING_CONFIG: &str =
    include_str!("../trust/public-good.signing_config.v0.2.json");

/// Current TrustedRoot media type.
pub const TRUSTED_ROOT_MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.trustedroot.v0.2+json";
/// v0.1 TrustedRoot media type.
pub const TRUSTED_ROOT_MEDIA_TYPE_V0_1: &str = "application/vnd.dev.sigstore.trustedroot.v0.1+json";
/// Legacy TrustedRoot media type (still used by the public-good TUF target).
pub const TRUSTED_ROOT_MEDIA_TYPE_LEGACY: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// SigningConfig v0.2 media type.
pub const SIGNING_CONFIG_MEDIA_TYPE_V0_2: &str =
    "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// ClientTrustConfig media type.
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// Errors loading trust material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// JSON did not parse.
    #[error("trust material is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Document too large.
    #[error("trust material is {0} bytes, over the limit")]
    TooLarge(usize),
    /// Unknown media type.
    #[error("unsupported trusted root media type {0:?}")]
    MediaType(String),
    /// A required field is missing or malformed.
    #[error("invalid trusted root: {what} ({detail})")]
    Invalid {
        /// Which part.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// A certificate of a chain does not parse, or does not chain.
    #[error("invalid trusted root: {what} ({source})")]
    Certificate {
        /// Which part.
        what: String,
        /// The certificate error.
        #[source]
        source: Box<crate::x509::CertError>,
    },
    /// A witness public key is not a DER SubjectPublicKeyInfo.
    #[error("invalid trusted root: {what} (publicKey is not a DER SPKI: {source})")]
    WitnessSpki {
        /// Which witness.
        what: String,
        /// The SPKI decoding error.
        #[source]
        source: Box<spki::Error>,
    },
    /// A witness key is not usable for its cosignature kind.
    #[error("invalid trusted root: {what} ({source})")]
    WitnessKey {
        /// Which witness.
        what: String,
        /// The key error.
        #[source]
        source: Box<crate::note::NoteError>,
    },
    /// The witness configuration does not make a valid tlog-policy.
    #[error("invalid trusted root: {what} ({source})")]
    WitnessPolicy {
        /// Which part.
        what: String,
        /// The policy error.
        #[source]
        source: Box<crate::tlog_policy::PolicyParseError>,
    },
    /// A timestamp authority's chain is not usable.
    #[error("invalid trusted root: {what} ({source})")]
    TimestampAuthority {
        /// Which authority.
        what: String,
        /// The chain error.
        #[source]
        source: Box<crate::tsa::TimestampError>,
    },
}

fn invalid(what: impl Into<String>, detail: impl Into<String>) -> TrustError {
    TrustError::Invalid {
        what: what.into(),
        detail: detail.into(),
    }
}

/// `TimeRange` as JSON (RFC 3339 strings).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TimeRangeJson {
    /// Start (required by verifiers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Optional end, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

impl TimeRangeJson {
    /// Convert, requiring a start.
    pub fn to_range(&self, what: &str) -> Result<TimeRange, TrustError> {
        let start = self
            .start
            .as_deref()
            .ok_or_else(|| invalid(what, "validFor has no start"))?;
        let start = Instant::parse_rfc3339(start).map_err(|e| invalid(what, e))?;
        let end = self
            .end
            .as_deref()
            .map(Instant::parse_rfc3339)
            .transpose()
            .map_err(|e| invalid(what, e))?;
        Ok(TimeRange { start, end })
    }

    /// From a range.
    pub fn from_range(r: &TimeRange) -> Self {
        Self {
            start: Some(r.start.to_rfc3339()),
            end: r.end.map(|e| e.to_rfc3339()),
        }
    }
}

/// `PublicKey` of the trust root.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyJson {
    /// DER SPKI.
    #[serde(alias = "raw_bytes", default, deserialize_with = "null_default")]
    pub raw_bytes: Base64Bytes,
    /// `PublicKeyDetails` name.
    #[serde(alias = "key_details", default, deserialize_with = "null_default")]
    pub key_details: String,
    /// When the key may be used.
    #[serde(alias = "valid_for", default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRangeJson>,
}

/// `TransparencyLogInstance` (used for both Rekor and CT logs).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogInstanceJson {
    /// Base URL of the log.
    #[serde(alias = "base_url", default, deserialize_with = "null_default")]
    pub base_url: String,
    /// Tree hash algorithm.
    #[serde(alias = "hash_algorithm", default, deserialize_with = "null_default")]
    pub hash_algorithm: HashAlgorithm,
    /// The log's key.
    #[serde(alias = "public_key", default)]
    pub public_key: PublicKeyJson,
    /// Log ID.
    #[serde(alias = "log_id", default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<LogId>,
    /// Checkpoint key ID (v0.2 roots).
    #[serde(
        alias = "checkpoint_key_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub checkpoint_key_id: Option<LogId>,
    /// Operator (v0.2 roots).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub operator: String,
    /// The witnesses whose cosignatures this log's checkpoints must carry (v0.2 draft).
    #[serde(
        alias = "witness_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub witness_config: Option<WitnessConfigurationJson>,
}

/// `WitnessConfiguration` of a TransparencyLogInstance, in the shape proposed for TrustedRoot
/// v0.2 (sigstore/protobuf-specs#783, a draft): groups of witnesses, each with a quorum rule,
/// and a rule over the groups. A verifier turns it into a C2SP tlog-policy
/// ([`WitnessConfigurationJson::to_policy`]) and requires it for that log's entries.
///
/// Where the draft leaves room, vouch reads it so: a witness's `operator` is also the key name
/// in its cosignature lines (C2SP signed notes name every signer); `publicKey.rawBytes` is the
/// DER SPKI, as for every Sigstore `PublicKey`, with `keyDetails` `PKIX_ED25519`
/// (`cosignature/v1`) or `ML_DSA_44` (`subtree/v1`); a witness key's `validFor` is not
/// checked.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WitnessConfigurationJson {
    /// The witness groups.
    #[serde(alias = "witness_groups", default, deserialize_with = "null_default")]
    pub witness_groups: Vec<WitnessGroupJson>,
    /// How many groups must be satisfied.
    #[serde(
        alias = "service_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_config: Option<ServiceConfiguration>,
}

/// `WitnessGroup`: witnesses with something in common (operator, trust domain) and a quorum.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WitnessGroupJson {
    /// Its witnesses.
    #[serde(default, deserialize_with = "null_default")]
    pub witnesses: Vec<WitnessJson>,
    /// How many of them must have cosigned.
    #[serde(
        alias = "service_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_config: Option<ServiceConfiguration>,
}

/// `Witness`: a cosigning key and its operator.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WitnessJson {
    /// The witness's key.
    #[serde(alias = "public_key", default)]
    pub public_key: PublicKeyJson,
    /// Its operator (a scheme-less URI), and the key name of its cosignatures.
    #[serde(default, deserialize_with = "null_default")]
    pub operator: String,
}

/// The tlog-policy threshold for a `ServiceConfiguration` over `n` members.
fn threshold(
    what: &str,
    sc: Option<&ServiceConfiguration>,
    n: usize,
) -> Result<String, TrustError> {
    let sc = sc.ok_or_else(|| invalid(what, "serviceConfig is missing"))?;
    match sc.selector.as_str() {
        "ALL" => Ok("all".into()),
        "ANY" => Ok("any".into()),
        "EXACT" if sc.count >= 1 && (sc.count as usize) <= n => Ok(sc.count.to_string()),
        "EXACT" => Err(invalid(
            what,
            format!(
                "serviceConfig EXACT count {} is not within 1..={n}",
                sc.count
            ),
        )),
        other => Err(invalid(
            what,
            format!("serviceConfig selector {other:?} is not ALL, ANY or EXACT"),
        )),
    }
}

impl WitnessConfigurationJson {
    /// The C2SP tlog-policy this configuration describes: witness `g<i>w<j>` for the j-th
    /// witness of the i-th group, group `g<i>`, and the quorum group `witnessConfig`.
    pub fn to_policy(&self, what: &str) -> Result<crate::tlog_policy::WitnessPolicy, TrustError> {
        use crate::cosignature::{CosignatureKind, CosignerKey};
        use std::fmt::Write as _;
        let what = format!("{what} witnessConfig");
        if self.witness_groups.is_empty() {
            return Err(invalid(&what, "witnessGroups is empty"));
        }
        let mut text = String::new();
        let mut groups = Vec::new();
        for (gi, g) in self.witness_groups.iter().enumerate() {
            let gwhat = format!("{what} witnessGroups[{gi}]");
            if g.witnesses.is_empty() {
                return Err(invalid(&gwhat, "witnesses is empty"));
            }
            let mut members = Vec::new();
            for (wi, w) in g.witnesses.iter().enumerate() {
                let wwhat = format!("{gwhat} witnesses[{wi}] {}", w.operator);
                let kind = match w.public_key.key_details.as_str() {
                    "PKIX_ED25519" => CosignatureKind::Ed25519,
                    "ML_DSA_44" | "PKIX_ML_DSA_44" => CosignatureKind::MlDsa44,
                    other => {
                        return Err(invalid(
                            &wwhat,
                            format!(
                                "keyDetails {other:?}: a witness key is PKIX_ED25519 or ML_DSA_44"
                            ),
                        ));
                    }
                };
                let spki =
                    spki::SubjectPublicKeyInfoRef::try_from(w.public_key.raw_bytes.as_slice())
                        .map_err(|source| TrustError::WitnessSpki {
                            what: wwhat.clone(),
                            source: Box::new(source),
                        })?;
                let key = CosignerKey::new(&w.operator, kind, spki.subject_public_key.raw_bytes())
                    .map_err(|source| TrustError::WitnessKey {
                        what: wwhat.clone(),
                        source: Box::new(source),
                    })?;
                let name = format!("g{gi}w{wi}");
                let _ = writeln!(text, "witness {name} {}", key.to_vkey());
                members.push(name);
            }
            let t = threshold(&gwhat, g.service_config.as_ref(), members.len())?;
            let _ = writeln!(text, "group g{gi} {t} {}", members.join(" "));
            groups.push(format!("g{gi}"));
        }
        let t = threshold(&what, self.service_config.as_ref(), groups.len())?;
        let _ = writeln!(text, "group witnessConfig {t} {}", groups.join(" "));
        text.push_str("quorum witnessConfig\n");
        crate::tlog_policy::WitnessPolicy::parse(text.as_bytes()).map_err(|source| {
            TrustError::WitnessPolicy {
                what,
                source: Box::new(source),
            }
        })
    }
}

impl TransparencyLogInstanceJson {
    /// The entry for a log with SHA-256 tree hashing: its base URL, key (DER SPKI and
    /// `PublicKeyDetails` name), validity start (RFC 3339) and log ID. `checkpoint_key_id`
    /// repeats the log ID as the v0.2 checkpoint key ID (tile logs sign checkpoints with it).
    pub fn sha256_log(
        base_url: &str,
        spki_der: &[u8],
        key_details: &str,
        valid_from: &str,
        log_id: &[u8],
        checkpoint_key_id: bool,
    ) -> Self {
        let id = || LogId {
            key_id: Base64Bytes(log_id.to_vec()),
        };
        TransparencyLogInstanceJson {
            base_url: base_url.to_string(),
            hash_algorithm: HashAlgorithm::SHA2_256,
            public_key: PublicKeyJson {
                raw_bytes: Base64Bytes(spki_der.to_vec()),
                key_details: key_details.to_string(),
                valid_for: Some(TimeRangeJson {
                    start: Some(valid_from.to_string()),
                    end: None,
                }),
            },
            log_id: Some(id()),
            checkpoint_key_id: checkpoint_key_id.then(id),
            operator: String::new(),
            witness_config: None,
        }
    }
}

/// `DistinguishedName`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DistinguishedNameJson {
    /// O=.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub organization: String,
    /// CN=.
    #[serde(
        alias = "common_name",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub common_name: String,
}

/// `CertificateAuthority` (Fulcio CAs and TSAs).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAuthorityJson {
    /// Subject summary.
    #[serde(default)]
    pub subject: DistinguishedNameJson,
    /// Service URI.
    #[serde(default, deserialize_with = "null_default")]
    pub uri: String,
    /// Chain, leaf/intermediate first, trust anchor last.
    #[serde(alias = "cert_chain", default)]
    pub cert_chain: X509CertificateChain,
    /// When this CA may have issued certificates.
    #[serde(alias = "valid_for", default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRangeJson>,
    /// Operator.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub operator: String,
}

/// `TrustedRoot` as JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedRootJson {
    /// Media type.
    #[serde(alias = "media_type", default, deserialize_with = "null_default")]
    pub media_type: String,
    /// Rekor logs.
    #[serde(default, deserialize_with = "null_default")]
    pub tlogs: Vec<TransparencyLogInstanceJson>,
    /// Fulcio CAs.
    #[serde(
        alias = "certificate_authorities",
        default,
        deserialize_with = "null_default"
    )]
    pub certificate_authorities: Vec<CertificateAuthorityJson>,
    /// CT logs.
    #[serde(default, deserialize_with = "null_default")]
    pub ctlogs: Vec<TransparencyLogInstanceJson>,
    /// Timestamp authorities.
    #[serde(
        alias = "timestamp_authorities",
        default,
        deserialize_with = "null_default"
    )]
    pub timestamp_authorities: Vec<CertificateAuthorityJson>,
}

/// A usable transparency log (Rekor or CT).
#[derive(Clone, Debug)]
pub struct TrustedLog {
    /// Base URL.
    pub base_url: String,
    /// Checkpoint origin / key name derived from the base URL (scheme-less).
    pub origin: String,
    /// Log ID bytes (v1: SHA-256 of SPKI; v2: checkpoint key hash).
    pub log_id: Vec<u8>,
    /// Checkpoint key ID, when given.
    pub checkpoint_key_id: Option<Vec<u8>>,
    /// The parsed key, `None` when its type is not supported (entries from it are skipped).
    pub key: Option<PublicKey>,
    /// Note verifier for its checkpoints.
    pub note_verifier: Option<NoteVerifier>,
    /// When the key is valid.
    pub valid_for: TimeRange,
    /// Operator.
    pub operator: String,
    /// The quorum of cosignatures its checkpoints must carry (the root's `witnessConfig`).
    pub witness_policy: Option<crate::tlog_policy::WitnessPolicy>,
}

/// A Fulcio CA from the trusted root, chain pre-validated.
#[derive(Clone, Debug)]
pub struct TrustedCa {
    /// Service URI.
    pub uri: String,
    /// Chain, issuing CA first, root last.
    pub chain: Vec<Certificate>,
    /// SHA-256 of each chain certificate's SPKI (the RFC 6962 issuer key hash for SCTs).
    pub spki_hashes: Vec<[u8; 32]>,
    /// When it may have issued.
    pub valid_for: TimeRange,
}

/// A timestamp authority from the trusted root.
pub struct TrustedTsa {
    /// Service URI.
    pub uri: String,
    /// Verifier with the pre-validated chain.
    pub verifier: TsaVerifier,
    /// When its timestamps are trusted.
    pub valid_for: TimeRange,
}

impl std::fmt::Debug for TrustedTsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedTsa")
            .field("uri", &self.uri)
            .field("valid_for", &self.valid_for)
            .finish()
    }
}

/// A verified trusted root, ready for verification.
#[derive(Debug)]
pub struct TrustRoot {
    /// Rekor logs.
    pub tlogs: Vec<TrustedLog>,
    /// CT logs.
    pub ctlogs: Vec<TrustedLog>,
    /// Fulcio CAs.
    pub cas: Vec<TrustedCa>,
    /// TSAs.
    pub tsas: Vec<TrustedTsa>,
    /// The JSON it was built from.
    pub json: TrustedRootJson,
}

/// The scheme-less origin of a log base URL (`https://rekor.sigstore.dev` → `rekor.sigstore.dev`).
pub fn origin_from_url(url: &str) -> String {
    let s = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    s.trim_end_matches('/').to_string()
}

fn rsa_padding(details: &str) -> RsaPadding {
    if details.contains("PSS") {
        RsaPadding::Pss
    } else {
        RsaPadding::Pkcs1v15
    }
}

fn load_log(
    i: usize,
    kind: &str,
    l: &TransparencyLogInstanceJson,
) -> Result<TrustedLog, TrustError> {
    let what = format!("{kind}[{i}] {}", l.base_url);
    let valid_for = l
        .public_key
        .valid_for
        .as_ref()
        .ok_or_else(|| invalid(&what, "publicKey.validFor is missing"))?
        .to_range(&what)?;
    let log_id = l
        .log_id
        .as_ref()
        .map(|id| id.key_id.0.clone())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid(&what, "logId is missing"))?;
    // Keys of types we cannot use make the log unusable, not the whole root.
    let key = if l.public_key.raw_bytes.is_empty() || l.public_key.key_details.starts_with("PKCS1_")
    {
        None
    } else {
        PublicKey::from_spki_der_with(
            l.public_key.raw_bytes.as_slice(),
            rsa_padding(&l.public_key.key_details),
        )
        .ok()
    };
    let origin = origin_from_url(&l.base_url);
    let note_verifier = key
        .as_ref()
        .and_then(|k| NoteVerifier::for_log_key(host_of(&origin), k).ok());
    Ok(TrustedLog {
        base_url: l.base_url.clone(),
        origin,
        log_id,
        checkpoint_key_id: l
            .checkpoint_key_id
            .as_ref()
            .map(|k| k.key_id.0.clone())
            .filter(|k| !k.is_empty()),
        key,
        note_verifier,
        valid_for,
        operator: l.operator.clone(),
        witness_policy: l
            .witness_config
            .as_ref()
            .map(|w| w.to_policy(&what))
            .transpose()?,
    })
}

/// Host part of a scheme-less origin (what Rekor uses as its note key name).
pub fn host_of(origin: &str) -> &str {
    origin.split('/').next().unwrap_or(origin)
}

fn load_chain(what: &str, chain: &X509CertificateChain) -> Result<Vec<Certificate>, TrustError> {
    if chain.certificates.is_empty() {
        return Err(invalid(what, "certChain is empty"));
    }
    if chain.certificates.len() > limits::MAX_CHAIN_LEN {
        return Err(invalid(what, "certChain is too long"));
    }
    chain
        .certificates
        .iter()
        .map(|c| {
            Certificate::from_der(c.raw_bytes.as_slice()).map_err(|source| {
                TrustError::Certificate {
                    what: what.to_string(),
                    source: Box::new(source),
                }
            })
        })
        .collect()
}

impl TrustRoot {
    /// Parse and verify a `trusted_root.json`.
    pub fn from_json(json: &[u8]) -> Result<Self, TrustError> {
        if json.len() > limits::MAX_TRUST_JSON_LEN {
            return Err(TrustError::TooLarge(json.len()));
        }
        let tr: TrustedRootJson = serde_json::from_slice(json)?;
        Self::from_parsed(tr)
    }

    /// The embedded public-good root.
    pub fn public_good() -> Result<Self, TrustError> {
        Self::from_json(PUBLIC_GOOD_TRUSTED_ROOT.as_bytes())
    }

    /// The embedded public staging root.
    pub fn staging() -> Result<Self, TrustError> {
        Self::from_json(STAGING_TRUSTED_ROOT.as_bytes())
    }

    /// Verify an already-parsed TrustedRoot.
    pub fn from_parsed(tr: TrustedRootJson) -> Result<Self, TrustError> {
        match tr.media_type.as_str() {
            TRUSTED_ROOT_MEDIA_TYPE_V0_1
            | TRUSTED_ROOT_MEDIA_TYPE_V0_2
            | TRUSTED_ROOT_MEDIA_TYPE_LEGACY => {}
            other => return Err(TrustError::MediaType(other.to_string())),
        }
        let tlogs = tr
            .tlogs
            .iter()
            .enumerate()
            .map(|(i, l)| load_log(i, "tlogs", l))
            .collect::<Result<Vec<_>, _>>()?;
        let ctlogs = tr
            .ctlogs
            .iter()
            .enumerate()
            .map(|(i, l)| load_log(i, "ctlogs", l))
            .collect::<Result<Vec<_>, _>>()?;
        let mut cas = Vec::new();
        for (i, ca) in tr.certificate_authorities.iter().enumerate() {
            let what = format!("certificateAuthorities[{i}] {}", ca.uri);
            let valid_for = ca
                .valid_for
                .as_ref()
                .ok_or_else(|| invalid(&what, "validFor is missing"))?
                .to_range(&what)?;
            let chain = load_chain(&what, &ca.cert_chain)?;
            for pair in chain.windows(2) {
                if !pair[1].is_ca() {
                    return Err(invalid(
                        &what,
                        format!("{:?} is not a CA certificate", pair[1].subject()),
                    ));
                }
                pair[0]
                    .verify_signed_by(&pair[1])
                    .map_err(|source| TrustError::Certificate {
                        what: what.clone(),
                        source: Box::new(source),
                    })?;
            }
            let spki_hashes = chain
                .iter()
                .map(|c| {
                    let spki = c.spki_der().map_err(|source| TrustError::Certificate {
                        what: what.clone(),
                        source: Box::new(source),
                    })?;
                    let mut h = [0u8; 32];
                    h.copy_from_slice(&crate::keys::HashKind::Sha256.digest(&spki));
                    Ok(h)
                })
                .collect::<Result<Vec<_>, TrustError>>()?;
            cas.push(TrustedCa {
                uri: ca.uri.clone(),
                chain,
                spki_hashes,
                valid_for,
            });
        }
        let mut tsas = Vec::new();
        for (i, ta) in tr.timestamp_authorities.iter().enumerate() {
            let what = format!("timestampAuthorities[{i}] {}", ta.uri);
            let valid_for = ta
                .valid_for
                .as_ref()
                .ok_or_else(|| invalid(&what, "validFor is missing"))?
                .to_range(&what)?;
            let chain: Vec<Vec<u8>> = ta
                .cert_chain
                .certificates
                .iter()
                .map(|c| c.raw_bytes.0.clone())
                .collect();
            let verifier =
                TsaVerifier::new(&chain).map_err(|source| TrustError::TimestampAuthority {
                    what: what.clone(),
                    source: Box::new(source),
                })?;
            tsas.push(TrustedTsa {
                uri: ta.uri.clone(),
                verifier,
                valid_for,
            });
        }
        Ok(Self {
            tlogs,
            ctlogs,
            cas,
            tsas,
            json: tr,
        })
    }

    /// Find a Rekor log by the log ID carried in a bundle entry.
    pub fn tlog_by_id(&self, id: &[u8]) -> Option<&TrustedLog> {
        self.tlogs
            .iter()
            .find(|l| l.log_id == id || l.checkpoint_key_id.as_deref() == Some(id))
    }

    /// Find a CT log by its log ID.
    pub fn ctlog_by_id(&self, id: &[u8]) -> Option<&TrustedLog> {
        self.ctlogs.iter().find(|l| l.log_id == id)
    }
}

/// A service endpoint in a SigningConfig.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// URL.
    pub url: String,
    /// Major API version.
    #[serde(alias = "major_api_version", default)]
    pub major_api_version: u32,
    /// Validity.
    #[serde(alias = "valid_for", default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<TimeRangeJson>,
    /// Operator.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operator: String,
}

/// How many services of a kind a client uses.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServiceConfiguration {
    /// `ALL`, `ANY` or `EXACT`.
    #[serde(default)]
    pub selector: String,
    /// For `EXACT`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// `SigningConfig` v0.2.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningConfig {
    /// Media type.
    #[serde(alias = "media_type")]
    pub media_type: String,
    /// Fulcio instances.
    #[serde(alias = "ca_urls", default, skip_serializing_if = "Vec::is_empty")]
    pub ca_urls: Vec<Service>,
    /// OIDC providers.
    #[serde(alias = "oidc_urls", default, skip_serializing_if = "Vec::is_empty")]
    pub oidc_urls: Vec<Service>,
    /// Rekor instances.
    #[serde(
        alias = "rekor_tlog_urls",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rekor_tlog_urls: Vec<Service>,
    /// Rekor selection.
    #[serde(
        alias = "rekor_tlog_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rekor_tlog_config: Option<ServiceConfiguration>,
    /// TSAs.
    #[serde(alias = "tsa_urls", default, skip_serializing_if = "Vec::is_empty")]
    pub tsa_urls: Vec<Service>,
    /// TSA selection.
    #[serde(alias = "tsa_config", default, skip_serializing_if = "Option::is_none")]
    pub tsa_config: Option<ServiceConfiguration>,
}

impl SigningConfig {
    /// Parse, requiring the v0.2 media type.
    pub fn from_json(json: &[u8]) -> Result<Self, TrustError> {
        if json.len() > limits::MAX_TRUST_JSON_LEN {
            return Err(TrustError::TooLarge(json.len()));
        }
        let sc: Self = serde_json::from_slice(json)?;
        if sc.media_type != SIGNING_CONFIG_MEDIA_TYPE_V0_2 {
            return Err(TrustError::MediaType(sc.media_type));
        }
        Ok(sc)
    }
}

/// `ClientTrustConfig`: a trusted root and a signing config in one file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientTrustConfig {
    /// Media type.
    #[serde(alias = "media_type")]
    pub media_type: String,
    /// The trusted root.
    #[serde(alias = "trusted_root")]
    pub trusted_root: TrustedRootJson,
    /// The signing config.
    #[serde(alias = "signing_config")]
    pub signing_config: SigningConfig,
}

impl ClientTrustConfig {
    /// Parse a ClientTrustConfig (e.g. `vouch up`'s `trust_config.json`) into a verified trusted
    /// root and a v0.2 signing config, checking both media types.
    pub fn parse(json: &[u8]) -> Result<(TrustRoot, SigningConfig), TrustError> {
        if json.len() > limits::MAX_TRUST_JSON_LEN {
            return Err(TrustError::TooLarge(json.len()));
        }
        let ctc: ClientTrustConfig = serde_json::from_slice(json)?;
        if ctc.media_type != CLIENT_TRUST_CONFIG_MEDIA_TYPE {
            return Err(TrustError::MediaType(ctc.media_type));
        }
        let sc_bytes = serde_json::to_vec(&ctc.signing_config)?;
        let sc = SigningConfig::from_json(&sc_bytes)?;
        let tr = TrustRoot::from_parsed(ctc.trusted_root)?;
        Ok((tr, sc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_good_loads() {
        let tr = TrustRoot::public_good().unwrap();
        assert_eq!(tr.cas.len(), 2);
        assert!(tr.tlogs.len() >= 2);
        let rekor = tr
            .tlog_by_id(
                &crate::encoding::b64_decode("wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=")
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(rekor.origin, "rekor.sigstore.dev");
        let v2 = tr
            .tlog_by_id(
                &crate::encoding::b64_decode("zxGZFVvd0FEmjR8WrFwMdcAJ9vtaY/QXf44Y1wUeP6A=")
                    .unwrap(),
            )
            .unwrap();
        // The Rekor v2 log ID is the full signed-note key hash.
        assert_eq!(
            v2.note_verifier.as_ref().unwrap().key_hash.to_vec(),
            v2.log_id
        );
        SigningConfig::from_json(PUBLIC_GOOD_SIGNING_CONFIG.as_bytes()).unwrap();
    }
}
