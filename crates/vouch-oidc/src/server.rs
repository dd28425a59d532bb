//! HTTP endpoints of the IdP.

use crate::ci::CiKind;
use crate::fair::{Client, FairMap, GuessThrottle};
use crate::idp::{Idp, LoginCheck, MAX_PASSWORD_BYTES, check_email, valid_audience};
use crate::util::{html_escape, parse_form, random_token};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
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

    fn discovery(&self) -> Value {
        let i = &self.issuer;
        let mut grants = vec![
            json!("authorization_code"),
            json!(DEVICE_GRANT),
            json!(DEV_GRANT),
        ];
        if self.opts.allow_ci_tokens {
            grants.push(json!("client_credentials"));
        }
        json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/auth"),
            "token_endpoint": format!("{i}/token"),
            "device_authorization_endpoint": format!("{i}/device/code"),
            "jwks_uri": format!("{i}/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "grant_types_supported": grants,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "email", "email_verified", "nonce"],
            "scopes_supported": ["openid", "email"],
        })
    }

    fn ci_discovery(&self, kind: CiKind) -> Value {
        json!({
            "issuer": self.ci_issuer(kind),
            "jwks_uri": format!("{}/jwks", self.issuer),
            "token_endpoint": format!("{}/token", self.issuer),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
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
                axum::Json(json!({"keys": [i.jwk().clone()]}))
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

/// An RFC 6749 §5.2 error.
fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    let mut r = (
        status,
        axum::Json(json!({"error": error, "error_description": description.into()})),
    )
        .into_response();
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
        axum::Json(json!({
            "access_token": id_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
        })),
    )
        .into_response();
    no_store(r.headers_mut());
    r
}

/// An HTML page with defensive headers.
fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;\
         margin:3rem auto;padding:0 1rem}}label{{display:block;margin:.8rem 0 .2rem}}\
         input{{width:100%;padding:.4rem;box-sizing:border-box}}button{{margin-top:1rem;\
         padding:.4rem 1rem}}.err{{color:#b00}}.note{{color:#555;font-size:.9rem}}</style>\
         </head><body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = html_escape(title)
    );
    let mut r = (status, page).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(h);
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        "Sign-in error",
        &format!("<p class=\"err\">{}</p>", html_escape(message)),
    )
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        html_escape(name),
        html_escape(value)
    )
}

/// A 303 redirect to `redirect_uri` with `params` added to its query.
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut u) = url::Url::parse(redirect_uri) else {
        return error_page(StatusCode::BAD_REQUEST, "invalid redirect_uri");
    };
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    let Ok(loc) = HeaderValue::from_str(u.as_str()) else {
        return error_page(StatusCode::BAD_REQUEST, "invalid redirect_uri");
    };
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut().insert(header::LOCATION, loc);
    no_store(r.headers_mut());
    r
}

/// Redirect an authorization error to the client (RFC 6749 §4.1.2.1).
fn redirect_error(redirect_uri: &str, state: Option<&str>, error: &str, desc: &str) -> Response {
    let mut p = vec![("error", error), ("error_description", desc)];
    if let Some(s) = state {
        p.push(("state", s));
    }
    redirect_with(redirect_uri, &p)
}

// ---------------------------------------------------------------------------------------
// Authorization code + PKCE

/// Whether `s` is a valid S256 `code_challenge` (base64url of 32 bytes).
fn valid_challenge(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` is a valid `code_verifier` (RFC 7636 §4.1).
fn valid_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ))
}

fn login_form(idp: &Idp, csrf: &str, req: &LoginRequest, email: &str, error: &str) -> String {
    let mut f = String::new();
    if !error.is_empty() {
        f.push_str(&format!("<p class=\"err\">{}</p>", html_escape(error)));
    }
    f.push_str(&format!(
        "<p class=\"note\">Application <b>{}</b> asks for your identity (email address); it \
         will be redirected to {}.</p>",
        html_escape(&req.client_id),
        html_escape(&req.redirect_uri)
    ));
    f.push_str("<form method=\"post\" action=\"auth\">");
    f.push_str(&hidden("request", csrf));
    f.push_str(&hidden("client_id", &req.client_id));
    f.push_str(&hidden("redirect_uri", &req.redirect_uri));
    f.push_str(&hidden("code_challenge", &req.code_challenge));
    if let Some(s) = &req.state {
        f.push_str(&hidden("state", s));
    }
    if let Some(n) = &req.nonce {
        f.push_str(&hidden("nonce", n));
    }
    f.push_str(&format!(
        "<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" \
         autocomplete=\"username\" required autofocus value=\"{}\">",
        html_escape(email)
    ));
    if idp.has_passwords() {
        f.push_str(
            "<label for=\"password\">Password</label><input id=\"password\" name=\"password\" \
             type=\"password\" autocomplete=\"current-password\">",
        );
    }
    f.push_str(
        "<button type=\"submit\" name=\"action\" value=\"login\">Sign in</button> \
         <button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>Cancel</button></form>",
    );
    f
}

/// Store a login request under a fresh CSRF token and render the form.
fn render_login(
    idp: &Idp,
    client: Client,
    req: LoginRequest,
    email: &str,
    error: &str,
    status: StatusCode,
) -> Response {
    let csrf = match random_token(32) {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    idp.pending()
        .logins
        .insert(client, csrf.clone(), req.clone());
    html(
        status,
        "Sign in",
        &login_form(idp, &csrf, &req, email, error),
    )
}

async fn auth_page(State(idp): State<Arc<Idp>>, client: Client, RawQuery(q): RawQuery) -> Response {
    let params = match parse_form(q.as_deref().unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let get = |k: &str| params.get(k).map(String::as_str);
    // Until client_id and redirect_uri are known good, errors are shown, not redirected.
    let Some(client_id) = get("client_id") else {
        return error_page(StatusCode::BAD_REQUEST, "missing client_id");
    };
    if !idp.client_allowed(client_id) {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("unknown client_id {client_id:?}"),
        );
    }
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page(StatusCode::BAD_REQUEST, "missing redirect_uri");
    };
    if !idp.redirect_allowed(redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri must be a loopback http URI (127.0.0.1, [::1] or localhost) or one \
             configured on this IdP",
        );
    }
    let state = get("state");
    if state.is_some_and(|s| s.len() > MAX_STATE) {
        return error_page(StatusCode::BAD_REQUEST, "state is too long");
    }
    let fail = |error: &str, desc: &str| redirect_error(redirect_uri, state, error, desc);
    if get("response_type") != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    if !get("scope").is_some_and(|s| s.split(' ').any(|x| x == "openid")) {
        return fail("invalid_scope", "the openid scope is required");
    }
    let Some(challenge) = get("code_challenge") else {
        return fail(
            "invalid_request",
            "PKCE is required: missing code_challenge",
        );
    };
    if get("code_challenge_method") != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if !valid_challenge(challenge) {
        return fail(
            "invalid_request",
            "code_challenge is not a base64url SHA-256",
        );
    }
    let nonce = get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_STATE) {
        return fail("invalid_request", "nonce is too long");
    }
    let req = LoginRequest {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state: state.map(str::to_string),
        nonce: nonce.map(str::to_string),
        code_challenge: challenge.to_string(),
        expires: Instant::now() + LOGIN_TTL,
    };
    let hint = get("login_hint").unwrap_or_default();
    render_login(&idp, client, req, hint, "", StatusCode::OK)
}

/// Check a login off the async runtime (PBKDF2 is slow on purpose).
async fn check_login(idp: &Arc<Idp>, email: &str, password: Option<&str>) -> LoginCheck {
    let (i, e, p) = (
        Arc::clone(idp),
        email.to_string(),
        password.map(str::to_string),
    );
    tokio::task::spawn_blocking(move || i.check_login(&e, p.as_deref()))
        .await
        .unwrap_or(LoginCheck::BadPassword)
}

fn form_body(body: &[u8]) -> Result<HashMap<String, String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    parse_form(text)
}

async fn auth_submit(State(idp): State<Arc<Idp>>, client: Client, body: Bytes) -> Response {
    let form = match form_body(&body) {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let get = |k: &str| form.get(k).map(String::as_str);
    let Some(csrf) = get("request") else {
        return error_page(StatusCode::BAD_REQUEST, "missing request token");
    };
    let Some(req) = idp.pending().logins.remove(csrf) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "this sign-in form has expired or was already used; start again from the application",
        );
    };
    // The echoed request parameters must be those the form was rendered for.
    let echoed = [
        ("client_id", Some(req.client_id.as_str())),
        ("redirect_uri", Some(req.redirect_uri.as_str())),
        ("code_challenge", Some(req.code_challenge.as_str())),
        ("state", req.state.as_deref()),
        ("nonce", req.nonce.as_deref()),
    ];
    if echoed.iter().any(|(k, v)| get(k) != *v) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "the submitted form does not match the sign-in request",
        );
    }
    if get("action") == Some("cancel") {
        return redirect_error(
            &req.redirect_uri,
            req.state.as_deref(),
            "access_denied",
            "the user cancelled the sign-in",
        );
    }
    let email = get("email").unwrap_or_default().trim().to_string();
    if let Err(e) = check_email(&email) {
        return render_login(&idp, client, req, &email, &e, StatusCode::BAD_REQUEST);
    }
    let password = get("password").filter(|p| !p.is_empty());
    if password.is_some_and(|p| p.len() > MAX_PASSWORD_BYTES) {
        return render_login(
            &idp,
            client,
            req,
            &email,
            "password too long",
            StatusCode::BAD_REQUEST,
        );
    }
    let LoginCheck::Ok(email) = check_login(&idp, &email, password).await else {
        tracing::info!(%email, "authorization-code sign-in refused");
        return render_login(
            &idp,
            client,
            req,
            &email,
            "unknown user or wrong password",
            StatusCode::UNAUTHORIZED,
        );
    };
    let code = match random_token(32) {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    {
        let mut p = idp.pending();
        p.codes.insert(
            client,
            code.clone(),
            CodeGrant {
                client_id: req.client_id.clone(),
                redirect_uri: req.redirect_uri.clone(),
                code_challenge: req.code_challenge.clone(),
                nonce: req.nonce.clone(),
                email: email.clone(),
                expires: Instant::now() + CODE_TTL,
            },
        );
    }
    tracing::info!(%email, client_id = %req.client_id, "authorization code issued");
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &req.state {
        params.push(("state", s.as_str()));
    }
    redirect_with(&req.redirect_uri, &params)
}

// ---------------------------------------------------------------------------------------
// Token endpoint

/// Request parameters of `/token` and `/device/code`: a JSON object, or a form whose values
/// become JSON strings (`claims` is parsed as JSON).
fn request_params(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, String> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
        || body.first() == Some(&b'{');
    if is_json {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("the JSON body must be an object".into()),
            Err(e) => Err(format!("invalid JSON body: {e}")),
        }
    } else {
        let form = form_body(body)?;
        let mut m = Map::new();
        for (k, v) in form {
            let value = if k == "claims" {
                serde_json::from_str(&v).map_err(|e| format!("claims is not JSON: {e}"))?
            } else {
                Value::String(v)
            };
            m.insert(k, value);
        }
        Ok(m)
    }
}

/// An OAuth error on the way to becoming a response.
#[derive(Debug)]
struct OAuthFail {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl IntoResponse for OAuthFail {
    fn into_response(self) -> Response {
        oauth_error(self.status, self.error, self.description)
    }
}

/// A 400 OAuth error.
fn fail(error: &'static str, description: impl Into<String>) -> OAuthFail {
    OAuthFail {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.into(),
    }
}

/// A string parameter; a non-string value is an error.
fn param<'a>(p: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, OAuthFail> {
    match p.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(fail(
            "invalid_request",
            format!("parameter {k:?} must be a string"),
        )),
    }
}

fn required<'a>(p: &'a Map<String, Value>, k: &str) -> Result<&'a str, OAuthFail> {
    param(p, k)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fail("invalid_request", format!("missing parameter {k:?}")))
}

async fn token(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let p = match request_params(&headers, &body) {
        Ok(p) => p,
        Err(e) => return bad_request("invalid_request", e),
    };
    let r = match param(&p, "grant_type") {
        Err(r) => Err(r),
        Ok(Some("authorization_code")) => code_grant(&idp, &p),
        Ok(Some(DEVICE_GRANT)) => device_grant(&idp, &p),
        Ok(Some("client_credentials")) => ci_grant(&idp, &p),
        Ok(Some(DEV_GRANT) | None) if p.contains_key("ci") => ci_grant(&idp, &p),
        Ok(Some(DEV_GRANT) | None) => dev_grant(&idp, &p).await,
        Ok(Some(other)) => Err(fail(
            "unsupported_grant_type",
            format!("grant type {other:?} is not supported"),
        )),
    };
    r.unwrap_or_else(IntoResponse::into_response)
}

fn sign_or_500(r: crate::Result<String>) -> Result<String, OAuthFail> {
    r.map_err(|e| OAuthFail {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        description: e.to_string(),
    })
}

fn code_grant(idp: &Idp, p: &Map<String, Value>) -> Result<Response, OAuthFail> {
    let code = required(p, "code")?;
    let redirect_uri = required(p, "redirect_uri")?;
    let client_id = required(p, "client_id")?;
    let verifier = required(p, "code_verifier")?;
    let invalid = |d: &str| fail("invalid_grant", d);
    // Single use: the code is gone whatever happens next.
    let grant = idp.pending().codes.remove(code);
    let Some(grant) = grant else {
        return Err(invalid(
            "the authorization code is unknown, expired or already used",
        ));
    };
    if grant.client_id != client_id {
        return Err(invalid("the code was issued to another client_id"));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(invalid(
            "redirect_uri does not match the authorization request",
        ));
    }
    if !valid_verifier(verifier)
        || aws_lc_rs::constant_time::verify_slices_are_equal(
            s256(verifier).as_bytes(),
            grant.code_challenge.as_bytes(),
        )
        .is_err()
    {
        return Err(invalid("PKCE verification failed: wrong code_verifier"));
    }
    let t = sign_or_500(idp.mint_email_token(&grant.email, client_id, grant.nonce.as_deref()))?;
    tracing::info!(email = %grant.email, %client_id, "issued ID token (authorization code)");
    Ok(token_response(t, idp.opts.token_lifetime))
}

fn device_grant(idp: &Idp, p: &Map<String, Value>) -> Result<Response, OAuthFail> {
    let device_code = required(p, "device_code")?;
    let client_id = required(p, "client_id")?;
    let now = Instant::now();
    let email = {
        let mut pending = idp.pending();
        let Some(d) = pending.devices.get_mut(device_code) else {
            return Err(fail("invalid_grant", "unknown device_code"));
        };
        if d.client_id != client_id {
            return Err(fail(
                "invalid_grant",
                "the device_code was issued to another client_id",
            ));
        }
        if now >= d.expires {
            return Err(fail("expired_token", "the device_code has expired"));
        }
        if let Some(last) = d.last_poll
            && now.duration_since(last) < d.interval
        {
            d.interval += SLOW_DOWN_STEP;
            d.last_poll = Some(now);
            return Err(fail(
                "slow_down",
                format!(
                    "polling too fast: wait at least {} s between requests",
                    d.interval.as_secs()
                ),
            ));
        }
        d.last_poll = Some(now);
        match d.status.clone() {
            DeviceStatus::Pending => {
                return Err(fail(
                    "authorization_pending",
                    "the user has not yet approved this device",
                ));
            }
            DeviceStatus::Denied => {
                let uc = d.user_code.clone();
                pending.devices.remove(device_code);
                pending.user_codes.remove(&uc);
                return Err(fail("access_denied", "the user denied the request"));
            }
            DeviceStatus::Approved(email) => {
                let uc = d.user_code.clone();
                pending.devices.remove(device_code);
                pending.user_codes.remove(&uc);
                email
            }
        }
    };
    let t = sign_or_500(idp.mint_email_token(&email, client_id, None))?;
    tracing::info!(%email, %client_id, "issued ID token (device flow)");
    Ok(token_response(t, idp.opts.token_lifetime))
}

fn ci_grant(idp: &Idp, p: &Map<String, Value>) -> Result<Response, OAuthFail> {
    if !idp.opts.allow_ci_tokens {
        return Err(fail(
            "unauthorized_client",
            "CI tokens are disabled on this IdP (start it with --allow-ci-tokens)",
        ));
    }
    let kind: CiKind = required(p, "ci")?
        .parse()
        .map_err(|e: String| fail("invalid_request", e))?;
    let empty = Map::new();
    let claims = match p.get("claims") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(fail("invalid_request", "claims must be a JSON object"));
        }
    };
    let aud = audience(idp, p)?;
    let t = idp
        .mint_ci_token(kind, claims, &aud)
        .map_err(|e| fail("invalid_request", e.to_string()))?;
    tracing::info!(ci = %kind, %aud, "issued CI token");
    Ok(token_response(t, idp.opts.token_lifetime))
}

fn audience(idp: &Idp, p: &Map<String, Value>) -> Result<String, OAuthFail> {
    let a = match param(p, "audience")? {
        Some(a) => Some(a),
        None => param(p, "aud")?,
    };
    let a = a
        .filter(|a| !a.is_empty())
        .unwrap_or(&idp.opts.default_audience);
    if !valid_audience(a) {
        return Err(fail("invalid_request", "invalid audience"));
    }
    Ok(a.to_string())
}

/// The development grant: `{"email", "audience"[, "password"]}`.
async fn dev_grant(idp: &Arc<Idp>, p: &Map<String, Value>) -> Result<Response, OAuthFail> {
    let email = param(p, "email")?.ok_or_else(|| fail("invalid_request", "missing \"email\""))?;
    check_email(email).map_err(|e| fail("invalid_request", e))?;
    let aud = audience(idp, p)?;
    let password = param(p, "password")?;
    if password.is_some_and(|p| p.len() > MAX_PASSWORD_BYTES) {
        return Err(fail("invalid_request", "password too long"));
    }
    let email = match check_login(idp, email, password).await {
        LoginCheck::Ok(listed) => listed,
        LoginCheck::NotListed => {
            return Err(OAuthFail {
                status: StatusCode::FORBIDDEN,
                error: "access_denied",
                description: format!("{email} is not in this IdP's user list"),
            });
        }
        LoginCheck::BadPassword => {
            return Err(OAuthFail {
                status: StatusCode::FORBIDDEN,
                error: "access_denied",
                description: format!(
                    "{email} has a password: give the right \"password\", or sign in with the \
                     authorization code or device flow"
                ),
            });
        }
    };
    let t = sign_or_500(idp.mint_email_token(&email, &aud, None))?;
    tracing::info!(%email, %aud, "issued ID token");
    Ok(token_response(t, idp.opts.token_lifetime))
}

// ---------------------------------------------------------------------------------------
// Device authorization grant

/// A random user code `XXXX-XXXX` over [`USER_CODE_ALPHABET`].
fn user_code() -> Result<String, String> {
    let mut out = String::with_capacity(9);
    while out.len() < 9 {
        let mut buf = [0u8; 16];
        aws_lc_rs::rand::fill(&mut buf).map_err(|_| "the system random generator failed")?;
        for b in buf {
            // 240 = 12 × 20: rejection sampling keeps the distribution uniform.
            if b < 240 && out.len() < 9 {
                if out.len() == 4 {
                    out.push('-');
                }
                let i = usize::from(b) % USER_CODE_ALPHABET.len();
                out.push(char::from(
                    USER_CODE_ALPHABET.get(i).copied().unwrap_or(b'B'),
                ));
            }
        }
    }
    Ok(out)
}

/// Normalise a typed user code: upper case, only alphabet characters.
fn normalize_user_code(s: &str) -> String {
    s.chars()
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| c.is_ascii() && USER_CODE_ALPHABET.contains(&(*c as u8)))
        .take(16)
        .collect()
}

async fn device_code(
    State(idp): State<Arc<Idp>>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match request_params(&headers, &body) {
        Ok(p) => p,
        Err(e) => return bad_request("invalid_request", e),
    };
    let client_id = match required(&p, "client_id") {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if !idp.client_allowed(client_id) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("unknown client_id {client_id:?}"),
        );
    }
    if let Ok(Some(scope)) = param(&p, "scope")
        && !scope.split(' ').any(|s| s == "openid")
    {
        return bad_request("invalid_scope", "the openid scope is required");
    }
    let (device, uc) = match (random_token(32), user_code()) {
        (Ok(d), Ok(u)) => (d, u),
        (Err(e), _) | (_, Err(e)) => {
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e);
        }
    };
    let interval = idp.opts.device_poll_interval;
    {
        let mut pending = idp.pending();
        let norm = normalize_user_code(&uc);
        if pending.user_codes.contains_key(&norm) {
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "user code collision; try again",
            );
        }
        pending.user_codes.insert(norm, device.clone());
        let evicted = pending.devices.insert(
            client,
            device.clone(),
            DeviceGrant {
                client_id: client_id.to_string(),
                user_code: uc.clone(),
                status: DeviceStatus::Pending,
                expires: Instant::now() + DEVICE_TTL,
                interval,
                last_poll: None,
            },
        );
        for (_, d) in evicted {
            pending
                .user_codes
                .remove(&normalize_user_code(&d.user_code));
        }
    }
    let verification_uri = format!("{}/device", idp.issuer);
    let mut r = axum::Json(json!({
        "device_code": device,
        "user_code": uc,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={uc}"),
        "expires_in": DEVICE_TTL.as_secs(),
        "interval": interval.as_secs().max(1),
    }))
    .into_response();
    no_store(r.headers_mut());
    r
}

fn device_form(idp: &Idp, csrf: &str, user_code: &str, email: &str, error: &str) -> String {
    let mut f = String::new();
    if !error.is_empty() {
        f.push_str(&format!("<p class=\"err\">{}</p>", html_escape(error)));
    }
    f.push_str(
        "<p class=\"note\">Enter the code shown on your device, then sign in to approve it. \
         Only approve codes you requested yourself.</p>",
    );
    f.push_str("<form method=\"post\" action=\"device\">");
    f.push_str(&hidden("csrf", csrf));
    f.push_str(&format!(
        "<label for=\"user_code\">Code</label><input id=\"user_code\" name=\"user_code\" \
         required autocomplete=\"off\" value=\"{}\">",
        html_escape(user_code)
    ));
    f.push_str(&format!(
        "<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" \
         autocomplete=\"username\" value=\"{}\">",
        html_escape(email)
    ));
    if idp.has_passwords() {
        f.push_str(
            "<label for=\"password\">Password</label><input id=\"password\" name=\"password\" \
             type=\"password\" autocomplete=\"current-password\">",
        );
    }
    f.push_str(
        "<button type=\"submit\" name=\"action\" value=\"approve\">Approve</button> \
         <button type=\"submit\" name=\"action\" value=\"deny\" formnovalidate>Deny</button></form>",
    );
    f
}

fn render_device(
    idp: &Idp,
    client: Client,
    user_code: &str,
    email: &str,
    error: &str,
    status: StatusCode,
) -> Response {
    let csrf = match random_token(32) {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    idp.pending()
        .device_forms
        .insert(client, csrf.clone(), Instant::now() + LOGIN_TTL);
    html(
        status,
        "Device sign-in",
        &device_form(idp, &csrf, user_code, email, error),
    )
}

async fn device_page(
    State(idp): State<Arc<Idp>>,
    client: Client,
    RawQuery(q): RawQuery,
) -> Response {
    let params = parse_form(q.as_deref().unwrap_or_default()).unwrap_or_default();
    let uc: String = params
        .get("user_code")
        .map(|s| s.chars().take(32).collect())
        .unwrap_or_default();
    render_device(&idp, client, &uc, "", "", StatusCode::OK)
}

async fn device_submit(State(idp): State<Arc<Idp>>, client: Client, body: Bytes) -> Response {
    let form = match form_body(&body) {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let typed: String = get("user_code").chars().take(32).collect();
    let email = get("email").trim().to_string();
    let again = |email: &str, error: &str, status: StatusCode| {
        render_device(&idp, client, &typed, email, error, status)
    };
    if idp.pending().device_forms.remove(get("csrf")).is_none() {
        return again(
            &email,
            "this form has expired or was already used; please submit it again",
            StatusCode::BAD_REQUEST,
        );
    }
    // Guessing user codes is throttled per client, before the code is even looked up.
    if !idp.pending().guesses.allowed(client, Instant::now()) {
        tracing::warn!(client = %client.0, "device page: too many wrong user codes");
        return again(
            &email,
            "too many wrong codes; wait a minute before trying again",
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let norm = normalize_user_code(&typed);
    let lookup = |idp: &Idp| -> Option<String> {
        let p = idp.pending();
        let dc = p.user_codes.get(&norm)?;
        let d = p.devices.get(dc)?;
        (d.status == DeviceStatus::Pending && d.expires > Instant::now()).then(|| dc.clone())
    };
    if lookup(&idp).is_none() {
        idp.pending().guesses.failed(client, Instant::now());
        return again(&email, "unknown or expired code", StatusCode::BAD_REQUEST);
    }
    // Approving and denying both need a login: nobody else may deny a user's device.
    if let Err(e) = check_email(&email) {
        return again(&email, &e, StatusCode::BAD_REQUEST);
    }
    let password = Some(get("password")).filter(|p| !p.is_empty());
    let login = if password.is_some_and(|p| p.len() > MAX_PASSWORD_BYTES) {
        LoginCheck::BadPassword
    } else {
        check_login(&idp, &email, password).await
    };
    let LoginCheck::Ok(email) = login else {
        return again(
            &email,
            "unknown user or wrong password",
            StatusCode::UNAUTHORIZED,
        );
    };
    let status = if get("action") == "deny" {
        DeviceStatus::Denied
    } else {
        DeviceStatus::Approved(email.clone())
    };
    // Look up again: the state may have changed while the password was checked.
    let done = {
        let Some(dc) = lookup(&idp) else {
            return again(&email, "unknown or expired code", StatusCode::BAD_REQUEST);
        };
        let mut p = idp.pending();
        match p.devices.get_mut(&dc) {
            Some(d) => {
                d.status = status.clone();
                true
            }
            None => false,
        }
    };
    match (done, status) {
        (true, DeviceStatus::Approved(e)) => {
            tracing::info!(email = %e, "device approved");
            html(
                StatusCode::OK,
                "Device approved",
                &format!(
                    "<p>Signed in as <b>{}</b>. You can close this window and return to your \
                     device.</p>",
                    html_escape(&e)
                ),
            )
        }
        (true, _) => {
            tracing::info!(%email, "device denied");
            html(
                StatusCode::OK,
                "Device denied",
                "<p>The request was denied. You can close this window.</p>",
            )
        }
        (false, _) => again(&email, "unknown or expired code", StatusCode::BAD_REQUEST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
