//! Repository writer + HTTP serving + client, end to end over 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use jiff::{SignedDuration, Timestamp};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use vouch_core::trust::{PUBLIC_GOOD_SIGNING_CONFIG, PUBLIC_GOOD_TRUSTED_ROOT};
use vouch_tuf::{
    KeyAlgorithm, RepoOptions, TufClient, TufError, TufRepo, export_mirror, fetch_trust, router,
    snapshot_path, target_path, targets_path,
};

const TR: &str = "trusted_root.json";
const SC: &str = "signing_config.v0.2.json";

async fn serve(repo: Arc<TufRepo>) -> String {
    // Mounted under a prefix, as the lead does with `nest("/tuf", …)`.
    let app = axum::Router::new().nest("/tuf", router(repo));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(l, app).await.unwrap();
    });
    format!("http://{addr}/tuf")
}

async fn new_repo(dir: &Path, opts: RepoOptions) -> Arc<TufRepo> {
    let repo = TufRepo::init_or_load(dir, opts).await.unwrap();
    repo.publish_targets(&[
        (TR, PUBLIC_GOOD_TRUSTED_ROOT.as_bytes()),
        (SC, PUBLIC_GOOD_SIGNING_CONFIG.as_bytes()),
    ])
    .await
    .unwrap();
    Arc::new(repo)
}

fn plus_hours(t: Timestamp, h: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_hours(h)).unwrap()
}

#[tokio::test]
async fn publish_serve_fetch_and_republish() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let repo = new_repo(&dir, RepoOptions::default()).await;
    let st = repo.status().await;
    assert_eq!(
        (
            st.targets_version,
            st.snapshot_version,
            st.timestamp_version
        ),
        (2, 2, 2)
    );
    assert_eq!(st.targets, vec![SC.to_string(), TR.to_string()]);

    // Key files are private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for role in ["root", "targets", "snapshot", "timestamp"] {
            let m = std::fs::metadata(dir.join(format!("keys/{role}.pem"))).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600, "{role}");
        }
    }
    let md = repo.metadata_dir().to_path_buf();
    for f in [
        "1.root.json",
        "root.json",
        "timestamp.json",
        "2.snapshot.json",
        "2.targets.json",
    ] {
        assert!(md.join(f).is_file(), "{f}");
    }

    let url = serve(repo.clone()).await;
    let root = repo.root_json().await.unwrap();
    let cache = tmp.path().join("cache");
    let (tr, sc) = fetch_trust(&url, &root, &cache).await.unwrap();
    assert_eq!(tr, PUBLIC_GOOD_TRUSTED_ROOT.as_bytes());
    assert_eq!(sc.as_deref(), Some(PUBLIC_GOOD_SIGNING_CONFIG.as_bytes()));

    // Same content again, and after a restart: no new versions.
    assert!(
        !repo
            .publish_targets(&[(TR, PUBLIC_GOOD_TRUSTED_ROOT.as_bytes())])
            .await
            .unwrap()
    );
    let reopened = TufRepo::init_or_load(&dir, RepoOptions::default())
        .await
        .unwrap();
    assert!(
        !reopened
            .publish_targets(&[
                (TR, PUBLIC_GOOD_TRUSTED_ROOT.as_bytes()),
                (SC, PUBLIC_GOOD_SIGNING_CONFIG.as_bytes()),
            ])
            .await
            .unwrap()
    );
    assert_eq!(reopened.status().await, repo.status().await);
    drop(reopened);

    // New content: versions bump, the client (same cache) sees it.
    let changed = PUBLIC_GOOD_TRUSTED_ROOT.replace("rekor.sigstore.dev", "rekor.example.test");
    assert!(
        repo.publish_targets(&[(TR, changed.as_bytes())])
            .await
            .unwrap()
    );
    let st = repo.status().await;
    assert_eq!(
        (
            st.targets_version,
            st.snapshot_version,
            st.timestamp_version
        ),
        (3, 3, 3)
    );
    let mut client = TufClient::new(&url, &root, &cache).unwrap();
    client.refresh().await.unwrap();
    assert_eq!(client.timestamp_version(), Some(3));
    assert_eq!(client.target(TR).await.unwrap(), changed.as_bytes());
    assert_eq!(
        client.target(SC).await.unwrap(),
        PUBLIC_GOOD_SIGNING_CONFIG.as_bytes()
    );
    assert!(matches!(
        client.target("absent.json").await,
        Err(TufError::TargetNotFound(_))
    ));
}

/// The paths a refresh fetches after `timestamp.json`, read from the served metadata, name
/// files the repository serves, and the target file holds the published bytes.
#[tokio::test]
async fn refresh_paths_from_served_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    let md = repo.metadata_dir().to_path_buf();
    let snapshot = snapshot_path(&std::fs::read(md.join("timestamp.json")).unwrap()).unwrap();
    assert_eq!(snapshot, "2.snapshot.json");
    let targets = targets_path(&std::fs::read(md.join(&snapshot)).unwrap()).unwrap();
    assert_eq!(targets, "2.targets.json");
    let targets_json = std::fs::read(md.join(&targets)).unwrap();
    let file = target_path(&targets_json, TR).unwrap();
    assert!(file.starts_with("targets/") && file.ends_with(".trusted_root.json"));
    assert_eq!(
        std::fs::read(md.join(&file)).unwrap(),
        PUBLIC_GOOD_TRUSTED_ROOT.as_bytes()
    );
    assert!(matches!(
        target_path(&targets_json, "absent.json"),
        Err(TufError::TargetNotFound(_))
    ));
    // The wrong role, or not JSON at all, is an error naming the file.
    assert!(snapshot_path(&targets_json).is_err());
    let e = targets_path(b"{").unwrap_err();
    assert!(e.to_string().contains("snapshot.json"), "{e}");
}

#[tokio::test]
async fn tampered_target_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    let url = serve(repo.clone()).await;
    let root = repo.root_json().await.unwrap();
    let targets = repo.metadata_dir().join("targets");
    for e in std::fs::read_dir(&targets).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(TR) {
            let mut b = std::fs::read(&p).unwrap();
            b[10] ^= 1;
            std::fs::write(&p, b).unwrap();
        }
    }
    let err = fetch_trust(&url, &root, &tmp.path().join("cache"))
        .await
        .unwrap_err();
    assert!(matches!(err, TufError::Client(_)), "{err}");
    assert!(
        vouch_core::error_chain(&err).contains("integrity")
            || vouch_core::error_chain(&err).contains("hash"),
        "{err}"
    );
}

#[tokio::test]
async fn tampered_metadata_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    let url = serve(repo.clone()).await;
    let root = repo.root_json().await.unwrap();
    let p = repo.metadata_dir().join("2.targets.json");
    let s = std::fs::read_to_string(&p).unwrap();
    // Same length, different listed length: the signature (and snapshot hash) no longer match.
    let s = s.replacen("\"length\": 1", "\"length\": 2", 1);
    std::fs::write(&p, s).unwrap();
    let err = fetch_trust(&url, &root, &tmp.path().join("cache"))
        .await
        .unwrap_err();
    assert!(matches!(err, TufError::Client(_)), "{err}");
}

#[tokio::test]
async fn expired_timestamp_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    let url = serve(repo.clone()).await;
    let root = repo.root_json().await.unwrap();
    let mut client = TufClient::new(&url, &root, &tmp.path().join("cache")).unwrap();
    let later = plus_hours(Timestamp::now(), 25);
    let err = client.refresh_at(later).await.unwrap_err();
    assert!(matches!(err, TufError::Expired(_)), "{err}");
    assert!(vouch_core::error_chain(&err).contains("timestamp"), "{err}");
}

#[tokio::test]
async fn rollback_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    let url = serve(repo.clone()).await;
    let root = repo.root_json().await.unwrap();
    let md = repo.metadata_dir().to_path_buf();
    let old_ts = std::fs::read(md.join("timestamp.json")).unwrap();
    let old_snap = std::fs::read(md.join("2.snapshot.json")).unwrap();
    repo.publish_targets(&[(TR, b"{\"new\":true}".as_slice())])
        .await
        .unwrap();
    let cache = tmp.path().join("cache");
    let mut client = TufClient::new(&url, &root, &cache).unwrap();
    client.refresh().await.unwrap();
    assert_eq!(client.timestamp_version(), Some(3));
    drop(client);

    // The mirror replays the older (validly signed, unexpired) timestamp.
    std::fs::write(md.join("timestamp.json"), &old_ts).unwrap();
    std::fs::write(md.join("2.snapshot.json"), &old_snap).unwrap();
    let mut client = TufClient::new(&url, &root, &cache).unwrap();
    let err = client.refresh().await.unwrap_err();
    assert!(vouch_core::error_chain(&err).contains("rollback"), "{err}");
    // A client without the cache accepts the old (still valid) state: the floor is the cache.
    let mut fresh = TufClient::new(&url, &root, &tmp.path().join("cache2")).unwrap();
    fresh.refresh().await.unwrap();
    assert_eq!(fresh.timestamp_version(), Some(2));
}

#[tokio::test]
async fn resign_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    let url = serve(repo.clone()).await;
    let root1 = std::fs::read(repo.metadata_dir().join("1.root.json")).unwrap();
    let now = Timestamp::now();

    assert_eq!(repo.refresh_online(now).await.unwrap(), Default::default());
    // 13 h in, the 1-day timestamp has less than half its life left.
    let t1 = plus_hours(now, 13);
    let r = repo.refresh_online(t1).await.unwrap();
    assert!(r.timestamp && !r.snapshot && !r.targets && !r.root, "{r:?}");
    assert_eq!(repo.status().await.timestamp_version, 3);
    // Past the first timestamp's expiry, the re-signed one is valid.
    let mut c = TufClient::new(&url, &root1, &tmp.path().join("c1")).unwrap();
    c.refresh_at(plus_hours(now, 30)).await.unwrap();
    assert_eq!(
        c.target_at(TR, plus_hours(now, 30)).await.unwrap(),
        PUBLIC_GOOD_TRUSTED_ROOT.as_bytes()
    );

    // 4 days in: snapshot (7 d) and timestamp.
    let t2 = plus_hours(now, 96);
    let r = repo.refresh_online(t2).await.unwrap();
    assert!(r.snapshot && r.timestamp && !r.targets && !r.root, "{r:?}");

    // 200 days in: root (new version, same keys) and targets too.
    let t3 = plus_hours(now, 200 * 24);
    let r = repo.refresh_online(t3).await.unwrap();
    assert!(r.root && r.targets && r.snapshot && r.timestamp, "{r:?}");
    let st = repo.status().await;
    assert_eq!(st.root_version, 2);
    assert!(repo.metadata_dir().join("2.root.json").is_file());
    // A client bootstrapped from 1.root.json walks to 2.root.json.
    let mut c = TufClient::new(&url, &root1, &tmp.path().join("c2")).unwrap();
    c.refresh_at(plus_hours(t3, 1)).await.unwrap();
    assert_eq!(c.root_version(), 2);
    assert_eq!(
        c.target_at(SC, plus_hours(t3, 1)).await.unwrap(),
        PUBLIC_GOOD_SIGNING_CONFIG.as_bytes()
    );

    // Restart keeps the re-signed state.
    let reopened = TufRepo::init_or_load(&tmp.path().join("repo"), RepoOptions::default())
        .await
        .unwrap();
    assert_eq!(reopened.status().await, st);
}

/// A crash in the middle of a publication: new targets and snapshot files on disk, the
/// timestamp not yet replaced (it is written last), and a stray temp file.
#[tokio::test]
async fn crash_mid_publish_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let repo = new_repo(&dir, RepoOptions::default()).await;
    let md = repo.metadata_dir().to_path_buf();
    drop(repo);
    std::fs::write(md.join("3.targets.json"), b"{\"half").unwrap();
    std::fs::write(md.join("3.snapshot.json"), b"").unwrap();
    std::fs::write(md.join(".timestamp.json.tmp.1.0"), b"{").unwrap();

    let repo = Arc::new(
        TufRepo::init_or_load(&dir, RepoOptions::default())
            .await
            .unwrap(),
    );
    assert_eq!(repo.status().await.timestamp_version, 2);
    assert!(!md.join(".timestamp.json.tmp.1.0").exists());
    let url = serve(repo.clone()).await;
    let root = repo.root_json().await.unwrap();
    let (tr, _) = fetch_trust(&url, &root, &tmp.path().join("c1"))
        .await
        .unwrap();
    assert_eq!(tr, PUBLIC_GOOD_TRUSTED_ROOT.as_bytes());
    // The next publication overwrites the debris with complete files.
    assert!(
        repo.publish_targets(&[(TR, b"{}".as_slice())])
            .await
            .unwrap()
    );
    let mut c = TufClient::new(&url, &root, &tmp.path().join("c1")).unwrap();
    assert_eq!(c.target(TR).await.unwrap(), b"{}");
}

#[tokio::test]
async fn refresher_task_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = RepoOptions {
        timestamp_lifetime: std::time::Duration::from_secs(2),
        ..RepoOptions::default()
    };
    let repo = new_repo(&tmp.path().join("repo"), opts).await;
    let before = repo.status().await.timestamp_version;
    let h = vouch_tuf::spawn_refresher(repo.clone(), std::time::Duration::from_millis(300));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    h.abort();
    assert!(repo.status().await.timestamp_version > before);
}

#[tokio::test]
async fn ecdsa_keys_work() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = RepoOptions {
        key_algorithm: KeyAlgorithm::EcdsaP256,
        ..RepoOptions::default()
    };
    let repo = new_repo(&tmp.path().join("repo"), opts).await;
    let root = String::from_utf8(repo.root_json().await.unwrap()).unwrap();
    assert!(root.contains("ecdsa"), "{root}");
    let url = serve(repo.clone()).await;
    let (tr, _) = fetch_trust(&url, root.as_bytes(), &tmp.path().join("cache"))
        .await
        .unwrap();
    assert_eq!(tr, PUBLIC_GOOD_TRUSTED_ROOT.as_bytes());
}

#[tokio::test]
async fn export_and_offline_import() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    let url = serve(repo.clone()).await;
    let root = std::fs::read(repo.metadata_dir().join("1.root.json")).unwrap();
    let cache = tmp.path().join("cache");
    fetch_trust(&url, &root, &cache).await.unwrap();
    let out = tmp.path().join("export");
    let files = export_mirror(&cache, &out).unwrap();
    assert!(files.len() >= 7, "{files:?}");

    let mut c = TufClient::offline(&out, &root, &tmp.path().join("cache2")).unwrap();
    assert_eq!(
        c.target(TR).await.unwrap(),
        PUBLIC_GOOD_TRUSTED_ROOT.as_bytes()
    );
    // Expired copy: a clear expiry error.
    let mut c = TufClient::offline(&out, &root, &tmp.path().join("cache3")).unwrap();
    let err = c
        .refresh_at(plus_hours(Timestamp::now(), 48))
        .await
        .unwrap_err();
    assert!(matches!(err, TufError::Expired(_)), "{err}");
    // Tampered copy.
    for e in std::fs::read_dir(out.join("targets")).unwrap() {
        let p = e.unwrap().path();
        std::fs::write(&p, b"{}").unwrap();
    }
    let mut c = TufClient::offline(&out, &root, &tmp.path().join("cache4")).unwrap();
    assert!(c.target(TR).await.is_err());
}

#[tokio::test]
async fn http_whitelist_and_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    std::fs::write(tmp.path().join("repo/secret.json"), b"x").unwrap();
    let url = serve(repo.clone()).await;
    let get = |p: &str| {
        let u = format!("{url}{p}");
        async move {
            let (status, headers, body) = raw_get(&u).await;
            (status, headers, body)
        }
    };
    let (s, h, _) = get("/timestamp.json").await;
    assert_eq!(s, 200);
    assert!(h.contains("content-type: application/json"), "{h}");
    assert!(h.contains("cache-control: no-cache"), "{h}");
    let (s, h, _) = get("/2.targets.json").await;
    assert_eq!(s, 200);
    assert!(h.contains("application/json"), "{h}");
    let name = std::fs::read_dir(repo.metadata_dir().join("targets"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let (s, h, _) = get(&format!("/targets/{}", name.to_string_lossy())).await;
    assert_eq!(s, 200);
    assert!(h.contains("application/octet-stream"), "{h}");
    for bad in [
        "/../secret.json",
        "/%2e%2e/secret.json",
        "/..%2fsecret.json",
        "/targets/..%2f..%2fkeys%2froot.pem",
        "/keys/root.pem",
        "/3.root.json",
        "/snapshot.json",
        "/targets/trusted_root.json",
        "/nope",
    ] {
        let (s, h, body) = get(bad).await;
        assert_eq!(s, 404, "{bad}");
        assert!(h.contains("application/json"), "{bad}: {h}");
        assert!(body.contains("not found"), "{bad}: {body}");
    }
}

/// A minimal HTTP/1.1 GET that does not normalise the path (so `..` reaches the server).
async fn raw_get(url: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn python_tuf_client() {
    let Ok(py) = std::env::var("VOUCH_PYTHON") else {
        vouch_testkit::skip(format_args!("VOUCH_PYTHON not set"));
        return;
    };
    let has_tuf = std::process::Command::new(&py)
        .args(["-c", "import tuf.ngclient"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_tuf {
        vouch_testkit::skip(format_args!("{py} has no `tuf` module"));
        return;
    }
    for alg in [KeyAlgorithm::Ed25519, KeyAlgorithm::EcdsaP256] {
        python_case(&py, alg).await;
    }
}

async fn python_case(py: &str, alg: KeyAlgorithm) {
    let opts = RepoOptions {
        key_algorithm: alg,
        ..RepoOptions::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), opts).await;
    // Exercise a root rotation and a re-signed timestamp too.
    let now = Timestamp::now();
    repo.refresh_online(plus_hours(now, 200 * 24))
        .await
        .unwrap();
    repo.refresh_online(now).await.unwrap();
    let url = serve(repo.clone()).await;
    let root_file = tmp.path().join("1.root.json");
    std::fs::copy(repo.metadata_dir().join("1.root.json"), &root_file).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tuf_client.py");
    let work = tmp.path().join("py");
    let run = |work: std::path::PathBuf| {
        let (py, script, url, root_file) = (
            py.to_string(),
            script.clone(),
            url.clone(),
            root_file.clone(),
        );
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(py)
                .arg(script)
                .arg(url)
                .arg(root_file)
                .arg(work)
                .args([TR, SC])
                .output()
                .unwrap()
        })
    };
    let out = run(work.clone()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "python-tuf failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = repo.status().await;
    assert!(
        stdout.contains(&format!(
            "versions root={} timestamp={}",
            st.root_version, st.timestamp_version
        )),
        "{stdout}"
    );
    for (name, bytes) in [
        (TR, PUBLIC_GOOD_TRUSTED_ROOT),
        (SC, PUBLIC_GOOD_SIGNING_CONFIG),
    ] {
        let line = format!(
            "{name} {} {}",
            hex::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                bytes.as_bytes()
            )),
            bytes.len()
        );
        assert!(stdout.contains(&line), "{stdout}");
    }
    println!("python-tuf ({alg:?}): {stdout}");

    // Re-publish: python-tuf (same metadata dir) sees the bump.
    repo.publish_targets(&[(TR, b"{\"v\":2}".as_slice())])
        .await
        .unwrap();
    let out = run(work).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = format!(
        "{TR} {} 7",
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            b"{\"v\":2}"
        ))
    );
    assert!(stdout.contains(&line), "{stdout}");
}

/// sigstore-python's `--instance URL trust-instance ROOT` (INTEROP.md §1) against our repository.
#[tokio::test]
async fn sigstore_python_trust_instance() {
    let Ok(py) = std::env::var("VOUCH_PYTHON") else {
        vouch_testkit::skip(format_args!("VOUCH_PYTHON not set"));
        return;
    };
    let has = std::process::Command::new(&py)
        .args(["-c", "import sigstore"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has {
        vouch_testkit::skip(format_args!("{py} has no `sigstore` module"));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(&tmp.path().join("repo"), RepoOptions::default()).await;
    let url = serve(repo.clone()).await;
    let root_file = repo.metadata_dir().join("1.root.json");
    let home = tmp.path().join("home");
    let (py2, url2, home2) = (py.clone(), url.clone(), home.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(py2)
            .args(["-m", "sigstore", "--instance", &url2, "trust-instance"])
            .arg(root_file)
            .env("HOME", &home2)
            .env("XDG_DATA_HOME", home2.join("data"))
            .env("XDG_CACHE_HOME", home2.join("cache"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "sigstore trust-instance failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // It caches the verified targets under XDG_CACHE_HOME/sigstore-python/tuf/<quoted URL>/.
    let dir = std::fs::read_dir(home.join("cache/sigstore-python/tuf"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read(dir.join(TR)).unwrap(),
        PUBLIC_GOOD_TRUSTED_ROOT.as_bytes()
    );
    assert_eq!(
        std::fs::read(dir.join(SC)).unwrap(),
        PUBLIC_GOOD_SIGNING_CONFIG.as_bytes()
    );
    println!("sigstore-python trust-instance: OK ({})", dir.display());
}

/// `offline_root_key`: root.json is signed once, the root key is written only outside the
/// repository, the running repository keeps the online roles fresh without it, and a root
/// version signed offline is adopted and walked to by clients.
#[tokio::test]
async fn offline_root_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    let key = tmp.path().join("offline/root.pem");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();

    // Refused inside the repository, and over an existing file.
    let inside = RepoOptions {
        offline_root_key: Some(dir.join("root.pem")),
        ..RepoOptions::default()
    };
    let err = TufRepo::init_or_load(&dir, inside).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("an offline root key must live outside"),
        "{err}"
    );
    std::fs::write(tmp.path().join("taken.pem"), b"x").unwrap();
    let taken = RepoOptions {
        offline_root_key: Some(tmp.path().join("taken.pem")),
        ..RepoOptions::default()
    };
    let err = TufRepo::init_or_load(&tmp.path().join("repo2"), taken)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(std::fs::read(tmp.path().join("taken.pem")).unwrap(), b"x");

    let opts = RepoOptions {
        offline_root_key: Some(key.clone()),
        ..RepoOptions::default()
    };
    let repo = new_repo(&dir, opts.clone()).await;
    assert!(key.is_file());
    assert!(
        !dir.join("keys/root.pem").exists(),
        "root key left in the repository"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(&key).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
    }
    let url = serve(repo.clone()).await;
    let root1 = repo.root_json().await.unwrap();
    let now = Timestamp::now();

    // 200 days in: the online roles are re-signed, the root cannot be (its key is offline).
    let t = plus_hours(now, 200 * 24);
    let r = repo.refresh_online(t).await.unwrap();
    assert!(!r.root && r.targets && r.snapshot && r.timestamp, "{r:?}");
    assert_eq!(repo.status().await.root_version, 1);

    // A restart (options as on every start) keeps working without the root key.
    let reopened = TufRepo::init_or_load(&dir, opts).await.unwrap();
    assert_eq!(reopened.status().await, repo.status().await);
    drop(reopened);

    // A key that is not the root's is refused, naming the keys.
    let wrong = tmp.path().join("wrong.pem");
    std::fs::copy(dir.join("keys/targets.pem"), &wrong).unwrap();
    let err = vouch_tuf::sign_root_offline(&dir, &wrong, Duration::from_secs(365 * 86_400), t)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not the root key"), "{err}");

    // Sign root v2 offline; the running repository adopts it at its next refresh.
    let v = vouch_tuf::sign_root_offline(&dir, &key, Duration::from_secs(365 * 86_400), t)
        .await
        .unwrap();
    assert_eq!(v, 2);
    repo.refresh_online(t).await.unwrap();
    assert_eq!(repo.status().await.root_version, 2);
    let later = plus_hours(t, 1);
    let mut c = TufClient::new(&url, &root1, &tmp.path().join("c")).unwrap();
    c.refresh_at(later).await.unwrap();
    assert_eq!(c.root_version(), 2);
    assert_eq!(
        c.target_at(TR, later).await.unwrap(),
        PUBLIC_GOOD_TRUSTED_ROOT.as_bytes()
    );
}
