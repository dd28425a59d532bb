//! Unit tests of the IdP's HTTP endpoints.

use super::*;
use serde_json::json;

#[test]
fn user_codes() {
    let c = user_code().unwrap_or_default();
    assert_eq!(c.len(), 9);
    assert_eq!(c.as_bytes().get(4), Some(&b'-'));
    assert_eq!(normalize_user_code(&c.to_lowercase()).len(), 8);
    assert_eq!(normalize_user_code("bcdf gh-jk"), "BCDFGHJK");
}

fn test_idp(dir: &std::path::Path) -> Arc<Idp> {
    match Idp::load_or_generate(dir, crate::IdpOptions::new("http://127.0.0.1:1")) {
        Ok(i) => Arc::new(i),
        Err(e) => panic!("{e}"),
    }
}

fn params(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

fn error_of(r: Result<Response, OAuthFail>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(f) => f.error,
    }
}

#[tokio::test]
async fn expiry_and_caps() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let idp = test_idp(dir.path());
    let past = Instant::now() - Duration::from_secs(1);
    {
        let mut p = idp.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.devices.insert(
            Client::UNKNOWN,
            "dc".into(),
            DeviceGrant {
                client_id: "sigstore".into(),
                user_code: "BBBB-BBBB".into(),
                status: DeviceStatus::Approved("a@b.test".into()),
                expires: past,
                interval: Duration::from_secs(5),
                last_poll: None,
            },
        );
        p.codes.insert(
            Client::UNKNOWN,
            "code".into(),
            CodeGrant {
                client_id: "sigstore".into(),
                redirect_uri: "http://127.0.0.1/cb".into(),
                code_challenge: s256(&"v".repeat(43)),
                nonce: None,
                email: "a@b.test".into(),
                expires: past,
            },
        );
    }
    // An expired device code answers expired_token (RFC 8628 §3.5), even if approved.
    let r = device_grant(
        &idp,
        &params(&[("device_code", "dc"), ("client_id", "sigstore")]),
    );
    assert_eq!(error_of(r), "expired_token");
    // An expired authorization code is gone.
    let r = code_grant(
        &idp,
        &params(&[
            ("code", "code"),
            ("client_id", "sigstore"),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", &"v".repeat(43)),
        ]),
    );
    assert_eq!(error_of(r), "invalid_grant");

    // Pending device grants are capped, in total and per client: a full table evicts the
    // oldest grant of the biggest holder instead of refusing everyone.
    let flooder = Client(std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    {
        let mut p = idp.pending.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..MAX_DEVICES {
            p.devices.insert(
                Client(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
                    0x0a00_0000 + i as u32 / 8,
                ))),
                format!("d{i}"),
                DeviceGrant {
                    client_id: "sigstore".into(),
                    user_code: format!("u{i}"),
                    status: DeviceStatus::Pending,
                    expires: Instant::now() + DEVICE_TTL,
                    interval: Duration::from_secs(5),
                    last_poll: None,
                },
            );
        }
    }
    assert_eq!(idp.pending().devices.len(), MAX_DEVICES);
    let r = device_code(
        State(Arc::clone(&idp)),
        flooder,
        HeaderMap::new(),
        Bytes::from_static(b"client_id=sigstore"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(idp.pending().devices.len(), MAX_DEVICES);
    for _ in 0..2 * MAX_DEVICES_PER_CLIENT {
        device_code(
            State(Arc::clone(&idp)),
            flooder,
            HeaderMap::new(),
            Bytes::from_static(b"client_id=sigstore"),
        )
        .await;
    }
    assert_eq!(idp.pending().devices.len(), MAX_DEVICES);
    // Expired entries are purged on the next access.
    {
        let mut p = idp.pending.lock().unwrap_or_else(|e| e.into_inner());
        for d in p.devices.values_mut() {
            d.expires = Instant::now() - DEVICE_GRACE - Duration::from_secs(1);
        }
    }
    assert!(idp.pending().devices.is_empty());
    let r = device_code(
        State(Arc::clone(&idp)),
        Client::UNKNOWN,
        HeaderMap::new(),
        Bytes::from_static(b"client_id=sigstore"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn pkce_shapes() {
    // RFC 7636 appendix B.
    assert_eq!(
        s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert!(valid_challenge(
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    ));
    assert!(!valid_challenge("short"));
    assert!(!valid_verifier("short"));
}
