//! Detached SCT mode (`CaService::with_detached_sct`): the CA issues the final certificate,
//! submits it to an in-process vouch-log CT personality's `add-chain` and answers
//! `signedCertificateDetachedSct` (protocols.md §1.2). The answer parses, the SCT verifies over
//! the RFC 6962 x509_entry of the leaf with the CT log's key, the log holds that entry; a CA
//! whose CT log is down answers 503; without a CT log the mode has no effect.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Issuer, ca_config, claims, client_key, ec_key, mint, serve, sign, start_ct};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use vouch_ca::api::{CaService, router};
use vouch_ca::{DevHierarchyOptions, OidcVerifier, generate_dev_hierarchy};
use vouch_core::keys::{PublicKey, pem_encode};
use vouch_core::merkle::leaf_hash;
use vouch_core::time::Instant;
use vouch_core::x509::{Certificate, EKU_CODE_SIGNING, OID_CT_POISON, OID_SCT_LIST, verify_leaf};

/// A CA (fresh dev hierarchy) trusting `issuer`, customized by `f`; (CA URL, root DER, intermediate DER).
async fn start_ca(
    issuer: &Issuer,
    f: impl FnOnce(CaService, &[u8]) -> CaService,
) -> (String, Vec<u8>, Vec<u8>) {
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let root = h.root_der.clone();
    let int = h.intermediate.certificate_der().to_vec();
    let svc = CaService::new(
        OidcVerifier::new(ca_config(issuer.url()), reqwest::Client::new()),
        h.intermediate,
        &root,
        Duration::from_secs(600),
    );
    let svc = f(svc, &root);
    (serve(router(Arc::new(svc))).await, root, int)
}

fn request(token: &str) -> Value {
    let (kp, spki) = client_key();
    json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem_encode("PUBLIC KEY", &spki)},
            "proofOfPossession": STANDARD.encode(sign(&kp, b"alice@example.com")),
        }
    })
}

async fn post(ca: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{ca}/api/v2/signingCert"))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// RFC 6962 §3.2 signed data of an x509_entry SCT (no extensions).
fn x509_signed_data(timestamp: u64, cert: &[u8]) -> Vec<u8> {
    let mut m = vec![0, 0];
    m.extend_from_slice(&timestamp.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&(cert.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(cert);
    m.extend_from_slice(&0u16.to_be_bytes());
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_sct_verifies_over_the_x509_entry() {
    let key = ec_key("k1");
    let issuer = Issuer::start(&[&key]).await;
    let dir = tempfile::tempdir().unwrap();
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let root = h.root_der.clone();
    let int = h.intermediate.certificate_der().to_vec();
    let (ct_url, log) = start_ct(dir.path(), vec![root.clone()]).await;
    let svc = CaService::new(
        OidcVerifier::new(ca_config(issuer.url()), reqwest::Client::new()),
        h.intermediate,
        &root,
        Duration::from_secs(600),
    )
    .with_ct_log(reqwest::Client::new(), &ct_url)
    .with_detached_sct(true);
    assert!(svc.has_ct_log() && svc.detached_sct());
    let ca = serve(router(Arc::new(svc))).await;
    let log_key = PublicKey::from_spki_der(log.signer().spki_der()).unwrap();

    let token = mint(&key, &claims(issuer.url()));
    let (s, v) = post(&ca, &request(&token)).await;
    assert_eq!(s, 200, "{v}");
    assert!(v.get("signedCertificateEmbeddedSct").is_none(), "{v}");
    let d = &v["signedCertificateDetachedSct"];
    let certs = d["chain"]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "leaf and intermediate");
    let leaf = Certificate::from_pem_chain(certs[0].as_str().unwrap()).unwrap()[0].clone();
    let inter = Certificate::from_pem_chain(certs[1].as_str().unwrap()).unwrap()[0].clone();
    assert_eq!(inter.der(), int.as_slice());
    verify_leaf(&leaf, &inter, Instant::now(), EKU_CODE_SIGNING).unwrap();
    assert!(leaf.extension_value(OID_CT_POISON).is_none());
    assert!(
        leaf.extension_value(OID_SCT_LIST).is_none(),
        "a detached SCT is not embedded"
    );

    // signedCertificateTimestamp: b64 of the JSON AddChainResponse.
    let raw = STANDARD
        .decode(d["signedCertificateTimestamp"].as_str().unwrap())
        .unwrap();
    let sct: Value = serde_json::from_slice(&raw).unwrap();
    let keys: Vec<&str> = sct
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.len(),
        5,
        "sct_version, id, timestamp, extensions, signature: {sct}"
    );
    assert_eq!(sct["sct_version"], 0);
    assert_eq!(
        STANDARD.decode(sct["id"].as_str().unwrap()).unwrap(),
        vouch_log::ct::ct_log_id(log.signer())
    );
    assert_eq!(sct["extensions"], "");
    let timestamp = sct["timestamp"].as_u64().unwrap();
    let ds = STANDARD.decode(sct["signature"].as_str().unwrap()).unwrap();
    assert_eq!(&ds[..2], &[4, 3]);
    let signed = x509_signed_data(timestamp, leaf.der());
    log_key.verify(&signed, &ds[4..]).unwrap();
    // Not over the precert_entry form, nor another timestamp.
    assert!(
        log_key
            .verify(&x509_signed_data(timestamp + 1, leaf.der()), &ds[4..])
            .is_err()
    );

    // The log holds the x509_entry (MerkleTreeLeaf == the signed data for v1) and its chain.
    assert_eq!(log.checkpoint().size, 1);
    assert_eq!(log.checkpoint().root, leaf_hash(&signed));
    // get-entries over HTTP is covered in vouch-log; here the stored body suffices.
    let body = log.entry(0).unwrap().unwrap();
    assert_eq!(&body[..signed.len()], signed.as_slice());
    let mut chain = Vec::new();
    for c in [&int, &root] {
        chain.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
        chain.extend_from_slice(c);
    }
    let mut extra = (chain.len() as u32).to_be_bytes()[1..].to_vec();
    extra.extend(chain);
    assert_eq!(&body[signed.len()..], extra.as_slice(), "certificate_chain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_mode_fails_closed_and_needs_a_ct_log() {
    let key = ec_key("k1");
    let issuer = Issuer::start(&[&key]).await;
    let token = mint(&key, &claims(issuer.url()));

    // The CT log is down: 503, no certificate.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (ca, _, _) = start_ca(&issuer, |svc, _| {
        svc.with_ct_log(reqwest::Client::new(), &dead)
            .with_detached_sct(true)
    })
    .await;
    let (s, v) = post(&ca, &request(&token)).await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["code"], 14);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("no certificate issued")
    );

    // A CT log that does not accept this CA's root: 503 as well.
    let dir = tempfile::tempdir().unwrap();
    let other = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let (ct_url, log) = start_ct(dir.path(), vec![other.root_der.clone()]).await;
    let (ca, _, _) = start_ca(&issuer, |svc, _| {
        svc.with_ct_log(reqwest::Client::new(), &ct_url)
            .with_detached_sct(true)
    })
    .await;
    let (s, v) = post(&ca, &request(&token)).await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(log.checkpoint().size, 0);

    // Without a CT log the flag has no effect: embedded form, no SCT.
    let (ca, _, _) = start_ca(&issuer, |svc, _| {
        let svc = svc.with_detached_sct(true);
        assert!(!svc.detached_sct());
        svc
    })
    .await;
    let (s, v) = post(&ca, &request(&token)).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["signedCertificateEmbeddedSct"]["chain"]["certificates"].is_array());
}
