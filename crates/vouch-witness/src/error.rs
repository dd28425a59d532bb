//! The witness's errors: [`WitnessError`] for start-up and internal failures,
//! [`AddCheckpointError`] for refused `add-checkpoint` requests, each with its HTTP status.

use std::path::PathBuf;
use vouch_core::merkle::ProofError;
use vouch_core::note::NoteError;
use vouch_core::witness::RequestError;

/// A start-up or internal failure of the witness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] vouch_fs::FsError),
    /// A key could not be generated.
    #[error("cannot generate the {kind} witness key")]
    KeyGeneration {
        /// Key type.
        kind: &'static str,
    },
    /// A key file is unusable.
    #[error("witness key {} is unusable: {source}", path.display())]
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// aws-lc-rs's reason.
        #[source]
        source: aws_lc_rs::error::KeyRejected,
    },
    /// The witness name is not a valid key name.
    #[error("invalid witness name: {source}")]
    Name {
        /// Why.
        #[source]
        source: NoteError,
    },
    /// A signed message could not be built.
    #[error("cannot build the cosigned message: {source}")]
    Message {
        /// Why.
        #[source]
        source: NoteError,
    },
    /// Signing failed.
    #[error("{kind} signing failed")]
    Signing {
        /// Key type.
        kind: &'static str,
    },
    /// A stored checkpoint is corrupt.
    #[error("stored checkpoint {} is corrupt: {source}", path.display())]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: NoteError,
    },
    /// The same origin configured twice.
    #[error("log {origin:?} is configured twice")]
    DuplicateLog {
        /// The origin.
        origin: String,
    },
    /// The settings file is corrupt.
    #[error("witness settings {} are corrupt: {source}", path.display())]
    CorruptSettings {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The clock is before 1970.
    #[error("the system clock is before the Unix epoch")]
    Clock,
}

/// Why an `add-checkpoint` request was refused (C2SP tlog-witness's status codes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddCheckpointError {
    /// 400: the body is malformed.
    #[error("malformed request: {0}")]
    Malformed(#[from] RequestError),
    /// 400: the note text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(#[source] NoteError),
    /// 404: the origin is not a configured log.
    #[error("unknown log origin {origin:?}")]
    UnknownLog {
        /// The origin.
        origin: String,
    },
    /// 403: no valid signature from the log's key, or a failing one.
    #[error("checkpoint is not validly signed by the log {origin:?}: {source}")]
    LogSignature {
        /// The origin.
        origin: String,
        /// Why.
        #[source]
        source: NoteError,
    },
    /// 400: the old size is above the checkpoint's size.
    #[error("old size {old} is above the checkpoint size {size}")]
    OldAboveSize {
        /// Old size.
        old: u64,
        /// Checkpoint size.
        size: u64,
    },
    /// 409: the old size is not the witness's latest cosigned size.
    #[error("old size {old} is not the latest cosigned size {latest}")]
    Conflict {
        /// Old size sent.
        old: u64,
        /// The witness's latest size.
        latest: u64,
    },
    /// 422: an empty tree with another root than the empty tree's.
    #[error("a checkpoint of size 0 must have the empty tree's root hash")]
    EmptyTreeRoot,
    /// 422: a proof sent from the empty tree.
    #[error("the consistency proof from size 0 must be empty")]
    ProofFromEmpty,
    /// 422: same size, different root: a fork.
    #[error("same size {size} as the latest cosigned checkpoint but a different root hash")]
    RootMismatch {
        /// The size.
        size: u64,
    },
    /// 422: the consistency proof fails.
    #[error("consistency proof does not verify: {0}")]
    Inconsistent(#[source] ProofError),
    /// 500: the witness could not cosign or persist.
    #[error("internal error: {0}")]
    Internal(#[from] WitnessError),
}

impl AddCheckpointError {
    /// The HTTP status code the spec assigns.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::BadCheckpoint(_) | Self::OldAboveSize { .. } => 400,
            Self::UnknownLog { .. } => 404,
            Self::LogSignature { .. } => 403,
            Self::Conflict { .. } => 409,
            Self::EmptyTreeRoot
            | Self::ProofFromEmpty
            | Self::RootMismatch { .. }
            | Self::Inconsistent(_) => 422,
            Self::Internal(_) => 500,
        }
    }

    /// The metrics label of this outcome.
    pub fn outcome(&self) -> &'static str {
        match self.status() {
            400 => "malformed",
            403 => "bad_signature",
            404 => "unknown_log",
            409 => "conflict",
            422 => "inconsistent",
            _ => "error",
        }
    }
}
