//! The outside audit of a log under test (crash and scale-out tests): submitters that record
//! every acknowledgement, and the checks that nothing acknowledged was lost, the tiles rebuild
//! the signed root and every checkpoint seen is consistent with the latest.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::get;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::keys::HashKind;
use vouch_core::merkle::{self, Hash, ProofError};
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::tiles::{self, NodeSource, TileId, tiles_for_size};

/// One acknowledged submission.
pub struct Ack {
    pub index: u64,
    pub body: Vec<u8>,
    pub checkpoint: String,
}

#[derive(Default)]
pub struct Shared {
    pub acks: Mutex<Vec<Ack>>,
    pub failed: AtomicU64,
}

pub fn parse_cp(note: &str, v: &NoteVerifier, origin: &str) -> (u64, Hash) {
    let n = SignedNote::parse(note).unwrap_or_else(|e| panic!("bad checkpoint {note:?}: {e}"));
    n.verify(v)
        .unwrap_or_else(|e| panic!("checkpoint signature: {e}: {note}"));
    let cp = Checkpoint::parse(&n.text).unwrap();
    assert_eq!(cp.origin, origin);
    (cp.size, cp.root_hash)
}

/// Submit distinct entries to `url` until `stop`; record every 201.
pub async fn submitter(
    http: reqwest::Client,
    url: String,
    tag: String,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = b64_encode(key.public_key().as_der().unwrap().as_ref());
    let rng = SystemRandom::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let artifact = format!("{tag} entry {n}");
        let sig = key.sign(&rng, artifact.as_bytes()).unwrap();
        let req = serde_json::json!({"hashedRekordRequestV002": {
            "digest": b64_encode(&HashKind::Sha256.digest(artifact.as_bytes())),
            "signature": {"content": b64_encode(sig.as_ref()), "verifier": {
                "publicKey": {"rawBytes": spki},
                "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}});
        let res = http
            .post(format!("{url}/api/v2/log/entries"))
            .json(&req)
            .send()
            .await;
        let resp = match res {
            Ok(r) if r.status() == 201 => r,
            Ok(r) => {
                let status = r.status();
                // Only 503 (backpressure) is expected besides success.
                assert_eq!(status, 503, "{}", r.text().await.unwrap_or_default());
                shared.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(_) => {
                // The server died: not acknowledged. Back off until told to stop.
                shared.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // An acknowledgement is the complete 201 body.
        let Ok(v) = resp.json::<serde_json::Value>().await else {
            shared.failed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let index: u64 = v["logIndex"].as_str().unwrap().parse().unwrap();
        let body = b64_decode(v["canonicalizedBody"].as_str().unwrap()).unwrap();
        let checkpoint = v["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap()
            .to_string();
        shared.acks.lock().unwrap().push(Ack {
            index,
            body,
            checkpoint,
        });
    }
}

/// All tiles of one tree, fetched from the server.
struct Tiles {
    size: u64,
    tiles: HashMap<(u8, u64), Vec<Hash>>,
}

impl NodeSource for Tiles {
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        let err = ProofError::IndexOutOfRange {
            index,
            size: self.size,
        };
        let (t, first, count) =
            tiles::tile_for_node(height, index, self.size).ok_or(err.clone())?;
        let hashes = self.tiles.get(&(t.level, t.index)).ok_or(err.clone())?;
        hashes
            .get(first..first + count)
            .map(tiles::hash_run)
            .ok_or(err)
    }
}

fn parse_hashes(b: &[u8], id: &TileId) -> Vec<Hash> {
    assert_eq!(b.len(), usize::from(id.width) * 32, "{}", id.path());
    b.chunks_exact(32)
        .map(|c| <[u8; 32]>::try_from(c).unwrap())
        .collect()
}

fn parse_bundle(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
        out.push(b[2..2 + len].to_vec());
        b = &b[2 + len..];
    }
    out
}

/// The checks after a restart. Returns the served tree size.
pub fn check(
    url: &str,
    v: &NoteVerifier,
    origin: &str,
    acks: &[Ack],
    history: &mut BTreeMap<u64, Hash>,
    parsed: &mut HashMap<String, (u64, Hash)>,
) -> u64 {
    let note = String::from_utf8(get(url, "/checkpoint")).unwrap();
    let (size, root) = parse_cp(&note, v, origin);

    // Every checkpoint ever returned: same size must mean same root.
    let mut record = |s: u64, r: Hash, what: &str| {
        if let Some(old) = history.insert(s, r) {
            assert_eq!(old, r, "two roots for size {s} ({what})");
        }
    };
    record(size, root, "served");
    for a in acks {
        let (s, r) = *parsed
            .entry(a.checkpoint.clone())
            .or_insert_with(|| parse_cp(&a.checkpoint, v, origin));
        assert!(
            a.index < s,
            "ack index {} not below its checkpoint {s}",
            a.index
        );
        record(s, r, "acknowledged");
    }

    // All tiles of the served tree.
    let mut all = Tiles {
        size,
        tiles: HashMap::new(),
    };
    for level in 0u8..8 {
        for id in tiles_for_size(size, level) {
            let h = parse_hashes(&get(url, &format!("/{}", id.path())), &id);
            all.tiles.insert((level, id.index), h);
        }
    }
    let mut leaves: Vec<Hash> = Vec::with_capacity(usize::try_from(size).unwrap());
    let mut bodies: Vec<Vec<u8>> = Vec::with_capacity(leaves.capacity());
    for id in tiles_for_size(size, 0) {
        leaves.extend_from_slice(&all.tiles[&(0, id.index)]);
        let b = parse_bundle(&get(url, &format!("/{}", id.entries_path())));
        assert_eq!(b.len(), usize::from(id.width), "{}", id.entries_path());
        bodies.extend(b);
    }
    assert_eq!(leaves.len() as u64, size);
    for (i, (l, b)) in leaves.iter().zip(&bodies).enumerate() {
        assert_eq!(
            *l,
            merkle::leaf_hash(b),
            "entry {i} does not match its leaf hash"
        );
    }
    // The level-0 tiles rebuild the signed root.
    assert_eq!(
        merkle::root_of_leaves(&leaves),
        root,
        "tiles do not rebuild the root of checkpoint size {size}"
    );
    assert_eq!(tiles::tree_root(&mut all, size).unwrap(), root);

    // Every acknowledged entry is where it was acknowledged.
    let mut seen: HashMap<u64, &[u8]> = HashMap::new();
    for a in acks {
        if let Some(prev) = seen.insert(a.index, &a.body) {
            assert_eq!(
                prev,
                a.body.as_slice(),
                "index {} acknowledged twice",
                a.index
            );
        }
        assert!(
            a.index < size,
            "acknowledged index {} lost: log has {size} entries",
            a.index
        );
        assert_eq!(
            bodies[usize::try_from(a.index).unwrap()],
            a.body,
            "acknowledged entry {} changed",
            a.index
        );
    }

    // Consistency from every checkpoint ever returned to the latest.
    for (&m, old_root) in history.iter() {
        assert!(m <= size, "log shrank from {m} to {size}");
        let proof = tiles::consistency_proof(&mut all, m, size).unwrap();
        merkle::verify_consistency(m, size, old_root, &root, &proof)
            .unwrap_or_else(|e| panic!("consistency {m} -> {size}: {e}"));
    }
    size
}

/// The message of a caught panic (`std::panic::catch_unwind`), empty when it is not a string.
pub fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
