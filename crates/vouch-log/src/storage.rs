//! Storage for the log: the [`Storage`] trait every backend implements, and
//! [`EmbeddedStorage`], the default backend: tiles and entry bundles as files (written to a
//! temporary name, fsynced, renamed, directory fsynced) and sequencing state, dedup and search
//! indexes in an embedded LSM key-value store (fjall).
//!
//! Durability contract: [`Storage::commit`] returns only once the batch's tiles, index records
//! and checkpoint are on stable storage; the checkpoint is written last, so after a crash the
//! stored checkpoint never names data that is not durable. Tiles of an unacknowledged batch may
//! survive a crash; they are overwritten when those indexes are integrated again and are never
//! served beyond the stored checkpoint.
//!
//! The trait is synchronous: the sequencer calls it from a blocking thread. A networked backend
//! (PostgreSQL + object storage) implements it by blocking on its own async client there.

use crate::LogError;
use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use vouch_core::tiles::TileId;
use vouch_fs::Access;

/// The latest durable checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: [u8; 32],
    /// The signed checkpoint note.
    pub note: String,
}

/// What the log records about one entry besides its leaf.
#[derive(Clone, Debug)]
pub struct EntryRecord {
    /// RFC 6962 leaf hash (dedup key).
    pub leaf_hash: [u8; 32],
    /// Unix seconds at integration.
    pub integrated_time: i64,
    /// Search keys (e.g. `sha256:<hex>`, `email:<addr>`, `key:<sha256 of SPKI>`).
    pub search_keys: Vec<String>,
}

/// One durable append.
#[derive(Clone, Debug)]
pub struct CommitBatch {
    /// Index of the first entry.
    pub first_index: u64,
    /// The entries, in index order.
    pub entries: Vec<EntryRecord>,
    /// Hash tiles changed by this batch (full ones completed, partial ones at the new size).
    pub tiles: Vec<(TileId, Vec<u8>)>,
    /// Entry bundles changed by this batch.
    pub entry_bundles: Vec<(TileId, Vec<u8>)>,
    /// The new checkpoint.
    pub checkpoint: StoredCheckpoint,
}

/// A log storage backend.
pub trait Storage: Send + Sync + 'static {
    /// The latest durable checkpoint, if the log has one.
    fn load_checkpoint(&self) -> Result<Option<StoredCheckpoint>, LogError>;
    /// Durably append a batch (see the module docs for the contract).
    fn commit(&self, batch: &CommitBatch) -> Result<(), LogError>;
    /// A hash tile.
    fn read_tile(&self, id: &TileId) -> Result<Option<Vec<u8>>, LogError>;
    /// An entry bundle.
    fn read_entry_bundle(&self, id: &TileId) -> Result<Option<Vec<u8>>, LogError>;
    /// The index of the entry with this leaf hash, if any.
    fn lookup_leaf(&self, leaf_hash: &[u8; 32]) -> Result<Option<u64>, LogError>;
    /// When the entry at `index` was integrated.
    fn integrated_time(&self, index: u64) -> Result<Option<i64>, LogError>;
    /// Indexes of the entries with search key `key` within `range`, at most `limit` of them:
    /// the highest (newest) first when `newest_first`, else the lowest first. Callers page
    /// through every match by narrowing `range` past the last index returned
    /// ([`crate::search`]), so no request holds more than a page of matches.
    fn search(
        &self,
        key: &str,
        range: Range<u64>,
        newest_first: bool,
        limit: usize,
    ) -> Result<Vec<u64>, LogError>;
    /// For a backend several front ends share: its sequencing interface, which switches the
    /// log to the distributed sequencer ([`crate::shared`]). `None` (the default) keeps the
    /// in-process sequencer, which calls [`Storage::commit`].
    fn shared(&self) -> Option<&dyn crate::shared::SharedBackend> {
        None
    }
}

fn db_err(e: impl Into<fjall::Error>) -> LogError {
    LogError::Index {
        source: std::sync::Arc::new(e.into()),
    }
}

/// Write `data` to `path` durably (temporary file, fsync, rename, fsync of the directory) through
/// the one durable-write helper, [`vouch_fs::write_durably`]; mode 0600 when `private`.
pub fn write_file_durably(path: &Path, data: &[u8], private: bool) -> Result<(), LogError> {
    let access = if private {
        Access::Private
    } else {
        Access::Public
    };
    Ok(vouch_fs::write_durably(path, data, access)?)
}

/// The embedded backend: files under `<dir>/tile/…` and an LSM key-value store (fjall) under
/// `<dir>/index`. An LSM tree keeps inserts of random keys (leaf hashes) sequential on disk, so
/// the cost per entry stays flat as the log grows; a B-tree rewrites a page per random insert.
pub struct EmbeddedStorage {
    dir: PathBuf,
    db: fjall::Database,
    meta: fjall::Keyspace,
    leaves: fjall::Keyspace,
    times: fjall::Keyspace,
    search: fjall::Keyspace,
}

impl std::fmt::Debug for EmbeddedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStorage")
            .field("dir", &self.dir)
            .finish()
    }
}

/// Largest memtable of each of the index store's four keyspaces before it is flushed to disk
/// (fjall's default is 64 MiB each, 256 MiB in all): keeps a long-running log's resident
/// memory flat (issue 12 soak). Applies to keyspaces created from now on.
pub const INDEX_MEMTABLE_BYTES: u64 = 8 * 1024 * 1024;

/// The index store's block cache.
pub const INDEX_CACHE_BYTES: u64 = 32 * 1024 * 1024;

impl EmbeddedStorage {
    /// Open (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LogError::io(format!("create {}", dir.display()), e))?;
        let db = fjall::Database::builder(dir.join("index"))
            .cache_size(INDEX_CACHE_BYTES)
            .open()
            .map_err(db_err)?;
        let ks = |name: &str| {
            db.keyspace(name, || {
                fjall::KeyspaceCreateOptions::default().max_memtable_size(INDEX_MEMTABLE_BYTES)
            })
            .map_err(db_err)
        };
        Ok(Self {
            meta: ks("meta")?,
            leaves: ks("leaves")?,
            times: ks("integrated_times")?,
            search: ks("search")?,
            db,
            dir: dir.to_path_buf(),
        })
    }

    /// Every search index record (term, entry index), in term order: for copying the index
    /// to another backend (`vouch log migrate`).
    pub fn search_records(&self) -> impl Iterator<Item = Result<(String, u64), LogError>> + '_ {
        self.search.iter().map(|item| {
            let k = item.key().map_err(db_err)?;
            let sep = k
                .len()
                .checked_sub(9)
                .filter(|&p| k.get(p) == Some(&0))
                .ok_or_else(|| LogError::Storage("index database: corrupt search key".into()))?;
            let term = String::from_utf8(k[..sep].to_vec()).map_err(|_| {
                LogError::Storage("index database: search term is not UTF-8".into())
            })?;
            Ok((term, u64_of(&k[sep + 1..])?))
        })
    }

    fn tile_file(&self, id: &TileId, entries: bool) -> PathBuf {
        self.dir.join(if entries {
            id.entries_path()
        } else {
            id.path()
        })
    }
}

/// Search index key: the search term, a 0x00 separator, the big-endian entry index.
fn search_key(term: &str, index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(term.len() + 9);
    k.extend_from_slice(term.as_bytes());
    k.push(0);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn u64_of(v: &[u8]) -> Result<u64, LogError> {
    <[u8; 8]>::try_from(v)
        .map(u64::from_be_bytes)
        .map_err(|_| LogError::Storage("index database: corrupt integer".into()))
}

impl Storage for EmbeddedStorage {
    fn load_checkpoint(&self) -> Result<Option<StoredCheckpoint>, LogError> {
        match self.meta.get("checkpoint").map_err(db_err)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| LogError::Json {
                    what: "stored checkpoint is corrupt",
                    source: std::sync::Arc::new(e),
                }),
        }
    }

    fn commit(&self, b: &CommitBatch) -> Result<(), LogError> {
        // 1. Tiles and entry bundles, each durable, then their directories.
        let mut dirs = HashSet::new();
        for (id, data) in &b.tiles {
            let p = self.tile_file(id, false);
            write_tile(&p, data)?;
            if let Some(d) = p.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
        for (id, data) in &b.entry_bundles {
            let p = self.tile_file(id, true);
            write_tile(&p, data)?;
            if let Some(d) = p.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
        for d in &dirs {
            vouch_fs::sync_dir(d)?;
        }
        // 2. Index records and the checkpoint in one atomic, fsynced batch.
        let mut batch = self
            .db
            .batch()
            .durability(Some(fjall::PersistMode::SyncAll));
        for (i, e) in b.entries.iter().enumerate() {
            let index = b.first_index + i as u64;
            batch.insert(
                &self.leaves,
                e.leaf_hash.to_vec(),
                index.to_be_bytes().to_vec(),
            );
            batch.insert(
                &self.times,
                index.to_be_bytes().to_vec(),
                e.integrated_time.to_be_bytes().to_vec(),
            );
            for k in &e.search_keys {
                batch.insert(&self.search, search_key(k, index), Vec::new());
            }
        }
        let cp = serde_json::to_vec(&b.checkpoint).map_err(|e| LogError::Json {
            what: "cannot encode the checkpoint",
            source: std::sync::Arc::new(e),
        })?;
        batch.insert(&self.meta, "checkpoint", cp);
        batch.commit().map_err(db_err)
    }

    fn read_tile(&self, id: &TileId) -> Result<Option<Vec<u8>>, LogError> {
        read_opt(&self.tile_file(id, false))
    }

    fn read_entry_bundle(&self, id: &TileId) -> Result<Option<Vec<u8>>, LogError> {
        read_opt(&self.tile_file(id, true))
    }

    fn lookup_leaf(&self, leaf_hash: &[u8; 32]) -> Result<Option<u64>, LogError> {
        self.leaves
            .get(leaf_hash)
            .map_err(db_err)?
            .map(|v| u64_of(&v))
            .transpose()
    }

    fn integrated_time(&self, index: u64) -> Result<Option<i64>, LogError> {
        self.times
            .get(index.to_be_bytes())
            .map_err(db_err)?
            .map(|v| u64_of(&v).map(|u| i64::from_be_bytes(u.to_be_bytes())))
            .transpose()
    }

    fn search(
        &self,
        key: &str,
        range: Range<u64>,
        newest_first: bool,
        limit: usize,
    ) -> Result<Vec<u64>, LogError> {
        if range.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let start = search_key(key, range.start);
        let end = search_key(key, range.end);
        let prefix = key.len() + 1;
        let iter = self.search.range(start..end);
        if newest_first {
            search_indexes(iter.rev(), prefix, limit)
        } else {
            search_indexes(iter, prefix, limit)
        }
    }
}

/// The entry indexes of up to `limit` search index records (keys `term 0x00 index`, where
/// `prefix` is the length of `term 0x00`).
fn search_indexes(
    iter: impl Iterator<Item = fjall::Guard>,
    prefix: usize,
    limit: usize,
) -> Result<Vec<u64>, LogError> {
    let mut out = Vec::new();
    for item in iter.take(limit) {
        let k = item.key().map_err(db_err)?;
        let idx = k
            .get(prefix..)
            .ok_or_else(|| LogError::Storage("index database: corrupt search key".into()))?;
        out.push(u64_of(idx)?);
    }
    Ok(out)
}

/// Write a tile file with temp + fsync + rename (the directory is synced by the caller).
fn write_tile(path: &Path, data: &[u8]) -> Result<(), LogError> {
    Ok(vouch_fs::write_synced(path, data, Access::Public)?)
}

fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, LogError> {
    Ok(vouch_fs::read_optional(path)?)
}

/// A backend-agnostic test suite: any [`Storage`] implementation must pass it. `make` returns a
/// fresh, empty store each call; `reopen` turns a store into a new handle on the same data
/// (simulating a restart), or `None` for backends without persistence.
pub mod suite {
    use super::*;

    fn tile(level: u8, index: u64, width: u16, fill: u8) -> (TileId, Vec<u8>) {
        (
            TileId {
                level,
                index,
                width,
            },
            vec![fill; usize::from(width) * 32],
        )
    }

    fn record(n: u8, keys: &[&str]) -> EntryRecord {
        EntryRecord {
            leaf_hash: [n; 32],
            integrated_time: 1_700_000_000 + i64::from(n),
            search_keys: keys.iter().map(|k| (*k).to_string()).collect(),
        }
    }

    /// Every match of `key`, newest first.
    #[allow(clippy::unwrap_used)]
    fn all<S: Storage>(s: &S, key: &str) -> Vec<u64> {
        s.search(key, 0..u64::MAX, true, 100_000).unwrap()
    }

    /// Run every check; panics (with the failed property) on the first violation.
    #[allow(clippy::unwrap_used, clippy::panic)]
    pub fn run<S: Storage>(make: impl Fn() -> S, reopen: impl Fn(S) -> Option<S>) {
        // Empty store.
        let s = make();
        assert_eq!(
            s.load_checkpoint().unwrap(),
            None,
            "a new store has no checkpoint"
        );
        assert_eq!(s.lookup_leaf(&[1; 32]).unwrap(), None);
        assert_eq!(all(&s, "sha256:00"), Vec::<u64>::new());
        assert!(
            s.read_tile(&TileId {
                level: 0,
                index: 0,
                width: 256
            })
            .unwrap()
            .is_none()
        );

        // First batch.
        let cp1 = StoredCheckpoint {
            size: 2,
            root: [9; 32],
            note: "note 1\n".into(),
        };
        s.commit(&CommitBatch {
            first_index: 0,
            entries: vec![
                record(1, &["sha256:aa", "email:a@b"]),
                record(2, &["sha256:bb"]),
            ],
            tiles: vec![tile(0, 0, 2, 7)],
            entry_bundles: vec![(
                TileId {
                    level: 0,
                    index: 0,
                    width: 2,
                },
                b"\x00\x01a\x00\x01b".to_vec(),
            )],
            checkpoint: cp1.clone(),
        })
        .unwrap();
        assert_eq!(s.load_checkpoint().unwrap(), Some(cp1.clone()));
        assert_eq!(s.lookup_leaf(&[1; 32]).unwrap(), Some(0));
        assert_eq!(s.lookup_leaf(&[2; 32]).unwrap(), Some(1));
        assert_eq!(s.integrated_time(1).unwrap(), Some(1_700_000_002));
        assert_eq!(all(&s, "sha256:aa"), vec![0]);
        assert_eq!(all(&s, "email:a@b"), vec![0]);
        assert_eq!(
            s.read_tile(&TileId {
                level: 0,
                index: 0,
                width: 2
            })
            .unwrap(),
            Some(vec![7; 64])
        );
        assert_eq!(
            s.read_entry_bundle(&TileId {
                level: 0,
                index: 0,
                width: 2
            })
            .unwrap(),
            Some(b"\x00\x01a\x00\x01b".to_vec())
        );

        // Second batch: a full tile, search key shared with an old entry, overwritten tile file.
        let cp2 = StoredCheckpoint {
            size: 256,
            root: [8; 32],
            note: "note 2\n".into(),
        };
        let mut entries = Vec::new();
        for n in 3..=255u8 {
            entries.push(record(n, &[]));
        }
        entries.push(record(0, &["sha256:aa"]));
        s.commit(&CommitBatch {
            first_index: 2,
            entries,
            tiles: vec![tile(0, 0, 256, 6), tile(1, 0, 1, 5)],
            entry_bundles: vec![],
            checkpoint: cp2.clone(),
        })
        .unwrap();
        assert_eq!(s.load_checkpoint().unwrap(), Some(cp2.clone()));
        assert_eq!(s.lookup_leaf(&[0; 32]).unwrap(), Some(255));
        assert_eq!(
            all(&s, "sha256:aa"),
            vec![255, 0],
            "search returns every entry with the key, newest first"
        );
        assert_eq!(
            s.search("sha256:aa", 0..u64::MAX, false, 10).unwrap(),
            vec![0, 255],
            "oldest first"
        );
        assert_eq!(
            s.search("sha256:aa", 0..u64::MAX, true, 1).unwrap(),
            vec![255],
            "search honours its limit"
        );
        assert_eq!(
            s.search("sha256:a", 0..u64::MAX, true, 10).unwrap(),
            Vec::<u64>::new(),
            "a term is matched whole, not as a prefix"
        );
        assert_eq!(
            s.read_tile(&TileId {
                level: 0,
                index: 0,
                width: 256
            })
            .unwrap(),
            Some(vec![6; 8192])
        );
        // The earlier partial tile stays readable (tile paths are immutable).
        assert_eq!(
            s.read_tile(&TileId {
                level: 0,
                index: 0,
                width: 2
            })
            .unwrap(),
            Some(vec![7; 64])
        );

        // Third batch: 1,200 entries share one term (a popular identity), every third also
        // another: paging walks all of them in either order, a page at a time.
        let cp3 = StoredCheckpoint {
            size: 1456,
            root: [7; 32],
            note: "note 3\n".into(),
        };
        let entries = (256..1456u64)
            .map(|i| {
                let mut leaf_hash = [0xee; 32];
                leaf_hash[..8].copy_from_slice(&i.to_be_bytes());
                let mut keys = vec!["subject:ci".to_string()];
                if i % 3 == 0 {
                    keys.push("sha256:dd".into());
                }
                EntryRecord {
                    leaf_hash,
                    integrated_time: 1_700_001_000,
                    search_keys: keys,
                }
            })
            .collect();
        s.commit(&CommitBatch {
            first_index: 256,
            entries,
            tiles: vec![],
            entry_bundles: vec![],
            checkpoint: cp3.clone(),
        })
        .unwrap();
        let mut seen = Vec::new();
        let mut end = u64::MAX;
        loop {
            let page = s.search("subject:ci", 0..end, true, 500).unwrap();
            assert!(page.len() <= 500, "a page holds at most its limit");
            let Some(&last) = page.last() else { break };
            seen.extend(page);
            end = last;
        }
        assert_eq!(
            seen,
            (256..1456).rev().collect::<Vec<_>>(),
            "newest-first pages cover every match once, in order"
        );
        assert_eq!(
            s.search("subject:ci", 1000..1456, false, 3).unwrap(),
            vec![1000, 1001, 1002],
            "oldest first from a cursor"
        );
        assert_eq!(
            s.search("subject:ci", 0..300, true, 2).unwrap(),
            vec![299, 298],
            "the range end is exclusive"
        );
        assert_eq!(
            s.search("subject:ci", 500..500, true, 2).unwrap(),
            Vec::<u64>::new()
        );
        assert_eq!(
            s.search("sha256:dd", 0..u64::MAX, true, 2000)
                .unwrap()
                .len(),
            400
        );

        // Restart: everything committed is still there.
        if let Some(s) = reopen(s) {
            assert_eq!(s.load_checkpoint().unwrap(), Some(cp3));
            assert_eq!(all(&s, "subject:ci").len(), 1200);
            assert_eq!(s.lookup_leaf(&[1; 32]).unwrap(), Some(0));
            assert_eq!(s.integrated_time(255).unwrap(), Some(1_700_000_000));
            assert_eq!(
                s.read_tile(&TileId {
                    level: 1,
                    index: 0,
                    width: 1
                })
                .unwrap(),
                Some(vec![5; 32])
            );
        }
    }
}
