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
//! - **Witnesses** (with a witness policy, [`crate::Log::set_witness_client`]): the integrator
//!   pushes each published checkpoint to the witnesses and stores the note with their
//!   cosignature lines by a second compare-and-swap ([`SharedBackend::publish_cosigned`]).
//!   Every front end reads it back with the checkpoint, checks it is the log's own signed
//!   checkpoint of its tree, serves it at `/checkpoint` and answers waiting submitters only
//!   with a cosigned checkpoint covering them (one meeting the policy's quorum when it is
//!   required): the embedded backend's rule. A round the witnesses fail is retried, so writes
//!   waiting for the quorum are answered once the witnesses are back.
//!
//! The embedded backend never takes this path: [`crate::storage::Storage::shared`] is `None`
//! there and the in-process sequencer is unchanged.

use crate::storage::{Storage, StoredCheckpoint};
use crate::tree::{Edge, TreeReader};
use crate::{Inner, Integrated, LogError, Pending, Published, now_unix};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use vouch_core::note::{Checkpoint, SignedNote};
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
    /// The published checkpoint and the stored cosigned checkpoint, read together (front ends
    /// poll this).
    fn load_checkpoints(&self) -> Result<PublishedCheckpoints, LogError>;
    /// Replace the stored cosigned checkpoint `old` (`None`: none yet) by `new`, a published
    /// checkpoint's note with the witnesses' cosignature lines appended. `Ok(false)` if the
    /// stored one is no longer `old`, `new` is not a checkpoint the log published, or this
    /// process lost the integrator role (nothing was swapped).
    fn publish_cosigned(
        &self,
        old: Option<&StoredCheckpoint>,
        new: &StoredCheckpoint,
    ) -> Result<bool, LogError>;
}

/// What [`SharedBackend::load_checkpoints`] reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishedCheckpoints {
    /// The published checkpoint (signed by the log only).
    pub checkpoint: Option<StoredCheckpoint>,
    /// The latest cosigned checkpoint: the note of a published checkpoint, of this size or
    /// smaller, with the witnesses' cosignature lines.
    pub cosigned: Option<StoredCheckpoint>,
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
            Ok(s) => ack_checkpoint(inner, &s).map_or(0, |c| c.size),
            Err(p) => ack_checkpoint(inner, &p.into_inner()).map_or(0, |c| c.size),
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
    let covering = match inner.witness.get() {
        None => "checkpoint covering it",
        Some(w) if w.requires_quorum() => {
            "checkpoint covering it with the witness policy's quorum of cosignatures"
        }
        Some(_) => "cosigned checkpoint covering it",
    };
    for (index, x) in expired {
        let _ = x.reply.send(Err(LogError::Unavailable(format!(
            "entry {index} is sequenced but no {covering} was published within {}s; \
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
    let Some(checkpoint) = ack_checkpoint(inner, &state).cloned() else {
        return;
    };
    let size = checkpoint.size;
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
                .map_err(|source| LogError::Proof {
                    what: "inclusion proof",
                    source,
                })
                .map(|proof| Integrated {
                    index,
                    integrated_time: x.integrated_time,
                    proof,
                    checkpoint: checkpoint.clone(),
                    body: x.body,
                });
            let _ = x.reply.send(res);
        }
    }
    if fresh > 0 {
        inner.metrics.appended(fresh, oldest, size);
    }
}

/// The checkpoint waiting submitters are answered with: the published one, or, with a witness
/// client, the latest cosigned one that meets the acknowledgement rule (`None` before there is
/// one): the embedded backend's rule, for every front end.
fn ack_checkpoint<'a, S: Storage>(
    inner: &Inner<S>,
    state: &'a Published,
) -> Option<&'a StoredCheckpoint> {
    if inner.witness.get().is_some() {
        state.witnessed.as_ref()
    } else {
        Some(&state.checkpoint)
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
    let Some(backend) = inner.storage.shared() else {
        return Ok(());
    };
    let local = match inner.state.read() {
        Ok(s) => s.checkpoint.size,
        Err(p) => p.into_inner().checkpoint.size,
    };
    let published = backend.load_checkpoints()?;
    if let Some(cp) = published.checkpoint
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
    if let Some(c) = published.cosigned {
        take_cosigned(inner, c)?;
    }
    Ok(())
}

/// Take the cosigned checkpoint `c` (read from the backend, or just stored by this integrator):
/// `/checkpoint` serves it while it is the published checkpoint, and acknowledgements use it
/// when it meets the rule ([`ack_checkpoint`]). It must be this log's signed checkpoint of a
/// tree this front end has (one it has not followed yet waits for the next poll).
fn take_cosigned<S: Storage>(inner: &Inner<S>, c: StoredCheckpoint) -> Result<(), LogError> {
    {
        let s = match inner.state.read() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if s.cosigned.as_ref().is_some_and(|have| have.size >= c.size) || c.size > s.checkpoint.size
        {
            return Ok(());
        }
    }
    let note = verify_cosigned(inner, &c)?;
    let acknowledges = inner.witness.get().map(|w| w.acknowledges(&note));
    if let Some(Err(e)) = &acknowledges {
        tracing::warn!(size = c.size, error = %e, "cosigned checkpoint lacks the witness quorum: no write is acknowledged with it");
    }
    let mut s = match inner.state.write() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    if s.cosigned.as_ref().is_some_and(|have| have.size >= c.size) {
        return Ok(());
    }
    if s.checkpoint.size == c.size {
        s.checkpoint.note = c.note.clone();
    }
    if matches!(acknowledges, Some(Ok(()))) && s.witnessed.as_ref().is_none_or(|w| w.size < c.size)
    {
        s.witnessed = Some(c.clone());
    }
    s.cosigned = Some(c);
    Ok(())
}

/// Check a stored cosigned checkpoint: its note parses, carries this log's signature, and
/// names the size and root of the row, which are those of this log's tree at that size.
fn verify_cosigned<S: Storage>(
    inner: &Inner<S>,
    c: &StoredCheckpoint,
) -> Result<SignedNote, LogError> {
    let bad = |what: &'static str, source| LogError::CosignedNote {
        size: c.size,
        what,
        source,
    };
    let note = SignedNote::parse(&c.note).map_err(|e| bad("the note does not parse", e))?;
    note.verify(inner.signer.verifier())
        .map_err(|e| bad("the log's signature does not verify", e))?;
    let body =
        Checkpoint::parse(&note.text).map_err(|e| bad("the checkpoint does not parse", e))?;
    if body.origin != inner.config.origin || body.size != c.size || body.root_hash != c.root {
        return Err(LogError::Storage(format!(
            "the stored cosigned checkpoint row (origin {:?}, size {}, root {}) disagrees with its note (origin {:?}, size {}, root {})",
            inner.config.origin,
            c.size,
            hex::encode(c.root),
            body.origin,
            body.size,
            hex::encode(body.root_hash)
        )));
    }
    let s = match inner.state.read() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    let root = if c.size == s.checkpoint.size {
        s.checkpoint.root
    } else {
        tiles::tree_root(
            &mut TreeReader {
                size: c.size,
                edge: &s.edge,
                storage: &inner.storage,
                cache: &inner.cache,
                memo: HashMap::default(),
            },
            c.size,
        )
        .map_err(LogError::Rebuild)?
    };
    if root != c.root {
        return Err(LogError::Storage(format!(
            "the stored cosigned checkpoint of size {} has root {}, but the log's tree of that size has root {}",
            c.size,
            hex::encode(c.root),
            hex::encode(root)
        )));
    }
    Ok(note)
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

/// Shortest and longest pause before the integrator asks the witnesses again after a round
/// that did not give a checkpoint it could store (a witness down, the quorum short).
const WITNESS_RETRY_MIN: Duration = Duration::from_millis(250);
const WITNESS_RETRY_MAX: Duration = Duration::from_secs(5);

/// What the integrator keeps between steps.
#[derive(Default)]
struct IntegratorState {
    /// The integrator's edge.
    edge: Option<Edge>,
    /// After a failed witness round: no new round before this instant.
    witness_retry: Option<Instant>,
    /// The pause after the last failed witness round.
    witness_backoff: Duration,
}

/// With a witness client: collect the witnesses' cosignatures for `published` (the log-signed
/// checkpoint the backend holds) unless `cosigned` (the stored cosigned checkpoint, updated
/// here) already covers it, and store them by compare-and-swap. A round the witnesses fail
/// (under `require_quorum`: short of the quorum) stores nothing and is retried after a pause,
/// also with no new entries, so that writes waiting for the quorum are answered once the
/// witnesses are back.
fn cosign_published<S: Storage>(
    inner: &Inner<S>,
    backend: &dyn SharedBackend,
    st: &mut IntegratorState,
    published: &StoredCheckpoint,
    cosigned: &mut Option<StoredCheckpoint>,
) -> Result<(), LogError> {
    let Some(w) = inner.witness.get() else {
        return Ok(());
    };
    if cosigned.as_ref().is_some_and(|c| c.size >= published.size)
        || st.witness_retry.is_some_and(|t| Instant::now() < t)
    {
        return Ok(());
    }
    let size = published.size;
    let followed = match inner.state.read() {
        Ok(s) => s.checkpoint.size,
        Err(p) => p.into_inner().checkpoint.size,
    };
    if followed != size {
        // The consistency proofs need the tree of this size: the follower loads it.
        return Ok(());
    }
    let proof = |old: u64| inner.with_reader(size, |r| tiles::consistency_proof(r, old, size));
    let note = match tokio::runtime::Handle::current().block_on(w.cosign(
        &published.note,
        size,
        &proof,
    )) {
        Ok(n) => n,
        Err(e) => {
            st.witness_backoff =
                (st.witness_backoff * 2).clamp(WITNESS_RETRY_MIN, WITNESS_RETRY_MAX);
            st.witness_retry = Some(Instant::now() + st.witness_backoff);
            tracing::warn!(size, error = %e, retry_ms = st.witness_backoff.as_millis(), "checkpoint not cosigned");
            return Ok(());
        }
    };
    st.witness_backoff = Duration::ZERO;
    st.witness_retry = None;
    let new = StoredCheckpoint {
        note,
        ..published.clone()
    };
    if !backend.publish_cosigned(cosigned.as_ref(), &new)? {
        tracing::warn!(
            size,
            "cosigned checkpoint moved under the integrator; starting over"
        );
        return Ok(());
    }
    take_cosigned(inner, new.clone())?;
    *cosigned = Some(new);
    drain(inner);
    Ok(())
}

/// One integrator step: integrate what is sequenced beyond the stored checkpoint and publish,
/// with the witnesses' cosignatures when a witness client is set. `st` is kept between steps.
fn integrate_step<S: Storage>(
    inner: &Inner<S>,
    backend: &dyn SharedBackend,
    st: &mut IntegratorState,
) -> Result<Step, LogError> {
    if !backend.try_lead()? {
        st.edge = None;
        return Ok(Step::NotLeader);
    }
    let PublishedCheckpoints {
        checkpoint: stored,
        mut cosigned,
    } = backend.load_checkpoints()?;
    // A published checkpoint without its cosignatures (a failed round, another integrator's
    // takeover) is cosigned first.
    if let Some(p) = &stored {
        cosign_published(inner, backend, st, p, &mut cosigned)?;
    }
    let size = stored.as_ref().map_or(0, |c| c.size);
    let limit = inner.config.max_batch.clamp(1, 16_384) * 4;
    let items = backend.pending(size, limit)?;
    if items.is_empty() {
        return Ok(Step::Idle);
    }
    // The tree at a size is fixed once its entries are sequenced, so any edge of this size is
    // the right one.
    let mut edge = match st.edge.take() {
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
    advance(inner, checkpoint.clone(), edge.clone());
    st.edge = Some(edge);
    cosign_published(inner, backend, st, &checkpoint, &mut cosigned)?;
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
    let mut mine = IntegratorState::default();
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let carried = std::mem::take(&mut mine);
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
            Ok((Err(e), m)) => {
                // The edge is rebuilt from the backend; the witnesses' retry pause is kept.
                mine = IntegratorState { edge: None, ..m };
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
