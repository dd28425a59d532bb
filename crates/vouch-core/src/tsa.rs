//! TEMPORARY PLACEHOLDER written by the lead so the crate compiles; helper-1 replaces this whole file.
#![allow(missing_docs, clippy::all)]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError { #[error("placeholder")] Placeholder }
pub struct TsaVerifier;
pub struct VerifiedTimestamp { pub gen_time_unix: i64, pub gen_time_nanos: u32, pub serial: Vec<u8>, pub policy: String, pub nonce: Option<Vec<u8>> }
pub struct TimestampInfo { pub gen_time_unix: i64, pub gen_time_nanos: u32, pub imprint_algorithm: String, pub imprint: Vec<u8>, pub policy: String, pub serial: Vec<u8>, pub embedded_certificates: usize }
impl TsaVerifier {
    pub fn new(_c: &[Vec<u8>]) -> Result<Self, TimestampError> { Ok(TsaVerifier) }
    pub fn verify(&self, _r: &[u8], _s: &[u8]) -> Result<VerifiedTimestamp, TimestampError> { Err(TimestampError::Placeholder) }
}
pub fn parse_timestamp_response(_r: &[u8]) -> Result<TimestampInfo, TimestampError> { Err(TimestampError::Placeholder) }
