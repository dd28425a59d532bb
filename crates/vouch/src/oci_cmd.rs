//! Container images: `vouch sign`, `attest`, `verify`, `verify-attestation` and `tree`, with
//! cosign's flag names. Signatures are stored as OCI 1.1 referrers holding Sigstore bundles
//! (cosign v3's default) or, with `--legacy`, in cosign's `sha256-<hex>.sig`/`.att` tags;
//! verification reads both.

use crate::sign_cmd::{TrustArgs, load_signing_key};
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{ArgAction, Args};
use std::collections::BTreeMap;
use std::path::PathBuf;
use vouch_oci::layout::Kind;
use vouch_oci::sign::{Attachment, Layout, Target, resolve_target};
use vouch_oci::verify::{Found, discover, verify_found};
use vouch_oci::{Credentials, Reference, Registry, RegistryOptions};
use vouch_sign::{Credential, HttpClient, SignOptions, Signer, select_services};
use vouch_verify::{PolicyBuilder, Verifier};

/// How to reach the registry.
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Speak plain HTTP to the registry (loopback registries always use HTTP).
    #[arg(long)]
    allow_insecure_registry: bool,
    /// Registry user name (else ~/.docker/config.json).
    #[arg(long, env = "VOUCH_REGISTRY_USERNAME")]
    registry_username: Option<String>,
    /// Registry password.
    #[arg(long, env = "VOUCH_REGISTRY_PASSWORD", hide_env_values = true)]
    registry_password: Option<String>,
    /// Registry bearer token, used as is.
    #[arg(long, env = "VOUCH_REGISTRY_TOKEN", hide_env_values = true)]
    registry_token: Option<String>,
    /// Extra PEM CA certificates for TLS to the registry.
    #[arg(long)]
    registry_ca_certificates: Option<PathBuf>,
}

impl RegistryArgs {
    pub(crate) fn client(&self) -> Result<Registry> {
        let credentials = match (
            &self.registry_token,
            &self.registry_username,
            &self.registry_password,
        ) {
            (Some(t), _, _) => Some(Credentials::Bearer(t.clone())),
            (None, Some(u), Some(p)) => Some(Credentials::Basic {
                username: u.clone(),
                password: p.clone(),
            }),
            (None, Some(_), None) => bail!("--registry-username needs --registry-password"),
            _ => None,
        };
        let mut ca_certificates = Vec::new();
        if let Some(p) = &self.registry_ca_certificates {
            ca_certificates
                .push(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?);
        }
        Ok(Registry::new(RegistryOptions {
            allow_insecure: self.allow_insecure_registry,
            credentials,
            ca_certificates,
        })?)
    }
}

/// Flags shared by `sign` and `attest`.
#[derive(Args, Debug)]
pub struct CommonImageSign {
    #[command(flatten)]
    token: crate::sign_cmd::TokenArgs,
    /// Sign with this key (cosign.key, encrypted with $COSIGN_PASSWORD) instead of keyless.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Store in cosign's legacy layout (`sha256-<hex>.sig`/`.att` tags) instead of an OCI
    /// referrer holding a Sigstore bundle.
    #[arg(long)]
    legacy: bool,
    /// Sign what a tag points to now (the digest is signed and printed).
    #[arg(long)]
    resolve_tag: bool,
    /// For a multi-platform index, also sign each platform manifest.
    #[arg(long)]
    recursive: bool,
    /// Annotation `key=value` for the signed payload (repeatable).
    #[arg(short = 'a', long = "annotations")]
    annotations: Vec<String>,
    /// Rekor major API version (1 or 2); the legacy layout needs 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    rekor_version: Option<u32>,
    /// Upload to the transparency log (`--tlog-upload=false`: verifiers need
    /// --insecure-ignore-tlog).
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    tlog_upload: bool,
    /// Skip confirmation prompts.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Extra PEM CA certificates for TLS to the Sigstore services.
    #[arg(long)]
    ca_certificates: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    trust: TrustArgs,
}

/// `vouch sign IMAGE@sha256:…`.
#[derive(Args, Debug)]
pub struct SignImageArgs {
    /// The image, by digest (`registry/repo@sha256:…`), or a tag with --resolve-tag.
    image: String,
    #[command(flatten)]
    common: CommonImageSign,
}

/// `vouch attest IMAGE@sha256:… --predicate F --type T`.
#[derive(Args, Debug)]
pub struct AttestImageArgs {
    /// The image, by digest, or a tag with --resolve-tag.
    image: String,
    /// The predicate JSON file.
    #[arg(long)]
    predicate: PathBuf,
    /// Predicate type: cosign shorthand (slsaprovenance, slsaprovenance02, slsaprovenance1,
    /// spdx, spdxjson, cyclonedx, vuln, link, openvex, custom) or a URI.
    #[arg(long = "type", default_value = "custom")]
    predicate_type: String,
    #[command(flatten)]
    common: CommonImageSign,
}

/// Verification flags for images.
#[derive(Args, Debug)]
pub struct CommonImageVerify {
    #[command(flatten)]
    policy: crate::cli::PolicyArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = crate::cli::OutputFormat::Text)]
    output: crate::cli::OutputFormat,
    /// No network access except the registry named in the image reference (none with
    /// --local-image): any other connection fails, naming the host and the component.
    #[arg(long)]
    offline: bool,
    /// The image argument is an OCI image layout written by `vouch save` (`DIR`, or
    /// `DIR@sha256:…` when it holds several images); nothing is read from the network.
    #[arg(long)]
    local_image: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl CommonImageVerify {
    /// The image reference and the client to read it with: a registry (restricted to the
    /// reference's registry under --offline), or the --local-image layout (no network).
    fn open(&self, image: &str) -> Result<(Reference, Registry)> {
        if !self.local_image {
            let r = parse_image(image)?;
            if self.offline {
                crate::airgap_cmd::go_offline(Some(r.resolve_registry()));
            }
            return Ok((r, self.registry.client()?));
        }
        crate::airgap_cmd::go_offline(None);
        let (dir, digest) = match image.split_once("@sha256:") {
            Some((d, hex)) => (d, Some(format!("sha256:{hex}"))),
            None => (image, None),
        };
        let dir = std::path::Path::new(dir);
        let layout = vouch_oci::oci_dir::OciDir::open(dir).map_err(|e| {
            hinted(
                e.to_string(),
                "--local-image takes the directory written by `vouch save --dir`",
            )
        })?;
        let digest = match digest {
            Some(d) => d,
            None => {
                let images = vouch_oci::copy::layout_images(&layout).map_err(oci_error)?;
                match images.as_slice() {
                    [(one, _)] => one.digest.clone(),
                    [] => bail!("{} holds no image", dir.display()),
                    many => {
                        return Err(hinted(
                            format!("{} holds {} images", dir.display(), many.len()),
                            format!(
                                "name one as {}@sha256:<hex> (one of {})",
                                dir.display(),
                                many.iter()
                                    .map(|(d, _)| d.digest.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                }
            }
        };
        let r = Reference::with_digest("oci-layout".into(), dir.display().to_string(), digest);
        Ok((r, Registry::oci_dir(layout).map_err(oci_error)?))
    }
}

/// `vouch verify IMAGE`.
#[derive(Args, Debug)]
pub struct VerifyImageArgs {
    /// The image: `registry/repo:tag`, `registry/repo@sha256:…` or both.
    image: String,
    #[command(flatten)]
    common: CommonImageVerify,
}

/// `vouch verify-attestation IMAGE --type T`.
#[derive(Args, Debug)]
pub struct VerifyAttestationImageArgs {
    /// The image: `registry/repo:tag`, `registry/repo@sha256:…` or both.
    image: String,
    /// Expected predicate type: cosign shorthand or URI [default: any].
    #[arg(long = "type")]
    predicate_type: Option<String>,
    /// Rego policy file the attestation's statement must satisfy (`data.signature.allow`,
    /// as cosign evaluates it; input: the in-toto statement).
    #[arg(long)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    common: CommonImageVerify,
}

/// `vouch tree IMAGE`.
#[derive(Args, Debug)]
pub struct TreeArgs {
    /// The image: tag or digest.
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// A current-thread runtime for one registry command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// An image reference from the command line, with a hint on how to write one.
pub(crate) fn parse_image(s: &str) -> Result<Reference> {
    vouch_oci::parse_reference(s).map_err(|e| {
        hinted(
            e.to_string(),
            "name an image as registry/repository@sha256:<hex> (or :tag)",
        )
    })
}

/// An OCI error with a hint for the common cases.
pub(crate) fn oci_error(e: vouch_oci::OciError) -> anyhow::Error {
    use vouch_oci::OciError as E;
    let hint = match &e {
        E::Unreachable { .. } => {
            "is the registry running and the name right? Loopback registries use HTTP; others need HTTPS unless --allow-insecure-registry"
        }
        E::Auth(_) => {
            "log in with `docker login`, or pass --registry-username/--registry-password or --registry-token"
        }
        E::NotFound(_) => "check the image name, tag or digest",
        E::Integrity(_) => "the registry returned content that does not match its digest",
        E::Offline(_) => {
            "--offline allows only the registry named in the image reference (none with --local-image)"
        }
        _ => return anyhow!(e),
    };
    hinted(e.to_string(), hint)
}

fn parse_annotations(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for a in list {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| anyhow!("annotation {a:?} is not key=value"))?;
        m.insert(k.to_string(), v.to_string());
    }
    Ok(m)
}

/// Run `vouch sign`.
pub fn sign(a: &SignImageArgs) -> Result<()> {
    run_sign(&a.image, &a.common, None)
}

/// Run `vouch attest`.
pub fn attest(a: &AttestImageArgs) -> Result<()> {
    let bytes = std::fs::read(&a.predicate)
        .with_context(|| format!("cannot read predicate {}", a.predicate.display()))?;
    let predicate: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("predicate {} is not JSON", a.predicate.display()))?;
    let ptype = vouch_core::intoto::predicate_type_for(&a.predicate_type).to_string();
    if !ptype.contains(':') {
        return Err(hinted(
            format!("unknown predicate type {:?}", a.predicate_type),
            "use a cosign shorthand (slsaprovenance1, spdxjson, cyclonedx, vuln, link, custom) or a URI",
        ));
    }
    run_sign(&a.image, &a.common, Some((ptype, predicate)))
}

fn run_sign(
    image: &str,
    c: &CommonImageSign,
    predicate: Option<(String, serde_json::Value)>,
) -> Result<()> {
    let r = parse_image(image)?;
    let reg = c.registry.client()?;
    let (trust, sc) = c.trust.load()?;
    let layout = if c.legacy {
        Layout::Legacy
    } else {
        Layout::Bundle
    };
    let rekor_version = match (layout, c.rekor_version, c.tlog_upload) {
        (Layout::Legacy, Some(2), true) => {
            return Err(hinted(
                "the legacy layout stores a Rekor v1 signed entry timestamp; Rekor v2 has none",
                "drop --legacy, or sign with --rekor-version 1",
            ));
        }
        (Layout::Legacy, _, true) => Some(1),
        (_, v, _) => v,
    };
    let services = select_services(&sc, rekor_version, jiff::Timestamp::now())?;
    let mut cas = Vec::new();
    if let Some(p) = &c.ca_certificates {
        cas.push(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?);
    }
    let http = HttpClient::with_ca_certificates(&cas)?;
    let annotations = parse_annotations(&c.annotations)?;
    let kind = if predicate.is_some() {
        Kind::Attestation
    } else {
        Kind::Signature
    };
    let what = Attachment {
        kind,
        layout,
        annotations,
        predicate,
    };
    let opts = SignOptions {
        tlog_upload: c.tlog_upload,
        ..SignOptions::default()
    };
    let signer = Signer::new(http.clone(), services.clone(), Some(trust));
    runtime()?.block_on(async {
        let target = resolve_target(&reg, &r, c.resolve_tag).await.map_err(|e| {
            if r.digest().is_none() && !c.resolve_tag {
                hinted(
                    e.to_string(),
                    "pass --resolve-tag to sign the digest the tag points to now",
                )
            } else {
                oci_error(e)
            }
        })?;
        if let Some(tag) = &target.from_tag {
            eprintln!(
                "Resolved tag {tag} to {}; signing the digest, not the tag",
                target.descriptor.digest
            );
        }
        let mut targets = vec![target.clone()];
        if c.recursive {
            targets.extend(platform_targets(&reg, &target).await?);
        }
        let token = match &c.key {
            Some(_) => None,
            None => Some(
                crate::sign_cmd::identity_token(&c.token, &http, services.oidc.as_deref()).await?,
            ),
        };
        for t in &targets {
            let credential = match (&c.key, &token) {
                (Some(k), _) => Credential::Key(load_signing_key(k)?),
                (None, Some(tok)) => Credential::Token(tok.clone()),
                (None, None) => bail!("no credential"),
            };
            let out = vouch_oci::sign::attach(&reg, &signer, credential, t, &what, &opts)
                .await
                .map_err(oci_error)?;
            let what_name = match kind {
                Kind::Signature => "signature",
                Kind::Attestation => "attestation",
            };
            eprintln!(
                "Pushed {what_name} for {}@{} ({}): manifest {}{}",
                t.reference.repository(),
                t.descriptor.digest,
                layout.name(),
                out.manifest_digest,
                out.tag
                    .as_deref()
                    .map(|t| format!(", tag {t}"))
                    .unwrap_or_default()
            );
            match &out.outcome.identity {
                Some((san, iss)) => eprintln!("Signed as {san} (issuer {iss})"),
                None => eprintln!(
                    "Signed with key {}",
                    c.key
                        .as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            }
            for (url, idx) in &out.outcome.log_entries {
                eprintln!("Transparency log entry: index {idx} at {url}");
            }
        }
        if !c.tlog_upload {
            eprintln!(
                "warning: not uploaded to a transparency log (--tlog-upload=false): verifiers need --insecure-ignore-tlog"
            );
        }
        eprintln!("Registry requests: {}", reg.request_count());
        println!("{}", target.descriptor.digest);
        Ok(())
    })
}

/// The platform manifests of an index, as targets.
async fn platform_targets(reg: &Registry, target: &Target) -> Result<Vec<Target>> {
    let mt = target.descriptor.media_type.as_str();
    if mt != vouch_oci::registry::OCI_INDEX && mt != vouch_oci::registry::DOCKER_LIST {
        return Ok(Vec::new());
    }
    let m = reg
        .get_manifest(&target.reference)
        .await?
        .ok_or_else(|| anyhow!("index {} vanished", target.descriptor.digest))?;
    let idx: oci_client_index::Index = serde_json::from_slice(&m.bytes)
        .with_context(|| format!("index {}", target.descriptor.digest))?;
    Ok(idx
        .manifests
        .into_iter()
        .map(|e| Target {
            reference: Reference::with_digest(
                target.reference.registry().to_string(),
                target.reference.repository().to_string(),
                e.digest.clone(),
            ),
            descriptor: vouch_oci::Resolved {
                digest: e.digest,
                media_type: e.media_type,
                size: e.size,
            },
            from_tag: None,
        })
        .collect())
}

mod oci_client_index {
    //! The fields of an image index that `--recursive` needs.
    #[derive(serde::Deserialize)]
    pub struct Index {
        #[serde(default)]
        pub manifests: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Entry {
        pub media_type: String,
        pub digest: String,
        pub size: u64,
    }
}

fn policy(c: &CommonImageVerify) -> Result<(Verifier, PolicyBuilder)> {
    let trust = c.policy.trust()?;
    let pb = c.policy.policy_builder()?;
    // Fail early on an incomplete policy (e.g. no identity and no key).
    pb.clone().build()?;
    Ok((Verifier::new(trust), pb))
}

/// Run `vouch verify`.
pub fn verify(a: &VerifyImageArgs) -> Result<()> {
    run_verify(&a.image, &a.common, Kind::Signature, None, None)
}

/// Run `vouch verify-attestation`.
pub fn verify_attestation(a: &VerifyAttestationImageArgs) -> Result<()> {
    let policy = match &a.policy {
        Some(p) => Some((
            p.display().to_string(),
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read policy {}", p.display()))?,
        )),
        None => None,
    };
    run_verify(
        &a.image,
        &a.common,
        Kind::Attestation,
        a.predicate_type.as_deref(),
        policy.as_ref(),
    )
}

fn run_verify(
    image: &str,
    c: &CommonImageVerify,
    kind: Kind,
    predicate_type: Option<&str>,
    rego: Option<&(String, String)>,
) -> Result<()> {
    let (r, reg) = c.open(image)?;
    let (verifier, pb) = policy(c)?;
    let what = match kind {
        Kind::Signature => "signature",
        Kind::Attestation => "attestation",
    };
    runtime()?.block_on(async {
        let target = vouch_oci::sign::pin_for_reading(&reg, &r)
            .await
            .map_err(oci_error)?;
        let digest = target.descriptor.digest.clone();
        if let Some(tag) = &target.from_tag {
            eprintln!("Resolved tag {tag} to {digest}");
        }
        // A reference with both a tag and a digest: verify the digest, report a moved tag.
        let mut moved = None;
        if let (Some(tag), Some(_)) = (r.tag(), r.digest()) {
            let tag_ref = Reference::with_tag(
                r.registry().to_string(),
                r.repository().to_string(),
                tag.to_string(),
            );
            match reg.resolve(&tag_ref).await {
                Ok(now) if now.digest != digest => moved = Some((tag.to_string(), now.digest)),
                Ok(_) => {}
                Err(e) => moved = Some((tag.to_string(), format!("(unresolvable: {e})"))),
            }
        }
        let discovery_start = reg.request_count();
        let found: Vec<Found> = discover(&reg, &target.reference, kind, predicate_type)
            .await
            .map_err(oci_error)?;
        let discovery_requests = reg.request_count() - discovery_start;
        if found.is_empty() {
            let of_type = predicate_type
                .map(|t| format!(" of type {}", vouch_core::intoto::predicate_type_for(t)))
                .unwrap_or_default();
            return Err(hinted(
                format!(
                    "no {what}s{of_type} found for {}@{digest} (looked for OCI referrers and tag {})",
                    r.repository(),
                    vouch_oci::layout::legacy_tag(&digest, kind)
                ),
                "sign it with `vouch sign` / `vouch attest`, or check the image name and registry",
            ));
        }
        let mut ok = Vec::new();
        let mut failures = Vec::new();
        for f in &found {
            let checked = verify_found(&verifier, &pb, &digest, f, predicate_type).and_then(|v| {
                if let Some((name, text)) = rego {
                    let st = v.result.statement.clone().unwrap_or_default();
                    vouch_oci::policy::evaluate_rego(name, text, &st)?;
                }
                Ok(v)
            });
            match checked {
                Ok(v) => ok.push(v),
                Err(e) => failures.push(format!("{} [{}]: {e}", f.location(), f.layout.name())),
            }
        }
        if let Some((tag, now)) = &moved {
            eprintln!(
                "warning: tag {tag} has moved: it now points to {now}, not to the verified digest {digest}"
            );
        }
        for fl in &failures {
            eprintln!("not verified: {fl}");
        }
        if ok.is_empty() {
            // Name the most telling failure: one about a signature made the way the policy
            // asks (certificate vs key) before "signed the other way" mismatches.
            let other_way = |f: &String| {
                f.contains("not a certificate: verify it with --key")
                    || f.contains("verification was asked with --key")
            };
            let first = failures
                .iter()
                .find(|f| !other_way(f))
                .or(failures.first())
                .cloned()
                .unwrap_or_default();
            return Err(hinted(
                format!(
                    "none of the {} {what}(s) of {}@{digest} verified: {first}",
                    found.len(),
                    r.repository()
                ),
                "check --certificate-identity/--certificate-oidc-issuer (or --key) and the trusted root",
            ));
        }
        match c.output {
            crate::cli::OutputFormat::Json => {
                let image = format!("{}/{}@{digest}", r.registry(), r.repository());
                let list: Vec<VerifiedLine> = ok
                    .iter()
                    .map(|v| VerifiedLine {
                        docker_reference: v.docker_reference.as_deref(),
                        image: &image,
                        layout: match v.layout {
                            Layout::Bundle => "bundle",
                            Layout::Legacy => "legacy",
                        },
                        location: &v.location,
                        result: &v.result,
                    })
                    .collect();
                // Through a Value, so the nested result prints with sorted members as before.
                let list = serde_json::to_value(&list)?;
                println!("{}", serde_json::to_string_pretty(&list)?);
            }
            crate::cli::OutputFormat::Text => {
                for v in &ok {
                    let who = match &v.result.identity {
                        Some(id) => format!(
                            "{} (issuer {})",
                            id.san.as_deref().unwrap_or("?"),
                            id.issuer.as_deref().unwrap_or("?")
                        ),
                        None => format!("{} public key", v.result.key),
                    };
                    let pt = v
                        .result
                        .predicate_type
                        .as_deref()
                        .filter(|_| kind == Kind::Attestation)
                        .map(|p| format!(", predicate {p}"))
                        .unwrap_or_default();
                    eprintln!(
                        "Verified {what} {} [{}]: signer {who}{pt}",
                        v.location,
                        v.layout.name()
                    );
                    if let Some((name, _)) = rego {
                        eprintln!("  policy {name}: allowed");
                    }
                    for e in &v.result.tlog_entries {
                        eprintln!("  transparency log: {} index {}", e.log, e.log_index);
                    }
                    for t in &v.result.timestamps {
                        let src = match &t.source {
                            vouch_verify::TimeSource::Tlog { log } => format!("log {log}"),
                            vouch_verify::TimeSource::TimestampAuthority { uri } => {
                                format!("TSA {uri}")
                            }
                        };
                        eprintln!("  signed at {} ({src})", t.time);
                    }
                }
                eprintln!(
                    "Verified OK: {} of {} {what}(s) on {}@{digest}",
                    ok.len(),
                    found.len(),
                    r.repository()
                );
            }
        }
        eprintln!(
            "Registry requests: {} ({} to find the {what}s after tag resolution)",
            reg.request_count(),
            discovery_requests
        );
        Ok(())
    })
}

/// Run `vouch tree`.
pub fn tree(a: &TreeArgs) -> Result<()> {
    let r = parse_image(&a.image)?;
    let reg = a.registry.client()?;
    runtime()?.block_on(async {
        let target = vouch_oci::sign::pin_for_reading(&reg, &r)
            .await
            .map_err(oci_error)?;
        let t = vouch_oci::verify::tree(&reg, &target.reference)
            .await
            .map_err(oci_error)?;
        println!(
            "📦 {}/{}@{}",
            r.registry(),
            r.repository(),
            target.descriptor.digest
        );
        let src = match t.referrers_source {
            vouch_oci::verify::ReferrersSource::TagSchema => format!(
                "referrers (tag {})",
                vouch_oci::layout::fallback_tag(&target.descriptor.digest)
            ),
            vouch_oci::verify::ReferrersSource::Api => "referrers (API)".to_string(),
            vouch_oci::verify::ReferrersSource::None => "referrers".to_string(),
        };
        println!("└── {src}: {}", t.referrers.len());
        for e in &t.referrers {
            let pt = e
                .annotations
                .as_ref()
                .and_then(|a| a.get(vouch_oci::layout::ANN_BUNDLE_PREDICATE))
                .map(|p| {
                    if p == vouch_oci::layout::COSIGN_SIGN_PREDICATE {
                        "signature".to_string()
                    } else {
                        format!("attestation {p}")
                    }
                })
                .unwrap_or_default();
            println!(
                "    └── {} {} {pt}",
                e.artifact_type.as_deref().unwrap_or("?"),
                e.digest
            );
        }
        for (tag, layers) in &t.legacy {
            let what = if tag.ends_with(".sig") {
                "signatures"
            } else if tag.ends_with(".att") {
                "attestations"
            } else {
                "SBOMs"
            };
            println!("└── 🔐 {what} (tag {tag}): {}", layers.len());
            for l in layers {
                let extra = l
                    .annotations
                    .get(vouch_oci::layout::ANN_PREDICATE_TYPE)
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default();
                println!("    └── {} {}{extra}", l.media_type, l.digest);
            }
        }
        eprintln!("Registry requests: {}", reg.request_count());
        Ok(())
    })
}

/// `vouch download signature|attestation IMAGE`.
#[derive(Args, Debug)]
pub struct DownloadArgs {
    #[command(subcommand)]
    what: DownloadWhat,
}

#[derive(clap::Subcommand, Debug)]
enum DownloadWhat {
    /// Print the image's signatures, one JSON document per line (bundles as they are stored;
    /// legacy layers in cosign's `download signature` shape).
    Signature {
        /// The image: tag or digest.
        image: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Print the image's attestations, one JSON document per line (bundles; legacy DSSE
    /// envelopes).
    Attestation {
        /// The image: tag or digest.
        image: String,
        /// Only this predicate type (cosign shorthand or URI).
        #[arg(long = "type")]
        predicate_type: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Write the image's SBOM (cosign's `.sbom` tag, from `vouch attach sbom`) to stdout.
    Sbom {
        /// The image: tag or digest.
        image: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

/// Run `vouch download`.
pub fn download(a: &DownloadArgs) -> Result<()> {
    let (image, registry, kind, predicate_type) = match &a.what {
        DownloadWhat::Sbom { image, registry } => return download_sbom(image, registry),
        DownloadWhat::Signature { image, registry } => (image, registry, Kind::Signature, None),
        DownloadWhat::Attestation {
            image,
            predicate_type,
            registry,
        } => (
            image,
            registry,
            Kind::Attestation,
            predicate_type.as_deref(),
        ),
    };
    let r = parse_image(image)?;
    let reg = registry.client()?;
    runtime()?.block_on(async {
        let target = vouch_oci::sign::pin_for_reading(&reg, &r)
            .await
            .map_err(oci_error)?;
        let found = discover(&reg, &target.reference, kind, predicate_type)
            .await
            .map_err(oci_error)?;
        for f in &found {
            let line = match &f.evidence {
                vouch_oci::verify::Evidence::Bundle { bundle, .. } => {
                    serde_json::from_slice::<serde_json::Value>(bundle)
                        .with_context(|| format!("{} is not JSON", f.location()))?
                }
                vouch_oci::verify::Evidence::Legacy { layer, blob, .. } => {
                    legacy_download_json(kind, layer, blob)?
                }
            };
            println!("{}", serde_json::to_string(&line)?);
        }
        eprintln!(
            "{} found; registry requests: {}",
            found.len(),
            reg.request_count()
        );
        Ok(())
    })
}

/// `vouch download sbom`: the `.sbom` tag's layers, as stored.
fn download_sbom(image: &str, registry: &RegistryArgs) -> Result<()> {
    use std::io::Write;
    let r = parse_image(image)?;
    let reg = registry.client()?;
    runtime()?.block_on(async {
        let target = vouch_oci::sign::pin_for_reading(&reg, &r)
            .await
            .map_err(oci_error)?;
        let tag = vouch_oci::attach::sbom_tag(&target.descriptor.digest);
        let tag_ref = vouch_oci::copy::by_tag(&target.reference, &tag);
        let m = reg
            .get_manifest(&tag_ref)
            .await
            .map_err(oci_error)?
            .ok_or_else(|| {
                hinted(
                    format!(
                        "{}@{} has no SBOM (no tag {tag})",
                        r.repository(),
                        target.descriptor.digest
                    ),
                    "attach one with `vouch attach sbom --sbom FILE IMAGE`",
                )
            })?;
        let mut out = std::io::stdout().lock();
        for l in vouch_oci::layout::legacy_layers(&m.bytes).map_err(oci_error)? {
            let blob = reg
                .get_blob(&target.reference, &l.digest)
                .await
                .map_err(oci_error)?;
            eprintln!("SBOM {} ({} bytes, {})", l.digest, blob.len(), l.media_type);
            out.write_all(&blob).context("cannot write to stdout")?;
        }
        out.flush().context("cannot write to stdout")?;
        Ok(())
    })
}

/// One verified signature in `verify --output json`; members in the sorted order vouch has
/// always printed.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifiedLine<'a> {
    docker_reference: Option<&'a str>,
    image: &'a str,
    layout: &'static str,
    location: &'a str,
    result: &'a vouch_verify::VerificationResult,
}

/// cosign's `download signature` line for a legacy layer (its `SignedPayload`). The members are
/// declared, and printed, in sorted order, as vouch has always printed them.
#[derive(serde::Serialize)]
struct DownloadedSignature {
    #[serde(rename = "Base64Signature")]
    base64_signature: String,
    #[serde(rename = "Bundle")]
    bundle: Option<vouch_oci::layout::RekorBundle>,
    #[serde(rename = "Cert")]
    cert: Option<String>,
    #[serde(rename = "Chain")]
    chain: Option<String>,
    #[serde(rename = "Payload")]
    payload: String,
    #[serde(rename = "RFC3161Timestamp")]
    rfc3161_timestamp: Option<vouch_oci::layout::Rfc3161Annotation>,
}

/// cosign's `download signature` shape for a legacy layer (`download attestation`: the
/// DSSE envelope, as stored).
fn legacy_download_json(
    kind: Kind,
    layer: &vouch_oci::layout::LegacyLayer,
    blob: &[u8],
) -> Result<serde_json::Value> {
    use base64::Engine;
    use vouch_oci::layout as l;
    if kind == Kind::Attestation {
        return Ok(serde_json::from_slice(blob).unwrap_or(serde_json::Value::Null));
    }
    let a = &layer.annotations;
    let get = |k: &str| a.get(k).cloned();
    let line = DownloadedSignature {
        base64_signature: get(l::ANN_SIGNATURE).unwrap_or_default(),
        bundle: get(l::ANN_REKOR_BUNDLE).and_then(|b| serde_json::from_str(&b).ok()),
        cert: get(l::ANN_CERTIFICATE),
        chain: get(l::ANN_CHAIN),
        payload: base64::engine::general_purpose::STANDARD.encode(blob),
        rfc3161_timestamp: get(l::ANN_RFC3161).and_then(|b| serde_json::from_str(&b).ok()),
    };
    // Through a Value: the line is printed with sorted members, the nested bundle too.
    Ok(serde_json::to_value(&line)?)
}

/// What `vouch triangulate` locates.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum TriangulateType {
    /// The legacy signature tag (`sha256-<hex>.sig`).
    Signature,
    /// The legacy attestation tag (`sha256-<hex>.att`).
    Attestation,
    /// The legacy SBOM tag (`sha256-<hex>.sbom`).
    Sbom,
    /// The referrers tag-schema index (`sha256-<hex>`).
    Referrers,
    /// The image digest itself.
    Digest,
}

/// `vouch triangulate IMAGE`.
#[derive(Args, Debug)]
pub struct TriangulateArgs {
    /// The image: tag or digest.
    image: String,
    /// What to locate.
    #[arg(long = "type", value_enum, default_value_t = TriangulateType::Signature)]
    kind: TriangulateType,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Run `vouch triangulate`: print where an image's signatures (etc.) are stored.
pub fn triangulate(a: &TriangulateArgs) -> Result<()> {
    let r = parse_image(&a.image)?;
    let reg = a.registry.client()?;
    runtime()?.block_on(async {
        let target = vouch_oci::sign::pin_for_reading(&reg, &r)
            .await
            .map_err(oci_error)?;
        let d = &target.descriptor.digest;
        let repo = format!("{}/{}", r.registry(), r.repository());
        let out = match a.kind {
            TriangulateType::Signature => {
                format!(
                    "{repo}:{}",
                    vouch_oci::layout::legacy_tag(d, Kind::Signature)
                )
            }
            TriangulateType::Attestation => {
                format!(
                    "{repo}:{}",
                    vouch_oci::layout::legacy_tag(d, Kind::Attestation)
                )
            }
            TriangulateType::Sbom => format!("{repo}:{}.sbom", vouch_oci::layout::fallback_tag(d)),
            TriangulateType::Referrers => {
                format!("{repo}:{}", vouch_oci::layout::fallback_tag(d))
            }
            TriangulateType::Digest => format!("{repo}@{d}"),
        };
        println!("{out}");
        Ok(())
    })
}
