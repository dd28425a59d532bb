//! `vouch log …`: a client of a transparency log's C2SP tlog-tiles read API (and, for search,
//! of the Rekor v1 index API).
//!
//! Proofs are not taken from the server: they are computed here from the hash tiles it
//! serves, with the same code the log uses ([`vouch_core::tiles`]), and verified with
//! [`vouch_core::merkle`] against the (optionally signature-checked) checkpoint.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vouch_core::encoding::b64_encode;
use vouch_core::keys::PublicKey;
use vouch_core::merkle::{self, Hash, ProofError};
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::rekor::{SearchIndex, SearchPublicKey};
use vouch_core::tiles::{self, NodeSource, TILE_WIDTH, TileId};

/// An error with a one-line hint for the user (printed by `main` as `hint: …`).
#[derive(Debug)]
pub struct Hinted {
    message: String,
    hint: String,
}

impl Hinted {
    /// The hint.
    pub fn hint(&self) -> &str {
        &self.hint
    }
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Build an error carrying a hint.
pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        message: message.into(),
        hint: hint.into(),
    })
}

/// `vouch log …` subcommands.
#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Show the log's current checkpoint: origin, size, root, and whether its signature verifies.
    Info(InfoArgs),
    /// Fetch one entry from the entry bundle tiles, decode it, and verify its inclusion.
    Get(GetArgs),
    /// Check that the log is consistent with an older checkpoint (it only grew).
    Verify(VerifyArgs),
    /// Search the log's index (Rekor v1 `POST /api/v1/index/retrieve`) and print entry UUIDs.
    Search(SearchArgs),
    /// Copy an embedded log (`--from DIR`, a transparency or CT log) or both logs of a `vouch
    /// up` instance (`--instance DIR`) into the scale-out backend (`--database`, `--tiles`),
    /// verifying each rebuilt root against the source's signed checkpoint.
    Migrate(crate::scale::MigrateArgs),
}

/// Flags shared by the read commands.
#[derive(Args, Debug)]
pub struct LogTarget {
    /// Base URL of the log (its tlog-tiles prefix, e.g. http://127.0.0.1:3001).
    #[arg(long)]
    url: String,
    /// The log's public key (PEM) to verify checkpoint signatures with.
    #[arg(long)]
    public_key: Option<PathBuf>,
}

/// `vouch log info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    target: LogTarget,
}

/// `vouch log get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    target: LogTarget,
    /// Index of the entry.
    #[arg(long, required_unless_present = "uuid", conflicts_with = "uuid")]
    index: Option<u64>,
    /// Rekor v1 entry UUID (64 or 80 hex), resolved with `GET /api/v1/log/entries/<uuid>`.
    #[arg(long)]
    uuid: Option<String>,
}

/// `vouch log verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    target: LogTarget,
    /// A checkpoint saved earlier (signed note text, e.g. the body of `<url>/checkpoint`).
    #[arg(long)]
    from_checkpoint: PathBuf,
}

/// `vouch log search`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("query").required(true).args(["sha256", "email", "public_key"])))]
pub struct SearchArgs {
    /// Base URL of the log.
    #[arg(long)]
    url: String,
    /// Artifact digest (64 hex).
    #[arg(long)]
    sha256: Option<String>,
    /// Signer email (from Fulcio certificates).
    #[arg(long)]
    email: Option<String>,
    /// Signer public key (PEM file).
    #[arg(long)]
    public_key: Option<PathBuf>,
}

/// Run a `vouch log` subcommand.
pub fn run(cmd: LogCommand) -> Result<()> {
    match cmd {
        LogCommand::Info(a) => info(&a.target),
        LogCommand::Get(a) => get(&a),
        LogCommand::Verify(a) => verify(&a),
        LogCommand::Search(a) => search(&a),
        LogCommand::Migrate(a) => crate::scale::migrate(&a),
    }
}

/// Normalize a log URL: http(s) only, no trailing slash.
pub fn base_url(url: &str) -> Result<String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow!("invalid --url {url:?}: {e}"))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        bail!(
            "invalid --url {url:?}: only http:// and https:// URLs are supported, not {}:",
            parsed.scheme()
        );
    }
    if parsed.host_str().is_none() {
        bail!("invalid --url {url:?}: no host");
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// An HTTP client for one log, with its own small Tokio runtime (the CLI is synchronous).
pub struct LogClient {
    http: reqwest::Client,
    base: String,
    rt: tokio::runtime::Runtime,
}

/// Result of a GET: body on 200, `None` on 404.
type Fetched = Option<Vec<u8>>;

async fn get_bytes(http: &reqwest::Client, url: &str) -> Result<Fetched> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| request_error(url, &e))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let body = resp
        .bytes()
        .await
        .with_context(|| format!("reading the response from {url}"))?;
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}: {}", error_message(&body));
    }
    Ok(Some(body.to_vec()))
}

/// The `message` of a JSON error body, or the body itself (shortened).
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(m) = v.get("message").and_then(|m| m.as_str())
    {
        return m.to_string();
    }
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s.to_string()
    }
}

fn request_error(url: &str, e: &reqwest::Error) -> anyhow::Error {
    let mut msg = format!("cannot reach {url}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let c = s.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
        src = s.source();
    }
    if e.is_connect() {
        hinted(
            msg,
            "is the log running there? Start one with `vouch serve log`",
        )
    } else {
        anyhow!(msg)
    }
}

/// The log's current checkpoint, as served and parsed.
pub struct CurrentCheckpoint {
    /// The parsed note.
    pub note: SignedNote,
    /// The parsed checkpoint body.
    pub checkpoint: Checkpoint,
}

impl LogClient {
    /// A client for the log at `url`.
    pub fn new(url: &str) -> Result<Self> {
        let base = base_url(url)?;
        let http = reqwest::Client::builder()
            .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Self { http, base, rt })
    }

    /// GET `<base>/<path>`: the body, or `None` on 404.
    pub fn get(&self, path: &str) -> Result<Fetched> {
        let url = format!("{}/{path}", self.base);
        self.rt.block_on(get_bytes(&self.http, &url))
    }

    /// Fetch and parse `/checkpoint`.
    pub fn checkpoint(&self) -> Result<CurrentCheckpoint> {
        let body = self.get("checkpoint")?.ok_or_else(|| {
            hinted(
                format!("{}/checkpoint not found (HTTP 404)", self.base),
                "--url must be the log's tlog-tiles prefix, where /checkpoint and /tile/ are served",
            )
        })?;
        let note_text = String::from_utf8(body)
            .map_err(|_| anyhow!("{}/checkpoint is not UTF-8 text", self.base))?;
        let (note, checkpoint) = parse_checkpoint(&note_text)
            .with_context(|| format!("checkpoint from {}", self.base))?;
        Ok(CurrentCheckpoint { note, checkpoint })
    }

    /// Fetch a hash tile and check its size.
    fn hash_tile(&self, id: TileId) -> Result<Vec<Hash>> {
        let url = format!("{}/{}", self.base, id.path());
        self.rt.block_on(fetch_hash_tile(&self.http, url, id))
    }

    /// Fetch many hash tiles concurrently (at most 8 at a time), ticking `progress`.
    fn hash_tiles(
        &self,
        ids: Vec<TileId>,
        progress: &ProgressBar,
    ) -> Result<Vec<(TileId, Vec<Hash>)>> {
        self.rt.block_on(async {
            let mut out = Vec::with_capacity(ids.len());
            let mut set = tokio::task::JoinSet::new();
            let mut pending = ids.into_iter();
            let mut start_next = |set: &mut tokio::task::JoinSet<_>| {
                if let Some(id) = pending.next() {
                    let http = self.http.clone();
                    let url = format!("{}/{}", self.base, id.path());
                    set.spawn(async move { (id, fetch_hash_tile(&http, url, id).await) });
                }
            };
            for _ in 0..8 {
                start_next(&mut set);
            }
            while let Some(joined) = set.join_next().await {
                let (id, res) = joined.map_err(|e| anyhow!("tile fetch task failed: {e}"))?;
                out.push((id, res?));
                progress.inc(1);
                start_next(&mut set);
            }
            Ok(out)
        })
    }

    /// The body of the entry at `index` in the tree of `size` leaves, from its entry bundle.
    pub fn entry(&self, index: u64, size: u64) -> Result<(TileId, Vec<u8>)> {
        let id = bundle_for(index, size)?;
        let bundle = self.get(&id.entries_path())?.ok_or_else(|| {
            anyhow!(
                "{}/{} not found: the log does not serve the entry bundle its checkpoint covers",
                self.base,
                id.entries_path()
            )
        })?;
        let entries =
            parse_bundle(&bundle).with_context(|| format!("entry bundle {}", id.entries_path()))?;
        if entries.len() != usize::from(id.width) {
            bail!(
                "entry bundle {} holds {} entries, expected {}",
                id.entries_path(),
                entries.len(),
                id.width
            );
        }
        let pos = usize::try_from(index % TILE_WIDTH).unwrap_or(usize::MAX);
        let body = entries
            .into_iter()
            .nth(pos)
            .ok_or_else(|| anyhow!("entry {index} missing from {}", id.entries_path()))?;
        Ok((id, body))
    }
}

async fn fetch_hash_tile(http: &reqwest::Client, url: String, id: TileId) -> Result<Vec<Hash>> {
    let bytes = get_bytes(http, &url)
        .await?
        .ok_or_else(|| anyhow!("tile {url} not found (HTTP 404)"))?;
    let want = usize::from(id.width) * tiles::HASH_SIZE;
    if bytes.len() != want {
        bail!(
            "tile {url} is {} bytes, expected {want} for width {}",
            bytes.len(),
            id.width
        );
    }
    Ok(bytes
        .chunks_exact(tiles::HASH_SIZE)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// The entry bundle tile holding `index` for a tree of `size` leaves.
pub fn bundle_for(index: u64, size: u64) -> Result<TileId> {
    if index >= size {
        bail!("index {index} is beyond the log: its checkpoint has {size} entries");
    }
    let n = index / TILE_WIDTH;
    let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
    Ok(TileId {
        level: 0,
        index: n,
        width: u16::try_from(width).unwrap_or(256),
    })
}

/// Parse a tlog-tiles entry bundle (`u16 length || bytes`, repeated).
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    tiles::parse_entry_bundle(bytes).map_err(|e| anyhow!("entry bundle: {e}"))
}

/// Parse a signed checkpoint note.
pub fn parse_checkpoint(text: &str) -> Result<(SignedNote, Checkpoint)> {
    let note = SignedNote::parse(text)?;
    let cp = Checkpoint::parse(&note.text)?;
    Ok((note, cp))
}

/// Most tiles kept in memory by [`HttpTiles`] before its cache is emptied.
const CACHE_TILES: usize = 4096;

/// A [`NodeSource`] over hash tiles fetched over HTTP, for the tree of one checkpoint size,
/// with a small cache (tiles can be prefetched concurrently).
pub struct HttpTiles<'a> {
    client: &'a LogClient,
    size: u64,
    cache: HashMap<TileId, Arc<Vec<Hash>>>,
    fetched: usize,
    error: Option<anyhow::Error>,
}

impl<'a> HttpTiles<'a> {
    /// Tiles of the tree of `size` leaves served by `client`.
    pub fn new(client: &'a LogClient, size: u64) -> Self {
        Self {
            client,
            size,
            cache: HashMap::new(),
            fetched: 0,
            error: None,
        }
    }

    fn insert(&mut self, id: TileId, hashes: Vec<Hash>) {
        if self.cache.len() >= CACHE_TILES {
            self.cache.clear();
        }
        self.cache.insert(id, Arc::new(hashes));
    }

    /// Fetch, concurrently, every tile `compute` will need, with a progress bar on a TTY.
    pub fn prefetch<T>(
        &mut self,
        what: &str,
        compute: impl Fn(&mut dyn FnMut(u32, u64) -> Result<Hash, ProofError>) -> T,
    ) -> Result<()> {
        let mut planner = tiles::TilePlanner::new(self.size);
        compute(&mut |h, i| planner.node(h, i));
        let todo: Vec<TileId> = planner
            .tiles
            .into_iter()
            .filter(|t| !self.cache.contains_key(t))
            .collect();
        let progress = progress_bar(todo.len() as u64, what);
        let got = self.client.hash_tiles(todo, &progress);
        progress.finish_and_clear();
        for (id, hashes) in got? {
            self.fetched += 1;
            self.insert(id, hashes);
        }
        Ok(())
    }

    /// Tiles fetched so far.
    pub fn fetched(&self) -> usize {
        self.fetched
    }

    /// Turn a proof error into the fetch error behind it, if there was one.
    pub fn error(&mut self, e: ProofError) -> anyhow::Error {
        self.error.take().unwrap_or_else(|| e.into())
    }

    fn tile(&mut self, id: TileId) -> Result<Arc<Vec<Hash>>> {
        if let Some(t) = self.cache.get(&id) {
            return Ok(t.clone());
        }
        let hashes = self.client.hash_tile(id)?;
        self.fetched += 1;
        self.insert(id, hashes);
        self.cache
            .get(&id)
            .cloned()
            .ok_or_else(|| anyhow!("tile cache lost {}", id.path()))
    }
}

impl NodeSource for HttpTiles<'_> {
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        let missing = ProofError::IndexOutOfRange {
            index,
            size: self.size,
        };
        let (id, first, count) = tiles::tile_for_node(height, index, self.size).ok_or(missing)?;
        let t = match self.tile(id) {
            Ok(t) => t,
            Err(e) => {
                self.error = Some(e);
                return Err(ProofError::IndexOutOfRange {
                    index,
                    size: self.size,
                });
            }
        };
        match t.get(first..first + count) {
            Some(run) => Ok(tiles::hash_run(run)),
            None => Err(ProofError::IndexOutOfRange {
                index,
                size: self.size,
            }),
        }
    }
}

/// Adapter so closures can drive the generic proof functions.
struct FnSource<'f>(&'f mut dyn FnMut(u32, u64) -> Result<Hash, ProofError>);

impl NodeSource for FnSource<'_> {
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        (self.0)(height, index)
    }
}

pub(crate) fn progress_bar(len: u64, what: &str) -> ProgressBar {
    if len < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} tiles ({elapsed})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

/// Load a PEM public key and build the note verifier for `origin`.
fn note_verifier(path: &Path, origin: &str) -> Result<(PublicKey, NoteVerifier)> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read public key {}", path.display()))?;
    let key =
        PublicKey::from_pem(&pem).with_context(|| format!("public key {}", path.display()))?;
    let v = NoteVerifier::for_log_key(origin, &key)
        .with_context(|| format!("public key {}", path.display()))?;
    Ok((key, v))
}

/// Verify the checkpoint's signature when a key was given; returns whether it was checked.
fn check_signature(
    what: &str,
    note: &SignedNote,
    cp: &Checkpoint,
    key: Option<&Path>,
) -> Result<bool> {
    let Some(path) = key else { return Ok(false) };
    let (_, v) = note_verifier(path, &cp.origin)?;
    note.verify(&v).map_err(|e| {
        hinted(
            format!("{what}: {e}"),
            "the checkpoint was not signed by this key for this origin, or it was altered",
        )
    })?;
    Ok(true)
}

fn info(t: &LogTarget) -> Result<()> {
    let client = LogClient::new(&t.url)?;
    let cur = client.checkpoint()?;
    let cp = &cur.checkpoint;
    println!("URL: {}", client.base);
    println!("Origin: {}", cp.origin);
    println!("Tree size: {}", cp.size);
    println!("Root hash: {}", hex::encode(cp.root_hash));
    println!("Root hash (base64): {}", b64_encode(&cp.root_hash));
    for s in &cur.note.signatures {
        println!("Signature: {} (key ID {:08x})", s.name, s.key_id);
    }
    if let Some(path) = &t.public_key {
        let (key, v) = note_verifier(path, &cp.origin)?;
        println!("Public key: {} {}", key.kind().name(), path.display());
        println!("Log ID: {}", hex::encode(v.key_hash));
        cur.note.verify(&v).map_err(|e| {
            hinted(
                format!("checkpoint: {e}"),
                "the checkpoint was not signed by this key for this origin, or it was altered",
            )
        })?;
        println!("checkpoint signature OK");
    } else {
        println!("checkpoint signature not checked (pass --public-key to verify it)");
    }
    Ok(())
}

/// Resolve a Rekor v1 UUID to its log index.
fn index_of_uuid(client: &LogClient, uuid: &str) -> Result<u64> {
    let u = uuid.trim();
    if !(u.len() == 64 || u.len() == 80) || !u.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("invalid --uuid {uuid:?}: expected 64 or 80 hex digits");
    }
    let body = client
        .get(&format!("api/v1/log/entries/{u}"))?
        .ok_or_else(|| {
            anyhow!("no entry with UUID {u} (or the log does not serve the Rekor v1 API)")
        })?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| anyhow!("Rekor v1 entry response is not JSON: {e}"))?;
    v.as_object()
        .and_then(|o| o.values().next())
        .and_then(|e| e.get("logIndex"))
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| anyhow!("Rekor v1 entry response has no logIndex"))
}

fn get(a: &GetArgs) -> Result<()> {
    let client = LogClient::new(&a.target.url)?;
    let cur = client.checkpoint()?;
    let cp = &cur.checkpoint;
    let sig_checked = check_signature("checkpoint", &cur.note, cp, a.target.public_key.as_deref())?;
    let index = match (a.index, &a.uuid) {
        (Some(i), _) => i,
        (None, Some(u)) => index_of_uuid(&client, u)?,
        (None, None) => bail!("pass --index or --uuid"),
    };
    let (bundle, body) = client.entry(index, cp.size)?;
    let leaf = merkle::leaf_hash(&body);

    let mut src = HttpTiles::new(&client, cp.size);
    let size = cp.size;
    src.prefetch("fetching tiles", |node| {
        tiles::inclusion_proof(&mut FnSource(node), index, size)
    })?;
    let proof = tiles::inclusion_proof(&mut src, index, size).map_err(|e| src.error(e))?;
    merkle::verify_inclusion(index, size, &leaf, &proof, &cp.root_hash).map_err(|e| {
        hinted(
            format!("entry {index} is not included in the checkpoint: {e}"),
            "the log's tiles disagree with its checkpoint: the log is misbehaving or the data is corrupt",
        )
    })?;

    println!("Index: {index}");
    println!("Origin: {}", cp.origin);
    println!("Tree size: {size}");
    println!("Root hash: {}", hex::encode(cp.root_hash));
    println!("Leaf hash: {}", hex::encode(leaf));
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => {
            if let (Some(k), Some(ver)) = (
                v.get("kind").and_then(|k| k.as_str()),
                v.get("apiVersion").and_then(|k| k.as_str()),
            ) {
                println!("Kind: {k} {ver}");
            }
            println!("Body:");
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Err(_) => println!("Body (base64, not JSON): {}", b64_encode(&body)),
    }
    println!("Checks:");
    if sig_checked {
        println!("  checkpoint signature OK");
    } else {
        println!("  checkpoint signature not checked (pass --public-key to verify it)");
    }
    println!("  entry read from {}", bundle.entries_path());
    println!(
        "  inclusion proof OK: {} hashes computed from {} hash tiles, leaf hash leads to the checkpoint root",
        proof.len(),
        src.fetched()
    );
    Ok(())
}

fn verify(a: &VerifyArgs) -> Result<()> {
    let old_text = std::fs::read_to_string(&a.from_checkpoint)
        .with_context(|| format!("cannot read checkpoint {}", a.from_checkpoint.display()))?;
    let (old_note, old) = parse_checkpoint(&old_text)
        .with_context(|| format!("checkpoint {}", a.from_checkpoint.display()))?;
    let key = a.target.public_key.as_deref();
    let old_checked = check_signature(
        &format!("old checkpoint {}", a.from_checkpoint.display()),
        &old_note,
        &old,
        key,
    )?;
    let client = LogClient::new(&a.target.url)?;
    let cur = client.checkpoint()?;
    let new = &cur.checkpoint;
    check_signature("current checkpoint", &cur.note, new, key)?;
    if old.origin != new.origin {
        return Err(hinted(
            format!(
                "the old checkpoint is for origin {:?}, the log at {} is {:?}",
                old.origin, client.base, new.origin
            ),
            "the checkpoint comes from another log",
        ));
    }
    if old.size > new.size {
        return Err(hinted(
            format!(
                "the log shrank: the old checkpoint has {} entries, the current one {}",
                old.size, new.size
            ),
            "a log never shrinks: keep both checkpoints as evidence of misbehaviour",
        ));
    }
    let mut src = HttpTiles::new(&client, new.size);
    let (m, n) = (old.size, new.size);
    src.prefetch("fetching tiles", |node| {
        tiles::consistency_proof(&mut FnSource(node), m, n)
    })?;
    let proof = tiles::consistency_proof(&mut src, m, n).map_err(|e| src.error(e))?;
    merkle::verify_consistency(m, n, &old.root_hash, &new.root_hash, &proof).map_err(|e| {
        hinted(
            format!("the log is not consistent with {}: {e}", a.from_checkpoint.display()),
            "either the saved checkpoint was altered or the log rewrote its history: keep both checkpoints as evidence",
        )
    })?;
    let sigs = if old_checked {
        "signatures OK"
    } else {
        "signatures not checked (pass --public-key)"
    };
    println!("Origin: {}", new.origin);
    println!(
        "Old checkpoint: size {m}, root {}",
        hex::encode(old.root_hash)
    );
    println!(
        "Current checkpoint: size {n}, root {}",
        hex::encode(new.root_hash)
    );
    println!("Checkpoint {sigs}");
    println!(
        "consistency proof OK: {} hashes computed from {} hash tiles; the log only appended {} entries",
        proof.len(),
        src.fetched(),
        n - m
    );
    Ok(())
}

fn search(a: &SearchArgs) -> Result<()> {
    let query = if let Some(h) = &a.sha256 {
        let h = h.strip_prefix("sha256:").unwrap_or(h).to_ascii_lowercase();
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("invalid --sha256: expected 64 hex digits");
        }
        SearchIndex {
            hash: Some(format!("sha256:{h}")),
            ..Default::default()
        }
    } else if let Some(e) = &a.email {
        if !e.contains('@') {
            bail!("invalid --email {e:?}: expected an address like a@b.example");
        }
        SearchIndex {
            email: Some(e.clone()),
            ..Default::default()
        }
    } else if let Some(p) = &a.public_key {
        let pem = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read public key {}", p.display()))?;
        PublicKey::from_pem(&pem).with_context(|| format!("public key {}", p.display()))?;
        SearchIndex {
            public_key: Some(SearchPublicKey {
                format: Some("x509".into()),
                content: Some(b64_encode(pem.as_bytes())),
                url: None,
            }),
            ..Default::default()
        }
    } else {
        bail!("pass one of --sha256, --email, --public-key");
    };
    let client = LogClient::new(&a.url)?;
    let url = format!("{}/api/v1/index/retrieve", client.base);
    let (status, body) = client.rt.block_on(async {
        let resp = client
            .http
            .post(&url)
            .json(&query)
            .send()
            .await
            .map_err(|e| request_error(&url, &e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("reading the response from {url}"))?;
        Ok::<_, anyhow::Error>((status, body))
    })?;
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(hinted(
            format!("{url} not found (HTTP 404): this log does not serve the Rekor v1 search API"),
            "search needs a log with the Rekor v1 API; tlog-tiles logs can only be read by index",
        ));
    }
    if !status.is_success() {
        bail!("search failed: HTTP {status}: {}", error_message(&body));
    }
    let uuids: Vec<String> = serde_json::from_slice(&body)
        .map_err(|e| anyhow!("search response is not a JSON list of UUIDs: {e}"))?;
    if uuids.is_empty() {
        eprintln!("no entries found");
    }
    for u in uuids {
        println!("{u}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_tiles() {
        let t = bundle_for(0, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.entries_path(), "tile/entries/000.p/1");
        let t = bundle_for(300, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.entries_path(), "tile/entries/001");
        let t = bundle_for(999, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.entries_path(), "tile/entries/003.p/232");
        assert!(bundle_for(1000, 1000).is_err());
    }

    #[test]
    fn bundles_parse() {
        let b = [0u8, 2, b'h', b'i', 0, 0, 0, 1, b'x'];
        assert_eq!(
            parse_bundle(&b).unwrap_or_default(),
            vec![b"hi".to_vec(), Vec::new(), b"x".to_vec()]
        );
        assert!(parse_bundle(&[0, 3, b'a']).is_err());
        assert!(parse_bundle(&[0]).is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            base_url("http://127.0.0.1:3001/").unwrap_or_default(),
            "http://127.0.0.1:3001"
        );
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("127.0.0.1:3001").is_err());
    }
}
