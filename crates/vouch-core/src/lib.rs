//! # vouch-core
//!
//! Pure, synchronous Sigstore data formats and primitives: no network, no async runtime.
//!
//! * [`bundle`]: Sigstore bundle v0.1–v0.3 in proto3 JSON
//!   ([protobuf-specs](https://github.com/sigstore/protobuf-specs)).
//! * [`trust`]: `trusted_root.json`, `signing_config.v0.2.json` and `ClientTrustConfig`.
//! * [`dsse`] and [`intoto`]: DSSE envelopes, PAE and in-toto Statements.
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
//!
//! Every parser of untrusted input enforces the named bounds in [`limits`].

pub mod bundle;
pub mod cosign_key;
pub mod cosignature;
pub mod dsse;
pub mod encoding;
pub mod intoto;
pub mod keys;
pub mod limits;
pub mod merkle;
pub mod note;
pub mod rekor;
pub mod sct;
pub mod tiles;
pub mod time;
pub mod tlog_policy;
pub mod tlog_proof;
pub mod trust;
pub mod tsa;
pub mod witness;
pub mod x509;
