//! The cryptographic floor of verifying one bundle: only the signature verifications it
//! requires, on pre-extracted inputs, with nothing else. For `happy-path-v0.3` that is four
//! P-256 verifications (artifact signature, SET, checkpoint, SCT) and one P-384 (leaf by the
//! Fulcio intermediate). Compare with `verify_throughput` to see what parsing and policy cost.
//!
//! It also computes the Merkle leaf hash of the entry body and the root its inclusion proof
//! implies: hashing that no verifier can skip either.
//!
//! The keys that come from the trusted root (log, CT log, the issuing CA) are parsed once
//! before the loop, as a verifier that loads the root once can do; the leaf's key arrives with
//! the bundle, so parsing it is part of every verification.
//!
//! `cargo run --release --example crypto_floor -- TRUSTED_ROOT BUNDLE ARTIFACT ITERATIONS`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ParsedPublicKey, UnparsedPublicKey,
};
use std::time::Instant;
use vouch_core::bundle::{Bundle, Material};
use vouch_core::note::SignedNote;
use vouch_core::rekor::set_payload;
use vouch_core::sct;
use vouch_core::trust::TrustRoot;
use vouch_core::x509::Certificate;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(
        args.len(),
        5,
        "usage: crypto_floor TRUSTED_ROOT BUNDLE ARTIFACT ITERATIONS"
    );
    let trust = TrustRoot::from_json(&std::fs::read(&args[1]).unwrap()).unwrap();
    let bundle = Bundle::from_json(&std::fs::read(&args[2]).unwrap()).unwrap();
    let artifact = std::fs::read(&args[3]).unwrap();
    let iterations: usize = args[4].parse().unwrap();

    let Some(Material::Certificate { leaf, .. }) = bundle.material() else {
        panic!("needs a certificate bundle")
    };
    let leaf = Certificate::from_der(leaf).unwrap();
    let leaf_spki = leaf.spki_der().unwrap();
    let e = &bundle.tlog_entries()[0];
    let log = trust
        .tlog_by_id(e.log_id.as_ref().unwrap().key_id.as_slice())
        .unwrap();
    let log_spki = log.key.as_ref().unwrap().spki_der().to_vec();
    let set_msg = set_payload(
        e.canonicalized_body.as_slice(),
        e.integrated_time.0,
        &log.log_id,
        e.log_index.0,
    );
    let set_sig = e
        .inclusion_promise
        .as_ref()
        .unwrap()
        .signed_entry_timestamp
        .0
        .clone();
    let note = SignedNote::parse(
        &e.inclusion_proof
            .as_ref()
            .unwrap()
            .checkpoint
            .as_ref()
            .unwrap()
            .envelope,
    )
    .unwrap();
    let cp_sig = note
        .signatures
        .iter()
        .find(|s| s.name == "rekor.sigstore.dev")
        .unwrap()
        .signature
        .clone();
    let issuer = trust
        .cas
        .iter()
        .flat_map(|c| c.chain.iter())
        .find(|c| leaf.names_issuer(c))
        .unwrap();
    let issuer_spki = issuer.spki_der().unwrap();
    let tbs = leaf.tbs_der().unwrap();
    let leaf_sig = leaf.inner().signature().as_bytes().unwrap().to_vec();
    let s = sct::embedded_scts(&leaf).unwrap().remove(0);
    let ct = trust
        .ctlog_by_id(&s.log_id)
        .unwrap()
        .key
        .as_ref()
        .unwrap()
        .spki_der()
        .to_vec();
    let mut ikh = [0u8; 32];
    ikh.copy_from_slice(&vouch_core::keys::HashKind::Sha256.digest(&issuer_spki));
    let sct_msg =
        sct::precert_signed_data(&s, &ikh, &sct::precert_tbs_der(&leaf).unwrap()).unwrap();
    let msg_sig = bundle
        .message_signature
        .as_ref()
        .unwrap()
        .signature
        .0
        .clone();

    let body = e.canonicalized_body.as_slice();
    let proof = e.inclusion_proof.as_ref().unwrap();
    let (proof_index, proof_size) = (proof.log_index.0 as u64, proof.tree_size.0 as u64);
    let proof_hashes: Vec<Vec<u8>> = proof.hashes.iter().map(|h| h.0.clone()).collect();
    let proof_root = proof.root_hash.0.clone();
    let log_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &log_spki).unwrap();
    let ct_key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &ct).unwrap();
    let issuer_key = ParsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, &issuer_spki).unwrap();
    let once = || {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &leaf_spki)
            .verify(&artifact, &msg_sig)
            .unwrap();
        log_key.verify_sig(&set_msg, &set_sig).unwrap();
        log_key.verify_sig(note.text.as_bytes(), &cp_sig).unwrap();
        ct_key.verify_sig(&sct_msg, &s.signature).unwrap();
        issuer_key.verify_sig(&tbs, &leaf_sig).unwrap();
        let leaf = vouch_core::merkle::leaf_hash(body);
        let root = vouch_core::merkle::root_from_inclusion_proof(
            proof_index,
            proof_size,
            &leaf,
            &proof_hashes,
        )
        .unwrap();
        assert_eq!(root.as_slice(), proof_root.as_slice());
    };
    once();
    let start = Instant::now();
    for _ in 0..iterations {
        once();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("crypto_floor_per_sec={:.0}", iterations as f64 / secs);
}
