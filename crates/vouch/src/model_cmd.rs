//! `vouch sign-model` and `vouch verify-model`: ML models signed in the OpenSSF Model Signing
//! v1.0 format (PyPI `model-signing`), so that `model_signing verify` accepts what vouch signs
//! and vouch verifies what `model_signing sign` writes.
//!
//! The manifest (every file's SHA-256, `files` serialization) is an in-toto statement of
//! predicate type `https://model_signing/signature/v1.0`, signed as a DSSE attestation by the
//! same flow as `attest-blob` (keyless, `--key`, or a `pkcs11:` key). The signature file and
//! the git paths are left out, as model-signing does. Verification checks the bundle, then
//! recomputes the manifest from disk and names the first changed, missing or added file.

use crate::cli::{OutputFormat, PolicyArgs};
use crate::sign_cmd::{CommonSign, run_with_hint};
use crate::tlog::hinted;
use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args};
use serde::Serialize;
use std::path::{Path, PathBuf};
use vouch_core::bundle::{Bundle, Content as BundleContent};
use vouch_core::dsse::INTOTO_PAYLOAD_TYPE;
use vouch_core::intoto::Statement;
use vouch_core::keys::HashKind;
use vouch_core::model::{
    HASH_SHA256, Manifest, ManifestMismatch, ManifestVersion, ModelPath, SERIALIZATION_FILES,
};
use vouch_sign::model::{HashOptions, hash_model};
use vouch_sign::{Content, KeyHint};
use vouch_verify::{Artifact, VerificationResult, Verifier};

/// How the model is read: what to leave out, and links.
#[derive(Args, Debug, Clone)]
pub struct ModelHashArgs {
    /// Leave this path out of the manifest (with everything below it); relative to the current
    /// directory, and ignored when outside the model. Repeatable.
    #[arg(long = "ignore-paths", value_name = "PATH")]
    ignore_paths: Vec<PathBuf>,
    /// Leave out .git, .gitattributes, .github and .gitignore (`--ignore-git-paths=false` keeps
    /// them), as model-signing does.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    ignore_git_paths: bool,
    /// Follow symbolic links (their targets are hashed) instead of refusing them.
    #[arg(long)]
    allow_symlinks: bool,
}

/// `vouch sign-model`.
#[derive(Args, Debug)]
pub struct SignModelArgs {
    /// The model: a directory (or a single file).
    model: PathBuf,
    #[command(flatten)]
    hashing: ModelHashArgs,
    #[command(flatten)]
    common: CommonSign,
}

/// `vouch verify-model`.
#[derive(Args, Debug)]
pub struct VerifyModelArgs {
    /// The model: a directory (or a single file).
    model: PathBuf,
    /// The model signature (a Sigstore bundle, model-signing's `model.sig`).
    #[arg(long, alias = "signature")]
    bundle: PathBuf,
    #[command(flatten)]
    hashing: ModelHashArgs,
    /// Accept files on disk that the signature does not list (model-signing's
    /// `--ignore_unsigned_files`); signed files must still all be present and unchanged.
    #[arg(long)]
    ignore_unsigned_files: bool,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

/// `path` (relative to the current directory) as a path inside `model_root` (canonical), if it
/// lies inside; it need not exist yet (a signature about to be written).
fn inside_model(model_root: &Path, path: &Path) -> Option<ModelPath> {
    let abs = std::path::absolute(path).ok()?;
    let resolved = match std::fs::canonicalize(&abs) {
        Ok(p) => p,
        Err(_) => std::fs::canonicalize(abs.parent()?)
            .ok()?
            .join(abs.file_name()?),
    };
    let rel = resolved.strip_prefix(model_root).ok()?;
    let parts = rel
        .components()
        .map(|c| c.as_os_str().to_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()?;
    Some(ModelPath::from_components(parts))
}

impl ModelHashArgs {
    /// Hashing options for `model`, leaving out the `--ignore-paths`, `signature` and `extra`
    /// (paths relative to the model, from a signed manifest).
    fn options(&self, model: &Path, signature: &Path, extra: &[String]) -> Result<HashOptions> {
        let root = std::fs::canonicalize(model)
            .with_context(|| format!("cannot read model {}", model.display()))?;
        let mut ignore: Vec<ModelPath> = self
            .ignore_paths
            .iter()
            .chain(std::iter::once(&signature.to_path_buf()))
            .filter_map(|p| inside_model(&root, p))
            .filter(|p| !p.components().is_empty())
            .collect();
        for p in extra {
            ignore.push(
                ModelPath::parse(p)
                    .with_context(|| "the signature's serialization.ignore_paths")?,
            );
        }
        Ok(HashOptions {
            ignore,
            ignore_git_paths: self.ignore_git_paths,
            allow_symlinks: self.allow_symlinks,
        })
    }
}

fn hash(model: &Path, opts: &HashOptions) -> Result<Manifest> {
    hash_model(model, opts).map_err(|e| {
        let hint = match e {
            vouch_sign::model::ModelHashError::Symlink { .. } => {
                "model-signing refuses symbolic links too unless --allow-symlinks is given"
            }
            _ => "check the model path and its permissions",
        };
        hinted(format!("model {}: {e}", model.display()), hint)
    })
}

/// Run `vouch sign-model`.
pub fn sign_model(a: &SignModelArgs) -> Result<()> {
    let opts = a.hashing.options(&a.model, a.common.bundle(), &[])?;
    let manifest = hash(&a.model, &opts)?;
    if manifest.items.is_empty() {
        bail!("model {} has no files to sign", a.model.display());
    }
    let statement = manifest.to_statement();
    let payload = serde_json::to_vec(&statement).context("cannot encode the model statement")?;
    let root = manifest.root_digest();
    eprintln!(
        "Model {}: {} files, manifest digest sha256:{}",
        manifest.model_name,
        manifest.items.len(),
        hex::encode(&root)
    );
    // model-signing names a signing key by the hex SHA-256 of its PEM, and checks that hint.
    run_with_hint(&a.common, KeyHint::Sha256PemHex, move |_| {
        Ok(Content::Dsse {
            payload_type: INTOTO_PAYLOAD_TYPE.to_string(),
            payload: payload.clone(),
            subject: (HashKind::Sha256, root.clone()),
        })
    })
}

/// A signed model manifest read from a bundle (not yet verified).
pub struct SignedModel {
    /// The bundle.
    pub bundle: Bundle,
    /// The statement.
    pub statement: Statement,
    /// The manifest it describes.
    pub manifest: Manifest,
    /// v1.0 or the legacy predicate.
    pub version: ManifestVersion,
}

impl SignedModel {
    /// Read a model signature bundle and the manifest its statement describes.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read model signature {}", path.display()))?;
        let bundle = Bundle::from_json(&bytes)
            .with_context(|| format!("model signature {}", path.display()))?;
        let Some(BundleContent::Dsse(env)) = bundle.content() else {
            return Err(hinted(
                format!("model signature {} is not a DSSE bundle", path.display()),
                "a model signature is the DSSE bundle `vouch sign-model` or `model_signing sign` writes",
            ));
        };
        if env.payload_type != INTOTO_PAYLOAD_TYPE {
            bail!(
                "model signature {}: DSSE payload type {:?} is not {INTOTO_PAYLOAD_TYPE}",
                path.display(),
                env.payload_type
            );
        }
        let statement = Statement::from_json(env.payload.as_slice())
            .with_context(|| format!("model signature {}", path.display()))?;
        let (manifest, version) = Manifest::from_statement(&statement)
            .with_context(|| format!("model signature {}", path.display()))?;
        Ok(Self {
            bundle,
            statement,
            manifest,
            version,
        })
    }

    /// The digest the bundle's statement is about: the v1.0 subject (the manifest digest), or
    /// a legacy statement's first file.
    pub fn subject_digest(&self) -> Result<Vec<u8>> {
        let hex_digest = self
            .statement
            .subject
            .first()
            .and_then(|s| s.digest.get(HASH_SHA256))
            .context("the model statement has no sha256 subject")?;
        hex::decode(hex_digest).context("the model statement's subject digest is not hex")
    }

    /// Hash the model on disk the way the signature says it was hashed.
    pub fn hash_from_disk(
        &self,
        model: &Path,
        hashing: &ModelHashArgs,
        signature: &Path,
    ) -> Result<Manifest> {
        let s = &self.manifest.serialization;
        if s.method != SERIALIZATION_FILES || s.hash_type != HASH_SHA256 {
            return Err(hinted(
                format!(
                    "the model was signed with {} serialization and {} hashes; vouch recomputes files/sha256 only",
                    s.method, s.hash_type
                ),
                "re-sign the model with model-signing's default serialization (files, sha256)",
            ));
        }
        let opts = hashing.options(model, signature, &s.ignore_paths)?;
        hash(model, &opts)
    }
}

/// What `verify-model -o json` prints.
#[derive(Serialize)]
struct ModelReport<'a> {
    model: &'a str,
    predicate_type: &'a str,
    manifest_digest: String,
    files: usize,
    verification: &'a VerificationResult,
}

/// Run `vouch verify-model`.
pub fn verify_model(a: &VerifyModelArgs) -> Result<()> {
    let signed = SignedModel::read(&a.bundle)?;
    let trust = a.policy.trust()?;
    let policy = a
        .policy
        .policy_builder()?
        .predicate_type(signed.statement.predicate_type.clone())
        .build()?;
    let digest = signed.subject_digest()?;
    let result = Verifier::new(trust).verify(
        &signed.bundle,
        Artifact::Digest {
            algorithm: HashKind::Sha256,
            digest: &digest,
        },
        &policy,
    )?;
    if signed.version == ManifestVersion::LegacyV01 {
        eprintln!(
            "warning: {} uses the legacy model-signing v0.1 predicate; re-sign it to get a manifest digest",
            a.bundle.display()
        );
    }
    let mut actual = signed.hash_from_disk(&a.model, &a.hashing, &a.bundle)?;
    if a.ignore_unsigned_files {
        actual
            .items
            .retain(|p, _| signed.manifest.items.contains_key(p));
    }
    signed.manifest.compare(&actual).map_err(mismatch)?;
    match a.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&ModelReport {
                model: &actual.model_name,
                predicate_type: &signed.statement.predicate_type,
                manifest_digest: format!("sha256:{}", hex::encode(actual.root_digest())),
                files: actual.items.len(),
                verification: &result,
            })?
        ),
        OutputFormat::Text => {
            match &result.identity {
                Some(id) => eprintln!(
                    "Verified signer: {} (issuer {})",
                    id.san.as_deref().unwrap_or("?"),
                    id.issuer.as_deref().unwrap_or("?")
                ),
                None => eprintln!("Verified signer: {} public key", result.key),
            }
            for e in &result.tlog_entries {
                eprintln!("Transparency log: {} index {}", e.log, e.log_index);
            }
            eprintln!(
                "Verified model {}: {} files match the signed manifest",
                a.model.display(),
                actual.items.len()
            );
        }
    }
    Ok(())
}

fn mismatch(m: ManifestMismatch) -> anyhow::Error {
    use vouch_core::model::Difference;
    let hint = match m.difference {
        Difference::Changed { .. } => {
            "the model was modified after signing: restore the signed files, or sign the new model"
        }
        Difference::Missing => "the model is incomplete: fetch the missing file",
        Difference::Added => {
            "remove the extra file, leave it out with --ignore-paths, or pass --ignore-unsigned-files"
        }
    };
    hinted(m.to_string(), hint)
}

/// The digest a policy is evaluated against for a model directory: the manifest digest of the
/// model on disk, hashed as the (not yet verified) signature in `bundle` says it was.
pub fn model_policy_digest(model: &Path, bundle: &Path) -> Result<Vec<u8>> {
    let signed = SignedModel::read(bundle)?;
    let hashing = ModelHashArgs {
        ignore_paths: Vec::new(),
        ignore_git_paths: true,
        allow_symlinks: signed.manifest.serialization.allow_symlinks,
    };
    let actual = signed.hash_from_disk(model, &hashing, bundle)?;
    signed.manifest.compare(&actual).map_err(mismatch)?;
    match signed.version {
        ManifestVersion::V1 => Ok(actual.root_digest()),
        ManifestVersion::LegacyV01 => signed.subject_digest(),
    }
}
