//! The token endpoint (RFC 6749 §3.2): authorization-code, device-code, CI and development grants.

use super::*;

/// Request parameters of `/token` and `/device/code`: a JSON object, or a form whose values
/// become JSON strings (`claims` is parsed as JSON).
pub(super) fn request_params(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
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
pub(super) struct OAuthFail {
    pub(super) status: StatusCode,
    pub(super) error: &'static str,
    pub(super) description: String,
}

impl IntoResponse for OAuthFail {
    fn into_response(self) -> Response {
        oauth_error(self.status, self.error, self.description)
    }
}

/// A 400 OAuth error.
pub(super) fn fail(error: &'static str, description: impl Into<String>) -> OAuthFail {
    OAuthFail {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.into(),
    }
}

/// A string parameter; a non-string value is an error.
pub(super) fn param<'a>(p: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, OAuthFail> {
    match p.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(fail(
            "invalid_request",
            format!("parameter {k:?} must be a string"),
        )),
    }
}

pub(super) fn required<'a>(p: &'a Map<String, Value>, k: &str) -> Result<&'a str, OAuthFail> {
    param(p, k)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fail("invalid_request", format!("missing parameter {k:?}")))
}

pub(super) async fn token(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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

pub(super) fn sign_or_500(r: crate::Result<String>) -> Result<String, OAuthFail> {
    r.map_err(|e| OAuthFail {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        description: e.to_string(),
    })
}

pub(super) fn code_grant(idp: &Idp, p: &Map<String, Value>) -> Result<Response, OAuthFail> {
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

pub(super) fn device_grant(idp: &Idp, p: &Map<String, Value>) -> Result<Response, OAuthFail> {
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

pub(super) fn ci_grant(idp: &Idp, p: &Map<String, Value>) -> Result<Response, OAuthFail> {
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

pub(super) fn audience(idp: &Idp, p: &Map<String, Value>) -> Result<String, OAuthFail> {
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
pub(super) async fn dev_grant(
    idp: &Arc<Idp>,
    p: &Map<String, Value>,
) -> Result<Response, OAuthFail> {
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
