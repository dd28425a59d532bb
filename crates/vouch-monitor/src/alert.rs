//! Alerts: one JSON object per line on stdout, and optionally a webhook POST per alert (the
//! same JSON) with retries and exponential backoff.
//!
//! Delivery is at least once and ordered. An alert is first recorded in the durable state's
//! outbox together with the scan position past its entry, then delivered, then removed from the
//! outbox; a monitor killed in between delivers the outbox again when it restarts, so no alert is
//! lost. Each alert carries a stable `id` (log origin, kind, index, matched value) for receivers
//! that must de-duplicate the one case a kill can cause: between printing and recording it.

use crate::MonitorError;
use crate::watch::Match;
use serde::{Deserialize, Serialize};
use std::io::Write;

/// What kind of alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// A watched identity signed (and the signing is not in the authorized set).
    Identity,
    /// The log is inconsistent with what the monitor saw before (fork or rollback).
    Consistency,
    /// A checkpoint lacks the witness policy's quorum.
    Quorum,
    /// An identity signed more often than its threshold allows.
    Spike,
}

impl AlertKind {
    /// The lowercase name (the `kind` field and the metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Consistency => "consistency",
            Self::Quorum => "quorum",
            Self::Spike => "spike",
        }
    }
}

/// How bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The log misbehaved: keep the evidence.
    Critical,
    /// Someone signed as a watched identity.
    Warning,
}

/// One alert (the wire type of stdout lines, webhook bodies and the state's outbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// What kind.
    pub kind: AlertKind,
    /// How bad.
    pub severity: Severity,
    /// Stable identifier, for de-duplication by receivers.
    pub id: String,
    /// The log's origin.
    pub origin: String,
    /// One line for humans.
    pub message: String,
    /// The entry's index (identity alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The entry's kind and version, e.g. `hashedrekord 0.0.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_kind: Option<String>,
    /// What was signed: `<algorithm>:<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Hex RFC 6962 leaf hash of the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_hash: Option<String>,
    /// The matched identity, with the signer's certificate or key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Match>,
    /// The checkpoint the monitor had verified before (consistency alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_checkpoint: Option<String>,
    /// The checkpoint the log serves now (consistency and quorum alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_checkpoint: Option<String>,
    /// The consistency proof (base64 hashes) computed from the log's tiles that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proof: Vec<String>,
    /// Why the proof or the quorum failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where alerts go.
#[derive(Debug, Clone)]
pub struct Sinks {
    /// Print JSON lines on stdout.
    pub stdout: bool,
    /// POST each alert here.
    pub webhook: Option<String>,
    http: vouch_sign::HttpClient,
}

impl Sinks {
    /// Stdout, and a webhook when given (6 attempts, backoff from 250 ms, honouring
    /// `Retry-After`).
    pub fn new(stdout: bool, webhook: Option<String>) -> Result<Self, MonitorError> {
        let http = vouch_sign::HttpClient::new()
            .map_err(|source| MonitorError::Http {
                source: Box::new(source),
            })?
            .attempts(6);
        Ok(Self {
            stdout,
            webhook,
            http,
        })
    }

    /// Deliver alerts in order; fails on the first webhook that does not accept one.
    pub async fn deliver(&self, alerts: &[Alert]) -> Result<(), MonitorError> {
        for a in alerts {
            let line = serde_json::to_string(a).map_err(MonitorError::Json)?;
            if self.stdout {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}")
                    .and_then(|()| out.flush())
                    .map_err(MonitorError::Stdout)?;
            }
            if let Some(url) = &self.webhook {
                self.http
                    .post(
                        "webhook",
                        url,
                        &[("content-type", "application/json")],
                        line.into_bytes(),
                        &[],
                    )
                    .await
                    .map_err(|source| MonitorError::Webhook {
                        url: url.clone(),
                        source: Box::new(source),
                    })?;
            }
        }
        Ok(())
    }
}
