//! Removing an image's signatures, attestations, SBOMs or referrers (`vouch clean`, cosign's
//! `clean --type signature|attestation|sbom|referrer|all`).
//!
//! Exactly the named artifacts go: `--type signature` deletes the legacy `.sig` manifest and
//! the bundle-layout signature referrers, and rewrites the referrers fallback index without
//! them, so the image's attestations (either layout) stay verifiable. The registry must allow
//! deletes (distribution: `storage.delete.enabled`).

use crate::OciError;
use crate::copy::{Only, by_digest, by_tag};
use crate::layout;
use crate::registry::{OCI_INDEX, Registry};
use crate::verify::{ReferrersSource, list_referrers};
use oci_client::Reference;
use oci_client::manifest::ImageIndexEntry;
use oci_spec::image::ImageIndex;
use std::collections::BTreeSet;

/// What `clean` removes (cosign's `--type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanType {
    /// `.sig` and signature referrers.
    Signature,
    /// `.att` and attestation referrers.
    Attestation,
    /// `.sbom` and SBOM referrers.
    Sbom,
    /// Every referrer (any artifact type), no legacy tag.
    Referrer,
    /// Everything above.
    All,
}

impl CleanType {
    fn legacy(self) -> BTreeSet<Only> {
        match self {
            CleanType::Signature => [Only::Sig].into(),
            CleanType::Attestation => [Only::Att].into(),
            CleanType::Sbom => [Only::Sbom].into(),
            CleanType::Referrer => BTreeSet::new(),
            CleanType::All => crate::copy::ALL_ATTACHMENTS.into(),
        }
    }

    fn removes_referrer(self, e: &ImageIndexEntry) -> bool {
        if matches!(self, CleanType::Referrer | CleanType::All) {
            return true;
        }
        let kind = crate::copy::referrer_kind(e);
        kind.is_some_and(|k| self.legacy().contains(&k))
    }
}

/// What `clean` removed: (what, digest).
#[derive(Debug, Default)]
pub struct CleanReport {
    /// Manifests deleted.
    pub removed: Vec<(String, String)>,
    /// The referrers fallback index was rewritten (new digest) or deleted (`None`).
    pub index: Option<Option<String>>,
}

/// Remove what `what` names from the image `image` (tag or digest).
pub async fn clean(
    reg: &Registry,
    image: &Reference,
    what: CleanType,
) -> Result<CleanReport, OciError> {
    let digest = match image.digest() {
        Some(d) => d.to_string(),
        None => reg.resolve(image).await?.digest,
    };
    let mut report = CleanReport::default();
    for k in what.legacy() {
        let tag = format!("{}.{}", layout::fallback_tag(&digest), k.suffix());
        if let Some(m) = reg.get_manifest(&by_tag(image, &tag)).await?
            && reg.delete_manifest(image, &m.digest).await?
        {
            report.removed.push((format!("tag {tag}"), m.digest));
        }
    }
    let (entries, source) = list_referrers(reg, image, &digest).await?;
    let (gone, kept): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|e| what.removes_referrer(e));
    for e in &gone {
        reg.delete_manifest(image, &e.digest).await?;
        report
            .removed
            .push(("referrer".to_string(), e.digest.clone()));
    }
    if source == ReferrersSource::TagSchema && !gone.is_empty() {
        let tag = layout::fallback_tag(&digest);
        let tag_ref = by_tag(image, &tag);
        let old = reg
            .get_manifest(&tag_ref)
            .await?
            .ok_or_else(|| OciError::NotFound(format!("referrers index {tag}")))?;
        if kept.is_empty() {
            reg.delete_manifest(image, &old.digest).await?;
            report.index = Some(None);
        } else {
            let mut idx: ImageIndex =
                serde_json::from_slice(&old.bytes).map_err(|source| OciError::ProtocolJson {
                    context: format!("referrers index {tag}"),
                    source,
                })?;
            let keep: BTreeSet<&str> = kept.iter().map(|e| e.digest.as_str()).collect();
            let mut m = idx.manifests().clone();
            m.retain(|d| keep.contains(d.digest().to_string().as_str()));
            idx.set_manifests(m);
            let bytes = idx.to_string().map_err(|source| OciError::ProtocolSpec {
                context: format!("referrers index {tag}"),
                source,
            })?;
            let (d, _) = reg
                .put_manifest(&tag_ref, &tag, bytes.as_bytes(), OCI_INDEX)
                .await?;
            // The superseded index is untagged now; remove it so nothing still lists the
            // deleted referrers.
            reg.delete_manifest(&by_digest(image, &old.digest), &old.digest)
                .await?;
            report.index = Some(Some(d));
        }
    }
    Ok(report)
}
