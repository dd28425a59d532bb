//! Prometheus metrics of the log (served at `/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Label of rejected submissions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// Why it was rejected.
    pub reason: String,
}

/// The log's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    /// Entries appended.
    pub entries_appended: Counter,
    /// Entries per integrated batch.
    pub batch_size: Histogram,
    /// Seconds to integrate a batch (tiles, checkpoint, durable commit).
    pub integration_seconds: Histogram,
    /// Current tree size.
    pub tree_size: Gauge,
    /// Rejected submissions by reason.
    pub rejected: Family<Reason, Counter>,
    /// Seconds from a submission to its durable inclusion proof (the inclusion-latency SLI).
    pub inclusion_seconds: Histogram,
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
    /// Create and register all metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vouch_log");
        let entries_appended = Counter::default();
        let batch_size = Histogram::new([1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0]);
        let integration_seconds =
            Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]);
        let tree_size = Gauge::default();
        let rejected = Family::<Reason, Counter>::default();
        let inclusion_seconds =
            Histogram::new([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]);
        registry.register(
            "inclusion_duration_seconds",
            "Time from a submission to its durable inclusion proof",
            inclusion_seconds.clone(),
        );
        registry.register(
            "entries_appended",
            "Entries appended to the log",
            entries_appended.clone(),
        );
        registry.register(
            "batch_size",
            "Entries per integrated batch",
            batch_size.clone(),
        );
        registry.register(
            "integration_seconds",
            "Time to integrate a batch durably",
            integration_seconds.clone(),
        );
        registry.register("tree_size", "Current tree size", tree_size.clone());
        registry.register(
            "rejected_submissions",
            "Rejected submissions by reason",
            rejected.clone(),
        );
        Self {
            registry,
            entries_appended,
            batch_size,
            integration_seconds,
            tree_size,
            rejected,
            inclusion_seconds,
        }
    }

    /// Record an integrated batch.
    pub fn appended(&self, n: usize, took: Duration, size: u64) {
        self.entries_appended.inc_by(n as u64);
        self.batch_size.observe(n as f64);
        self.integration_seconds.observe(took.as_secs_f64());
        self.tree_size.set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// Count a rejected submission.
    pub fn rejected(&self, reason: &str) {
        self.rejected
            .get_or_create(&Reason {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut s, &self.registry);
        s
    }
}
