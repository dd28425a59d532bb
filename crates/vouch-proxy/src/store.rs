//! The cache directory: the last served checkpoint, verified tiles and entry bundles, each
//! written durably (temporary file, fsync, rename) through [`vouch_fs`] before it is served.
//!
//! Layout (the tlog-tiles paths, so the directory could itself be served statically):
//! `proxy.json` (the pinned origin), `checkpoint`, `tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>`. Full tiles are kept forever; a partial tile is removed once a wider
//! one at the same position has been stored.

use crate::ProxyError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vouch_core::tiles::TileId;
use vouch_fs::{Access, read_optional, write_durably};

/// What the cache remembers about the log it follows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pinned {
    /// The log's checkpoint origin, pinned on first contact.
    pub origin: String,
}

/// The cache directory.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Use (and create) `dir`.
    pub fn open(dir: &Path) -> Result<Self, ProxyError> {
        std::fs::create_dir_all(dir).map_err(|source| {
            ProxyError::Fs(vouch_fs::FsError {
                step: vouch_fs::Step::CreateDir,
                path: dir.to_path_buf(),
                source,
            })
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn corrupt(path: &Path, reason: impl Into<String>) -> ProxyError {
        ProxyError::Corrupt {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }

    /// The pinned origin, if any.
    pub fn pinned(&self) -> Result<Option<Pinned>, ProxyError> {
        let path = self.dir.join("proxy.json");
        match read_optional(&path)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Self::corrupt(&path, e.to_string())),
        }
    }

    /// Pin the origin.
    pub fn pin(&self, p: &Pinned) -> Result<(), ProxyError> {
        let json = serde_json::to_vec_pretty(p)
            .map_err(|e| Self::corrupt(&self.dir.join("proxy.json"), e.to_string()))?;
        write_durably(&self.dir.join("proxy.json"), &json, Access::Public)?;
        Ok(())
    }

    /// The last checkpoint served (signed note text).
    pub fn checkpoint(&self) -> Result<Option<String>, ProxyError> {
        let path = self.dir.join("checkpoint");
        read_optional(&path)?
            .map(|b| String::from_utf8(b).map_err(|_| Self::corrupt(&path, "not UTF-8")))
            .transpose()
    }

    /// Record the checkpoint now served (after its tiles are stored).
    pub fn set_checkpoint(&self, note: &str) -> Result<(), ProxyError> {
        write_durably(
            &self.dir.join("checkpoint"),
            note.as_bytes(),
            Access::Public,
        )?;
        Ok(())
    }

    fn path(&self, id: &TileId, entries: bool) -> PathBuf {
        self.dir.join(if entries {
            id.entries_path()
        } else {
            id.path()
        })
    }

    /// A stored (verified) hash tile or entry bundle.
    pub fn read(&self, id: &TileId, entries: bool) -> Result<Option<Vec<u8>>, ProxyError> {
        Ok(read_optional(&self.path(id, entries))?)
    }

    /// Store a verified tile durably; storing a wider tile removes the narrower partial ones
    /// at the same position (they are superseded).
    pub fn write(&self, id: &TileId, entries: bool, bytes: &[u8]) -> Result<(), ProxyError> {
        write_durably(&self.path(id, entries), bytes, Access::Public)?;
        let full = TileId { width: 256, ..*id };
        let partial_dir = PathBuf::from(format!("{}.p", self.path(&full, entries).display()));
        if let Ok(rd) = std::fs::read_dir(&partial_dir) {
            for e in rd.flatten() {
                let w: Option<u16> = e.file_name().to_str().and_then(|s| s.parse().ok());
                if w.is_some_and(|w| w < id.width) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }
}
