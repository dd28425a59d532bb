//! `vouch up`: a whole private Sigstore instance in one process, on one machine.
//!
//! Services (each on its own port, `--port` is the first): TUF repository + trust files
//! (+0), transparency log with the Rekor v2 and v1 APIs (+1), keyless CA (+2), OIDC identity
//! provider (+3), timestamp authority (+4), CT log (+5). State lives under `--data`
//! (default `./vouch-data`): keys and certificates are generated on the first start and kept, so
//! a restart serves the same instance. Every start writes `trust_config.json` (a
//! ClientTrustConfig for vouch, sigstore-python and sigstore-js), `trusted_root.json`,
//! `signing_config.v0.2.json` and `root.json` (the TUF bootstrap root), and publishes the first
//! two through TUF.
//!
//! With `--database postgres://… --tiles s3://…` the transparency log and the CT log run on the
//! scale-out backend instead of files + fjall under `--data`: the transparency log in the
//! database's default schema with its tiles at `--tiles` (the very log `vouch serve log` with
//! the same two flags serves), the CT log in schema [`crate::scale::UP_CT_SCHEMA`] of the same
//! database with its tiles under `<--tiles>/ct`. Their keys stay in `--data` (`log/log.key`,
//! `ct/log.key`), as do the CA, TSA, identity provider and TUF repository.

use crate::scale::{SCALE_MARKER, ScaleMarker};
use crate::serve::{check_origin, init_tracing, settings, shutdown_signal};
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vouch_ca::{FulcioConfig, IssuerConfig, IssuerType, OidcVerifier};
use vouch_core::trust::{
    CLIENT_TRUST_CONFIG_MEDIA_TYPE, ClientTrustConfig, SIGNING_CONFIG_MEDIA_TYPE_V0_2, Service,
    ServiceConfiguration, SigningConfig, TRUSTED_ROOT_MEDIA_TYPE_LEGACY, TimeRangeJson,
    TrustedRootJson,
};
use vouch_log::pg::PgStorage;
use vouch_log::signer::{KeyAlgorithm, LogSigner};
use vouch_log::storage::{EmbeddedStorage, Storage, write_file_durably};
use vouch_log::{Log, LogConfig};

/// `vouch up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Data directory for every service's keys and state.
    #[arg(long, default_value = "./vouch-data")]
    data: PathBuf,
    /// Address to listen on. Non-loopback addresses need --users (no open identity provider).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// First port: TUF +0, log +1, CA +2, OIDC +3, TSA +4, CT +5. 0 picks free ports (the
    /// log's name includes its port, so keep the same ports across restarts).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Host name clients use to reach the services [default: --host].
    #[arg(long)]
    public_host: Option<String>,
    /// Users of the built-in identity provider (`email[:password-hash]` per line). Without it,
    /// any email can log in without a password: development on loopback only.
    #[arg(long)]
    users: Option<PathBuf>,
    /// OIDC issuers for the CA (a Fulcio issuer config, JSON), e.g. your company's IdP. The
    /// built-in identity provider is then trusted by the CA only with --users (or when the
    /// config lists it), not as the any-email development IdP.
    #[arg(long)]
    ca_config: Option<PathBuf>,
    /// With --ca-config and no --users: let the CA keep trusting the built-in identity
    /// provider, which issues tokens for any email without a password (and, with
    /// --allow-ci-tokens, its CI-token issuers). Development only.
    #[arg(long, requires = "ca_config")]
    insecure_ca_trust_any_email_idp: bool,
    /// Lifetime of issued certificates.
    #[arg(long, default_value = "10m", value_parser = crate::serve::parse_duration)]
    cert_lifetime: Duration,
    /// The log's checkpoint batching interval.
    #[arg(long, default_value = "100ms", value_parser = crate::serve::parse_duration)]
    batch_interval: Duration,
    /// Let the identity provider mint CI-style machine tokens (tests, private CI), issued by
    /// `<oidc>/ci/github-actions`, `…/ci/gitlab` and `…/ci/buildkite`, which the CA then
    /// trusts as Fulcio issuer types github-workflow, gitlab-pipeline and buildkite-job
    /// (beside --ca-config only with --insecure-ca-trust-any-email-idp). Loopback only.
    #[arg(long)]
    allow_ci_tokens: bool,
    /// Lifetime of the built-in identity provider's ID tokens (1s to 24h), e.g. for a load
    /// test that outlives the default.
    #[arg(long, default_value = "10m", value_parser = crate::serve::parse_duration)]
    oidc_token_lifetime: Duration,
    /// Connections each service serves at once: every service has its own budget, so a flood
    /// on one port cannot starve the others (beyond it, new connections are answered 503).
    /// Budgets are scaled down if together they would not fit the open-files limit.
    #[arg(long, default_value_t = vouch_server::limits::DEFAULT_MAX_CONNECTIONS, value_name = "N",
          value_parser = crate::listen::parse_connections)]
    max_connections_per_service: usize,
    /// Start N local C2SP witnesses (on the ports after the CT log's) that cosign every log
    /// checkpoint; the policy requiring all of them is written to <data>/witness_policy.txt.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=16))]
    witnesses: u8,
    /// With --witnesses: acknowledge a write only when every witness cosigned (fail closed).
    #[arg(long, requires = "witnesses")]
    require_witness_quorum: bool,
    /// On first start, write the TUF root key to FILE (outside --data; it must not exist)
    /// instead of the data directory: root.json is signed once and the instance never holds
    /// the root key again. Sign later root versions with `vouch trust sign-root`.
    #[arg(long, value_name = "FILE")]
    tuf_root_key_offline: Option<PathBuf>,
    /// The CA's issuance audit log (one JSON line per certificate, for `vouch monitor
    /// --ca-audit`) [default: <data>/ca_audit.jsonl].
    #[arg(long, value_name = "FILE")]
    ca_audit_log: Option<PathBuf>,
    #[command(flatten)]
    timeouts: crate::listen::TimeoutArgs,
    /// The transparency log and CT log on PostgreSQL + object store (see `vouch serve log`).
    #[command(flatten)]
    scale: crate::scale::ScaleArgs,
}

/// The instance's transparency log and CT log, on the embedded backend (files + fjall under
/// `--data`) or on PostgreSQL + object store.
enum Logs {
    Embedded {
        log: Log<EmbeddedStorage>,
        ct: Log<EmbeddedStorage>,
    },
    Scale {
        log: Log<PgStorage>,
        ct: Log<PgStorage>,
    },
}

impl Logs {
    fn log_signer(&self) -> &LogSigner {
        match self {
            Self::Embedded { log, .. } => log.signer(),
            Self::Scale { log, .. } => log.signer(),
        }
    }

    /// Collect witness cosignatures for the transparency log's checkpoints (on the scale
    /// backend they are stored in the database, so every front end serves them).
    fn set_log_witness_client(&self, w: vouch_log::witness_client::WitnessClient) -> Result<()> {
        match self {
            Self::Embedded { log, .. } => log.set_witness_client(w),
            Self::Scale { log, .. } => log.set_witness_client(w),
        }
        .map_err(|e| anyhow!("witness client: {e}"))
    }

    fn ct_signer(&self) -> &LogSigner {
        match self {
            Self::Embedded { ct, .. } => ct.signer(),
            Self::Scale { ct, .. } => ct.signer(),
        }
    }

    /// The log's router (Rekor v2 + v1, tiles, explorer) and the CT log's.
    fn routers(&self, ct_accept: Vec<Vec<u8>>) -> Result<(axum::Router, axum::Router)> {
        fn both<L: Storage, C: Storage>(
            log: &Log<L>,
            ct: &Log<C>,
            accept: Vec<Vec<u8>>,
        ) -> Result<(axum::Router, axum::Router)> {
            Ok((
                vouch_log::api::router(log.clone()),
                vouch_log::ct::router(ct.clone(), accept)
                    .map_err(|e| anyhow!("cannot start the CT log: {e}"))?,
            ))
        }
        match self {
            Self::Embedded { log, ct } => both(log, ct, ct_accept),
            Self::Scale { log, ct } => both(log, ct, ct_accept),
        }
    }
}

/// The logs with the creation times (`validFor.start`) of the log and the CT log.
struct OpenedLogs {
    logs: Logs,
    log_created: String,
    ct_created: String,
}

/// Ports of the services relative to `--port`.
const SERVICES: [&str; 6] = ["tuf", "log", "ca", "oidc", "tsa", "ct"];

/// Largest request body of each service (the early-413 limit), in [`SERVICES`] order.
const MAX_REQUEST_BODY: [usize; 6] = [
    64 * 1024, // TUF: reads only
    vouch_log::api::MAX_REQUEST_BYTES,
    vouch_ca::api::MAX_REQUEST_BYTES,
    vouch_oidc::MAX_BODY_BYTES,
    vouch_tsa::MAX_BODY_BYTES,
    vouch_log::api::MAX_REQUEST_BYTES,
];

async fn bind(host: IpAddr, base: u16, i: u16) -> Result<vouch_server::Server> {
    let port = if base == 0 {
        0
    } else {
        base.checked_add(i)
            .ok_or_else(|| anyhow!("--port {base} is too high"))?
    };
    let addr = SocketAddr::new(host, port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        hinted(
            format!(
                "cannot listen on {addr} for the {}: {e}",
                SERVICES[i as usize]
            ),
            "another program (or another `vouch up`) uses the port: stop it or pass --port",
        )
    })?;
    Ok(vouch_server::Server::from_listener(listener)?.named(SERVICES[i as usize]))
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    write_file_durably(path, data, false)
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

/// Whether the CA trusts the built-in identity provider: always without --ca-config (the
/// development instance), with it only when the IdP has a users file or the operator insists.
fn builtin_idp_trusted(a: &UpArgs) -> bool {
    a.ca_config.is_none() || a.users.is_some() || a.insecure_ca_trust_any_email_idp
}

/// Whether the CA trusts the built-in identity provider's CI-token issuers: only with
/// --allow-ci-tokens, and, beside an operator's --ca-config, only when asked for with
/// --insecure-ca-trust-any-email-idp (anyone reaching the IdP can mint CI tokens, whatever
/// --users says).
fn ci_issuers_trusted(a: &UpArgs) -> bool {
    a.allow_ci_tokens && (a.ca_config.is_none() || a.insecure_ca_trust_any_email_idp)
}

/// Run `vouch up` until SIGINT or SIGTERM.
pub fn run(a: &UpArgs) -> Result<()> {
    if !a.host.is_loopback() && a.users.is_none() {
        return Err(hinted(
            format!(
                "--host {} is not loopback, and the identity provider would issue tokens for any email",
                a.host
            ),
            "pass --users FILE listing who may log in, or keep --host 127.0.0.1",
        ));
    }
    if ci_issuers_trusted(a) && !a.host.is_loopback() {
        return Err(hinted(
            format!(
                "--allow-ci-tokens with --host {}: anyone who can reach the identity provider could mint CI tokens the CA trusts",
                a.host
            ),
            "keep --host 127.0.0.1 for CI-token tests",
        ));
    }
    if a.data.exists() && !a.data.is_dir() {
        bail!("--data {} is not a directory", a.data.display());
    }
    if let Some(db) = &a.scale.database {
        // Before anything is created: a password on the command line is refused outright.
        crate::scale::check_database_url(db)?;
    }
    std::fs::create_dir_all(&a.data)
        .with_context(|| format!("cannot create data directory {}", a.data.display()))?;
    // Before any service creates state: an offline root key inside --data is not offline.
    if let Some(key) = &a.tuf_root_key_offline
        && !a.data.join("tuf/metadata/timestamp.json").exists()
    {
        vouch_tuf::offline_key_path(&a.data, key).map_err(|e| {
            hinted(
                e.to_string(),
                "name a file on removable or offline storage, e.g. --tuf-root-key-offline /media/usb/tuf-root.pem",
            )
        })?;
    }
    init_tracing();
    let rt = vouch_server::runtime("vouch-up")?;
    let r = rt.block_on(up(a));
    rt.shutdown_timeout(Duration::from_secs(5));
    r
}

async fn up(a: &UpArgs) -> Result<()> {
    // Bind every port first so a conflict fails before anything is generated.
    let mut listeners = Vec::new();
    for i in 0..SERVICES.len() as u16 {
        listeners.push(bind(a.host, a.port, i).await?);
    }
    let mut witness_listeners = Vec::new();
    for i in 0..u16::from(a.witnesses) {
        let port = match a.port {
            0 => 0,
            p => p
                .checked_add(SERVICES.len() as u16 + i)
                .ok_or_else(|| anyhow!("--port {p} is too high for --witnesses"))?,
        };
        let addr = SocketAddr::new(a.host, port);
        let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            hinted(
                format!("cannot listen on {addr} for witness {}: {e}", i + 1),
                "another program uses the port: stop it or pass --port",
            )
        })?;
        witness_listeners.push(vouch_server::Server::from_listener(l)?);
    }
    let host = a.public_host.clone().unwrap_or_else(|| match a.host {
        IpAddr::V6(h) => format!("[{h}]"),
        IpAddr::V4(h) => h.to_string(),
    });
    let mut urls = Vec::new();
    for l in &listeners {
        urls.push(format!("http://{host}:{}", l.local_addr().port()));
    }
    let [tuf_url, log_url, ca_url, oidc_url, tsa_base, ct_url] =
        <[String; 6]>::try_from(urls).map_err(|_| anyhow!("internal: listener count"))?;
    let tsa_url = format!("{tsa_base}/api/v1/timestamp");
    let data = &a.data;

    // Transparency log (Rekor v2 + v1 on one tree) and the CT log for the CA's SCTs.
    let log_dir = data.join("log");
    let log_origin = vouch_core::trust::origin_from_url(&log_url);
    check_origin(&log_origin)?;
    let ct_origin = vouch_core::trust::origin_from_url(&ct_url);
    let OpenedLogs {
        logs,
        log_created,
        ct_created,
    } = if a.scale.enabled() {
        open_scale_logs(a, &log_origin, &ct_origin)?
    } else {
        open_embedded_logs(a, &log_origin, &ct_origin)?
    };
    // The checkpoint key, for `vouch monitor --public-key` and `vouch log … --public-key`.
    write(
        &log_dir.join("public.pem"),
        vouch_core::keys::pem_encode("PUBLIC KEY", logs.log_signer().spki_der()).as_bytes(),
    )?;
    // The CT log's tree-head key, for `vouch monitor --ct-public-key`.
    write(
        &data.join("ct").join("public.pem"),
        vouch_core::keys::pem_encode("PUBLIC KEY", logs.ct_signer().spki_der()).as_bytes(),
    )?;

    let witness_policy = data.join("witness_policy.txt");
    let witnesses = if witness_listeners.is_empty() {
        None
    } else {
        let w = crate::witness_cmd::local_witnesses(
            data,
            witness_listeners,
            &host,
            &log_origin,
            logs.log_signer().verifier(),
            &witness_policy,
            a.require_witness_quorum,
        )?;
        logs.set_log_witness_client(w.client)?;
        Some((w.servers, w.urls))
    };
    let (witness_servers, witness_urls) = witnesses.unwrap_or_default();

    // CA hierarchy (the CT log accepts precertificates chaining to its root).
    let ca_dir = data.join("ca");
    let (ca_root, intermediate, _) = crate::ca::load_or_generate(&ca_dir)?;
    let int_der = intermediate.certificate_der().to_vec();

    // Timestamp authority.
    let tsa = vouch_tsa::TsaService::load_or_generate(
        &data.join("tsa"),
        &vouch_tsa::TsaOptions::default(),
    )
    .map_err(|e| {
        anyhow!(
            "cannot load the timestamp authority in {}: {e}",
            data.join("tsa").display()
        )
    })?;
    let tsa = Arc::new(tsa);

    // Identity provider.
    let mut idp_opts = vouch_oidc::IdpOptions::new(oidc_url.clone());
    if let Some(u) = &a.users {
        idp_opts.users = vouch_oidc::UserPolicy::UsersFile(u.clone());
    }
    idp_opts.allow_ci_tokens = a.allow_ci_tokens;
    idp_opts.token_lifetime = a.oidc_token_lifetime;
    let idp = vouch_oidc::Idp::load_or_generate(&data.join("oidc"), idp_opts).map_err(|e| {
        anyhow!(
            "cannot start the identity provider: {}",
            vouch_core::error_chain(&e)
        )
    })?;
    let idp = Arc::new(idp);

    // CA issuer config: the operator's issuers (--ca-config) plus the built-in IdP's: its
    // user issuer (type email) and, with --allow-ci-tokens, its CI issuers (types
    // github-workflow, gitlab-pipeline, buildkite-job, as Fulcio maps those CI systems).
    let mut ca_config = match &a.ca_config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --ca-config {}", p.display()))?;
            FulcioConfig::from_file_contents(&p.to_string_lossy(), &text)
                .map_err(|e| anyhow!("--ca-config {}: {e}", p.display()))?
        }
        None => FulcioConfig::default(),
    };
    // An operator's issuer config means real identities: the any-email development IdP (and
    // its CI tokens, which anyone reaching it can mint) must not sit beside them unless asked.
    let ca_trusts_idp = builtin_idp_trusted(a);
    let ca_trusts_ci = ci_issuers_trusted(a);
    let mut ci_issuers = Vec::new();
    for i in idp.ca_issuers() {
        let trusted = if i.ci.is_some() {
            ca_trusts_ci
        } else {
            ca_trusts_idp
        };
        if !trusted {
            continue;
        }
        let issuer_type: IssuerType = i
            .issuer_type
            .parse()
            .map_err(|e| anyhow!("internal: identity provider issuer type: {e}"))?;
        if i.ci.is_some() {
            ci_issuers.push((i.issuer_url.clone(), issuer_type));
        }
        ca_config
            .oidc_issuers
            .entry(i.issuer_url.clone())
            .or_insert_with(|| IssuerConfig::new(&i.issuer_url, &i.client_id, issuer_type));
    }
    if !ca_trusts_idp {
        tracing::warn!(%oidc_url, "the CA does not trust the built-in any-email identity provider (--ca-config without --users); pass --insecure-ca-trust-any-email-idp to trust it");
    }
    if a.allow_ci_tokens && !ca_trusts_ci {
        tracing::warn!(%oidc_url, "the CA does not trust the identity provider's CI-token issuers (--ca-config); pass --insecure-ca-trust-any-email-idp to trust them");
    }
    ca_config
        .validate()
        .map_err(|e| anyhow!("CA issuer config: {e}"))?;
    let http = reqwest::Client::builder()
        .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .context("cannot build the HTTP client")?;
    let ca_service = vouch_ca::api::CaService::new(
        OidcVerifier::new(ca_config, http.clone()),
        intermediate,
        &ca_root,
        a.cert_lifetime,
    )
    .with_ct_log(http, &ct_url);
    let ca_audit_path = a
        .ca_audit_log
        .clone()
        .unwrap_or_else(|| data.join("ca_audit.jsonl"));
    let ca_service = ca_service.with_audit_log(crate::ca::open_audit_log(&ca_audit_path)?);

    // Trust material.
    let instance = instance_created(data)?;
    let ca_entry = crate::ca::trusted_root_entry(&ca_url, &ca_root, &int_der)?;
    let trusted_root = TrustedRootJson {
        media_type: TRUSTED_ROOT_MEDIA_TYPE_LEGACY.into(),
        tlogs: vec![logs.log_signer().trusted_root_entry(&log_url, &log_created)],
        certificate_authorities: vec![ca_entry],
        ctlogs: vec![vouch_log::ct::trusted_root_ctlog_entry(
            logs.ct_signer(),
            &ct_url,
            &ct_created,
        )],
        timestamp_authorities: vec![tsa.trusted_root_entry(&tsa_url, &instance)],
    };
    let service = |url: &str, v: u32| Service {
        url: url.to_string(),
        major_api_version: v,
        valid_for: Some(TimeRangeJson {
            start: Some(instance.clone()),
            end: None,
        }),
        operator: "vouch-up".into(),
    };
    let any = || {
        Some(ServiceConfiguration {
            selector: "ANY".into(),
            count: 0,
        })
    };
    let signing_config = SigningConfig {
        media_type: SIGNING_CONFIG_MEDIA_TYPE_V0_2.into(),
        ca_urls: vec![service(&ca_url, 1)],
        oidc_urls: vec![service(&oidc_url, 1)],
        rekor_tlog_urls: vec![service(&log_url, 2), service(&log_url, 1)],
        rekor_tlog_config: any(),
        tsa_urls: vec![service(&tsa_url, 1)],
        tsa_config: any(),
    };
    // Check what we publish parses the way clients will parse it.
    let tr_bytes = serde_json::to_vec_pretty(&trusted_root)?;
    vouch_core::trust::TrustRoot::from_json(&tr_bytes)
        .map_err(|e| anyhow!("internal: generated trusted root is invalid: {e}"))?;
    let sc_bytes = serde_json::to_vec_pretty(&signing_config)?;
    vouch_core::trust::SigningConfig::from_json(&sc_bytes)
        .map_err(|e| anyhow!("internal: generated signing config is invalid: {e}"))?;
    write(&data.join("trusted_root.json"), &tr_bytes)?;
    write(&data.join("signing_config.v0.2.json"), &sc_bytes)?;
    let trust_config = ClientTrustConfig {
        media_type: CLIENT_TRUST_CONFIG_MEDIA_TYPE.into(),
        trusted_root,
        signing_config,
    };
    let tc_path = data.join("trust_config.json");
    write(&tc_path, &serde_json::to_vec_pretty(&trust_config)?)?;

    // TUF repository distributing the trusted root and signing config.
    let tuf_opts = vouch_tuf::RepoOptions {
        offline_root_key: a.tuf_root_key_offline.clone(),
        ..vouch_tuf::RepoOptions::default()
    };
    let repo = vouch_tuf::TufRepo::init_or_load(&data.join("tuf"), tuf_opts)
        .await
        .map_err(|e| {
            anyhow!(
                "cannot open the TUF repository: {}",
                vouch_core::error_chain(&e)
            )
        })?;
    let changed = repo
        .publish_targets(&[
            ("trusted_root.json", &tr_bytes),
            ("signing_config.v0.2.json", &sc_bytes),
        ])
        .await
        .map_err(|e| anyhow!("cannot publish to the TUF repository: {e}"))?;
    let root_json = repo
        .root_json()
        .await
        .map_err(|e| anyhow!("TUF root: {e}"))?;
    let root_path = data.join("root.json");
    write(&root_path, &root_json)?;
    let repo = Arc::new(repo);
    let refresher = vouch_tuf::spawn_refresher(repo.clone(), Duration::from_secs(600));

    // Routers.
    let tuf_app = axum::Router::new()
        .nest("/tuf", vouch_tuf::router(repo.clone()))
        .route(
            "/trust_config.json",
            axum::routing::get({
                let body = serde_json::to_vec_pretty(&trust_config)?;
                move || async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                }
            }),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    let (log_app, ct_app) = logs.routers(vec![ca_root.clone()])?;
    let apps: Vec<axum::Router> = vec![
        tuf_app,
        log_app,
        vouch_ca::api::router(Arc::new(ca_service)),
        vouch_oidc::router(idp.clone()),
        vouch_tsa::router(tsa.clone()),
        ct_app,
    ];

    let mut out = String::new();
    out.push_str(&format!(
        "vouch up: a private Sigstore instance in {}\n\n",
        data.display()
    ));
    out.push_str(&format!(
        "  TUF repository      {tuf_url}/tuf   (bootstrap root: {})\n",
        root_path.display()
    ));
    out.push_str(&format!(
        "  transparency log    {log_url}   (Rekor v2 + v1, tiles; origin {log_origin})\n"
    ));
    out.push_str(&format!("  certificate auth.   {ca_url}\n"));
    out.push_str(&format!(
        "  OIDC provider       {oidc_url}{}\n",
        match (a.users.is_some(), ca_trusts_idp) {
            (true, _) => "",
            (false, true) => "   (development: any email, no password)",
            (false, false) =>
                "   (development: any email, no password; NOT trusted by the CA: --ca-config)",
        }
    ));
    for (url, issuer_type) in &ci_issuers {
        out.push_str(&format!(
            "  CI token issuer     {url}   (CA type {issuer_type}; anyone reaching the IdP can mint tokens)\n"
        ));
    }
    out.push_str(&format!("  timestamp auth.     {tsa_url}\n"));
    out.push_str(&format!("  CT log              {ct_url}\n"));
    if let (Some(db), Some(tiles)) = (&a.scale.database, &a.scale.tiles) {
        out.push_str(&format!(
            "  log backend         PostgreSQL {} + object store {}   (CT log: schema {}, tiles under /{})\n",
            crate::scale::redacted(db),
            crate::scale::redacted(tiles),
            crate::scale::UP_CT_SCHEMA,
            crate::scale::UP_CT_PREFIX,
        ));
    }
    out.push_str(&format!(
        "  CA audit log        {}\n",
        ca_audit_path.display()
    ));
    for (i, u) in witness_urls.iter().enumerate() {
        out.push_str(&format!("  witness {:<11} {u}\n", i + 1));
    }
    if !witness_urls.is_empty() {
        out.push_str(&format!(
            "  witness policy      {}{}\n",
            witness_policy.display(),
            if a.require_witness_quorum {
                "   (writes need every cosignature)"
            } else {
                ""
            }
        ));
    }
    out.push('\n');
    out.push_str(&format!(
        "trust config: {}{}\n\n",
        tc_path.display(),
        if changed { " (published via TUF)" } else { "" }
    ));
    out.push_str("try it:\n");
    out.push_str(&format!(
        "  export VOUCH_TRUST_CONFIG={}\n",
        tc_path.display()
    ));
    out.push_str(&format!(
        "  TOKEN=$(vouch oidc token --url {oidc_url} --email you@example.com)\n"
    ));
    out.push_str("  vouch sign-blob README.md --bundle README.md.sigstore.json --identity-token \"$TOKEN\" -y\n");
    out.push_str(&format!("  vouch verify-blob README.md --bundle README.md.sigstore.json --certificate-identity you@example.com --certificate-oidc-issuer {oidc_url}\n"));
    out.push_str(&format!("  sigstore --trust-config {} sign --identity-token \"$TOKEN\" --bundle README.md.python.sigstore.json README.md   # sigstore-python\n", tc_path.display()));
    print!("{out}");
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    tracing::info!(%tuf_url, %log_url, %ca_url, %oidc_url, %tsa_url, %ct_url, "vouch up: instance started");

    // One connection budget per service, together within the open-files limit.
    let fd_limit = vouch_server::raise_open_files_limit();
    let budgets = vouch_server::share_budgets(&[a.max_connections_per_service; 6], fd_limit);
    if budgets[0] < a.max_connections_per_service {
        tracing::warn!(
            open_files_limit = fd_limit,
            per_service = budgets[0],
            "the open-files limit is too low for --max-connections-per-service {}: budgets scaled down",
            a.max_connections_per_service
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for (i, (server, app)) in listeners.into_iter().zip(apps).enumerate() {
        let mut rx = stop_rx.clone();
        let server = server.with_limits(a.timeouts.limits(budgets[i], MAX_REQUEST_BODY[i]));
        servers.spawn(async move {
            server
                .serve(app, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            SERVICES[i]
        });
    }
    for (server, app) in witness_servers {
        let mut rx = stop_rx.clone();
        let server = server.with_limits(
            a.timeouts
                .limits(budgets[0], vouch_core::witness::MAX_ADD_CHECKPOINT_LEN),
        );
        servers.spawn(async move {
            server
                .serve(app, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            "witness"
        });
    }
    tokio::select! {
        () = shutdown_signal() => tracing::info!("shutting down"),
        Some(res) = servers.join_next() => {
            let _ = stop_tx.send(true);
            return match res {
                Ok(name) => Err(anyhow!("the {name} server stopped unexpectedly")),
                Err(e) => Err(anyhow!("a server task failed: {e}")),
            };
        }
    }
    let _ = stop_tx.send(true);
    // Each server gives its in-flight requests the bootstrap's shutdown grace.
    while servers.join_next().await.is_some() {}
    refresher.abort();
    drop(logs);
    tracing::info!("stopped");
    Ok(())
}

/// The log's engine settings (the CT log batches on its own 50 ms interval).
fn log_config(origin: &str, batch_interval: Duration) -> LogConfig {
    LogConfig {
        origin: origin.to_string(),
        batch_interval,
        ..LogConfig::default()
    }
}

/// Open the transparency log and the CT log on files + fjall under `--data`.
fn open_embedded_logs(a: &UpArgs, log_origin: &str, ct_origin: &str) -> Result<OpenedLogs> {
    let marker = a.data.join(SCALE_MARKER);
    if marker.exists() {
        let m = ScaleMarker::read(&marker)?;
        return Err(hinted(
            format!(
                "this instance's logs are on PostgreSQL {} + object store {} ({}), not in {}",
                m.database,
                m.tiles,
                marker.display(),
                a.data.display()
            ),
            "start vouch up with the --database and --tiles it was created with",
        ));
    }
    let log_dir = a.data.join("log");
    let log_settings = settings(&log_dir, Some(log_origin)).map_err(|e| {
        anyhow!("{e} (the log is named after its URL: start `vouch up` with the ports it was created with)")
    })?;
    let log_signer = LogSigner::load_or_generate(&log_dir, log_origin, KeyAlgorithm::Ed25519)
        .map_err(|e| anyhow!("cannot load the log key in {}: {e}", log_dir.display()))?;
    let log_storage = EmbeddedStorage::open(&log_dir).map_err(|e| {
        hinted(
            format!("cannot open the log store in {}: {e}", log_dir.display()),
            "is another vouch using this --data directory?",
        )
    })?;
    let log = Log::open(
        log_storage,
        log_signer,
        log_config(log_origin, a.batch_interval),
    )
    .map_err(|e| anyhow!("cannot open the log: {e}"))?;

    let ct_dir = a.data.join("ct");
    let ct_settings = settings(&ct_dir, Some(ct_origin))
        .map_err(|e| anyhow!("{e} (start `vouch up` with the ports it was created with)"))?;
    let ct_signer = LogSigner::load_or_generate(&ct_dir, ct_origin, KeyAlgorithm::EcdsaP256)
        .map_err(|e| anyhow!("cannot load the CT log key in {}: {e}", ct_dir.display()))?;
    let ct_storage = EmbeddedStorage::open(&ct_dir)
        .map_err(|e| anyhow!("cannot open the CT log store in {}: {e}", ct_dir.display()))?;
    let ct = Log::open(
        ct_storage,
        ct_signer,
        log_config(ct_origin, Duration::from_millis(50)),
    )
    .map_err(|e| anyhow!("cannot open the CT log: {e}"))?;
    Ok(OpenedLogs {
        logs: Logs::Embedded { log, ct },
        log_created: log_settings.created,
        ct_created: ct_settings.created,
    })
}

/// Whether `dir` holds an embedded log with entries (a `vouch up` started without
/// `--database` on this `--data`).
fn embedded_log_has_entries(dir: &Path) -> Result<bool> {
    if !dir.join("log.json").exists() {
        return Ok(false);
    }
    let storage = EmbeddedStorage::open(dir).map_err(|e| {
        hinted(
            format!("cannot open the embedded log in {}: {e}", dir.display()),
            "is another vouch using this --data directory?",
        )
    })?;
    let cp = storage
        .load_checkpoint()
        .map_err(|e| anyhow!("cannot read the embedded log in {}: {e}", dir.display()))?;
    Ok(cp.is_some_and(|c| c.size > 0))
}

/// Open the transparency log and the CT log on PostgreSQL + object store (`--database`,
/// `--tiles`), their keys in `--data`.
fn open_scale_logs(a: &UpArgs, log_origin: &str, ct_origin: &str) -> Result<OpenedLogs> {
    let (Some(db), Some(tiles)) = (&a.scale.database, &a.scale.tiles) else {
        bail!("--database and --tiles go together");
    };
    let log_dir = a.data.join("log");
    let ct_dir = a.data.join("ct");
    // Logs this --data already holds elsewhere must not be started afresh in the database
    // under the same keys and names (two trees signed as one log).
    let marker = a.data.join(SCALE_MARKER);
    let known = if marker.exists() {
        Some(ScaleMarker::read(&marker)?)
    } else {
        None
    };
    for (dir, what) in [(&log_dir, "log"), (&ct_dir, "CT log")] {
        if embedded_log_has_entries(dir)? {
            return Err(hinted(
                format!(
                    "{} holds this instance's embedded {what} with entries: vouch up --database starts its logs in the database, not from these files",
                    dir.display()
                ),
                format!(
                    "move both logs into the database first: stop vouch up, run `vouch log migrate --instance {} --database '{db}' --tiles '{tiles}'`, then start vouch up with the same flags (or keep running this --data without --database)",
                    a.data.display(),
                ),
            ));
        }
    }
    let ct_tiles = crate::scale::tiles_under(tiles, crate::scale::UP_CT_PREFIX)?;
    let known_at = known
        .as_ref()
        .map(|m| format!("{} + {}", m.database, m.tiles));
    let open = |schema, tiles: &str, origin, dir: &Path, alg, what| {
        tokio::task::block_in_place(|| {
            crate::scale::open_up_log(
                &a.scale,
                schema,
                tiles,
                origin,
                dir,
                alg,
                what,
                known_at.as_deref(),
            )
        })
    };
    let up_log = open(
        None,
        tiles,
        log_origin,
        &log_dir,
        KeyAlgorithm::Ed25519,
        "transparency log",
    )?;
    let up_ct = open(
        Some(crate::scale::UP_CT_SCHEMA),
        &ct_tiles,
        ct_origin,
        &ct_dir,
        KeyAlgorithm::EcdsaP256,
        "CT log",
    )?;
    if up_ct.signer.key_details() != "PKIX_ECDSA_P256_SHA_256" {
        return Err(hinted(
            format!(
                "the CT log key in {} is {}, a CT log needs ECDSA P-256",
                ct_dir.display(),
                up_ct.signer.key_details()
            ),
            "restore the instance's ct/log.key",
        ));
    }
    ScaleMarker::new(db, tiles).write(&marker)?;
    let log = Log::open(
        up_log.storage,
        up_log.signer,
        log_config(log_origin, a.batch_interval),
    )
    .map_err(|e| anyhow!("cannot open the log: {e}"))?;
    let ct = Log::open(
        up_ct.storage,
        up_ct.signer,
        log_config(ct_origin, Duration::from_millis(50)),
    )
    .map_err(|e| anyhow!("cannot open the CT log: {e}"))?;
    Ok(OpenedLogs {
        logs: Logs::Scale { log, ct },
        log_created: up_log.meta.created,
        ct_created: up_ct.meta.created,
    })
}

/// The instance's creation time (RFC 3339), recorded on first start: `validFor.start` of
/// the services in the trusted root and signing config.
fn instance_created(data: &Path) -> Result<String> {
    let p = data.join("instance.json");
    if let Ok(bytes) = std::fs::read(&p) {
        let v: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is corrupt", p.display()))?;
        if let Some(c) = v.get("created").and_then(|c| c.as_str()) {
            return Ok(c.to_string());
        }
        bail!("{} has no \"created\"", p.display());
    }
    let created = jiff::Timestamp::now()
        .round(
            jiff::TimestampRound::new()
                .smallest(jiff::Unit::Second)
                .mode(jiff::RoundMode::Trunc),
        )
        .map_err(|e| anyhow!("clock: {e}"))?
        .to_string();
    write(
        &p,
        &serde_json::to_vec_pretty(&json!({"created": created}))?,
    )?;
    Ok(created)
}
