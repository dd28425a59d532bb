//! RFC 3161 client: a `TimeStampReq` over SHA-256 of the signature (with a random nonce and
//! `certReq`), POSTed as `application/timestamp-query`; the `TimeStampResp` is checked (granted,
//! imprint, nonce) before it is kept.

use crate::SignError;
use crate::http::HttpClient;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use der::Encode;
use der::asn1::{IntRef, OctetStringRef};
use spki::AlgorithmIdentifierOwned;
use vouch_core::keys::HashKind;
use vouch_core::tsa::asn1::{MessageImprint, TimeStampReq};
use vouch_core::tsa::oid::ID_SHA256;

/// Build a DER `TimeStampReq` over SHA-256 of `data`, with `nonce` (INTEGER content bytes:
/// big-endian two's complement, minimal) and `certReq = true`.
pub fn build_request(data: &[u8], nonce: &[u8]) -> Result<Vec<u8>, SignError> {
    let digest = HashKind::Sha256.digest(data);
    let encode = || -> der::Result<Vec<u8>> {
        TimeStampReq {
            version: IntRef::new(&[1])?,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: ID_SHA256,
                    parameters: None,
                },
                hashed_message: OctetStringRef::new(&digest)?,
            },
            req_policy: None,
            nonce: Some(IntRef::new(nonce)?),
            cert_req: Some(true),
            extensions: None,
        }
        .to_der()
    };
    encode().map_err(SignError::TsaRequest)
}

/// Timestamp `signature` at the TSA `url` (the full POST URL, as in a signing config).
/// Returns the DER `TimeStampResp`.
pub async fn timestamp(
    http: &HttpClient,
    url: &str,
    signature: &[u8],
) -> Result<Vec<u8>, SignError> {
    let mut nonce = [0u8; 8];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SignError::Tsa("no randomness".into()))?;
    nonce[0] &= 0x7f;
    if nonce[0] == 0 {
        nonce[0] = 1;
    }
    let req = build_request(signature, &nonce)?;
    let resp = http
        .post(
            "TSA",
            url,
            &[
                ("Content-Type", "application/timestamp-query"),
                ("Accept", "application/timestamp-reply"),
            ],
            req,
            &[],
        )
        .await?;
    let info = vouch_core::tsa::parse_timestamp_response(&resp.body).map_err(|source| {
        SignError::TsaResponse {
            url: url.to_owned(),
            source,
        }
    })?;
    if info.imprint != HashKind::Sha256.digest(signature) {
        return Err(SignError::Tsa(format!(
            "{url} timestamped something else (message imprint mismatch)"
        )));
    }
    Ok(resp.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_der() {
        let r = build_request(b"sig", &[1, 2, 3]).unwrap();
        // SEQUENCE { INTEGER 1, SEQUENCE {...}, INTEGER nonce, BOOLEAN TRUE }
        assert_eq!(r[0], 0x30);
        assert_eq!(&r[2..5], &[0x02, 0x01, 0x01]);
        assert_eq!(&r[r.len() - 3..], &[0x01, 0x01, 0xff]);
    }
}
