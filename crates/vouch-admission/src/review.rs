//! AdmissionReview `admission.k8s.io/v1` in and out, with kube's typed
//! `AdmissionReview`/`AdmissionRequest`/`AdmissionResponse` (`kube-core`'s `admission`
//! feature: the types only, no client).
//!
//! Untrusted-input bounds are enforced here, before anything else looks at the body.

use crate::limits::MAX_REVIEW_BYTES;
use kube_core::DynamicObject;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use kube_core::response::{Status, StatusSummary};

/// The only AdmissionReview version served (the API server sends what the webhook
/// configuration's `admissionReviewVersions` lists).
pub const ADMISSION_API_VERSION: &str = "admission.k8s.io/v1";

/// Why a body is not an AdmissionReview the webhook can answer (HTTP 400).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// The body is larger than [`MAX_REVIEW_BYTES`].
    #[error("AdmissionReview body exceeds {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body could not be read.
    #[error("cannot read the request body: {source}")]
    Body {
        /// The transport error.
        #[source]
        source: axum::Error,
    },
    /// The body is not a JSON AdmissionReview.
    #[error("malformed AdmissionReview at line {line}, column {column}: {source}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// Another apiVersion or kind.
    #[error("expected kind AdmissionReview, apiVersion {ADMISSION_API_VERSION}; got kind {kind:?}, apiVersion {api_version:?}")]
    WrongType {
        /// The `apiVersion` sent.
        api_version: String,
        /// The `kind` sent.
        kind: String,
    },
    /// No `request` in the review.
    #[error("AdmissionReview has no request")]
    NoRequest,
    /// More images than [`crate::limits::MAX_IMAGES_PER_REVIEW`] (or prefetch's limit).
    #[error("{count} images in one request; at most {limit} are decided at once")]
    TooManyImages {
        /// Images sent.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The JSON patch could not be serialized.
    #[error("cannot serialize the JSON patch: {source}")]
    Patch {
        /// The serializer's error.
        #[source]
        source: kube_core::admission::SerializePatchError,
    },
    /// The admitted object's pod spec is not a PodSpec.
    #[error(transparent)]
    PodSpec(#[from] crate::workload::PodSpecError),
}

/// Parse an AdmissionReview v1 body into its request.
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, ReviewError> {
    if body.len() > MAX_REVIEW_BYTES {
        return Err(ReviewError::TooLarge {
            limit: MAX_REVIEW_BYTES,
        });
    }
    let review: AdmissionReview<DynamicObject> =
        serde_json::from_slice(body).map_err(|source| ReviewError::Json {
            line: source.line(),
            column: source.column(),
            source,
        })?;
    if review.types.api_version != ADMISSION_API_VERSION || review.types.kind != "AdmissionReview"
    {
        return Err(ReviewError::WrongType {
            api_version: review.types.api_version,
            kind: review.types.kind,
        });
    }
    review.try_into().map_err(|_| ReviewError::NoRequest)
}

/// Turn `resp` into a denial with HTTP-style code 403 and `message`.
pub fn deny(resp: AdmissionResponse, message: &str) -> AdmissionResponse {
    let mut resp = resp.deny(message);
    resp.result = Status {
        status: Some(StatusSummary::Failure),
        code: 403,
        message: message.to_string(),
        metadata: None,
        reason: "Forbidden".into(),
        details: None,
    };
    resp
}

/// The response document for `resp`.
pub fn review_json(resp: AdmissionResponse) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&resp.into_review())
}

/// An AdmissionReview v1 request document as the API server sends it (for tests, fuzz seeds
/// and `vouch bench admission`): `object` (and `old`) are typed k8s-openapi objects.
pub fn request_review<K: serde::Serialize>(
    uid: &str,
    kind: crate::workload::WorkloadKind,
    operation: kube_core::admission::Operation,
    namespace: &str,
    object: &K,
    old: Option<&K>,
    sub_resource: Option<&str>,
) -> Result<Vec<u8>, serde_json::Error> {
    use kube_core::{GroupVersionKind, GroupVersionResource, TypeMeta};
    let dynamic = |o: &K| -> Result<DynamicObject, serde_json::Error> {
        serde_json::from_value(serde_json::to_value(o)?)
    };
    let object = dynamic(object)?;
    let old_object = old.map(dynamic).transpose()?;
    let gvk = GroupVersionKind::gvk(kind.group(), "v1", kind.kind());
    let gvr = GroupVersionResource::gvr(kind.group(), "v1", kind.resource());
    let request = AdmissionRequest {
        types: TypeMeta::default(),
        uid: uid.to_string(),
        kind: gvk.clone(),
        resource: gvr.clone(),
        sub_resource: sub_resource.map(str::to_string),
        request_kind: Some(gvk),
        request_resource: Some(gvr),
        request_sub_resource: sub_resource.map(str::to_string),
        name: object.metadata.name.clone().unwrap_or_default(),
        namespace: Some(namespace.to_string()),
        operation,
        user_info: Default::default(),
        object: Some(object),
        old_object,
        dry_run: false,
        options: None,
    };
    let review = AdmissionReview {
        types: TypeMeta {
            api_version: ADMISSION_API_VERSION.into(),
            kind: "AdmissionReview".into(),
        },
        request: Some(request),
        response: None,
    };
    serde_json::to_vec(&review)
}
