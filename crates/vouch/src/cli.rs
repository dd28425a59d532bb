//! Command-line definitions and dispatch.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use vouch_core::bundle::Bundle;
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::trust::TrustRoot;
use vouch_verify::{Artifact, PolicyBuilder, VerificationResult, Verifier, VerifyError};

/// vouch: sign and verify software with Sigstore.
#[derive(Parser, Debug)]
#[command(name = "vouch", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format of the servers (`vouch up`, `vouch serve …`, monitor, admission): `text`
    /// for people, `json` for log pipelines (one JSON object per line). `RUST_LOG` sets levels.
    #[arg(long, global = true, value_enum, default_value_t = crate::telemetry::LogFormat::Text, env = "VOUCH_LOG_FORMAT")]
    log_format: crate::telemetry::LogFormat,
    /// Log one line per HTTP request the servers answer (method, path, status, latency, peer and
    /// the W3C trace ID that clients send in `traceparent`); off by default, since a busy log
    /// answers thousands of requests a second.
    #[arg(long, global = true, env = "VOUCH_LOG_REQUESTS")]
    log_requests: bool,
}

impl Cli {
    /// The `--log-format` flag.
    pub fn log_format(&self) -> crate::telemetry::LogFormat {
        self.log_format
    }

    /// The `--log-requests` flag.
    pub fn log_requests(&self) -> bool {
        self.log_requests
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Keyless git commit/tag signing (gpg.x509.program) and offline verification.
    Gitsign(crate::gitsign_cmd::GitsignArgs),
    /// Run a whole private Sigstore instance on this machine (log, CA, OIDC, TSA, CT, TUF).
    Up(crate::up::UpArgs),
    /// Sign a file into a Sigstore bundle (keyless with an OIDC identity, or --key).
    SignBlob(crate::sign_cmd::SignBlobArgs),
    /// Sign an in-toto attestation about a file (DSSE) into a Sigstore bundle.
    AttestBlob(crate::sign_cmd::AttestBlobArgs),
    /// Sign an ML model directory in the OpenSSF Model Signing v1.0 format (model-signing's model.sig).
    SignModel(crate::model_cmd::SignModelArgs),
    /// Verify an ML model directory against its OpenSSF Model Signing signature, file by file.
    VerifyModel(crate::model_cmd::VerifyModelArgs),
    /// Sign a container image in a registry (keyless or --key); stores an OCI referrer bundle, or cosign's .sig tag with --legacy.
    Sign(crate::oci_cmd::SignImageArgs),
    /// Attach a signed in-toto attestation to a container image.
    Attest(crate::oci_cmd::AttestImageArgs),
    /// Verify the signatures of a container image (both layouts).
    Verify(crate::oci_cmd::VerifyImageArgs),
    /// Verify the in-toto attestations of a container image (both layouts).
    VerifyAttestation(crate::oci_cmd::VerifyAttestationImageArgs),
    /// List the signatures and attestations attached to a container image.
    Tree(crate::oci_cmd::TreeArgs),
    /// Download a container image's signatures or attestations.
    Download(crate::oci_cmd::DownloadArgs),
    /// Print where a container image's signatures or attestations are stored.
    Triangulate(crate::oci_cmd::TriangulateArgs),
    /// Copy an image with its signatures, attestations, SBOMs and referrers to another registry.
    Copy(crate::airgap_cmd::CopyArgs),
    /// Save an image with everything attached to it as an OCI image layout directory.
    Save(crate::airgap_cmd::SaveArgs),
    /// Push an image saved with `vouch save` (and its attachments) into a registry.
    Load(crate::airgap_cmd::LoadArgs),
    /// Remove an image's signatures, attestations, SBOMs or referrers.
    Clean(crate::airgap_cmd::CleanArgs),
    /// Attach an SBOM, a signature or an attestation made elsewhere to an image.
    Attach(crate::airgap_cmd::AttachArgs),
    /// Import a PEM private key as a cosign key pair (import-cosign.key encrypted with $COSIGN_PASSWORD, import-cosign.pub).
    ImportKeyPair(crate::keys_cmd::ImportKeyPairArgs),
    /// Generate a cosign-compatible key pair (cosign.key encrypted with $COSIGN_PASSWORD, cosign.pub).
    GenerateKeyPair(crate::keys_cmd::GenerateKeyPairArgs),
    /// Print the public key of a private key file.
    PublicKey(crate::keys_cmd::PublicKeyArgs),
    /// PKCS#11 token keys: generate one, print its public key.
    Pkcs11 {
        #[command(subcommand)]
        command: crate::pkcs11_cmd::Pkcs11Command,
    },
    /// Trust material through TUF: init from a mirror, export/import for air-gapped hosts.
    Trust {
        #[command(subcommand)]
        command: crate::trust::TrustCommand,
    },
    /// Verify a signature bundle over a blob (or over `sha256:<hex>`).
    VerifyBlob(VerifyBlobArgs),
    /// Verify an in-toto attestation bundle whose subject is the blob.
    VerifyBlobAttestation(VerifyAttestationArgs),
    /// Inspect Sigstore bundles.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Run a service (the transparency log, the keyless CA, a CT log, a dev OIDC IdP).
    Serve {
        #[command(subcommand)]
        command: crate::serve::ServeCommand,
    },
    /// Read a transparency log and check its proofs: info, get, verify, search.
    Log {
        #[command(subcommand)]
        command: crate::tlog::LogCommand,
    },
    /// Keyless CA tools: check an issuer config.
    Ca {
        #[command(subcommand)]
        command: crate::ca::CaCommand,
    },
    /// Development OIDC IdP client: get an ID token from `vouch serve oidc`.
    Oidc {
        #[command(subcommand)]
        command: crate::oidc::OidcCommand,
    },
    /// Kubernetes admission webhook: serve it, print its manifests, prefetch images.
    Admission {
        #[command(subcommand)]
        command: crate::admission_cmd::AdmissionCommand,
    },
    /// Witness tools: print a witness's vkeys.
    Witness {
        #[command(subcommand)]
        command: crate::witness_cmd::WitnessCommand,
    },
    /// Policy enforcement: check an image or file against ClusterImagePolicy / ArtifactPolicy.
    Policy {
        #[command(subcommand)]
        command: crate::policy_cmd::PolicyCommand,
    },
    /// Signed, expiring policy exceptions: grant, list.
    Exception {
        #[command(subcommand)]
        command: crate::exception_cmd::ExceptionCommand,
    },
    /// Verification coverage as a KPI: audit artifacts against policies (table, JSON, HTML, PolicyReport).
    Audit {
        #[command(subcommand)]
        command: crate::audit_cmd::AuditCommand,
    },
    /// The signing inventory of a log over a time window: short-lived certificates grouped by
    /// identity, issuer or repository (JSON or CSV for a SIEM).
    Inventory(crate::inventory_cmd::InventoryArgs),
    /// Grafana dashboards and Prometheus SLO rules, generated from one definition.
    Observability {
        #[command(subcommand)]
        command: crate::observability::ObservabilityCommand,
    },
    /// Follow a transparency log: prove consistency, check witness quorums, alert on watched
    /// identities (rekor-monitor config) and signings not in an authorized set.
    Monitor(crate::monitor_cmd::MonitorArgs),
    /// Load generators for local services.
    Bench {
        #[command(subcommand)]
        command: crate::bench::BenchCommand,
    },
}

#[derive(Subcommand, Debug)]
enum BundleCommand {
    /// Show who signed, which issuer, when, which log and index, and what verifies offline.
    Inspect {
        /// The bundle file.
        bundle: PathBuf,
        #[command(flatten)]
        root: RootArgs,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
}

/// Output formats.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    /// Human-readable text.
    Text,
    /// JSON on stdout, for machines.
    Json,
}

/// Trust and signer-policy flags shared by every verifying command (cosign's names).
#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// Expected certificate identity (SAN), exact.
    #[arg(long)]
    certificate_identity: Option<String>,
    /// Expected certificate identity (SAN), as a regular expression.
    #[arg(long)]
    certificate_identity_regexp: Option<String>,
    /// Expected OIDC issuer, exact.
    #[arg(long)]
    certificate_oidc_issuer: Option<String>,
    /// Expected OIDC issuer, as a regular expression.
    #[arg(long)]
    certificate_oidc_issuer_regexp: Option<String>,
    /// Verify with this PEM public key instead of a certificate identity.
    #[arg(long)]
    key: Option<PathBuf>,
    #[command(flatten)]
    root: RootArgs,
    /// Require an RFC 3161 timestamp.
    #[arg(long)]
    use_signed_timestamps: bool,
    /// Do not require a transparency log entry (dangerous).
    #[arg(long)]
    insecure_ignore_tlog: bool,
    /// Do not require an embedded SCT (dangerous).
    #[arg(long)]
    insecure_ignore_sct: bool,
    /// C2SP tlog-policy file: each log entry's checkpoint must carry its witness quorum.
    #[arg(long, value_name = "FILE")]
    witness_policy: Option<PathBuf>,
}

/// Which trusted root a verifying command uses (the same flags and environment everywhere).
#[derive(Args, Debug)]
pub struct RootArgs {
    /// Trusted root JSON (default: the embedded public-good root).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// ClientTrustConfig JSON whose trusted root to use (e.g. ./vouch-data/trust_config.json);
    /// --trusted-root and --staging take precedence.
    #[arg(long, env = "VOUCH_TRUST_CONFIG")]
    trust_config: Option<PathBuf>,
    /// Use the embedded public staging root.
    #[arg(long)]
    staging: bool,
}

impl RootArgs {
    /// The trusted root: --trusted-root, --staging, --trust-config / $VOUCH_TRUST_CONFIG, else
    /// the embedded public-good root.
    pub fn trust(&self) -> Result<TrustRoot> {
        match (&self.trust_config, &self.trusted_root, self.staging) {
            (Some(tc), None, false) => Ok(crate::sign_cmd::load_client_trust_config(tc)?.0),
            _ => load_trust(self.trusted_root.as_deref(), self.staging),
        }
    }
}

impl PolicyArgs {
    /// The trusted root these flags name (see [`RootArgs::trust`]).
    pub fn trust(&self) -> Result<TrustRoot> {
        self.root.trust()
    }

    /// The policy these flags describe (not yet built: callers add their own requirements).
    pub fn policy_builder(&self) -> Result<PolicyBuilder> {
        let mut pb = PolicyBuilder::new()
            .insecure_ignore_tlog(self.insecure_ignore_tlog)
            .insecure_ignore_sct(self.insecure_ignore_sct)
            .use_signed_timestamps(self.use_signed_timestamps);
        if self.insecure_ignore_tlog || self.insecure_ignore_sct {
            eprintln!("warning: insecure option in use: verification is weakened");
        }
        if let Some(k) = &self.key {
            let pem = std::fs::read_to_string(k)
                .with_context(|| format!("cannot read key {}", k.display()))?;
            let key = PublicKey::from_pem(&pem).with_context(|| format!("key {}", k.display()))?;
            pb = pb.key(key);
        }
        if let Some(p) = &self.witness_policy {
            pb = pb.witness_policy(crate::witness_cmd::load_policy(p)?);
        }
        if let Some(v) = &self.certificate_identity {
            pb = pb.certificate_identity(v);
        }
        if let Some(v) = &self.certificate_identity_regexp {
            pb = pb.certificate_identity_regexp(v);
        }
        if let Some(v) = &self.certificate_oidc_issuer {
            pb = pb.certificate_oidc_issuer(v);
        }
        if let Some(v) = &self.certificate_oidc_issuer_regexp {
            pb = pb.certificate_oidc_issuer_regexp(v);
        }
        Ok(pb)
    }
}

#[derive(Args, Debug)]
struct CommonVerify {
    /// The Sigstore bundle (.sigstore.json). Defaults to <artifact>.sigstore.json.
    #[arg(long)]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Expected GitHub workflow trigger (extension 1.3.6.1.4.1.57264.1.2).
    #[arg(long)]
    certificate_github_workflow_trigger: Option<String>,
    /// Expected GitHub workflow SHA (1.3.6.1.4.1.57264.1.3).
    #[arg(long)]
    certificate_github_workflow_sha: Option<String>,
    /// Expected GitHub workflow name (1.3.6.1.4.1.57264.1.4).
    #[arg(long)]
    certificate_github_workflow_name: Option<String>,
    /// Expected GitHub workflow repository (1.3.6.1.4.1.57264.1.5).
    #[arg(long)]
    certificate_github_workflow_repository: Option<String>,
    /// Expected GitHub workflow ref (1.3.6.1.4.1.57264.1.6).
    #[arg(long)]
    certificate_github_workflow_ref: Option<String>,
    /// Guarantee no network access at all (verifying a bundle never needs any): any attempt
    /// fails naming the host and the component.
    #[arg(long)]
    offline: bool,
    /// A proof cache (`vouch serve proxy`) to fill a missing or older inclusion proof from
    /// before verifying (e.g. to reach a checkpoint that meets --witness-policy).
    #[arg(long, value_name = "URL", conflicts_with = "offline")]
    log_proxy: Option<String>,
    /// Push the outcome (vouch_cli_verifications_total) to this Prometheus Pushgateway base
    /// URL, grouped by a run id unique to this run ($VOUCH_RUN_ID, else random).
    #[arg(long, value_name = "URL")]
    metrics_push: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Args, Debug)]
struct VerifyBlobArgs {
    /// The artifact path, or `sha256:<hex>` to verify by digest.
    artifact: String,
    #[command(flatten)]
    common: CommonVerify,
}

#[derive(Args, Debug)]
struct VerifyAttestationArgs {
    /// The attestation subject: a path, or `sha256:<hex>`.
    artifact: String,
    /// Expected predicate type: cosign shorthand (slsaprovenance1, spdxjson, cyclonedx, …) or a URI.
    #[arg(long = "type")]
    predicate_type: Option<String>,
    #[command(flatten)]
    common: CommonVerify,
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::VerifyBlob(a) => verify(&a.artifact, &a.common, None),
        Command::VerifyBlobAttestation(a) => verify(
            &a.artifact,
            &a.common,
            Some(a.predicate_type.unwrap_or_else(|| "custom".into())),
        ),
        Command::Bundle {
            command:
                BundleCommand::Inspect {
                    bundle,
                    root,
                    output,
                },
        } => crate::inspect::inspect(&bundle, root.trust()?, output),
        Command::Up(a) => crate::up::run(&a),
        Command::Gitsign(a) => crate::gitsign_cmd::run(a),
        Command::SignBlob(a) => crate::sign_cmd::sign_blob(&a),
        Command::AttestBlob(a) => crate::sign_cmd::attest_blob(&a),
        Command::SignModel(a) => crate::model_cmd::sign_model(&a),
        Command::VerifyModel(a) => crate::model_cmd::verify_model(&a),
        Command::Sign(a) => crate::oci_cmd::sign(&a),
        Command::Attest(a) => crate::oci_cmd::attest(&a),
        Command::Verify(a) => crate::oci_cmd::verify(&a),
        Command::VerifyAttestation(a) => crate::oci_cmd::verify_attestation(&a),
        Command::Tree(a) => crate::oci_cmd::tree(&a),
        Command::Download(a) => crate::oci_cmd::download(&a),
        Command::Triangulate(a) => crate::oci_cmd::triangulate(&a),
        Command::Copy(a) => crate::airgap_cmd::copy(&a),
        Command::Save(a) => crate::airgap_cmd::save(&a),
        Command::Load(a) => crate::airgap_cmd::load(&a),
        Command::Clean(a) => crate::airgap_cmd::clean(&a),
        Command::Attach(a) => crate::airgap_cmd::attach(&a),
        Command::ImportKeyPair(a) => crate::keys_cmd::import_key_pair(&a),
        Command::GenerateKeyPair(a) => crate::keys_cmd::generate_key_pair(&a),
        Command::PublicKey(a) => crate::keys_cmd::public_key(&a),
        Command::Trust { command } => crate::trust::run(command),
        Command::Pkcs11 { command } => crate::pkcs11_cmd::run(command),
        Command::Serve { command } => crate::serve::run(command),
        Command::Log { command } => crate::tlog::run(command),
        Command::Ca { command } => crate::ca::run(command),
        Command::Oidc { command } => crate::oidc::run(command),
        Command::Bench { command } => crate::bench::run(command),
        Command::Observability { command } => crate::observability::run(command),
        Command::Monitor(a) => crate::monitor_cmd::run(&a),
        Command::Admission { command } => crate::admission_cmd::run(command),
        Command::Witness { command } => crate::witness_cmd::run(command),
        Command::Policy { command } => crate::policy_cmd::run(command),
        Command::Exception { command } => crate::exception_cmd::run(command),
        Command::Audit { command } => crate::audit_cmd::run(command),
        Command::Inventory(a) => crate::inventory_cmd::run(&a),
    }
}

/// Load the trusted root: a file, the staging root, or the embedded public-good root.
pub fn load_trust(path: Option<&Path>, staging: bool) -> Result<TrustRoot> {
    match (path, staging) {
        (Some(p), _) => {
            let json = std::fs::read(p)
                .with_context(|| format!("cannot read trusted root {}", p.display()))?;
            TrustRoot::from_json(&json).with_context(|| format!("trusted root {}", p.display()))
        }
        (None, true) => Ok(TrustRoot::staging()?),
        (None, false) => Ok(TrustRoot::public_good()?),
    }
}

/// Parse `sha256:<hex>` (also sha384/sha512) into a digest.
fn parse_digest(s: &str) -> Option<(HashKind, Vec<u8>)> {
    let (alg, hex_digest) = s.split_once(':')?;
    let alg = HashKind::from_name(alg)?;
    let d = hex::decode(hex_digest).ok()?;
    (d.len() == alg.len()).then_some((alg, d))
}

fn verify(artifact: &str, c: &CommonVerify, predicate_type: Option<String>) -> Result<()> {
    if c.offline {
        crate::airgap_cmd::go_offline(None);
    }
    let command = if predicate_type.is_some() {
        "verify-blob-attestation"
    } else {
        "verify-blob"
    };
    let res = verify_bundle(artifact, c, predicate_type);
    if let Some(url) = &c.metrics_push {
        crate::metrics_push::push(
            url,
            crate::metrics_push::Outcome::Verification,
            command,
            res.is_ok(),
        );
    }
    res
}

fn verify_bundle(artifact: &str, c: &CommonVerify, predicate_type: Option<String>) -> Result<()> {
    let digest = parse_digest(artifact);
    let bundle_path = match &c.bundle {
        Some(b) => b.clone(),
        None if digest.is_none() => PathBuf::from(format!("{artifact}.sigstore.json")),
        None => bail!("--bundle is required when verifying a digest"),
    };
    let trust = c.policy.trust()?;
    let mut pb = c.policy.policy_builder()?;
    for (arc, v) in [
        (2, &c.certificate_github_workflow_trigger),
        (3, &c.certificate_github_workflow_sha),
        (4, &c.certificate_github_workflow_name),
        (5, &c.certificate_github_workflow_repository),
        (6, &c.certificate_github_workflow_ref),
    ] {
        if let Some(v) = v {
            pb = pb.require_extension(arc, v);
        }
    }
    if let Some(t) = predicate_type {
        pb = pb.predicate_type(t);
    }
    let policy = pb.build()?;
    let bundle_json = std::fs::read(&bundle_path)
        .with_context(|| format!("cannot read bundle {}", bundle_path.display()))?;
    let mut bundle = Bundle::from_json(&bundle_json)
        .with_context(|| format!("bundle {}", bundle_path.display()))?;
    if let Some(url) = &c.log_proxy {
        crate::proxy_cmd::upgrade_proofs(&mut bundle, url)?;
    }
    let verifier = Verifier::new(trust);
    let artifact_bytes;
    let art = match &digest {
        Some((alg, d)) => Artifact::Digest {
            algorithm: *alg,
            digest: d,
        },
        None => {
            artifact_bytes = std::fs::read(artifact)
                .with_context(|| format!("cannot read artifact {artifact}"))?;
            Artifact::Bytes(&artifact_bytes)
        }
    };
    let result = verifier.verify(&bundle, art, &policy)?;
    report(&result, c.output)
}

fn report(r: &VerificationResult, output: OutputFormat) -> Result<()> {
    match output {
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(r)?);
        }
        OutputFormat::Text => {
            if let Some(id) = &r.identity {
                eprintln!(
                    "Verified signer: {} (issuer {})",
                    id.san.as_deref().unwrap_or("?"),
                    id.issuer.as_deref().unwrap_or("?")
                );
            } else {
                eprintln!("Verified signer: {} public key", r.key);
            }
            for e in &r.tlog_entries {
                eprintln!("Transparency log: {} index {}", e.log, e.log_index);
            }
            for t in &r.timestamps {
                let src = match &t.source {
                    vouch_verify::TimeSource::Tlog { log } => format!("log {log}"),
                    vouch_verify::TimeSource::TimestampAuthority { uri } => format!("TSA {uri}"),
                };
                eprintln!("Signed at: {} ({src})", t.time);
            }
            eprintln!("Verified OK");
        }
    }
    Ok(())
}

/// A one-line hint for errors users commonly hit.
pub fn hint_for(e: &anyhow::Error) -> Option<String> {
    if let Some(h) = e.downcast_ref::<crate::tlog::Hinted>() {
        return Some(h.hint().to_string());
    }
    let v = e.downcast_ref::<VerifyError>()?;
    Some(match v {
        VerifyError::Identity(_) => {
            "the bundle was signed by someone else, or the expected identity is spelled differently; run `vouch bundle inspect` to see who signed".into()
        }
        VerifyError::TlogThreshold { .. } | VerifyError::NoCaAtTime { .. } => {
            "the bundle may come from another Sigstore instance: pass its trusted root with --trusted-root (or --staging)".into()
        }
        VerifyError::KeyRequired { .. } => "pass the signer's public key with --key cosign.pub".into(),
        VerifyError::WrongKey { .. } => "pass the public key of the key that signed this bundle (`vouch public-key --key …` prints it)".into(),
        VerifyError::ArtifactMismatch { .. } | VerifyError::SubjectMismatch { .. } => {
            "check the file name and version, or use the bundle that was made for this file".into()
        }
        VerifyError::Signature { .. } => "the artifact is not the one that was signed, or the signature was altered".into(),
        VerifyError::Entry {
            source: vouch_verify::EntryError::WitnessQuorum { .. },
            ..
        } => "the bundle's checkpoint lacks the cosignatures the --witness-policy requires: re-fetch a cosigned checkpoint from the log, or check the policy's witness keys".into(),
        VerifyError::Entry { .. } => "the transparency log evidence in the bundle is inconsistent or tampered with".into(),
        _ => return None,
    })
}
