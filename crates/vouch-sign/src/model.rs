//! Hashing a model directory into an OpenSSF Model Signing manifest ([`vouch_core::model`]),
//! the way PyPI `model-signing` 1.1.1 serializes it with `files` serialization: every regular
//! file under the model root (dot files included, empty directories not), SHA-256 of its
//! content, paths relative to the root; ignored paths and everything under them are left out;
//! a symbolic link is an error unless links are allowed, and then its target is hashed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use vouch_core::model::{GIT_PATHS, HASH_SHA256, ItemDigest, Manifest, ModelPath, Serialization};

/// Deepest directory nesting followed (a bound against symbolic-link cycles).
pub const MAX_MODEL_DEPTH: usize = 64;

/// What to leave out and how to treat links.
#[derive(Clone, Debug, Default)]
pub struct HashOptions {
    /// Paths relative to the model root to leave out (with everything below them).
    pub ignore: Vec<ModelPath>,
    /// Also leave out `.git`, `.gitattributes`, `.github`, `.gitignore` (model-signing's default).
    pub ignore_git_paths: bool,
    /// Follow symbolic links instead of refusing them.
    pub allow_symlinks: bool,
}

impl HashOptions {
    /// Every ignored path, git paths included when asked, sorted and without repeats: what the
    /// signature records as `ignore_paths`.
    pub fn ignored(&self) -> Vec<ModelPath> {
        let mut all = self.ignore.clone();
        if self.ignore_git_paths {
            all.extend(
                GIT_PATHS
                    .iter()
                    .map(|p| ModelPath::from_components(vec![p.to_string()])),
            );
        }
        all.sort();
        all.dedup();
        all
    }
}

/// Why a model could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelHashError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A symbolic link was found and links are not allowed.
    #[error("{path} is a symbolic link (pass --allow-symlinks to follow links)")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// Neither a regular file nor a directory (a socket, a pipe, a device).
    #[error("{path} is neither a file nor a directory")]
    SpecialFile {
        /// The path.
        path: PathBuf,
    },
    /// Directories nest deeper than [`MAX_MODEL_DEPTH`].
    #[error(
        "{path} is nested more than {MAX_MODEL_DEPTH} directories deep (a symbolic link cycle?)"
    )]
    TooDeep {
        /// The path.
        path: PathBuf,
    },
    /// A file name is not UTF-8 (model-signing records names as JSON strings).
    #[error("{path}: the file name is not UTF-8")]
    NonUtf8Name {
        /// The path.
        path: PathBuf,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelHashError + '_ {
    move |source| ModelHashError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The model's name as model-signing records it: the path's last component, or the resolved
/// directory's name for `.` and `..`.
pub fn model_name(model: &Path) -> String {
    let last = model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !last.is_empty() && last != ".." {
        return last;
    }
    std::fs::canonicalize(model)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// Hash the model at `model` (a directory, or a single file) into a manifest.
pub fn hash_model(model: &Path, opts: &HashOptions) -> Result<Manifest, ModelHashError> {
    let ignored = opts.ignored();
    let mut files = Vec::new();
    collect(model, &ModelPath::default(), opts, &ignored, 0, &mut files)?;
    let digests = hash_files(&files)?;
    Ok(Manifest {
        model_name: model_name(model),
        serialization: Serialization::files_sha256(
            opts.allow_symlinks,
            ignored.iter().map(|p| p.to_string()).collect(),
        ),
        items: files
            .into_iter()
            .map(|(p, _)| p)
            .zip(digests)
            .map(|(p, value)| {
                (
                    p,
                    ItemDigest {
                        algorithm: HASH_SHA256.to_string(),
                        value,
                    },
                )
            })
            .collect(),
    })
}

fn collect(
    path: &Path,
    rel: &ModelPath,
    opts: &HashOptions,
    ignored: &[ModelPath],
    depth: usize,
    out: &mut Vec<(ModelPath, PathBuf)>,
) -> Result<(), ModelHashError> {
    if ignored.iter().any(|i| rel.starts_with(i)) && !rel.components().is_empty() {
        return Ok(());
    }
    let lmeta = std::fs::symlink_metadata(path).map_err(io(path))?;
    if lmeta.file_type().is_symlink() && !opts.allow_symlinks {
        return Err(ModelHashError::Symlink {
            path: path.to_path_buf(),
        });
    }
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if meta.is_file() {
        out.push((rel.clone(), path.to_path_buf()));
        return Ok(());
    }
    if !meta.is_dir() {
        return Err(ModelHashError::SpecialFile {
            path: path.to_path_buf(),
        });
    }
    if depth >= MAX_MODEL_DEPTH {
        return Err(ModelHashError::TooDeep {
            path: path.to_path_buf(),
        });
    }
    let mut entries = Vec::new();
    for e in std::fs::read_dir(path).map_err(io(path))? {
        let e = e.map_err(io(path))?;
        let name = e
            .file_name()
            .into_string()
            .map_err(|_| ModelHashError::NonUtf8Name { path: e.path() })?;
        entries.push(name);
    }
    entries.sort();
    for name in entries {
        let mut parts = rel.components().to_vec();
        parts.push(name.clone());
        collect(
            &path.join(&name),
            &ModelPath::from_components(parts),
            opts,
            ignored,
            depth + 1,
            out,
        )?;
    }
    Ok(())
}

/// One file's digest, or why it could not be read.
type HashResult = Result<Vec<u8>, ModelHashError>;

/// SHA-256 of each file, on all cores, in the order given.
fn hash_files(files: &[(ModelPath, PathBuf)]) -> Result<Vec<Vec<u8>>, ModelHashError> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<HashResult>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, path)) = files.get(i) else { break };
                    let r = hash_file(path);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    let all = results.into_inner().unwrap_or_default();
    let mut out = Vec::with_capacity(files.len());
    for (r, (_, path)) in all.into_iter().zip(files) {
        match r {
            Some(r) => out.push(r?),
            None => {
                return Err(ModelHashError::Io {
                    path: path.clone(),
                    source: std::io::Error::other("the hashing thread failed"),
                });
            }
        }
    }
    Ok(out)
}

/// SHA-256 of one file, streamed in 1 MiB chunks (model-signing's default chunk size).
pub fn hash_file(path: &Path) -> Result<Vec<u8>, ModelHashError> {
    let f = std::fs::File::open(path).map_err(io(path))?;
    vouch_core::keys::HashKind::Sha256
        .digest_reader(f)
        .map_err(io(path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn walks_sorted_ignores_and_refuses_links() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("my-model");
        std::fs::create_dir_all(m.join("sub/deep")).unwrap();
        std::fs::create_dir_all(m.join(".git")).unwrap();
        std::fs::write(m.join("weights.bin"), b"w").unwrap();
        std::fs::write(m.join("sub/deep/a.json"), b"a").unwrap();
        std::fs::write(m.join("sub-x"), b"x").unwrap();
        std::fs::write(m.join(".git/HEAD"), b"ref").unwrap();
        std::fs::write(m.join("model.sig"), b"{}").unwrap();
        let opts = HashOptions {
            ignore: vec![ModelPath::parse("model.sig").unwrap()],
            ignore_git_paths: true,
            allow_symlinks: false,
        };
        let man = hash_model(&m, &opts).unwrap();
        assert_eq!(man.model_name, "my-model");
        let names: Vec<String> = man.resources().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["sub/deep/a.json", "sub-x", "weights.bin"]);
        assert_eq!(
            man.serialization.ignore_paths,
            [
                ".git",
                ".gitattributes",
                ".github",
                ".gitignore",
                "model.sig"
            ]
        );
        assert_eq!(
            man.resources()[2].digest,
            hex::encode(vouch_core::keys::HashKind::Sha256.digest(b"w"))
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("weights.bin", m.join("link")).unwrap();
            assert!(matches!(
                hash_model(&m, &opts),
                Err(ModelHashError::Symlink { .. })
            ));
            let follow = HashOptions {
                allow_symlinks: true,
                ..opts
            };
            assert_eq!(hash_model(&m, &follow).unwrap().items.len(), 4);
        }
    }
}
