//! `vouch serve witness` (a C2SP tlog-witness over one or more logs) and `vouch witness key`
//! (print the witness's vkeys).

use crate::bench::LoadStats;
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vouch_core::merkle::{self, Hash};
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::tiles::{self, NodeSource};
use vouch_core::witness::{AddCheckpointRequest, parse_cosignature_lines};
use vouch_witness::{LogConfig, NameConflict, Settings, Witness, WitnessKeys};

/// `vouch serve witness`.
#[derive(Args, Debug)]
pub struct ServeWitnessArgs {
    /// Data directory: keys, settings and the latest cosigned checkpoint of each log (created
    /// if missing).
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:3010")]
    listen: String,
    /// A log to witness: '<origin> <vkey>' (its checkpoint origin and its Ed25519 note vkey).
    /// Repeatable.
    #[arg(long = "log", value_name = "ORIGIN VKEY", required = true)]
    logs: Vec<String>,
    /// The witness's name on first start (its key name) [default: vouch-witness/<random>].
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    server: crate::listen::ServerArgs,
}

/// `vouch witness …` subcommands.
#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Print the witness's vkeys (Ed25519 cosignature/v1, then ML-DSA-44 subtree/v1),
    /// generating the keys if the directory has none yet.
    Key {
        /// The witness's data directory.
        dir: PathBuf,
        /// The witness's name when the keys are generated here.
        #[arg(long)]
        name: Option<String>,
    },
}

/// Read a C2SP tlog-policy file given as `--witness-policy`.
pub fn load_policy(p: &Path) -> Result<vouch_core::tlog_policy::WitnessPolicy> {
    load_policy_digested(p).map(|(policy, _)| policy)
}

/// [`load_policy`], with the SHA-256 of the file (`sha256:<hex>`): what a cache of
/// verifications made under the policy is keyed by.
pub fn load_policy_digested(p: &Path) -> Result<(vouch_core::tlog_policy::WitnessPolicy, String)> {
    let text = std::fs::read(p)
        .with_context(|| format!("cannot read --witness-policy {}", p.display()))?;
    let policy = vouch_core::tlog_policy::WitnessPolicy::parse(&text)
        .with_context(|| format!("--witness-policy {}", p.display()))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &text);
    Ok((policy, format!("sha256:{}", hex::encode(digest.as_ref()))))
}

fn parse_log(s: &str) -> Result<LogConfig> {
    let mut it = s.split_whitespace();
    let (Some(origin), Some(vkey), None) = (it.next(), it.next(), it.next()) else {
        return Err(hinted(
            format!("--log {s:?} is not '<origin> <vkey>'"),
            "e.g. --log 'log.example.test/2026 log.example.test/2026+1a2b3c4d+AbC…' (the log prints its vkey)",
        ));
    };
    crate::serve::check_origin(origin)?;
    let verifier = NoteVerifier::from_vkey(vkey).map_err(|e| anyhow!("--log {origin}: {e}"))?;
    Ok(LogConfig {
        origin: origin.to_string(),
        verifier,
    })
}

fn open_keys(dir: &Path, name: Option<&str>) -> Result<(Settings, WitnessKeys, bool)> {
    if dir.exists() && !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let settings = Settings::load_or_create(dir, name).map_err(|e| match e {
        NameConflict::Differs { .. } => hinted(
            e.to_string(),
            "a witness's name never changes (its key IDs commit to it): drop --name, or use another directory",
        ),
        e => anyhow!(e),
    })?;
    let (keys, generated) = WitnessKeys::load_or_generate(dir, &settings.name)
        .with_context(|| format!("witness keys in {}", dir.display()))?;
    Ok((settings, keys, generated))
}

fn vkeys(keys: &WitnessKeys) -> String {
    keys.public_keys()
        .iter()
        .map(|k| format!("{}\n", k.to_vkey()))
        .collect()
}

/// Run `vouch witness …`.
pub fn run(cmd: WitnessCommand) -> Result<()> {
    match cmd {
        WitnessCommand::Key { dir, name } => {
            let (_, keys, generated) = open_keys(&dir, name.as_deref())?;
            if generated {
                eprintln!("generated new witness keys in {}", dir.display());
            }
            print!("{}", vkeys(&keys));
            Ok(())
        }
    }
}

/// Run `vouch serve witness` until SIGINT or SIGTERM.
pub fn serve(a: &ServeWitnessArgs) -> Result<()> {
    let logs = a
        .logs
        .iter()
        .map(|s| parse_log(s))
        .collect::<Result<Vec<_>>>()?;
    let (settings, keys, _) = open_keys(&a.data, a.name.as_deref())?;
    let witness = Witness::open(&a.data, keys, logs)
        .with_context(|| format!("cannot open the witness in {}", a.data.display()))?;
    let witness = Arc::new(witness);
    crate::serve::init_tracing();
    let rt = vouch_server::runtime("vouch-witness")?;
    rt.block_on(async move {
        let server = a
            .server
            .bind(
                "witness",
                &a.listen,
                vouch_core::witness::MAX_ADD_CHECKPOINT_LEN,
            )
            .await?;
        let url = server.url();
        let mut out = format!("vouch witness listening on {url}\nname: {}\n", settings.name);
        for o in witness.origins() {
            out.push_str(&format!(
                "log: {o} (latest cosigned size {})\n",
                witness
                    .latest_size(o)
                    .map_or_else(|| "none".to_string(), |s| s.to_string())
            ));
        }
        out.push_str("vkeys:\n");
        out.push_str(&vkeys(witness.keys()));
        print!("{out}");
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        tracing::info!(%url, name = %settings.name, logs = witness.origins().len(), "witness started");
        let app = vouch_witness::api::router(witness.clone());
        server.serve(app, crate::serve::shutdown_signal()).await;
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// `vouch bench witness`.
#[derive(Args, Debug)]
pub struct BenchWitnessArgs {
    /// Base URL of the witness (loopback only: this is a load generator).
    #[arg(long, required_unless_present = "print_logs")]
    url: Option<String>,
    /// The benchmark logs' Ed25519 checkpoint key (PKCS#8 DER; generated, mode 0600, if
    /// missing). A key for benchmarks only: never a real log's.
    #[arg(long, value_name = "FILE")]
    log_key: PathBuf,
    /// Concurrent clients, each pushing the checkpoints of its own benchmark log
    /// (`<ORIGIN_PREFIX>/<i>`): a witness takes one log's checkpoints one at a time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    clients: u32,
    /// Origin prefix of the benchmark logs.
    #[arg(long, default_value = "bench.vouch.test/witness")]
    origin_prefix: String,
    /// Entries each checkpoint adds to its log.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=65536))]
    growth: u32,
    /// How long to push checkpoints, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = crate::serve::parse_duration)]
    duration: Duration,
    /// Print the `vouch serve witness --log` value of each of the --clients benchmark logs,
    /// one per line, and exit.
    #[arg(long)]
    print_logs: bool,
    /// PID of the witness under load (on this machine): also print its CPU time per
    /// checkpoint and the efficiency against one Ed25519 note verification and the two
    /// cosignatures (Ed25519 and ML-DSA-44, timed with the witness's own signing code).
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
}

/// The benchmark logs' Merkle tree. Leaf `i` is the same for every log, so each log is a
/// prefix of this one tree, and a bench restarted against the same witness rebuilds what it
/// cosigned. Every complete subtree is kept (about two hashes per leaf), so roots and
/// consistency proofs are `O(log n)` lookups through vouch-core's proof code.
#[derive(Debug, Default)]
struct BenchTree {
    /// `levels[h][i]`: the hash of the perfect subtree of height `h` at index `i`.
    levels: Vec<Vec<Hash>>,
}

impl BenchTree {
    fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Append leaves up to `size`.
    fn grow_to(&mut self, size: u64) {
        while self.size() < size {
            let i = self.size();
            let mut hash = merkle::leaf_hash(format!("vouch bench witness leaf {i}").as_bytes());
            let mut level = 0;
            loop {
                if self.levels.len() == level {
                    self.levels.push(Vec::new());
                }
                let row = &mut self.levels[level];
                row.push(hash);
                let n = row.len();
                if n % 2 == 1 {
                    break;
                }
                hash = merkle::node_hash(&row[n - 2], &row[n - 1]);
                level += 1;
            }
        }
    }

    /// The root of the first `new` leaves and the consistency proof from `old` to it.
    fn step(&mut self, old: u64, new: u64) -> Result<(Hash, Vec<Hash>), merkle::ProofError> {
        self.grow_to(new);
        let root = tiles::tree_root(self, new)?;
        let proof = tiles::consistency_proof(self, old, new)?;
        Ok((root, proof))
    }
}

impl NodeSource for BenchTree {
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, merkle::ProofError> {
        let size = self.size();
        usize::try_from(height)
            .ok()
            .and_then(|h| self.levels.get(h))
            .and_then(|row| row.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(merkle::ProofError::IndexOutOfRange { index, size })
    }
}

/// One benchmark log: its signer and the size the witness last cosigned.
struct BenchLog {
    signer: vouch_log::LogSigner,
    size: u64,
}

/// Shared state of the witness load clients.
struct WitnessRun {
    stats: Arc<LoadStats>,
    tree: Mutex<BenchTree>,
    growth: u64,
    add_url: String,
}

/// The key file's PKCS#8, generated and written durably (mode 0600) on first use.
fn bench_log_key(path: &Path) -> Result<Vec<u8>> {
    if let Some(der) =
        vouch_fs::read_optional(path).with_context(|| format!("--log-key {}", path.display()))?
    {
        return Ok(der);
    }
    let der =
        aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| anyhow!("cannot generate an Ed25519 key"))?
            .as_ref()
            .to_vec();
    vouch_fs::write_durably(path, &der, vouch_fs::Access::Private)
        .with_context(|| format!("writing --log-key {}", path.display()))?;
    eprintln!("generated the benchmark logs' key in {}", path.display());
    Ok(der)
}

/// The benchmark logs `<prefix>/0` … `<prefix>/<n-1>`, all signed with `key`.
fn bench_logs(key: &Path, prefix: &str, n: u32) -> Result<Vec<BenchLog>> {
    let der = bench_log_key(key)?;
    (0..n)
        .map(|i| {
            let origin = format!("{prefix}/{i}");
            crate::serve::check_origin(&origin)?;
            let signer = vouch_log::LogSigner::from_pkcs8(&der, &origin)
                .map_err(|e| anyhow!("--log-key {}: {e}", key.display()))?;
            if signer.verifier().to_vkey().is_none() {
                bail!(
                    "--log-key {} is not an Ed25519 key (a witness takes Ed25519 note keys)",
                    key.display()
                );
            }
            Ok(BenchLog { signer, size: 0 })
        })
        .collect()
}

/// The `add-checkpoint` body moving `log` from its size to `new`.
fn checkpoint_request(tree: &Mutex<BenchTree>, log: &BenchLog, new: u64) -> Result<String> {
    let (root, proof) = {
        let mut t = tree
            .lock()
            .map_err(|_| anyhow!("the benchmark tree's lock is poisoned"))?;
        t.step(log.size, new)?
    };
    let cp = Checkpoint {
        origin: log.signer.origin().to_string(),
        size: new,
        root_hash: root,
        extensions: Vec::new(),
    };
    let note = SignedNote::parse(&log.signer.sign_checkpoint(&cp)?)?;
    Ok(AddCheckpointRequest {
        old_size: log.size,
        proof,
        checkpoint: note,
    }
    .to_text())
}

/// POST one `add-checkpoint`; success is a 200 with cosignature lines.
async fn post_checkpoint(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    body: String,
) -> Result<(), String> {
    let r = http
        .post(url)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url} ({origin}): {e}"))?;
    let status = r.status();
    let text = r
        .text()
        .await
        .map_err(|e| format!("POST {url} ({origin}): reading the answer: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("{origin}: HTTP {status}: {}", text.trim()));
    }
    match parse_cosignature_lines(&text) {
        Ok(lines) if !lines.is_empty() => Ok(()),
        Ok(_) => Err(format!("{origin}: HTTP 200 without a cosignature line")),
        Err(e) => Err(format!(
            "{origin}: the answer is not cosignature lines: {e}"
        )),
    }
}

/// Where the witness stands on `log`: its latest cosigned checkpoint must be one of this
/// bench's (our key, our tree); then the bench continues from its size.
async fn witness_position(
    http: &reqwest::Client,
    base: &str,
    tree: &Mutex<BenchTree>,
    log: &mut BenchLog,
) -> Result<()> {
    let origin = log.signer.origin();
    let url = format!("{base}/{}/checkpoint", vouch_witness::origin_hash(origin));
    let r = http.get(&url).send().await.map_err(|e| {
        hinted(
            format!("cannot reach the witness at {base}: {e}"),
            "start it with `vouch serve witness` and pass its URL",
        )
    })?;
    let status = r.status();
    let text = r.text().await?;
    if status == reqwest::StatusCode::NOT_FOUND {
        log.size = 0;
        return Ok(());
    }
    if !status.is_success() {
        bail!("{url}: HTTP {status}: {}", text.trim());
    }
    let note = SignedNote::parse(&text).map_err(|e| anyhow!("{url}: {e}"))?;
    let cp = Checkpoint::parse(&note.text).map_err(|e| anyhow!("{url}: {e}"))?;
    let foreign = || {
        hinted(
            format!(
                "the witness's latest checkpoint of {origin} (size {}) is not from this bench's log key and tree",
                cp.size
            ),
            "give the witness a fresh --data directory, or use another --origin-prefix",
        )
    };
    note.verify(log.signer.verifier()).map_err(|_| foreign())?;
    let root = {
        let mut t = tree
            .lock()
            .map_err(|_| anyhow!("the benchmark tree's lock is poisoned"))?;
        t.step(0, cp.size)?.0
    };
    if root != cp.root_hash {
        return Err(foreign());
    }
    log.size = cp.size;
    Ok(())
}

async fn witness_client(
    http: reqwest::Client,
    mut log: BenchLog,
    run: Arc<WitnessRun>,
) -> Vec<u32> {
    let mut lat = Vec::new();
    while !run.stats.stop.load(Ordering::Relaxed) {
        let new = log.size + run.growth;
        let body = match checkpoint_request(&run.tree, &log, new) {
            Ok(b) => b,
            Err(e) => {
                run.stats.error(format!("{}: {e:#}", log.signer.origin()));
                break;
            }
        };
        let started = Instant::now();
        match post_checkpoint(&http, &run.add_url, log.signer.origin(), body).await {
            Ok(()) => {
                lat.push(crate::bench::elapsed_us(started));
                run.stats.ok.fetch_add(1, Ordering::Relaxed);
                log.size = new;
            }
            Err(e) => {
                run.stats.error(e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    lat
}

/// For `--server-pid`: one Ed25519 note verification (the log's signature) and the witness's
/// two cosignatures, timed with the witness's own code on throwaway keys.
fn witness_floor(log: &BenchLog) -> Result<Vec<(&'static str, f64)>> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let (keys, _) = WitnessKeys::load_or_generate(dir.path(), "bench.vouch.test/calibration")?;
    let cp = Checkpoint {
        origin: log.signer.origin().to_string(),
        size: 1,
        root_hash: merkle::leaf_hash(b"calibration"),
        extensions: Vec::new(),
    };
    let note = SignedNote::parse(&log.signer.sign_checkpoint(&cp)?)?;
    let verify = crate::bench_cpu::time_per_op("Ed25519 note verification", || {
        note.verify(log.signer.verifier()).is_ok()
    })?;
    let cosign = crate::bench_cpu::time_per_op("witness cosignature", || {
        keys.cosign(&note.text, 1_700_000_000).is_ok()
    })?;
    Ok(vec![
        ("ed25519_note_verify_us", verify),
        ("witness_cosign_us", cosign),
    ])
}

/// Run `vouch bench witness`.
pub fn bench(a: &BenchWitnessArgs) -> Result<()> {
    let mut logs = bench_logs(&a.log_key, &a.origin_prefix, a.clients)?;
    if a.print_logs {
        for l in &logs {
            let vkey = l.signer.verifier().to_vkey().unwrap_or_default();
            println!("{} {vkey}", l.signer.origin());
        }
        return Ok(());
    }
    let url = a
        .url
        .as_deref()
        .ok_or_else(|| anyhow!("--url is required (unless --print-logs)"))?;
    let base = crate::bench::check_local(
        url,
        "witness",
        "vouch serve witness --data DIR --listen 127.0.0.1:3010 --log \"$(vouch bench witness --log-key K --print-logs)\"",
    )?;
    let (rt, http) = crate::bench::load_runtime(a.clients)?;
    let run = Arc::new(WitnessRun {
        stats: Arc::new(LoadStats::default()),
        tree: Mutex::new(BenchTree::default()),
        growth: u64::from(a.growth),
        add_url: format!("{base}/add-checkpoint"),
    });
    // Preflight: where the witness stands on each log, then one accepted checkpoint each.
    rt.block_on(async {
        for log in &mut logs {
            witness_position(&http, &base, &run.tree, log).await?;
            let new = log.size + run.growth;
            let body = checkpoint_request(&run.tree, log, new)?;
            post_checkpoint(&http, &run.add_url, log.signer.origin(), body)
                .await
                .map_err(|e| {
                    hinted(
                        format!("the witness did not cosign: {e}"),
                        format!(
                            "start the witness with one --log per benchmark log, the lines of `vouch bench witness --log-key {} --clients {} --print-logs`",
                            a.log_key.display(),
                            a.clients
                        ),
                    )
                })?;
            log.size = new;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    eprintln!(
        "{} benchmark logs cosigned once (sizes from {}); pushing checkpoints of {} entries with {} clients for {:.1} s",
        logs.len(),
        logs.iter().map(|l| l.size).min().unwrap_or(0),
        a.growth,
        a.clients,
        a.duration.as_secs_f64()
    );
    let floor = match (a.server_pid, logs.first()) {
        (Some(_), Some(l)) => witness_floor(l)?,
        _ => Vec::new(),
    };
    let mut cpu = crate::bench::server_cpu(a.server_pid)?;
    if let Some((cal, _)) = cpu.as_mut() {
        cal.extra = floor;
    }
    let workers = logs
        .into_iter()
        .map(|l| witness_client(http.clone(), l, run.clone()))
        .collect();
    let load = crate::bench::run_load(&rt, workers, a.duration, &run.stats);
    let tree_size = run.tree.lock().map(|t| t.size()).unwrap_or(0);
    println!(
        "url={base} clients={} growth={} duration_s={:.2} tree_size={tree_size}",
        a.clients, a.growth, load.secs
    );
    println!("checkpoints={} errors={}", load.ok, load.errors);
    load.print_latencies();
    println!("checkpoints_per_sec={:.0}", load.ok as f64 / load.secs);
    if let Some((cal, cpu)) = &cpu {
        let floor_us: f64 = cal.extra.iter().map(|(_, us)| us).sum();
        crate::bench_cpu::print_efficiency(
            cal,
            cpu,
            load.ok,
            floor_us,
            "1 Ed25519 note verify + Ed25519 and ML-DSA-44 cosignatures; the durable write is not counted",
        )?;
    }
    if load.ok == 0 {
        bail!("no checkpoint was cosigned");
    }
    Ok(())
}

/// The log's witness client for `--witness-policy FILE`: the policy must parse, name at least
/// one witness with a URL, and (when it lists logs) list this log's key.
pub fn log_witness_client(
    path: &Path,
    log: &NoteVerifier,
    timeout: Duration,
    require_quorum: bool,
) -> Result<vouch_log::witness_client::WitnessClient> {
    let policy = load_policy(path)?;
    if !policy.logs().is_empty()
        && !policy
            .logs()
            .iter()
            .any(|l| l.verifier.public_key_bytes() == log.public_key_bytes())
    {
        return Err(hinted(
            format!(
                "--witness-policy {} lists logs, but not this log's key",
                path.display()
            ),
            format!(
                "add `log {}` to the policy",
                log.to_vkey().unwrap_or_else(|| "<this log's vkey>".into())
            ),
        ));
    }
    let client = vouch_log::witness_client::WitnessClient::new(policy, timeout, require_quorum)
        .map_err(|e| anyhow!("{e}"))?;
    if client.witnesses().is_empty() {
        return Err(hinted(
            format!(
                "--witness-policy {} names no witness with a URL to push checkpoints to",
                path.display()
            ),
            "write `witness <name> <vkey> <url>` lines",
        ));
    }
    Ok(client)
}

/// `vouch up --witnesses N`: N witnesses in the instance, each on its own listener, following
/// the instance's log, and the policy requiring all of them (written to `policy_path`).
pub(crate) struct LocalWitnesses {
    /// Each witness's server and router, to serve with the other services.
    pub servers: Vec<(vouch_server::Server, axum::Router)>,
    /// Each witness's URL.
    pub urls: Vec<String>,
    /// The client the log pushes checkpoints with.
    pub client: vouch_log::witness_client::WitnessClient,
}

/// Open (creating on first start) `n` witnesses under `data/witnesses/`, bound to `listeners`,
/// and write the C2SP tlog-policy naming them (`group local all …`) to `policy_path`.
pub(crate) fn local_witnesses(
    data: &Path,
    listeners: Vec<vouch_server::Server>,
    public_host: &str,
    origin: &str,
    log: &NoteVerifier,
    policy_path: &Path,
    require_quorum: bool,
) -> Result<LocalWitnesses> {
    let log_vkey = log
        .to_vkey()
        .ok_or_else(|| anyhow!("the log key has no vkey (witnesses need an Ed25519 log key)"))?;
    let mut policy = format!("# written by vouch up: its local witnesses\nlog {log_vkey}\n");
    let mut members = Vec::new();
    let mut servers = Vec::new();
    let mut urls = Vec::new();
    for (i, server) in listeners.into_iter().enumerate() {
        let n = i + 1;
        let dir = data.join("witnesses").join(format!("w{n}"));
        let (_, keys, _) = open_keys(&dir, Some(&format!("witness-{n}.vouch.local")))?;
        let url = format!("http://{public_host}:{}", server.local_addr().port());
        let [ed, ml] = keys.public_keys();
        policy.push_str(&format!("witness w{n} {} {url}\n", ed.to_vkey()));
        policy.push_str(&format!("witness w{n}-mldsa {} {url}\n", ml.to_vkey()));
        members.push(format!("w{n} w{n}-mldsa"));
        let witness = Witness::open(
            &dir,
            keys,
            vec![LogConfig {
                origin: origin.to_string(),
                verifier: log.clone(),
            }],
        )
        .with_context(|| format!("cannot open the witness in {}", dir.display()))?;
        servers.push((
            server.named("witness"),
            vouch_witness::api::router(Arc::new(witness)),
        ));
        urls.push(url);
    }
    policy.push_str(&format!(
        "group local all {}\nquorum local\n",
        members.join(" ")
    ));
    vouch_fs::write_durably(policy_path, policy.as_bytes(), vouch_fs::Access::Public)
        .map_err(|e| anyhow!("cannot write {}: {e}", policy_path.display()))?;
    let client = log_witness_client(
        policy_path,
        log,
        vouch_log::witness_client::DEFAULT_TIMEOUT,
        require_quorum,
    )?;
    Ok(LocalWitnesses {
        servers,
        urls,
        client,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(format!("vouch bench witness leaf {i}").as_bytes()))
            .collect()
    }

    /// The kept-subtrees tree gives the reference roots and consistency proofs (RFC 6962),
    /// whatever order it is grown in, and the proofs verify.
    #[test]
    fn bench_tree_matches_the_reference() {
        let all = leaves(70);
        let mut t = BenchTree::default();
        t.grow_to(70);
        for new in 1..=70u64 {
            for old in 0..=new {
                let (root, proof) = t.step(old, new).unwrap();
                let prefix = &all[..new as usize];
                assert_eq!(root, merkle::root_of_leaves(prefix), "root of {new}");
                assert_eq!(
                    proof,
                    merkle::consistency_proof(prefix, old as usize),
                    "{old} -> {new}"
                );
                let old_root = merkle::root_of_leaves(&all[..old as usize]);
                merkle::verify_consistency(old, new, &old_root, &root, &proof).unwrap();
            }
        }
        // Grown step by step, as the clients do.
        let mut g = BenchTree::default();
        let (mut size, mut root) = (0u64, merkle::empty_root());
        for step in [1u64, 7, 8, 3, 16, 35] {
            let (r, proof) = g.step(size, size + step).unwrap();
            merkle::verify_consistency(size, size + step, &root, &r, &proof).unwrap();
            (size, root) = (size + step, r);
        }
        assert_eq!(g.size(), 70);
        assert_eq!(root, merkle::root_of_leaves(&all));
        assert!(g.node(0, 70).is_err());
    }

    /// Requests are real signed checkpoints that a witness over the bench's logs cosigns in
    /// turn, and it refuses a repeated one (409): each log grows from the size last cosigned.
    #[test]
    fn bench_requests_are_cosigned() {
        let dir = tempfile::tempdir().unwrap();
        let logs = bench_logs(&dir.path().join("k.pk8"), "bench.vouch.test/t", 2).unwrap();
        // The key is kept: the same logs again.
        let again = bench_logs(&dir.path().join("k.pk8"), "bench.vouch.test/t", 2).unwrap();
        assert_eq!(
            logs[1].signer.verifier().to_vkey(),
            again[1].signer.verifier().to_vkey()
        );
        let (keys, _) = WitnessKeys::load_or_generate(&dir.path().join("w"), "w.test/w").unwrap();
        let configs = logs
            .iter()
            .map(|l| LogConfig {
                origin: l.signer.origin().to_string(),
                verifier: l.signer.verifier().clone(),
            })
            .collect();
        let witness = Witness::open(&dir.path().join("w"), keys, configs).unwrap();
        let tree = Mutex::new(BenchTree::default());
        for mut log in logs {
            for _ in 0..5 {
                let new = log.size + 8;
                let body = checkpoint_request(&tree, &log, new).unwrap();
                let c = witness.add_checkpoint(body.as_bytes()).unwrap();
                assert_eq!(c.size, new);
                assert_eq!(parse_cosignature_lines(&c.lines).unwrap().len(), 2);
                assert!(witness.add_checkpoint(body.as_bytes()).is_err());
                log.size = new;
            }
        }
    }
}
