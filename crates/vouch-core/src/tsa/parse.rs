//! Decoding a `TimeStampResp` down to its `TSTInfo` and single `SignerInfo`.

use cms::signed_data::SignerIdentifier;
use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, Tagged};

use super::alg::hash_name;
use super::asn1::{SignedDataRef, SignerInfoRef, TimeStampResp, TstInfo};
use super::cert::integer_bytes;
use super::oid::{ID_CT_TST_INFO, ID_SIGNED_DATA};
use super::time::parse_generalized_time;
use super::{MAX_EMBEDDED_CERTIFICATES, MAX_TIMESTAMP_RESPONSE_LEN, TimestampError};

/// The contents of a timestamp response, decoded but NOT verified (for display and fuzzing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampInfo {
    /// `genTime` as Unix seconds.
    pub gen_time_unix: i64,
    /// Sub-second part of `genTime` in nanoseconds (0 when absent).
    pub gen_time_nanos: u32,
    /// Imprint hash algorithm: `sha256`, `sha384`, `sha512`, `sha1`, `sha224`, or a dotted OID.
    pub imprint_algorithm: String,
    /// The imprint (hash of the timestamped data).
    pub imprint: Vec<u8>,
    /// `TSTInfo.policy` as a dotted OID.
    pub policy: String,
    /// `TSTInfo.serialNumber`: big-endian two's complement, without a leading 0x00 sign byte.
    pub serial: Vec<u8>,
    /// How many certificates the token embeds.
    pub embedded_certificates: usize,
}

/// Everything decoded from a response, borrowing from it.
pub(crate) struct ParsedToken<'a> {
    pub(crate) tst: TstInfo<'a>,
    pub(crate) tst_der: &'a [u8],
    pub(crate) gen_time_unix: i64,
    pub(crate) gen_time_nanos: u32,
    pub(crate) certificates: Vec<AnyRef<'a>>,
    pub(crate) signer: SignerInfoRef<'a>,
    pub(crate) sid: SignerIdentifier,
}

pub(crate) fn parse_token(response_der: &[u8]) -> Result<ParsedToken<'_>, TimestampError> {
    if response_der.len() > MAX_TIMESTAMP_RESPONSE_LEN {
        return Err(TimestampError::ResponseTooLarge {
            len: response_der.len(),
            max: MAX_TIMESTAMP_RESPONSE_LEN,
        });
    }
    let resp = TimeStampResp::from_der(response_der)
        .map_err(|e| TimestampError::malformed("TimeStampResp", e))?;
    let status = resp.status.status;
    if status != 0 && status != 1 {
        return Err(TimestampError::NotGranted { status });
    }
    let token = resp.time_stamp_token.ok_or_else(|| {
        TimestampError::malformed("TimeStampResp", "status is granted but no token is present")
    })?;
    if token.content_type != ID_SIGNED_DATA {
        return Err(TimestampError::NotSignedData {
            content_type: token.content_type.to_string(),
        });
    }
    let signed_data: SignedDataRef<'_> = token
        .content
        .decode_as()
        .map_err(|e| TimestampError::malformed("SignedData", e))?;
    let econtent_type = signed_data.encap_content_info.econtent_type;
    if econtent_type != ID_CT_TST_INFO {
        return Err(TimestampError::WrongContentType {
            content_type: econtent_type.to_string(),
        });
    }

    if signed_data.signer_infos.tag() != Tag::Set {
        return Err(TimestampError::malformed(
            "SignedData",
            "signerInfos is not a SET",
        ));
    }
    let mut reader = SliceReader::new(signed_data.signer_infos.value())
        .map_err(|e| TimestampError::malformed("SignerInfo", e))?;
    let mut signers = Vec::new();
    while !reader.is_finished() {
        let si: SignerInfoRef<'_> = reader
            .decode()
            .map_err(|e| TimestampError::malformed("SignerInfo", e))?;
        signers.push(si);
        if signers.len() > 1 {
            // Count the rest without keeping them; any count other than one is an error anyway.
            let mut count = signers.len();
            while !reader.is_finished() {
                let _: AnyRef<'_> = reader
                    .decode()
                    .map_err(|e| TimestampError::malformed("SignerInfo", e))?;
                count += 1;
            }
            return Err(TimestampError::SignerInfoCount { count });
        }
    }
    let signer = signers
        .pop()
        .ok_or(TimestampError::SignerInfoCount { count: 0 })?;
    let sid = signer
        .signer_identifier()
        .map_err(|e| TimestampError::malformed("SignerInfo", e))?;

    let tst_der = signed_data
        .encap_content_info
        .econtent
        .ok_or_else(|| TimestampError::malformed("SignedData", "no encapsulated TSTInfo"))?
        .as_bytes();
    let tst = TstInfo::from_der(tst_der).map_err(|e| TimestampError::malformed("TSTInfo", e))?;
    if tst.version != 1 {
        return Err(TimestampError::UnsupportedVersion {
            version: tst.version,
        });
    }
    let (gen_time_unix, gen_time_nanos) = parse_generalized_time(tst.gen_time)?;
    let certificates = signed_data.certificates.unwrap_or_default();
    if certificates.len() > MAX_EMBEDDED_CERTIFICATES {
        return Err(TimestampError::malformed(
            "SignedData",
            format!(
                "{} embedded certificates, more than the {MAX_EMBEDDED_CERTIFICATES} accepted",
                certificates.len()
            ),
        ));
    }
    Ok(ParsedToken {
        tst,
        tst_der,
        gen_time_unix,
        gen_time_nanos,
        certificates,
        signer,
        sid,
    })
}

/// Parse a DER `TimeStampResp` without verifying anything (for `bundle inspect` and fuzzing).
///
/// Fails if it is too large, malformed, not granted, or not a `SignedData` over a v1 `TSTInfo`.
pub fn parse_timestamp_response(response_der: &[u8]) -> Result<TimestampInfo, TimestampError> {
    let token = parse_token(response_der)?;
    let imprint = &token.tst.message_imprint;
    Ok(TimestampInfo {
        gen_time_unix: token.gen_time_unix,
        gen_time_nanos: token.gen_time_nanos,
        imprint_algorithm: hash_name(&imprint.hash_algorithm.oid),
        imprint: imprint.hashed_message.as_bytes().to_vec(),
        policy: token.tst.policy.to_string(),
        serial: integer_bytes(token.tst.serial_number),
        embedded_certificates: token.certificates.len(),
    })
}
