//! The identity provider under attack (issue 12, findings 3, 5 and 6), through the binary
//! (`vouch serve oidc`) over real sockets. Clients are told apart by their source address:
//! 127.0.0.1 is the attacker, 127.0.0.2 and up are other users.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::up::oidc_token;
use common::{first_line_url, vouch};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running `vouch serve oidc`, killed when dropped.
struct Idp {
    child: Child,
    url: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, extra: &[&str]) -> Idp {
    let mut child = vouch()
        .args([
            "serve",
            "oidc",
            "--listen",
            "127.0.0.1:0",
            "--device-poll-interval",
            "1",
            "--data",
        ])
        .arg(data)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = first_line_url(
        child.stdout.take().unwrap(),
        "vouch oidc listening on ",
        "IdP",
    );
    Idp { child, url }
}

/// An HTTP client whose connections come from `127.0.0.<n>`.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn auth_url(idp: &Idp) -> String {
    format!(
        "{}/auth?client_id=sigstore&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256",
        idp.url
    )
}

async fn form(c: &reqwest::Client, url: String, pairs: &[(&str, &str)]) -> (u16, String) {
    let body = {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let r = c
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get(c: &reqwest::Client, url: String) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The CSRF token of a freshly rendered device page.
async fn device_csrf(c: &reqwest::Client, idp: &Idp) -> String {
    let (status, html) = get(c, format!("{}/device", idp.url)).await;
    assert_eq!(status, 200, "{html}");
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// (device_code, user_code)
async fn device_code(c: &reqwest::Client, idp: &Idp) -> (u16, Option<(String, String)>) {
    let (status, body) = form(
        c,
        format!("{}/device/code", idp.url),
        &[("client_id", "sigstore")],
    )
    .await;
    if status != 200 {
        return (status, None);
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    (
        status,
        Some((
            v["device_code"].as_str().unwrap().to_string(),
            v["user_code"].as_str().unwrap().to_string(),
        )),
    )
}

/// A few thousand unauthenticated requests from one client used to fill the IdP's global
/// tables of pending logins (4096) and device codes (1024), locking every user out for 10–20
/// minutes. Now each client has its own share: the flood only displaces the
/// flooder's own entries, and other clients still sign in.
#[test]
fn a_flood_from_one_client_does_not_lock_others_out() {
    let dir = tempfile::tempdir().unwrap();
    let idp = start(&dir.path().join("oidc"), &["--allow-any-identity"]);
    rt().block_on(async {
        let attacker = client_from(1);
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let c = attacker.clone();
            let auth = auth_url(&idp);
            let base = idp.url.clone();
            tasks.spawn(async move {
                let mut refused = 0;
                // Over the old global caps: 4480 login forms, 1120 device codes.
                for i in 0..700 {
                    let (s, _) = if i % 5 == 0 {
                        form(
                            &c,
                            format!("{base}/device/code"),
                            &[("client_id", "sigstore")],
                        )
                        .await
                    } else {
                        get(&c, auth.clone()).await
                    };
                    if s != 200 {
                        refused += 1;
                    }
                }
                refused
            });
        }
        let mut refused = 0;
        while let Some(r) = tasks.join_next().await {
            refused += r.unwrap();
        }
        eprintln!(
            "flood: 5600 requests in {:?}, {refused} refused",
            t.elapsed()
        );

        // Another client is not locked out of any flow.
        for n in [2, 3] {
            let user = client_from(n);
            let (s, body) = get(&user, auth_url(&idp)).await;
            assert_eq!(s, 200, "login page for 127.0.0.{n}: {body}");
            let (s, _) = device_code(&user, &idp).await;
            assert_eq!(s, 200, "device code for 127.0.0.{n}");
            device_csrf(&user, &idp).await;
        }
    });
}

/// Denying a pending device login needed no login at all (the deny branch ran before the
/// login check); and user codes could be guessed without limit.
#[test]
fn device_deny_needs_a_login_and_code_guesses_are_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let hash = {
        let mut child = vouch()
            .args(["oidc", "hash-password"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let users = dir.path().join("users.txt");
    std::fs::write(&users, format!("alice@example.test:{hash}\n")).unwrap();
    let idp = start(
        &dir.path().join("oidc"),
        &["--users", users.to_str().unwrap()],
    );
    rt().block_on(async {
        let alice = client_from(2);
        let mallory = client_from(3);
        let (_, d) = device_code(&alice, &idp).await;
        let (dc, uc) = d.unwrap();

        // Mallory cannot deny Alice's login without signing in.
        let csrf = device_csrf(&mallory, &idp).await;
        let (s, body) = form(
            &mallory,
            format!("{}/device", idp.url),
            &[("csrf", &csrf), ("user_code", &uc), ("action", "deny")],
        )
        .await;
        assert_eq!(s, 400, "deny without a login: {body}");
        assert!(!body.contains("denied"), "{body}");
        let csrf = device_csrf(&mallory, &idp).await;
        let (s, body) = form(
            &mallory,
            format!("{}/device", idp.url),
            &[
                ("csrf", &csrf),
                ("user_code", &uc),
                ("email", "alice@example.test"),
                ("password", "wrong"),
                ("action", "deny"),
            ],
        )
        .await;
        assert_eq!(s, 401, "deny with a wrong password: {body}");
        let (_, body) = form(
            &alice,
            format!("{}/token", idp.url),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &dc),
                ("client_id", "sigstore"),
            ],
        )
        .await;
        assert!(body.contains("authorization_pending"), "{body}");

        // Guessing user codes is throttled per client.
        let mut throttled_after = None;
        for i in 0..15 {
            let csrf = device_csrf(&mallory, &idp).await;
            let (s, _) = form(
                &mallory,
                format!("{}/device", idp.url),
                &[
                    ("csrf", &csrf),
                    ("user_code", "BBBB-BBBB"),
                    ("email", "alice@example.test"),
                    ("password", "guess"),
                    ("action", "approve"),
                ],
            )
            .await;
            if s == 429 {
                throttled_after = Some(i);
                break;
            }
            assert_eq!(s, 400);
        }
        let n = throttled_after.expect("15 wrong user codes in a row were not throttled");
        assert!(n >= 5, "throttled after only {n} guesses");
        // Even the right code is refused to the throttled client for now ...
        let csrf = device_csrf(&mallory, &idp).await;
        let (s, _) = form(
            &mallory,
            format!("{}/device", idp.url),
            &[
                ("csrf", &csrf),
                ("user_code", &uc),
                ("email", "alice@example.test"),
                ("password", "guess"),
                ("action", "approve"),
            ],
        )
        .await;
        assert_eq!(s, 429);
        // ... while Alice approves her own device with her password.
        let csrf = device_csrf(&alice, &idp).await;
        let (s, body) = form(
            &alice,
            format!("{}/device", idp.url),
            &[
                ("csrf", &csrf),
                ("user_code", &uc),
                ("email", "alice@example.test"),
                ("password", "correct horse"),
                ("action", "approve"),
            ],
        )
        .await;
        assert_eq!(s, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (s, body) = form(
            &alice,
            format!("{}/token", idp.url),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &dc),
                ("client_id", "sigstore"),
            ],
        )
        .await;
        assert_eq!(s, 200, "{body}");
    });
}

/// The users file matches case-insensitively, but tokens carried the caller's spelling: a
/// listed `bob@example.com` could get certificates for `BOB@Example.COM`.
#[test]
fn tokens_carry_the_listed_spelling_of_the_email() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.txt");
    std::fs::write(&users, "Bob@Example.com\n").unwrap();
    let idp = start(
        &dir.path().join("oidc"),
        &["--users", users.to_str().unwrap()],
    );
    let token = oidc_token(&idp.url, "BOB@example.COM");
    let payload = token.trim().split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["email"], "Bob@Example.com", "{claims}");
}

/// `--allow-any-identity` on a non-loopback address minted tokens for any email to anyone
/// who could reach it; `vouch up` already refused that.
#[test]
fn any_identity_idp_refuses_non_loopback_addresses() {
    let dir = tempfile::tempdir().unwrap();
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let mut child = vouch()
            .args([
                "serve",
                "oidc",
                "--allow-any-identity",
                "--listen",
                listen,
                "--data",
            ])
            .arg(dir.path().join("oidc"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve oidc --allow-any-identity --listen {listen} kept running");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(!status.success());
        assert!(err.contains("loopback"), "{listen}: {err}");
    }
}
