//! `vouch serve oidc`: a small OIDC identity provider for development and private test
//! deployments, and `vouch oidc token`, its client.
//!
//! **This is a development IdP with no passwords**: `POST /token` issues an ES256-signed ID
//! token for whichever email the caller names, as long as that email is allowed (every email
//! with `--allow-any-identity`, or those listed in `--users FILE`). Anyone who can reach the
//! server can therefore obtain tokens for every allowed identity: bind it to loopback or a
//! trusted network, and never configure a production CA to trust it.
//!
//! Endpoints: `GET /.well-known/openid-configuration` (discovery), `GET /jwks` (the public key
//! as a JWK with a `kid`, its RFC 7638 thumbprint), `POST /token` (form or JSON
//! `{"email": "...", "audience": "sigstore"}` → `{"id_token": ..., "token_type": "Bearer",
//! "expires_in": 600}`), `GET /healthz`.
//!
//! The signing key (ECDSA P-256, PKCS#8 PEM, mode 0600) is generated on first start in the data
//! directory and kept; `issuer.json` there is a ready-to-use CA issuer config for this IdP.

use crate::serve::{init_tracing, shutdown_signal};
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vouch_core::keys::{HashKind, pem_decode, pem_encode};
use vouch_log::storage::write_file_durably;

/// Lifetime of issued ID tokens.
const TOKEN_LIFETIME_SECS: u64 = 600;
/// The audience used when a request names none (Sigstore's `ClientID`).
const DEFAULT_AUDIENCE: &str = "sigstore";
/// The signing key file in the data directory.
const KEY_FILE: &str = "oidc.key.pem";
/// The CA issuer config snippet written to the data directory.
const ISSUER_FILE: &str = "issuer.json";

/// `vouch serve oidc`.
#[derive(Args, Debug)]
pub struct ServeOidcArgs {
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:3004")]
    listen: String,
    /// Data directory: the ES256 signing key and issuer.json (created if missing).
    #[arg(long)]
    data: PathBuf,
    /// Issuer URL put in `iss` and discovery [default: the listening URL, http://ADDR].
    #[arg(long)]
    issuer_url: Option<String>,
    /// Issue tokens for any email address (development only: there are no passwords).
    #[arg(long, conflicts_with = "users")]
    allow_any_identity: bool,
    /// File listing the emails tokens may be issued for, one per line (`#` starts a comment).
    #[arg(long)]
    users: Option<PathBuf>,
}

/// `vouch oidc …` subcommands.
#[derive(Subcommand, Debug)]
pub enum OidcCommand {
    /// Get an ID token from a `vouch serve oidc` IdP and print it.
    Token(TokenArgs),
}

/// `vouch oidc token`.
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Base URL of the IdP (`vouch serve oidc`).
    #[arg(long)]
    url: String,
    /// The identity (email) to get a token for.
    #[arg(long)]
    email: String,
    /// The token audience (the CA's `ClientID`).
    #[arg(long, default_value = DEFAULT_AUDIENCE)]
    audience: String,
}

/// Which identities the IdP issues tokens for.
#[derive(Debug)]
enum Allowed {
    Any,
    Listed(HashSet<String>),
}

/// The IdP's state: key, issuer and allow-list.
struct Idp {
    issuer: String,
    key: EcdsaKeyPair,
    kid: String,
    jwk: Value,
    allowed: Allowed,
    rng: SystemRandom,
}

/// Read an allow-list file: one email per line, blank lines and `#` comments ignored.
fn read_users(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --users {}", path.display()))?;
    let mut users = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        check_email(line).map_err(|e| anyhow!("{} line {}: {e}", path.display(), n + 1))?;
        users.insert(line.to_ascii_lowercase());
    }
    if users.is_empty() {
        bail!("--users {} lists no email address", path.display());
    }
    Ok(users)
}

/// A plausible email address: one `@`, non-empty parts, no spaces or controls, ≤ 254 bytes.
fn check_email(email: &str) -> Result<(), String> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!("{email:?} is not an email address"))
    }
}

/// Load the signing key from `data`, or generate and store it (PKCS#8 PEM, mode 0600).
fn load_or_generate_key(data: &Path) -> Result<(EcdsaKeyPair, bool)> {
    let path = data.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let der = pem_decode(&text, &["PRIVATE KEY"])
                .map_err(|e| anyhow!("{} is corrupt: {e}", path.display()))?;
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                .map_err(|e| anyhow!("{} is not a P-256 PKCS#8 key: {e}", path.display()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data)
                .with_context(|| format!("cannot create data directory {}", data.display()))?;
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| anyhow!("cannot generate a P-256 key"))?;
            let der = key
                .to_pkcs8v1()
                .map_err(|_| anyhow!("cannot export the P-256 key"))?;
            write_file_durably(
                &path,
                pem_encode("PRIVATE KEY", der.as_ref()).as_bytes(),
                true,
            )
            .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
            Ok((key, true))
        }
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// The public JWK of `key` and its RFC 7638 thumbprint (used as `kid`).
fn jwk_for(key: &EcdsaKeyPair) -> Result<(Value, String)> {
    let point = key.public_key().as_ref();
    if point.len() != 65 || point[0] != 4 {
        bail!("unexpected P-256 public key encoding");
    }
    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(HashKind::Sha256.digest(canonical.as_bytes()));
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "x": x, "y": y,
        "use": "sig", "alg": "ES256", "kid": kid,
    });
    Ok((jwk, kid))
}

impl Idp {
    fn discovery(&self) -> Value {
        let i = &self.issuer;
        json!({
            "issuer": i,
            "jwks_uri": format!("{i}/jwks"),
            "token_endpoint": format!("{i}/token"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "grant_types_supported": ["urn:vouch:params:grant-type:dev-identity"],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "email", "email_verified"],
            "scopes_supported": ["openid", "email"],
        })
    }

    /// Sign an ID token for `email` with audience `aud`.
    fn mint(&self, email: &str, aud: &str, now: u64) -> Result<String, String> {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let claims = json!({
            "iss": self.issuer,
            "sub": email,
            "email": email,
            "email_verified": true,
            "aud": aud,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| "signing failed".to_string())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        ))
    }
}

fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description.into()})),
    )
        .into_response()
}

/// Parse the `/token` body: JSON object, or `application/x-www-form-urlencoded`.
fn token_params(headers: &HeaderMap, body: &[u8]) -> Result<(String, Option<String>), String> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
        || body.first() == Some(&b'{');
    let (email, audience) = if is_json {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        (field("email"), field("audience").or_else(|| field("aud")))
    } else {
        let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
        let url = reqwest::Url::parse(&format!("http://form.invalid/?{text}"))
            .map_err(|e| format!("invalid form body: {e}"))?;
        let mut email = None;
        let mut audience = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "email" => email = Some(v.into_owned()),
                "audience" | "aud" => audience = Some(v.into_owned()),
                _ => {}
            }
        }
        (email, audience)
    };
    let email = email.ok_or_else(|| "missing \"email\"".to_string())?;
    Ok((email, audience))
}

async fn token(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    let (email, audience) = match token_params(&headers, &body) {
        Ok(p) => p,
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", e),
    };
    if let Err(e) = check_email(&email) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", e);
    }
    let audience = audience
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| DEFAULT_AUDIENCE.to_string());
    if audience.len() > 256 || audience.chars().any(char::is_control) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid audience",
        );
    }
    if let Allowed::Listed(users) = &idp.allowed
        && !users.contains(&email.to_ascii_lowercase())
    {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("{email} is not in this IdP's user list"),
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match idp.mint(&email, &audience, now) {
        Ok(t) => {
            tracing::info!(%email, %audience, "issued ID token");
            (
                StatusCode::OK,
                axum::Json(json!({
                    "id_token": t,
                    "access_token": t,
                    "token_type": "Bearer",
                    "expires_in": TOKEN_LIFETIME_SECS,
                })),
            )
                .into_response()
        }
        Err(e) => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e),
    }
}

fn router(idp: Arc<Idp>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(i): State<Arc<Idp>>| async move { axum::Json(i.discovery()) }),
        )
        .route(
            "/jwks",
            get(|State(i): State<Arc<Idp>>| async move {
                axum::Json(json!({"keys": [i.jwk.clone()]}))
            }),
        )
        .route("/token", post(token))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(idp)
}

/// Run `vouch serve oidc` until SIGINT or SIGTERM.
pub fn serve(a: &ServeOidcArgs) -> Result<()> {
    let allowed = match (&a.users, a.allow_any_identity) {
        (Some(p), _) => Allowed::Listed(read_users(p)?),
        (None, true) => Allowed::Any,
        (None, false) => {
            return Err(hinted(
                "refusing to start an IdP that would issue no tokens: pass --allow-any-identity or --users FILE",
                "this is a development IdP without passwords: --users FILE lists the emails it may vouch for",
            ));
        }
    };
    if a.data.exists() && !a.data.is_dir() {
        bail!("--data {} is not a directory", a.data.display());
    }
    let (key, generated) = load_or_generate_key(&a.data)?;
    let (jwk, kid) = jwk_for(&key)?;
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vouch-oidc")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .map_err(|e| anyhow!("cannot listen on {}: {e}", a.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| anyhow!("cannot listen on {}: {e}", a.listen))?;
        let url = format!("http://{addr}");
        let issuer = match &a.issuer_url {
            Some(u) => crate::tlog::base_url(u)?,
            None => url.clone(),
        };
        let snippet = json!({"OIDCIssuers": {issuer.clone(): {
            "IssuerURL": issuer, "ClientID": DEFAULT_AUDIENCE, "Type": "email",
        }}});
        let issuer_path = a.data.join(ISSUER_FILE);
        write_file_durably(&issuer_path, &serde_json::to_vec_pretty(&snippet)?, false)
            .map_err(|e| anyhow!("cannot write {}: {e}", issuer_path.display()))?;
        let mode = match &allowed {
            Allowed::Any => "ANY email (--allow-any-identity)".to_string(),
            Allowed::Listed(u) => format!("{} listed email(s)", u.len()),
        };
        let idp = Arc::new(Idp {
            issuer: issuer.clone(),
            key,
            kid: kid.clone(),
            jwk,
            allowed,
            rng: SystemRandom::new(),
        });
        let mut out = String::new();
        out.push_str(&format!("vouch oidc listening on {url}\n"));
        out.push_str(&format!("issuer: {issuer}\n"));
        out.push_str(&format!(
            "signing key: ES256 kid {kid} ({} in {})\n",
            if generated { "generated" } else { "loaded" },
            a.data.join(KEY_FILE).display()
        ));
        out.push_str(&format!("issues tokens for: {mode}\n"));
        out.push_str(&format!("CA issuer config: {}\n", issuer_path.display()));
        out.push_str(
            "warning: development IdP without passwords: anyone who can reach it gets tokens\n",
        );
        print!("{out}");
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        tracing::info!(%url, %issuer, "OIDC IdP started");
        axum::serve(listener, router(idp))
            .with_graceful_shutdown(async {
                shutdown_signal().await;
                tracing::info!("shutting down");
            })
            .await
            .map_err(|e| anyhow!("server error: {e}"))?;
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// Run `vouch oidc …`.
pub fn run(cmd: OidcCommand) -> Result<()> {
    match cmd {
        OidcCommand::Token(a) => get_token(&a),
    }
}

fn get_token(a: &TokenArgs) -> Result<()> {
    let base = crate::tlog::base_url(&a.url)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let token = rt.block_on(async {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .context("cannot build the HTTP client")?;
        let url = format!("{base}/token");
        let r = http
            .post(&url)
            .json(&json!({"email": a.email, "audience": a.audience}))
            .send()
            .await
            .map_err(|e| {
                hinted(
                    format!("cannot reach the IdP at {base}: {e}"),
                    "start one with `vouch serve oidc --allow-any-identity --data DIR` and pass its URL",
                )
            })?;
        let status = r.status();
        let body: Value = r
            .json()
            .await
            .map_err(|e| anyhow!("{url}: HTTP {status}, unreadable answer: {e}"))?;
        if !status.is_success() {
            let desc = body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("no description");
            bail!("{url}: HTTP {status}: {desc}");
        }
        body.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("{url}: the answer has no id_token"))
    })?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(check_email("a@b.test").is_ok());
        assert!(check_email("a@").is_err());
        assert!(check_email("@b").is_err());
        assert!(check_email("a b@c").is_err());
        assert!(check_email("a@b@c").is_err());
    }

    #[test]
    fn key_roundtrip_and_token() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (k1, g1) = load_or_generate_key(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let (k2, g2) = load_or_generate_key(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(g1 && !g2);
        assert_eq!(k1.public_key().as_ref(), k2.public_key().as_ref());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap_or_else(|e| panic!("{e}"))
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o600);
        }
        let (jwk, kid) = jwk_for(&k1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(jwk["kid"], kid);
        let idp = Idp {
            issuer: "http://127.0.0.1:1".into(),
            key: k1,
            kid,
            jwk,
            allowed: Allowed::Any,
            rng: SystemRandom::new(),
        };
        let t = idp
            .mint("a@b.test", "sigstore", 1000)
            .unwrap_or_else(|e| panic!("{e}"));
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(parts[1])
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims["email"], "a@b.test");
        assert_eq!(claims["exp"], 1600);
        assert_eq!(claims["email_verified"], true);
    }

    #[test]
    fn form_and_json_params() {
        let mut h = HeaderMap::new();
        let (e, a) =
            token_params(&h, b"email=a%40b.test&audience=x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((e.as_str(), a.as_deref()), ("a@b.test", Some("x")));
        h.insert(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        let (e, a) = token_params(&h, br#"{"email":"c@d"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((e.as_str(), a), ("c@d", None));
        assert!(token_params(&h, b"{}").is_err());
    }
}
