//! `vouch sign-blob` and `vouch attest-blob`: keyless (OIDC token → certificate) or key-based
//! signing into a Sigstore bundle v0.3, with cosign's flag names.
//!
//! Services come from a `SigningConfig`: `--trust-config` (a ClientTrustConfig, e.g. the one
//! `vouch up` writes), `--signing-config` + `--trusted-root`, `$VOUCH_TRUST_CONFIG`, or the
//! embedded public-good configuration.

use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{ArgAction, Args};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use vouch_core::keys::HashKind;
use vouch_core::trust::{ClientTrustConfig, SigningConfig, TrustRoot};
use vouch_sign::{
    Content, Credential, HttpClient, IdentityToken, SignOptions, Signer, select_services,
};

/// Where trust material and the signing config come from.
#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    /// ClientTrustConfig JSON (trusted root + signing config), e.g. ./vouch-data/trust_config.json.
    /// --trusted-root and --signing-config, when given, replace its parts.
    #[arg(long, env = "VOUCH_TRUST_CONFIG")]
    pub trust_config: Option<PathBuf>,
    /// Trusted root JSON (with --signing-config).
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// SigningConfig v0.2 JSON: which CA, log and TSA to use.
    #[arg(long)]
    pub signing_config: Option<PathBuf>,
}

impl TrustArgs {
    /// Load the trusted root and signing config.
    pub fn load(&self) -> Result<(TrustRoot, SigningConfig)> {
        let from_config = match &self.trust_config {
            Some(p) => Some(load_client_trust_config(p)?),
            None => None,
        };
        let (tc_root, tc_sc) = match from_config {
            Some((tr, sc)) => (Some(tr), Some(sc)),
            None => (None, None),
        };
        let tr = match (&self.trusted_root, tc_root) {
            (Some(p), _) => crate::cli::load_trust(Some(p), false)?,
            (None, Some(tr)) => tr,
            (None, None) => TrustRoot::public_good()?,
        };
        let sc = match (&self.signing_config, tc_sc) {
            (None, Some(sc)) => sc,
            (Some(p), _) => {
                let bytes = std::fs::read(p)
                    .with_context(|| format!("cannot read signing config {}", p.display()))?;
                SigningConfig::from_json(&bytes)
                    .with_context(|| format!("signing config {}", p.display()))?
            }
            (None, None) => {
                SigningConfig::from_json(vouch_core::trust::PUBLIC_GOOD_SIGNING_CONFIG.as_bytes())?
            }
        };
        Ok((tr, sc))
    }
}

/// Read a ClientTrustConfig file.
pub fn load_client_trust_config(p: &Path) -> Result<(TrustRoot, SigningConfig)> {
    let bytes =
        std::fs::read(p).with_context(|| format!("cannot read trust config {}", p.display()))?;
    ClientTrustConfig::parse(&bytes).with_context(|| format!("trust config {}", p.display()))
}

/// Flags shared by sign-blob and attest-blob.
#[derive(Args, Debug)]
pub struct CommonSign {
    /// Write the Sigstore bundle here.
    #[arg(long)]
    bundle: PathBuf,
    #[command(flatten)]
    token: TokenArgs,
    /// Sign with this key instead of keyless: cosign.key (encrypted with $COSIGN_PASSWORD) or a
    /// PKCS#11 token key `pkcs11:token=…;object=…?module-path=…&pin-value=…`.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Rekor major API version to use (1 or 2) when the signing config offers both.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    rekor_version: Option<u32>,
    /// Upload to the transparency log (`--tlog-upload=false` for private artifacts; verifiers
    /// then need --insecure-ignore-tlog).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    tlog_upload: bool,
    /// Skip confirmation prompts.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Extra PEM CA certificates for TLS to the services.
    #[arg(long)]
    ca_certificates: Option<PathBuf>,
    /// Push the outcome (vouch_cli_signings_total) to this Prometheus Pushgateway base URL,
    /// grouped by a run id unique to this run ($VOUCH_RUN_ID, else random).
    #[arg(long, value_name = "URL")]
    metrics_push: Option<String>,
    #[command(flatten)]
    trust: TrustArgs,
}

/// `vouch sign-blob`.
#[derive(Args, Debug)]
pub struct SignBlobArgs {
    /// The file to sign.
    artifact: PathBuf,
    #[command(flatten)]
    common: CommonSign,
}

/// `vouch attest-blob`.
#[derive(Args, Debug)]
pub struct AttestBlobArgs {
    /// The file the attestation is about (its subject); not with --statement.
    #[arg(required_unless_present = "statement")]
    artifact: Option<PathBuf>,
    /// The predicate JSON file.
    #[arg(
        long,
        required_unless_present = "statement",
        conflicts_with = "statement"
    )]
    predicate: Option<PathBuf>,
    /// Sign this complete in-toto statement (JSON) as it is, instead of building one from
    /// the artifact and --predicate.
    #[arg(long, conflicts_with = "artifact")]
    statement: Option<PathBuf>,
    /// Predicate type: cosign shorthand (slsaprovenance1, spdxjson, cyclonedx, vuln, link,
    /// custom, …) or a URI.
    #[arg(long = "type", default_value = "custom")]
    predicate_type: String,
    #[command(flatten)]
    common: CommonSign,
}

/// Hash a file with `hash`, streaming.
pub fn hash_file(path: &Path, hash: HashKind) -> Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("cannot read artifact {}", path.display()))?;
    let mut ctx = aws_lc_rs::digest::Context::new(hash.algorithm());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read artifact {}", path.display()))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx.finish().as_ref().to_vec())
}

/// Run `vouch sign-blob`.
pub fn sign_blob(a: &SignBlobArgs) -> Result<()> {
    run(&a.common, |cred_hash| {
        let digest = hash_file(&a.artifact, cred_hash)?;
        Ok(Content::Digest {
            algorithm: cred_hash,
            digest,
        })
    })
}

/// Run `vouch attest-blob`.
pub fn attest_blob(a: &AttestBlobArgs) -> Result<()> {
    let (payload, subject) = match (&a.statement, &a.artifact, &a.predicate) {
        (Some(st), _, _) => statement_from_file(st)?,
        (None, Some(artifact), Some(predicate)) => {
            build_statement(artifact, predicate, &a.predicate_type)?
        }
        _ => bail!("pass an artifact and --predicate, or --statement"),
    };
    run(&a.common, move |_| {
        Ok(Content::Dsse {
            payload_type: "application/vnd.in-toto+json".into(),
            payload: payload.clone(),
            subject: subject.clone(),
        })
    })
}

/// An in-toto statement's bytes and the subject digest its bundle is verified against.
type StatementAndSubject = (Vec<u8>, (HashKind, Vec<u8>));

/// A statement file signed as is; its first sha256 subject is what the new bundle is
/// verified against.
fn statement_from_file(path: &Path) -> Result<StatementAndSubject> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read statement {}", path.display()))?;
    let st = vouch_core::intoto::Statement::from_json(&bytes)
        .with_context(|| format!("statement {}", path.display()))?;
    let digest = st
        .subject
        .iter()
        .find_map(|s| s.digest.get("sha256"))
        .and_then(|h| hex::decode(h).ok())
        .filter(|d| d.len() == 32)
        .ok_or_else(|| {
            hinted(
                format!("statement {} has no sha256 subject", path.display()),
                "Sigstore verifiers match the artifact by a sha256 subject digest",
            )
        })?;
    Ok((bytes, (HashKind::Sha256, digest)))
}

fn build_statement(
    artifact: &Path,
    predicate_path: &Path,
    predicate_type: &str,
) -> Result<StatementAndSubject> {
    let predicate_bytes = std::fs::read(predicate_path)
        .with_context(|| format!("cannot read predicate {}", predicate_path.display()))?;
    let predicate: serde_json::Value = serde_json::from_slice(&predicate_bytes)
        .with_context(|| format!("predicate {} is not JSON", predicate_path.display()))?;
    let ptype = vouch_core::intoto::predicate_type_for(predicate_type).to_string();
    if !ptype.contains(':') {
        return Err(hinted(
            format!("unknown predicate type {predicate_type:?}"),
            "use a cosign shorthand (slsaprovenance1, spdxjson, cyclonedx, vuln, link, custom) or a URI",
        ));
    }
    let sha256 = hash_file(artifact, HashKind::Sha256)?;
    let name = artifact
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let statement = statement_bytes(name, &sha256, ptype, predicate)?;
    Ok((statement, (HashKind::Sha256, sha256)))
}

/// The in-toto v1 statement `vouch attest` signs for one file: sorted members, the bytes it
/// has always signed.
fn statement_bytes(
    name: String,
    sha256: &[u8],
    predicate_type: String,
    predicate: serde_json::Value,
) -> Result<Vec<u8>> {
    use vouch_core::intoto::{STATEMENT_V1, Statement, Subject};
    let statement = Statement {
        type_: STATEMENT_V1.to_string(),
        subject: vec![Subject {
            name,
            digest: [("sha256".to_string(), hex::encode(sha256))].into(),
            annotations: Default::default(),
        }],
        predicate_type,
        predicate: Some(predicate),
    };
    Ok(vouch_core::encoding::to_sorted_json(&statement)?)
}

/// What every signing command sets up before it signs: the trusted root, the services chosen
/// from the signing config, an HTTP client (with `--ca-certificates`), and a runtime.
pub struct SigningSetup {
    /// The trusted root new bundles are verified against before they are written.
    pub trust: TrustRoot,
    /// The CA, logs, TSAs and OIDC provider chosen from the signing config.
    pub services: vouch_sign::SelectedServices,
    /// The HTTP client for all of them.
    pub http: HttpClient,
    /// A single-threaded runtime for the signing flow.
    pub rt: tokio::runtime::Runtime,
}

impl SigningSetup {
    /// Load trust and choose services as sigstore-go does, at `now`.
    pub fn new(
        trust: &TrustArgs,
        rekor_version: Option<u32>,
        ca_certificates: Option<&Path>,
        now: jiff::Timestamp,
    ) -> Result<Self> {
        let (trust, sc) = trust.load()?;
        let services = select_services(&sc, rekor_version, now)?;
        let mut cas = Vec::new();
        if let Some(p) = ca_certificates {
            cas.push(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?);
        }
        let http = HttpClient::with_ca_certificates(&cas)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Self {
            trust,
            services,
            http,
            rt,
        })
    }
}

/// The signing credential: `--key` (a file or a `pkcs11:` URI), else an identity token (from
/// the flags, the environment, or a login at the signing config's OIDC provider).
pub async fn credential(
    http: &HttpClient,
    services: &vouch_sign::SelectedServices,
    key: Option<&Path>,
    token: &TokenArgs,
) -> Result<Credential> {
    Ok(match key {
        Some(k) => Credential::Key(load_signing_key(k)?),
        None => Credential::Token(identity_token(token, http, services.oidc.as_deref()).await?),
    })
}

fn run(c: &CommonSign, content: impl Fn(HashKind) -> Result<Content>) -> Result<()> {
    run_with_hint(c, vouch_sign::KeyHint::default(), content)
}

impl CommonSign {
    /// Where the bundle is written.
    pub fn bundle(&self) -> &Path {
        &self.bundle
    }
}

/// Sign `content` with the credential and services `c` names and write the bundle, naming a
/// signing key in the bundle the `key_hint` way; pushes the outcome with `--metrics-push`.
pub fn run_with_hint(
    c: &CommonSign,
    key_hint: vouch_sign::KeyHint,
    content: impl Fn(HashKind) -> Result<Content>,
) -> Result<()> {
    let res = sign(c, key_hint, content);
    if let Some(url) = &c.metrics_push {
        crate::metrics_push::push(
            url,
            crate::metrics_push::Outcome::Signing,
            "sign-blob",
            res.is_ok(),
        );
    }
    res
}

fn sign(
    c: &CommonSign,
    key_hint: vouch_sign::KeyHint,
    content: impl Fn(HashKind) -> Result<Content>,
) -> Result<()> {
    if c.bundle.exists() && !c.yes && std::io::stdin().is_terminal() {
        confirm(&format!("{} exists; overwrite it?", c.bundle.display()))?;
    }
    let setup = SigningSetup::new(
        &c.trust,
        c.rekor_version,
        c.ca_certificates.as_deref(),
        jiff::Timestamp::now(),
    )?;
    let SigningSetup {
        trust,
        services,
        http,
        rt,
    } = setup;
    rt.block_on(async {
        let credential = credential(&http, &services, c.key.as_deref(), &c.token).await?;
        if c.tlog_upload
            && !c.yes
            && std::io::stdin().is_terminal()
            && let Credential::Token(t) = &credential
        {
            {
                eprintln!(
                    "The signature, the certificate and your identity ({}) will be recorded in the transparency log{}, which is append-only.",
                    t.subject().unwrap_or_default(),
                    services
                        .tlogs
                        .first()
                        .map(|(u, _)| format!(" at {u}"))
                        .unwrap_or_default()
                );
                confirm("Continue?")?;
            }
        }
        let content = content(credential.hash())?;
        let opts = SignOptions {
            tlog_upload: c.tlog_upload,
            key_hint,
            ..SignOptions::default()
        };
        let signer = Signer::new(http.clone(), services.clone(), Some(trust));
        let out = signer.sign(&content, credential, &opts).await?;
        let json = vouch_sign::sign::bundle_to_pretty_json(&out.bundle)?;
        vouch_fs::write_durably(&c.bundle, json.as_bytes(), vouch_fs::Access::Public)
            .map_err(|e| anyhow!("cannot write {}: {e}", c.bundle.display()))?;
        if let Some((san, iss)) = &out.identity {
            eprintln!("Signed as {san} (issuer {iss})");
        } else {
            let shown = c
                .key
                .as_deref()
                .map(|p| redact_key_ref(&p.display().to_string()))
                .unwrap_or_default();
            eprintln!("Signed with key {shown}");
        }
        for (url, idx) in &out.log_entries {
            eprintln!("Transparency log entry: index {idx} at {url}");
        }
        if !c.tlog_upload {
            eprintln!("warning: not uploaded to a transparency log (--tlog-upload=false): verifiers need --insecure-ignore-tlog");
        }
        for url in &out.timestamps {
            eprintln!("Timestamp: {url}");
        }
        if out.detached_sct {
            eprintln!("warning: the CA returned a detached SCT; verifiers need --insecure-ignore-sct");
        }
        eprintln!("Bundle written to {}", c.bundle.display());
        Ok::<_, anyhow::Error>(())
    })
}

/// Where a keyless signature's identity token comes from (cosign's flags).
#[derive(Args, Debug, Clone)]
pub struct TokenArgs {
    /// OIDC identity token (or a path to a file holding it) for keyless signing.
    #[arg(long, env = "VOUCH_IDENTITY_TOKEN", hide_env_values = true)]
    pub identity_token: Option<String>,
    /// OIDC issuer for interactive login [default: the signing config's].
    #[arg(long)]
    pub oidc_issuer: Option<String>,
    /// OAuth client ID for interactive login.
    #[arg(long, default_value = "sigstore")]
    pub oidc_client_id: String,
    /// Log in with the device flow (a code to enter elsewhere) instead of a local browser.
    #[arg(long)]
    pub oidc_device_flow: bool,
}

/// The identity token: `--identity-token` (a token or a file), else an ambient CI token, else
/// an interactive login at `--oidc-issuer` or the signing config's OIDC provider.
pub async fn identity_token(
    t: &TokenArgs,
    http: &HttpClient,
    oidc_issuer: Option<&str>,
) -> Result<IdentityToken> {
    if let Some(tok) = &t.identity_token {
        let p = Path::new(tok);
        let raw = if p.is_file() {
            std::fs::read_to_string(p).with_context(|| format!("cannot read token file {tok}"))?
        } else {
            tok.clone()
        };
        return Ok(IdentityToken::parse(&raw)?);
    }
    if let Some((tok, src)) = vouch_sign::token::ambient(http, "sigstore").await? {
        eprintln!("Using the ambient identity token from {}", src.name());
        return Ok(tok);
    }
    let opts = crate::login::LoginOptions {
        issuer: t.oidc_issuer.clone(),
        client_id: t.oidc_client_id.clone(),
        device_flow: t.oidc_device_flow,
    };
    crate::login::interactive_token(http, oidc_issuer, &opts).await
}

fn confirm(question: &str) -> Result<()> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(hinted(
            "cancelled",
            "pass -y/--yes to skip confirmation prompts",
        ))
    }
}

/// Load a signing key file (cosign's encrypted format, password from `$COSIGN_PASSWORD` or a
/// prompt; or unencrypted PKCS#8 / SEC1 PEM) as an ECDSA signer.
pub fn load_signing_key(path: &Path) -> Result<vouch_sign::EcdsaSigner> {
    let shown = path.display().to_string();
    if shown.starts_with("pkcs11:") {
        return vouch_sign::EcdsaSigner::from_pkcs11_uri(&shown).map_err(|e| {
            hinted(
                e.to_string(),
                "check the pkcs11: URI (token=, object= or id=, module-path=, pin-value= or $VOUCH_PKCS11_PIN)",
            )
        });
    }
    let key = crate::keys_cmd::load_key_file(&shown, || crate::keys_cmd::read_password(false))?;
    let der = key.to_pkcs8().with_context(|| format!("key {shown}"))?;
    vouch_sign::EcdsaSigner::from_pkcs8(&der).map_err(|e| {
        hinted(
            format!("key {shown} ({}): {e}", key.key_details()),
            "sign with an ECDSA P-256 or P-384 key (`vouch generate-key-pair`'s default is P-256)",
        )
    })
}

/// A key reference fit for logs: a `pkcs11:` URI loses its query (`pin-value`, module path).
fn redact_key_ref(k: &str) -> String {
    match k.split_once('?') {
        Some((path, _)) if k.starts_with("pkcs11:") => format!("{path}?…"),
        _ => k.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed statement is byte for byte what the `json!` literal it replaced signed.
    #[test]
    fn statement_bytes_unchanged() {
        let predicate = serde_json::json!({"z": 1, "a": [true, null]});
        let got = statement_bytes(
            "a.txt".into(),
            &[0xab; 32],
            "https://slsa.dev/provenance/v1".into(),
            predicate,
        )
        .unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&got),
            r#"{"_type":"https://in-toto.io/Statement/v1","predicate":{"a":[true,null],"z":1},"predicateType":"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":"abababababababababababababababababababababababababababababababab"},"name":"a.txt"}]}"#
        );
    }
}
