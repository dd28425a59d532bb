//! Events per key in a sliding time window, in bounded memory: the CA's issuance rate limits
//! and the monitor's spike alert count the same way.
//!
//! Each key keeps at most `limit` timestamps (seconds, supplied by the caller, so the structure
//! is pure and the monitor can count by signing time rather than by when it scanned). At most
//! `max_keys` keys are tracked: when full, keys whose events have all left the window are
//! dropped first (exact), then the eighth least recently active (their counts restart; with the
//! default bounds that takes ~10⁵ identities active within one window).

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// Default bound on the number of keys tracked.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// The events of one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyEvents {
    /// Times (seconds) of the latest events, oldest first, at most `limit`.
    pub times: VecDeque<u64>,
    /// Until when (seconds) a flag raised by [`SlidingWindow::flag`] holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_until: Option<u64>,
}

/// Counts of events per key within the last `window_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlidingWindow {
    limit: u32,
    window_secs: u64,
    max_keys: usize,
    keys: HashMap<String, KeyEvents>,
}

impl SlidingWindow {
    /// Track up to `limit` events per key within `window_secs`, for at most `max_keys` keys.
    pub fn new(limit: u32, window_secs: u64, max_keys: usize) -> Self {
        Self {
            limit: limit.max(1),
            window_secs: window_secs.max(1),
            max_keys: max_keys.max(1),
            keys: HashMap::new(),
        }
    }

    /// The events counted per key.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The window, in seconds.
    pub fn window_secs(&self) -> u64 {
        self.window_secs
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn live(&self, e: &KeyEvents, now: u64) -> usize {
        e.times
            .iter()
            .filter(|&&t| t.saturating_add(self.window_secs) > now)
            .count()
    }

    /// Events of `key` within the window ending at `now`.
    pub fn count(&self, key: &str, now: u64) -> usize {
        self.keys.get(key).map_or(0, |e| self.live(e, now))
    }

    /// `None` when `key` has fewer than `limit` events in the window ending at `now`; else the
    /// seconds until its oldest one leaves the window (at least 1).
    pub fn retry_after(&self, key: &str, now: u64) -> Option<u64> {
        let e = self.keys.get(key)?;
        if self.live(e, now) < self.limit as usize {
            return None;
        }
        let oldest = e.times.front().copied().unwrap_or(now);
        Some((oldest + self.window_secs).saturating_sub(now).max(1))
    }

    /// Record an event of `key` at `now` (a time before the key's latest counts as the latest)
    /// and return its events in the window, this one included (at most `limit`).
    pub fn record(&mut self, key: &str, now: u64) -> usize {
        if !self.keys.contains_key(key) && self.keys.len() >= self.max_keys {
            self.make_room(now);
        }
        let limit = self.limit as usize;
        let e = self.keys.entry(key.to_string()).or_default();
        let t = e.times.back().map_or(now, |&last| now.max(last));
        e.times.push_back(t);
        while e.times.len() > limit {
            e.times.pop_front();
        }
        let window = self.window_secs;
        e.times
            .iter()
            .filter(|&&x| x.saturating_add(window) > t)
            .count()
    }

    /// Raise a flag on `key` at `now` for one window: true when none was raised within it.
    pub fn flag(&mut self, key: &str, now: u64) -> bool {
        let until = now + self.window_secs;
        match self.keys.get_mut(key) {
            Some(e) if e.flagged_until.is_some_and(|u| now < u) => false,
            Some(e) => {
                e.flagged_until = Some(until);
                true
            }
            None => false,
        }
    }

    fn make_room(&mut self, now: u64) {
        let window = self.window_secs;
        self.keys.retain(|_, e| {
            e.times
                .back()
                .is_some_and(|&t| t.saturating_add(window) > now)
                || e.flagged_until.is_some_and(|u| now < u)
        });
        if self.keys.len() < self.max_keys {
            return;
        }
        let mut latest: Vec<(u64, String)> = self
            .keys
            .iter()
            .map(|(k, e)| (e.times.back().copied().unwrap_or(0), k.clone()))
            .collect();
        latest.sort_unstable();
        let drop = (self.max_keys / 8).max(1);
        for (_, k) in latest.into_iter().take(drop) {
            self.keys.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_reopens_when_the_window_slides() {
        let mut w = SlidingWindow::new(2, 60, 10);
        assert_eq!(w.retry_after("a", 100), None);
        assert_eq!(w.record("a", 100), 1);
        assert_eq!(w.record("a", 110), 2);
        assert_eq!(w.retry_after("a", 120), Some(40));
        assert_eq!(w.retry_after("b", 120), None);
        assert_eq!(w.retry_after("a", 160), None);
        assert_eq!(w.count("a", 160), 1);
    }

    #[test]
    fn memory_stays_bounded_under_many_keys() {
        let mut w = SlidingWindow::new(3, 60, 64);
        for i in 0..10_000u64 {
            w.record(&format!("id{i}"), 1000 + i / 100);
            assert!(w.len() <= 64);
        }
        // The latest key is still counted.
        assert_eq!(w.count("id9999", 1099), 1);
    }

    #[test]
    fn a_flag_holds_for_one_window() {
        let mut w = SlidingWindow::new(5, 60, 10);
        w.record("a", 10);
        assert!(w.flag("a", 10));
        assert!(!w.flag("a", 69));
        assert!(w.flag("a", 70));
        assert!(!w.flag("unknown", 70));
    }
}
