//! `vouch serve ca` (the Fulcio-compatible keyless CA) and `vouch ca issuers check`.
//!
//! Without `--ct-log-url` the CA issues certificates without SCTs: verifiers must pass
//! `--insecure-ignore-sct`. With it (e.g. pointing at `vouch serve ct`), every certificate
//! embeds an SCT from that log (`--sct-mode embedded`, the default), or, with
//! `--sct-mode detached`, the final certificate is submitted to the log's `add-chain` and the
//! SCT is answered beside it (`signedCertificateDetachedSct`).

use crate::serve::{init_tracing, parse_duration, shutdown_signal};
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vouch_ca::{
    CaSigner, DevHierarchyOptions, FulcioConfig, IssuerConfig, IssuerType, IssuingCa, OidcVerifier,
    generate_dev_hierarchy,
};
use vouch_core::bundle::{X509Certificate, X509CertificateChain};
use vouch_core::encoding::Base64Bytes;
use vouch_core::keys::{pem_decode, pem_encode};
use vouch_core::trust::{CertificateAuthorityJson, DistinguishedNameJson, TimeRangeJson};
use vouch_core::x509::Certificate;
use vouch_log::storage::write_file_durably;

/// `vouch ca …` subcommands.
#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// Inspect the CA's OIDC issuer configuration.
    Issuers {
        #[command(subcommand)]
        command: IssuersCommand,
    },
}

/// `vouch ca issuers …` subcommands.
#[derive(Subcommand, Debug)]
pub enum IssuersCommand {
    /// Validate a Fulcio issuer config (JSON or YAML) and show how each issuer's identities map.
    Check {
        /// The config file: Fulcio JSON (OIDCIssuers, MetaIssuers, CIIssuerMetadata) or YAML
        /// (oidc-issuers, meta-issuers, ci-issuer-metadata); `.yaml`/`.yml` is read as YAML,
        /// `.json` as JSON, anything else by its first character.
        config: PathBuf,
    },
}

/// `vouch serve ca`.
#[derive(Args, Debug)]
pub struct ServeCaArgs {
    /// Fulcio issuer config, JSON (OIDCIssuers, MetaIssuers, CIIssuerMetadata) or YAML
    /// (oidc-issuers, meta-issuers, ci-issuer-metadata).
    #[arg(long)]
    config: PathBuf,
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:3002")]
    listen: String,
    /// Data directory: root and intermediate certificates and keys (generated on first start).
    #[arg(long)]
    data: PathBuf,
    /// Lifetime of issued certificates, e.g. 10m.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    cert_lifetime: Duration,
    /// URL to name the CA by in the trusted root entry [default: the listening URL].
    #[arg(long)]
    public_url: Option<String>,
    /// RFC 6962 CT log (e.g. `vouch serve ct`) to get SCTs from; certificates then embed an
    /// SCT and issuance fails (503) when the log does not answer.
    #[arg(long)]
    ct_log_url: Option<String>,
    /// How certificates carry their SCT (needs --ct-log-url for `detached`): `embedded` (a
    /// precertificate goes to the log's add-pre-chain, the SCT is embedded in the certificate)
    /// or `detached` (the final certificate goes to add-chain, the SCT is answered beside it as
    /// `signedCertificateDetachedSct`).
    #[arg(long, value_enum, default_value_t = SctMode::Embedded)]
    sct_mode: SctMode,
    /// Operator-provided CA chain (PEM): the issuing CA certificate, then the root. Instead of
    /// the CA generated in --data; needs --ca-key.
    #[arg(long, requires = "ca_key")]
    ca_cert: Option<PathBuf>,
    /// The issuing CA's key: a PEM file (PKCS#8 `PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`, ECDSA
    /// P-256 or P-384) or a PKCS#11 token key `pkcs11:token=…;object=…?module-path=…&pin-value=…`.
    /// Checked at start: matches --ca-cert, a CA with keyCertSign, chain verifies.
    #[arg(long, requires = "ca_cert")]
    ca_key: Option<PathBuf>,
    /// Append one JSON line per issued certificate (identity, issuer, serial, certificate
    /// SHA-256, time, client address, the certificate) to FILE, fsynced before the certificate
    /// is answered; read it with `vouch monitor --ca-audit FILE`.
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// Name of the environment variable holding the password of an encrypted --ca-key.
    #[arg(long, requires = "ca_key")]
    ca_key_password_env: Option<String>,
    #[command(flatten)]
    server: crate::listen::ServerArgs,
}

/// How issued certificates carry their SCT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SctMode {
    /// Embedded in the certificate (precertificate flow, RFC 6962 §3.1).
    Embedded,
    /// Answered beside the certificate (`signedCertificateDetachedSct`, from `add-chain`).
    Detached,
}

/// Load the operator-provided CA of `--ca-cert` / `--ca-key`.
fn load_operator_ca(
    cert: &Path,
    key: &Path,
    password_env: Option<&str>,
) -> Result<(Vec<u8>, IssuingCa)> {
    let key_text = key.to_string_lossy();
    if key_text.starts_with("pkcs11:") {
        let chain = std::fs::read_to_string(cert)
            .map_err(|e| anyhow!("cannot read --ca-cert {}: {e}", cert.display()))?;
        let signer = vouch_ca::CaSigner::from_pkcs11_uri(&key_text).map_err(|e| {
            hinted(
                format!("--ca-key: {e}"),
                "check the pkcs11: URI (token=, object= or id=, module-path=, pin-value= or $VOUCH_PKCS11_PIN)",
            )
        })?;
        return vouch_ca::pemca::load_ca_with_signer(&chain, signer).map_err(|e| {
            anyhow!(
                "unusable CA (--ca-cert {}, PKCS#11 key): {e}",
                cert.display()
            )
        });
    }
    let chain = std::fs::read_to_string(cert)
        .map_err(|e| anyhow!("cannot read --ca-cert {}: {e}", cert.display()))?;
    let key_pem = std::fs::read_to_string(key)
        .map_err(|e| anyhow!("cannot read --ca-key {}: {e}", key.display()))?;
    let password = match password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            hinted(
                format!("--ca-key-password-env {var}: the variable is not set"),
                "export the CA key password in that variable",
            )
        })?),
        None => None,
    };
    if vouch_ca::pemca::is_encrypted_key(&key_pem) && password.is_none() {
        return Err(hinted(
            format!("--ca-key {} is encrypted", key.display()),
            "name the environment variable holding its password with --ca-key-password-env",
        ));
    }
    vouch_ca::pemca::load_pem_ca(&chain, &key_pem, password.as_deref()).map_err(|e| {
        anyhow!(
            "unusable CA (--ca-cert {}, --ca-key {}): {e}",
            cert.display(),
            key.display()
        )
    })
}

/// Run `vouch ca …`.
pub fn run(cmd: CaCommand) -> Result<()> {
    match cmd {
        CaCommand::Issuers {
            command: IssuersCommand::Check { config },
        } => issuers_check(&config),
    }
}

fn load_config(path: &Path) -> Result<FulcioConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read issuer config {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    FulcioConfig::from_file_contents(&name, &text).map_err(|e| {
        hinted(
            format!("invalid issuer config {}: {e}", path.display()),
            "the config is Fulcio's JSON form, e.g. {\"OIDCIssuers\": {\"https://issuer.example\": {\"IssuerURL\": \"https://issuer.example\", \"ClientID\": \"sigstore\", \"Type\": \"email\"}}}, or its YAML form (oidc-issuers:, issuer-url:, client-id:, type:)",
        )
    })
}

/// How identities of an issuer become certificates (protocols.md §1.5).
fn mapping(c: &IssuerConfig) -> String {
    match c.issuer_type {
        IssuerType::Email => {
            let mut s = format!(
                "SAN email = `email` claim ({})",
                if c.skip_email_verification {
                    "email_verified not required"
                } else {
                    "email_verified must be true"
                }
            );
            if !c.issuer_claim.is_empty() {
                s.push_str(&format!("; Issuer extension from {}", c.issuer_claim));
            }
            s
        }
        IssuerType::GithubWorkflow => {
            "SAN URI https://github.com/<job_workflow_ref>, GitHub workflow extensions".into()
        }
        IssuerType::GitlabPipeline => {
            "SAN URI https://<ci_config_ref_uri>, GitLab pipeline extensions".into()
        }
        IssuerType::BuildkiteJob => {
            "SAN URI https://buildkite.com/<organization_slug>/<pipeline_slug>".into()
        }
        IssuerType::ChainguardIdentity => "SAN URI = iss joined with sub".into(),
        IssuerType::Kubernetes => {
            "SAN URI https://kubernetes.io/namespaces/<namespace>/serviceaccounts/<name>".into()
        }
        IssuerType::Spiffe => format!(
            "SAN URI = sub (SPIFFE ID in trust domain {:?})",
            c.spiffe_trust_domain
        ),
        IssuerType::Uri => format!("SAN URI = sub (must be under {})", c.subject_domain),
        IssuerType::Username => format!("SAN OtherName <sub>!{}", c.subject_domain),
        IssuerType::CodefreshWorkflow => {
            "SAN URI <platform_url>/<account_name>/<pipeline_name>:<account_id>/<pipeline_id>, Codefresh build extensions".into()
        }
        IssuerType::CiProvider => match &c.ci_metadata {
            Some(m) => format!(
                "SAN URI from template {:?} (CIIssuerMetadata {:?}); extensions 1.{}",
                m.subject_alternative_name_template,
                c.ci_provider,
                m.extension_templates
                    .keys()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", 1.")
            ),
            None => format!("SAN URI from CIIssuerMetadata {:?} templates", c.ci_provider),
        },
        _ => "unknown mapping".into(),
    }
}

fn challenge_claim(c: &IssuerConfig) -> &str {
    if !c.challenge_claim.is_empty() {
        &c.challenge_claim
    } else if c.issuer_type == IssuerType::Email {
        "email"
    } else {
        "sub"
    }
}

fn issuers_check(path: &Path) -> Result<()> {
    let cfg = load_config(path)?;
    let total = cfg.oidc_issuers.len() + cfg.meta_issuers.len();
    if total == 0 {
        return Err(hinted(
            format!("{} configures no issuers", path.display()),
            "add entries under OIDCIssuers (exact issuer URLs) or MetaIssuers (URL patterns)",
        ));
    }
    let mut out = format!("{}: {total} issuer(s), valid\n", path.display());
    let entries = cfg
        .oidc_issuers
        .iter()
        .map(|(k, c)| (k, c, false))
        .chain(cfg.meta_issuers.iter().map(|(k, c)| (k, c, true)));
    for (key, c, wildcard) in entries {
        let mut c = c.clone();
        if c.issuer_type == IssuerType::CiProvider {
            c.ci_metadata = cfg.ci_metadata(&c.ci_provider).ok();
        }
        let c = &c;
        out.push_str(&format!(
            "{key}{}\n  type: {}\n  audience: {}\n  challenge claim: {}\n  identity: {}\n",
            if wildcard { " (wildcard)" } else { "" },
            c.issuer_type,
            c.client_id,
            challenge_claim(c),
            mapping(c)
        ));
    }
    print!("{out}");
    Ok(())
}

const ROOT_CERT: &str = "root.crt.pem";
const ROOT_KEY: &str = "root.key.pem";
const INT_CERT: &str = "intermediate.crt.pem";
const INT_KEY: &str = "intermediate.key.pem";

fn write(path: &Path, data: &[u8], private: bool) -> Result<()> {
    write_file_durably(path, data, private)
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

fn read_pem(path: &Path, label: &str) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    pem_decode(&text, &[label]).map_err(|e| anyhow!("{} is corrupt: {e}", path.display()))
}

/// Load the root + intermediate from `data`, or generate them on first start.
/// Returns (root DER, issuing intermediate, generated now).
pub(crate) fn load_or_generate(data: &Path) -> Result<(Vec<u8>, IssuingCa, bool)> {
    let present = [ROOT_CERT, INT_CERT, INT_KEY].map(|f| data.join(f).exists());
    if present.iter().all(|p| *p) {
        let root_der = read_pem(&data.join(ROOT_CERT), "CERTIFICATE")?;
        let int_der = read_pem(&data.join(INT_CERT), "CERTIFICATE")?;
        let key = read_pem(&data.join(INT_KEY), "PRIVATE KEY")?;
        let signer = CaSigner::from_pkcs8(&key)
            .map_err(|e| anyhow!("{} is unusable: {e}", data.join(INT_KEY).display()))?;
        let root = Certificate::from_der(&root_der)
            .map_err(|e| anyhow!("{} is corrupt: {e}", data.join(ROOT_CERT).display()))?;
        let int = Certificate::from_der(&int_der)
            .map_err(|e| anyhow!("{} is corrupt: {e}", data.join(INT_CERT).display()))?;
        int.verify_signed_by(&root).map_err(|e| {
            anyhow!(
                "{} is not issued by {}: {e}",
                data.join(INT_CERT).display(),
                data.join(ROOT_CERT).display()
            )
        })?;
        let ca = IssuingCa::new(signer, &int_der)
            .map_err(|e| anyhow!("cannot use the intermediate in {}: {e}", data.display()))?;
        return Ok((root_der, ca, false));
    }
    if present.iter().any(|p| *p) {
        return Err(hinted(
            format!(
                "{} holds only part of a CA ({ROOT_CERT}, {INT_CERT}, {INT_KEY} are all needed)",
                data.display()
            ),
            "restore the missing files, or use an empty --data directory for a new CA",
        ));
    }
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default())
        .map_err(|e| anyhow!("cannot generate the CA: {e}"))?;
    let int_key = h
        .intermediate
        .signer()
        .to_pkcs8()
        .map_err(|e| anyhow!("cannot export the intermediate key: {e}"))?;
    write(
        &data.join(ROOT_KEY),
        pem_encode("PRIVATE KEY", &h.root_key_pkcs8).as_bytes(),
        true,
    )?;
    write(
        &data.join(INT_KEY),
        pem_encode("PRIVATE KEY", &int_key).as_bytes(),
        true,
    )?;
    write(
        &data.join(INT_CERT),
        pem_encode("CERTIFICATE", h.intermediate.certificate_der()).as_bytes(),
        false,
    )?;
    // Root certificate last: its presence marks a complete CA.
    write(
        &data.join(ROOT_CERT),
        pem_encode("CERTIFICATE", &h.root_der).as_bytes(),
        false,
    )?;
    Ok((h.root_der, h.intermediate, true))
}

/// The trusted root `certificateAuthorities[]` entry for this CA.
pub(crate) fn trusted_root_entry(
    uri: &str,
    root_der: &[u8],
    int_der: &[u8],
) -> Result<CertificateAuthorityJson> {
    let root = Certificate::from_der(root_der).map_err(|e| anyhow!("root certificate: {e}"))?;
    let mut subject = DistinguishedNameJson::default();
    for rdn in root.subject().split(',') {
        if let Some(v) = rdn.trim().strip_prefix("O=") {
            subject.organization = v.to_string();
        } else if let Some(v) = rdn.trim().strip_prefix("CN=") {
            subject.common_name = v.to_string();
        }
    }
    Ok(CertificateAuthorityJson {
        subject,
        uri: uri.to_string(),
        cert_chain: X509CertificateChain {
            certificates: [int_der, root_der]
                .iter()
                .map(|d| X509Certificate {
                    raw_bytes: Base64Bytes(d.to_vec()),
                })
                .collect(),
        },
        valid_for: Some(TimeRangeJson {
            start: Some(root.not_before().to_rfc3339()),
            end: None,
        }),
        operator: String::new(),
    })
}

/// Open the CA's issuance audit log (`--audit-log`).
pub fn open_audit_log(path: &Path) -> Result<vouch_ca::audit::AuditLog> {
    vouch_ca::audit::AuditLog::open(path).map_err(|e| {
        hinted(
            format!(
                "cannot open the audit log {}: {}",
                path.display(),
                vouch_core::error_chain(&e)
            ),
            "check that its directory exists and is writable",
        )
    })
}

/// Run `vouch serve ca` until SIGINT or SIGTERM.
pub fn serve(a: &ServeCaArgs) -> Result<()> {
    let config = load_config(&a.config)?;
    if config.oidc_issuers.is_empty() && config.meta_issuers.is_empty() {
        return Err(hinted(
            format!("{} configures no issuers", a.config.display()),
            "check it with `vouch ca issuers check`",
        ));
    }
    if a.data.exists() && !a.data.is_dir() {
        bail!("--data {} is not a directory", a.data.display());
    }
    if a.sct_mode == SctMode::Detached && a.ct_log_url.is_none() {
        return Err(hinted(
            "--sct-mode detached needs a CT log to get the SCT from".to_string(),
            "add --ct-log-url (e.g. the URL of `vouch serve ct`)",
        ));
    }
    let (root_der, intermediate, generated, operator) = match (&a.ca_cert, &a.ca_key) {
        (Some(cert), Some(key)) => {
            let (root, ca) = load_operator_ca(cert, key, a.ca_key_password_env.as_deref())?;
            std::fs::create_dir_all(&a.data)
                .with_context(|| format!("cannot create data directory {}", a.data.display()))?;
            (root, ca, false, true)
        }
        _ => {
            let (root, ca, generated) = load_or_generate(&a.data)?;
            (root, ca, generated, false)
        }
    };
    let int_der = intermediate.certificate_der().to_vec();

    init_tracing();
    let rt = vouch_server::runtime("vouch-ca")?;
    rt.block_on(async move {
        let server = a
            .server
            .bind("ca", &a.listen, vouch_ca::api::MAX_REQUEST_BYTES)
            .await?;
        let url = server.url();
        let public_url = match &a.public_url {
            Some(u) => crate::tlog::base_url(u)?,
            None => url.clone(),
        };
        let entry = trusted_root_entry(&public_url, &root_der, &int_der)?;
        let tr_path = a.data.join("trusted_root.ca.json");
        write(&tr_path, &serde_json::to_vec_pretty(&entry)?, false)?;

        let http = reqwest::Client::builder()
            .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the HTTP client")?;
        let issuers = config.oidc_issuers.len() + config.meta_issuers.len();
        let verifier = OidcVerifier::new(config, http);
        let mut svc =
            vouch_ca::api::CaService::new(verifier, intermediate, &root_der, a.cert_lifetime);
        if let Some(ct) = &a.ct_log_url {
            let ct = crate::tlog::base_url(ct)?;
            let ct_http = reqwest::Client::builder()
            .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .context("cannot build the HTTP client")?;
            svc = svc
                .with_ct_log(ct_http, &ct)
                .with_detached_sct(a.sct_mode == SctMode::Detached);
        }

        if let Some(p) = &a.audit_log {
            svc = svc.with_audit_log(open_audit_log(p)?);
        }

        let mut out = String::new();
        out.push_str(&format!("vouch ca listening on {url}\n"));
        if operator {
            out.push_str(&format!(
                "CA loaded from {} and {}\n",
                a.ca_cert.as_deref().unwrap_or(Path::new("")).display(),
                a.ca_key.as_deref().unwrap_or(Path::new("")).display()
            ));
        } else {
            out.push_str(&format!(
                "CA {} in {}\n",
                if generated { "generated" } else { "loaded" },
                a.data.display()
            ));
        }
        out.push_str(&format!("issuers: {issuers} (from {})\n", a.config.display()));
        if let Some(p) = &a.audit_log {
            out.push_str(&format!("issuance audit log: {}\n", p.display()));
        }
        if svc.has_rate_limits() {
            out.push_str("rate limits: on (RateLimits in the config)\n");
        }
        out.push_str(&format!(
            "certificate lifetime: {}s\n",
            a.cert_lifetime.as_secs()
        ));
        out.push_str(&format!(
            "trusted root CA entry: {} (uri {public_url})\n",
            tr_path.display()
        ));
        match &a.ct_log_url {
            Some(ct) if a.sct_mode == SctMode::Detached => out.push_str(&format!(
                "CT log: {ct} (detached SCTs: signedCertificateDetachedSct from add-chain)\n"
            )),
            Some(ct) => out.push_str(&format!("CT log: {ct} (certificates embed an SCT)\n")),
            None => out.push_str(
                "note: no CT log: certificates carry no SCT; verify with --insecure-ignore-sct\n",
            ),
        }
        print!("{out}");
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        if let Some(ct) = &a.ct_log_url {
            tracing::info!(%url, issuers, ct_log = %ct, sct_mode = ?a.sct_mode, "CA server started (certificates get SCTs)");
        } else {
            tracing::info!(%url, issuers, "CA server started (certificates are issued without SCTs: no CT log)");
        }

        let app = vouch_ca::api::router(Arc::new(svc));
        server.serve(app, shutdown_signal()).await;
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_then_reload() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let data = dir.path().join("ca");
        let (root1, int1, gen1) = load_or_generate(&data).unwrap_or_else(|e| panic!("{e}"));
        assert!(gen1);
        let (root2, int2, gen2) = load_or_generate(&data).unwrap_or_else(|e| panic!("{e}"));
        assert!(!gen2);
        assert_eq!(root1, root2);
        assert_eq!(int1.certificate_der(), int2.certificate_der());
        let entry = trusted_root_entry("http://ca.test", &root1, int1.certificate_der())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entry.cert_chain.certificates.len(), 2);
        assert_eq!(entry.subject.organization, "vouch-dev");
        assert!(entry.valid_for.and_then(|v| v.start).is_some());
        std::fs::remove_file(data.join(INT_KEY)).unwrap_or_else(|e| panic!("{e}"));
        assert!(load_or_generate(&data).is_err());
    }
}
