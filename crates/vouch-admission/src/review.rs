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
    #[error(
        "expected kind AdmissionReview, apiVersion {ADMISSION_API_VERSION}; got kind {kind:?}, apiVersion {api_version:?}"
    )]
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
    if review.types.api_version != ADMISSION_API_VERSION || review.types.kind != "AdmissionReview" {
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

/// The AdmissionReview v1 response document, as the API server reads it.
///
/// kube-core's `AdmissionResponse` is used to build the answer, but not to write it: it
/// serializes `patch` as a JSON array of numbers (kube-rs/kube#1781), while the API decodes a
/// `[]byte` field only from a base64 string. This is the wire form, with `patch` in base64.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseReview {
    /// `admission.k8s.io/v1`.
    pub api_version: String,
    /// `AdmissionReview`.
    pub kind: String,
    /// The answer.
    pub response: ReviewResponse,
}

/// The `response` of a [`ResponseReview`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResponse {
    /// The request's uid.
    pub uid: String,
    /// Whether the request is admitted.
    pub allowed: bool,
    /// For a denial: code 403, reason and message.
    #[serde(rename = "status", default)]
    pub result: Status,
    /// The JSON patch (RFC 6902), base64 on the wire.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_bytes"
    )]
    pub patch: Option<Vec<u8>>,
    /// `JSONPatch` when there is a patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Audit annotations (the API server prefixes the webhook's name).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub audit_annotations: std::collections::BTreeMap<String, String>,
    /// Warnings for the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(t) => STANDARD
                .decode(t.as_bytes())
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

impl From<AdmissionResponse> for ResponseReview {
    fn from(r: AdmissionResponse) -> Self {
        let patch_type = r.patch.as_ref().map(|_| "JSONPatch".to_string());
        ResponseReview {
            api_version: ADMISSION_API_VERSION.into(),
            kind: "AdmissionReview".into(),
            response: ReviewResponse {
                uid: r.uid,
                allowed: r.allowed,
                result: r.result,
                patch: r.patch,
                patch_type,
                audit_annotations: r.audit_annotations.into_iter().collect(),
                warnings: r.warnings,
            },
        }
    }
}

/// The response document for `resp`.
pub fn review_json(resp: AdmissionResponse) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&ResponseReview::from(resp))
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
