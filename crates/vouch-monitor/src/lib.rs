//! # vouch-monitor
//!
//! Follows a transparency log through its C2SP tlog-tiles API, or through the Rekor v1 API for
//! a log that serves no tiles ([`LogApi`]), and raises alerts. [`ct`] follows an RFC 6962 CT log
//! the same way.
//!
//! Each run:
//! 1. delivers alerts a killed run had recorded but not yet delivered (the state's outbox);
//! 2. fetches `/checkpoint` (v1: the `signedTreeHead` of `GET /api/v1/log`), checks the log's
//!    signature and, with a C2SP tlog-policy, the witness quorum (a checkpoint short of it is a
//!    `quorum` alert and is not accepted);
//! 3. proves consistency from the stored checkpoint to the new one with a proof computed from
//!    the log's hash tiles (v1: served by `GET /api/v1/log/proof`); a smaller tree (rollback),
//!    another root at the same size, or a failing proof is a critical `consistency` alert
//!    carrying both checkpoints and the proof;
//! 4. scans the new entries: the entry bundles are checked against the level-0 hash tiles, and
//!    every tile used is bound to the checkpoint's root (full tiles through their parent hash,
//!    partial ones through the root computation); v1 entries are each proven included by their
//!    inclusion proof, against the verified root or a tree proven consistent with it. So a log
//!    cannot show the monitor entries that are not in its tree. Each entry's signers are matched
//!    against the watch list (rekor-monitor's config format) and a match not in the authorized
//!    set is an `identity` alert with the entry's index and certificate.
//!
//! State (`--state DIR/monitor.json`) is written durably; an alert is recorded in it, together
//! with the scan position past its entry, before it is delivered, so a monitor killed at any
//! point resumes without missing an alert or scanning an entry twice.

pub mod alert;
pub mod authorized;
pub mod ca_audit;
pub mod config;
pub mod ct;
pub mod fetch;
pub mod metrics;
pub mod spike;
pub mod state;
pub mod v1;
pub mod watch;

use alert::{Alert, AlertKind, Severity, Sinks};
use authorized::Authorized;
use config::Config;
use fetch::{TileClient, TileSet};
use state::State;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use v1::V1Client;
use vouch_core::encoding::{b64_decode, b64_encode};
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
    /// A log answer is not the JSON expected.
    #[error("{url}: unexpected answer: {source}")]
    BadAnswer {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The log's Rekor v1 answers do not match its signed tree head.
    #[error("the log's Rekor v1 answers do not match its signed tree head (size {size}): {detail}")]
    V1Mismatch {
        /// Tree head size.
        size: u64,
        /// Which check failed.
        detail: String,
    },
    /// Neither tlog-tiles nor the Rekor v1 API answers at the log URL.
    #[error("{url} serves neither tlog-tiles ({tiles}) nor the Rekor v1 API ({v1})")]
    NoApi {
        /// The log URL.
        url: String,
        /// Why `/checkpoint` failed.
        #[source]
        tiles: Box<MonitorError>,
        /// Why `/api/v1/log` failed.
        v1: Box<MonitorError>,
    },
    /// The CT log's signed tree head is malformed or not signed by the given key.
    #[error("CT log {url}: {detail}")]
    CtSth {
        /// The CT log URL.
        url: String,
        /// Which check failed.
        detail: String,
    },
    /// The CT log's tree head signature is not a TLS `DigitallySigned` struct.
    #[error("CT log {url}: {source}")]
    CtSthEncoding {
        /// The CT log URL.
        url: String,
        /// The decoding error.
        #[source]
        source: vouch_core::ct::CtError,
    },
    /// The CT log's signed tree head is not signed by the configured key.
    #[error(
        "CT log {url}: the tree head of size {size} is not signed by --ct-public-key: {source}"
    )]
    CtSthSignature {
        /// The CT log URL.
        url: String,
        /// The tree size of the head.
        size: u64,
        /// The verification error.
        #[source]
        source: vouch_core::keys::KeyError,
    },
    /// The CT log's entries do not match its signed tree head.
    #[error("CT log {url}: entry {index} {detail}")]
    CtEntry {
        /// The CT log URL.
        url: String,
        /// The entry index.
        index: u64,
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
    /// A CA audit line is not an issuance record.
    #[error("CA audit log {} line {line}: not an issuance record: {source}", path.display())]
    AuditRecord {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A CA audit line's certificate is not a PEM certificate.
    #[error("CA audit log {} line {line}: certificate: {source}", path.display())]
    AuditCertificate {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The PEM error.
        #[source]
        source: vouch_core::keys::KeyError,
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

/// How a log is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogApi {
    /// C2SP tlog-tiles (`/checkpoint`, `/tile/…`): Rekor v2, vouch.
    Tiles,
    /// The Rekor v1 REST API (`/api/v1/log…`): public-good Rekor v1.
    V1,
}

/// Which API the log at `base` serves: tiles when `/checkpoint` answers, else Rekor v1 when
/// `/api/v1/log` does.
pub async fn detect_api(base: &str) -> Result<LogApi, MonitorError> {
    let tiles = match TileClient::new(base)?.checkpoint().await {
        Ok(_) => return Ok(LogApi::Tiles),
        Err(e) => e,
    };
    match V1Client::new(base)?.checkpoint().await {
        Ok(_) => Ok(LogApi::V1),
        Err(v1) => Err(MonitorError::NoApi {
            url: base.to_string(),
            tiles: Box::new(tiles),
            v1: Box::new(v1),
        }),
    }
}

/// What a monitor watches, and how.
#[derive(Debug)]
pub struct MonitorOptions {
    /// The log's base URL (tlog-tiles prefix, or where `/api/v1/log` is).
    pub log_url: String,
    /// How to read it; `None`: detect it on each run ([`detect_api`]).
    pub api: Option<LogApi>,
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
    v1: V1Client,
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
pub(crate) const SAVE_EVERY: Duration = Duration::from_secs(1);

/// A parsed and signature-checked checkpoint.
struct Verified {
    text: String,
    note: SignedNote,
    cp: Checkpoint,
}

pub(crate) fn parse_note(text: &str) -> Result<(SignedNote, Checkpoint), MonitorError> {
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
        let v1 = V1Client::new(&opts.log_url)?;
        Ok(Self {
            opts,
            client,
            v1,
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
    /// Record entries `[start, end)` as scanned (of `[from, limit)`, the log at `latest`):
    /// metrics, the state's position, the batch's alerts (raising them saves the state) or a
    /// periodic save, and progress. Returns the alerts raised.
    async fn advance(
        &self,
        state: &mut State,
        (start, end): (u64, u64),
        (from, limit, latest): (u64, u64, u64),
        alerts: Vec<Alert>,
        last_save: &mut Instant,
    ) -> Result<u64, MonitorError> {
        self.metrics
            .entries_scanned
            .inc_by(end.saturating_sub(start));
        state.scanned = end;
        self.metrics.position(end, latest);
        let mut raised = 0;
        if !alerts.is_empty() {
            raised = self.raise(state, alerts).await?;
            *last_save = Instant::now();
        } else if last_save.elapsed() >= SAVE_EVERY || end == limit {
            self.save(state)?;
            *last_save = Instant::now();
        }
        if let Some(p) = &self.progress {
            p(end.saturating_sub(from), limit - from);
        }
        Ok(raised)
    }

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
        let api = match self.opts.api {
            Some(a) => a,
            None => detect_api(&self.opts.log_url).await?,
        };
        let text = match api {
            LogApi::Tiles => self.client.checkpoint().await?,
            LogApi::V1 => self.v1.checkpoint().await?,
        };
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
            match self.check_consistency(api, &state, &new).await? {
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
            let (alerts, entries) = match api {
                LogApi::Tiles => self.scan(&mut state, &target, new.cp.size).await?,
                LogApi::V1 => self.scan_v1(&mut state, &target, new.cp.size).await?,
            };
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
        api: LogApi,
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
        let proof = match api {
            LogApi::Tiles => {
                let mut planner = TilePlanner::new(n);
                tiles::consistency_proof(&mut planner, m, n).map_err(MonitorError::Proof)?;
                let mut set = TileSet::new(n);
                self.client
                    .fill(&mut set, planner.tiles, self.opts.concurrency)
                    .await?;
                tiles::consistency_proof(&mut set, m, n).map_err(MonitorError::Proof)?
            }
            LogApi::V1 => self.v1.consistency(m, n).await?,
        };
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
            alerts_raised += self
                .advance(
                    state,
                    (start, end),
                    (from, limit, latest),
                    alerts,
                    &mut last_save,
                )
                .await?;
        }
        Ok((alerts_raised, entries))
    }

    /// Scan `[state.scanned, min(target.size, endIndex))` through the Rekor v1 API: entries in
    /// batches of [`v1::MAX_BATCH`], up to `concurrency` batches in flight, processed in order;
    /// each is proven included in the verified `target` before it is matched. Returns (alerts
    /// raised, entries scanned).
    async fn scan_v1(
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
        let mismatch = |detail: String| MonitorError::V1Mismatch { size: n, detail };
        // Roots proven: the target's, and those of the trees the entries' proofs are against.
        let mut roots: HashMap<u64, Hash> = HashMap::from([(n, target.root_hash)]);
        let batch = v1::MAX_BATCH as u64;
        let mut next = from;
        let mut pending = VecDeque::new();
        let (mut alerts_raised, mut entries) = (0u64, 0u64);
        let mut last_save = Instant::now();
        loop {
            while pending.len() < self.opts.concurrency.max(1) && next < limit {
                let end = (next + batch).min(limit);
                let indexes: Vec<u64> = (next..end).collect();
                let c = self.v1.clone();
                pending.push_back((
                    next,
                    end,
                    tokio::spawn(async move { c.entries(&indexes).await }),
                ));
                next = end;
            }
            let Some((start, end, task)) = pending.pop_front() else {
                break;
            };
            let got = task
                .await
                .map_err(|source| MonitorError::Task { source })??;
            let mut by_index: HashMap<u64, vouch_core::rekor::LogEntryV1> = HashMap::new();
            for e in got {
                if !(start..end).contains(&e.log_index) {
                    return Err(mismatch(format!(
                        "asked for entries {start}..{end}, got entry {}",
                        e.log_index
                    )));
                }
                by_index.insert(e.log_index, e);
            }
            let mut alerts = Vec::new();
            for index in start..end {
                let e = by_index
                    .remove(&index)
                    .ok_or_else(|| mismatch(format!("entry {index} is missing from the answer")))?;
                let body = b64_decode(&e.body)
                    .map_err(|_| mismatch(format!("entry {index}: body is not base64")))?;
                let leaf = merkle::leaf_hash(&body);
                let proof = e
                    .verification
                    .and_then(|v| v.inclusion_proof)
                    .ok_or_else(|| mismatch(format!("entry {index} has no inclusion proof")))?;
                if proof.log_index != index {
                    return Err(mismatch(format!(
                        "entry {index}: its inclusion proof is for index {}",
                        proof.log_index
                    )));
                }
                let root = self.proven_root(&mut roots, target, index, &proof).await?;
                let hashes = proof
                    .hashes
                    .iter()
                    .map(|h| v1::hex_hash(h))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        mismatch(format!("entry {index}: inclusion proof hash is not hex"))
                    })?;
                merkle::verify_inclusion(index, proof.tree_size, &leaf, &hashes, &root).map_err(
                    |e| {
                        mismatch(format!(
                            "entry {index} is not included in the tree of size {}: {e}",
                            proof.tree_size
                        ))
                    },
                )?;
                entries += 1;
                self.check_entry(
                    &target.origin,
                    index,
                    &body,
                    &leaf,
                    &mut state.spikes,
                    &mut alerts,
                );
            }
            alerts_raised += self
                .advance(
                    state,
                    (start, end),
                    (from, limit, latest),
                    alerts,
                    &mut last_save,
                )
                .await?;
        }
        Ok((alerts_raised, entries))
    }

    /// The root of the tree a v1 inclusion proof is against, proven: the target's own, or one
    /// whose tree is proven consistent with the target (its checkpoint, when the answer carries
    /// one, must be signed by the log and name the same size and root).
    async fn proven_root(
        &self,
        roots: &mut HashMap<u64, Hash>,
        target: &Checkpoint,
        index: u64,
        proof: &vouch_core::rekor::InclusionProofV1,
    ) -> Result<Hash, MonitorError> {
        let mismatch = |detail: String| MonitorError::V1Mismatch {
            size: target.size,
            detail: format!("entry {index}: {detail}"),
        };
        let t = proof.tree_size;
        let claimed = v1::hex_hash(&proof.root_hash)
            .ok_or_else(|| mismatch(format!("rootHash {:?} is not a hex hash", proof.root_hash)))?;
        if let Some(r) = roots.get(&t) {
            if *r != claimed {
                return Err(mismatch(format!(
                    "its proof is against root {} at size {t}, the verified root there is {}",
                    proof.root_hash,
                    hex::encode(r)
                )));
            }
            return Ok(*r);
        }
        if let Some(text) = &proof.checkpoint {
            let (note, cp) = parse_note(text)?;
            let v = self.verifier(&target.origin)?;
            note.verify(&v).map_err(|source| MonitorError::Signature {
                origin: cp.origin.clone(),
                source,
            })?;
            if cp.size != t || cp.root_hash != claimed {
                return Err(mismatch(format!(
                    "its proof names size {t} root {}, its checkpoint size {} root {}",
                    proof.root_hash,
                    cp.size,
                    hex::encode(cp.root_hash)
                )));
            }
        }
        let n = target.size;
        let (small, big) = if t < n { (t, n) } else { (n, t) };
        let (small_root, big_root) = if t < n {
            (claimed, target.root_hash)
        } else {
            (target.root_hash, claimed)
        };
        let hashes = self.v1.consistency(small, big).await?;
        merkle::verify_consistency(small, big, &small_root, &big_root, &hashes).map_err(|e| {
            mismatch(format!("the tree of size {t} its proof is against is not consistent with the verified one of size {n}: {e}"))
        })?;
        roots.insert(t, claimed);
        Ok(claimed)
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
