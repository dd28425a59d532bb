//! Bounds on untrusted input and on the work one admission may cause.

use std::time::Duration;

/// Largest AdmissionReview body accepted. The API server bounds an object at etcd's 1.5 MiB
/// request limit and a review carries at most `object` and `oldObject`; 6 MiB leaves room for
/// the envelope and is well below what would let a client exhaust memory. Larger bodies get a
/// 400.
pub const MAX_REVIEW_BYTES: usize = 6 << 20;

/// Most images decided in one review (a pod spec with more is refused with a 400).
pub const MAX_IMAGES_PER_REVIEW: usize = 256;

/// Most images in one `POST /prefetch`.
pub const MAX_PREFETCH_IMAGES: usize = 1024;

/// Default deadline for verifying an uncached image: below Kubernetes' default 10 s webhook
/// timeout, so the webhook answers (deny, or warn in warn mode) before the API server gives
/// up.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(8);

/// The `timeoutSeconds` written into the webhook configurations.
pub const WEBHOOK_TIMEOUT_SECONDS: i32 = 10;

/// Most verifications running at once in the background (first sight, refresh, prefetch).
pub const MAX_CONCURRENT_VERIFICATIONS: usize = 16;
