//! Durable file writes: temp file in the same directory, fsync, rename, fsync the directory.

use crate::TufError;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` through the one durable-write helper ([`vouch_fs::write_durably`]).
/// `mode` `Some(0o600)` makes the file private (keys); anything else is 0644.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), TufError> {
    let access = if mode == Some(0o600) {
        vouch_fs::Access::Private
    } else {
        vouch_fs::Access::Public
    };
    Ok(vouch_fs::write_durably(path, bytes, access)?)
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
    .map_err(TufError::Task)?
}

/// Read a file, `None` when it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, TufError> {
    Ok(vouch_fs::read_optional(path)?)
}
