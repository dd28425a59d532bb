//! Signing images and attaching signatures and attestations in either layout.

use crate::OciError;
use crate::layout::{self, Kind, LegacyLayer};
use crate::registry::{OCI_INDEX, Registry, Resolved, sha256_digest};
use oci_client::Reference;
use oci_spec::image::MediaType;
use serde_json::Value;
use std::collections::BTreeMap;
use vouch_core::bundle::Bundle;
use vouch_core::encoding::{b64_encode, to_sorted_json};
use vouch_core::keys::HashKind;
use vouch_sign::{Content, Credential, SignOptions, SignOutcome, Signer};

/// Where signatures are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// OCI 1.1 referrer holding a Sigstore bundle v0.3 (cosign v3 default).
    Bundle,
    /// Legacy cosign `sha256-<hex>.sig` / `.att` tag.
    Legacy,
}

impl Layout {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Bundle => "bundle (OCI referrer)",
            Layout::Legacy => "legacy (cosign tag)",
        }
    }
}

/// An image pinned to its manifest digest.
#[derive(Clone, Debug)]
pub struct Target {
    /// The reference, by digest.
    pub reference: Reference,
    /// The manifest descriptor.
    pub descriptor: Resolved,
    /// The tag the user named, if it was resolved.
    pub from_tag: Option<String>,
}

impl Target {
    /// `registry/repository` as cosign writes it into `docker-reference`.
    pub fn repository_name(&self) -> String {
        format!(
            "{}/{}",
            self.reference.registry(),
            self.reference.repository()
        )
    }

    /// The digest bytes.
    pub fn digest_bytes(&self) -> Result<Vec<u8>, OciError> {
        digest_bytes(&self.descriptor.digest)
    }
}

/// `sha256:<hex>` → 32 bytes.
pub fn digest_bytes(d: &str) -> Result<Vec<u8>, OciError> {
    d.strip_prefix("sha256:")
        .and_then(|h| hex::decode(h).ok())
        .filter(|b| b.len() == 32)
        .ok_or_else(|| OciError::Reference(format!("{d} is not a sha256 digest")))
}

/// Pin `r` to a digest. A reference with a digest is checked to exist (one `HEAD`); a bare
/// tag is resolved only when `resolve_tag` is set, since what a tag points to can change
/// between resolving and signing.
pub async fn resolve_target(
    reg: &Registry,
    r: &Reference,
    resolve_tag: bool,
) -> Result<Target, OciError> {
    if r.digest().is_none() && !resolve_tag {
        return Err(OciError::Reference(format!(
            "{} names a tag, not a digest: what a tag points to can change; sign {}/{}@sha256:… or pass --resolve-tag to sign what the tag points to now",
            r.whole(),
            r.registry(),
            r.repository()
        )));
    }
    let descriptor = reg.resolve(r).await?;
    let reference = Reference::with_digest(
        r.registry().to_string(),
        r.repository().to_string(),
        descriptor.digest.clone(),
    );
    Ok(Target {
        reference,
        descriptor,
        from_tag: if r.digest().is_none() {
            r.tag().map(String::from).or(Some("latest".into()))
        } else {
            None
        },
    })
}

/// Pin `r` to a digest for reading: a reference with a digest is used as is, without a
/// request (what is attached to it is looked up by that digest anyway); a tag is resolved
/// with one `HEAD`.
pub async fn pin_for_reading(reg: &Registry, r: &Reference) -> Result<Target, OciError> {
    match r.digest() {
        Some(d) => {
            digest_bytes(d)?;
            Ok(Target {
                reference: Reference::with_digest(
                    r.registry().to_string(),
                    r.repository().to_string(),
                    d.to_string(),
                ),
                descriptor: Resolved {
                    digest: d.to_string(),
                    media_type: String::new(),
                    size: 0,
                },
                from_tag: None,
            })
        }
        None => resolve_target(reg, r, true).await,
    }
}

/// What to attach.
#[derive(Clone, Debug)]
pub struct Attachment {
    /// Signature or attestation.
    pub kind: Kind,
    /// Storage layout.
    pub layout: Layout,
    /// `-a k=v` annotations (simple-signing `optional`, or the statement subject's).
    pub annotations: BTreeMap<String, String>,
    /// For attestations: predicate type URI and predicate.
    pub predicate: Option<(String, Value)>,
}

/// The result of attaching.
#[derive(Debug)]
pub struct Attached {
    /// The signing outcome (the bundle as signed).
    pub outcome: SignOutcome,
    /// Digest of the referrer manifest (bundle layout) or of the `.sig`/`.att` manifest.
    pub manifest_digest: String,
    /// The tag written: the fallback index tag (bundle layout on registries without the
    /// referrers API) or the legacy tag.
    pub tag: Option<String>,
}

/// Sign `target` and store the signature or attestation in the registry.
///
/// The legacy layout needs a Rekor v1 log (its entry's SET goes into the
/// `dev.sigstore.cosign/bundle` annotation) when the signer uploads to a log.
pub async fn attach(
    reg: &Registry,
    signer: &Signer,
    credential: Credential,
    target: &Target,
    what: &Attachment,
    opts: &SignOptions,
) -> Result<Attached, OciError> {
    let digest = target.digest_bytes()?;
    let (content, legacy_payload) = match (what.kind, what.layout) {
        (Kind::Signature, Layout::Legacy) => {
            let payload = layout::simple_signing_payload(
                &target.repository_name(),
                &target.descriptor.digest,
                &what.annotations,
            )?;
            let hash = credential.hash();
            let c = Content::Digest {
                algorithm: hash,
                digest: hash.digest(&payload),
            };
            (c, Some(payload))
        }
        (Kind::Signature, Layout::Bundle) => {
            let st = layout::image_statement(
                None,
                &target.descriptor.digest,
                layout::COSIGN_SIGN_PREDICATE,
                Value::Object(serde_json::Map::new()),
                &what.annotations,
            )?;
            (dsse(st, digest.clone()), None)
        }
        (Kind::Attestation, _) => {
            let (pt, pred) = what.predicate.clone().ok_or_else(|| {
                OciError::Config("an attestation needs a predicate and its type".into())
            })?;
            let st = layout::image_statement(
                Some(&target.repository_name()),
                &target.descriptor.digest,
                &pt,
                pred,
                &what.annotations,
            )?;
            (dsse(st, digest.clone()), None)
        }
    };
    let outcome = signer.sign(&content, credential, opts).await?;
    let bundle_json = outcome
        .bundle
        .to_json()
        .map_err(|source| OciError::ProtocolJson {
            context: "bundle".into(),
            source,
        })?;
    match what.layout {
        Layout::Bundle => {
            let predicate_type = match &what.predicate {
                Some((pt, _)) => pt.clone(),
                None => layout::COSIGN_SIGN_PREDICATE.to_string(),
            };
            let (manifest_digest, tag) =
                push_referrer(reg, target, bundle_json.as_bytes(), &predicate_type).await?;
            Ok(Attached {
                outcome,
                manifest_digest,
                tag,
            })
        }
        Layout::Legacy => {
            let bundle = &outcome.bundle;
            let (blob, media_type, mut annotations) = match legacy_payload {
                Some(p) => {
                    let sig = bundle
                        .message_signature
                        .as_ref()
                        .map(|m| b64_encode(m.signature.as_slice()))
                        .unwrap_or_default();
                    let mut a = BTreeMap::new();
                    a.insert(layout::ANN_SIGNATURE.to_string(), sig);
                    (p, layout::SIMPLE_SIGNING_MEDIA_TYPE, a)
                }
                None => {
                    let env = bundle.dsse_envelope.as_ref().ok_or_else(|| {
                        OciError::Protocol("the signed bundle has no DSSE envelope".into())
                    })?;
                    // Sorted members, the bytes the layer was always written as.
                    let env = to_sorted_json(env).map_err(|source| OciError::Json {
                        what: "DSSE envelope",
                        source,
                    })?;
                    let mut a = BTreeMap::new();
                    a.insert(layout::ANN_SIGNATURE.to_string(), String::new());
                    if let Some((pt, _)) = &what.predicate {
                        a.insert(layout::ANN_PREDICATE_TYPE.to_string(), pt.clone());
                    }
                    (env, layout::DSSE_MEDIA_TYPE, a)
                }
            };
            legacy_annotations(bundle, opts.tlog_upload, &mut annotations)?;
            let layer = LegacyLayer {
                media_type: media_type.to_string(),
                digest: sha256_digest(&blob),
                size: blob.len() as u64,
                annotations,
            };
            let (manifest_digest, tag) = push_legacy(reg, target, what.kind, &blob, layer).await?;
            Ok(Attached {
                outcome,
                manifest_digest,
                tag: Some(tag),
            })
        }
    }
}

fn dsse(statement: Vec<u8>, digest: Vec<u8>) -> Content {
    Content::Dsse {
        payload_type: layout::INTOTO_PAYLOAD_TYPE.into(),
        payload: statement,
        subject: (HashKind::Sha256, digest),
    }
}

/// Fill the certificate, Rekor bundle and timestamp annotations from a v0.3 bundle.
fn legacy_annotations(
    bundle: &Bundle,
    tlog_upload: bool,
    a: &mut BTreeMap<String, String>,
) -> Result<(), OciError> {
    let material = bundle.verification_material.as_ref();
    if let Some(cert) = material.and_then(|m| m.certificate.as_ref()) {
        a.insert(
            layout::ANN_CERTIFICATE.into(),
            vouch_core::keys::pem_encode("CERTIFICATE", cert.raw_bytes.as_slice()),
        );
        // The chain annotation is optional (verifiers build the chain from the trusted root).
    }
    if tlog_upload {
        let entry = material
            .and_then(|m| m.tlog_entries.first())
            .ok_or_else(|| OciError::Protocol("the bundle has no log entry".into()))?;
        let set = entry.inclusion_promise.as_ref().ok_or_else(|| {
            OciError::Config(
                "the legacy layout needs a Rekor v1 entry with a signed entry timestamp: sign with --rekor-version 1".into(),
            )
        })?;
        let rekor_bundle = layout::RekorBundle {
            signed_entry_timestamp: b64_encode(set.signed_entry_timestamp.as_slice()),
            payload: layout::RekorBundlePayload {
                body: b64_encode(entry.canonicalized_body.as_slice()),
                integrated_time: entry.integrated_time.0,
                log_index: entry.log_index.0,
                log_id: entry
                    .log_id
                    .as_ref()
                    .map(|l| hex::encode(l.key_id.as_slice()))
                    .unwrap_or_default(),
            },
        };
        // Go's struct field order, as cosign marshals it (the struct declares that order).
        let rekor_bundle =
            serde_json::to_string(&rekor_bundle).map_err(|source| OciError::Json {
                what: "Rekor bundle annotation",
                source,
            })?;
        a.insert(layout::ANN_REKOR_BUNDLE.into(), rekor_bundle);
    }
    if let Some(ts) = material
        .and_then(|m| m.timestamp_verification_data.as_ref())
        .and_then(|t| t.rfc3161_timestamps.first())
    {
        let ann = layout::Rfc3161Annotation {
            signed: b64_encode(ts.signed_timestamp.as_slice()),
        };
        let ann = serde_json::to_string(&ann).map_err(|source| OciError::Json {
            what: "RFC 3161 annotation",
            source,
        })?;
        a.insert(layout::ANN_RFC3161.into(), ann);
    }
    Ok(())
}

/// Push a bundle as a referrer of `target`, and maintain the fallback index when the
/// registry did not acknowledge the subject.
async fn push_referrer(
    reg: &Registry,
    target: &Target,
    bundle: &[u8],
    predicate_type: &str,
) -> Result<(String, Option<String>), OciError> {
    let mut ann = BTreeMap::new();
    ann.insert(
        layout::ANN_CREATED.to_string(),
        jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    );
    ann.insert(
        layout::ANN_BUNDLE_CONTENT.to_string(),
        layout::CONTENT_DSSE.to_string(),
    );
    ann.insert(
        layout::ANN_BUNDLE_PREDICATE.to_string(),
        predicate_type.to_string(),
    );
    push_referrer_with(reg, target, bundle, &[], &ann).await
}

/// Push `bundle` (then the `extra` layers: bytes and media type) as a referrer manifest of
/// `target` annotated `ann`, and list it in the referrers fallback index when the registry
/// did not acknowledge the subject. Returns the manifest digest and the index tag written.
pub(crate) async fn push_referrer_with(
    reg: &Registry,
    target: &Target,
    bundle: &[u8],
    extra: &[(&[u8], &str)],
    ann: &BTreeMap<String, String>,
) -> Result<(String, Option<String>), OciError> {
    let r = &target.reference;
    reg.put_blob(r, layout::EMPTY_BLOB).await?;
    let bundle_digest = reg.put_blob(r, bundle).await?;
    let mut extra_layers = Vec::new();
    for (bytes, media_type) in extra {
        let d = reg.put_blob(r, bytes).await?;
        extra_layers.push(layout::descriptor(
            media_type,
            &d,
            bytes.len() as u64,
            None,
        )?);
    }
    let subject = layout::descriptor(
        &target.descriptor.media_type,
        &target.descriptor.digest,
        target.descriptor.size,
        None,
    )?;
    let manifest = layout::referrer_manifest(
        &bundle_digest,
        bundle.len() as u64,
        &extra_layers,
        &subject,
        ann,
    )?;
    let manifest_digest = sha256_digest(&manifest);
    let (_, acknowledged) = reg
        .put_manifest(
            r,
            &manifest_digest,
            &manifest,
            crate::registry::OCI_MANIFEST,
        )
        .await?;
    if acknowledged {
        return Ok((manifest_digest, None));
    }
    // Referrers tag schema: an index at sha256-<hex> listing the referrers.
    let tag = layout::fallback_tag(&target.descriptor.digest);
    let tag_ref = Reference::with_tag(
        r.registry().to_string(),
        r.repository().to_string(),
        tag.clone(),
    );
    let existing = reg.get_manifest(&tag_ref).await?;
    let mut entry = layout::descriptor(
        crate::registry::OCI_MANIFEST,
        &manifest_digest,
        manifest.len() as u64,
        Some(ann),
    )?;
    entry.set_artifact_type(Some(MediaType::from(layout::BUNDLE_MEDIA_TYPE)));
    let index = layout::add_to_index(existing.as_ref().map(|m| m.bytes.as_slice()), entry)?;
    reg.put_manifest(&tag_ref, &tag, &index, OCI_INDEX).await?;
    Ok((manifest_digest, Some(tag)))
}

/// Append a layer to the legacy `.sig`/`.att` manifest (skipping an identical one).
pub(crate) async fn push_legacy(
    reg: &Registry,
    target: &Target,
    kind: Kind,
    blob: &[u8],
    layer: LegacyLayer,
) -> Result<(String, String), OciError> {
    let r = &target.reference;
    let tag = layout::legacy_tag(&target.descriptor.digest, kind);
    let tag_ref = Reference::with_tag(
        r.registry().to_string(),
        r.repository().to_string(),
        tag.clone(),
    );
    let mut layers = match reg.get_manifest(&tag_ref).await? {
        Some(m) => layout::legacy_layers(&m.bytes)?,
        None => Vec::new(),
    };
    let duplicate = layers.iter().any(|l| {
        l.digest == layer.digest
            && l.annotations.get(layout::ANN_SIGNATURE)
                == layer.annotations.get(layout::ANN_SIGNATURE)
            && l.annotations.get(layout::ANN_CERTIFICATE)
                == layer.annotations.get(layout::ANN_CERTIFICATE)
    });
    reg.put_blob(r, blob).await?;
    if !duplicate {
        layers.push(layer);
    }
    let (manifest, config) = layout::legacy_manifest(&layers)?;
    reg.put_blob(r, &config).await?;
    let (digest, _) = reg
        .put_manifest(&tag_ref, &tag, &manifest, crate::registry::OCI_MANIFEST)
        .await?;
    Ok((digest, tag))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use vouch_core::bundle::{
        InclusionPromise, LogId, Rfc3161SignedTimestamp, TimestampVerificationData,
        TransparencyLogEntry, VerificationMaterial, X509Certificate,
    };
    use vouch_core::encoding::{Base64Bytes, Int64};

    /// The legacy annotations read from the typed bundle are the strings the old `Value`
    /// lookups and `format!` wrote.
    #[test]
    fn legacy_annotations_unchanged() {
        let bundle = Bundle {
            verification_material: Some(VerificationMaterial {
                certificate: Some(X509Certificate {
                    raw_bytes: Base64Bytes(vec![0x30, 0x00]),
                }),
                tlog_entries: vec![TransparencyLogEntry {
                    log_index: Int64(7),
                    log_id: Some(LogId {
                        key_id: Base64Bytes(vec![0xab]),
                    }),
                    integrated_time: Int64(5),
                    inclusion_promise: Some(InclusionPromise {
                        signed_entry_timestamp: Base64Bytes(vec![1, 2, 3]),
                    }),
                    canonicalized_body: Base64Bytes(b"{}".to_vec()),
                    ..Default::default()
                }],
                timestamp_verification_data: Some(TimestampVerificationData {
                    rfc3161_timestamps: vec![Rfc3161SignedTimestamp {
                        signed_timestamp: Base64Bytes(vec![4, 5]),
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut a = BTreeMap::new();
        legacy_annotations(&bundle, true, &mut a).unwrap();
        assert_eq!(
            a[layout::ANN_CERTIFICATE],
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(
            a[layout::ANN_REKOR_BUNDLE],
            r#"{"SignedEntryTimestamp":"AQID","Payload":{"body":"e30=","integratedTime":5,"logIndex":7,"logID":"ab"}}"#
        );
        assert_eq!(
            a[layout::ANN_RFC3161],
            r#"{"SignedRFC3161Timestamp":"BAU="}"#
        );
    }
}
