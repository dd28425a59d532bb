//! `vouch serve witness` (a C2SP tlog-witness over one or more logs) and `vouch witness key`
//! (print the witness's vkeys).

use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vouch_core::note::NoteVerifier;
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
