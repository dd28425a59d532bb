//! Where signatures and attestations come from: the engine's only I/O besides trust material,
//! behind [`SignatureSource`] so that the rest of the engine stays pure. [`OciSource`] is the
//! real implementation over vouch-oci's registry client (both cosign layouts).

use std::future::Future;
use vouch_oci::layout::Kind;
use vouch_oci::verify::Found;
use vouch_oci::{OciError, Reference, Registry};

/// Finds the signatures or attestations stored for an image.
pub trait SignatureSource: Send + Sync {
    /// Everything of `kind` stored for `image` (a reference with a digest; its registry and
    /// repository say where to look).
    fn discover(
        &self,
        image: &Reference,
        kind: Kind,
    ) -> impl Future<Output = Result<Vec<Found>, OciError>> + Send;
}

/// Signatures from an OCI registry, through vouch-oci (referrers, the referrers tag schema and
/// cosign's legacy `.sig`/`.att` tags).
#[derive(Clone, Debug)]
pub struct OciSource {
    registry: Registry,
}

impl OciSource {
    /// Read through `registry`.
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }

    /// The registry client (for request counts).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl SignatureSource for OciSource {
    fn discover(
        &self,
        image: &Reference,
        kind: Kind,
    ) -> impl Future<Output = Result<Vec<Found>, OciError>> + Send {
        vouch_oci::verify::discover(&self.registry, image, kind, None)
    }
}

/// A source with nothing in it: every image is unsigned. For artifact-only engines and for
/// policies whose authorities are all `static`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSource;

impl SignatureSource for NoSource {
    async fn discover(&self, _image: &Reference, _kind: Kind) -> Result<Vec<Found>, OciError> {
        Ok(Vec::new())
    }
}
