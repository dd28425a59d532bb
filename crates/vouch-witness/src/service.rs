//! The witness proper: per-log state, the `add-checkpoint` checks in the spec's order, and
//! cosigning. Plain synchronous code, testable without a server; the HTTP layer runs it on a
//! blocking thread because a cosignature is persisted (fsync) before it is returned.

use crate::error::{AddCheckpointError, WitnessError};
use crate::keys::WitnessKeys;
use aws_lc_rs::digest;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use vouch_core::merkle::{self, Hash};
use vouch_core::note::{Checkpoint, NoteSignature, NoteVerifier, SignedNote};
use vouch_core::witness::AddCheckpointRequest;
use vouch_fs::{Access, write_durably};

/// Directory (under the data directory) of the latest cosigned checkpoint of each log.
pub const STATE_DIR: &str = "checkpoints";

/// A log the witness follows: its origin and the key its checkpoints must be signed with.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// The checkpoint origin line.
    pub origin: String,
    /// The log's note verifier.
    pub verifier: NoteVerifier,
}

/// The latest cosigned checkpoint of one log.
#[derive(Clone, Debug)]
struct Latest {
    size: u64,
    root: Hash,
    /// The checkpoint with the verified log signatures and the witness's cosignatures.
    note: String,
}

#[derive(Debug)]
struct LogState {
    verifier: NoteVerifier,
    path: PathBuf,
    /// Held across the check and the durable write, so that two requests cannot roll the
    /// log back (the race the spec describes).
    latest: Mutex<Option<Latest>>,
}

/// A successful `add-checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The log's origin.
    pub origin: String,
    /// The size now recorded as the latest.
    pub size: u64,
    /// The response body: the cosignature lines.
    pub lines: String,
}

/// A C2SP tlog-witness over a fixed set of logs.
#[derive(Debug)]
pub struct Witness {
    keys: WitnessKeys,
    logs: HashMap<String, LogState>,
    /// Lowercase hex SHA-256 of each origin → origin, for the monitoring endpoint.
    by_hash: HashMap<String, String>,
}

/// Lowercase hex SHA-256 of an origin: the monitoring path segment.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, origin.as_bytes()))
}

fn lock(m: &Mutex<Option<Latest>>) -> std::sync::MutexGuard<'_, Option<Latest>> {
    // A panic while holding the lock leaves the last durable state in place: keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_secs() -> Result<u64, WitnessError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| WitnessError::Clock)
        .and_then(|t| {
            if t == 0 {
                Err(WitnessError::Clock)
            } else {
                Ok(t)
            }
        })
}

impl Witness {
    /// Open the witness over `logs`, reading each log's latest cosigned checkpoint from
    /// `data/checkpoints/`.
    pub fn open(
        data: &Path,
        keys: WitnessKeys,
        logs: Vec<LogConfig>,
    ) -> Result<Self, WitnessError> {
        let mut map = HashMap::new();
        let mut by_hash = HashMap::new();
        for l in logs {
            if map.contains_key(&l.origin) {
                return Err(WitnessError::DuplicateLog { origin: l.origin });
            }
            let h = origin_hash(&l.origin);
            let path = data.join(STATE_DIR).join(&h);
            let latest = match vouch_fs::read_optional(&path)? {
                None => None,
                Some(bytes) => {
                    let corrupt = |source| WitnessError::CorruptState {
                        path: path.clone(),
                        source,
                    };
                    let text = String::from_utf8(bytes).map_err(|_| {
                        corrupt(vouch_core::note::NoteError::Malformed("not UTF-8"))
                    })?;
                    let note = SignedNote::parse(&text).map_err(corrupt)?;
                    let cp = Checkpoint::parse(&note.text).map_err(corrupt)?;
                    if cp.origin != l.origin {
                        return Err(corrupt(vouch_core::note::NoteError::OriginMismatch {
                            expected: l.origin.clone(),
                            got: cp.origin,
                        }));
                    }
                    Some(Latest {
                        size: cp.size,
                        root: cp.root_hash,
                        note: text,
                    })
                }
            };
            by_hash.insert(h, l.origin.clone());
            map.insert(
                l.origin,
                LogState {
                    verifier: l.verifier,
                    path,
                    latest: Mutex::new(latest),
                },
            );
        }
        Ok(Self {
            keys,
            logs: map,
            by_hash,
        })
    }

    /// The witness's keys.
    pub fn keys(&self) -> &WitnessKeys {
        &self.keys
    }

    /// The origins followed, sorted.
    pub fn origins(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.logs.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// The latest cosigned size of `origin`, if any.
    pub fn latest_size(&self, origin: &str) -> Option<u64> {
        self.logs
            .get(origin)
            .and_then(|l| lock(&l.latest).as_ref().map(|c| c.size))
    }

    /// The latest cosigned checkpoint (log signatures and cosignatures) of the log whose
    /// origin hashes to `hash` (lowercase hex SHA-256), for the monitoring endpoint.
    pub fn latest_by_origin_hash(&self, hash: &str) -> Option<String> {
        let origin = self.by_hash.get(hash)?;
        let log = self.logs.get(origin)?;
        lock(&log.latest).as_ref().map(|c| c.note.clone())
    }

    /// Handle an `add-checkpoint` body: on success the cosignature lines (Ed25519, then
    /// ML-DSA-44), after the new state is durable.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<Cosigned, AddCheckpointError> {
        let req = AddCheckpointRequest::parse(body)?;
        let cp =
            Checkpoint::parse(&req.checkpoint.text).map_err(AddCheckpointError::BadCheckpoint)?;
        let log = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| AddCheckpointError::UnknownLog {
                origin: cp.origin.clone(),
            })?;
        req.checkpoint.verify(&log.verifier).map_err(|source| {
            AddCheckpointError::LogSignature {
                origin: cp.origin.clone(),
                source,
            }
        })?;
        if req.old_size > cp.size {
            return Err(AddCheckpointError::OldAboveSize {
                old: req.old_size,
                size: cp.size,
            });
        }
        let mut latest = lock(&log.latest);
        let (latest_size, latest_root) = match latest.as_ref() {
            Some(l) => (l.size, l.root),
            None => (0, merkle::empty_root()),
        };
        if req.old_size != latest_size {
            return Err(AddCheckpointError::Conflict {
                old: req.old_size,
                latest: latest_size,
            });
        }
        if cp.size == 0 && cp.root_hash != merkle::empty_root() {
            return Err(AddCheckpointError::EmptyTreeRoot);
        }
        if req.old_size == 0 && !req.proof.is_empty() {
            return Err(AddCheckpointError::ProofFromEmpty);
        }
        if req.old_size == cp.size && latest_root != cp.root_hash {
            return Err(AddCheckpointError::RootMismatch { size: cp.size });
        }
        merkle::verify_consistency(
            req.old_size,
            cp.size,
            &latest_root,
            &cp.root_hash,
            &req.proof,
        )
        .map_err(AddCheckpointError::Inconsistent)?;

        let timestamp = now_secs()?;
        let cosigs = self.keys.cosign(&req.checkpoint.text, timestamp)?;
        // What the monitoring endpoint serves: the log signatures that verified, then ours.
        let mut signatures: Vec<NoteSignature> = req
            .checkpoint
            .signatures
            .iter()
            .filter(|s| s.name == log.verifier.name && s.key_id == log.verifier.key_id)
            .cloned()
            .collect();
        signatures.extend(cosigs.iter().cloned());
        let stored = SignedNote {
            text: req.checkpoint.text.clone(),
            signatures,
        }
        .to_text();
        write_durably(&log.path, stored.as_bytes(), Access::Public).map_err(WitnessError::from)?;
        *latest = Some(Latest {
            size: cp.size,
            root: cp.root_hash,
            note: stored,
        });
        drop(latest);
        let lines = SignedNote {
            text: String::new(),
            signatures: cosigs.to_vec(),
        }
        .to_text();
        // `to_text` renders "<text>\n<lines>": drop the separator.
        let lines = lines.strip_prefix('\n').unwrap_or(&lines).to_string();
        Ok(Cosigned {
            origin: cp.origin,
            size: cp.size,
            lines,
        })
    }
}
