//! Registry credentials from Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): inline `auths` entries, and credential helpers (`credHelpers`,
//! `credsStore`) run as `docker-credential-<name> get`.

use crate::registry::Credentials;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// The keys under which `registry` may appear in `auths`.
fn candidates(registry: &str) -> Vec<String> {
    let mut v = vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ];
    if registry == "index.docker.io" || registry == "docker.io" {
        v.push("https://index.docker.io/v1/".into());
        v.push("docker.io".into());
    }
    v
}

/// Credentials for `registry` from the Docker config, if any.
pub fn lookup(registry: &str) -> Option<Credentials> {
    lookup_in(&config_path()?, registry)
}

/// Credentials for `registry` from the Docker config file at `path`, if any.
pub fn lookup_in(path: &std::path::Path, registry: &str) -> Option<Credentials> {
    let bytes = std::fs::read(path).ok()?;
    let cfg: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let names = candidates(registry);
    // A per-registry helper wins, then inline auths, then the default store.
    if let Some(helpers) = cfg.get("credHelpers").and_then(|h| h.as_object()) {
        for n in &names {
            if let Some(helper) = helpers.get(n).and_then(|h| h.as_str()) {
                return run_helper(helper, registry);
            }
        }
    }
    if let Some(auths) = cfg.get("auths").and_then(|a| a.as_object()) {
        for n in &names {
            if let Some(entry) = auths.get(n) {
                if let Some(tok) = entry.get("identitytoken").and_then(|t| t.as_str())
                    && !tok.is_empty()
                {
                    return Some(Credentials::Basic {
                        username: "<token>".into(),
                        password: tok.to_string(),
                    });
                }
                if let Some(a) = entry.get("auth").and_then(|a| a.as_str())
                    && let Ok(raw) = STANDARD.decode(a.trim())
                    && let Ok(s) = String::from_utf8(raw)
                    && let Some((u, p)) = s.split_once(':')
                {
                    return Some(Credentials::Basic {
                        username: u.to_string(),
                        password: p.to_string(),
                    });
                }
                if let (Some(u), Some(p)) = (
                    entry.get("username").and_then(|x| x.as_str()),
                    entry.get("password").and_then(|x| x.as_str()),
                ) {
                    return Some(Credentials::Basic {
                        username: u.to_string(),
                        password: p.to_string(),
                    });
                }
            }
        }
    }
    if let Some(store) = cfg.get("credsStore").and_then(|s| s.as_str()) {
        return run_helper(store, registry);
    }
    None
}

fn run_helper(helper: &str, registry: &str) -> Option<Credentials> {
    if helper.is_empty() || helper.contains('/') {
        return None;
    }
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let user = v.get("Username")?.as_str()?.to_string();
    let secret = v.get("Secret")?.as_str()?.to_string();
    Some(Credentials::Basic {
        username: user,
        password: secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(c: Option<Credentials>) -> Option<(String, String)> {
        match c {
            Some(Credentials::Basic { username, password }) => Some((username, password)),
            _ => None,
        }
    }

    #[test]
    fn inline_auths() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            format!(
                r#"{{"auths": {{"registry.local:5000": {{"auth": "{}"}}, "https://index.docker.io/v1/": {{"auth": "{}"}}}}}}"#,
                STANDARD.encode("alice:s3cr:et"),
                STANDARD.encode("bob:pw")
            ),
        )
        .unwrap();
        assert_eq!(
            basic(lookup_in(&p, "registry.local:5000")),
            Some(("alice".into(), "s3cr:et".into()))
        );
        assert_eq!(
            basic(lookup_in(&p, "index.docker.io")),
            Some(("bob".into(), "pw".into()))
        );
        assert!(lookup_in(&p, "ghcr.io").is_none());
        assert!(lookup_in(&dir.path().join("absent.json"), "ghcr.io").is_none());
    }

    #[test]
    fn missing_helper_gives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"credHelpers": {"ghcr.io": "vouch-test-absent-helper"}}"#,
        )
        .unwrap();
        assert!(lookup_in(&p, "ghcr.io").is_none());
    }
}
