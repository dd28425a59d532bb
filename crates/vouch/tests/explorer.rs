//! The log explorer in a real browser: `vouch up`, entries signed by `vouch` (Rekor v2 and v1,
//! blob and attestation) and by sigstore-python (v2 and v1), then Debian's headless chromium
//! opens `/explorer?q=…` for every search key (artifact digest, identity, log index, UUID,
//! public-key fingerprint, commit SHA) and must show "verified in your browser"; behind a proxy
//! that flips one byte of a proof hash it must show the failing step instead. A CI workflow
//! identity with more entries than the old 1,000-result cap is paged through to its oldest
//! entry, in the JSON API and in the page; the log key pinned (by fingerprint or key, by URL
//! and kept in the browser) verifies, a wrong pin fails naming both fingerprints, and no pin
//! says trust on first use. Screenshots are saved under `$CARGO_TARGET_TMPDIR/explorer/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use common::up::{Instance, ci_token, start_up, start_up_with};
use common::{chromium, get, post, sigstore_python, vouch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use vouch_core::bundle::TransparencyLogEntry;
use vouch_core::encoding::{Base64Bytes, b64_encode};
use vouch_core::fulcio::{
    CreateSigningCertificateRequest, Credentials, PublicKey as FulcioPublicKey, PublicKeyRequest,
    SigningCertificate,
};
use vouch_core::keys::{HashKind, pem_decode, pem_encode};
use vouch_core::rekor::{
    HashedRekordRequestBodyV002, HashedRekordRequestV002, RawBytes, SignatureV002, VerifierV002,
};
use vouch_core::x509::Certificate;
use vouch_log::explorer::{EntryDetails, SearchResults};

use common::{bundle_log_index as bundle_index, ok_stdout as ok, run_within as run};

fn sign(inst: &Instance, file: &Path, bundle: &Path, tok: &str, extra: &[&str]) {
    ok(&inst.sign_blob(file, bundle, tok, extra), "vouch sign-blob");
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(HashKind::Sha256.digest(data))
}

fn explorer_search(log: &str, q: &str) -> SearchResults {
    let path = format!("/api/explorer/search?q={}", url_escape(q));
    serde_json::from_slice(&get(log, &path)).unwrap()
}

/// An explorer search answer at `path` (e.g. a `next` link).
fn search_at(log: &str, path: &str) -> SearchResults {
    serde_json::from_slice(&get(log, path)).unwrap()
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

/// Load `url` in headless chromium with a fresh profile, let its scripts finish, and return
/// the DOM; with `shot`, also save a screenshot there.
fn browse(browser: &Path, url: &str, shot: Option<&Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    browse_in(browser, profile.path(), url, shot)
}

/// [`browse`] with the browser profile in `profile` (its localStorage kept between loads).
fn browse_in(browser: &Path, profile: &Path, url: &str, shot: Option<&Path>) -> String {
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
        .arg(format!("--user-data-dir={}", profile.display()));
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
    let alice = inst.token("alice@example.com");

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
        let bob = inst.token("bob@example.com");
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

    // Identity: a result list, paginated (two per page here), each entry verified.
    let dom = browse(
        &browser,
        &format!("{}&perPage=2", page("alice@example.com")),
        Some(&shots.join("results.png")),
    );
    assert!(dom.contains("Entries 1–2 of 5 entries"), "{dom}");
    assert!(dom.contains("id=\"next\""), "{dom}");
    assert!(!dom.contains("id=\"prev\""), "{dom}");
    assert!(
        dom.contains(&format!("href=\"#/entry/{}\"", bundle_index(&b_commit))),
        "newest first: {dom}"
    );
    let alice_all = explorer_search(&log, "alice@example.com");
    let fourth = alice_all.results[3].index;
    let dom = browse(
        &browser,
        &format!("{log}/explorer?perPage=2#/search/alice%40example.com/before/{fourth}"),
        None,
    );
    assert!(dom.contains("Entries 5–5 of 5 entries"), "{dom}");
    assert!(
        dom.contains("id=\"prev\"") && !dom.contains("id=\"next\""),
        "{dom}"
    );
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

/// The claims of an identity token that its proof of possession signs.
#[derive(serde::Deserialize)]
struct TokenClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
}

/// A Fulcio certificate (DER) for `key` from the instance's CA, by identity token `tok`.
fn certify(inst: &Instance, key: &EcdsaKeyPair, tok: &str) -> Vec<u8> {
    let payload = tok.split('.').nth(1).unwrap();
    let claims: TokenClaims = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let challenge = claims.email.unwrap_or(claims.sub);
    let rng = SystemRandom::new();
    let pop = key.sign(&rng, challenge.as_bytes()).unwrap();
    let req = CreateSigningCertificateRequest {
        credentials: Some(Credentials {
            oidc_identity_token: tok.to_string(),
        }),
        public_key_request: Some(PublicKeyRequest {
            public_key: FulcioPublicKey {
                algorithm: Some("ECDSA".into()),
                content: pem_encode("PUBLIC KEY", key.public_key().as_der().unwrap().as_ref()),
            },
            proof_of_possession: b64_encode(pop.as_ref()),
        }),
        certificate_signing_request: None,
    };
    let (code, _, body) = post(
        &inst.urls["ca"],
        "/api/v2/signingCert",
        &serde_json::to_vec(&req).unwrap(),
    );
    assert_eq!(code, 200, "signingCert: {body}");
    let cert: SigningCertificate = serde_json::from_str(&body).unwrap();
    pem_decode(&cert.chain().certificates[0], &["CERTIFICATE"]).unwrap()
}

/// Log `n` distinct hashedrekord v0.0.2 entries signed by `key` with certificate `cert`
/// (Rekor v2 API, 32 at a time); returns (log index, artifact) of each.
fn log_entries(log: &str, key: &EcdsaKeyPair, cert: &[u8], n: usize) -> Vec<(u64, String)> {
    let rng = SystemRandom::new();
    let bodies: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let artifact = format!("CI build artifact {i}");
            let sig = key.sign(&rng, artifact.as_bytes()).unwrap();
            let req = HashedRekordRequestBodyV002 {
                hashed_rekord_request_v002: HashedRekordRequestV002 {
                    digest: Base64Bytes(HashKind::Sha256.digest(artifact.as_bytes())),
                    signature: SignatureV002 {
                        content: Base64Bytes(sig.as_ref().to_vec()),
                        verifier: VerifierV002 {
                            key_details: "PKIX_ECDSA_P256_SHA_256".into(),
                            public_key: None,
                            x509_certificate: Some(RawBytes {
                                raw_bytes: Base64Bytes(cert.to_vec()),
                            }),
                        },
                    },
                },
            };
            (artifact, serde_json::to_vec(&req).unwrap())
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let next = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(bodies);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (http, next, bodies) = (http.clone(), next.clone(), bodies.clone());
            let url = format!("{log}/api/v2/log/entries");
            tasks.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((artifact, body)) = bodies.get(i) else {
                        return done;
                    };
                    let r = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let status = r.status();
                    let text = r.text().await.unwrap();
                    assert_eq!(status, 201, "{text}");
                    let v: TransparencyLogEntry = serde_json::from_str(&text).unwrap();
                    done.push((u64::try_from(v.log_index.0).unwrap(), artifact.clone()));
                }
            });
        }
        let mut all = Vec::new();
        while let Some(r) = tasks.join_next().await {
            all.extend(r.unwrap());
        }
        all
    })
}

#[test]
fn explorer_pages_past_the_old_cap_and_pins_the_log_key() {
    const N: usize = 1_050;
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inst = start_up_with(
        &d.join("data"),
        0,
        &d.join("up.log"),
        &["--allow-ci-tokens", "--batch-interval", "20ms"],
    );
    let log = inst.urls["log"].clone();

    // One CI workflow identity signs N entries: more than the old cap of 1,000 results.
    let tok = ci_token(&inst.urls["oidc"], "github-actions", &[]);
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let cert = certify(&inst, &key, &tok);
    let identity = Certificate::from_der(&cert)
        .unwrap()
        .subject_alt_names()
        .unwrap()
        .remove(0);
    assert!(identity.starts_with("https://"), "{identity}");
    let mut logged = log_entries(&log, &key, &cert, N);
    logged.sort_unstable_by_key(|(i, _)| std::cmp::Reverse(*i));
    let newest_first: Vec<u64> = logged.iter().map(|(i, _)| *i).collect();
    eprintln!("{N} entries logged in {:?}", started.elapsed());

    // JSON: every match, newest first, a page at a time, with an exact total and positions.
    let first = search_at(
        &log,
        &format!(
            "/api/explorer/search?q={}&perPage=100",
            url_escape(&identity)
        ),
    );
    assert_eq!((first.total, first.total_exact), (N, true), "{first:?}");
    assert_eq!(first.first, Some(1));
    assert!(first.prev.is_none());
    let mut seen = Vec::new();
    let mut page = first.clone();
    loop {
        assert_eq!(page.first, Some(seen.len() + 1), "position of {page:?}");
        assert_eq!(page.total, N);
        seen.extend(page.results.iter().map(|r| r.index));
        let Some(next) = page.next.clone() else { break };
        let older = search_at(&log, &next);
        // Back from the older page is this page again.
        let back = search_at(&log, older.prev.as_deref().unwrap());
        assert_eq!(back.results, page.results, "prev of {next}");
        page = older;
    }
    assert_eq!(
        seen, newest_first,
        "all {N} matches, newest first, each once"
    );
    assert!(
        page.results
            .iter()
            .all(|r| r.identity.as_deref() == Some(&identity))
    );

    // Bad cursors and the retired page numbers are 400s naming the fix.
    for (path, needle) in [
        ("/api/explorer/search?q=1&page=2", "page=2 is not supported"),
        (
            "/api/explorer/search?q=1&before=3&after=1",
            "at most one of before and after",
        ),
        ("/api/explorer/search?q=1&before=x", "before"),
    ] {
        let (status, body) = common::try_get(&log, path).unwrap();
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }

    // Rekor v1 search: more matches than it answers with is a 422 naming the limit, never a
    // silent truncation; narrowed with "and", the one entry.
    let subject = serde_json::to_string(&identity).unwrap();
    let (code, _, body) = post(
        &log,
        "/api/v1/index/retrieve",
        format!(r#"{{"subject":{subject}}}"#).as_bytes(),
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("matches more than 1000 entries"), "{body}");
    let (one_index, one_artifact) = &logged[N / 2];
    let digest = sha256_hex(one_artifact.as_bytes());
    let (code, _, body) = post(
        &log,
        "/api/v1/index/retrieve",
        format!(r#"{{"subject":{subject},"hash":"sha256:{digest}","operator":"and"}}"#).as_bytes(),
    );
    assert_eq!(code, 200, "{body}");
    let ids: Vec<String> = serde_json::from_str(&body).unwrap();
    let details: EntryDetails =
        serde_json::from_slice(&get(&log, &format!("/api/explorer/entry/{one_index}"))).unwrap();
    assert_eq!(ids, vec![details.hit.entry_id.clone()]);

    let Some(browser) = chromium() else {
        vouch_testkit::skip(format_args!(
            "explorer paging and key pinning in a real browser (apt-get install chromium)"
        ));
        return;
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explorer");
    std::fs::create_dir_all(&shots).unwrap();
    let q = url_escape(&identity);

    // The page: the total and pages beyond the old cap, down to the oldest entry.
    let dom = browse(&browser, &format!("{log}/explorer?q={q}"), None);
    assert!(
        dom.contains("Entries 1–20 of 1,050 entries") && dom.contains("id=\"next\""),
        "{dom}"
    );
    let dom = browse(
        &browser,
        &format!("{log}/explorer#/search/{q}/before/{}", newest_first[999]),
        Some(&shots.join("results-past-1000.png")),
    );
    assert!(
        dom.contains("Entries 1,001–1,020 of 1,050 entries"),
        "{dom}"
    );
    assert!(
        dom.contains("id=\"next\"") && dom.contains("id=\"prev\""),
        "{dom}"
    );
    let dom = browse(
        &browser,
        &format!("{log}/explorer#/search/{q}/before/{}", newest_first[1039]),
        None,
    );
    assert!(
        dom.contains("Entries 1,041–1,050 of 1,050 entries"),
        "{dom}"
    );
    assert!(!dom.contains("id=\"next\""), "the last page: {dom}");
    let oldest = newest_first[N - 1];
    assert!(dom.contains(&format!("href=\"#/entry/{oldest}\"")), "{dom}");

    // The log key: fingerprint of what the log serves, and one that is not it.
    let pem = String::from_utf8(get(&log, "/api/v1/log/publicKey")).unwrap();
    let spki = pem_decode(&pem, &["PUBLIC KEY"]).unwrap();
    let fp = sha256_hex(&spki);
    let wrong = sha256_hex(b"not the log key");
    let entry = |query: &str| format!("{log}/explorer{query}#/entry/{oldest}");

    // Not pinned: verified, and plainly trust on first use, with the served key's fingerprint.
    let dom = browse(&browser, &entry(""), None);
    assert_verified(&dom, "unpinned");
    assert!(
        dom.contains("Key not pinned: the log key came from this server itself (trust on first use), fingerprint")
            && dom.contains(&format!("sha256:{fp}")),
        "{dom}"
    );

    // Pinned by fingerprint (?key=), then kept in the browser's storage for this origin.
    let profile = tempfile::tempdir().unwrap();
    let dom = browse_in(
        &browser,
        profile.path(),
        &entry(&format!("?key={fp}")),
        Some(&shots.join("pinned.png")),
    );
    assert_verified(&dom, "pinned by fingerprint");
    assert!(
        dom.contains("verified with the pinned")
            && dom.contains(&format!(
                "Key pinned (pinned by the URL's key=): sha256:{fp}"
            )),
        "{dom}"
    );
    let dom = browse_in(&browser, profile.path(), &entry(""), None);
    assert_verified(&dom, "pin kept in the browser");
    assert!(
        dom.contains(&format!("Key pinned (pinned in this browser): sha256:{fp}")),
        "{dom}"
    );
    // A link pinning another key does not replace the browser's pin: it fails, naming both.
    let dom = browse_in(
        &browser,
        profile.path(),
        &entry(&format!("?key={wrong}")),
        None,
    );
    assert!(dom.contains("data-state=\"fail\""), "{dom}");
    assert!(
        dom.contains(&format!(
            "the URL pins key {wrong}, pinned key {fp} in this browser"
        )),
        "{dom}"
    );

    // Pinned by the key itself (a PEM's base64 body).
    let der_b64 = url_escape(&b64_encode(&spki));
    let dom = browse(&browser, &entry(&format!("?key={der_b64}")), None);
    assert_verified(&dom, "pinned by key");

    // A wrong pin: the server's key is not the pinned one, and the page says which is which.
    let dom = browse(
        &browser,
        &entry(&format!("?key=sha256:{wrong}")),
        Some(&shots.join("pinned-wrong.png")),
    );
    assert!(dom.contains("data-state=\"fail\""), "{dom}");
    assert!(!dom.contains("verified in your browser"), "{dom}");
    assert!(
        dom.contains(&format!(
            "checkpoint signed by key {fp}, pinned key {wrong}"
        )),
        "{dom}"
    );
    // The same page used as a person uses it: search on Enter, open a result, and the Log key
    // panel's PEM paste, reload, Unpin, wrong pin, garbage and "pin the served key" buttons.
    let pem_file = d.join("log.pub");
    std::fs::write(&pem_file, &pem).unwrap();
    let Some(ui) = explorer_ui(&log, &identity, &pem_file, &wrong, &shots) else {
        return;
    };
    let origin = log.trim_end_matches('/').to_string();
    assert_eq!(ui.results, 20, "{ui:?}");
    assert!(
        ui.results_text.contains("Entries 1–20 of 1,050 entries"),
        "{ui:?}"
    );
    assert!(ui.entry_hash.starts_with("#/entry/"), "{ui:?}");
    assert_eq!(ui.tofu.state, "ok", "{ui:?}");
    assert!(
        ui.tofu_notice.contains("trust on first use") && ui.tofu_notice.contains(&fp),
        "{ui:?}"
    );
    assert_eq!(ui.pin_message, format!("Pinned sha256:{fp} for {origin}."));
    assert!(
        ui.pinned_state
            .contains(&format!("pinned (pinned in this browser): sha256:{fp}")),
        "{ui:?}"
    );
    let kept = format!("Key pinned (pinned in this browser): sha256:{fp}");
    assert_eq!(ui.pinned.state, "ok", "{ui:?}");
    assert!(ui.pinned_notice.starts_with(&kept), "{ui:?}");
    assert_eq!(ui.reloaded.state, "ok", "pin after a reload: {ui:?}");
    assert!(ui.reloaded_notice.starts_with(&kept), "{ui:?}");
    assert!(ui.unpin_message.starts_with("Unpinned"), "{ui:?}");
    assert!(ui.unpinned_state.contains("not pinned"), "{ui:?}");
    assert_eq!(ui.unpinned.state, "ok", "{ui:?}");
    assert!(ui.unpin_hidden, "{ui:?}");
    assert_eq!(ui.wrong_pin.state, "fail", "{ui:?}");
    assert!(
        ui.wrong_pin.text.contains(&format!(
            "checkpoint signed by key {fp}, pinned key {wrong}"
        )),
        "{ui:?}"
    );
    assert!(
        ui.garbage_message
            .contains("Not pinned: a pinned key must be a PEM public key"),
        "{ui:?}"
    );
    assert!(
        ui.garbage_state.contains(&wrong),
        "garbage keeps the pin: {ui:?}"
    );
    assert_eq!(
        ui.served_message,
        format!("Pinned sha256:{fp} for {origin}.")
    );
    assert_eq!(ui.served_pinned.state, "ok", "{ui:?}");
    assert!(ui.served_state.contains(&fp), "{ui:?}");
    assert!(ui.page_errors.is_empty(), "script errors: {ui:?}");
    assert_eq!(
        ui.origins,
        vec![origin.clone()],
        "the page loads nothing from anywhere but the log"
    );
    eprintln!("paging and pinning checked in {:?}", started.elapsed());
}

/// What the page showed at one verification, in `explorer_ui.js`.
#[derive(Debug, serde::Deserialize)]
struct UiVerdict {
    state: String,
    text: String,
}

/// What `tests/js/explorer_ui.js` saw at each step.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiRun {
    results: usize,
    results_text: String,
    entry_hash: String,
    tofu: UiVerdict,
    tofu_notice: String,
    pin_message: String,
    pinned_state: String,
    pinned: UiVerdict,
    pinned_notice: String,
    reloaded: UiVerdict,
    reloaded_notice: String,
    unpin_message: String,
    unpinned_state: String,
    unpinned: UiVerdict,
    unpin_hidden: bool,
    wrong_pin: UiVerdict,
    garbage_message: String,
    garbage_state: String,
    served_message: String,
    served_pinned: UiVerdict,
    served_state: String,
    page_errors: Vec<String>,
    origins: Vec<String>,
}

/// Drive the explorer with clicks and key presses: playwright-core (npm, where
/// `VOUCH_NODE_MODULES` points) controlling Debian's chromium; `None` (SKIP) without it.
fn explorer_ui(log: &str, query: &str, pem: &Path, wrong: &str, shots: &Path) -> Option<UiRun> {
    let modules = std::env::var_os("VOUCH_NODE_MODULES")
        .map(PathBuf::from)
        .filter(|m| m.join("playwright-core").is_dir());
    let Some(modules) = modules else {
        vouch_testkit::skip(format_args!(
            "explorer clicks and key presses (set VOUCH_NODE_MODULES to a node_modules with playwright-core)"
        ));
        return None;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/explorer_ui.js");
    let out = run(
        Command::new("node")
            .arg(&script)
            .args([log, query])
            .arg(pem)
            .arg(wrong)
            .arg(shots)
            .env("NODE_PATH", &modules),
        Duration::from_secs(240),
    );
    let stdout = ok(&out, "node explorer_ui.js (playwright-core + chromium)");
    for png in ["ui-search.png", "ui-pinned.png", "ui-wrong-pin.png"] {
        let bytes = std::fs::read(shots.join(png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{png} is not a PNG");
    }
    Some(serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}")))
}
