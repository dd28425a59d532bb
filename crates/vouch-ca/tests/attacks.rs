//! The attack corpus: hostile `POST /api/v2/signingCert` requests against a CA trusting an
//! in-test OIDC issuer. Each must be rejected with the right 4xx, a grpc-gateway JSON error
//! whose message names the failed check, a `vouch_ca_rejected_requests{reason=<check>}`
//! count, and no certificate issued.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_lc_rs::signature::EcdsaKeyPair;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use vouch_core::keys::pem_encode;

/// A valid publicKeyRequest body for `token` (challenge: the email claim).
fn pkr_body(token: &str, kp: &EcdsaKeyPair, spki: &[u8], challenge: &[u8]) -> Value {
    json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": pem_encode("PUBLIC KEY", spki)},
            "proofOfPossession": STANDARD.encode(sign(kp, challenge)),
        }
    })
}

/// A valid CSR body for `token`.
fn csr_body(token: &str) -> Value {
    let (kp, spki) = client_key();
    json!({
        "credentials": {"oidcIdentityToken": token},
        "certificateSigningRequest": STANDARD.encode(csr_pem(&kp, &spki)),
    })
}

/// Assert a rejection: `status`, the grpc-gateway shape with `code`, and the check named in
/// the message.
fn assert_rejected(what: &str, got: (u16, Value), status: u16, code: u64, check: &str) {
    let (s, v) = got;
    assert_eq!(s, status, "{what}: {v}");
    assert_eq!(v["code"], code, "{what}: {v}");
    assert!(v["details"].is_array(), "{what}: {v}");
    let msg = v["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(check),
        "{what}: message {msg:?} does not name the check {check:?}"
    );
    assert!(
        v.get("signedCertificateEmbeddedSct").is_none()
            && v.get("signedCertificateDetachedSct").is_none(),
        "{what}: {v}"
    );
}

/// The metrics show no certificate issued and a rejection count for each check.
async fn assert_nothing_issued(env: &Env, checks: &[&str]) {
    let m = metrics(env).await;
    assert!(m.contains("vouch_ca_certificates_issued_total 0"), "{m}");
    for c in checks {
        assert!(
            m.contains(&format!("reason=\"{c}\"")),
            "no rejection counted for {c}: {m}"
        );
    }
}

#[tokio::test]
async fn token_signature_attacks() {
    let rsa = rsa_key("rsa-1", Algorithm::RS256);
    let ec = ec_key("ec-1");
    let issuer = Issuer::start(&[&rsa, &ec]).await;
    let config = ca_config(issuer.url());
    let env = setup_with(issuer, ec, config, |s| s).await;
    let iss = env.issuer.url().to_string();
    let c = claims(&iss);

    // alg "none", empty signature.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "rsa-1"})),
        b64(&c)
    );
    assert_rejected(
        "alg none",
        post(&env, &csr_body(&none)).await,
        401,
        16,
        "disallowed_algorithm",
    );
    // alg "None"/"NONE" spellings too.
    for alg in ["None", "NONE", "nOnE"] {
        let t = format!("{}.{}.", b64(&json!({"alg": alg})), b64(&c));
        assert_rejected(
            alg,
            post(&env, &csr_body(&t)).await,
            401,
            16,
            "disallowed_algorithm",
        );
    }

    // Key confusion: HS256 with the issuer's public key bytes (PEM text, DER SPKI, and the
    // JWK's JSON) as the HMAC secret, naming the RSA and the EC key.
    for (kid, spki) in [("rsa-1", &rsa.spki_der), ("ec-1", &env.key.spki_der)] {
        let pem = pem_encode("PUBLIC KEY", spki);
        for secret in [pem.as_bytes(), spki.as_slice()] {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let mut h = Header::new(alg);
                h.kid = Some(kid.into());
                let t = encode(&h, &c, &EncodingKey::from_secret(secret)).unwrap();
                assert_rejected(
                    &format!("{alg:?} key confusion with {kid}"),
                    post(&env, &csr_body(&t)).await,
                    401,
                    16,
                    "disallowed_algorithm",
                );
            }
        }
    }
    // None of the above reached the issuer: the algorithm is refused before any fetch.
    assert_eq!(env.issuer.hits(), (0, 0));

    // Signed by a key the issuer does not publish, under a kid it does publish.
    let impostor = ec_key("ec-1");
    assert_rejected(
        "unknown key, known kid",
        post(&env, &csr_body(&mint(&impostor, &c))).await,
        401,
        16,
        "invalid_signature",
    );
    // An unknown kid: one bounded JWKS refetch, then refused; a second unknown kid right
    // away makes no request at all.
    let stranger = ec_key("stranger");
    let before = env.issuer.hits();
    assert_rejected(
        "unknown kid",
        post(&env, &csr_body(&mint(&stranger, &c))).await,
        401,
        16,
        "unknown_key_id",
    );
    let after = env.issuer.hits();
    assert_eq!(after.1, before.1 + 1, "exactly one JWKS refetch");
    let stranger2 = ec_key("stranger-2");
    assert_rejected(
        "second unknown kid",
        post(&env, &csr_body(&mint(&stranger2, &c))).await,
        401,
        16,
        "unknown_key_id",
    );
    assert_eq!(env.issuer.hits(), after, "refetch is rate-limited");

    // RSA key used with an EC algorithm header (kid names the RSA key).
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("rsa-1".into());
    let t = encode(&h, &c, &env.key.enc).unwrap();
    assert_rejected(
        "alg/key type mismatch",
        post(&env, &csr_body(&t)).await,
        401,
        16,
        "key_mismatch",
    );

    // Tampered payload (email swapped) keeps the original signature.
    let good = mint(&env.key, &c);
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged_claims = c.clone();
    forged_claims["email"] = json!("mallory@example.com");
    let forged = format!("{}.{}.{}", parts[0], b64(&forged_claims), parts[2]);
    assert_rejected(
        "tampered payload",
        post(&env, &csr_body(&forged)).await,
        401,
        16,
        "invalid_signature",
    );

    // Malformed tokens.
    for t in ["a.b", "a.b.c.d", "!!.??.x", "e30.e30.", ""] {
        let body = json!({
            "credentials": {"oidcIdentityToken": t},
            "certificateSigningRequest": csr_body("x")["certificateSigningRequest"],
        });
        let (s, v) = post(&env, &body).await;
        assert!(s == 401, "malformed token {t:?}: {s} {v}");
    }

    assert_nothing_issued(
        &env,
        &[
            "disallowed_algorithm",
            "invalid_signature",
            "unknown_key_id",
            "key_mismatch",
            "malformed_token",
        ],
    )
    .await;
}

#[tokio::test]
async fn token_claim_attacks() {
    let env = setup().await;
    let iss = env.issuer.url().to_string();
    let now = now();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(&iss);
        f(&mut c);
        mint(&env.key, &c)
    };

    let cases: Vec<(&str, String, u16, u64, &str)> = vec![
        (
            "expired",
            with(&|c| c["exp"] = json!(now - 1)),
            401,
            16,
            "expired",
        ),
        (
            "exp missing",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            401,
            16,
            "missing_claim",
        ),
        (
            "nbf in the future",
            with(&|c| c["nbf"] = json!(now + 600)),
            401,
            16,
            "not_yet_valid",
        ),
        (
            "iat in the future beyond skew",
            with(&|c| c["iat"] = json!(now + 600)),
            401,
            16,
            "issued_in_future",
        ),
        (
            "wrong aud",
            with(&|c| c["aud"] = json!("not-sigstore")),
            401,
            16,
            "audience_mismatch",
        ),
        (
            "aud array without sigstore",
            with(&|c| c["aud"] = json!(["a", "b"])),
            401,
            16,
            "audience_mismatch",
        ),
        (
            "aud missing",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            401,
            16,
            "missing_claim",
        ),
        (
            "iss not configured",
            with(&|c| c["iss"] = json!("https://accounts.evil.example")),
            401,
            16,
            "unknown_issuer",
        ),
        (
            "iss missing",
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
            401,
            16,
            "missing_claim",
        ),
        (
            "iss with a trailing slash",
            with(&|c| c["iss"] = json!(format!("{iss}/"))),
            401,
            16,
            "unknown_issuer",
        ),
        (
            "email_verified false",
            with(&|c| c["email_verified"] = json!(false)),
            400,
            3,
            "email_not_verified",
        ),
        (
            "email_verified \"false\"",
            with(&|c| c["email_verified"] = json!("false")),
            400,
            3,
            "email_not_verified",
        ),
        (
            "email_verified missing",
            with(&|c| {
                c.as_object_mut().unwrap().remove("email_verified");
            }),
            400,
            3,
            "email_not_verified",
        ),
        (
            "email_verified of the wrong type",
            with(&|c| c["email_verified"] = json!(1)),
            400,
            3,
            "invalid_claim",
        ),
        (
            "email missing",
            with(&|c| {
                c.as_object_mut().unwrap().remove("email");
            }),
            400,
            3,
            "missing_claim",
        ),
        (
            "email not an address",
            with(&|c| c["email"] = json!("alice")),
            400,
            3,
            "invalid_claim",
        ),
    ];
    for (what, token, status, code, check) in cases {
        assert_rejected(
            what,
            post(&env, &csr_body(&token)).await,
            status,
            code,
            check,
        );
    }
    assert_nothing_issued(
        &env,
        &[
            "expired",
            "not_yet_valid",
            "issued_in_future",
            "audience_mismatch",
            "unknown_issuer",
            "email_not_verified",
            "missing_claim",
            "invalid_claim",
        ],
    )
    .await;
}

#[tokio::test]
async fn proof_of_possession_and_csr_attacks() {
    let env = setup().await;
    let token = mint(&env.key, &claims(env.issuer.url()));
    let (kp, spki) = client_key();
    let (other, other_spki) = client_key();

    // PoP over the wrong subject (sub instead of the email challenge).
    assert_rejected(
        "PoP over the wrong subject",
        post(&env, &pkr_body(&token, &kp, &spki, b"alice-id")).await,
        400,
        3,
        "proof_of_possession",
    );
    // PoP over the right subject, by a different key than the submitted one.
    assert_rejected(
        "PoP by another key",
        post(&env, &pkr_body(&token, &other, &spki, b"alice@example.com")).await,
        400,
        3,
        "proof_of_possession",
    );
    // PoP missing or not base64.
    for pop in ["", "***"] {
        let mut body = pkr_body(&token, &kp, &spki, b"alice@example.com");
        body["publicKeyRequest"]["proofOfPossession"] = json!(pop);
        assert_rejected(
            &format!("PoP {pop:?}"),
            post(&env, &body).await,
            400,
            3,
            "proof_of_possession",
        );
    }
    // Declared algorithm contradicting the key.
    let mut body = pkr_body(&token, &kp, &spki, b"alice@example.com");
    body["publicKeyRequest"]["publicKey"]["algorithm"] = json!("ED25519");
    assert_rejected(
        "algorithm mismatch",
        post(&env, &body).await,
        400,
        3,
        "public_key",
    );
    // Garbage public key.
    let mut body = pkr_body(&token, &kp, &spki, b"alice@example.com");
    body["publicKeyRequest"]["publicKey"]["content"] = json!("bm90IGEga2V5");
    assert_rejected("garbage key", post(&env, &body).await, 400, 3, "public_key");

    // CSR self-signature invalid: a flipped bit in the signature.
    let mut der = csr_der(&spki, |tbs| sign(&kp, tbs));
    let last = der.len() - 1;
    der[last] ^= 1;
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "certificateSigningRequest": STANDARD.encode(pem_encode("CERTIFICATE REQUEST", &der)),
    });
    assert_rejected(
        "CSR bad signature",
        post(&env, &body).await,
        400,
        3,
        "csr_signature",
    );

    // CSR with a tampered public key: signed by `kp`, then the SPKI swapped for another key
    // (the CSR is self-proving, so this is "a CSR for a different key").
    let good = csr_der(&spki, |tbs| sign(&kp, tbs));
    let pos = good
        .windows(spki.len())
        .position(|w| w == spki.as_slice())
        .unwrap();
    let mut tampered = good.clone();
    tampered[pos..pos + spki.len()].copy_from_slice(&other_spki);
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "certificateSigningRequest": STANDARD.encode(tampered),
    });
    assert_rejected(
        "CSR tampered key",
        post(&env, &body).await,
        400,
        3,
        "csr_signature",
    );

    // A CSR whose self-signature is by another key entirely.
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "certificateSigningRequest": STANDARD.encode(csr_pem(&other, &spki)),
    });
    assert_rejected(
        "CSR signed by another key",
        post(&env, &body).await,
        400,
        3,
        "csr_signature",
    );

    // Garbage CSRs.
    for csr in ["!!", "bm90IGEgY3Ny"] {
        let body =
            json!({"credentials": {"oidcIdentityToken": token}, "certificateSigningRequest": csr});
        assert_rejected(
            &format!("CSR {csr:?}"),
            post(&env, &body).await,
            400,
            3,
            "csr",
        );
    }

    assert_nothing_issued(
        &env,
        &["proof_of_possession", "csr_signature", "public_key", "csr"],
    )
    .await;
}

/// RSAPublicKey, to build SPKIs of arbitrary (weak) RSA keys: the key checks run before any
/// signature is verified, so no private key is needed.
#[derive(der::Sequence)]
struct RsaPub {
    n: der::asn1::Uint,
    e: der::asn1::Uint,
}

fn rsa_spki(bits: usize, e: &[u8]) -> Vec<u8> {
    use der::Encode;
    let mut n = vec![0xC5u8; bits / 8];
    n[bits / 8 - 1] |= 1;
    let key = RsaPub {
        n: der::asn1::Uint::new(&n).unwrap(),
        e: der::asn1::Uint::new(e).unwrap(),
    };
    spki::SubjectPublicKeyInfoOwned {
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
            parameters: Some(der::asn1::Any::from(der::asn1::Null)),
        },
        subject_public_key: der::asn1::BitString::from_bytes(&key.to_der().unwrap()).unwrap(),
    }
    .to_der()
    .unwrap()
}

fn ec_spki(curve: &str, point_len: usize) -> Vec<u8> {
    use der::Encode;
    let mut point = vec![0x04u8];
    point.extend(std::iter::repeat_n(0x11, point_len));
    spki::SubjectPublicKeyInfoOwned {
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
            parameters: Some(der::asn1::Any::from(
                der::asn1::ObjectIdentifier::new(curve).unwrap(),
            )),
        },
        subject_public_key: der::asn1::BitString::from_bytes(&point).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[tokio::test]
async fn weak_keys_rejected() {
    let env = setup().await;
    let token = mint(&env.key, &claims(env.issuer.url()));
    let (kp, _) = client_key();
    let cases = [
        ("RSA 1024", rsa_spki(1024, &[1, 0, 1]), "weak_key"),
        ("RSA 1536", rsa_spki(1536, &[1, 0, 1]), "weak_key"),
        ("RSA 8192", rsa_spki(8192, &[1, 0, 1]), "weak_key"),
        ("RSA 2048 e=3", rsa_spki(2048, &[3]), "weak_key"),
        (
            "P-192",
            ec_spki("1.2.840.10045.3.1.1", 48),
            "unsupported_key",
        ),
        ("secp256k1", ec_spki("1.3.132.0.10", 64), "unsupported_key"),
    ];
    for (what, spki, check) in &cases {
        // publicKeyRequest: refused before the PoP is looked at.
        let mut body = pkr_body(&token, &kp, spki, b"alice@example.com");
        body["publicKeyRequest"]["publicKey"]["algorithm"] =
            json!("PUBLIC_KEY_ALGORITHM_UNSPECIFIED");
        assert_rejected(
            &format!("{what} (publicKeyRequest)"),
            post(&env, &body).await,
            400,
            3,
            check,
        );
        // CSR (signature irrelevant: the key check comes first).
        let csr = csr_der(spki, |tbs| sign(&kp, tbs));
        let body = json!({"credentials": {"oidcIdentityToken": token}, "certificateSigningRequest": STANDARD.encode(csr)});
        assert_rejected(
            &format!("{what} (CSR)"),
            post(&env, &body).await,
            400,
            3,
            check,
        );
    }
    assert_nothing_issued(&env, &["weak_key", "unsupported_key"]).await;
}

#[tokio::test]
async fn request_shape_and_size_attacks() {
    let env = setup().await;
    let token = mint(&env.key, &claims(env.issuer.url()));
    let (kp, spki) = client_key();
    let url = format!("{}/api/v2/signingCert", env.ca);

    // Malformed JSON and wrong JSON types.
    for raw in [
        "{not json",
        "[1,2]",
        "null",
        "\"x\"",
        "{\"credentials\": 5}",
    ] {
        let r = env
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert_rejected(&format!("body {raw:?}"), (status, v), 400, 3, "malformed");
    }

    // Both request shapes at once, and neither.
    let mut both = pkr_body(&token, &kp, &spki, b"alice@example.com");
    both["certificateSigningRequest"] = json!(STANDARD.encode(csr_pem(&kp, &spki)));
    assert_rejected(
        "both shapes",
        post(&env, &both).await,
        400,
        3,
        "request_shape",
    );
    let neither = json!({"credentials": {"oidcIdentityToken": token}});
    assert_rejected(
        "neither shape",
        post(&env, &neither).await,
        400,
        3,
        "request_shape",
    );

    // No token anywhere.
    let body = json!({"certificateSigningRequest": STANDARD.encode(csr_pem(&kp, &spki))});
    assert_rejected(
        "no token",
        post(&env, &body).await,
        401,
        16,
        "missing_token",
    );

    // Token in the header and a different one in the body: refused (documented rule: both
    // may be sent only when identical).
    let mut other_claims = claims(env.issuer.url());
    other_claims["email"] = json!("bob@example.com");
    let other_token = mint(&env.key, &other_claims);
    let r = env
        .http
        .post(&url)
        .bearer_auth(&other_token)
        .json(&csr_body(&token))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_rejected(
        "header and body tokens differ",
        (status, r.json().await.unwrap()),
        400,
        3,
        "conflicting_tokens",
    );

    // Oversized body: 413.
    let big =
        json!({"credentials": {"oidcIdentityToken": "a".repeat(vouch_ca::api::MAX_REQUEST_BYTES)}});
    let r = env.http.post(&url).json(&big).send().await.unwrap();
    let status = r.status().as_u16();
    assert_rejected(
        "oversized body",
        (status, r.json().await.unwrap()),
        413,
        3,
        "too_large",
    );

    // Oversized token in the Authorization header (the body itself is small): 413.
    let huge_token = format!("{}.{}.{}", "a".repeat(40_000), "b".repeat(40_000), "c");
    let r = env
        .http
        .post(&url)
        .bearer_auth(&huge_token)
        .json(&json!({"certificateSigningRequest": STANDARD.encode(csr_pem(&kp, &spki))}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_rejected(
        "oversized token",
        (status, r.json().await.unwrap()),
        413,
        3,
        "token_too_large",
    );

    assert_nothing_issued(
        &env,
        &[
            "malformed",
            "request_shape",
            "missing_token",
            "conflicting_tokens",
            "too_large",
            "token_too_large",
        ],
    )
    .await;

    // The same token in both places is fine (a proxy copying the header into the body).
    let r = env
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&csr_body(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let m = metrics(&env).await;
    assert!(m.contains("vouch_ca_certificates_issued_total 1"), "{m}");
}

#[tokio::test]
async fn valid_requests_still_succeed() {
    // Control for the corpus: the same harness issues for honest requests of both shapes,
    // with RSA and Ed25519 issuer keys.
    let rsa = rsa_key("rsa-1", Algorithm::RS256);
    let ed = ed_key("ed-1");
    let ec = ec_key("ec-1");
    let issuer = Issuer::start(&[&rsa, &ed, &ec]).await;
    let config = ca_config(issuer.url());
    let env = setup_with(issuer, ec, config, |s| s).await;
    let c = claims(env.issuer.url());
    let (kp, spki) = client_key();
    for key in [&rsa, &ed, &env.key] {
        let t = mint(key, &c);
        let (s, v) = post(&env, &pkr_body(&t, &kp, &spki, b"alice@example.com")).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = post(&env, &csr_body(&t)).await;
        assert_eq!(s, 200, "{v}");
    }
}
