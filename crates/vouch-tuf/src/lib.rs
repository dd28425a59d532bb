//! TUF distribution of Sigstore trust material.
//!
//! A private Sigstore instance publishes its `trusted_root.json` and `signing_config.v0.2.json`
//! the way the public-good instance does: as targets of a TUF 1.0 repository with consistent
//! snapshots (`N.root.json`, `timestamp.json`, `N.snapshot.json`, `N.targets.json`,
//! `targets/<sha256>.<name>`), so that sigstore-python (`--instance URL`), sigstore-js
//! (`--tuf-mirror-url`), sigstore-go and python-tuf can bootstrap from it.
//!
//! * [`TufRepo`]: creates keys and metadata on first start, publishes targets (versions bump
//!   only when content changes), re-signs online roles before they expire; every file is
//!   written durably (temp file, fsync, rename). Metadata is built and signed with `tough`'s
//!   schema and [`tough::editor::signed::SignedRole`].
//! * [`router`]: an axum router serving the repository read-only (mount it with `nest`).
//! * [`TufClient`] / [`fetch_trust`]: the TUF client workflow (via `sigstore-tuf`), returning
//!   verified target bytes; [`export_mirror`] turns a client cache into an offline mirror for
//!   air-gapped transfer, which [`TufClient::offline`] verifies again.

mod client;
mod fsutil;
mod repo;
mod serve;

pub use client::{TufClient, export_mirror, fetch_trust, snapshot_path, target_path, targets_path};
pub use repo::{
    KeyAlgorithm, RefreshReport, RepoOptions, RepoStatus, TufRepo, offline_key_path,
    sign_root_offline, spawn_refresher,
};
pub use serve::{router, router_for_dir};

/// Target name of the Sigstore trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// Target name of the Sigstore signing config (v0.2).
pub const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum TufError {
    /// A file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A durable write or read failed.
    #[error("{0}")]
    Fs(#[from] vouch_fs::FsError),
    /// A role key file is not a PKCS#8 `PRIVATE KEY` PEM file.
    #[error("{}: not a PKCS#8 \"PRIVATE KEY\" PEM file", path.display())]
    KeyPem {
        /// The key file.
        path: std::path::PathBuf,
        /// The PEM decoder's error.
        #[source]
        source: vouch_core::pem::PemError,
    },
    /// The crypto library could not generate a role key.
    #[error("generating a {alg} key failed")]
    KeyGeneration {
        /// The key algorithm.
        alg: &'static str,
    },
    /// tough rejected a role key (unsupported type, or no key ID could be computed).
    #[error("TUF role key rejected")]
    KeyRejected(#[source] Box<tough::error::Error>),
    /// No TUF key ID could be computed for a role key.
    #[error("TUF key ID of a role key")]
    KeyId(#[source] Box<tough::schema::Error>),
    /// The role keys on disk do not match the root metadata.
    #[error("{0}")]
    KeyMismatch(String),
    /// The offline root key file cannot be used as asked (exists already, lies inside the
    /// repository, or cannot be loaded).
    #[error("offline TUF root key: {0}")]
    OfflineRootKey(String),
    /// Metadata bytes are not the JSON they should be.
    #[error("{what}: invalid TUF metadata JSON")]
    Json {
        /// Which file.
        what: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// Signing repository metadata failed.
    #[error("signing TUF metadata failed")]
    Sign(#[source] Box<tough::error::Error>),
    /// Repository metadata is inconsistent (version 0, overflow, a missing listing).
    #[error("TUF metadata: {0}")]
    Metadata(String),
    /// A target name that cannot be published (path separators, `..`, odd characters).
    #[error("invalid target name {0:?}")]
    TargetName(String),
    /// The trusted root given to the client is not a usable TUF root.
    #[error("the bootstrap TUF root does not load")]
    BootstrapRoot(#[source] Box<sigstore_tuf::Error>),
    /// The TUF client workflow failed (signature, version, hash or transport).
    #[error("TUF update failed")]
    Client(#[source] Box<sigstore_tuf::Error>),
    /// The TUF metadata (or a bootstrap root) has expired.
    #[error("TUF metadata expired")]
    Expired(#[source] Box<sigstore_tuf::Error>),
    /// A target is not listed in the verified targets metadata.
    #[error("target {0:?} is not in the TUF repository")]
    TargetNotFound(String),
    /// The mirror URL does not parse.
    #[error("mirror URL {url:?} is invalid")]
    MirrorUrl {
        /// The URL as given.
        url: String,
        /// The parser's error.
        #[source]
        source: Box<sigstore_tuf::Error>,
    },
    /// A role lifetime does not fit in a timestamp.
    #[error("role lifetime out of range")]
    Lifetime(#[source] jiff::Error),
    /// A blocking task (key generation, file writes) panicked or was cancelled.
    #[error("background task failed")]
    Task(#[source] tokio::task::JoinError),
    /// Bad input (options, directory layout).
    #[error("{0}")]
    Invalid(String),
    /// `--offline` forbids reaching the mirror.
    #[error(transparent)]
    Offline(Box<vouch_core::egress::EgressRefused>),
}

impl TufError {
    /// Whether the repository could not be reached or read (as opposed to metadata that
    /// does not verify): a bad mirror URL, a failed HTTP request, an unreadable directory.
    pub fn is_transport(&self) -> bool {
        match self {
            TufError::MirrorUrl { .. } => true,
            TufError::Client(e) => matches!(
                **e,
                sigstore_tuf::Error::Transport { .. } | sigstore_tuf::Error::Io { .. }
            ),
            _ => false,
        }
    }

    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        TufError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<vouch_core::egress::EgressRefused> for TufError {
    fn from(e: vouch_core::egress::EgressRefused) -> Self {
        TufError::Offline(Box::new(e))
    }
}
