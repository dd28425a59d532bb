//! Interactive OIDC login for keyless signing: the browser flow (authorization code + PKCE on a
//! loopback redirect) when a browser can be opened, else the device flow.

use anyhow::Result;
use vouch_sign::{HttpClient, IdentityToken};

/// Get an identity token interactively from `issuer` (the signing config's OIDC URL).
pub async fn interactive_token(_http: &HttpClient, issuer: Option<&str>) -> Result<IdentityToken> {
    Err(crate::tlog::hinted(
        format!(
            "no identity token{}",
            issuer.map(|i| format!(" (interactive login at {i} is not available yet)")).unwrap_or_default()
        ),
        "pass --identity-token TOKEN or set SIGSTORE_ID_TOKEN (e.g. from `vouch oidc token`)",
    ))
}
