//! `vouch exception grant` and `vouch exception list`: signed, logged, expiring policy
//! exceptions. `grant` builds the exception statement (vouch-policy's
//! [`ExceptionPredicate`]) and signs it as `attest-blob --statement` does: keyless with the
//! approver's identity (`--identity-token`, `SIGSTORE_ID_TOKEN`, a login) or `--key`, recorded
//! in the transparency log of the trust config's signing config.

use crate::policy_cmd::{ApproverArgs, PolicyTrustArgs};
use crate::sign_cmd::{SigningSetup, TokenArgs, TrustArgs, credential};
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use vouch_core::keys::HashKind;
use vouch_policy::ExceptionPredicate;
use vouch_policy::exception::exception_statement;
use vouch_sign::{Content, Credential, SignOptions, Signer};
use vouch_verify::Verifier;

/// `vouch exception …`.
#[derive(Subcommand, Debug)]
pub enum ExceptionCommand {
    /// Sign an exception (images, namespaces, policies, reason, ticket, expiry) into a bundle.
    Grant(Box<GrantArgs>),
    /// List the exceptions of a directory: approver, age, time left; refused ones and why.
    List(Box<ListArgs>),
}

/// `vouch exception grant`.
#[derive(Args, Debug)]
pub struct GrantArgs {
    /// Image glob (policy-controller syntax) or digest the exception covers; repeatable.
    #[arg(long)]
    image: Vec<String>,
    /// Artifact file-name glob or digest (for ArtifactPolicy); repeatable.
    #[arg(long)]
    artifact: Vec<String>,
    /// Namespace it applies in; repeatable [default: any].
    #[arg(long)]
    namespace: Vec<String>,
    /// Policy name it waives (`*`: any); repeatable.
    #[arg(long, required = true)]
    policy: Vec<String>,
    /// Why.
    #[arg(long)]
    reason: String,
    /// Change ticket.
    #[arg(long)]
    ticket: String,
    /// How long it lasts (`72h`, `30m`, `7d`) or until when (RFC 3339).
    #[arg(long)]
    expires: String,
    /// Approver name recorded in the statement [default: the signing identity, or "key"].
    #[arg(long)]
    approver: Option<String>,
    /// Write the signed exception bundle here.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    token: TokenArgs,
    /// Sign with this key (cosign.key, encrypted with $COSIGN_PASSWORD) instead of keyless.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Rekor major API version (1 or 2) when the signing config offers both.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    rekor_version: Option<u32>,
    /// Skip confirmation prompts.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Extra PEM CA certificates for TLS to the services.
    #[arg(long)]
    ca_certificates: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
}

/// `vouch exception list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    approvers: ApproverArgs,
    #[command(flatten)]
    trust: PolicyTrustArgs,
    /// A decision log (`vouch policy check --decision-log`) to count each exception's uses from.
    #[arg(long)]
    decision_log: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = crate::cli::OutputFormat::Text)]
    output: crate::cli::OutputFormat,
}

/// Run `vouch exception …`.
pub fn run(c: ExceptionCommand) -> Result<()> {
    match c {
        ExceptionCommand::Grant(a) => grant(&a),
        ExceptionCommand::List(a) => list(&a),
    }
}

/// `72h`, `30m`, `7d`, `1h30m`, or an RFC 3339 time, from `now`.
fn parse_expiry(s: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let d = if let Some(days) = s.strip_suffix('d') {
        let n: i64 = days
            .parse()
            .map_err(|_| anyhow!("--expires {s:?}: not a duration"))?;
        jiff::SignedDuration::from_hours(n.saturating_mul(24))
    } else {
        s.parse::<jiff::SignedDuration>().map_err(|e| {
            hinted(
                format!("--expires {s:?}: {e}"),
                "give a duration (72h, 30m, 7d) or an RFC 3339 time",
            )
        })?
    };
    if d.is_negative() || d.is_zero() {
        bail!("--expires {s:?}: must be in the future");
    }
    now.checked_add(d)
        .map_err(|e| anyhow!("--expires {s:?}: {e}"))
}

fn second(t: jiff::Timestamp) -> String {
    // Exceptions are decided to the second: no sub-second precision in the statement.
    jiff::Timestamp::from_second(t.as_second())
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.to_string())
}

fn grant(a: &GrantArgs) -> Result<()> {
    if a.image.is_empty() && a.artifact.is_empty() {
        bail!("name what the exception covers: --image GLOB (or --artifact GLOB)");
    }
    for i in &a.image {
        if !i.starts_with("sha256:") && !i.contains('@') {
            vouch_policy::glob::ImageGlob::compile(i).map_err(|e| anyhow!("--image: {e}"))?;
        }
    }
    let now = jiff::Timestamp::now();
    let expires = parse_expiry(&a.expires, now)?;
    if expires <= now {
        bail!("--expires {}: already past", a.expires);
    }
    let setup = SigningSetup::new(&a.trust, a.rekor_version, a.ca_certificates.as_deref(), now)?;
    let SigningSetup {
        trust,
        services,
        http,
        rt,
    } = setup;
    rt.block_on(async {
        let credential = credential(&http, &services, a.key.as_deref(), &a.token).await?;
        let approver = match (&a.approver, &credential) {
            (Some(n), _) => n.clone(),
            (None, Credential::Token(t)) => t.subject().unwrap_or_default().to_string(),
            (None, _) => "key".to_string(),
        };
        if !a.yes && std::io::stdin().is_terminal() {
            eprintln!(
                "The exception and the approver's identity will be recorded in the transparency log{}, which is append-only.",
                services.tlogs.first().map(|(u, _)| format!(" at {u}")).unwrap_or_default()
            );
        }
        let predicate = ExceptionPredicate {
            images: a.image.clone(),
            artifacts: a.artifact.clone(),
            namespaces: a.namespace.clone(),
            policies: a.policy.clone(),
            reason: a.reason.clone(),
            ticket: a.ticket.clone(),
            approver,
            issued_at: second(now),
            expires: second(expires),
        };
        let (payload, digest) = exception_statement(&predicate)?;
        let content = Content::Dsse {
            payload_type: vouch_core::dsse::INTOTO_PAYLOAD_TYPE.to_string(),
            payload,
            subject: (HashKind::Sha256, digest),
        };
        let opts = SignOptions {
            tlog_upload: true,
            ..SignOptions::default()
        };
        let signer = Signer::new(http.clone(), services.clone(), Some(trust));
        let out = signer.sign(&content, credential, &opts).await?;
        let json = vouch_sign::sign::bundle_to_pretty_json(&out.bundle)?;
        vouch_fs::write_durably(&a.out, json.as_bytes(), vouch_fs::Access::Public)
            .map_err(|e| anyhow!("cannot write {}: {e}", a.out.display()))?;
        match &out.identity {
            Some((san, iss)) => eprintln!("Exception signed by {san} (issuer {iss})"),
            None => eprintln!("Exception signed with key"),
        }
        for (url, idx) in &out.log_entries {
            eprintln!("Transparency log entry: index {idx} at {url}");
        }
        eprintln!(
            "Policies {} for {}, expires {}",
            predicate.policies.join(", "),
            predicate
                .images
                .iter()
                .chain(&predicate.artifacts)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            predicate.expires
        );
        eprintln!("Exception written to {}", a.out.display());
        Ok::<_, anyhow::Error>(())
    })
}

fn human(d: jiff::SignedDuration) -> String {
    let s = d.as_secs().abs();
    let (days, hours, mins) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{mins}m")
    } else {
        format!("{mins}m{}s", s % 60)
    }
}

fn list(a: &ListArgs) -> Result<()> {
    let Some(dir) = &a.approvers.exceptions else {
        bail!("pass --exceptions DIR");
    };
    let root = a.trust.load()?;
    let verifier = Verifier::new(root);
    let mut approvers = a.approvers.approvers()?;
    let unchecked = approvers.is_empty();
    if unchecked {
        approvers.insecure_any_identity = true;
        eprintln!(
            "note: no approvers given: signatures, certificates and log entries are verified, approvers are NOT checked; pass --approver-identity/--approver-oidc-issuer or --approver-key to see what `policy check` and the webhook honour"
        );
    }
    let set =
        vouch_policy::ExceptionSet::load(dir, &approvers, &verifier).map_err(|e| anyhow!("{e}"))?;
    let now = jiff::Timestamp::now();
    let uses = match &a.decision_log {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read decision log {}", p.display()))?;
            Some(vouch_policy::count_exception_uses(&text).0)
        }
        None => None,
    };
    if a.output == crate::cli::OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&set)?);
        return Ok(());
    }
    println!(
        "{:<21} {:<9} {:<8} {:<10} {:<5} {:<40} {:<14} COVERS",
        "ID", "STATE", "AGE", "TIME LEFT", "USED", "APPROVER", "TICKET"
    );
    for e in &set.exceptions {
        let state = if e.active_at(now) {
            "open"
        } else if now < e.issued_at() {
            "pending"
        } else {
            "expired"
        };
        let left = if e.expires() > now {
            human(e.expires().duration_since(now))
        } else {
            "-".into()
        };
        println!(
            "{:<21} {:<9} {:<8} {:<10} {:<5} {:<40} {:<14} policies={} images={} namespaces={}",
            e.id,
            state,
            human(now.duration_since(e.issued_at())),
            left,
            uses.as_ref()
                .map(|u| u.get(&e.id).copied().unwrap_or(0).to_string())
                .unwrap_or_else(|| "?".into()),
            e.approver,
            e.predicate.ticket,
            e.predicate.policies.join(","),
            e.predicate
                .images
                .iter()
                .chain(&e.predicate.artifacts)
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
            if e.predicate.namespaces.is_empty() {
                "*".into()
            } else {
                e.predicate.namespaces.join(",")
            },
        );
    }
    for r in &set.rejected {
        println!("REFUSED {}: {}", r.file.display(), r.reason.message());
    }
    eprintln!(
        "{} exception(s), {} refused. {}",
        set.exceptions.len(),
        set.rejected.len(),
        if uses.is_some() {
            "USED counts the decisions in --decision-log that used each exception."
        } else {
            "Times used (USED ?): not recorded in the exception files; pass --decision-log FILE (written by `vouch policy check --decision-log`), or see the admission webhook's metrics."
        }
    );
    Ok(())
}
