//! `vouch bench log`: a load generator for a local transparency log.
//!
//! It pre-generates distinct signed `hashedrekord` v0.0.2 requests (P-256 keys, one per
//! signing thread; signing happens before the timed phase), then runs `--clients` concurrent
//! submitters against `POST /api/v2/log/entries` for `--duration`, measuring each
//! submit → response (entry durable, inclusion proof and checkpoint returned) latency.
//!
//! `vouch bench ca`: a load generator for a local keyless CA. It pre-generates P-256 keys with
//! proofs of possession (signatures over the token's `email`, else `sub`, claim), then runs
//! `--clients` concurrent clients posting `publicKeyRequest`s to `/api/v2/signingCert` with one
//! reused identity token for `--duration`.

use crate::serve::parse_duration;
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use clap::{Args, Subcommand};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vouch_core::encoding::b64_encode;
use vouch_core::keys::HashKind;

/// `vouch bench …` subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Load a local timestamp authority with RFC 3161 requests; prints timestamps_per_sec.
    Tsa(crate::tsa::BenchTsaArgs),
    /// Load a local log with signed hashedrekord entries; print throughput and latency.
    Log(BenchLogArgs),
    /// Load a local keyless CA with `publicKeyRequest` signingCert calls (one identity token
    /// reused); print certificates/s and latency percentiles.
    Ca(BenchCaArgs),
    /// Load a local admission webhook with AdmissionReviews: warm (cache hits) decisions/s and
    /// latency percentiles, and cold (registry + verification) latencies.
    Admission(crate::admission_cmd::BenchAdmissionArgs),
    /// Load a local proof cache (`vouch serve proxy`) with /proof requests for random indexes
    /// after a warm-up; print proofs/s and latency percentiles.
    Proxy(crate::proxy_cmd::BenchProxyArgs),
    /// Scan a local log's tiles once with `vouch monitor`'s scanner from a fresh state; print
    /// entries scanned/s and the time per tile.
    Monitor(crate::monitor_cmd::BenchMonitorArgs),
    /// Load a local identity provider (`vouch serve oidc`, `vouch up`) with the token requests
    /// `vouch oidc token` sends; print tokens/s and latency percentiles.
    Oidc(crate::oidc::BenchOidcArgs),
    /// Load a local TUF repository with the GETs of a client's refresh (next root, timestamp,
    /// snapshot, targets, one target file); print requests/s and latency percentiles.
    Tuf(crate::trust::BenchTufArgs),
    /// Load a local witness (`vouch serve witness`) with `add-checkpoint` requests: signed
    /// checkpoints of growing benchmark logs with their consistency proofs; print
    /// checkpoints cosigned/s and latency percentiles.
    Witness(crate::witness_cmd::BenchWitnessArgs),
}

/// `vouch bench ca`.
#[derive(Args, Debug)]
pub struct BenchCaArgs {
    /// Base URL of the CA (loopback only: this is a load generator).
    #[arg(long)]
    url: String,
    /// The OIDC identity token sent with every request (e.g. from `vouch oidc token`).
    #[arg(long)]
    identity_token: String,
    /// Concurrent clients, each sending requests back to back.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// How long to send requests, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Distinct P-256 keys (with proofs of possession) pre-generated and used in turn.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    keys: u32,
    /// PID of the server under load (on this machine): also print its CPU time per operation
    /// and the efficiency against the signature primitives' single-core cost.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
}

/// `vouch bench log`.
#[derive(Args, Debug)]
pub struct BenchLogArgs {
    /// Base URL of the log (loopback only: this is a load generator).
    #[arg(long)]
    url: String,
    /// Concurrent submitters.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// How long to submit, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Entries to pre-generate; the run also stops when they are used up
    /// [default: 15000 per second of --duration, at most 3,000,000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=20_000_000))]
    entries: Option<u64>,
    /// Offered load in entries/s (open loop, spread over the clients); latency is then measured
    /// from each entry's scheduled send time. Without it every client submits back to back.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    rate: Option<u64>,
    /// PID of the server under load (on this machine): also print its CPU time per operation
    /// and the efficiency against the signature primitives' single-core cost.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
}

/// Run a `vouch bench` subcommand.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Log(a) => bench_log(&a),
        BenchCommand::Ca(a) => bench_ca(&a),
        BenchCommand::Tsa(a) => crate::tsa::bench(&a),
        BenchCommand::Admission(a) => crate::admission_cmd::bench(&a),
        BenchCommand::Proxy(a) => crate::proxy_cmd::bench(&a),
        BenchCommand::Monitor(a) => crate::monitor_cmd::bench(&a),
        BenchCommand::Oidc(a) => crate::oidc::bench(&a),
        BenchCommand::Tuf(a) => crate::trust::bench(&a),
        BenchCommand::Witness(a) => crate::witness_cmd::bench(&a),
    }
}

/// Refuse anything but http(s) URLs on this machine's loopback.
fn check_target(url: &str) -> Result<String> {
    check_local(url, "log", "vouch serve log --listen 127.0.0.1:3001")
}

/// Refuse anything but http(s) URLs on this machine's loopback; `what` names the service.
pub(crate) fn check_local(url: &str, what: &str, start: &str) -> Result<String> {
    let base = crate::tlog::base_url(url)?;
    let parsed = reqwest::Url::parse(&base).map_err(|e| anyhow!("invalid --url {url:?}: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !local {
        return Err(hinted(
            format!(
                "refusing to load {base}: `vouch bench {what}` only targets a {what} on this machine"
            ),
            format!("start a local {what} with `{start}` and bench that"),
        ));
    }
    Ok(base)
}

/// Sign `count` distinct requests on all cores; each is the serialized JSON body.
fn pregenerate(count: u64) -> Result<Vec<Vec<u8>>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 64) as u64;
    // A random run nonce keeps entries distinct from earlier runs against the same log.
    let nonce: u64 = rand::random();
    let per = count.div_ceil(threads);
    let parts: Vec<Result<Vec<Vec<u8>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || -> Result<Vec<Vec<u8>>> {
                    let start = t * per;
                    let end = ((t + 1) * per).min(count);
                    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                        .map_err(|_| anyhow!("cannot generate a P-256 key"))?;
                    let spki = key
                        .public_key()
                        .as_der()
                        .map_err(|_| anyhow!("cannot encode a P-256 key"))?;
                    let spki_b64 = b64_encode(spki.as_ref());
                    let rng = SystemRandom::new();
                    let mut out = Vec::with_capacity(usize::try_from(end.saturating_sub(start))?);
                    for i in start..end {
                        let artifact = format!("vouch bench {nonce:016x} entry {i}");
                        let sig = key
                            .sign(&rng, artifact.as_bytes())
                            .map_err(|_| anyhow!("P-256 signing failed"))?;
                        let digest = HashKind::Sha256.digest(artifact.as_bytes());
                        let body = format!(
                            r#"{{"hashedRekordRequestV002":{{"digest":"{}","signature":{{"content":"{}","verifier":{{"publicKey":{{"rawBytes":"{spki_b64}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}}}}}"#,
                            b64_encode(&digest),
                            b64_encode(sig.as_ref()),
                        );
                        out.push(body.into_bytes());
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a signing thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(usize::try_from(count)?);
    for p in parts {
        all.extend(p?);
    }
    Ok(all)
}

/// Shared state of the submitters.
struct Run {
    pool: Mutex<Vec<Vec<u8>>>,
    /// With `--rate`: entries per second, the start instant, and the next sequence number.
    rate: Option<(f64, tokio::time::Instant, AtomicU64)>,
    stop: AtomicBool,
    ok: AtomicU64,
    errors: AtomicU64,
    busy: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Run {
    fn next(&self) -> Option<Vec<u8>> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        match self.pool.lock() {
            Ok(mut p) => p.pop(),
            Err(_) => None,
        }
    }

    fn error(&self, msg: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.first_error.lock()
            && f.is_none()
        {
            *f = Some(msg);
        }
    }
}

/// One submitter: returns the latencies (µs) of its successful submissions.
/// Run the load `workers` until `duration` has passed (then `stop` is called so they stop taking
/// new work; in-flight requests finish, bounded by a 30 s grace period) and collect their
/// latencies (ms) and the wall time. Failures are passed to `report`.
pub(crate) async fn drive<W>(
    workers: Vec<W>,
    duration: Duration,
    stop: impl Fn() + Send + Clone + 'static,
    report: impl Fn(String),
) -> (Vec<u32>, Duration)
where
    W: std::future::Future<Output = Vec<u32>> + Send + 'static,
{
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in workers {
        set.spawn(w);
    }
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop();
        })
    };
    let mut lat = Vec::new();
    let drained = tokio::time::timeout(duration + Duration::from_secs(30), async {
        while let Some(j) = set.join_next().await {
            match j {
                Ok(l) => lat.extend(l),
                Err(e) => report(format!("load client failed: {e}")),
            }
        }
    })
    .await;
    if drained.is_err() {
        report("load clients did not finish within 30 s of the deadline".into());
        set.abort_all();
    }
    stop();
    stopper.abort();
    (lat, started.elapsed())
}

async fn submitter(http: reqwest::Client, url: String, run: std::sync::Arc<Run>) -> Vec<u32> {
    let mut lat = Vec::new();
    loop {
        let started = match &run.rate {
            Some((rate, start, seq)) => {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let at = *start + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(at).await;
                at.into_std()
            }
            None => Instant::now(),
        };
        let Some(body) = run.next() else { break };
        loop {
            let res = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match res {
                Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                    // Read the whole response: it carries the proof.
                    match r.bytes().await {
                        Ok(_) => {
                            let us = started.elapsed().as_micros();
                            lat.push(u32::try_from(us).unwrap_or(u32::MAX));
                            run.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => run.error(format!("reading response: {e}")),
                    }
                    break;
                }
                Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                    // Backpressure: retry the same entry shortly, unless the run is over.
                    run.busy.fetch_add(1, Ordering::Relaxed);
                    if run.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    run.error(format!("HTTP {status}: {}", text.trim()));
                    break;
                }
                Err(e) => {
                    run.error(format!("request failed: {e}"));
                    // Do not spin if the server is gone.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    break;
                }
            }
        }
    }
    lat
}

/// The multi-threaded runtime and the keep-alive HTTP client (one idle connection per client)
/// every load generator drives its clients with.
pub(crate) fn load_runtime(clients: u32) -> Result<(tokio::runtime::Runtime, reqwest::Client)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let http = reqwest::Client::builder()
        .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(clients as usize)
        .tcp_nodelay(true)
        .build()
        .context("cannot build the HTTP client")?;
    Ok((rt, http))
}

/// For `--server-pid`: the primitives' calibration (measured now, before any load) and the
/// server's CPU counter from this moment.
pub(crate) fn server_cpu(
    pid: Option<u32>,
) -> Result<Option<(crate::bench_cpu::Calibration, crate::bench_cpu::ServerCpu)>> {
    let Some(pid) = pid else { return Ok(None) };
    let cal = crate::bench_cpu::calibrate()?;
    Ok(Some((cal, crate::bench_cpu::ServerCpu::start(pid)?)))
}

/// Print the latency line every benchmark shares, `{prefix}p50_ms=… p90_ms=… p99_ms=…
/// max_ms=…`, from latencies in µs sorted ascending.
pub(crate) fn print_latencies(prefix: &str, sorted_us: &[u32]) {
    println!(
        "{prefix}p50_ms={:.2} {prefix}p90_ms={:.2} {prefix}p99_ms={:.2} {prefix}max_ms={:.2}",
        percentile(sorted_us, 50.0),
        percentile(sorted_us, 90.0),
        percentile(sorted_us, 99.0),
        sorted_us.last().map_or(0.0, |&m| f64::from(m) / 1000.0),
    );
}

pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

fn bench_log(a: &BenchLogArgs) -> Result<()> {
    let base = check_target(&a.url)?;
    let count = a.entries.unwrap_or_else(|| {
        ((a.duration.as_secs_f64() * 15_000.0).ceil() as u64).clamp(1_000, 3_000_000)
    });
    let (rt, http) = load_runtime(a.clients)?;

    // Preflight: the log must answer before we spend time signing.
    rt.block_on(async {
        let url = format!("{base}/checkpoint");
        let r = http.get(&url).send().await.map_err(|e| {
            hinted(
                format!("cannot reach the log at {base}: {e}"),
                "start it with `vouch serve log` and pass its URL",
            )
        })?;
        if !r.status().is_success() {
            bail!("{url}: HTTP {}", r.status());
        }
        Ok(())
    })?;

    eprintln!("pre-generating {count} signed hashedrekord entries…");
    let t0 = Instant::now();
    let mut pool = pregenerate(count)?;
    pool.reverse(); // pop() then hands them out in order
    let signed_in = t0.elapsed();
    eprintln!(
        "signed {count} entries in {:.1} s; submitting with {} clients for up to {:.1} s",
        signed_in.as_secs_f64(),
        a.clients,
        a.duration.as_secs_f64()
    );

    let run = std::sync::Arc::new(Run {
        pool: Mutex::new(pool),
        rate: a
            .rate
            .map(|r| (r as f64, tokio::time::Instant::now(), AtomicU64::new(0))),
        stop: AtomicBool::new(false),
        ok: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        busy: AtomicU64::new(0),
        first_error: Mutex::new(None),
    });
    let url = format!("{base}/api/v2/log/entries");
    let cpu = server_cpu(a.server_pid)?;
    let (latencies, elapsed) = rt.block_on(drive(
        (0..a.clients)
            .map(|_| submitter(http.clone(), url.clone(), run.clone()))
            .collect(),
        a.duration,
        {
            let run = run.clone();
            move || run.stop.store(true, Ordering::Relaxed)
        },
        |m| run.error(m),
    ));
    let mut latencies = latencies;
    latencies.sort_unstable();
    let ok = run.ok.load(Ordering::Relaxed);
    let errors = run.errors.load(Ordering::Relaxed);
    let busy = run.busy.load(Ordering::Relaxed);
    let left = run.pool.lock().map(|p| p.len()).unwrap_or(0);
    if left == 0 && elapsed < a.duration {
        eprintln!(
            "note: all {count} pre-generated entries were submitted after {:.1} s; pass a larger --entries for a longer run",
            elapsed.as_secs_f64()
        );
    }
    if let Ok(Some(e)) = run.first_error.lock().map(|f| f.clone()) {
        eprintln!("first error: {e}");
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "url={base} clients={} rate={} duration_s={:.2} pregenerated={count} signing_s={:.2}",
        a.clients,
        a.rate
            .map_or_else(|| "closed-loop".to_string(), |r| r.to_string()),
        secs,
        signed_in.as_secs_f64()
    );
    println!("entries={ok} errors={errors} busy_retries={busy}");
    print_latencies("", &latencies);
    println!("appends_per_sec={:.0}", ok as f64 / secs);
    if let Some((cal, cpu)) = &cpu {
        // An append needs exactly one signature verification (the entry's; P-256 here).
        crate::bench_cpu::print_efficiency(cal, cpu, ok, cal.p256_verify_us, "1 P-256 verify")?;
    }
    if ok == 0 {
        bail!("no entry was appended");
    }
    Ok(())
}

/// The claims of a JWT, decoded without verification (the server under load verifies; a
/// benchmark only needs to know what it sends).
pub(crate) fn unverified_claims(token: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow!("the token is not a JWT (no payload part)"))?;
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload.trim_end_matches('='),
    )
    .map_err(|_| anyhow!("the token's payload is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| anyhow!("the token's payload is not a JSON object: {e}"))
}

/// The proof-of-possession challenge for `token`: its `email` claim (what the CA checks for
/// email issuers), else `sub`. The token is decoded without verification: the CA verifies it.
fn pop_challenge(token: &str) -> Result<String> {
    let claims = unverified_claims(token).map_err(|e| anyhow!("--identity-token: {e}"))?;
    ["email", "sub"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(serde_json::Value::as_str))
        .map(str::to_string)
        .ok_or_else(|| anyhow!("--identity-token has neither an email nor a sub claim"))
}

/// `keys` signingCert request bodies, each with its own P-256 key and proof of possession.
fn ca_requests(token: &str, challenge: &str, keys: u32) -> Result<Vec<Vec<u8>>> {
    let rng = SystemRandom::new();
    (0..keys)
        .map(|_| {
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .map_err(|_| anyhow!("cannot generate a P-256 key"))?;
            let spki = key
                .public_key()
                .as_der()
                .map_err(|_| anyhow!("cannot encode a P-256 key"))?;
            let pem = vouch_core::keys::pem_encode("PUBLIC KEY", spki.as_ref());
            let sig = key
                .sign(&rng, challenge.as_bytes())
                .map_err(|_| anyhow!("P-256 signing failed"))?;
            use vouch_core::fulcio::{
                CreateSigningCertificateRequest, Credentials, PublicKey, PublicKeyRequest,
            };
            let body = CreateSigningCertificateRequest {
                credentials: Some(Credentials {
                    oidc_identity_token: token.to_string(),
                }),
                public_key_request: Some(PublicKeyRequest {
                    public_key: PublicKey {
                        algorithm: Some("ECDSA".into()),
                        content: pem,
                    },
                    proof_of_possession: b64_encode(sig.as_ref()),
                }),
                certificate_signing_request: None,
            };
            Ok(serde_json::to_vec(&body)?)
        })
        .collect()
}

/// Counters shared by the load clients of one run: when to stop, successes, failures and the
/// first failure's message.
#[derive(Default)]
pub(crate) struct LoadStats {
    pub(crate) stop: AtomicBool,
    pub(crate) ok: AtomicU64,
    pub(crate) errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl LoadStats {
    /// Count a failure (and keep the first message).
    pub(crate) fn error(&self, msg: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = self.first_error.lock()
            && f.is_none()
        {
            *f = Some(msg);
        }
    }

    /// Print the first failure, if any.
    pub(crate) fn print_first_error(&self) {
        if let Ok(Some(e)) = self.first_error.lock().map(|f| f.clone()) {
            eprintln!("first error: {e}");
        }
    }
}

/// Shared state of POST load clients cycling through pre-generated request bodies (the CA and
/// TSA benchmarks).
pub(crate) struct PostRun {
    bodies: Vec<Vec<u8>>,
    content_type: &'static str,
    next: AtomicU64,
    stats: std::sync::Arc<LoadStats>,
}

/// What a load run measured.
pub(crate) struct PostLoad {
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Wall time in seconds.
    pub secs: f64,
    /// Latencies of the successful requests (µs), sorted.
    pub latencies: Vec<u32>,
}

impl PostLoad {
    /// Print the latency percentiles line the benchmarks share.
    pub(crate) fn print_latencies(&self) {
        print_latencies("", &self.latencies);
    }
}

/// Run `clients` POST clients against `url` for `duration`, cycling through `bodies`; prints
/// the first error, if any.
pub(crate) fn post_load(
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    url: &str,
    (bodies, content_type): (Vec<Vec<u8>>, &'static str),
    clients: u32,
    duration: Duration,
) -> PostLoad {
    let stats = std::sync::Arc::new(LoadStats::default());
    let run = std::sync::Arc::new(PostRun {
        bodies,
        content_type,
        next: AtomicU64::new(0),
        stats: stats.clone(),
    });
    let workers = (0..clients)
        .map(|_| post_client(http.clone(), url.to_string(), run.clone()))
        .collect();
    run_load(rt, workers, duration, &stats)
}

/// Run load `workers` that count into `stats` for `duration` (see [`drive`]); prints the
/// first error, if any, and returns what they measured.
pub(crate) fn run_load<W>(
    rt: &tokio::runtime::Runtime,
    workers: Vec<W>,
    duration: Duration,
    stats: &std::sync::Arc<LoadStats>,
) -> PostLoad
where
    W: std::future::Future<Output = Vec<u32>> + Send + 'static,
{
    let (mut latencies, elapsed) = rt.block_on(drive(
        workers,
        duration,
        {
            let stats = stats.clone();
            move || stats.stop.store(true, Ordering::Relaxed)
        },
        |m| stats.error(m),
    ));
    latencies.sort_unstable();
    stats.print_first_error();
    PostLoad {
        ok: stats.ok.load(Ordering::Relaxed),
        errors: stats.errors.load(Ordering::Relaxed),
        secs: elapsed.as_secs_f64().max(1e-9),
        latencies,
    }
}

/// Microseconds since `started`, as the latency vectors hold them.
pub(crate) fn elapsed_us(started: Instant) -> u32 {
    u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// One POST client: returns the latencies (µs) of its successful requests.
async fn post_client(http: reqwest::Client, url: String, run: std::sync::Arc<PostRun>) -> Vec<u32> {
    let mut lat = Vec::new();
    while !run.stats.stop.load(Ordering::Relaxed) {
        let n = run.next.fetch_add(1, Ordering::Relaxed);
        let i = usize::try_from(n % run.bodies.len().max(1) as u64).unwrap_or(0);
        let Some(body) = run.bodies.get(i) else { break };
        let started = Instant::now();
        let res = http
            .post(&url)
            .header("content-type", run.content_type)
            .body(body.clone())
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(_) => {
                    lat.push(elapsed_us(started));
                    run.stats.ok.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => run.stats.error(format!("reading response: {e}")),
            },
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                run.stats.error(format!("HTTP {status}: {}", text.trim()));
                // Rejections are fast: do not turn the bench into a tight error loop.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => {
                run.stats.error(format!("request failed: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    lat
}

fn bench_ca(a: &BenchCaArgs) -> Result<()> {
    let base = check_local(
        &a.url,
        "ca",
        "vouch serve ca --config issuers.json --data DIR --listen 127.0.0.1:3002",
    )?;
    let challenge = pop_challenge(&a.identity_token)?;
    let (rt, http) = load_runtime(a.clients)?;
    // The issuing CA's key decides the cost of the two certificate signatures.
    let ca_key = rt.block_on(async {
        let url = format!("{base}/api/v2/trustBundle");
        let r = http.get(&url).send().await.map_err(|e| {
            hinted(
                format!("cannot reach the CA at {base}: {e}"),
                "start it with `vouch serve ca` and pass its URL",
            )
        })?;
        if !r.status().is_success() {
            bail!("{url}: HTTP {}", r.status());
        }
        let bundle: vouch_core::fulcio::TrustBundle = r
            .json()
            .await
            .with_context(|| format!("{url}: not a Fulcio TrustBundle"))?;
        let pem = bundle
            .chains
            .first()
            .and_then(|c| c.certificates.first())
            .ok_or_else(|| anyhow!("{url}: the trust bundle holds no certificate"))?;
        let der = vouch_core::keys::pem_decode(pem, &["CERTIFICATE"])
            .with_context(|| format!("{url}: the issuing certificate is not PEM"))?;
        let kind = vouch_core::x509::Certificate::from_der(&der)
            .and_then(|c| c.public_key())
            .with_context(|| format!("{url}: the issuing certificate's key"))?
            .kind();
        Ok(kind)
    })?;
    let t0 = Instant::now();
    let bodies = ca_requests(&a.identity_token, &challenge, a.keys)?;
    eprintln!(
        "generated {} P-256 keys with proofs of possession over {challenge:?} in {:.2} s; requesting with {} clients for {:.1} s",
        a.keys,
        t0.elapsed().as_secs_f64(),
        a.clients,
        a.duration.as_secs_f64()
    );
    let url = format!("{base}/api/v2/signingCert");
    let cpu = server_cpu(a.server_pid)?;
    let load = post_load(
        &rt,
        &http,
        &url,
        (bodies, "application/json"),
        a.clients,
        a.duration,
    );
    let (ok, errors, secs) = (load.ok, load.errors, load.secs);
    println!(
        "url={base} clients={} keys={} duration_s={secs:.2}",
        a.clients, a.keys
    );
    println!("certs={ok} errors={errors}");
    load.print_latencies();
    println!("certs_per_sec={:.0}", ok as f64 / secs);
    if let Some((cal, cpu)) = &cpu {
        // One issuance: the token's signature and the proof of possession verified (P-256:
        // `vouch up`'s ES256 tokens and this bench's keys), the precertificate signed by the CA,
        // its chain's first link checked by the CT log (the CA-to-root link is fixed and is
        // checked once), the SCT signed (P-256), and the certificate signed by the CA.
        let (ca_verify, ca_sign, ca_name) = match ca_key {
            vouch_core::keys::KeyKind::EcdsaP384 => (cal.p384_verify_us, cal.p384_sign_us, "P-384"),
            vouch_core::keys::KeyKind::EcdsaP256 => (cal.p256_verify_us, cal.p256_sign_us, "P-256"),
            other => bail!(
                "--server-pid: no calibration for a {} issuing key (P-256 and P-384 are calibrated)",
                other.name()
            ),
        };
        let floor = 2.0 * cal.p256_verify_us + cal.p256_sign_us + ca_verify + 2.0 * ca_sign;
        crate::bench_cpu::print_efficiency(
            cal,
            cpu,
            ok,
            floor,
            &format!(
                "2 P-256 verifies + 1 P-256 sign (SCT) + 1 {ca_name} verify + 2 {ca_name} signs, CA and CT log in the one process"
            ),
        )?;
    }
    if ok == 0 {
        bail!("no certificate was issued");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn targets() {
        assert!(check_target("http://127.0.0.1:3001").is_ok());
        assert!(check_target("http://localhost:3001/").is_ok());
        assert!(check_target("http://[::1]:3001").is_ok());
        assert!(check_target("https://log.example.test").is_err());
        assert!(check_target("http://10.0.0.1:3001").is_err());
        assert!(check_target("file:///tmp/x").is_err());
    }

    #[test]
    fn ca_challenge() {
        let tok = |claims: &str| format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims));
        assert_eq!(
            pop_challenge(&tok(r#"{"sub":"s","email":"a@b"}"#)).unwrap_or_default(),
            "a@b"
        );
        assert_eq!(
            pop_challenge(&tok(r#"{"sub":"s"}"#)).unwrap_or_default(),
            "s"
        );
        assert!(pop_challenge(&tok("{}")).is_err());
        assert!(pop_challenge("garbage").is_err());
        let reqs = ca_requests("t", "a@b", 2).unwrap_or_default();
        assert_eq!(reqs.len(), 2);
        assert_ne!(reqs[0], reqs[1]);
    }

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn distinct_requests() {
        let reqs = pregenerate(10).unwrap_or_default();
        assert_eq!(reqs.len(), 10);
        let set: std::collections::HashSet<_> = reqs.iter().collect();
        assert_eq!(set.len(), 10);
        let v: serde_json::Value = serde_json::from_slice(&reqs[0]).unwrap_or_default();
        assert!(v["hashedRekordRequestV002"]["signature"]["verifier"]["publicKey"].is_object());
    }
}
