//! `vouch monitor`: follow a transparency log (prove its consistency, watch identities) through
//! its tiles or its Rekor v1 API, a CT log (`--ct-log`) and/or a CA's issuance audit log
//! (`--ca-audit`).

use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vouch_core::keys::PublicKey;
use vouch_monitor::alert::Sinks;
use vouch_monitor::authorized::Authorized;
use vouch_monitor::ca_audit::{AuditMonitor, AuditMonitorOptions};
use vouch_monitor::config::Config;
use vouch_monitor::ct::{CtMonitor, CtMonitorOptions};
use vouch_monitor::{LogApi, Monitor, MonitorOptions, RunReport};

/// `vouch monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// Base URL of the log: its tlog-tiles prefix (e.g. http://127.0.0.1:3001), or where its
    /// Rekor v1 API is (https://rekor.sigstore.dev).
    #[arg(
        long,
        requires = "public_key",
        required_unless_present_any = ["ca_audit", "ct_log"]
    )]
    log: Option<String>,
    /// The log's checkpoint public key (PEM).
    #[arg(long, requires = "log")]
    public_key: Option<PathBuf>,
    /// How to read --log: C2SP tlog-tiles, or the Rekor v1 API (signed tree head, consistency
    /// proofs, entries with inclusion proofs) [default: tiles if it serves /checkpoint, else v1].
    #[arg(long, value_enum, requires = "log")]
    api: Option<crate::inventory_cmd::ApiArg>,
    /// An RFC 6962 CT log (e.g. `vouch up`'s http://127.0.0.1:3005): every certificate it logs
    /// for a watched identity is a `ct-identity` alert.
    #[arg(long, value_name = "URL", requires = "ct_public_key")]
    ct_log: Option<String>,
    /// The CT log's public key (PEM), which signs its tree heads.
    #[arg(long, value_name = "FILE", requires = "ct_log")]
    ct_public_key: Option<PathBuf>,
    /// A CA's issuance audit log (`vouch serve ca --audit-log`): every certificate issued to a
    /// watched identity is checked like a log entry (authorized set, spike alert).
    #[arg(long, value_name = "FILE")]
    ca_audit: Option<PathBuf>,
    /// State directory: the last verified checkpoint, the scan position, queued alerts.
    #[arg(long)]
    state: PathBuf,
    /// What to watch: a rekor-monitor configuration file (YAML, `monitoredValues:`).
    #[arg(long)]
    config: PathBuf,
    /// Run once and exit: status 1 when an alert was raised (or the log's checkpoint is
    /// refused), 0 otherwise.
    #[arg(long)]
    once: bool,
    /// C2SP tlog-policy file: every checkpoint must carry its witness quorum.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    /// Directory of the bundles (or sha256 digest lists) CI recorded for its own releases: a
    /// watched identity's signing that is not among them is an alert.
    #[arg(long, value_name = "DIR")]
    authorized: Option<PathBuf>,
    /// POST every alert (JSON) to this URL, with retries and backoff.
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// Time between passes when not --once, e.g. 30s, 5m.
    #[arg(long, default_value = "60s", value_parser = crate::serve::parse_duration)]
    interval: Duration,
    /// Serve Prometheus metrics (/metrics) and /healthz on this address while running.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Requests in flight at once: tiles, Rekor v1 entry batches, CT get-entries batches.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
}

/// The monitor raised alerts (or refuses the log's checkpoint): `--once` exits with status 1.
#[derive(Debug)]
pub struct Alerted {
    report: RunReport,
}

impl std::fmt::Display for Alerted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.report.alerts > 0 {
            write!(
                f,
                "{} alert(s) raised (JSON lines on stdout); scanned to index {} of {}",
                self.report.alerts, self.report.scanned, self.report.size
            )
        } else {
            write!(
                f,
                "the log's current checkpoint (size {}) is refused: see the alert raised earlier",
                self.report.size
            )
        }
    }
}

impl std::error::Error for Alerted {}

/// The followers a run drives: the log's, the CT log's, the CA audit log's, in any mix.
struct Followers {
    log: Option<Monitor>,
    ct: Option<CtMonitor>,
    ca_audit: Option<AuditMonitor>,
}

impl Followers {
    async fn run_once(&self) -> Result<RunReport> {
        let mut reports = Vec::new();
        if let Some(m) = &self.log {
            reports.push(m.run_once().await?);
        }
        if let Some(m) = &self.ct {
            reports.push(m.run_once().await?);
        }
        if let Some(m) = &self.ca_audit {
            reports.push(m.run_once().await?);
        }
        // The first follower's position is reported; alerts, entries and refusals add up.
        let mut it = reports.into_iter();
        let mut total = it.next().unwrap_or_default();
        for r in it {
            total.alerts += r.alerts;
            total.entries += r.entries;
            total.refused |= r.refused;
        }
        Ok(total)
    }

    fn metrics(&self) -> Arc<vouch_monitor::Metrics> {
        self.log
            .as_ref()
            .map(Monitor::metrics)
            .or_else(|| self.ct.as_ref().map(CtMonitor::metrics))
            .unwrap_or_else(|| Arc::new(vouch_monitor::Metrics::new()))
    }

    fn with_progress(mut self, f: &vouch_monitor::ProgressFn) -> Self {
        self.log = self.log.map(|m| m.with_progress(f.clone()));
        self.ct = self.ct.map(|m| m.with_progress(f.clone()));
        self
    }
}

fn build(a: &MonitorArgs) -> Result<Followers> {
    let yaml = std::fs::read(&a.config)
        .with_context(|| format!("cannot read --config {}", a.config.display()))?;
    let config = Config::parse(&yaml).map_err(|e| {
        hinted(
            format!("--config {}: {e}", a.config.display()),
            "the file uses rekor-monitor's format: `monitoredValues:` with certIdentities, subjects, fingerprints, oidMatchers",
        )
    })?;
    if !config.ignored.is_empty() {
        eprintln!(
            "note: rekor-monitor settings ignored (vouch reports on stdout and --webhook): {}",
            config.ignored.join(", ")
        );
    }
    let witness_policy = a
        .witness_policy
        .as_deref()
        .map(crate::witness_cmd::load_policy)
        .transpose()?;
    let authorized = match &a.authorized {
        Some(d) => {
            let set =
                Authorized::load(d).with_context(|| format!("--authorized {}", d.display()))?;
            if set.is_empty() {
                eprintln!(
                    "warning: --authorized {} records no signing: every watched match alerts",
                    d.display()
                );
            }
            Some(set)
        }
        None => None,
    };
    if let Some(w) = &a.webhook {
        crate::tlog::base_url(w).map_err(|e| anyhow!("--webhook: {e}"))?;
    }
    std::fs::create_dir_all(&a.state)
        .with_context(|| format!("cannot create --state {}", a.state.display()))?;
    let sinks = Sinks::new(true, a.webhook.clone())?;
    let ca_audit = a.ca_audit.as_ref().map(|p| {
        AuditMonitor::new(AuditMonitorOptions {
            audit_path: p.clone(),
            state_dir: a.state.clone(),
            config: config.clone(),
            authorized: authorized.clone(),
            sinks: sinks.clone(),
        })
    });
    let read_key = |flag: &str, path: &PathBuf| -> Result<PublicKey> {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {flag} {}", path.display()))?;
        PublicKey::from_pem(&pem).with_context(|| format!("{flag} {}", path.display()))
    };
    let ct = match (&a.ct_log, &a.ct_public_key) {
        (Some(url), Some(key)) => Some(CtMonitor::new(CtMonitorOptions {
            url: crate::tlog::base_url(url).map_err(|e| anyhow!("--ct-log: {e}"))?,
            key: read_key("--ct-public-key", key)?,
            state_dir: a.state.clone(),
            config: config.clone(),
            authorized: authorized.clone(),
            sinks: sinks.clone(),
            concurrency: a.concurrency as usize,
        })?),
        _ => None,
    };
    let log = match (&a.log, &a.public_key) {
        (Some(log), Some(key)) => Some(Monitor::new(MonitorOptions {
            log_url: crate::tlog::base_url(log)?,
            api: a.api.map(LogApi::from),
            log_key: read_key("--public-key", key)?,
            state_dir: a.state.clone(),
            config,
            witness_policy,
            authorized,
            sinks,
            concurrency: a.concurrency as usize,
        })?),
        _ => None,
    };
    let metrics = log
        .as_ref()
        .map(Monitor::metrics)
        .or_else(|| ct.as_ref().map(CtMonitor::metrics));
    let (ca_audit, ct) = match metrics {
        Some(m) => (
            ca_audit.map(|c| c.with_metrics(m.clone())),
            ct.map(|c| c.with_metrics(m)),
        ),
        None => (ca_audit, ct),
    };
    Ok(Followers { log, ct, ca_audit })
}

fn progress() -> Option<(ProgressBar, vouch_monitor::ProgressFn)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "scanning [{bar:30}] {pos}/{len} entries ({per_sec}, eta {eta})",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    let bar = pb.clone();
    Some((
        pb,
        Arc::new(move |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        }),
    ))
}

/// Run `vouch monitor`.
pub fn run(a: &MonitorArgs) -> Result<()> {
    let mut monitor = build(a)?;
    let bar = progress();
    if let Some((_, f)) = &bar {
        monitor = monitor.with_progress(f);
    }
    crate::serve::init_tracing();
    let rt = vouch_server::runtime("vouch-monitor")?;
    let r = rt.block_on(async {
        if a.once {
            let report = monitor.run_once().await?;
            if let Some((pb, _)) = &bar {
                pb.finish_and_clear();
            }
            eprintln!(
                "monitor: scanned {} entries, now at index {} of {}; {} alert(s)",
                report.entries, report.scanned, report.size, report.alerts
            );
            if report.alerts > 0 || report.refused {
                return Err(anyhow::Error::new(Alerted { report }));
            }
            return Ok(());
        }
        let monitor = Arc::new(monitor);
        if let Some(addr) = &a.metrics_listen {
            let server = vouch_server::Server::bind(addr.as_str())
                .await?
                .named("monitor-metrics");
            eprintln!("monitor metrics on {}/metrics", server.url());
            let metrics = monitor.metrics();
            let app = axum::Router::new()
                .route(
                    "/metrics",
                    axum::routing::get(move || {
                        let m = metrics.clone();
                        async move {
                            (
                                [(
                                    axum::http::header::CONTENT_TYPE,
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                )],
                                m.encode(),
                            )
                        }
                    }),
                )
                .route("/healthz", axum::routing::get(|| async { "ok" }));
            tokio::spawn(server.serve(app, crate::serve::shutdown_signal()));
        }
        let stop = crate::serve::shutdown_signal();
        tokio::pin!(stop);
        loop {
            match monitor.run_once().await {
                Ok(r) => tracing::info!(
                    scanned = r.scanned,
                    size = r.size,
                    alerts = r.alerts,
                    refused = r.refused,
                    "monitor pass done"
                ),
                // A failed pass (log unreachable, webhook down) is retried at the next one.
                Err(e) => tracing::error!(error = %e, "monitor pass failed"),
            }
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(a.interval) => {}
            }
        }
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    r
}

/// `vouch bench monitor`.
#[derive(Args, Debug)]
pub struct BenchMonitorArgs {
    /// Base URL of the log (loopback only: this measures the monitor, not the network).
    #[arg(long)]
    url: String,
    /// The log's checkpoint public key (PEM).
    #[arg(long)]
    public_key: PathBuf,
    /// A rekor-monitor configuration to match with [default: one subject that matches nothing,
    /// so every entry is read and matched but none alerts].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Tiles fetched at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
}

/// Run `vouch bench monitor`: one scan of the whole log from a fresh state; prints entries
/// scanned per second and the time per tile.
pub fn bench(a: &BenchMonitorArgs) -> Result<()> {
    let base =
        crate::bench::check_local(&a.url, "monitor", "vouch serve log --listen 127.0.0.1:3001")?;
    let pem = std::fs::read_to_string(&a.public_key)
        .with_context(|| format!("cannot read --public-key {}", a.public_key.display()))?;
    let log_key = PublicKey::from_pem(&pem)
        .with_context(|| format!("--public-key {}", a.public_key.display()))?;
    let yaml = match &a.config {
        Some(p) => {
            std::fs::read(p).with_context(|| format!("cannot read --config {}", p.display()))?
        }
        None => b"monitoredValues:\n  subjects: ['^vouch-bench-matches-nothing$']\n".to_vec(),
    };
    let config = Config::parse(&yaml).map_err(|e| anyhow!("--config: {e}"))?;
    let state = tempfile::tempdir().context("cannot create a temporary state directory")?;
    let ticks = Arc::new(std::sync::Mutex::new(Vec::<std::time::Instant>::new()));
    let t = ticks.clone();
    let monitor = Monitor::new(MonitorOptions {
        log_url: base.clone(),
        api: Some(LogApi::Tiles),
        log_key,
        state_dir: state.path().to_path_buf(),
        config,
        witness_policy: None,
        authorized: None,
        sinks: Sinks::new(false, None)?,
        concurrency: a.concurrency as usize,
    })?
    .with_progress(Arc::new(move |_, _| {
        if let Ok(mut v) = t.lock() {
            v.push(std::time::Instant::now());
        }
    }));
    let metrics = monitor.metrics();
    let rt = vouch_server::runtime("vouch-bench-monitor")?;
    let started = std::time::Instant::now();
    let report = rt.block_on(monitor.run_once())?;
    // A tile the scanner cannot fetch (after the shared client's retries) fails the run; an
    // entry whose body does not read as a Rekor entry is counted and skipped: those are the
    // errors of a completed scan.
    let unreadable = metrics.entries_unreadable.get();
    let secs = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u32> = {
        let v = ticks.lock().map(|v| v.clone()).unwrap_or_default();
        let mut prev = started;
        v.into_iter()
            .map(|t| {
                let d = t.duration_since(prev);
                prev = t;
                u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
            })
            .collect()
    };
    latencies.sort_unstable();
    let load = crate::bench::PostLoad {
        ok: report.entries.saturating_sub(unreadable),
        errors: unreadable,
        secs,
        latencies,
    };
    println!(
        "url={base} concurrency={} duration_s={secs:.2}",
        a.concurrency
    );
    println!(
        "entries={} tiles={} alerts={} errors={unreadable}",
        report.entries,
        load.latencies.len(),
        report.alerts
    );
    // Percentiles of the time per scanned tile (256 entries).
    load.print_latencies();
    println!(
        "entries_per_sec={:.0}",
        report.entries as f64 / secs.max(1e-9)
    );
    if report.entries == 0 {
        bail!("the log at {base} has no entries to scan");
    }
    Ok(())
}
