//! Auditing a directory of release artifacts with their Sigstore bundles beside them:
//! `X.sigstore.json` (a signature or an attestation) and `X.<anything>.sigstore.json` (further
//! attestations: `X.provenance.sigstore.json`, `X.sbom.sigstore.json`, …).

use crate::AuditError;
use crate::facts::{ArtifactAudit, EvidenceChecker};
use std::path::{Path, PathBuf};
use vouch_core::keys::HashKind;
use vouch_policy::{ArtifactInput, Engine, EvalContext, SignatureSource};
use vouch_verify::Artifact;

/// The suffix of bundle files.
pub const BUNDLE_SUFFIX: &str = ".sigstore.json";
/// Deepest directory nesting walked.
pub const MAX_DIR_DEPTH: usize = 32;

/// A file and the bundles found beside it.
#[derive(Clone, Debug)]
pub struct DirArtifact {
    /// The file.
    pub path: PathBuf,
    /// Its path relative to the audited directory, `/`-separated (what policies match).
    pub name: String,
    /// Its directory relative to the audited one (`.` at the top).
    pub directory: String,
    /// Bundle files about it.
    pub bundles: Vec<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Every non-bundle file under `dir` with its bundles, sorted by name.
pub fn scan(dir: &Path) -> Result<Vec<DirArtifact>, AuditError> {
    let mut out = Vec::new();
    walk(dir, "", 0, &mut out)?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn walk(dir: &Path, rel: &str, depth: usize, out: &mut Vec<DirArtifact>) -> Result<(), AuditError> {
    if depth > MAX_DIR_DEPTH {
        return Err(AuditError::TooDeep {
            path: dir.to_path_buf(),
        });
    }
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        names.push((e.file_name().to_string_lossy().into_owned(), e.path()));
    }
    names.sort();
    let bundles: Vec<&(String, PathBuf)> = names
        .iter()
        .filter(|(n, _)| n.ends_with(BUNDLE_SUFFIX))
        .collect();
    for (name, path) in &names {
        let meta = std::fs::metadata(path).map_err(io(path))?;
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if meta.is_dir() {
            walk(path, &child, depth + 1, out)?;
            continue;
        }
        if name.ends_with(BUNDLE_SUFFIX) || !meta.is_file() {
            continue;
        }
        let exact = format!("{name}{BUNDLE_SUFFIX}");
        let prefix = format!("{name}.");
        let mine = bundles
            .iter()
            .filter(|(b, _)| *b == exact || b.starts_with(&prefix))
            .map(|(_, p)| p.clone())
            .collect();
        out.push(DirArtifact {
            path: path.clone(),
            name: child,
            directory: if rel.is_empty() {
                ".".into()
            } else {
                rel.to_string()
            },
            bundles: mine,
        });
    }
    Ok(())
}

/// Audit every file of `dir`: each bundle checked offline, the ArtifactPolicies evaluated.
pub fn audit<S: SignatureSource>(
    dir: &Path,
    engine: &Engine<S>,
    checker: &EvidenceChecker<'_>,
    ctx: &EvalContext,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<ArtifactAudit>, AuditError> {
    let files = scan(dir)?;
    let mut out = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        progress(i, files.len());
        let digest = hash_file(&f.path)?;
        let mut raw = Vec::new();
        let mut evidence = Vec::new();
        for b in &f.bundles {
            let bytes = std::fs::read(b).map_err(io(b))?;
            let location = b
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            evidence.push(checker.check_bundle(&bytes, &digest, &location, None));
            raw.push(bytes);
        }
        let decision = engine.evaluate_artifact(
            &ArtifactInput {
                name: &f.name,
                artifact: Artifact::Digest {
                    algorithm: HashKind::Sha256,
                    digest: &digest,
                },
                bundles: &raw,
            },
            ctx,
        );
        out.push(ArtifactAudit::new(
            f.name.clone(),
            f.directory.clone(),
            Vec::new(),
            evidence,
            &decision,
        ));
    }
    progress(files.len(), files.len());
    Ok(out)
}

fn hash_file(path: &Path) -> Result<Vec<u8>, AuditError> {
    let f = std::fs::File::open(path).map_err(io(path))?;
    HashKind::Sha256.digest_reader(f).map_err(io(path))
}
