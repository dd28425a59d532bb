//! `vouch-admission`: the Kubernetes admission webhook of vouch.
//!
//! It answers AdmissionReview `admission.k8s.io/v1`
//! ([Kubernetes: dynamic admission control](https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/))
//! over HTTPS on `/validate` and `/mutate`, plus `/prefetch`, `/healthz` and `/metrics`,
//! for Pods (and `pods/ephemeralcontainers`), Deployments, ReplicaSets, StatefulSets,
//! DaemonSets, Jobs, CronJobs and ReplicationControllers, looking at `containers`,
//! `initContainers`, `ephemeralContainers` and `volumes[].image.reference` at every depth.
//!
//! Layers, one concern per module:
//! - [`review`]: the AdmissionReview wire types (kube-core's) and input bounds ([`limits`]);
//! - [`workload`]: kinds and where their images are (k8s-openapi's `PodSpec`);
//! - [`decider`]: the [`ImageDecider`] trait, the seam to the policy engine (`vouch-policy`,
//!   wired up in the `vouch` binary);
//! - [`decision_log`]: the seam through which each decision is recorded (`--decision-log`);
//! - [`cache`]: the verified-decision cache keyed by (policy digest, trust digest, image by
//!   digest), so no admission of a known image touches the network;
//! - [`webhook`]: the admission logic without HTTP; [`http`]: the routes;
//! - [`manifests`]: Deployment, Service, webhook configurations and CRDs;
//! - [`metrics`]: Prometheus metrics.
//!
//! Serving (TLS, timeouts, connection budget) is the shared `vouch-server` bootstrap: see
//! [`serve`].

pub mod cache;
pub mod decider;
pub mod decision_log;
pub mod http;
pub mod image;
pub mod limits;
pub mod manifests;
pub mod metrics;
pub mod review;
pub mod webhook;
pub mod workload;

pub use cache::CacheConfig;
pub use decider::{
    BoxError, BoxFuture, CacheKeyParts, Decision, DecisionContext, ImageDecider, ResolveError,
    Unverified, Verdict, Verified, VerifyFailure,
};
pub use decision_log::{DecisionSink, LoggedDecision};
pub use webhook::{
    PrefetchRequest, PrefetchResponse, PrefetchResult, PrefetchState, Webhook, WebhookConfig,
};

use std::sync::Arc;
use std::time::Duration;

/// Serve `webhook` over HTTPS on `server` (a bound [`vouch_server::Server`] with TLS) until
/// `shutdown`, re-verifying cache entries in the background. The request-body limit is
/// raised to let a too-large AdmissionReview be read and answered with a 400.
pub async fn serve<D: ImageDecider>(
    webhook: Arc<Webhook<D>>,
    server: vouch_server::Server,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let refresh =
        (webhook.config().cache.ttl / 20).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let refresher = webhook.spawn_refresher(refresh);
    let limits = server
        .limits()
        .clone()
        .with_max_request_body_bytes(http::MAX_DRAINED_BODY as u64);
    server
        .named("admission")
        .with_limits(limits)
        .serve(http::router(webhook), shutdown)
        .await;
    refresher.abort();
}
