//! OIDC client helpers: PKCE, the device flow and the loopback authorization-code flow.
//!
//! They speak standard OIDC (discovery, RFC 7636, RFC 8628, RFC 8252) as public clients
//! without a secret, so they work against this crate's IdP and against providers such as
//! Dex (`https://oauth2.sigstore.dev/auth`, client ID `sigstore`).

use crate::util::{encode_form, random_token};
use crate::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Scopes requested by the helpers.
const SCOPES: &str = "openid email";
/// Path of the loopback redirect URI.
const CALLBACK_PATH: &str = "/auth/callback";
/// How long [`auth_code_flow_loopback`] waits for the browser.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest device flow accepted, whatever `expires_in` says.
const MAX_DEVICE_WAIT: Duration = Duration::from_secs(1800);
/// Largest response body read from a provider.
const MAX_RESPONSE: usize = 1024 * 1024;

/// A PKCE code verifier and its S256 challenge (RFC 7636).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkcePair {
    /// The secret `code_verifier` (43 base64url characters, 256 random bits).
    pub verifier: String,
    /// `code_challenge` = base64url(SHA-256(verifier)), method `S256`.
    pub challenge: String,
}

/// A fresh PKCE verifier and S256 challenge.
pub fn pkce_pair() -> Result<PkcePair> {
    let verifier = random_token(32).map_err(Error::Protocol)?;
    let challenge = crate::server::s256(&verifier);
    Ok(PkcePair {
        verifier,
        challenge,
    })
}

/// An OIDC discovery document (`/.well-known/openid-configuration`, OpenID Connect Discovery
/// 1.0 §3): what this crate's IdP serves and what the client helpers read. Unset fields are
/// omitted when written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// `device_authorization_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `response_types_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types_supported: Vec<String>,
    /// `response_modes_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_modes_supported: Vec<String>,
    /// `subject_types_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_types_supported: Vec<String>,
    /// `id_token_signing_alg_values_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `grant_types_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types_supported: Vec<String>,
    /// `code_challenge_methods_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// `token_endpoint_auth_methods_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `claims_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims_supported: Vec<String>,
    /// `scopes_supported`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
}

/// What the user must do to approve a device flow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DevicePrompt {
    /// The code to enter.
    pub user_code: String,
    /// Where to enter it.
    pub verification_uri: String,
    /// The same page with the code filled in, if the provider gives one.
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    /// Seconds until the code expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// An RFC 8628 device authorization response (§3.2): what the provider's device endpoint
/// answers, written by vouch's IdP and read by the device flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    /// The code the client polls the token endpoint with.
    #[serde(default)]
    pub device_code: String,
    /// The code the user enters.
    #[serde(default)]
    pub user_code: String,
    /// Where the user enters it.
    #[serde(default)]
    pub verification_uri: String,
    /// The same page with the code filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<String>,
    /// Seconds until the codes expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Seconds to wait between polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
}

/// Fetch the discovery document of `issuer_or_url`: an issuer URL, or the full
/// `…/.well-known/openid-configuration` URL.
pub async fn discover(http: &reqwest::Client, issuer_or_url: &str) -> Result<ProviderMetadata> {
    let url = if issuer_or_url.ends_with("/.well-known/openid-configuration") {
        issuer_or_url.to_string()
    } else {
        format!(
            "{}/.well-known/openid-configuration",
            issuer_or_url.trim_end_matches('/')
        )
    };
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|source| Error::Request {
            what: "cannot fetch",
            url: url.clone(),
            source,
        })?;
    let status = resp.status();
    let body = read_body(resp, &url).await?;
    if !status.is_success() {
        return Err(Error::Http(format!("{url}: HTTP {status}")));
    }
    serde_json::from_slice(&body).map_err(|source| Error::Json {
        what: format!("{url}: discovery document"),
        source,
    })
}

async fn read_body(resp: reqwest::Response, url: &str) -> Result<Vec<u8>> {
    if resp
        .content_length()
        .is_some_and(|l| l > MAX_RESPONSE as u64)
    {
        return Err(Error::Protocol(format!("{url}: response too large")));
    }
    let b = resp.bytes().await.map_err(|source| Error::Request {
        what: "cannot read the response of",
        url: url.to_string(),
        source,
    })?;
    if b.len() > MAX_RESPONSE {
        return Err(Error::Protocol(format!("{url}: response too large")));
    }
    Ok(b.to_vec())
}

/// POST a form; a 2xx JSON object is `Ok`, an OAuth error body is [`Error::OAuth`].
async fn post_form(
    http: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
) -> Result<serde_json::Map<String, Value>> {
    let resp = http
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(encode_form(pairs))
        .send()
        .await
        .map_err(|source| Error::Request {
            what: "cannot reach",
            url: url.to_string(),
            source,
        })?;
    let status = resp.status();
    let body = read_body(resp, url).await?;
    let json: Option<serde_json::Map<String, Value>> = serde_json::from_slice(&body).ok();
    match json {
        Some(m) if status.is_success() => Ok(m),
        Some(m) if m.get("error").and_then(Value::as_str).is_some() => Err(Error::OAuth {
            error: m
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            description: m
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("no description")
                .to_string(),
        }),
        _ => Err(Error::Http(format!(
            "{url}: HTTP {status}: {}",
            String::from_utf8_lossy(body.get(..200).unwrap_or(&body))
        ))),
    }
}

fn id_token_of(m: &serde_json::Map<String, Value>) -> Result<String> {
    m.get("id_token")
        .and_then(Value::as_str)
        .filter(|t| t.split('.').count() == 3)
        .map(str::to_string)
        .ok_or_else(|| Error::Protocol("the token response has no id_token".into()))
}

/// The unverified claims of a compact JWT (the CA verifies the signature).
fn unverified_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Get an ID token with the device authorization grant (RFC 8628).
///
/// `discovery_url` is the issuer URL or its discovery document URL. `on_prompt` is called
/// once with the code and the page where the user enters it; then the token endpoint is
/// polled at the provider's interval (honouring `slow_down`) until the user approves,
/// denies ([`Error::OAuth`] `access_denied`) or the code expires (`expired_token`).
pub async fn device_flow(
    http: &reqwest::Client,
    discovery_url: &str,
    client_id: &str,
    mut on_prompt: impl FnMut(&DevicePrompt),
) -> Result<String> {
    let meta = discover(http, discovery_url).await?;
    let device_endpoint = meta.device_authorization_endpoint.ok_or_else(|| {
        Error::Protocol(format!(
            "{} does not support the device flow (no device_authorization_endpoint)",
            meta.issuer
        ))
    })?;
    let token_endpoint = meta
        .token_endpoint
        .ok_or_else(|| Error::Protocol(format!("{} has no token_endpoint", meta.issuer)))?;
    let answer = post_form(
        http,
        &device_endpoint,
        &[("client_id", client_id), ("scope", SCOPES)],
    )
    .await?;
    let auth: DeviceAuthorization =
        serde_json::from_value(Value::Object(answer)).map_err(|source| Error::Json {
            what: "device authorization response".into(),
            source,
        })?;
    if auth.device_code.is_empty() {
        return Err(Error::Protocol(
            "the device authorization has no device_code".into(),
        ));
    }
    let device_code = auth.device_code;
    let prompt = DevicePrompt {
        user_code: auth.user_code,
        verification_uri: auth.verification_uri,
        verification_uri_complete: auth.verification_uri_complete,
        expires_in: auth.expires_in,
    };
    let mut interval = Duration::from_secs(auth.interval.unwrap_or(5).clamp(1, 60));
    let lifetime = prompt
        .expires_in
        .map_or(MAX_DEVICE_WAIT, Duration::from_secs)
        .min(MAX_DEVICE_WAIT);
    let deadline = Instant::now() + lifetime;
    on_prompt(&prompt);
    loop {
        if Instant::now() + interval > deadline {
            return Err(Error::Timeout(
                "the device code expired before it was approved".into(),
            ));
        }
        tokio::time::sleep(interval).await;
        let r = post_form(
            http,
            &token_endpoint,
            &[
                ("grant_type", crate::server::DEVICE_GRANT),
                ("device_code", &device_code),
                ("client_id", client_id),
            ],
        )
        .await;
        match r {
            Ok(m) => return id_token_of(&m),
            Err(Error::OAuth { error, .. }) if error == "authorization_pending" => {}
            Err(Error::OAuth { error, .. }) if error == "slow_down" => {
                interval += Duration::from_secs(5);
            }
            Err(e) => return Err(e),
        }
    }
}

/// What the loopback listener received.
type Callback = HashMap<String, String>;

/// Get an ID token with the authorization-code flow and PKCE, through the user's browser
/// and a one-shot loopback listener (RFC 8252 §7.3).
///
/// Listens on `127.0.0.1:0`, builds the authorization URL for redirect URI
/// `http://localhost:<port>/auth/callback` (the form Sigstore clients use with Dex), calls
/// `open_browser` with it, waits up to 5 minutes for the redirect, checks `state`,
/// exchanges the code with the PKCE verifier, and checks the ID token's `nonce`.
pub async fn auth_code_flow_loopback(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    open_browser: impl Fn(&str),
) -> Result<String> {
    let meta = discover(http, issuer).await?;
    let auth_endpoint = meta
        .authorization_endpoint
        .ok_or_else(|| Error::Protocol(format!("{} has no authorization_endpoint", meta.issuer)))?;
    let token_endpoint = meta
        .token_endpoint
        .ok_or_else(|| Error::Protocol(format!("{} has no token_endpoint", meta.issuer)))?;
    let pkce = pkce_pair()?;
    let state = random_token(16).map_err(Error::Protocol)?;
    let nonce = random_token(16).map_err(Error::Protocol)?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(Error::Listen)?;
    let port = listener.local_addr().map_err(Error::Listen)?.port();
    let redirect_uri = format!("http://localhost:{port}{CALLBACK_PATH}");

    let mut url = url::Url::parse(&auth_endpoint).map_err(|source| Error::Url {
        what: "authorization_endpoint",
        url: auth_endpoint.clone(),
        source,
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", SCOPES)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");

    let (tx, rx) = tokio::sync::oneshot::channel::<Callback>();
    let tx = Arc::new(Mutex::new(Some(tx)));
    let app = axum::Router::new().route(
        CALLBACK_PATH,
        axum::routing::get(move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
            let tx = Arc::clone(&tx);
            async move { callback(&tx, q.as_deref().unwrap_or_default()) }
        }),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await;
    });

    open_browser(url.as_str());
    let received = tokio::time::timeout(LOGIN_TIMEOUT, rx).await;
    let _ = stop_tx.send(());
    // Let the browser get its answer; do not wait for idle keep-alive connections.
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let params = match received {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Err(Error::Protocol("the loopback listener stopped".into())),
        Err(_) => {
            return Err(Error::Timeout(format!(
                "no sign-in within {} s",
                LOGIN_TIMEOUT.as_secs()
            )));
        }
    };
    if params.get("state") != Some(&state) {
        return Err(Error::Protocol(
            "the redirect's state does not match the request".into(),
        ));
    }
    if let Some(error) = params.get("error") {
        return Err(Error::OAuth {
            error: error.clone(),
            description: params
                .get("error_description")
                .cloned()
                .unwrap_or_else(|| "no description".into()),
        });
    }
    let code = params
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::Protocol("the redirect has no code".into()))?;
    let answer = post_form(
        http,
        &token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await?;
    let token = id_token_of(&answer)?;
    let claims = unverified_claims(&token)
        .ok_or_else(|| Error::Protocol("the id_token is not a JWT".into()))?;
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce.as_str()) {
        return Err(Error::Protocol(
            "the id_token's nonce does not match the request".into(),
        ));
    }
    Ok(token)
}

/// Handle one request to the loopback callback.
fn callback(
    tx: &Mutex<Option<tokio::sync::oneshot::Sender<Callback>>>,
    query: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let params: Callback = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !params.contains_key("code") && !params.contains_key("error") {
        return (axum::http::StatusCode::BAD_REQUEST, "not an OAuth redirect").into_response();
    }
    let ok = !params.contains_key("error");
    let sender = tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(s) = sender {
        let _ = s.send(params);
    }
    let msg = if ok {
        "Signed in. You can close this window and return to the terminal."
    } else {
        "Sign-in failed or was cancelled. You can close this window."
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        msg,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn futures_are_send() {
        fn is_send<T: Send>(_: &T) {}
        let http = reqwest::Client::new();
        let f = auth_code_flow_loopback(&http, "http://127.0.0.1:1", "sigstore", |_| {});
        is_send(&f);
        let g = device_flow(&http, "http://127.0.0.1:1", "sigstore", |_| {});
        is_send(&g);
        let h = discover(&http, "http://127.0.0.1:1");
        is_send(&h);
    }

    #[test]
    fn pkce() {
        let p = pkce_pair().unwrap_or_else(|_| PkcePair {
            verifier: String::new(),
            challenge: String::new(),
        });
        assert_eq!(p.verifier.len(), 43);
        assert_eq!(p.challenge, crate::server::s256(&p.verifier));
        assert_ne!(p.verifier, p.challenge);
    }
}
