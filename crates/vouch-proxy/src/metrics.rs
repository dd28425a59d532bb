//! Prometheus metrics of the proxy (served at `/metrics`): cache hit rate, proof retrieval
//! time, upstream errors and staleness.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Labels of cache lookups.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Lookup {
    /// `tile`, `entries` or `proof`.
    pub kind: &'static str,
    /// `hit` (served from the verified cache) or `miss` (fetched and verified first).
    pub result: &'static str,
}

/// Label of proof timings.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Format {
    /// `tlog-proof`, `sigstore` or `consistency`.
    pub format: &'static str,
}

/// Label of upstream errors.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// See [`crate::ProxyError::reason`].
    pub reason: &'static str,
}

/// The proxy's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    /// Cache lookups by kind and result.
    pub lookups: Family<Lookup, Counter>,
    /// Seconds to answer a proof request, by format.
    pub proof_seconds: Family<Format, Histogram>,
    /// Upstream failures and refusals, by reason.
    pub upstream_errors: Family<Reason, Counter>,
    /// Age of the served checkpoint's last confirmation by the upstream, in seconds.
    pub checkpoint_age: Gauge<f64, AtomicU64>,
    /// Size of the served tree.
    pub tree_size: Gauge,
    /// Responses served with `X-Vouch-Stale`.
    pub stale_responses: Counter,
    /// Requests refused because the checkpoint was older than `--max-stale`.
    pub too_stale: Counter,
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

fn proof_histogram() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0,
    ])
}

impl Metrics {
    /// Create and register all metrics under the `vouch_proxy` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vouch_proxy");
        let lookups = Family::<Lookup, Counter>::default();
        let proof_seconds =
            Family::<Format, Histogram>::new_with_constructor(proof_histogram as fn() -> Histogram);
        let upstream_errors = Family::<Reason, Counter>::default();
        let checkpoint_age = Gauge::<f64, AtomicU64>::default();
        let tree_size = Gauge::default();
        let stale_responses = Counter::default();
        let too_stale = Counter::default();
        registry.register(
            "cache_lookups",
            "Cache lookups by kind and result (hit: from the verified cache)",
            lookups.clone(),
        );
        registry.register(
            "proof_duration_seconds",
            "Time to answer a proof request",
            proof_seconds.clone(),
        );
        registry.register(
            "upstream_errors",
            "Upstream failures and refused upstream answers, by reason",
            upstream_errors.clone(),
        );
        registry.register(
            "checkpoint_age_seconds",
            "Seconds since the upstream last confirmed the served checkpoint",
            checkpoint_age.clone(),
        );
        registry.register("tree_size", "Size of the served tree", tree_size.clone());
        registry.register(
            "stale_responses",
            "Responses served from the cache while the upstream was failing",
            stale_responses.clone(),
        );
        registry.register(
            "too_stale_refusals",
            "Requests refused because the checkpoint was older than --max-stale",
            too_stale.clone(),
        );
        Self {
            registry,
            lookups,
            proof_seconds,
            upstream_errors,
            checkpoint_age,
            tree_size,
            stale_responses,
            too_stale,
        }
    }

    /// Count a cache lookup.
    pub fn lookup(&self, kind: &'static str, hit: bool) {
        self.lookups
            .get_or_create(&Lookup {
                kind,
                result: if hit { "hit" } else { "miss" },
            })
            .inc();
    }

    /// Count an upstream failure.
    pub fn upstream_error(&self, reason: &'static str) {
        self.upstream_errors.get_or_create(&Reason { reason }).inc();
    }

    /// Record a proof's answer time.
    pub fn proof(&self, format: &'static str, secs: f64) {
        self.proof_seconds
            .get_or_create(&Format { format })
            .observe(secs);
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut s, &self.registry);
        s
    }
}
