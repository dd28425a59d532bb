//! An OCI image layout on disk (image-spec `image-layout.md`): `oci-layout`, `index.json` and
//! content-addressed `blobs/sha256/<hex>`.
//!
//! vouch uses it as a registry that needs no network ([`crate::Registry::oci_dir`]): `save`
//! copies an image with its signatures, attestations, SBOMs and referrers into one, `load`
//! copies them out, and `verify --local-image` reads it directly. Tags, including cosign's
//! `sha256-<hex>.sig`/`.att`/`.sbom` and the referrers fallback index `sha256-<hex>`, are
//! `index.json` entries annotated `org.opencontainers.image.ref.name`, so skopeo, oras and
//! other layout readers see the same content. Every blob read is checked against its digest.

use crate::OciError;
use crate::layout::descriptor;
use crate::registry::{Manifest, sha256_digest};
use oci_spec::image::{
    ANNOTATION_REF_NAME, Descriptor, ImageIndex, ImageIndexBuilder, MediaType, OciLayout,
    OciLayoutBuilder,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The layout version written to `oci-layout`.
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

/// Largest blob read from a layout (image layers are held in memory while copied).
pub const MAX_LAYOUT_BLOB: u64 = 1 << 30;

/// An OCI image layout directory.
#[derive(Debug)]
pub struct OciDir {
    root: PathBuf,
    /// Serializes read-modify-write of `index.json`.
    index_lock: Mutex<()>,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OciError {
    let path = path.to_path_buf();
    move |source| OciError::LayoutIo { what, path, source }
}

fn spec_err(what: &'static str, path: &Path, e: oci_spec::OciSpecError) -> OciError {
    OciError::LayoutSpec {
        path: path.to_path_buf(),
        what,
        source: e,
    }
}

/// `sha256:<64 hex>` → `<hex>`, refusing anything else (no path tricks through digests).
fn sha256_hex(digest: &str) -> Result<&str, OciError> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| OciError::Reference(format!("{digest:?} is not a sha256 digest")))
}

/// The media type a manifest declares, if it does.
fn declared_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Head>(bytes).ok()?.media_type
}

impl OciDir {
    /// Open the layout at `dir`, creating it (with `oci-layout` and an empty `index.json`)
    /// when the directory is absent or empty.
    pub fn create(dir: &Path) -> Result<Self, OciError> {
        std::fs::create_dir_all(dir.join("blobs/sha256"))
            .map_err(io("cannot create the layout directory", dir))?;
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            let layout: OciLayout = OciLayoutBuilder::default()
                .image_layout_version(IMAGE_LAYOUT_VERSION)
                .build()
                .map_err(|e| spec_err("oci-layout", &marker, e))?;
            let text = layout
                .to_string()
                .map_err(|e| spec_err("oci-layout", &marker, e))?;
            vouch_fs::write_durably(&marker, text.as_bytes(), vouch_fs::Access::Public)?;
        }
        let d = Self::open(dir)?;
        if !dir.join("index.json").exists() {
            d.write_index(&empty_index(&d.root)?)?;
        }
        Ok(d)
    }

    /// Open an existing layout (it must have `oci-layout` with version 1.x).
    pub fn open(dir: &Path) -> Result<Self, OciError> {
        let marker = dir.join("oci-layout");
        let layout = OciLayout::from_file(&marker).map_err(|source| OciError::NotLayout {
            path: dir.to_path_buf(),
            source,
        })?;
        if !layout.image_layout_version().starts_with("1.") {
            return Err(OciError::Layout {
                path: dir.to_path_buf(),
                detail: format!(
                    "imageLayoutVersion {} is not supported (expected 1.x)",
                    layout.image_layout_version()
                ),
            });
        }
        Ok(OciDir {
            root: dir.to_path_buf(),
            index_lock: Mutex::new(()),
        })
    }

    /// The layout directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, OciError> {
        Ok(self.root.join("blobs/sha256").join(sha256_hex(digest)?))
    }

    /// `index.json`.
    pub fn index(&self) -> Result<ImageIndex, OciError> {
        let p = self.root.join("index.json");
        if !p.exists() {
            return empty_index(&self.root);
        }
        ImageIndex::from_file(&p).map_err(|e| spec_err("index.json", &p, e))
    }

    fn write_index(&self, idx: &ImageIndex) -> Result<(), OciError> {
        let p = self.root.join("index.json");
        let text = idx.to_string().map_err(|e| spec_err("index.json", &p, e))?;
        vouch_fs::write_durably(&p, text.as_bytes(), vouch_fs::Access::Public)?;
        Ok(())
    }

    /// Whether the blob exists (its content is checked when read).
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).map(|p| p.is_file()).unwrap_or(false)
    }

    /// Read a blob and check its digest.
    pub fn get_blob(&self, digest: &str) -> Result<Vec<u8>, OciError> {
        let p = self.blob_path(digest)?;
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OciError::NotFound(format!(
                    "blob {digest} in {}",
                    self.root.display()
                )));
            }
            Err(e) => return Err(io("cannot read blob", &p)(e)),
        };
        if meta.len() > MAX_LAYOUT_BLOB {
            return Err(OciError::Protocol(format!(
                "blob {} is {} bytes, more than {MAX_LAYOUT_BLOB}",
                p.display(),
                meta.len()
            )));
        }
        let bytes = std::fs::read(&p).map_err(io("cannot read blob", &p))?;
        let got = sha256_digest(&bytes);
        if got != digest {
            return Err(OciError::Integrity(format!(
                "blob {} has digest {got}, expected {digest}",
                p.display()
            )));
        }
        Ok(bytes)
    }

    /// Store a blob (durably, content-addressed); returns its digest.
    pub fn put_blob(&self, data: &[u8]) -> Result<String, OciError> {
        let digest = sha256_digest(data);
        let p = self.blob_path(&digest)?;
        if !p.is_file() || std::fs::read(&p).map(|b| b != data).unwrap_or(true) {
            vouch_fs::write_durably(&p, data, vouch_fs::Access::Public)?;
        }
        Ok(digest)
    }

    /// The `index.json` entry tagged `tag`.
    pub fn tagged(&self, tag: &str) -> Result<Option<Descriptor>, OciError> {
        Ok(self
            .index()?
            .manifests()
            .iter()
            .find(|d| ref_name(d) == Some(tag))
            .cloned())
    }

    /// A manifest by tag (an `index.json` ref name) or digest; `None` when absent.
    pub fn get_manifest(&self, target: &str) -> Result<Option<Manifest>, OciError> {
        let (digest, listed_type) = if target.starts_with("sha256:") {
            (target.to_string(), None)
        } else {
            match self.tagged(target)? {
                Some(d) => (d.digest().to_string(), Some(d.media_type().to_string())),
                None => return Ok(None),
            }
        };
        let bytes = match self.get_blob(&digest) {
            Ok(b) => b,
            Err(OciError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let media_type = declared_media_type(&bytes)
            .or(listed_type)
            .unwrap_or_else(|| crate::registry::OCI_MANIFEST.to_string());
        Ok(Some(Manifest {
            bytes,
            media_type,
            digest,
        }))
    }

    /// Store a manifest; a `target` that is a tag (not a digest) also becomes the
    /// `index.json` entry of that ref name (replacing the previous one). Returns the digest.
    pub fn put_manifest(
        &self,
        target: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<String, OciError> {
        let digest = self.put_blob(bytes)?;
        if target.starts_with("sha256:") {
            if target != digest {
                return Err(OciError::Integrity(format!(
                    "manifest stored as {target} has digest {digest}"
                )));
            }
            return Ok(digest);
        }
        let ann = BTreeMap::from([(ANNOTATION_REF_NAME.to_string(), target.to_string())]);
        self.set_entry(
            descriptor(media_type, &digest, bytes.len() as u64, Some(&ann))?,
            Some(target),
        )?;
        Ok(digest)
    }

    /// List `digest` in `index.json` without a ref name (an image saved by digest), unless
    /// an entry for it exists already.
    pub fn add_root(&self, media_type: &str, digest: &str, size: u64) -> Result<(), OciError> {
        let _g = self.index_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut idx = self.index()?;
        if idx
            .manifests()
            .iter()
            .any(|d| d.digest().to_string() == digest)
        {
            return Ok(());
        }
        let mut m = idx.manifests().clone();
        m.push(descriptor(media_type, digest, size, None)?);
        idx.set_manifests(m);
        self.write_index(&idx)
    }

    fn set_entry(&self, entry: Descriptor, tag: Option<&str>) -> Result<(), OciError> {
        let _g = self.index_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut idx = self.index()?;
        let mut m = idx.manifests().clone();
        m.retain(|d| tag.is_none() || ref_name(d) != tag);
        m.push(entry);
        idx.set_manifests(m);
        self.write_index(&idx)
    }

    /// Remove every `index.json` entry for `digest` (its blob stays until garbage collected);
    /// `Ok(false)` when none was listed.
    pub fn untag_digest(&self, digest: &str) -> Result<bool, OciError> {
        let _g = self.index_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut idx = self.index()?;
        let before = idx.manifests().len();
        let mut m = idx.manifests().clone();
        m.retain(|d| d.digest().to_string() != digest);
        let removed = m.len() != before;
        idx.set_manifests(m);
        if removed {
            self.write_index(&idx)?;
        }
        Ok(removed)
    }
}

/// The ref name (`org.opencontainers.image.ref.name`) of an `index.json` entry.
pub fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_REF_NAME))
        .map(String::as_str)
}

fn empty_index(root: &Path) -> Result<ImageIndex, OciError> {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::<Descriptor>::new())
        .build()
        .map_err(|e| spec_err("index.json", root, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let d = OciDir::create(dir.path()).unwrap();
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
        let digest = d
            .put_manifest("v1", m, crate::registry::OCI_MANIFEST)
            .unwrap();
        let got = d.get_manifest("v1").unwrap().unwrap();
        assert_eq!(got.digest, digest);
        assert_eq!(got.bytes, m);
        assert_eq!(got.media_type, crate::registry::OCI_MANIFEST);
        assert!(d.get_manifest("v2").unwrap().is_none());
        // Re-tagging replaces the entry; the layout stays one index entry per tag.
        d.put_manifest("v1", m, crate::registry::OCI_MANIFEST)
            .unwrap();
        assert_eq!(d.index().unwrap().manifests().len(), 1);
        // A reopened layout reads the same; a tampered blob is refused.
        let d = OciDir::open(dir.path()).unwrap();
        let p = dir
            .path()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        std::fs::write(&p, b"{}").unwrap();
        assert!(matches!(d.get_manifest("v1"), Err(OciError::Integrity(_))));
        assert!(matches!(
            d.get_blob("sha256:../../etc"),
            Err(OciError::Reference(_))
        ));
        assert!(OciDir::open(&dir.path().join("nope")).is_err());
    }
}
