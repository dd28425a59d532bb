//! OIDC identity tokens: parsing the (unverified) claims a client needs, and the ambient token
//! sources cosign checks, in cosign's order: `SIGSTORE_ID_TOKEN`, GitHub Actions
//! (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`), Buildkite
//! (`buildkite-agent oidc request-token`). GitLab CI sets `SIGSTORE_ID_TOKEN` through its
//! `id_tokens:` keyword, so it is covered by the first.
//!
//! The client never trusts these claims: the CA verifies the token. They only tell the client
//! which string to sign as proof of possession and what to show the user.

use crate::SignError;
use crate::http::HttpClient;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// Largest token accepted.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A compact-serialized JWT and its decoded (unverified) claims.
#[derive(Clone)]
pub struct IdentityToken {
    raw: String,
    claims: Map<String, Value>,
}

impl std::fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityToken")
            .field("iss", &self.issuer())
            .field("sub", &self.claim("sub"))
            .finish_non_exhaustive()
    }
}

impl IdentityToken {
    /// Parse a compact JWT (`header.payload.signature`), decoding the payload's claims.
    pub fn parse(raw: &str) -> Result<Self, SignError> {
        let raw = raw.trim();
        if raw.len() > MAX_TOKEN_LEN {
            return Err(SignError::Token(format!(
                "token is {} bytes, more than {MAX_TOKEN_LEN}",
                raw.len()
            )));
        }
        let parts: Vec<&str> = raw.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(SignError::Token(
                "not a JWT: expected three base64url parts separated by '.'".into(),
            ));
        }
        let payload = URL_SAFE_NO_PAD
            .decode(parts[1].trim_end_matches('='))
            .map_err(|_| SignError::Token("JWT payload is not base64url".into()))?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload)
            .map_err(|_| SignError::Token("JWT payload is not a JSON object".into()))?;
        let t = IdentityToken {
            raw: raw.to_string(),
            claims,
        };
        if t.issuer().is_none() {
            return Err(SignError::Token("token has no \"iss\" claim".into()));
        }
        Ok(t)
    }

    /// The token as sent to the CA.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// A string claim.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(|v| v.as_str())
    }

    /// All claims (unverified).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.claim("iss")
    }

    /// `exp` as Unix seconds.
    pub fn expiry(&self) -> Option<i64> {
        self.claims.get("exp").and_then(|v| v.as_i64())
    }

    /// The principal the proof of possession signs: the `email` claim when present (which must
    /// then be verified), else `sub` — the rule of sigstore's reference client.
    pub fn subject(&self) -> Result<String, SignError> {
        if let Some(email) = self.claim("email") {
            match self.claims.get("email_verified") {
                Some(Value::Bool(true)) => {}
                Some(Value::String(s)) if s == "true" => {}
                _ => {
                    return Err(SignError::Token(format!(
                        "the token's email {email:?} is not verified (email_verified is not true)"
                    )));
                }
            }
            return Ok(email.to_string());
        }
        self.claim("sub")
            .map(str::to_string)
            .ok_or_else(|| SignError::Token("token has neither \"email\" nor \"sub\"".into()))
    }

    /// Refuse tokens that expired (with 30 s of skew allowed).
    pub fn check_not_expired(&self, now_unix: i64) -> Result<(), SignError> {
        if let Some(exp) = self.expiry()
            && exp + 30 < now_unix
        {
            return Err(SignError::Token(format!(
                "token expired {} s ago; get a fresh one",
                now_unix - exp
            )));
        }
        Ok(())
    }
}

/// Where an ambient token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmbientSource {
    /// The `SIGSTORE_ID_TOKEN` environment variable (also GitLab CI `id_tokens`).
    SigstoreIdTokenEnv,
    /// GitHub Actions' OIDC token endpoint.
    GithubActions,
    /// `buildkite-agent oidc request-token`.
    Buildkite,
}

impl AmbientSource {
    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            AmbientSource::SigstoreIdTokenEnv => "SIGSTORE_ID_TOKEN",
            AmbientSource::GithubActions => "GitHub Actions",
            AmbientSource::Buildkite => "Buildkite",
        }
    }
}

/// Look for an ambient identity token (CI environments). `Ok(None)` when none is available.
pub async fn ambient(
    http: &HttpClient,
    audience: &str,
) -> Result<Option<(IdentityToken, AmbientSource)>, SignError> {
    if let Ok(t) = std::env::var("SIGSTORE_ID_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(Some((
            IdentityToken::parse(&t)?,
            AmbientSource::SigstoreIdTokenEnv,
        )));
    }
    if let (Ok(url), Ok(bearer)) = (
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let full = format!("{url}{sep}audience={audience}");
        let resp = http
            .get(
                "GitHub Actions token endpoint",
                &full,
                &[("Authorization", format!("Bearer {bearer}"))],
            )
            .await?;
        let v: Value = serde_json::from_slice(&resp.body).map_err(|_| {
            SignError::Token("GitHub Actions token endpoint returned non-JSON".into())
        })?;
        let t = v.get("value").and_then(|t| t.as_str()).ok_or_else(|| {
            SignError::Token("GitHub Actions token endpoint returned no \"value\"".into())
        })?;
        return Ok(Some((
            IdentityToken::parse(t)?,
            AmbientSource::GithubActions,
        )));
    }
    if std::env::var("BUILDKITE").is_ok_and(|v| v == "true") {
        let out = tokio::process::Command::new("buildkite-agent")
            .args(["oidc", "request-token", "--audience", audience])
            .output()
            .await
            .map_err(|source| SignError::TokenCommand {
                command: "buildkite-agent",
                source,
            })?;
        if !out.status.success() {
            return Err(SignError::Token(format!(
                "buildkite-agent oidc request-token failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let t = String::from_utf8_lossy(&out.stdout).trim().to_string();
        return Ok(Some((IdentityToken::parse(&t)?, AmbientSource::Buildkite)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn jwt_shape_requires_three_non_empty_parts() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://i"}"#);
        assert!(IdentityToken::parse(&format!("{header}.{payload}.sig")).is_ok());
        for bad in [
            format!("{header}.{payload}."),
            format!(".{payload}.sig"),
            format!("{header}..sig"),
            format!("{header}.{payload}"),
            format!("{header}.{payload}.sig.extra"),
        ] {
            assert!(
                matches!(IdentityToken::parse(&bad), Err(SignError::Token(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn subject_rules() {
        let t = IdentityToken::parse(&jwt(&serde_json::json!({
            "iss": "https://i", "sub": "123", "email": "a@b.c", "email_verified": true
        })))
        .unwrap();
        assert_eq!(t.subject().unwrap(), "a@b.c");
        let t = IdentityToken::parse(&jwt(&serde_json::json!({
            "iss": "https://i", "sub": "123", "email": "a@b.c"
        })))
        .unwrap();
        assert!(t.subject().is_err());
        let t = IdentityToken::parse(&jwt(
            &serde_json::json!({"iss": "https://i", "sub": "repo:x"}),
        ))
        .unwrap();
        assert_eq!(t.subject().unwrap(), "repo:x");
        assert!(IdentityToken::parse("a.b").is_err());
        assert!(IdentityToken::parse("a.!!!.c").is_err());
        assert!(IdentityToken::parse(&jwt(&serde_json::json!({"sub": "x"}))).is_err());
    }

    #[test]
    fn expiry() {
        let t = IdentityToken::parse(&jwt(&serde_json::json!({"iss": "https://i", "exp": 1000})))
            .unwrap();
        assert!(t.check_not_expired(1000).is_ok());
        assert!(t.check_not_expired(2000).is_err());
    }
}
