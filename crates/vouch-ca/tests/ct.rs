//! The CA with a CT log end to end on loopback: an in-test OIDC issuer, a vouch-log CT
//! personality (ECDSA P-256, embedded storage in a tempdir) and the CA configured to embed SCTs.
//! The issued leaf's SCT is checked with vouch-core (trusted root `ctlogs[]` lookup by log ID,
//! `verify_sct`, `verify_leaf`) and by a full vouch-verify run over a v0.3 bundle (certificate +
//! Rekor v1 entry from an in-process vouch-log) that requires the SCT; add-pre-chain rejects non-precertificates, unknown roots and
//! bad signatures with 400; a CA whose CT log is down answers 503 and issues nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{CT_ORIGIN, serve, start_ct};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vouch_ca::api::{CaService, router};
use vouch_ca::{DevHierarchyOptions, FulcioConfig, OidcVerifier, generate_dev_hierarchy};
use vouch_core::keys::HashKind;
use vouch_core::keys::pem_encode;
use vouch_core::sct::{embedded_scts, precert_tbs_der, verify_sct};
use vouch_core::time::Instant;
use vouch_core::trust::TrustRoot;
use vouch_core::x509::{Certificate, EKU_CODE_SIGNING, verify_leaf};
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner};
use vouch_verify::{Artifact, PolicyBuilder, Verifier};

struct TestKey {
    enc: EncodingKey,
    jwk: Jwk,
}

fn ec_key(kid: &str) -> TestKey {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = kp.to_pkcs8v1().unwrap();
    let enc = EncodingKey::from_ec_der(der.as_ref());
    let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.to_string());
    TestKey { enc, jwk }
}

#[derive(Clone)]
struct Issuer {
    base: String,
    jwks: Arc<JwkSet>,
}

async fn start_issuer(key: &TestKey) -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = Issuer {
        base: format!("http://{addr}"),
        jwks: Arc::new(JwkSet {
            keys: vec![key.jwk.clone()],
        }),
    };
    let app = axum::Router::new()
        .route("/jwks", axum::routing::get(jwks))
        .fallback(discovery)
        .with_state(issuer.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    issuer
}

async fn jwks(State(s): State<Issuer>) -> Json<JwkSet> {
    Json((*s.jwks).clone())
}

async fn discovery(State(s): State<Issuer>, uri: Uri) -> Response {
    let Some(prefix) = uri.path().strip_suffix("/.well-known/openid-configuration") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    Json(json!({
        "issuer": format!("{}{prefix}", s.base),
        "jwks_uri": format!("{}/jwks", s.base),
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(iss: &str) -> Value {
    let now = now();
    json!({
        "iss": iss, "aud": "sigstore", "sub": "alice-id",
        "email": "alice@example.com", "email_verified": true,
        "iat": now, "nbf": now, "exp": now + 300,
    })
}

fn mint(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = key.jwk.common.key_id.clone();
    encode(&header, claims, &key.enc).unwrap()
}

const REKOR_ORIGIN: &str = "rekor.vouch.test/2026";

fn config(issuer: &Issuer) -> FulcioConfig {
    FulcioConfig::from_json(
        &json!({"OIDCIssuers": {
            issuer.base.clone(): {"IssuerURL": issuer.base, "ClientID": "sigstore", "Type": "email"}
        }})
        .to_string(),
    )
    .unwrap()
}

fn client_key() -> (EcdsaKeyPair, Vec<u8>) {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
    (kp, spki)
}

fn sign(kp: &EcdsaKeyPair, msg: &[u8]) -> Vec<u8> {
    kp.sign(&SystemRandom::new(), msg)
        .unwrap()
        .as_ref()
        .to_vec()
}

fn cert_request(token: &str, kp: &EcdsaKeyPair, spki: &[u8]) -> Value {
    json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem_encode("PUBLIC KEY", spki)},
            "proofOfPossession": STANDARD.encode(sign(kp, b"alice@example.com")),
        }
    })
}

async fn add_pre_chain(http: &reqwest::Client, ct: &str, chain: &[&[u8]]) -> (u16, Value) {
    let body = json!({"chain": chain.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>()});
    let r = http
        .post(format!("{ct}/ct/v1/add-pre-chain"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_embeds_a_verifiable_sct() {
    let key = ec_key("k1");
    let issuer = start_issuer(&key).await;
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let root_der = h.root_der.clone();
    let int_der = h.intermediate.certificate_der().to_vec();
    let dir = tempfile::tempdir().unwrap();
    let (ct_url, log) = start_ct(dir.path(), vec![root_der.clone()]).await;
    let http = reqwest::Client::new();
    let svc = CaService::new(
        OidcVerifier::new(config(&issuer), http.clone()),
        h.intermediate,
        &root_der,
        Duration::from_secs(600),
    )
    .with_ct_log(http.clone(), &ct_url);
    assert!(svc.has_ct_log());
    let ca = serve(router(Arc::new(svc))).await;

    let token = mint(&key, &claims(&issuer.base));
    let (kp, spki) = client_key();
    let r = http
        .post(format!("{ca}/api/v2/signingCert"))
        .json(&cert_request(&token, &kp, &spki))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let resp: Value = r.json().await.unwrap();
    let certs = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap();
    let leaf = Certificate::from_pem_chain(certs[0].as_str().unwrap()).unwrap()[0].clone();
    let inter = Certificate::from_pem_chain(certs[1].as_str().unwrap()).unwrap()[0].clone();
    assert_eq!(inter.der(), int_der.as_slice());
    verify_leaf(&leaf, &inter, Instant::now(), EKU_CODE_SIGNING).unwrap();
    assert!(
        leaf.extension_value(vouch_core::x509::OID_CT_POISON)
            .is_none(),
        "final certificate carries no poison"
    );
    assert_eq!(leaf.spki_der().unwrap(), spki);

    // The SCT: one, from this log, verifying against a trusted root naming CA and CT log.
    let scts = embedded_scts(&leaf).unwrap();
    assert_eq!(scts.len(), 1);
    let ctlog_entry =
        vouch_log::ct::trusted_root_ctlog_entry(log.signer(), &ct_url, "2020-01-01T00:00:00Z");
    let trust = TrustRoot::from_json(
        &serde_json::to_vec(&json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "certificateAuthorities": [{
                "subject": {"organization": "vouch-dev", "commonName": "vouch"},
                "uri": ca,
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(&int_der)},
                    {"rawBytes": STANDARD.encode(&root_der)}
                ]},
                "validFor": {"start": "2020-01-01T00:00:00Z"}
            }],
            "ctlogs": [ctlog_entry]
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(trust.cas.len(), 1);
    let ctlog = trust
        .ctlog_by_id(&scts[0].log_id)
        .expect("SCT names the CT log");
    assert_eq!(
        scts[0].log_id,
        vouch_log::ct::ct_log_id(log.signer()),
        "log ID = SHA-256(SPKI)"
    );
    let issuer_key_hash = trust.cas[0].spki_hashes[0];
    let tbs = precert_tbs_der(&leaf).unwrap();
    verify_sct(
        &scts[0],
        ctlog.key.as_ref().unwrap(),
        &issuer_key_hash,
        &tbs,
    )
    .unwrap();
    // A tampered SCT does not verify.
    let mut bad = scts[0].clone();
    bad.timestamp_ms += 1;
    assert!(verify_sct(&bad, ctlog.key.as_ref().unwrap(), &issuer_key_hash, &tbs).is_err());

    // The precertificate entry is durable in the log: the RFC 6962 leaf holds the same TBS.
    let cp = log.checkpoint();
    assert_eq!(cp.size, 1);
    let body = log.entry(0).unwrap().unwrap();
    assert_eq!(&body[..2], &[0, 0]);
    assert_eq!(&body[2..10], &scts[0].timestamp_ms.to_be_bytes());
    assert_eq!(&body[12..44], &issuer_key_hash);
    // The stored body is the MerkleTreeLeaf followed by its extra_data (PrecertChainEntry).
    assert_eq!(&body[47..47 + tbs.len()], tbs.as_slice());
    assert_eq!(&body[47 + tbs.len()..49 + tbs.len()], &[0, 0]);

    // get-sth: a signed tree head over the same tree.
    let sth: Value = http
        .get(format!("{ct_url}/ct/v1/get-sth"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sth["tree_size"], 1);
    let ds = STANDARD
        .decode(sth["tree_head_signature"].as_str().unwrap())
        .unwrap();
    assert_eq!(&ds[..2], &[4, 3]);
    let mut signed = vec![0u8, 1];
    signed.extend_from_slice(&sth["timestamp"].as_u64().unwrap().to_be_bytes());
    signed.extend_from_slice(&1u64.to_be_bytes());
    signed.extend_from_slice(&cp.root);
    ctlog
        .key
        .as_ref()
        .unwrap()
        .verify(&signed, &ds[4..])
        .unwrap();

    // Full path: sign an artifact with the certified key, log it in an in-process Rekor v1 log
    // (vouch-log), build a v0.3 bundle and verify it with vouch-verify requiring the SCT.
    let rekor_dir = tempfile::tempdir().unwrap();
    let rekor_storage = EmbeddedStorage::open(rekor_dir.path()).unwrap();
    let rekor_signer =
        LogSigner::load_or_generate(rekor_dir.path(), REKOR_ORIGIN, KeyAlgorithm::Ed25519).unwrap();
    let rekor = Log::open(
        rekor_storage,
        rekor_signer,
        LogConfig {
            origin: REKOR_ORIGIN.into(),
            batch_interval: Duration::from_millis(10),
            ..LogConfig::default()
        },
    )
    .unwrap();
    let rekor_url = serve(vouch_log::api::router(rekor.clone())).await;
    let artifact = b"hello, transparent world";
    let sig = sign(&kp, artifact);
    let digest = HashKind::Sha256.digest(artifact);
    let leaf_pem = pem_encode("CERTIFICATE", leaf.der());
    let r = http
        .post(format!("{rekor_url}/api/v1/log/entries"))
        .json(
            &json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(&digest)}},
                "signature": {"content": STANDARD.encode(&sig),
                    "publicKey": {"content": STANDARD.encode(leaf_pem.as_bytes())}}
            }}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let entry: Value = r.json().await.unwrap();
    let (_, e) = entry.as_object().unwrap().iter().next().unwrap();
    let p = &e["verification"]["inclusionProof"];
    let unhex = |v: &Value| STANDARD.encode(hex::decode(v.as_str().unwrap()).unwrap());
    let tle = json!({
        "logIndex": e["logIndex"].as_u64().unwrap().to_string(),
        "logId": {"keyId": unhex(&e["logID"])},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
        "integratedTime": e["integratedTime"].as_i64().unwrap().to_string(),
        "inclusionPromise": {"signedEntryTimestamp": e["verification"]["signedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": p["logIndex"].as_u64().unwrap().to_string(),
            "rootHash": unhex(&p["rootHash"]),
            "treeSize": p["treeSize"].as_u64().unwrap().to_string(),
            "hashes": p["hashes"].as_array().unwrap().iter().map(unhex).collect::<Vec<_>>(),
            "checkpoint": {"envelope": p["checkpoint"]}
        },
        "canonicalizedBody": e["body"]
    });
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"certificate": {"rawBytes": STANDARD.encode(leaf.der())},
            "tlogEntries": [tle]},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256",
            "digest": STANDARD.encode(&digest)}, "signature": STANDARD.encode(&sig)}
    });
    let mut full_root = trust.json.clone();
    full_root.tlogs = vec![
        rekor
            .signer()
            .trusted_root_entry(&format!("https://{REKOR_ORIGIN}"), "2020-01-01T00:00:00Z"),
    ];
    let policy = PolicyBuilder::new()
        .certificate_identity("alice@example.com")
        .certificate_oidc_issuer(issuer.base.clone())
        .build()
        .unwrap();
    let verifier = Verifier::new(TrustRoot::from_parsed(full_root.clone()).unwrap());
    let res = verifier
        .verify_json(
            &serde_json::to_vec(&bundle).unwrap(),
            Artifact::Bytes(artifact),
            &policy,
        )
        .unwrap();
    assert_eq!(res.verified_scts, 1);
    // Without the CT log in the trusted root the same bundle fails (the SCT is required).
    let mut no_ct = full_root;
    no_ct.ctlogs.clear();
    let verifier = Verifier::new(TrustRoot::from_parsed(no_ct).unwrap());
    let err = verifier
        .verify_json(
            &serde_json::to_vec(&bundle).unwrap(),
            Artifact::Bytes(artifact),
            &policy,
        )
        .unwrap_err();
    assert!(
        matches!(err, vouch_verify::VerifyError::NoTrustedSct { .. }),
        "{err}"
    );

    // Negative add-pre-chain cases, all 400 with a JSON message.
    // (a) the final certificate: no poison extension.
    let (s, e) = add_pre_chain(&http, &ct_url, &[leaf.der(), &int_der, &root_der]).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("poison"), "{e}");
    // (b) a chain ending in a root this log does not accept.
    let other = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let cfg = config(&issuer);
    let identity = vouch_ca::identity_from_claims(
        claims(&issuer.base).as_object().unwrap(),
        &cfg.lookup(&issuer.base).unwrap(),
    )
    .unwrap();
    let opts = vouch_ca::cert::LeafOptions::new(None, Duration::from_secs(600));
    let foreign_pre = other
        .intermediate
        .issue_precertificate(&identity, &spki, &opts)
        .unwrap()
        .der()
        .to_vec();
    let (s, e) = add_pre_chain(
        &http,
        &ct_url,
        &[
            &foreign_pre,
            other.intermediate.certificate_der(),
            &other.root_der,
        ],
    )
    .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("root"), "{e}");
    // (c) a precertificate not signed by chain[1].
    let (s, e) = add_pre_chain(&http, &ct_url, &[&foreign_pre, &int_der, &root_der]).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("not signed"), "{e}");
    // (d) a corrupted signature.
    let mut corrupt = foreign_pre.clone();
    let n = corrupt.len();
    corrupt[n - 3] ^= 0x55;
    let (s, e) = add_pre_chain(
        &http,
        &ct_url,
        &[&corrupt, other.intermediate.certificate_der(), &root_der],
    )
    .await;
    assert_eq!(s, 400, "{e}");
    // (e) garbage.
    let (s, e) = add_pre_chain(&http, &ct_url, &[b"junk", &root_der]).await;
    assert_eq!(s, 400, "{e}");
    // Nothing else was logged.
    assert_eq!(log.checkpoint().size, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ct_log_down_means_503_and_no_certificate() {
    let key = ec_key("k1");
    let issuer = start_issuer(&key).await;
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    // A port nothing listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let http = reqwest::Client::new();
    let svc = CaService::new(
        OidcVerifier::new(config(&issuer), http.clone()),
        h.intermediate,
        &h.root_der,
        Duration::from_secs(600),
    )
    .with_ct_log(http.clone(), &dead);
    let ca = serve(router(Arc::new(svc))).await;
    let token = mint(&key, &claims(&issuer.base));
    let (kp, spki) = client_key();
    let r = http
        .post(format!("{ca}/api/v2/signingCert"))
        .json(&cert_request(&token, &kp, &spki))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let e: Value = r.json().await.unwrap();
    assert!(e["message"].as_str().unwrap().contains("CT log"), "{e}");
    assert!(e.get("signedCertificateEmbeddedSct").is_none());
}

#[tokio::test]
async fn ct_router_refuses_ed25519_logs() {
    let dir = tempfile::tempdir().unwrap();
    let storage = EmbeddedStorage::open(dir.path()).unwrap();
    let signer = LogSigner::load_or_generate(dir.path(), CT_ORIGIN, KeyAlgorithm::Ed25519).unwrap();
    let log = Log::open(
        storage,
        signer,
        LogConfig {
            origin: CT_ORIGIN.into(),
            ..LogConfig::default()
        },
    )
    .unwrap();
    assert!(vouch_log::ct::router(log, vec![vec![0x30]]).is_err());
}
