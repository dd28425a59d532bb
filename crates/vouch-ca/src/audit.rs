//! The issuance audit log ([`vouch_core::ca_audit`]): one JSON line per certificate, appended
//! and fsynced ([`vouch_fs::DurableAppender`]) before the certificate is answered. When the
//! line cannot be written the request fails (503) and no certificate is handed out, so every
//! certificate a client holds is in the log.

use std::path::Path;
use std::sync::{Arc, Mutex};
use vouch_core::ca_audit::IssuanceRecord;
use vouch_fs::{Access, DurableAppender, FsError};

/// Why an audit line could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The file operation failed.
    #[error("audit log: {0}")]
    Fs(#[source] FsError),
    /// The record does not encode.
    #[error("audit record: {0}")]
    Json(#[source] serde_json::Error),
    /// The writer task failed.
    #[error("audit writer task: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// An open audit log, shared by every request.
#[derive(Debug, Clone)]
pub struct AuditLog {
    file: Arc<Mutex<DurableAppender>>,
}

impl AuditLog {
    /// Open (or create) the audit log at `path`.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let f = DurableAppender::open(path, Access::Private).map_err(AuditError::Fs)?;
        Ok(Self {
            file: Arc::new(Mutex::new(f)),
        })
    }

    /// The file's path.
    pub fn path(&self) -> std::path::PathBuf {
        let f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.path().to_path_buf()
    }

    /// Append `record` durably (on a blocking thread: the fsync may take milliseconds).
    pub async fn append(&self, record: &IssuanceRecord) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(record).map_err(AuditError::Json)?;
        line.push(b'\n');
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            f.append(&line)
        })
        .await
        .map_err(AuditError::Task)?
        .map_err(AuditError::Fs)
    }
}
