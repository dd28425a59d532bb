//! The scale-out log backend on the command line: `--database postgres://…` and
//! `--tiles s3://…` for `vouch serve log`, and `vouch log migrate` from an embedded log.
//!
//! Credentials never come from argv: the PostgreSQL password from `PGPASSWORD` or the passfile
//! (`~/.pgpass`, `PGPASSFILE`), the object store's from the standard AWS environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, web identity, …).

use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use vouch_core::merkle;
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::tiles::{TILE_WIDTH, TileId};
use vouch_log::pg::{LogMeta, PgStorage};
use vouch_log::storage::{CommitBatch, EntryRecord, Storage};
use vouch_log::tree::{Edge, TileCache, TreeReader, parse_bundle};
use vouch_log::{EmbeddedStorage, KeyAlgorithm, LogSigner};

/// `--database` / `--tiles`: the PostgreSQL + object store backend.
#[derive(Args, Debug, Default)]
pub struct ScaleArgs {
    /// PostgreSQL URL of the scale-out backend, shared by every front end, e.g.
    /// postgres://vouch@db.internal/vouch (the password comes from PGPASSWORD or ~/.pgpass,
    /// never from the URL).
    #[arg(long, requires = "tiles", value_name = "URL")]
    pub database: Option<String>,
    /// Object store for tiles and entry bundles with --database:
    /// s3://BUCKET/PREFIX?endpoint=URL&region=REGION (credentials from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and the rest of the standard AWS environment).
    #[arg(long, requires = "database", value_name = "URL")]
    pub tiles: Option<String>,
}

impl ScaleArgs {
    /// Whether `--database` (and with it `--tiles`) was given.
    pub fn enabled(&self) -> bool {
        self.database.is_some()
    }
}

/// Refuse a password in a `--database` URL: argv is visible to every local user.
pub fn check_database_url(url: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| anyhow!("invalid --database {url:?}: not a URL ({e})"))?;
    if parsed.scheme() != "postgres" && parsed.scheme() != "postgresql" {
        return Err(hinted(
            format!(
                "invalid --database {url:?}: scheme {:?} is not postgres",
                parsed.scheme()
            ),
            "use postgres://USER@HOST[:PORT]/DATABASE",
        ));
    }
    if parsed.password().is_some() {
        return Err(hinted(
            "--database must not contain a password: command lines are visible to every user of the machine",
            "drop the password from the URL and set PGPASSWORD or use ~/.pgpass (PGPASSFILE)",
        ));
    }
    Ok(())
}

/// Now, truncated to seconds (RFC 3339): a new log's `created`.
fn now_rfc3339() -> Result<String> {
    Ok(jiff::Timestamp::now()
        .round(
            jiff::TimestampRound::new()
                .smallest(jiff::Unit::Second)
                .mode(jiff::RoundMode::Trunc),
        )
        .map_err(|e| anyhow!("clock: {e}"))?
        .to_string())
}

/// Connect the backend named by `--database` and `--tiles` (both present), migrating the schema.
pub fn open_backend(a: &ScaleArgs, origin: Option<&str>) -> Result<(PgStorage, LogMeta)> {
    let (Some(db), Some(tiles)) = (&a.database, &a.tiles) else {
        return Err(anyhow!("--database and --tiles go together"));
    };
    check_database_url(db)?;
    if let Some(o) = origin {
        crate::serve::check_origin(o)?;
    }
    let storage = PgStorage::open(db, tiles, origin, &now_rfc3339()?).map_err(|e| {
        hinted(
            format!("cannot open the log backend {db} + {tiles}: {e}"),
            "check that PostgreSQL is reachable, PGPASSWORD (or ~/.pgpass) is set, the bucket exists and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are set",
        )
    })?;
    let meta = storage.meta().clone();
    Ok((storage, meta))
}

/// The PostgreSQL schema of `vouch up`'s CT log. Its transparency log uses the database's
/// default schema (so `vouch serve log` and `vouch log migrate` with the same `--database` and
/// `--tiles` reach it); the CT log lives beside it in this schema of the same database.
pub const UP_CT_SCHEMA: &str = "vouch_ct";
/// The key prefix, under `--tiles`, of `vouch up`'s CT log's tiles and entry bundles (the
/// transparency log's objects are `<prefix>/tile/…`, the CT log's `<prefix>/ct/tile/…`).
pub const UP_CT_PREFIX: &str = "ct";

/// `tiles` (an `s3://BUCKET[/PREFIX][?…]` URL) with `sub` appended to its prefix, the query
/// (endpoint, region) kept.
pub fn tiles_under(tiles: &str, sub: &str) -> Result<String> {
    let mut u = reqwest::Url::parse(tiles)
        .map_err(|e| anyhow!("invalid --tiles {tiles:?}: not a URL ({e})"))?;
    let prefix = u.path().trim_matches('/');
    let path = if prefix.is_empty() {
        format!("/{sub}")
    } else {
        format!("/{prefix}/{sub}")
    };
    u.set_path(&path);
    Ok(u.to_string())
}

/// `url` without user name, password and query: a backend's location for messages and the
/// banner (never a credential).
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "(invalid URL)".into(),
    }
}

/// One of `vouch up`'s logs opened on the scale backend.
pub struct UpLog {
    /// The backend.
    pub storage: PgStorage,
    /// Origin and creation time recorded in the database.
    pub meta: LogMeta,
    /// The checkpoint key (`<key_dir>/log.key`).
    pub signer: LogSigner,
}

/// Open `vouch up`'s log `origin` (the `what`, for messages) in `schema` of `--database` (the
/// default schema for `None`) with its tiles at `tiles`: the database must hold this origin
/// (or no log yet), a missing `<key_dir>/log.key` is not generated when the database's log
/// already has a key, and the key must be the one the database recorded. `created_at` names
/// where the instance's logs were created when this is not the first start on the scale
/// backend: the database must then already know the log's key.
#[allow(clippy::too_many_arguments)]
pub fn open_up_log(
    a: &ScaleArgs,
    schema: Option<&str>,
    tiles: &str,
    origin: &str,
    key_dir: &Path,
    alg: KeyAlgorithm,
    what: &str,
    created_at: Option<&str>,
) -> Result<UpLog> {
    let Some(db) = &a.database else {
        bail!("--database and --tiles go together");
    };
    check_database_url(db)?;
    let created = now_rfc3339()?;
    let opened = match schema {
        Some(s) => PgStorage::open_in_schema(db, s, tiles, Some(origin), &created),
        None => PgStorage::open(db, tiles, Some(origin), &created),
    };
    let where_ = match schema {
        Some(s) => format!("{} (schema {s})", redacted(db)),
        None => redacted(db),
    };
    let storage = opened.map_err(|e| match e {
        vouch_log::LogError::InvalidArgument(m) => hinted(
            format!("the {what} in {where_}: {m}"),
            "vouch up names its logs after their URLs: start it with the --port and --public-host the instance was created with, or use another database",
        ),
        e => hinted(
            format!(
                "cannot open the {what} backend {where_} + {}: {e}",
                redacted(tiles)
            ),
            "check that PostgreSQL is reachable, PGPASSWORD (or ~/.pgpass) is set, the bucket exists and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are set",
        ),
    })?;
    let key_file = key_dir.join("log.key");
    if let Some(at) = created_at
        && key_file.exists()
    {
        let recorded = storage
            .log_id()
            .map_err(|e| anyhow!("cannot check the {what}'s key in the database: {e}"))?;
        if recorded.is_none() {
            return Err(hinted(
                format!(
                    "{where_} holds no {what} of this instance, which was created at {at}: refusing to start a second log under the same key"
                ),
                "pass the --database and --tiles the instance was created with",
            ));
        }
    }
    require_key_file(
        &storage,
        &key_file,
        "the database holds another vouch up instance's log: start vouch up with that instance's --data (its keys), or use another database",
    )?;
    std::fs::create_dir_all(key_dir)
        .with_context(|| format!("cannot create {}", key_dir.display()))?;
    let signer = LogSigner::load_or_generate(key_dir, origin, alg)
        .map_err(|e| anyhow!("cannot load the {what} key in {}: {e}", key_dir.display()))?;
    claim_key(&storage, &signer, &key_file)?;
    let meta = storage.meta().clone();
    Ok(UpLog {
        storage,
        meta,
        signer,
    })
}

/// Refuse to generate a key when the log in the database already has one: a front end with a
/// missing key file must get the first front end's copy (`hint` says how, for the command).
pub fn require_key_file(storage: &PgStorage, key_file: &Path, hint: &str) -> Result<()> {
    if key_file.exists() {
        return Ok(());
    }
    let recorded = storage
        .log_id()
        .map_err(|e| anyhow!("cannot check the log's key in the database: {e}"))?;
    if let Some(id) = recorded {
        return Err(hinted(
            format!(
                "{} is missing, and the log in the database already has a key (log ID {id}): refusing to generate another",
                key_file.display()
            ),
            hint,
        ));
    }
    Ok(())
}

/// [`require_key_file`]'s hint for `vouch serve log` and `vouch serve ct` front ends.
pub const FRONT_END_KEY_HINT: &str =
    "copy log.key from the first front end into --data (every front end signs with the same key)";

/// Record this front end's key as the log's key, or refuse a key that differs from it.
pub fn claim_key(storage: &PgStorage, signer: &LogSigner, key_file: &Path) -> Result<()> {
    storage
        .claim_log_id(&hex::encode(signer.log_id()))
        .map_err(|e| {
            hinted(
                format!("{}: {e}", key_file.display()),
                "copy log.key from the first front end: every front end of a log signs with one key",
            )
        })
}

/// `vouch log migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The embedded log's data directory (`vouch serve log --data`); stop its server first.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    #[command(flatten)]
    scale: ScaleArgs,
}

/// Entry bundles copied per round trip.
const BUNDLES_PER_CHUNK: u64 = 16;
/// Search records inserted per statement.
const SEARCH_CHUNK: usize = 10_000;

/// Copy an embedded log into the scale-out backend: entries, tiles, the dedup and search
/// indexes; then check the rebuilt tree has the root of the source's signed checkpoint and
/// store that checkpoint. Refuses a target that already holds a log with entries.
pub fn migrate(a: &MigrateArgs) -> Result<()> {
    if a.scale.database.is_none() {
        bail!("vouch log migrate needs --database and --tiles (the target backend)");
    }
    let settings = crate::serve::settings(&a.from, None).with_context(|| {
        format!(
            "--from {} is not a vouch log data directory",
            a.from.display()
        )
    })?;
    let key_file = a.from.join("log.key");
    if !key_file.exists() {
        bail!(
            "--from {}: no log.key: is this a vouch log data directory?",
            a.from.display()
        );
    }
    let signer = LogSigner::load_or_generate(&a.from, &settings.origin, KeyAlgorithm::Ed25519)
        .map_err(|e| anyhow!("cannot load {}: {e}", key_file.display()))?;
    let source = EmbeddedStorage::open(&a.from).map_err(|e| {
        hinted(
            format!("cannot open the log store in {}: {e}", a.from.display()),
            "stop the `vouch serve log` that uses this directory first",
        )
    })?;
    let cp = source
        .load_checkpoint()
        .map_err(|e| anyhow!("cannot read the source checkpoint: {e}"))?
        .ok_or_else(|| {
            anyhow!(
                "the log in {} is empty: nothing to migrate",
                a.from.display()
            )
        })?;
    let (size, root) = verified_checkpoint(&cp.note, signer.verifier(), &settings.origin)?;
    if (size, root) != (cp.size, cp.root) {
        bail!("the source's stored checkpoint disagrees with its own note");
    }

    check_database_url(a.scale.database.as_deref().unwrap_or_default())?;
    let (Some(db), Some(tiles)) = (&a.scale.database, &a.scale.tiles) else {
        bail!("--database and --tiles go together");
    };
    let target = PgStorage::open(db, tiles, Some(&settings.origin), &settings.created)
        .map_err(|e| anyhow!("cannot open the target backend {db} + {tiles}: {e}"))?;
    if !target.is_empty().map_err(|e| anyhow!("target: {e}"))? {
        return Err(hinted(
            format!(
                "the target database {db} already holds entries or a checkpoint: refusing to migrate into a non-empty log"
            ),
            "migrate into a new, empty database and bucket prefix",
        ));
    }
    claim_key(&target, &signer, &key_file)?;

    let bundles = size.div_ceil(TILE_WIDTH);
    let pb = crate::tlog::progress_bar(bundles, "copying");
    let mut edge = Edge::default();
    let mut next = 0u64;
    while next < size {
        let first = next;
        let mut items = Vec::new();
        let mut records = Vec::new();
        for _ in 0..BUNDLES_PER_CHUNK {
            if next >= size {
                break;
            }
            let width = (size - next).min(TILE_WIDTH);
            let id = TileId {
                level: 0,
                index: next / TILE_WIDTH,
                width: u16::try_from(width).unwrap_or(256),
            };
            let bytes = source
                .read_entry_bundle(&id)
                .map_err(|e| anyhow!("source: {e}"))?
                .ok_or_else(|| anyhow!("source: entry bundle {} is missing", id.entries_path()))?;
            let bodies =
                parse_bundle(&bytes).map_err(|e| anyhow!("source {}: {e}", id.entries_path()))?;
            if bodies.len() as u64 != width {
                bail!(
                    "source: entry bundle {} holds {} entries, expected {width}",
                    id.entries_path(),
                    bodies.len()
                );
            }
            for body in bodies {
                let leaf = merkle::leaf_hash(&body);
                let integrated_time = source
                    .integrated_time(next)
                    .map_err(|e| anyhow!("source: {e}"))?
                    .ok_or_else(|| anyhow!("source: no integration time for entry {next}"))?;
                records.push(EntryRecord {
                    leaf_hash: leaf,
                    integrated_time,
                    search_keys: Vec::new(),
                });
                items.push((body, leaf));
                next += 1;
            }
            pb.inc(1);
        }
        let changes = edge.append(&items);
        target
            .copy_entries(first, &records, &changes.tiles, &changes.entry_bundles)
            .map_err(|e| anyhow!("target: {e}"))?;
    }
    pb.finish_and_clear();

    let mut search = Vec::with_capacity(SEARCH_CHUNK);
    let mut copied = 0usize;
    for rec in source.search_records() {
        search.push(rec.map_err(|e| anyhow!("source: {e}"))?);
        if search.len() == SEARCH_CHUNK {
            target
                .add_search_keys(&search)
                .map_err(|e| anyhow!("target: {e}"))?;
            copied += search.len();
            search.clear();
        }
    }
    target
        .add_search_keys(&search)
        .map_err(|e| anyhow!("target: {e}"))?;
    copied += search.len();

    // The rebuilt tree, read back from the target's tiles, must have the signed root.
    let rebuilt = Edge::load(&target, size).map_err(|e| anyhow!("target: {e}"))?;
    let cache = Mutex::new(TileCache::default());
    let got = vouch_core::tiles::tree_root(
        &mut TreeReader {
            size,
            edge: &rebuilt,
            storage: &target,
            cache: &cache,
            memo: Default::default(),
        },
        size,
    )
    .map_err(|e| anyhow!("cannot rebuild the tree from the target's tiles: {e}"))?;
    if got != root {
        bail!(
            "the copied tiles give root {} but the source's signed checkpoint of size {size} says {}: the target is not usable",
            hex::encode(got),
            hex::encode(root)
        );
    }
    target
        .commit(&CommitBatch {
            first_index: size,
            entries: Vec::new(),
            tiles: Vec::new(),
            entry_bundles: Vec::new(),
            checkpoint: cp,
        })
        .map_err(|e| anyhow!("target: cannot store the checkpoint: {e}"))?;
    println!(
        "migrated {size} entries ({bundles} entry bundles, {copied} search keys) of {} to {db} + {tiles}",
        settings.origin
    );
    println!(
        "root {} verified against the source's signed checkpoint",
        hex::encode(root)
    );
    Ok(())
}

/// Parse and verify a checkpoint note; returns its size and root.
fn verified_checkpoint(note: &str, v: &NoteVerifier, origin: &str) -> Result<(u64, [u8; 32])> {
    let n = SignedNote::parse(note).map_err(|e| anyhow!("source checkpoint is corrupt: {e}"))?;
    n.verify(v)
        .map_err(|e| anyhow!("source checkpoint signature does not verify with log.key: {e}"))?;
    let body =
        Checkpoint::parse(&n.text).map_err(|e| anyhow!("source checkpoint is corrupt: {e}"))?;
    if body.origin != origin {
        bail!(
            "source checkpoint is for origin {:?}, log.json says {origin:?}",
            body.origin
        );
    }
    Ok((body.size, body.root_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert!(check_database_url("postgres://vouch@db/vouch").is_ok());
        assert!(check_database_url("postgresql://vouch@db:5433/vouch").is_ok());
        let e = check_database_url("postgres://vouch:secret@db/vouch").unwrap_err();
        assert!(
            format!("{e:#}").contains("must not contain a password"),
            "{e:#}"
        );
        assert!(check_database_url("mysql://db/x").is_err());
    }
}
