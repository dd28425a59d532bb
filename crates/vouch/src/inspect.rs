//! `vouch bundle inspect`: what a bundle claims, and what of it verifies offline.

use crate::cli::OutputFormat;
use anyhow::{Context, Result};
use serde_json::json;
use std::path::Path;
use vouch_core::bundle::{Bundle, Content, HashAlgorithm, Material};
use vouch_core::keys::HashKind;
use vouch_core::rekor::EntryBody;
use vouch_core::trust::TrustRoot;
use vouch_core::tsa::parse_timestamp_response;
use vouch_core::x509::Certificate;
use vouch_verify::{Artifact, PolicyBuilder, Verifier};

/// Print a summary of `path` and the result of an offline verification against `trust`
/// that checks everything except the signer identity and the artifact bytes.
pub fn inspect(path: &Path, trust: TrustRoot, output: OutputFormat) -> Result<()> {
    let json =
        std::fs::read(path).with_context(|| format!("cannot read bundle {}", path.display()))?;
    let bundle = Bundle::from_json(&json).with_context(|| format!("bundle {}", path.display()))?;
    let version = bundle.validate().map(|v| v.as_str().to_string());

    let mut signer = json!(null);
    if let Some(m) = bundle.material() {
        signer = match m {
            Material::PublicKey(h) => json!({"publicKeyHint": h.hint}),
            Material::Certificate { leaf, .. } => match Certificate::from_der(leaf) {
                Ok(c) => {
                    let id = c.fulcio_identity().ok();
                    json!({
                        "subjectAlternativeName": id.as_ref().and_then(|i| i.san.clone()),
                        "issuer": id.as_ref().and_then(|i| i.issuer.clone()),
                        "certificateIssuer": c.issuer(),
                        "serial": c.serial_hex(),
                        "notBefore": c.not_before().to_rfc3339(),
                        "notAfter": c.not_after().to_rfc3339(),
                        "extensions": id.map(|i| i.extensions.iter().map(|(k, v)| (vouch_core::x509::fulcio_extension_name(*k).to_string(), json!(v))).collect::<serde_json::Map<_, _>>()),
                    })
                }
                Err(e) => json!({"error": e.to_string()}),
            },
        };
    }

    let mut entries = Vec::new();
    for e in bundle.tlog_entries() {
        let kv = e.kind_version.clone().unwrap_or_default();
        let log_id = e
            .log_id
            .as_ref()
            .map(|l| l.key_id.0.clone())
            .unwrap_or_default();
        let log = trust.tlog_by_id(&log_id).map(|l| l.base_url.clone());
        let body_ok =
            EntryBody::parse(e.canonicalized_body.as_slice(), &kv.kind, &kv.version).is_ok();
        entries.push(json!({
            "log": log.unwrap_or_else(|| format!("unknown log {}", hex::encode(&log_id))),
            "logIndex": e.log_index.0,
            "kind": format!("{} {}", kv.kind, kv.version),
            "integratedTime": (e.integrated_time.0 != 0).then(|| vouch_core::time::Instant::from_secs(e.integrated_time.0).to_rfc3339()),
            "hasInclusionPromise": e.inclusion_promise.is_some(),
            "hasInclusionProof": e.inclusion_proof.is_some(),
            "bodyReadable": body_ok,
        }));
    }
    let timestamps: Vec<_> = bundle
        .rfc3161_timestamps()
        .iter()
        .map(|t| match parse_timestamp_response(t.signed_timestamp.as_slice()) {
            Ok(i) => json!({"genTime": vouch_core::time::Instant { secs: i.gen_time_unix, nanos: i.gen_time_nanos }.to_rfc3339(), "policy": i.policy}),
            Err(e) => json!({"error": e.to_string()}),
        })
        .collect();

    // Offline verification of everything that does not need the artifact or a policy.
    let (content, artifact_digest): (&str, Option<(HashKind, Vec<u8>)>) = match bundle.content() {
        Some(Content::Message(m)) => (
            "message signature",
            m.message_digest.as_ref().and_then(|d| match d.algorithm {
                HashAlgorithm::SHA2_256 => Some((HashKind::Sha256, d.digest.0.clone())),
                HashAlgorithm::SHA2_384 => Some((HashKind::Sha384, d.digest.0.clone())),
                HashAlgorithm::SHA2_512 => Some((HashKind::Sha512, d.digest.0.clone())),
                _ => None,
            }),
        ),
        Some(Content::Dsse(env)) => (
            "DSSE envelope",
            vouch_core::intoto::Statement::from_json(env.payload.as_slice())
                .ok()
                .and_then(|s| s.subject.into_iter().next())
                .and_then(|s| s.digest.get("sha256").and_then(|h| hex::decode(h).ok()))
                .map(|d| (HashKind::Sha256, d)),
        ),
        None => ("none", None),
    };
    let offline = match (&artifact_digest, bundle.material()) {
        (Some((alg, d)), Some(Material::Certificate { .. })) => {
            let policy = PolicyBuilder::new().insecure_any_identity(true).build()?;
            match Verifier::new(trust).verify(
                &bundle,
                Artifact::Digest {
                    algorithm: *alg,
                    digest: d,
                },
                &policy,
            ) {
                Ok(_) => {
                    json!({"verified": true, "checked": "signature over the claimed digest, certificate chain, SCT, transparency log proofs, timestamps (identity and artifact bytes not checked)"})
                }
                Err(e) => json!({"verified": false, "error": e.to_string()}),
            }
        }
        (_, Some(Material::PublicKey(_))) => {
            json!({"verified": false, "error": "key-based bundle: verify with --key"})
        }
        _ => json!({"verified": false, "error": "no digest to check the signature against"}),
    };

    let report = json!({
        "file": path.display().to_string(),
        "version": version.as_ref().ok(),
        "structureError": version.as_ref().err().map(|e| e.to_string()),
        "content": content,
        "signer": signer,
        "tlogEntries": entries,
        "rfc3161Timestamps": timestamps,
        "offlineVerification": offline,
    });
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print_text(&report),
    }
    Ok(())
}

fn print_text(r: &serde_json::Value) {
    let s = |v: &serde_json::Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    println!("Bundle:      {} (v{})", s(&r["file"]), s(&r["version"]));
    if let Some(e) = r["structureError"].as_str() {
        println!("Structure:   INVALID: {e}");
    }
    println!("Content:     {}", s(&r["content"]));
    let sg = &r["signer"];
    if sg.get("publicKeyHint").is_some() {
        println!("Signer:      public key (hint {})", s(&sg["publicKeyHint"]));
    } else {
        println!("Signer:      {}", s(&sg["subjectAlternativeName"]));
        println!("Issuer:      {}", s(&sg["issuer"]));
        println!(
            "Certificate: serial {}, valid {} .. {}",
            s(&sg["serial"]),
            s(&sg["notBefore"]),
            s(&sg["notAfter"])
        );
        if let Some(ext) = sg["extensions"].as_object() {
            for (k, v) in ext {
                println!("  {k}: {}", s(v));
            }
        }
    }
    for e in r["tlogEntries"].as_array().into_iter().flatten() {
        println!(
            "Log entry:   {} index {} ({}), integrated {}, promise {}, proof {}",
            s(&e["log"]),
            s(&e["logIndex"]),
            s(&e["kind"]),
            s(&e["integratedTime"]),
            s(&e["hasInclusionPromise"]),
            s(&e["hasInclusionProof"])
        );
    }
    for t in r["rfc3161Timestamps"].as_array().into_iter().flatten() {
        println!("Timestamp:   {}", s(&t["genTime"]));
    }
    let o = &r["offlineVerification"];
    if o["verified"].as_bool() == Some(true) {
        println!("Offline:     VERIFIED: {}", s(&o["checked"]));
    } else {
        println!("Offline:     NOT VERIFIED: {}", s(&o["error"]));
    }
}
