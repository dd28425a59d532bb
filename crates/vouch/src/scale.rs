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
use vouch_core::ct::MerkleTreeLeaf;
use vouch_core::merkle;
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::tiles::{TILE_WIDTH, TileId};
use vouch_log::pg::{LogMeta, PgStorage};
use vouch_log::storage::{CommitBatch, EntryRecord, Storage, StoredCheckpoint};
use vouch_log::tree::{Edge, TileCache, TreeReader, parse_bundle, parse_tile};
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

/// `url` as the user gave it, less any password: for a command line printed to be run again
/// (unlike [`redacted`], it keeps the user name and the query, e.g. the S3 endpoint).
fn without_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
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

/// The witness policy fingerprint a front end records in the database: the policy file's
/// SHA-256 and whether the quorum is required, or `none` without a policy.
pub fn witness_policy_fingerprint(policy: Option<&Path>, require_quorum: bool) -> Result<String> {
    let Some(p) = policy else {
        return Ok("none".into());
    };
    let (_, digest) = crate::witness_cmd::load_policy_digested(p)?;
    Ok(if require_quorum {
        format!("{digest} (quorum required)")
    } else {
        digest
    })
}

/// Record this front end's witness policy as the log's, or refuse one that differs from what
/// the log's other front ends recorded: front ends of one log acknowledge writes under one
/// policy (`replace` makes this one the log's, for a policy change).
pub fn claim_witness_policy(
    storage: &PgStorage,
    policy: Option<&Path>,
    require_quorum: bool,
    replace: bool,
) -> Result<()> {
    let ours = witness_policy_fingerprint(policy, require_quorum)?;
    let recorded = storage
        .claim_witness_policy(&ours, replace)
        .map_err(|e| anyhow!("cannot record the witness policy in the database: {e}"))?;
    if recorded == ours {
        return Ok(());
    }
    let ours_said = match policy {
        Some(p) => format!("--witness-policy {} is {ours}", p.display()),
        None => "this front end has no --witness-policy".into(),
    };
    Err(hinted(
        format!("witness policy mismatch: {ours_said}, but the log's front ends use {recorded}"),
        "give every front end the same --witness-policy file and --require-witness-quorum; to change the log's policy, start one front end with --replace-witness-policy, then restart the others with the same policy",
    ))
}

/// Written to `<data>/scale.json` when a `vouch up` instance's logs are on the scale backend:
/// where they are (URLs without credentials), so that a start without `--database` does not
/// begin a second, embedded log under the same keys and names.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Eq)]
pub(crate) struct ScaleMarker {
    /// `--database` without user, password and query.
    pub(crate) database: String,
    /// `--tiles` without its query.
    pub(crate) tiles: String,
}

/// The marker file's name under `vouch up --data`.
pub(crate) const SCALE_MARKER: &str = "scale.json";

impl ScaleMarker {
    /// The marker for `--database` and `--tiles`.
    pub(crate) fn new(database: &str, tiles: &str) -> Self {
        Self {
            database: redacted(database),
            tiles: redacted(tiles),
        }
    }

    /// Read `path`.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is corrupt", path.display()))
    }

    /// Write it durably to `path`.
    pub(crate) fn write(&self, path: &Path) -> Result<()> {
        vouch_fs::write_durably(
            path,
            &serde_json::to_vec_pretty(self)?,
            vouch_fs::Access::Public,
        )
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
    }
}

/// `vouch log migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The embedded log's data directory (`vouch serve log --data`, `vouch serve ct --data`,
    /// or a `vouch up` instance's log/ or ct/); stop its server first.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "instance",
        conflicts_with = "instance"
    )]
    from: Option<PathBuf>,
    /// A `vouch up --data` directory: move both of its logs (log/ into the database's default
    /// schema and --tiles, ct/ into schema vouch_ct and <--tiles>/ct), record the backend in
    /// its scale.json and set the embedded files aside (log/pre-scale/, ct/pre-scale/), so that
    /// `vouch up --data DIR --database … --tiles …` continues both logs. Stop vouch up first.
    #[arg(long, value_name = "DIR")]
    instance: Option<PathBuf>,
    #[command(flatten)]
    scale: ScaleArgs,
}

/// Entry bundles copied per round trip.
const BUNDLES_PER_CHUNK: u64 = 16;
/// Search records inserted per statement.
const SEARCH_CHUNK: usize = 10_000;
/// Where `vouch log migrate --instance` moves each embedded log's files (under log/, ct/).
pub(crate) const PRE_SCALE_DIR: &str = "pre-scale";
/// The files of an embedded log besides its key: settings, index database, tiles.
const EMBEDDED_FILES: [&str; 3] = ["log.json", "index", "tile"];

/// An embedded log opened for migration (its server stopped).
struct Source {
    dir: PathBuf,
    settings: crate::serve::Settings,
    key_file: PathBuf,
    signer: LogSigner,
    storage: EmbeddedStorage,
    /// Its checkpoint, verified with its key; `None` for a log without entries.
    checkpoint: Option<StoredCheckpoint>,
}

/// Open the embedded log in `dir` and verify its checkpoint with its key.
fn open_source(dir: &Path) -> Result<Source> {
    if !dir.join("log.json").exists() {
        return Err(hinted(
            format!("{}: no log.json, so no embedded vouch log", dir.display()),
            "name the --data directory of `vouch serve log` or `vouch serve ct` (or a vouch up instance's log/ or ct/)",
        ));
    }
    let settings = crate::serve::settings(dir, None)
        .with_context(|| format!("{} is not a vouch log data directory", dir.display()))?;
    let key_file = dir.join("log.key");
    if !key_file.exists() {
        bail!(
            "{}: no log.key: is this a vouch log data directory?",
            dir.display()
        );
    }
    // The key exists: the algorithm only matters when generating one.
    let signer = LogSigner::load_or_generate(dir, &settings.origin, KeyAlgorithm::Ed25519)
        .map_err(|e| anyhow!("cannot load {}: {e}", key_file.display()))?;
    let storage = EmbeddedStorage::open(dir).map_err(|e| {
        hinted(
            format!("cannot open the log store in {}: {e}", dir.display()),
            "stop the server (vouch serve log, vouch serve ct or vouch up) that uses this directory first",
        )
    })?;
    let checkpoint = storage
        .load_checkpoint()
        .map_err(|e| anyhow!("cannot read the checkpoint in {}: {e}", dir.display()))?
        .filter(|c| c.size > 0);
    if let Some(cp) = &checkpoint {
        let (size, root) = verified_checkpoint(&cp.note, signer.verifier(), &settings.origin)?;
        if (size, root) != (cp.size, cp.root) {
            bail!(
                "the checkpoint stored in {} (size {}, root {}) disagrees with its own note (size {size}, root {})",
                dir.display(),
                cp.size,
                hex::encode(cp.root),
                hex::encode(root)
            );
        }
    }
    Ok(Source {
        dir: dir.to_path_buf(),
        settings,
        key_file,
        signer,
        storage,
        checkpoint,
    })
}

/// Open the migration target of `source` (in `schema`, or the URL's), refuse one that already
/// holds entries, and record the source's origin, creation time and key there.
fn open_target(source: &Source, db: &str, schema: Option<&str>, tiles: &str) -> Result<PgStorage> {
    let origin = Some(source.settings.origin.as_str());
    let created = &source.settings.created;
    let where_ = match schema {
        Some(s) => format!("{} (schema {s})", redacted(db)),
        None => redacted(db),
    };
    let target = match schema {
        Some(s) => PgStorage::open_in_schema(db, s, tiles, origin, created),
        None => PgStorage::open(db, tiles, origin, created),
    }
    .map_err(|e| {
        hinted(
            format!(
                "cannot open the target backend {where_} + {} for {}: {e}",
                redacted(tiles),
                source.dir.display()
            ),
            "check that PostgreSQL is reachable, PGPASSWORD (or ~/.pgpass) is set, the bucket exists and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are set; a database holding another log is never a target",
        )
    })?;
    if !target.is_empty().map_err(|e| anyhow!("target: {e}"))? {
        return Err(hinted(
            format!(
                "the target database {where_} already holds entries or a checkpoint: refusing to migrate into a non-empty log"
            ),
            "migrate into a new, empty database and bucket prefix",
        ));
    }
    claim_key(&target, &source.signer, &source.key_file)?;
    Ok(target)
}

/// How a log's Merkle leaf hash derives from its stored entry body.
#[derive(Clone, Copy, Debug)]
enum LeafRule {
    /// A transparency log: the RFC 6962 leaf hash of the body.
    Body,
    /// A CT log: the leaf hash of the RFC 6962 `MerkleTreeLeaf` the stored body starts with
    /// (its `extra_data` follows).
    CtMerkleTreeLeaf,
}

impl LeafRule {
    /// The leaf hash of `body` under this rule (`None`: not such an entry).
    fn leaf(self, body: &[u8]) -> Option<[u8; 32]> {
        match self {
            Self::Body => Some(merkle::leaf_hash(body)),
            Self::CtMerkleTreeLeaf => MerkleTreeLeaf::parse_prefix(body)
                .ok()
                .map(|(l, _)| merkle::leaf_hash(l.bytes)),
        }
    }

    /// The rule under which `body` hashes to `leaf`.
    fn of(body: &[u8], leaf: &[u8; 32]) -> Option<Self> {
        [Self::Body, Self::CtMerkleTreeLeaf]
            .into_iter()
            .find(|r| r.leaf(body).as_ref() == Some(leaf))
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Body => "transparency log entries",
            Self::CtMerkleTreeLeaf => "CT log entries",
        }
    }
}

/// What [`copy_log`] copied.
struct Copied {
    size: u64,
    bundles: u64,
    search_keys: usize,
    root: [u8; 32],
}

/// Copy `source` (with its checkpoint `cp`) into `target`: entries, tiles, the dedup and search
/// indexes; then check the rebuilt tree has the root of the signed checkpoint and store it.
fn copy_log(source: &Source, target: &PgStorage, cp: &StoredCheckpoint) -> Result<Copied> {
    let (size, root) = (cp.size, cp.root);
    let bundles = size.div_ceil(TILE_WIDTH);
    let pb = crate::tlog::progress_bar(bundles, "copying");
    let mut rule: Option<LeafRule> = None;
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
                .storage
                .read_entry_bundle(&id)
                .map_err(|e| anyhow!("source: {e}"))?
                .ok_or_else(|| anyhow!("source: entry bundle {} is missing", id.entries_path()))?;
            let bodies =
                parse_bundle(&bytes).map_err(|e| anyhow!("source {}: {e}", id.entries_path()))?;
            // The leaf hashes the signed root commits to, from the level-0 tile.
            let tile = source
                .storage
                .read_tile(&id)
                .map_err(|e| anyhow!("source: {e}"))?
                .ok_or_else(|| anyhow!("source: hash tile {} is missing", id.path()))?;
            let leaves = parse_tile(&tile).map_err(|e| anyhow!("source {}: {e}", id.path()))?;
            if bodies.len() as u64 != width || leaves.len() as u64 != width {
                bail!(
                    "source: entry bundle {} holds {} entries and hash tile {} {} hashes, expected {width}",
                    id.entries_path(),
                    bodies.len(),
                    id.path(),
                    leaves.len()
                );
            }
            for (body, leaf) in bodies.into_iter().zip(leaves) {
                let rule = match rule {
                    Some(r) => r,
                    None => *rule.insert(LeafRule::of(&body, &leaf).ok_or_else(|| {
                        anyhow!(
                            "source: entry {next} hashes to neither its leaf {} nor, as a CT log entry, to it: is {} a vouch log?",
                            hex::encode(leaf),
                            source.dir.display()
                        )
                    })?),
                };
                if rule.leaf(&body) != Some(leaf) {
                    bail!(
                        "source: entry {next} does not hash to its leaf {} in {} (the log's entries are {}): the source is corrupt",
                        hex::encode(leaf),
                        id.path(),
                        rule.describe()
                    );
                }
                let integrated_time = source
                    .storage
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
    for rec in source.storage.search_records() {
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
    let rebuilt = Edge::load(target, size).map_err(|e| anyhow!("target: {e}"))?;
    let cache = Mutex::new(TileCache::default());
    let got = vouch_core::tiles::tree_root(
        &mut TreeReader {
            size,
            edge: &rebuilt,
            storage: target,
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
            checkpoint: cp.clone(),
        })
        .map_err(|e| anyhow!("target: cannot store the checkpoint: {e}"))?;
    Ok(Copied {
        size,
        bundles,
        search_keys: copied,
        root,
    })
}

/// Print what [`copy_log`] did for `source` into `to`.
fn report(source: &Source, copied: &Copied, to: &str) {
    println!(
        "migrated {} entries ({} entry bundles, {} search keys) of {} to {to}",
        copied.size, copied.bundles, copied.search_keys, source.settings.origin
    );
    println!(
        "root {} verified against the source's signed checkpoint",
        hex::encode(copied.root)
    );
}

/// Copy an embedded log (`--from`) or both logs of a `vouch up` instance (`--instance`) into
/// the scale-out backend: entries, tiles, the dedup and search indexes; each rebuilt tree is
/// checked to have the root of its source's signed checkpoint, which is then stored. Refuses a
/// target that already holds a log with entries.
pub fn migrate(a: &MigrateArgs) -> Result<()> {
    let (Some(db), Some(tiles)) = (&a.scale.database, &a.scale.tiles) else {
        bail!("vouch log migrate needs --database and --tiles (the target backend)");
    };
    check_database_url(db)?;
    match (&a.from, &a.instance) {
        (Some(from), None) => migrate_one(from, db, tiles),
        (None, Some(data)) => migrate_instance(data, db, tiles),
        _ => bail!("pass --from DIR (one embedded log) or --instance DIR (a vouch up --data)"),
    }
}

fn migrate_one(from: &Path, db: &str, tiles: &str) -> Result<()> {
    let source = open_source(from)?;
    let Some(cp) = source.checkpoint.clone() else {
        bail!("the log in {} is empty: nothing to migrate", from.display());
    };
    let target = open_target(&source, db, None, tiles)?;
    let copied = copy_log(&source, &target, &cp)?;
    report(
        &source,
        &copied,
        &format!("{} + {}", redacted(db), redacted(tiles)),
    );
    Ok(())
}

/// `vouch log migrate --instance`: both logs of a `vouch up --data`, the transparency log into
/// the database's default schema and `tiles`, the CT log into [`UP_CT_SCHEMA`] and
/// `<tiles>/`[`UP_CT_PREFIX`] (where `vouch up --database --tiles` opens them). Both targets
/// are checked before anything is copied; the marker is written once both are verified, and
/// only then are the embedded files set aside.
fn migrate_instance(data: &Path, db: &str, tiles: &str) -> Result<()> {
    if !data.join("instance.json").exists() {
        return Err(hinted(
            format!(
                "--instance {}: no instance.json, so not a vouch up data directory",
                data.display()
            ),
            "name the --data directory of vouch up, or migrate one log with --from DIR",
        ));
    }
    let marker = data.join(SCALE_MARKER);
    let dirs = [data.join("log"), data.join("ct")];
    if marker.exists() {
        let m = ScaleMarker::read(&marker)?;
        // The marker is written only once both copies are verified: embedded files beside it
        // are those of a migration that stopped before setting them aside.
        let left = dirs
            .iter()
            .any(|d| EMBEDDED_FILES.iter().any(|f| d.join(f).exists()));
        if left && m == ScaleMarker::new(db, tiles) {
            for d in &dirs {
                set_aside(d)?;
            }
            println!(
                "finished an interrupted migration of {}: its embedded log files are now in log/{PRE_SCALE_DIR} and ct/{PRE_SCALE_DIR}",
                data.display()
            );
            return Ok(());
        }
        return Err(hinted(
            format!(
                "--instance {}: its logs are already on PostgreSQL {} + object store {} ({})",
                data.display(),
                m.database,
                m.tiles,
                marker.display()
            ),
            "start vouch up with that --database and --tiles",
        ));
    }
    for d in &dirs {
        let aside = d.join(PRE_SCALE_DIR);
        if aside.exists() {
            return Err(hinted(
                format!(
                    "{} exists: refusing to set this instance's embedded files aside over it",
                    aside.display()
                ),
                "move it out of the way (it holds the files of an earlier migration)",
            ));
        }
    }
    let [log_dir, ct_dir] = &dirs;
    let log = open_source(log_dir)?;
    let ct = open_source(ct_dir)?;
    let ct_tiles = tiles_under(tiles, UP_CT_PREFIX)?;
    let log_target = open_target(&log, db, None, tiles)?;
    let ct_target = open_target(&ct, db, Some(UP_CT_SCHEMA), &ct_tiles)?;
    for (source, target, to, what) in [
        (
            &log,
            &log_target,
            format!("{} + {}", redacted(db), redacted(tiles)),
            "transparency log",
        ),
        (
            &ct,
            &ct_target,
            format!(
                "{} (schema {UP_CT_SCHEMA}) + {}",
                redacted(db),
                redacted(&ct_tiles)
            ),
            "CT log",
        ),
    ] {
        match &source.checkpoint {
            Some(cp) => {
                let copied = copy_log(source, target, cp).map_err(|e| {
                    hinted(
                        format!("migrating the {what} of {}: {e:#}", data.display()),
                        "nothing of the instance was changed: drop what was copied (the database's tables and the bucket prefix) and migrate again",
                    )
                })?;
                report(source, &copied, &to);
            }
            None => println!(
                "the {what} ({}) has no entries: recorded in {to}, it starts there empty",
                source.settings.origin
            ),
        }
    }
    drop((log, ct, log_target, ct_target));
    ScaleMarker::new(db, tiles).write(&marker)?;
    for d in &dirs {
        set_aside(d)?;
    }
    println!(
        "{} now runs on the scale backend (recorded in {}); its embedded log files are in log/{PRE_SCALE_DIR} and ct/{PRE_SCALE_DIR} (delete them once the instance runs)",
        data.display(),
        marker.display()
    );
    println!(
        "start it with: vouch up --data {} --database '{}' --tiles '{}' (the same --port and --public-host as before)",
        data.display(),
        without_password(db),
        without_password(tiles)
    );
    Ok(())
}

/// Move an embedded log's files (not its key) into `<dir>/pre-scale/`.
fn set_aside(dir: &Path) -> Result<()> {
    let aside = dir.join(PRE_SCALE_DIR);
    std::fs::create_dir_all(&aside)
        .with_context(|| format!("cannot create {}", aside.display()))?;
    for name in EMBEDDED_FILES {
        let from = dir.join(name);
        if from.exists() {
            std::fs::rename(&from, aside.join(name)).with_context(|| {
                format!("cannot move {} into {}", from.display(), aside.display())
            })?;
        }
    }
    for d in [dir, aside.as_path()] {
        vouch_fs::sync_dir(d).map_err(|e| anyhow!("cannot sync {}: {e}", d.display()))?;
    }
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
