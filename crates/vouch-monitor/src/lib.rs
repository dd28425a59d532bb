//! # vouch-monitor
//!
//! Follows a transparency log through its C2SP tlog-tiles API and raises alerts.
//!
//! Each run:
//! 1. delivers alerts a killed run had recorded but not yet delivered (the state's outbox);
//! 2. fetches `/checkpoint`, checks the log's signature and, with a C2SP tlog-policy, the
//!    witness quorum (a checkpoint short of it is a `quorum` alert and is not accepted);
//! 3. proves consistency from the stored checkpoint to the new one with a proof computed from
//!    the log's hash tiles; a smaller tree (rollback), another root at the same size, or a
//!    failing proof is a critical `consistency` alert carrying both checkpoints and the proof;
//! 4. scans the new entries: the entry bundles are checked against the level-0 hash tiles, and
//!    every tile used is bound to the checkpoint's root (full tiles through their parent hash,
//!    partial ones through the root computation), so a log cannot show the monitor entries that
//!    are not in its tree; each entry's signers are matched against the watch list
//!    (rekor-monitor's config format) and a match not in the authorized set is an `identity`
//!    alert with the entry's index and certificate.
//!
//! State (`--state DIR/monitor.json`) is written durably; an alert is recorded in it, together
//! with the scan position past its entry, before it is delivered, so a monitor killed at any
//! point resumes without missing an alert or scanning an entry twice.

pub mod alert;
pub mod authorized;
pub mod ca_audit;
pub mod config;
pub mod fetch;
pub mod metrics;
pub mod spike;
pub mod state;
pub mod watch;

use alert::{Alert, AlertKind, Severity, Sinks};
use authorized::Authorized;
use config::Config;
use fetch::{TileClient, TileSet};
use state::State;
use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vouch_core::encoding::b64_encode;
use vouch_core::keys::PublicKey;
use vouch_core::merkle::{self, Hash, ProofError};
use vouch_core::note::{Checkpoint, NoteError, NoteVerifier, SignedNote};
use vouch_core::tiles::{self, TILE_WIDTH, TileId, TilePlanner, hashes_at_level};
use vouch_core::tlog_policy::WitnessPolicy;
use watch::EntryInfo;

pub use metrics::Metrics;

/// Errors of a monitor run (alerts are not errors: they are reported through [`Sinks`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The HTTP client could not be built.
    #[error("HTTP client: {source}")]
    Http {
        /// Why.
        #[source]
        source: Box<vouch_sign::SignError>,
    },
    /// A GET from the log failed.
    #[error("cannot fetch {url}: {source}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: Box<vouch_sign::SignError>,
    },
    /// A response is not UTF-8 text.
    #[error("{url} is not UTF-8 text")]
    NotText {
        /// The URL.
        url: String,
    },
    /// A hash tile has the wrong length.
    #[error("tile {path} is {got} bytes, expected {want}")]
    TileSize {
        /// The tile path.
        path: String,
        /// Its length.
        got: usize,
        /// The expected length.
        want: usize,
    },
    /// An entry bundle is malformed.
    #[error("entry bundle {path}: {reason}")]
    Bundle {
        /// The bundle path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The checkpoint is malformed.
    #[error("the log's checkpoint is malformed: {0}")]
    Checkpoint(#[source] NoteError),
    /// The log key cannot verify notes.
    #[error("log public key: {0}")]
    Key(#[source] NoteError),
    /// The checkpoint is not signed by the log key.
    #[error("the checkpoint of {origin} is not signed by the given log key: {source}")]
    Signature {
        /// The origin.
        origin: String,
        /// Why.
        #[source]
        source: NoteError,
    },
    /// The log serves another origin than the one the state follows.
    #[error("the state follows the log {stored:?}, but {url} serves {got:?}")]
    OriginChanged {
        /// The stored origin.
        stored: String,
        /// What the log serves.
        got: String,
        /// The log URL.
        url: String,
    },
    /// The log's tiles do not match its signed checkpoint.
    #[error("the log's tiles do not match its checkpoint (size {size}): {detail}")]
    TilesMismatch {
        /// Checkpoint size.
        size: u64,
        /// Which check failed.
        detail: String,
    },
    /// A proof could not be computed from the fetched tiles.
    #[error("cannot compute a proof from the log's tiles: {0}")]
    Proof(#[source] ProofError),
    /// A file operation on the state failed.
    #[error("state: {0}")]
    Fs(#[source] vouch_fs::FsError),
    /// The state file is corrupt.
    #[error("state file {path} is corrupt: {reason}")]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// JSON encoding failed.
    #[error("JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// Writing to stdout failed.
    #[error("cannot write alerts to stdout: {0}")]
    Stdout(#[source] std::io::Error),
    /// The webhook did not accept an alert after its retries.
    #[error("webhook {url} did not accept the alert (it stays queued for the next run): {source}")]
    Webhook {
        /// The webhook URL.
        url: String,
        /// Why.
        #[source]
        source: Box<vouch_sign::SignError>,
    },
    /// A fetch task failed.
    #[error("fetch task failed: {source}")]
    Task {
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The CA audit log cannot be read.
    #[error("cannot read the CA audit log {}: {source}", path.display())]
    AuditRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A CA audit line is malformed or its certificate does not match its digest.
    #[error("CA audit log {} line {line}: {reason}", path.display())]
    AuditLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Why.
        reason: String,
    },
    /// The CA audit log is shorter than what was already read: truncated or replaced.
    #[error("the CA audit log {} is {len} bytes, shorter than the {offset} bytes already read: it was truncated or replaced (move the state's ca-audit.json away to read it from the start)", path.display())]
    AuditShrank {
        /// The file.
        path: PathBuf,
        /// Bytes read before.
        offset: u64,
        /// Its length now.
        len: u64,
    },
}

/// What a monitor watches, and how.
#[derive(Debug)]
pub struct MonitorOptions {
    /// The log's tlog-tiles prefix.
    pub log_url: String,
    /// The log's checkpoint key.
    pub log_key: PublicKey,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The watch configuration.
    pub config: Config,
    /// A witness policy checkpoints must satisfy.
    pub witness_policy: Option<WitnessPolicy>,
    /// The authorized signings; `None`: every match alerts.
    pub authorized: Option<Authorized>,
    /// Where alerts go.
    pub sinks: Sinks,
    /// Tiles fetched at once.
    pub concurrency: usize,
}

/// Called after each scanned tile with (entries scanned so far, entries to reach).
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// The outcome of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Alerts raised in this run (including outbox alerts delivered again).
    pub alerts: u64,
    /// The scan position after the run.
    pub scanned: u64,
    /// Size of the log's latest checkpoint.
    pub size: u64,
    /// Entries scanned in this run.
    pub entries: u64,
    /// The log's current checkpoint is refused (inconsistent, rolled back or short of quorum),
    /// whether alerted now or by an earlier run.
    pub refused: bool,
}

/// A log monitor.
pub struct Monitor {
    opts: MonitorOptions,
    client: TileClient,
    metrics: Arc<Metrics>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("log", &self.opts.log_url)
            .finish()
    }
}

/// How often the scan position is saved when no alert forces it.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// A parsed and signature-checked checkpoint.
struct Verified {
    text: String,
    note: SignedNote,
    cp: Checkpoint,
}

fn parse_note(text: &str) -> Result<(SignedNote, Checkpoint), MonitorError> {
    let note = SignedNote::parse(text).map_err(MonitorError::Checkpoint)?;
    let cp = Checkpoint::parse(&note.text).map_err(MonitorError::Checkpoint)?;
    Ok((note, cp))
}

/// Tiles at levels ≥ 1 holding the ancestors of leaves `[from, size)`.
fn ancestor_tiles(from: u64, size: u64) -> BTreeSet<TileId> {
    let mut out = BTreeSet::new();
    let mut level = 1u8;
    loop {
        let stored = hashes_at_level(size, level);
        if stored == 0 {
            break;
        }
        let shift = u32::from(level) * tiles::TILE_HEIGHT;
        let first = (from >> shift).min(stored - 1) / TILE_WIDTH;
        let last = (stored - 1) / TILE_WIDTH;
        for index in first..=last {
            let width = (stored - index * TILE_WIDTH).min(TILE_WIDTH);
            out.insert(TileId {
                level,
                index,
                width: u16::try_from(width).unwrap_or(256),
            });
        }
        level += 1;
    }
    out
}

impl Monitor {
    /// A monitor with fresh metrics.
    pub fn new(opts: MonitorOptions) -> Result<Self, MonitorError> {
        let client = TileClient::new(&opts.log_url)?;
        Ok(Self {
            opts,
            client,
            metrics: Arc::new(Metrics::new()),
            progress: None,
        })
    }

    /// Report progress while scanning.
    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    /// The metrics (shared with a `/metrics` server).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    fn verifier(&self, origin: &str) -> Result<NoteVerifier, MonitorError> {
        NoteVerifier::for_log_key(origin, &self.opts.log_key).map_err(MonitorError::Key)
    }

    fn save(&self, state: &State) -> Result<(), MonitorError> {
        state.save(&self.opts.state_dir)
    }

    /// Record `alerts` with `state` durably, deliver them, then clear the outbox.
    async fn raise(&self, state: &mut State, alerts: Vec<Alert>) -> Result<u64, MonitorError> {
        state::raise(
            &self.opts.sinks,
            &self.metrics,
            &self.opts.state_dir,
            state,
            alerts,
        )
        .await
    }

    /// One pass: deliver queued alerts, check the latest checkpoint, scan what is new.
    pub async fn run_once(&self) -> Result<RunReport, MonitorError> {
        let mut report = RunReport::default();
        let mut stored = State::load(&self.opts.state_dir)?;
        // 1. Alerts a killed run recorded but did not deliver, before anything that may fail.
        if let Some(s) = stored.as_mut()
            && !s.outbox.is_empty()
        {
            report.alerts += s.outbox.len() as u64;
            self.opts.sinks.deliver(&s.outbox).await?;
            s.outbox.clear();
            self.save(s)?;
        }
        let text = self.client.checkpoint().await?;
        let (note, cp) = parse_note(&text)?;
        let mut state = match stored {
            Some(s) => {
                if s.origin != cp.origin {
                    return Err(MonitorError::OriginChanged {
                        stored: s.origin,
                        got: cp.origin,
                        url: self.opts.log_url.clone(),
                    });
                }
                s
            }
            None => State::new(&cp.origin, self.opts.config.start_index.unwrap_or(0)),
        };
        // 2. The log's signature, then the witness quorum.
        let v = self.verifier(&cp.origin)?;
        note.verify(&v).map_err(|source| MonitorError::Signature {
            origin: cp.origin.clone(),
            source,
        })?;
        let new = Verified { text, note, cp };
        self.metrics.position(state.scanned, new.cp.size);
        let mut accepted = true;
        if let Some(policy) = &self.opts.witness_policy
            && let Err(e) = policy.check(&new.note)
        {
            accepted = false;
            if state.refused.as_deref() != Some(new.text.as_str()) {
                state.refused = Some(new.text.clone());
                let alert = Alert {
                    kind: AlertKind::Quorum,
                    severity: Severity::Critical,
                    id: format!(
                        "quorum/{}/{}/{}",
                        new.cp.origin,
                        new.cp.size,
                        b64_encode(&new.cp.root_hash)
                    ),
                    origin: new.cp.origin.clone(),
                    message: format!(
                        "checkpoint of {} at size {} lacks the witness quorum: {e}",
                        new.cp.origin, new.cp.size
                    ),
                    new_checkpoint: Some(new.text.clone()),
                    reason: Some(e.to_string()),
                    ..empty_alert()
                };
                report.alerts += self.raise(&mut state, vec![alert]).await?;
            }
        }
        // 3. Consistency with the stored checkpoint.
        if accepted {
            match self.check_consistency(&state, &new).await? {
                None => {
                    state.checkpoint = Some(new.text.clone());
                    state.refused = None;
                    self.save(&state)?;
                }
                Some(alert) => {
                    accepted = false;
                    if state.refused.as_deref() != Some(new.text.as_str()) {
                        state.refused = Some(new.text.clone());
                        report.alerts += self.raise(&mut state, vec![*alert]).await?;
                    }
                }
            }
        }
        report.refused = !accepted;
        // 4. Scan under the latest accepted checkpoint (the stored one if the new one is refused).
        report.size = new.cp.size;
        if let Some(text) = state.checkpoint.clone() {
            let (_, target) = parse_note(&text)?;
            self.metrics.consistent(target.size);
            let (alerts, entries) = self.scan(&mut state, &target, new.cp.size).await?;
            report.alerts += alerts;
            report.entries = entries;
        }
        report.scanned = state.scanned;
        self.metrics.position(state.scanned, new.cp.size);
        Ok(report)
    }

    /// `None` if `new` extends the stored checkpoint; else the consistency alert.
    async fn check_consistency(
        &self,
        state: &State,
        new: &Verified,
    ) -> Result<Option<Box<Alert>>, MonitorError> {
        let Some(old_text) = &state.checkpoint else {
            return Ok(None);
        };
        let (_, old) = parse_note(old_text)?;
        let (m, n) = (old.size, new.cp.size);
        let alert = |reason: String, proof: Vec<Hash>| {
            Some(Box::new(Alert {
                kind: AlertKind::Consistency,
                severity: Severity::Critical,
                id: format!(
                    "consistency/{}/{m}-{}/{n}-{}",
                    old.origin,
                    b64_encode(&old.root_hash),
                    b64_encode(&new.cp.root_hash)
                ),
                origin: old.origin.clone(),
                message: format!(
                    "the log {} is inconsistent with the checkpoint this monitor verified before (size {m}): {reason}",
                    old.origin
                ),
                old_checkpoint: Some(old_text.clone()),
                new_checkpoint: Some(new.text.clone()),
                proof: proof.iter().map(|h| b64_encode(h)).collect(),
                reason: Some(reason),
                ..empty_alert()
            }))
        };
        if n < m {
            return Ok(alert(
                format!("rollback: the tree shrank from {m} to {n} entries"),
                Vec::new(),
            ));
        }
        if n == m {
            return Ok((old.root_hash != new.cp.root_hash)
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
        let mut planner = TilePlanner::new(n);
        tiles::consistency_proof(&mut planner, m, n).map_err(MonitorError::Proof)?;
        let mut set = TileSet::new(n);
        self.client
            .fill(&mut set, planner.tiles, self.opts.concurrency)
            .await?;
        let proof = tiles::consistency_proof(&mut set, m, n).map_err(MonitorError::Proof)?;
        match merkle::verify_consistency(m, n, &old.root_hash, &new.cp.root_hash, &proof) {
            Ok(()) => Ok(None),
            Err(e) => Ok(alert(e.to_string(), proof)),
        }
    }

    /// Scan `[state.scanned, min(target.size, endIndex))` under the verified `target`.
    /// Returns (alerts raised, entries scanned).
    async fn scan(
        &self,
        state: &mut State,
        target: &Checkpoint,
        latest: u64,
    ) -> Result<(u64, u64), MonitorError> {
        let n = target.size;
        let limit = self.opts.config.end_index.map_or(n, |e| e.min(n));
        let from = state.scanned;
        if from >= limit {
            return Ok((0, 0));
        }
        let mismatch = |detail: String| MonitorError::TilesMismatch { size: n, detail };
        // Upper tiles: everything the root needs, and every ancestor of the range.
        let mut planner = TilePlanner::new(n);
        tiles::tree_root(&mut planner, n).map_err(MonitorError::Proof)?;
        let mut wanted = planner.tiles;
        wanted.extend(ancestor_tiles(from, n));
        let mut set = TileSet::new(n);
        self.client
            .fill(&mut set, wanted, self.opts.concurrency)
            .await?;
        let root = tiles::tree_root(&mut set, n).map_err(MonitorError::Proof)?;
        if root != target.root_hash {
            return Err(mismatch(format!(
                "tiles give root {}, the checkpoint says {}",
                hex::encode(root),
                hex::encode(target.root_hash)
            )));
        }
        // Full tiles are bound to the root through their parent's hash.
        for (id, hashes) in &set.tiles {
            if id.is_full() && id.level > 0 {
                let parent = set.stored(id.level + 1, id.index);
                if let Some(p) = parent
                    && p != tiles::hash_run(hashes)
                {
                    return Err(mismatch(format!(
                        "{} does not hash to its parent's entry",
                        id.path()
                    )));
                }
            }
        }

        // Level 0: entry bundles with their hash tiles, fetched ahead, processed in order.
        let first_tile = from / TILE_WIDTH;
        let last_tile = (limit - 1) / TILE_WIDTH;
        let mut next = first_tile;
        let mut pending: VecDeque<_> = VecDeque::new();
        let (mut alerts_raised, mut entries) = (0u64, 0u64);
        let mut last_save = Instant::now();
        let origin = target.origin.clone();
        loop {
            while pending.len() < self.opts.concurrency.max(1) && next <= last_tile {
                let width = (n - next * TILE_WIDTH).min(TILE_WIDTH);
                let id = TileId {
                    level: 0,
                    index: next,
                    width: u16::try_from(width).unwrap_or(256),
                };
                let c = self.client.clone();
                pending.push_back((
                    id,
                    tokio::spawn(async move {
                        let (h, e) = tokio::join!(c.hash_tile(id), c.entry_bundle(id));
                        Ok::<_, MonitorError>((h?, e?))
                    }),
                ));
                next += 1;
            }
            let Some((id, task)) = pending.pop_front() else {
                break;
            };
            let (hashes, bodies) = task
                .await
                .map_err(|source| MonitorError::Task { source })??;
            // Bind the level-0 tile to the root.
            if id.is_full() {
                let parent = set
                    .stored(1, id.index)
                    .ok_or_else(|| mismatch(format!("no level-1 hash for {}", id.path())))?;
                if parent != tiles::hash_run(&hashes) {
                    return Err(mismatch(format!(
                        "{} does not hash to its parent's entry",
                        id.path()
                    )));
                }
            } else if set.tiles.get(&id).map(|t| t.as_slice()) != Some(hashes.as_slice()) {
                return Err(mismatch(format!(
                    "{} differs from the tile the root was computed from",
                    id.path()
                )));
            }
            let base = id.index * TILE_WIDTH;
            let start = from.max(base);
            let end = limit.min(base + u64::from(id.width));
            let mut alerts = Vec::new();
            for index in start..end {
                let pos = usize::try_from(index - base).unwrap_or(usize::MAX);
                let (Some(body), Some(leaf)) = (bodies.get(pos), hashes.get(pos)) else {
                    return Err(mismatch(format!(
                        "entry {index} missing from {}",
                        id.entries_path()
                    )));
                };
                if &merkle::leaf_hash(body) != leaf {
                    return Err(mismatch(format!(
                        "entry {index} in {} does not hash to its leaf",
                        id.entries_path()
                    )));
                }
                entries += 1;
                self.check_entry(&origin, index, body, leaf, &mut state.spikes, &mut alerts);
            }
            self.metrics
                .entries_scanned
                .inc_by(end.saturating_sub(start));
            state.scanned = end;
            self.metrics.position(end, latest);
            if !alerts.is_empty() {
                alerts_raised += self.raise(state, alerts).await?;
                last_save = Instant::now();
            } else if last_save.elapsed() >= SAVE_EVERY || end == limit {
                self.save(state)?;
                last_save = Instant::now();
            }
            if let Some(p) = &self.progress {
                p(end.saturating_sub(from), limit - from);
            }
        }
        Ok((alerts_raised, entries))
    }

    /// Match one entry; push an alert for each unauthorized match.
    fn check_entry(
        &self,
        origin: &str,
        index: u64,
        body: &[u8],
        leaf: &Hash,
        spikes: &mut Option<vouch_core::window::SlidingWindow>,
        alerts: &mut Vec<Alert>,
    ) {
        let info = match EntryInfo::parse(body) {
            Ok(i) => i,
            Err(e) => {
                self.metrics.entries_unreadable.inc();
                tracing::debug!(index, error = %e, "entry not read");
                return;
            }
        };
        let matches = self.opts.config.watch.matches(&info);
        if matches.is_empty() {
            return;
        }
        let kind = format!("{} {}", info.kind, info.version);
        let leaf_hex = hex::encode(leaf);
        let what = format!(
            "signed {} at index {index}",
            info.digest.as_deref().unwrap_or("an artifact")
        );
        let at = alert::Sighting {
            origin,
            index,
            entry_kind: &kind,
            digest: info.digest.as_deref(),
            leaf_hash: Some(&leaf_hex),
            what: &what,
        };
        if let Some(cfg) = &self.opts.config.spike {
            // Keyless signings are timed by their certificate (the tiles carry no time).
            let signed_at = info.signers.iter().find_map(|s| match s {
                watch::Signer::Certificate(der) => vouch_core::x509::Certificate::from_der(der)
                    .ok()
                    .and_then(|c| u64::try_from(c.not_before().secs).ok()),
                watch::Signer::PublicKey(_) => None,
            });
            if let Some(time) = signed_at {
                alerts.extend(spike::observe(cfg, spikes, &at, time, &matches));
            }
        }
        if let Some(auth) = &self.opts.authorized
            && auth.allows(leaf, info.digest.as_deref())
        {
            self.metrics.authorized_matches.inc_by(matches.len() as u64);
            return;
        }
        alerts.extend(alert::identity_alerts(
            &at,
            matches,
            self.opts.authorized.is_some(),
        ));
    }
}

/// An alert with only the required fields filled, for struct update syntax.
pub(crate) fn empty_alert() -> Alert {
    Alert {
        kind: AlertKind::Identity,
        severity: Severity::Warning,
        id: String::new(),
        origin: String::new(),
        message: String::new(),
        index: None,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_cover_the_range() {
        // 70,000 leaves: level 1 has 273 hashes (tiles 0 and 1.p/17), level 2 has 1 (0.p/1).
        let t = ancestor_tiles(66_000, 70_000);
        let paths: Vec<String> = t.iter().map(TileId::path).collect();
        assert_eq!(paths, ["tile/1/001.p/17", "tile/2/000.p/1"]);
        let t = ancestor_tiles(0, 70_000);
        assert_eq!(t.len(), 3);
        assert!(ancestor_tiles(0, 255).is_empty());
    }
}
