//! Prometheus metrics of the webhook (served at `/metrics`, OpenMetrics text).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Label of requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    /// `validate`, `mutate` or `prefetch`.
    pub endpoint: String,
    /// HTTP status code answered.
    pub code: String,
}

/// Label of per-image decisions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabel {
    /// `allow`, `warn` or `deny`.
    pub verdict: String,
    /// The matching policy (`none` when no policy matched).
    pub policy: String,
    /// The engine's short reason label.
    pub reason: String,
}

/// Label of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabel {
    /// `validate` or `mutate`.
    pub endpoint: String,
    /// `hit` when every image was answered from the cache, else `miss`.
    pub cache: String,
}

/// Label of exceptions used.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExceptionLabel {
    /// The exception's name.
    pub exception: String,
}

/// The webhook's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    /// AdmissionReview (and prefetch) requests by endpoint and HTTP code.
    pub requests: Family<EndpointLabel, Counter>,
    /// Per-image decisions by verdict, policy and reason.
    pub decisions: Family<DecisionLabel, Counter>,
    /// Seconds from body received to answer, per review.
    pub latency: Family<LatencyLabel, Histogram>,
    /// Image lookups answered from the cache.
    pub cache_hits: Counter,
    /// Image lookups that needed a verification.
    pub cache_misses: Counter,
    /// Entries in the cache (set at scrape time).
    pub cache_entries: Gauge,
    /// Registry requests (tag resolutions by the webhook plus the engine's own, when it counts).
    pub registry_requests: Counter,
    /// Verifications started (first sight, prefetch, refresh).
    pub verifications: Counter,
    /// Exceptions used, by name.
    pub exceptions_used: Family<ExceptionLabel, Counter>,
    /// Age in seconds of the oldest exception valid now (0: none).
    pub oldest_exception_age: Gauge,
    /// Reviews denied because their decisions could not be written to the decision log.
    pub decision_log_failures: Counter,
    engine_requests_seen: AtomicU64,
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Create and register every metric under the `vouch_admission` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vouch_admission");
        let requests = Family::<EndpointLabel, Counter>::default();
        let decisions = Family::<DecisionLabel, Counter>::default();
        let latency = Family::<LatencyLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                8.0, 10.0,
            ])
        });
        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        let cache_entries = Gauge::default();
        let registry_requests = Counter::default();
        let verifications = Counter::default();
        let exceptions_used = Family::<ExceptionLabel, Counter>::default();
        let oldest_exception_age = Gauge::default();
        let decision_log_failures = Counter::default();
        registry.register(
            "requests",
            "AdmissionReview and prefetch requests by endpoint and HTTP code",
            requests.clone(),
        );
        registry.register(
            "decisions",
            "Per-image decisions by verdict (allow, warn, deny), policy and reason",
            decisions.clone(),
        );
        registry.register(
            "decision_latency_seconds",
            "Time to answer an AdmissionReview, by endpoint and whether the cache answered",
            latency.clone(),
        );
        registry.register(
            "cache_hits",
            "Image lookups answered from the verified cache",
            cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Image lookups that needed a verification",
            cache_misses.clone(),
        );
        registry.register(
            "cache_entries",
            "Entries in the verified cache",
            cache_entries.clone(),
        );
        registry.register(
            "registry_requests",
            "Registry requests sent",
            registry_requests.clone(),
        );
        registry.register(
            "verifications",
            "Image verifications started",
            verifications.clone(),
        );
        registry.register(
            "exceptions_used",
            "Policy exceptions used, by exception",
            exceptions_used.clone(),
        );
        registry.register(
            "oldest_open_exception_age_seconds",
            "Age of the oldest exception valid now (0 when there is none)",
            oldest_exception_age.clone(),
        );
        registry.register(
            "decision_log_failures",
            "Reviews denied because their decisions could not be written to the decision log (fail closed)",
            decision_log_failures.clone(),
        );
        Metrics {
            registry,
            requests,
            decisions,
            latency,
            cache_hits,
            cache_misses,
            cache_entries,
            registry_requests,
            verifications,
            exceptions_used,
            oldest_exception_age,
            decision_log_failures,
            engine_requests_seen: AtomicU64::new(0),
            scrape: Mutex::new(()),
        }
    }

    /// Count `n` registry requests the engine reports having sent in total so far.
    pub fn engine_registry_requests(&self, total: u64) {
        let _g = self.scrape.lock();
        let seen = self.engine_requests_seen.swap(total, Ordering::Relaxed);
        if total > seen {
            self.registry_requests.inc_by(total - seen);
        }
    }

    /// Count one request.
    pub fn request(&self, endpoint: &str, code: u16) {
        self.requests
            .get_or_create(&EndpointLabel {
                endpoint: endpoint.to_string(),
                code: code.to_string(),
            })
            .inc();
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
