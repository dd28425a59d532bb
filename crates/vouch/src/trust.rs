//! `vouch trust …`: obtain an instance's trust material through TUF, and move it across an
//! air gap.
//!
//! Layout of the trust directory (`--out`, default `./vouch-trust`): `trusted_root.json`,
//! `signing_config.v0.2.json`, `trust_config.json` (a ClientTrustConfig, for
//! `sigstore --trust-config` and friends) and `tuf/`, the verified TUF cache (the rollback
//! floor of later updates, and the source of `vouch trust export`).

use crate::tlog::hinted;
use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use vouch_core::trust::{
    CLIENT_TRUST_CONFIG_MEDIA_TYPE, ClientTrustConfig, SigningConfig, TrustRoot,
};
use vouch_tuf::{SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET, TufClient, TufError};

const DEFAULT_DIR: &str = "./vouch-trust";

/// `vouch trust …` subcommands.
#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Fetch trusted_root.json and signing_config.v0.2.json from an instance's TUF repository,
    /// verify them against a trusted root.json, and write them (plus trust_config.json).
    Init {
        /// Base URL of the TUF repository (e.g. http://127.0.0.1:8080/tuf).
        #[arg(long)]
        mirror: String,
        /// The repository's root.json, obtained out of band (any version; newer ones are
        /// fetched and verified).
        #[arg(long)]
        root: PathBuf,
        /// TUF cache directory [default: <OUT>/tuf].
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Where to write the trust material.
        #[arg(long, default_value = DEFAULT_DIR)]
        out: PathBuf,
    },
    /// Copy the current trust material (the verified TUF metadata and targets) into DIR, laid
    /// out as a TUF mirror, for transfer to an air-gapped machine.
    Export {
        /// Directory to create or refresh.
        dir: PathBuf,
        /// The trust directory written by `vouch trust init`.
        #[arg(long, default_value = DEFAULT_DIR)]
        from: PathBuf,
    },
    /// Verify an exported directory (TUF signatures, versions, hashes, expiry) and install it.
    Import {
        /// Directory written by `vouch trust export`.
        dir: PathBuf,
        /// The repository's root.json, obtained out of band [default: the root already
        /// trusted in <OUT>/tuf].
        #[arg(long)]
        root: Option<PathBuf>,
        /// Where to install the trust material.
        #[arg(long, default_value = DEFAULT_DIR)]
        out: PathBuf,
    },
    /// Sign the next root.json version of an instance's TUF repository with its offline root
    /// key (`vouch up --tuf-root-key-offline`): same keys, a new expiry. A running instance
    /// serves it at once and adopts it at its next refresh.
    SignRoot {
        /// The repository directory (`<vouch up --data>/tuf`).
        #[arg(long, default_value = "./vouch-data/tuf")]
        repo: PathBuf,
        /// The offline root key written by `vouch up --tuf-root-key-offline`.
        #[arg(long)]
        root_key: PathBuf,
        /// Lifetime of the new root version, in days.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: u32,
    },
}

/// Run a `vouch trust` subcommand.
pub fn run(cmd: TrustCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cmd {
        TrustCommand::Init {
            mirror,
            root,
            cache,
            out,
        } => {
            let root_bytes = read_root(&root)?;
            let cache = cache.unwrap_or_else(|| out.join("tuf"));
            let client = TufClient::new(&mirror, &root_bytes, &cache).map_err(tuf_err)?;
            let (tr, sc) = rt.block_on(fetch(client))?;
            install(&out, &tr, sc.as_deref())?;
            println!(
                "trust material from {mirror} verified through TUF and written to {}",
                out.display()
            );
            Ok(())
        }
        TrustCommand::Export { dir, from } => {
            let cache = from.join("tuf");
            let files = vouch_tuf::export_mirror(&cache, &dir).map_err(|e| {
                hinted(
                    e.to_string(),
                    format!(
                        "run `vouch trust init --out {}` first, or pass --from DIR",
                        from.display()
                    ),
                )
            })?;
            println!(
                "exported {} files to {}; on the other side run `vouch trust import {} --root ROOT.json`",
                files.len(),
                dir.display(),
                dir.display()
            );
            Ok(())
        }
        TrustCommand::Import { dir, root, out } => {
            let cache = out.join("tuf");
            let root_bytes = match root {
                Some(p) => read_root(&p)?,
                None => std::fs::read(cache.join("root.json")).map_err(|_| {
                    hinted(
                        format!("no trusted root: {} has no TUF cache", cache.display()),
                        "pass --root FILE: the instance's root.json, obtained out of band (never from the exported directory itself)",
                    )
                })?,
            };
            let client = TufClient::offline(&dir, &root_bytes, &cache).map_err(tuf_err)?;
            let (tr, sc) = rt.block_on(fetch(client))?;
            install(&out, &tr, sc.as_deref())?;
            println!(
                "trust material from {} verified through TUF and installed in {}",
                dir.display(),
                out.display()
            );
            Ok(())
        }
        TrustCommand::SignRoot {
            repo,
            root_key,
            expires_in_days,
        } => {
            let v = rt
                .block_on(vouch_tuf::sign_root_offline(
                    &repo,
                    &root_key,
                    std::time::Duration::from_secs(u64::from(expires_in_days) * 86_400),
                    jiff::Timestamp::now(),
                ))
                .map_err(tuf_err)?;
            println!(
                "signed root.json version {v} in {}; clients walk to it on their next update",
                repo.join("metadata").display()
            );
            Ok(())
        }
    }
}

fn read_root(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        hinted(
            format!("cannot read TUF root {}: {e}", path.display()),
            "pass the instance's root.json (e.g. its 1.root.json, distributed out of band) with --root",
        )
    })
}

async fn fetch(mut client: TufClient) -> anyhow::Result<(Vec<u8>, Option<Vec<u8>>)> {
    let now = jiff::Timestamp::now();
    client.refresh_at(now).await.map_err(tuf_err)?;
    let tr = client
        .target_at(TRUSTED_ROOT_TARGET, now)
        .await
        .map_err(tuf_err)?;
    let sc = client
        .target_opt_at(SIGNING_CONFIG_TARGET, now)
        .await
        .map_err(tuf_err)?;
    Ok((tr, sc))
}

fn tuf_err(e: TufError) -> anyhow::Error {
    let hint = match &e {
        TufError::Expired(_) => {
            "the repository's metadata has expired: the instance must re-sign it (a running vouch does this itself), or export a fresh copy"
        }
        TufError::TargetNotFound(_) => {
            "the repository does not publish this Sigstore trust material; is it a Sigstore instance's TUF repository?"
        }
        TufError::BootstrapRoot(_) => {
            "--root must be the instance's signed TUF root metadata (e.g. its 1.root.json), not a Sigstore trusted_root.json"
        }
        e if e.is_transport() => {
            "check the --mirror URL (the TUF base URL, where 1.root.json and timestamp.json are served) and that the instance is running"
        }
        TufError::Client(_) => {
            "the metadata does not verify against the trusted root: check --root, or the mirror is serving tampered or stale files"
        }
        TufError::Invalid(_) => "check the path or URL",
        _ => return anyhow::Error::new(e),
    };
    hinted(vouch_core::error_chain(&e), hint)
}

/// Check the targets parse as Sigstore trust material, then write them and the
/// ClientTrustConfig.
fn install(out: &Path, tr: &[u8], sc: Option<&[u8]>) -> anyhow::Result<()> {
    TrustRoot::from_json(tr).map_err(|e| {
        hinted(
            format!("the TUF-verified {TRUSTED_ROOT_TARGET} is not a usable trusted root: {e}"),
            "the instance published a malformed trusted root; ask its operator",
        )
    })?;
    let tr_value: serde_json::Value = serde_json::from_slice(tr)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write(out, TRUSTED_ROOT_TARGET, tr)?;
    match sc {
        Some(sc) => {
            SigningConfig::from_json(sc).map_err(|e| {
                hinted(
                    format!("the TUF-verified {SIGNING_CONFIG_TARGET} is not a usable signing config: {e}"),
                    "the instance published a malformed signing config; ask its operator",
                )
            })?;
            let sc_value: serde_json::Value = serde_json::from_slice(sc)?;
            write(out, SIGNING_CONFIG_TARGET, sc)?;
            // Keep the documents verbatim (unknown fields included) rather than re-serializing.
            let tc = VerbatimTrustConfig {
                media_type: CLIENT_TRUST_CONFIG_MEDIA_TYPE,
                signing_config: sc_value,
                trusted_root: tr_value,
            };
            let mut bytes = serde_json::to_vec_pretty(&tc)?;
            bytes.push(b'\n');
            // Round-trip check against our own type.
            serde_json::from_slice::<ClientTrustConfig>(&bytes)
                .context("building trust_config.json")?;
            write(out, "trust_config.json", &bytes)?;
        }
        None => eprintln!(
            "note: the repository publishes no {SIGNING_CONFIG_TARGET}; trust_config.json not written"
        ),
    }
    Ok(())
}

/// A `ClientTrustConfig` written with its two documents as the TUF repository served them
/// (unknown fields kept), which [`ClientTrustConfig`] would drop; the file is then checked to
/// parse as one. Members in sorted order, as the file has always been written.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct VerbatimTrustConfig {
    media_type: &'static str,
    signing_config: serde_json::Value,
    trusted_root: serde_json::Value,
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `vouch bench tuf`.
#[derive(clap::Args, Debug)]
pub struct BenchTufArgs {
    /// Base URL of the TUF repository, where 1.root.json and timestamp.json are served (e.g.
    /// `vouch up`'s http://127.0.0.1:PORT/tuf; loopback only: this is a load generator).
    #[arg(long)]
    url: String,
    /// The repository's root.json (e.g. the bootstrap root `vouch up` prints,
    /// `<data>/root.json`): one refresh is verified from it before the load.
    #[arg(long)]
    root: PathBuf,
    /// The target file each refresh downloads.
    #[arg(long, default_value = TRUSTED_ROOT_TARGET)]
    target: String,
    /// Concurrent clients, each refreshing back to back.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// How long to refresh, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = crate::serve::parse_duration)]
    duration: std::time::Duration,
}

/// Counters of a TUF load run besides the per-request ones.
struct TufRun {
    stats: std::sync::Arc<crate::bench::LoadStats>,
    /// The newest root version seen (the root walk asks for the next one).
    root_version: std::sync::atomic::AtomicU64,
    /// Complete refreshes.
    refreshes: std::sync::atomic::AtomicU64,
}

/// One timed GET of a refresh: the body on 200, `None` on 404 (the end of the root walk);
/// anything else is an error naming the URL.
async fn tuf_get(
    http: &reqwest::Client,
    url: &str,
    run: &TufRun,
    lat: &mut Vec<u32>,
) -> Result<Option<Vec<u8>>, String> {
    use std::sync::atomic::Ordering;
    let started = std::time::Instant::now();
    let r = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = r.status();
    let body = r
        .bytes()
        .await
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    let found = match status {
        reqwest::StatusCode::OK => Some(body.to_vec()),
        reqwest::StatusCode::NOT_FOUND => None,
        s => {
            return Err(format!(
                "GET {url}: HTTP {s}: {}",
                String::from_utf8_lossy(&body).trim()
            ));
        }
    };
    lat.push(crate::bench::elapsed_us(started));
    run.stats.ok.fetch_add(1, Ordering::Relaxed);
    Ok(found)
}

/// One refresh as a client without a cache makes it: the next root version (404 ends the
/// walk), `timestamp.json`, the snapshot it names, the targets the snapshot names, and the
/// target file. Each file is read only for the name of the next.
async fn tuf_refresh(
    http: &reqwest::Client,
    base: &str,
    target: &str,
    run: &TufRun,
    lat: &mut Vec<u32>,
) -> Result<(), String> {
    use std::sync::atomic::Ordering;
    let next_root = run.root_version.load(Ordering::Relaxed) + 1;
    if tuf_get(http, &format!("{base}/{next_root}.root.json"), run, lat)
        .await?
        .is_some()
    {
        // A new root version: later walks start from it.
        run.root_version.fetch_max(next_root, Ordering::Relaxed);
    }
    let need = |b: Option<Vec<u8>>, what: &str| b.ok_or_else(|| format!("GET {base}/{what}: 404"));
    let ts = need(
        tuf_get(http, &format!("{base}/timestamp.json"), run, lat).await?,
        "timestamp.json",
    )?;
    let snapshot = vouch_tuf::snapshot_path(&ts).map_err(|e| vouch_core::error_chain(&e))?;
    let snap = need(
        tuf_get(http, &format!("{base}/{snapshot}"), run, lat).await?,
        &snapshot,
    )?;
    let targets = vouch_tuf::targets_path(&snap).map_err(|e| vouch_core::error_chain(&e))?;
    let tj = need(
        tuf_get(http, &format!("{base}/{targets}"), run, lat).await?,
        &targets,
    )?;
    let file = vouch_tuf::target_path(&tj, target).map_err(|e| vouch_core::error_chain(&e))?;
    need(
        tuf_get(http, &format!("{base}/{file}"), run, lat).await?,
        &file,
    )?;
    run.refreshes.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn tuf_client(
    http: reqwest::Client,
    base: String,
    target: String,
    run: std::sync::Arc<TufRun>,
) -> Vec<u32> {
    let mut lat = Vec::new();
    while !run.stats.stop.load(std::sync::atomic::Ordering::Relaxed) {
        if let Err(e) = tuf_refresh(&http, &base, &target, &run, &mut lat).await {
            run.stats.error(e);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    lat
}

/// Run `vouch bench tuf`.
pub fn bench(a: &BenchTufArgs) -> anyhow::Result<()> {
    let base = crate::bench::check_local(
        &a.url,
        "tuf",
        "vouch up (its TUF repository is http://127.0.0.1:PORT/tuf)",
    )?;
    let root = read_root(&a.root)?;
    let (rt, http) = crate::bench::load_runtime(a.clients)?;
    // Preflight: a real, verified refresh and target download from the trusted root.
    let cache = tempfile::tempdir().context("creating a temporary TUF cache")?;
    let root_version = rt.block_on(async {
        let mut client = TufClient::new(&base, &root, cache.path()).map_err(tuf_err)?;
        let now = jiff::Timestamp::now();
        client.refresh_at(now).await.map_err(tuf_err)?;
        client.target_at(&a.target, now).await.map_err(tuf_err)?;
        Ok::<_, anyhow::Error>(client.root_version())
    })?;
    eprintln!(
        "refresh from {} verified (root version {root_version}, target {}); refreshing with {} clients for {:.1} s",
        a.root.display(),
        a.target,
        a.clients,
        a.duration.as_secs_f64()
    );
    let stats = std::sync::Arc::new(crate::bench::LoadStats::default());
    let run = std::sync::Arc::new(TufRun {
        stats: stats.clone(),
        root_version: std::sync::atomic::AtomicU64::new(root_version),
        refreshes: std::sync::atomic::AtomicU64::new(0),
    });
    let workers = (0..a.clients)
        .map(|_| tuf_client(http.clone(), base.clone(), a.target.clone(), run.clone()))
        .collect();
    let load = crate::bench::run_load(&rt, workers, a.duration, &stats);
    let refreshes = run.refreshes.load(std::sync::atomic::Ordering::Relaxed);
    let secs = load.secs;
    println!(
        "url={base} clients={} target={} duration_s={secs:.2}",
        a.clients, a.target
    );
    println!(
        "refreshes={refreshes} requests={} errors={}",
        load.ok, load.errors
    );
    load.print_latencies();
    println!(
        "requests_per_sec={:.0} refreshes_per_sec={:.0}",
        load.ok as f64 / secs,
        refreshes as f64 / secs
    );
    if refreshes == 0 {
        anyhow::bail!("no refresh completed");
    }
    Ok(())
}
