//! The typed verification errors: one variant per failed check, with the values involved.

use crate::policy::{IdentityError, PolicyError};
use vouch_core::bundle::BundleError;
use vouch_core::intoto::StatementError;
use vouch_core::keys::KeyError;
use vouch_core::merkle::ProofError;
use vouch_core::note::NoteError;
use vouch_core::rekor::BodyError;
use vouch_core::sct::SctError;
use vouch_core::time::{Instant, TimeRange};
use vouch_core::tlog_policy::QuorumError;
use vouch_core::tsa::TimestampError;
use vouch_core::x509::{CertError, ChainError};

/// Why a transparency log entry was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// No trusted log has this ID.
    #[error("log {log_id} is not in the trusted root")]
    UnknownLog {
        /// Hex log ID.
        log_id: String,
    },
    /// The trusted log's key type is not supported.
    #[error("log {log} has a key this verifier cannot use")]
    UnusableLogKey {
        /// Log base URL.
        log: String,
    },
    /// Neither proof nor promise.
    #[error("entry has neither an inclusion proof nor an inclusion promise")]
    NoEvidence,
    /// Rekor v2 entries must carry an inclusion proof.
    #[error("Rekor v2 entry has no inclusion proof")]
    MissingProof,
    /// The SET does not verify.
    #[error("signed entry timestamp (SET) does not verify with the key of {log}")]
    BadSet {
        /// Log base URL.
        log: String,
    },
    /// The integrated time is outside the log key's validity.
    #[error("integrated time {time} is outside the validity {valid_for} of the key of {log}")]
    TimeOutsideLogValidity {
        /// Log URL.
        log: String,
        /// Integrated time.
        time: Instant,
        /// Key validity.
        valid_for: TimeRange,
    },
    /// An entry without a signed integrated time (Rekor v2) is from a log key that was not
    /// valid at the verified signing time (a retired or not yet valid key).
    #[error("signing time {time} is outside the validity {valid_for} of the key of {log}")]
    SigningTimeOutsideLogValidity {
        /// Log URL.
        log: String,
        /// The verified signing time (timestamp authority, another log's SET, or now).
        time: Instant,
        /// Key validity.
        valid_for: TimeRange,
    },
    /// The checkpoint failed to parse or verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The checkpoint origin does not belong to the log.
    #[error("checkpoint origin {got:?} does not belong to log {log} (expected {expected:?})")]
    CheckpointOrigin {
        /// Log URL.
        log: String,
        /// Expected origin (or prefix).
        expected: String,
        /// Origin found.
        got: String,
    },
    /// Checkpoint and proof disagree on the tree.
    #[error(
        "checkpoint (size {checkpoint_size}, root {checkpoint_root}) does not match the inclusion proof (size {proof_size}, root {proof_root})"
    )]
    CheckpointMismatch {
        /// Size in the checkpoint.
        checkpoint_size: u64,
        /// Root in the checkpoint, hex.
        checkpoint_root: String,
        /// Size in the proof.
        proof_size: u64,
        /// Root in the proof, hex.
        proof_root: String,
    },
    /// A Rekor v2 proof names another leaf than the entry.
    #[error("inclusion proof is for log index {proof}, but the entry is at {entry}")]
    IndexMismatch {
        /// Top-level log index.
        entry: i64,
        /// Index in the proof.
        proof: i64,
    },
    /// A witness policy is in force but the entry has no checkpoint to carry cosignatures
    /// (an inclusion promise alone).
    #[error("the witness policy needs a checkpoint, but the entry has no inclusion proof")]
    NoCheckpointForWitnessPolicy,
    /// The witness policy lists logs, and none of them signed the checkpoint.
    #[error("checkpoint of origin {origin:?} is not signed by any log of the witness policy")]
    LogNotInWitnessPolicy {
        /// The checkpoint's origin.
        origin: String,
    },
    /// The checkpoint lacks the witness policy's quorum of cosignatures.
    #[error("checkpoint of {log} (size {size}): {source}")]
    WitnessQuorum {
        /// Log base URL.
        log: String,
        /// The checkpoint's tree size.
        size: u64,
        /// Which group fell short and who cosigned (boxed: the error stays small).
        #[source]
        source: Box<QuorumError>,
    },
    /// The inclusion proof does not verify.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    /// The body could not be read.
    #[error("{0}")]
    Body(#[from] BodyError),
    /// The body records a different signature.
    #[error("log entry records a different signature than the bundle")]
    SignatureMismatch,
    /// The body records a different key or certificate.
    #[error("log entry records a different {what} than the bundle")]
    KeyMismatch {
        /// `certificate` or `public key`.
        what: &'static str,
    },
    /// The (authenticated) body of a message-signature entry records another artifact digest
    /// than the file's: the file is not the one that was signed. The verifier reports this as
    /// [`VerifyError::ArtifactMismatch`].
    #[error("this file does not match the log entry: file {file}, entry signs {entry}")]
    ArtifactDigest {
        /// Digest in the entry (alg:hex).
        entry: String,
        /// Digest of the file (alg:hex).
        file: String,
    },
    /// The (authenticated) entry of a key-signed bundle records another public key than the
    /// one given to verify with. The verifier reports this as [`VerifyError::WrongKey`].
    #[error("the log entry records key {recorded}, not the given key {given}")]
    WrongKey {
        /// SHA-256 fingerprint of the given key's SPKI.
        given: String,
        /// SHA-256 fingerprint of the key the entry records.
        recorded: String,
    },
    /// The body records a different digest.
    #[error("log entry digest mismatch: entry has {entry}, expected {expected}")]
    DigestMismatch {
        /// Digest in the entry.
        entry: String,
        /// Digest of the artifact / payload.
        expected: String,
    },
    /// The entry kind does not fit the bundle content.
    #[error("log entry kind {kind} {version} cannot record a {content}")]
    KindForContent {
        /// Kind.
        kind: String,
        /// Version.
        version: String,
        /// `message signature` or `DSSE envelope`.
        content: &'static str,
    },
    /// Integrated time outside the certificate validity.
    #[error(
        "integrated time {time} is outside the signing certificate validity [{not_before}, {not_after}]"
    )]
    IntegratedTimeOutsideCertificate {
        /// Integrated time.
        time: Instant,
        /// Certificate notBefore.
        not_before: Instant,
        /// Certificate notAfter.
        not_after: Instant,
    },
}

/// A failed verification, naming the check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bundle is malformed.
    #[error("{0}")]
    Bundle(#[from] BundleError),
    /// The policy is unusable.
    #[error("{0}")]
    Policy(#[from] PolicyError),
    /// The bundle names a public key but no key was supplied.
    #[error(
        "bundle is signed with a public key (hint {hint:?}), not a certificate: verify it with --key"
    )]
    KeyRequired {
        /// The unauthenticated hint.
        hint: String,
    },
    /// The bundle carries a certificate but a key was supplied.
    #[error(
        "bundle carries a Fulcio certificate but verification was asked with --key; use --certificate-identity and --certificate-oidc-issuer"
    )]
    CertificateNotKey,
    /// A bundle chain contains a root certificate.
    #[error(
        "bundle certificate chain contains a self-signed root certificate {subject:?}; trust roots come only from the trusted root"
    )]
    ChainContainsRoot {
        /// Its subject.
        subject: String,
    },
    /// The leaf certificate is unreadable.
    #[error("signing certificate: {0}")]
    Certificate(#[from] CertError),
    /// Two entries for the same log and index.
    #[error("bundle has duplicate transparency log entries (log {log_id}, index {index})")]
    DuplicateEntry {
        /// Hex log ID.
        log_id: String,
        /// Log index.
        index: i64,
    },
    /// One entry failed a check.
    #[error("transparency log entry {position} (log index {log_index}): {source}")]
    Entry {
        /// Position in the bundle.
        position: usize,
        /// Its log index.
        log_index: i64,
        /// What failed.
        source: EntryError,
    },
    /// Not enough verified log entries.
    #[error("transparency log: {verified} verified entries from distinct trusted logs, {required} required{}", skipped.as_ref().map(|s| format!(" (skipped: {s})")).unwrap_or_default())]
    TlogThreshold {
        /// Verified.
        verified: usize,
        /// Required.
        required: usize,
        /// Why entries were skipped.
        skipped: Option<String>,
    },
    /// An RFC 3161 timestamp failed.
    #[error("RFC 3161 timestamp {position}: {source}")]
    Timestamp {
        /// Position in the bundle.
        position: usize,
        /// What failed.
        source: TimestampError,
    },
    /// An RFC 3161 timestamp is from no trusted TSA.
    #[error(
        "RFC 3161 timestamp {position} was not issued by any trusted timestamp authority ({reason})"
    )]
    UntrustedTimestamp {
        /// Position in the bundle.
        position: usize,
        /// Why each TSA refused it.
        reason: String,
    },
    /// A timestamp is outside its TSA's validity in the trusted root.
    #[error(
        "RFC 3161 timestamp {position} time {time} is outside the validity {valid_for} of timestamp authority {uri}"
    )]
    TimestampOutsideTsaValidity {
        /// Position in the bundle.
        position: usize,
        /// genTime.
        time: Instant,
        /// Validity.
        valid_for: TimeRange,
        /// TSA URI.
        uri: String,
    },
    /// Not enough signed timestamps.
    #[error("{verified} verified RFC 3161 timestamps, {required} required")]
    SignedTimestampThreshold {
        /// Verified.
        verified: usize,
        /// Required.
        required: usize,
    },
    /// No trusted time at all.
    #[error(
        "no trusted signing time: the bundle has no verified SET and no verified RFC 3161 timestamp (Rekor v2 entries need a timestamp)"
    )]
    NoObserverTimestamp,
    /// No trusted CA was valid at a verified time.
    #[error(
        "no trusted certificate authority issued the signing certificate (issuer {issuer:?}) and was valid at {time}"
    )]
    NoCaAtTime {
        /// Leaf issuer DN.
        issuer: String,
        /// The time checked.
        time: Instant,
    },
    /// Chain validation failed.
    #[error("certificate chain at {time}: {source}")]
    Chain {
        /// The time checked.
        time: Instant,
        /// What failed.
        source: ChainError,
    },
    /// SCT checks failed.
    #[error("signed certificate timestamp: {0}")]
    Sct(#[from] SctError),
    /// No verified SCT from a trusted CT log.
    #[error(
        "signed certificate timestamp: none of the certificate's {count} SCTs is from a trusted CT log valid at its time"
    )]
    NoTrustedSct {
        /// SCTs present.
        count: usize,
    },
    /// The artifact signature fails.
    #[error("signature does not verify against the artifact with the {key} key")]
    Signature {
        /// Key type.
        key: &'static str,
    },
    /// The artifact digest is not usable with the key.
    #[error("cannot verify a {given} digest with a {key} key (it signs {wants} digests)")]
    DigestAlgorithm {
        /// Algorithm given.
        given: &'static str,
        /// Key type.
        key: &'static str,
        /// Algorithm the key uses.
        wants: &'static str,
    },
    /// Key problem.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// The artifact given is not the one the bundle signs: its digest differs from the bundle's
    /// messageDigest, or from the digest recorded in the (verified) log entry. Checked before
    /// the log entry's other fields, so a wrong file is reported as such and not as tampering.
    #[error("this file does not match the bundle: file {file}, bundle signs {signed}")]
    ArtifactMismatch {
        /// Digest of the artifact given (alg:hex).
        file: String,
        /// Digest the bundle signs (alg:hex).
        signed: String,
    },
    /// The bundle was signed with another key than the one given (`--key`): its verified log
    /// entry records that other key.
    #[error(
        "this bundle was signed with another key: --key is sha256:{given}, the log entry records sha256:{signed_with}"
    )]
    WrongKey {
        /// SHA-256 fingerprint (hex) of the given key's SubjectPublicKeyInfo.
        given: String,
        /// SHA-256 fingerprint (hex) of the key that signed.
        signed_with: String,
    },
    /// DSSE signature fails.
    #[error("DSSE envelope signature does not verify with the {key} key")]
    DsseSignature {
        /// Key type.
        key: &'static str,
    },
    /// Unsupported DSSE payload type.
    #[error("DSSE payloadType is {0:?}, expected \"application/vnd.in-toto+json\"")]
    PayloadType(String),
    /// Statement unreadable.
    #[error("{0}")]
    Statement(#[from] StatementError),
    /// No subject of the attestation is the artifact given.
    #[error(
        "this file does not match the attestation: file {digest}, the statement's subjects are {subjects}"
    )]
    SubjectMismatch {
        /// alg:hex of the artifact.
        digest: String,
        /// The statement's subject digests (alg:hex, comma-separated).
        subjects: String,
    },
    /// Predicate type differs.
    #[error("attestation predicate type mismatch: expected {expected:?}, got {got:?}")]
    PredicateType {
        /// Wanted.
        expected: String,
        /// Found.
        got: String,
    },
    /// Predicate type given for a non-attestation.
    #[error("--type was given but the bundle holds a message signature, not an attestation")]
    NotAnAttestation,
    /// Identity check failed.
    #[error("{0}")]
    Identity(#[from] IdentityError),
}
