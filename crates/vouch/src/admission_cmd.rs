//! `vouch admission serve | manifests | prefetch` and `vouch bench admission`: the webhook of
//! `vouch-admission` over the `vouch-policy` engine.
//!
//! [`PolicyDecider`] implements `vouch_admission::ImageDecider` for `vouch_policy::Engine`:
//! - `verify` is `Engine::verify_image` (cacheable under the policy and trust digests). The
//!   engine turns registry failures into authority failures; a signature source wrapper
//!   ([`FlaggingSource`]) notices them, so that a verification the registry prevented is
//!   reported as a `VerifyFailure` (never cached, the warm entry stays served) instead of a
//!   cached denial;
//! - `stand_in` re-runs the engine against a source that is never contacted
//!   ([`Unavailable`]): signature authorities fail naming why (deadline, registry down),
//!   `static` authorities still answer, and `decide` applies mode and exceptions as usual;
//! - `decide` is `Engine::decide` at the admission's second.

use crate::bench::{check_local, post_load};
use crate::oci_cmd::RegistryArgs;
use crate::policy_cmd::{ApproverArgs, PolicyTrustArgs};
use crate::serve::parse_duration;
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vouch_admission::manifests::{ManifestOptions, manifests};
use vouch_admission::workload::WorkloadKind;
use vouch_admission::{
    BoxFuture, CacheConfig, CacheKeyParts, Decision, DecisionContext, ImageDecider, LoggedDecision,
    PrefetchRequest, PrefetchResponse, PrefetchState, ResolveError, Unverified, Verdict, Verified,
    VerifyFailure, Webhook, WebhookConfig,
};
use vouch_core::tlog_policy::WitnessPolicy;
use vouch_oci::layout::Kind;
use vouch_oci::verify::Found;
use vouch_oci::{OciError, Reference, Registry};
use vouch_policy::{
    Engine, EngineOptions, EvalContext, ExceptionSet, ImageRef, NoMatchPolicy, OciSource,
    PolicySet, SignatureSource, Trust, Verification,
};

/// `vouch admission …`.
#[derive(Subcommand, Debug)]
pub enum AdmissionCommand {
    /// Run the Kubernetes admission webhook (HTTPS): /validate, /mutate, /prefetch, /healthz, /metrics.
    Serve(Box<ServeArgs>),
    /// Print the Deployment, Service, webhook configurations and CRDs (YAML).
    Manifests(ManifestsArgs),
    /// Warm a running webhook's verified cache (e.g. from CI after a push): POST /prefetch.
    Prefetch(PrefetchArgs),
}

/// `vouch admission serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// ClusterImagePolicy / TrustRoot file or directory; repeatable.
    #[arg(long, required = true)]
    policy: Vec<PathBuf>,
    /// PEM certificate chain for `<service>.<namespace>.svc`.
    #[arg(long)]
    tls_cert: PathBuf,
    /// PEM private key of the certificate.
    #[arg(long)]
    tls_key: PathBuf,
    /// Address to listen on (port 0 picks a free one; the URL is printed).
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: String,
    /// What to do when no policy matches an image.
    #[arg(long, default_value = "deny", value_parser = parse_no_match)]
    no_match_policy: NoMatchPolicy,
    /// Do not rewrite tags on /mutate; /validate still resolves them and records the digest
    /// in auditAnnotations (for GitOps).
    #[arg(long)]
    no_mutate: bool,
    /// How long an admission waits for an uncached verification (below the 10 s webhook timeout).
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    deadline: Duration,
    /// How long a passing verification is served before it is re-verified.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    cache_ttl: Duration,
    /// How long a failing verification is served.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    negative_ttl: Duration,
    /// How long past its TTL a passing verification is still served while the registry is down.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    max_stale: Duration,
    /// Namespace never checked; repeatable [default: kube-system].
    #[arg(long)]
    exclude_namespace: Vec<String>,
    /// Where TrustRoot `remote` TUF metadata is cached [default: a temporary directory].
    #[arg(long)]
    tuf_cache: Option<PathBuf>,
    /// Append one JSON line per image decision to this file (time, namespace, resource, image,
    /// digest, policies, verdict, reason, exceptions used with their expiry), fsynced before
    /// the review is answered; `vouch audit decisions --admission-log FILE` reports on it.
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// C2SP tlog-policy file: every log checkpoint a signature relies on must carry its
    /// witness quorum (for every authority). Its digest is part of the verified cache's key.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    #[command(flatten)]
    trust: PolicyTrustArgs,
    #[command(flatten)]
    approvers: ApproverArgs,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `vouch admission manifests`.
#[derive(Args, Debug)]
pub struct ManifestsArgs {
    /// Namespace of the webhook.
    #[arg(long, default_value = "vouch-system")]
    namespace: String,
    /// Name of its Service (the certificate is for `<service>.<namespace>.svc`).
    #[arg(long, default_value = "vouch-admission")]
    service: String,
    /// PEM CA certificate(s) that issued the serving certificate (the webhook's caBundle).
    #[arg(long)]
    ca_bundle: PathBuf,
    /// vouch container image.
    #[arg(long, default_value = concat!("ghcr.io/vouch-dev/vouch:", env!("CARGO_PKG_VERSION")))]
    image: String,
    /// Deployment replicas.
    #[arg(long, default_value_t = 2)]
    replicas: i32,
    /// Namespace never sent to the webhook; repeatable [default: kube-system].
    #[arg(long)]
    exclude_namespace: Vec<String>,
    /// Generate for `--no-mutate` (the server flag).
    #[arg(long)]
    no_mutate: bool,
}

/// How to reach a running webhook.
#[derive(Args, Debug, Clone)]
pub struct WebhookClientArgs {
    /// Base URL of the webhook, e.g. https://127.0.0.1:8443.
    #[arg(long, env = "VOUCH_ADMISSION_URL")]
    url: String,
    /// PEM CA certificate(s) to verify the webhook's certificate (its caBundle).
    #[arg(long, env = "VOUCH_ADMISSION_CA_BUNDLE")]
    ca_bundle: PathBuf,
    /// TLS server name to expect (SNI), e.g. vouch-admission.vouch-system.svc
    /// [default: the URL's host].
    #[arg(long)]
    server_name: Option<String>,
}

/// `vouch admission prefetch`.
#[derive(Args, Debug)]
pub struct PrefetchArgs {
    /// Images (by digest or tag).
    #[arg(required = true)]
    images: Vec<String>,
    #[command(flatten)]
    client: WebhookClientArgs,
}

/// `vouch bench admission`.
#[derive(Args, Debug)]
pub struct BenchAdmissionArgs {
    #[command(flatten)]
    client: WebhookClientArgs,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// How long to send warm requests, e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Image (by digest) in the warm Pod; prefetched first, so every request is a cache hit.
    #[arg(long)]
    image: String,
    /// Images (by digest) not yet seen by the webhook, each admitted once, one at a time, for
    /// the cold figures (registry + verification); repeatable.
    #[arg(long)]
    cold_image: Vec<String>,
    /// Namespace of the AdmissionReviews.
    #[arg(long, default_value = "default")]
    namespace: String,
}

fn parse_no_match(s: &str) -> Result<NoMatchPolicy, String> {
    s.parse()
}

/// Run `vouch admission …`.
pub fn run(cmd: AdmissionCommand) -> Result<()> {
    match cmd {
        AdmissionCommand::Serve(a) => serve(&a),
        AdmissionCommand::Manifests(a) => print_manifests(&a),
        AdmissionCommand::Prefetch(a) => prefetch(&a),
    }
}

tokio::task_local! {
    /// Set by [`FlaggingSource`] when the registry could not be read during one verification.
    static REGISTRY_TROUBLE: RefCell<Option<String>>;
    /// Why [`Unavailable`] is not contacting the registry, for its error.
    static STAND_IN_REASON: String;
}

/// Whether an OCI error means "could not look", as opposed to "looked: nothing there".
fn transient(e: &OciError) -> bool {
    match e {
        OciError::Unreachable { .. } => true,
        OciError::Registry { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

/// The registry as the engine's signature source, noting registry trouble in the current
/// verification's task-local flag.
struct FlaggingSource(OciSource);

impl SignatureSource for FlaggingSource {
    fn discover(
        &self,
        image: &Reference,
        kind: Kind,
    ) -> impl Future<Output = Result<Vec<Found>, OciError>> + Send {
        let fut = self.0.discover(image, kind);
        async move {
            let r = fut.await;
            if let Err(e) = &r
                && transient(e)
            {
                let msg = e.to_string();
                let _ = REGISTRY_TROUBLE.try_with(|c| *c.borrow_mut() = Some(msg));
            }
            r
        }
    }
}

/// A source that is never contacted (for stand-in verifications).
struct Unavailable;

impl SignatureSource for Unavailable {
    async fn discover(&self, image: &Reference, _kind: Kind) -> Result<Vec<Found>, OciError> {
        let detail = STAND_IN_REASON
            .try_with(Clone::clone)
            .unwrap_or_else(|_| "not contacted".into());
        Err(OciError::Unreachable {
            url: image.whole(),
            detail,
        })
    }
}

/// The vouch-policy engine behind the webhook.
pub struct PolicyDecider {
    engine: Engine<FlaggingSource>,
    offline: Engine<Unavailable>,
    registry: Registry,
    parts: CacheKeyParts,
}

impl PolicyDecider {
    /// The engines over `policies` and `trust`, with `witness` (a policy and its digest)
    /// required of every log checkpoint when given.
    fn build(
        policies: Arc<PolicySet>,
        trust: Arc<Trust>,
        exceptions: Arc<ExceptionSet>,
        registry: Registry,
        no_match: NoMatchPolicy,
        witness: Option<(WitnessPolicy, String)>,
    ) -> Result<Self> {
        let parts = CacheKeyParts {
            policy_digest: policies.digest().to_string(),
            trust_digest: trust.digest().to_string(),
            witness_policy_digest: witness.as_ref().map(|(_, d)| d.clone()).unwrap_or_default(),
        };
        let options = EngineOptions { no_match };
        let mut engine = Engine::new(
            policies.clone(),
            trust.clone(),
            FlaggingSource(OciSource::new(registry.clone())),
            exceptions.clone(),
            options.clone(),
        )
        .map_err(|e| anyhow!("{e}"))?;
        let mut offline = Engine::new(policies, trust, Unavailable, exceptions, options)
            .map_err(|e| anyhow!("{e}"))?;
        if let Some((w, _)) = witness {
            engine = engine.with_witness_policy(w.clone());
            offline = offline.with_witness_policy(w);
        }
        Ok(PolicyDecider {
            engine,
            offline,
            registry,
            parts,
        })
    }
}

impl ImageDecider for PolicyDecider {
    type Outcome = Verification;

    fn cache_key_parts(&self) -> CacheKeyParts {
        self.parts.clone()
    }

    fn resolve_tag<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Result<String, ResolveError>> {
        Box::pin(async move {
            let r =
                vouch_oci::parse_reference(image).map_err(|e| ResolveError::InvalidReference {
                    image: image.to_string(),
                    source: Box::new(e),
                })?;
            match self.registry.resolve(&r).await {
                Ok(d) => Ok(d.digest),
                Err(OciError::NotFound(_)) => Err(ResolveError::NotFound {
                    image: image.to_string(),
                }),
                Err(e) => Err(ResolveError::Registry {
                    image: image.to_string(),
                    source: Box::new(e),
                }),
            }
        })
    }

    fn verify<'a>(
        &'a self,
        image: &'a str,
    ) -> BoxFuture<'a, Result<Verified<Verification>, VerifyFailure>> {
        Box::pin(async move {
            let img = ImageRef::parse(image).map_err(|e| VerifyFailure::Engine {
                image: image.to_string(),
                source: Box::new(e),
            })?;
            let (v, trouble) = REGISTRY_TROUBLE
                .scope(RefCell::new(None), async {
                    let v = self.engine.verify_image(&img).await;
                    (v, REGISTRY_TROUBLE.with(|c| c.borrow_mut().take()))
                })
                .await;
            if let Some(t) = trouble {
                return Err(VerifyFailure::Registry {
                    image: image.to_string(),
                    source: t.into(),
                });
            }
            let passed = v.policies.iter().all(|p| p.passed);
            Ok(Verified { outcome: v, passed })
        })
    }

    fn stand_in<'a>(
        &'a self,
        image: &'a str,
        why: &'a Unverified,
    ) -> BoxFuture<'a, Option<Verified<Verification>>> {
        Box::pin(async move {
            let img = ImageRef::parse(image).ok()?;
            // The registry's own error, not the chain around it.
            let reason = match why {
                Unverified::Failed(f) => match f.as_ref() {
                    VerifyFailure::Registry { source, .. }
                    | VerifyFailure::Engine { source, .. } => source.to_string(),
                    other => other.to_string(),
                },
                other => other.to_string(),
            };
            let v = STAND_IN_REASON
                .scope(reason, self.offline.verify_image(&img))
                .await;
            Some(Verified {
                outcome: v,
                passed: false,
            })
        })
    }

    fn decide(
        &self,
        image: &str,
        verified: Result<&Verified<Verification>, &Unverified>,
        ctx: &DecisionContext,
    ) -> Decision {
        let v = match verified {
            Ok(v) => v,
            Err(u) => return Decision::new(Verdict::Deny, u.reason(), format!("{image}: {u}")),
        };
        let eval = EvalContext {
            namespace: Some(ctx.namespace.clone()),
            resource: Some(vouch_policy::engine::ResourceKind {
                group: ctx.group.clone(),
                version: "v1".into(),
                resource: ctx.resource.clone(),
            }),
            labels: ctx.labels.clone(),
            now: ctx.now,
        };
        let d = self.engine.decide(&v.outcome, &eval);
        let verdict = match d.verdict {
            vouch_policy::Verdict::Allow => Verdict::Allow,
            vouch_policy::Verdict::Warn => Verdict::Warn,
            vouch_policy::Verdict::Deny => Verdict::Deny,
        };
        Decision {
            verdict,
            policies: d.policies.iter().map(|p| p.name.clone()).collect(),
            message: if verdict == Verdict::Deny {
                d.denials.join("; ")
            } else {
                String::new()
            },
            reason: d.reason_label().to_string(),
            warnings: d.warnings.clone(),
            exceptions_used: d.exceptions_used.iter().map(|e| e.id.clone()).collect(),
            audit_annotations: d.audit_annotations,
        }
    }

    fn registry_requests(&self) -> Option<u64> {
        Some(self.registry.request_count())
    }

    fn oldest_open_exception_age(&self, now: jiff::Timestamp) -> Option<Duration> {
        self.engine
            .exceptions()
            .exceptions
            .iter()
            .filter(|e| e.active_at(now))
            .map(|e| now.duration_since(e.issued_at()))
            .max()
            .and_then(|d| Duration::try_from(d).ok())
    }
}

/// `--decision-log FILE`: each decision as a vouch-policy [`vouch_policy::DecisionRecord`]
/// line, appended durably.
struct DecisionLogFile {
    path: PathBuf,
    exceptions: Arc<ExceptionSet>,
    lock: std::sync::Mutex<()>,
}

impl DecisionLogFile {
    fn record_of(&self, l: &LoggedDecision) -> vouch_policy::DecisionRecord {
        let d = &l.decision;
        let ctx = &l.context;
        let exceptions_used = d
            .exceptions_used
            .iter()
            .filter_map(|id| {
                let e = self.exceptions.exceptions.iter().find(|e| &e.id == id)?;
                let policy = d
                    .policies
                    .iter()
                    .find(|p| e.predicate.policies.iter().any(|x| x == "*" || x == *p))
                    .map_or("*", String::as_str);
                Some(vouch_policy::ExceptionUse::of(e, policy))
            })
            .collect();
        vouch_policy::DecisionRecord {
            time: ctx.now.to_string(),
            subject: l.image.clone(),
            digest: l
                .image
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default(),
            namespace: (!ctx.namespace.is_empty()).then(|| ctx.namespace.clone()),
            resource: Some(format!("{}/{}", ctx.kind, ctx.name)),
            request_uid: Some(l.uid.clone()),
            verdict: match d.verdict {
                Verdict::Allow => vouch_policy::Verdict::Allow,
                Verdict::Warn => vouch_policy::Verdict::Warn,
                Verdict::Deny => vouch_policy::Verdict::Deny,
            },
            reason: Some(d.reason.clone()),
            policies: d.policies.clone(),
            exceptions_used,
            denials: if d.verdict == Verdict::Deny {
                vec![d.message.clone()]
            } else {
                Vec::new()
            },
            warnings: d.warnings.clone(),
        }
    }
}

impl vouch_admission::DecisionSink for DecisionLogFile {
    fn record(&self, decisions: &[LoggedDecision]) -> Result<(), vouch_admission::BoxError> {
        let mut lines = String::new();
        for l in decisions {
            lines.push_str(&self.record_of(l).to_line()?);
        }
        let _one_writer = self.lock.lock().map_err(|_| "decision log lock poisoned")?;
        vouch_fs::append_durably(&self.path, lines.as_bytes())?;
        Ok(())
    }
}

fn serve(a: &ServeArgs) -> Result<()> {
    if a.deadline >= Duration::from_secs(10) {
        eprintln!(
            "warning: --deadline {:?} is not below Kubernetes' 10 s webhook timeout: the API server may give up first",
            a.deadline
        );
    }
    crate::serve::init_tracing();
    let rt = vouch_server::runtime("admission").map_err(|e| anyhow!("{e}"))?;
    let policies = Arc::new(PolicySet::load(&a.policy).map_err(|e| {
        hinted(
            e.to_string(),
            "fix the policy named above; a policy that does not load is never skipped",
        )
    })?);
    let default_root = a.trust.load()?;
    let tmp;
    let tuf_cache = match &a.tuf_cache {
        Some(p) => p.clone(),
        None => {
            tmp = tempfile::tempdir().context("cannot create a TUF cache directory")?;
            tmp.path().to_path_buf()
        }
    };
    let trust = rt
        .block_on(Trust::resolve(Some(default_root), &policies, &tuf_cache))
        .map_err(|e| anyhow!("{e}"))?;
    let trust = Arc::new(trust);
    let exceptions = match trust.verifier(None) {
        Some(v) => a.approvers.load(v)?,
        None => ExceptionSet::none(),
    };
    for r in &exceptions.rejected {
        eprintln!(
            "warning: exception {} ignored: {}",
            r.file.display(),
            r.reason
        );
    }
    let exceptions = Arc::new(exceptions);
    let decider = PolicyDecider::build(
        policies.clone(),
        trust,
        exceptions.clone(),
        a.registry.client()?,
        a.no_match_policy,
        a.witness_policy
            .as_deref()
            .map(crate::witness_cmd::load_policy_digested)
            .transpose()?,
    )?;
    let excluded = if a.exclude_namespace.is_empty() {
        vec!["kube-system".to_string()]
    } else {
        a.exclude_namespace.clone()
    };
    let config = WebhookConfig {
        deadline: a.deadline,
        mutate: !a.no_mutate,
        excluded_namespaces: excluded,
        cache: CacheConfig {
            ttl: a.cache_ttl,
            negative_ttl: a.negative_ttl,
            max_stale: a.max_stale,
            ..CacheConfig::default()
        },
    };
    let tls = vouch_server::TlsConfig::from_pem_files(&a.tls_cert, &a.tls_key)
        .map_err(|e| anyhow!("{e}"))?;
    let mut webhook = Webhook::new(Arc::new(decider), config);
    if let Some(path) = &a.decision_log {
        webhook = webhook.with_decision_log(Arc::new(DecisionLogFile {
            path: path.clone(),
            exceptions,
            lock: std::sync::Mutex::new(()),
        }));
    }
    let webhook = Arc::new(webhook);
    rt.block_on(async {
        let server = vouch_server::Server::bind(a.listen.as_str())
            .await
            .map_err(|e| anyhow!("{e}"))?
            .with_tls(Some(tls));
        println!("vouch admission listening on {}", server.url());
        println!(
            "policies: {} (digest {})",
            policies.policies().len(),
            policies.digest()
        );
        vouch_admission::serve(webhook, server, vouch_server::shutdown_signal()).await;
        Ok::<_, anyhow::Error>(())
    })
}

fn print_manifests(a: &ManifestsArgs) -> Result<()> {
    let ca_bundle = std::fs::read(&a.ca_bundle)
        .with_context(|| format!("cannot read --ca-bundle {}", a.ca_bundle.display()))?;
    if !String::from_utf8_lossy(&ca_bundle).contains("-----BEGIN CERTIFICATE-----") {
        bail!(
            "--ca-bundle {} holds no PEM certificate",
            a.ca_bundle.display()
        );
    }
    let o = ManifestOptions {
        namespace: a.namespace.clone(),
        service: a.service.clone(),
        ca_bundle,
        image: a.image.clone(),
        replicas: a.replicas,
        excluded_namespaces: if a.exclude_namespace.is_empty() {
            vec!["kube-system".into()]
        } else {
            a.exclude_namespace.clone()
        },
        extra_args: if a.no_mutate {
            vec!["--no-mutate".into()]
        } else {
            vec![]
        },
    };
    print!("{}", manifests(&o).to_yaml()?);
    Ok(())
}

impl WebhookClientArgs {
    /// An HTTPS client trusting only the caBundle, connecting the server name to the URL's
    /// address; and the base URL to use with it.
    fn client(&self) -> Result<(reqwest::Client, String)> {
        let pem = std::fs::read(&self.ca_bundle)
            .with_context(|| format!("cannot read --ca-bundle {}", self.ca_bundle.display()))?;
        let url =
            reqwest::Url::parse(&self.url).map_err(|e| anyhow!("--url {:?}: {e}", self.url))?;
        if url.scheme() != "https" {
            bail!("--url must be https:// (the webhook only serves TLS)");
        }
        let mut b = reqwest::Client::builder()
            .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
            .tls_certs_only(
                reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| anyhow!("--ca-bundle: {e}"))?,
            )
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true);
        let mut base = self.url.trim_end_matches('/').to_string();
        if let Some(name) = &self.server_name {
            let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
            let port = url.port_or_known_default().unwrap_or(443);
            let ip: std::net::IpAddr = host
                .parse()
                .map_err(|_| anyhow!("--server-name needs an IP address in --url"))?;
            b = b.resolve(name, std::net::SocketAddr::new(ip, port));
            base = format!("https://{name}:{port}");
        }
        Ok((b.build().context("cannot build the HTTPS client")?, base))
    }
}

async fn post_prefetch(
    http: &reqwest::Client,
    base: &str,
    images: &[String],
) -> Result<PrefetchResponse> {
    let body = serde_json::to_vec(&PrefetchRequest {
        images: images.to_vec(),
    })?;
    let r = http
        .post(format!("{base}/prefetch"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            hinted(
                format!("cannot reach the webhook at {base}: {e}"),
                "is `vouch admission serve` running, and does --ca-bundle hold its CA?",
            )
        })?;
    let status = r.status();
    let bytes = r.bytes().await?;
    if !status.is_success() {
        bail!(
            "{base}/prefetch: HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(serde_json::from_slice(&bytes)?)
}

fn prefetch(a: &PrefetchArgs) -> Result<()> {
    let (http, base) = a.client.client()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let resp = rt.block_on(post_prefetch(&http, &base, &a.images))?;
    let mut bad = 0;
    for r in &resp.results {
        let what = match (r.state, r.passed) {
            (PrefetchState::Verified, Some(true)) => "verified, passes".to_string(),
            (PrefetchState::Verified, _) => {
                bad += 1;
                "verified, FAILS policy".to_string()
            }
            (PrefetchState::Pending, _) => "still verifying (will be cached)".to_string(),
            (PrefetchState::Error, _) => {
                bad += 1;
                format!("error: {}", r.error.as_deref().unwrap_or("?"))
            }
        };
        println!(
            "{} {}: {what}",
            r.image,
            r.digest_ref
                .as_deref()
                .map(|d| format!("({d})"))
                .unwrap_or_default()
        );
    }
    if bad > 0 {
        bail!(
            "{bad} of {} images would not be admitted",
            resp.results.len()
        );
    }
    Ok(())
}

/// An AdmissionReview for a one-container Pod with `image`.
fn pod_review(uid: &str, namespace: &str, image: &str) -> Result<Vec<u8>> {
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(format!("bench-{uid}")),
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some(image.to_string()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    };
    Ok(vouch_admission::review::request_review(
        uid,
        WorkloadKind::Pod,
        kube_core::admission::Operation::Create,
        namespace,
        &pod,
        None,
        None,
    )?)
}

/// `vouch bench admission`.
pub fn bench(a: &BenchAdmissionArgs) -> Result<()> {
    check_local(
        &a.client.url,
        "admission",
        "vouch admission serve --policy DIR --tls-cert tls.crt --tls-key tls.key --listen 127.0.0.1:8443",
    )?;
    let (http, base) = a.client.client()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Cold: each image once, one at a time (a cache miss: registry + verification).
    let mut cold = Vec::new();
    let mut cold_errors = 0u32;
    for (i, image) in a.cold_image.iter().enumerate() {
        let body = pod_review(&format!("cold-{i}"), &a.namespace, image)?;
        let t = Instant::now();
        let r = rt.block_on(async {
            let r = http
                .post(format!("{base}/validate"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            let status = r.status();
            r.bytes().await.map(|b| (status, b))
        });
        match r {
            Ok((status, body)) if status.is_success() => {
                cold.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                if let Ok(review) =
                    serde_json::from_slice::<vouch_admission::review::ResponseReview>(&body)
                    && !review.response.allowed
                {
                    eprintln!("cold {image}: denied: {}", review.response.result.message);
                }
            }
            Ok((status, _)) => {
                cold_errors += 1;
                eprintln!("cold {image}: HTTP {status}");
            }
            Err(e) => {
                cold_errors += 1;
                eprintln!("cold {image}: {e}");
            }
        }
    }
    // Warm: prefetch the image, then hammer /validate.
    let pre = rt.block_on(post_prefetch(&http, &base, std::slice::from_ref(&a.image)))?;
    if pre.results.first().map(|r| r.state) != Some(PrefetchState::Verified) {
        bail!("prefetch of {} did not verify: {:?}", a.image, pre.results);
    }
    let bodies = (0..256)
        .map(|i| pod_review(&format!("warm-{i}"), &a.namespace, &a.image))
        .collect::<Result<Vec<_>>>()?;
    let hits_before = rt.block_on(metric(&http, &base, "vouch_admission_cache_hits_total"))?;
    let load = post_load(
        &rt,
        &http,
        &format!("{base}/validate"),
        (bodies, "application/json"),
        a.clients,
        a.duration,
    );
    let hits = rt.block_on(metric(&http, &base, "vouch_admission_cache_hits_total"))? - hits_before;
    println!(
        "url={base} clients={} duration_s={:.2} image={}",
        a.clients, load.secs, a.image
    );
    println!(
        "warm: decisions={} errors={} cache_hits={hits:.0}",
        load.ok, load.errors
    );
    load.print_latencies();
    println!("decisions_per_sec={:.0}", load.ok as f64 / load.secs);
    if !a.cold_image.is_empty() {
        cold.sort_unstable();
        println!("cold: decisions={} errors={cold_errors}", cold.len());
        crate::bench::print_latencies("cold_", &cold);
    }
    if load.ok == 0 {
        bail!("no decision was made");
    }
    Ok(())
}

/// One sample of a counter from `/metrics`.
async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Result<f64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .unwrap_or(0.0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A verification made under one witness policy is never served under another: the
    /// policy's digest is part of the verified cache's key.
    #[test]
    fn the_witness_policy_is_part_of_the_cache_key() {
        let dir = tempfile::tempdir().unwrap();
        let cip = dir.path().join("release.yaml");
        std::fs::write(
            &cip,
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: release\nspec:\n  images:\n  - glob: \"reg.test/**\"\n  authorities:\n  - keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: https://idp.test\n        subject: alice@example.com\n",
        )
        .unwrap();
        let policies = Arc::new(PolicySet::load(&[cip]).unwrap());
        let trust = Arc::new(Trust::new(Some(
            vouch_core::trust::TrustRoot::public_good().unwrap(),
        )));
        let log = "log PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n";
        let parts = |witness: Option<&str>| {
            let w = witness.map(|text| {
                let p = dir.path().join("witness_policy.txt");
                std::fs::write(&p, text).unwrap();
                crate::witness_cmd::load_policy_digested(&p).unwrap()
            });
            PolicyDecider::build(
                policies.clone(),
                trust.clone(),
                Arc::new(ExceptionSet::none()),
                Registry::new(vouch_oci::RegistryOptions::default()).unwrap(),
                NoMatchPolicy::Deny,
                w,
            )
            .unwrap()
            .cache_key_parts()
        };
        let none = parts(None);
        let a = parts(Some(&format!("{log}quorum none\n")));
        let b = parts(Some(&format!("# stricter\n{log}quorum none\n")));
        assert_eq!(none.witness_policy_digest, "");
        assert!(a.witness_policy_digest.starts_with("sha256:"), "{a:?}");
        assert_ne!(none, a);
        assert_ne!(a, b);
        assert_eq!(a, parts(Some(&format!("{log}quorum none\n"))));
        assert_eq!(
            (&a.policy_digest, &a.trust_digest),
            (&b.policy_digest, &b.trust_digest)
        );
    }
}
