//! `vouch gitsign`: keyless git signing (vouch-gitsign) from the main binary.
//!
//! * `vouch gitsign verify [--certificate-identity I --certificate-oidc-issuer U] [REV]`:
//!   policy-checked, offline verification of a signed commit or tag (default `HEAD`).
//! * `vouch gitsign <gpgsm arguments>`: the interface git drives as `gpg.x509.program`
//!   (`--status-fd=2 -bsau KEY` to sign, `--status-fd=1 --verify SIGFILE -` to verify), the same
//!   as the standalone `vouch-gitsign` program.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser};
use std::path::PathBuf;
use vouch_gitsign::{Config, IdentityPolicy};

/// `vouch gitsign …` arguments: `verify …`, or gpgsm arguments as git passes them.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct GitsignArgs {
    /// `verify [--certificate-identity I] [--certificate-oidc-issuer U] [REV]`, or the gpgsm
    /// arguments git passes (`--status-fd=2 -bsau KEY`, `--status-fd=1 --verify SIGFILE -`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<String>,
}

/// `vouch gitsign verify`.
#[derive(Parser, Debug)]
#[command(
    name = "vouch gitsign verify",
    about = "Verify a signed commit or tag offline against the trusted root and an identity policy"
)]
pub struct VerifyArgs {
    /// Required certificate identity (SAN), e.g. an email [default: gitsign.matchIdentity].
    #[arg(long)]
    certificate_identity: Option<String>,
    /// Certificate identity regular expression.
    #[arg(long, conflicts_with = "certificate_identity")]
    certificate_identity_regexp: Option<String>,
    /// Required OIDC issuer [default: gitsign.matchIssuer].
    #[arg(long)]
    certificate_oidc_issuer: Option<String>,
    /// OIDC issuer regular expression.
    #[arg(long, conflicts_with = "certificate_oidc_issuer")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// ClientTrustConfig JSON [default: gitsign.trustConfig, $GITSIGN_TRUST_CONFIG,
    /// $VOUCH_TRUST_CONFIG, else public-good Sigstore].
    #[arg(long)]
    trust_config: Option<PathBuf>,
    /// No network access at all: a signature without its log entry (gitsign's online mode,
    /// looked up in Rekor) then fails, naming the Rekor host, instead of reaching it.
    #[arg(long)]
    offline: bool,
    /// C2SP tlog-policy file: the checkpoint of the signature's log entry must carry its
    /// witness quorum.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
    /// The commit or tag to verify.
    #[arg(default_value = "HEAD")]
    rev: String,
}

const USAGE: &str =
    "usage: vouch gitsign verify [--certificate-identity I --certificate-oidc-issuer U] [REV]
       vouch gitsign --status-fd=2 -bsau KEY          (sign; payload on stdin; what git runs)
       vouch gitsign --status-fd=1 --verify SIGFILE - (verify; payload on stdin; what git runs)";

/// Run `vouch gitsign`.
pub fn run(a: GitsignArgs) -> Result<()> {
    match a.args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some("verify") => {
            let v = VerifyArgs::try_parse_from(
                std::iter::once("vouch gitsign verify".to_string())
                    .chain(a.args[1..].iter().cloned()),
            )
            .unwrap_or_else(|e| e.exit());
            verify(&v)
        }
        Some(_) => {
            let code = vouch_gitsign::gpg::run(&a.args);
            if code != 0 {
                std::process::exit(i32::from(code));
            }
            Ok(())
        }
    }
}

fn verify(v: &VerifyArgs) -> Result<()> {
    if v.offline {
        crate::airgap_cmd::go_offline(None);
    }
    let mut cfg = Config::load()?;
    if let Some(p) = &v.trust_config {
        cfg.trust_config = Some(p.clone());
    }
    let policy = IdentityPolicy {
        identity: v.certificate_identity.clone().or_else(|| {
            v.certificate_identity_regexp
                .is_none()
                .then(|| cfg.match_identity.clone())
                .flatten()
        }),
        identity_regexp: v.certificate_identity_regexp.clone(),
        issuer: v.certificate_oidc_issuer.clone().or_else(|| {
            v.certificate_oidc_issuer_regexp
                .is_none()
                .then(|| cfg.match_issuer.clone())
                .flatten()
        }),
        issuer_regexp: v.certificate_oidc_issuer_regexp.clone(),
        witness_policy: v
            .witness_policy
            .as_deref()
            .map(crate::witness_cmd::load_policy)
            .transpose()?,
    };
    if policy.identity.is_none() && policy.identity_regexp.is_none() {
        return Err(crate::tlog::hinted(
            "no identity policy: who must have signed?",
            "pass --certificate-identity (or --certificate-identity-regexp), or set git config gitsign.matchIdentity",
        ));
    }
    if policy.issuer.is_none() && policy.issuer_regexp.is_none() {
        return Err(crate::tlog::hinted(
            "no OIDC issuer policy",
            "pass --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp), or set git config gitsign.matchIssuer",
        ));
    }
    let obj = vouch_gitsign::git::read_object(&v.rev)?;
    let sig = obj
        .signature
        .as_ref()
        .ok_or_else(|| anyhow!("{} {} is not signed", obj.kind, v.rev))?;
    let der = vouch_gitsign::cms::from_pem_or_der(sig)
        .with_context(|| format!("{} {}: signature", obj.kind, v.rev))?;
    let (trust, sc) = cfg.trust()?;
    let lookup = vouch_gitsign::sign::lookup_from_config(&cfg, &sc, &obj.payload, sig);
    let verified = vouch_gitsign::verify::verify_with_lookup(
        &der,
        &obj.payload,
        trust,
        &policy,
        lookup.as_ref(),
    )
    .map_err(|e| anyhow!("{} {}: {e}", obj.kind, v.rev))?;
    if verified.identity.is_empty() {
        bail!("the certificate names no identity");
    }
    eprintln!(
        "Verified {} {}: signed by {} (issuer {})",
        obj.kind, v.rev, verified.identity, verified.issuer
    );
    eprintln!(
        "  signed at {} ({})",
        jiff::Timestamp::from_second(verified.time)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        verified.time_source
    );
    for (log, idx) in &verified.log_entries {
        eprintln!("  transparency log entry {idx} at {log} (inclusion verified)");
    }
    eprintln!("  certificate SHA-1 {}", verified.fingerprint);
    Ok(())
}
