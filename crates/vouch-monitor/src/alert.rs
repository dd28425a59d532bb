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
    /// A CT log holds a certificate issued to a watched identity (and not in the authorized
    /// set).
    #[serde(rename = "ct-identity")]
    CtIdentity,
}

impl AlertKind {
    /// The lowercase name (the `kind` field and the metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Consistency => "consistency",
            Self::Quorum => "quorum",
            Self::Spike => "spike",
            Self::CtIdentity => "ct-identity",
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
    /// The entry's index (identity alerts; the CT index for `ct-identity`).
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
    /// The checkpoint the monitor had verified before (consistency alerts; for a CT log, its
    /// `get-sth` JSON).
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

/// Where a watched signing was seen: a log entry, or a CA audit line.
#[derive(Debug, Clone, Copy)]
pub struct Sighting<'a> {
    /// The log's origin, or `ca-audit <file>`.
    pub origin: &'a str,
    /// The entry's index, or the audit line's (0-based).
    pub index: u64,
    /// The entry kind and version, e.g. `hashedrekord 0.0.2`, or `ca-issuance`.
    pub entry_kind: &'a str,
    /// What was signed (`<algorithm>:<hex>`), if known.
    pub digest: Option<&'a str>,
    /// Hex leaf hash of a log entry.
    pub leaf_hash: Option<&'a str>,
    /// What happened, for the message: `signed sha256:… at index 7`.
    pub what: &'a str,
}

/// One `identity` alert per match of a signing that is not authorized; `authorized_set` says
/// whether an authorized set was given (the message then says the signing is not in it).
pub fn identity_alerts(at: &Sighting<'_>, matches: Vec<Match>, authorized_set: bool) -> Vec<Alert> {
    watched_alerts(AlertKind::Identity, at, matches, authorized_set)
}

/// [`identity_alerts`] of another kind (`ct-identity` for a CT log's certificates).
pub fn watched_alerts(
    kind: AlertKind,
    at: &Sighting<'_>,
    matches: Vec<Match>,
    authorized_set: bool,
) -> Vec<Alert> {
    matches
        .into_iter()
        .map(|m| {
            let who = m
                .cert_subject
                .clone()
                .unwrap_or_else(|| format!("key {}", m.fingerprint));
            let message = if authorized_set {
                format!(
                    "someone signed as your release identity: {who} {}, which is not in the authorized set",
                    at.what
                )
            } else {
                format!("watched identity {who} {}", at.what)
            };
            let watched = serde_json::to_string(&m.watched).unwrap_or_default();
            let tag = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, watched.as_bytes());
            Alert {
                kind,
                severity: Severity::Warning,
                id: format!(
                    "{}/{}/{}/{}",
                    kind.as_str(),
                    at.origin,
                    at.index,
                    hex::encode(&tag.as_ref()[..8])
                ),
                origin: at.origin.to_string(),
                message,
                index: Some(at.index),
                entry_kind: Some(at.entry_kind.to_string()),
                digest: at.digest.map(str::to_string),
                leaf_hash: at.leaf_hash.map(str::to_string),
                identity: Some(m),
                ..crate::empty_alert()
            }
        })
        .collect()
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    fn alert() -> Alert {
        Alert {
            kind: AlertKind::Identity,
            severity: Severity::Warning,
            id: "identity/o/7/x".into(),
            origin: "o".into(),
            message: "m".into(),
            index: Some(7),
            entry_kind: None,
            digest: None,
            leaf_hash: None,
            identity: None,
            old_checkpoint: None,
            new_checkpoint: None,
            proof: Vec::new(),
            reason: None,
        }
    }

    /// A webhook answering 503 twice, then 200 (or 400 on `/reject`).
    async fn hook() -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (h, g) = (hits.clone(), got.clone());
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(move |body: String| {
                    let n = h.fetch_add(1, Ordering::SeqCst);
                    if n >= 2 {
                        g.lock().unwrap().push(body);
                    }
                    async move {
                        if n < 2 {
                            axum::http::StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            axum::http::StatusCode::OK
                        }
                    }
                }),
            )
            .route(
                "/reject",
                axum::routing::post(|| async { axum::http::StatusCode::BAD_REQUEST }),
            );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        (url, hits, got)
    }

    #[tokio::test]
    async fn webhook_retries_with_backoff_then_delivers_once() {
        let (url, hits, got) = hook().await;
        let sinks = Sinks::new(false, Some(format!("{url}/hook"))).unwrap();
        sinks.deliver(&[alert()]).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        let bodies = got.lock().unwrap().clone();
        assert_eq!(bodies.len(), 1);
        let back: Alert = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(back, alert());

        let sinks = Sinks::new(false, Some(format!("{url}/reject"))).unwrap();
        let e = sinks.deliver(&[alert()]).await.unwrap_err();
        assert!(matches!(e, MonitorError::Webhook { .. }), "{e}");
        assert!(e.to_string().contains("/reject"), "{e}");
    }
}
