//! The Fulcio-compatible HTTP API end to end: an in-test OIDC issuer on 127.0.0.1 (discovery +
//! JWKS), the CA router on 127.0.0.1, and requests sent with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};
use vouch_core::keys::pem_encode;
use vouch_core::time::Instant;
use vouch_core::x509::{Certificate, EKU_CODE_SIGNING, verify_leaf};

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
    assert_eq!(id.issuer.as_deref(), Some(env.issuer.url()));
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
    let token = mint(&env.key, &claims(env.issuer.url()));
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
    let token = mint(&env.key, &claims(env.issuer.url()));
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
    let token = mint(&env.key, &claims(env.issuer.url()));
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
    let token = mint(&env.key, &claims(env.issuer.url()));
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

    let mut c = claims(env.issuer.url());
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

    let mut c = claims(env.issuer.url());
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
        .find(|i| i["issuerUrl"] == env.issuer.url())
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
