//! Collecting witness cosignatures (C2SP tlog-witness `add-checkpoint`) for each new checkpoint.
//!
//! After a batch is durable the sequencer hands its signed checkpoint to [`WitnessClient`]: every
//! witness of the C2SP tlog-policy that has a URL gets, concurrently and within a timeout, the
//! `old <size>` line (the size that witness last cosigned, kept per witness), the consistency
//! proof from that size, and the checkpoint. A 409 answer carries the witness's real size
//! (`text/x.tlog.size`): the request is made again once from there. The cosignature lines of
//! the 200 answers are appended to the note, which is then what `/checkpoint` serves and what
//! write responses (and so bundles) carry. The policy's quorum is checked on the cosigned note;
//! with `require_quorum` a checkpoint short of it fails the write (fail closed), otherwise it is
//! logged and served as far as it got.
//!
//! On the scale-out backend the integrator collects the cosignatures and stores the cosigned
//! note in the database, and every front end acknowledges with it ([`crate::shared`]); the
//! size each witness last cosigned is then kept per integrator, and a new integrator learns it
//! from the witness's 409.

use crate::LogError;
use std::sync::Mutex;
use std::time::Duration;
use vouch_core::merkle::Hash;
use vouch_core::note::{NoteSignature, SignedNote};
use vouch_core::tlog_policy::{QuorumError, WitnessPolicy};
use vouch_core::witness::{
    AddCheckpointRequest, TLOG_SIZE_CONTENT_TYPE, parse_cosignature_lines, parse_tlog_size_body,
};

/// Default time a witness gets to answer one `add-checkpoint`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most cosignature lines kept from one witness's answer.
const MAX_LINES_PER_WITNESS: usize = 8;

#[derive(Debug)]
struct Target {
    name: String,
    url: String,
    /// The size this witness last cosigned (0 until it has answered).
    last_size: Mutex<u64>,
}

/// Why one witness gave no cosignature (logged; the quorum decides what it means).
#[derive(Debug, thiserror::Error)]
enum WitnessFailure {
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    #[error("answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("malformed answer: {0}")]
    Answer(String),
    #[error("malformed answer: {0}")]
    Cosignatures(#[source] vouch_core::note::NoteError),
    #[error("cannot prove consistency from its size {old}: {reason}")]
    Proof { old: u64, reason: String },
    #[error("cannot prove consistency from its size {old}: {source}")]
    ProofFailed {
        old: u64,
        #[source]
        source: LogError,
    },
}

/// Pushes checkpoints to the witnesses of a policy and collects their cosignatures.
#[derive(Debug)]
pub struct WitnessClient {
    policy: WitnessPolicy,
    targets: Vec<Target>,
    http: reqwest::Client,
    require_quorum: bool,
}

impl WitnessClient {
    /// A client for the witnesses of `policy` that have a URL, each given `timeout` per request.
    pub fn new(
        policy: WitnessPolicy,
        timeout: Duration,
        require_quorum: bool,
    ) -> Result<Self, LogError> {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("vouch-log/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LogError::WitnessHttp(std::sync::Arc::new(e)))?;
        // One push per URL: a witness with two keys (Ed25519 and ML-DSA-44) is listed twice in
        // a policy and answers one request with both cosignatures.
        let mut targets: Vec<Target> = Vec::new();
        for w in policy.witnesses() {
            let Some(u) = &w.url else { continue };
            let url = format!("{}/add-checkpoint", u.trim_end_matches('/'));
            match targets.iter_mut().find(|t| t.url == url) {
                Some(t) => {
                    t.name.push('+');
                    t.name.push_str(&w.name);
                }
                None => targets.push(Target {
                    name: w.name.clone(),
                    url,
                    last_size: Mutex::new(0),
                }),
            }
        }
        Ok(Self {
            policy,
            targets,
            http,
            require_quorum,
        })
    }

    /// The witnesses (policy name, add-checkpoint URL) checkpoints are pushed to.
    pub fn witnesses(&self) -> Vec<(String, String)> {
        self.targets
            .iter()
            .map(|t| (t.name.clone(), t.url.clone()))
            .collect()
    }

    /// Whether a checkpoint short of the quorum fails the write.
    pub fn requires_quorum(&self) -> bool {
        self.require_quorum
    }

    /// Whether a write covered by the cosigned checkpoint `note` may be acknowledged: always
    /// without `require_quorum`, else only when `note` meets the policy's quorum (the error says
    /// which group fell short and who cosigned).
    pub fn acknowledges(&self, note: &SignedNote) -> Result<(), QuorumError> {
        if self.require_quorum {
            self.policy.check(note).map(|_| ())
        } else {
            Ok(())
        }
    }

    /// Push `note` (the log-signed checkpoint of `size`) to every witness and return the note with
    /// the cosignatures collected. `proof(old)` gives the consistency proof from `old` to `size`.
    pub async fn cosign(
        &self,
        note: &str,
        size: u64,
        proof: &(dyn Fn(u64) -> Result<Vec<Hash>, LogError> + Sync),
    ) -> Result<String, LogError> {
        let checkpoint = SignedNote::parse(note).map_err(LogError::OwnCheckpoint)?;
        let mut lines: Vec<NoteSignature> = Vec::new();
        let results = futures_util::future::join_all(
            self.targets
                .iter()
                .map(|t| self.push(t, &checkpoint, size, proof)),
        )
        .await;
        for (t, r) in self.targets.iter().zip(results) {
            match r {
                Ok(sigs) => lines.extend(sigs.into_iter().take(MAX_LINES_PER_WITNESS)),
                Err(e) => {
                    tracing::warn!(witness = %t.name, url = %t.url, size, error = %e, "no cosignature")
                }
            }
        }
        let mut cosigned = checkpoint;
        cosigned.signatures.extend(lines);
        match self.policy.check(&cosigned) {
            Ok(_) => {}
            Err(e) if self.require_quorum => return Err(LogError::WitnessQuorum(e)),
            Err(e) => {
                tracing::warn!(size, error = %e, "checkpoint served without its witness quorum")
            }
        }
        Ok(cosigned.to_text())
    }

    async fn push(
        &self,
        t: &Target,
        checkpoint: &SignedNote,
        size: u64,
        proof: &(dyn Fn(u64) -> Result<Vec<Hash>, LogError> + Sync),
    ) -> Result<Vec<NoteSignature>, WitnessFailure> {
        let mut old = *t.last_size.lock().unwrap_or_else(|e| e.into_inner());
        for attempt in 0..2 {
            if old > size {
                return Err(WitnessFailure::Proof {
                    old,
                    reason: format!("the witness holds a larger tree than {size}"),
                });
            }
            let p = if old == 0 || old == size {
                Vec::new()
            } else {
                proof(old).map_err(|source| WitnessFailure::ProofFailed { old, source })?
            };
            let body = AddCheckpointRequest {
                old_size: old,
                proof: p,
                checkpoint: checkpoint.clone(),
            }
            .to_text();
            let resp = self
                .http
                .post(&t.url)
                .body(body)
                .send()
                .await
                .map_err(WitnessFailure::Request)?;
            let status = resp.status().as_u16();
            let ct = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let text = resp.text().await.map_err(WitnessFailure::Request)?;
            match status {
                200 => {
                    let sigs =
                        parse_cosignature_lines(&text).map_err(WitnessFailure::Cosignatures)?;
                    *t.last_size.lock().unwrap_or_else(|e| e.into_inner()) = size;
                    return Ok(sigs);
                }
                409 if attempt == 0 && ct.starts_with(TLOG_SIZE_CONTENT_TYPE) => {
                    old = parse_tlog_size_body(&text).ok_or_else(|| {
                        WitnessFailure::Answer(format!("409 body {text:?} is not a tree size"))
                    })?;
                    *t.last_size.lock().unwrap_or_else(|e| e.into_inner()) = old;
                }
                _ => {
                    return Err(WitnessFailure::Status {
                        status,
                        body: text.chars().take(200).collect(),
                    });
                }
            }
        }
        Err(WitnessFailure::Answer("conflict again after resync".into()))
    }
}
