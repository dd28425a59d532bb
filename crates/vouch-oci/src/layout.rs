//! The two storage layouts: media types, annotation keys, payloads and manifests.

use crate::OciError;
use crate::registry::{OCI_INDEX, OCI_MANIFEST, sha256_digest};
use oci_spec::image::{
    Arch, Config, Descriptor, Digest, HistoryBuilder, ImageConfigurationBuilder, ImageIndex,
    ImageIndexBuilder, ImageManifest, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use vouch_core::encoding::to_sorted_json;
use vouch_core::intoto::{Statement, Subject};

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
pub use vouch_core::dsse::INTOTO_PAYLOAD_TYPE;
pub use vouch_core::intoto::STATEMENT_V1;

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

/// The cosign simple-signing payload (the legacy `.sig` layer), read and written: what is
/// `critical` (identity, image, type) and the `optional` annotations.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SimpleSigningPayload {
    /// The claims a verifier must check.
    pub critical: SimpleSigningCritical,
    /// Annotations (`-a key=value`); `null` when there are none, as cosign writes it.
    #[serde(default)]
    pub optional: Option<BTreeMap<String, Value>>,
}

/// `critical` of a simple-signing payload.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SimpleSigningCritical {
    /// The repository the signature was made for.
    #[serde(default)]
    pub identity: SimpleSigningIdentity,
    /// The image manifest signed.
    #[serde(default)]
    pub image: SimpleSigningImage,
    /// Always [`SIMPLE_SIGNING_TYPE`].
    #[serde(rename = "type", default)]
    pub type_: String,
}

/// `critical.identity`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SimpleSigningIdentity {
    /// `docker-reference`: the repository name.
    #[serde(rename = "docker-reference", default)]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SimpleSigningImage {
    /// `docker-manifest-digest`: `sha256:<hex>` of the manifest signed.
    #[serde(rename = "docker-manifest-digest", default)]
    pub docker_manifest_digest: String,
}

/// The cosign simple-signing payload for `docker_reference` at `digest`.
pub fn simple_signing_payload(
    docker_reference: &str,
    digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, OciError> {
    let payload = SimpleSigningPayload {
        critical: SimpleSigningCritical {
            identity: SimpleSigningIdentity {
                docker_reference: docker_reference.to_string(),
            },
            image: SimpleSigningImage {
                docker_manifest_digest: digest.to_string(),
            },
            type_: SIMPLE_SIGNING_TYPE.to_string(),
        },
        optional: (!annotations.is_empty()).then(|| {
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        }),
    };
    // Members sorted, as Go's encoding/json writes maps (and as cosign's payloads read).
    to_sorted_json(&payload).map_err(|source| OciError::Json {
        what: "simple-signing payload",
        source,
    })
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
    let p: SimpleSigningPayload = serde_json::from_slice(payload)
        .map_err(|e| format!("payload is not a simple-signing document: {e}"))?;
    let ty = p.critical.type_;
    if ty != SIMPLE_SIGNING_TYPE {
        return Err(format!(
            "payload critical.type is {ty:?}, not {SIMPLE_SIGNING_TYPE:?}"
        ));
    }
    let digest = p.critical.image.docker_manifest_digest;
    if digest.is_empty() {
        return Err("payload has no critical.image.docker-manifest-digest".into());
    }
    let annotations = p
        .optional
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect();
    Ok(SimpleSigning {
        docker_reference: p.critical.identity.docker_reference,
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
    let st = Statement {
        type_: STATEMENT_V1.to_string(),
        subject: vec![Subject {
            name: name.unwrap_or_default().to_string(),
            digest: BTreeMap::from([("sha256".to_string(), hex.to_string())]),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        }],
        predicate_type: predicate_type.to_string(),
        predicate: Some(predicate),
    };
    // Sorted members: the bytes cosign-compatible statements were always signed as.
    to_sorted_json(&st).map_err(|source| OciError::Json {
        what: "in-toto statement",
        source,
    })
}

/// An OCI descriptor; empty `annotations` are left out.
pub fn descriptor(
    media_type: &str,
    digest: &str,
    size: u64,
    annotations: Option<&BTreeMap<String, String>>,
) -> Result<Descriptor, OciError> {
    let d = Digest::from_str(digest).map_err(|source| OciError::Digest {
        digest: digest.to_string(),
        source,
    })?;
    let mut desc = Descriptor::new(MediaType::from(media_type), size, d);
    desc.set_annotations(
        annotations
            .filter(|a| !a.is_empty())
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
    );
    Ok(desc)
}

/// The image-spec [`Descriptor`] of a referrers-API index entry (the registry client's own
/// type), member for member.
pub fn index_entry_descriptor(
    e: &oci_client::manifest::ImageIndexEntry,
) -> Result<Descriptor, OciError> {
    let what = "referrer index entry";
    let v = serde_json::to_value(e).map_err(|source| OciError::Json { what, source })?;
    serde_json::from_value(v).map_err(|source| OciError::Json { what, source })
}

/// Serialize an OCI document with sorted members (its annotations are a `HashMap`), the bytes
/// whose digest names it.
fn oci_bytes<T: Serialize>(doc: &T, what: &'static str) -> Result<Vec<u8>, OciError> {
    to_sorted_json(doc).map_err(|source| OciError::Json { what, source })
}

fn spec_error(what: &'static str) -> impl FnOnce(oci_spec::OciSpecError) -> OciError {
    move |source| OciError::Spec { what, source }
}

/// The referrer manifest holding one bundle (protocols.md §9.2), and any further layers
/// (descriptors) after it.
pub fn referrer_manifest(
    bundle_digest: &str,
    bundle_size: u64,
    extra_layers: &[Descriptor],
    subject: &Descriptor,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, OciError> {
    let mut layers = vec![descriptor(
        BUNDLE_MEDIA_TYPE,
        bundle_digest,
        bundle_size,
        None,
    )?];
    layers.extend_from_slice(extra_layers);
    let mut config = descriptor(
        EMPTY_MEDIA_TYPE,
        EMPTY_DIGEST,
        EMPTY_BLOB.len() as u64,
        None,
    )?;
    config.set_artifact_type(Some(MediaType::from(BUNDLE_MEDIA_TYPE)));
    let m = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::from(OCI_MANIFEST))
        .artifact_type(MediaType::from(BUNDLE_MEDIA_TYPE))
        .config(config)
        .layers(layers)
        .subject(subject.clone())
        .annotations(
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        )
        .build()
        .map_err(spec_error("referrer manifest"))?;
    oci_bytes(&m, "referrer manifest")
}

/// Add `entry` to a referrers fallback index (or start one), unless it is already listed.
pub fn add_to_index(existing: Option<&[u8]>, entry: Descriptor) -> Result<Vec<u8>, OciError> {
    let mut idx = match existing {
        Some(b) => serde_json::from_slice::<ImageIndex>(b).map_err(|source| OciError::Json {
            what: "referrers fallback index",
            source,
        })?,
        None => ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::from(OCI_INDEX))
            .manifests(Vec::new())
            .build()
            .map_err(spec_error("referrers fallback index"))?,
    };
    if !idx.manifests().iter().any(|e| e.digest() == entry.digest()) {
        let mut manifests = idx.manifests().clone();
        manifests.push(entry);
        idx.set_manifests(manifests);
    }
    oci_bytes(&idx, "referrers fallback index")
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
    pub size: u64,
    /// Layer annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The layers of a legacy signature manifest.
pub fn legacy_layers(manifest: &[u8]) -> Result<Vec<LegacyLayer>, OciError> {
    let m: ImageManifest = serde_json::from_slice(manifest).map_err(|source| OciError::Json {
        what: "signature manifest",
        source,
    })?;
    Ok(m.layers()
        .iter()
        .map(|l| LegacyLayer {
            media_type: l.media_type().to_string(),
            digest: l.digest().to_string(),
            size: l.size(),
            annotations: l
                .annotations()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
        .collect())
}

/// go-containerregistry's config for a layers-only image (what cosign pushes as the `.sig`
/// manifest's config), with `diff_ids` of the (uncompressed) layers.
pub fn legacy_config(layer_digests: &[String]) -> Result<Vec<u8>, OciError> {
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    // One history entry per appended layer, as go-containerregistry's mutate.Append writes.
    let history = layer_digests
        .iter()
        .map(|_| {
            HistoryBuilder::default()
                .created(ZERO_TIME)
                .build()
                .map_err(spec_error("signature config history"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(layer_digests.to_vec())
        .build()
        .map_err(spec_error("signature config rootfs"))?;
    let config = ImageConfigurationBuilder::default()
        .architecture(Arch::from(""))
        .os(Os::from(""))
        .created(ZERO_TIME)
        .history(history)
        .rootfs(rootfs)
        .config(Config::default())
        .build()
        .map_err(spec_error("signature config"))?;
    oci_bytes(&config, "signature config")
}

/// A legacy `.sig`/`.att` manifest over `layers` (their config blob is returned too).
pub fn legacy_manifest(layers: &[LegacyLayer]) -> Result<(Vec<u8>, Vec<u8>), OciError> {
    let digests: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
    let config = legacy_config(&digests)?;
    let layer_descriptors = layers
        .iter()
        .map(|l| descriptor(&l.media_type, &l.digest, l.size, Some(&l.annotations)))
        .collect::<Result<Vec<_>, _>>()?;
    let m = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::from(OCI_MANIFEST))
        .config(descriptor(
            OCI_CONFIG_MEDIA_TYPE,
            &sha256_digest(&config),
            config.len() as u64,
            None,
        )?)
        .layers(layer_descriptors)
        .build()
        .map_err(spec_error("signature manifest"))?;
    Ok((oci_bytes(&m, "signature manifest")?, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn simple_signing_round_trip() {
        let p =
            simple_signing_payload("127.0.0.1:5000/app", "sha256:abcd", &BTreeMap::new()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&p),
            r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/app"},"image":{"docker-manifest-digest":"sha256:abcd"},"type":"cosign container image signature"},"optional":null}"#
        );
        let s = parse_simple_signing(&p).unwrap();
        assert_eq!(s.digest, "sha256:abcd");
        assert_eq!(s.docker_reference, "127.0.0.1:5000/app");
        assert!(parse_simple_signing(br#"{"critical":{"type":"x"}}"#).is_err());
    }

    /// The typed payloads and manifests are byte for byte what the `json!` code wrote
    /// (expected bytes computed from that code before it was removed).
    #[test]
    fn bytes_unchanged() {
        let ann = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let p = simple_signing_payload("reg/app", &d('a'), &ann).unwrap();
        assert_eq!(
            String::from_utf8(p.clone()).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"reg/app"}},"image":{{"docker-manifest-digest":"{}"}},"type":"cosign container image signature"}},"optional":{{"k":"v"}}}}"#,
                d('a')
            )
        );
        assert_eq!(parse_simple_signing(&p).unwrap().annotations, ann);

        let a64 = "a".repeat(64);
        let st = image_statement(
            None,
            &d('a'),
            COSIGN_SIGN_PREDICATE,
            serde_json::json!({}),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(st).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","predicate":{{}},"predicateType":"https://sigstore.dev/cosign/sign/v1","subject":[{{"digest":{{"sha256":"{a64}"}}}}]}}"#
            )
        );
        let st = image_statement(
            Some("reg/app"),
            &d('a'),
            "https://slsa.dev/provenance/v1",
            serde_json::json!({"builder": {"id": "ci"}}),
            &ann,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(st).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","predicate":{{"builder":{{"id":"ci"}}}},"predicateType":"https://slsa.dev/provenance/v1","subject":[{{"annotations":{{"k":"v"}},"digest":{{"sha256":"{a64}"}},"name":"reg/app"}}]}}"#
            )
        );

        let ann = BTreeMap::from([
            (ANN_CREATED.to_string(), "2026-01-01T00:00:00Z".to_string()),
            (ANN_BUNDLE_CONTENT.to_string(), CONTENT_DSSE.to_string()),
        ]);
        let extra = descriptor("application/spdx+json", &d('c'), 7, None).unwrap();
        let subject = descriptor(OCI_MANIFEST, &d('a'), 500, None).unwrap();
        let m = referrer_manifest(&d('b'), 100, &[extra], &subject, &ann).unwrap();
        assert_eq!(
            String::from_utf8(m).unwrap(),
            r#"{"annotations":{"dev.sigstore.bundle.content":"dsse-envelope","org.opencontainers.image.created":"2026-01-01T00:00:00Z"},"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":{"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","mediaType":"application/vnd.oci.empty.v1+json","size":2},"layers":[{"digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":100},{"digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","mediaType":"application/spdx+json","size":7}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2,"subject":{"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","mediaType":"application/vnd.oci.image.manifest.v1+json","size":500}}"#
        );

        let mut entry = descriptor(OCI_MANIFEST, &d('d'), 321, Some(&ann)).unwrap();
        entry.set_artifact_type(Some(MediaType::from(BUNDLE_MEDIA_TYPE)));
        let idx = add_to_index(None, entry).unwrap();
        assert_eq!(
            String::from_utf8(idx).unwrap(),
            r#"{"manifests":[{"annotations":{"dev.sigstore.bundle.content":"dsse-envelope","org.opencontainers.image.created":"2026-01-01T00:00:00Z"},"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd","mediaType":"application/vnd.oci.image.manifest.v1+json","size":321}],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}"#
        );

        let layers = [
            LegacyLayer {
                media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
                digest: d('e'),
                size: 10,
                annotations: BTreeMap::from([(ANN_SIGNATURE.to_string(), "MEU=".to_string())]),
            },
            LegacyLayer {
                media_type: DSSE_MEDIA_TYPE.to_string(),
                digest: d('f'),
                size: 20,
                annotations: BTreeMap::new(),
            },
        ];
        let (m, config) = legacy_manifest(&layers).unwrap();
        assert_eq!(
            String::from_utf8(config).unwrap(),
            r#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"},{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"diff_ids":["sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"],"type":"layers"}}"#
        );
        assert_eq!(
            String::from_utf8(m.clone()).unwrap(),
            r#"{"config":{"digest":"sha256:146d06269800f461f4dfa44e114330dbdf60895fa6450ba43e8b05decbd88b4c","mediaType":"application/vnd.oci.image.config.v1+json","size":342},"layers":[{"annotations":{"dev.cosignproject.cosign/signature":"MEU="},"digest":"sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":10},{"digest":"sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","mediaType":"application/vnd.dsse.envelope.v1+json","size":20}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}"#
        );
        let back = legacy_layers(&m).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].annotations, layers[0].annotations);
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
        let e = descriptor(OCI_MANIFEST, &d('1'), 1, None).unwrap();
        let a = add_to_index(None, e.clone()).unwrap();
        let b = add_to_index(Some(&a), e).unwrap();
        assert_eq!(a, b);
    }
}
