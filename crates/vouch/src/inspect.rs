//! `vouch bundle inspect`: what a bundle claims, and what of it verifies offline.

use crate::cli::OutputFormat;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use vouch_core::bundle::{Bundle, Content, HashAlgorithm, Material};
use vouch_core::keys::HashKind;
use vouch_core::rekor::EntryBody;
use vouch_core::time::Instant;
use vouch_core::trust::TrustRoot;
use vouch_core::tsa::parse_timestamp_response;
use vouch_core::x509::Certificate;
use vouch_verify::{Artifact, PolicyBuilder, Verifier};

/// What `bundle inspect --output json` prints (the text form is rendered from it).
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Report {
    file: String,
    version: Option<String>,
    structure_error: Option<String>,
    content: &'static str,
    signer: Option<Signer>,
    tlog_entries: Vec<LogEntry>,
    rfc3161_timestamps: Vec<Timestamp>,
    offline_verification: Offline,
}

#[derive(Serialize, Debug)]
#[serde(untagged)]
enum Signer {
    Key {
        #[serde(rename = "publicKeyHint")]
        public_key_hint: String,
    },
    Certificate(Box<CertificateSigner>),
    Unreadable {
        error: String,
    },
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct CertificateSigner {
    subject_alternative_name: Option<String>,
    issuer: Option<String>,
    certificate_issuer: String,
    serial: String,
    not_before: String,
    not_after: String,
    extensions: BTreeMap<&'static str, String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct LogEntry {
    log: String,
    log_index: i64,
    kind: String,
    /// Rekor v1's integratedTime; Rekor v2 entries have none (their time comes from a TSA).
    integrated_time: Option<String>,
    has_inclusion_promise: bool,
    has_inclusion_proof: bool,
    body_readable: bool,
}

#[derive(Serialize, Debug)]
#[serde(untagged)]
enum Timestamp {
    Ok {
        #[serde(rename = "genTime")]
        gen_time: String,
        policy: String,
    },
    Unreadable {
        error: String,
    },
}

#[derive(Serialize, Debug)]
struct Offline {
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    checked: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Offline {
    fn failed(error: impl Into<String>) -> Self {
        Self {
            verified: false,
            checked: None,
            error: Some(error.into()),
        }
    }
}

/// Print a summary of `path` and the result of an offline verification against `trust`
/// that checks everything except the signer identity and the artifact bytes.
pub fn inspect(path: &Path, trust: TrustRoot, output: OutputFormat) -> Result<()> {
    let json =
        std::fs::read(path).with_context(|| format!("cannot read bundle {}", path.display()))?;
    let bundle = Bundle::from_json(&json).with_context(|| format!("bundle {}", path.display()))?;
    let version = bundle.validate().map(|v| v.as_str().to_string());

    let signer = bundle.material().map(|m| match m {
        Material::PublicKey(h) => Signer::Key {
            public_key_hint: h.hint.clone(),
        },
        Material::Certificate { leaf, .. } => match Certificate::from_der(leaf) {
            Ok(c) => {
                let id = c.fulcio_identity().ok();
                Signer::Certificate(Box::new(CertificateSigner {
                    subject_alternative_name: id.as_ref().and_then(|i| i.san.clone()),
                    issuer: id.as_ref().and_then(|i| i.issuer.clone()),
                    certificate_issuer: c.issuer(),
                    serial: c.serial_hex(),
                    not_before: c.not_before().to_rfc3339(),
                    not_after: c.not_after().to_rfc3339(),
                    extensions: id
                        .map(|i| {
                            i.extensions
                                .into_iter()
                                .map(|(k, v)| (vouch_core::x509::fulcio_extension_name(k), v))
                                .collect()
                        })
                        .unwrap_or_default(),
                }))
            }
            Err(e) => Signer::Unreadable {
                error: e.to_string(),
            },
        },
    });

    let tlog_entries = bundle
        .tlog_entries()
        .iter()
        .map(|e| {
            let kv = e.kind_version.clone().unwrap_or_default();
            let log_id = e
                .log_id
                .as_ref()
                .map(|l| l.key_id.0.clone())
                .unwrap_or_default();
            LogEntry {
                log: trust
                    .tlog_by_id(&log_id)
                    .map(|l| l.base_url.clone())
                    .unwrap_or_else(|| format!("unknown log {}", hex::encode(&log_id))),
                log_index: e.log_index.0,
                kind: format!("{} {}", kv.kind, kv.version),
                integrated_time: (e.integrated_time.0 != 0)
                    .then(|| Instant::from_secs(e.integrated_time.0).to_rfc3339()),
                has_inclusion_promise: e.inclusion_promise.is_some(),
                has_inclusion_proof: e.inclusion_proof.is_some(),
                body_readable: EntryBody::parse(
                    e.canonicalized_body.as_slice(),
                    &kv.kind,
                    &kv.version,
                )
                .is_ok(),
            }
        })
        .collect();
    let rfc3161_timestamps = bundle
        .rfc3161_timestamps()
        .iter()
        .map(
            |t| match parse_timestamp_response(t.signed_timestamp.as_slice()) {
                Ok(i) => Timestamp::Ok {
                    gen_time: Instant {
                        secs: i.gen_time_unix,
                        nanos: i.gen_time_nanos,
                    }
                    .to_rfc3339(),
                    policy: i.policy,
                },
                Err(e) => Timestamp::Unreadable {
                    error: e.to_string(),
                },
            },
        )
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
    let offline_verification = match (&artifact_digest, bundle.material()) {
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
                Ok(_) => Offline {
                    verified: true,
                    checked: Some(
                        "signature over the claimed digest, certificate chain, SCT, transparency log proofs, timestamps (identity and artifact bytes not checked)",
                    ),
                    error: None,
                },
                Err(e) => Offline::failed(e.to_string()),
            }
        }
        (_, Some(Material::PublicKey(_))) => {
            Offline::failed("key-based bundle: verify with `vouch verify-blob --key`")
        }
        _ => Offline::failed("no digest to check the signature against"),
    };

    let report = Report {
        file: path.display().to_string(),
        version: version.as_ref().ok().cloned(),
        structure_error: version.as_ref().err().map(|e| e.to_string()),
        content,
        signer,
        tlog_entries,
        rfc3161_timestamps,
        offline_verification,
    };
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print_text(&report),
    }
    Ok(())
}

fn print_text(r: &Report) {
    println!(
        "Bundle:      {} (v{})",
        r.file,
        r.version.as_deref().unwrap_or("?")
    );
    if let Some(e) = &r.structure_error {
        println!("Structure:   INVALID: {e}");
    }
    println!("Content:     {}", r.content);
    match &r.signer {
        Some(Signer::Key { public_key_hint }) => {
            println!("Signer:      public key (hint {public_key_hint})")
        }
        Some(Signer::Certificate(c)) => {
            println!(
                "Signer:      {}",
                c.subject_alternative_name.as_deref().unwrap_or("?")
            );
            println!("Issuer:      {}", c.issuer.as_deref().unwrap_or("?"));
            println!(
                "Certificate: serial {}, valid {} .. {}",
                c.serial, c.not_before, c.not_after
            );
            for (k, v) in &c.extensions {
                println!("  {k}: {v}");
            }
        }
        Some(Signer::Unreadable { error }) => {
            println!("Signer:      unreadable certificate: {error}")
        }
        None => println!("Signer:      none"),
    }
    for e in &r.tlog_entries {
        let time = match &e.integrated_time {
            Some(t) => format!("integrated {t}"),
            None => "no integrated time (Rekor v2: the time comes from the timestamp)".into(),
        };
        println!(
            "Log entry:   {} index {} ({}), {time}, promise {}, proof {}",
            e.log, e.log_index, e.kind, e.has_inclusion_promise, e.has_inclusion_proof
        );
    }
    for t in &r.rfc3161_timestamps {
        match t {
            Timestamp::Ok { gen_time, .. } => println!("Timestamp:   {gen_time}"),
            Timestamp::Unreadable { error } => println!("Timestamp:   unreadable: {error}"),
        }
    }
    let o = &r.offline_verification;
    if o.verified {
        println!("Offline:     VERIFIED: {}", o.checked.unwrap_or_default());
    } else {
        println!(
            "Offline:     NOT VERIFIED: {}",
            o.error.as_deref().unwrap_or_default()
        );
    }
}
