//! HTTP endpoints of the IdP, one module per flow: [`authorize`] (authorization code with
//! PKCE), [`device`] (RFC 8628 device grant), [`token`] (the token endpoint and its grants) and
//! [`html`] (the pages). This module holds the shared state, limits and router.

mod authorize;
mod device;
mod html;
#[cfg(test)]
mod tests;
mod token;

use authorize::*;
use device::*;
use html::*;
use token::*;

use crate::ci::CiKind;
use crate::client::ProviderMetadata;
use crate::fair::{Client, FairMap, GuessThrottle};
use crate::idp::{Idp, LoginCheck, MAX_PASSWORD_BYTES, check_email, valid_audience};
use crate::util::{html_escape, parse_form, random_token};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The RFC 8628 grant type.
pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The development grant (email in, token out, no login).
pub(crate) const DEV_GRANT: &str = "urn:vouch:params:grant-type:dev-identity";

/// How long a rendered login form stays usable.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// How long an authorization code stays usable.
const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a device code stays usable.
const DEVICE_TTL: Duration = Duration::from_secs(600);
/// How long an expired device code is remembered (so polls get `expired_token`).
const DEVICE_GRACE: Duration = Duration::from_secs(600);
/// Added to a device's interval on each `slow_down` (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Caps on pending state: in total, and per client (see [`crate::fair`]); a full table evicts
/// the oldest entry of the client holding the most instead of refusing everyone.
const MAX_LOGINS: usize = 4096;
const MAX_LOGINS_PER_CLIENT: usize = 64;
const MAX_CODES: usize = 1024;
const MAX_CODES_PER_CLIENT: usize = 32;
const MAX_DEVICES: usize = 1024;
const MAX_DEVICES_PER_CLIENT: usize = 16;
/// Largest request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest accepted `state` / `nonce`.
const MAX_STATE: usize = 1024;
/// User-code alphabet (RFC 8628 §6.1: no vowels, no ambiguous characters).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A rendered, not yet submitted authorization-code login form.
#[derive(Debug, Clone)]
struct LoginRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    expires: Instant,
}

/// An issued, not yet redeemed authorization code.
#[derive(Debug)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    email: String,
    expires: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DeviceStatus {
    Pending,
    Approved(String),
    Denied,
}

/// A device authorization grant.
#[derive(Debug)]
struct DeviceGrant {
    client_id: String,
    user_code: String,
    status: DeviceStatus,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
}

/// In-memory protocol state, bounded (in fair shares per client) and expiring.
#[derive(Debug)]
pub(crate) struct Pending {
    logins: FairMap<LoginRequest>,
    device_forms: FairMap<Instant>,
    codes: FairMap<CodeGrant>,
    devices: FairMap<DeviceGrant>,
    /// Normalised user code → device code.
    user_codes: HashMap<String, String>,
    /// Wrong user codes per client.
    guesses: GuessThrottle,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            logins: FairMap::new(MAX_LOGINS, MAX_LOGINS_PER_CLIENT),
            device_forms: FairMap::new(MAX_LOGINS, MAX_LOGINS_PER_CLIENT),
            codes: FairMap::new(MAX_CODES, MAX_CODES_PER_CLIENT),
            devices: FairMap::new(MAX_DEVICES, MAX_DEVICES_PER_CLIENT),
            user_codes: HashMap::new(),
            guesses: GuessThrottle::default(),
        }
    }
}

impl Pending {
    fn purge(&mut self, now: Instant) {
        self.logins.retain(|l| l.expires > now);
        self.device_forms.retain(|e| *e > now);
        self.codes.retain(|c| c.expires > now);
        self.devices.retain(|d| d.expires + DEVICE_GRACE > now);
        let devices = &self.devices;
        self.user_codes.retain(|_, dc| devices.contains_key(dc));
        self.guesses.purge(now);
    }
}

impl Idp {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.purge(Instant::now());
        p
    }

    fn discovery(&self) -> ProviderMetadata {
        let i = &self.issuer;
        let mut grants = vec!["authorization_code", DEVICE_GRANT, DEV_GRANT];
        if self.opts.allow_ci_tokens {
            grants.push("client_credentials");
        }
        ProviderMetadata {
            issuer: i.clone(),
            authorization_endpoint: Some(format!("{i}/auth")),
            token_endpoint: Some(format!("{i}/token")),
            device_authorization_endpoint: Some(format!("{i}/device/code")),
            jwks_uri: Some(format!("{i}/jwks")),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query"]),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: strings(&["ES256"]),
            grant_types_supported: strings(&grants),
            code_challenge_methods_supported: strings(&["S256"]),
            token_endpoint_auth_methods_supported: strings(&["none"]),
            claims_supported: strings(&[
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "nbf",
                "jti",
                "email",
                "email_verified",
                "nonce",
            ]),
            scopes_supported: strings(&["openid", "email"]),
        }
    }

    fn ci_discovery(&self, kind: CiKind) -> ProviderMetadata {
        ProviderMetadata {
            issuer: self.ci_issuer(kind),
            jwks_uri: Some(format!("{}/jwks", self.issuer)),
            token_endpoint: Some(format!("{}/token", self.issuer)),
            response_types_supported: strings(&["id_token"]),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: strings(&["ES256"]),
            ..ProviderMetadata::default()
        }
    }

    fn client_allowed(&self, client_id: &str) -> bool {
        self.opts.client_ids.iter().any(|c| c == client_id)
    }

    /// A redirect URI is acceptable if it is loopback `http` (RFC 8252 §7.3, any port) or
    /// exactly one of the configured ones.
    fn redirect_allowed(&self, redirect_uri: &str) -> bool {
        if self.opts.redirect_uris.iter().any(|r| r == redirect_uri) {
            return true;
        }
        let Ok(u) = url::Url::parse(redirect_uri) else {
            return false;
        };
        let loopback = match u.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        u.scheme() == "http"
            && loopback
            && u.fragment().is_none()
            && u.username().is_empty()
            && u.password().is_none()
    }
}

/// The IdP's HTTP routes (see the crate documentation).
pub fn router(idp: Arc<Idp>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(i): State<Arc<Idp>>| async move { axum::Json(i.discovery()) }),
        )
        .route(
            "/ci/{kind}/.well-known/openid-configuration",
            get(ci_discovery),
        )
        .route(
            "/jwks",
            get(|State(i): State<Arc<Idp>>| async move {
                axum::Json(JwkSet { keys: [i.jwk()] }).into_response()
            }),
        )
        .route("/auth", get(auth_page).post(auth_submit))
        .route("/token", post(token))
        .route("/device/code", post(device_code))
        .route("/device", get(device_page).post(device_submit))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(idp)
}

async fn ci_discovery(State(idp): State<Arc<Idp>>, Path(kind): Path<String>) -> Response {
    match kind.parse::<CiKind>() {
        Ok(k) if idp.opts.allow_ci_tokens && k.as_str() == kind => {
            axum::Json(idp.ci_discovery(k)).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// Responses

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// An RFC 6749 §5.2 error response body.
#[derive(serde::Serialize)]
struct OAuthErrorBody<'a> {
    /// The error code (`invalid_request`, `authorization_pending`, …).
    error: &'a str,
    /// What went wrong, for a person.
    error_description: String,
}

/// An RFC 6749 §5.1 token response; the ID token is the access token too.
#[derive(serde::Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    id_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

/// A JSON Web Key Set (RFC 7517 §5) of the IdP's one key.
#[derive(serde::Serialize)]
struct JwkSet<'a> {
    keys: [&'a Value; 1],
}

/// An RFC 6749 §5.2 error.
fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    let body = OAuthErrorBody {
        error,
        error_description: description.into(),
    };
    let mut r = (status, axum::Json(body)).into_response();
    no_store(r.headers_mut());
    r
}

fn bad_request(error: &str, description: impl Into<String>) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A successful token response (RFC 6749 §5.1).
fn token_response(id_token: String, lifetime: Duration) -> Response {
    let mut r = (
        StatusCode::OK,
        axum::Json(TokenResponse {
            access_token: &id_token,
            id_token: &id_token,
            token_type: "Bearer",
            expires_in: lifetime.as_secs(),
        }),
    )
        .into_response();
    no_store(r.headers_mut());
    r
}

/// The S256 challenge of a verifier.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ))
}
