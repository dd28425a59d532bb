//! `vouch serve oidc`: the embedded OIDC identity provider (crate `vouch-oidc`) for
//! development and private deployments, and `vouch oidc …`, its clients.
//!
//! The IdP serves discovery, `/jwks`, the authorization-code flow with PKCE (a login page),
//! the device flow (RFC 8628), and the development grant `POST /token`
//! `{"email": "...", "audience": "sigstore"}`, which issues a token for an allowed email
//! **without a login** unless the users file gives that user a password. With
//! `--allow-any-identity` anyone who can reach the server can therefore obtain tokens for any
//! email: bind it to loopback or a trusted network, and never configure a production CA to
//! trust it. `--allow-ci-tokens` additionally mints tokens that mimic GitHub Actions, GitLab
//! CI and Buildkite (a test facility, same caveat).
//!
//! The signing key (ECDSA P-256, PKCS#8 PEM, mode 0600) is generated on first start in the data
//! directory and kept; `issuer.json` there is a ready-to-use CA issuer config for this IdP.

use crate::serve::{init_tracing, shutdown_signal};
use crate::tlog::hinted;
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vouch_oidc::{CiKind, DEFAULT_AUDIENCE, Idp, IdpOptions, UserPolicy};

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
    /// File listing who may get tokens, one `email[:password-hash]` per line (`#` starts a
    /// comment; hashes from `vouch oidc hash-password`).
    #[arg(long)]
    users: Option<PathBuf>,
    /// Lifetime of issued ID tokens, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    token_lifetime: u64,
    /// Audience of tokens whose request names none (the CA's `ClientID`).
    #[arg(long, default_value = DEFAULT_AUDIENCE)]
    audience: String,
    /// OAuth client ID accepted by the login flows (repeatable) [default: the --audience].
    #[arg(long = "client-id", value_name = "ID")]
    client_ids: Vec<String>,
    /// Redirect URI accepted besides loopback http ones (repeatable, exact match).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Also mint CI-style tokens (GitHub Actions, GitLab CI, Buildkite claims) on request:
    /// a test / private-deployment facility, anyone reaching the IdP can mint them.
    #[arg(long)]
    allow_ci_tokens: bool,
    /// Minimum polling interval of the device flow, in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    device_poll_interval: u64,
    #[command(flatten)]
    server: crate::listen::ServerArgs,
}

/// `vouch oidc …` subcommands.
#[derive(Subcommand, Debug)]
pub enum OidcCommand {
    /// Get an ID token from a `vouch serve oidc` IdP without a login (development grant, or
    /// a CI-style token with --ci) and print it.
    Token(TokenArgs),
    /// Log in to any OIDC provider (browser + loopback redirect, or --device) and print the
    /// ID token.
    Login(LoginArgs),
    /// Read a password from stdin and print its hash for a `--users` file line
    /// `email:HASH`.
    HashPassword,
}

/// `vouch oidc token`.
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Base URL of the IdP (`vouch serve oidc`).
    #[arg(long)]
    url: String,
    /// The identity (email) to get a token for.
    #[arg(long, required_unless_present = "ci")]
    email: Option<String>,
    /// The user's password, when the users file gives it one.
    #[arg(long, env = "VOUCH_OIDC_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The token audience (the CA's `ClientID`).
    #[arg(long, default_value = DEFAULT_AUDIENCE)]
    audience: String,
    /// Mint a CI-style token instead: github-actions, gitlab or buildkite (the IdP needs
    /// --allow-ci-tokens).
    #[arg(long, conflicts_with_all = ["email", "password"])]
    ci: Option<String>,
    /// A claim of the CI token, `NAME=VALUE` (repeatable; defaults fill the rest).
    #[arg(long = "claim", value_name = "NAME=VALUE", requires = "ci")]
    claims: Vec<String>,
}

/// `vouch oidc login`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Issuer URL of the provider (e.g. http://127.0.0.1:3004 or https://oauth2.sigstore.dev/auth).
    #[arg(long)]
    issuer: String,
    /// OAuth client ID.
    #[arg(long, default_value = DEFAULT_AUDIENCE)]
    client_id: String,
    /// Use the device flow (enter a code on another device) instead of a local browser.
    #[arg(long)]
    device: bool,
}

/// Run `vouch serve oidc` until SIGINT or SIGTERM.
pub fn serve(a: &ServeOidcArgs) -> Result<()> {
    let users = match (&a.users, a.allow_any_identity) {
        (Some(p), _) => UserPolicy::UsersFile(p.clone()),
        (None, true) => UserPolicy::AnyEmail,
        (None, false) => {
            return Err(hinted(
                "refusing to start an IdP that would issue no tokens: pass --allow-any-identity or --users FILE",
                "--users FILE lists the emails it may vouch for (with optional password hashes from `vouch oidc hash-password`)",
            ));
        }
    };
    let any_email = matches!(users, UserPolicy::AnyEmail);
    if a.data.exists() && !a.data.is_dir() {
        bail!("--data {} is not a directory", a.data.display());
    }
    init_tracing();
    let rt = vouch_server::runtime("vouch-oidc")?;
    rt.block_on(async move {
        let server = a
            .server
            .bind("oidc", &a.listen, vouch_oidc::MAX_BODY_BYTES)
            .await?;
        let url = server.url();
        if any_email && !server.local_addr().ip().is_loopback() {
            return Err(hinted(
                format!(
                    "--listen {} is not loopback, and --allow-any-identity issues tokens for any email to anyone who can reach it",
                    a.listen
                ),
                "pass --users FILE listing who may log in, or listen on 127.0.0.1 / [::1]",
            ));
        }
        let issuer = match &a.issuer_url {
            Some(u) => crate::tlog::base_url(u)?,
            None => url.clone(),
        };
        let mut opts = IdpOptions::new(issuer.clone());
        opts.users = users;
        opts.token_lifetime = Duration::from_secs(a.token_lifetime);
        opts.default_audience = a.audience.clone();
        opts.client_ids = a.client_ids.clone();
        opts.redirect_uris = a.redirect_uris.clone();
        opts.allow_ci_tokens = a.allow_ci_tokens;
        opts.device_poll_interval = Duration::from_secs(a.device_poll_interval);
        let idp = Idp::load_or_generate(&a.data, opts).map_err(anyhow::Error::new)?;
        let mut out = String::new();
        out.push_str(&format!("vouch oidc listening on {url}\n"));
        out.push_str(&format!("issuer: {}\n", idp.issuer()));
        out.push_str(&format!(
            "signing key: ES256 kid {} ({} in {})\n",
            idp.kid(),
            if idp.key_generated() {
                "generated"
            } else {
                "loaded"
            },
            idp.key_file().display()
        ));
        out.push_str(&format!("issues tokens for: {}\n", idp.users_summary()));
        out.push_str(&format!(
            "CA issuer config: {}\n",
            idp.issuer_file().display()
        ));
        out.push_str(&format!(
            "login: {}/auth (authorization code + PKCE), {}/device (device flow)\n",
            idp.issuer(),
            idp.issuer()
        ));
        if a.allow_ci_tokens {
            out.push_str(&format!(
                "warning: CI tokens enabled: anyone who can reach the IdP can mint tokens for any repository ({}/ci/…)\n",
                idp.issuer()
            ));
        }
        out.push_str(
            "warning: development IdP: `POST /token {\"email\"}` issues tokens without a login for users without a password\n",
        );
        print!("{out}");
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        tracing::info!(%url, issuer = %idp.issuer(), "OIDC IdP started");
        server
            .serve(vouch_oidc::router(Arc::new(idp)), shutdown_signal())
            .await;
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// Run `vouch oidc …`.
pub fn run(cmd: OidcCommand) -> Result<()> {
    match cmd {
        OidcCommand::Token(a) => get_token(&a),
        OidcCommand::Login(a) => login(&a),
        OidcCommand::HashPassword => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            let pw = line.trim_end_matches(['\r', '\n']);
            println!(
                "{}",
                vouch_oidc::hash_password(pw).map_err(|e| anyhow!("{e}"))?
            );
            Ok(())
        }
    }
}

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")
}

/// The JSON body of `vouch oidc token`: the IdP's CI grant (a CI kind and its claims) or its
/// dev grant (an email, and a password when the IdP asks for one). The IdP reads its token
/// parameters by name from a form or JSON alike, so it has no struct of its own to share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
enum TokenRequest {
    /// `{"audience", "ci", "claims"}`.
    Ci {
        audience: String,
        ci: &'static str,
        claims: BTreeMap<String, String>,
    },
    /// `{"audience", "email", "password"?}` (`email` is `null` when not given).
    Dev {
        audience: String,
        email: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
}

/// The request body of `vouch oidc token`.
fn token_request(a: &TokenArgs) -> Result<TokenRequest> {
    if let Some(ci) = &a.ci {
        let kind: CiKind = ci.parse().map_err(|e: String| anyhow!("--ci: {e}"))?;
        let mut claims = BTreeMap::new();
        for c in &a.claims {
            let (k, v) = c
                .split_once('=')
                .ok_or_else(|| anyhow!("--claim {c:?}: expected NAME=VALUE"))?;
            claims.insert(k.to_string(), v.to_string());
        }
        return Ok(TokenRequest::Ci {
            audience: a.audience.clone(),
            ci: kind.as_str(),
            claims,
        });
    }
    Ok(TokenRequest::Dev {
        audience: a.audience.clone(),
        email: a.email.clone(),
        password: a.password.clone(),
    })
}

fn get_token(a: &TokenArgs) -> Result<()> {
    let base = crate::tlog::base_url(&a.url)?;
    let request = token_request(a)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let token = rt.block_on(async {
        let http = http_client()?;
        let url = format!("{base}/token");
        let r = http
            .post(&url)
            .json(&request)
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

fn login(a: &LoginArgs) -> Result<()> {
    let issuer = crate::tlog::base_url(&a.issuer)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let token = rt.block_on(async {
        let http = http_client()?;
        let r = if a.device {
            vouch_oidc::device_flow(&http, &issuer, &a.client_id, |p| {
                let uri = p
                    .verification_uri_complete
                    .as_deref()
                    .unwrap_or(&p.verification_uri);
                eprintln!("To sign in, open {uri} and enter the code {}", p.user_code);
            })
            .await
        } else {
            vouch_oidc::auth_code_flow_loopback(&http, &issuer, &a.client_id, |url| {
                eprintln!("Open this URL in your browser to sign in:\n  {url}");
            })
            .await
        };
        r.map_err(|e| anyhow!("login at {issuer} failed: {e}"))
    })?;
    println!("{token}");
    Ok(())
}

/// `vouch bench oidc`.
#[derive(Args, Debug)]
pub struct BenchOidcArgs {
    /// The token request, exactly as `vouch oidc token` sends it (the development grant for
    /// `--email`, a CI-style token for `--ci`); `--url` must be on this machine's loopback.
    #[command(flatten)]
    token: TokenArgs,
    /// Concurrent clients, each requesting tokens back to back.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// How long to request tokens, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = crate::serve::parse_duration)]
    duration: Duration,
    /// PID of the IdP under load (on this machine): also print its CPU time per token and the
    /// efficiency against one P-256 signature (the ES256 ID token).
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
}

/// Verify `token` as a CA would: signature against the issuer's JWKS (via discovery), `iss`,
/// `aud` and lifetime. The issuer must be on loopback, like the IdP under load.
async fn verify_like_a_ca(
    http: &reqwest::Client,
    token: &str,
    audience: &str,
    ci: Option<CiKind>,
) -> Result<()> {
    use vouch_ca::config::{FulcioConfig, IssuerConfig, IssuerType};
    let claims = crate::bench::unverified_claims(token)?;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("the token has no iss claim"))?;
    crate::bench::check_local(iss, "oidc", "vouch serve oidc --allow-any-identity --data DIR")
        .map_err(|_| {
            hinted(
                format!("the token's issuer {iss:?} is not on this machine's loopback"),
                "the bench verifies a token against its issuer's JWKS: bench an IdP whose --issuer-url is its loopback URL",
            )
        })?;
    let issuer_type: IssuerType = match ci {
        None => IssuerType::Email,
        Some(kind) => kind
            .issuer_type()
            .parse()
            .map_err(|e| anyhow!("CI kind {}: {e}", kind.as_str()))?,
    };
    let mut config = FulcioConfig::default();
    config.oidc_issuers.insert(
        iss.to_string(),
        IssuerConfig::new(iss, audience, issuer_type),
    );
    vouch_ca::OidcVerifier::new(config, http.clone())
        .verify(token)
        .await
        .map_err(|e| anyhow!("the IdP's token does not verify as a CA would check it: {e}"))?;
    Ok(())
}

/// Run `vouch bench oidc`.
pub fn bench(a: &BenchOidcArgs) -> Result<()> {
    let base = crate::bench::check_local(
        &a.token.url,
        "oidc",
        "vouch serve oidc --allow-any-identity --data DIR --listen 127.0.0.1:3004",
    )?;
    let request = token_request(&a.token)?;
    let ci = match &a.token.ci {
        Some(c) => Some(
            c.parse::<CiKind>()
                .map_err(|e: String| anyhow!("--ci: {e}"))?,
        ),
        None => None,
    };
    let body = serde_json::to_vec(&request)?;
    let (rt, http) = crate::bench::load_runtime(a.clients)?;
    let url = format!("{base}/token");
    // Preflight: one token, verified end to end, before loading.
    rt.block_on(async {
        let r = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| {
                hinted(
                    format!("cannot reach the IdP at {base}: {e}"),
                    "start one with `vouch serve oidc --allow-any-identity --data DIR` (or `vouch up`) and pass its URL",
                )
            })?;
        let status = r.status();
        let answer: Value = r
            .json()
            .await
            .map_err(|e| anyhow!("{url}: HTTP {status}, unreadable answer: {e}"))?;
        if !status.is_success() {
            let desc = answer
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("no description");
            bail!("{url}: HTTP {status}: {desc}");
        }
        let token = answer
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{url}: the answer has no id_token"))?;
        verify_like_a_ca(&http, token, &a.token.audience, ci).await
    })?;
    eprintln!(
        "one token verified against the IdP's JWKS; requesting with {} clients for {:.1} s",
        a.clients,
        a.duration.as_secs_f64()
    );
    let cpu = crate::bench::server_cpu(a.server_pid)?;
    let load = crate::bench::post_load(
        &rt,
        &http,
        &url,
        (vec![body], "application/json"),
        a.clients,
        a.duration,
    );
    let (ok, errors, secs) = (load.ok, load.errors, load.secs);
    println!(
        "url={base} clients={} grant={} duration_s={secs:.2}",
        a.clients,
        a.token.ci.as_deref().map_or("development", |_| "ci")
    );
    println!("tokens={ok} errors={errors}");
    load.print_latencies();
    println!("tokens_per_sec={:.0}", ok as f64 / secs);
    if let Some((cal, cpu)) = &cpu {
        // One token is one ES256 signature (the IdP's P-256 key).
        crate::bench_cpu::print_efficiency(cal, cpu, ok, cal.p256_sign_us, "1 P-256 sign")?;
    }
    if ok == 0 {
        bail!("no token was issued");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_request_bodies() {
        let mut a = TokenArgs {
            url: "http://127.0.0.1:1".into(),
            email: Some("a@b.test".into()),
            password: None,
            audience: "sigstore".into(),
            ci: None,
            claims: vec![],
        };
        let b = token_request(&a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::to_string(&b).unwrap_or_default(),
            r#"{"audience":"sigstore","email":"a@b.test"}"#
        );
        a.password = Some("pw".into());
        let b = token_request(&a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::to_string(&b).unwrap_or_default(),
            r#"{"audience":"sigstore","email":"a@b.test","password":"pw"}"#
        );
        a.password = None;
        a.email = None;
        a.ci = Some("github-actions".into());
        a.claims = vec!["repository=acme/w".into()];
        let b = token_request(&a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::to_string(&b).unwrap_or_default(),
            r#"{"audience":"sigstore","ci":"github-actions","claims":{"repository":"acme/w"}}"#
        );
        a.claims = vec!["bad".into()];
        assert!(token_request(&a).is_err());
    }
}
