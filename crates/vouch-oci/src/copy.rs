//! Copying an image with everything attached to it, byte for byte, between registries and
//! OCI image layouts (`vouch copy`, `save`, `load`).
//!
//! What is copied, for the image and (for a multi-platform index) every platform manifest
//! below it, as cosign's `copy` walks them:
//!
//! * the manifests and blobs themselves, as raw bytes, so every digest is preserved;
//! * cosign's legacy tags `sha256-<hex>.sig`, `.att` and `.sbom`;
//! * the OCI 1.1 referrers (bundle-layout signatures and attestations, SBOMs, anything else),
//!   found through the referrers fallback index `sha256-<hex>` or the referrers API. When the
//!   destination does not acknowledge a pushed subject (no referrers API, or a layout), the
//!   fallback index is written there too, verbatim when the destination had none.
//!
//! Nothing is re-signed: a signature that verified at the source verifies at the destination.
//! With [`CopyOptions::upgrade`], legacy signatures with only a SET also get a bundle with
//! their inclusion proof at the destination ([`crate::upgrade`]); the legacy tags stay.

use crate::OciError;
use crate::layout;
use crate::registry::{DOCKER_LIST, OCI_INDEX, OCI_MANIFEST, Registry, Resolved};
use crate::upgrade::{Upgraded, Upgrader};
use crate::verify::{ReferrersSource, list_referrers};
use oci_client::Reference;
use oci_client::manifest::ImageIndexEntry;
use oci_spec::image::Descriptor;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

/// Largest image layer copied (held in memory while copied).
pub const MAX_LAYER: usize = 1 << 30;

/// Deepest nesting of indexes followed.
const MAX_DEPTH: usize = 8;

/// The attachment kinds of cosign's `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Only {
    /// Signatures: `.sig` tags and bundle-layout signature referrers.
    Sig,
    /// Attestations: `.att` tags and bundle-layout attestation referrers.
    Att,
    /// SBOMs: `.sbom` tags and SBOM referrers.
    Sbom,
}

impl Only {
    /// Parse cosign's `--only` value (`sig`, `att`, `sbom`).
    pub fn parse(s: &str) -> Result<Self, OciError> {
        match s.trim() {
            "sig" => Ok(Only::Sig),
            "att" => Ok(Only::Att),
            "sbom" => Ok(Only::Sbom),
            other => Err(OciError::Config(format!(
                "invalid value for --only: {other:?}; the supported values are sig, att, sbom"
            ))),
        }
    }

    /// The legacy tag suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Only::Sig => "sig",
            Only::Att => "att",
            Only::Sbom => "sbom",
        }
    }
}

/// All three attachment kinds.
pub const ALL_ATTACHMENTS: [Only; 3] = [Only::Sig, Only::Att, Only::Sbom];

/// SBOM media types (cosign's `attach sbom` layers and SBOM referrer artifact types).
pub const SBOM_MEDIA_TYPES: [&str; 5] = [
    "text/spdx",
    "text/spdx+json",
    "application/vnd.cyclonedx+xml",
    "application/vnd.cyclonedx+json",
    "application/vnd.syft+json",
];

/// A platform as `os/arch[/variant]` (cosign's `--platform`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformSpec {
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub architecture: String,
    /// Variant (`v8`), if named.
    pub variant: Option<String>,
}

impl PlatformSpec {
    /// Parse `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Self, OciError> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(PlatformSpec {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).map(|v| v.to_string()),
            }),
            _ => Err(OciError::Config(format!(
                "--platform {s:?}: expected os/arch[/variant], e.g. linux/amd64"
            ))),
        }
    }

    fn matches(&self, d: &Descriptor) -> bool {
        let Some(p) = d.platform() else { return false };
        p.os().to_string() == self.os
            && p.architecture().to_string() == self.architecture
            && self
                .variant
                .as_ref()
                .is_none_or(|v| p.variant().as_deref() == Some(v.as_str()))
    }
}

impl std::fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Told about each blob as it is copied (a progress bar).
pub trait Progress: Send + Sync {
    /// `bytes` more were copied (or found already present when `skipped`).
    fn blob(&self, digest: &str, bytes: u64, skipped: bool);
}

/// How to copy.
#[derive(Clone, Default)]
pub struct CopyOptions {
    /// Copy only these attachments, and not the image itself (cosign `--only`); `None`:
    /// the image and every attachment.
    pub only: Option<BTreeSet<Only>>,
    /// Overwrite destination tags that point elsewhere (cosign `-f`).
    pub force: bool,
    /// For a multi-platform index, copy only this platform's image and its attachments.
    pub platform: Option<PlatformSpec>,
    /// Progress reporting.
    pub progress: Option<Arc<dyn Progress>>,
    /// `--upgrade-bundles`: give every copied legacy signature and attestation that has only
    /// a SET a bundle with its inclusion proof (see [`crate::upgrade`]).
    pub upgrade: Option<Arc<Upgrader>>,
}

impl std::fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("only", &self.only)
            .field("force", &self.force)
            .field("platform", &self.platform)
            .field("upgrade", &self.upgrade.is_some())
            .finish_non_exhaustive()
    }
}

/// What one copy did.
#[derive(Debug, Default)]
pub struct CopyReport {
    /// The image copied (after `--platform` selection).
    pub root: Option<Resolved>,
    /// Every manifest written: (what, digest).
    pub manifests: Vec<(String, String)>,
    /// Tags written at the destination.
    pub tags: Vec<String>,
    /// Blobs uploaded.
    pub blobs_copied: usize,
    /// Blobs the destination already had.
    pub blobs_present: usize,
    /// Bytes uploaded.
    pub bytes: u64,
    /// With `--upgrade-bundles`: each legacy signature or attestation looked at.
    pub upgraded: Vec<Upgraded>,
}

/// The descriptors a manifest points to (an image manifest's config and layers, or an index's
/// manifests), peeked without requiring either shape.
#[derive(serde::Deserialize)]
struct Children {
    #[serde(default)]
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

fn parse_children(bytes: &[u8], what: &str) -> Result<Children, OciError> {
    serde_json::from_slice(bytes).map_err(|source| OciError::ProtocolJson {
        context: what.to_string(),
        source,
    })
}

fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// Which attachment kind a referrer is, if one of cosign's: a bundle with cosign's
/// signature predicate or a message signature is a signature, other bundles attestations.
pub fn referrer_kind(e: &ImageIndexEntry) -> Option<Only> {
    let at = e.artifact_type.as_deref()?;
    if at == layout::BUNDLE_MEDIA_TYPE {
        let ann = |k: &str| {
            e.annotations
                .as_ref()
                .and_then(|a| a.get(k))
                .map(String::as_str)
        };
        if ann(layout::ANN_BUNDLE_CONTENT) == Some(layout::CONTENT_MESSAGE_SIGNATURE) {
            return Some(Only::Sig);
        }
        return Some(match ann(layout::ANN_BUNDLE_PREDICATE) {
            Some(layout::COSIGN_SIGN_PREDICATE) => Only::Sig,
            _ => Only::Att,
        });
    }
    SBOM_MEDIA_TYPES.contains(&at).then_some(Only::Sbom)
}

/// A reference to `digest` in the repository of `r`.
pub fn by_digest(r: &Reference, digest: &str) -> Reference {
    Reference::with_digest(
        r.registry().to_string(),
        r.repository().to_string(),
        digest.to_string(),
    )
}

/// A reference to `tag` in the repository of `r`.
pub fn by_tag(r: &Reference, tag: &str) -> Reference {
    Reference::with_tag(
        r.registry().to_string(),
        r.repository().to_string(),
        tag.to_string(),
    )
}

/// Whether the user wrote a tag in `s` (`repo:tag`, not a port): what the destination's tag
/// is when a copy names one.
pub fn explicit_tag(s: &str) -> Option<String> {
    let s = s.split('@').next().unwrap_or(s);
    let last = s.rsplit('/').next().unwrap_or(s);
    let first = !s.contains('/');
    match last.rsplit_once(':') {
        Some((_, t)) if !first || !t.bytes().all(|b| b.is_ascii_digit()) => Some(t.to_string()),
        _ => None,
    }
}

struct Copier<'a> {
    src: &'a Registry,
    src_ref: &'a Reference,
    dst: &'a Registry,
    dst_ref: &'a Reference,
    opts: &'a CopyOptions,
    report: CopyReport,
    done: HashSet<String>,
}

impl Copier<'_> {
    fn wants(&self, k: Only) -> bool {
        self.opts.only.as_ref().is_none_or(|o| o.contains(&k))
    }

    async fn blob(&mut self, digest: &str) -> Result<(), OciError> {
        if !self.done.insert(digest.to_string()) {
            return Ok(());
        }
        if self.dst.has_blob(self.dst_ref, digest).await? {
            self.report.blobs_present += 1;
            if let Some(p) = &self.opts.progress {
                p.blob(digest, 0, true);
            }
            return Ok(());
        }
        let data = self
            .src
            .get_blob_limited(self.src_ref, digest, MAX_LAYER)
            .await?;
        self.dst.put_blob(self.dst_ref, &data).await?;
        self.report.blobs_copied += 1;
        self.report.bytes += data.len() as u64;
        if let Some(p) = &self.opts.progress {
            p.blob(digest, data.len() as u64, false);
        }
        Ok(())
    }

    /// Copy the manifest `digest` and everything below it (children first), by digest.
    async fn tree(&mut self, digest: &str, what: &str, depth: usize) -> Result<Resolved, OciError> {
        if depth > MAX_DEPTH {
            return Err(OciError::Protocol(format!(
                "{what}: indexes nested deeper than {MAX_DEPTH}"
            )));
        }
        let m = self
            .src
            .get_manifest(&by_digest(self.src_ref, digest))
            .await?
            .ok_or_else(|| OciError::NotFound(format!("{what} {digest} at the source")))?;
        let resolved = Resolved {
            digest: m.digest.clone(),
            media_type: m.media_type.clone(),
            size: m.bytes.len() as u64,
        };
        if self.done.contains(&m.digest) {
            return Ok(resolved);
        }
        let c = parse_children(&m.bytes, what)?;
        for child in &c.manifests {
            Box::pin(self.tree(child.digest().as_ref(), what, depth + 1)).await?;
        }
        if let Some(cfg) = &c.config {
            self.blob(cfg.digest().as_ref()).await?;
        }
        for l in &c.layers {
            if l.urls().as_ref().is_some_and(|u| !u.is_empty()) {
                continue; // foreign layer: served from its URLs, not the registry
            }
            self.blob(l.digest().as_ref()).await?;
        }
        self.dst
            .put_manifest(self.dst_ref, &m.digest, &m.bytes, &m.media_type)
            .await?;
        self.done.insert(m.digest.clone());
        self.report
            .manifests
            .push((what.to_string(), m.digest.clone()));
        Ok(resolved)
    }

    /// Point `tag` at the destination to `digest` (already copied); refuses to move a tag that
    /// points elsewhere unless forced.
    async fn tag(&mut self, tag: &str, digest: &str) -> Result<(), OciError> {
        let tag_ref = by_tag(self.dst_ref, tag);
        if let Some(existing) = self.dst.get_manifest(&tag_ref).await? {
            if existing.digest == digest {
                return Ok(());
            }
            if !self.opts.force {
                return Err(OciError::Config(format!(
                    "{}:{tag} already exists at the destination as {}, not {digest}: pass --force to overwrite it",
                    self.dst_ref.repository(),
                    existing.digest
                )));
            }
        }
        let m = self
            .dst
            .get_manifest(&by_digest(self.dst_ref, digest))
            .await?
            .ok_or_else(|| OciError::NotFound(format!("{digest} at the destination")))?;
        self.dst
            .put_manifest(&tag_ref, tag, &m.bytes, &m.media_type)
            .await?;
        self.report.tags.push(tag.to_string());
        Ok(())
    }

    /// The legacy `.sig`/`.att`/`.sbom` tags of `digest`.
    async fn legacy(&mut self, digest: &str) -> Result<(), OciError> {
        for k in ALL_ATTACHMENTS {
            if !self.wants(k) {
                continue;
            }
            let tag = format!("{}.{}", layout::fallback_tag(digest), k.suffix());
            let Some(m) = self.src.get_manifest(&by_tag(self.src_ref, &tag)).await? else {
                continue;
            };
            self.tree(&m.digest, &format!("tag {tag}"), 0).await?;
            self.tag(&tag, &m.digest).await?;
        }
        Ok(())
    }

    /// The referrers of `digest`, and the fallback index when the destination needs it.
    async fn referrers(&mut self, digest: &str) -> Result<(), OciError> {
        let (entries, source) = list_referrers(self.src, self.src_ref, digest).await?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut kept = Vec::new();
        for e in &entries {
            let wanted = match referrer_kind(e) {
                Some(k) => self.wants(k),
                None => self.opts.only.is_none(),
            };
            if wanted {
                kept.push(e.clone());
            }
        }
        let mut acknowledged = true;
        for e in &kept {
            // The referrer's subject is the image, copied already: push it by digest.
            let m = self
                .src
                .get_manifest(&by_digest(self.src_ref, &e.digest))
                .await?
                .ok_or_else(|| {
                    OciError::NotFound(format!("referrer {} at the source", e.digest))
                })?;
            let c = parse_children(&m.bytes, "referrer")?;
            if let Some(cfg) = &c.config {
                self.blob(cfg.digest().as_ref()).await?;
            }
            for l in &c.layers {
                self.blob(l.digest().as_ref()).await?;
            }
            let (_, ack) = self
                .dst
                .put_manifest(self.dst_ref, &m.digest, &m.bytes, &m.media_type)
                .await?;
            acknowledged &= ack;
            self.done.insert(m.digest.clone());
            self.report
                .manifests
                .push(("referrer".to_string(), m.digest.clone()));
        }
        if acknowledged || kept.is_empty() {
            return Ok(());
        }
        let tag = layout::fallback_tag(digest);
        let tag_ref = by_tag(self.dst_ref, &tag);
        let existing = self.dst.get_manifest(&tag_ref).await?;
        let src_index = match source {
            ReferrersSource::TagSchema => {
                self.src.get_manifest(&by_tag(self.src_ref, &tag)).await?
            }
            _ => None,
        };
        let bytes = match (&existing, src_index) {
            // Same set of referrers, no index at the destination: the source's index as is.
            (None, Some(src)) if kept.len() == entries.len() => src.bytes,
            _ => {
                let mut idx = existing.map(|m| m.bytes);
                for e in &kept {
                    let entry = layout::index_entry_descriptor(e)?;
                    idx = Some(layout::add_to_index(idx.as_deref(), entry)?);
                }
                idx.unwrap_or_default()
            }
        };
        let (d, _) = self
            .dst
            .put_manifest(&tag_ref, &tag, &bytes, OCI_INDEX)
            .await?;
        self.report
            .manifests
            .push((format!("referrers index {tag}"), d));
        self.report.tags.push(tag);
        Ok(())
    }
}

/// Copy `src_ref` (tag or digest) from `src` to the repository of `dst_ref` at `dst`, with
/// its attachments (see the module docs). `dst_tag` is the tag to point at the copied image
/// (none: by digest only). `src` and `dst` may be the same client.
pub async fn copy(
    src: &Registry,
    src_ref: &Reference,
    dst: &Registry,
    dst_ref: &Reference,
    dst_tag: Option<&str>,
    opts: &CopyOptions,
) -> Result<CopyReport, OciError> {
    let top = src.resolve(src_ref).await?;
    let pinned = by_digest(src_ref, &top.digest);
    let mut c = Copier {
        src,
        src_ref: &pinned,
        dst,
        dst_ref,
        opts,
        report: CopyReport::default(),
        done: HashSet::new(),
    };
    // --platform: descend to that platform's manifest.
    let mut root = top.clone();
    if let Some(p) = &opts.platform {
        if !is_index(&root.media_type) {
            return Err(OciError::Config(format!(
                "--platform {p}: {} is a single-platform image, not an index",
                src_ref.whole()
            )));
        }
        let m = src
            .get_manifest(&pinned)
            .await?
            .ok_or_else(|| OciError::NotFound(src_ref.whole()))?;
        let children = parse_children(&m.bytes, "image index")?;
        let d = children
            .manifests
            .iter()
            .find(|d| p.matches(d))
            .ok_or_else(|| {
                OciError::NotFound(format!("platform {p} in the index {}", top.digest))
            })?;
        root = Resolved {
            digest: d.digest().to_string(),
            media_type: d.media_type().to_string(),
            size: d.size(),
        };
    }
    // Every entity whose attachments are copied: the root, and each manifest of an index.
    let mut entities = vec![root.digest.clone()];
    if is_index(&root.media_type) {
        let m = src
            .get_manifest(&by_digest(src_ref, &root.digest))
            .await?
            .ok_or_else(|| OciError::NotFound(root.digest.clone()))?;
        for d in parse_children(&m.bytes, "image index")?.manifests {
            entities.push(d.digest().to_string());
        }
    }
    if opts.only.is_none() {
        c.tree(&root.digest, "image", 0).await?;
    }
    for digest in &entities {
        c.legacy(digest).await?;
        c.referrers(digest).await?;
        if let Some(u) = &opts.upgrade {
            for (only, kind) in [
                (Only::Sig, layout::Kind::Signature),
                (Only::Att, layout::Kind::Attestation),
            ] {
                if c.wants(only) {
                    let done = u.upgrade_image(dst, dst_ref, digest, kind).await?;
                    c.report.upgraded.extend(done);
                }
            }
        }
    }
    if opts.only.is_none()
        && let Some(tag) = dst_tag
    {
        c.tag(tag, &root.digest).await?;
    }
    if let Some(l) = dst.local_layout()
        && opts.only.is_none()
        && dst_tag.is_none()
    {
        l.add_root(&root.media_type, &root.digest, root.size)?;
    }
    c.report.root = Some(root);
    Ok(c.report)
}

/// The images an OCI image layout holds: its `index.json` entries that are not cosign
/// attachment tags or referrers indexes (`sha256-…`), with their tags.
pub fn layout_images(
    dir: &crate::oci_dir::OciDir,
) -> Result<Vec<(Resolved, Option<String>)>, OciError> {
    let idx = dir.index()?;
    let mut out = Vec::new();
    for d in idx.manifests() {
        let name = crate::oci_dir::ref_name(d);
        if name.is_some_and(|n| n.starts_with("sha256-")) {
            continue;
        }
        out.push((
            Resolved {
                digest: d.digest().to_string(),
                media_type: d.media_type().to_string(),
                size: d.size(),
            },
            name.map(String::from),
        ));
    }
    Ok(out)
}

/// `true` for an image manifest media type (OCI or Docker).
pub fn is_image_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == crate::registry::DOCKER_MANIFEST
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_platforms() {
        assert_eq!(explicit_tag("mirror.local:5000/app"), None);
        assert_eq!(explicit_tag("mirror.local:5000/app:v1"), Some("v1".into()));
        assert_eq!(explicit_tag("app:v1"), Some("v1".into()));
        assert_eq!(explicit_tag("localhost:5000"), None);
        assert_eq!(explicit_tag("r/app@sha256:ab"), None);
        let p = PlatformSpec::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(PlatformSpec::parse("linux").is_err());
        assert!(Only::parse("sig").is_ok());
        assert!(Only::parse("bundle").is_err());
    }
}
