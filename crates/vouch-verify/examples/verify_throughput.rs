//! Single-process verification throughput.
//!
//! `cargo run --release --example verify_throughput -- TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER ITERATIONS`
//!
//! The trusted root is loaded once (its CA chains are checked then); every iteration parses the
//! bundle JSON and performs every cryptographic check the bundle requires. Prints latency
//! percentiles and, as the last line, `verifications_per_sec=<n>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;
use vouch_core::trust::TrustRoot;
use vouch_verify::{Artifact, PolicyBuilder, Verifier};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!(
            "usage: verify_throughput TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER ITERATIONS"
        );
        std::process::exit(2);
    }
    let root = std::fs::read(&args[1]).expect("read trusted root");
    let bundle = std::fs::read(&args[2]).expect("read bundle");
    let artifact = std::fs::read(&args[3]).expect("read artifact");
    let iterations: usize = args[6].parse().expect("ITERATIONS must be a number");
    let verifier = Verifier::new(TrustRoot::from_json(&root).expect("trusted root"));
    let policy = PolicyBuilder::new()
        .certificate_identity(&args[4])
        .certificate_oidc_issuer(&args[5])
        .build()
        .expect("policy");

    // One untimed run to fail fast on a bad input.
    verifier
        .verify_json(&bundle, Artifact::Bytes(&artifact), &policy)
        .expect("bundle does not verify");

    let mut lat = Vec::with_capacity(iterations);
    let start = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        let r = verifier.verify_json(&bundle, Artifact::Bytes(&artifact), &policy);
        lat.push(t.elapsed());
        assert!(r.is_ok());
    }
    let total = start.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e6;
    println!("iterations={iterations} total_s={:.3}", total.as_secs_f64());
    println!(
        "latency_us p50={:.1} p90={:.1} p99={:.1}",
        pct(0.5),
        pct(0.9),
        pct(0.99)
    );
    println!(
        "verifications_per_sec={:.0}",
        iterations as f64 / total.as_secs_f64()
    );
}
