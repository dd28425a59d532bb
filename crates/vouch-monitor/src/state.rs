//! The monitor's durable state in `--state DIR/monitor.json`, written with
//! [`vouch_fs::write_durably`] (temporary file, fsync, rename, directory fsync): after a kill
//! the file is either the old or the new state, never a mix.

use crate::alert::{Alert, Sinks};
use crate::{Metrics, MonitorError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the state in the state directory.
pub const STATE_FILE: &str = "monitor.json";
/// Format version written.
pub const STATE_VERSION: u32 = 1;

/// What the monitor remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Format version.
    pub version: u32,
    /// The log's origin (fixed on the first run).
    pub origin: String,
    /// The latest checkpoint proven consistent (signed note text); entries below `scanned` of
    /// it have been watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Entries below this index have been scanned (and their alerts recorded).
    pub scanned: u64,
    /// Alerts recorded but not yet delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<Alert>,
    /// The last checkpoint refused (inconsistent, rolled back or short of quorum), so that the
    /// same evidence is not alerted twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Alerts raised so far, all kinds.
    #[serde(default)]
    pub alerts_raised: u64,
    /// Recent signings per watched identity, for the spike alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spikes: Option<vouch_core::window::SlidingWindow>,
}

/// The state file of a state directory.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

impl State {
    /// A fresh state for `origin`, scanning from `start`.
    pub fn new(origin: &str, start: u64) -> Self {
        Self {
            version: STATE_VERSION,
            origin: origin.to_string(),
            checkpoint: None,
            scanned: start,
            outbox: Vec::new(),
            refused: None,
            alerts_raised: 0,
            spikes: None,
        }
    }

    /// Load the state of `dir`, if there is one.
    pub fn load(dir: &Path) -> Result<Option<Self>, MonitorError> {
        load_versioned(&state_path(dir), |s: &Self| s.version, STATE_VERSION)
    }

    /// Write the state durably.
    pub fn save(&self, dir: &Path) -> Result<(), MonitorError> {
        write_json(&state_path(dir), self)
    }
}

/// Write a state file durably as pretty JSON (every follower's state: log, CT log, CA audit).
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, state: &T) -> Result<(), MonitorError> {
    let json = serde_json::to_vec_pretty(state).map_err(MonitorError::Json)?;
    vouch_fs::write_durably(path, &json, vouch_fs::Access::Public).map_err(MonitorError::Fs)
}

/// A durable state with an alert outbox (the log monitor's and the CA audit follower's).
pub trait Outbox {
    /// The alerts recorded but not delivered.
    fn outbox(&mut self) -> &mut Vec<Alert>;
    /// Count `n` alerts raised.
    fn count_raised(&mut self, n: u64);
    /// Write the state durably into `dir`.
    fn save_to(&self, dir: &Path) -> Result<(), MonitorError>;
}

impl Outbox for State {
    fn outbox(&mut self) -> &mut Vec<Alert> {
        &mut self.outbox
    }
    fn count_raised(&mut self, n: u64) {
        self.alerts_raised += n;
    }
    fn save_to(&self, dir: &Path) -> Result<(), MonitorError> {
        self.save(dir)
    }
}

/// Record `alerts` in `state`'s outbox durably, deliver them, then clear the outbox (saving
/// again); returns how many were raised. With no alerts the state is only saved.
pub async fn raise<S: Outbox>(
    sinks: &Sinks,
    metrics: &Metrics,
    dir: &Path,
    state: &mut S,
    alerts: Vec<Alert>,
) -> Result<u64, MonitorError> {
    if alerts.is_empty() {
        state.save_to(dir)?;
        return Ok(0);
    }
    let n = alerts.len() as u64;
    for a in &alerts {
        metrics.alert(a.kind);
    }
    state.count_raised(n);
    state.outbox().extend(alerts);
    state.save_to(dir)?;
    sinks.deliver(state.outbox()).await?;
    state.outbox().clear();
    state.save_to(dir)?;
    Ok(n)
}

/// Read the JSON state file at `path` (`None` when absent), refusing another format version
/// than `want` (as `version` reads it) and a corrupt file.
pub(crate) fn load_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    version: impl Fn(&T) -> u32,
    want: u32,
) -> Result<Option<T>, MonitorError> {
    let Some(bytes) = vouch_fs::read_optional(path).map_err(MonitorError::Fs)? else {
        return Ok(None);
    };
    let s: T = serde_json::from_slice(&bytes).map_err(|source| MonitorError::CorruptState {
        path: path.to_path_buf(),
        reason: source.to_string(),
    })?;
    let got = version(&s);
    if got != want {
        return Err(MonitorError::CorruptState {
            path: path.to_path_buf(),
            reason: format!("format version {got} (this monitor reads {want})"),
        });
    }
    Ok(Some(s))
}
