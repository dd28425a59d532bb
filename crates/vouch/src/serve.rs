//! `vouch serve log`: run the transparency log (Rekor v2 write API, C2SP tlog-tiles read API)
//! over an embedded store in a data directory; `vouch serve ct`: an RFC 6962 CT log for the CA.

use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vouch_core::keys::pem_encode;
use vouch_core::note::{Checkpoint, SignedNote};
use vouch_log::storage::{Storage, write_file_durably};
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner};

/// `vouch serve …` subcommands.
#[derive(Subcommand, Debug)]
pub enum ServeCommand {
    /// Run the transparency log: Rekor v2 writes, tlog-tiles reads, /healthz, /metrics.
    Log(ServeLogArgs),
    /// Run the keyless CA: Fulcio v2 API (signingCert, trustBundle, configuration), /healthz, /metrics.
    Ca(crate::ca::ServeCaArgs),
    /// Run an RFC 6962 CT log for a CA (ECDSA P-256 key): add-chain, add-pre-chain, get-sth,
    /// get-sth-consistency, get-proof-by-hash, get-entries, get-roots, get-entry-and-proof.
    Ct(ServeCtArgs),
    /// Run the OIDC identity provider: discovery, JWKS, login page (auth code + PKCE), device flow, tokens.
    Oidc(crate::oidc::ServeOidcArgs),
    /// Run an RFC 3161 timestamp authority (sigstore/timestamp-authority API), /healthz, /metrics.
    Tsa(crate::tsa::ServeTsaArgs),
    /// Run a C2SP tlog-witness for one or more logs: POST /add-checkpoint, GET
    /// /<origin hash>/checkpoint, /healthz, /metrics (Ed25519 and ML-DSA-44 cosignatures).
    Witness(crate::witness_cmd::ServeWitnessArgs),
    /// Run a verifying proof cache in front of a log: verified checkpoints and tiles (C2SP
    /// tlog-tiles), /proof?index=N (c2sp.org/tlog-proof@v1 or Sigstore InclusionProof JSON),
    /// Rekor v1 /api/v1/log and /api/v1/log/proof, /healthz, /metrics.
    Proxy(crate::proxy_cmd::ServeProxyArgs),
}

/// `vouch serve ct`.
#[derive(Args, Debug)]
pub struct ServeCtArgs {
    /// Data directory: tiles, index database, CT log key, settings (created if missing). With
    /// --database, only the CT log key (the same on every front end) and the files written for
    /// clients live here.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    scale: crate::scale::ScaleArgs,
    /// Checkpoint origin, e.g. ct.example.test/2026 (required on first start, then remembered).
    #[arg(long)]
    origin: Option<String>,
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:3003")]
    listen: String,
    /// PEM root certificate(s) whose chains the log accepts (repeatable).
    #[arg(long, required = true)]
    accept_root: Vec<PathBuf>,
    /// How long the sequencer waits to fill a batch, e.g. 250ms, 1s.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    batch_interval: Duration,
    /// URL to name the log by in the trusted root entry [default: the listening URL].
    #[arg(long)]
    public_url: Option<String>,
    #[command(flatten)]
    server: crate::listen::ServerArgs,
}

/// Checkpoint key algorithm (used when the key is generated on first start).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum KeyAlg {
    /// Ed25519 (Rekor v2's choice).
    Ed25519,
    /// ECDSA P-256 with SHA-256.
    EcdsaP256,
}

/// `vouch serve log`.
#[derive(Args, Debug)]
pub struct ServeLogArgs {
    /// Data directory: tiles, index database, log key, settings (created if missing). With
    /// --database, only the log key (log.key, the same on every front end) and the files
    /// written for clients live here.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    scale: crate::scale::ScaleArgs,
    /// Checkpoint origin, e.g. log.example.test/2026 (required on first start, then remembered).
    #[arg(long)]
    origin: Option<String>,
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:3001")]
    listen: String,
    /// How long the sequencer waits to fill a batch, e.g. 250ms, 1s.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    batch_interval: Duration,
    /// Largest batch integrated at once.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_batch: u32,
    /// Most submissions waiting for integration; beyond that clients get 503 + Retry-After.
    #[arg(long, default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    max_pending: u32,
    /// Checkpoint key algorithm when generating the key on first start [default: ed25519].
    #[arg(long, value_enum)]
    key_algorithm: Option<KeyAlg>,
    /// URL to name the log by in the trusted root entry [default: https://<origin>]
    /// (verifiers derive the expected checkpoint origin from it).
    #[arg(long)]
    public_url: Option<String>,
    /// C2SP tlog-policy file: push every new checkpoint to its witnesses (those with a URL)
    /// and serve the cosigned checkpoint. With --database the cosigned checkpoint is stored in
    /// the database and served by every front end, and every front end must have the same
    /// policy (the first one records it; see --replace-witness-policy).
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    /// With --witness-policy: acknowledge a write only when the checkpoint covering it has the
    /// policy's quorum (fail closed; writes get 503 while witnesses are missing).
    #[arg(long, requires = "witness_policy")]
    require_witness_quorum: bool,
    /// How long each witness gets to answer one add-checkpoint.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    witness_timeout: Duration,
    /// With --database: make this front end's witness policy (or its absence) the log's, in
    /// place of the one the other front ends recorded. Without it, a front end whose
    /// --witness-policy file or --require-witness-quorum differs from theirs is refused.
    #[arg(long, requires = "database")]
    replace_witness_policy: bool,
    #[command(flatten)]
    server: crate::listen::ServerArgs,
}

/// Parse `250ms`, `2s`, `1.5s`, `1m` ([`vouch_core::time::parse_duration`], for clap).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    vouch_core::time::parse_duration(s).map_err(|e| e.to_string())
}

/// Settings kept in the data directory across restarts.
#[derive(serde::Serialize, serde::Deserialize, Debug)]
pub(crate) struct Settings {
    pub(crate) origin: String,
    /// First start (RFC 3339): the trusted root's `validFor.start`.
    pub(crate) created: String,
}

const SETTINGS: &str = "log.json";

pub(crate) fn check_origin(origin: &str) -> Result<()> {
    if origin.is_empty()
        || origin.len() > 255
        || origin
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
    {
        bail!(
            "invalid --origin {origin:?}: it must be non-empty, at most 255 bytes, without spaces or '+' (e.g. log.example.test/2026)"
        );
    }
    if origin.contains("://") {
        return Err(hinted(
            format!("invalid --origin {origin:?}: an origin has no scheme"),
            "use the log's host and path, e.g. log.example.test/2026",
        ));
    }
    Ok(())
}

/// Load the settings, or create them on first start.
pub(crate) fn settings(data: &Path, origin: Option<&str>) -> Result<Settings> {
    let path = data.join(SETTINGS);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let s: Settings = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is corrupt", path.display()))?;
            if let Some(o) = origin
                && o != s.origin
            {
                return Err(hinted(
                    format!(
                        "data directory {} holds the log {:?}, not {o:?}",
                        data.display(),
                        s.origin
                    ),
                    "a log's origin never changes: use another --data directory for a new log",
                ));
            }
            Ok(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let origin = origin.ok_or_else(|| {
                hinted(
                    format!("{} is a new log: --origin is required", data.display()),
                    "pass --origin log.example.test/2026 (the name clients see in checkpoints)",
                )
            })?;
            let created = jiff::Timestamp::now()
                .round(
                    jiff::TimestampRound::new()
                        .smallest(jiff::Unit::Second)
                        .mode(jiff::RoundMode::Trunc),
                )
                .map_err(|e| anyhow!("clock: {e}"))?
                .to_string();
            let s = Settings {
                origin: origin.to_string(),
                created,
            };
            std::fs::create_dir_all(data)
                .with_context(|| format!("cannot create data directory {}", data.display()))?;
            let json = serde_json::to_vec_pretty(&s)?;
            write_file_durably(&path, &json, false)
                .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
            Ok(s)
        }
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Run `vouch serve log` until SIGINT or SIGTERM.
pub fn run(cmd: ServeCommand) -> Result<()> {
    match cmd {
        ServeCommand::Log(a) => serve_log(&a),
        ServeCommand::Ca(a) => crate::ca::serve(&a),
        ServeCommand::Ct(a) => serve_ct(&a),
        ServeCommand::Oidc(a) => crate::oidc::serve(&a),
        ServeCommand::Tsa(a) => crate::tsa::serve(&a),
        ServeCommand::Witness(a) => crate::witness_cmd::serve(&a),
        ServeCommand::Proxy(a) => crate::proxy_cmd::serve(&a),
    }
}

fn serve_ct(a: &ServeCtArgs) -> Result<()> {
    if let Some(o) = &a.origin {
        check_origin(o)?;
    }
    if a.data.exists() && !a.data.is_dir() {
        bail!("--data {} is not a directory", a.data.display());
    }
    let mut roots = Vec::new();
    for p in &a.accept_root {
        let pem = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read --accept-root {}", p.display()))?;
        let certs = vouch_core::x509::Certificate::from_pem_chain(&pem)
            .map_err(|e| anyhow!("--accept-root {}: {e}", p.display()))?;
        if certs.is_empty() {
            bail!("--accept-root {} holds no certificate", p.display());
        }
        roots.extend(certs.iter().map(|c| c.der().to_vec()));
    }
    if a.scale.database.is_some() {
        std::fs::create_dir_all(&a.data)
            .with_context(|| format!("cannot create data directory {}", a.data.display()))?;
        let (storage, meta) = crate::scale::open_backend(&a.scale, a.origin.as_deref())?;
        let key_file = a.data.join("log.key");
        crate::scale::require_key_file(&storage, &key_file, crate::scale::FRONT_END_KEY_HINT)?;
        let signer = load_ct_signer(a, &meta.origin)?;
        crate::scale::claim_key(&storage, &signer, &key_file)?;
        let settings = Settings {
            origin: meta.origin,
            created: meta.created,
        };
        return serve_ct_on(a, roots, storage, signer, &settings);
    }
    let settings = settings(&a.data, a.origin.as_deref())?;
    let signer = load_ct_signer(a, &settings.origin)?;
    let storage = EmbeddedStorage::open(&a.data).map_err(|e| {
        hinted(
            format!("cannot open the log store in {}: {e}", a.data.display()),
            "is another vouch server using this directory?",
        )
    })?;
    serve_ct_on(a, roots, storage, signer, &settings)
}

/// Load (or generate) the CT log's ECDSA P-256 key in `--data`.
fn load_ct_signer(a: &ServeCtArgs, origin: &str) -> Result<LogSigner> {
    let signer = LogSigner::load_or_generate(&a.data, origin, KeyAlgorithm::EcdsaP256)
        .map_err(|e| anyhow!("cannot load the log key in {}: {e}", a.data.display()))?;
    if signer.key_details() != "PKIX_ECDSA_P256_SHA_256" {
        return Err(hinted(
            format!(
                "the log key in {} is {}, a CT log needs ECDSA P-256",
                a.data.display(),
                signer.key_details()
            ),
            "use a new --data directory for the CT log",
        ));
    }
    Ok(signer)
}

/// Serve the CT log over `storage` until SIGINT or SIGTERM.
fn serve_ct_on<S: Storage>(
    a: &ServeCtArgs,
    roots: Vec<Vec<u8>>,
    storage: S,
    signer: LogSigner,
    settings: &Settings,
) -> Result<()> {
    let origin = settings.origin.clone();
    init_tracing();
    let config = LogConfig {
        origin: origin.clone(),
        batch_interval: a.batch_interval,
        ..LogConfig::default()
    };
    let rt = vouch_server::runtime("vouch-ct")?;
    rt.block_on(async move {
        let log = Log::open(storage, signer, config)
            .map_err(|e| anyhow!("cannot open the log in {}: {e}", a.data.display()))?;
        let app = vouch_log::ct::router(log.clone(), roots)
            .map_err(|e| anyhow!("cannot start the CT log: {e}"))?;
        let server = a
            .server
            .bind("ct", &a.listen, vouch_log::api::MAX_REQUEST_BYTES)
            .await?;
        let url = server.url();
        let public_url = match &a.public_url {
            Some(u) => crate::tlog::base_url(u)?,
            None => url.clone(),
        };
        let entry =
            vouch_log::ct::trusted_root_ctlog_entry(log.signer(), &public_url, &settings.created);
        let tr_path = a.data.join("trusted_root.ctlog.json");
        write_file_durably(&tr_path, &serde_json::to_vec_pretty(&entry)?, false)
            .map_err(|e| anyhow!("cannot write {}: {e}", tr_path.display()))?;
        let mut out = String::new();
        out.push_str(&format!("vouch CT log listening on {url}\n"));
        out.push_str(&format!("origin: {origin}\n"));
        out.push_str(&format!(
            "CT log ID: {}\n",
            hex::encode(vouch_log::ct::ct_log_id(log.signer()))
        ));
        out.push_str(&format!(
            "trusted root ctlogs entry: {} (baseUrl {public_url})\n",
            tr_path.display()
        ));
        print!("{out}");
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        tracing::info!(%url, %origin, "CT log server started");
        server.serve(app, shutdown_signal()).await;
        drop(log);
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

fn serve_log(a: &ServeLogArgs) -> Result<()> {
    if let Some(o) = &a.origin {
        check_origin(o)?;
    }
    if a.data.exists() && !a.data.is_dir() {
        bail!("--data {} is not a directory", a.data.display());
    }
    if a.scale.database.is_some() {
        std::fs::create_dir_all(&a.data)
            .with_context(|| format!("cannot create data directory {}", a.data.display()))?;
        let (storage, meta) = crate::scale::open_backend(&a.scale, a.origin.as_deref())?;
        let key_file = a.data.join("log.key");
        crate::scale::require_key_file(&storage, &key_file, crate::scale::FRONT_END_KEY_HINT)?;
        let signer = load_log_signer(a, &meta.origin)?;
        crate::scale::claim_key(&storage, &signer, &key_file)?;
        crate::scale::claim_witness_policy(
            &storage,
            a.witness_policy.as_deref(),
            a.require_witness_quorum,
            a.replace_witness_policy,
        )?;
        let settings = Settings {
            origin: meta.origin,
            created: meta.created,
        };
        return serve_log_on(a, storage, signer, &settings);
    }
    let settings = settings(&a.data, a.origin.as_deref())?;
    let signer = load_log_signer(a, &settings.origin)?;
    let storage = EmbeddedStorage::open(&a.data).map_err(|e| {
        hinted(
            format!("cannot open the log store in {}: {e}", a.data.display()),
            "is another `vouch serve log` using this directory?",
        )
    })?;
    serve_log_on(a, storage, signer, &settings)
}

/// Load (or generate on first start) the checkpoint key in `--data`, checking --key-algorithm.
fn load_log_signer(a: &ServeLogArgs, origin: &str) -> Result<LogSigner> {
    let alg = match a.key_algorithm.unwrap_or(KeyAlg::Ed25519) {
        KeyAlg::Ed25519 => KeyAlgorithm::Ed25519,
        KeyAlg::EcdsaP256 => KeyAlgorithm::EcdsaP256,
    };
    let key_existed = a.data.join("log.key").exists();
    let signer = LogSigner::load_or_generate(&a.data, origin, alg)
        .map_err(|e| anyhow!("cannot load the log key in {}: {e}", a.data.display()))?;
    if key_existed && let Some(want) = a.key_algorithm {
        let have = signer.key_details();
        let want_details = match want {
            KeyAlg::Ed25519 => "PKIX_ED25519",
            KeyAlg::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        };
        if have != want_details {
            return Err(hinted(
                format!(
                    "the log key in {} is {have}, not {want_details}",
                    a.data.display()
                ),
                "the key is generated on first start and kept: drop --key-algorithm, or use a new --data directory",
            ));
        }
    }
    Ok(signer)
}

/// Serve the log over `storage` until SIGINT or SIGTERM.
fn serve_log_on<S: Storage>(
    a: &ServeLogArgs,
    storage: S,
    signer: LogSigner,
    settings: &Settings,
) -> Result<()> {
    let origin = settings.origin.clone();
    if let Some(cp) = storage
        .load_checkpoint()
        .map_err(|e| anyhow!("cannot read the stored checkpoint: {e}"))?
    {
        let note = SignedNote::parse(&cp.note)
            .map_err(|e| anyhow!("stored checkpoint is corrupt: {e}"))?;
        let body = Checkpoint::parse(&note.text)
            .map_err(|e| anyhow!("stored checkpoint is corrupt: {e}"))?;
        if body.origin != origin {
            bail!(
                "the stored checkpoint is for origin {:?}, {} says {origin:?}",
                body.origin,
                a.data.join(SETTINGS).display()
            );
        }
        note.verify(signer.verifier()).map_err(|e| {
            anyhow!(
                "the stored checkpoint is not signed by {}: {e}",
                a.data.join("log.key").display()
            )
        })?;
    }
    let public_url = match &a.public_url {
        Some(u) => crate::tlog::base_url(u)?,
        None => format!("https://{origin}"),
    };
    if vouch_core::trust::origin_from_url(&public_url) != origin {
        eprintln!(
            "warning: --public-url {public_url} does not name the origin {origin}: verifiers using the trusted root entry will expect checkpoints from {}",
            vouch_core::trust::origin_from_url(&public_url)
        );
    }

    let witnesses = match &a.witness_policy {
        Some(p) => Some(crate::witness_cmd::log_witness_client(
            p,
            signer.verifier(),
            a.witness_timeout,
            a.require_witness_quorum,
        )?),
        None => None,
    };
    init_tracing();
    let config = LogConfig {
        origin: origin.clone(),
        batch_interval: a.batch_interval,
        max_batch: a.max_batch as usize,
        max_pending: a.max_pending as usize,
    };
    let rt = vouch_server::runtime("vouch-log")?;
    rt.block_on(async move {
        let log = Log::open(storage, signer, config)
            .map_err(|e| anyhow!("cannot open the log in {}: {e}", a.data.display()))?;
        let mut witness_lines = String::new();
        if let Some(w) = witnesses {
            for (name, url) in w.witnesses() {
                witness_lines.push_str(&format!("witness: {name} {url}\n"));
            }
            if w.requires_quorum() {
                witness_lines.push_str("writes are acknowledged only with the witness quorum\n");
            }
            log.set_witness_client(w)
                .map_err(|e| anyhow!("witness client: {e}"))?;
        }
        let server = a
            .server
            .bind("log", &a.listen, vouch_log::api::MAX_REQUEST_BYTES)
            .await?;
        let url = server.url();

        let entry = log
            .signer()
            .trusted_root_entry(&public_url, &settings.created);
        let tr_path = a.data.join("trusted_root.tlog.json");
        write_file_durably(&tr_path, &serde_json::to_vec_pretty(&entry)?, false)
            .map_err(|e| anyhow!("cannot write {}: {e}", tr_path.display()))?;
        let pem_path = a.data.join("public.pem");
        write_file_durably(&pem_path, pem_encode("PUBLIC KEY", log.signer().spki_der()).as_bytes(), false)
            .map_err(|e| anyhow!("cannot write {}: {e}", pem_path.display()))?;

        // The note vkey (Ed25519 logs), for witnesses (`vouch serve witness --log`) and policies.
        let vkey = log.signer().verifier().to_vkey();
        if let Some(v) = &vkey {
            let p = a.data.join("log.vkey");
            write_file_durably(&p, format!("{v}\n").as_bytes(), false)
                .map_err(|e| anyhow!("cannot write {}: {e}", p.display()))?;
        }

        let cp = log.checkpoint();
        let mut out = String::new();
        out.push_str(&format!("vouch log listening on {url}\n"));
        out.push_str(&format!("origin: {origin}\n"));
        if let Some(v) = &vkey {
            out.push_str(&format!("vkey: {v} (also in {})\n", a.data.join("log.vkey").display()));
        }
        out.push_str(&format!("tree size: {}\n", cp.size));
        out.push_str(&witness_lines);
        out.push_str(&format!("log ID: {}\n", hex::encode(log.signer().log_id())));
        out.push_str(&format!(
            "trusted root tlog entry: {} (baseUrl {public_url}, valid from {})\n",
            tr_path.display(),
            settings.created
        ));
        out.push_str(&format!(
            "public key ({}, also in {}):\n{}",
            log.signer().key_details(),
            pem_path.display(),
            pem_encode("PUBLIC KEY", log.signer().spki_der())
        ));
        print!("{out}");
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        tracing::info!(%url, %origin, tree_size = cp.size, batch_interval_ms = a.batch_interval.as_millis() as u64, max_batch = a.max_batch, max_pending = a.max_pending, "log server started");

        // In-flight requests get the bootstrap's shutdown grace (10 s) after the signal.
        let app = vouch_log::api::router(log.clone());
        server.serve(app, shutdown_signal()).await;
        drop(log);
        Ok::<_, anyhow::Error>(())
    })?;
    // Do not wait for blocking tasks (e.g. a batch being integrated past the deadline):
    // durability never depends on a clean shutdown.
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

pub(crate) use crate::telemetry::init_tracing;
pub(crate) use vouch_server::shutdown_signal;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn origins() {
        assert!(check_origin("log.example.test/2026").is_ok());
        assert!(check_origin("").is_err());
        assert!(check_origin("a b").is_err());
        assert!(check_origin("a+b").is_err());
        assert!(check_origin("https://x").is_err());
    }
}
