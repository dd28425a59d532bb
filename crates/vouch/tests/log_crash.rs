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

use common::audit::{Shared, check, submitter};
use common::{start, tail};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vouch_core::keys::PublicKey;
use vouch_core::merkle::Hash;
use vouch_core::note::NoteVerifier;

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
                    format!("crash round {round} client {c}"),
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
            check(
                &server.url,
                &verifier,
                ORIGIN,
                &acks,
                &mut history,
                &mut parsed,
            )
        }))
        .unwrap_or_else(|e| {
            let msg = common::audit::panic_message(&*e);
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
