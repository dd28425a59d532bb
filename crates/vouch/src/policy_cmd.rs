//! `vouch policy check`: the CI / promotion gate on the vouch-policy engine. Images are
//! checked against ClusterImagePolicies (signatures read from the registry), files against
//! ArtifactPolicies (bundles given with `--bundle`). Exit 1 on deny, each failed check named.

use crate::cli::OutputFormat;
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vouch_core::keys::PublicKey;
use vouch_core::trust::TrustRoot;
use vouch_policy::{
    Approvers, ArtifactInput, Engine, EngineOptions, EvalContext, ExceptionSet, ImageDecision,
    ImageRef, NoMatchPolicy, OciSource, PolicySet, Trust, Verdict,
};
use vouch_verify::{Artifact, IdentityPolicy, Matcher, Verifier};

/// `vouch policy …`.
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check an image (by tag or digest) or a file against ClusterImagePolicy /
    /// ArtifactPolicy documents; exit 1 when denied.
    Check(CheckArgs),
}

/// Where the default trusted root comes from.
#[derive(Args, Debug, Clone)]
pub struct PolicyTrustArgs {
    /// ClientTrustConfig JSON whose trusted root verifies signatures (e.g.
    /// ./vouch-data/trust_config.json) [default: the embedded public-good root].
    #[arg(long, env = "VOUCH_TRUST_CONFIG")]
    pub trust_config: Option<PathBuf>,
    /// Trusted root JSON (instead of --trust-config).
    #[arg(long, conflicts_with = "trust_config")]
    pub trusted_root: Option<PathBuf>,
}

impl PolicyTrustArgs {
    /// The default trusted root.
    pub fn load(&self) -> Result<TrustRoot> {
        match (&self.trust_config, &self.trusted_root) {
            (Some(tc), _) => Ok(crate::sign_cmd::load_client_trust_config(tc)?.0),
            (None, p) => crate::cli::load_trust(p.as_deref(), false),
        }
    }
}

/// Who may approve exceptions: `--approver-identity`/`--approver-oidc-issuer` pairs (or their
/// `-regexp` forms; exact forms are paired first, then regexps, in order; one issuer applies
/// to every identity), and `--approver-key` for key-signed exceptions.
#[derive(Args, Debug, Clone, Default)]
pub struct ApproverArgs {
    /// Directory of signed exceptions (`vouch exception grant` bundles).
    #[arg(long)]
    pub exceptions: Option<PathBuf>,
    /// Approver certificate identity (SAN), exact; repeatable.
    #[arg(long)]
    pub approver_identity: Vec<String>,
    /// Approver certificate identity as a regular expression; repeatable.
    #[arg(long)]
    pub approver_identity_regexp: Vec<String>,
    /// Approver OIDC issuer, exact; repeatable.
    #[arg(long)]
    pub approver_oidc_issuer: Vec<String>,
    /// Approver OIDC issuer as a regular expression; repeatable.
    #[arg(long)]
    pub approver_oidc_issuer_regexp: Vec<String>,
    /// Approver public key (PEM) for key-signed exceptions; repeatable.
    #[arg(long)]
    pub approver_key: Vec<PathBuf>,
}

impl ApproverArgs {
    /// The configured approvers.
    pub fn approvers(&self) -> Result<Approvers> {
        let regex = |p: &String| {
            regex::Regex::new(p)
                .map(Matcher::Regex)
                .with_context(|| format!("invalid regular expression {p:?}"))
        };
        let mut subjects: Vec<Matcher> = self
            .approver_identity
            .iter()
            .map(|s| Matcher::Exact(s.clone()))
            .collect();
        for r in &self.approver_identity_regexp {
            subjects.push(regex(r)?);
        }
        let mut issuers: Vec<Matcher> = self
            .approver_oidc_issuer
            .iter()
            .map(|s| Matcher::Exact(s.clone()))
            .collect();
        for r in &self.approver_oidc_issuer_regexp {
            issuers.push(regex(r)?);
        }
        let identities = match (subjects.len(), issuers.len()) {
            (0, _) => Vec::new(),
            (_, 1) => subjects
                .into_iter()
                .map(|san| IdentityPolicy {
                    san,
                    issuer: issuers[0].clone(),
                    extensions: Vec::new(),
                })
                .collect(),
            (s, i) if s == i => subjects
                .into_iter()
                .zip(issuers)
                .map(|(san, issuer)| IdentityPolicy {
                    san,
                    issuer,
                    extensions: Vec::new(),
                })
                .collect(),
            (s, i) => {
                return Err(hinted(
                    format!("{s} approver identities but {i} approver OIDC issuers"),
                    "give one --approver-oidc-issuer for all identities, or one per --approver-identity",
                ));
            }
        };
        if identities.is_empty()
            && !(self.approver_oidc_issuer.is_empty()
                && self.approver_oidc_issuer_regexp.is_empty())
        {
            bail!(
                "--approver-oidc-issuer needs --approver-identity (or --approver-identity-regexp)"
            );
        }
        let mut keys = Vec::new();
        for k in &self.approver_key {
            let pem = std::fs::read_to_string(k)
                .with_context(|| format!("cannot read approver key {}", k.display()))?;
            keys.push(
                PublicKey::from_pem(&pem)
                    .with_context(|| format!("approver key {}", k.display()))?,
            );
        }
        Ok(Approvers {
            identities,
            keys,
            insecure_any_identity: false,
        })
    }

    /// Load and verify the exceptions directory, if one was given.
    pub fn load(&self, verifier: &Verifier) -> Result<ExceptionSet> {
        let Some(dir) = &self.exceptions else {
            return Ok(ExceptionSet::none());
        };
        let approvers = self.approvers()?;
        ExceptionSet::load(dir, &approvers, verifier).map_err(|e| {
            hinted(
                e.to_string(),
                "exceptions are honoured only when signed by a configured approver",
            )
        })
    }
}

/// `vouch policy check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// What to check: an image (`registry/repo:tag`, `registry/repo@sha256:…`), a file, or an
    /// ML model directory (its signature: --bundle, default model.sig).
    subject: String,
    /// Policy file or directory (YAML, several documents per file); repeatable.
    #[arg(long, required = true)]
    policy: Vec<PathBuf>,
    /// For a file: its Sigstore bundle(s) [default: <file>.sigstore.json]; repeatable.
    #[arg(long)]
    bundle: Vec<PathBuf>,
    /// What to do when no policy matches.
    #[arg(long, default_value = "deny", value_parser = parse_no_match)]
    no_match_policy: NoMatchPolicy,
    /// Namespace to evaluate in (exceptions are scoped by namespace).
    #[arg(long)]
    namespace: Option<String>,
    /// Append one JSON line per decision to this file (`vouch exception list --decision-log`
    /// counts exception uses from it).
    #[arg(long)]
    decision_log: Option<PathBuf>,
    /// Where TrustRoot `remote` TUF metadata is cached [default: a temporary directory].
    #[arg(long)]
    tuf_cache: Option<PathBuf>,
    /// Output format.
    /// C2SP tlog-policy file: every log checkpoint a signature relies on must carry its
    /// witness quorum (for every authority).
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    /// No network access except the registry named in the image (none for a file): TrustRoot
    /// `remote` mirrors and any other host are refused, naming the host and the component.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    trust: PolicyTrustArgs,
    #[command(flatten)]
    approvers: ApproverArgs,
    #[command(flatten)]
    registry: crate::oci_cmd::RegistryArgs,
}

fn parse_no_match(s: &str) -> Result<NoMatchPolicy, String> {
    s.parse()
}

/// Run `vouch policy …`.
pub fn run(c: PolicyCommand) -> Result<()> {
    match c {
        PolicyCommand::Check(a) => check(&a),
    }
}

fn policy_error(e: vouch_policy::PolicyError) -> anyhow::Error {
    use vouch_policy::PolicyError as E;
    let hint = match &e {
        E::CueUnsupported { .. } => {
            "vouch evaluates Rego policies (type: rego); CUE has no Rust implementation"
        }
        E::Yaml { .. } | E::UnknownKind { .. } => {
            "policies are policy-controller ClusterImagePolicy / TrustRoot documents (or vouch ArtifactPolicy), in YAML"
        }
        E::NoTrustRoot { .. } => "pass --trust-config (e.g. ./vouch-data/trust_config.json)",
        _ => "fix the policy document named above; a policy that does not load is never skipped",
    };
    // Keep the causes (an I/O error, a regorus message) in the one line.
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let c_msg = c.to_string();
        if !msg.contains(&c_msg) {
            msg.push_str(": ");
            msg.push_str(&c_msg);
        }
        cause = c.source();
    }
    hinted(msg, hint)
}

fn check(a: &CheckArgs) -> Result<()> {
    if a.offline {
        let is_file = Path::new(&a.subject).is_file() || !a.bundle.is_empty();
        let registry = match vouch_oci::parse_reference(&a.subject) {
            Ok(r) if !is_file => Some(r.resolve_registry().to_string()),
            _ => None,
        };
        crate::airgap_cmd::go_offline(registry.as_deref());
    }
    let policies = Arc::new(PolicySet::load(&a.policy).map_err(policy_error)?);
    let default_root = a.trust.load()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
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
        .map_err(policy_error)?;
    let trust = Arc::new(trust);
    let exceptions = match trust.verifier(None) {
        Some(v) => a.approvers.load(v)?,
        None => ExceptionSet::none(),
    };
    for r in &exceptions.rejected {
        eprintln!(
            "warning: exception {} ignored: {}",
            r.file.display(),
            r.reason.message()
        );
    }
    let registry = a.registry.client()?;
    let engine = Engine::new(
        policies,
        trust,
        OciSource::new(registry.clone()),
        Arc::new(exceptions),
        EngineOptions {
            no_match: a.no_match_policy,
        },
    )
    .map_err(policy_error)?;
    let engine = match &a.witness_policy {
        Some(p) => engine.with_witness_policy(crate::witness_cmd::load_policy(p)?),
        None => engine,
    };
    let ctx = EvalContext {
        namespace: a.namespace.clone(),
        ..EvalContext::cli(jiff::Timestamp::now())
    };
    let path = Path::new(&a.subject);
    let decision = if path.is_dir() {
        // An ML model: its OpenSSF Model Signing signature, evaluated against the manifest
        // digest recomputed from disk (ArtifactPolicy attestations of predicateType `model`).
        let bundle_paths = if a.bundle.is_empty() {
            vec![PathBuf::from("model.sig")]
        } else {
            a.bundle.clone()
        };
        let digest = crate::model_cmd::model_policy_digest(path, &bundle_paths[0])?;
        let bundles = read_bundles(&bundle_paths)?;
        engine.evaluate_artifact(
            &ArtifactInput {
                name: &a.subject,
                artifact: Artifact::Digest {
                    algorithm: vouch_core::keys::HashKind::Sha256,
                    digest: &digest,
                },
                bundles: &bundles,
            },
            &ctx,
        )
    } else if path.is_file() || !a.bundle.is_empty() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", a.subject))?;
        let bundle_paths = if a.bundle.is_empty() {
            vec![PathBuf::from(format!("{}.sigstore.json", a.subject))]
        } else {
            a.bundle.clone()
        };
        let bundles = read_bundles(&bundle_paths)?;
        engine.evaluate_artifact(
            &ArtifactInput {
                name: &a.subject,
                artifact: Artifact::Bytes(&bytes),
                bundles: &bundles,
            },
            &ctx,
        )
    } else {
        let r = vouch_oci::parse_reference(&a.subject).map_err(|e| {
            hinted(
                e.to_string(),
                "name an image as registry/repository@sha256:<hex> (or :tag), or a file that exists",
            )
        })?;
        rt.block_on(async {
            let target = vouch_oci::sign::pin_for_reading(&registry, &r)
                .await
                .map_err(|e| {
                    hinted(
                        e.to_string(),
                        "is the registry running and the image name right?",
                    )
                })?;
            if let Some(tag) = &target.from_tag {
                eprintln!("Resolved tag {tag} to {}", target.descriptor.digest);
            }
            let image = ImageRef::with_digest(&a.subject, &target.descriptor.digest)
                .map_err(|e| anyhow!("{e}"))?;
            Ok::<_, anyhow::Error>(engine.evaluate_image(&image, &ctx).await)
        })?
    };
    if let Some(log) = &a.decision_log {
        append_decision(log, &vouch_policy::DecisionRecord::new(&decision, &ctx))?;
    }
    report(&decision, a.output)?;
    if decision.verdict == Verdict::Deny {
        return Err(hinted(
            format!("denied: {}", decision.message()),
            "sign it as a policy's authority requires, or get a signed exception (`vouch exception grant`)",
        ));
    }
    Ok(())
}

fn read_bundles(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>> {
    paths
        .iter()
        .map(|b| std::fs::read(b).with_context(|| format!("cannot read bundle {}", b.display())))
        .collect()
}

fn append_decision(path: &Path, r: &vouch_policy::DecisionRecord) -> Result<()> {
    vouch_fs::append_durably(path, r.to_line()?.as_bytes())
        .map_err(|e| anyhow!("decision log: {e}"))
}

fn report(d: &ImageDecision, output: OutputFormat) -> Result<()> {
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(d)?);
        return Ok(());
    }
    for p in &d.policies {
        let mode = match p.mode {
            vouch_policy::Mode::Enforce => "enforce",
            vouch_policy::Mode::Warn => "warn",
        };
        eprintln!(
            "policy {} ({mode}): {}",
            p.name,
            if p.passed { "passed" } else { "FAILED" }
        );
        for au in &p.authorities {
            match &au.error {
                None => eprintln!(
                    "  authority {}: passed ({})",
                    au.name,
                    au.signers.join(", ")
                ),
                Some(e) => eprintln!("  authority {}: failed: {e}", au.name),
            }
        }
        // Threshold and CIP-level failures (single-authority failures are printed above).
        if let (false, Some(e)) = (p.passed, &p.error)
            && !e.starts_with("authority ")
        {
            eprintln!("  => {e}");
        }
    }
    for w in &d.warnings {
        eprintln!("warning: {w}");
    }
    for e in &d.exceptions_used {
        eprintln!(
            "exception used: {} ({}) for policy {}, approved by {}, ticket {}, expires {}",
            e.id, e.file, e.policy, e.approver, e.ticket, e.expires
        );
    }
    let verdict = match d.verdict {
        Verdict::Allow => "allowed",
        Verdict::Warn => "allowed with warnings",
        Verdict::Deny => "DENIED",
    };
    eprintln!("{}: {verdict}", d.subject.display());
    Ok(())
}
