//! # vouch-fs
//!
//! The one durable file write used by every vouch crate (keys, tiles, bundles, trust material,
//! TUF metadata): write a temporary file in the same directory, fsync it, rename it over the
//! target, then fsync the directory, so that a crash leaves either the old file or the new one
//! and an acknowledged write survives power loss.
//!
//! A bare file name (`README.md.sigstore.json`) has an empty parent path; it means the current
//! directory, and is synced as `.`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Which step of a durable write failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Creating the parent directory.
    CreateDir,
    /// Creating or writing the temporary file.
    Write,
    /// Fsyncing the temporary file.
    SyncFile,
    /// Renaming the temporary file over the target.
    Rename,
    /// Fsyncing the directory.
    SyncDir,
    /// Reading a file.
    Read,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::CreateDir => "cannot create directory",
            Step::Write => "cannot write",
            Step::SyncFile => "cannot fsync",
            Step::Rename => "cannot rename into place",
            Step::SyncDir => "cannot fsync directory",
            Step::Read => "cannot read",
        })
    }
}

/// A failed file operation: the step, the path and the operating system's error (whose
/// [`std::io::ErrorKind`] callers can inspect through [`FsError::kind`]).
#[derive(Debug, thiserror::Error)]
#[error("{step} {}: {source}", path.display())]
pub struct FsError {
    /// The step that failed.
    pub step: Step,
    /// The file or directory it failed on.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

impl FsError {
    fn new(step: Step, path: &Path, source: std::io::Error) -> Self {
        Self {
            step,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The kind of the underlying I/O error (e.g. `NotFound`, `PermissionDenied`, `StorageFull`).
    pub fn kind(&self) -> std::io::ErrorKind {
        self.source.kind()
    }
}

/// Who may read the new file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Mode 0644: certificates, trust roots, bundles, tiles.
    Public,
    /// Mode 0600: private keys and secrets.
    Private,
}

/// Give files created through `opts` the mode of `access` (Unix only).
fn set_mode(opts: &mut std::fs::OpenOptions, access: Access) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(match access {
            Access::Public => 0o644,
            Access::Private => 0o600,
        });
    }
    #[cfg(not(unix))]
    let _ = (opts, access);
}

/// The directory a path lives in; the empty parent of a bare file name is `.`.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Write `data` to `path` durably: temporary file, fsync, rename over `path`, fsync of the
/// directory. Parent directories are created.
pub fn write_durably(path: &Path, data: &[u8], access: Access) -> Result<(), FsError> {
    write_synced(path, data, access)?;
    sync_dir(parent_dir(path))
}

/// Like [`write_durably`] but without the directory fsync, for callers that write many files
/// into a few directories and sync each directory once with [`sync_dir`] (the log's tiles).
pub fn write_synced(path: &Path, data: &[u8], access: Access) -> Result<(), FsError> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir).map_err(|e| FsError::new(Step::CreateDir, dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        set_mode(&mut opts, access);
        let mut f = opts
            .open(&tmp)
            .map_err(|e| FsError::new(Step::Write, &tmp, e))?;
        f.write_all(data)
            .map_err(|e| FsError::new(Step::Write, &tmp, e))?;
        f.sync_all()
            .map_err(|e| FsError::new(Step::SyncFile, &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| FsError::new(Step::Rename, path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Append `data` to `path` (created 0644 with its parent directories if missing) and fsync
/// it before returning, so that an acknowledged line of a log file (decision logs) survives a
/// crash: a one-shot [`DurableAppender`] (a torn tail left by a crash is dropped first).
pub fn append_durably(path: &Path, data: &[u8]) -> Result<(), FsError> {
    DurableAppender::open(path, Access::Public)?.append(data)
}

/// Fsync a directory so that renames into it are durable (a no-op where directories cannot be
/// opened, i.e. not on Unix). An empty path means the current directory.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    #[cfg(unix)]
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FsError::new(Step::SyncDir, dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Read a file, `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FsError::new(Step::Read, path, e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn bare_file_name_is_written_in_the_current_directory() {
        // The newcomer's first command: `--bundle README.md.sigstore.json` (no directory).
        let dir = tempfile::tempdir().unwrap();
        let old = std::env::current_dir().unwrap();
        std::env::set_current_dir(dir.path()).unwrap();
        let r = write_durably(Path::new("bundle.json"), b"{}", Access::Public);
        std::env::set_current_dir(old).unwrap();
        r.unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("bundle.json")).unwrap(),
            b"{}"
        );
        assert_eq!(parent_dir(Path::new("x")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/x")), Path::new("a"));
    }

    #[test]
    fn appends_lines_creating_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("logs/decisions.jsonl");
        append_durably(&p, b"one\n").unwrap();
        append_durably(&p, b"two\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one\ntwo\n");
    }

    #[test]
    fn replaces_creates_parents_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/c.txt");
        write_durably(&p, b"one", Access::Public).unwrap();
        write_durably(&p, b"two", Access::Private).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("c.txt")]);
        assert_eq!(read_optional(&dir.path().join("none")).unwrap(), None);
    }

    #[test]
    fn errors_keep_the_io_kind_and_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        // A path whose "directory" is a regular file cannot be written.
        let e = write_durably(&file.join("child"), b"y", Access::Public).unwrap_err();
        assert_eq!(e.step, Step::CreateDir);
        assert!(e.to_string().contains(&file.display().to_string()), "{e}");
        assert_ne!(e.kind(), std::io::ErrorKind::Other);
    }
}

/// An append-only file of records (one per [`DurableAppender::append`]), each durable when the
/// call returns: written whole, then fsynced. For audit logs, where rewriting the file for every
/// record (as [`write_durably`] does) would be quadratic.
///
/// Opening truncates a torn tail (bytes after the last `\n`, left by a crash in the middle of
/// an append, which was therefore never acknowledged), so records stay one per line.
#[derive(Debug)]
pub struct DurableAppender {
    file: std::fs::File,
    path: PathBuf,
}

impl DurableAppender {
    /// Open (or create, with its parent directories) the file at `path` for appending.
    pub fn open(path: &Path, access: Access) -> Result<Self, FsError> {
        use std::io::{Read, Seek, SeekFrom};
        let dir = parent_dir(path);
        std::fs::create_dir_all(dir).map_err(|e| FsError::new(Step::CreateDir, dir, e))?;
        let existed = path.exists();
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).append(true).create(true);
        set_mode(&mut opts, access);
        let mut file = opts
            .open(path)
            .map_err(|e| FsError::new(Step::Write, path, e))?;
        let len = file
            .metadata()
            .map_err(|e| FsError::new(Step::Read, path, e))?
            .len();
        // Find the end of the last complete line, reading backwards in blocks.
        let mut end = len;
        let mut buf = [0u8; 4096];
        'scan: while end > 0 {
            let start = end.saturating_sub(buf.len() as u64);
            let n = usize::try_from(end - start).unwrap_or(buf.len());
            file.seek(SeekFrom::Start(start))
                .and_then(|_| file.read_exact(&mut buf[..n]))
                .map_err(|e| FsError::new(Step::Read, path, e))?;
            for i in (0..n).rev() {
                if buf[i] == b'\n' {
                    end = start + i as u64 + 1;
                    break 'scan;
                }
            }
            end = start;
        }
        if end != len {
            file.set_len(end)
                .and_then(|()| file.sync_all())
                .map_err(|e| FsError::new(Step::Write, path, e))?;
        }
        if !existed {
            sync_dir(dir)?;
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Append `record` (which should end with `\n`) and fsync it.
    pub fn append(&mut self, record: &[u8]) -> Result<(), FsError> {
        self.file
            .write_all(record)
            .map_err(|e| FsError::new(Step::Write, &self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| FsError::new(Step::SyncFile, &self.path, e))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod appender_tests {
    use super::*;

    #[test]
    fn appends_lines_and_drops_a_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub").join("audit.jsonl");
        let mut a = DurableAppender::open(&p, Access::Public).unwrap();
        a.append(b"one\n").unwrap();
        a.append(b"two\n").unwrap();
        drop(a);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"tor")
            .unwrap();
        let mut a = DurableAppender::open(&p, Access::Public).unwrap();
        a.append(b"three\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwo\nthree\n");
        std::fs::write(&p, "no newline at all").unwrap();
        DurableAppender::open(&p, Access::Public).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "");
    }
}
