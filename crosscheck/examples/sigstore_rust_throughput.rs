//! sigstore-rust's (`sigstore-verify` 0.15.1) single-process verification throughput, measured
//! exactly like vouch's `verify_throughput` example (root loaded once, bundle JSON parsed and
//! verified every iteration), so both figures come from the same machine and run.
//!
//! `cargo run --release -p vouch-crosscheck --example sigstore_rust_throughput -- TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER ITERATIONS`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sigstore_trust_root::TrustedRoot;
use sigstore_types::Bundle;
use sigstore_verify::{VerificationPolicy, Verifier};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(
        args.len(),
        7,
        "usage: TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER ITERATIONS"
    );
    let root = TrustedRoot::from_json(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let bundle_json = std::fs::read_to_string(&args[2]).unwrap();
    let artifact = std::fs::read(&args[3]).unwrap();
    let iterations: usize = args[6].parse().unwrap();
    let verifier = Verifier::new(&root).unwrap();
    let policy = VerificationPolicy::new(args[4].as_str(), args[5].clone());
    let run = || {
        let bundle = Bundle::from_json(&bundle_json).unwrap();
        verifier
            .verify(
                sigstore_types::Artifact::from_blob(&artifact),
                &bundle,
                &policy,
            )
            .unwrap();
    };
    run();
    let start = Instant::now();
    for _ in 0..iterations {
        run();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("verifications_per_sec={:.0}", iterations as f64 / secs);
}
