//! Distributed mode of the sequencer: several front ends share one backend (PostgreSQL +
//! object storage, [`crate::pg`]) and serve one log.
//!
//! The work is split as in Tessera's coordination model:
//! - **Sequencing** (every front end): a batch of submissions is given indexes in one short
//!   backend transaction ([`SharedBackend::sequence`]), which also deduplicates across front
//!   ends and records the index rows. After that the entry is durable, but not yet acknowledged.
//! - **Integration** (one front end at a time, the holder of the backend's integrator lock,
//!   [`SharedBackend::try_lead`]): reads the sequenced entries beyond the stored checkpoint,
//!   builds the changed tiles and entry bundles, signs a checkpoint and publishes them
//!   ([`SharedBackend::publish`]: immutable objects first, then a compare-and-swap of the
//!   checkpoint row). Another integrator's takeover rebuilds the same tiles (the entries at each
//!   index are fixed once sequenced), so a crash mid-publish leaves nothing inconsistent.
//! - **Acknowledgement** (every front end): a waiting submitter is answered only once a
//!   published, signed checkpoint covers its index, with an inclusion proof against it. Front
//!   ends learn about new checkpoints by polling the checkpoint row and load the new right edge
//!   of the tree from the object store (tile reads never go through the database).
//!
//! The embedded backend never takes this path: [`crate::storage::Storage::shared`] is `None`
//! there and the in-process sequencer is unchanged.

use crate::storage::{Storage, StoredCheckpoint};
use crate::tree::{Edge, TreeReader};
use crate::{Inner, Integrated, LogError, Pending, now_unix};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use vouch_core::note::Checkpoint;
use vouch_core::tiles::{self, TileId};

/// How long a sequenced submission waits for a published checkpoint before it is answered
/// with 503 (the entry stays sequenced: a retry is answered as a duplicate once published).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a front end polls for a new checkpoint while submissions wait.
const POLL_BUSY: Duration = Duration::from_millis(20);
/// How often a front end polls for a new checkpoint when idle (bounds read staleness).
const POLL_IDLE: Duration = Duration::from_millis(250);
/// How often a front end that is not the integrator tries to become it.
const LEAD_RETRY: Duration = Duration::from_millis(300);
/// How long the integrator sleeps when nothing is sequenced.
const IDLE_SLEEP: Duration = Duration::from_millis(5);

/// One submission to sequence.
#[derive(Debug)]
pub struct NewEntry<'a> {
    /// RFC 6962 leaf hash (the dedup key across front ends).
    pub leaf_hash: [u8; 32],
    /// Canonical body.
    pub body: &'a [u8],
    /// Search keys for the v1 search index.
    pub search_keys: &'a [String],
}

/// Where the backend placed a submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assigned {
    /// A new entry at this index.
    New(u64),
    /// The same leaf is already sequenced at this index (by any front end).
    Existing(u64),
}

/// A sequenced entry read back for integration: its body and leaf hash.
pub type SequencedEntry = (Vec<u8>, [u8; 32]);

/// A backend that several front ends share (see the module docs). All calls block; the engine
/// makes them from blocking threads.
pub trait SharedBackend: Send + Sync {
    /// Give indexes to `entries` in one transaction (deduplicated against everything sequenced
    /// and within the batch), durably, with `integrated_time` recorded for the new ones.
    fn sequence(
        &self,
        entries: &[NewEntry<'_>],
        integrated_time: i64,
    ) -> Result<Vec<Assigned>, LogError>;
    /// Become (or stay) the one integrator; `false` while another process holds the role.
    fn try_lead(&self) -> Result<bool, LogError>;
    /// Sequenced entries from index `from` on (at most `limit`, contiguous, in index order):
    /// body and leaf hash.
    fn pending(&self, from: u64, limit: usize) -> Result<Vec<SequencedEntry>, LogError>;
    /// Write `tiles` and `bundles` as immutable objects, then replace the stored checkpoint
    /// `old` (`None`: no checkpoint yet) by `new`. `Ok(false)` if the stored checkpoint is no
    /// longer `old` or this process lost the integrator role (nothing was swapped).
    fn publish(
        &self,
        old: Option<&StoredCheckpoint>,
        tiles: &[(TileId, Vec<u8>)],
        bundles: &[(TileId, Vec<u8>)],
        new: &StoredCheckpoint,
    ) -> Result<bool, LogError>;
}

/// A sequenced submission waiting for a published checkpoint.
pub(crate) struct Waiter {
    existing: bool,
    integrated_time: i64,
    body: Vec<u8>,
    since: Instant,
    reply: oneshot::Sender<Result<Integrated, LogError>>,
}

/// Waiters by index.
pub(crate) type Waiters = Mutex<BTreeMap<u64, Vec<Waiter>>>;

/// Sequence one batch of submissions and park them until a checkpoint covers them.
pub(crate) fn sequence_batch<S: Storage>(
    inner: &Inner<S>,
    backend: &dyn SharedBackend,
    batch: Vec<Pending>,
) {
    let integrated_time = now_unix();
    let news: Vec<NewEntry<'_>> = batch
        .iter()
        .map(|p| NewEntry {
            leaf_hash: p.entry.leaf_hash,
            body: &p.entry.body,
            search_keys: &p.entry.search_keys,
        })
        .collect();
    let assigned = backend.sequence(&news, integrated_time).and_then(|a| {
        if a.len() == batch.len() {
            Ok(a)
        } else {
            Err(LogError::Internal(format!(
                "backend sequenced {} of {} entries",
                a.len(),
                batch.len()
            )))
        }
    });
    drop(news);
    let assigned = match assigned {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, entries = batch.len(), "batch not sequenced");
            for p in batch {
                let _ = p.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    let now = Instant::now();
    {
        let mut w = match inner.waiters.lock() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        for (p, a) in batch.into_iter().zip(assigned) {
            let (index, existing) = match a {
                Assigned::New(i) => (i, false),
                Assigned::Existing(i) => (i, true),
            };
            w.entry(index).or_default().push(Waiter {
                existing,
                integrated_time,
                body: p.entry.body,
                since: now,
                reply: p.reply,
            });
        }
    }
    drain(inner);
}

/// Answer every waiter covered by the published checkpoint; time out the ones waiting too long.
pub(crate) fn drain<S: Storage>(inner: &Inner<S>) {
    let (ready, expired) = {
        let mut w = match inner.waiters.lock() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        let size = match inner.state.read() {
            Ok(s) => s.checkpoint.size,
            Err(p) => p.into_inner().checkpoint.size,
        };
        let rest = w.split_off(&size);
        let ready = std::mem::replace(&mut *w, rest);
        let mut expired = Vec::new();
        w.retain(|index, list| {
            let (old, keep): (Vec<_>, Vec<_>) = list
                .drain(..)
                .partition(|x| x.since.elapsed() >= ACK_TIMEOUT);
            expired.extend(old.into_iter().map(|x| (*index, x)));
            *list = keep;
            !list.is_empty()
        });
        (ready, expired)
    };
    for (index, x) in expired {
        let _ = x.reply.send(Err(LogError::Unavailable(format!(
            "entry {index} is sequenced but no checkpoint covering it was published within {}s; \
             retry later (the retry is answered as a duplicate once it is published)",
            ACK_TIMEOUT.as_secs()
        ))));
    }
    if ready.is_empty() {
        return;
    }
    let state = match inner.state.read() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    let size = state.checkpoint.size;
    let mut reader = TreeReader {
        size,
        edge: &state.edge,
        storage: &inner.storage,
        cache: &inner.cache,
        memo: HashMap::default(),
    };
    let mut fresh = 0usize;
    let mut oldest = Duration::ZERO;
    for (index, list) in ready {
        for x in list {
            if x.existing {
                inner.metrics.rejected("duplicate");
                let _ = x.reply.send(Err(LogError::AlreadyExists(index)));
                continue;
            }
            fresh += 1;
            oldest = oldest.max(x.since.elapsed());
            let res = tiles::inclusion_proof(&mut reader, index, size)
                .map_err(|e| LogError::Internal(format!("inclusion proof: {e}")))
                .map(|proof| Integrated {
                    index,
                    integrated_time: x.integrated_time,
                    proof,
                    checkpoint: state.checkpoint.clone(),
                    body: x.body,
                });
            let _ = x.reply.send(res);
        }
    }
    if fresh > 0 {
        inner.metrics.appended(fresh, oldest, size);
    }
}

/// Make `checkpoint` (with the edge of its tree) the published state if it is newer.
fn advance<S: Storage>(inner: &Inner<S>, checkpoint: StoredCheckpoint, edge: Edge) {
    let mut s = match inner.state.write() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    if checkpoint.size > s.checkpoint.size {
        inner
            .metrics
            .tree_size
            .set(i64::try_from(checkpoint.size).unwrap_or(i64::MAX));
        s.checkpoint = checkpoint;
        s.edge = edge;
    }
}

/// The root of the tree of `edge.size` leaves.
fn root_of<S: Storage>(inner: &Inner<S>, edge: &Edge) -> Result<[u8; 32], LogError> {
    tiles::tree_root(
        &mut TreeReader {
            size: edge.size,
            edge,
            storage: &inner.storage,
            cache: &inner.cache,
            memo: HashMap::default(),
        },
        edge.size,
    )
    .map_err(LogError::Rebuild)
}

/// Pick up a checkpoint another front end published, then answer what it covers (and time
/// out waiters, also while the backend is unreachable).
fn refresh<S: Storage>(inner: &Inner<S>) -> Result<(), LogError> {
    let r = follow(inner);
    drain(inner);
    r
}

fn follow<S: Storage>(inner: &Inner<S>) -> Result<(), LogError> {
    let local = match inner.state.read() {
        Ok(s) => s.checkpoint.size,
        Err(p) => p.into_inner().checkpoint.size,
    };
    if let Some(cp) = inner.storage.load_checkpoint()?
        && cp.size > local
    {
        let edge = Edge::load(&inner.storage, cp.size)?;
        let root = root_of(inner, &edge)?;
        if root != cp.root {
            return Err(LogError::Storage(format!(
                "published tiles give root {} but the stored checkpoint of size {} says {}",
                hex::encode(root),
                cp.size,
                hex::encode(cp.root)
            )));
        }
        advance(inner, cp, edge);
    }
    Ok(())
}

/// What one integrator step did.
enum Step {
    /// Another process is the integrator.
    NotLeader,
    /// Nothing sequenced beyond the checkpoint.
    Idle,
    /// A checkpoint was published (or another integrator moved it first).
    Worked,
}

/// One integrator step: integrate what is sequenced beyond the stored checkpoint and publish.
/// `mine` is the integrator's edge, kept between steps.
fn integrate_step<S: Storage>(
    inner: &Inner<S>,
    backend: &dyn SharedBackend,
    mine: &mut Option<Edge>,
) -> Result<Step, LogError> {
    if !backend.try_lead()? {
        *mine = None;
        return Ok(Step::NotLeader);
    }
    let stored = inner.storage.load_checkpoint()?;
    let size = stored.as_ref().map_or(0, |c| c.size);
    let limit = inner.config.max_batch.clamp(1, 16_384) * 4;
    let items = backend.pending(size, limit)?;
    if items.is_empty() {
        return Ok(Step::Idle);
    }
    // The tree at a size is fixed once its entries are sequenced, so any edge of this size is
    // the right one.
    let mut edge = match mine.take() {
        Some(e) if e.size == size => e,
        _ => {
            let published = match inner.state.read() {
                Ok(s) => (s.checkpoint.size == size).then(|| s.edge.clone()),
                Err(_) => None,
            };
            match published {
                Some(e) => e,
                None if size == 0 => Edge::default(),
                None => Edge::load(&inner.storage, size)?,
            }
        }
    };
    let started = Instant::now();
    let changes = edge.append(&items);
    if let Ok(mut c) = inner.cache.lock() {
        for (k, t) in &changes.full {
            c.insert(*k, t.clone());
        }
    }
    let root = root_of(inner, &edge)?;
    let note = inner.signer.sign_checkpoint(&Checkpoint {
        origin: inner.config.origin.clone(),
        size: edge.size,
        root_hash: root,
        extensions: Vec::new(),
    })?;
    let checkpoint = StoredCheckpoint {
        size: edge.size,
        root,
        note,
    };
    if !backend.publish(
        stored.as_ref(),
        &changes.tiles,
        &changes.entry_bundles,
        &checkpoint,
    )? {
        tracing::warn!(size, "checkpoint moved under the integrator; starting over");
        return Ok(Step::Worked);
    }
    tracing::debug!(
        entries = items.len(),
        size = edge.size,
        publish_ms = started.elapsed().as_secs_f64() * 1e3,
        "checkpoint published"
    );
    inner
        .metrics
        .batch_size
        .observe(f64::from(u32::try_from(items.len()).unwrap_or(u32::MAX)));
    advance(inner, checkpoint, edge.clone());
    *mine = Some(edge);
    drain(inner);
    Ok(Step::Worked)
}

/// Start the integrator candidate and the checkpoint follower of a front end. Both stop once
/// the log is dropped.
pub(crate) fn spawn<S: Storage>(inner: &Arc<Inner<S>>) {
    tokio::spawn(integrator(Arc::downgrade(inner)));
    tokio::spawn(follower(Arc::downgrade(inner)));
}

async fn integrator<S: Storage>(weak: Weak<Inner<S>>) {
    let mut mine: Option<Edge> = None;
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let carried = mine.take();
        let res = tokio::task::spawn_blocking(move || {
            let mut m = carried;
            let r = match inner.storage.shared() {
                Some(b) => integrate_step(&inner, b, &mut m),
                None => Ok(Step::NotLeader),
            };
            (r, m)
        })
        .await;
        let pause = match res {
            Ok((Ok(step), m)) => {
                mine = m;
                backoff = Duration::from_millis(50);
                match step {
                    Step::Worked => continue,
                    Step::Idle => IDLE_SLEEP,
                    Step::NotLeader => LEAD_RETRY,
                }
            }
            Ok((Err(e), _)) => {
                tracing::warn!(error = %e, retry_ms = backoff.as_millis(), "integration failed");
                let b = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                b
            }
            Err(e) => {
                tracing::error!(error = %e, "integration task failed");
                backoff
            }
        };
        tokio::time::sleep(pause).await;
    }
}

async fn follower<S: Storage>(weak: Weak<Inner<S>>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let busy = match inner.waiters.lock() {
            Ok(w) => !w.is_empty(),
            Err(_) => true,
        };
        let res = tokio::task::spawn_blocking(move || refresh(&inner)).await;
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot follow the published checkpoint"),
            Err(e) => tracing::error!(error = %e, "checkpoint follower task failed"),
        }
        tokio::time::sleep(if busy { POLL_BUSY } else { POLL_IDLE }).await;
    }
}
