//! Named bounds on untrusted input, enforced at parse time.
//!
//! The values follow sigstore-go's `internal/limits` where it has one, and are generous
//! enough for every real bundle seen in the wild.

/// Largest bundle JSON document accepted, in bytes.
pub const MAX_BUNDLE_JSON_LEN: usize = 32 * 1024 * 1024;
/// Largest trusted root / signing config JSON accepted, in bytes.
pub const MAX_TRUST_JSON_LEN: usize = 16 * 1024 * 1024;
/// Most transparency log entries a bundle may carry.
pub const MAX_TLOG_ENTRIES: usize = 32;
/// Most RFC 3161 timestamps a bundle may carry.
pub const MAX_RFC3161_TIMESTAMPS: usize = 32;
/// Longest certificate chain accepted in a bundle or a trusted root entry.
pub const MAX_CHAIN_LEN: usize = 10;
/// Largest DER certificate accepted, in bytes.
pub const MAX_CERTIFICATE_LEN: usize = 64 * 1024;
/// Largest canonicalized Rekor entry body accepted, in bytes.
pub const MAX_ENTRY_BODY_LEN: usize = 1024 * 1024;
/// Most hashes in one inclusion or consistency proof (a tree of 2^64 leaves needs 64).
pub const MAX_PROOF_HASHES: usize = 64;
/// Largest signed note (checkpoint) accepted, in bytes.
pub const MAX_NOTE_LEN: usize = 1024 * 1024;
/// Most signature lines in one signed note (C2SP asks verifiers to accept at least 16).
pub const MAX_NOTE_SIGNATURES: usize = 100;
/// Most subjects in one in-toto Statement.
pub const MAX_STATEMENT_SUBJECTS: usize = 1024;
/// Most digests per in-toto subject.
pub const MAX_SUBJECT_DIGESTS: usize = 32;
/// Most DSSE signatures accepted in an envelope.
pub const MAX_DSSE_SIGNATURES: usize = 16;
/// Most SCTs in one embedded SCT list.
pub const MAX_SCTS: usize = 32;
/// Most resources (files or shards) in one model signature manifest.
pub const MAX_MODEL_RESOURCES: usize = 1_000_000;

/// How long vouch's HTTP clients keep an idle pooled connection: below the 30 s idle
/// keep-alive timeout of every vouch server, so a client never reuses a connection just as the
/// server closes it (a POST sent on it would fail with "error sending request").
pub const CLIENT_POOL_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
