//! Rekor v1 `ProposedEntry`s (protocols.md §2.2): the `hashedrekord` 0.0.1, `dsse` 0.0.1 and
//! `intoto` 0.0.2 specs, validated (signatures verified, at most [`MAX_SIGNATURES`] of them) and
//! canonicalized as Rekor does into the entry the log stores.

use super::{MAX_CHAIN_LEN, MAX_SIGNATURES, invalid};
use crate::LogError;
use crate::entries::{PreparedEntry, canonical_json};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use vouch_core::dsse::{INTOTO_PAYLOAD_TYPE, pae};
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::intoto::Statement;
use vouch_core::keys::{HashKind, KeyKind, PublicKey, pem_blocks, pem_encode};
use vouch_core::merkle::leaf_hash;
use vouch_core::rekor::{
    DsseSignatureV001, DsseV001, HashValue, HashedRekordDataV001, HashedRekordSignatureV001,
    HashedRekordV001, IntotoContentV002, IntotoEnvelopeV002, IntotoSignatureV002, IntotoV002,
    PemContent, TypedEntry,
};
use vouch_core::x509::Certificate;

/// A Rekor v1 `ProposedEntry`: `{"kind", "apiVersion", "spec"}`.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ProposedEntry {
    /// Entry type, e.g. `hashedrekord`.
    #[serde(default)]
    pub kind: String,
    /// Version of the entry type, e.g. `0.0.1`.
    #[serde(default)]
    pub api_version: String,
    /// Type-specific content.
    #[serde(default)]
    pub spec: Value,
}

/// Kinds upstream Rekor knows; the log names them in its error for a clearer message.
const REKOR_KINDS: &[&str] = &[
    "rekord",
    "hashedrekord",
    "rpm",
    "tuf",
    "alpine",
    "helm",
    "intoto",
    "cose",
    "jar",
    "rfc3161",
    "dsse",
];

const ACCEPTED: &str = "this log accepts hashedrekord 0.0.1, dsse 0.0.1 and intoto 0.0.2";

/// Validate a Rekor v1 proposed entry (signatures verified) and build its canonical entry.
pub fn prepare_v1(entry: &ProposedEntry) -> Result<PreparedEntry, LogError> {
    if entry.kind.is_empty() {
        return Err(invalid("missing kind"));
    }
    if entry.api_version.is_empty() {
        return Err(invalid("missing apiVersion"));
    }
    if entry.spec.is_null() {
        return Err(invalid("missing spec"));
    }
    match (entry.kind.as_str(), entry.api_version.as_str()) {
        ("hashedrekord", "0.0.1") => prepare_hashedrekord(&entry.spec),
        ("dsse", "0.0.1") => prepare_dsse(&entry.spec),
        ("intoto", "0.0.2") => prepare_intoto(&entry.spec),
        (k, v) if REKOR_KINDS.contains(&k) => Err(invalid(format!(
            "unsupported entry type {k} {v}: {ACCEPTED}"
        ))),
        (k, _) => Err(invalid(format!("unknown entry kind {k:?}: {ACCEPTED}"))),
    }
}

fn from_spec<T: DeserializeOwned>(spec: &Value, kind: &str) -> Result<T, LogError> {
    if !spec.is_object() {
        return Err(invalid(format!("{kind} spec must be a JSON object")));
    }
    T::deserialize(spec).map_err(|e| invalid(format!("invalid {kind} spec: {e}")))
}

pub(super) fn b64(s: &str, what: &str) -> Result<Vec<u8>, LogError> {
    b64_decode(s).map_err(|e| invalid(format!("{what} is not valid base64: {e}")))
}

fn non_empty(s: Option<String>, what: &str) -> Result<String, LogError> {
    s.filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("missing {what}")))
}

/// A `sha256` [`HashValue`] of lowercase hex.
fn sha256_value(hex: String) -> HashValue {
    HashValue {
        algorithm: "sha256".into(),
        value: hex,
    }
}

/// The canonical (RFC 8785) body of a typed entry `spec` of `kind` `version`, and its leaf.
fn finish<T: Serialize>(
    spec: T,
    search_keys: BTreeSet<String>,
    kind: &'static str,
    version: &'static str,
) -> Result<PreparedEntry, LogError> {
    let entry = TypedEntry {
        api_version: version.to_string(),
        kind: kind.to_string(),
        spec,
    };
    let value = serde_json::to_value(&entry).map_err(|source| LogError::Json {
        what: "encoding the canonical entry body",
        source: std::sync::Arc::new(source),
    })?;
    let body = canonical_json(&value)?;
    Ok(PreparedEntry {
        leaf_hash: leaf_hash(&body),
        body,
        search_keys: search_keys.into_iter().collect(),
        kind,
        version,
    })
}

/// A parsed verifier: `PUBLIC KEY` PEM, a `CERTIFICATE`, or a certificate chain (leaf first).
pub(super) struct KeyMaterial {
    key: PublicKey,
    /// The canonical PEM re-encoding stored in the entry.
    canonical_pem: String,
    /// Search keys: `key:<hex SHA-256(SPKI)>`, and for certificates `email:`/`subject:`.
    pub(super) search_keys: Vec<String>,
}

pub(super) fn parse_key_material(pem: &[u8], what: &str) -> Result<KeyMaterial, LogError> {
    let text = std::str::from_utf8(pem)
        .map_err(|_| invalid(format!("{what} is not a PEM document (not UTF-8)")))?;
    let blocks = pem_blocks(text).map_err(|e| invalid(format!("invalid {what}: {e}")))?;
    match blocks.as_slice() {
        [(label, der)] if label == "PUBLIC KEY" => {
            let key = PublicKey::from_spki_der(der)
                .map_err(|e| invalid(format!("invalid {what}: {e}")))?;
            Ok(KeyMaterial {
                canonical_pem: pem_encode("PUBLIC KEY", key.spki_der()),
                search_keys: vec![format!("key:{}", hex::encode(key.key_id()))],
                key,
            })
        }
        _ if blocks.iter().all(|(label, _)| label == "CERTIFICATE") => {
            if blocks.len() > MAX_CHAIN_LEN {
                return Err(invalid(format!(
                    "{what} holds {} certificates, over the limit of {MAX_CHAIN_LEN}",
                    blocks.len()
                )));
            }
            let certs = blocks
                .iter()
                .map(|(_, der)| Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("invalid certificate in {what}: {e}")))?;
            for pair in certs.windows(2) {
                if let [child, parent] = pair {
                    child.verify_signed_by(parent).map_err(|e| {
                        invalid(format!("certificate chain in {what} does not verify: {e}"))
                    })?;
                }
            }
            let leaf = certs
                .first()
                .ok_or_else(|| invalid(format!("{what} holds no certificate")))?;
            let key = leaf
                .public_key()
                .map_err(|e| invalid(format!("invalid certificate key in {what}: {e}")))?;
            let mut search_keys = vec![format!("key:{}", hex::encode(key.key_id()))];
            if let Ok(id) = leaf.fulcio_identity()
                && let Some(san) = id.san
            {
                if id.san_kind == Some("email") {
                    search_keys.push(format!("email:{}", san.to_lowercase()));
                }
                search_keys.push(format!("subject:{}", san.to_lowercase()));
            }
            Ok(KeyMaterial {
                key,
                canonical_pem: certs
                    .iter()
                    .map(|c| pem_encode("CERTIFICATE", c.der()))
                    .collect(),
                search_keys,
            })
        }
        _ => Err(invalid(format!(
            "{what} must be a PEM PUBLIC KEY, CERTIFICATE or certificate chain"
        ))),
    }
}

/// `{"algorithm": …, "value": …}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AlgValue {
    algorithm: Option<String>,
    value: Option<String>,
}

/// `{"content": …}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ContentField {
    content: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HrSpec {
    data: Option<HrData>,
    signature: Option<HrSignature>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HrData {
    hash: Option<AlgValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct HrSignature {
    content: Option<String>,
    public_key: Option<ContentField>,
}

/// hashedrekord 0.0.1 (§2.2): the signature is verified over the given digest.
fn prepare_hashedrekord(spec: &Value) -> Result<PreparedEntry, LogError> {
    let spec: HrSpec = from_spec(spec, "hashedrekord")?;
    let sig = spec.signature.ok_or_else(|| invalid("missing signature"))?;
    let sig_bytes = b64(
        &non_empty(sig.content, "signature content")?,
        "signature.content",
    )?;
    let key_pem = b64(
        &non_empty(
            sig.public_key.and_then(|k| k.content),
            "signature.publicKey.content",
        )?,
        "signature.publicKey.content",
    )?;
    let km = parse_key_material(&key_pem, "signature.publicKey.content")?;
    let hash = spec
        .data
        .and_then(|d| d.hash)
        .ok_or_else(|| invalid("missing data.hash"))?;
    let alg_name = non_empty(hash.algorithm, "data.hash.algorithm")?;
    let alg = HashKind::from_name(&alg_name).ok_or_else(|| {
        invalid(format!(
            "unsupported hash algorithm {alg_name:?}: must be sha256, sha384 or sha512"
        ))
    })?;
    let value = non_empty(hash.value, "data.hash.value")?.to_ascii_lowercase();
    if value.len() != alg.len() * 2 {
        return Err(invalid(format!(
            "invalid value for hash: {} needs {} hex characters, got {}",
            alg.name(),
            alg.len() * 2,
            value.len()
        )));
    }
    let digest = hex::decode(&value).map_err(|_| invalid("data.hash.value is not hex"))?;
    if km.key.kind() == KeyKind::Ed25519 {
        return Err(invalid(
            "Ed25519 keys cannot verify a pre-hashed digest: hashedrekord needs Ed25519ph, which \
             this log does not accept; use an ECDSA or RSA key, or log a DSSE envelope",
        ));
    }
    km.key
        .verify_digest(alg, &digest, &sig_bytes)
        .map_err(|e| invalid(format!("verifying signature: {e}")))?;
    let mut keys: BTreeSet<String> = km.search_keys.into_iter().collect();
    keys.insert(format!("{}:{value}", alg.name()));
    let spec = HashedRekordV001 {
        data: HashedRekordDataV001 {
            hash: HashValue {
                algorithm: alg.name().to_string(),
                value,
            },
        },
        signature: HashedRekordSignatureV001 {
            content: b64_encode(&sig_bytes),
            public_key: PemContent {
                content: b64_encode(km.canonical_pem.as_bytes()),
            },
        },
    };
    finish(spec, keys, "hashedrekord", "0.0.1")
}

/// Whether `sig` verifies over `msg` (the PAE). Rekor verifies DSSE with SHA-256 whatever the
/// curve; the key's own hash (e.g. P-384 with SHA-384) is accepted too.
fn verify_pae(key: &PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    key.verify_with_hash(HashKind::Sha256, msg, sig).is_ok() || key.verify(msg, sig).is_ok()
}

/// In-toto subject digests of a statement payload, as `alg:hex` search keys.
fn statement_keys(payload_type: &str, payload: &[u8]) -> Vec<String> {
    if payload_type != INTOTO_PAYLOAD_TYPE {
        return Vec::new();
    }
    let Ok(st) = Statement::from_json(payload) else {
        return Vec::new();
    };
    st.subject
        .iter()
        .flat_map(|s| {
            s.digest
                .iter()
                .map(|(a, d)| format!("{}:{}", a.to_lowercase(), d.to_lowercase()))
        })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct DsseSpec {
    proposed_content: Option<DsseProposed>,
    envelope_hash: Option<Value>,
    payload_hash: Option<Value>,
    signatures: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DsseProposed {
    envelope: Option<String>,
    verifiers: Option<Vec<String>>,
}

/// A DSSE envelope with its signature strings kept as sent.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawEnvelope {
    payload: Option<String>,
    #[serde(alias = "payload_type")]
    payload_type: Option<String>,
    signatures: Option<Vec<RawSignature>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSignature {
    sig: Option<String>,
}

/// dsse 0.0.1 (§2.3): every envelope signature must verify over the PAE with some verifier.
fn prepare_dsse(spec: &Value) -> Result<PreparedEntry, LogError> {
    let spec: DsseSpec = from_spec(spec, "dsse")?;
    let proposed = spec.proposed_content.ok_or_else(|| {
        invalid(
            "missing proposedContent: a dsse entry is created from an envelope and its verifiers",
        )
    })?;
    if spec.envelope_hash.is_some() || spec.payload_hash.is_some() || spec.signatures.is_some() {
        return Err(invalid(
            "envelopeHash, payloadHash and signatures are computed by the log: send only proposedContent",
        ));
    }
    let envelope_text = non_empty(proposed.envelope, "proposedContent.envelope")?;
    let verifiers = proposed
        .verifiers
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("missing proposedContent.verifiers"))?;
    if verifiers.len() > MAX_SIGNATURES {
        return Err(invalid(format!(
            "{} verifiers is over the limit of {MAX_SIGNATURES}",
            verifiers.len()
        )));
    }
    let keys = verifiers
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let what = format!("proposedContent.verifiers[{i}]");
            parse_key_material(&b64(v, &what)?, &what)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let env: RawEnvelope = serde_json::from_str(&envelope_text).map_err(|e| {
        invalid(format!(
            "proposedContent.envelope is not a DSSE envelope: {e}"
        ))
    })?;
    let payload_type = env.payload_type.unwrap_or_default();
    let payload = b64(&env.payload.unwrap_or_default(), "envelope payload")?;
    let sigs = env
        .signatures
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let text = non_empty(s.sig, &format!("envelope signatures[{i}].sig"))?;
            let raw = b64(&text, &format!("envelope signatures[{i}].sig"))?;
            Ok((text, raw))
        })
        .collect::<Result<Vec<_>, LogError>>()?;
    if sigs.is_empty() {
        return Err(invalid("the envelope has no signatures"));
    }
    if sigs.len() > MAX_SIGNATURES {
        return Err(invalid(format!(
            "the envelope has {} signatures, over the limit of {MAX_SIGNATURES}",
            sigs.len()
        )));
    }
    let msg = pae(&payload_type, &payload);
    // Signature string → the verifier that verifies it (later verifiers win, as in Rekor).
    let mut by_sig: BTreeMap<&str, &KeyMaterial> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        let mut any = false;
        for (text, raw) in &sigs {
            if verify_pae(&k.key, &msg, raw) {
                by_sig.insert(text.as_str(), k);
                any = true;
            }
        }
        if !any {
            return Err(invalid(format!(
                "could not verify envelope: proposedContent.verifiers[{i}] verifies no signature"
            )));
        }
    }
    if sigs.iter().any(|(t, _)| !by_sig.contains_key(t.as_str())) {
        return Err(invalid("all signatures must have a key that verifies it"));
    }
    let payload_hash = hex::encode(HashKind::Sha256.digest(&payload));
    let envelope_hash = hex::encode(HashKind::Sha256.digest(envelope_text.as_bytes()));
    // BTreeMap order = byte order of the signature strings (Go's sort.Strings).
    let signatures = by_sig
        .iter()
        .map(|(sig, k)| DsseSignatureV001 {
            signature: sig.to_string(),
            verifier: b64_encode(k.canonical_pem.as_bytes()),
        })
        .collect();
    let spec = DsseV001 {
        envelope_hash: Some(sha256_value(envelope_hash.clone())),
        payload_hash: sha256_value(payload_hash.clone()),
        signatures,
    };
    let mut search: BTreeSet<String> = keys.into_iter().flat_map(|k| k.search_keys).collect();
    search.insert(format!("sha256:{payload_hash}"));
    search.insert(format!("sha256:{envelope_hash}"));
    search.extend(statement_keys(&payload_type, &payload));
    finish(spec, search, "dsse", "0.0.1")
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IntotoSpec {
    content: Option<IntotoContent>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct IntotoContent {
    envelope: Option<IntotoEnvelope>,
    hash: Option<AlgValue>,
    // `payloadHash` is computed by the log; a client value is ignored (as Rekor does).
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct IntotoEnvelope {
    payload: Option<String>,
    payload_type: Option<String>,
    signatures: Option<Vec<IntotoSignature>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct IntotoSignature {
    sig: Option<String>,
    public_key: Option<String>,
    keyid: Option<String>,
}

/// Decode a doubly base64-encoded field: base64 of the envelope's base64 text.
fn double_b64(s: &str, what: &str) -> Result<(String, Vec<u8>), LogError> {
    let outer = b64(s, what)?;
    let text = String::from_utf8(outer)
        .map_err(|_| invalid(format!("{what} must be base64 of base64 text")))?;
    let inner = b64_decode(&text)
        .map_err(|e| invalid(format!("{what} must be base64 of base64 text: {e}")))?;
    Ok((text, inner))
}

/// intoto 0.0.2 (§2.4): each signature must verify over the PAE with its own public key.
fn prepare_intoto(spec: &Value) -> Result<PreparedEntry, LogError> {
    let spec: IntotoSpec = from_spec(spec, "intoto")?;
    let content = spec.content.ok_or_else(|| invalid("missing content"))?;
    let env = content
        .envelope
        .ok_or_else(|| invalid("missing content.envelope"))?;
    let (_, payload) = double_b64(
        &non_empty(env.payload, "content.envelope.payload")?,
        "content.envelope.payload",
    )?;
    let payload_type = non_empty(env.payload_type, "content.envelope.payloadType")?;
    let hash = content
        .hash
        .ok_or_else(|| invalid("missing content.hash (the envelope digest)"))?;
    let hash_alg = non_empty(hash.algorithm, "content.hash.algorithm")?;
    if hash_alg != "sha256" {
        return Err(invalid(format!(
            "unsupported content.hash.algorithm {hash_alg:?}: must be sha256"
        )));
    }
    let hash_value = non_empty(hash.value, "content.hash.value")?.to_ascii_lowercase();
    if hash_value.len() != 64 || !hash_value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("content.hash.value must be 64 hex characters"));
    }
    let sigs = env.signatures.unwrap_or_default();
    if sigs.is_empty() {
        return Err(invalid("missing content.envelope.signatures"));
    }
    if sigs.len() > MAX_SIGNATURES {
        return Err(invalid(format!(
            "the envelope has {} signatures, over the limit of {MAX_SIGNATURES}",
            sigs.len()
        )));
    }
    let msg = pae(&payload_type, &payload);
    let mut stored = Vec::with_capacity(sigs.len());
    let mut search = BTreeSet::new();
    for (i, s) in sigs.into_iter().enumerate() {
        let what = format!("content.envelope.signatures[{i}]");
        let (sig_text, raw) = double_b64(
            &non_empty(s.sig, &format!("{what}.sig"))?,
            &format!("{what}.sig"),
        )?;
        let pem = b64(
            &non_empty(s.public_key, &format!("{what}.publicKey"))?,
            &format!("{what}.publicKey"),
        )?;
        let km = parse_key_material(&pem, &format!("{what}.publicKey"))?;
        if !verify_pae(&km.key, &msg, &raw) {
            return Err(invalid(format!(
                "could not verify envelope: {what} does not verify with its publicKey"
            )));
        }
        stored.push(IntotoSignatureV002 {
            keyid: s.keyid.filter(|k| !k.is_empty()),
            public_key: b64_encode(km.canonical_pem.as_bytes()),
            sig: b64_encode(sig_text.as_bytes()),
        });
        search.extend(km.search_keys);
    }
    let payload_hash = hex::encode(HashKind::Sha256.digest(&payload));
    search.insert(format!("sha256:{payload_hash}"));
    search.extend(statement_keys(&payload_type, &payload));
    let spec = IntotoV002 {
        content: IntotoContentV002 {
            envelope: IntotoEnvelopeV002 {
                payload_type,
                signatures: stored,
            },
            hash: Some(sha256_value(hash_value)),
            payload_hash: sha256_value(payload_hash),
        },
    };
    finish(spec, search, "intoto", "0.0.2")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// The bodies built from the vouch-core types are byte for byte what the `json!` literals
    /// they replaced made (those literals are kept here as the oracle).
    #[test]
    fn typed_bodies_equal_the_json_literals() {
        let (sig, pem, value) = ("c2ln", "cGVt", "ab".repeat(32));
        let hr = finish(
            HashedRekordV001 {
                data: HashedRekordDataV001 {
                    hash: HashValue {
                        algorithm: "sha256".into(),
                        value: value.clone(),
                    },
                },
                signature: HashedRekordSignatureV001 {
                    content: sig.into(),
                    public_key: PemContent {
                        content: pem.into(),
                    },
                },
            },
            BTreeSet::new(),
            "hashedrekord",
            "0.0.1",
        )
        .unwrap();
        let old = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": value}},
                "signature": {"content": sig, "publicKey": {"content": pem}}
            }
        });
        assert_eq!(hr.body, canonical_json(&old).unwrap());
        assert_eq!(hr.leaf_hash, leaf_hash(&hr.body));

        let (eh, ph) = ("01".repeat(32), "02".repeat(32));
        let dsse = finish(
            DsseV001 {
                envelope_hash: Some(sha256_value(eh.clone())),
                payload_hash: sha256_value(ph.clone()),
                signatures: vec![
                    DsseSignatureV001 {
                        signature: "QQ==".into(),
                        verifier: pem.into(),
                    },
                    DsseSignatureV001 {
                        signature: "Qg==".into(),
                        verifier: "b3RoZXI=".into(),
                    },
                ],
            },
            BTreeSet::new(),
            "dsse",
            "0.0.1",
        )
        .unwrap();
        let old = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": eh},
                "payloadHash": {"algorithm": "sha256", "value": ph},
                "signatures": [
                    {"signature": "QQ==", "verifier": pem},
                    {"signature": "Qg==", "verifier": "b3RoZXI="}
                ]
            }
        });
        assert_eq!(dsse.body, canonical_json(&old).unwrap());

        let intoto = finish(
            IntotoV002 {
                content: IntotoContentV002 {
                    envelope: IntotoEnvelopeV002 {
                        payload_type: INTOTO_PAYLOAD_TYPE.into(),
                        signatures: vec![
                            IntotoSignatureV002 {
                                keyid: Some("k1".into()),
                                public_key: pem.into(),
                                sig: "UVE9PQ==".into(),
                            },
                            IntotoSignatureV002 {
                                keyid: None,
                                public_key: pem.into(),
                                sig: "UWc9PQ==".into(),
                            },
                        ],
                    },
                    hash: Some(sha256_value(eh.clone())),
                    payload_hash: sha256_value(ph.clone()),
                },
            },
            BTreeSet::new(),
            "intoto",
            "0.0.2",
        )
        .unwrap();
        let old = json!({
            "apiVersion": "0.0.2",
            "kind": "intoto",
            "spec": {"content": {
                "envelope": {"payloadType": INTOTO_PAYLOAD_TYPE, "signatures": [
                    {"keyid": "k1", "publicKey": pem, "sig": "UVE9PQ=="},
                    {"publicKey": pem, "sig": "UWc9PQ=="}
                ]},
                "hash": {"algorithm": "sha256", "value": eh},
                "payloadHash": {"algorithm": "sha256", "value": ph}
            }}
        });
        assert_eq!(intoto.body, canonical_json(&old).unwrap());
        // And vouch-core reads each back.
        for (e, kind, version) in [
            (&hr, "hashedrekord", "0.0.1"),
            (&dsse, "dsse", "0.0.1"),
            (&intoto, "intoto", "0.0.2"),
        ] {
            vouch_core::rekor::EntryBody::parse(&e.body, kind, version).unwrap();
        }
    }
}
