//! # vouch-log
//!
//! A tile-based transparency log (C2SP tlog-tiles, after Sunlight and Tessera) that serves the
//! Rekor v2 write API and the tlog-tiles read API over one tree.
//!
//! Write path: a submission is validated (signature verified), canonicalized and queued; the
//! [`sequencer`](Log::spawn_sequencer) wakes every `batch_interval` or when `max_batch`
//! entries wait, deduplicates, assigns indexes, writes the changed hash tiles and entry bundles,
//! signs a checkpoint, makes everything durable through [`Storage::commit`], and only then
//! answers each waiting request with its index, inclusion proof and checkpoint. A bounded queue
//! gives backpressure (HTTP 503 with `Retry-After`) instead of unbounded memory.
//!
//! Deduplication is by canonical body: the same submission again answers the existing entry.
//! **ECDSA malleability (decided: left as is, like upstream Rekor).** `(r, n − s)` verifies
//! like `(r, s)`, so a malleated signature is another body and gets a new entry. The log does
//! not normalize to low-S: an entry must record the signature exactly as the submitter's
//! bundle carries it (verifiers compare the two byte for byte), so a normalized entry would
//! disagree with that bundle; and refusing high-S would refuse clients that emit it (Go's
//! `crypto/ecdsa`, OpenSSL). A second entry for the same artifact and key harms no
//! verification (each entry verifies on its own); monitors should count signings by
//! (artifact digest, key or certificate), not by signature bytes.

pub mod api;
pub mod ct;
pub mod entries;
pub mod explorer;
pub mod metrics;
#[cfg(feature = "scale")]
pub mod pg;
pub mod search;
pub mod shared;
pub mod signer;
pub mod storage;
pub mod tree;
pub mod v1;
pub mod witness_client;

use entries::PreparedEntry;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use storage::{CommitBatch, EntryRecord, Storage, StoredCheckpoint};
use tokio::sync::{mpsc, oneshot};
use tree::{Edge, TileCache, TreeReader};
use vouch_core::merkle::Hash;
use vouch_core::note::Checkpoint;
use vouch_core::tiles;

pub use signer::{KeyAlgorithm, LogSigner};
pub use storage::EmbeddedStorage;

/// Errors of the log engine and API.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The request is malformed or fails validation (HTTP 400).
    #[error("{0}")]
    InvalidArgument(String),
    /// The entry is already in the log (HTTP 409).
    #[error("entry already exists at log index {0}")]
    AlreadyExists(u64),
    /// Not found (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The request body or entry is too large (HTTP 413).
    #[error("entry of {0} bytes is too large")]
    TooLarge(usize),
    /// The pending pool is full (HTTP 503 with Retry-After).
    #[error("log is busy: too many pending entries, retry later")]
    Busy,
    /// Stored data is missing, corrupt or inconsistent; the message names what and the values.
    /// (Failures with an underlying error have their own variants, which keep it as `source`.)
    #[error("storage: {0}")]
    Storage(String),
    /// A file or directory operation of the storage failed; the I/O error, and with it its
    /// `io::ErrorKind`, is kept (shared, like [`LogError::Fs`]).
    #[error("storage: {what}: {source}")]
    Io {
        /// The operation and the path.
        what: String,
        /// The I/O error.
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    /// The embedded index database failed.
    #[error("storage: index database: {source}")]
    Index {
        /// The database's error.
        #[source]
        source: std::sync::Arc<fjall::Error>,
    },
    /// A stored document (the checkpoint record) does not encode or decode.
    #[error("storage: {what}: {source}")]
    Json {
        /// Which document, and what was done with it.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: std::sync::Arc<serde_json::Error>,
    },
    /// A stored tile or entry bundle does not parse.
    #[error("storage: {what}: {source}")]
    Tile {
        /// Which tile.
        what: String,
        /// Why.
        #[source]
        source: vouch_core::tiles::TileError,
    },
    /// The stored tiles do not reproduce a tree (a hash is missing or out of range).
    #[error("storage: cannot rebuild the tree from tiles: {0}")]
    Rebuild(#[source] vouch_core::merkle::ProofError),
    /// The stored cosigned checkpoint (scale backend) does not verify.
    #[error("storage: the stored cosigned checkpoint of size {size}: {what}: {source}")]
    CosignedNote {
        /// Its tree size.
        size: u64,
        /// The check that failed.
        what: &'static str,
        /// Why.
        #[source]
        source: vouch_core::note::NoteError,
    },
    /// A stored CT entry does not parse.
    #[error("storage: stored CT entry: {0}")]
    CtEntry(#[source] vouch_core::ct::CtError),
    /// A PostgreSQL operation of the scale backend failed. `transient` failures (connection
    /// loss, server shutdown, serialization conflicts) answer 503 with Retry-After, others 500.
    #[cfg(feature = "scale")]
    #[error("{}database: {what}: {source}", transient_prefix(*.transient))]
    Database {
        /// The operation.
        what: &'static str,
        /// Whether retrying may succeed.
        transient: bool,
        /// The database client's error.
        #[source]
        source: std::sync::Arc<sqlx::Error>,
    },
    /// The database schema migration failed.
    #[cfg(feature = "scale")]
    #[error("storage: database schema migration: {0}")]
    Migration(#[source] std::sync::Arc<sqlx::migrate::MigrateError>),
    /// An object store (tiles, entry bundles) operation failed (HTTP 503 with Retry-After).
    #[cfg(feature = "scale")]
    #[error("temporarily unavailable: object store: {what}: {source}")]
    ObjectStore {
        /// The operation and the object path.
        what: String,
        /// The object store client's error.
        #[source]
        source: std::sync::Arc<object_store::Error>,
    },
    /// A file operation of the storage failed (the I/O error's kind is kept; shared, because
    /// one failed batch answers every waiting request).
    #[error("storage: {0}")]
    Fs(#[source] std::sync::Arc<vouch_fs::FsError>),
    /// Key problem.
    #[error("log key: {0}")]
    Key(String),
    /// The log's public key does not parse.
    #[error("log key: {0}")]
    PublicKey(#[source] vouch_core::keys::KeyError),
    /// The log's public key cannot make a note verifier for the origin.
    #[error("log key: {0}")]
    NoteKey(#[source] vouch_core::note::NoteError),
    /// Internal error.
    #[error("internal error: {0}")]
    Internal(String),
    /// One of our own documents (an entry body, canonical JSON) does not serialize.
    #[error("internal error: {0}")]
    Serialize(#[source] std::sync::Arc<serde_json::Error>),
    /// A blocking task of a request panicked or was cancelled.
    #[error("internal error: {0}")]
    Blocking(#[source] std::sync::Arc<tokio::task::JoinError>),
    /// A background task panicked or was cancelled.
    #[error("internal error: {what}: {source}")]
    Task {
        /// Which task.
        what: &'static str,
        /// The join error.
        #[source]
        source: std::sync::Arc<tokio::task::JoinError>,
    },
    /// A proof over the log's own tree could not be built.
    #[error("internal error: {what}: {source}")]
    Proof {
        /// Which proof.
        what: &'static str,
        /// Why.
        #[source]
        source: vouch_core::merkle::ProofError,
    },
    /// A proof was asked for with arguments the tree cannot answer (HTTP 400).
    #[error("{0}")]
    BadProofRequest(#[source] vouch_core::merkle::ProofError),
    /// The log's own checkpoint does not parse as a signed note.
    #[error("internal error: own checkpoint does not parse: {0}")]
    OwnCheckpoint(#[source] vouch_core::note::NoteError),
    /// The HTTP client for the witnesses cannot be built.
    #[error("internal error: witness HTTP client: {0}")]
    WitnessHttp(#[source] std::sync::Arc<reqwest::Error>),
    /// A runtime the log needs could not be started.
    #[error("internal error: {what}: {source}")]
    Runtime {
        /// Which runtime.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    /// An object path built by the log is not a valid object store path.
    #[cfg(feature = "scale")]
    #[error("internal error: object path {path}: {source}")]
    ObjectPath {
        /// The path.
        path: String,
        /// The object store's error.
        #[source]
        source: std::sync::Arc<object_store::path::Error>,
    },
    /// A backend service (database, object store) is unreachable or the entry is not yet
    /// published (HTTP 503 with Retry-After).
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// The checkpoint covering the write lacks the witness policy's quorum, and the log was
    /// asked to acknowledge only witnessed writes (HTTP 503).
    #[error("witness quorum not met for the checkpoint covering this entry: {0}")]
    WitnessQuorum(#[source] vouch_core::tlog_policy::QuorumError),
}

/// How a [`LogError::Database`] message starts: as the other transient or storage errors do.
#[cfg(feature = "scale")]
fn transient_prefix(transient: bool) -> &'static str {
    if transient {
        "temporarily unavailable: "
    } else {
        "storage: "
    }
}

impl LogError {
    /// Whether the failure is temporary (HTTP 503 with Retry-After): the log is busy, a backend
    /// service is unreachable, or the witness quorum is not met yet.
    pub fn is_unavailable(&self) -> bool {
        match self {
            LogError::Busy | LogError::Unavailable(_) | LogError::WitnessQuorum(_) => true,
            #[cfg(feature = "scale")]
            LogError::Database { transient, .. } => *transient,
            #[cfg(feature = "scale")]
            LogError::ObjectStore { .. } => true,
            _ => false,
        }
    }

    /// The `io::ErrorKind` of a failed storage file operation ([`LogError::Io`],
    /// [`LogError::Fs`]): e.g. `StorageFull` or `PermissionDenied`, for an operator's alert.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            LogError::Io { source, .. } => Some(source.kind()),
            LogError::Fs(e) => Some(e.kind()),
            _ => None,
        }
    }

    /// A failed file or directory operation `what` of the storage.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        LogError::Io {
            what: what.into(),
            source: std::sync::Arc::new(source),
        }
    }
}

impl From<vouch_fs::FsError> for LogError {
    fn from(e: vouch_fs::FsError) -> Self {
        LogError::Fs(std::sync::Arc::new(e))
    }
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Checkpoint origin, e.g. `log.example.test/2026`.
    pub origin: String,
    /// How long the sequencer waits to fill a batch.
    pub batch_interval: Duration,
    /// Largest batch integrated at once.
    pub max_batch: usize,
    /// Most submissions waiting for integration before new ones get 503.
    pub max_pending: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            origin: "log.vouch.local".into(),
            batch_interval: Duration::from_millis(250),
            max_batch: 1024,
            max_pending: 16_384,
        }
    }
}

/// What a submitter gets back once its entry is durable.
#[derive(Clone, Debug)]
pub struct Integrated {
    /// Index of the entry.
    pub index: u64,
    /// Integration time (unix seconds).
    pub integrated_time: i64,
    /// Inclusion proof against `checkpoint`.
    pub proof: Vec<Hash>,
    /// The checkpoint the proof is for.
    pub checkpoint: StoredCheckpoint,
    /// The canonical body.
    pub body: Vec<u8>,
}

struct Pending {
    entry: PreparedEntry,
    reply: oneshot::Sender<Result<Integrated, LogError>>,
}

/// The published (durable) state readers see.
struct Published {
    checkpoint: StoredCheckpoint,
    edge: Edge,
    /// Distributed mode only: the latest cosigned checkpoint read from the backend (verified
    /// against the tree), which `/checkpoint` serves while it is the published one.
    cosigned: Option<StoredCheckpoint>,
    /// Distributed mode with a witness client only: the latest cosigned checkpoint that
    /// acknowledgements may use (with the policy's quorum when it is required).
    witnessed: Option<StoredCheckpoint>,
}

struct Inner<S: Storage> {
    storage: S,
    signer: LogSigner,
    config: LogConfig,
    state: RwLock<Published>,
    cache: Mutex<TileCache>,
    metrics: metrics::Metrics,
    /// Distributed mode only: sequenced submissions waiting for a covering checkpoint.
    waiters: shared::Waiters,
    /// Witness cosignature collection, when a witness policy is configured.
    witness: std::sync::OnceLock<witness_client::WitnessClient>,
}

/// A running log: cheap to clone, shared by the API handlers. The sequencer stops, and the
/// storage is released, once every clone is dropped.
pub struct Log<S: Storage> {
    inner: Arc<Inner<S>>,
    tx: mpsc::Sender<Pending>,
}

impl<S: Storage> Clone for Log<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            tx: self.tx.clone(),
        }
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl<S: Storage> Log<S> {
    /// Open the log over `storage`: load the latest checkpoint, rebuild the edge from the tiles,
    /// check the tiles reproduce the signed root, and start the sequencer (needs a Tokio runtime).
    pub fn open(storage: S, signer: LogSigner, config: LogConfig) -> Result<Self, LogError> {
        let (checkpoint, edge) = match storage.load_checkpoint()? {
            Some(cp) => {
                let edge = Edge::load(&storage, cp.size)?;
                let cache = Mutex::new(TileCache::default());
                let root = tiles::tree_root(
                    &mut TreeReader {
                        size: cp.size,
                        edge: &edge,
                        storage: &storage,
                        cache: &cache,
                        memo: Default::default(),
                    },
                    cp.size,
                )
                .map_err(LogError::Rebuild)?;
                if root != cp.root {
                    return Err(LogError::Storage(format!(
                        "tiles give root {} but the stored checkpoint says {}",
                        hex::encode(root),
                        hex::encode(cp.root)
                    )));
                }
                (cp, edge)
            }
            None => {
                // An empty log still publishes a signed checkpoint.
                let root = vouch_core::merkle::empty_root();
                let note = signer.sign_checkpoint(&Checkpoint {
                    origin: config.origin.clone(),
                    size: 0,
                    root_hash: root,
                    extensions: Vec::new(),
                })?;
                (
                    StoredCheckpoint {
                        size: 0,
                        root,
                        note,
                    },
                    Edge::default(),
                )
            }
        };
        let (tx, rx) = mpsc::channel(config.max_pending.max(1));
        let metrics = metrics::Metrics::new();
        metrics
            .tree_size
            .set(i64::try_from(checkpoint.size).unwrap_or(i64::MAX));
        let log = Self {
            inner: Arc::new(Inner {
                storage,
                signer,
                config,
                state: RwLock::new(Published {
                    checkpoint,
                    edge,
                    cosigned: None,
                    witnessed: None,
                }),
                cache: Mutex::new(TileCache::default()),
                metrics,
                waiters: shared::Waiters::default(),
                witness: std::sync::OnceLock::new(),
            }),
            tx,
        };
        if log.inner.storage.shared().is_some() {
            shared::spawn(&log.inner);
        }
        tokio::spawn(sequence(log.inner.clone(), rx));
        Ok(log)
    }

    /// The log's signer (public key, log ID, origin).
    pub fn signer(&self) -> &LogSigner {
        &self.inner.signer
    }

    /// The storage backend.
    pub fn storage(&self) -> &S {
        &self.inner.storage
    }

    /// Engine metrics.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    /// The latest published checkpoint.
    pub fn checkpoint(&self) -> StoredCheckpoint {
        match self.inner.state.read() {
            Ok(s) => s.checkpoint.clone(),
            Err(p) => p.into_inner().checkpoint.clone(),
        }
    }

    /// Submit a prepared entry and wait until it is durable (or a duplicate is found).
    pub async fn submit(&self, entry: PreparedEntry) -> Result<Integrated, LogError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(Pending { entry, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.inner.metrics.rejected("busy");
                    LogError::Busy
                }
                mpsc::error::TrySendError::Closed(_) => {
                    LogError::Internal("sequencer stopped".into())
                }
            })?;
        let submitted = Instant::now();
        let res = rx
            .await
            .map_err(|_| LogError::Internal("sequencer dropped the request".into()))?;
        if res.is_ok() {
            self.inner
                .metrics
                .inclusion_seconds
                .observe(submitted.elapsed().as_secs_f64());
        }
        res
    }

    /// Inclusion proof for `index` against the tree of `size` leaves (≤ current size).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        self.inner
            .with_reader(size, |r| tiles::inclusion_proof(r, index, size))
    }

    /// Consistency proof between two tree sizes (≤ current size).
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        self.inner
            .with_reader(second, |r| tiles::consistency_proof(r, first, second))
    }

    /// Root hash of the tree of `size` leaves (≤ current size).
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.inner.with_reader(size, |r| tiles::tree_root(r, size))
    }

    /// The body of the entry at `index`, if integrated.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, LogError> {
        {
            let state = self
                .inner
                .state
                .read()
                .map_err(|_| LogError::Internal("state lock poisoned".into()))?;
            let size = state.checkpoint.size;
            if index >= size {
                return Ok(None);
            }
            let partial_start = size - size % tiles::TILE_WIDTH;
            if index >= partial_start {
                let i = usize::try_from(index - partial_start).unwrap_or(usize::MAX);
                return Ok(state.edge.entries.get(i).cloned());
            }
        }
        let id = tiles::TileId {
            level: 0,
            index: index / tiles::TILE_WIDTH,
            width: 256,
        };
        let bundle = self.inner.storage.read_entry_bundle(&id)?.ok_or_else(|| {
            LogError::Storage(format!("missing entry bundle {}", id.entries_path()))
        })?;
        let entries = tree::parse_bundle(&bundle)?;
        Ok(entries
            .into_iter()
            .nth(usize::try_from(index % tiles::TILE_WIDTH).unwrap_or(usize::MAX)))
    }

    /// Read a tile as served: only data covered by the published checkpoint; a partial tile of
    /// width W is served as the first W hashes of whatever the log has now (tiles only grow).
    pub fn read_tile(
        &self,
        id: &tiles::TileId,
        entries: bool,
    ) -> Result<Option<Vec<u8>>, LogError> {
        let state = self
            .inner
            .state
            .read()
            .map_err(|_| LogError::Internal("state lock poisoned".into()))?;
        let size = state.checkpoint.size;
        let stored = tiles::hashes_at_level(size, id.level);
        let start = id.index.saturating_mul(tiles::TILE_WIDTH);
        if start.saturating_add(u64::from(id.width)) > stored {
            return Ok(None);
        }
        let full_now = start + tiles::TILE_WIDTH <= stored;
        let width = usize::from(id.width);
        if entries {
            let bodies: Vec<Vec<u8>> = if full_now {
                drop(state);
                let full = tiles::TileId { width: 256, ..*id };
                match self.inner.storage.read_entry_bundle(&full)? {
                    Some(b) => tree::parse_bundle(&b)?,
                    None => return Ok(None),
                }
            } else {
                state.edge.entries.clone()
            };
            return Ok(bodies.get(..width).map(tree::bundle_bytes));
        }
        if full_now {
            drop(state);
            let full = tiles::TileId { width: 256, ..*id };
            let t = self.inner.storage.read_tile(&full)?;
            return Ok(t.and_then(|b| b.get(..width * tiles::HASH_SIZE).map(<[u8]>::to_vec)));
        }
        let partial = state
            .edge
            .levels
            .get(usize::from(id.level))
            .cloned()
            .unwrap_or_default();
        Ok(partial.get(..width).map(tree::tile_bytes))
    }
}

impl<S: Storage> Inner<S> {
    /// Run `f` over a reader of the published tree at `size` (≤ current size).
    fn with_reader<T>(
        &self,
        size: u64,
        f: impl FnOnce(&mut TreeReader<'_>) -> Result<T, vouch_core::merkle::ProofError>,
    ) -> Result<T, LogError> {
        let state = self
            .state
            .read()
            .map_err(|_| LogError::Internal("state lock poisoned".into()))?;
        if size > state.checkpoint.size {
            return Err(LogError::InvalidArgument(format!(
                "tree size {size} is larger than the log ({})",
                state.checkpoint.size
            )));
        }
        let mut r = TreeReader {
            size,
            edge: &state.edge,
            storage: &self.storage,
            cache: &self.cache,
            memo: Default::default(),
        };
        f(&mut r).map_err(LogError::BadProofRequest)
    }
}

async fn sequence<S: Storage>(inner: Arc<Inner<S>>, mut rx: mpsc::Receiver<Pending>) {
    let cfg = inner.config.clone();
    loop {
        let Some(first) = rx.recv().await else { return };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + cfg.batch_interval;
        while batch.len() < cfg.max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) => batch.push(p),
                Ok(None) | Err(_) => break,
            }
        }
        let engine = inner.clone();
        let res = tokio::task::spawn_blocking(move || match engine.storage.shared() {
            Some(backend) => shared::sequence_batch(&engine, backend, batch),
            None => integrate(&engine, batch),
        })
        .await;
        if let Err(e) = res {
            tracing::error!(error = %e, "integration task failed");
        }
    }
}

/// Integrate one batch durably and answer every waiter.
fn integrate<S: Storage>(inner: &Inner<S>, batch: Vec<Pending>) {
    let started = Instant::now();
    let (mut edge, old_size) = match inner.state.read() {
        Ok(s) => (s.edge.clone(), s.checkpoint.size),
        Err(_) => {
            for p in batch {
                let _ = p
                    .reply
                    .send(Err(LogError::Internal("state lock poisoned".into())));
            }
            return;
        }
    };
    // Deduplicate against the log and within the batch. In-batch duplicates are answered
    // only once the first copy is durable.
    let mut fresh: Vec<Pending> = Vec::with_capacity(batch.len());
    let mut later_dups: Vec<(Pending, u64)> = Vec::new();
    let mut seen: std::collections::HashMap<Hash, u64> = std::collections::HashMap::new();
    for p in batch {
        match inner.storage.lookup_leaf(&p.entry.leaf_hash) {
            Ok(Some(idx)) => {
                inner.metrics.rejected("duplicate");
                let _ = p.reply.send(Err(LogError::AlreadyExists(idx)));
            }
            Ok(None) => {
                if let Some(&idx) = seen.get(&p.entry.leaf_hash) {
                    later_dups.push((p, idx));
                } else {
                    seen.insert(p.entry.leaf_hash, old_size + fresh.len() as u64);
                    fresh.push(p);
                }
            }
            Err(e) => {
                let _ = p.reply.send(Err(e));
            }
        }
    }
    if fresh.is_empty() {
        return;
    }
    let items: Vec<(Vec<u8>, Hash)> = fresh
        .iter()
        .map(|p| (p.entry.body.clone(), p.entry.leaf_hash))
        .collect();
    let changes = edge.append(&items);
    let new_size = edge.size;
    let integrated_time = now_unix();
    let result = (|| {
        let root = tiles::tree_root(
            &mut TreeReader {
                size: new_size,
                edge: &edge,
                storage: &inner.storage,
                cache: &inner.cache,
                memo: Default::default(),
            },
            new_size,
        )
        .map_err(|source| LogError::Proof {
            what: "root",
            source,
        })?;
        let note = inner.signer.sign_checkpoint(&Checkpoint {
            origin: inner.config.origin.clone(),
            size: new_size,
            root_hash: root,
            extensions: Vec::new(),
        })?;
        let checkpoint = StoredCheckpoint {
            size: new_size,
            root,
            note,
        };
        let commit = CommitBatch {
            first_index: old_size,
            entries: fresh
                .iter()
                .map(|p| EntryRecord {
                    leaf_hash: p.entry.leaf_hash,
                    integrated_time,
                    search_keys: p.entry.search_keys.clone(),
                })
                .collect(),
            tiles: changes.tiles,
            entry_bundles: changes.entry_bundles,
            checkpoint: checkpoint.clone(),
        };
        let t_commit = Instant::now();
        inner.storage.commit(&commit)?;
        tracing::debug!(
            entries = commit.entries.len(),
            tiles = commit.tiles.len() + commit.entry_bundles.len(),
            commit_ms = t_commit.elapsed().as_secs_f64() * 1e3,
            "batch committed"
        );
        Ok::<_, LogError>(checkpoint)
    })();
    let checkpoint = match result {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "batch not committed");
            for p in fresh
                .into_iter()
                .chain(later_dups.into_iter().map(|(p, _)| p))
            {
                let _ = p.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    if let Ok(mut c) = inner.cache.lock() {
        for (k, t) in changes.full {
            c.insert(k, t);
        }
    }
    // Publish, then answer with proofs against the new checkpoint.
    match inner.state.write() {
        Ok(mut s) => {
            s.checkpoint = checkpoint.clone();
            s.edge = edge;
        }
        Err(_) => {
            for p in fresh {
                let _ = p
                    .reply
                    .send(Err(LogError::Internal("state lock poisoned".into())));
            }
            return;
        }
    }
    // Witness cosignatures (fail closed under --require-witness-quorum).
    let checkpoint = match inner.cosign(checkpoint) {
        Ok(c) => c,
        Err(e) => {
            for p in fresh
                .into_iter()
                .chain(later_dups.into_iter().map(|(p, _)| p))
            {
                let _ = p.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    inner
        .metrics
        .appended(fresh.len(), started.elapsed(), new_size);
    for (p, idx) in later_dups {
        inner.metrics.rejected("duplicate");
        let _ = p.reply.send(Err(LogError::AlreadyExists(idx)));
    }
    // One reader for the whole batch: shared interior nodes are hashed once.
    let state = match inner.state.read() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    let mut reader = TreeReader {
        size: new_size,
        edge: &state.edge,
        storage: &inner.storage,
        cache: &inner.cache,
        memo: Default::default(),
    };
    for (i, p) in fresh.into_iter().enumerate() {
        let index = old_size + i as u64;
        let res = tiles::inclusion_proof(&mut reader, index, new_size)
            .map_err(|source| LogError::Proof {
                what: "inclusion proof",
                source,
            })
            .map(|proof| Integrated {
                index,
                integrated_time,
                proof,
                checkpoint: checkpoint.clone(),
                body: p.entry.body,
            });
        let _ = p.reply.send(res);
    }
}

impl<S: Storage> Log<S> {
    /// Collect witness cosignatures for every new checkpoint (set once, before serving).
    pub fn set_witness_client(&self, c: witness_client::WitnessClient) -> Result<(), LogError> {
        self.inner
            .witness
            .set(c)
            .map_err(|_| LogError::Internal("witness client already set".into()))
    }
}

impl<S: Storage> Inner<S> {
    /// The durable checkpoint `cp` with the witnesses' cosignatures, also published to readers.
    /// Runs on the sequencer's blocking thread.
    fn cosign(&self, cp: StoredCheckpoint) -> Result<StoredCheckpoint, LogError> {
        let Some(w) = self.witness.get() else {
            return Ok(cp);
        };
        let size = cp.size;
        let proof = |old: u64| self.with_reader(size, |r| tiles::consistency_proof(r, old, size));
        let note = tokio::runtime::Handle::current().block_on(w.cosign(&cp.note, size, &proof))?;
        if let Ok(mut s) = self.state.write()
            && s.checkpoint.size == size
        {
            s.checkpoint.note = note.clone();
        }
        Ok(StoredCheckpoint { note, ..cp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A storage I/O failure keeps the I/O error, and so its kind, as its source.
    #[test]
    fn storage_io_error_keeps_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let want = std::fs::create_dir_all(file.join("log"))
            .unwrap_err()
            .kind();
        let e = match EmbeddedStorage::open(&file.join("log")) {
            Err(e) => e,
            Ok(_) => panic!("opened a store under a regular file"),
        };
        assert!(matches!(e, LogError::Io { .. }), "{e:?}");
        assert_eq!(e.io_kind(), Some(want));
        // The source is the I/O error itself (shared).
        let io = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<std::sync::Arc<std::io::Error>>())
            .map(|e| e.kind());
        assert_eq!(io, Some(want));
        assert!(e.to_string().starts_with("storage: create "), "{e}");
        assert!(!e.is_unavailable());
        assert!(LogError::Busy.is_unavailable());
    }
}
