//! The spike alert: more than `threshold` signings by one watched identity within `window`
//! ([`crate::config::SpikeConfig`]), for log entries and CA audit lines alike. The counts
//! live in the durable state, so a restarted monitor keeps counting where it stopped.

use crate::alert::{Alert, AlertKind, Severity, Sighting};
use crate::config::SpikeConfig;
use crate::watch::Match;
use vouch_core::window::SlidingWindow;

/// Most identities whose recent signings are counted (bounded memory).
pub const MAX_SPIKE_IDENTITIES: usize = 10_000;

/// Count the signing of every identity in `matches` and return a spike alert for each that
/// went over the threshold (once per identity per window), counting it at `time` (unix
/// seconds). `counts` is created on first use.
pub fn observe(
    cfg: &SpikeConfig,
    counts: &mut Option<SlidingWindow>,
    at: &Sighting<'_>,
    time: u64,
    matches: &[Match],
) -> Vec<Alert> {
    let window_secs = cfg.window.as_secs().max(1);
    let counts = counts.get_or_insert_with(|| {
        SlidingWindow::new(
            cfg.threshold.saturating_add(1),
            window_secs,
            MAX_SPIKE_IDENTITIES,
        )
    });
    let mut seen: Vec<(&str, &str, &Match)> = Vec::new();
    for m in matches {
        if let (Some(san), Some(iss)) = (m.cert_subject.as_deref(), m.issuer.as_deref())
            && !seen.iter().any(|(s, i, _)| *s == san && *i == iss)
        {
            seen.push((san, iss, m));
        }
    }
    let mut out = Vec::new();
    for (san, iss, m) in seen {
        let key = format!("{iss} {san}");
        let n = counts.record(&key, time);
        if n as u64 > u64::from(cfg.threshold) && counts.flag(&key, time) {
            out.push(Alert {
                kind: AlertKind::Spike,
                severity: Severity::Warning,
                id: format!("spike/{}/{key}/{}", at.origin, time),
                origin: at.origin.to_string(),
                message: format!(
                    "spike: {san} (issuer {iss}) signed {n} times within {window_secs}s, over the threshold of {}; the latest at index {}",
                    cfg.threshold, at.index
                ),
                index: Some(at.index),
                entry_kind: Some(at.entry_kind.to_string()),
                digest: at.digest.map(str::to_string),
                identity: Some(m.clone()),
                reason: Some(format!(
                    "more than {} signings within {window_secs}s",
                    cfg.threshold
                )),
                ..crate::empty_alert()
            });
        }
    }
    out
}
