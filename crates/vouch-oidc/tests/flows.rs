//! The IdP over HTTP: authorization code + PKCE, device flow, CI tokens, the development
//! grant, the client helpers, and verification of every token by the CA's OIDC verifier.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use vouch_ca::{FulcioConfig, OidcVerifier, San};
use vouch_oidc::{Idp, IdpOptions, UserPolicy, hash_password, pkce_pair};

struct TestIdp {
    url: String,
    idp: Arc<Idp>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start(configure: impl FnOnce(&mut IdpOptions)) -> TestIdp {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut opts = IdpOptions::new(url.clone());
    opts.device_poll_interval = Duration::from_secs(1);
    configure(&mut opts);
    let idp = Arc::new(Idp::load_or_generate(&dir.path().join("oidc"), opts).unwrap());
    let app = vouch_oidc::router(Arc::clone(&idp));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestIdp {
        url,
        idp,
        http,
        _dir: dir,
    }
}

impl TestIdp {
    fn verifier(&self) -> OidcVerifier {
        let cfg =
            FulcioConfig::from_json(&serde_json::to_string(&self.idp.issuer_config()).unwrap())
                .unwrap();
        OidcVerifier::new(cfg, reqwest::Client::new())
    }

    async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let body = encode(pairs);
        self.http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }
}

fn encode(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The hidden inputs of a rendered form.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" ").skip(1) {
        let name = part
            .split("name=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let value = part
            .split("value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        out.push((unescape(name), unescape(value)));
    }
    out
}

fn query_of(location: &str) -> HashMap<String, String> {
    let u = url::Url::parse(location).unwrap();
    u.query_pairs().into_owned().collect()
}

fn auth_url(idp: &TestIdp, redirect: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&format!("{}/auth", idp.url)).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "sigstore")
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid email")
        .append_pair("state", "st<ate>&\"1\"")
        .append_pair("nonce", "n-0S6_WzA2Mj")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        u.query_pairs_mut().append_pair(k, v);
    }
    u.to_string()
}

/// GET the login page, submit it with `email` (and `password`); return the response.
async fn login(
    idp: &TestIdp,
    auth: &str,
    email: &str,
    password: Option<&str>,
) -> (reqwest::Response, String) {
    let page = idp.http.get(auth).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    let mut form = hidden_fields(&html);
    form.push(("email".into(), email.into()));
    if let Some(p) = password {
        form.push(("password".into(), p.into()));
    }
    form.push(("action".into(), "login".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (idp.post_form("/auth", &pairs).await, html)
}

async fn exchange(
    idp: &TestIdp,
    code: &str,
    verifier: &str,
    redirect: &str,
) -> (StatusCode, Value) {
    let r = idp
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", redirect),
                ("client_id", "sigstore"),
            ],
        )
        .await;
    let status = r.status();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn discovery_jwks_and_dev_grant() {
    let idp = start(|_| {}).await;
    let d: Value = idp
        .http
        .get(format!("{}/.well-known/openid-configuration", idp.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], idp.url);
    assert_eq!(d["authorization_endpoint"], format!("{}/auth", idp.url));
    assert_eq!(d["token_endpoint"], format!("{}/token", idp.url));
    assert_eq!(
        d["device_authorization_endpoint"],
        format!("{}/device/code", idp.url)
    );
    assert_eq!(d["jwks_uri"], format!("{}/jwks", idp.url));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    let grants = d["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!("authorization_code")));
    assert!(grants.contains(&json!("urn:ietf:params:oauth:grant-type:device_code")));
    assert!(!grants.contains(&json!("client_credentials")));

    let jwks: Value = idp
        .http
        .get(format!("{}/jwks", idp.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], idp.idp.kid());
    // RFC 7638 thumbprint.
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        key["x"].as_str().unwrap(),
        key["y"].as_str().unwrap()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    assert_eq!(key["kid"], URL_SAFE_NO_PAD.encode(digest.as_ref()));

    // The development grant, unchanged: JSON and form.
    let (s, v) = idp
        .post_json(
            "/token",
            json!({"email": "dev@example.test", "audience": "sigstore"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 600);
    let c = claims(v["id_token"].as_str().unwrap());
    assert_eq!(c["email"], "dev@example.test");
    assert_eq!(c["aud"], "sigstore");
    let verified = idp
        .verifier()
        .verify(v["id_token"].as_str().unwrap())
        .await
        .unwrap();
    let identity = idp
        .verifier()
        .config()
        .identity_for(&verified.claims)
        .unwrap();
    assert_eq!(identity.san, San::Email("dev@example.test".into()));

    let r = idp
        .post_form(
            "/token",
            &[("email", "x@example.test"), ("audience", "other")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(claims(v["id_token"].as_str().unwrap())["aud"], "other");

    // OAuth errors.
    for (body, error) in [
        (json!({}), "invalid_request"),
        (json!({"email": "not-an-email"}), "invalid_request"),
        (json!({"grant_type": "password"}), "unsupported_grant_type"),
        (json!({"email": 5}), "invalid_request"),
        (json!({"ci": "github-actions"}), "unauthorized_client"),
    ] {
        let (s, v) = idp.post_json("/token", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["error"], error, "{body}: {v}");
        assert!(v["error_description"].is_string());
    }
    let r = idp
        .http
        .post(format!("{}/token", idp.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = idp
        .http
        .post(format!("{}/token", idp.url))
        .body(vec![b'a'; 200_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // CI discovery does not exist when CI tokens are off.
    let r = idp
        .http
        .get(format!(
            "{}/ci/github-actions/.well-known/openid-configuration",
            idp.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn key_and_issuer_json_persist() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("oidc");
    let a = Idp::load_or_generate(&data, IdpOptions::new("http://127.0.0.1:9/")).unwrap();
    assert!(a.key_generated());
    assert_eq!(a.issuer(), "http://127.0.0.1:9");
    let b = Idp::load_or_generate(&data, IdpOptions::new("http://127.0.0.1:9")).unwrap();
    assert!(!b.key_generated());
    assert_eq!(a.kid(), b.kid());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("oidc.key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pem = std::fs::read_to_string(data.join("oidc.key.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("issuer.json")).unwrap()).unwrap();
    assert_eq!(
        cfg,
        json!({"OIDCIssuers": {"http://127.0.0.1:9": {
            "IssuerURL": "http://127.0.0.1:9", "ClientID": "sigstore", "Type": "email"}}})
    );
    assert!(Idp::load_or_generate(&data, IdpOptions::new("ftp://x")).is_err());
}

#[tokio::test]
async fn auth_code_pkce_flow() {
    let idp = start(|_| {}).await;
    let pkce = pkce_pair().unwrap();
    let redirect = "http://127.0.0.1:8765/auth/callback";
    let auth = auth_url(&idp, redirect, &pkce.challenge, &[]);
    let (r, html) = login(&idp, &auth, "Alice@Example.test", None).await;
    // Request parameters are HTML-escaped in the page.
    assert!(html.contains("st&lt;ate&gt;&amp;&quot;1&quot;"), "{html}");
    assert!(!html.contains("name=\"password\""));
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(redirect), "{location}");
    let q = query_of(&location);
    assert_eq!(q["state"], "st<ate>&\"1\"");
    let code = q["code"].clone();

    let (s, v) = exchange(&idp, &code, &pkce.verifier, redirect).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 600);
    assert!(v["access_token"].is_string());
    let token = v["id_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(c["email"], "Alice@Example.test");
    assert_eq!(c["sub"], "Alice@Example.test");
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["aud"], "sigstore");
    assert_eq!(c["iss"], idp.url);
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 600);
    let verifier = idp.verifier();
    let verified = verifier.verify(token).await.unwrap();
    let identity = verifier.config().identity_for(&verified.claims).unwrap();
    assert_eq!(identity.san, San::Email("Alice@Example.test".into()));

    // Codes are single-use.
    let (s, v) = exchange(&idp, &code, &pkce.verifier, redirect).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_grant");

    // A login form is single-use too.
    let page = idp
        .http
        .get(&auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = hidden_fields(&page);
    form.push(("email".into(), "a@example.test".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        idp.post_form("/auth", &pairs).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        idp.post_form("/auth", &pairs).await.status(),
        StatusCode::BAD_REQUEST
    );
    // Tampered echoed parameters are refused.
    let page = idp
        .http
        .get(&auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = hidden_fields(&page);
    for (k, v) in &mut form {
        if k == "redirect_uri" {
            *v = "http://127.0.0.1:1/evil".into();
        }
    }
    form.push(("email".into(), "a@example.test".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        idp.post_form("/auth", &pairs).await.status(),
        StatusCode::BAD_REQUEST
    );
    // Cancel redirects with access_denied.
    let page = idp
        .http
        .get(&auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = hidden_fields(&page);
    form.push(("action".into(), "cancel".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = idp.post_form("/auth", &pairs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(q["error"], "access_denied");
}

#[tokio::test]
async fn wrong_verifier_and_mismatches_rejected() {
    let idp = start(|_| {}).await;
    let pkce = pkce_pair().unwrap();
    let other = pkce_pair().unwrap();
    let redirect = "http://localhost:4444/cb";
    let get_code = || async {
        let (r, _) = login(
            &idp,
            &auth_url(&idp, redirect, &pkce.challenge, &[]),
            "bob@example.test",
            None,
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        query_of(r.headers()["location"].to_str().unwrap())["code"].clone()
    };

    // Wrong verifier: refused, and the code is burnt.
    let code = get_code().await;
    let (s, v) = exchange(&idp, &code, &other.verifier, redirect).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_grant");
    assert!(v["error_description"].as_str().unwrap().contains("PKCE"));
    let (s, _) = exchange(&idp, &code, &pkce.verifier, redirect).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Another redirect_uri or client_id.
    let code = get_code().await;
    let (s, v) = exchange(&idp, &code, &pkce.verifier, "http://localhost:4445/cb").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let code = get_code().await;
    let r = idp
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", redirect),
                ("client_id", "someone-else"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Missing verifier.
    let r = idp
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", redirect),
                ("client_id", "sigstore"),
            ],
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
}

#[tokio::test]
async fn redirect_uri_and_request_checks() {
    let idp = start(|o| o.redirect_uris = vec!["https://app.example.test/cb".into()]).await;
    let pkce = pkce_pair().unwrap();
    for bad in [
        "https://evil.example/cb",
        "http://evil.example:8080/cb",
        "http://127.0.0.1.evil.example/cb",
        "https://127.0.0.1/cb",
        "http://127.0.0.1:5/cb#frag",
        "not a uri",
    ] {
        let r = idp
            .http
            .get(auth_url(&idp, bad, &pkce.challenge, &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.headers().get("location").is_none(), "{bad}");
    }
    for good in [
        "http://127.0.0.1:5/cb",
        "http://localhost/cb",
        "http://[::1]:9/x?y=1",
        "https://app.example.test/cb",
    ] {
        let r = idp
            .http
            .get(auth_url(&idp, good, &pkce.challenge, &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{good}");
    }
    // Unknown client: an error page, not a redirect.
    let url = auth_url(&idp, "http://127.0.0.1:5/cb", &pkce.challenge, &[])
        .replace("client_id=sigstore", "client_id=other");
    let r = idp.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // PKCE is required, S256 only: errors go back to the client.
    for (url, error) in [
        (
            auth_url(&idp, "http://127.0.0.1:5/cb", "", &[]).replace("code_challenge=&", ""),
            "invalid_request",
        ),
        (
            auth_url(&idp, "http://127.0.0.1:5/cb", &pkce.challenge, &[])
                .replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            auth_url(&idp, "http://127.0.0.1:5/cb", &pkce.challenge, &[])
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            auth_url(&idp, "http://127.0.0.1:5/cb", &pkce.challenge, &[])
                .replace("scope=openid+email", "scope=email"),
            "invalid_scope",
        ),
    ] {
        let r = idp.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{url}");
        let q = query_of(r.headers()["location"].to_str().unwrap());
        assert_eq!(q["error"], error, "{url}");
        assert_eq!(q["state"], "st<ate>&\"1\"");
    }
    // Repeated parameters are refused.
    let url = format!(
        "{}&client_id=sigstore",
        auth_url(&idp, "http://127.0.0.1:5/cb", &pkce.challenge, &[])
    );
    assert_eq!(
        idp.http.get(url).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn users_file_with_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.txt");
    let hash = hash_password("s3cret pass").unwrap();
    std::fs::write(
        &users,
        format!("# users\nalice@example.test:{hash}\nbob@example.test\n"),
    )
    .unwrap();
    let idp = start(|o| o.users = UserPolicy::UsersFile(users.clone())).await;
    let pkce = pkce_pair().unwrap();
    let redirect = "http://127.0.0.1:7/cb";
    let auth = auth_url(&idp, redirect, &pkce.challenge, &[]);

    let (r, html) = login(&idp, &auth, "alice@example.test", Some("wrong")).await;
    assert!(html.contains("name=\"password\""));
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The form is shown again with a fresh nonce: retry with the right password.
    let html = r.text().await.unwrap();
    assert!(html.contains("wrong password"));
    let mut form = hidden_fields(&html);
    form.push(("email".into(), "alice@example.test".into()));
    form.push(("password".into(), "s3cret pass".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = idp.post_form("/auth", &pairs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let code = query_of(r.headers()["location"].to_str().unwrap())["code"].clone();
    let (s, v) = exchange(&idp, &code, &pkce.verifier, redirect).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Unlisted users are refused; bob has no password.
    let (r, _) = login(&idp, &auth, "eve@example.test", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (r, _) = login(&idp, &auth, "bob@example.test", None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The development grant needs alice's password.
    let (s, v) = idp
        .post_json("/token", json!({"email": "alice@example.test"}))
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("access_denied"))
    );
    let (s, _) = idp
        .post_json(
            "/token",
            json!({"email": "alice@example.test", "password": "s3cret pass"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = idp
        .post_json("/token", json!({"email": "eve@example.test"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(idp.idp.users_summary().contains("2 listed"));
}

async fn device_code(idp: &TestIdp) -> Value {
    let r = idp
        .post_form(
            "/device/code",
            &[("client_id", "sigstore"), ("scope", "openid email")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn poll(idp: &TestIdp, device_code: &str) -> (StatusCode, Value) {
    let r = idp
        .post_form(
            "/token",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", "sigstore"),
            ],
        )
        .await;
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// Open the device page (from `verification_uri_complete`) and submit it.
async fn device_submit(idp: &TestIdp, page_url: &str, email: &str, action: &str) -> StatusCode {
    let html = idp
        .http
        .get(page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_fields(&html)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .unwrap()
        .1;
    let user_code = html
        .split("name=\"user_code\"")
        .nth(1)
        .unwrap()
        .split("value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = idp
        .post_form(
            "/device",
            &[
                ("csrf", &csrf),
                ("user_code", &user_code.to_lowercase()),
                ("email", email),
                ("action", action),
            ],
        )
        .await;
    r.status()
}

#[tokio::test]
async fn device_flow_pending_approved_token() {
    let idp = start(|_| {}).await;
    let d = device_code(&idp).await;
    assert_eq!(d["verification_uri"], format!("{}/device", idp.url));
    assert_eq!(d["interval"], 1);
    assert_eq!(d["expires_in"], 600);
    let uc = d["user_code"].as_str().unwrap();
    assert_eq!(uc.len(), 9);
    assert_eq!(
        d["verification_uri_complete"],
        format!("{}/device?user_code={uc}", idp.url)
    );
    let dc = d["device_code"].as_str().unwrap();

    let (s, v) = poll(&idp, dc).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("authorization_pending"))
    );

    let page = d["verification_uri_complete"].as_str().unwrap();
    assert_eq!(
        device_submit(&idp, page, "carol@example.test", "approve").await,
        StatusCode::OK
    );
    // A used code cannot be approved again.
    assert_eq!(
        device_submit(&idp, page, "mallory@example.test", "approve").await,
        StatusCode::BAD_REQUEST
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, v) = poll(&idp, dc).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["id_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["email"], "carol@example.test");
    assert_eq!(c["aud"], "sigstore");
    let verifier = idp.verifier();
    let verified = verifier.verify(token).await.unwrap();
    assert_eq!(
        verifier
            .config()
            .identity_for(&verified.claims)
            .unwrap()
            .san,
        San::Email("carol@example.test".into())
    );
    // The device code is consumed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, v) = poll(&idp, dc).await;
    assert_eq!(v["error"], "invalid_grant");
    // Unknown client.
    let r = idp
        .post_form("/device/code", &[("client_id", "nope")])
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
}

#[tokio::test]
async fn device_flow_slow_down_and_denied() {
    let idp = start(|_| {}).await;
    let d = device_code(&idp).await;
    let dc = d["device_code"].as_str().unwrap();
    let (_, v) = poll(&idp, dc).await;
    assert_eq!(v["error"], "authorization_pending");
    let (s, v) = poll(&idp, dc).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("slow_down"))
    );
    // The interval grew by 5 s: polling after the old interval is still too fast.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, v) = poll(&idp, dc).await;
    assert_eq!(v["error"], "slow_down");

    // Denied.
    let d = device_code(&idp).await;
    let dc = d["device_code"].as_str().unwrap();
    let page = d["verification_uri_complete"].as_str().unwrap();
    // Denying needs a login too (anyone knowing the code could otherwise deny it).
    assert_eq!(
        device_submit(&idp, page, "", "deny").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        device_submit(&idp, page, "dana@example.test", "deny").await,
        StatusCode::OK
    );
    let (s, v) = poll(&idp, dc).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("access_denied"))
    );

    // Wrong user code and stale CSRF token.
    let html = idp
        .http
        .get(format!("{}/device", idp.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_fields(&html).remove(0).1;
    let form = [
        ("csrf", csrf.as_str()),
        ("user_code", "BBBB-BBBB"),
        ("email", "a@example.test"),
        ("action", "approve"),
    ];
    assert_eq!(
        idp.post_form("/device", &form).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        idp.post_form("/device", &form).await.status(),
        StatusCode::BAD_REQUEST
    );
    let (_, v) = poll(&idp, "no-such-code").await;
    assert_eq!(v["error"], "invalid_grant");
}

#[tokio::test]
async fn ci_tokens_map_to_workflow_identities() {
    let idp = start(|o| o.allow_ci_tokens = true).await;
    let verifier = idp.verifier();
    let host = idp.url.trim_start_matches("http://").to_string();

    let d: Value = idp
        .http
        .get(format!(
            "{}/ci/github-actions/.well-known/openid-configuration",
            idp.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], format!("{}/ci/github-actions", idp.url));
    assert_eq!(d["jwks_uri"], format!("{}/jwks", idp.url));

    // GitHub Actions.
    let (s, v) = idp
        .post_json(
            "/token",
            json!({"ci": "github-actions", "claims": {
                "repository": "acme/widget", "ref": "refs/tags/v1.2.0",
                "workflow_ref": "acme/widget/.github/workflows/release.yml@refs/tags/v1.2.0",
                "event_name": "release", "run_id": 42,
            }}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["id_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["iss"], format!("{}/ci/github-actions", idp.url));
    assert_eq!(c["sub"], "repo:acme/widget:ref:refs/tags/v1.2.0");
    assert_eq!(c["repository_owner"], "acme");
    assert_eq!(c["aud"], "sigstore");
    let verified = verifier.verify(token).await.unwrap();
    let id = verifier.config().identity_for(&verified.claims).unwrap();
    assert_eq!(
        id.san,
        San::Uri(
            "https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1.2.0".into()
        )
    );
    assert_eq!(id.extension(5), Some("acme/widget"));
    assert_eq!(id.extension(20), Some("release"));
    assert_eq!(id.extension(6), Some("refs/tags/v1.2.0"));
    assert_eq!(
        id.extension(21),
        Some("https://github.com/acme/widget/actions/runs/42/attempts/1")
    );
    assert_eq!(
        id.extension(24),
        Some("repo:acme/widget:ref:refs/tags/v1.2.0")
    );

    // GitLab CI, form-encoded.
    let r = idp
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("ci", "gitlab"),
                (
                    "claims",
                    r#"{"namespace_path":"grp","ref":"v2","ref_type":"tag"}"#,
                ),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let token = v["id_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["project_path"], "grp/project");
    assert_eq!(c["sub"], "project_path:grp/project:ref_type:tag:ref:v2");
    let verified = verifier.verify(token).await.unwrap();
    let id = verifier.config().identity_for(&verified.claims).unwrap();
    assert_eq!(
        id.san,
        San::Uri(format!(
            "https://{host}/grp/project//.gitlab-ci.yml@refs/tags/v2"
        ))
    );
    assert_eq!(id.extension(14), Some("refs/tags/v2"));
    assert_eq!(id.extension(20), Some("push"));

    // Buildkite.
    let (s, v) = idp
        .post_json("/token", json!({"ci": "buildkite", "audience": "sigstore"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let verified = verifier
        .verify(v["id_token"].as_str().unwrap())
        .await
        .unwrap();
    let id = verifier.config().identity_for(&verified.claims).unwrap();
    assert_eq!(
        id.san,
        San::Uri("https://buildkite.com/example-org/example-pipeline".into())
    );

    // Bad requests.
    for body in [
        json!({"ci": "jenkins"}),
        json!({"ci": "gitlab", "claims": {"iss": "https://gitlab.com"}}),
        json!({"ci": "gitlab", "claims": {"x": {"nested": 1}}}),
        json!({"ci": "gitlab", "claims": [1]}),
    ] {
        let (s, v) = idp.post_json("/token", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(v["error"], "invalid_request", "{body}");
    }
    // issuer.json lists the CI issuers with their types.
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(idp.idp.issuer_file()).unwrap()).unwrap();
    assert_eq!(
        cfg["OIDCIssuers"][format!("{}/ci/gitlab", idp.url)]["Type"],
        "gitlab-pipeline"
    );
}

#[tokio::test]
async fn client_helpers_end_to_end() {
    let idp = start(|_| {}).await;
    let verifier = idp.verifier();

    // Device flow: the "user" approves from the prompt.
    let http = idp.http.clone();
    let base = idp.url.clone();
    let token = vouch_oidc::device_flow(&http, &idp.url, "sigstore", |p| {
        let page = p.verification_uri_complete.clone().unwrap();
        let http = http.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let html = http.get(&page).send().await.unwrap().text().await.unwrap();
            let csrf = hidden_fields(&html).remove(0).1;
            let uc = page.split("user_code=").nth(1).unwrap().to_string();
            let body = encode(&[
                ("csrf", &csrf),
                ("user_code", &uc),
                ("email", "dave@example.test"),
                ("action", "approve"),
            ]);
            let r = http
                .post(format!("{base}/device"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        });
    })
    .await
    .unwrap();
    let verified = verifier.verify(&token).await.unwrap();
    assert_eq!(verified.claims["email"], "dave@example.test");

    // Loopback authorization-code flow: the "browser" logs in and follows the redirect.
    let http = idp.http.clone();
    let discovery = format!("{}/.well-known/openid-configuration", idp.url);
    let token = vouch_oidc::auth_code_flow_loopback(&http, &idp.url, "sigstore", |url| {
        let url = url.to_string();
        let http = http.clone();
        let base = idp.url.clone();
        tokio::spawn(async move {
            assert!(url.contains("code_challenge_method=S256"));
            assert!(url.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"));
            let html = http.get(&url).send().await.unwrap().text().await.unwrap();
            let mut form = hidden_fields(&html);
            form.push(("email".into(), "erin@example.test".into()));
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let body = encode(&pairs);
            let r = http
                .post(format!("{base}/auth"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let loc = r.headers()["location"].to_str().unwrap().to_string();
            let done = http.get(&loc).send().await.unwrap();
            assert_eq!(done.status(), StatusCode::OK);
        });
    })
    .await
    .unwrap();
    let verified = verifier.verify(&token).await.unwrap();
    assert_eq!(verified.claims["email"], "erin@example.test");
    assert!(verified.claims["nonce"].is_string());

    // Discovery by full URL works too, and errors surface as OAuth errors.
    let meta = vouch_oidc::discover(&idp.http, &discovery).await.unwrap();
    assert_eq!(meta.issuer, idp.url);
    let err = vouch_oidc::device_flow(&idp.http, &idp.url, "unknown-client", |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, vouch_oidc::Error::OAuth { error, .. } if error == "invalid_client"),
        "{err}"
    );
}
