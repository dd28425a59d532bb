//! The scale-out backend: PostgreSQL for sequencing, dedup, the search index and the checkpoint;
//! an S3-compatible object store for tiles and entry bundles. Several front ends share one
//! database and bucket ([`crate::shared`] describes the protocol).
//!
//! - Tiles and bundles are immutable objects written with a conditional create
//!   (`If-None-Match: *`). An object that already exists is accepted only if it holds the same
//!   bytes (an integrator that crashed mid-publish wrote it); a full tile is never overwritten.
//! - Reads of tiles and bundles go to the object store only.
//! - Sequencing is one short transaction on the coordination row (`SELECT … FOR UPDATE`).
//! - One integrator at a time holds a session advisory lock (keyed by the origin) on its own
//!   connection, and swaps the checkpoint row on that same connection
//!   (`UPDATE … WHERE note = $old`): a process that lost its connection, and so the lock,
//!   cannot publish.
//! - The schema comes from embedded sqlx migrations; a database migrated by a newer vouch is
//!   refused.
//!
//! The [`Storage`] trait is synchronous; this backend runs its async clients on a small runtime
//! of its own and blocks on it. It can be called from plain threads, blocking threads and the
//! workers of a multi-threaded Tokio runtime (not from a current-thread runtime).

use crate::LogError;
use crate::shared::{Assigned, NewEntry, PublishedCheckpoints, SequencedEntry, SharedBackend};
use crate::storage::{CommitBatch, Storage, StoredCheckpoint};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use vouch_core::tiles::TileId;

/// The schema migrations, embedded in the binary (version, description, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "scale log",
        include_str!("../migrations/0001_scale_log.sql"),
    ),
    (
        2,
        "cosigned checkpoint",
        include_str!("../migrations/0002_cosigned_checkpoint.sql"),
    ),
    (
        3,
        "witness policy",
        include_str!("../migrations/0003_witness_policy.sql"),
    ),
];

/// The schema version this build expects.
pub const SCHEMA_VERSION: i64 = 3;

/// What the database records about the log it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogMeta {
    /// Checkpoint origin.
    pub origin: String,
    /// First start (RFC 3339), the trusted root's `validFor.start`.
    pub created: String,
}

/// The PostgreSQL + object store backend.
pub struct PgStorage {
    rt: Option<tokio::runtime::Runtime>,
    pool: PgPool,
    store: Arc<dyn ObjectStore>,
    /// The integrator candidate's own connection, and whether it holds the advisory lock.
    lead: tokio::sync::Mutex<Option<(PgConnection, bool)>>,
    lock_key: i64,
    meta: LogMeta,
    database: String,
    tiles: String,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage")
            .field("database", &self.database)
            .field("tiles", &self.tiles)
            .field("origin", &self.meta.origin)
            .finish()
    }
}

impl Drop for PgStorage {
    fn drop(&mut self) {
        // May run inside another runtime's task: never block here.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Map a database error: connection-level failures are "unavailable" (503), others storage.
fn pg_err(what: &'static str, e: sqlx::Error) -> LogError {
    let transient = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            // 08: connection exception; 57P: operator intervention (shutdown, crash recovery);
            // 40001/40P01: serialization failure, deadlock (retryable).
            c.starts_with("08") || c.starts_with("57P") || c == "40001" || c == "40P01"
        }),
        _ => false,
    };
    LogError::Database {
        what,
        transient,
        source: Arc::new(e),
    }
}

fn os_err(what: &str, e: object_store::Error) -> LogError {
    LogError::ObjectStore {
        what: what.to_string(),
        source: Arc::new(e),
    }
}

fn i64_of(v: u64, what: &str) -> Result<i64, LogError> {
    i64::try_from(v).map_err(|_| LogError::Storage(format!("{what} {v} is out of range")))
}

fn u64_of(v: i64, what: &str) -> Result<u64, LogError> {
    u64::try_from(v).map_err(|_| LogError::Storage(format!("stored {what} {v} is negative")))
}

fn hash_of(v: &[u8], what: &str) -> Result<[u8; 32], LogError> {
    <[u8; 32]>::try_from(v)
        .map_err(|_| LogError::Storage(format!("stored {what} has {} bytes, not 32", v.len())))
}

/// Parse `--tiles`: `s3://BUCKET[/PREFIX][?endpoint=URL&region=R]`. Credentials come from the
/// standard AWS environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// web identity, instance metadata), never from the URL.
pub fn object_store_from_url(tiles: &str) -> Result<Arc<dyn ObjectStore>, LogError> {
    build_store(tiles, None)
}

/// [`object_store_from_url`] with explicit static credentials (access key ID, secret) instead
/// of the environment: for tests and tools that obtain credentials themselves.
pub fn object_store_with_credentials(
    tiles: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> Result<Arc<dyn ObjectStore>, LogError> {
    build_store(tiles, Some((access_key_id, secret_access_key)))
}

fn build_store(
    tiles: &str,
    credentials: Option<(&str, &str)>,
) -> Result<Arc<dyn ObjectStore>, LogError> {
    let bad = |why: String| LogError::InvalidArgument(format!("--tiles {tiles:?}: {why}"));
    let u = url::Url::parse(tiles).map_err(|e| bad(e.to_string()))?;
    if u.scheme() != "s3" {
        return Err(bad(format!(
            "unsupported scheme {:?} (use s3://bucket/prefix?endpoint=…&region=…)",
            u.scheme()
        )));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                .into(),
        ));
    }
    let bucket = u
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("no bucket name".into()))?;
    let mut b = match credentials {
        None => AmazonS3Builder::from_env(),
        Some((id, secret)) => AmazonS3Builder::new()
            .with_access_key_id(id)
            .with_secret_access_key(secret),
    }
    .with_bucket_name(bucket)
    // Fail a request to an unresponsive store within seconds (writes then answer 503) rather
    // than after the client's default minutes of retries.
    .with_client_options(
        object_store::ClientOptions::new()
            .with_timeout(Duration::from_secs(10))
            .with_connect_timeout(Duration::from_secs(3)),
    )
    .with_retry(object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
        ..object_store::RetryConfig::default()
    });
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "endpoint" => {
                if v.starts_with("http://") {
                    b = b.with_allow_http(true);
                }
                b = b.with_endpoint(v.as_ref());
            }
            "region" => b = b.with_region(v.as_ref()),
            other => {
                return Err(bad(format!(
                    "unknown parameter {other:?} (known: endpoint, region)"
                )));
            }
        }
    }
    let store = b.build().map_err(|e| bad(e.to_string()))?;
    let prefix = u.path().trim_matches('/');
    if prefix.is_empty() {
        Ok(Arc::new(store))
    } else {
        let p = ObjectPath::parse(prefix).map_err(|e| bad(format!("prefix: {e}")))?;
        Ok(Arc::new(object_store::prefix::PrefixStore::new(store, p)))
    }
}

/// Write an immutable object: create it, or accept an existing object with the same bytes.
async fn put_immutable(
    store: Arc<dyn ObjectStore>,
    path: String,
    data: Vec<u8>,
) -> Result<(), LogError> {
    let p = ObjectPath::parse(&path).map_err(|e| LogError::ObjectPath {
        path: path.to_string(),
        source: Arc::new(e),
    })?;
    let opts = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    match store
        .put_opts(&p, PutPayload::from(data.clone()), opts)
        .await
    {
        Ok(_) => Ok(()),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => {
            let have = store
                .get(&p)
                .await
                .map_err(|e| os_err(&format!("read back {path}"), e))?
                .bytes()
                .await
                .map_err(|e| os_err(&format!("read back {path}"), e))?;
            if have.as_ref() == data.as_slice() {
                Ok(())
            } else {
                Err(LogError::Storage(format!(
                    "object {path} already exists with other content ({} bytes, this log has {}): \
                     refusing to overwrite an immutable tile (is another log using this bucket prefix?)",
                    have.len(),
                    data.len()
                )))
            }
        }
        Err(e) => Err(os_err(&format!("write {path}"), e)),
    }
}

async fn get_optional(store: &dyn ObjectStore, path: &str) -> Result<Option<Vec<u8>>, LogError> {
    let p = ObjectPath::parse(path).map_err(|e| LogError::ObjectPath {
        path: path.to_string(),
        source: Arc::new(e),
    })?;
    match store.get(&p).await {
        Ok(r) => Ok(Some(
            r.bytes()
                .await
                .map_err(|e| os_err(&format!("read {path}"), e))?
                .to_vec(),
        )),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(os_err(&format!("read {path}"), e)),
    }
}

/// Write tiles and bundles concurrently; every one must succeed.
async fn put_all(
    store: &Arc<dyn ObjectStore>,
    tiles: &[(TileId, Vec<u8>)],
    bundles: &[(TileId, Vec<u8>)],
) -> Result<(), LogError> {
    let mut set = tokio::task::JoinSet::new();
    for (id, data) in tiles {
        set.spawn(put_immutable(store.clone(), id.path(), data.clone()));
    }
    for (id, data) in bundles {
        set.spawn(put_immutable(
            store.clone(),
            id.entries_path(),
            data.clone(),
        ));
    }
    let mut first_err = None;
    while let Some(r) = set.join_next().await {
        let r = r.map_err(|e| LogError::Task {
            what: "object write task",
            source: Arc::new(e),
        })?;
        if let Err(e) = r
            && first_err.is_none()
        {
            first_err = Some(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// A checkpoint row: size, root, note.
type CheckpointRow = (i64, Vec<u8>, String);

fn checkpoint_of((size, root, note): CheckpointRow) -> Result<StoredCheckpoint, LogError> {
    Ok(StoredCheckpoint {
        size: u64_of(size, "tree size")?,
        root: hash_of(&root, "root hash")?,
        note,
    })
}

/// SQL: the size of the published tree (entries at and beyond it are sequenced, not yet
/// published, and are not answered by lookups).
macro_rules! published_size {
    () => {
        "COALESCE((SELECT size FROM vouch_log_checkpoint WHERE id = 1), 0)"
    };
}

/// SQL: the cosigned checkpoint of size `$1` and root `$2` is one the log published (the
/// checkpoint row has that size and root, or has grown past it).
macro_rules! published_guard {
    () => {
        "EXISTS (SELECT 1 FROM vouch_log_checkpoint c WHERE c.id = 1 \
         AND (c.size > $1 OR (c.size = $1 AND c.root = $2)))"
    };
}

impl PgStorage {
    /// Connect to `database` (a `postgres://` URL; the password comes from `PGPASSWORD` or the
    /// passfile) and the object store at `tiles` ([`object_store_from_url`]), apply the
    /// embedded schema migrations, and check the database holds the log `origin` (recorded
    /// with `created` on first use; `None` accepts whatever log the database holds). A URL
    /// with `?options[search_path]=SCHEMA` (one schema name) keeps the log in that schema,
    /// created on first use as [`PgStorage::open_in_schema`] does.
    pub fn open(
        database: &str,
        tiles: &str,
        origin: Option<&str>,
        created: &str,
    ) -> Result<Self, LogError> {
        Self::open_with_store(
            database,
            object_store_from_url(tiles)?,
            tiles,
            origin,
            created,
        )
    }

    /// [`PgStorage::open`] over an object store built by the caller; `tiles` names it in
    /// messages.
    pub fn open_with_store(
        database: &str,
        store: Arc<dyn ObjectStore>,
        tiles: &str,
        origin: Option<&str>,
        created: &str,
    ) -> Result<Self, LogError> {
        Self::connect(database, None, store, tiles, origin, created)
    }

    /// [`PgStorage::open`] with the log's tables in the PostgreSQL schema `schema` (created if
    /// missing; the role needs CREATE on the database), so that several logs share one
    /// database: `vouch up` keeps its CT log apart from its transparency log this way. The
    /// same log is reached with `?options[search_path]=SCHEMA` on the database URL.
    pub fn open_in_schema(
        database: &str,
        schema: &str,
        tiles: &str,
        origin: Option<&str>,
        created: &str,
    ) -> Result<Self, LogError> {
        check_schema_name(schema)?;
        Self::connect(
            database,
            Some(schema),
            object_store_from_url(tiles)?,
            tiles,
            origin,
            created,
        )
    }

    fn connect(
        database: &str,
        schema: Option<&str>,
        store: Arc<dyn ObjectStore>,
        tiles: &str,
        origin: Option<&str>,
        created: &str,
    ) -> Result<Self, LogError> {
        let mut opts = PgConnectOptions::from_str(database).map_err(|e| {
            LogError::InvalidArgument(format!("--database: not a PostgreSQL URL: {e}"))
        })?;
        if let Some(s) = schema {
            // Only this schema: tables of another log in `public` are never resolved.
            opts = opts.options([("search_path", s)]);
        }
        // A URL naming its log's schema (`?options[search_path]=vouch_ct`) gets it created on
        // first use too, as `open_in_schema` does.
        let url_schema = schema.is_none().then(|| url_schema(database)).flatten();
        let schema = schema.or(url_schema.as_deref());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vouch-pg")
            .enable_all()
            .build()
            .map_err(|e| LogError::Runtime {
                what: "database runtime",
                source: Arc::new(e),
            })?;
        let (pool, meta) = rt.block_on(async {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .min_connections(2)
                .acquire_timeout(Duration::from_secs(3))
                .connect_with(opts)
                .await
                .map_err(|e| pg_err("connect", e))?;
            migrate(&pool, schema).await?;
            let meta = claim_meta(&pool, origin, created).await?;
            Ok::<_, LogError>((pool, meta))
        })?;
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("vouch-log integrator\n{}", meta.origin).as_bytes(),
        );
        let mut k = [0u8; 8];
        k.copy_from_slice(&digest.as_ref()[..8]);
        Ok(Self {
            rt: Some(rt),
            pool,
            store,
            lead: tokio::sync::Mutex::new(None),
            lock_key: i64::from_be_bytes(k),
            meta,
            database: database.to_string(),
            tiles: tiles.to_string(),
        })
    }

    /// The log this database holds.
    pub fn meta(&self) -> &LogMeta {
        &self.meta
    }

    /// Record `log_id` (hex SHA-256 of the checkpoint key's SPKI) as the log's key on first
    /// use; afterwards refuse any other key, so front ends cannot sign with different keys.
    pub fn claim_log_id(&self, log_id: &str) -> Result<(), LogError> {
        let have = self.claim_meta(
            "UPDATE vouch_log_meta SET log_id = COALESCE(log_id, $1) WHERE id = 1 RETURNING log_id",
            log_id,
            "record the log key",
        )?;
        if have == log_id {
            Ok(())
        } else {
            Err(LogError::Key(format!(
                "this front end's key has log ID {log_id}, but the log in the database is signed by log ID {have}"
            )))
        }
    }

    /// Set a `vouch_log_meta` column by `sql` (one `UPDATE … RETURNING` of it, so recording and
    /// reading back are one atomic statement) and return what it holds afterwards.
    fn claim_meta(
        &self,
        sql: &'static str,
        value: &str,
        step: &'static str,
    ) -> Result<String, LogError> {
        self.block(async {
            let have: Option<String> = sqlx::query_scalar(sql)
                .bind(value)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| pg_err(step, e))?;
            have.ok_or_else(|| LogError::Storage(format!("{step}: nothing was recorded")))
        })
    }

    /// The log ID recorded by [`PgStorage::claim_log_id`], if any.
    pub fn log_id(&self) -> Result<Option<String>, LogError> {
        self.block(async {
            sqlx::query_scalar("SELECT log_id FROM vouch_log_meta WHERE id = 1")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| pg_err("read the log key", e))
        })
    }

    /// Record `fingerprint` as the log's witness policy when none is recorded yet (or always,
    /// with `replace`), and return the one recorded afterwards: the caller refuses to serve
    /// when it differs from its own, so that every front end acknowledges under one policy.
    pub fn claim_witness_policy(
        &self,
        fingerprint: &str,
        replace: bool,
    ) -> Result<String, LogError> {
        let sql = if replace {
            "UPDATE vouch_log_meta SET witness_policy = $1 WHERE id = 1 RETURNING witness_policy"
        } else {
            "UPDATE vouch_log_meta SET witness_policy = COALESCE(witness_policy, $1) WHERE id = 1 RETURNING witness_policy"
        };
        self.claim_meta(sql, fingerprint, "record the witness policy")
    }

    /// Copy entries and their tiles from another log (`vouch log migrate`): the objects, then
    /// the entries' index records, without touching the checkpoint (the caller stores the
    /// source's signed checkpoint last, with [`Storage::commit`], once the root is verified).
    pub fn copy_entries(
        &self,
        first_index: u64,
        entries: &[crate::storage::EntryRecord],
        tiles: &[(TileId, Vec<u8>)],
        bundles: &[(TileId, Vec<u8>)],
    ) -> Result<(), LogError> {
        self.block(async {
            put_all(&self.store, tiles, bundles).await?;
            let mut idx = Vec::with_capacity(entries.len());
            let mut leaves = Vec::with_capacity(entries.len());
            let mut times = Vec::with_capacity(entries.len());
            for (i, e) in entries.iter().enumerate() {
                idx.push(i64_of(first_index + i as u64, "index")?);
                leaves.push(e.leaf_hash.to_vec());
                times.push(e.integrated_time);
            }
            sqlx::query(
                "INSERT INTO vouch_log_entries (idx, leaf_hash, integrated_time) \
                 SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind(&idx)
            .bind(&leaves)
            .bind(&times)
            .execute(&self.pool)
            .await
            .map_err(|e| pg_err("insert entries", e))?;
            Ok(())
        })
    }

    /// Add search index records (term, entry index).
    pub fn add_search_keys(&self, keys: &[(String, u64)]) -> Result<(), LogError> {
        self.block(async {
            let terms: Vec<&str> = keys.iter().map(|(t, _)| t.as_str()).collect();
            let idx = keys
                .iter()
                .map(|(_, i)| i64_of(*i, "index"))
                .collect::<Result<Vec<_>, _>>()?;
            sqlx::query(
                "INSERT INTO vouch_log_search (term, idx) \
                 SELECT * FROM UNNEST($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind(&terms)
            .bind(&idx)
            .execute(&self.pool)
            .await
            .map_err(|e| pg_err("insert search keys", e))?;
            Ok(())
        })
    }

    /// Whether the log holds nothing yet: no sequenced entry and no checkpoint.
    pub fn is_empty(&self) -> Result<bool, LogError> {
        self.block(async {
            let next: i64 =
                sqlx::query_scalar("SELECT next_index FROM vouch_log_sequence WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| pg_err("read the sequence row", e))?;
            let cp: Option<i64> =
                sqlx::query_scalar("SELECT size FROM vouch_log_checkpoint WHERE id = 1")
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| pg_err("read the checkpoint", e))?;
            Ok(next == 0 && cp.is_none())
        })
    }

    /// Run `f` on the backend's runtime. `block_in_place` makes this legal from a worker of a
    /// multi-threaded runtime too (it is a no-op on blocking and plain threads).
    fn block<T>(&self, f: impl Future<Output = Result<T, LogError>>) -> Result<T, LogError> {
        match &self.rt {
            Some(rt) => tokio::task::block_in_place(|| rt.block_on(f)),
            None => Err(LogError::Internal("database runtime stopped".into())),
        }
    }

    /// Run `f` on the integrator connection; on a connection failure drop it (and with it the
    /// advisory lock), so the role is contested afresh.
    async fn on_lead<T>(
        &self,
        f: impl AsyncFnOnce(&mut PgConnection) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        let mut g = self.lead.lock().await;
        let Some((conn, true)) = g.as_mut() else {
            return Err(LogError::Unavailable(
                "this front end is not the integrator".into(),
            ));
        };
        let r = f(conn).await;
        if matches!(&r, Err(e) if e.is_unavailable()) {
            *g = None;
        }
        r
    }
}

/// The schema a database URL selects with `options[search_path]=NAME`, when NAME is one plain
/// schema name ([`check_schema_name`]; a list or `$user` is left to PostgreSQL).
fn url_schema(database: &str) -> Option<String> {
    let u = url::Url::parse(database).ok()?;
    u.query_pairs()
        .find(|(k, _)| k == "options[search_path]")
        .map(|(_, v)| v.into_owned())
        .filter(|s| check_schema_name(s).is_ok())
}

/// A schema name for [`PgStorage::open_in_schema`]: a plain lower-case SQL identifier
/// (it is interpolated into `CREATE SCHEMA`).
fn check_schema_name(schema: &str) -> Result<(), LogError> {
    let mut chars = schema.chars();
    let ok = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(LogError::InvalidArgument(format!(
            "schema name {schema:?}: expected a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 bytes)"
        )))
    }
}

async fn migrate(pool: &PgPool, schema: Option<&str>) -> Result<(), LogError> {
    // A newer vouch may have applied migrations this build does not know: refuse to run on it.
    let applied: Option<i64> =
        match sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
        {
            Ok(v) => v,
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42P01") => None,
            Err(e) => return Err(pg_err("read the schema version", e)),
        };
    if let Some(v) = applied
        && v > SCHEMA_VERSION
    {
        return Err(LogError::Storage(format!(
            "database schema version {v} is newer than this vouch supports ({SCHEMA_VERSION}): upgrade vouch"
        )));
    }
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|(v, d, sql)| {
            Migration::new(
                *v,
                Cow::Borrowed(*d),
                MigrationType::Simple,
                sqlx::SqlStr::from_static(sql),
                false,
            )
        })
        .collect();
    let migrator = Migrator {
        migrations: Cow::Owned(migrations),
        create_schemas: Cow::Owned(
            schema
                .map(|s| Cow::Owned(s.to_string()))
                .into_iter()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    migrator
        .run(pool)
        .await
        .map_err(|e| LogError::Migration(Arc::new(e)))?;
    let now: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .map_err(|e| pg_err("read the schema version", e))?;
    if now != Some(SCHEMA_VERSION) {
        return Err(LogError::Storage(format!(
            "database schema version is {now:?} after migration, expected {SCHEMA_VERSION}"
        )));
    }
    Ok(())
}

async fn claim_meta(
    pool: &PgPool,
    origin: Option<&str>,
    created: &str,
) -> Result<LogMeta, LogError> {
    if let Some(o) = origin {
        sqlx::query(
            "INSERT INTO vouch_log_meta (id, origin, created) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(o)
        .bind(created)
        .execute(pool)
        .await
        .map_err(|e| pg_err("record the log origin", e))?;
    }
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT origin, created FROM vouch_log_meta WHERE id = 1")
            .fetch_optional(pool)
            .await
            .map_err(|e| pg_err("read the log origin", e))?;
    let Some((have, created)) = row else {
        return Err(LogError::InvalidArgument(
            "the database holds no log yet: --origin is required on first start".into(),
        ));
    };
    if let Some(o) = origin
        && o != have
    {
        return Err(LogError::InvalidArgument(format!(
            "the database holds the log {have:?}, not {o:?} (a log's origin never changes: use another database for a new log)"
        )));
    }
    Ok(LogMeta {
        origin: have,
        created,
    })
}

impl Storage for PgStorage {
    fn load_checkpoint(&self) -> Result<Option<StoredCheckpoint>, LogError> {
        self.block(async {
            let row: Option<CheckpointRow> =
                sqlx::query_as("SELECT size, root, note FROM vouch_log_checkpoint WHERE id = 1")
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| pg_err("read the checkpoint", e))?;
            row.map(checkpoint_of).transpose()
        })
    }

    /// A single writer's append (tests, `vouch log migrate`): objects first, then the index
    /// records and the checkpoint in one transaction. Front ends sequence through
    /// [`SharedBackend`] instead.
    fn commit(&self, b: &CommitBatch) -> Result<(), LogError> {
        self.block(async {
            put_all(&self.store, &b.tiles, &b.entry_bundles).await?;
            let mut idx = Vec::with_capacity(b.entries.len());
            let mut leaves = Vec::with_capacity(b.entries.len());
            let mut times = Vec::with_capacity(b.entries.len());
            let mut terms = Vec::new();
            let mut term_idx = Vec::new();
            for (i, e) in b.entries.iter().enumerate() {
                let index = i64_of(b.first_index + i as u64, "index")?;
                idx.push(index);
                leaves.push(e.leaf_hash.to_vec());
                times.push(e.integrated_time);
                for k in &e.search_keys {
                    terms.push(k.clone());
                    term_idx.push(index);
                }
            }
            let size = i64_of(b.checkpoint.size, "tree size")?;
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(|e| pg_err("begin", e))?;
            sqlx::query(
                "INSERT INTO vouch_log_entries (idx, leaf_hash, integrated_time) \
                 SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind(&idx)
            .bind(&leaves)
            .bind(&times)
            .execute(&mut *tx)
            .await
            .map_err(|e| pg_err("insert entries", e))?;
            sqlx::query(
                "INSERT INTO vouch_log_search (term, idx) \
                 SELECT * FROM UNNEST($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind(&terms)
            .bind(&term_idx)
            .execute(&mut *tx)
            .await
            .map_err(|e| pg_err("insert search keys", e))?;
            sqlx::query(
                "UPDATE vouch_log_sequence SET next_index = GREATEST(next_index, $1) WHERE id = 1",
            )
            .bind(size)
            .execute(&mut *tx)
            .await
            .map_err(|e| pg_err("advance the sequence", e))?;
            sqlx::query(
                "INSERT INTO vouch_log_checkpoint (id, size, root, note) VALUES (1, $1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET size = EXCLUDED.size, root = EXCLUDED.root, note = EXCLUDED.note",
            )
            .bind(size)
            .bind(b.checkpoint.root.to_vec())
            .bind(&b.checkpoint.note)
            .execute(&mut *tx)
            .await
            .map_err(|e| pg_err("write the checkpoint", e))?;
            tx.commit().await.map_err(|e| pg_err("commit", e))
        })
    }

    fn read_tile(&self, id: &TileId) -> Result<Option<Vec<u8>>, LogError> {
        self.block(get_optional(self.store.as_ref(), &id.path()))
    }

    fn read_entry_bundle(&self, id: &TileId) -> Result<Option<Vec<u8>>, LogError> {
        self.block(get_optional(self.store.as_ref(), &id.entries_path()))
    }

    fn lookup_leaf(&self, leaf_hash: &[u8; 32]) -> Result<Option<u64>, LogError> {
        self.block(async {
            let idx: Option<i64> = sqlx::query_scalar(concat!(
                "SELECT idx FROM vouch_log_entries WHERE leaf_hash = $1 AND idx < ",
                published_size!()
            ))
            .bind(leaf_hash.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| pg_err("look up a leaf", e))?;
            idx.map(|i| u64_of(i, "index")).transpose()
        })
    }

    fn integrated_time(&self, index: u64) -> Result<Option<i64>, LogError> {
        self.block(async {
            sqlx::query_scalar(concat!(
                "SELECT integrated_time FROM vouch_log_entries WHERE idx = $1 AND idx < ",
                published_size!()
            ))
            .bind(i64_of(index, "index")?)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| pg_err("read an integration time", e))
        })
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
        // The primary key (term, idx) answers both orders with an index range scan.
        let sql = if newest_first {
            concat!(
                "SELECT idx FROM vouch_log_search WHERE term = $1 AND idx >= $2 AND idx < $3 AND idx < ",
                published_size!(),
                " ORDER BY idx DESC LIMIT $4"
            )
        } else {
            concat!(
                "SELECT idx FROM vouch_log_search WHERE term = $1 AND idx >= $2 AND idx < $3 AND idx < ",
                published_size!(),
                " ORDER BY idx LIMIT $4"
            )
        };
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.block(async {
            let rows: Vec<i64> = sqlx::query_scalar(sql)
                .bind(key)
                .bind(clamp(range.start))
                .bind(clamp(range.end))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(|e| pg_err("search", e))?;
            rows.into_iter().map(|i| u64_of(i, "index")).collect()
        })
    }

    fn shared(&self) -> Option<&dyn SharedBackend> {
        Some(self)
    }
}

impl SharedBackend for PgStorage {
    fn sequence(
        &self,
        entries: &[NewEntry<'_>],
        integrated_time: i64,
    ) -> Result<Vec<Assigned>, LogError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        self.block(async {
            let hashes: Vec<Vec<u8>> = entries.iter().map(|e| e.leaf_hash.to_vec()).collect();
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(|e| pg_err("begin", e))?;
            let next: i64 = sqlx::query_scalar(
                "SELECT next_index FROM vouch_log_sequence WHERE id = 1 FOR UPDATE",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| pg_err("lock the sequence row", e))?;
            let known: Vec<(Vec<u8>, i64)> = sqlx::query_as(
                "SELECT leaf_hash, idx FROM vouch_log_entries WHERE leaf_hash = ANY($1::bytea[])",
            )
            .bind(&hashes)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| pg_err("deduplicate", e))?;
            let mut seen: HashMap<[u8; 32], i64> = HashMap::with_capacity(entries.len());
            for (h, i) in known {
                seen.insert(hash_of(&h, "leaf hash")?, i);
            }
            let mut out = Vec::with_capacity(entries.len());
            let (mut idx, mut leaves, mut times, mut bodies) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let (mut terms, mut term_idx) = (Vec::new(), Vec::new());
            let mut n = next;
            for e in entries {
                if let Some(&i) = seen.get(&e.leaf_hash) {
                    out.push(Assigned::Existing(u64_of(i, "index")?));
                    continue;
                }
                seen.insert(e.leaf_hash, n);
                out.push(Assigned::New(u64_of(n, "index")?));
                idx.push(n);
                leaves.push(e.leaf_hash.to_vec());
                times.push(integrated_time);
                bodies.push(e.body.to_vec());
                for k in e.search_keys {
                    terms.push(k.clone());
                    term_idx.push(n);
                }
                n += 1;
            }
            if n == next {
                // Only duplicates: nothing to write.
                tx.rollback().await.map_err(|e| pg_err("rollback", e))?;
                return Ok(out);
            }
            sqlx::query(
                "INSERT INTO vouch_log_entries (idx, leaf_hash, integrated_time) \
                 SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bigint[])",
            )
            .bind(&idx)
            .bind(&leaves)
            .bind(&times)
            .execute(&mut *tx)
            .await
            .map_err(|e| pg_err("insert entries", e))?;
            sqlx::query(
                "INSERT INTO vouch_log_pending (idx, body) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])",
            )
            .bind(&idx)
            .bind(&bodies)
            .execute(&mut *tx)
            .await
            .map_err(|e| pg_err("insert bodies", e))?;
            if !terms.is_empty() {
                sqlx::query(
                    "INSERT INTO vouch_log_search (term, idx) \
                     SELECT * FROM UNNEST($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING",
                )
                .bind(&terms)
                .bind(&term_idx)
                .execute(&mut *tx)
                .await
                .map_err(|e| pg_err("insert search keys", e))?;
            }
            sqlx::query("UPDATE vouch_log_sequence SET next_index = $1 WHERE id = 1")
                .bind(n)
                .execute(&mut *tx)
                .await
                .map_err(|e| pg_err("advance the sequence", e))?;
            tx.commit().await.map_err(|e| pg_err("commit", e))?;
            Ok(out)
        })
    }

    fn try_lead(&self) -> Result<bool, LogError> {
        self.block(async {
            let mut g = self.lead.lock().await;
            if let Some((_, true)) = g.as_ref() {
                return Ok(true);
            }
            if g.is_none() {
                let conn = self
                    .pool
                    .acquire()
                    .await
                    .map_err(|e| pg_err("connect the integrator", e))?
                    .detach();
                *g = Some((conn, false));
            }
            let Some((conn, held)) = g.as_mut() else {
                return Ok(false);
            };
            match sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                .bind(self.lock_key)
                .fetch_one(&mut *conn)
                .await
            {
                Ok(got) => {
                    *held = got;
                    if got {
                        tracing::info!("this front end is now the log's integrator");
                    }
                    Ok(got)
                }
                Err(e) => {
                    *g = None;
                    Err(pg_err("contest the integrator lock", e))
                }
            }
        })
    }

    fn pending(&self, from: u64, limit: usize) -> Result<Vec<SequencedEntry>, LogError> {
        self.block(self.on_lead(async |conn| {
            let from = i64_of(from, "index")?;
            let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = sqlx::query_as(
                "SELECT p.idx, p.body, e.leaf_hash FROM vouch_log_pending p \
                 JOIN vouch_log_entries e ON e.idx = p.idx \
                 WHERE p.idx >= $1 ORDER BY p.idx LIMIT $2",
            )
            .bind(from)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| pg_err("read sequenced entries", e))?;
            let mut out = Vec::with_capacity(rows.len());
            for (k, (i, body, leaf)) in rows.into_iter().enumerate() {
                if i != from + k as i64 {
                    return Err(LogError::Storage(format!(
                        "sequenced entries are not contiguous: expected index {}, found {i}",
                        from + k as i64
                    )));
                }
                out.push((body, hash_of(&leaf, "leaf hash")?));
            }
            Ok(out)
        }))
    }

    fn load_checkpoints(&self) -> Result<PublishedCheckpoints, LogError> {
        self.block(async {
            // One round trip for both rows: front ends poll this.
            type Row = (
                Option<i64>,
                Option<Vec<u8>>,
                Option<String>,
                Option<i64>,
                Option<Vec<u8>>,
                Option<String>,
            );
            let row: Option<Row> = sqlx::query_as(
                "SELECT c.size, c.root, c.note, w.size, w.root, w.note \
                 FROM (SELECT 1 AS id) one \
                 LEFT JOIN vouch_log_checkpoint c ON c.id = one.id \
                 LEFT JOIN vouch_log_cosigned w ON w.id = one.id",
            )
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| pg_err("read the checkpoints", e))?;
            let Some((cs, cr, cn, ws, wr, wn)) = row else {
                return Ok(PublishedCheckpoints::default());
            };
            let both = |s: Option<i64>, r: Option<Vec<u8>>, n: Option<String>| match (s, r, n) {
                (Some(s), Some(r), Some(n)) => checkpoint_of((s, r, n)).map(Some),
                _ => Ok(None),
            };
            Ok(PublishedCheckpoints {
                checkpoint: both(cs, cr, cn)?,
                cosigned: both(ws, wr, wn)?,
            })
        })
    }

    fn publish_cosigned(
        &self,
        old: Option<&StoredCheckpoint>,
        new: &StoredCheckpoint,
    ) -> Result<bool, LogError> {
        let size = i64_of(new.size, "tree size")?;
        self.block(self.on_lead(async |conn| {
            // Only a published checkpoint (same size and root as the checkpoint row, or one
            // it has since grown past) may be stored with its cosignatures.
            let swapped = match old {
                Some(o) => sqlx::query(concat!(
                    "UPDATE vouch_log_cosigned SET size = $1, root = $2, note = $3 \
                     WHERE id = 1 AND size = $4 AND note = $5 AND ",
                    published_guard!()
                ))
                .bind(size)
                .bind(new.root.to_vec())
                .bind(&new.note)
                .bind(i64_of(o.size, "tree size")?)
                .bind(&o.note),
                None => sqlx::query(concat!(
                    "INSERT INTO vouch_log_cosigned (id, size, root, note) \
                     SELECT 1, $1, $2, $3 WHERE ",
                    published_guard!(),
                    " ON CONFLICT (id) DO NOTHING"
                ))
                .bind(size)
                .bind(new.root.to_vec())
                .bind(&new.note),
            }
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_err("swap the cosigned checkpoint", e))?
            .rows_affected()
                == 1;
            Ok(swapped)
        }))
    }

    fn publish(
        &self,
        old: Option<&StoredCheckpoint>,
        tiles: &[(TileId, Vec<u8>)],
        bundles: &[(TileId, Vec<u8>)],
        new: &StoredCheckpoint,
    ) -> Result<bool, LogError> {
        self.block(async {
            // Objects first: a checkpoint never names a tile that is not durable.
            put_all(&self.store, tiles, bundles).await?;
            let size = i64_of(new.size, "tree size")?;
            self.on_lead(async |conn| {
                let mut tx = conn.begin().await.map_err(|e| pg_err("begin", e))?;
                let swapped = match old {
                    Some(o) => sqlx::query(
                        "UPDATE vouch_log_checkpoint SET size = $1, root = $2, note = $3 \
                         WHERE id = 1 AND size = $4 AND note = $5",
                    )
                    .bind(size)
                    .bind(new.root.to_vec())
                    .bind(&new.note)
                    .bind(i64_of(o.size, "tree size")?)
                    .bind(&o.note),
                    None => sqlx::query(
                        "INSERT INTO vouch_log_checkpoint (id, size, root, note) VALUES (1, $1, $2, $3) \
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(size)
                    .bind(new.root.to_vec())
                    .bind(&new.note),
                }
                .execute(&mut *tx)
                .await
                .map_err(|e| pg_err("swap the checkpoint", e))?
                .rows_affected()
                    == 1;
                if !swapped {
                    tx.rollback().await.map_err(|e| pg_err("rollback", e))?;
                    return Ok(false);
                }
                sqlx::query("DELETE FROM vouch_log_pending WHERE idx < $1")
                    .bind(size)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| pg_err("drop integrated bodies", e))?;
                tx.commit().await.map_err(|e| pg_err("commit", e))?;
                Ok(true)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database error keeps its sqlx cause; connection-level ones are the retryable 503 kind.
    #[test]
    fn database_errors_are_typed() {
        let e = pg_err("connect", sqlx::Error::PoolTimedOut);
        assert!(e.is_unavailable());
        assert!(
            e.to_string()
                .starts_with("temporarily unavailable: database: connect: "),
            "{e}"
        );
        let e = pg_err("search", sqlx::Error::RowNotFound);
        assert!(!e.is_unavailable());
        assert!(
            e.to_string().starts_with("storage: database: search: "),
            "{e}"
        );
        // The source is the sqlx error itself (shared, as LogError is Clone).
        let source =
            std::error::Error::source(&e).and_then(|s| s.downcast_ref::<Arc<sqlx::Error>>());
        assert!(
            matches!(source.map(|s| &**s), Some(sqlx::Error::RowNotFound)),
            "{source:?}"
        );
    }

    #[test]
    fn schemas_named_in_the_url() {
        assert_eq!(
            url_schema("postgres://vouch@db/vouch?options[search_path]=vouch_ct").as_deref(),
            Some("vouch_ct")
        );
        assert_eq!(
            url_schema("postgres://vouch@db/vouch?sslmode=disable&options%5Bsearch_path%5D=ct2")
                .as_deref(),
            Some("ct2")
        );
        for none in [
            "postgres://vouch@db/vouch",
            "postgres://vouch@db/vouch?options[search_path]=a,b",
            "postgres://vouch@db/vouch?options[search_path]=$user",
            "postgres://vouch@db/vouch?options[statement_timeout]=5s",
        ] {
            assert_eq!(url_schema(none), None, "{none}");
        }
    }

    #[test]
    fn schema_names() {
        for ok in ["vouch_ct", "_x", "a1"] {
            assert!(check_schema_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "Vouch", "a-b", "a;drop", "a b", &"a".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad:?}");
        }
    }
}
