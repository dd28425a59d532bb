//! Moving images across an air gap, with cosign's verbs and flags: `vouch copy`, `save`,
//! `load`, `clean` and `attach sbom|signature|attestation`, and the `--offline` switch the
//! verifying commands share.
//!
//! `save` writes an OCI image layout (image, `.sig`/`.att`/`.sbom` tags, referrers and their
//! fallback index, all byte for byte); `load` pushes one back into a registry; `verify
//! --local-image` reads it directly. Nothing is re-signed, so every digest survives.

use crate::oci_cmd::RegistryArgs;
use crate::tlog::hinted;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeSet;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use vouch_oci::clean::CleanType;
use vouch_oci::copy::{CopyOptions, CopyReport, Only, PlatformSpec, Progress};
use vouch_oci::oci_dir::OciDir;
use vouch_oci::upgrade::Upgrader;
use vouch_oci::{Reference, Registry};

/// Restrict this process's network access for `--offline`: only `registry` (the host of the
/// image reference) may be contacted, or nothing when `None`. Call before building clients.
pub fn go_offline(registry: Option<&str>) {
    let allowed: Vec<String> = registry.into_iter().map(String::from).collect();
    tracing::debug!(?allowed, "offline: network restricted");
    vouch_core::egress::restrict_to(allowed);
}

/// `--upgrade-bundles` and where its proofs come from (`copy`, `save`).
#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// Give each legacy signature and attestation (cosign's `.sig`/`.att` tags) whose log
    /// evidence is only a SET a Sigstore bundle v0.3 with the entry's inclusion proof and
    /// checkpoint, fetched from the log and checked against the trusted root, stored as an OCI
    /// referrer next to it: same signature bytes, the legacy tags stay, nothing is re-signed.
    #[arg(long)]
    upgrade_bundles: bool,
    /// Rekor URL to fetch the entries from [default: the trusted root's URL of the log the
    /// SET names].
    #[arg(long, requires = "upgrade_bundles")]
    rekor_url: Option<String>,
    /// ClientTrustConfig JSON whose trusted root holds the log keys (else --trusted-root, else
    /// the public-good root).
    #[arg(long, env = "VOUCH_TRUST_CONFIG")]
    trust_config: Option<PathBuf>,
    /// Trusted root JSON (replaces the trust config's).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// Extra PEM CA certificates for TLS to the log.
    #[arg(long, requires = "upgrade_bundles")]
    ca_certificates: Option<PathBuf>,
}

impl UpgradeArgs {
    /// The upgrader, when --upgrade-bundles is set.
    fn upgrader(&self) -> Result<Option<Arc<Upgrader>>> {
        if !self.upgrade_bundles {
            return Ok(None);
        }
        let trust = crate::sign_cmd::TrustArgs {
            trust_config: self.trust_config.clone(),
            trusted_root: self.trusted_root.clone(),
            signing_config: None,
        };
        let (root, _) = trust.load()?;
        let mut cas = Vec::new();
        if let Some(p) = &self.ca_certificates {
            cas.push(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?);
        }
        let http = vouch_sign::HttpClient::with_ca_certificates(&cas)?;
        Ok(Some(Arc::new(Upgrader::new(
            root,
            self.rekor_url.clone(),
            http,
        ))))
    }
}

/// `vouch copy SRC DST`.
#[derive(Args, Debug)]
pub struct CopyArgs {
    /// The source image (tag or digest).
    source: String,
    /// The destination repository (`registry/repo`, optionally `:tag`).
    destination: String,
    /// Copy only these attachments, not the image: comma-separated sig, att, sbom.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// [DEPRECATED] only copy the image signature (same as --only=sig).
    #[arg(long, hide = true)]
    sig_only: bool,
    /// Overwrite destination tags that point elsewhere.
    #[arg(short = 'f', long)]
    force: bool,
    /// For a multi-platform index, copy only this platform's image and its attachments
    /// (`os/arch[/variant]`).
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    upgrade: UpgradeArgs,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `vouch save IMAGE --dir DIR`.
#[derive(Args, Debug)]
pub struct SaveArgs {
    /// The image (tag or digest).
    image: String,
    /// The OCI image layout directory to write (created when absent).
    #[arg(long)]
    dir: PathBuf,
    /// For a multi-platform index, save only this platform (`os/arch[/variant]`).
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    upgrade: UpgradeArgs,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `vouch load --dir DIR IMAGE`.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The destination repository (`registry/repo`, optionally `:tag`).
    image: String,
    /// The OCI image layout directory written by `vouch save`.
    #[arg(long)]
    dir: PathBuf,
    /// Overwrite destination tags that point elsewhere.
    #[arg(short = 'f', long)]
    force: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// What `clean --type` removes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum CleanKind {
    /// The `.sig` tag and signature referrers.
    Signature,
    /// The `.att` tag and attestation referrers.
    Attestation,
    /// The `.sbom` tag and SBOM referrers.
    Sbom,
    /// Every OCI referrer.
    Referrer,
    /// All of the above.
    All,
}

/// `vouch clean IMAGE`.
#[derive(Args, Debug)]
pub struct CleanArgs {
    /// The image (tag or digest).
    image: String,
    /// What to remove.
    #[arg(long = "type", value_enum, default_value_t = CleanKind::All)]
    kind: CleanKind,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `vouch attach sbom|signature|attestation`.
#[derive(Args, Debug)]
pub struct AttachArgs {
    #[command(subcommand)]
    what: AttachWhat,
}

#[derive(Subcommand, Debug)]
enum AttachWhat {
    /// Attach an SBOM as the image's `.sbom` tag (cosign's legacy layout).
    Sbom {
        /// The image (tag or digest).
        image: String,
        /// The SBOM file, or `-` for stdin.
        #[arg(long)]
        sbom: String,
        /// SBOM type: spdx, cyclonedx or syft.
        #[arg(long = "type", default_value = "spdx")]
        sbom_type: String,
        /// SBOM input format: json, xml or text [default: from the file name].
        #[arg(long)]
        input_format: Option<String>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Attach a signature made elsewhere to the image's `.sig` tag.
    Signature {
        /// The image (tag or digest).
        image: String,
        /// The signed payload [default: cosign's simple-signing payload for the image].
        #[arg(long)]
        payload: Option<PathBuf>,
        /// The base64 signature file, or `-` for stdin.
        #[arg(long)]
        signature: String,
        /// PEM signing certificate.
        #[arg(long)]
        certificate: Option<PathBuf>,
        /// PEM certificate chain (intermediates, then root).
        #[arg(long)]
        certificate_chain: Option<PathBuf>,
        /// cosign's Rekor bundle (`SignedEntryTimestamp` + `Payload`) for the signature.
        #[arg(long)]
        rekor_response: Option<PathBuf>,
        /// RFC 3161 timestamp response (DER) over the signature.
        #[arg(long)]
        tsr: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Attach signed DSSE attestation envelopes to the image's `.att` tag.
    Attestation {
        /// The image (tag or digest).
        image: String,
        /// A DSSE envelope file (repeatable).
        #[arg(long, required = true)]
        attestation: Vec<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

use crate::oci_cmd::{parse_image, runtime};

/// An OCI error with a hint: the cases particular to copying, saving and cleaning, then
/// [`crate::oci_cmd::oci_error`]'s.
fn oci(e: vouch_oci::OciError) -> anyhow::Error {
    use vouch_oci::OciError as E;
    let hint = match &e {
        E::Integrity(_) | E::Layout { .. } | E::LayoutSpec { .. } | E::NotLayout { .. } => {
            "the content does not match its digest: the copy was altered; save it again from the source"
        }
        E::Registry { status: 405, .. } => {
            "the registry refuses deletes: enable them (distribution: storage.delete.enabled: true)"
        }
        E::Upgrade(_) => {
            "the log's answer does not prove the SET's entry: check --rekor-url and the trusted root, or copy without --upgrade-bundles"
        }
        _ => return crate::oci_cmd::oci_error(e),
    };
    hinted(e.to_string(), hint)
}

/// A progress bar over bytes copied, on a terminal only.
struct Bar {
    pb: ProgressBar,
    what: String,
    blobs: AtomicU64,
}

impl Bar {
    fn new(what: &str) -> Arc<Bar> {
        let pb = if std::io::stderr().is_terminal() {
            let pb = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: {bytes} ({elapsed})")
            {
                pb.set_style(style);
            }
            pb.set_message(what.to_string());
            pb
        } else {
            ProgressBar::hidden()
        };
        Arc::new(Bar {
            pb,
            what: what.to_string(),
            blobs: AtomicU64::new(0),
        })
    }
}

impl Progress for Bar {
    fn blob(&self, _digest: &str, bytes: u64, _skipped: bool) {
        let n = self.blobs.fetch_add(1, Ordering::Relaxed) + 1;
        self.pb.inc(bytes);
        self.pb.set_message(format!("{} ({n} blobs)", self.what));
    }
}

fn summary(verb: &str, r: &CopyReport) {
    for u in &r.upgraded {
        match &u.referrer {
            Some(m) => eprintln!(
                "Upgraded {} to a bundle with the {}: referrer {m}",
                u.location, u.note
            ),
            None => eprintln!("Not upgraded {}: {}", u.location, u.note),
        }
    }
    eprintln!(
        "{verb}: {} manifests, {} blobs ({} bytes; {} already present){}",
        r.manifests.len(),
        r.blobs_copied,
        r.bytes,
        r.blobs_present,
        if r.tags.is_empty() {
            String::new()
        } else {
            format!(", tags {}", r.tags.join(", "))
        }
    );
}

fn parse_platform(p: &Option<String>) -> Result<Option<PlatformSpec>> {
    p.as_deref()
        .map(PlatformSpec::parse)
        .transpose()
        .map_err(oci)
}

/// Run `vouch copy`.
pub fn copy(a: &CopyArgs) -> Result<()> {
    let src = parse_image(&a.source)?;
    let dst = parse_image(&a.destination)?;
    let mut only = BTreeSet::new();
    for o in &a.only {
        only.insert(Only::parse(o).map_err(oci)?);
    }
    if a.sig_only {
        eprintln!("warning: --sig-only is deprecated, use --only=sig");
        only.insert(Only::Sig);
    }
    let bar = Bar::new("copying");
    let opts = CopyOptions {
        only: (!only.is_empty()).then_some(only),
        force: a.force,
        platform: parse_platform(&a.platform)?,
        progress: Some(bar.clone()),
        upgrade: a.upgrade.upgrader()?,
    };
    let reg = a.registry.client()?;
    let dst_tag = vouch_oci::copy::explicit_tag(&a.destination)
        .or_else(|| vouch_oci::copy::explicit_tag(&a.source));
    let report = runtime()?.block_on(vouch_oci::copy::copy(
        &reg,
        &src,
        &reg,
        &dst,
        dst_tag.as_deref(),
        &opts,
    ));
    bar.pb.finish_and_clear();
    let report = report.map_err(oci)?;
    summary("Copied", &report);
    if let Some(root) = &report.root {
        println!("{}/{}@{}", dst.registry(), dst.repository(), root.digest);
    }
    Ok(())
}

/// A reference naming nothing in particular, for clients over an OCI image layout (which
/// ignore the registry and repository).
fn layout_ref(digest: Option<&str>) -> Reference {
    match digest {
        Some(d) => Reference::with_digest("oci-layout".into(), "image".into(), d.into()),
        None => Reference::with_tag("oci-layout".into(), "image".into(), "latest".into()),
    }
}

fn layout_client(dir: &Path, create: bool) -> Result<Registry> {
    let d = if create {
        OciDir::create(dir)
    } else {
        OciDir::open(dir)
    }
    .map_err(|e| {
        hinted(
            e.to_string(),
            "pass the directory written by `vouch save --dir` (it holds oci-layout and index.json)",
        )
    })?;
    Registry::oci_dir(d).map_err(oci)
}

/// Run `vouch save`.
pub fn save(a: &SaveArgs) -> Result<()> {
    let src = parse_image(&a.image)?;
    let reg = a.registry.client()?;
    let out = layout_client(&a.dir, true)?;
    let bar = Bar::new("saving");
    let opts = CopyOptions {
        platform: parse_platform(&a.platform)?,
        progress: Some(bar.clone()),
        upgrade: a.upgrade.upgrader()?,
        ..CopyOptions::default()
    };
    let tag = vouch_oci::copy::explicit_tag(&a.image);
    let report = runtime()?.block_on(vouch_oci::copy::copy(
        &reg,
        &src,
        &out,
        &layout_ref(None),
        tag.as_deref(),
        &opts,
    ));
    bar.pb.finish_and_clear();
    let report = report.map_err(oci)?;
    summary(&format!("Saved to {}", a.dir.display()), &report);
    if let Some(root) = &report.root {
        println!("{}", root.digest);
    }
    Ok(())
}

/// Run `vouch load`.
pub fn load(a: &LoadArgs) -> Result<()> {
    let dst = parse_image(&a.image)?;
    let reg = a.registry.client()?;
    let input = layout_client(&a.dir, false)?;
    let Some(dir) = input.local_layout() else {
        bail!("{} is not an OCI image layout", a.dir.display());
    };
    let images = vouch_oci::copy::layout_images(dir).map_err(oci)?;
    let wanted_tag = vouch_oci::copy::explicit_tag(&a.image);
    if images.is_empty() {
        return Err(hinted(
            format!("{} holds no image", a.dir.display()),
            "write one with `vouch save IMAGE --dir DIR`",
        ));
    }
    if images.len() > 1 && wanted_tag.is_some() {
        return Err(hinted(
            format!(
                "{} holds {} images; a tag in {} cannot name them all",
                a.dir.display(),
                images.len(),
                a.image
            ),
            "name the destination without a tag: each image keeps its own tag",
        ));
    }
    let rt = runtime()?;
    for (root, name) in &images {
        let bar = Bar::new("loading");
        let opts = CopyOptions {
            force: a.force,
            progress: Some(bar.clone()),
            ..CopyOptions::default()
        };
        let tag = wanted_tag.clone().or_else(|| name.clone());
        let report = rt.block_on(vouch_oci::copy::copy(
            &input,
            &layout_ref(Some(&root.digest)),
            &reg,
            &dst,
            tag.as_deref(),
            &opts,
        ));
        bar.pb.finish_and_clear();
        let report = report.map_err(oci)?;
        summary(&format!("Loaded {}", root.digest), &report);
        println!("{}/{}@{}", dst.registry(), dst.repository(), root.digest);
    }
    Ok(())
}

/// Run `vouch clean`.
pub fn clean(a: &CleanArgs) -> Result<()> {
    let r = parse_image(&a.image)?;
    let what = match a.kind {
        CleanKind::Signature => CleanType::Signature,
        CleanKind::Attestation => CleanType::Attestation,
        CleanKind::Sbom => CleanType::Sbom,
        CleanKind::Referrer => CleanType::Referrer,
        CleanKind::All => CleanType::All,
    };
    if !a.force {
        if !std::io::stdin().is_terminal() {
            return Err(hinted(
                format!(
                    "clean would delete the {:?} artifacts of {}",
                    a.kind, a.image
                ),
                "pass --force to confirm without a terminal",
            ));
        }
        eprint!(
            "This deletes the {:?} artifacts of {}. Continue? (y/[N]) ",
            a.kind, a.image
        );
        let mut answer = String::new();
        std::io::stdin().take(1024).read_to_string(&mut answer).ok();
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("not confirmed: nothing deleted");
        }
    }
    let reg = a.registry.client()?;
    let report = runtime()?
        .block_on(vouch_oci::clean::clean(&reg, &r, what))
        .map_err(oci)?;
    for (what, digest) in &report.removed {
        eprintln!("Removed {what} {digest} from {}", a.image);
    }
    match &report.index {
        Some(Some(d)) => eprintln!("Rewrote the referrers index: {d}"),
        Some(None) => eprintln!("Removed the referrers index (no referrers left)"),
        None => {}
    }
    if report.removed.is_empty() {
        eprintln!("Nothing to remove");
    }
    Ok(())
}

fn read_input(path: &str) -> Result<Vec<u8>> {
    if path == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .take(64 << 20)
            .read_to_end(&mut b)
            .context("cannot read stdin")?;
        return Ok(b);
    }
    std::fs::read(path).with_context(|| format!("cannot read {path}"))
}

/// Run `vouch attach`.
pub fn attach(a: &AttachArgs) -> Result<()> {
    let (image, registry) = match &a.what {
        AttachWhat::Sbom {
            image, registry, ..
        }
        | AttachWhat::Signature {
            image, registry, ..
        }
        | AttachWhat::Attestation {
            image, registry, ..
        } => (image, registry),
    };
    let r = parse_image(image)?;
    let reg = registry.client()?;
    runtime()?.block_on(async {
        let target = vouch_oci::sign::resolve_target(&reg, &r, true)
            .await
            .map_err(oci)?;
        match &a.what {
            AttachWhat::Sbom {
                sbom,
                sbom_type,
                input_format,
                ..
            } => {
                let bytes = read_input(sbom)?;
                let mt = vouch_oci::attach::sbom_media_type(
                    sbom_type,
                    input_format.as_deref(),
                    sbom.ends_with(".json"),
                )
                .map_err(oci)?;
                let d = vouch_oci::attach::attach_sbom(&reg, &target, &bytes, mt)
                    .await
                    .map_err(oci)?;
                eprintln!(
                    "Attached SBOM ({mt}) to {}@{}: tag {} manifest {d}",
                    r.repository(),
                    target.descriptor.digest,
                    vouch_oci::attach::sbom_tag(&target.descriptor.digest)
                );
            }
            AttachWhat::Signature {
                payload,
                signature,
                certificate,
                certificate_chain,
                rekor_response,
                tsr,
                ..
            } => {
                let text = |p: &Option<PathBuf>| -> Result<Option<String>> {
                    p.as_ref()
                        .map(|p| {
                            std::fs::read_to_string(p)
                                .with_context(|| format!("cannot read {}", p.display()))
                        })
                        .transpose()
                };
                let sig = vouch_oci::attach::DetachedSignature {
                    payload: payload
                        .as_ref()
                        .map(|p| {
                            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
                        })
                        .transpose()?,
                    signature: String::from_utf8(read_input(signature)?)
                        .context("the signature file is not base64 text")?,
                    certificate: text(certificate)?,
                    chain: text(certificate_chain)?,
                    rekor_bundle: text(rekor_response)?,
                    timestamp: tsr
                        .as_ref()
                        .map(|p| {
                            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
                        })
                        .transpose()?,
                };
                let d = vouch_oci::attach::attach_signature(&reg, &target, &sig)
                    .await
                    .map_err(oci)?;
                eprintln!(
                    "Attached signature to {}@{}: tag {} manifest {d}",
                    r.repository(),
                    target.descriptor.digest,
                    vouch_oci::layout::legacy_tag(
                        &target.descriptor.digest,
                        vouch_oci::layout::Kind::Signature
                    )
                );
            }
            AttachWhat::Attestation { attestation, .. } => {
                for p in attestation {
                    let env =
                        std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
                    let d = vouch_oci::attach::attach_attestation(&reg, &target, &env)
                        .await
                        .map_err(|e| {
                            hinted(
                                format!("{}: {e}", p.display()),
                                "pass a signed DSSE envelope whose statement is about this image",
                            )
                        })?;
                    eprintln!(
                        "Attached attestation {} to {}@{}: manifest {d}",
                        p.display(),
                        r.repository(),
                        target.descriptor.digest
                    );
                }
            }
        }
        println!("{}", target.descriptor.digest);
        Ok(())
    })
}
