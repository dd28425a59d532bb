//! The Rekor v1 API end to end over HTTP on loopback: hashedrekord 0.0.1 (public key and
//! certificate), dsse 0.0.1 and intoto 0.0.2 submissions; every returned entry checked (SET with
//! the log key, inclusion proof, checkpoint signature, body parse); reads by index, UUID and entry
//! ID; batch retrieve; index search; consistency proofs; duplicates; malformed input; and v1
//! responses turned into Sigstore bundles that vouch-verify accepts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_lc_rs::signature::{ECDSA_P384_SHA384_ASN1_SIGNING, Ed25519KeyPair, KeyPair};
use common::{Key, seq, tlv};
use serde_json::{Value, json};
use vouch_core::dsse::pae;
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::keys::{HashKind, PublicKey, pem_encode};
use vouch_core::merkle;
use vouch_core::note::{Checkpoint, SignedNote};
use vouch_core::rekor::{EntryBody, set_payload};
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, api, v1};
use vouch_verify::{Artifact, PolicyBuilder};

const ORIGIN: &str = "log.vouch.test/2026";

async fn start(
    dir: &std::path::Path,
    alg: KeyAlgorithm,
) -> (String, Log<EmbeddedStorage>, tokio::task::JoinHandle<()>) {
    common::start_api(dir, ORIGIN, alg).await
}

// --- A minimal self-signed certificate, DER by hand ---------------------------------------------

/// A self-signed P-256 certificate for `key` with an email SAN.
fn self_signed_cert(key: &Key, email: &str) -> Vec<u8> {
    let ecdsa_sha256 = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
    let name = seq(&[tlv(
        0x31,
        &seq(&[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0c, b"vouch v1 test")]),
    )]);
    let san = seq(&[
        tlv(0x06, &[0x55, 0x1d, 0x11]),
        tlv(0x04, &seq(&[tlv(0x81, email.as_bytes())])),
    ]);
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[0x01, 0x23, 0x45]),
        seq(std::slice::from_ref(&ecdsa_sha256)),
        name.clone(),
        seq(&[tlv(0x17, b"200101000000Z"), tlv(0x17, b"491231235959Z")]),
        name,
        key.spki(),
        tlv(0xa3, &seq(&[san])),
    ]);
    let sig = key.sign(&tbs);
    seq(&[
        tbs,
        seq(&[ecdsa_sha256]),
        tlv(0x03, &[&[0u8][..], &sig].concat()),
    ])
}

// --- Requests -----------------------------------------------------------------------------------

fn hashedrekord(hash: HashKind, data: &[u8], sig: &[u8], key_pem: &str) -> Value {
    json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
        "data": {"hash": {"algorithm": hash.name(), "value": hex::encode(hash.digest(data))}},
        "signature": {"content": b64_encode(sig), "publicKey": {"content": b64_encode(key_pem.as_bytes())}}
    }})
}

fn statement(artifact: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a", "digest": {"sha256": hex::encode(HashKind::Sha256.digest(artifact))}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://example.com/build"}}
    }))
    .unwrap()
}

/// A DSSE envelope over an in-toto statement, signed by each key; returns (envelope JSON, sigs).
fn envelope(payload: &[u8], keys: &[&Key]) -> (String, Vec<Vec<u8>>) {
    let msg = pae("application/vnd.in-toto+json", payload);
    let sigs: Vec<Vec<u8>> = keys.iter().map(|k| k.sign(&msg)).collect();
    let env = json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": b64_encode(payload),
        "signatures": sigs.iter().map(|s| json!({"keyid": "", "sig": b64_encode(s)})).collect::<Vec<_>>()
    });
    (serde_json::to_string(&env).unwrap(), sigs)
}

fn dsse_request(env: &str, verifiers: &[&Key]) -> Value {
    json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
        "envelope": env,
        "verifiers": verifiers.iter().map(|k| b64_encode(k.pem().as_bytes())).collect::<Vec<_>>()
    }}})
}

fn intoto_request(payload: &[u8], sig: &[u8], key: &Key) -> Value {
    let env_json = serde_json::to_vec(&json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": b64_encode(payload),
        "signatures": [{"sig": b64_encode(sig), "keyid": "k1"}]
    }))
    .unwrap();
    json!({"kind": "intoto", "apiVersion": "0.0.2", "spec": {"content": {
        "envelope": {
            "payload": b64_encode(b64_encode(payload).as_bytes()),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{
                "sig": b64_encode(b64_encode(sig).as_bytes()),
                "publicKey": b64_encode(key.pem().as_bytes()),
                "keyid": "k1"
            }]
        },
        "hash": {"algorithm": "sha256", "value": hex::encode(HashKind::Sha256.digest(&env_json))}
    }}})
}

// --- Checks -------------------------------------------------------------------------------------

/// The single (entry ID, entry) of a `LogEntry`.
fn only(entry: &Value) -> (String, Value) {
    let m = entry.as_object().unwrap();
    assert_eq!(m.len(), 1, "{entry}");
    let (k, v) = m.iter().next().unwrap();
    (k.clone(), v.clone())
}

/// Check everything a Rekor v1 client checks; returns (entry ID, log index, body).
fn check_entry(
    log: &Log<EmbeddedStorage>,
    entry: &Value,
    kind: &str,
    version: &str,
) -> (String, u64, Vec<u8>) {
    let (id, e) = only(entry);
    let body = b64_decode(e["body"].as_str().unwrap()).unwrap();
    EntryBody::parse(&body, kind, version).unwrap();
    let sub = log.signer().key_details();
    dump(
        &format!("{sub}/body-{kind}-{version}-{}", &id[16..28]),
        &serde_json::from_slice(&body).unwrap(),
    );
    dump(&format!("{sub}/entry-{}", &id[16..28]), entry);
    // Entry ID = tree ID (derived from the log ID) + hex(leaf hash).
    let leaf = merkle::leaf_hash(&body);
    let tree = v1::tree_id(&log.signer().log_id());
    assert_eq!(id, format!("{tree:016x}{}", hex::encode(leaf)));
    assert_eq!(e["logID"], hex::encode(log.signer().log_id()));
    let index = e["logIndex"].as_u64().unwrap();
    let t = e["integratedTime"].as_i64().unwrap();
    assert!(t > 1_700_000_000);
    // SET: the log key over the canonical {body, integratedTime, logID, logIndex}.
    let set = b64_decode(e["verification"]["signedEntryTimestamp"].as_str().unwrap()).unwrap();
    let log_key = PublicKey::from_spki_der(log.signer().spki_der()).unwrap();
    log_key
        .verify(
            &set_payload(&body, t, &log.signer().log_id(), index as i64),
            &set,
        )
        .unwrap();
    // Inclusion proof against the signed checkpoint.
    let p = &e["verification"]["inclusionProof"];
    assert_eq!(p["logIndex"].as_u64().unwrap(), index);
    let note = SignedNote::parse(p["checkpoint"].as_str().unwrap()).unwrap();
    note.verify(log.signer().verifier()).unwrap();
    let cp = Checkpoint::parse(&note.text).unwrap();
    assert_eq!(cp.size, p["treeSize"].as_u64().unwrap());
    assert_eq!(hex::encode(cp.root_hash), p["rootHash"].as_str().unwrap());
    let hashes: Vec<Vec<u8>> = p["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
        .collect();
    merkle::verify_inclusion(index, cp.size, &leaf, &hashes, &cp.root_hash).unwrap();
    (id, index, body)
}

/// A Sigstore bundle v0.3 `TransparencyLogEntry` from a v1 `LogEntry`.
fn tlog_entry(entry: &Value, kind: &str, version: &str) -> Value {
    let (_, e) = only(entry);
    let p = &e["verification"]["inclusionProof"];
    json!({
        "logIndex": e["logIndex"].as_u64().unwrap().to_string(),
        "logId": {"keyId": b64_encode(&hex::decode(e["logID"].as_str().unwrap()).unwrap())},
        "kindVersion": {"kind": kind, "version": version},
        "integratedTime": e["integratedTime"].as_i64().unwrap().to_string(),
        "inclusionPromise": {"signedEntryTimestamp": e["verification"]["signedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": p["logIndex"].as_u64().unwrap().to_string(),
            "rootHash": b64_encode(&hex::decode(p["rootHash"].as_str().unwrap()).unwrap()),
            "treeSize": p["treeSize"].as_u64().unwrap().to_string(),
            "hashes": p["hashes"].as_array().unwrap().iter()
                .map(|h| b64_encode(&hex::decode(h.as_str().unwrap()).unwrap())).collect::<Vec<_>>(),
            "checkpoint": {"envelope": p["checkpoint"]}
        },
        "canonicalizedBody": e["body"]
    })
}

/// With `VOUCH_V1_DUMP=<dir>`, write `value` there as `<name>.json` (for checking the shapes
/// with other tools, e.g. the `sigstore-rekor-types` models).
fn dump(name: &str, value: &Value) {
    if let Some(dir) = std::env::var_os("VOUCH_V1_DUMP") {
        let path = std::path::PathBuf::from(dir).join(format!("{name}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    }
}

async fn expect_error(r: reqwest::Response, status: u16, what: &str) -> String {
    assert_eq!(r.status().as_u16(), status, "{what}");
    let e: Value = r.json().await.unwrap();
    dump(
        &format!(
            "error-{status}-{}",
            what.replace([' ', '/', '?', '=', '&', '"', '{', '}', ':', ','], "_")
        ),
        &e,
    );
    assert_eq!(e["code"], status, "{what}: {e}");
    let m = e["message"].as_str().unwrap().to_string();
    assert!(!m.is_empty(), "{what}");
    m
}

// --- The test -----------------------------------------------------------------------------------

async fn exercise(alg: KeyAlgorithm) {
    let dir = tempfile::tempdir().unwrap();
    let (url, log, _server) = start(dir.path(), alg).await;
    dump(
        &format!("{}/logkey", log.signer().key_details()),
        &json!({"rawBytes": b64_encode(log.signer().spki_der()), "keyDetails": log.signer().key_details()}),
    );
    if alg == KeyAlgorithm::EcdsaP256 {
        // With an ECDSA key the log ID is SHA-256(SPKI), the Rekor v1 rule clients compute.
        assert_eq!(
            log.signer().log_id().to_vec(),
            HashKind::Sha256.digest(log.signer().spki_der())
        );
    }
    let http = reqwest::Client::new();
    let entries_url = format!("{url}/api/v1/log/entries");
    let post = |body: Value| {
        let http = http.clone();
        let u = entries_url.clone();
        async move {
            let name = hex::encode(&HashKind::Sha256.digest(body.to_string().as_bytes())[..6]);
            dump(&format!("request-{name}"), &body);
            http.post(u).json(&body).send().await.unwrap()
        }
    };

    // hashedrekord 0.0.1 with a PEM public key.
    let key_a = Key::p256();
    let artifact = b"release-1.0.tar.gz";
    let sig_a = key_a.sign(artifact);
    let req_a = hashedrekord(HashKind::Sha256, artifact, &sig_a, &key_a.pem());
    let r = post(req_a.clone()).await;
    assert_eq!(r.status(), 201);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let entry_a: Value = r.json().await.unwrap();
    let (id_a, idx_a, body_a) = check_entry(&log, &entry_a, "hashedrekord", "0.0.1");
    assert_eq!(etag, id_a);
    assert_eq!(location, format!("/api/v1/log/entries/{id_a}"));
    let stored: Value = serde_json::from_slice(&body_a).unwrap();
    assert_eq!(
        stored["spec"]["signature"]["publicKey"]["content"],
        b64_encode(key_a.pem().as_bytes())
    );

    // hashedrekord 0.0.1 with a self-signed certificate (PEM with CRLF line ends: re-encoded).
    let key_c = Key::p256();
    let cert = self_signed_cert(&key_c, "Signer@Example.com");
    let cert_pem = pem_encode("CERTIFICATE", &cert).replace('\n', "\r\n");
    let artifact_c = b"cert-signed artifact";
    let r = post(hashedrekord(
        HashKind::Sha256,
        artifact_c,
        &key_c.sign(artifact_c),
        &cert_pem,
    ))
    .await;
    assert_eq!(r.status(), 201);
    let entry_c: Value = r.json().await.unwrap();
    let (id_c, _, body_c) = check_entry(&log, &entry_c, "hashedrekord", "0.0.1");
    let stored: Value = serde_json::from_slice(&body_c).unwrap();
    assert_eq!(
        stored["spec"]["signature"]["publicKey"]["content"],
        b64_encode(pem_encode("CERTIFICATE", &cert).as_bytes())
    );

    // hashedrekord 0.0.1 with a P-384 key over a SHA-384 digest.
    let key_384 = Key::new(&ECDSA_P384_SHA384_ASN1_SIGNING);
    let r = post(hashedrekord(
        HashKind::Sha384,
        b"384",
        &key_384.sign(b"384"),
        &key_384.pem(),
    ))
    .await;
    assert_eq!(r.status(), 201);
    check_entry(&log, &r.json().await.unwrap(), "hashedrekord", "0.0.1");

    // dsse 0.0.1 with two signers: signatures stored sorted, envelope hash of the string sent.
    let key_b = Key::p256();
    let artifact_d = b"attested.bin";
    let payload_d = statement(artifact_d);
    let (env_d, sigs_d) = envelope(&payload_d, &[&key_a, &key_b]);
    let r = post(dsse_request(&env_d, &[&key_b, &key_a])).await;
    assert_eq!(r.status(), 201);
    let entry_d: Value = r.json().await.unwrap();
    let (id_d, _, body_d) = check_entry(&log, &entry_d, "dsse", "0.0.1");
    let stored: Value = serde_json::from_slice(&body_d).unwrap();
    assert_eq!(
        stored["spec"]["envelopeHash"]["value"],
        hex::encode(HashKind::Sha256.digest(env_d.as_bytes()))
    );
    assert_eq!(
        stored["spec"]["payloadHash"]["value"],
        hex::encode(HashKind::Sha256.digest(&payload_d))
    );
    let stored_sigs: Vec<&str> = stored["spec"]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signature"].as_str().unwrap())
        .collect();
    let mut want: Vec<String> = sigs_d.iter().map(|s| b64_encode(s)).collect();
    want.sort();
    assert_eq!(stored_sigs, want);

    // intoto 0.0.2: double-base64 signature in the body, payload not stored.
    let key_i = Key::p256();
    let artifact_i = b"intoto artifact";
    let payload_i = statement(artifact_i);
    let sig_i = key_i.sign(&pae("application/vnd.in-toto+json", &payload_i));
    let r = post(intoto_request(&payload_i, &sig_i, &key_i)).await;
    assert_eq!(r.status(), 201);
    let entry_i: Value = r.json().await.unwrap();
    let (id_i, idx_i, body_i) = check_entry(&log, &entry_i, "intoto", "0.0.2");
    let stored: Value = serde_json::from_slice(&body_i).unwrap();
    let env = &stored["spec"]["content"]["envelope"];
    assert!(env.get("payload").is_none());
    assert_eq!(
        env["signatures"][0]["sig"],
        b64_encode(b64_encode(&sig_i).as_bytes())
    );
    assert_eq!(env["signatures"][0]["keyid"], "k1");

    // A Rekor v2 entry lands in the same tree and is readable through v1.
    let sig_v2 = key_a.sign(b"v2 artifact");
    let r = http
        .post(format!("{url}/api/v2/log/entries"))
        .json(&json!({"hashedRekordRequestV002": {
            "digest": b64_encode(&HashKind::Sha256.digest(b"v2 artifact")),
            "signature": {"content": b64_encode(&sig_v2), "verifier": {
                "publicKey": {"rawBytes": b64_encode(&key_a.spki())},
                "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v2: Value = r.json().await.unwrap();
    let idx_v2: u64 = v2["logIndex"].as_str().unwrap().parse().unwrap();

    // Reads: by index, by UUID, by entry ID; all against the current checkpoint.
    let get = |path: String| {
        let http = http.clone();
        let url = url.clone();
        async move { http.get(format!("{url}{path}")).send().await.unwrap() }
    };
    for path in [
        format!("/api/v1/log/entries?logIndex={idx_a}"),
        format!("/api/v1/log/entries/{}", &id_a[16..]),
        format!("/api/v1/log/entries/{id_a}"),
        format!("/api/v1/log/entries/{}", id_a.to_uppercase()),
    ] {
        let r = get(path.clone()).await;
        assert_eq!(r.status(), 200, "{path}");
        let e: Value = r.json().await.unwrap();
        let (id, idx, body) = check_entry(&log, &e, "hashedrekord", "0.0.1");
        assert_eq!((id.as_str(), idx, &body), (id_a.as_str(), idx_a, &body_a));
        assert_eq!(
            only(&e).1["verification"]["inclusionProof"]["treeSize"],
            log.checkpoint().size
        );
    }
    let r = get(format!("/api/v1/log/entries?logIndex={idx_v2}")).await;
    assert_eq!(r.status(), 200);
    check_entry(&log, &r.json().await.unwrap(), "hashedrekord", "0.0.2");
    expect_error(
        get("/api/v1/log/entries?logIndex=9999".into()).await,
        404,
        "index beyond the log",
    )
    .await;
    expect_error(
        get(format!("/api/v1/log/entries/{}", "ab".repeat(32))).await,
        404,
        "unknown UUID",
    )
    .await;
    expect_error(
        get(format!(
            "/api/v1/log/entries/{}{}",
            "1".repeat(16),
            &id_a[16..]
        ))
        .await,
        404,
        "other tree",
    )
    .await;
    for bad in [
        "/api/v1/log/entries/xyz",
        "/api/v1/log/entries/zz",
        "/api/v1/log/entries?logIndex=-1",
        "/api/v1/log/entries?logIndex=abc",
        "/api/v1/log/entries",
    ] {
        expect_error(get(bad.into()).await, 400, bad).await;
    }

    // Batch retrieve.
    let retrieve = |q: Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(format!("{url}/api/v1/log/entries/retrieve"))
                .json(&q)
                .send()
                .await
                .unwrap()
        }
    };
    let r = retrieve(
        json!({"entryUUIDs": [id_a, &id_d[16..], "cd".repeat(32)], "logIndexes": [idx_i, 9999]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let got: Vec<Value> = r.json().await.unwrap();
    let ids: Vec<String> = got.iter().map(|e| only(e).0).collect();
    assert_eq!(ids, vec![id_a.clone(), id_d.clone(), id_i.clone()]);
    let r = retrieve(json!({"entries": [req_a]})).await;
    let got: Vec<Value> = r.json().await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(only(&got[0]).0, id_a);
    expect_error(
        retrieve(json!({"logIndexes": (0..11).collect::<Vec<_>>()})).await,
        422,
        "too many queries",
    )
    .await;
    expect_error(
        retrieve(json!({"entryUUIDs": ["nothex"]})).await,
        400,
        "bad uuid",
    )
    .await;
    expect_error(
        retrieve(json!({"entries": [{"kind": "nope", "apiVersion": "1", "spec": {}}]})).await,
        400,
        "bad entry",
    )
    .await;

    // Index search.
    let search = |q: Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(format!("{url}/api/v1/index/retrieve"))
                .json(&q)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{q}");
            r.json::<Vec<String>>().await.unwrap()
        }
    };
    let hash_a = hex::encode(HashKind::Sha256.digest(artifact));
    assert_eq!(
        search(json!({"hash": format!("sha256:{hash_a}")})).await,
        vec![id_a.clone()]
    );
    assert_eq!(
        search(json!({"hash": hash_a.to_uppercase()})).await,
        vec![id_a.clone()]
    );
    let pk_a = json!({"format": "x509", "content": b64_encode(key_a.pem().as_bytes())});
    let tree = v1::tree_id(&log.signer().log_id());
    let id_v2 = format!(
        "{tree:016x}{}",
        hex::encode(merkle::leaf_hash(
            &b64_decode(v2["canonicalizedBody"].as_str().unwrap()).unwrap()
        ))
    );
    let mut by_key = search(json!({"publicKey": pk_a})).await;
    by_key.sort();
    let mut want = vec![id_a.clone(), id_d.clone(), id_v2.clone()];
    want.sort();
    assert_eq!(by_key, want);
    assert_eq!(
        search(json!({"publicKey": pk_a, "hash": format!("sha256:{hash_a}"), "operator": "and"}))
            .await,
        vec![id_a.clone()]
    );
    // The certificate's key and email.
    let cert_key = json!({"format": "x509", "content": b64_encode(pem_encode("CERTIFICATE", &cert).as_bytes())});
    assert_eq!(
        search(json!({"publicKey": cert_key})).await,
        vec![id_c.clone()]
    );
    assert_eq!(
        search(json!({"email": "signer@example.com"})).await,
        vec![id_c.clone()]
    );
    // In-toto subject digests and payload hashes of DSSE / intoto entries.
    assert_eq!(
        search(
            json!({"hash": format!("sha256:{}", hex::encode(HashKind::Sha256.digest(artifact_d)))})
        )
        .await,
        vec![id_d.clone()]
    );
    assert_eq!(
        search(
            json!({"hash": format!("sha256:{}", hex::encode(HashKind::Sha256.digest(&payload_i)))})
        )
        .await,
        vec![id_i.clone()]
    );
    assert_eq!(
        search(json!({"hash": format!("sha256:{}", hex::encode(HashKind::Sha256.digest(b"v2 artifact")))})).await,
        vec![id_v2.clone()]
    );
    assert!(
        search(json!({"email": "nobody@example.com"}))
            .await
            .is_empty()
    );
    for bad in [
        json!({"hash": "sha256:abcd"}),
        json!({"hash": "md5:00"}),
        json!({"publicKey": {"format": "ssh", "content": "AAAA"}}),
        json!({"publicKey": {"format": "x509", "content": "not base64!"}}),
        json!({"publicKey": {"format": "x509", "content": b64_encode(b"not pem")}}),
        json!({"operator": "xor", "hash": hash_a}),
    ] {
        let r = http
            .post(format!("{url}/api/v1/index/retrieve"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, &bad.to_string()).await;
    }

    // Log info, public key, consistency proofs.
    let info: Value = get("/api/v1/log".into()).await.json().await.unwrap();
    let cp = log.checkpoint();
    assert_eq!(info["treeSize"], cp.size);
    assert_eq!(info["rootHash"], hex::encode(cp.root));
    assert_eq!(info["treeID"], tree.to_string());
    let note = SignedNote::parse(info["signedTreeHead"].as_str().unwrap()).unwrap();
    note.verify(log.signer().verifier()).unwrap();
    assert_eq!(Checkpoint::parse(&note.text).unwrap().root_hash, cp.root);
    let r = get("/api/v1/log/publicKey".into()).await;
    assert_eq!(r.headers()["content-type"], "application/x-pem-file");
    let pem = r.text().await.unwrap();
    assert_eq!(
        PublicKey::from_pem(&pem).unwrap().spki_der(),
        log.signer().spki_der()
    );
    expect_error(
        get(format!("/api/v1/log?treeID={}", tree + 1)).await,
        404,
        "other tree",
    )
    .await;
    assert_eq!(
        get(format!("/api/v1/log/publicKey?treeID={tree}"))
            .await
            .status(),
        200
    );
    for (first, last) in [
        (None, cp.size),
        (Some(2), cp.size),
        (Some(3), 5),
        (Some(4), 4),
    ] {
        let q = match first {
            Some(f) => format!("/api/v1/log/proof?firstSize={f}&lastSize={last}"),
            None => format!("/api/v1/log/proof?lastSize={last}"),
        };
        let r = get(q.clone()).await;
        assert_eq!(r.status(), 200, "{q}");
        let p: Value = r.json().await.unwrap();
        let first = first.unwrap_or(1);
        let root = hex::decode(p["rootHash"].as_str().unwrap()).unwrap();
        assert_eq!(root, log.root_at(last).unwrap());
        let hashes: Vec<Vec<u8>> = p["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
            .collect();
        merkle::verify_consistency(
            first,
            last,
            &log.root_at(first).unwrap(),
            &root.try_into().unwrap(),
            &hashes,
        )
        .unwrap();
    }
    for bad in [
        "/api/v1/log/proof",
        "/api/v1/log/proof?firstSize=3&lastSize=2"
            .to_string()
            .as_str(),
        "/api/v1/log/proof?firstSize=0&lastSize=2",
        "/api/v1/log/proof?lastSize=999",
        "/api/v1/log/proof?firstSize=x&lastSize=2",
        "/api/v1/log/proof?lastSize=-2",
    ] {
        expect_error(get(bad.into()).await, 400, bad).await;
    }

    // Duplicate: 409 with the existing entry's location.
    let r = post(req_a.clone()).await;
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/api/v1/log/entries/{id_a}")
    );
    let m = expect_error(r, 409, "duplicate").await;
    assert!(m.contains(&id_a), "{m}");

    // Malformed input: 4xx with a JSON message, never a 500.
    let mut tampered = req_a.clone();
    tampered["spec"]["data"]["hash"]["value"] = json!(hex::encode(HashKind::Sha256.digest(b"x")));
    let mut bad_b64 = req_a.clone();
    bad_b64["spec"]["signature"]["content"] = json!("@@@not base64@@@");
    let mut bad_len = req_a.clone();
    bad_len["spec"]["data"]["hash"]["algorithm"] = json!("sha512");
    let mut bad_alg = req_a.clone();
    bad_alg["spec"]["data"]["hash"]["algorithm"] = json!("md5");
    let mut bad_key = req_a.clone();
    bad_key["spec"]["signature"]["publicKey"]["content"] = json!(b64_encode(b"garbage"));
    let mut no_spec = req_a.clone();
    no_spec.as_object_mut().unwrap().remove("spec");
    let ed = Ed25519KeyPair::generate().unwrap();
    let ed_spki = {
        let mut v = hex::decode("302a300506032b6570032100").unwrap();
        v.extend_from_slice(ed.public_key().as_ref());
        v
    };
    let ed_req = hashedrekord(
        HashKind::Sha256,
        artifact,
        ed.sign(artifact).as_ref(),
        &pem_encode("PUBLIC KEY", &ed_spki),
    );
    let (env_ab, _) = envelope(&payload_d, &[&key_a]);
    let mut intoto_single = intoto_request(&payload_i, &sig_i, &key_i);
    intoto_single["spec"]["content"]["envelope"]["signatures"][0]["sig"] =
        json!(b64_encode(&sig_i));
    let intoto_other_key = intoto_request(&payload_i, &sig_i, &key_a);
    let mut dsse_server_fields = dsse_request(&env_ab, &[&key_a]);
    dsse_server_fields["spec"]["payloadHash"] = json!({"algorithm": "sha256", "value": "00"});
    let cases: Vec<(Value, &str)> = vec![
        (json!("not an object"), "string"),
        (
            json!({"kind": "rekord", "apiVersion": "0.0.1", "spec": {}}),
            "rekord",
        ),
        (
            json!({"kind": "hashedrekord", "apiVersion": "0.0.2", "spec": {}}),
            "version",
        ),
        (
            json!({"kind": "whatever", "apiVersion": "0.0.1", "spec": {}}),
            "kind",
        ),
        (json!({"apiVersion": "0.0.1", "spec": {}}), "no kind"),
        (
            json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": []}),
            "spec array",
        ),
        (
            json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {"data": 5}}),
            "data type",
        ),
        (
            json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {}}),
            "empty spec",
        ),
        (no_spec, "no spec"),
        (tampered, "bad signature"),
        (bad_b64, "bad base64"),
        (bad_len, "hash length"),
        (bad_alg, "hash algorithm"),
        (bad_key, "bad key"),
        (ed_req, "ed25519"),
        (dsse_request(&env_ab, &[&key_b]), "dsse wrong verifier"),
        (
            dsse_request(&env_ab, &[&key_a, &key_b]),
            "dsse unused verifier",
        ),
        (dsse_request("{not json", &[&key_a]), "dsse envelope json"),
        (dsse_request(&env_ab, &[]), "dsse no verifiers"),
        (dsse_server_fields, "dsse server fields"),
        (
            dsse_request(&env_ab, &[&key_a; 17]),
            "dsse too many verifiers",
        ),
        (
            json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {"envelope": env_ab, "verifiers": ["!!"]}}}),
            "dsse bad b64",
        ),
        (intoto_single, "intoto single b64"),
        (intoto_other_key, "intoto wrong key"),
        (
            json!({"kind": "intoto", "apiVersion": "0.0.2", "spec": {"content": {}}}),
            "intoto empty",
        ),
    ];
    for (body, what) in cases {
        let m = expect_error(post(body).await, 400, what).await;
        if what == "ed25519" {
            assert!(m.contains("Ed25519"), "{m}");
        }
    }
    let r = http
        .post(&entries_url)
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "not json").await;
    let r = http
        .post(&entries_url)
        .body("x".repeat(api::MAX_REQUEST_BYTES + 1))
        .send()
        .await
        .unwrap();
    expect_error(r, 413, "too large").await;

    // v1 responses are Sigstore entries: bundles built from them verify with vouch-verify.
    let verifier = common::verifier_for(&log, ORIGIN);
    let policy = |k: &Key| PolicyBuilder::new().key(k.public()).build().unwrap();
    let message_bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": b64_encode(&key_a.public().key_id())},
            "tlogEntries": [tlog_entry(&entry_a, "hashedrekord", "0.0.1")]},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256",
            "digest": b64_encode(&HashKind::Sha256.digest(artifact))}, "signature": b64_encode(&sig_a)}
    });
    let res = verifier
        .verify_json(
            &serde_json::to_vec(&message_bundle).unwrap(),
            Artifact::Bytes(artifact),
            &policy(&key_a),
        )
        .unwrap();
    assert_eq!(
        res.tlog_entries[0].integrated_time,
        Some(only(&entry_a).1["integratedTime"].as_i64().unwrap())
    );
    assert!(res.tlog_entries[0].proof_verified);
    // The same from a later read (proof against a newer checkpoint, fresh SET).
    let later: Value = get(format!("/api/v1/log/entries/{id_a}"))
        .await
        .json()
        .await
        .unwrap();
    let mut b = message_bundle.clone();
    b["verificationMaterial"]["tlogEntries"][0] = tlog_entry(&later, "hashedrekord", "0.0.1");
    verifier
        .verify_json(
            &serde_json::to_vec(&b).unwrap(),
            Artifact::Bytes(artifact),
            &policy(&key_a),
        )
        .unwrap();
    // A tampered SET is refused.
    let mut b = message_bundle.clone();
    b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"] =
        json!(b64_encode(&[0u8; 64]));
    assert!(
        verifier
            .verify_json(
                &serde_json::to_vec(&b).unwrap(),
                Artifact::Bytes(artifact),
                &policy(&key_a),
            )
            .is_err()
    );
    // DSSE (one of the two logged signatures) and intoto entries.
    for (entry, kind, version, payload, sig, key, art) in [
        (
            &entry_d,
            "dsse",
            "0.0.1",
            &payload_d,
            &sigs_d[1],
            &key_b,
            &artifact_d[..],
        ),
        (
            &entry_i,
            "intoto",
            "0.0.2",
            &payload_i,
            &sig_i,
            &key_i,
            &artifact_i[..],
        ),
    ] {
        let bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": [tlog_entry(entry, kind, version)]},
            "dsseEnvelope": {"payload": b64_encode(payload), "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"sig": b64_encode(sig)}]}
        });
        verifier
            .verify_json(
                &serde_json::to_vec(&bundle).unwrap(),
                Artifact::Bytes(art),
                &policy(key),
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekor_v1_api_ed25519_log() {
    exercise(KeyAlgorithm::Ed25519).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekor_v1_api_p256_log() {
    exercise(KeyAlgorithm::EcdsaP256).await;
}
