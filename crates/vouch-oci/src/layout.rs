//! The two storage layouts: media types, annotation keys, payloads and manifests.

use crate::OciError;
use crate::registry::{OCI_INDEX, OCI_MANIFEST, sha256_digest};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Sigstore bundle v0.3 media type (referrer `artifactType` and layer media type).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The OCI empty descriptor media type (referrer config).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The 2-byte empty config blob `{}`.
pub const EMPTY_BLOB: &[u8] = b"{}";
/// Digest of [`EMPTY_BLOB`].
pub const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// Predicate type of cosign v3's image-signature statement.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Referrer annotation: what the bundle holds (`dsse-envelope` or `message-signature`).
pub const ANN_BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// [`ANN_BUNDLE_CONTENT`] of a bundle holding a DSSE envelope.
pub const CONTENT_DSSE: &str = "dsse-envelope";
/// [`ANN_BUNDLE_CONTENT`] of a bundle holding a message signature.
pub const CONTENT_MESSAGE_SIGNATURE: &str = "message-signature";
/// Referrer annotation on bundles written by `--upgrade-bundles`: the legacy tag and layer
/// the bundle was made from (`sha256-<hex>.sig#0`).
pub const ANN_UPGRADED_FROM: &str = "dev.vouch.bundle.upgraded-from";
/// Referrer annotation: the statement's predicate type.
pub const ANN_BUNDLE_PREDICATE: &str = "dev.sigstore.bundle.predicateType";
/// Referrer annotation: creation time (RFC 3339).
pub const ANN_CREATED: &str = "org.opencontainers.image.created";

/// Legacy signature layer media type (the simple-signing payload).
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Legacy attestation layer media type (a DSSE envelope).
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// OCI image config media type (legacy `.sig`/`.att` manifests).
pub const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Legacy annotation: base64 signature over the layer blob.
pub const ANN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Legacy annotation: PEM leaf certificate.
pub const ANN_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Legacy annotation: PEM chain (intermediates and root).
pub const ANN_CHAIN: &str = "dev.sigstore.cosign/chain";
/// Legacy annotation: Rekor v1 bundle (SET and its payload).
pub const ANN_REKOR_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// Legacy annotation: RFC 3161 timestamp.
pub const ANN_RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// Legacy attestation annotation: predicate type.
pub const ANN_PREDICATE_TYPE: &str = "predicateType";
/// `critical.type` of a cosign simple-signing payload.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// in-toto statement v1 type.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// DSSE payload type of in-toto statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Which kind of attachment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An image signature.
    Signature,
    /// An in-toto attestation.
    Attestation,
}

impl Kind {
    /// The legacy tag suffix (`sig` / `att`).
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Signature => "sig",
            Kind::Attestation => "att",
        }
    }
}

/// `sha256-<hex>` (the referrers fallback tag), from `sha256:<hex>`.
pub fn fallback_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// `sha256-<hex>.sig` / `.att`.
pub fn legacy_tag(digest: &str, kind: Kind) -> String {
    format!("{}.{}", fallback_tag(digest), kind.suffix())
}

/// The cosign simple-signing payload for `docker_reference` at `digest`.
pub fn simple_signing_payload(
    docker_reference: &str,
    digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let optional = if annotations.is_empty() {
        Value::Null
    } else {
        json!(annotations)
    };
    let v = json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": optional,
    });
    // serde_json keeps keys sorted (no preserve_order), matching Go's encoding/json.
    v.to_string().into_bytes()
}

/// What a simple-signing payload claims.
#[derive(Clone, Debug)]
pub struct SimpleSigning {
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`.
    pub digest: String,
    /// `optional` annotations (string values only).
    pub annotations: BTreeMap<String, String>,
}

/// Parse and check a simple-signing payload's `critical.type`.
pub fn parse_simple_signing(payload: &[u8]) -> Result<SimpleSigning, String> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    let critical = v.get("critical").ok_or("payload has no critical section")?;
    let ty = critical
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    if ty != SIMPLE_SIGNING_TYPE {
        return Err(format!(
            "payload critical.type is {ty:?}, not {SIMPLE_SIGNING_TYPE:?}"
        ));
    }
    let digest = critical
        .pointer("/image/docker-manifest-digest")
        .and_then(|d| d.as_str())
        .ok_or("payload has no critical.image.docker-manifest-digest")?
        .to_string();
    let docker_reference = critical
        .pointer("/identity/docker-reference")
        .and_then(|d| d.as_str())
        .unwrap_or_default()
        .to_string();
    let annotations = v
        .get("optional")
        .and_then(|o| o.as_object())
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(SimpleSigning {
        docker_reference,
        digest,
        annotations,
    })
}

/// The in-toto statement cosign v3 signs for an image (`predicate` is `{}` for signatures).
pub fn image_statement(
    name: Option<&str>,
    digest: &str,
    predicate_type: &str,
    predicate: Value,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, OciError> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| OciError::Reference(format!("{digest} is not a sha256 digest")))?;
    let mut subject = json!({"digest": {"sha256": hex}});
    if let Some(n) = name {
        subject["name"] = json!(n);
    }
    if !annotations.is_empty() {
        subject["annotations"] = json!(annotations);
    }
    let st = json!({
        "_type": STATEMENT_V1,
        "subject": [subject],
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    serde_json::to_vec(&st).map_err(|e| OciError::Protocol(format!("statement: {e}")))
}

/// A descriptor as JSON.
pub fn descriptor(
    media_type: &str,
    digest: &str,
    size: usize,
    annotations: Option<&BTreeMap<String, String>>,
) -> Value {
    let mut d = json!({"mediaType": media_type, "digest": digest, "size": size});
    if let Some(a) = annotations.filter(|a| !a.is_empty()) {
        d["annotations"] = json!(a);
    }
    d
}

/// The referrer manifest holding one bundle (protocols.md §9.2), and any further layers
/// (descriptors) after it.
pub fn referrer_manifest(
    bundle_digest: &str,
    bundle_size: usize,
    extra_layers: &[Value],
    subject: &Value,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut layers = vec![descriptor(
        BUNDLE_MEDIA_TYPE,
        bundle_digest,
        bundle_size,
        None,
    )];
    layers.extend_from_slice(extra_layers);
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "artifactType": BUNDLE_MEDIA_TYPE,
            "digest": EMPTY_DIGEST,
            "size": EMPTY_BLOB.len(),
        },
        "layers": layers,
        "subject": subject,
        "annotations": annotations,
    });
    m.to_string().into_bytes()
}

/// Add `entry` to a referrers fallback index (or start one), unless it is already listed.
pub fn add_to_index(existing: Option<&[u8]>, entry: Value) -> Result<Vec<u8>, OciError> {
    let mut idx = match existing {
        Some(b) => serde_json::from_slice::<Value>(b)
            .map_err(|e| OciError::Protocol(format!("referrers fallback index: {e}")))?,
        None => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
    };
    let list = idx
        .get_mut("manifests")
        .and_then(|m| m.as_array_mut())
        .ok_or_else(|| OciError::Protocol("referrers fallback index has no manifests".into()))?;
    let digest = entry.get("digest").cloned();
    if !list.iter().any(|e| e.get("digest") == digest.as_ref()) {
        list.push(entry);
    }
    Ok(idx.to_string().into_bytes())
}

/// cosign's Rekor bundle annotation ([`ANN_REKOR_BUNDLE`]): the SET and what it signs, in
/// Go's field order.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RekorBundle {
    /// The SET, base64.
    #[serde(rename = "SignedEntryTimestamp")]
    pub signed_entry_timestamp: String,
    /// The entry the SET signs.
    #[serde(rename = "Payload")]
    pub payload: RekorBundlePayload,
}

/// The entry fields a Rekor v1 SET signs.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RekorBundlePayload {
    /// The canonicalized entry body, base64.
    pub body: String,
    /// Integration time, Unix seconds.
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    /// Global log index.
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    /// Hex log ID.
    #[serde(rename = "logID")]
    pub log_id: String,
}

/// cosign's RFC 3161 annotation ([`ANN_RFC3161`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Rfc3161Annotation {
    /// The DER timestamp response, base64.
    #[serde(rename = "SignedRFC3161Timestamp")]
    pub signed: String,
}

/// A layer of a legacy `.sig`/`.att` manifest.
#[derive(Clone, Debug)]
pub struct LegacyLayer {
    /// Layer media type.
    pub media_type: String,
    /// Layer digest.
    pub digest: String,
    /// Layer size.
    pub size: i64,
    /// Layer annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The layers of a legacy signature manifest.
pub fn legacy_layers(manifest: &[u8]) -> Result<Vec<LegacyLayer>, OciError> {
    let m: oci_client::manifest::OciImageManifest = serde_json::from_slice(manifest)
        .map_err(|e| OciError::Protocol(format!("signature manifest: {e}")))?;
    Ok(m.layers
        .into_iter()
        .map(|l| LegacyLayer {
            media_type: l.media_type,
            digest: l.digest,
            size: l.size,
            annotations: l.annotations.unwrap_or_default(),
        })
        .collect())
}

/// go-containerregistry's config for a layers-only image (what cosign pushes as the `.sig`
/// manifest's config), with `diff_ids` of the (uncompressed) layers.
pub fn legacy_config(layer_digests: &[String]) -> Vec<u8> {
    // One history entry per appended layer, as go-containerregistry's mutate.Append writes.
    let history: Vec<Value> = layer_digests
        .iter()
        .map(|_| json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": history,
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": layer_digests},
        "config": {},
    })
    .to_string()
    .into_bytes()
}

/// A legacy `.sig`/`.att` manifest over `layers` (their config blob is returned too).
pub fn legacy_manifest(layers: &[LegacyLayer]) -> (Vec<u8>, Vec<u8>) {
    let digests: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
    let config = legacy_config(&digests);
    let layer_json: Vec<Value> = layers
        .iter()
        .map(|l| {
            let mut d = json!({"mediaType": l.media_type, "size": l.size, "digest": l.digest});
            if !l.annotations.is_empty() {
                d["annotations"] = json!(l.annotations);
            }
            d
        })
        .collect();
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG_MEDIA_TYPE, "size": config.len(), "digest": sha256_digest(&config)},
        "layers": layer_json,
    });
    (m.to_string().into_bytes(), config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_signing_round_trip() {
        let p = simple_signing_payload("127.0.0.1:5000/app", "sha256:abcd", &BTreeMap::new());
        assert_eq!(
            String::from_utf8_lossy(&p),
            r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/app"},"image":{"docker-manifest-digest":"sha256:abcd"},"type":"cosign container image signature"},"optional":null}"#
        );
        let s = parse_simple_signing(&p).unwrap();
        assert_eq!(s.digest, "sha256:abcd");
        assert_eq!(s.docker_reference, "127.0.0.1:5000/app");
        assert!(parse_simple_signing(br#"{"critical":{"type":"x"}}"#).is_err());
    }

    #[test]
    fn empty_digest() {
        assert_eq!(sha256_digest(EMPTY_BLOB), EMPTY_DIGEST);
    }

    #[test]
    fn tags() {
        assert_eq!(fallback_tag("sha256:ab"), "sha256-ab");
        assert_eq!(legacy_tag("sha256:ab", Kind::Signature), "sha256-ab.sig");
        assert_eq!(legacy_tag("sha256:ab", Kind::Attestation), "sha256-ab.att");
    }

    #[test]
    fn index_dedup() {
        let e = json!({"mediaType": OCI_MANIFEST, "digest": "sha256:1", "size": 1});
        let a = add_to_index(None, e.clone()).unwrap();
        let b = add_to_index(Some(&a), e).unwrap();
        assert_eq!(a, b);
    }
}
