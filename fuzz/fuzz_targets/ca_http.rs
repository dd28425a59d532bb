//! The keyless CA's `POST /api/v2/signingCert`, with an in-process OIDC issuer (vouch's own IdP
//! on loopback) so that fuzzed proof-of-possession, public keys and CSRs are reached behind a
//! valid token, not only rejected at the token. The first input byte picks the shape:
//! 0 the whole body (token and all) from the input; 1 a valid token and the input as a CSR;
//! 2 a valid token, the input split into a public key PEM body and a proof of possession;
//! 3 the input as the bearer token.
#![no_main]

#[path = "common/http.rs"]
mod http;

use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

struct Env {
    router: axum::Router,
    idp: Arc<vouch_oidc::Idp>,
}

static ENV: LazyLock<Env> = LazyLock::new(|| {
    let dir = http::state_dir("ca");
    http::RT.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let idp = Arc::new(
            vouch_oidc::Idp::load_or_generate(&dir.join("idp"), vouch_oidc::IdpOptions::new(&issuer))
                .expect("idp"),
        );
        let app = vouch_oidc::router(idp.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let config = vouch_ca::FulcioConfig::from_json(&format!(
            r#"{{"OIDCIssuers": {{"{issuer}": {{"IssuerURL": "{issuer}", "ClientID": "sigstore", "Type": "email"}}}}}}"#
        ))
        .expect("config");
        let h = vouch_ca::generate_dev_hierarchy(&Default::default()).expect("hierarchy");
        let verifier = vouch_ca::OidcVerifier::new(config, reqwest::Client::new());
        let svc = vouch_ca::api::CaService::new(verifier, h.intermediate, &h.root_der, Duration::from_secs(600));
        Env {
            router: vouch_ca::api::router(Arc::new(svc)),
            idp,
        }
    })
});

/// The request shapes sigstore clients send, typed as the CA reads them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    credentials: Credentials<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key_request: Option<PublicKeyRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_signing_request: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Credentials<'a> {
    oidc_identity_token: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyRequest<'a> {
    public_key: PublicKey<'a>,
    proof_of_possession: String,
}

#[derive(Serialize)]
struct PublicKey<'a> {
    algorithm: &'a str,
    content: String,
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let env = &*ENV;
    let json = "application/json";
    let path = "/api/v2/signingCert";
    let token = || {
        env.idp
            .mint_email_token("fuzz@example.test", "sigstore", None)
            .expect("token")
    };
    let _ = match sel % 4 {
        0 => http::call(&env.router, Method::POST, path, json, None, rest.to_vec()),
        1 => {
            let t = token();
            let body = Body {
                credentials: Credentials { oidc_identity_token: &t },
                public_key_request: None,
                certificate_signing_request: Some(STANDARD.encode(rest)),
            };
            http::call(&env.router, Method::POST, path, json, None, serde_json::to_vec(&body).expect("json"))
        }
        2 => {
            let t = token();
            let cut = rest.first().map_or(0, |&b| usize::from(b)).min(rest.len());
            let (key, pop) = rest.split_at(cut);
            let body = Body {
                credentials: Credentials { oidc_identity_token: &t },
                public_key_request: Some(PublicKeyRequest {
                    public_key: PublicKey {
                        algorithm: "ECDSA",
                        content: format!(
                            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                            STANDARD.encode(key)
                        ),
                    },
                    proof_of_possession: STANDARD.encode(pop),
                }),
                certificate_signing_request: None,
            };
            http::call(&env.router, Method::POST, path, json, None, serde_json::to_vec(&body).expect("json"))
        }
        _ => {
            let bearer = format!("Bearer {}", String::from_utf8_lossy(rest));
            http::call(&env.router, Method::POST, path, json, Some(("authorization", &bearer)), b"{}".to_vec())
        }
    };
});
