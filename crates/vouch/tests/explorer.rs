//! The log explorer in a real browser: `vouch up`, entries signed by `vouch` (Rekor v2 and v1,
//! blob and attestation) and by sigstore-python (v2 and v1), then Debian's headless chromium
//! opens `/explorer?q=…` for every search key (artifact digest, identity, log index, UUID,
//! public-key fingerprint, commit SHA) and must show "verified in your browser"; behind a proxy
//! that flips one byte of a proof hash it must show the failing step instead. Screenshots are
//! saved under `$CARGO_TARGET_TMPDIR/explorer/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::up::{Instance, start_up};
use common::{chromium, get, post, sigstore_python, vouch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use vouch_log::explorer::{EntryDetails, SearchResults};

use common::{ok_stdout as ok, run_within as run};

fn token(inst: &Instance, email: &str) -> String {
    let out = run(
        vouch().args([
            "oidc",
            "token",
            "--url",
            &inst.urls["oidc"],
            "--email",
            email,
        ]),
        Duration::from_secs(30),
    );
    ok(&out, "vouch oidc token").trim().to_string()
}

fn sign(inst: &Instance, file: &Path, bundle: &Path, tok: &str, extra: &[&str]) {
    let out = run(
        vouch()
            .arg("sign-blob")
            .arg(file)
            .arg("--bundle")
            .arg(bundle)
            .args(["--identity-token", tok, "-y", "--trust-config"])
            .arg(&inst.trust_config)
            .args(extra),
        Duration::from_secs(60),
    );
    ok(&out, "vouch sign-blob");
}

/// The log index of a bundle's (first) entry.
fn bundle_index(bundle: &Path) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    v["verificationMaterial"]["tlogEntries"][0]["logIndex"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(vouch_core::keys::HashKind::Sha256.digest(data))
}

fn explorer_search(log: &str, q: &str) -> SearchResults {
    let path = format!("/api/explorer/search?q={}", url_escape(q));
    serde_json::from_slice(&get(log, &path)).unwrap()
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Load `url` in headless chromium, let its scripts finish, and return the DOM; with `shot`,
/// also save a screenshot there.
fn browse(browser: &Path, url: &str, shot: Option<&Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let base = |c: &mut Command| {
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1500",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()));
    };
    let mut c = Command::new(browser);
    base(&mut c);
    let out = run(c.arg("--dump-dom").arg(url), Duration::from_secs(90));
    let dom = ok(&out, &format!("chromium --dump-dom {url}"));
    if let Some(shot) = shot {
        let mut c = Command::new(browser);
        base(&mut c);
        ok(
            &run(
                c.arg(format!("--screenshot={}", shot.display())).arg(url),
                Duration::from_secs(90),
            ),
            "chromium --screenshot",
        );
        let png = std::fs::read(shot).unwrap();
        assert!(
            png.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            shot.display()
        );
    }
    dom
}

fn assert_verified(dom: &str, what: &str) {
    assert!(
        dom.contains("data-state=\"ok\"") && dom.contains("verified in your browser"),
        "{what}: the page does not say verified in your browser:\n{dom}"
    );
}

/// A proxy in front of the log that flips one hex digit of the first proof hash in every Rekor
/// v1 entry answer (a lying log), passing everything else through unchanged.
fn tampering_proxy(upstream: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = upstream.strip_prefix("http://").unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let _ = proxy_one(conn, &upstream);
            });
        }
    });
    format!("http://{addr}")
}

fn proxy_one(mut conn: TcpStream, upstream: &str) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let first = text.lines().next().unwrap_or_default().to_string();
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let method = first.split_whitespace().next().unwrap_or("GET").to_string();
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(up, "{method} {path} HTTP/1.0\r\nHost: {upstream}\r\n\r\n")?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    if path.starts_with("/api/v1/log/entries?") {
        let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut v: serde_json::Value = serde_json::from_slice(&resp[split..]).unwrap();
        for (_, e) in v.as_object_mut().unwrap().iter_mut() {
            let h = &mut e["verification"]["inclusionProof"]["hashes"][0];
            let s = h.as_str().unwrap().to_string();
            let flipped = if s.starts_with('0') { "1" } else { "0" };
            *h = serde_json::Value::String(format!("{flipped}{}", &s[1..]));
        }
        let body = serde_json::to_vec(&v).unwrap();
        resp = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        resp.extend_from_slice(&body);
    }
    conn.write_all(&resp)
}

#[test]
fn explorer_searches_and_verifies_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inst = start_up(&d.join("data"), 0, &d.join("up.log"));
    let log = inst.urls["log"].clone();
    let alice = token(&inst, "alice@example.com");

    // vouch: Rekor v2 and v1 blobs, an attestation (v2), and an entry of gitsign's online
    // shape: a v1 hashedrekord over SHA-256 of a commit ID's text.
    let a2 = d.join("a2.txt");
    std::fs::write(&a2, b"signed by vouch, Rekor v2").unwrap();
    let b_a2 = d.join("a2.sigstore.json");
    sign(&inst, &a2, &b_a2, &alice, &[]);
    let a1 = d.join("a1.txt");
    std::fs::write(&a1, b"signed by vouch, Rekor v1").unwrap();
    let b_a1 = d.join("a1.sigstore.json");
    sign(&inst, &a1, &b_a1, &alice, &["--rekor-version", "1"]);
    let predicate = d.join("predicate.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/b"}}"#,
    )
    .unwrap();
    let b_att = d.join("att.sigstore.json");
    ok(
        &run(
            vouch()
                .arg("attest-blob")
                .arg(&a2)
                .arg("--predicate")
                .arg(&predicate)
                .args(["--type", "slsaprovenance1", "--bundle"])
                .arg(&b_att)
                .args(["--identity-token", &alice, "-y", "--trust-config"])
                .arg(&inst.trust_config),
            Duration::from_secs(60),
        ),
        "vouch attest-blob",
    );
    let b_dsse = d.join("att1.sigstore.json");
    ok(
        &run(
            vouch()
                .arg("attest-blob")
                .arg(&a1)
                .arg("--predicate")
                .arg(&predicate)
                .args([
                    "--type",
                    "slsaprovenance1",
                    "--rekor-version",
                    "1",
                    "--bundle",
                ])
                .arg(&b_dsse)
                .args(["--identity-token", &alice, "-y", "--trust-config"])
                .arg(&inst.trust_config),
            Duration::from_secs(60),
        ),
        "vouch attest-blob (Rekor v1)",
    );
    let commit = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    let commit_file = d.join("commit-id");
    std::fs::write(&commit_file, commit).unwrap();
    let b_commit = d.join("commit.sigstore.json");
    sign(
        &inst,
        &commit_file,
        &b_commit,
        &alice,
        &["--rekor-version", "1"],
    );

    // sigstore-python: Rekor v2 and v1, as bob.
    let mut python = Vec::new();
    if let Some(cli) = sigstore_python() {
        let bob = token(&inst, "bob@example.com");
        let home = d.join("pyhome");
        std::fs::create_dir_all(&home).unwrap();
        for ver in ["2", "1"] {
            let art = d.join(format!("py{ver}.txt"));
            std::fs::write(&art, format!("signed by sigstore-python, Rekor v{ver}")).unwrap();
            let b = d.join(format!("py{ver}.sigstore.json"));
            ok(
                &run(
                    Command::new(&cli)
                        .arg("--trust-config")
                        .arg(&inst.trust_config)
                        .args(["sign", "--rekor-version", ver, "--identity-token", &bob])
                        .arg("--bundle")
                        .arg(&b)
                        .arg(&art)
                        .env("HOME", &home)
                        .env("XDG_CACHE_HOME", home.join("cache"))
                        .env("XDG_DATA_HOME", home.join("data")),
                    Duration::from_secs(120),
                ),
                &format!("sigstore-python sign (Rekor v{ver})"),
            );
            python.push((art, b));
        }
    } else {
        vouch_testkit::skip(format_args!(
            "sigstore-python entries in the explorer (set VOUCH_PYTHON to a venv with sigstore)"
        ));
    }

    // The Rekor v1 search API finds v2 entries too.
    let digest_a2 = sha256_hex(b"signed by vouch, Rekor v2");
    let (code, _, ids) = post(
        &log,
        "/api/v1/index/retrieve",
        format!(r#"{{"hash":"sha256:{digest_a2}"}}"#).as_bytes(),
    );
    assert_eq!(code, 200, "{ids}");
    let ids: Vec<String> = serde_json::from_str(&ids).unwrap();
    let i_a2 = bundle_index(&b_a2);
    let found = explorer_search(&log, &format!("sha256:{digest_a2}"));
    assert_eq!(found.total, 1, "{found:?}");
    assert_eq!(found.results[0].index, i_a2);
    assert_eq!(found.results[0].version, "0.0.2");
    assert_eq!(ids.len(), 1);
    assert!(ids[0].ends_with(&found.results[0].uuid), "{ids:?}");
    let (code, _, ids) = post(
        &log,
        "/api/v1/index/retrieve",
        br#"{"email":"alice@example.com"}"#,
    );
    assert_eq!(code, 200, "{ids}");
    let ids: Vec<String> = serde_json::from_str(&ids).unwrap();
    assert!(ids.len() >= 5, "alice's v1 and v2 entries: {ids:?}");

    // Bad queries are 4xx with a JSON message.
    for (path, code, needle) in [
        (
            "/api/explorer/search?q=abcd",
            400,
            "hex characters is no known key",
        ),
        ("/api/explorer/search?q=", 400, "empty query"),
        (
            "/api/explorer/search?q=1&perPage=0",
            400,
            "perPage must be between",
        ),
        ("/api/explorer/entry/999", 404, "no entry at log index 999"),
        ("/api/explorer/entry/x", 400, "log index must be"),
    ] {
        let (status, body) = common::try_get(&log, path).unwrap();
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, code, "{path}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
    }

    let Some(browser) = chromium() else {
        vouch_testkit::skip(format_args!(
            "explorer in a real browser (apt-get install chromium)"
        ));
        return;
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explorer");
    std::fs::create_dir_all(&shots).unwrap();
    let page = |q: &str| format!("{log}/explorer?q={}", url_escape(q));

    // Artifact digest (Rekor v2 entry by vouch): one match, opened and verified.
    let dom = browse(
        &browser,
        &page(&format!("sha256:{digest_a2}")),
        Some(&shots.join("entry-v2.png")),
    );
    assert_verified(&dom, "artifact digest");
    assert!(dom.contains(&format!("Entry {i_a2}")), "{dom}");
    assert!(dom.contains("hashedrekord 0.0.2"), "{dom}");
    assert!(dom.contains("alice@example.com"), "{dom}");
    assert!(
        dom.contains("1.3.6.1.4.1.57264.1.8"),
        "Fulcio issuer extension: {dom}"
    );

    // Log index (the Rekor v1 entry).
    let i_a1 = bundle_index(&b_a1);
    let dom = browse(&browser, &page(&i_a1.to_string()), None);
    assert_verified(&dom, "log index");
    assert!(dom.contains("hashedrekord 0.0.1"), "{dom}");

    // A Rekor v1 dsse entry.
    let dom = browse(&browser, &page(&bundle_index(&b_dsse).to_string()), None);
    assert_verified(&dom, "dsse entry");
    assert!(
        dom.contains("dsse 0.0.1") && dom.contains("Payload hash"),
        "{dom}"
    );

    // UUID and public-key fingerprint of the attestation's entry.
    let i_att = bundle_index(&b_att);
    let details: EntryDetails =
        serde_json::from_slice(&get(&log, &format!("/api/explorer/entry/{i_att}"))).unwrap();
    let dom = browse(&browser, &page(&details.hit.uuid), None);
    assert_verified(&dom, "UUID");
    assert!(dom.contains(&format!("Entry {i_att}")), "{dom}");
    let fp = details.signers[0].key_fingerprint.clone().unwrap();
    let dom = browse(&browser, &page(&fp), None);
    assert_verified(&dom, "key fingerprint");
    assert!(dom.contains(&format!("Entry {i_att}")), "{dom}");

    // Commit SHA (gitsign's online entry shape).
    let dom = browse(&browser, &page(commit), None);
    assert_verified(&dom, "commit SHA");
    assert!(
        dom.contains(&format!("Entry {}", bundle_index(&b_commit))),
        "{dom}"
    );

    // Identity: a result list, paginated (one per page here), each entry verified.
    let dom = browse(
        &browser,
        &format!("{}&perPage=2", page("alice@example.com")),
        Some(&shots.join("results.png")),
    );
    assert!(dom.contains("Page 1 of 3"), "{dom}");
    assert!(dom.contains("id=\"next\""), "{dom}");
    assert!(
        dom.contains(&format!("href=\"#/entry/{}\"", bundle_index(&b_commit))),
        "newest first: {dom}"
    );
    let dom = browse(
        &browser,
        &format!("{log}/explorer?perPage=2#/search/alice%40example.com/3"),
        None,
    );
    assert!(dom.contains("Page 3 of 3"), "{dom}");
    assert!(
        dom.contains(&format!("href=\"#/entry/{i_a2}\"")),
        "oldest on the last page: {dom}"
    );

    // sigstore-python's entries: by identity, then each opened by its shareable URL.
    if !python.is_empty() {
        let dom = browse(&browser, &page("bob@example.com"), None);
        for (_, b) in &python {
            let i = bundle_index(b);
            assert!(dom.contains(&format!("href=\"#/entry/{i}\"")), "{dom}");
            let dom = browse(
                &browser,
                &format!("{log}/explorer#/entry/{i}"),
                Some(&shots.join(format!("python-{i}.png"))),
            );
            assert_verified(&dom, "sigstore-python entry");
            assert!(dom.contains("bob@example.com"), "{dom}");
        }
    }

    // A lying log: one flipped byte in a proof hash is caught, naming the step.
    let liar = tampering_proxy(&log);
    let dom = browse(
        &browser,
        &format!("{liar}/explorer#/entry/{i_a2}"),
        Some(&shots.join("tampered.png")),
    );
    assert!(dom.contains("data-state=\"fail\""), "{dom}");
    assert!(
        dom.contains("inclusion proof does not lead to the checkpoint root: computed"),
        "{dom}"
    );
    assert!(!dom.contains("verified in your browser"), "{dom}");

    // A standalone `vouch serve log` with an ECDSA P-256 checkpoint key and key-signed
    // entries: the browser verifies that signature type too.
    let ec = common::start(
        &d.join("ec"),
        "ec.example",
        &d.join("ec.log"),
        &["--key-algorithm", "ecdsa-p256", "--batch-interval", "20ms"],
    );
    ok(
        &run(
            vouch().args([
                "bench",
                "log",
                "--url",
                &ec.url,
                "--duration",
                "60s",
                "--clients",
                "1",
                "--entries",
                "3",
            ]),
            Duration::from_secs(90),
        ),
        "vouch bench log (3 entries)",
    );
    let dom = browse(&browser, &format!("{}/explorer#/entry/1", ec.url), None);
    assert_verified(&dom, "ECDSA P-256 log");
    assert!(dom.contains("ECDSA P-256 key"), "{dom}");
    assert!(
        dom.contains("key sha256:"),
        "key-signed entry identity: {dom}"
    );
    eprintln!("explorer screenshots in {}", shots.display());
}
