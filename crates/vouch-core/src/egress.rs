//! The process-wide egress policy behind `--offline`.
//!
//! A verifying command run with `--offline` calls [`restrict_to`] once, before any client is
//! built, with the only hosts it may contact (the registry named in the image reference, or
//! none with `--local-image`). Every network client in vouch (the registry client, the
//! signing-services client, TUF and Rekor lookups through it) calls [`check`] before it opens
//! a connection, so a request to any other host fails before a packet leaves, with an error
//! naming the host and the component that tried. Without `--offline` nothing is restricted.
//!
//! The policy is global on purpose: the guarantee is about the whole process, so it must not
//! depend on each call site remembering to pass it along.

use std::sync::RwLock;

/// Hosts that may be contacted: `None` = unrestricted.
static ALLOWED: RwLock<Option<Vec<String>>> = RwLock::new(None);

/// A connection the egress policy refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "offline: {component} tried to reach {host} ({url}), but --offline allows {}",
    allowed_text(.allowed)
)]
pub struct EgressRefused {
    /// What tried to connect ("registry", "Rekor", "TSA", "TUF", ...).
    pub component: String,
    /// The host (and port) it tried to reach.
    pub host: String,
    /// The URL requested.
    pub url: String,
    /// What the policy allows.
    pub allowed: Vec<String>,
}

fn allowed_text(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "no network access at all".to_string()
    } else {
        format!("only {}", allowed.join(", "))
    }
}

/// Restrict this process to `hosts` (`host` or `host:port`; a bare host allows every port).
/// Later calls narrow nothing and widen nothing: the first restriction stays in force, so a
/// component cannot lift it.
pub fn restrict_to<I, S>(hosts: I)
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut g = ALLOWED.write().unwrap_or_else(|e| e.into_inner());
    if g.is_none() {
        *g = Some(
            hosts
                .into_iter()
                .map(|h| h.into().to_ascii_lowercase())
                .collect(),
        );
    }
}

/// Whether [`restrict_to`] is in force.
pub fn is_restricted() -> bool {
    ALLOWED.read().map(|g| g.is_some()).unwrap_or(true)
}

/// `host[:port]` of an absolute URL (`scheme://[userinfo@]host[:port]/…`), lowercased.
pub fn authority_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let auth = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let auth = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
    auth.to_ascii_lowercase()
}

/// The host of `host[:port]` (IPv6 literals keep their brackets).
fn host_part(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map(|i| &authority[..=i])
            .unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// May `component` connect to `url`? An error names both when the policy forbids it.
pub fn check(component: &str, url: &str) -> Result<(), EgressRefused> {
    let guard = ALLOWED.read().unwrap_or_else(|e| e.into_inner());
    let Some(allowed) = guard.as_ref() else {
        return Ok(());
    };
    let authority = authority_of(url);
    let host = host_part(&authority);
    let ok = allowed.iter().any(|a| {
        let has_port = if a.starts_with('[') {
            a.contains("]:")
        } else {
            a.contains(':')
        };
        if has_port { *a == authority } else { a == host }
    });
    if ok {
        Ok(())
    } else {
        Err(EgressRefused {
            component: component.to_string(),
            host: authority,
            url: url.to_string(),
            allowed: allowed.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(authority_of("http://10.0.0.2:5000/v2/x"), "10.0.0.2:5000");
        assert_eq!(
            authority_of("https://u:p@Rekor.Example/api"),
            "rekor.example"
        );
        assert_eq!(authority_of("http://[::1]:80/"), "[::1]:80");
        assert_eq!(host_part("[::1]:80"), "[::1]");
        assert_eq!(host_part("a.b:1"), "a.b");
    }

    // The policy is process-wide, so one test exercises it (tests run in parallel threads).
    #[test]
    fn restriction() {
        assert!(check("TSA", "https://tsa.example/").is_ok());
        restrict_to(["10.0.0.2:5000", "mirror.local"]);
        restrict_to(["evil.example"]); // ignored: the first restriction stays
        assert!(is_restricted());
        assert!(check("registry", "http://10.0.0.2:5000/v2/").is_ok());
        assert!(check("registry", "https://mirror.local:443/v2/").is_ok());
        let e = check("Rekor", "https://rekor.example/api/v1/log").unwrap_err();
        assert_eq!(e.host, "rekor.example");
        assert_eq!(e.component, "Rekor");
        assert!(e.to_string().contains("Rekor tried to reach rekor.example"));
        assert!(check("registry", "http://10.0.0.2:5001/v2/").is_err());
        assert!(check("x", "https://evil.example/").is_err());
    }
}
