//! The RFC 6962 CT personality over HTTP (RFC 6962 §4): add-chain and add-pre-chain answer SCTs
//! that verify over the x509_entry / precert_entry signed data (§3.2) with the log's key;
//! resubmission returns the original SCT; get-sth, get-proof-by-hash, get-sth-consistency and
//! get-entry-and-proof verify with vouch-core's Merkle code; get-entries reproduces the
//! `MerkleTreeLeaf` and `extra_data` bytes; get-roots lists the accepted roots; bad parameters,
//! unknown roots, poisoned certificates on add-chain and plain certificates on add-pre-chain
//! are 400 with a JSON message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_lc_rs::digest::{SHA256, digest};
use common::{Key, seq, tlv};
use serde_json::{Value, json};
use std::time::Duration;
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::keys::PublicKey;
use vouch_core::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use vouch_core::sct::{Sct, precert_tbs_der_from_precert, verify_sct};
use vouch_core::x509::Certificate;
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner};

const ORIGIN: &str = "ct.vouch.test/2026";

// --- Certificates, DER by hand -----------------------------------------------------------------

fn name(cn: &str) -> Vec<u8> {
    seq(&[tlv(
        0x31,
        &seq(&[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0c, cn.as_bytes())]),
    )])
}

/// basicConstraints (critical) cA TRUE.
fn ext_ca() -> Vec<u8> {
    seq(&[
        tlv(0x06, &[0x55, 0x1d, 0x13]),
        tlv(0x01, &[0xff]),
        tlv(0x04, &seq(&[tlv(0x01, &[0xff])])),
    ])
}

/// The CT poison extension (critical, NULL).
fn ext_poison() -> Vec<u8> {
    seq(&[
        tlv(
            0x06,
            &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03],
        ),
        tlv(0x01, &[0xff]),
        tlv(0x04, &[0x05, 0x00]),
    ])
}

/// An email SAN.
fn ext_san(email: &str) -> Vec<u8> {
    seq(&[
        tlv(0x06, &[0x55, 0x1d, 0x11]),
        tlv(0x04, &seq(&[tlv(0x81, email.as_bytes())])),
    ])
}

fn cert(
    subject: &str,
    subject_key: &Key,
    issuer: &str,
    issuer_key: &Key,
    serial: u8,
    exts: &[Vec<u8>],
) -> Vec<u8> {
    let ecdsa_sha256 = tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[0x01, serial]),
        seq(std::slice::from_ref(&ecdsa_sha256)),
        name(issuer),
        seq(&[tlv(0x17, b"200101000000Z"), tlv(0x17, b"491231235959Z")]),
        name(subject),
        subject_key.spki(),
        tlv(0xa3, &seq(exts)),
    ]);
    let sig = issuer_key.sign(&tbs);
    seq(&[
        tbs,
        seq(&[ecdsa_sha256]),
        tlv(0x03, &[&[0u8][..], &sig].concat()),
    ])
}

struct Pki {
    root: Vec<u8>,
    int: Vec<u8>,
    int_key: Key,
}

fn pki() -> Pki {
    let root_key = Key::p256();
    let int_key = Key::p256();
    let root = cert(
        "ct test root",
        &root_key,
        "ct test root",
        &root_key,
        1,
        &[ext_ca()],
    );
    let int = cert(
        "ct test int",
        &int_key,
        "ct test root",
        &root_key,
        2,
        &[ext_ca()],
    );
    Pki { root, int, int_key }
}

fn leaf(p: &Pki, serial: u8, email: &str, poison: bool) -> Vec<u8> {
    let mut exts = vec![ext_san(email)];
    if poison {
        exts.push(ext_poison());
    }
    cert("", &Key::p256(), "ct test int", &p.int_key, serial, &exts)
}

// --- RFC 6962 encodings, written independently of the server -----------------------------------

fn u24(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(data);
}

/// `MerkleTreeLeaf` of an x509_entry; for v1 also the SCT's signed data.
fn x509_leaf(timestamp: u64, cert: &[u8]) -> Vec<u8> {
    let mut m = vec![0, 0];
    m.extend_from_slice(&timestamp.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    u24(&mut m, cert);
    m.extend_from_slice(&0u16.to_be_bytes());
    m
}

/// The SCT signed data of an x509_entry (RFC 6962 §3.2 `digitally-signed struct`).
fn x509_signed_data(sct: &Sct, cert: &[u8]) -> Vec<u8> {
    let mut m = vec![0, 0]; // sct_version v1, signature_type certificate_timestamp
    m.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes()); // x509_entry
    u24(&mut m, cert);
    m.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    m.extend_from_slice(&sct.extensions);
    m
}

fn cert_chain(certs: &[&[u8]]) -> Vec<u8> {
    let mut inner = Vec::new();
    for c in certs {
        u24(&mut inner, c);
    }
    let mut out = Vec::new();
    u24(&mut out, &inner);
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    digest(&SHA256, data).as_ref().try_into().unwrap()
}

/// Parse an add-(pre-)chain answer into an [`Sct`], checking its shape.
fn sct_of(v: &Value, log_id: &[u8; 32]) -> Sct {
    assert_eq!(v["sct_version"], 0, "{v}");
    assert_eq!(b64_decode(v["id"].as_str().unwrap()).unwrap(), log_id);
    assert_eq!(v["extensions"], "");
    let ds = b64_decode(v["signature"].as_str().unwrap()).unwrap();
    assert_eq!(&ds[..2], &[4, 3], "DigitallySigned ECDSA/SHA-256");
    assert_eq!(
        usize::from(u16::from_be_bytes([ds[2], ds[3]])),
        ds.len() - 4
    );
    Sct {
        log_id: *log_id,
        timestamp_ms: v["timestamp"].as_u64().unwrap(),
        extensions: Vec::new(),
        hash_alg: 4,
        sig_alg: 3,
        signature: ds[4..].to_vec(),
    }
}

// --- Server --------------------------------------------------------------------------------------

async fn start(dir: &std::path::Path, roots: Vec<Vec<u8>>) -> (String, Log<EmbeddedStorage>) {
    let storage = EmbeddedStorage::open(dir).unwrap();
    let signer = LogSigner::load_or_generate(dir, ORIGIN, KeyAlgorithm::EcdsaP256).unwrap();
    let cfg = LogConfig {
        origin: ORIGIN.into(),
        batch_interval: Duration::from_millis(10),
        ..LogConfig::default()
    };
    let log = Log::open(storage, signer, cfg).unwrap();
    let app = vouch_log::ct::router(log.clone(), roots).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), log)
}

struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    async fn post(&self, path: &str, chain: &[&[u8]]) -> (u16, Value) {
        let body = json!({"chain": chain.iter().map(|c| b64_encode(c)).collect::<Vec<_>>()});
        let r = self
            .http
            .post(format!("{}/ct/v1/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
    async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/ct/v1/{path_and_query}", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path_and_query}: not JSON ({e}): {text}"));
        (status, v)
    }
    async fn ok(&self, path_and_query: &str) -> Value {
        let (s, v) = self.get(path_and_query).await;
        assert_eq!(s, 200, "{path_and_query}: {v}");
        v
    }
    async fn bad(&self, path_and_query: &str, status: u16) {
        let (s, v) = self.get(path_and_query).await;
        assert_eq!(s, status, "{path_and_query}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path_and_query}: {v}"
        );
    }
}

struct Sth {
    size: u64,
    root: Hash,
}

/// get-sth, its `TreeHeadSignature` verified with the log key.
async fn sth(c: &Client, key: &PublicKey) -> Sth {
    let v = c.ok("get-sth").await;
    let size = v["tree_size"].as_u64().unwrap();
    let root: Hash = b64_decode(v["sha256_root_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let mut m = vec![0, 1];
    m.extend_from_slice(&v["timestamp"].as_u64().unwrap().to_be_bytes());
    m.extend_from_slice(&size.to_be_bytes());
    m.extend_from_slice(&root);
    let ds = b64_decode(v["tree_head_signature"].as_str().unwrap()).unwrap();
    key.verify(&m, &ds[4..]).unwrap();
    Sth { size, root }
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| b64_decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect()
}

async fn wait_for_size(log: &Log<EmbeddedStorage>, size: u64) {
    for _ in 0..200 {
        if log.checkpoint().size >= size {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("log did not reach size {size}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ct_log_rfc6962_api() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let (url, log) = start(dir.path(), vec![p.root.clone()]).await;
    let c = Client {
        http: reqwest::Client::new(),
        url,
    };
    let log_key = PublicKey::from_spki_der(log.signer().spki_der()).unwrap();
    let log_id = sha256(log.signer().spki_der());

    // Empty log: a signed STH of size 0; get-entries has nothing to give.
    let s0 = sth(&c, &log_key).await;
    assert_eq!(s0.size, 0);
    c.bad("get-entries?start=0&end=0", 400).await;

    // add-chain [leaf, intermediate, root] → an x509_entry SCT that verifies.
    let leaf1 = leaf(&p, 10, "one@example.com", false);
    let (s, v) = c.post("add-chain", &[&leaf1, &p.int, &p.root]).await;
    assert_eq!(s, 200, "{v}");
    let sct1 = sct_of(&v, &log_id);
    log_key
        .verify(&x509_signed_data(&sct1, &leaf1), &sct1.signature)
        .unwrap();
    // Not over any other certificate.
    let mut other = sct1.clone();
    other.timestamp_ms += 1;
    assert!(
        log_key
            .verify(&x509_signed_data(&other, &leaf1), &other.signature)
            .is_err()
    );
    let s1 = sth(&c, &log_key).await;
    assert_eq!(s1.size, 1);
    let mtl1 = x509_leaf(sct1.timestamp_ms, &leaf1);
    assert_eq!(
        s1.root,
        leaf_hash(&mtl1),
        "a one-leaf tree's root is the leaf hash"
    );

    // Resubmitting the same chain: the original SCT (same timestamp, verifies), no new entry.
    let (s, v) = c.post("add-chain", &[&leaf1, &p.int, &p.root]).await;
    assert_eq!(s, 200, "{v}");
    let again = sct_of(&v, &log_id);
    assert_eq!(again.timestamp_ms, sct1.timestamp_ms);
    log_key
        .verify(&x509_signed_data(&again, &leaf1), &again.signature)
        .unwrap();
    // Without the root (it chains to one): still the same certificate, the same SCT.
    let (s, v) = c.post("add-chain", &[&leaf1, &p.int]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(sct_of(&v, &log_id).timestamp_ms, sct1.timestamp_ms);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.checkpoint().size, 1);

    // A second certificate, submitted without the root: the log completes the chain.
    let leaf2 = leaf(&p, 11, "two@example.com", false);
    let (s, v) = c.post("add-chain", &[&leaf2, &p.int]).await;
    assert_eq!(s, 200, "{v}");
    let sct2 = sct_of(&v, &log_id);
    log_key
        .verify(&x509_signed_data(&sct2, &leaf2), &sct2.signature)
        .unwrap();

    // A precertificate through add-pre-chain: precert_entry SCT, checked with vouch-core.
    let pre = leaf(&p, 12, "three@example.com", true);
    let (s, v) = c.post("add-pre-chain", &[&pre, &p.int, &p.root]).await;
    assert_eq!(s, 200, "{v}");
    let sct3 = sct_of(&v, &log_id);
    let pre_cert = Certificate::from_der(&pre).unwrap();
    let tbs = precert_tbs_der_from_precert(&pre_cert).unwrap();
    let int_cert = Certificate::from_der(&p.int).unwrap();
    let ikh = sha256(&int_cert.spki_der().unwrap());
    verify_sct(&sct3, &log_key, &ikh, &tbs).unwrap();
    wait_for_size(&log, 3).await;
    let s3 = sth(&c, &log_key).await;
    assert_eq!(s3.size, 3);

    // get-entries: leaf_input is the MerkleTreeLeaf, extra_data per entry type.
    let v = c.ok("get-entries?start=0&end=99").await;
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "end is clamped to the tree");
    let input = |i: usize| b64_decode(entries[i]["leaf_input"].as_str().unwrap()).unwrap();
    let extra = |i: usize| b64_decode(entries[i]["extra_data"].as_str().unwrap()).unwrap();
    assert_eq!(input(0), mtl1);
    assert_eq!(extra(0), cert_chain(&[&p.int, &p.root]));
    assert_eq!(input(1), x509_leaf(sct2.timestamp_ms, &leaf2));
    assert_eq!(extra(1), cert_chain(&[&p.int, &p.root]));
    let mut mtl3 = vec![0, 0];
    mtl3.extend_from_slice(&sct3.timestamp_ms.to_be_bytes());
    mtl3.extend_from_slice(&1u16.to_be_bytes());
    mtl3.extend_from_slice(&ikh);
    u24(&mut mtl3, &tbs);
    mtl3.extend_from_slice(&0u16.to_be_bytes());
    assert_eq!(input(2), mtl3);
    let mut pce = Vec::new();
    u24(&mut pce, &pre);
    pce.extend(cert_chain(&[&p.int, &p.root]));
    assert_eq!(extra(2), pce, "PrecertChainEntry");
    // The leaf hashes of get-entries make the STH root.
    let leaves: Vec<Hash> = (0..3).map(|i| leaf_hash(&input(i))).collect();
    assert_eq!(vouch_core::merkle::root_of_leaves(&leaves), s3.root);
    let v = c.ok("get-entries?start=1&end=1").await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
    assert_eq!(v["entries"][0]["leaf_input"], entries[1]["leaf_input"]);

    // get-proof-by-hash against the STH root.
    for (i, leaf) in leaves.iter().enumerate() {
        let q = url_b64(leaf);
        let v = c
            .ok(&format!("get-proof-by-hash?hash={q}&tree_size=3"))
            .await;
        assert_eq!(v["leaf_index"], i as u64);
        verify_inclusion(i as u64, 3, leaf, &hashes(&v["audit_path"]), &s3.root).unwrap();
    }
    // Against an older tree too, and not for a leaf that tree does not hold.
    let v = c
        .ok(&format!(
            "get-proof-by-hash?hash={}&tree_size=1",
            url_b64(&leaves[0])
        ))
        .await;
    verify_inclusion(0, 1, &leaves[0], &hashes(&v["audit_path"]), &s1.root).unwrap();
    c.bad(
        &format!("get-proof-by-hash?hash={}&tree_size=1", url_b64(&leaves[2])),
        404,
    )
    .await;

    // get-sth-consistency between the two STHs (and the trivial cases).
    let v = c.ok("get-sth-consistency?first=1&second=3").await;
    verify_consistency(1, 3, &s1.root, &s3.root, &hashes(&v["consistency"])).unwrap();
    let root2 = vouch_core::merkle::root_of_leaves(&leaves[..2]);
    let v = c.ok("get-sth-consistency?first=2&second=3").await;
    verify_consistency(2, 3, &root2, &s3.root, &hashes(&v["consistency"])).unwrap();
    let v = c.ok("get-sth-consistency?first=3&second=3").await;
    assert_eq!(v["consistency"], json!([]));
    let v = c.ok("get-sth-consistency?first=0&second=3").await;
    assert_eq!(v["consistency"], json!([]));

    // get-entry-and-proof.
    let v = c.ok("get-entry-and-proof?leaf_index=1&tree_size=3").await;
    assert_eq!(v["leaf_input"], entries[1]["leaf_input"]);
    assert_eq!(v["extra_data"], entries[1]["extra_data"]);
    verify_inclusion(1, 3, &leaves[1], &hashes(&v["audit_path"]), &s3.root).unwrap();

    // get-roots.
    let v = c.ok("get-roots").await;
    assert_eq!(v, json!({"certificates": [b64_encode(&p.root)]}));

    // Bad parameters: 400 with a JSON message; an unknown hash: 404.
    for q in [
        "get-entries",
        "get-entries?start=0",
        "get-entries?start=x&end=1",
        "get-entries?start=-1&end=1",
        "get-entries?start=2&end=1",
        "get-entries?start=3&end=5",
        "get-entries?start=18446744073709551615&end=18446744073709551615",
        "get-entries?start=99999999999999999999&end=1",
        "get-sth-consistency?first=3&second=2",
        "get-sth-consistency?first=1&second=4",
        "get-sth-consistency?first=1",
        "get-sth-consistency?first=a&second=2",
        "get-proof-by-hash?hash=%%%&tree_size=3",
        "get-proof-by-hash?hash=AAAA&tree_size=3",
        "get-proof-by-hash?tree_size=3",
        &format!("get-proof-by-hash?hash={}&tree_size=0", url_b64(&leaves[0])),
        &format!("get-proof-by-hash?hash={}&tree_size=4", url_b64(&leaves[0])),
        &format!("get-proof-by-hash?hash={}", url_b64(&leaves[0])),
        "get-entry-and-proof?leaf_index=3&tree_size=3",
        "get-entry-and-proof?leaf_index=0&tree_size=0",
        "get-entry-and-proof?leaf_index=0&tree_size=4",
        "get-entry-and-proof?leaf_index=0",
    ] {
        c.bad(q, 400).await;
    }
    c.bad(
        &format!("get-proof-by-hash?hash={}&tree_size=3", url_b64(&[7; 32])),
        404,
    )
    .await;

    // Rejected submissions: 400 with a message, nothing logged.
    let foreign = pki();
    let foreign_leaf = leaf(&foreign, 20, "x@example.com", false);
    let poisoned = leaf(&p, 21, "p@example.com", true);
    let plain = leaf(&p, 22, "q@example.com", false);
    let cases: Vec<(&str, Vec<&[u8]>, &str)> = vec![
        (
            "add-chain",
            vec![&foreign_leaf, &foreign.int, &foreign.root],
            "root",
        ),
        ("add-chain", vec![&foreign_leaf, &foreign.int], "root"),
        ("add-chain", vec![&poisoned, &p.int, &p.root], "poison"),
        ("add-chain", vec![&plain, &foreign.int, &p.root], "signed"),
        ("add-chain", vec![&plain, &plain, &p.root], "CA"),
        ("add-chain", vec![], "empty"),
        ("add-chain", vec![b"junk"], "certificate"),
        (
            "add-pre-chain",
            vec![&plain, &p.int, &p.root],
            "precertificate",
        ),
        (
            "add-pre-chain",
            vec![&poisoned, &foreign.int, &foreign.root],
            "",
        ),
    ];
    for (path, chain, needle) in cases {
        let (s, v) = c.post(path, &chain).await;
        assert_eq!(s, 400, "{path} {needle}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(
            m.contains(needle),
            "{path}: {m:?} should mention {needle:?}"
        );
    }
    for body in ["", "{", "{\"chain\": \"x\"}", "{\"chain\": [\"@@\"]}"] {
        let r = c
            .http
            .post(format!("{}/ct/v1/add-chain", c.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body:?}");
        let v: Value = r.json().await.unwrap();
        assert!(v["message"].is_string());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.checkpoint().size, 3);
}

/// Base64 of a hash, percent-encoded for a query string.
fn url_b64(h: &[u8]) -> String {
    b64_encode(h)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_entries_pages_and_concurrent_duplicates() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let n = 300u64;
    let (url, log) = start(dir.path(), vec![p.root.clone()]).await;
    let c = Client {
        http: reqwest::Client::new(),
        url,
    };
    // Concurrent submissions, batched by the sequencer; 20 duplicates among them.
    let leaves: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            cert(
                "",
                &Key::p256(),
                "ct test int",
                &p.int_key,
                (i % 250) as u8,
                &[ext_san(&format!("u{i}@example.com"))],
            )
        })
        .collect();
    let mut tasks = Vec::new();
    for l in leaves.iter().chain(leaves.iter().take(20)) {
        let (http, url, l, int) = (c.http.clone(), c.url.clone(), l.clone(), p.int.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"chain": [b64_encode(&l), b64_encode(&int)]});
            let r = http
                .post(format!("{url}/ct/v1/add-chain"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            (l, v["timestamp"].as_u64().unwrap())
        }));
    }
    let mut ts = std::collections::HashMap::new();
    for t in tasks {
        let (l, t) = t.await.unwrap();
        if let Some(prev) = ts.insert(l, t) {
            assert_eq!(prev, t, "a duplicate got a different SCT timestamp");
        }
    }
    wait_for_size(&log, n).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.checkpoint().size, n, "duplicates were not logged twice");
    // Pages: at most 256 per answer; the client continues from where it stopped.
    let mut got = Vec::new();
    while (got.len() as u64) < n {
        let v = c
            .ok(&format!("get-entries?start={}&end={}", got.len(), n + 50))
            .await;
        let page = v["entries"].as_array().unwrap();
        assert!(!page.is_empty() && page.len() <= 256);
        got.extend(page.iter().cloned());
    }
    assert_eq!(got.len() as u64, n);
    for e in &got {
        let mtl = b64_decode(e["leaf_input"].as_str().unwrap()).unwrap();
        let cert_len = u32::from_be_bytes([0, mtl[12], mtl[13], mtl[14]]) as usize;
        let der = &mtl[15..15 + cert_len];
        assert_eq!(mtl, x509_leaf(ts[der], der));
        assert_eq!(
            b64_decode(e["extra_data"].as_str().unwrap()).unwrap(),
            cert_chain(&[&p.int, &p.root])
        );
    }
}
