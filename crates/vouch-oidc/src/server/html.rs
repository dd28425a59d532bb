//! The IdP's HTML pages: login and device-approval forms, error pages.

use super::*;

/// An HTML page with defensive headers.
pub(super) fn html(status: StatusCode, title: &str, body: &str) -> Response {
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

pub(super) fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        "Sign-in error",
        &format!("<p class=\"err\">{}</p>", html_escape(message)),
    )
}

pub(super) fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        html_escape(name),
        html_escape(value)
    )
}

pub(super) fn login_form(
    idp: &Idp,
    csrf: &str,
    req: &LoginRequest,
    email: &str,
    error: &str,
) -> String {
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
pub(super) fn render_login(
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

pub(super) fn device_form(
    idp: &Idp,
    csrf: &str,
    user_code: &str,
    email: &str,
    error: &str,
) -> String {
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

pub(super) fn render_device(
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
