//! The Fulcio-compatible HTTP API end to end: an in-test OIDC issuer on 127.0.0.1 (discovery +
//! JWKS), the CA router on 127.0.0.1, and requests sent with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

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
use der::{Decode, Encode};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vouch_ca::api::{CaService, router};
use vouch_ca::{DevHierarchyOptions, FulcioConfig, OidcVerifier, generate_dev_hierarchy};
use vouch_core::keys::pem_encode;
use vouch_core::time::Instant;
use vouch_core::x509::{Certificate, EKU_CODE_SIGNING, verify_leaf};

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

struct Env {
    issuer: Issuer,
    key: TestKey,
    ca: String,
    http: reqwest::Client,
}

async fn setup() -> Env {
    let key = ec_key("k1");
    let issuer = start_issuer(&key).await;
    let config = FulcioConfig::from_json(
        &json!({
            "OIDCIssuers": {
                issuer.base.clone(): {"IssuerURL": issuer.base, "ClientID": "sigstore", "Type": "email"},
                "https://token.actions.githubusercontent.com": {
                    "IssuerURL": "https://token.actions.githubusercontent.com",
                    "ClientID": "sigstore", "Type": "github-workflow"}
            },
            "MetaIssuers": {
                "https://oidc.eks.*.amazonaws.com/id/*": {"ClientID": "sigstore", "Type": "kubernetes"}
            }
        })
        .to_string(),
    )
    .unwrap();
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let verifier = OidcVerifier::new(config, reqwest::Client::new());
    let svc = CaService::new(
        verifier,
        h.intermediate,
        &h.root_der,
        Duration::from_secs(600),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(Arc::new(svc));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Env {
        issuer,
        key,
        ca: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
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

fn csr_pem(kp: &EcdsaKeyPair, spki: &[u8]) -> String {
    use x509_cert::request::{CertReq, CertReqInfo, Version};
    let info = CertReqInfo {
        version: Version::V1,
        subject: x509_cert::name::Name::default(),
        public_key: spki::SubjectPublicKeyInfoOwned::from_der(spki).unwrap(),
        attributes: Default::default(),
    };
    let sig = sign(kp, &info.to_der().unwrap());
    let req = CertReq {
        info,
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: der::asn1::BitString::from_bytes(&sig).unwrap(),
    };
    pem_encode("CERTIFICATE REQUEST", &req.to_der().unwrap())
}

async fn post(env: &Env, body: &Value) -> (u16, Value) {
    let r = env
        .http
        .post(format!("{}/api/v2/signingCert", env.ca))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn check_chain(resp: &Value, env: &Env, spki: &[u8]) {
    let certs = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap();
    assert_eq!(certs.len(), 2, "leaf + intermediate, no root");
    let leaf = &Certificate::from_pem_chain(certs[0].as_str().unwrap()).unwrap()[0];
    let inter = &Certificate::from_pem_chain(certs[1].as_str().unwrap()).unwrap()[0];
    verify_leaf(leaf, inter, Instant::now(), EKU_CODE_SIGNING).unwrap();
    let id = leaf.fulcio_identity().unwrap();
    assert_eq!(id.san.as_deref(), Some("alice@example.com"));
    assert_eq!(id.san_kind, Some("email"));
    assert_eq!(id.issuer.as_deref(), Some(env.issuer.base.as_str()));
    assert_eq!(leaf.spki_der().unwrap(), spki);
    assert!(
        leaf.extension_value(vouch_core::x509::OID_SCT_LIST)
            .is_none(),
        "no SCT is invented"
    );
}

#[tokio::test]
async fn public_key_request_gets_a_chain() {
    let env = setup().await;
    let token = mint(&env.key, &claims(&env.issuer.base));
    let (kp, spki) = client_key();
    let pop = sign(&kp, b"alice@example.com");
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem_encode("PUBLIC KEY", &spki)},
            "proofOfPossession": STANDARD.encode(pop),
        }
    });
    let (status, resp) = post(&env, &body).await;
    assert_eq!(status, 200, "{resp}");
    check_chain(&resp, &env, &spki);

    // Metrics count it.
    let m = env
        .http
        .get(format!("{}/metrics", env.ca))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("vouch_ca_certificates_issued_total 1"), "{m}");
}

#[tokio::test]
async fn csr_with_bearer_token_gets_a_chain() {
    let env = setup().await;
    let token = mint(&env.key, &claims(&env.issuer.base));
    let (kp, spki) = client_key();
    let csr = csr_pem(&kp, &spki);
    let body = json!({"certificateSigningRequest": STANDARD.encode(csr)});
    let r = env
        .http
        .post(format!("{}/api/v2/signingCert", env.ca))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let resp: Value = r.json().await.unwrap();
    check_chain(&resp, &env, &spki);

    // A CSR whose self-signature is by another key is refused.
    let (other, _) = client_key();
    let forged = csr_pem(&other, &spki);
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "certificateSigningRequest": STANDARD.encode(forged)
    });
    let (status, resp) = post(&env, &body).await;
    assert_eq!(status, 400, "{resp}");
    assert!(resp["message"].as_str().unwrap().contains("self-signature"));
}

#[tokio::test]
async fn accept_pem_chain_still_gets_json() {
    // sigstore-python's request shape: CSR, Bearer token, Accept: application/pem-certificate-chain,
    // and it parses the answer as the JSON SigningCertificate.
    let env = setup().await;
    let token = mint(&env.key, &claims(&env.issuer.base));
    let (kp, spki) = client_key();
    let body = json!({"certificateSigningRequest": STANDARD.encode(csr_pem(&kp, &spki))});
    let r = env
        .http
        .post(format!("{}/api/v2/signingCert", env.ca))
        .header("accept", "application/pem-certificate-chain")
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: serde_json::Value = r.json().await.unwrap();
    let certs = v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap();
    let chain: Vec<Certificate> = certs
        .iter()
        .map(|c| Certificate::from_pem_chain(c.as_str().unwrap()).unwrap()[0].clone())
        .collect();
    assert_eq!(chain.len(), 2);
    verify_leaf(&chain[0], &chain[1], Instant::now(), EKU_CODE_SIGNING).unwrap();
    assert_eq!(chain[0].spki_der().unwrap(), spki);
}

#[tokio::test]
async fn bad_proof_of_possession_is_400() {
    let env = setup().await;
    let token = mint(&env.key, &claims(&env.issuer.base));
    let (kp, spki) = client_key();
    // Signed the wrong challenge (sub instead of email).
    let pop = sign(&kp, b"alice-id");
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem_encode("PUBLIC KEY", &spki)},
            "proofOfPossession": STANDARD.encode(pop),
        }
    });
    let (status, resp) = post(&env, &body).await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(resp["code"], 3);
    assert!(
        resp["message"]
            .as_str()
            .unwrap()
            .contains("proof of possession")
    );

    // Malformed bodies are 400 too, never 500.
    for body in [
        json!({"credentials": {"oidcIdentityToken": "x"}}),
        json!({"credentials": {"oidcIdentityToken": "x"}, "certificateSigningRequest": "!!"}),
        json!([1, 2]),
    ] {
        let (status, resp) = post(&env, &body).await;
        assert!(status == 400 || status == 401, "{status} {resp}");
    }
    let r = env
        .http
        .post(format!("{}/api/v2/signingCert", env.ca))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // Too large: 413 with a JSON error.
    let big = "a".repeat(vouch_ca::api::MAX_REQUEST_BYTES + 1);
    let r = env
        .http
        .post(format!("{}/api/v2/signingCert", env.ca))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("larger"));
}

#[tokio::test]
async fn expired_or_wrong_audience_token_is_401() {
    let env = setup().await;
    let (kp, spki) = client_key();
    let csr = STANDARD.encode(csr_pem(&kp, &spki));

    let mut c = claims(&env.issuer.base);
    c["exp"] = json!(now() - 3600);
    c["iat"] = json!(now() - 7200);
    c["nbf"] = json!(now() - 7200);
    let body = json!({"credentials": {"oidcIdentityToken": mint(&env.key, &c)}, "certificateSigningRequest": csr});
    let (status, resp) = post(&env, &body).await;
    assert_eq!(status, 401, "{resp}");
    assert_eq!(resp["code"], 16);
    assert!(
        resp["message"].as_str().unwrap().contains("expired"),
        "{resp}"
    );

    let mut c = claims(&env.issuer.base);
    c["aud"] = json!("someone-else");
    let body = json!({"credentials": {"oidcIdentityToken": mint(&env.key, &c)}, "certificateSigningRequest": csr});
    let (status, resp) = post(&env, &body).await;
    assert_eq!(status, 401, "{resp}");
    assert!(
        resp["message"]
            .as_str()
            .unwrap()
            .contains("audience_mismatch"),
        "{resp}"
    );

    // No token at all.
    let body = json!({"certificateSigningRequest": csr});
    let (status, _) = post(&env, &body).await;
    assert_eq!(status, 401);

    let m = env
        .http
        .get(format!("{}/metrics", env.ca))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains(r#"reason="expired""#), "{m}");
    assert!(m.contains(r#"reason="audience_mismatch""#), "{m}");
}

#[tokio::test]
async fn trust_bundle_configuration_healthz() {
    let env = setup().await;
    let tb: Value = env
        .http
        .get(format!("{}/api/v2/trustBundle", env.ca))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chain = tb["chains"][0]["certificates"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    let inter = &Certificate::from_pem_chain(chain[0].as_str().unwrap()).unwrap()[0];
    let root = &Certificate::from_pem_chain(chain[1].as_str().unwrap()).unwrap()[0];
    assert!(root.is_self_issued());
    inter.verify_signed_by(root).unwrap();

    let cfg: Value = env
        .http
        .get(format!("{}/api/v2/configuration", env.ca))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuers = cfg["issuers"].as_array().unwrap();
    assert_eq!(issuers.len(), 3);
    let email = issuers
        .iter()
        .find(|i| i["issuerUrl"] == env.issuer.base.as_str())
        .unwrap();
    assert_eq!(email["audience"], "sigstore");
    assert_eq!(email["challengeClaim"], "email");
    assert_eq!(email["issuerType"], "email");
    let gh = issuers
        .iter()
        .find(|i| i["issuerUrl"] == "https://token.actions.githubusercontent.com")
        .unwrap();
    assert_eq!(gh["challengeClaim"], "sub");
    let eks = issuers
        .iter()
        .find(|i| i.get("wildcardIssuerUrl").is_some())
        .unwrap();
    assert_eq!(
        eks["wildcardIssuerUrl"],
        "https://oidc.eks.*.amazonaws.com/id/*"
    );
    assert_eq!(eks["challengeClaim"], "sub");
    assert!(eks.get("issuerUrl").is_none());

    let h = env
        .http
        .get(format!("{}/healthz", env.ca))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status().as_u16(), 200);
}
