//! Durable file writes: temp file in the same directory, fsync, rename, fsync the directory.

use crate::TufError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to `path` so that a crash leaves either the old file or the new one.
/// `mode` (Unix permission bits) applies to the new file, e.g. `0o600` for keys.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), TufError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TufError::io("creating", dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode.unwrap_or(0o644));
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts
            .open(&tmp)
            .map_err(|e| TufError::io("creating", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| TufError::io("writing", &tmp, e))?;
        f.sync_all().map_err(|e| TufError::io("syncing", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| TufError::io("renaming to", path, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write several files durably, in order, off the async runtime's worker threads.
pub(crate) async fn write_all_atomic(files: Vec<(PathBuf, Vec<u8>)>) -> Result<(), TufError> {
    tokio::task::spawn_blocking(move || {
        for (path, bytes) in files {
            write_atomic(&path, &bytes, None)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| TufError::Invalid(format!("writer task failed: {e}")))?
}

fn sync_dir(dir: &Path) -> Result<(), TufError> {
    #[cfg(unix)]
    {
        let d = std::fs::File::open(dir).map_err(|e| TufError::io("opening", dir, e))?;
        d.sync_all().map_err(|e| TufError::io("syncing", dir, e))?;
    }
    Ok(())
}

/// Read a file, `None` when it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, TufError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TufError::io("reading", path, e)),
    }
}
