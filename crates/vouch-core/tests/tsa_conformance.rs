//! RFC 3161 verification against the recorded conformance data (sigstore-conformance's
//! `bundle-verify` cases under `shared/testdata`): real TSA chains and real tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::path::PathBuf;
use vouch_core::tsa::{
    MAX_TIMESTAMP_RESPONSE_LEN, TimestampError, TsaVerifier, VerifiedTimestamp,
    parse_timestamp_response,
};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");

struct Case {
    chains: Vec<Vec<Vec<u8>>>,
    responses: Vec<Vec<u8>>,
    signed_bytes: Vec<u8>,
}

fn rfc3339(secs: i64, nanos: u32) -> String {
    jiff::Timestamp::new(secs, i32::try_from(nanos).unwrap())
        .unwrap()
        .to_string()
}

fn case_dir(name: &str) -> Option<PathBuf> {
    let root = PathBuf::from(TESTDATA);
    if !root.is_dir() {
        eprintln!("skipping: shared test data not found at {}", root.display());
        return None;
    }
    Some(root.join("conformance/bundle-verify").join(name))
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn b64(v: &serde_json::Value) -> Vec<u8> {
    // Some fixtures were made with `base64` and carry line breaks, which Go's decoder skips.
    let text: String = v.as_str().unwrap().split_whitespace().collect();
    STANDARD.decode(text).unwrap()
}

fn load_dir(dir: &std::path::Path) -> Case {
    let bundle = read_json(&dir.join("bundle.sigstore.json"));
    let root = read_json(&dir.join("trusted_root.json"));
    let chains = root["timestampAuthorities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tsa| {
            tsa["certChain"]["certificates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| b64(&c["rawBytes"]))
                .collect()
        })
        .collect();
    let responses =
        bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| b64(&t["signedTimestamp"]))
            .collect();
    let signed_bytes = if bundle["messageSignature"].is_object() {
        b64(&bundle["messageSignature"]["signature"])
    } else {
        b64(&bundle["dsseEnvelope"]["signatures"][0]["sig"])
    };
    Case {
        chains,
        responses,
        signed_bytes,
    }
}

fn load(name: &str) -> Option<Case> {
    case_dir(name).map(|d| load_dir(&d))
}

/// Verifies every response of the case against every TSA of its trust root; returns, per
/// response, the first success or the last error.
fn verify_case(case: &Case) -> Vec<Result<VerifiedTimestamp, TimestampError>> {
    let verifiers: Vec<TsaVerifier> = case
        .chains
        .iter()
        .map(|c| TsaVerifier::new(c).unwrap())
        .collect();
    assert!(!verifiers.is_empty());
    case.responses
        .iter()
        .map(|resp| {
            let mut last = Err(TimestampError::EmptyChain);
            for v in &verifiers {
                last = v.verify(resp, &case.signed_bytes);
                if last.is_ok() {
                    break;
                }
            }
            last
        })
        .collect()
}

fn single(name: &str) -> Option<Result<VerifiedTimestamp, TimestampError>> {
    let case = load(name)?;
    let mut results = verify_case(&case);
    assert_eq!(results.len(), 1, "{name}");
    results.pop()
}

#[test]
fn happy_path_verifies() {
    let Some(result) = single("rekor2-happy-path") else {
        return;
    };
    let ts = result.unwrap();
    assert_eq!(ts.policy, "1.3.6.1.4.1.57264.2");
    // openssl ts -reply -text: "Time stamp: Jun 12 12:02:20 2025 GMT"
    assert_eq!(
        rfc3339(ts.gen_time_unix, ts.gen_time_nanos),
        "2025-06-12T12:02:20Z"
    );
    assert_eq!(
        hex::encode(&ts.serial),
        "559742c71edae5b645233a7ac43a8d033142a5ac"
    );
    assert_eq!(
        ts.nonce.as_deref().map(hex::encode),
        Some("8f59f2afe69cc8a8".to_owned())
    );
}

#[test]
fn valid_timestamps_verify() {
    for name in [
        "rekor2-timestamp-with-embedded-cert",
        "rekor2-timestamp-without-embedded-cert",
        "rekor2-timestamp-with-expired-cert-chain",
        // These fail bundle verification for reasons outside the token (trust-root validFor,
        // signing-certificate lifetime); the token itself is valid.
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        "rekor2-timestamp-with-incorrect-time_fail",
    ] {
        let Some(result) = single(name) else { return };
        if let Err(e) = result {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn every_valid_conformance_timestamp_verifies() {
    let Some(dir) = case_dir("") else { return };
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("_fail") || !path.join("trusted_root.json").is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path.join("bundle.sigstore.json")) else {
            continue;
        };
        let bundle: serde_json::Value = serde_json::from_str(&text).unwrap();
        if !bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .is_array()
        {
            continue;
        }
        let case = load_dir(&path);
        if case.chains.is_empty() {
            continue;
        }
        for result in verify_case(&case) {
            if let Err(e) = result {
                panic!("{name}: {e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} timestamps checked");
}

#[test]
fn payload_mismatch_is_imprint_mismatch() {
    let Some(result) = single("rekor2-timestamp-payload-mismatch_fail") else {
        return;
    };
    assert!(
        matches!(result, Err(TimestampError::ImprintMismatch { .. })),
        "{result:?}"
    );
}

#[test]
fn untrusted_tsa_is_rejected() {
    for name in [
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
    ] {
        let Some(result) = single(name) else { return };
        assert!(
            matches!(result, Err(TimestampError::SignerNotTrusted { .. })),
            "{name}: {result:?}"
        );
    }
}

#[test]
fn gen_time_outside_cert_validity_is_rejected() {
    let Some(result) = single("rekor2-timestamp-outside-tsa-cert-validity_fail") else {
        return;
    };
    match result {
        Err(TimestampError::CertificateNotValidAtGenTime {
            subject, gen_time, ..
        }) => {
            assert!(subject.contains("Test TSA"), "{subject}");
            assert!(gen_time.starts_with("2025-08-07T"), "{gen_time}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn parse_reports_fields() {
    let Some(case) = load("rekor2-timestamp-with-embedded-cert") else {
        return;
    };
    let info = parse_timestamp_response(&case.responses[0]).unwrap();
    assert_eq!(info.imprint_algorithm, "sha256");
    assert_eq!(
        info.imprint,
        digest::digest(&digest::SHA256, &case.signed_bytes).as_ref()
    );
    assert_eq!(info.policy, "1.3.6.1.4.1.57264.2");
    assert_eq!(info.embedded_certificates, 1);
    let without = load("rekor2-timestamp-without-embedded-cert").unwrap();
    let info = parse_timestamp_response(&without.responses[0]).unwrap();
    assert_eq!(info.embedded_certificates, 0);
}

#[test]
fn tampered_responses_error_without_panicking() {
    let Some(case) = load("rekor2-happy-path") else {
        return;
    };
    let verifier = TsaVerifier::new(&case.chains[0]).unwrap();
    let response = &case.responses[0];
    let original = verifier.verify(response, &case.signed_bytes).unwrap();
    let mut accepted = 0;
    for i in 0..response.len() {
        let mut bad = response.clone();
        bad[i] ^= 0x01;
        let _ = parse_timestamp_response(&bad);
        if let Ok(ts) = verifier.verify(&bad, &case.signed_bytes) {
            // Only unsigned, unchecked bytes may change (the unused digestAlgorithms set,
            // versions, an embedded certificate that no longer matches the signer id and is
            // then ignored); what the token attests must not.
            assert_eq!(ts, original, "byte {i}");
            accepted += 1;
        }
    }
    assert!(
        accepted < response.len() / 8,
        "{accepted} tampered responses verified"
    );

    // A flip inside the signed TSTInfo (its last byte, part of the TSA name or nonce) must fail.
    let tst_start = response
        .windows(11)
        .position(|w| {
            w == [
                0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10,
            ]
        })
        .unwrap();
    let mut bad = response.clone();
    bad[tst_start + 60] ^= 0x01;
    assert!(verifier.verify(&bad, &case.signed_bytes).is_err());
}

#[test]
fn truncated_input_is_malformed() {
    let Some(case) = load("rekor2-happy-path") else {
        return;
    };
    let response = &case.responses[0];
    for len in [0, 1, 2, 10, response.len() / 2, response.len() - 1] {
        let result = parse_timestamp_response(&response[..len]);
        assert!(
            matches!(result, Err(TimestampError::Malformed { .. })),
            "len {len}: {result:?}"
        );
    }
    let verifier = TsaVerifier::new(&case.chains[0]).unwrap();
    assert!(matches!(
        verifier.verify(&response[..response.len() - 1], &case.signed_bytes),
        Err(TimestampError::Malformed { .. })
    ));
}

#[test]
fn oversized_input_is_rejected() {
    let big = vec![0u8; MAX_TIMESTAMP_RESPONSE_LEN + 1];
    assert!(matches!(
        parse_timestamp_response(&big),
        Err(TimestampError::ResponseTooLarge { .. })
    ));
}

#[test]
fn not_granted_status_is_reported() {
    // TimeStampResp { status { rejection(2) } } with no token.
    let der = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02];
    assert_eq!(
        parse_timestamp_response(&der),
        Err(TimestampError::NotGranted { status: 2 })
    );
}

#[test]
fn chain_checks() {
    let Some(case) = load("rekor2-happy-path") else {
        return;
    };
    let chain = &case.chains[0];
    assert_eq!(
        TsaVerifier::new(&[]).unwrap_err(),
        TimestampError::EmptyChain
    );
    // Root first: the root is not issued by the leaf.
    let reversed: Vec<Vec<u8>> = chain.iter().rev().cloned().collect();
    assert!(TsaVerifier::new(&reversed).is_err());
    // The root alone has no timeStamping EKU.
    assert!(matches!(
        TsaVerifier::new(&chain[1..]),
        Err(TimestampError::MissingTimestampingEku { .. })
    ));
    // A chain from another TSA cannot sign for this one.
    let Some(other) = load("rekor2-timestamp-with-expired-cert-chain") else {
        return;
    };
    let foreign = TsaVerifier::new(&other.chains[0]).unwrap();
    assert!(matches!(
        foreign.verify(&case.responses[0], &case.signed_bytes),
        Err(TimestampError::SignerNotTrusted { .. })
    ));
    // Garbage certificate.
    assert!(matches!(
        TsaVerifier::new(&[vec![0x30, 0x00]]),
        Err(TimestampError::InvalidCertificate { index: 0, .. })
    ));
}
