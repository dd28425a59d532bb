//! Bundles and trusted roots read and written back in proto3 JSON keep their meaning:
//! every conformance bundle and trust root re-serializes to the same JSON value, up to
//! proto3's canonical forms (int64 as strings, base64 re-padded, defaults omitted).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::Value;
use std::path::Path;
use vouch_core::bundle::Bundle;
use vouch_core::encoding::b64_decode;
use vouch_core::trust::TrustedRootJson;

fn testdata() -> Option<std::path::PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
    if p.is_dir() {
        Some(p)
    } else {
        vouch_testkit::skip(format_args!(
            "../shared/testdata not found (CI provides it)"
        ));
        None
    }
}

/// Normalize a proto3 JSON value: numbers to strings, base64 strings to their decoded bytes
/// in canonical form, drop empty/default members, and fractional-second `.000` suffixes.
fn normalize(v: &Value, key: &str) -> Option<Value> {
    const BYTES: &[&str] = &[
        "rawBytes",
        "keyId",
        "signature",
        "digest",
        "signedEntryTimestamp",
        "rootHash",
        "canonicalizedBody",
        "signedTimestamp",
        "payload",
        "sig",
        "hashes",
    ];
    match v {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::Number(n) => {
            if n.as_i64() == Some(0) {
                None
            } else {
                Some(Value::String(n.to_string()))
            }
        }
        Value::String(s) if s.is_empty() => None,
        Value::String(s) if s == "0" => None,
        Value::String(s) if BYTES.contains(&key) => match b64_decode(s) {
            Ok(b) => Some(Value::String(hex::encode(b))),
            Err(_) => Some(v.clone()),
        },
        Value::String(s) if s.ends_with(".000Z") => Some(Value::String(s.replace(".000Z", "Z"))),
        Value::Array(a) => {
            let items: Vec<Value> = a.iter().filter_map(|x| normalize(x, key)).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(o) => {
            let m: serde_json::Map<String, Value> = o
                .iter()
                .filter_map(|(k, x)| {
                    // snake_case readers are lenient; compare in camelCase.
                    normalize(x, k).map(|n| (k.clone(), n))
                })
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        other => Some(other.clone()),
    }
}

#[test]
fn bundles_roundtrip() {
    let Some(td) = testdata() else { return };
    let dir = td.join("conformance/bundle-verify");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path().join("bundle.sigstore.json");
        let Ok(raw) = std::fs::read(&p) else { continue };
        let Ok(b) = Bundle::from_json(&raw) else {
            continue;
        }; // malformed cases
        let original: Value = serde_json::from_slice(&raw).unwrap();
        let written: Value = serde_json::from_str(&b.to_json().unwrap()).unwrap();
        assert_eq!(
            normalize(&original, ""),
            normalize(&written, ""),
            "{} does not round-trip",
            p.display()
        );
        // Writing is canonical: int64 as strings.
        if let Some(idx) = written.pointer("/verificationMaterial/tlogEntries/0/logIndex") {
            assert!(idx.is_string());
        }
        // And a second round trip is byte-stable.
        let again = Bundle::from_json(b.to_json().unwrap().as_bytes()).unwrap();
        assert_eq!(again.to_json().unwrap(), b.to_json().unwrap());
        n += 1;
    }
    assert!(n >= 60, "only {n} bundles round-tripped");
    println!("{n} bundles round-trip");
}

#[test]
fn trusted_roots_roundtrip() {
    let Some(td) = testdata() else { return };
    let mut files = vec![
        td.join("roots/public-good.trusted_root.json"),
        td.join("roots/staging.trusted_root.json"),
    ];
    for e in std::fs::read_dir(td.join("conformance/bundle-verify")).unwrap() {
        let p = e.unwrap().path().join("trusted_root.json");
        if p.exists() {
            files.push(p);
        }
    }
    for p in &files {
        let raw = std::fs::read(p).unwrap();
        let tr: TrustedRootJson = serde_json::from_slice(&raw).unwrap();
        let original: Value = serde_json::from_slice(&raw).unwrap();
        let written = serde_json::to_value(&tr).unwrap();
        assert_eq!(
            normalize(&original, ""),
            normalize(&written, ""),
            "{} does not round-trip",
            p.display()
        );
    }
    println!("{} trusted roots round-trip", files.len());
}

#[test]
fn snake_case_and_numbers_are_accepted() {
    let json = br#"{"media_type":"application/vnd.dev.sigstore.bundle.v0.3+json",
        "verification_material":{"public_key":{"hint":"k"},"tlog_entries":[{"log_index":5,"log_id":{"key_id":"AAAA"},
        "kind_version":{"kind":"hashedrekord","version":"0.0.1"},"integrated_time":"7","canonicalized_body":"e30",
        "inclusion_proof":{"log_index":"5","root_hash":"AAAA","tree_size":6,"hashes":[],"checkpoint":{"envelope":"x"}},"unknownField":1}]},
        "message_signature":{"message_digest":{"algorithm":"SHA2_256","digest":"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},"signature":"AAAA"},
        "someFutureField":{"a":1}}"#;
    let b = Bundle::from_json(json).unwrap();
    assert_eq!(b.validate().unwrap().as_str(), "0.3");
    let e = &b.tlog_entries()[0];
    assert_eq!(e.log_index.0, 5);
    assert_eq!(e.integrated_time.0, 7);
    assert_eq!(e.canonicalized_body.as_slice(), b"{}");
}
