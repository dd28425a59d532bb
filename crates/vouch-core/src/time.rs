//! Instants and inclusive time ranges as used by trusted roots and verification.

use std::fmt;

/// A point in time with nanosecond precision (unix epoch based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// Whole seconds since the unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Instant {
    /// From whole seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Self { secs, nanos: 0 }
    }

    /// The current system time.
    pub fn now() -> Self {
        let ts = jiff::Timestamp::now();
        Self {
            secs: ts.as_second(),
            nanos: u32::try_from(ts.subsec_nanosecond()).unwrap_or(0),
        }
    }

    /// Parse an RFC 3339 timestamp (`2021-01-12T11:53:27Z`, with 0–9 fractional digits).
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        let ts: jiff::Timestamp = s
            .parse()
            .map_err(|e| format!("invalid RFC 3339 timestamp {s:?}: {e}"))?;
        Ok(Self {
            secs: ts.as_second(),
            nanos: u32::try_from(ts.subsec_nanosecond()).unwrap_or(0),
        })
    }

    /// Render as RFC 3339 UTC.
    pub fn to_rfc3339(&self) -> String {
        match jiff::Timestamp::new(self.secs, i32::try_from(self.nanos).unwrap_or(0)) {
            Ok(ts) => ts.to_string(),
            Err(_) => format!("@{}", self.secs),
        }
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// An inclusive time range `[start, end]`; an absent end means open-ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// First instant inside the range.
    pub start: Instant,
    /// Last instant inside the range, if bounded.
    pub end: Option<Instant>,
}

impl TimeRange {
    /// True when `t` lies inside the (closed) range.
    pub fn contains(&self, t: Instant) -> bool {
        t >= self.start && self.end.is_none_or(|e| t <= e)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Some(e) => write!(f, "[{}, {}]", self.start, e),
            None => write!(f, "[{}, open]", self.start),
        }
    }
}

/// A duration that [`parse_duration`] refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a number followed by a unit.
    #[error("expected a duration like 250ms, 2s or 1m, got {0:?}")]
    Malformed(String),
    /// A unit other than ms, s, m, h.
    #[error("unknown duration unit {unit:?} in {text:?} (use ms, s, m or h)")]
    Unit {
        /// The whole text.
        text: String,
        /// The unit.
        unit: String,
    },
    /// Zero, negative or above 24 h.
    #[error("duration {0:?} must be above 0 and at most 24h")]
    Range(String),
}

/// Parse `250ms`, `2s`, `1.5s`, `1m`, `1h` (a bare number is seconds), above 0 and at most 24 h:
/// the one duration syntax of vouch's flags and configuration files.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, DurationError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| DurationError::Malformed(s.to_string()))?;
    let secs = match unit.trim() {
        "ms" => v / 1000.0,
        "s" | "" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        u => {
            return Err(DurationError::Unit {
                text: s.to_string(),
                unit: u.to_string(),
            });
        }
    };
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(DurationError::Range(s.to_string()));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}
