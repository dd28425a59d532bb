//! The engine: follow the upstream checkpoint (signature, witness quorum, consistency), and
//! keep a cache of tiles each verified against the served checkpoint.
//!
//! Verification, in short:
//! - a new checkpoint is accepted only if it is signed by the log key (and meets the witness
//!   policy), is not smaller than the one served, and a consistency proof, computed from the
//!   upstream's tiles, leads from the served root to the new root;
//! - the right-edge partial tiles of the new tree are accepted only if they reproduce the new
//!   root (every one of their hashes feeds it);
//! - a full tile `(L, N)` is accepted only if its Merkle root equals hash `N mod 256` of its
//!   parent tile `(L+1, N/256)`, itself verified (up to the right edge);
//! - an entry bundle is accepted only if the leaf hashes of its entries equal its level-0 tile.
//!
//! A full tile is immutable once verified: consistency is proven before every advance, so its
//! nodes are nodes of every later tree.

use crate::ProxyError;
use crate::metrics::Metrics;
use crate::nodes::{TileKey, TileNodes, TileSource, key};
use crate::store::{Pinned, Store};
use crate::upstream::Upstream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use vouch_core::keys::PublicKey;
use vouch_core::merkle::{self, Hash, ProofError, leaf_hash};
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::tiles::{self, TILE_WIDTH, TileId, parse_entry_bundle, parse_hash_tile};
use vouch_core::tlog_policy::WitnessPolicy;

/// Most rounds of fetching missing tiles for one computation (each round fetches every tile
/// the previous one lacked; a proof needs at most the chain up to the right edge).
const MAX_FETCH_ROUNDS: usize = 8;

/// How the proxy is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The upstream log's tlog-tiles prefix.
    pub upstream: String,
    /// The log's public key.
    pub log_key: PublicKey,
    /// The origin to require; `None`: pinned from the first verified checkpoint.
    pub origin: Option<String>,
    /// Witness quorum every accepted checkpoint must carry.
    pub witness_policy: Option<WitnessPolicy>,
    /// Past this age since the upstream last confirmed the checkpoint, fail closed.
    pub max_stale: Duration,
    /// How often to poll the upstream checkpoint.
    pub refresh: Duration,
    /// Most full tiles kept in memory (the disk keeps all of them).
    pub memory_tiles: usize,
}

/// The checkpoint being served, with the verified right-edge tiles of its tree.
#[derive(Debug)]
pub struct Served {
    /// The signed note, verbatim (cosignatures included).
    pub note: String,
    /// Its body.
    pub checkpoint: Checkpoint,
    /// The partial tiles of this tree, by position.
    edge: HashMap<TileKey, Arc<TileNodes>>,
}

impl Served {
    /// Tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }
}

/// How fresh the served checkpoint is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The upstream confirmed it at the last poll.
    Fresh,
    /// The upstream is failing; the checkpoint was last confirmed `age_secs` ago.
    Stale {
        /// Seconds since the last confirmation.
        age_secs: u64,
        /// The last refresh failure.
        last_error: String,
    },
}

#[derive(Debug, Default)]
struct Status {
    confirmed_at: Option<SystemTime>,
    last_error: Option<String>,
    failing: bool,
}

struct Inner {
    config: Config,
    upstream: Upstream,
    store: Store,
    origin: RwLock<Option<String>>,
    served: RwLock<Option<Arc<Served>>>,
    full: RwLock<HashMap<TileKey, Arc<TileNodes>>>,
    status: Mutex<Status>,
    refresh_lock: tokio::sync::Mutex<()>,
    metrics: Metrics,
}

/// A verifying proof cache (cheap to clone).
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.inner.config.upstream)
            .finish()
    }
}

fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The width of tile `(level, index)` in the tree of `size` leaves (0 if it does not exist).
fn width_at(size: u64, level: u8, index: u64) -> u16 {
    let stored = tiles::hashes_at_level(size, level);
    let start = index.saturating_mul(TILE_WIDTH);
    u16::try_from(stored.saturating_sub(start).min(TILE_WIDTH)).unwrap_or(0)
}

/// The partial tiles of the tree of `size` leaves, one per level at most.
fn edge_ids(size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut level = 0u8;
    while tiles::hashes_at_level(size, level) > 0 && level < 64 {
        if let Some(t) = tiles::tiles_for_size(size, level).pop()
            && !t.is_full()
        {
            out.push(t);
        }
        level += 1;
    }
    out
}

fn tile_mismatch(id: &TileId, size: u64, reason: String) -> ProxyError {
    ProxyError::TileMismatch {
        path: id.path(),
        size,
        reason,
    }
}

/// Check that the edge tiles reproduce `root` and that all their hashes were used.
fn check_edge(
    size: u64,
    root: &Hash,
    edge: &HashMap<TileKey, Arc<TileNodes>>,
) -> Result<(), ProxyError> {
    let empty = |_k: TileKey| None;
    let mut src = TileSource {
        size,
        tiles: &empty,
        extra: edge,
        missing: Vec::new(),
        read: HashMap::new(),
    };
    let computed = tiles::tree_root(&mut src, size).map_err(ProxyError::Proof)?;
    let ids = edge_ids(size);
    if let Some(id) = src.missing.first() {
        return Err(tile_mismatch(
            id,
            size,
            "the tile needed for the root is missing".into(),
        ));
    }
    if &computed != root {
        let id = ids.first().copied().unwrap_or(TileId {
            level: 0,
            index: 0,
            width: 1,
        });
        return Err(tile_mismatch(
            &id,
            size,
            format!(
                "the right-edge tiles give root {}, the checkpoint says {}",
                hex::encode(computed),
                hex::encode(root)
            ),
        ));
    }
    for id in &ids {
        if src.read.get(&key(id)).copied().unwrap_or(0) != usize::from(id.width) {
            return Err(tile_mismatch(
                id,
                size,
                "not every hash of the tile feeds the root".into(),
            ));
        }
    }
    Ok(())
}

impl Proxy {
    /// Open the cache in `store`: reload and re-verify the last served checkpoint and its edge
    /// tiles (nothing is fetched; call [`Proxy::refresh`] or [`Proxy::run_refresh`]).
    pub fn open(config: Config, store: Store, http: reqwest::Client) -> Result<Self, ProxyError> {
        let upstream = Upstream::new(http, &config.upstream);
        let pinned = store.pinned()?;
        if let (Some(p), Some(want)) = (&pinned, &config.origin)
            && &p.origin != want
        {
            return Err(ProxyError::OriginMismatch {
                expected: want.clone(),
                got: p.origin.clone(),
            });
        }
        let origin = pinned.map(|p| p.origin).or_else(|| config.origin.clone());
        let proxy = Proxy {
            inner: Arc::new(Inner {
                upstream,
                origin: RwLock::new(origin),
                served: RwLock::new(None),
                full: RwLock::new(HashMap::new()),
                status: Mutex::new(Status::default()),
                refresh_lock: tokio::sync::Mutex::new(()),
                metrics: Metrics::new(),
                store,
                config,
            }),
        };
        proxy.load()?;
        Ok(proxy)
    }

    fn load(&self) -> Result<(), ProxyError> {
        let store = &self.inner.store;
        let Some(note_text) = store.checkpoint()? else {
            return Ok(());
        };
        let path = store.dir().join("checkpoint");
        let corrupt = |reason: String| ProxyError::Corrupt {
            path: path.display().to_string(),
            reason,
        };
        let corrupt_by = |e: ProxyError| ProxyError::CorruptCheckpoint {
            path: path.display().to_string(),
            source: Box::new(e),
        };
        let (note, cp) = self.verify_note(&note_text).map_err(corrupt_by)?;
        drop(note);
        let mut edge = HashMap::new();
        for id in edge_ids(cp.size) {
            let bytes = store
                .read(&id, false)?
                .ok_or_else(|| corrupt(format!("its edge tile {} is missing", id.path())))?;
            let hashes =
                parse_hash_tile(&bytes, id.width).map_err(|source| ProxyError::CorruptTile {
                    path: path.display().to_string(),
                    tile: id.path(),
                    source,
                })?;
            edge.insert(key(&id), Arc::new(TileNodes::new(hashes)));
        }
        check_edge(cp.size, &cp.root_hash, &edge).map_err(corrupt_by)?;
        // The last confirmation we can prove is when the checkpoint was written.
        let confirmed = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        self.inner
            .metrics
            .tree_size
            .set(i64::try_from(cp.size).unwrap_or(i64::MAX));
        *write_lock(&self.inner.served) = Some(Arc::new(Served {
            note: note_text,
            checkpoint: cp,
            edge,
        }));
        let mut st = self.status();
        st.confirmed_at = Some(confirmed);
        st.failing = true;
        st.last_error = Some("not yet refreshed from the upstream since start".into());
        Ok(())
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.inner
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The upstream's base URL.
    pub fn upstream(&self) -> &str {
        self.inner.upstream.base()
    }

    /// The checkpoint served now, if any.
    pub fn current(&self) -> Option<Arc<Served>> {
        read_lock(&self.inner.served).clone()
    }

    /// The log ID (the note key hash) of the followed log, once its origin is known.
    pub fn log_id(&self) -> Option<[u8; 32]> {
        let origin = read_lock(&self.inner.origin).clone()?;
        NoteVerifier::for_log_key(&origin, &self.inner.config.log_key)
            .ok()
            .map(|v| v.key_hash)
    }

    /// Seconds since the upstream last confirmed the served checkpoint.
    pub fn age_secs(&self) -> Option<u64> {
        let at = self.status().confirmed_at?;
        Some(
            SystemTime::now()
                .duration_since(at)
                .unwrap_or_default()
                .as_secs(),
        )
    }

    /// The served checkpoint and its freshness, or why nothing may be served: no checkpoint
    /// yet, or one older than `max_stale` while the upstream fails.
    pub fn serving(&self) -> Result<(Arc<Served>, Freshness), ProxyError> {
        let served = self.current().ok_or(ProxyError::NoCheckpoint)?;
        let st = self.status();
        let age = st
            .confirmed_at
            .map(|at| SystemTime::now().duration_since(at).unwrap_or_default())
            .unwrap_or(Duration::MAX);
        self.inner.metrics.checkpoint_age.set(age.as_secs_f64());
        // A poll loop that stopped confirming is as good as a failing upstream.
        let overdue = age > self.inner.config.refresh * 3 + Duration::from_secs(2);
        if !st.failing && !overdue {
            return Ok((served, Freshness::Fresh));
        }
        let last_error = st
            .last_error
            .clone()
            .unwrap_or_else(|| "the upstream has not confirmed the checkpoint recently".into());
        if age > self.inner.config.max_stale {
            self.inner.metrics.too_stale.inc();
            return Err(ProxyError::TooStale {
                age_secs: age.as_secs(),
                max_secs: self.inner.config.max_stale.as_secs(),
                last_error,
            });
        }
        self.inner.metrics.stale_responses.inc();
        Ok((
            served,
            Freshness::Stale {
                age_secs: age.as_secs(),
                last_error,
            },
        ))
    }

    /// The state of the upstream: `(failing, last error)`.
    pub fn upstream_status(&self) -> (bool, Option<String>) {
        let st = self.status();
        (st.failing, st.last_error.clone())
    }

    /// Parse `text` and check origin, log signature and witness quorum.
    fn verify_note(&self, text: &str) -> Result<(SignedNote, Checkpoint), ProxyError> {
        let note = SignedNote::parse(text).map_err(ProxyError::MalformedCheckpoint)?;
        let cp = Checkpoint::parse(&note.text).map_err(ProxyError::MalformedCheckpoint)?;
        let origin = read_lock(&self.inner.origin)
            .clone()
            .unwrap_or_else(|| cp.origin.clone());
        if cp.origin != origin {
            return Err(ProxyError::OriginMismatch {
                expected: origin,
                got: cp.origin,
            });
        }
        let verifier = NoteVerifier::for_log_key(&origin, &self.inner.config.log_key)
            .map_err(ProxyError::LogKey)?;
        note.verify(&verifier).map_err(ProxyError::Signature)?;
        if let Some(p) = &self.inner.config.witness_policy {
            p.check(&note).map_err(ProxyError::Witness)?;
        }
        Ok((note, cp))
    }

    /// Poll the upstream until shutdown, every `refresh`.
    pub async fn run_refresh(self) {
        loop {
            let _ = self.refresh().await;
            tokio::time::sleep(self.inner.config.refresh).await;
        }
    }

    /// Fetch, verify and (when consistent) advance to the upstream's checkpoint; failures are
    /// recorded for health and staleness, and returned.
    pub async fn refresh(&self) -> Result<(), ProxyError> {
        let res = self.advance().await;
        let mut st = self.status();
        match &res {
            Ok(()) => {
                st.confirmed_at = Some(SystemTime::now());
                st.failing = false;
                st.last_error = None;
            }
            Err(e) => {
                self.inner.metrics.upstream_error(e.reason());
                if !st.failing || st.last_error.as_deref() != Some(&e.to_string()) {
                    tracing::warn!(error = %e, upstream = %self.inner.upstream.base(), "upstream checkpoint refused or unavailable; serving from the cache");
                }
                st.failing = true;
                st.last_error = Some(e.to_string());
            }
        }
        res
    }

    async fn advance(&self) -> Result<(), ProxyError> {
        let _one = self.inner.refresh_lock.lock().await;
        let text = self.inner.upstream.checkpoint().await?;
        let (_, cp) = self.verify_note(&text)?;
        let current = self.current();
        if let Some(cur) = &current {
            let (old, new) = (&cur.checkpoint, &cp);
            if new.size < old.size {
                return Err(ProxyError::Rollback {
                    served: old.size,
                    got: new.size,
                });
            }
            if new.size == old.size {
                if new.root_hash != old.root_hash {
                    return Err(self.inconsistent(
                        old,
                        new,
                        ProofError::Inconsistent {
                            first: old.size,
                            second: new.size,
                            reason: "equal sizes with different roots",
                        },
                    ));
                }
                if text != cur.note {
                    // Same tree, another note (e.g. more cosignatures): serve the new one.
                    let store = self.inner.store.clone();
                    let t = text.clone();
                    blocking(move || store.set_checkpoint(&t)).await?;
                    let next = Served {
                        note: text,
                        checkpoint: cp,
                        edge: cur.edge.clone(),
                    };
                    *write_lock(&self.inner.served) = Some(Arc::new(next));
                }
                return Ok(());
            }
        }
        // Gather the tiles that the consistency proof and the new root need.
        let old = current.as_ref().map(|c| c.checkpoint.clone());
        let mut extra: HashMap<TileKey, Arc<TileNodes>> = HashMap::new();
        let mut rounds = 0;
        let (proof, root) = loop {
            let (proof, root, missing) = {
                let full = read_lock(&self.inner.full);
                let lookup = |k: TileKey| {
                    full.get(&k)
                        .cloned()
                        .or_else(|| current.as_ref().and_then(|c| c.edge.get(&k).cloned()))
                };
                let mut src = TileSource {
                    size: cp.size,
                    tiles: &lookup,
                    extra: &extra,
                    missing: Vec::new(),
                    read: HashMap::new(),
                };
                let proof = match &old {
                    Some(o) if o.size > 0 => tiles::consistency_proof(&mut src, o.size, cp.size)
                        .map_err(ProxyError::Proof)?,
                    _ => Vec::new(),
                };
                let root = tiles::tree_root(&mut src, cp.size).map_err(ProxyError::Proof)?;
                (proof, root, src.missing)
            };
            if missing.is_empty() {
                break (proof, root);
            }
            rounds += 1;
            if rounds > MAX_FETCH_ROUNDS {
                return Err(ProxyError::Proof(ProofError::IndexOutOfRange {
                    index: 0,
                    size: cp.size,
                }));
            }
            for (id, t) in self.fetch_hash_tiles(&missing).await? {
                extra.insert(key(&id), t);
            }
        };
        if let Some(o) = &old {
            merkle::verify_consistency(o.size, cp.size, &o.root_hash, &cp.root_hash, &proof)
                .map_err(|e| self.inconsistent(o, &cp, e))?;
        }
        if root != cp.root_hash {
            let id = edge_ids(cp.size).first().copied().unwrap_or(TileId {
                level: 0,
                index: 0,
                width: 1,
            });
            return Err(tile_mismatch(
                &id,
                cp.size,
                format!(
                    "upstream tiles give root {}, its checkpoint says {}",
                    hex::encode(root),
                    hex::encode(cp.root_hash)
                ),
            ));
        }
        // The new edge: fetched tiles, or unchanged ones from the served edge.
        let mut edge = HashMap::new();
        let mut to_store = Vec::new();
        for id in edge_ids(cp.size) {
            let k = key(&id);
            let t = match extra.get(&k) {
                Some(t) if t.width() == usize::from(id.width) => {
                    to_store.push((id, t.bytes(t.width())));
                    t.clone()
                }
                _ => match current.as_ref().and_then(|c| c.edge.get(&k)) {
                    Some(t) if t.width() == usize::from(id.width) => t.clone(),
                    _ => {
                        let (_, t) = self
                            .fetch_hash_tiles(&[id])
                            .await?
                            .pop()
                            .ok_or_else(|| tile_mismatch(&id, cp.size, "not fetched".into()))?;
                        to_store.push((id, t.bytes(t.width())));
                        t
                    }
                },
            };
            edge.insert(k, t);
        }
        check_edge(cp.size, &cp.root_hash, &edge)?;
        // Durable before served: edge tiles, then the checkpoint, then the origin pin.
        let store = self.inner.store.clone();
        let note_text = text.clone();
        let origin = cp.origin.clone();
        let first = read_lock(&self.inner.origin).is_none() || store.pinned()?.is_none();
        blocking(move || {
            for (id, bytes) in &to_store {
                store.write(id, false, bytes)?;
            }
            store.set_checkpoint(&note_text)?;
            if first {
                store.pin(&Pinned { origin })?;
            }
            Ok(())
        })
        .await?;
        *write_lock(&self.inner.origin) = Some(cp.origin.clone());
        self.inner
            .metrics
            .tree_size
            .set(i64::try_from(cp.size).unwrap_or(i64::MAX));
        tracing::info!(size = cp.size, root = %hex::encode(cp.root_hash), "advanced to a verified upstream checkpoint");
        *write_lock(&self.inner.served) = Some(Arc::new(Served {
            note: text,
            checkpoint: cp,
            edge,
        }));
        Ok(())
    }

    fn inconsistent(&self, old: &Checkpoint, new: &Checkpoint, source: ProofError) -> ProxyError {
        ProxyError::Inconsistent {
            old_size: old.size,
            old_root: hex::encode(old.root_hash),
            new_size: new.size,
            new_root: hex::encode(new.root_hash),
            source,
        }
    }

    /// Fetch hash tiles concurrently (unverified), checking only their length.
    async fn fetch_hash_tiles(
        &self,
        ids: &[TileId],
    ) -> Result<Vec<(TileId, Arc<TileNodes>)>, ProxyError> {
        let mut set = tokio::task::JoinSet::new();
        for id in ids {
            let up = self.inner.upstream.clone();
            let id = *id;
            set.spawn(async move {
                let bytes = up.tile(&id, false).await?;
                let hashes =
                    parse_hash_tile(&bytes, id.width).map_err(|source| ProxyError::BadTile {
                        path: id.path(),
                        source,
                    })?;
                Ok::<_, ProxyError>((id, Arc::new(TileNodes::new(hashes))))
            });
        }
        let mut out = Vec::with_capacity(ids.len());
        while let Some(j) = set.join_next().await {
            match j {
                Ok(r) => out.push(r?),
                Err(e) => {
                    return Err(ProxyError::Task {
                        what: "tile fetch task",
                        source: e,
                    });
                }
            }
        }
        Ok(out)
    }

    fn remember(&self, k: TileKey, t: Arc<TileNodes>) {
        let mut full = write_lock(&self.inner.full);
        if full.len() >= self.inner.config.memory_tiles.max(1)
            && let Some(evict) = full.keys().next().copied()
        {
            full.remove(&evict);
        }
        full.insert(k, t);
    }

    /// A verified full tile at `k` from memory or disk (no network).
    fn cached_full(&self, k: TileKey) -> Result<Option<Arc<TileNodes>>, ProxyError> {
        if let Some(t) = read_lock(&self.inner.full).get(&k) {
            return Ok(Some(t.clone()));
        }
        let id = TileId {
            level: k.0,
            index: k.1,
            width: 256,
        };
        let Some(bytes) = self.inner.store.read(&id, false)? else {
            return Ok(None);
        };
        let hashes = parse_hash_tile(&bytes, 256).map_err(|e| ProxyError::Corrupt {
            path: self.inner.store.dir().join(id.path()).display().to_string(),
            reason: e.to_string(),
        })?;
        let t = Arc::new(TileNodes::new(hashes));
        self.remember(k, t.clone());
        Ok(Some(t))
    }

    /// A verified tile at position `k` of `served`'s tree (full, or the edge tile), fetching
    /// and verifying the chain of full tiles up to the right edge when it is not cached.
    /// Returns the tile and whether it was a cache hit.
    pub async fn tile_at(
        &self,
        served: &Served,
        k: TileKey,
    ) -> Result<(Arc<TileNodes>, bool), ProxyError> {
        let size = served.size();
        let width = width_at(size, k.0, k.1);
        if width == 0 {
            return Err(ProxyError::NotFound(format!(
                "tile {}/{} is beyond the served checkpoint (size {size})",
                k.0,
                tiles::format_index(k.1)
            )));
        }
        if u64::from(width) < TILE_WIDTH {
            return served
                .edge
                .get(&k)
                .cloned()
                .map(|t| (t, true))
                .ok_or_else(|| ProxyError::NotFound(format!("edge tile {}/{} missing", k.0, k.1)));
        }
        if let Some(t) = self.cached_full(k)? {
            return Ok((t, true));
        }
        // The chain of uncached full tiles from `k` up to a verified parent.
        let mut chain = vec![k];
        loop {
            let (l, n) = *chain.last().unwrap_or(&k);
            let parent = (l + 1, n / TILE_WIDTH);
            let pw = width_at(size, parent.0, parent.1);
            if u64::from(pw) < TILE_WIDTH || self.cached_full(parent)?.is_some() {
                break;
            }
            chain.push(parent);
        }
        let ids: Vec<TileId> = chain
            .iter()
            .map(|&(level, index)| TileId {
                level,
                index,
                width: 256,
            })
            .collect();
        let mut fetched: HashMap<TileKey, Arc<TileNodes>> = self
            .fetch_hash_tiles(&ids)
            .await?
            .into_iter()
            .map(|(id, t)| (key(&id), t))
            .collect();
        // Verify from the top of the chain down, each against its verified parent.
        for id in ids.iter().rev() {
            let k = key(id);
            let t = fetched
                .remove(&k)
                .ok_or_else(|| tile_mismatch(id, size, "not fetched".into()))?;
            let parent_key = (id.level + 1, id.index / TILE_WIDTH);
            let parent = if u64::from(width_at(size, parent_key.0, parent_key.1)) < TILE_WIDTH {
                served.edge.get(&parent_key).cloned()
            } else {
                self.cached_full(parent_key)?
            }
            .ok_or_else(|| tile_mismatch(id, size, "its parent tile is not verified".into()))?;
            let pos = usize::try_from(id.index % TILE_WIDTH).unwrap_or(usize::MAX);
            let want =
                parent.hashes().get(pos).copied().ok_or_else(|| {
                    tile_mismatch(id, size, "its parent tile is too short".into())
                })?;
            let got = t
                .root()
                .ok_or_else(|| tile_mismatch(id, size, "not a full tile".into()))?;
            if got != want {
                return Err(tile_mismatch(
                    id,
                    size,
                    format!(
                        "its hashes give {}, the parent tile says {}",
                        hex::encode(got),
                        hex::encode(want)
                    ),
                ));
            }
            let store = self.inner.store.clone();
            let (sid, bytes) = (*id, t.bytes(256));
            blocking(move || store.write(&sid, false, &bytes)).await?;
            self.remember(k, t);
        }
        let t = self
            .cached_full(k)?
            .ok_or_else(|| ProxyError::NotFound(format!("tile {}/{} lost", k.0, k.1)))?;
        Ok((t, false))
    }

    /// Hash tile bytes for a client request, verified; `(bytes, hit)`.
    pub async fn hash_tile(
        &self,
        served: &Served,
        id: TileId,
    ) -> Result<(Vec<u8>, bool), ProxyError> {
        let have = width_at(served.size(), id.level, id.index);
        if have < id.width {
            return Err(ProxyError::NotFound(format!(
                "{} is beyond the served checkpoint (size {})",
                id.path(),
                served.size()
            )));
        }
        let (t, hit) = self.tile_at(served, key(&id)).await?;
        Ok((t.bytes(usize::from(id.width)), hit))
    }

    /// An entry bundle, verified against its level-0 tile; `(bytes, hit)`.
    pub async fn entry_bundle(
        &self,
        served: &Served,
        id: TileId,
    ) -> Result<(Vec<u8>, bool), ProxyError> {
        let have = width_at(served.size(), 0, id.index);
        if have < id.width {
            return Err(ProxyError::NotFound(format!(
                "{} is beyond the served checkpoint (size {})",
                id.entries_path(),
                served.size()
            )));
        }
        if let Some(b) = self.inner.store.read(&id, true)? {
            return Ok((b, true));
        }
        let (leaves, _) = self.tile_at(served, (0, id.index)).await?;
        let bytes = self.inner.upstream.tile(&id, true).await?;
        let bodies = parse_entry_bundle(&bytes).map_err(|source| ProxyError::BadTile {
            path: id.entries_path(),
            source,
        })?;
        if bodies.len() != usize::from(id.width) {
            return Err(ProxyError::TileMismatch {
                path: id.entries_path(),
                size: served.size(),
                reason: format!("it holds {} entries, expected {}", bodies.len(), id.width),
            });
        }
        for (i, (body, want)) in bodies.iter().zip(leaves.hashes()).enumerate() {
            if &leaf_hash(body) != want {
                return Err(ProxyError::TileMismatch {
                    path: id.entries_path(),
                    size: served.size(),
                    reason: format!(
                        "entry {} has leaf hash {}, the level-0 tile says {}",
                        id.index * TILE_WIDTH + i as u64,
                        hex::encode(leaf_hash(body)),
                        hex::encode(want)
                    ),
                });
            }
        }
        let store = self.inner.store.clone();
        let b = bytes.clone();
        blocking(move || store.write(&id, true, &b)).await?;
        Ok((bytes, false))
    }

    /// Run `compute` over the verified tiles of the tree of `size` (≤ the served size),
    /// fetching and verifying missing tiles between attempts; `(result, hit)`.
    async fn over_tiles<T>(
        &self,
        served: &Served,
        size: u64,
        compute: impl Fn(&mut TileSource<'_>) -> Result<T, ProofError>,
    ) -> Result<(T, bool), ProxyError> {
        let none = HashMap::new();
        let mut hit = true;
        for _ in 0..MAX_FETCH_ROUNDS {
            let (res, missing) = {
                let full = read_lock(&self.inner.full);
                let lookup = |k: TileKey| {
                    full.get(&k)
                        .cloned()
                        .or_else(|| served.edge.get(&k).cloned())
                };
                let mut src = TileSource {
                    size,
                    tiles: &lookup,
                    extra: &none,
                    missing: Vec::new(),
                    read: HashMap::new(),
                };
                let res = compute(&mut src);
                (res, src.missing)
            };
            if missing.is_empty() {
                return Ok((res.map_err(ProxyError::Proof)?, hit));
            }
            hit = false;
            for id in missing {
                self.tile_at(served, key(&id)).await?;
            }
        }
        Err(ProxyError::Proof(ProofError::IndexOutOfRange {
            index: 0,
            size,
        }))
    }

    /// The inclusion proof of `index` against the served checkpoint; `(proof, hit)`.
    pub async fn inclusion(
        &self,
        served: &Served,
        index: u64,
    ) -> Result<(Vec<Hash>, bool), ProxyError> {
        let size = served.size();
        if index >= size {
            return Err(ProxyError::NotFound(format!(
                "index {index} is beyond the served checkpoint (size {size})"
            )));
        }
        self.over_tiles(served, size, |src| tiles::inclusion_proof(src, index, size))
            .await
    }

    /// A consistency proof between two sizes (≤ the served size), with the root at `second`.
    pub async fn consistency(
        &self,
        served: &Served,
        first: u64,
        second: u64,
    ) -> Result<(Vec<Hash>, Hash), ProxyError> {
        if second > served.size() {
            return Err(ProxyError::BadRequest(format!(
                "lastSize({second}) is larger than the served tree ({})",
                served.size()
            )));
        }
        let ((proof, root), _) = self
            .over_tiles(served, second, |src| {
                let p = tiles::consistency_proof(src, first, second)?;
                let r = tiles::tree_root(src, second)?;
                Ok((p, r))
            })
            .await?;
        Ok((proof, root))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProxyError> + Send + 'static,
) -> Result<T, ProxyError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|source| ProxyError::Task {
            what: "storage task",
            source,
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::merkle::leaf_hash;

    #[test]
    fn edge_tiles_feed_the_whole_root() {
        for size in [
            1u64, 5, 255, 256, 257, 300, 511, 512, 65_536, 65_537, 70_000,
        ] {
            let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            // Build every level's hashes.
            let mut levels = vec![leaves.clone()];
            while levels.last().is_some_and(|l| l.len() >= 256) {
                let up: Vec<Hash> = levels
                    .last()
                    .map(|l| l.chunks_exact(256).map(tiles::hash_run).collect())
                    .unwrap_or_default();
                levels.push(up);
            }
            let mut edge = HashMap::new();
            for id in edge_ids(size) {
                let start = usize::try_from(id.index * 256).unwrap();
                let l = &levels[usize::from(id.level)];
                edge.insert(
                    key(&id),
                    Arc::new(TileNodes::new(
                        l[start..start + usize::from(id.width)].to_vec(),
                    )),
                );
            }
            let root = merkle::root_of_leaves(&leaves);
            check_edge(size, &root, &edge).unwrap_or_else(|e| panic!("size {size}: {e}"));
            let mut bad = root;
            bad[0] ^= 1;
            assert!(check_edge(size, &bad, &edge).is_err());
        }
    }
}
