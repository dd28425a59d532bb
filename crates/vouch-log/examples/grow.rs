//! Grows a log to N entries through the engine (each entry signed, verified, sequenced and made
//! durable), printing the append rate of every decade (10³, 10⁴, …) so a run shows whether the
//! per-entry cost stays flat as the tree grows. Signing happens on the fly in the client tasks, so
//! rates include client-side signing on the same cores.
//!
//! `cargo run --release -p vouch-log --example grow -- N [CLIENTS] [DATA_DIR]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    let n: u64 = args.get(1).map_or(1_000_000, |s| s.parse().unwrap());
    let clients: usize = args.get(2).map_or(4096, |s| s.parse().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let dir = args
        .get(3)
        .map_or(tmp.path().to_path_buf(), std::path::PathBuf::from);
    let storage = EmbeddedStorage::open(&dir).unwrap();
    let signer =
        LogSigner::load_or_generate(&dir, "grow.vouch.test", KeyAlgorithm::Ed25519).unwrap();
    let log = Log::open(
        storage,
        signer,
        LogConfig {
            origin: "grow.vouch.test".into(),
            batch_interval: Duration::from_millis(250),
            max_batch: 4096,
            max_pending: 1 << 20,
        },
    )
    .unwrap();
    let key = Arc::new(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap());
    let spki = key.public_key().as_der().unwrap().as_ref().to_vec();
    let start_size = log.checkpoint().size;
    let done = Arc::new(AtomicU64::new(start_size));
    let issued = Arc::new(AtomicU64::new(start_size));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (log, key, spki, issued, done) = (
            log.clone(),
            key.clone(),
            spki.clone(),
            issued.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = issued.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let artifact = format!("grow entry {i}");
                let sig = key.sign(&SystemRandom::new(), artifact.as_bytes()).unwrap();
                let req = CreateEntryRequest {
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
                };
                let e = prepare_v2(&req).unwrap();
                log.submit(e).await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Report each decade.
    let mut next_mark = 1000u64;
    while next_mark <= start_size {
        next_mark *= 10;
    }
    let (mut mark_t, mut mark_n) = (Instant::now(), start_size);
    let t0 = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let d = done.load(Ordering::Relaxed);
        if d >= next_mark.min(n) {
            let rate = (d - mark_n) as f64 / mark_t.elapsed().as_secs_f64();
            println!(
                "size={d} decade_appends_per_sec={rate:.0} elapsed_s={:.0}",
                t0.elapsed().as_secs_f64()
            );
            mark_t = Instant::now();
            mark_n = d;
            next_mark *= 10;
        }
        if d >= n {
            break;
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cp = log.checkpoint();
    println!("final size={} root={}", cp.size, hex::encode(cp.root));
}
