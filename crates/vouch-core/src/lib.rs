//! # vouch-core
//!
//! Pure, synchronous Sigstore data formats and primitives: no network, no async runtime.
//!
//! * [`bundle`]: Sigstore bundle v0.1–v0.3 in proto3 JSON
//!   ([protobuf-specs](https://github.com/sigstore/protobuf-specs)).
//! * [`trust`]: `trusted_root.json`, `signing_config.v0.2.json` and `ClientTrustConfig`.
//! * [`dsse`] and [`intoto`]: DSSE envelopes, PAE and in-toto Statements.
//! * [`model`]: OpenSSF Model Signing manifests (predicate `https://model_signing/signature/v1.0`).
//! * [`rekor`]: Rekor entry bodies (hashedrekord 0.0.1/0.0.2, dsse 0.0.1, intoto 0.0.2) and the v1 SET.
//! * [`merkle`]: RFC 6962 / RFC 9162 Merkle hashing, inclusion and consistency proofs.
//! * [`note`]: C2SP signed notes, checkpoints and cosignatures.
//! * [`cosignature`]: C2SP tlog-cosignature (Ed25519 `cosignature/v1`, ML-DSA-44 `subtree/v1`).
//! * [`tlog_policy`]: C2SP tlog-policy files and witness quorums.
//! * [`tlog_proof`]: C2SP tlog-proof (`c2sp.org/tlog-proof@v1`), offline inclusion proofs as text.
//! * [`witness`]: C2SP tlog-witness wire formats (`add-checkpoint`).
//! * [`tiles`]: C2SP tlog-tiles paths and Merkle proofs computed from tiles.
//! * [`keys`]: public keys (ECDSA P-256/384/521, Ed25519, RSA) and signature verification through aws-lc-rs.
//! * [`x509`]: the Fulcio certificate profile, Sigstore OID extensions and chain checks.
//! * [`sct`]: RFC 6962 signed certificate timestamps embedded in certificates.
//! * [`tsa`]: RFC 3161 timestamp responses.
//! * [`fulcio`] and [`ct`]: the Fulcio v2 REST API and RFC 6962 CT API messages.
//! * [`pem`]: the PEM (RFC 7468) codec.
//! * [`ca_audit`]: the CA's issuance audit log lines.
//! * [`window`]: per-key event counts in a sliding window (rate limits, spike alerts).
//! * [`trace`]: W3C Trace Context (`traceparent`) to follow one CLI run across services.
//! * [`egress`]: the process-wide `--offline` egress policy every network client consults.
//!
//! Every parser of untrusted input enforces the named bounds in [`limits`].

pub mod bundle;
pub mod ca_audit;
pub mod cosign_key;
pub mod cosignature;
pub mod ct;
pub mod dsse;
pub mod egress;
pub mod encoding;
pub mod fulcio;
pub mod http_error;
pub mod intoto;
pub mod keys;
pub mod limits;
pub mod merkle;
pub mod model;
pub mod note;
pub mod pem;
pub mod rekor;
pub mod sct;
pub mod tiles;
pub mod time;
pub mod tlog_policy;
pub mod tlog_proof;
pub mod trace;
pub mod trust;
pub mod tsa;
pub mod window;
pub mod witness;
pub mod x509;

/// `e` and each of its sources, joined by ": ", skipping a source whose message the text
/// already contains (many errors repeat their source in their own message). For one-line
/// reports of typed errors at the CLI and in JSON error bodies.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let m = s.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        source = s.source();
    }
    out
}
