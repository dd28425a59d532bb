//! End to end through the binary: `vouch serve oidc` (dev IdP) → `vouch oidc token` →
//! `vouch serve ca` trusting the IdP via its `issuer.json` → `vouch bench ca`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{first_line_url, vouch};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Kills the server processes when the test ends, however it ends.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Start a server and return the URL from its first stdout line (`<prefix><url>`), within 30 s.
fn start(servers: &mut Servers, cmd: &mut Command, prefix: &'static str) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    servers.0.push(child);
    first_line_url(stdout, prefix, "server")
}

/// Run a command to completion, killing it after `limit`.
fn run_bounded(cmd: &mut Command, dir: &Path, limit: Duration) -> Output {
    let out_path = dir.join(format!("out-{}", rand_suffix()));
    let err_path = dir.join(format!("err-{}", rand_suffix()));
    let mut child = cmd
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn token(url: &str, audience: &str, dir: &Path) -> String {
    let out = run_bounded(
        vouch().args([
            "oidc",
            "token",
            "--url",
            url,
            "--email",
            "dev@example.test",
            "--audience",
            audience,
        ]),
        dir,
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(t.split('.').count(), 3, "{t}");
    t
}

fn bench(ca: &str, token: &str, dir: &Path) -> (Output, String) {
    let out = run_bounded(
        vouch().args([
            "bench",
            "ca",
            "--url",
            ca,
            "--identity-token",
            token,
            "--duration",
            "2s",
            "--clients",
            "4",
            "--keys",
            "8",
        ]),
        dir,
        Duration::from_secs(60),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn field(text: &str, key: &str) -> f64 {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

#[test]
fn dev_idp_tokens_get_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = Servers(Vec::new());

    let idp_data = dir.path().join("oidc");
    let idp = start(
        &mut servers,
        vouch()
            .args([
                "serve",
                "oidc",
                "--allow-any-identity",
                "--listen",
                "127.0.0.1:0",
                "--data",
            ])
            .arg(&idp_data),
        "vouch oidc listening on ",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(idp_data.join("oidc.key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let good = token(&idp, "sigstore", dir.path());
    let wrong_aud = token(&idp, "not-sigstore", dir.path());

    // The CA config is the IdP's issuer.json as written.
    let issuer_json = std::fs::read_to_string(idp_data.join("issuer.json")).unwrap();
    let cfg: serde_json::Value = serde_json::from_str(&issuer_json).unwrap();
    assert_eq!(cfg["OIDCIssuers"][&idp]["Type"], "email");
    let ca_cfg = dir.path().join("ca.json");
    std::fs::write(&ca_cfg, &issuer_json).unwrap();
    let ca = start(
        &mut servers,
        vouch()
            .args(["serve", "ca", "--listen", "127.0.0.1:0", "--config"])
            .arg(&ca_cfg)
            .arg("--data")
            .arg(dir.path().join("ca")),
        "vouch ca listening on ",
    );

    let (out, text) = bench(&ca, &good, dir.path());
    assert!(out.status.success(), "{text}");
    assert_eq!(field(&text, "errors="), 0.0, "{text}");
    assert!(field(&text, "certs=") > 0.0, "{text}");
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(last.starts_with("certs_per_sec="), "{text}");
    assert!(field(&last, "certs_per_sec=") > 0.0, "{text}");

    // A token for another audience is refused by the CA: nothing issued, 401 audience mismatch.
    let (out, text) = bench(&ca, &wrong_aud, dir.path());
    assert!(!out.status.success(), "{text}");
    assert_eq!(field(&text, "certs="), 0.0, "{text}");
    assert!(field(&text, "errors=") > 0.0, "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(text.contains("audience"), "{text}");

    // Non-loopback targets are refused.
    let out = run_bounded(
        vouch().args([
            "bench",
            "ca",
            "--url",
            "https://ca.example.test",
            "--identity-token",
            &good,
        ]),
        dir.path(),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing"));
}

#[test]
fn serve_oidc_needs_an_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_bounded(
        vouch()
            .args(["serve", "oidc", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("oidc")),
        dir.path(),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn users_file_limits_identities() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.txt");
    std::fs::write(&users, "# allowed\nok@example.test\n").unwrap();
    let mut servers = Servers(Vec::new());
    let idp = start(
        &mut servers,
        vouch()
            .args(["serve", "oidc", "--listen", "127.0.0.1:0", "--users"])
            .arg(&users)
            .arg("--data")
            .arg(dir.path().join("oidc")),
        "vouch oidc listening on ",
    );
    let ok = run_bounded(
        vouch().args(["oidc", "token", "--url", &idp, "--email", "ok@example.test"]),
        dir.path(),
        Duration::from_secs(30),
    );
    assert!(ok.status.success());
    let denied = run_bounded(
        vouch().args(["oidc", "token", "--url", &idp, "--email", "no@example.test"]),
        dir.path(),
        Duration::from_secs(30),
    );
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("403"));
}
