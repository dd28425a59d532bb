//! The log end to end over HTTP on loopback: Rekor v2 submissions, tlog-tiles reads, proofs
//! checked with vouch-core, entries verified by vouch-verify from a trusted root naming the log,
//! dedup, malformed input, restart from disk.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Key;
use serde_json::{Value, json};
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::merkle;
use vouch_core::note::{Checkpoint, SignedNote};
use vouch_core::tiles::{TileId, tiles_for_size};
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, api};
use vouch_verify::{Artifact, PolicyBuilder};

const ORIGIN: &str = "log.vouch.test/2026";

async fn start(
    dir: &std::path::Path,
) -> (String, Log<EmbeddedStorage>, tokio::task::JoinHandle<()>) {
    common::start_api(dir, ORIGIN, KeyAlgorithm::Ed25519).await
}

struct Signer(Key);

impl Signer {
    fn new() -> Self {
        Self(Key::p256())
    }
    fn spki(&self) -> Vec<u8> {
        self.0.spki()
    }
    fn request(&self, artifact: &[u8]) -> (Value, Vec<u8>) {
        let sig = self.0.sign(artifact);
        let req = json!({"hashedRekordRequestV002": {
            "digest": b64_encode(&HashKind::Sha256.digest(artifact)),
            "signature": {"content": b64_encode(&sig), "verifier": {
                "publicKey": {"rawBytes": b64_encode(&self.spki())},
                "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}});
        (req, sig)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_read_verify_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (url, log, server) = start(dir.path()).await;
    let http = reqwest::Client::new();
    let signer = Signer::new();

    // Concurrent submissions, enough to fill a tile and start the next.
    let mut tasks = Vec::new();
    for i in 0..300u32 {
        let (req, sig) = signer.request(format!("artifact {i}").as_bytes());
        let http = http.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{url}/api/v2/log/entries"))
                .json(&req)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
            (i, sig, r.json::<Value>().await.unwrap())
        }));
    }
    let mut responses = Vec::new();
    for t in tasks {
        responses.push(t.await.unwrap());
    }
    let verifier = common::verifier_for(&log, ORIGIN);
    let policy = PolicyBuilder::new()
        .key(PublicKey::from_spki_der(&signer.spki()).unwrap())
        .build()
        .unwrap();
    let mut indexes = std::collections::HashSet::new();
    for (i, sig, tle) in &responses {
        // Every response's proof verifies against its checkpoint, signed by the log.
        let index: u64 = tle["logIndex"].as_str().unwrap().parse().unwrap();
        assert!(indexes.insert(index));
        let proof = &tle["inclusionProof"];
        assert!(proof["hashes"].is_array());
        let note = SignedNote::parse(proof["checkpoint"]["envelope"].as_str().unwrap()).unwrap();
        note.verify(log.signer().verifier()).unwrap();
        let cp = Checkpoint::parse(&note.text).unwrap();
        let body = b64_decode(tle["canonicalizedBody"].as_str().unwrap()).unwrap();
        let hashes: Vec<Vec<u8>> = proof["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| b64_decode(h.as_str().unwrap()).unwrap())
            .collect();
        merkle::verify_inclusion(
            index,
            cp.size,
            &merkle::leaf_hash(&body),
            &hashes,
            &cp.root_hash,
        )
        .unwrap();
        // The response drops straight into a bundle that vouch-verify accepts.
        let artifact = format!("artifact {i}");
        let bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": [tle]},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": b64_encode(&HashKind::Sha256.digest(artifact.as_bytes()))}, "signature": b64_encode(sig)}
        });
        verifier
            .verify_json(
                &serde_json::to_vec(&bundle).unwrap(),
                Artifact::Bytes(artifact.as_bytes()),
                &policy,
            )
            .unwrap();
    }
    assert_eq!(indexes.len(), 300);

    // Duplicate (the same canonical entry again): 409 with the existing index.
    let (req, _) = signer.request(b"once");
    let r = http
        .post(format!("{url}/api/v2/log/entries"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    let r = http
        .post(format!("{url}/api/v2/log/entries"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.headers()["x-log-index"].to_str().unwrap(),
        first["logIndex"].as_str().unwrap()
    );
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], 6);

    // Ed25519 keys are accepted as Ed25519ph (PKIX_ED25519_PH, SHA-512 digest), pure Ed25519 is not.
    {
        use ed25519_dalek::ed25519::signature::digest::Digest;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let mut spki = hex::decode("302a300506032b6570032100").unwrap();
        spki.extend_from_slice(sk.verifying_key().as_bytes());
        let sig = sk
            .sign_prehashed(sha2::Sha512::new().chain_update(b"ed"), None)
            .unwrap()
            .to_bytes();
        let mut req = json!({"hashedRekordRequestV002": {
            "digest": b64_encode(&HashKind::Sha512.digest(b"ed")),
            "signature": {"content": b64_encode(&sig), "verifier": {
                "publicKey": {"rawBytes": b64_encode(&spki)}, "keyDetails": "PKIX_ED25519_PH"}}}});
        let r = http
            .post(format!("{url}/api/v2/log/entries"))
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        req["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] =
            json!("PKIX_ED25519");
        let r = http
            .post(format!("{url}/api/v2/log/entries"))
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }

    // Malformed input gets 4xx with a JSON message, never a 500.
    for (body, want) in [
        ("not json", 400),
        (r#"{"dsseRequestV002":{}}"#, 400),
        (r#"{"hashedRekordRequestV002":{}}"#, 400),
        (
            r#"{"hashedRekordRequestV002":{"digest":"AAAA","signature":{"content":"AAAA","verifier":{"publicKey":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}"#,
            400,
        ),
    ] {
        let r = http
            .post(format!("{url}/api/v2/log/entries"))
            .body(body)
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{body}");
        let e: Value = r.json().await.unwrap();
        assert!(e["message"].as_str().is_some());
    }
    let (mut req, _) = signer.request(b"tampered");
    req["hashedRekordRequestV002"]["digest"] =
        json!(b64_encode(&HashKind::Sha256.digest(b"other")));
    let r = http
        .post(format!("{url}/api/v2/log/entries"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = "x".repeat(api::MAX_REQUEST_BYTES + 1);
    let r = http
        .post(format!("{url}/api/v2/log/entries"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // The tiles API reproduces the signed root.
    let cp_text = http
        .get(format!("{url}/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let note = SignedNote::parse(&cp_text).unwrap();
    note.verify(log.signer().verifier()).unwrap();
    let cp = Checkpoint::parse(&note.text).unwrap();
    assert_eq!(cp.size, 302);
    let mut leaves = Vec::new();
    for t in tiles_for_size(cp.size, 0) {
        let r = http
            .get(format!("{url}/{}", t.path()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", t.path());
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let b = r.bytes().await.unwrap();
        assert_eq!(b.len(), usize::from(t.width) * 32);
        for c in b.chunks(32) {
            leaves.push(<[u8; 32]>::try_from(c).unwrap());
        }
        let e = http
            .get(format!("{url}/api/v2/{}", t.entries_path()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut rest = &e[..];
        let mut n = 0;
        while !rest.is_empty() {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let leaf = merkle::leaf_hash(&rest[2..2 + len]);
            assert_eq!(leaf, leaves[(t.index * 256) as usize + n]);
            rest = &rest[2 + len..];
            n += 1;
        }
        assert_eq!(n, usize::from(t.width));
    }
    assert_eq!(merkle::root_of_leaves(&leaves), cp.root_hash);
    // Beyond the checkpoint: 404. Bad paths: 404.
    let beyond = TileId {
        level: 0,
        index: 5,
        width: 256,
    };
    assert_eq!(
        http.get(format!("{url}/{}", beyond.path()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        http.get(format!("{url}/tile/0/0001"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // A smaller partial tile than the current one is served as a prefix.
    let r = http
        .get(format!("{url}/tile/0/001.p/3"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 96);

    // An independent reader (Python stdlib, written from the specs) agrees.
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/tlog_check.py");
    match std::process::Command::new("python3")
        .arg(&script)
        .arg(&url)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "tlog_check.py: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            println!("{}", String::from_utf8_lossy(&out.stdout).trim());
        }
        Err(e) => vouch_testkit::skip(format_args!(
            "independent reader: python3 not runnable: {e}"
        )),
    }

    // Health and metrics.
    let h: Value = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["treeSize"], 302);
    let m = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("vouch_log_entries_appended_total 302"), "{m}");
    assert!(m.contains("reason=\"duplicate\""), "{m}");

    // Consistency proofs between any two sizes verify.
    for (a, b) in [(1u64, 300u64), (255, 256), (256, 300), (17, 255)] {
        let p = log.consistency_proof(a, b).unwrap();
        merkle::verify_consistency(a, b, &log.root_at(a).unwrap(), &log.root_at(b).unwrap(), &p)
            .unwrap();
    }

    // Restart from disk: same checkpoint, keeps appending consistently.
    server.abort();
    let old = log.checkpoint();
    drop(log);
    // Close keep-alive connections: their server tasks hold the old router.
    drop(http);
    let http = reqwest::Client::new();
    let (url2, log2, _server2) = start(dir.path()).await;
    assert_eq!(log2.checkpoint(), old);
    let (req, _) = signer.request(b"after restart");
    let r: Value = http
        .post(format!("{url2}/api/v2/log/entries"))
        .json(&req)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["logIndex"], "302");
    let p = log2.consistency_proof(302, 303).unwrap();
    merkle::verify_consistency(302, 303, &old.root, &log2.root_at(303).unwrap(), &p).unwrap();
}

#[test]
fn embedded_storage_passes_the_backend_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    vouch_log::storage::suite::run(
        || {
            let d = tempfile::tempdir().unwrap();
            let s = EmbeddedStorage::open(d.path()).unwrap();
            dirs.lock().unwrap().push(d);
            s
        },
        |s| {
            // Same directory, new handle.
            let dir = dirs.lock().unwrap().last().unwrap().path().to_path_buf();
            drop(s);
            Some(EmbeddedStorage::open(&dir).unwrap())
        },
    );
}
