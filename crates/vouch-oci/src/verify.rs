//! Discovering signatures and attestations of an image in both layouts, and verifying them.
//!
//! Discovery reads the referrers tag-schema index (`sha256-<hex>`) first and the referrers API
//! only when that tag is absent, so that on registries without the API (the common case; they
//! answer the API with 404) an image with one bundle-layout signature costs four requests
//! after tag resolution: fallback index, legacy `.sig` tag, referrer manifest, bundle blob.

use crate::OciError;
use crate::layout::{self, Kind, LegacyLayer};
use crate::registry::Registry;
use crate::sign::{Layout, digest_bytes};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oci_client::Reference;
use oci_client::manifest::{ImageIndexEntry, OciImageIndex};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use vouch_core::bundle::{
    Bundle, HashAlgorithm, HashOutput, InclusionPromise, KindVersion, LogId, MEDIA_TYPE_V0_1,
    MessageSignature, PublicKeyIdentifier, Rfc3161SignedTimestamp, TimestampVerificationData,
    TransparencyLogEntry, VerificationMaterial, X509Certificate, X509CertificateChain,
};
use vouch_core::dsse::Envelope;
use vouch_core::encoding::{Base64Bytes, Int64, b64_decode};
use vouch_core::keys::HashKind;
use vouch_verify::{Artifact, Policy, PolicyBuilder, VerificationResult, Verifier};

/// Where the referrers list came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferrersSource {
    /// The referrers tag schema (`sha256-<hex>` index).
    TagSchema,
    /// The referrers API.
    Api,
    /// Neither: no referrers.
    None,
}

/// What was found, with the bytes needed to verify it.
#[derive(Clone, Debug)]
pub enum Evidence {
    /// A Sigstore bundle stored as a referrer.
    Bundle {
        /// Referrer manifest digest.
        manifest_digest: String,
        /// The bundle JSON.
        bundle: Vec<u8>,
        /// The simple-signing payload stored after the bundle, for a legacy signature
        /// upgraded by `--upgrade-bundles` (its message signature is over these bytes).
        payload: Option<Vec<u8>>,
    },
    /// A layer of a legacy `.sig`/`.att` manifest.
    Legacy {
        /// The tag.
        tag: String,
        /// Layer position.
        index: usize,
        /// The layer descriptor (annotations carry signature, certificate, Rekor bundle).
        layer: LegacyLayer,
        /// The layer blob (simple-signing payload, or DSSE envelope).
        blob: Vec<u8>,
    },
}

/// A signature or attestation found for an image.
#[derive(Clone, Debug)]
pub struct Found {
    /// Signature or attestation.
    pub kind: Kind,
    /// Where it is stored.
    pub layout: Layout,
    /// Its bytes.
    pub evidence: Evidence,
}

impl Found {
    /// Where it is, for messages: `referrer sha256:…` or `tag sha256-….sig layer 0`.
    pub fn location(&self) -> String {
        match &self.evidence {
            Evidence::Bundle {
                manifest_digest, ..
            } => format!("referrer {manifest_digest}"),
            Evidence::Legacy { tag, index, .. } => format!("tag {tag} layer {index}"),
        }
    }
}

/// List the referrers of `digest`: the fallback tag first, then the API.
pub async fn list_referrers(
    reg: &Registry,
    image: &Reference,
    digest: &str,
) -> Result<(Vec<ImageIndexEntry>, ReferrersSource), OciError> {
    let tag_ref = Reference::with_tag(
        image.registry().to_string(),
        image.repository().to_string(),
        layout::fallback_tag(digest),
    );
    if let Some(m) = reg.get_manifest(&tag_ref).await? {
        let idx: OciImageIndex =
            serde_json::from_slice(&m.bytes).map_err(|source| OciError::ProtocolJson {
                context: format!(
                    "tag {} is not a referrers index",
                    layout::fallback_tag(digest)
                ),
                source,
            })?;
        return Ok((idx.manifests, ReferrersSource::TagSchema));
    }
    let by_digest = Reference::with_digest(
        image.registry().to_string(),
        image.repository().to_string(),
        digest.to_string(),
    );
    match reg.referrers_api(&by_digest, digest, None).await? {
        Some(idx) => Ok((idx.manifests, ReferrersSource::Api)),
        None => Ok((Vec::new(), ReferrersSource::None)),
    }
}

/// The kind a referrer entry claims by its annotations, if it says.
fn entry_kind(e: &ImageIndexEntry) -> Option<Kind> {
    let a = e.annotations.as_ref()?;
    if a.get(layout::ANN_BUNDLE_CONTENT).map(String::as_str)
        == Some(layout::CONTENT_MESSAGE_SIGNATURE)
    {
        return Some(Kind::Signature);
    }
    let pt = a.get(layout::ANN_BUNDLE_PREDICATE)?;
    Some(if pt == layout::COSIGN_SIGN_PREDICATE {
        Kind::Signature
    } else {
        Kind::Attestation
    })
}

/// The kind a bundle holds: a statement with the cosign-sign predicate (or a message
/// signature) is a signature; other statements are attestations.
fn bundle_kind(bundle: &[u8]) -> Kind {
    let v: Value = serde_json::from_slice(bundle).unwrap_or(Value::Null);
    let Some(payload) = v.pointer("/dsseEnvelope/payload").and_then(|p| p.as_str()) else {
        return Kind::Signature;
    };
    let st: Value = STANDARD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    match st.get("predicateType").and_then(|p| p.as_str()) {
        Some(layout::COSIGN_SIGN_PREDICATE) => Kind::Signature,
        _ => Kind::Attestation,
    }
}

/// Find the signatures (or attestations) of the image `image` (a reference with a digest) in
/// both layouts. The referrers and the legacy tag are looked up concurrently. For
/// attestations, `predicate_type` (a URI or cosign shorthand) skips, without fetching them,
/// those whose annotations name another predicate type.
pub async fn discover(
    reg: &Registry,
    image: &Reference,
    kind: Kind,
    predicate_type: Option<&str>,
) -> Result<Vec<Found>, OciError> {
    let want = predicate_type.map(vouch_core::intoto::predicate_type_for);
    let digest = image
        .digest()
        .ok_or_else(|| OciError::Reference(format!("{} has no digest", image.whole())))?
        .to_string();
    let tag = layout::legacy_tag(&digest, kind);
    let tag_ref = Reference::with_tag(
        image.registry().to_string(),
        image.repository().to_string(),
        tag.clone(),
    );
    let (refs, legacy) = tokio::join!(
        list_referrers(reg, image, &digest),
        reg.get_manifest(&tag_ref)
    );
    let (entries, _) = refs?;
    let mut wanted = Vec::new();
    for e in entries {
        if e.artifact_type.as_deref() != Some(layout::BUNDLE_MEDIA_TYPE) {
            continue;
        }
        if entry_kind(&e).is_some_and(|k| k != kind) {
            continue;
        }
        let annotated = e
            .annotations
            .as_ref()
            .and_then(|a| a.get(layout::ANN_BUNDLE_PREDICATE));
        if kind == Kind::Attestation
            && let (Some(w), Some(a)) = (want, annotated)
            && w != a
        {
            continue;
        }
        wanted.push(e);
    }
    // Referrer manifests and their bundles, fetched concurrently (bounded), kept in order.
    let limit = Arc::new(Semaphore::new(FETCH_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (i, e) in wanted.into_iter().enumerate() {
        let (reg, image, limit) = (reg.clone(), image.clone(), limit.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, fetch_referrer(&reg, &image, &e).await.map(|b| (e, b)))
        });
    }
    let mut bundles = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, res) = joined.map_err(|source| OciError::Task {
            what: "fetch task",
            source,
        })?;
        if let (e, Some(bundle)) = res? {
            bundles.push((i, e, bundle));
        }
    }
    bundles.sort_by_key(|(i, _, _)| *i);
    let mut found = Vec::new();
    for (_, e, (bundle, payload)) in bundles {
        if entry_kind(&e).is_none() && bundle_kind(&bundle) != kind {
            continue;
        }
        found.push(Found {
            kind,
            layout: Layout::Bundle,
            evidence: Evidence::Bundle {
                manifest_digest: e.digest.clone(),
                bundle,
                payload,
            },
        });
    }
    if let Some(m) = legacy? {
        let layers: Vec<(usize, LegacyLayer)> = layout::legacy_layers(&m.bytes)?
            .into_iter()
            .enumerate()
            .filter(|(_, layer)| {
                !(kind == Kind::Attestation
                    && matches!(
                        (want, layer.annotations.get(layout::ANN_PREDICATE_TYPE)),
                        (Some(w), Some(a)) if w != a
                    ))
            })
            .collect();
        // Layers often share a payload (one image, several signers): fetch each blob once.
        let mut blobs: HashMap<String, Vec<u8>> = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut seen = std::collections::HashSet::new();
        for (_, layer) in &layers {
            if seen.insert(layer.digest.clone()) {
                let (reg, image, limit) = (reg.clone(), image.clone(), limit.clone());
                let digest = layer.digest.clone();
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let blob = reg.get_blob(&image, &digest).await;
                    (digest, blob)
                });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let (digest, blob) = joined.map_err(|source| OciError::Task {
                what: "fetch task",
                source,
            })?;
            blobs.insert(digest, blob?);
        }
        for (index, layer) in layers {
            let Some(blob) = blobs.get(&layer.digest).cloned() else {
                continue;
            };
            found.push(Found {
                kind,
                layout: Layout::Legacy,
                evidence: Evidence::Legacy {
                    tag: tag.clone(),
                    index,
                    layer,
                    blob,
                },
            });
        }
    }
    Ok(found)
}

/// How many manifests and blobs discovery fetches at once.
const FETCH_CONCURRENCY: usize = 16;

/// A bundle and, for an upgraded legacy signature, its simple-signing payload.
type ReferrerBlobs = (Vec<u8>, Option<Vec<u8>>);

/// A referrer's manifest, then its bundle layer (and simple-signing payload layer, if any);
/// `None` when it holds no bundle.
async fn fetch_referrer(
    reg: &Registry,
    image: &Reference,
    e: &ImageIndexEntry,
) -> Result<Option<ReferrerBlobs>, OciError> {
    let mref = Reference::with_digest(
        image.registry().to_string(),
        image.repository().to_string(),
        e.digest.clone(),
    );
    let Some(m) = reg.get_manifest(&mref).await? else {
        return Ok(None);
    };
    let manifest: oci_client::manifest::OciImageManifest = serde_json::from_slice(&m.bytes)
        .map_err(|source| OciError::ProtocolJson {
            context: format!("referrer {}", e.digest),
            source,
        })?;
    let Some(layer) = manifest
        .layers
        .iter()
        .find(|l| l.media_type == layout::BUNDLE_MEDIA_TYPE)
    else {
        return Ok(None);
    };
    let bundle = reg.get_blob(image, &layer.digest).await?;
    let payload = match manifest
        .layers
        .iter()
        .find(|l| l.media_type == layout::SIMPLE_SIGNING_MEDIA_TYPE)
    {
        Some(l) => Some(reg.get_blob(image, &l.digest).await?),
        None => None,
    };
    Ok(Some((bundle, payload)))
}

/// A verified signature or attestation.
#[derive(Debug)]
pub struct Verified {
    /// Where it was found.
    pub location: String,
    /// Its layout.
    pub layout: Layout,
    /// What the verifier established.
    pub result: VerificationResult,
    /// For legacy signatures, the payload's `docker-reference`.
    pub docker_reference: Option<String>,
}

/// Verify one found signature or attestation of the image `digest` under `policy`.
/// For attestations, `predicate_type` (a URI or cosign shorthand) is required to match when
/// given. Errors are one-line reasons naming the failed check.
pub fn verify_found(
    verifier: &Verifier,
    policy: &PolicyBuilder,
    digest: &str,
    found: &Found,
    predicate_type: Option<&str>,
) -> Result<Verified, String> {
    let policy = policy.clone().build().map_err(|e| format!("policy: {e}"))?;
    verify_found_with(verifier, &policy, digest, found, predicate_type)
}

/// [`verify_found`] with a built [`Policy`] (for callers that need what the builder cannot
/// express, such as several accepted identities). The policy's predicate type is replaced:
/// by `predicate_type` for attestations, by cosign's signature predicate for bundle-layout
/// signatures.
pub fn verify_found_with(
    verifier: &Verifier,
    policy: &Policy,
    digest: &str,
    found: &Found,
    predicate_type: Option<&str>,
) -> Result<Verified, String> {
    let image = digest_bytes(digest).map_err(|e| e.to_string())?;
    let mut policy = policy.clone();
    match found.kind {
        Kind::Signature => {}
        Kind::Attestation => {
            if let Some(t) = predicate_type {
                policy.predicate_type = Some(t.to_string());
            }
        }
    }
    let mut docker_reference = None;
    let result = match &found.evidence {
        Evidence::Bundle {
            bundle,
            payload: Some(payload),
            ..
        } if found.kind == Kind::Signature => {
            // An upgraded legacy signature: a message signature over the simple-signing
            // payload, which must name this image.
            let b = Bundle::from_json(bundle).map_err(|e| format!("bundle: {e}"))?;
            if b.message_signature.is_none() {
                return Err(
                    "a referrer with a simple-signing payload must hold a message signature"
                        .to_string(),
                );
            }
            let ss = layout::parse_simple_signing(payload)?;
            if ss.digest != digest {
                return Err(format!(
                    "payload docker-manifest-digest {} is not the image digest {digest}",
                    ss.digest
                ));
            }
            docker_reference = Some(ss.docker_reference);
            verifier
                .verify(&b, Artifact::Bytes(payload), &policy)
                .map_err(|e| e.to_string())?
        }
        Evidence::Bundle { bundle, .. } => {
            if found.kind == Kind::Signature {
                policy.predicate_type = Some(layout::COSIGN_SIGN_PREDICATE.to_string());
            }
            let b = Bundle::from_json(bundle).map_err(|e| format!("bundle: {e}"))?;
            verifier
                .verify(
                    &b,
                    Artifact::Digest {
                        algorithm: HashKind::Sha256,
                        digest: &image,
                    },
                    &policy,
                )
                .map_err(|e| e.to_string())?
        }
        Evidence::Legacy { layer, blob, .. } => {
            let b = legacy_bundle(layer, blob, found.kind)?;
            match found.kind {
                Kind::Signature => {
                    let ss = layout::parse_simple_signing(blob)?;
                    if ss.digest != digest {
                        return Err(format!(
                            "payload docker-manifest-digest {} is not the image digest {digest}",
                            ss.digest
                        ));
                    }
                    docker_reference = Some(ss.docker_reference);
                    verifier
                        .verify(&b, Artifact::Bytes(blob), &policy)
                        .map_err(|e| e.to_string())?
                }
                Kind::Attestation => verifier
                    .verify(
                        &b,
                        Artifact::Digest {
                            algorithm: HashKind::Sha256,
                            digest: &image,
                        },
                        &policy,
                    )
                    .map_err(|e| e.to_string())?,
            }
        }
    };
    Ok(Verified {
        location: found.location(),
        layout: found.layout,
        result,
        docker_reference,
    })
}

/// Rebuild a bundle v0.1 from a legacy layer: certificate (or key), the Rekor bundle
/// annotation as a log entry with its inclusion promise, the RFC 3161 timestamp, and the
/// signature (annotation) or DSSE envelope (blob). The signature bytes are the layer's.
pub fn legacy_bundle(layer: &LegacyLayer, blob: &[u8], kind: Kind) -> Result<Bundle, String> {
    let a = &layer.annotations;
    let mut vm = VerificationMaterial::default();
    match a
        .get(layout::ANN_CERTIFICATE)
        .filter(|c| !c.trim().is_empty())
    {
        Some(pem) => {
            let certs = vouch_core::pem::decode_all(pem, "CERTIFICATE")
                .map_err(|e| format!("the certificate annotation is not PEM: {e}"))?;
            let leaf = certs
                .into_iter()
                .next()
                .ok_or("the certificate annotation holds no PEM certificate")?;
            vm.x509_certificate_chain = Some(X509CertificateChain {
                certificates: vec![X509Certificate {
                    raw_bytes: Base64Bytes(leaf),
                }],
            });
        }
        None => vm.public_key = Some(PublicKeyIdentifier::default()),
    }
    let mut hash_alg = HashAlgorithm::SHA2_256;
    if let Some(rb) = a.get(layout::ANN_REKOR_BUNDLE) {
        let (entry, alg) = legacy_tlog_entry(rb)?;
        hash_alg = alg;
        vm.tlog_entries = vec![entry];
    }
    if let Some(ts) = a.get(layout::ANN_RFC3161) {
        let t: layout::Rfc3161Annotation =
            serde_json::from_str(ts).map_err(|e| format!("RFC 3161 timestamp annotation: {e}"))?;
        let der = b64_decode(&t.signed)
            .map_err(|e| format!("RFC 3161 timestamp annotation is not base64: {e}"))?;
        vm.timestamp_verification_data = Some(TimestampVerificationData {
            rfc3161_timestamps: vec![Rfc3161SignedTimestamp {
                signed_timestamp: Base64Bytes(der),
            }],
        });
    }
    let mut b = Bundle {
        media_type: MEDIA_TYPE_V0_1.to_string(),
        verification_material: Some(vm),
        ..Bundle::default()
    };
    match kind {
        Kind::Signature => {
            let sig = a
                .get(layout::ANN_SIGNATURE)
                .filter(|s| !s.is_empty())
                .ok_or("the layer has no dev.cosignproject.cosign/signature annotation")?;
            let sig = b64_decode(sig.trim())
                .map_err(|e| format!("the signature annotation is not base64: {e}"))?;
            let hash = match hash_alg {
                HashAlgorithm::SHA2_384 => HashKind::Sha384,
                HashAlgorithm::SHA2_512 => HashKind::Sha512,
                _ => HashKind::Sha256,
            };
            b.message_signature = Some(MessageSignature {
                message_digest: Some(HashOutput {
                    algorithm: hash_alg,
                    digest: Base64Bytes(hash.digest(blob)),
                }),
                signature: Base64Bytes(sig),
            });
        }
        Kind::Attestation => {
            let env: Envelope = serde_json::from_slice(blob)
                .map_err(|e| format!("attestation layer is not a DSSE envelope: {e}"))?;
            b.dsse_envelope = Some(env);
        }
    }
    Ok(b)
}

/// The fields of a Rekor v1 entry body that name its kind and hash algorithm.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BodyHead {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    spec: Value,
}

/// A log entry with its inclusion promise from cosign's Rekor bundle annotation, and the hash
/// algorithm its body records for the signed data.
fn legacy_tlog_entry(annotation: &str) -> Result<(TransparencyLogEntry, HashAlgorithm), String> {
    let rb: layout::RekorBundle =
        serde_json::from_str(annotation).map_err(|e| format!("Rekor bundle annotation: {e}"))?;
    let p = &rb.payload;
    let body = b64_decode(&p.body).map_err(|_| "Rekor bundle annotation body is not base64")?;
    let head: BodyHead = serde_json::from_slice(&body)
        .map_err(|e| format!("Rekor bundle annotation body is not a log entry: {e}"))?;
    let log_id = hex::decode(&p.log_id).map_err(|_| "Rekor bundle annotation logID is not hex")?;
    let set = b64_decode(&rb.signed_entry_timestamp)
        .map_err(|_| "Rekor bundle annotation SignedEntryTimestamp is not base64")?;
    let alg = match head
        .spec
        .pointer("/data/hash/algorithm")
        .and_then(|s| s.as_str())
    {
        Some("sha384") => HashAlgorithm::SHA2_384,
        Some("sha512") => HashAlgorithm::SHA2_512,
        _ => HashAlgorithm::SHA2_256,
    };
    let entry = TransparencyLogEntry {
        log_index: Int64(p.log_index),
        log_id: Some(LogId {
            key_id: Base64Bytes(log_id),
        }),
        kind_version: Some(KindVersion {
            kind: head.kind,
            version: head.api_version,
        }),
        integrated_time: Int64(p.integrated_time),
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: Base64Bytes(set),
        }),
        inclusion_proof: None,
        canonicalized_body: Base64Bytes(body),
    };
    Ok((entry, alg))
}

/// Everything attached to an image, for `vouch tree`.
#[derive(Debug)]
pub struct Tree {
    /// Referrers (any artifact type).
    pub referrers: Vec<ImageIndexEntry>,
    /// Where the referrers list came from.
    pub referrers_source: ReferrersSource,
    /// Legacy tags found, with their layers.
    pub legacy: Vec<(String, Vec<LegacyLayer>)>,
}

/// List referrers and the legacy `.sig`, `.att` and `.sbom` tags of `image` (by digest).
pub async fn tree(reg: &Registry, image: &Reference) -> Result<Tree, OciError> {
    let digest = image
        .digest()
        .ok_or_else(|| OciError::Reference(format!("{} has no digest", image.whole())))?
        .to_string();
    let (referrers, referrers_source) = list_referrers(reg, image, &digest).await?;
    let mut legacy = Vec::new();
    for suffix in ["sig", "att", "sbom"] {
        let tag = format!("{}.{suffix}", layout::fallback_tag(&digest));
        let r = Reference::with_tag(
            image.registry().to_string(),
            image.repository().to_string(),
            tag.clone(),
        );
        if let Some(m) = reg.get_manifest(&r).await? {
            legacy.push((tag, layout::legacy_layers(&m.bytes)?));
        }
    }
    Ok(Tree {
        referrers,
        referrers_source,
        legacy,
    })
}
