//! The authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636): `/auth` page and form.

use super::*;

/// A 303 redirect to `redirect_uri` with `params` added to its query.
pub(super) fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
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
pub(super) fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    desc: &str,
) -> Response {
    let mut p = vec![("error", error), ("error_description", desc)];
    if let Some(s) = state {
        p.push(("state", s));
    }
    redirect_with(redirect_uri, &p)
}

// ---------------------------------------------------------------------------------------
// Authorization code + PKCE

/// Whether `s` is a valid S256 `code_challenge` (base64url of 32 bytes).
pub(super) fn valid_challenge(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` is a valid `code_verifier` (RFC 7636 §4.1).
pub(super) fn valid_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub(super) async fn auth_page(
    State(idp): State<Arc<Idp>>,
    client: Client,
    RawQuery(q): RawQuery,
) -> Response {
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
pub(super) async fn check_login(idp: &Arc<Idp>, email: &str, password: Option<&str>) -> LoginCheck {
    let (i, e, p) = (
        Arc::clone(idp),
        email.to_string(),
        password.map(str::to_string),
    );
    tokio::task::spawn_blocking(move || i.check_login(&e, p.as_deref()))
        .await
        .unwrap_or(LoginCheck::BadPassword)
}

pub(super) fn form_body(body: &[u8]) -> Result<HashMap<String, String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    parse_form(text)
}

pub(super) async fn auth_submit(
    State(idp): State<Arc<Idp>>,
    client: Client,
    body: Bytes,
) -> Response {
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
