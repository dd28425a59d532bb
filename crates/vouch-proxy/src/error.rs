//! The proxy's typed errors: every refusal names the check and the values involved.

use vouch_core::merkle::ProofError;
use vouch_core::note::NoteError;
use vouch_core::tiles::TileError;
use vouch_core::tlog_policy::QuorumError;

/// Why the proxy refused an upstream answer, or could not answer a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The upstream could not be reached or did not answer.
    #[error("upstream {url} is unreachable: {source}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The upstream answered with an unexpected HTTP status.
    #[error("upstream {url} answered HTTP {status}")]
    UpstreamStatus {
        /// The URL requested.
        url: String,
        /// The status.
        status: u16,
    },
    /// The upstream checkpoint is not a well-formed signed note or checkpoint.
    #[error("upstream checkpoint is malformed: {0}")]
    MalformedCheckpoint(#[source] NoteError),
    /// The upstream checkpoint's origin is not the one this cache follows.
    #[error("upstream checkpoint origin mismatch: expected {expected:?}, got {got:?}")]
    OriginMismatch {
        /// The pinned origin.
        expected: String,
        /// The origin served.
        got: String,
    },
    /// The upstream checkpoint is not signed by the log key.
    #[error("upstream checkpoint signature check failed: {0}")]
    Signature(#[source] NoteError),
    /// The log key cannot verify checkpoints.
    #[error("log public key cannot verify checkpoints: {0}")]
    LogKey(#[source] NoteError),
    /// The upstream checkpoint lacks the witness quorum.
    #[error("upstream checkpoint fails the witness policy: {0}")]
    Witness(#[source] QuorumError),
    /// The upstream tree is smaller than the one already served (a rollback).
    #[error(
        "upstream rolled back: it serves tree size {got}, but this cache already served size {served}"
    )]
    Rollback {
        /// The size already served.
        served: u64,
        /// The size now served upstream.
        got: u64,
    },
    /// The upstream tree is not an append-only extension of the one already served.
    #[error(
        "upstream is not consistent with the checkpoint already served (size {old_size} root {old_root}, upstream size {new_size} root {new_root}): {source}"
    )]
    Inconsistent {
        /// Size already served.
        old_size: u64,
        /// Hex root already served.
        old_root: String,
        /// Size upstream.
        new_size: u64,
        /// Hex root upstream.
        new_root: String,
        /// The failed proof check.
        #[source]
        source: ProofError,
    },
    /// A tile from the upstream does not verify against the checkpoint.
    #[error("upstream tile {path} does not verify against the checkpoint (size {size}): {reason}")]
    TileMismatch {
        /// The tile path.
        path: String,
        /// The checkpoint size.
        size: u64,
        /// What did not match.
        reason: String,
    },
    /// Tile bytes are malformed.
    #[error("upstream tile {path}: {source}")]
    BadTile {
        /// The tile path.
        path: String,
        /// Why.
        #[source]
        source: TileError,
    },
    /// A Merkle computation over verified tiles failed (bad index or size).
    #[error("{0}")]
    Proof(#[source] ProofError),
    /// The request names something beyond the verified checkpoint.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// No checkpoint has been verified yet.
    #[error(
        "no verified checkpoint yet: the upstream has not been reached since this cache was created"
    )]
    NoCheckpoint,
    /// The served checkpoint is older than the configured maximum.
    #[error(
        "cached checkpoint is {age_secs} s old, over --max-stale {max_secs} s; last upstream error: {last_error}"
    )]
    TooStale {
        /// Age in seconds.
        age_secs: u64,
        /// The configured maximum.
        max_secs: u64,
        /// The last refresh failure.
        last_error: String,
    },
    /// The cache directory could not be read or written.
    #[error("cache storage: {0}")]
    Fs(#[from] vouch_fs::FsError),
    /// A cached file is corrupt.
    #[error("cache file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The cached checkpoint does not verify, or its edge tiles do not reproduce it.
    #[error("cache file {path} is corrupt: {source}")]
    CorruptCheckpoint {
        /// The checkpoint file.
        path: String,
        /// The failed check.
        #[source]
        source: Box<ProxyError>,
    },
    /// A cached edge tile of the checkpoint does not parse.
    #[error("cache file {path} is corrupt: edge tile {tile}: {source}")]
    CorruptTile {
        /// The checkpoint file.
        path: String,
        /// The tile path.
        tile: String,
        /// Why.
        #[source]
        source: TileError,
    },
    /// A storage or tile fetch task panicked or was cancelled (answered as not found).
    #[error("{what} failed: {source}")]
    Task {
        /// Which task.
        what: &'static str,
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl ProxyError {
    /// A short machine label for metrics (`vouch_proxy_upstream_errors_total{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            ProxyError::Unreachable { .. } => "unreachable",
            ProxyError::UpstreamStatus { .. } => "http_status",
            ProxyError::MalformedCheckpoint(_) => "malformed_checkpoint",
            ProxyError::OriginMismatch { .. } => "origin",
            ProxyError::Signature(_) | ProxyError::LogKey(_) => "signature",
            ProxyError::Witness(_) => "witness",
            ProxyError::Rollback { .. } => "rollback",
            ProxyError::Inconsistent { .. } => "consistency",
            ProxyError::TileMismatch { .. } | ProxyError::BadTile { .. } => "tile",
            ProxyError::Proof(_) => "proof",
            ProxyError::NotFound(_) | ProxyError::Task { .. } => "not_found",
            ProxyError::BadRequest(_) => "bad_request",
            ProxyError::NoCheckpoint => "no_checkpoint",
            ProxyError::TooStale { .. } => "too_stale",
            ProxyError::Fs(_)
            | ProxyError::Corrupt { .. }
            | ProxyError::CorruptCheckpoint { .. }
            | ProxyError::CorruptTile { .. } => "storage",
        }
    }

    /// Whether this is the upstream's fault (as opposed to the client's request).
    pub fn is_upstream(&self) -> bool {
        matches!(
            self,
            ProxyError::Unreachable { .. }
                | ProxyError::UpstreamStatus { .. }
                | ProxyError::MalformedCheckpoint(_)
                | ProxyError::OriginMismatch { .. }
                | ProxyError::Signature(_)
                | ProxyError::Witness(_)
                | ProxyError::Rollback { .. }
                | ProxyError::Inconsistent { .. }
                | ProxyError::TileMismatch { .. }
                | ProxyError::BadTile { .. }
        )
    }
}
