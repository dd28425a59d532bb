//! `vouch serve proxy`: the verifying proof cache (crate `vouch-proxy`) in front of a log;
//! `vouch bench proxy`: its load generator; and the `verify-blob --log-proxy` proof upgrade.

use crate::bench::{LoadStats, check_local, elapsed_us};
use crate::serve::{init_tracing, parse_duration, shutdown_signal};
use crate::tlog::{LogClient, hinted};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use vouch_core::bundle::{Bundle, InclusionProof};
use vouch_core::keys::PublicKey;
use vouch_core::merkle::{leaf_hash, verify_inclusion};

/// `vouch serve proxy`.
#[derive(Args, Debug)]
pub struct ServeProxyArgs {
    /// The upstream log's tlog-tiles prefix, e.g. http://log:3001.
    #[arg(long)]
    upstream: String,
    /// The log's public key (PEM) that every checkpoint must be signed with.
    #[arg(long)]
    public_key: PathBuf,
    /// Cache directory: verified tiles and the last served checkpoint (created if missing).
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:3020")]
    listen: String,
    /// C2SP tlog-policy file: every accepted checkpoint must carry its witness quorum.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    /// Once the upstream has not confirmed the checkpoint for this long, refuse checkpoint and
    /// proof requests (503) instead of serving them stale.
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    max_stale: Duration,
    /// How often to poll the upstream checkpoint.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    refresh: Duration,
    /// The log's origin [default: pinned from the first verified checkpoint].
    #[arg(long)]
    origin: Option<String>,
    /// Full tiles kept in memory (16 KiB each with their interior nodes); all stay on disk.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    memory_tiles: u32,
    #[command(flatten)]
    server: crate::listen::ServerArgs,
}

/// Run `vouch serve proxy` until SIGINT or SIGTERM.
pub fn serve(a: &ServeProxyArgs) -> Result<()> {
    let upstream = crate::tlog::base_url(&a.upstream)?;
    let pem = std::fs::read_to_string(&a.public_key)
        .with_context(|| format!("cannot read --public-key {}", a.public_key.display()))?;
    let log_key = PublicKey::from_pem(&pem)
        .with_context(|| format!("--public-key {}", a.public_key.display()))?;
    let witness_policy = a
        .witness_policy
        .as_deref()
        .map(crate::witness_cmd::load_policy)
        .transpose()?;
    if let Some(o) = &a.origin {
        crate::serve::check_origin(o)?;
    }
    let config = vouch_proxy::Config {
        upstream: upstream.clone(),
        log_key,
        origin: a.origin.clone(),
        witness_policy,
        max_stale: a.max_stale,
        refresh: a.refresh,
        memory_tiles: a.memory_tiles as usize,
    };
    let store = vouch_proxy::Store::open(&a.data)
        .map_err(|e| anyhow!("cannot open the cache directory {}: {e}", a.data.display()))?;
    let http = reqwest::Client::builder()
        .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("vouch-proxy/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")?;
    let proxy = vouch_proxy::Proxy::open(config, store, http).map_err(|e| {
        hinted(
            format!("cannot open the proof cache in {}: {e}", a.data.display()),
            "the cache directory belongs to another log or is damaged: use a new --data directory",
        )
    })?;
    init_tracing();
    let rt = vouch_server::runtime("vouch-proxy")?;
    rt.block_on(async move {
        let first = proxy.refresh().await;
        let server = a
            .server
            .bind("proxy", &a.listen, 16 * 1024)
            .await?;
        let url = server.url();
        let mut out = format!("vouch proxy listening on {url}\nupstream: {upstream}\n");
        match (&first, proxy.current()) {
            (Ok(()), Some(s)) => out.push_str(&format!(
                "tree size: {} (verified from the upstream)\n",
                s.size()
            )),
            (Err(e), Some(s)) => out.push_str(&format!(
                "tree size: {} (from the cache; upstream: {e})\n",
                s.size()
            )),
            (Err(e), None) => out.push_str(&format!(
                "tree size: none yet (upstream: {e}); checkpoint and proof requests get 503 until it answers\n"
            )),
            (Ok(()), None) => out.push_str("tree size: none yet\n"),
        }
        print!("{out}");
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        tracing::info!(%url, %upstream, "proof cache started");
        let poller = tokio::spawn(proxy.clone().run_refresh());
        server
            .serve(vouch_proxy::api::router(proxy), shutdown_signal())
            .await;
        poller.abort();
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// Replace each log entry's inclusion proof with the proxy's when the entry has none or the
/// proxy's checkpoint is newer; the proxy's proof must include the entry's body (the verifier
/// then checks it, and its checkpoint, like any other).
pub fn upgrade_proofs(bundle: &mut Bundle, proxy_url: &str) -> Result<()> {
    let client = LogClient::new(proxy_url)?;
    let Some(vm) = bundle.verification_material.as_mut() else {
        return Ok(());
    };
    for e in &mut vm.tlog_entries {
        let index = u64::try_from(e.log_index.0)
            .map_err(|_| anyhow!("bundle log index {} is negative", e.log_index.0))?;
        let have = e.inclusion_proof.as_ref().map(|p| p.tree_size.0);
        let path = format!("proof?index={index}&format=sigstore");
        let body = client.get(&path)?.ok_or_else(|| {
            hinted(
                format!("the log proxy {proxy_url} has no entry at index {index}"),
                "is --log-proxy in front of the log that holds this bundle's entry?",
            )
        })?;
        let proof: InclusionProof = serde_json::from_slice(&body)
            .with_context(|| format!("proof from {proxy_url} for index {index}"))?;
        let size = u64::try_from(proof.tree_size.0).unwrap_or(0);
        let root: [u8; 32] = proof
            .root_hash
            .as_slice()
            .try_into()
            .map_err(|_| anyhow!("proof from {proxy_url}: root hash is not 32 bytes"))?;
        let leaf = leaf_hash(e.canonicalized_body.as_slice());
        verify_inclusion(index, size, &leaf, &proof.hashes, &root).map_err(|err| {
            hinted(
                format!("the log proxy's proof for index {index} does not include this bundle's entry: {err}"),
                "is --log-proxy in front of the log that holds this bundle's entry?",
            )
        })?;
        match have {
            Some(old) if old >= proof.tree_size.0 => {
                eprintln!(
                    "Inclusion proof for log index {index}: the bundle's (tree size {old}) is current"
                );
            }
            _ => {
                eprintln!(
                    "Inclusion proof for log index {index}: from the log proxy (tree size {} -> {size})",
                    have.map_or_else(|| "none".to_string(), |s| s.to_string())
                );
                e.inclusion_proof = Some(proof);
            }
        }
    }
    Ok(())
}

/// `vouch bench proxy`.
#[derive(Args, Debug)]
pub struct BenchProxyArgs {
    /// Base URL of the proxy (loopback only: this is a load generator).
    #[arg(long)]
    url: String,
    /// Concurrent clients, each sending requests back to back.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// How long to send requests, e.g. 30s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Proof format: tlog-proof (C2SP text) or sigstore (InclusionProof JSON).
    #[arg(long, default_value = "tlog-proof", value_parser = ["tlog-proof", "sigstore"])]
    format: String,
    /// Skip the warm-up pass (which fetches one proof per level-0 tile so the timed run is
    /// served from a warm cache).
    #[arg(long)]
    no_warm_up: bool,
}

async fn proof_client(
    http: reqwest::Client,
    base: String,
    format: String,
    size: u64,
    run: Arc<LoadStats>,
) -> Vec<u32> {
    let mut lat = Vec::new();
    while !run.stop.load(Ordering::Relaxed) {
        let index = rand::random::<u64>() % size;
        let url = format!("{base}/proof?index={index}&format={format}");
        let started = Instant::now();
        match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(_) => {
                    lat.push(elapsed_us(started));
                    run.ok.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => run.error(format!("reading response: {e}")),
            },
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                run.error(format!("GET {url}: HTTP {status}: {}", text.trim()));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => {
                run.error(format!("GET {url}: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    lat
}

/// Run `vouch bench proxy`.
pub fn bench(a: &BenchProxyArgs) -> Result<()> {
    let base = check_local(
        &a.url,
        "proxy",
        "vouch serve proxy --upstream http://127.0.0.1:3001 --public-key log.pub --data ./cache --listen 127.0.0.1:3020",
    )?;
    let (rt, http) = crate::bench::load_runtime(a.clients)?;
    let size = rt.block_on(async {
        let url = format!("{base}/checkpoint");
        let r = http.get(&url).send().await.map_err(|e| {
            hinted(
                format!("cannot reach the proxy at {base}: {e}"),
                "start it with `vouch serve proxy` and pass its URL",
            )
        })?;
        let status = r.status();
        let text = r.text().await.context("reading the checkpoint")?;
        if !status.is_success() {
            bail!("{url}: HTTP {status}: {}", text.trim());
        }
        text.lines()
            .nth(1)
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| anyhow!("{url} did not answer a checkpoint"))
    })?;
    if size == 0 {
        bail!("the proxy's log is empty: there is no entry to prove");
    }
    let warm = Instant::now();
    if !a.no_warm_up {
        rt.block_on(async {
            let mut i = 0u64;
            while i < size {
                let url = format!("{base}/proof?index={i}&format={}", a.format);
                let r = http.get(&url).send().await?;
                if !r.status().is_success() {
                    bail!("warm-up {url}: HTTP {}", r.status());
                }
                r.bytes().await?;
                i += 256;
            }
            Ok(())
        })?;
    }
    eprintln!(
        "tree size {size}; warm-up {:.2} s; requesting proofs with {} clients for {:.1} s",
        warm.elapsed().as_secs_f64(),
        a.clients,
        a.duration.as_secs_f64()
    );
    let run = Arc::new(LoadStats::default());
    let workers = (0..a.clients)
        .map(|_| {
            proof_client(
                http.clone(),
                base.clone(),
                a.format.clone(),
                size,
                run.clone(),
            )
        })
        .collect();
    let load = crate::bench::run_load(&rt, workers, a.duration, &run);
    let (ok, errors, secs) = (load.ok, load.errors, load.secs);
    println!(
        "url={base} clients={} format={} tree_size={size} duration_s={secs:.2}",
        a.clients, a.format
    );
    println!("proofs={ok} errors={errors}");
    load.print_latencies();
    println!("proofs_per_sec={:.0}", ok as f64 / secs);
    if ok == 0 {
        bail!("no proof was served");
    }
    Ok(())
}
