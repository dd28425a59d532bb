//! Issue 12 finding 7: the CA answered issuer fetch failures with their detail ("connection
//! refused", "HTTP status 404", the URL), which let a token's issuer (through a `MetaIssuers`
//! match) probe hosts and ports from the CA. Every fetch failure now gets one answer; the
//! detail is logged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use serde_json::json;
use vouch_ca::FulcioConfig;

#[tokio::test]
async fn issuer_fetch_failures_all_get_one_answer() {
    // A closed port, and a server that answers 404 for discovery.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}")
    };
    let not_found = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(l, axum::Router::new()).await.unwrap();
        });
        format!("http://{a}")
    };
    let key = ec_key("k1");
    let issuer = Issuer::start(&[&key]).await;
    let mut issuers = serde_json::Map::new();
    for url in [&closed, &not_found] {
        issuers.insert(
            url.clone(),
            json!({"IssuerURL": url, "ClientID": "sigstore", "Type": "email"}),
        );
    }
    let config = FulcioConfig::from_json(&json!({ "OIDCIssuers": issuers }).to_string()).unwrap();
    let env = setup_with(issuer, key, config, |s| s).await;
    let mut answers = Vec::new();
    for url in [&closed, &not_found] {
        let token = mint(&env.key, &claims(url));
        let (kp, spki) = client_key();
        let body = json!({
            "credentials": {"oidcIdentityToken": token},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": vouch_core::keys::pem_encode("PUBLIC KEY", &spki)},
                "proofOfPossession": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sign(&kp, b"alice@example.com")),
            }
        });
        let (status, v) = post(&env, &body).await;
        assert_eq!(status, 503, "{url}: {v}");
        answers.push(v["message"].as_str().unwrap().to_string());
    }
    assert_eq!(
        answers[0], answers[1],
        "the answers tell the failures apart"
    );
    for port in [&closed, &not_found] {
        let port = port.rsplit(':').next().unwrap();
        assert!(!answers[0].contains(port), "{}", answers[0]);
    }
    assert!(!answers[0].contains("refused") && !answers[0].contains("404"));
    assert_eq!(answers[0], vouch_ca::api::OIDC_UNAVAILABLE);
}
