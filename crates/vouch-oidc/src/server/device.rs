//! The device authorization grant (RFC 8628): device codes, user codes and the approval page.

use super::*;
use crate::client::DeviceAuthorization;

/// A random user code `XXXX-XXXX` over [`USER_CODE_ALPHABET`].
pub(super) fn user_code() -> Result<String, String> {
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
pub(super) fn normalize_user_code(s: &str) -> String {
    s.chars()
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| c.is_ascii() && USER_CODE_ALPHABET.contains(&(*c as u8)))
        .take(16)
        .collect()
}

pub(super) async fn device_code(
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
    let mut r = axum::Json(DeviceAuthorization {
        device_code: device,
        verification_uri_complete: Some(format!("{verification_uri}?user_code={uc}")),
        user_code: uc,
        verification_uri,
        expires_in: Some(DEVICE_TTL.as_secs()),
        interval: Some(interval.as_secs().max(1)),
    })
    .into_response();
    no_store(r.headers_mut());
    r
}

pub(super) async fn device_page(
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

pub(super) async fn device_submit(
    State(idp): State<Arc<Idp>>,
    client: Client,
    body: Bytes,
) -> Response {
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
