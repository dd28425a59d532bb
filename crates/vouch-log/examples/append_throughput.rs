//! In-process append throughput of the log engine (no HTTP): pre-signs N hashedrekord v0.0.2
//! requests, then submits them from C concurrent tasks (each submission verifies its signature
//! and waits until its batch is durable). Prints latency percentiles and `appends_per_sec=<n>`.
//!
//! `cargo run --release -p vouch-log --example append_throughput -- [N] [CLIENTS] [BATCH_MS] [MAX_BATCH]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vouch_core::encoding::Base64Bytes;
use vouch_core::keys::HashKind;
use vouch_log::entries::{
    CreateEntryRequest, HashedRekordRequestV002, RawBytes, SignatureV002, VerifierV002, prepare_v2,
};
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(20_000, |s| s.parse().unwrap());
    let clients: usize = args.get(2).map_or(256, |s| s.parse().unwrap());
    let batch_ms: u64 = args.get(3).map_or(50, |s| s.parse().unwrap());
    let max_batch: usize = args.get(4).map_or(4096, |s| s.parse().unwrap());

    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = key.public_key().as_der().unwrap().as_ref().to_vec();
    eprintln!("signing {n} entries…");
    let reqs: Vec<CreateEntryRequest> = (0..n)
        .map(|i| {
            let artifact = format!("artifact {i} {}", rand_suffix());
            let sig = key.sign(&SystemRandom::new(), artifact.as_bytes()).unwrap();
            CreateEntryRequest {
                hashed_rekord_request_v002: Some(HashedRekordRequestV002 {
                    digest: Base64Bytes(HashKind::Sha256.digest(artifact.as_bytes())),
                    signature: SignatureV002 {
                        content: Base64Bytes(sig.as_ref().to_vec()),
                        verifier: VerifierV002 {
                            public_key: Some(RawBytes {
                                raw_bytes: Base64Bytes(spki.clone()),
                            }),
                            x509_certificate: None,
                            key_details: "PKIX_ECDSA_P256_SHA_256".into(),
                        },
                    },
                }),
                dsse_request_v002: None,
            }
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let storage = EmbeddedStorage::open(dir.path()).unwrap();
    let signer =
        LogSigner::load_or_generate(dir.path(), "bench.vouch.test", KeyAlgorithm::Ed25519).unwrap();
    let log = Log::open(
        storage,
        signer,
        LogConfig {
            origin: "bench.vouch.test".into(),
            batch_interval: Duration::from_millis(batch_ms),
            max_batch,
            max_pending: 1 << 20,
        },
    )
    .unwrap();
    let reqs = Arc::new(reqs);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (reqs, next, log) = (reqs.clone(), next.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(r) = reqs.get(i) else { break };
                let t = Instant::now();
                let e = prepare_v2(r).unwrap();
                log.submit(e).await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!(
        "entries={} clients={clients} batch_ms={batch_ms} max_batch={max_batch}",
        lat.len()
    );
    println!(
        "latency_ms p50={:.1} p90={:.1} p99={:.1}",
        p(0.5),
        p(0.9),
        p(0.99)
    );
    println!("appends_per_sec={:.0}", lat.len() as f64 / secs);
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}
