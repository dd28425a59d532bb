//! # vouch-witness
//!
//! A transparency log witness implementing C2SP tlog-witness
//! (<https://github.com/C2SP/C2SP/blob/main/tlog-witness.md>) over several logs at once.
//!
//! For each configured log (origin + note verifier key) it keeps the latest checkpoint it
//! cosigned. `POST /add-checkpoint` checks, in the spec's order: the body's syntax (400), the
//! origin (404), the log's signature (403), `old` ≤ size (400), `old` = the latest cosigned
//! size (409 with `text/x.tlog.size`), the empty-tree root, the empty proof from size 0 and
//! the RFC 6962 consistency proof (422). It then cosigns with both C2SP tlog-cosignature types
//! — Ed25519 `cosignature/v1` and ML-DSA-44 `subtree/v1`, both through aws-lc-rs — persists
//! the new state durably (`vouch_fs::write_durably`) while holding the log's lock, and only
//! then answers with the two cosignature lines. `GET /<hex SHA-256(origin)>/checkpoint` serves
//! the latest cosigned checkpoint for monitors.
//!
//! The wire formats live in `vouch_core::witness` and `vouch_core::cosignature`, shared with
//! the log's witness client and with verifiers.

pub mod api;
mod error;
pub mod keys;
pub mod service;
pub mod settings;

pub use error::{AddCheckpointError, WitnessError};
pub use keys::WitnessKeys;
pub use service::{Cosigned, LogConfig, Witness, origin_hash};
pub use settings::{NameConflict, Settings};
