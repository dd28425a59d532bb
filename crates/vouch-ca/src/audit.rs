//! The issuance audit log ([`vouch_core::ca_audit`]): one JSON line per certificate, appended
//! and fsynced ([`vouch_fs::DurableAppender`]) before the certificate is answered. When the
//! line cannot be written the request fails (503) and no certificate is handed out, so every
//! certificate a client holds is in the log.
//!
//! One writer thread owns the file and commits in groups: it takes every line queued while the
//! previous fsync ran, writes them at once and fsyncs once, then answers each request. Requests
//! wait on a channel, not on a blocking thread each, so a busy CA neither serializes on one
//! fsync per certificate nor keeps a thread (and its allocator heap) per request in flight.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use tokio::sync::oneshot;
use vouch_core::ca_audit::IssuanceRecord;
use vouch_fs::{Access, DurableAppender, FsError};

/// Most lines the writer commits with one fsync.
pub const MAX_GROUP_LINES: usize = 4096;

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
    /// The writer thread could not be started.
    #[error("audit writer thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The writer thread is gone (it stopped or panicked): nothing more can be logged.
    #[error("audit writer stopped")]
    WriterStopped,
}

type Queued = (Vec<u8>, oneshot::Sender<Result<(), FsError>>);

/// An open audit log, shared by every request.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Queued>,
    path: PathBuf,
}

impl AuditLog {
    /// Open (or create) the audit log at `path` and start its writer thread.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let file = DurableAppender::open(path, Access::Private).map_err(AuditError::Fs)?;
        let (tx, rx) = mpsc::channel::<Queued>();
        std::thread::Builder::new()
            .name("vouch-ca-audit".into())
            .spawn(move || write_groups(file, &rx))
            .map_err(AuditError::Thread)?;
        Ok(Self {
            tx,
            path: path.to_path_buf(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Append `record` durably: answered once the line (with those queued beside it) is
    /// fsynced.
    pub async fn append(&self, record: &IssuanceRecord) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(record).map_err(AuditError::Json)?;
        line.push(b'\n');
        let (done, answer) = oneshot::channel();
        self.tx
            .send((line, done))
            .map_err(|_| AuditError::WriterStopped)?;
        answer
            .await
            .map_err(|_| AuditError::WriterStopped)?
            .map_err(AuditError::Fs)
    }
}

/// The writer thread: until every [`AuditLog`] is dropped, commit whatever is queued as one
/// write and one fsync, and answer each line's request with the outcome.
fn write_groups(mut file: DurableAppender, rx: &mpsc::Receiver<Queued>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP_LINES {
            match rx.try_recv() {
                Ok(q) => group.push(q),
                Err(_) => break,
            }
        }
        let mut bytes = Vec::with_capacity(group.iter().map(|(l, _)| l.len()).sum());
        for (line, _) in &group {
            bytes.extend_from_slice(line);
        }
        match file.append(&bytes) {
            Ok(()) => {
                for (_, done) in group {
                    let _ = done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, lines = group.len(), "audit lines not written");
                for (_, done) in group {
                    let _ = done.send(Err(same_error(&e)));
                }
            }
        }
    }
}

/// A copy of `e` for each request of a failed group (same step, path and error kind).
fn same_error(e: &FsError) -> FsError {
    FsError {
        step: e.step,
        path: e.path.clone(),
        source: std::io::Error::new(e.source.kind(), e.source.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(i: usize) -> IssuanceRecord {
        IssuanceRecord {
            time: "2026-12-08T00:00:00Z".into(),
            identity: format!("user{i}@example.com"),
            issuer: "https://oidc.example.com".into(),
            serial: format!("{i:x}"),
            certificate_sha256: "00".repeat(32),
            client_address: None,
            certificate: String::new(),
        }
    }

    /// Concurrent requests are committed in groups, each line whole and answered only after
    /// its group is written; no request waits on a thread of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_are_committed_whole_in_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca_audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move { log.append(&record(i)).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut serials: Vec<u64> = text
            .lines()
            .map(|l| {
                let r: IssuanceRecord = serde_json::from_str(l).unwrap();
                u64::from_str_radix(&r.serial, 16).unwrap()
            })
            .collect();
        serials.sort_unstable();
        assert_eq!(serials, (0..500).collect::<Vec<u64>>());
        assert_eq!(log.path(), path);
    }
}
