//! The monitor's Prometheus metrics (served at `/metrics` with `--metrics-listen`).

use crate::alert::AlertKind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label of the alert counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `identity`, `consistency`, `quorum`, `spike` or `ct-identity`.
    pub kind: String,
}

/// The metrics.
pub struct Metrics {
    registry: Registry,
    /// Entries read and matched.
    pub entries_scanned: Counter,
    /// Entries whose body could not be read as a Rekor entry.
    pub entries_unreadable: Counter,
    /// Watched-identity signings found in the authorized set (no alert).
    pub authorized_matches: Counter,
    /// Alerts raised, by kind.
    pub alerts: Family<KindLabel, Counter>,
    /// Size of the log's latest checkpoint.
    pub tree_size: Gauge,
    /// Entries the log has that are not scanned yet.
    pub lag: Gauge,
    /// Size of the latest checkpoint proven consistent.
    pub last_consistent_size: Gauge,
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

fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Create and register every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vouch_monitor");
        let m = Self {
            entries_scanned: Counter::default(),
            entries_unreadable: Counter::default(),
            authorized_matches: Counter::default(),
            alerts: Family::default(),
            tree_size: Gauge::default(),
            lag: Gauge::default(),
            last_consistent_size: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "entries_scanned",
            "Log entries read and matched against the watch list",
            m.entries_scanned.clone(),
        );
        registry.register(
            "entries_unreadable",
            "Log entries whose body is not a Rekor entry this monitor reads",
            m.entries_unreadable.clone(),
        );
        registry.register(
            "authorized_matches",
            "Watched-identity signings found in the authorized set",
            m.authorized_matches.clone(),
        );
        registry.register("alerts", "Alerts raised, by kind", m.alerts.clone());
        registry.register(
            "tree_size",
            "Size of the log's latest checkpoint",
            m.tree_size.clone(),
        );
        registry.register(
            "lag_entries",
            "Entries in the log's latest checkpoint not scanned yet",
            m.lag.clone(),
        );
        registry.register(
            "last_consistent_size",
            "Size of the latest checkpoint proven consistent with the previous ones",
            m.last_consistent_size.clone(),
        );
        Self { registry, ..m }
    }

    /// Count one alert.
    pub fn alert(&self, kind: AlertKind) {
        self.alerts
            .get_or_create(&KindLabel {
                kind: kind.as_str().into(),
            })
            .inc();
    }

    /// Record the scan position against the latest size.
    pub fn position(&self, scanned: u64, latest: u64) {
        self.tree_size.set(gauge_value(latest));
        self.lag.set(gauge_value(latest.saturating_sub(scanned)));
    }

    /// Record the latest consistent size.
    pub fn consistent(&self, size: u64) {
        self.last_consistent_size.set(gauge_value(size));
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        if prometheus_client::encoding::text::encode(&mut s, &self.registry).is_err() {
            s.clear();
        }
        s
    }
}
