//! Crash test: under concurrent submission, `kill -9` the log server at random moments, 20
//! times, restarting it on the same data directory. After every restart:
//! - every acknowledged entry (HTTP 201) is in the log at the index it was given, with the
//!   same body (read back from the entry bundle tiles);
//! - the level-0 hash tiles rebuild the root of the served, signed checkpoint, and every
//!   entry bundle agrees with its leaf hash;
//! - a consistency proof, computed from the hash tiles, verifies from every checkpoint ever
//!   returned (in 201 responses or by `/checkpoint`) to the latest.
//!
//! The kill moments come from a seeded PRNG (`VOUCH_CRASH_SEED` overrides the seed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use common::{Server, get, start, tail};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vouch_core::encoding::{b64_decode, b64_encode};
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::merkle::{self, Hash, ProofError};
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::tiles::{self, NodeSource, TileId, tiles_for_size};

const ORIGIN: &str = "log.vouch.test/crash";
const KILLS: usize = 20;
const CLIENTS: usize = 16;

/// splitmix64: a tiny deterministic PRNG.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// One acknowledged submission.
struct Ack {
    index: u64,
    body: Vec<u8>,
    checkpoint: String,
}

#[derive(Default)]
struct Shared {
    acks: Mutex<Vec<Ack>>,
    failed: AtomicU64,
}

fn parse_cp(note: &str, v: &NoteVerifier) -> (u64, Hash) {
    let n = SignedNote::parse(note).unwrap_or_else(|e| panic!("bad checkpoint {note:?}: {e}"));
    n.verify(v)
        .unwrap_or_else(|e| panic!("checkpoint signature: {e}: {note}"));
    let cp = Checkpoint::parse(&n.text).unwrap();
    assert_eq!(cp.origin, ORIGIN);
    (cp.size, cp.root_hash)
}

/// Submit distinct entries to `url` until `stop`; record every 201.
async fn submitter(
    http: reqwest::Client,
    url: String,
    round: usize,
    client: usize,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = b64_encode(key.public_key().as_der().unwrap().as_ref());
    let rng = SystemRandom::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let artifact = format!("crash round {round} client {client} entry {n}");
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
fn check(
    server: &Server,
    v: &NoteVerifier,
    acks: &[Ack],
    history: &mut BTreeMap<u64, Hash>,
    parsed: &mut HashMap<String, (u64, Hash)>,
) -> u64 {
    let url = &server.url;
    let note = String::from_utf8(get(url, "/checkpoint")).unwrap();
    let (size, root) = parse_cp(&note, v);

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
            .or_insert_with(|| parse_cp(&a.checkpoint, v));
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

#[test]
fn kill_9_under_load_loses_nothing() {
    let seed: u64 = std::env::var("VOUCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    eprintln!("crash test seed {seed} (set VOUCH_CRASH_SEED to replay)");
    let mut prng = Prng(seed);
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    let flags = ["--batch-interval", "10ms", "--max-batch", "256"];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    let mut server = start(&data, ORIGIN, &log, &flags);
    let key = PublicKey::from_pem(&server.pem).unwrap();
    let verifier = NoteVerifier::for_log_key(ORIGIN, &key).unwrap();
    let shared = Arc::new(Shared::default());
    let mut history: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut parsed = HashMap::new();
    let mut sizes = Vec::new();
    let mut kill_delays = Vec::new();

    for round in 0..KILLS {
        // Load…
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                rt.spawn(submitter(
                    http.clone(),
                    server.url.clone(),
                    round,
                    c,
                    stop.clone(),
                    shared.clone(),
                ))
            })
            .collect();
        // …then kill -9 at a random moment.
        let delay = prng.range(100, 600);
        kill_delays.push(delay);
        std::thread::sleep(Duration::from_millis(delay));
        server.child.kill().unwrap(); // SIGKILL
        let status = server.child.wait().unwrap();
        assert!(!status.success(), "server exited by itself: {status:?}");
        stop.store(true, Ordering::Relaxed);
        rt.block_on(async {
            for h in handles {
                tokio::time::timeout(Duration::from_secs(15), h)
                    .await
                    .expect("submitter did not stop")
                    .unwrap();
            }
        });
        drop(server);

        // Restart on the same directory and check everything acknowledged so far.
        server = start(&data, ORIGIN, &log, &flags);
        let acks = shared.acks.lock().unwrap();
        let size = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check(&server, &verifier, &acks, &mut history, &mut parsed)
        }))
        .unwrap_or_else(|e| {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "after kill {} (seed {seed}): {msg}\nserver log:\n{}",
                round + 1,
                tail(Path::new(&log))
            )
        });
        eprintln!(
            "kill {:2} after {delay:3} ms: {} acknowledged so far, log size {size}",
            round + 1,
            acks.len()
        );
        sizes.push(size);
    }
    let acks = shared.acks.lock().unwrap().len();
    eprintln!(
        "crash test: {KILLS} kills and restarts, {acks} entries acknowledged, final size {}, \
         {} distinct checkpoints checked for consistency, {} submissions not acknowledged, {:.1} s",
        sizes.last().copied().unwrap_or(0),
        history.len(),
        shared.failed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    assert!(acks > 0, "no entry was ever acknowledged");
    assert!(
        sizes.windows(2).all(|w| w[0] <= w[1]),
        "log size went backwards: {sizes:?}"
    );
}
