//! `--upgrade-bundles` on `copy` and `save`: a legacy signature or attestation whose
//! transparency-log evidence is only a SET (cosign's `dev.sigstore.cosign/bundle`
//! annotation) gets, next to it, a Sigstore bundle v0.3 with the entry's inclusion proof and
//! signed checkpoint, fetched on the connected side, so that the disconnected side can check
//! inclusion offline instead of trusting the promise alone.
//!
//! For each legacy layer with a SET and no bundle of the same signature yet:
//!
//! 1. the SET is checked with the key of the log it names (by log ID, in the trusted root);
//! 2. the entry is fetched from that log's Rekor v1 API (`GET
//!    /api/v1/log/entries?logIndex=N`, at the trusted root's URL or `--rekor-url`), and must
//!    be the entry the SET signs: same body, log index, integrated time and log ID;
//! 3. its inclusion proof is checked against its checkpoint, signed by the same log key;
//! 4. the bundle is written as an OCI 1.1 referrer of the image (with the referrers fallback
//!    index where needed). It holds the layer's own signature bytes, leaf certificate (or key
//!    hint) and RFC 3161 timestamp, and the entry with both the original SET and the proof.
//!
//! Any failed check stops the copy with an [`UpgradeError`] naming it. Nothing is re-signed
//! and the legacy tags stay as they were, byte for byte.
//!
//! How each legacy kind is represented:
//!
//! * **`.att` layers** (DSSE envelopes) become a bundle with that `dsseEnvelope`, in a
//!   one-layer referrer annotated `dev.sigstore.bundle.content: dsse-envelope` and the
//!   statement's predicate type. This is exactly cosign v3's attestation layout
//!   (`--new-bundle-format`, and cosign's own `bundle create` from a container), so cosign
//!   verifies it too (and, as after `bundle create`, cosign v3's `verify` of the image then
//!   reads bundles rather than the `.sig` tag).
//! * **`.sig` layers** (simple-signing payloads) cannot become cosign v3's signature layout:
//!   that is a DSSE statement with the `https://sigstore.dev/cosign/sign/v1` predicate, and
//!   making one means signing again. The signature is over the payload bytes, so the bundle
//!   holds a `messageSignature` over the payload, and the referrer stores the payload as a
//!   second layer (`application/vnd.dev.cosign.simplesigning.v1+json`), annotated
//!   `dev.sigstore.bundle.content: message-signature`. vouch verifies it as cosign verifies a
//!   legacy signature (the signature over the payload, whose `docker-manifest-digest` must be
//!   the image) plus the inclusion proof. cosign does not read it: cosign reads referrers
//!   with exactly one bundle layer, so this two-layer referrer leaves cosign on the legacy
//!   `.sig` path (a one-layer message-signature referrer would switch cosign v3 to its
//!   bundle path, where it cannot verify, and break `cosign verify` of the copy).

use crate::OciError;
use crate::copy::by_digest;
use crate::layout::{self, Kind};
use crate::registry::Registry;
use crate::sign::{Target, push_referrer_with};
use crate::verify::{Evidence, discover, legacy_bundle};
use oci_client::Reference;
use std::collections::{BTreeMap, HashSet};
use vouch_core::bundle::{Bundle, BundleError, Material, TransparencyLogEntry, X509Certificate};
use vouch_core::trust::TrustRoot;
use vouch_sign::HttpClient;
use vouch_verify::{EntryError, verify_inclusion_promise, verify_inclusion_proof};

/// Why a legacy signature could not be upgraded (the copy stops: fail closed).
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The legacy layer could not be read as a signature with a Rekor bundle.
    #[error("{location}: {detail}")]
    Legacy {
        /// Tag and layer.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// The SET names a log the trusted root does not list.
    #[error(
        "{location}: the SET names log {log_id}, which is not in the trusted root: cannot tell where to fetch its proof from, or check it"
    )]
    UnknownLog {
        /// Tag and layer.
        location: String,
        /// Hex log ID.
        log_id: String,
    },
    /// The SET does not verify with the log's key.
    #[error("{location}: the SET does not verify: {source}")]
    Set {
        /// Tag and layer.
        location: String,
        /// The failed check.
        #[source]
        source: EntryError,
    },
    /// The log could not be asked.
    #[error("{location}: fetching the entry with its inclusion proof: {source}")]
    Fetch {
        /// Tag and layer.
        location: String,
        /// The transport or protocol failure.
        #[source]
        source: vouch_sign::SignError,
    },
    /// The log answered with another entry than the one the SET signs.
    #[error(
        "{location}: the log at {url} returned a different entry than the SET signs: {field} expected {expected}, got {got}"
    )]
    EntryMismatch {
        /// Tag and layer.
        location: String,
        /// The log asked.
        url: String,
        /// Which field differs.
        field: &'static str,
        /// What the SET signs.
        expected: String,
        /// What the log returned.
        got: String,
    },
    /// The log's answer has no inclusion proof with a checkpoint.
    #[error(
        "{location}: the log at {url} returned entry {index} without an inclusion proof and checkpoint"
    )]
    NoProof {
        /// Tag and layer.
        location: String,
        /// The log asked.
        url: String,
        /// The log index.
        index: i64,
    },
    /// The fetched inclusion proof or checkpoint does not verify with the log's key.
    #[error("{location}: the inclusion proof from {url} does not verify: {source}")]
    Proof {
        /// Tag and layer.
        location: String,
        /// The log asked.
        url: String,
        /// The failed check.
        #[source]
        source: EntryError,
    },
    /// The upgraded bundle breaks a structural rule of bundle v0.3.
    #[error("{location}: the upgraded bundle is invalid: {source}")]
    Bundle {
        /// Tag and layer.
        location: String,
        /// The broken rule.
        #[source]
        source: BundleError,
    },
}

/// What `--upgrade-bundles` needs: the trusted root (log keys and URLs), where to fetch
/// entries from when not the trusted root's URL, and an HTTP client.
#[derive(Debug)]
pub struct Upgrader {
    trust: TrustRoot,
    rekor_url: Option<String>,
    http: HttpClient,
}

/// One legacy signature or attestation upgraded, or left as it was and why.
#[derive(Clone, Debug)]
pub struct Upgraded {
    /// The legacy tag and layer (`tag sha256-….sig layer 0`).
    pub location: String,
    /// The referrer manifest written, or `None` when nothing was written.
    pub referrer: Option<String>,
    /// The log index whose proof was fetched, or why nothing was written.
    pub note: String,
}

impl Upgrader {
    /// An upgrader checking against `trust`; entries are fetched from `rekor_url` when given,
    /// else from the URL the trusted root lists for the log that the SET names.
    pub fn new(trust: TrustRoot, rekor_url: Option<String>, http: HttpClient) -> Self {
        Upgrader {
            trust,
            rekor_url: rekor_url.map(|u| u.trim_end_matches('/').to_string()),
            http,
        }
    }

    /// Upgrade the legacy signatures (`Kind::Signature`) or attestations of the image
    /// `digest` stored at `dst` (the repository of `dst_ref`), skipping those that carry no
    /// SET or that a bundle with the same signature bytes already covers.
    pub async fn upgrade_image(
        &self,
        dst: &Registry,
        dst_ref: &Reference,
        digest: &str,
        kind: Kind,
    ) -> Result<Vec<Upgraded>, OciError> {
        let image = by_digest(dst_ref, digest);
        let found = discover(dst, &image, kind, None).await?;
        let mut covered: HashSet<Vec<u8>> = HashSet::new();
        for f in &found {
            if let Evidence::Bundle { bundle, .. } = &f.evidence
                && let Ok(b) = Bundle::from_json(bundle)
                && let Some(sig) = b.signature_bytes()
            {
                covered.insert(sig.to_vec());
            }
        }
        let mut target: Option<Target> = None;
        let mut out = Vec::new();
        for f in &found {
            let Evidence::Legacy {
                tag,
                index,
                layer,
                blob,
            } = &f.evidence
            else {
                continue;
            };
            let location = f.location();
            if !layer.annotations.contains_key(layout::ANN_REKOR_BUNDLE) {
                out.push(Upgraded {
                    location,
                    referrer: None,
                    note: "no SET (not logged): left as is".into(),
                });
                continue;
            }
            let legacy =
                legacy_bundle(layer, blob, kind).map_err(|detail| UpgradeError::Legacy {
                    location: location.clone(),
                    detail,
                })?;
            let sig = legacy.signature_bytes().unwrap_or_default().to_vec();
            if covered.contains(&sig) {
                out.push(Upgraded {
                    location,
                    referrer: None,
                    note: "a bundle with this signature is already attached".into(),
                });
                continue;
            }
            let (bundle, log_index, integrated_time) =
                self.upgrade_layer(legacy, &location).await?;
            let t = match &target {
                Some(t) => t.clone(),
                None => {
                    let m = dst.get_manifest(&image).await?.ok_or_else(|| {
                        OciError::NotFound(format!("{digest} at the destination"))
                    })?;
                    let t = Target {
                        reference: image.clone(),
                        descriptor: crate::Resolved {
                            digest: m.digest.clone(),
                            media_type: m.media_type.clone(),
                            size: m.bytes.len() as u64,
                        },
                        from_tag: None,
                    };
                    target = Some(t.clone());
                    t
                }
            };
            let json = bundle.to_json().map_err(|source| OciError::ProtocolJson {
                context: "upgraded bundle".into(),
                source,
            })?;
            let mut ann = BTreeMap::new();
            // The entry's integration time, not now: upgrading the same signature twice (or
            // on two mirrors) writes the same referrer, byte for byte.
            if let Ok(ts) = jiff::Timestamp::from_second(integrated_time) {
                ann.insert(
                    layout::ANN_CREATED.to_string(),
                    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                );
            }
            ann.insert(
                layout::ANN_UPGRADED_FROM.to_string(),
                format!("{tag}#{index}"),
            );
            let extra: Vec<(&[u8], &str)> = match kind {
                Kind::Signature => {
                    ann.insert(
                        layout::ANN_BUNDLE_CONTENT.to_string(),
                        layout::CONTENT_MESSAGE_SIGNATURE.to_string(),
                    );
                    vec![(blob.as_slice(), layout::SIMPLE_SIGNING_MEDIA_TYPE)]
                }
                Kind::Attestation => {
                    ann.insert(
                        layout::ANN_BUNDLE_CONTENT.to_string(),
                        layout::CONTENT_DSSE.to_string(),
                    );
                    if let Some(pt) = attestation_predicate(&bundle, layer) {
                        ann.insert(layout::ANN_BUNDLE_PREDICATE.to_string(), pt);
                    }
                    Vec::new()
                }
            };
            let (manifest, _) = push_referrer_with(dst, &t, json.as_bytes(), &extra, &ann).await?;
            covered.insert(sig);
            out.push(Upgraded {
                location,
                referrer: Some(manifest),
                note: format!("inclusion proof of log index {log_index}"),
            });
        }
        Ok(out)
    }

    /// The v0.3 bundle for one legacy layer, from its v0.1 form `b` (steps 1 to 3 of the
    /// module docs), with the entry's log index and integration time.
    async fn upgrade_layer(
        &self,
        mut b: Bundle,
        location: &str,
    ) -> Result<(Bundle, i64, i64), OciError> {
        let legacy = |detail: &str| UpgradeError::Legacy {
            location: location.to_string(),
            detail: detail.to_string(),
        };
        let Some(vm) = b.verification_material.as_mut() else {
            return Err(legacy("no verification material").into());
        };
        let Some(entry) = vm.tlog_entries.first_mut() else {
            return Err(legacy("no log entry in the Rekor bundle annotation").into());
        };
        let log_id = entry
            .log_id
            .as_ref()
            .map(|l| l.key_id.0.clone())
            .unwrap_or_default();
        let log = self
            .trust
            .tlog_by_id(&log_id)
            .ok_or_else(|| UpgradeError::UnknownLog {
                location: location.to_string(),
                log_id: hex::encode(&log_id),
            })?;
        verify_inclusion_promise(entry, log).map_err(|source| UpgradeError::Set {
            location: location.to_string(),
            source,
        })?;
        let base = self
            .rekor_url
            .clone()
            .unwrap_or_else(|| log.base_url.trim_end_matches('/').to_string());
        let fetched = self.fetch(&base, entry.log_index.0, location).await?;
        check_same_entry(entry, &fetched).map_err(|(field, expected, got)| {
            UpgradeError::EntryMismatch {
                location: location.to_string(),
                url: base.clone(),
                field,
                expected,
                got,
            }
        })?;
        let proof = fetched
            .inclusion_proof
            .filter(|p| {
                p.checkpoint
                    .as_ref()
                    .is_some_and(|c| !c.envelope.is_empty())
            })
            .ok_or_else(|| UpgradeError::NoProof {
                location: location.to_string(),
                url: base.clone(),
                index: entry.log_index.0,
            })?;
        entry.inclusion_proof = Some(proof);
        verify_inclusion_proof(entry, log).map_err(|source| UpgradeError::Proof {
            location: location.to_string(),
            url: base.clone(),
            source,
        })?;
        let (log_index, integrated_time) = (entry.log_index.0, entry.integrated_time.0);
        // v0.3 carries the leaf alone; the chain comes from the trusted root.
        if let Some(Material::Certificate { leaf, .. }) = b.material() {
            let leaf = leaf.to_vec();
            if let Some(vm) = b.verification_material.as_mut() {
                vm.x509_certificate_chain = None;
                vm.certificate = Some(X509Certificate {
                    raw_bytes: leaf.into(),
                });
            }
        }
        b.media_type = vouch_core::bundle::MEDIA_TYPE_V0_3.to_string();
        b.validate().map_err(|source| UpgradeError::Bundle {
            location: location.to_string(),
            source,
        })?;
        Ok((b, log_index, integrated_time))
    }

    /// `GET {base}/api/v1/log/entries?logIndex=N`, as a bundle log entry.
    async fn fetch(
        &self,
        base: &str,
        index: i64,
        location: &str,
    ) -> Result<TransparencyLogEntry, UpgradeError> {
        let fetch = |source| UpgradeError::Fetch {
            location: location.to_string(),
            source,
        };
        let url = format!("{base}/api/v1/log/entries?logIndex={index}");
        let resp = self
            .http
            .get("Rekor", &url, &[("Accept", "application/json".into())])
            .await
            .map_err(fetch)?;
        vouch_sign::rekor::v1_answer_to_tle(&resp.body, &url).map_err(fetch)
    }
}

/// The predicate type of an attestation: the layer's annotation, else the statement's.
fn attestation_predicate(b: &Bundle, layer: &layout::LegacyLayer) -> Option<String> {
    if let Some(pt) = layer.annotations.get(layout::ANN_PREDICATE_TYPE) {
        return Some(pt.clone());
    }
    let env = b.dsse_envelope.as_ref()?;
    vouch_core::intoto::Statement::from_json(env.payload.as_slice())
        .ok()
        .map(|st| st.predicate_type)
}

/// `Err((field, expected, got))` when `fetched` is not the entry `signed` (from the SET).
fn check_same_entry(
    signed: &TransparencyLogEntry,
    fetched: &TransparencyLogEntry,
) -> Result<(), (&'static str, String, String)> {
    if fetched.log_index != signed.log_index {
        return Err((
            "logIndex",
            signed.log_index.0.to_string(),
            fetched.log_index.0.to_string(),
        ));
    }
    let id = |e: &TransparencyLogEntry| {
        e.log_id
            .as_ref()
            .map(|l| hex::encode(&l.key_id.0))
            .unwrap_or_default()
    };
    if id(fetched) != id(signed) {
        return Err(("logID", id(signed), id(fetched)));
    }
    if fetched.integrated_time != signed.integrated_time {
        return Err((
            "integratedTime",
            signed.integrated_time.0.to_string(),
            fetched.integrated_time.0.to_string(),
        ));
    }
    if fetched.canonicalized_body.0 != signed.canonicalized_body.0 {
        let h = |e: &TransparencyLogEntry| {
            format!(
                "leaf hash {}",
                hex::encode(vouch_core::merkle::leaf_hash(&e.canonicalized_body.0))
            )
        };
        return Err(("body", h(signed), h(fetched)));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use vouch_core::bundle::LogId;
    use vouch_core::encoding::{Base64Bytes, Int64};

    fn entry(index: i64, time: i64, body: &[u8]) -> TransparencyLogEntry {
        TransparencyLogEntry {
            log_index: Int64(index),
            log_id: Some(LogId {
                key_id: Base64Bytes(vec![1, 2]),
            }),
            integrated_time: Int64(time),
            canonicalized_body: Base64Bytes(body.to_vec()),
            ..TransparencyLogEntry::default()
        }
    }

    #[test]
    fn entry_mismatch_names_the_field() {
        let signed = entry(7, 100, b"{}");
        assert!(check_same_entry(&signed, &entry(7, 100, b"{}")).is_ok());
        let (field, expected, got) = check_same_entry(&signed, &entry(8, 100, b"{}")).unwrap_err();
        assert_eq!(
            (field, expected.as_str(), got.as_str()),
            ("logIndex", "7", "8")
        );
        assert_eq!(
            check_same_entry(&signed, &entry(7, 101, b"{}"))
                .unwrap_err()
                .0,
            "integratedTime"
        );
        assert_eq!(
            check_same_entry(&signed, &entry(7, 100, b"{ }"))
                .unwrap_err()
                .0,
            "body"
        );
    }
}
