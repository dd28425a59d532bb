//! Attaching artifacts made elsewhere (`vouch attach sbom|signature|attestation`, cosign's
//! `attach`): nothing is signed here, the bytes given are stored in cosign's legacy layout.
//!
//! * `sbom`: the `sha256-<hex>.sbom` tag, one layer of the SBOM's media type (replaced on
//!   every attach, as cosign does);
//! * `signature`: a layer appended to `sha256-<hex>.sig` (payload, base64 signature,
//!   certificate, chain, Rekor bundle and RFC 3161 timestamp annotations);
//! * `attestation`: a DSSE envelope layer appended to `sha256-<hex>.att`; its statement's
//!   subject must name the image digest.

use crate::OciError;
use crate::copy::by_tag;
use crate::layout::{self, Kind, LegacyLayer, RekorBundle, Rfc3161Annotation};
use crate::registry::{OCI_MANIFEST, Registry, sha256_digest};
use crate::sign::{Target, push_legacy};
use std::collections::BTreeMap;
use vouch_core::dsse::Envelope;
use vouch_core::intoto::Statement;

/// The `.sbom` tag of `digest`.
pub fn sbom_tag(digest: &str) -> String {
    format!("{}.sbom", layout::fallback_tag(digest))
}

/// cosign's media type for an SBOM of `sbom_type` (`spdx`, `cyclonedx`, `syft`) in
/// `input_format` (`json`, `xml`, `text`; guessed from a `.json` file name when absent).
pub fn sbom_media_type(
    sbom_type: &str,
    input_format: Option<&str>,
    looks_like_json: bool,
) -> Result<&'static str, OciError> {
    let json = input_format == Some("json") || (input_format.is_none() && looks_like_json);
    let bad = |expected: &str| {
        OciError::Config(format!(
            "invalid SBOM input format {:?} for --type {sbom_type}: expected {expected}",
            input_format.unwrap_or_default()
        ))
    };
    match sbom_type {
        "spdx" => match input_format {
            None | Some("json") | Some("text") => {
                Ok(if json { "text/spdx+json" } else { "text/spdx" })
            }
            _ => Err(bad("json or text")),
        },
        "cyclonedx" => match input_format {
            None | Some("json") | Some("xml") => Ok(if json {
                "application/vnd.cyclonedx+json"
            } else {
                "application/vnd.cyclonedx+xml"
            }),
            _ => Err(bad("json or xml")),
        },
        "syft" => match input_format {
            None | Some("json") => Ok("application/vnd.syft+json"),
            _ => Err(bad("json")),
        },
        other => Err(OciError::Config(format!(
            "unknown SBOM type {other:?}: expected spdx, cyclonedx or syft"
        ))),
    }
}

/// Store `sbom` as the image's `.sbom` tag (replacing what was there); returns the manifest
/// digest.
pub async fn attach_sbom(
    reg: &Registry,
    target: &Target,
    sbom: &[u8],
    media_type: &str,
) -> Result<String, OciError> {
    let r = &target.reference;
    let layer = LegacyLayer {
        media_type: media_type.to_string(),
        digest: sha256_digest(sbom),
        size: sbom.len() as u64,
        annotations: BTreeMap::new(),
    };
    reg.put_blob(r, sbom).await?;
    let (manifest, config) = layout::legacy_manifest(&[layer])?;
    reg.put_blob(r, &config).await?;
    let tag = sbom_tag(&target.descriptor.digest);
    let (digest, _) = reg
        .put_manifest(&by_tag(r, &tag), &tag, &manifest, OCI_MANIFEST)
        .await?;
    Ok(digest)
}

/// The parts of a signature made elsewhere (cosign `attach signature`).
#[derive(Clone, Debug, Default)]
pub struct DetachedSignature {
    /// The signed payload (default: the simple-signing payload for the image).
    pub payload: Option<Vec<u8>>,
    /// The base64 signature over the payload.
    pub signature: String,
    /// PEM leaf certificate.
    pub certificate: Option<String>,
    /// PEM chain.
    pub chain: Option<String>,
    /// cosign's Rekor bundle (`{"SignedEntryTimestamp":…,"Payload":{…}}`).
    pub rekor_bundle: Option<String>,
    /// DER RFC 3161 timestamp response.
    pub timestamp: Option<Vec<u8>>,
}

/// Append a signature made elsewhere to the image's `.sig` tag; returns the manifest digest.
pub async fn attach_signature(
    reg: &Registry,
    target: &Target,
    sig: &DetachedSignature,
) -> Result<String, OciError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let signature = sig.signature.trim();
    b64.decode(signature)
        .map_err(|source| OciError::SignatureBase64 { source })?;
    let payload = match &sig.payload {
        Some(p) => p.clone(),
        None => layout::simple_signing_payload(
            &target.repository_name(),
            &target.descriptor.digest,
            &BTreeMap::new(),
        )?,
    };
    let ss = layout::parse_simple_signing(&payload).map_err(|e| {
        OciError::Config(format!(
            "the payload is not a cosign simple-signing payload: {e}"
        ))
    })?;
    if ss.digest != target.descriptor.digest {
        return Err(OciError::Config(format!(
            "the payload signs {}, not the image {}",
            ss.digest, target.descriptor.digest
        )));
    }
    let mut a = BTreeMap::new();
    a.insert(layout::ANN_SIGNATURE.to_string(), signature.to_string());
    if let Some(c) = &sig.certificate {
        a.insert(layout::ANN_CERTIFICATE.to_string(), c.clone());
    }
    if let Some(c) = &sig.chain {
        a.insert(layout::ANN_CHAIN.to_string(), c.clone());
    }
    if let Some(rb) = &sig.rekor_bundle {
        let parsed: RekorBundle = serde_json::from_str(rb).map_err(|source| OciError::ConfigJson {
            context:
                "--rekor-response is not a cosign Rekor bundle (SignedEntryTimestamp, Payload)",
            source,
        })?;
        let text = serde_json::to_string(&parsed).map_err(|source| OciError::ProtocolJson {
            context: "Rekor bundle".into(),
            source,
        })?;
        a.insert(layout::ANN_REKOR_BUNDLE.to_string(), text);
    }
    if let Some(ts) = &sig.timestamp {
        let text = serde_json::to_string(&Rfc3161Annotation {
            signed: b64.encode(ts),
        })
        .map_err(|source| OciError::ProtocolJson {
            context: "timestamp annotation".into(),
            source,
        })?;
        a.insert(layout::ANN_RFC3161.to_string(), text);
    }
    let layer = LegacyLayer {
        media_type: layout::SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
        digest: sha256_digest(&payload),
        size: payload.len() as u64,
        annotations: a,
    };
    let (digest, _) = push_legacy(reg, target, Kind::Signature, &payload, layer).await?;
    Ok(digest)
}

/// Append a signed DSSE attestation envelope to the image's `.att` tag; returns the manifest
/// digest. The envelope must hold an in-toto statement whose subject is the image.
pub async fn attach_attestation(
    reg: &Registry,
    target: &Target,
    envelope: &[u8],
) -> Result<String, OciError> {
    let env: Envelope =
        serde_json::from_slice(envelope).map_err(|source| OciError::ConfigJson {
            context: "the attestation is not a DSSE envelope",
            source,
        })?;
    if env.signatures.is_empty() {
        return Err(OciError::Config(
            "the DSSE envelope has no signature: sign it first (vouch attest)".into(),
        ));
    }
    if env.payload_type != layout::INTOTO_PAYLOAD_TYPE {
        return Err(OciError::Config(format!(
            "the DSSE payload type is {:?}, not {:?}",
            env.payload_type,
            layout::INTOTO_PAYLOAD_TYPE
        )));
    }
    let st: Statement =
        serde_json::from_slice(env.payload.as_slice()).map_err(|source| OciError::ConfigJson {
            context: "the DSSE payload is not an in-toto statement",
            source,
        })?;
    let hex = target
        .descriptor
        .digest
        .strip_prefix("sha256:")
        .unwrap_or_default();
    if !st
        .subject
        .iter()
        .any(|s| s.digest.get("sha256").map(String::as_str) == Some(hex))
    {
        return Err(OciError::Config(format!(
            "the statement's subject does not name the image {}",
            target.descriptor.digest
        )));
    }
    let mut a = BTreeMap::new();
    a.insert(layout::ANN_SIGNATURE.to_string(), String::new());
    a.insert(layout::ANN_PREDICATE_TYPE.to_string(), st.predicate_type);
    let layer = LegacyLayer {
        media_type: layout::DSSE_MEDIA_TYPE.to_string(),
        digest: sha256_digest(envelope),
        size: envelope.len() as u64,
        annotations: a,
    };
    let (digest, _) = push_legacy(reg, target, Kind::Attestation, envelope, layer).await?;
    Ok(digest)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sbom_media_types() {
        assert_eq!(
            sbom_media_type("spdx", None, true).unwrap(),
            "text/spdx+json"
        );
        assert_eq!(sbom_media_type("spdx", None, false).unwrap(), "text/spdx");
        assert_eq!(
            sbom_media_type("cyclonedx", Some("xml"), true).unwrap(),
            "application/vnd.cyclonedx+xml"
        );
        assert!(sbom_media_type("syft", Some("xml"), false).is_err());
        assert!(sbom_media_type("pdf", None, false).is_err());
    }
}
