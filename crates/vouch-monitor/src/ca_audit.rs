//! Follows a CA's issuance audit log (`vouch serve ca --audit-log FILE`, lines of
//! [`vouch_core::ca_audit::IssuanceRecord`]) and applies the same watch as a log scan: each
//! issued certificate is matched against the watch list (every matcher: SANs, issuer, OID
//! extensions, the certificate's fingerprint), a match whose certificate no authorized bundle
//! carries is an `identity` alert, and the spike alert counts issuances at the line's `time`.
//!
//! State (`--state DIR/ca-audit.json`, beside the log monitor's) holds the byte offset past the
//! last line read, the spike counts and the alert outbox, written durably before alerts are
//! delivered, so a restart neither misses nor repeats an alert. Only complete lines are read (a
//! line the CA is still writing waits for the next pass). An audit log shorter than the offset
//! was truncated or replaced: the monitor refuses to go on rather than skip or re-read.

use crate::alert::{Alert, Sighting, Sinks, identity_alerts};
use crate::authorized::Authorized;
use crate::config::Config;
use crate::state::Outbox;
use crate::watch::{EntryInfo, Signer};
use crate::{Metrics, MonitorError, RunReport};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vouch_core::ca_audit::{IssuanceRecord, MAX_AUDIT_LINE};
use vouch_core::window::SlidingWindow;

/// File name of the audit follower's state in the state directory.
pub const AUDIT_STATE_FILE: &str = "ca-audit.json";
/// Format version written.
pub const AUDIT_STATE_VERSION: u32 = 1;
/// The entry kind reported in alerts raised from audit lines.
pub const AUDIT_ENTRY_KIND: &str = "ca-issuance";

/// What the audit follower remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditState {
    /// Format version.
    pub version: u32,
    /// Byte offset past the last line read.
    pub offset: u64,
    /// Lines read so far (the next line's index).
    pub lines: u64,
    /// Alerts recorded but not yet delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<Alert>,
    /// Alerts raised so far.
    #[serde(default)]
    pub alerts_raised: u64,
    /// Recent issuances per watched identity, for the spike alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spikes: Option<SlidingWindow>,
}

impl Outbox for AuditState {
    fn outbox(&mut self) -> &mut Vec<Alert> {
        &mut self.outbox
    }
    fn count_raised(&mut self, n: u64) {
        self.alerts_raised += n;
    }
    fn save_to(&self, dir: &Path) -> Result<(), MonitorError> {
        crate::state::write_json(&dir.join(AUDIT_STATE_FILE), self)
    }
}

impl AuditState {
    fn load(dir: &Path) -> Result<Self, MonitorError> {
        let stored = crate::state::load_versioned(
            &dir.join(AUDIT_STATE_FILE),
            |s: &Self| s.version,
            AUDIT_STATE_VERSION,
        )?;
        Ok(stored.unwrap_or(Self {
            version: AUDIT_STATE_VERSION,
            offset: 0,
            lines: 0,
            outbox: Vec::new(),
            alerts_raised: 0,
            spikes: None,
        }))
    }
}

/// What the audit follower watches.
#[derive(Debug, Clone)]
pub struct AuditMonitorOptions {
    /// The CA's audit log.
    pub audit_path: PathBuf,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The watch configuration.
    pub config: Config,
    /// The authorized signings; `None`: every match alerts.
    pub authorized: Option<Authorized>,
    /// Where alerts go.
    pub sinks: Sinks,
}

/// A follower of a CA's issuance audit log.
#[derive(Debug)]
pub struct AuditMonitor {
    opts: AuditMonitorOptions,
    metrics: Arc<Metrics>,
}

/// How many lines are read between state saves when no alert forces one.
const SAVE_EVERY_LINES: u64 = 10_000;

impl AuditMonitor {
    /// A follower with fresh metrics.
    pub fn new(opts: AuditMonitorOptions) -> Self {
        Self {
            opts,
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// Count into `metrics` (e.g. the log monitor's, to serve one `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    fn origin(&self) -> String {
        format!("ca-audit {}", self.opts.audit_path.display())
    }

    fn line_error(&self, line: u64, reason: String) -> MonitorError {
        MonitorError::AuditLine {
            path: self.opts.audit_path.clone(),
            line: line + 1,
            reason,
        }
    }

    /// One pass: deliver queued alerts, then read and watch every complete new line.
    pub async fn run_once(&self) -> Result<RunReport, MonitorError> {
        let dir = &self.opts.state_dir;
        let mut report = RunReport::default();
        let mut state = AuditState::load(dir)?;
        if !state.outbox.is_empty() {
            report.alerts += state.outbox.len() as u64;
            self.opts.sinks.deliver(&state.outbox).await?;
            state.outbox.clear();
            state.save_to(dir)?;
        }
        let path = &self.opts.audit_path;
        let io = |source| MonitorError::AuditRead {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < state.offset {
            return Err(MonitorError::AuditShrank {
                path: path.clone(),
                offset: state.offset,
                len,
            });
        }
        file.seek(SeekFrom::Start(state.offset)).map_err(io)?;
        let mut reader = std::io::BufReader::new(file.take(len - state.offset));
        let origin = self.origin();
        let mut buf = Vec::new();
        let mut since_save = 0u64;
        loop {
            buf.clear();
            let n = (&mut reader)
                .take(MAX_AUDIT_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(io)?;
            if n == 0 {
                break;
            }
            if buf.last() != Some(&b'\n') {
                if n > MAX_AUDIT_LINE {
                    return Err(
                        self.line_error(state.lines, format!("longer than {MAX_AUDIT_LINE} bytes"))
                    );
                }
                // A line still being written: read it next pass.
                break;
            }
            let alerts = self.check_line(&origin, state.lines, &buf, &mut state.spikes)?;
            state.offset += n as u64;
            state.lines += 1;
            report.entries += 1;
            since_save += 1;
            self.metrics.entries_scanned.inc();
            if !alerts.is_empty() {
                report.alerts +=
                    crate::state::raise(&self.opts.sinks, &self.metrics, dir, &mut state, alerts)
                        .await?;
                since_save = 0;
            } else if since_save >= SAVE_EVERY_LINES {
                state.save_to(dir)?;
                since_save = 0;
            }
        }
        state.save_to(dir)?;
        report.scanned = state.lines;
        report.size = state.lines;
        Ok(report)
    }

    /// Watch one audit line; returns its alerts.
    fn check_line(
        &self,
        origin: &str,
        index: u64,
        line: &[u8],
        spikes: &mut Option<SlidingWindow>,
    ) -> Result<Vec<Alert>, MonitorError> {
        let rec: IssuanceRecord =
            serde_json::from_slice(line).map_err(|source| MonitorError::AuditRecord {
                path: self.opts.audit_path.clone(),
                line: index + 1,
                source,
            })?;
        let der =
            vouch_core::keys::pem_decode(&rec.certificate, &["CERTIFICATE"]).map_err(|source| {
                MonitorError::AuditCertificate {
                    path: self.opts.audit_path.clone(),
                    line: index + 1,
                    source,
                }
            })?;
        let sha = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der));
        if !sha.eq_ignore_ascii_case(&rec.certificate_sha256) {
            return Err(self.line_error(
                index,
                format!(
                    "certificateSha256 mismatch: the line says {}, its certificate hashes to {sha}",
                    rec.certificate_sha256
                ),
            ));
        }
        let info = EntryInfo {
            kind: AUDIT_ENTRY_KIND.to_string(),
            version: String::new(),
            digest: None,
            signers: vec![Signer::Certificate(der)],
        };
        let matches = self.opts.config.watch.matches(&info);
        let mut alerts = Vec::new();
        if matches.is_empty() {
            return Ok(alerts);
        }
        let what = format!(
            "was issued a certificate (serial {}{}) at line {} of the CA audit log",
            rec.serial,
            rec.client_address
                .as_deref()
                .map(|a| format!(", requested from {a}"))
                .unwrap_or_default(),
            index + 1
        );
        let at = Sighting {
            origin,
            index,
            entry_kind: AUDIT_ENTRY_KIND,
            digest: None,
            leaf_hash: None,
            what: &what,
        };
        if let Some(cfg) = &self.opts.config.spike {
            let time = vouch_core::time::Instant::parse_rfc3339(&rec.time)
                .ok()
                .and_then(|t| u64::try_from(t.secs).ok())
                .ok_or_else(|| {
                    self.line_error(index, format!("time {:?} is not RFC 3339", rec.time))
                })?;
            alerts.extend(crate::spike::observe(cfg, spikes, &at, time, &matches));
        }
        if let Some(auth) = &self.opts.authorized
            && auth.allows_certificate(&sha)
        {
            self.metrics.authorized_matches.inc_by(matches.len() as u64);
            return Ok(alerts);
        }
        alerts.extend(identity_alerts(
            &at,
            matches,
            self.opts.authorized.is_some(),
        ));
        Ok(alerts)
    }
}
