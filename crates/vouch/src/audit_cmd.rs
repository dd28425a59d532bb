//! `vouch audit`: verification coverage as a KPI over a directory of release artifacts (files
//! with their bundles beside them), verified offline, evaluated by the policy engine, reported
//! as a table, JSON, a Kubernetes PolicyReport or a self-contained HTML page.

use crate::policy_cmd::PolicyTrustArgs;
use crate::tlog::hinted;
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vouch_audit::{Coverage, EvidenceChecker, Report};
use vouch_policy::{
    Engine, EngineOptions, EvalContext, ExceptionSet, NoMatchPolicy, NoSource, PolicySet, Trust,
};

/// `vouch audit …`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Audit a directory of artifacts with `.sigstore.json` bundles beside them.
    Dir(AuditDirArgs),
    /// Audit every image under a registry prefix (`registry.local:5000/team-a/`).
    Registry(AuditRegistryArgs),
    /// Coverage over time from the runs stored with `--history`.
    Trend(AuditTrendArgs),
    /// Deploys allowed, warned and denied (by policy, reason, namespace, over time) and the
    /// exceptions (open, used, expired, ages), from the admission webhook's decision log.
    Decisions(AuditDecisionsArgs),
}

/// `vouch audit decisions`.
#[derive(Args, Debug)]
pub struct AuditDecisionsArgs {
    /// The decision log: `vouch admission serve --decision-log FILE` (or `vouch policy check
    /// --decision-log`), one JSON line per image decision; other lines are counted and skipped.
    #[arg(long, value_name = "FILE")]
    admission_log: PathBuf,
    /// Width of the time buckets of the "over time" counts.
    #[arg(long, value_enum, default_value_t = DecisionBucket::Day)]
    bucket: DecisionBucket,
    /// Report format (table, json or html).
    #[arg(long, short = 'o', value_enum, default_value_t = AuditOutput::Table)]
    output: AuditOutput,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    // --exceptions DIR also lists the exceptions never used (verified as the webhook does).
    #[command(flatten)]
    approvers: crate::policy_cmd::ApproverArgs,
    #[command(flatten)]
    trust: PolicyTrustArgs,
}

/// `--bucket`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DecisionBucket {
    /// One bucket per hour.
    Hour,
    /// One bucket per day (UTC).
    Day,
}

/// `vouch audit trend`.
#[derive(Args, Debug)]
pub struct AuditTrendArgs {
    /// The directory earlier runs were stored in (`--history`).
    #[arg(long)]
    history: PathBuf,
    /// Report format (table, json or html).
    #[arg(long, short = 'o', value_enum, default_value_t = AuditOutput::Table)]
    output: AuditOutput,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Report formats.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum AuditOutput {
    /// A terminal table and the ratios.
    Table,
    /// JSON.
    Json,
    /// Self-contained HTML with charts.
    Html,
    /// Kubernetes PolicyReport (wgpolicyk8s.io/v1alpha2) YAML.
    Policyreport,
}

/// Flags every audit shares.
#[derive(Args, Debug)]
pub struct AuditCommon {
    /// Policy file or directory (YAML); repeatable.
    #[arg(long, required = true)]
    policy: Vec<PathBuf>,
    /// Report format.
    #[arg(long, short = 'o', value_enum, default_value_t = AuditOutput::Table)]
    output: AuditOutput,
    /// Write the report here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Store this run's JSON report in this directory, and chart the coverage of the runs
    /// stored there in the HTML report.
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
    /// What an artifact no policy matches counts as.
    #[arg(long, default_value = "deny", value_parser = parse_no_match)]
    no_match_policy: NoMatchPolicy,
    #[command(flatten)]
    trust: PolicyTrustArgs,
    /// Guarantee no network access except the registry being audited (none for `audit dir`):
    /// any other attempt fails naming the host and the component.
    #[arg(long)]
    offline: bool,
}

fn parse_no_match(s: &str) -> Result<NoMatchPolicy, String> {
    s.parse()
}

/// `vouch audit dir`.
#[derive(Args, Debug)]
pub struct AuditDirArgs {
    /// The directory.
    dir: PathBuf,
    #[command(flatten)]
    common: AuditCommon,
}

/// `vouch audit registry`.
#[derive(Args, Debug)]
pub struct AuditRegistryArgs {
    /// Registry and repository prefix: every repository whose name starts with it is audited
    /// (`registry.local:5000/team-a/`, `registry.local:5000/team-`, or a bare registry).
    prefix: String,
    /// Most images to audit; more is an error.
    #[arg(long, default_value_t = 10_000)]
    max_images: usize,
    /// Only images signed or attested within this window (`30d`, `12h`): the latest verified
    /// signing time of their signatures and attestations (log integrated time or TSA
    /// timestamp). Images with no verified signing time (unsigned, or only invalid evidence)
    /// are always kept: they have no age, and coverage must count them.
    #[arg(long, value_parser = crate::inventory_cmd::parse_since)]
    since: Option<jiff::SignedDuration>,
    #[command(flatten)]
    common: AuditCommon,
    #[command(flatten)]
    registry: crate::oci_cmd::RegistryArgs,
}

/// Run `vouch audit …`.
pub fn run(c: AuditCommand) -> Result<()> {
    match c {
        AuditCommand::Dir(a) => {
            if a.common.offline {
                crate::airgap_cmd::go_offline(None);
            }
            audit_dir(&a)
        }
        AuditCommand::Registry(a) => {
            if a.common.offline {
                // The registry host is what the prefix starts with (`host[:port]/repo…`).
                let host = a.prefix.split('/').next().unwrap_or_default();
                crate::airgap_cmd::go_offline(Some(host));
            }
            audit_registry(&a)
        }
        AuditCommand::Trend(a) => trend(&a),
        AuditCommand::Decisions(a) => decisions(&a),
    }
}

fn decisions(a: &AuditDecisionsArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.admission_log).map_err(|e| {
        hinted(
            format!(
                "cannot read decision log {}: {e}",
                a.admission_log.display()
            ),
            "pass the file given to `vouch admission serve --decision-log`",
        )
    })?;
    let (records, skipped) = vouch_policy::read_decision_log(&text);
    let exceptions = if a.approvers.exceptions.is_some() {
        let verifier = vouch_verify::Verifier::new(a.trust.load()?);
        Some(a.approvers.load(&verifier)?)
    } else {
        None
    };
    let bucket = match a.bucket {
        DecisionBucket::Hour => vouch_audit::decisions::Bucket::Hour,
        DecisionBucket::Day => vouch_audit::decisions::Bucket::Day,
    };
    let report = vouch_audit::decisions::DecisionsReport::new(
        a.admission_log.display().to_string(),
        &records,
        skipped,
        exceptions.as_ref(),
        bucket,
        jiff::Timestamp::now(),
    );
    let text = match a.output {
        AuditOutput::Json => report.to_json()? + "\n",
        AuditOutput::Html => report.to_html(),
        AuditOutput::Table => report.to_table(),
        AuditOutput::Policyreport => {
            return Err(hinted(
                "-o policyreport reports on artifacts, not admission decisions",
                "use -o table, json or html",
            ));
        }
    };
    write_out(&text, a.out.as_deref())?;
    eprintln!("{}", report.decisions_line());
    Ok(())
}

/// What every audit loads: the policies, the trust, and the verifier for the evidence.
struct Setup {
    policies: Arc<PolicySet>,
    trust: Arc<Trust>,
    verifier: Arc<vouch_verify::Verifier>,
    keys: Vec<vouch_core::keys::PublicKey>,
}

impl Setup {
    fn load(c: &AuditCommon) -> Result<Self> {
        let policies = Arc::new(PolicySet::load(&c.policy).map_err(|e| {
            hinted(
                format!("policies: {e}"),
                "pass policy-controller ClusterImagePolicy or vouch ArtifactPolicy YAML with --policy",
            )
        })?);
        let keys = vouch_audit::policy_keys(&policies);
        let trust = Arc::new(Trust::new(Some(c.trust.load()?)));
        let verifier = trust
            .verifier(None)
            .cloned()
            .context("no default trusted root")?;
        Ok(Self {
            policies,
            trust,
            verifier,
            keys,
        })
    }

    fn engine<S: vouch_policy::SignatureSource>(
        &self,
        source: S,
        c: &AuditCommon,
    ) -> Result<Engine<S>> {
        Engine::new(
            self.policies.clone(),
            self.trust.clone(),
            source,
            Arc::new(ExceptionSet::none()),
            EngineOptions {
                no_match: c.no_match_policy,
            },
        )
        .map_err(|e| hinted(format!("policies: {e}"), "fix the policy named above"))
    }
}

fn audit_registry(a: &AuditRegistryArgs) -> Result<()> {
    let c = &a.common;
    let setup = Setup::load(c)?;
    let registry = a.registry.client()?;
    let engine = setup.engine(vouch_policy::OciSource::new(registry.clone()), c)?;
    let checker = EvidenceChecker::new(&setup.verifier, setup.keys.clone());
    let now = jiff::Timestamp::now();
    let ctx = EvalContext::cli(now);
    let scope = vouch_audit::registry::Scope::parse(&a.prefix);
    let bar = progress_bar();
    let progress = |i: usize, n: usize| {
        if let Some(b) = &bar {
            b.set_length(n as u64);
            b.set_position(i as u64);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let audit = vouch_audit::registry::RegistryAudit {
        registry: &registry,
        max_images: a.max_images,
        progress: &progress,
    };
    let mut artifacts = rt
        .block_on(audit.run(&scope, &engine, &checker, &ctx))
        .map_err(|e| {
            hinted(
                e.to_string(),
                "is the registry running and the prefix right?",
            )
        })?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(window) = a.since {
        let since = now
            .checked_sub(window)
            .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
        let before = artifacts.len();
        artifacts.retain(|x| x.within(since));
        eprintln!(
            "--since: {} of {before} images signed before {since} left out",
            before - artifacts.len()
        );
    }
    let mut report = Report::new(a.prefix.clone(), artifacts, now);
    report.registry_requests = Some(registry.request_count());
    emit(&report, c)
}

fn audit_dir(a: &AuditDirArgs) -> Result<()> {
    let c = &a.common;
    let setup = Setup::load(c)?;
    let engine = setup.engine(NoSource, c)?;
    let checker = EvidenceChecker::new(&setup.verifier, setup.keys.clone());
    let now = jiff::Timestamp::now();
    let ctx = EvalContext::cli(now);
    let bar = progress_bar();
    let artifacts = vouch_audit::dir::audit(&a.dir, &engine, &checker, &ctx, &|i, n| {
        if let Some(b) = &bar {
            b.set_length(n as u64);
            b.set_position(i as u64);
        }
    })
    .map_err(|e| hinted(e.to_string(), "pass a directory of release artifacts"))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = Report::new(a.dir.display().to_string(), artifacts, now);
    emit(&report, c)
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("auditing {pos}/{len} {wide_bar}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

/// Stored runs: `(generated_at, overall coverage)`, oldest first.
fn history(dir: &Path) -> Result<Vec<(String, Coverage)>> {
    let mut runs = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(runs),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for e in entries {
        let p = e?.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let bytes = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
        let run: StoredRun = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not an audit report", p.display()))?;
        runs.push((run.generated_at, run.summary.overall));
    }
    runs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(runs)
}

/// The part of a stored JSON report ([`Report`]) the trend reads.
#[derive(serde::Deserialize, serde::Serialize)]
struct StoredRun {
    generated_at: String,
    summary: StoredSummary,
}
#[derive(serde::Deserialize, serde::Serialize)]
struct StoredSummary {
    overall: Coverage,
}

fn trend(a: &AuditTrendArgs) -> Result<()> {
    let runs = history(&a.history)?;
    if runs.is_empty() {
        return Err(hinted(
            format!("no stored audit runs in {}", a.history.display()),
            "store runs with `vouch audit … --history DIR`",
        ));
    }
    let text = match a.output {
        AuditOutput::Html => vouch_audit::html::trend_page(&runs),
        AuditOutput::Json => {
            let all: Vec<StoredRun> = runs
                .into_iter()
                .map(|(generated_at, overall)| StoredRun {
                    generated_at,
                    summary: StoredSummary { overall },
                })
                .collect();
            serde_json::to_string_pretty(&all)? + "\n"
        }
        AuditOutput::Table | AuditOutput::Policyreport => {
            let mut t = String::new();
            for (at, c) in &runs {
                t.push_str(&vouch_audit::report::coverage_line(at, c));
                t.push('\n');
            }
            t
        }
    };
    write_out(&text, a.out.as_deref())
}

fn write_out(text: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(p) => {
            vouch_fs::write_durably(p, text.as_bytes(), vouch_fs::Access::Public)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
            eprintln!("Report written to {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn emit(report: &Report, c: &AuditCommon) -> Result<()> {
    let json = report.to_json()?;
    let mut trend = Vec::new();
    if let Some(h) = &c.history {
        std::fs::create_dir_all(h).with_context(|| format!("cannot create {}", h.display()))?;
        let name = format!("{}.json", report.generated_at.replace(':', ""));
        vouch_fs::write_durably(&h.join(name), json.as_bytes(), vouch_fs::Access::Public)
            .map_err(|e| anyhow::anyhow!("cannot write the history: {e}"))?;
        trend = history(h)?
            .into_iter()
            .map(|(t, c)| (t, c.signed.ratio))
            .collect();
    }
    let text = match c.output {
        AuditOutput::Table => report.to_table(),
        AuditOutput::Json => json + "\n",
        AuditOutput::Html => vouch_audit::html::to_html(report, &trend),
        AuditOutput::Policyreport => report.to_policy_report("vouch-audit")?,
    };
    write_out(&text, c.out.as_deref())?;
    eprintln!(
        "{}",
        vouch_audit::report::coverage_line("overall", &report.summary.overall)
    );
    Ok(())
}
