//! An in-process "virtual Sigstore": a test signing key and an Ed25519 Rekor-v2-style log
//! with its own trusted root, so the Rekor v2 path (C2SP checkpoints, key IDs, hashedrekord
//! 0.0.2 bodies), key-based bundles, DSSE over hashedrekord, sha512-only in-toto subjects and
//! witness cosignatures are exercised without any recorded data.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::json;
use vouch_core::dsse::pae;
use vouch_core::encoding::b64_encode as b64;
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::merkle;
use vouch_core::note::{NoteVerifier, SignedNote, verify_cosignature};
use vouch_core::trust::TrustRoot;
use vouch_verify::{Artifact, EntryError, PolicyBuilder, Verifier, VerifyError};

const ORIGIN: &str = "log.vouch.test";

struct Log {
    key: Ed25519KeyPair,
    leaves: Vec<merkle::Hash>,
}

impl Log {
    fn new() -> Self {
        let mut leaves = Vec::new();
        for i in 0..37u32 {
            leaves.push(merkle::leaf_hash(&i.to_be_bytes()));
        }
        Self {
            key: Ed25519KeyPair::generate().unwrap(),
            leaves,
        }
    }
    fn raw_key(&self) -> [u8; 32] {
        self.key.public_key().as_ref().try_into().unwrap()
    }
    fn spki(&self) -> Vec<u8> {
        let mut v = hex::decode("302a300506032b6570032100").unwrap();
        v.extend_from_slice(&self.raw_key());
        v
    }
    fn verifier(&self) -> NoteVerifier {
        NoteVerifier::ed25519(ORIGIN, self.raw_key())
    }
    fn trusted_root(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": format!("https://{ORIGIN}"),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(&self.spki()), "keyDetails": "PKIX_ED25519", "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": b64(&self.verifier().key_hash)}
            }]
        }))
        .unwrap()
    }
    /// Append `body`, then return (index, size, proof, signed checkpoint).
    fn append(&mut self, body: &[u8]) -> (usize, usize, Vec<merkle::Hash>, String) {
        self.leaves.push(merkle::leaf_hash(body));
        let index = self.leaves.len() - 1;
        // A few later entries, so the proof is not just the right edge.
        for i in 0..5u32 {
            self.leaves
                .push(merkle::leaf_hash(&(1000 + i).to_be_bytes()));
        }
        let size = self.leaves.len();
        let root = merkle::root_of_leaves(&self.leaves);
        let text = format!("{ORIGIN}\n{size}\n{}\n", b64(&root));
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.verifier().key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(sig.as_ref());
        let note = format!("{text}\n\u{2014} {ORIGIN} {}\n", b64(&raw));
        (
            index,
            size,
            merkle::inclusion_proof(&self.leaves, index),
            note,
        )
    }
}

struct Signer {
    key: EcdsaKeyPair,
}

impl Signer {
    fn new() -> Self {
        Self {
            key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap(),
        }
    }
    fn spki(&self) -> Vec<u8> {
        self.key.public_key().as_der().unwrap().as_ref().to_vec()
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }
    fn public_key(&self) -> PublicKey {
        PublicKey::from_spki_der(&self.spki()).unwrap()
    }
}

/// A hashedrekord 0.0.2 body exactly as Rekor v2 canonicalizes it (JCS of the protojson).
fn body_v002(digest: &[u8], sig: &[u8], spki: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"SHA2_256","digest":"{}"}},"signature":{{"content":"{}","verifier":{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{{"rawBytes":"{}"}}}}}}}}}}}}"#,
        b64(digest),
        b64(sig),
        b64(spki)
    )
    .into_bytes()
}

fn entry(log: &mut Log, body: &[u8]) -> serde_json::Value {
    let (index, size, proof, note) = log.append(body);
    let root = merkle::root_of_leaves(&log.leaves);
    json!({
        "logIndex": index.to_string(),
        "logId": {"keyId": b64(&log.verifier().key_hash)},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
        "inclusionProof": {
            "logIndex": index.to_string(),
            "rootHash": b64(&root),
            "treeSize": size.to_string(),
            "hashes": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
            "checkpoint": {"envelope": note}
        },
        "canonicalizedBody": b64(body)
    })
}

fn message_bundle(log: &mut Log, signer: &Signer, artifact: &[u8]) -> Vec<u8> {
    let digest = HashKind::Sha256.digest(artifact);
    let sig = signer.sign(artifact);
    let e = entry(log, &body_v002(&digest, &sig, &signer.spki()));
    serde_json::to_vec(&json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": b64(&signer.public_key().key_id())}, "tlogEntries": [e]},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(&digest)}, "signature": b64(&sig)}
    }))
    .unwrap()
}

fn dsse_bundle(log: &mut Log, signer: &Signer, statement: &serde_json::Value) -> Vec<u8> {
    let payload = serde_json::to_vec(statement).unwrap();
    let pae_bytes = pae("application/vnd.in-toto+json", &payload);
    let sig = signer.sign(&pae_bytes);
    let e = entry(
        log,
        &body_v002(&HashKind::Sha256.digest(&pae_bytes), &sig, &signer.spki()),
    );
    serde_json::to_vec(&json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": [e]},
        "dsseEnvelope": {"payload": b64(&payload), "payloadType": "application/vnd.in-toto+json", "signatures": [{"sig": b64(&sig)}]}
    }))
    .unwrap()
}

#[test]
fn key_signed_message_on_a_rekor_v2_log() {
    let mut log = Log::new();
    let signer = Signer::new();
    let artifact = b"release-1.2.3.tar.gz contents";
    let bundle = message_bundle(&mut log, &signer, artifact);
    let verifier = Verifier::new(TrustRoot::from_json(&log.trusted_root()).unwrap());
    let policy = PolicyBuilder::new()
        .key(signer.public_key())
        .build()
        .unwrap();

    let r = verifier
        .verify_json(&bundle, Artifact::Bytes(artifact), &policy)
        .unwrap();
    assert_eq!(r.tlog_entries[0].log, format!("https://{ORIGIN}"));
    assert!(r.tlog_entries[0].proof_verified);
    // By digest too.
    let d = HashKind::Sha256.digest(artifact);
    verifier
        .verify_json(
            &bundle,
            Artifact::Digest {
                algorithm: HashKind::Sha256,
                digest: &d,
            },
            &policy,
        )
        .unwrap();
    // Another key: refused.
    let other = PolicyBuilder::new()
        .key(Signer::new().public_key())
        .build()
        .unwrap();
    let err = verifier
        .verify_json(&bundle, Artifact::Bytes(artifact), &other)
        .unwrap_err();
    // Reported as the wrong key, not as log tampering.
    assert!(matches!(err, VerifyError::WrongKey { .. }), "{err}");
    // Another artifact: refused.
    let err = verifier
        .verify_json(&bundle, Artifact::Bytes(b"other"), &policy)
        .unwrap_err();
    // Reported as the wrong file, not as log tampering.
    assert!(matches!(err, VerifyError::ArtifactMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("this file does not match the bundle: file sha"),
        "{err}"
    );
    // A log we do not trust: refused.
    let stranger = Verifier::new(TrustRoot::from_json(&Log::new().trusted_root()).unwrap());
    let err = stranger
        .verify_json(&bundle, Artifact::Bytes(artifact), &policy)
        .unwrap_err();
    assert!(matches!(err, VerifyError::TlogThreshold { .. }), "{err}");
}

#[test]
fn dsse_attestation_with_sha512_only_subject() {
    let mut log = Log::new();
    let signer = Signer::new();
    let artifact = b"pkg.tgz";
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "pkg.tgz", "digest": {"sha512": hex::encode(HashKind::Sha512.digest(artifact))}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://example.com/build"}}
    });
    let bundle = dsse_bundle(&mut log, &signer, &statement);
    let verifier = Verifier::new(TrustRoot::from_json(&log.trusted_root()).unwrap());
    let policy = PolicyBuilder::new()
        .key(signer.public_key())
        .predicate_type("slsaprovenance1")
        .build()
        .unwrap();
    let r = verifier
        .verify_json(&bundle, Artifact::Bytes(artifact), &policy)
        .unwrap();
    assert_eq!(
        r.predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );
    // The sha512 subject can also be matched by a sha512 digest argument.
    let d = HashKind::Sha512.digest(artifact);
    verifier
        .verify_json(
            &bundle,
            Artifact::Digest {
                algorithm: HashKind::Sha512,
                digest: &d,
            },
            &policy,
        )
        .unwrap();
    let err = verifier
        .verify_json(&bundle, Artifact::Bytes(b"not the package"), &policy)
        .unwrap_err();
    assert!(matches!(err, VerifyError::SubjectMismatch { .. }), "{err}");
    let spdx = PolicyBuilder::new()
        .key(signer.public_key())
        .predicate_type("spdxjson")
        .build()
        .unwrap();
    let err = verifier
        .verify_json(&bundle, Artifact::Bytes(artifact), &spdx)
        .unwrap_err();
    assert!(matches!(err, VerifyError::PredicateType { .. }), "{err}");
}

#[test]
fn witness_cosignatures() {
    let mut log = Log::new();
    let (_, _, _, note_text) = log.append(b"entry");
    let mut note = SignedNote::parse(&note_text).unwrap();
    note.verify(&log.verifier()).unwrap();

    // A witness cosigns the checkpoint (tlog-cosignature/v1).
    let witness = Ed25519KeyPair::generate().unwrap();
    let wraw: [u8; 32] = witness.public_key().as_ref().try_into().unwrap();
    let name = "witness.vouch.test";
    let ts: u64 = 1_700_000_000;
    let msg = format!("cosignature/v1\ntime {ts}\n{}", note.text);
    let mut key_input = name.as_bytes().to_vec();
    key_input.push(b'\n');
    key_input.push(0x04);
    key_input.extend_from_slice(&wraw);
    let id = u32::from_be_bytes(HashKind::Sha256.digest(&key_input)[..4].try_into().unwrap());
    let mut sig = ts.to_be_bytes().to_vec();
    sig.extend_from_slice(witness.sign(msg.as_bytes()).as_ref());
    note.signatures.push(vouch_core::note::NoteSignature {
        name: name.into(),
        key_id: id,
        signature: sig,
    });
    let reparsed = SignedNote::parse(&note.to_text()).unwrap();
    // The log signature still verifies with an extra (unknown to it) line present.
    reparsed.verify(&log.verifier()).unwrap();
    let wv = NoteVerifier::ed25519(name, wraw);
    let c = verify_cosignature(&reparsed, &wv).unwrap().unwrap();
    assert_eq!(c.timestamp, ts);
    // Tampered checkpoint text: the cosignature no longer verifies.
    let mut bad = reparsed.clone();
    bad.text = bad
        .text
        .replace(&format!("\n{}\n", log.leaves.len()), "\n1\n");
    assert!(verify_cosignature(&bad, &wv).is_err());
    // A witness that did not sign: None.
    let absent = NoteVerifier::ed25519("other.witness", wraw);
    assert!(verify_cosignature(&reparsed, &absent).unwrap().is_none());
}

#[test]
fn ed25519ph_message_signature_on_a_rekor_v2_log() {
    use ed25519_dalek::{SigningKey, ed25519::signature::digest::Digest};
    let mut log = Log::new();
    let sk = SigningKey::from_bytes(&[7u8; 32]);
    let mut spki = hex::decode("302a300506032b6570032100").unwrap();
    spki.extend_from_slice(sk.verifying_key().as_bytes());
    let artifact = b"ed25519 artifact";
    let sig = sk
        .sign_prehashed(sha2::Sha512::new().chain_update(artifact), None)
        .unwrap()
        .to_bytes()
        .to_vec();
    let digest = HashKind::Sha512.digest(artifact);
    let body = format!(
        r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"SHA2_512","digest":"{}"}},"signature":{{"content":"{}","verifier":{{"keyDetails":"PKIX_ED25519_PH","publicKey":{{"rawBytes":"{}"}}}}}}}}}}}}"#,
        b64(&digest),
        b64(&sig),
        b64(&spki)
    )
    .into_bytes();
    let e = entry(&mut log, &body);
    let bundle = serde_json::to_vec(&json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": [e]},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_512", "digest": b64(&digest)}, "signature": b64(&sig)}
    }))
    .unwrap();
    let verifier = Verifier::new(TrustRoot::from_json(&log.trusted_root()).unwrap());
    let key = PublicKey::from_spki_der(&spki).unwrap();
    let policy = PolicyBuilder::new().key(key.clone()).build().unwrap();
    verifier
        .verify_json(&bundle, Artifact::Bytes(artifact), &policy)
        .unwrap();
    verifier
        .verify_json(
            &bundle,
            Artifact::Digest {
                algorithm: HashKind::Sha512,
                digest: &digest,
            },
            &policy,
        )
        .unwrap();
    // Pure Ed25519 over the message is a different signature: refused.
    let mut pure = [0u8; 64];
    pure.copy_from_slice(&ed25519_dalek::Signer::sign(&sk, artifact).to_bytes());
    assert!(key.verify_digest(HashKind::Sha512, &digest, &pure).is_err());
    let err = verifier
        .verify_json(&bundle, Artifact::Bytes(b"other"), &policy)
        .unwrap_err();
    // Reported as the wrong file, not as log tampering.
    assert!(matches!(err, VerifyError::ArtifactMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("this file does not match the bundle: file sha"),
        "{err}"
    );
}

/// Issue 12 finding 4: a Rekor v2 entry carries no signed integrated time, so the log key's
/// `validFor` was never checked, and entries from a retired (or compromised and rotated out)
/// log key still verified. The key must be valid at the verified signing time (here, with no
/// timestamp, now).
#[test]
fn rekor_v2_entry_from_a_retired_log_key_is_refused() {
    let mut log = Log::new();
    let signer = Signer::new();
    let artifact = b"release-1.2.3.tar.gz contents";
    let bundle = message_bundle(&mut log, &signer, artifact);
    let policy = PolicyBuilder::new()
        .key(signer.public_key())
        .build()
        .unwrap();
    let mut root: serde_json::Value = serde_json::from_slice(&log.trusted_root()).unwrap();
    root["tlogs"][0]["publicKey"]["validFor"] =
        json!({"start": "2020-01-01T00:00:00Z", "end": "2021-01-01T00:00:00Z"});
    let retired = Verifier::new(TrustRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap());
    let err = retired
        .verify_json(&bundle, Artifact::Bytes(artifact), &policy)
        .unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Entry {
                position: 0,
                source: EntryError::SigningTimeOutsideLogValidity { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("outside the validity"), "{err}");
}

/// Two real witnesses (vouch-witness, in process) and a tlog-policy requiring both (2 of 2):
/// the bundle verifies with both cosignatures, and with one the failure names the group and
/// the witness that did cosign.
#[test]
fn witness_quorum_two_of_two() {
    use vouch_core::tlog_policy::QuorumError;
    use vouch_core::tlog_policy::WitnessPolicy;
    use vouch_core::witness::{AddCheckpointRequest, parse_cosignature_lines};

    let mut log = Log::new();
    let signer = Signer::new();
    let artifact = b"witnessed artifact";
    let bundle: serde_json::Value =
        serde_json::from_slice(&message_bundle(&mut log, &signer, artifact)).unwrap();
    let envelope = bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
        ["envelope"]
        .as_str()
        .unwrap()
        .to_string();
    let note = SignedNote::parse(&envelope).unwrap();

    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let witnesses: Vec<vouch_witness::Witness> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let (keys, _) = vouch_witness::WitnessKeys::load_or_generate(
                d.path(),
                &format!("witness.vouch.test/w{}", i + 1),
            )
            .unwrap();
            vouch_witness::Witness::open(
                d.path(),
                keys,
                vec![vouch_witness::LogConfig {
                    origin: ORIGIN.into(),
                    verifier: log.verifier(),
                }],
            )
            .unwrap()
        })
        .collect();
    let request = AddCheckpointRequest {
        old_size: 0,
        proof: vec![],
        checkpoint: note.clone(),
    }
    .to_text();
    let lines: Vec<String> = witnesses
        .iter()
        .map(|w| w.add_checkpoint(request.as_bytes()).unwrap().lines)
        .collect();

    // w1 is trusted through its Ed25519 key, w2 through its ML-DSA-44 key.
    let policy_text = format!(
        "log {}\nwitness w1 {}\nwitness w2 {}\ngroup both 2 w1 w2\nquorum both\n",
        log.verifier().to_vkey().unwrap(),
        witnesses[0].keys().public_keys()[0].to_vkey(),
        witnesses[1].keys().public_keys()[1].to_vkey(),
    );
    let wp = WitnessPolicy::parse(policy_text.as_bytes()).unwrap();
    let policy = PolicyBuilder::new()
        .key(signer.public_key())
        .witness_policy(wp.clone())
        .build()
        .unwrap();
    let verifier = Verifier::new(TrustRoot::from_json(&log.trusted_root()).unwrap());
    let with = |cosigs: &[&String]| {
        let mut n = note.clone();
        for l in cosigs {
            n.signatures.extend(parse_cosignature_lines(l).unwrap());
        }
        let mut b = bundle.clone();
        b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"] =
            serde_json::Value::String(n.to_text());
        serde_json::to_vec(&b).unwrap()
    };

    verifier
        .verify_json(
            &with(&[&lines[0], &lines[1]]),
            Artifact::Bytes(artifact),
            &policy,
        )
        .unwrap();

    for (cosigs, who) in [(vec![&lines[0]], vec!["w1"]), (vec![], vec![])] {
        let err = verifier
            .verify_json(&with(&cosigs), Artifact::Bytes(artifact), &policy)
            .unwrap_err();
        let VerifyError::Entry {
            source: EntryError::WitnessQuorum { source, .. },
            ..
        } = &err
        else {
            panic!("{err}");
        };
        let QuorumError::NotMet {
            group,
            required,
            satisfied,
            cosigned_by,
            ..
        } = source.as_ref()
        else {
            panic!("{source}");
        };
        assert_eq!(
            (group.as_str(), *required, *satisfied),
            ("both", 2, who.len())
        );
        assert_eq!(cosigned_by, &who);
        assert!(err.to_string().contains("\"both\" needs 2"), "{err}");
    }

    // Without the policy the uncosigned bundle verifies as before.
    let plain = PolicyBuilder::new()
        .key(signer.public_key())
        .build()
        .unwrap();
    verifier
        .verify_json(&with(&[]), Artifact::Bytes(artifact), &plain)
        .unwrap();

    // A policy naming another log refuses the checkpoint.
    let other_log = Log::new();
    let other = WitnessPolicy::parse(
        format!(
            "log {}\nquorum none\n",
            other_log.verifier().to_vkey().unwrap()
        )
        .as_bytes(),
    )
    .unwrap();
    let p = PolicyBuilder::new()
        .key(signer.public_key())
        .witness_policy(other)
        .build()
        .unwrap();
    let err = verifier
        .verify_json(
            &with(&[&lines[0], &lines[1]]),
            Artifact::Bytes(artifact),
            &p,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Entry {
                source: EntryError::LogNotInWitnessPolicy { .. },
                ..
            }
        ),
        "{err}"
    );
}
