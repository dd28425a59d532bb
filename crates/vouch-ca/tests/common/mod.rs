//! Shared test harness for the vouch-ca integration tests: an in-process OIDC issuer on
//! 127.0.0.1 (discovery + JWKS, with request counters and key rotation), token minting with
//! EC / Ed25519 / RSA keys, client keys and PKCS#10 CSRs, and a CA router on 127.0.0.1.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair,
};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::{Decode, Encode};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vouch_ca::api::{CaService, router};
use vouch_ca::{DevHierarchyOptions, FulcioConfig, OidcVerifier, generate_dev_hierarchy};
use vouch_core::keys::pem_encode;

/// A token-signing key of the test issuer.
pub struct TestKey {
    pub enc: EncodingKey,
    pub jwk: Jwk,
    pub alg: Algorithm,
    pub kid: String,
    /// The public key as DER SubjectPublicKeyInfo (what a key-confusion attacker has).
    pub spki_der: Vec<u8>,
}

pub fn ec_key(kid: &str) -> TestKey {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = kp.to_pkcs8v1().unwrap();
    let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
    let enc = EncodingKey::from_ec_der(der.as_ref());
    make_key(enc, Algorithm::ES256, kid, spki)
}

pub fn ed_key(kid: &str) -> TestKey {
    let kp = Ed25519KeyPair::generate().unwrap();
    let der = kp.to_pkcs8v1().unwrap();
    let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
    let enc = EncodingKey::from_ed_der(der.as_ref());
    make_key(enc, Algorithm::EdDSA, kid, spki)
}

/// PKCS#8 `PrivateKeyInfo`, to unwrap the PKCS#1 `RSAPrivateKey` jsonwebtoken expects.
#[derive(der::Sequence)]
struct PrivateKeyInfo {
    version: u8,
    algorithm: spki::AlgorithmIdentifierOwned,
    private_key: der::asn1::OctetString,
}

pub fn rsa_key(kid: &str, alg: Algorithm) -> TestKey {
    use aws_lc_rs::encoding::Pkcs8V1Der;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8: Pkcs8V1Der<'static> = kp.as_der().unwrap();
    let info = PrivateKeyInfo::from_der(pkcs8.as_ref()).unwrap();
    let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
    let enc = EncodingKey::from_rsa_der(info.private_key.as_bytes());
    make_key(enc, alg, kid, spki)
}

pub fn make_key(enc: EncodingKey, alg: Algorithm, kid: &str, spki_der: Vec<u8>) -> TestKey {
    let mut jwk = Jwk::from_encoding_key(&enc, alg).unwrap();
    jwk.common.key_id = Some(kid.to_string());
    TestKey {
        enc,
        jwk,
        alg,
        kid: kid.to_string(),
        spki_der,
    }
}

pub struct Inner {
    pub base: String,
    pub jwks: Mutex<JwkSet>,
    /// When set, the discovery document claims this issuer instead of the requested one.
    pub discovery_issuer: Mutex<Option<String>>,
    pub discovery_hits: AtomicUsize,
    pub jwks_hits: AtomicUsize,
}

/// An OIDC issuer on 127.0.0.1 serving `<prefix>/.well-known/openid-configuration` for any
/// prefix (so meta-issuers work) and `/jwks`.
#[derive(Clone)]
pub struct Issuer(pub Arc<Inner>);

impl Issuer {
    pub async fn start(keys: &[&TestKey]) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = Issuer(Arc::new(Inner {
            base: format!("http://{addr}"),
            jwks: Mutex::new(JwkSet {
                keys: keys.iter().map(|k| k.jwk.clone()).collect(),
            }),
            discovery_issuer: Mutex::new(None),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        }));
        let app = axum::Router::new()
            .route("/jwks", axum::routing::get(jwks))
            .fallback(discovery)
            .with_state(issuer.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        issuer
    }

    pub fn url(&self) -> &str {
        &self.0.base
    }

    pub fn set_keys(&self, keys: &[&TestKey]) {
        *self.0.jwks.lock().unwrap() = JwkSet {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        };
    }

    /// (discovery requests, JWKS requests) served so far.
    pub fn hits(&self) -> (usize, usize) {
        (
            self.0.discovery_hits.load(Ordering::SeqCst),
            self.0.jwks_hits.load(Ordering::SeqCst),
        )
    }
}

async fn jwks(State(s): State<Issuer>) -> Json<JwkSet> {
    s.0.jwks_hits.fetch_add(1, Ordering::SeqCst);
    Json(s.0.jwks.lock().unwrap().clone())
}

async fn discovery(State(s): State<Issuer>, uri: Uri) -> Response {
    let Some(prefix) = uri.path().strip_suffix("/.well-known/openid-configuration") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    s.0.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer =
        s.0.discovery_issuer
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| format!("{}{prefix}", s.0.base));
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", s.0.base),
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
    }))
    .into_response()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Valid claims of an email identity for issuer `iss`.
pub fn claims(iss: &str) -> Value {
    let now = now();
    json!({
        "iss": iss,
        "aud": "sigstore",
        "sub": "alice-id",
        "email": "alice@example.com",
        "email_verified": true,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    })
}

pub fn mint(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    encode(&header, claims, &key.enc).unwrap()
}

pub fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A signing client's P-256 key and its DER SubjectPublicKeyInfo.
pub fn client_key() -> (EcdsaKeyPair, Vec<u8>) {
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
    (kp, spki)
}

pub fn sign(kp: &EcdsaKeyPair, msg: &[u8]) -> Vec<u8> {
    kp.sign(&SystemRandom::new(), msg)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// A PKCS#10 CSR for `spki`, self-signed (ECDSA-SHA256) by `kp` (which may be another key).
pub fn csr_pem(kp: &EcdsaKeyPair, spki: &[u8]) -> String {
    pem_encode("CERTIFICATE REQUEST", &csr_der(spki, |tbs| sign(kp, tbs)))
}

/// A PKCS#10 CSR for `spki` whose signature (ECDSA-SHA256 by OID) is `signer(info DER)`.
pub fn csr_der(spki: &[u8], signer: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    use x509_cert::request::{CertReq, CertReqInfo, Version};
    let info = CertReqInfo {
        version: Version::V1,
        subject: x509_cert::name::Name::default(),
        public_key: spki::SubjectPublicKeyInfoOwned::from_der(spki).unwrap(),
        attributes: Default::default(),
    };
    let sig = signer(&info.to_der().unwrap());
    let req = CertReq {
        info,
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: der::asn1::BitString::from_bytes(&sig).unwrap(),
    };
    req.to_der().unwrap()
}

/// A CA under test: its URL, the issuer, the issuer's signing key and an HTTP client.
pub struct Env {
    pub issuer: Issuer,
    pub key: TestKey,
    pub ca: String,
    pub http: reqwest::Client,
}

/// The standard test config: the local issuer as an email issuer, GitHub Actions, and the EKS
/// meta-issuer.
pub fn ca_config(iss: &str) -> FulcioConfig {
    FulcioConfig::from_json(
        &json!({
            "OIDCIssuers": {
                iss: {"IssuerURL": iss, "ClientID": "sigstore", "Type": "email"},
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
    .unwrap()
}

/// Start the local issuer (ES256 key `k1`) and a CA trusting it ([`ca_config`]).
pub async fn setup() -> Env {
    let key = ec_key("k1");
    let issuer = Issuer::start(&[&key]).await;
    let config = ca_config(issuer.url());
    setup_with(issuer, key, config, |s| s).await
}

/// Start a CA with `config` for an already started issuer; `customize` may adjust the service.
pub async fn setup_with(
    issuer: Issuer,
    key: TestKey,
    config: FulcioConfig,
    customize: impl FnOnce(CaService) -> CaService,
) -> Env {
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let verifier = OidcVerifier::new(config, reqwest::Client::new());
    let svc = customize(CaService::new(
        verifier,
        h.intermediate,
        &h.root_der,
        Duration::from_secs(600),
    ));
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

/// POST a JSON body to `/api/v2/signingCert`; (status, JSON answer).
pub async fn post(env: &Env, body: &Value) -> (u16, Value) {
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

/// The CA's `/metrics` text.
pub async fn metrics(env: &Env) -> String {
    env.http
        .get(format!("{}/metrics", env.ca))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The CT log's origin in the tests that run one.
pub const CT_ORIGIN: &str = "ct.vouch.test/2026";

/// Serve `app` on a free loopback port; its URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// An RFC 6962 CT log (`CT_ORIGIN`, P-256 key, storage in `dir`) accepting `roots`, served on
/// loopback: (URL, the log).
pub async fn start_ct(
    dir: &std::path::Path,
    roots: Vec<Vec<u8>>,
) -> (String, vouch_log::Log<vouch_log::EmbeddedStorage>) {
    use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner};
    let storage = EmbeddedStorage::open(dir).unwrap();
    let signer = LogSigner::load_or_generate(dir, CT_ORIGIN, KeyAlgorithm::EcdsaP256).unwrap();
    let cfg = LogConfig {
        origin: CT_ORIGIN.into(),
        batch_interval: Duration::from_millis(10),
        ..LogConfig::default()
    };
    let log = Log::open(storage, signer, cfg).unwrap();
    let app = vouch_log::ct::router(log.clone(), roots).unwrap();
    (serve(app).await, log)
}

/// The JSON object `v` as a claims map.
pub fn object(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// The claims of a GitHub Actions token for a push to `main` of `octo/hello`.
pub fn github_claims() -> serde_json::Map<String, Value> {
    object(json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:octo/hello:ref:refs/heads/main",
        "aud": "sigstore",
        "job_workflow_ref": "octo/hello/.github/workflows/release.yml@refs/heads/main",
        "job_workflow_sha": "1111111111111111111111111111111111111111",
        "sha": "2222222222222222222222222222222222222222",
        "event_name": "push",
        "repository": "octo/hello",
        "workflow": "Release",
        "ref": "refs/heads/main",
        "runner_environment": "github-hosted",
        "repository_id": "123456",
        "repository_owner": "octo",
        "repository_owner_id": 7890,
        "repository_visibility": "public",
        "workflow_ref": "octo/hello/.github/workflows/release.yml@refs/heads/main",
        "workflow_sha": "3333333333333333333333333333333333333333",
        "run_id": "42",
        "run_attempt": "1"
    }))
}
