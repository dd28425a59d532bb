//! Interactive OIDC login for keyless signing, as cosign does it: the browser flow
//! (authorization code + PKCE, redirect to a one-shot loopback listener) when a browser can be
//! opened, else the device flow (RFC 8628: a code to enter on another device).

use crate::tlog::hinted;
use anyhow::Result;
use std::io::IsTerminal;
use vouch_sign::{HttpClient, IdentityToken};

/// How to log in.
#[derive(Clone, Debug, Default)]
pub struct LoginOptions {
    /// Issuer to log in at (overrides the signing config's `oidcUrls`).
    pub issuer: Option<String>,
    /// OAuth client ID (Sigstore's is `sigstore`).
    pub client_id: String,
    /// Use the device flow even where a browser could be opened; also allowed without a TTY.
    pub device_flow: bool,
}

fn can_open_browser() -> bool {
    cfg!(target_os = "macos")
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

fn open_browser(url: &str) {
    eprintln!("Opening your browser to log in. If it does not open, visit:\n  {url}");
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Get an identity token interactively from the issuer (`opts.issuer`, else the signing
/// config's OIDC URL).
pub async fn interactive_token(
    http: &HttpClient,
    config_issuer: Option<&str>,
    opts: &LoginOptions,
) -> Result<IdentityToken> {
    let issuer = opts.issuer.as_deref().or(config_issuer).ok_or_else(|| {
        hinted(
            "no identity token, and the signing config names no OIDC provider to log in at",
            "pass --identity-token TOKEN, set SIGSTORE_ID_TOKEN, or --oidc-issuer URL",
        )
    })?;
    if !opts.device_flow && !std::io::stdin().is_terminal() {
        return Err(hinted(
            "no identity token (SIGSTORE_ID_TOKEN, --identity-token, or a CI provider's ambient token) and no terminal to log in from",
            format!(
                "pass --identity-token, or --oidc-device-flow to log in at {issuer} from another device"
            ),
        ));
    }
    let client = http.reqwest();
    let raw = if !opts.device_flow && can_open_browser() {
        vouch_oidc::auth_code_flow_loopback(client, issuer, &opts.client_id, open_browser)
            .await
            .map_err(|e| {
                anyhow::anyhow!("login at {issuer} failed: {}", vouch_core::error_chain(&e))
            })?
    } else {
        vouch_oidc::device_flow(client, issuer, &opts.client_id, |p| {
            eprintln!(
                "To sign, log in at {} and enter the code {}",
                p.verification_uri, p.user_code
            );
            if let Some(full) = &p.verification_uri_complete {
                eprintln!("  (or open {full})");
            }
        })
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "device login at {issuer} failed: {}",
                vouch_core::error_chain(&e)
            )
        })?
    };
    Ok(IdentityToken::parse(&raw)?)
}
