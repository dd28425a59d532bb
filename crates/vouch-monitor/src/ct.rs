//! Follows an RFC 6962 Certificate Transparency log (`vouch up`'s, which the CA logs every
//! precertificate to) for certificates issued to a watched identity, as rekor-monitor's
//! `ct_monitor` does with the same identity configuration.
//!
//! Each run:
//! 1. delivers alerts a killed run recorded but did not deliver;
//! 2. fetches `get-sth` and checks its `TreeHeadSignature` with the CT log's key;
//! 3. proves consistency from the stored tree head (`get-sth-consistency`); a rollback, another
//!    root at the same size, or a failing proof is a critical `consistency` alert with both tree
//!    heads (their `get-sth` JSON) and the proof;
//! 4. reads the new entries (`get-entries`, batches fetched concurrently and processed in
//!    order) and proves each included in the verified tree: its RFC 6962 leaf hash, looked up
//!    with `get-proof-by-hash` at the verified size, must sit at its index under the verified
//!    root. A precertificate's `extra_data` is used only when its TBS (poison removed) is the
//!    one the leaf logs, so every certificate matched is covered by the tree.
//!
//! Each certificate is matched with the log monitor's watch list (SANs, OIDC issuer, OID
//! extensions, fingerprint); a match not in the authorized set (a recorded bundle's certificate,
//! or its precertificate TBS) is a `ct-identity` alert with the CT index and the certificate.
//! The spike alert counts issuances at the entry's timestamp.
//!
//! State (`--state DIR/ct.json`) mirrors the log monitor's: the verified tree head, the scan
//! position and the outbox, written durably before alerts are delivered.

use crate::alert::{Alert, AlertKind, Severity, Sighting, Sinks, watched_alerts};
use crate::authorized::Authorized;
use crate::config::Config;
use crate::state::Outbox;
use crate::watch::{EntryInfo, Signer};
use crate::{Metrics, MonitorError, ProgressFn, RunReport};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vouch_core::ct::{
    ENTRY_PRECERT, ExtraData, GetEntriesResponse, GetProofByHashResponse,
    GetSthConsistencyResponse, GetSthResponse, HASH_SHA256, MerkleTreeLeaf, SignedEntry,
};
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::keys::PublicKey;
use vouch_core::merkle::{self, Hash};
use vouch_core::window::SlidingWindow;
use vouch_core::x509::Certificate;

/// File name of the CT follower's state in the state directory.
pub const CT_STATE_FILE: &str = "ct.json";
/// Format version written.
pub const CT_STATE_VERSION: u32 = 1;
/// Entries asked for per `get-entries` request (RFC 6962 logs may answer fewer).
pub const BATCH: u64 = 256;

/// What the CT follower remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CtState {
    /// Format version.
    pub version: u32,
    /// Hex CT log ID (SHA-256 of the log key) the state follows.
    pub log_id: String,
    /// The latest tree head proven consistent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sth: Option<GetSthResponse>,
    /// Entries below this index have been scanned.
    pub scanned: u64,
    /// Alerts recorded but not yet delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<Alert>,
    /// The last tree head refused, so that its evidence is not alerted twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<GetSthResponse>,
    /// Alerts raised so far.
    #[serde(default)]
    pub alerts_raised: u64,
    /// Recent issuances per watched identity, for the spike alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spikes: Option<SlidingWindow>,
}

impl Outbox for CtState {
    fn outbox(&mut self) -> &mut Vec<Alert> {
        &mut self.outbox
    }
    fn count_raised(&mut self, n: u64) {
        self.alerts_raised += n;
    }
    fn save_to(&self, dir: &Path) -> Result<(), MonitorError> {
        crate::state::write_json(&dir.join(CT_STATE_FILE), self)
    }
}

/// What the CT follower watches.
#[derive(Debug, Clone)]
pub struct CtMonitorOptions {
    /// The CT log's base URL (`<url>/ct/v1/get-sth`).
    pub url: String,
    /// The CT log's public key.
    pub key: PublicKey,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The watch configuration (`startIndex`/`endIndex` apply to CT indexes too).
    pub config: Config,
    /// The authorized signings; `None`: every match alerts.
    pub authorized: Option<Authorized>,
    /// Where alerts go.
    pub sinks: Sinks,
    /// `get-entries` batches in flight.
    pub concurrency: usize,
}

/// A verified tree head.
struct Sth {
    json: GetSthResponse,
    root: Hash,
}

/// A CT log client.
#[derive(Debug, Clone)]
struct CtClient {
    http: vouch_sign::HttpClient,
    base: String,
}

impl CtClient {
    async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, MonitorError> {
        let url = format!("{}/ct/v1/{path_and_query}", self.base);
        let r = self
            .http
            .get("ct", &url, &[])
            .await
            .map_err(|source| MonitorError::Fetch {
                url: url.clone(),
                source: Box::new(source),
            })?;
        serde_json::from_slice(&r.body).map_err(|source| MonitorError::BadAnswer { url, source })
    }
}

/// Base64 for a query parameter (`+`, `/` and `=` percent-encoded).
fn b64_query(b: &[u8]) -> String {
    b64_encode(b)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

fn hash_of(b64: &str) -> Option<Hash> {
    b64_decode(b64).ok()?.try_into().ok()
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b))
}

/// One entry read and proven included.
struct ProvenEntry {
    index: u64,
    leaf: Hash,
    leaf_input: Vec<u8>,
    extra_data: Vec<u8>,
}

/// A follower of a CT log.
pub struct CtMonitor {
    opts: CtMonitorOptions,
    client: CtClient,
    log_id: String,
    metrics: Arc<Metrics>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for CtMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtMonitor")
            .field("url", &self.opts.url)
            .finish()
    }
}

impl CtMonitor {
    /// A follower with fresh metrics.
    pub fn new(opts: CtMonitorOptions) -> Result<Self, MonitorError> {
        let http = vouch_sign::HttpClient::new().map_err(|source| MonitorError::Http {
            source: Box::new(source),
        })?;
        let base = opts.url.trim_end_matches('/').to_string();
        let log_id = sha256_hex(opts.key.spki_der());
        Ok(Self {
            opts,
            client: CtClient { http, base },
            log_id,
            metrics: Arc::new(Metrics::new()),
            progress: None,
        })
    }

    /// Count into `metrics` (e.g. the log monitor's, to serve one `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics (shared with a `/metrics` server).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Report progress while scanning.
    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    fn origin(&self) -> String {
        format!("ct {}", self.client.base)
    }

    fn sth_error(&self, detail: String) -> MonitorError {
        MonitorError::CtSth {
            url: self.client.base.clone(),
            detail,
        }
    }

    fn entry_error(&self, index: u64, detail: String) -> MonitorError {
        MonitorError::CtEntry {
            url: self.client.base.clone(),
            index,
            detail,
        }
    }

    fn load(&self) -> Result<CtState, MonitorError> {
        let dir = &self.opts.state_dir;
        let stored = crate::state::load_versioned(
            &dir.join(CT_STATE_FILE),
            |s: &CtState| s.version,
            CT_STATE_VERSION,
        )?;
        let state = stored.unwrap_or(CtState {
            version: CT_STATE_VERSION,
            log_id: self.log_id.clone(),
            sth: None,
            scanned: self.opts.config.start_index.unwrap_or(0),
            outbox: Vec::new(),
            refused: None,
            alerts_raised: 0,
            spikes: None,
        });
        if state.log_id != self.log_id {
            return Err(MonitorError::OriginChanged {
                stored: format!("CT log ID {}", state.log_id),
                got: format!("CT log ID {}", self.log_id),
                url: self.client.base.clone(),
            });
        }
        Ok(state)
    }

    /// Parse `get-sth` and check its signature with the CT log key.
    fn verify_sth(&self, json: GetSthResponse) -> Result<Sth, MonitorError> {
        let root = hash_of(&json.sha256_root_hash).ok_or_else(|| {
            self.sth_error(format!(
                "sha256_root_hash {:?} is not a base64 SHA-256 hash",
                json.sha256_root_hash
            ))
        })?;
        let ds = b64_decode(&json.tree_head_signature)
            .map_err(|_| self.sth_error("tree_head_signature is not base64".into()))?;
        let (hash_alg, _, sig) = vouch_core::ct::parse_digitally_signed(&ds).map_err(|source| {
            MonitorError::CtSthEncoding {
                url: self.client.base.clone(),
                source,
            }
        })?;
        if hash_alg != HASH_SHA256 {
            return Err(self.sth_error(format!(
                "tree_head_signature uses hash algorithm {hash_alg}, expected {HASH_SHA256} (SHA-256)"
            )));
        }
        let msg = vouch_core::ct::tree_head_signature_input(json.timestamp, json.tree_size, &root);
        self.opts
            .key
            .verify(&msg, sig)
            .map_err(|source| MonitorError::CtSthSignature {
                url: self.client.base.clone(),
                size: json.tree_size,
                source,
            })?;
        Ok(Sth { json, root })
    }

    async fn raise(&self, state: &mut CtState, alerts: Vec<Alert>) -> Result<u64, MonitorError> {
        crate::state::raise(
            &self.opts.sinks,
            &self.metrics,
            &self.opts.state_dir,
            state,
            alerts,
        )
        .await
    }

    /// One pass: deliver queued alerts, check the latest tree head, scan what is new.
    pub async fn run_once(&self) -> Result<RunReport, MonitorError> {
        let dir = &self.opts.state_dir;
        let mut report = RunReport::default();
        let mut state = self.load()?;
        if !state.outbox.is_empty() {
            report.alerts += state.outbox.len() as u64;
            self.opts.sinks.deliver(&state.outbox).await?;
            state.outbox.clear();
            state.save_to(dir)?;
        }
        let new = self.verify_sth(self.client.get("get-sth").await?)?;
        report.size = new.json.tree_size;
        let accepted = match self.check_consistency(&state, &new).await? {
            None => {
                state.sth = Some(new.json.clone());
                state.refused = None;
                state.save_to(dir)?;
                true
            }
            Some(alert) => {
                if state.refused.as_ref() != Some(&new.json) {
                    state.refused = Some(new.json.clone());
                    report.alerts += self.raise(&mut state, vec![*alert]).await?;
                }
                false
            }
        };
        report.refused = !accepted;
        if let Some(sth) = state.sth.clone() {
            let target = self.verify_sth(sth)?;
            self.metrics.consistent(target.json.tree_size);
            let (alerts, entries) = self.scan(&mut state, &target, new.json.tree_size).await?;
            report.alerts += alerts;
            report.entries = entries;
        }
        report.scanned = state.scanned;
        Ok(report)
    }

    /// `None` if `new` extends the stored tree head; else the consistency alert.
    async fn check_consistency(
        &self,
        state: &CtState,
        new: &Sth,
    ) -> Result<Option<Box<Alert>>, MonitorError> {
        let Some(old_json) = &state.sth else {
            return Ok(None);
        };
        let old = self.verify_sth(old_json.clone())?;
        let (m, n) = (old.json.tree_size, new.json.tree_size);
        let text = |s: &GetSthResponse| serde_json::to_string(s).map_err(MonitorError::Json);
        let (old_text, new_text) = (text(&old.json)?, text(&new.json)?);
        let origin = self.origin();
        let alert = |reason: String, proof: Vec<Hash>| {
            Some(Box::new(Alert {
                kind: AlertKind::Consistency,
                severity: Severity::Critical,
                id: format!(
                    "consistency/{origin}/{m}-{}/{n}-{}",
                    old.json.sha256_root_hash, new.json.sha256_root_hash
                ),
                origin: origin.clone(),
                message: format!(
                    "the CT log {} is inconsistent with the tree head this monitor verified before (size {m}): {reason}",
                    self.client.base
                ),
                old_checkpoint: Some(old_text.clone()),
                new_checkpoint: Some(new_text.clone()),
                proof: proof.iter().map(|h| b64_encode(h)).collect(),
                reason: Some(reason),
                ..crate::empty_alert()
            }))
        };
        if n < m {
            return Ok(alert(
                format!("rollback: the tree shrank from {m} to {n} entries"),
                Vec::new(),
            ));
        }
        if n == m {
            return Ok((old.root != new.root)
                .then(|| {
                    alert(
                        format!("two different roots for the same size {n}"),
                        Vec::new(),
                    )
                })
                .flatten());
        }
        if m == 0 {
            return Ok(None);
        }
        let r: GetSthConsistencyResponse = self
            .client
            .get(&format!("get-sth-consistency?first={m}&second={n}"))
            .await?;
        let proof = r
            .consistency
            .iter()
            .map(|h| hash_of(h))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.sth_error(format!("consistency proof {m}→{n} holds a non-hash")))?;
        match merkle::verify_consistency(m, n, &old.root, &new.root, &proof) {
            Ok(()) => Ok(None),
            Err(e) => Ok(alert(e.to_string(), proof)),
        }
    }

    /// Read entries `[start, end)` and prove each included in the tree `(size, root)`.
    async fn fetch_proven(
        client: CtClient,
        start: u64,
        end: u64,
        size: u64,
        root: Hash,
    ) -> Result<Vec<ProvenEntry>, MonitorError> {
        let err = |index: u64, detail: String| MonitorError::CtEntry {
            url: client.base.clone(),
            index,
            detail,
        };
        let mut out = Vec::new();
        let mut next = start;
        while next < end {
            let got: GetEntriesResponse = client
                .get(&format!("get-entries?start={next}&end={}", end - 1))
                .await?;
            if got.entries.is_empty() {
                return Err(err(next, "get-entries answered no entries".into()));
            }
            let want = usize::try_from(end - next).unwrap_or(usize::MAX);
            for e in got.entries.into_iter().take(want) {
                let index = next;
                let leaf_input = b64_decode(&e.leaf_input)
                    .map_err(|_| err(index, "leaf_input is not base64".into()))?;
                let extra_data = b64_decode(&e.extra_data)
                    .map_err(|_| err(index, "extra_data is not base64".into()))?;
                let leaf = merkle::leaf_hash(&leaf_input);
                let p: GetProofByHashResponse = client
                    .get(&format!(
                        "get-proof-by-hash?hash={}&tree_size={size}",
                        b64_query(&leaf)
                    ))
                    .await?;
                if p.leaf_index != index {
                    return Err(err(
                        index,
                        format!(
                            "is at index {} by get-proof-by-hash, not {index}",
                            p.leaf_index
                        ),
                    ));
                }
                let path = p
                    .audit_path
                    .iter()
                    .map(|h| hash_of(h))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| err(index, "audit_path holds a non-hash".into()))?;
                merkle::verify_inclusion(index, size, &leaf, &path, &root).map_err(|e| {
                    err(
                        index,
                        format!("is not included in the verified tree of size {size}: {e}"),
                    )
                })?;
                out.push(ProvenEntry {
                    index,
                    leaf,
                    leaf_input,
                    extra_data,
                });
                next += 1;
            }
        }
        Ok(out)
    }

    /// Scan `[state.scanned, min(target size, endIndex))`. Returns (alerts raised, entries).
    async fn scan(
        &self,
        state: &mut CtState,
        target: &Sth,
        latest: u64,
    ) -> Result<(u64, u64), MonitorError> {
        let n = target.json.tree_size;
        let limit = self.opts.config.end_index.map_or(n, |e| e.min(n));
        let from = state.scanned;
        self.metrics.position(from, latest);
        if from >= limit {
            return Ok((0, 0));
        }
        let origin = self.origin();
        let mut next = from;
        let mut pending = VecDeque::new();
        let (mut alerts_raised, mut entries) = (0u64, 0u64);
        let mut last_save = Instant::now();
        loop {
            while pending.len() < self.opts.concurrency.max(1) && next < limit {
                // Batches aligned to BATCH, as logs that answer in tiles prefer.
                let end = ((next / BATCH + 1) * BATCH).min(limit);
                let c = self.client.clone();
                pending.push_back(tokio::spawn(Self::fetch_proven(
                    c,
                    next,
                    end,
                    n,
                    target.root,
                )));
                next = end;
            }
            let Some(task) = pending.pop_front() else {
                break;
            };
            let batch = task
                .await
                .map_err(|source| MonitorError::Task { source })??;
            let Some(end) = batch.last().map(|e| e.index + 1) else {
                continue;
            };
            let mut alerts = Vec::new();
            for e in &batch {
                entries += 1;
                self.check_entry(&origin, e, &mut state.spikes, &mut alerts)?;
            }
            self.metrics.entries_scanned.inc_by(batch.len() as u64);
            state.scanned = end;
            self.metrics.position(end, latest);
            if !alerts.is_empty() {
                alerts_raised += self.raise(state, alerts).await?;
                last_save = Instant::now();
            } else if last_save.elapsed() >= crate::SAVE_EVERY || end == limit {
                state.save_to(&self.opts.state_dir)?;
                last_save = Instant::now();
            }
            if let Some(p) = &self.progress {
                p(end.saturating_sub(from), limit - from);
            }
        }
        Ok((alerts_raised, entries))
    }

    /// The certificate a proven entry logs, matched; pushes its alerts.
    fn check_entry(
        &self,
        origin: &str,
        e: &ProvenEntry,
        spikes: &mut Option<SlidingWindow>,
        alerts: &mut Vec<Alert>,
    ) -> Result<(), MonitorError> {
        let index = e.index;
        let leaf = MerkleTreeLeaf::parse(&e.leaf_input)
            .map_err(|err| self.entry_error(index, format!("leaf_input: {err}")))?;
        // The DER matched, the entry version, and the hex SHA-256 the authorized set knows it by.
        let (der, version, authorized_by) = match &leaf.entry {
            SignedEntry::X509 { certificate } => (certificate.to_vec(), "x509", None),
            SignedEntry::Precert { tbs, .. } => {
                // extra_data is not covered by the tree: a malformed one is an error, never a
                // way to make a watched issuance unreadable. Only an empty one (entries logged
                // before the log kept it) is counted and skipped.
                let extra = if e.extra_data.is_empty() {
                    None
                } else {
                    Some(
                        ExtraData::parse(ENTRY_PRECERT, &e.extra_data)
                            .map_err(|err| self.entry_error(index, format!("extra_data: {err}")))?,
                    )
                };
                let Some(pre) = extra.and_then(|x| x.pre_certificate) else {
                    // Without the precertificate only the TBS is logged: nothing to match on.
                    self.metrics.entries_unreadable.inc();
                    tracing::warn!(index, "CT precert entry without its precertificate");
                    return Ok(());
                };
                let cert = Certificate::from_der(pre).map_err(|err| {
                    self.entry_error(index, format!("extra_data precertificate: {err}"))
                })?;
                let logged = vouch_core::sct::precert_tbs_der_from_precert(&cert)
                    .map_err(|err| self.entry_error(index, err.to_string()))?;
                if logged.as_slice() != *tbs {
                    return Err(self.entry_error(
                        index,
                        "extra_data's precertificate is not the one its leaf logs".into(),
                    ));
                }
                (pre.to_vec(), "precert", Some(sha256_hex(tbs)))
            }
        };
        let cert_sha = sha256_hex(&der);
        let serial = Certificate::from_der(&der)
            .map(|c| c.serial_hex())
            .unwrap_or_default();
        let info = EntryInfo {
            kind: "ct".into(),
            version: version.into(),
            digest: None,
            signers: vec![Signer::Certificate(der)],
        };
        let matches = self.opts.config.watch.matches(&info);
        if matches.is_empty() {
            return Ok(());
        }
        let kind = format!("ct {version}");
        let leaf_hex = hex::encode(e.leaf);
        let what = format!("was issued a certificate (serial {serial}) logged at CT index {index}");
        let at = Sighting {
            origin,
            index,
            entry_kind: &kind,
            digest: None,
            leaf_hash: Some(&leaf_hex),
            what: &what,
        };
        if let Some(cfg) = &self.opts.config.spike {
            alerts.extend(crate::spike::observe(
                cfg,
                spikes,
                &at,
                leaf.timestamp_ms / 1000,
                &matches,
            ));
        }
        if let Some(auth) = &self.opts.authorized
            && (auth.allows_certificate(&cert_sha)
                || authorized_by.is_some_and(|t| auth.allows_precert_tbs(&t)))
        {
            self.metrics.authorized_matches.inc_by(matches.len() as u64);
            return Ok(());
        }
        alerts.extend(watched_alerts(
            AlertKind::CtIdentity,
            &at,
            matches,
            self.opts.authorized.is_some(),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_base64_is_escaped() {
        assert_eq!(b64_query(&[0xfb, 0xff]), "%2B%2F8%3D");
    }
}
