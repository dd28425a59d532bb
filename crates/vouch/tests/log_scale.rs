//! The scale-out log run as users run it: several `vouch serve log --database … --tiles …`
//! processes on one PostgreSQL 15 database and one S3 bucket (moto_server), both started here
//! on free loopback ports, credentials only in the environment. After every scenario the log
//! is audited from outside (common/audit.rs): no acknowledged entry lost or moved, the tiles
//! rebuild the signed root, every pair of checkpoints consistent.
//!
//! Scenarios: writes to three front ends at once, the same entry to two front ends (one
//! index); kill -9 of the integrator (another takes over) and of another front end mid-batch;
//! PostgreSQL restarted under load (503 + Retry-After meanwhile, then recovery); the object
//! store unavailable (writes 503, nothing acknowledged, publishing resumes); `vouch log
//! migrate` from an embedded log (root verified, a non-empty target refused); `vouch up
//! --database … --tiles …`, the whole instance with its log and CT log on the backend, also
//! with `--witnesses`; two front ends with a witness policy and two `vouch serve witness`
//! (the cosigned checkpoint is stored in PostgreSQL and served by both, bundles from either
//! verify with the policy required, a hung witness fails writes closed until it is back); an
//! embedded CT log migrated into schema `vouch_ct`, and an embedded `vouch up` moved with
//! `vouch log migrate --instance` (both trees continue, bundles from before verify).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use common::audit::{Shared, check, submitter};
use common::up::{Instance, free_port_base, start_up_env};
use common::witness::{generate_key_pair, sign, trust_config, two_witnesses, verify};
use common::{
    Server, bundle_log_index as log_index, ok_stdout, run_within, start, start_with_env, tail,
    vouch,
};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vouch_core::encoding::b64_encode;
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::merkle::Hash;
use vouch_core::note::NoteVerifier;
use vouch_testkit::scale::{Moto, PG_PASSWORD, Postgres};

const ORIGIN: &str = "log.vouch.test/scale";
const CLIENTS_PER_FRONT: usize = 6;

/// PostgreSQL, moto, one database and bucket, and the front ends' directories.
struct Cluster {
    pg: Postgres,
    s3: Moto,
    tmp: tempfile::TempDir,
    database: String,
    tiles: String,
}

impl Cluster {
    fn new(name: &str) -> Option<Self> {
        let pg = Postgres::start()?;
        let s3 = Moto::start()?;
        let database = pg.create_database(name).unwrap();
        let bucket = format!("{}-tiles", name.replace('_', "-"));
        s3.create_bucket(&bucket).unwrap();
        let tiles = format!(
            "s3://{bucket}/prod?endpoint={}&region=us-east-1",
            s3.endpoint()
        );
        Some(Self {
            pg,
            s3,
            tmp: tempfile::tempdir().unwrap(),
            database,
            tiles,
        })
    }

    fn env(&self) -> [(&'static str, &'static str); 3] {
        [
            ("PGPASSWORD", PG_PASSWORD),
            ("AWS_ACCESS_KEY_ID", "vouch-test"),
            ("AWS_SECRET_ACCESS_KEY", "vouch-test-secret"),
        ]
    }

    fn dir(&self, n: usize) -> PathBuf {
        self.tmp.path().join(format!("front{n}"))
    }

    /// Start front end `n` (its key copied from front end 0 unless it is front end 0).
    fn front(&self, n: usize) -> Server {
        self.front_with(n, &[])
    }

    /// [`Cluster::front`] with extra `vouch serve log` flags.
    fn front_with(&self, n: usize, extra: &[&str]) -> Server {
        let dir = self.front_dir(n);
        let log = self.tmp.path().join(format!("front{n}.log"));
        start_with_env(&dir, ORIGIN, &log, &self.front_args(extra), &self.env())
    }

    /// Front end `n`'s data directory, holding front end 0's key.
    fn front_dir(&self, n: usize) -> PathBuf {
        let dir = self.dir(n);
        if n > 0 && !dir.join("log.key").exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(self.dir(0).join("log.key"), dir.join("log.key")).unwrap();
        }
        dir
    }

    /// The backend flags of every front end, then `extra`.
    fn front_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        [
            "--database",
            &self.database,
            "--tiles",
            &self.tiles,
            "--batch-interval",
            "10ms",
            "--max-batch",
            "256",
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect()
    }

    /// Start front end `n` with `extra` flags, expecting it to refuse to start: its stderr.
    fn refused_front(&self, n: usize, extra: &[&str]) -> String {
        let dir = self.front_dir(n);
        let mut cmd = vouch();
        cmd.args(["serve", "log", "--data"])
            .arg(&dir)
            .args(["--origin", ORIGIN, "--listen", "127.0.0.1:0"])
            .args(self.front_args(extra))
            .envs(self.env());
        let out = run_within(&mut cmd, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "front end {n} with {extra:?} started: {stderr}"
        );
        stderr
    }
}

fn verifier(s: &Server) -> NoteVerifier {
    NoteVerifier::for_log_key(ORIGIN, &PublicKey::from_pem(&s.pem).unwrap()).unwrap()
}

/// Whether front end `s` logged that it became the integrator.
fn is_integrator(s: &Server) -> bool {
    std::fs::read_to_string(&s.log)
        .unwrap_or_default()
        .contains("is now the log's integrator")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Load on every front end in `urls` until the returned flag is set.
fn load(
    rt: &tokio::runtime::Runtime,
    urls: &[String],
    tag: &str,
    shared: &Arc<Shared>,
) -> (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<()>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let http = http();
    let mut handles = Vec::new();
    for (f, url) in urls.iter().enumerate() {
        for c in 0..CLIENTS_PER_FRONT {
            handles.push(rt.spawn(submitter(
                http.clone(),
                url.clone(),
                format!("{tag} front {f} client {c}"),
                stop.clone(),
                shared.clone(),
            )));
        }
    }
    (stop, handles)
}

fn stop_load(
    rt: &tokio::runtime::Runtime,
    (stop, handles): (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<()>>),
) {
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for h in handles {
            tokio::time::timeout(Duration::from_secs(60), h)
                .await
                .expect("submitter did not stop")
                .unwrap();
        }
    });
}

/// Audit through every front end; they must converge on one checkpoint.
fn audit(
    fronts: &[&Server],
    v: &NoteVerifier,
    shared: &Shared,
    history: &mut BTreeMap<u64, Hash>,
    what: &str,
) -> u64 {
    let acks = shared.acks.lock().unwrap();
    let acked = acks.iter().map(|a| a.index + 1).max().unwrap_or(0);
    let mut parsed = HashMap::new();
    let mut sizes = Vec::new();
    for s in fronts {
        // A front end follows the published checkpoint within a poll interval. It must reach
        // the largest tree any front end has served so far, not only the last acknowledged
        // entry: a lagging follower is not a shrinking log, while a checkpoint that was served
        // but never published is never reached and fails this wait.
        let want = acked.max(history.keys().next_back().copied().unwrap_or(0));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let note = String::from_utf8(common::get(&s.url, "/checkpoint")).unwrap();
            if common::audit::parse_cp(&note, v, ORIGIN).0 >= want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {} does not reach size {want}:\n{}",
                s.url,
                tail(&s.log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let size = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check(&s.url, v, ORIGIN, &acks, history, &mut parsed)
        }))
        .unwrap_or_else(|e| {
            let msg = common::audit::panic_message(&*e);
            panic!(
                "{what}: audit through {}: {msg}\nlog:\n{}",
                s.url,
                tail(&s.log)
            )
        });
        sizes.push(size);
    }
    eprintln!(
        "{what}: {} acknowledged, front ends serve sizes {sizes:?}, {} checkpoints consistent",
        acks.len(),
        history.len()
    );
    sizes.into_iter().max().unwrap_or(0)
}

/// A signed hashedrekord request for `artifact`.
fn request(key: &EcdsaKeyPair, artifact: &[u8]) -> serde_json::Value {
    let sig = key.sign(&SystemRandom::new(), artifact).unwrap();
    serde_json::json!({"hashedRekordRequestV002": {
        "digest": b64_encode(&HashKind::Sha256.digest(artifact)),
        "signature": {"content": b64_encode(sig.as_ref()), "verifier": {
            "publicKey": {"rawBytes": b64_encode(key.public_key().as_der().unwrap().as_ref())},
            "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}})
}

/// POST a request; returns (status, x-log-index or logIndex).
async fn post(http: &reqwest::Client, url: &str, req: &serde_json::Value) -> (u16, Option<u64>) {
    let r = http
        .post(format!("{url}/api/v2/log/entries"))
        .json(req)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let header = r
        .headers()
        .get("x-log-index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    let index = body["logIndex"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or(header);
    (status, index)
}

#[test]
fn front_ends_share_one_log_and_survive_kill_9() {
    let Some(c) = Cluster::new("multi") else {
        return;
    };
    let rt = runtime();
    let mut fronts = vec![c.front(0)];
    fronts.push(c.front(1));
    fronts.push(c.front(2));
    let v = verifier(&fronts[0]);
    for f in &fronts[1..] {
        assert_eq!(f.pem, fronts[0].pem, "front ends share the key");
    }
    let shared = Arc::new(Shared::default());
    let mut history = BTreeMap::new();

    // The same entry to two front ends, one after the other and at once: one index.
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    rt.block_on(async {
        let http = http();
        let req = request(&key, b"twin one");
        let (s1, i1) = post(&http, &fronts[0].url, &req).await;
        assert_eq!(s1, 201);
        let (s2, i2) = post(&http, &fronts[1].url, &req).await;
        assert_eq!(
            (s2, i2),
            (409, i1),
            "second front end answers the first index"
        );
        let req = request(&key, b"twin two");
        let (a, b) = tokio::join!(
            post(&http, &fronts[1].url, &req),
            post(&http, &fronts[2].url, &req)
        );
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 409],
            "one front end creates, the other dedups"
        );
        assert_eq!(a.1, b.1, "both answer the same index");
    });

    // Writes to all three at once.
    let urls: Vec<String> = fronts.iter().map(|f| f.url.clone()).collect();
    let l = load(&rt, &urls, "round 0", &shared);
    std::thread::sleep(Duration::from_secs(3));
    stop_load(&rt, l);
    let refs: Vec<&Server> = fronts.iter().collect();
    let size0 = audit(&refs, &v, &shared, &mut history, "three front ends");
    assert!(size0 > 100, "only {size0} entries in 3 s");

    // kill -9 of the integrator under load; another takes over.
    let who = fronts
        .iter()
        .position(is_integrator)
        .expect("one front end is the integrator");
    let l = load(&rt, &urls, "round 1", &shared);
    std::thread::sleep(Duration::from_millis(700));
    fronts[who].child.kill().unwrap();
    fronts[who].child.wait().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    stop_load(&rt, l);
    let alive: Vec<&Server> = fronts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != who)
        .map(|(_, f)| f)
        .collect();
    let size1 = audit(&alive, &v, &shared, &mut history, "integrator killed");
    assert!(
        size1 > size0,
        "nothing integrated after the integrator died"
    );
    assert!(
        alive.iter().any(|f| is_integrator(f)),
        "no front end took over"
    );
    fronts[who] = c.front(who);

    // kill -9 of a front end that is not the integrator, mid-batch.
    let victim = (0..3).find(|&i| !is_integrator(&fronts[i])).unwrap();
    let l = load(&rt, &urls_of(&fronts), "round 2", &shared);
    std::thread::sleep(Duration::from_millis(900));
    fronts[victim].child.kill().unwrap();
    fronts[victim].child.wait().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    stop_load(&rt, l);
    fronts[victim] = c.front(victim);
    let refs: Vec<&Server> = fronts.iter().collect();
    let size2 = audit(&refs, &v, &shared, &mut history, "front end killed");
    assert!(size2 > size1);
    eprintln!(
        "{} not acknowledged (killed or 503) of {} acknowledged",
        shared.failed.load(Ordering::Relaxed),
        shared.acks.lock().unwrap().len()
    );
}

fn urls_of(fronts: &[Server]) -> Vec<String> {
    fronts.iter().map(|f| f.url.clone()).collect()
}

/// One POST's status and Retry-After.
async fn post_status(
    http: &reqwest::Client,
    url: &str,
    req: &serde_json::Value,
) -> (u16, Option<String>) {
    match http
        .post(format!("{url}/api/v2/log/entries"))
        .json(req)
        .send()
        .await
    {
        Ok(r) => (
            r.status().as_u16(),
            r.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        ),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

#[test]
fn database_restart_and_object_store_outage_answer_503_and_recover() {
    let Some(c) = Cluster::new("faults") else {
        return;
    };
    let rt = runtime();
    let fronts = [c.front(0), c.front(1)];
    let v = verifier(&fronts[0]);
    let shared = Arc::new(Shared::default());
    let mut history = BTreeMap::new();
    let urls = urls_of(&fronts);
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let http = http();

    // PostgreSQL crashes under load and comes back.
    let l = load(&rt, &urls, "pg round", &shared);
    std::thread::sleep(Duration::from_secs(1));
    c.pg.stop_immediate().unwrap();
    let (status, retry) = rt.block_on(post_status(
        &http,
        &urls[0],
        &request(&key, b"while pg is down"),
    ));
    assert_eq!(status, 503, "a write while PostgreSQL is down");
    assert!(retry.is_some(), "503 without Retry-After");
    std::thread::sleep(Duration::from_secs(1));
    c.pg.start_again().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    stop_load(&rt, l);
    let before = shared.acks.lock().unwrap().len();
    let refs: Vec<&Server> = fronts.iter().collect();
    let size = audit(&refs, &v, &shared, &mut history, "PostgreSQL restarted");
    // New writes succeed again on both.
    for (i, u) in urls.iter().enumerate() {
        let (status, _) = rt.block_on(post_status(
            &http,
            u,
            &request(&key, format!("after pg {i}").as_bytes()),
        ));
        assert_eq!(
            status,
            201,
            "front end {i} after the database came back:\n{}",
            tail(&fronts[i].log)
        );
    }

    // The object store stops answering: writes get 503 and nothing is acknowledged.
    c.s3.pause().unwrap();
    let started = Instant::now();
    let (status, retry) = rt.block_on(post_status(
        &http,
        &urls[1],
        &request(&key, b"while s3 is down"),
    ));
    assert_eq!(status, 503, "a write while the object store is down");
    assert!(retry.is_some());
    eprintln!(
        "503 after {:.1} s with the object store down",
        started.elapsed().as_secs_f64()
    );
    c.s3.resume().unwrap();
    // Publishing resumes: the entry sequenced during the outage is published, and a retry of
    // it is answered as a duplicate with its index.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = rt.block_on(post_status(
            &http,
            &urls[0],
            &request(&key, b"after s3 outage"),
        ));
        if status == 201 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes did not recover after the outage ({status})"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let after = audit(&refs, &v, &shared, &mut history, "object store outage");
    assert!(after > size);
    assert!(before > 0);
}

#[test]
fn migrate_copies_an_embedded_log_and_refuses_a_non_empty_target() {
    let Some(c) = Cluster::new("migrate") else {
        return;
    };
    let rt = runtime();
    // An embedded log with some entries.
    let src = c.tmp.path().join("embedded");
    let shared = Arc::new(Shared::default());
    let server = start(
        &src,
        ORIGIN,
        &c.tmp.path().join("embedded.log"),
        &["--batch-interval", "10ms"],
    );
    let v = verifier(&server);
    let l = load(&rt, std::slice::from_ref(&server.url), "embedded", &shared);
    std::thread::sleep(Duration::from_secs(2));
    stop_load(&rt, l);
    drop(server); // stopped (kill -9; the embedded log is durable at every acknowledgement)
    let out = migrate(&c, &src);
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("verified against the source's signed checkpoint"),
        "{stdout}"
    );

    // The migrated log serves from the scale backend with the source's key: every entry
    // acknowledged by the embedded log is there.
    std::fs::create_dir_all(c.dir(0)).unwrap();
    std::fs::copy(src.join("log.key"), c.dir(0).join("log.key")).unwrap();
    let front = c.front(0);
    let mut history = BTreeMap::new();
    let size = audit(&[&front], &v, &shared, &mut history, "migrated");
    assert_eq!(size as usize, shared.acks.lock().unwrap().len());

    // A second migration into the now non-empty target is refused.
    let err = failed(&migrate(&c, &src), "a second migration");
    assert!(
        err.contains("refusing to migrate into a non-empty log"),
        "{err}"
    );
}

fn migrate(c: &Cluster, src: &Path) -> std::process::Output {
    migrate_with(
        c,
        &[
            OsStr::new("--from"),
            src.as_os_str(),
            OsStr::new("--database"),
            OsStr::new(&c.database),
            OsStr::new("--tiles"),
            OsStr::new(&c.tiles),
        ],
    )
}

#[test]
fn ct_log_runs_on_the_scale_backend() {
    let Some(c) = Cluster::new("ctlog") else {
        return;
    };
    let root = rcgen::generate_simple_self_signed(vec!["vouch test root".into()]).unwrap();
    let root_pem = c.tmp.path().join("root.pem");
    std::fs::write(&root_pem, root.cert.pem()).unwrap();
    let start_ct = |n: usize| {
        let dir = c.tmp.path().join(format!("ct{n}"));
        let key = (n > 0).then(|| c.tmp.path().join("ct0/log.key"));
        CtFront::start(
            &c,
            &dir,
            key.as_deref(),
            &root_pem,
            &["--origin", "ct.vouch.test/scale"],
            &c.database,
            &c.tiles,
        )
    };
    let a = start_ct(0);
    let b = start_ct(1);
    assert_eq!(a.id, b.id, "both CT front ends are one log");
    for f in [&a, &b] {
        let sth = get_sth(&f.url);
        assert_eq!(sth["tree_size"], 0, "{sth}");
    }
}

/// A running `vouch serve ct` front end on the scale backend, killed when dropped.
struct CtFront {
    child: std::process::Child,
    url: String,
    /// The CT log ID it printed.
    id: String,
}

impl CtFront {
    /// Start `vouch serve ct --data DIR` (with the key file `key` copied in first, if given)
    /// accepting `root`, on `database` and `tiles`.
    fn start(
        c: &Cluster,
        dir: &Path,
        key: Option<&Path>,
        root: &Path,
        extra: &[&str],
        database: &str,
        tiles: &str,
    ) -> Self {
        if let Some(k) = key {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::copy(k, dir.join("log.key")).unwrap();
        }
        let mut child = vouch()
            .args(["serve", "ct", "--data"])
            .arg(dir)
            .args(["--listen", "127.0.0.1:0", "--accept-root"])
            .arg(root)
            .args(extra)
            .args(["--database", database, "--tiles", tiles])
            .envs(c.env())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        let first = lines.next().unwrap().unwrap();
        let url = first
            .strip_prefix("vouch CT log listening on ")
            .unwrap_or_else(|| panic!("serve ct: {first}"))
            .trim()
            .to_string();
        let id = lines
            .find_map(|l| l.ok()?.strip_prefix("CT log ID: ").map(str::to_string))
            .unwrap();
        Self { child, url, id }
    }

    /// A front end of the CT log of the `vouch up` instance in `data` (its CT key and CA root),
    /// on `database` and `tiles`.
    fn of_instance(c: &Cluster, data: &Path, database: &str, tiles: &str) -> Self {
        Self::start(
            c,
            &c.tmp.path().join("ct-front"),
            Some(&data.join("ct/log.key")),
            &data.join("ca/root.crt.pem"),
            &[],
            database,
            tiles,
        )
    }
}

impl Drop for CtFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CT log's `get-sth`.
fn get_sth(url: &str) -> serde_json::Value {
    serde_json::from_slice(&common::get(url, "/ct/v1/get-sth")).unwrap()
}

/// The signature lines of a note (the log's, then each cosignature), by signer name.
fn signers(note: &str) -> Vec<String> {
    note.lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The checkpoint note a bundle carries.
fn bundle_checkpoint(bundle: &Path) -> String {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn witnessed_front_ends_share_the_cosigned_checkpoint() {
    let Some(c) = Cluster::new("witnessed") else {
        return;
    };
    let dir = c.tmp.path();
    // The first start creates the log key; its vkey is what the witnesses follow.
    drop(c.front(0));
    let vkey = std::fs::read_to_string(c.dir(0).join("log.vkey")).unwrap();
    let vkey = vkey.trim();
    let (w1, w2, policy) = two_witnesses(dir, ORIGIN, vkey);
    let flags = [
        "--witness-policy",
        policy.to_str().unwrap(),
        "--require-witness-quorum",
        "--witness-timeout",
        "1s",
    ];
    // The first start recorded "no witness policy": a front end with one is refused until it
    // is told to replace it, so no front end acknowledges under another policy than the rest.
    let err = c.refused_front(0, &flags);
    assert!(
        err.contains("witness policy mismatch: --witness-policy")
            && err.contains("(quorum required), but the log's front ends use none")
            && err.contains("--replace-witness-policy"),
        "{err}"
    );
    let replace: Vec<&str> = flags
        .iter()
        .copied()
        .chain(["--replace-witness-policy"])
        .collect();
    let fronts = [c.front_with(0, &replace), c.front_with(1, &flags)];
    // A further front end without the policy, or without the required quorum, is refused.
    let err = c.refused_front(2, &[]);
    assert!(
        err.contains("witness policy mismatch: this front end has no --witness-policy, but the log's front ends use sha256:")
            && err.contains("(quorum required)"),
        "{err}"
    );
    let err = c.refused_front(2, &flags[..2]);
    assert!(
        err.contains("witness policy mismatch: --witness-policy")
            && err.contains("(quorum required)"),
        "{err}"
    );
    for f in &fronts {
        assert_eq!(
            f.stdout
                .iter()
                .filter(|l| l.starts_with("witness: "))
                .count(),
            2,
            "{:?}",
            f.stdout
        );
    }

    // Sign through front end 0: the bundle carries both witnesses' cosignatures and verifies
    // with the policy required.
    generate_key_pair(dir);
    let art = dir.join("release.tar.gz");
    std::fs::write(&art, b"witnessed release").unwrap();
    let tc0 = trust_config(dir, &c.dir(0), &fronts[0].url);
    let b0 = dir.join("r0.sigstore.json");
    let out = sign(dir, &tc0, &art, &b0);
    assert!(
        out.status.success(),
        "sign through front end 0: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&fronts[0].log)
    );
    let cosigned = bundle_checkpoint(&b0);
    let want = [
        ORIGIN,
        "w1.vouch.test",
        "w1.vouch.test",
        "w2.vouch.test",
        "w2.vouch.test",
    ];
    let mut got = signers(&cosigned);
    got[1..].sort();
    assert_eq!(got, want, "{cosigned}");
    let out = verify(dir, &art, &b0, &policy);
    assert!(
        out.status.success(),
        "verify with the witness policy: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Front end 1 serves that very cosigned checkpoint, read from PostgreSQL.
    let checkpoint_of = |s: &Server| String::from_utf8(common::get(&s.url, "/checkpoint")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while checkpoint_of(&fronts[1]) != cosigned {
        assert!(
            Instant::now() < deadline,
            "front end 1 serves {:?}, not the cosigned {cosigned:?}\n{}",
            checkpoint_of(&fronts[1]),
            tail(&fronts[1].log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(checkpoint_of(&fronts[0]), cosigned);
    assert_eq!(
        c.pg.query("witnessed", "SELECT note FROM vouch_log_cosigned")
            .unwrap()
            .trim_end(),
        cosigned.trim_end(),
        "the cosigned checkpoint is the database's"
    );

    // Sign through front end 1 too: acknowledged with a cosigned checkpoint, which verifies.
    let tc1 = trust_config(dir, &c.dir(1), &fronts[1].url);
    let b1 = dir.join("r1.sigstore.json");
    let art1 = dir.join("release1.tar.gz");
    std::fs::write(&art1, b"witnessed release 1").unwrap();
    let out = sign(dir, &tc1, &art1, &b1);
    assert!(
        out.status.success(),
        "sign through front end 1: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&fronts[1].log)
    );
    assert_eq!(log_index(&b1), 1);
    assert_eq!(signers(&bundle_checkpoint(&b1)).len(), 5);
    let out = verify(dir, &art1, &b1, &policy);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One witness hangs: no front end acknowledges a write (fail closed, 503 naming the
    // quorum), though the entry is sequenced and published without cosignatures.
    w2.pause();
    let rt = runtime();
    let http = http();
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let req = request(&key, b"while w2 hangs");
    let started = Instant::now();
    let (status, body) = rt.block_on(async {
        let r = http
            .post(format!("{}/api/v2/log/entries", fronts[1].url))
            .json(&req)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("witness policy's quorum"), "{body}");
    eprintln!(
        "503 after {:.1} s with one of two witnesses hung",
        started.elapsed().as_secs_f64()
    );
    let published: u64 =
        c.pg.query("witnessed", "SELECT size FROM vouch_log_checkpoint")
            .unwrap()
            .parse()
            .unwrap();
    let witnessed: u64 =
        c.pg.query("witnessed", "SELECT size FROM vouch_log_cosigned")
            .unwrap()
            .parse()
            .unwrap();
    assert_eq!((published, witnessed), (3, 2), "published, cosigned sizes");
    assert_eq!(
        signers(&checkpoint_of(&fronts[0]))[..1],
        [ORIGIN],
        "the uncosigned checkpoint is served as it is"
    );

    // The witness is back: the integrator cosigns the waiting checkpoint without a new write,
    // and the entry sequenced meanwhile is answered (as a duplicate, with its index).
    w2.resume();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, index) = rt.block_on(post(&http, &fronts[0].url, &req));
        if status == 409 {
            assert_eq!(index, Some(2));
            break;
        }
        assert_eq!(status, 503, "while the quorum is missing");
        assert!(
            Instant::now() < deadline,
            "the waiting checkpoint was not cosigned after the witness came back\n{}\n{}",
            tail(&fronts[0].log),
            tail(&fronts[1].log)
        );
    }
    for f in &fronts {
        let deadline = Instant::now() + Duration::from_secs(10);
        while signers(&checkpoint_of(f)).len() != 5 {
            assert!(
                Instant::now() < deadline,
                "{} serves no cosigned checkpoint",
                f.url
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // kill -9 of the integrator: the other front end takes over, catches up with what each
    // witness last cosigned (it starts from size 0 and is told the witness's size), and its
    // writes are acknowledged with both witnesses' cosignatures.
    let mut fronts = fronts.map(Some);
    let who = fronts
        .iter()
        .position(|f| f.as_ref().is_some_and(is_integrator))
        .expect("one front end is the integrator");
    if let Some(mut f) = fronts[who].take() {
        f.child.kill().unwrap();
        f.child.wait().unwrap();
    }
    let survivor = fronts[1 - who].take().unwrap();
    let (status, index) = rt.block_on(post(
        &http,
        &survivor.url,
        &request(&key, b"after the integrator died"),
    ));
    assert_eq!(
        (status, index),
        (201, Some(3)),
        "a write after the takeover\n{}",
        tail(&survivor.log)
    );
    assert!(is_integrator(&survivor), "the survivor did not take over");
    let cp = checkpoint_of(&survivor);
    assert_eq!(signers(&cp).len(), 5, "{cp}");
    assert!(cp.starts_with(&format!("{ORIGIN}\n4\n")), "{cp}");

    // Under load (six clients for 3 s) every acknowledgement carries both witnesses'
    // cosignatures, and the audit finds every acknowledged entry in place and all checkpoints
    // consistent.
    let shared = Arc::new(Shared::default());
    let l = load(
        &rt,
        std::slice::from_ref(&survivor.url),
        "witnessed",
        &shared,
    );
    std::thread::sleep(Duration::from_secs(3));
    stop_load(&rt, l);
    let mut history = BTreeMap::new();
    let v = verifier(&survivor);
    audit(&[&survivor], &v, &shared, &mut history, "witnessed load");
    let acks = shared.acks.lock().unwrap();
    assert!(acks.len() > 10, "only {} writes acknowledged", acks.len());
    for a in acks.iter() {
        assert_eq!(signers(&a.checkpoint).len(), 5, "{}", a.checkpoint);
    }
    eprintln!(
        "{} writes acknowledged in 3 s by one front end with a 2-of-2 witness quorum",
        acks.len()
    );
    drop((w1, w2));
}

/// The bucket's object keys under `prefix` (moto answers an unsigned ListObjectsV2).
fn bucket_keys(c: &Cluster, bucket: &str, prefix: &str) -> Vec<String> {
    let body = common::get(
        &c.s3.endpoint(),
        &format!("/{bucket}?list-type=2&max-keys=1000&prefix={prefix}"),
    );
    let xml = String::from_utf8(body).unwrap();
    xml.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_string()))
        .collect()
}

/// A checkpoint's origin and size, read from the log's `/checkpoint`.
fn origin_and_size(log_url: &str) -> (String, u64) {
    let note = String::from_utf8(common::get(log_url, "/checkpoint")).unwrap();
    let mut lines = note.lines();
    let origin = lines.next().unwrap().to_string();
    let size = lines.next().unwrap().parse().unwrap();
    (origin, size)
}

/// `vouch sign-blob` against the instance (extra flags pick the Rekor version).
fn up_sign(inst: &Instance, file: &Path, bundle: &Path, token: &str, extra: &[&str]) {
    ok_stdout(
        &inst.sign_blob(file, bundle, token, extra),
        "vouch sign-blob",
    );
}

/// `vouch verify-blob` with the instance's trusted root (SCTs required, as by default).
fn up_verify(inst: &Instance, file: &Path, bundle: &Path, identity: &str) {
    up_verify_with(inst, file, bundle, identity, &[]);
}

/// [`up_verify`] with extra `verify-blob` flags.
fn up_verify_with(inst: &Instance, file: &Path, bundle: &Path, identity: &str, extra: &[&str]) {
    ok_stdout(
        &inst.verify_blob(file, bundle, identity, extra),
        "vouch verify-blob",
    );
}

/// `vouch up` that must fail: its stderr.
fn up_fails(c: &Cluster, data: &Path, port: u16, database: &str, extra: &[&str]) -> String {
    let out = run_within(
        vouch()
            .args(["up", "--data"])
            .arg(data)
            .args(["--port", &port.to_string()])
            .args(["--database", database, "--tiles", &c.tiles])
            .args(extra)
            .envs(c.env()),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "vouch up unexpectedly started: {err}"
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line expected: {err}");
    err
}

#[test]
fn up_runs_the_whole_instance_on_the_scale_backend() {
    let Some(c) = Cluster::new("upscale") else {
        return;
    };
    // Six services and, at the end, one witness.
    let base = free_port_base(7);
    let data = c.tmp.path().join("up-data");
    let scale = [
        "--database",
        c.database.as_str(),
        "--tiles",
        c.tiles.as_str(),
    ];
    let start = |n: usize| {
        start_up_env(
            None,
            &data,
            base,
            &c.tmp.path().join(format!("up{n}.log")),
            &scale,
            &c.env(),
        )
    };
    let mut inst = start(1);
    let banner = inst.banner.join("\n");
    assert!(
        banner.contains("log backend         PostgreSQL postgres://127.0.0.1:"),
        "{banner}"
    );
    assert!(
        banner.contains("+ object store s3://upscale-tiles/prod"),
        "{banner}"
    );
    for secret in [PG_PASSWORD, "vouch-test-secret", "vouch@"] {
        assert!(
            !banner.contains(secret),
            "banner shows {secret:?}: {banner}"
        );
    }
    // The trust files keep their shape: one tlog, one CT log, both named by their URLs.
    let tc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&inst.trust_config).unwrap()).unwrap();
    assert_eq!(tc["trustedRoot"]["tlogs"].as_array().unwrap().len(), 1);
    assert_eq!(tc["trustedRoot"]["ctlogs"].as_array().unwrap().len(), 1);
    assert_eq!(tc["trustedRoot"]["tlogs"][0]["baseUrl"], inst.urls["log"]);
    assert_eq!(
        tc["signingConfig"]["rekorTlogUrls"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Keyless signing through Rekor v2 and v1; certificates carry SCTs that verify-blob checks.
    let tok = inst.token("carol@example.com");
    let artifact = c.tmp.path().join("release.tar.gz");
    std::fs::write(&artifact, b"scale release").unwrap();
    let b2 = c.tmp.path().join("v2.sigstore.json");
    up_sign(&inst, &artifact, &b2, &tok, &[]);
    up_verify(&inst, &artifact, &b2, "carol@example.com");
    let b1 = c.tmp.path().join("v1.sigstore.json");
    up_sign(&inst, &artifact, &b1, &tok, &["--rekor-version", "1"]);
    let v1: serde_json::Value = serde_json::from_slice(&std::fs::read(&b1).unwrap()).unwrap();
    assert_eq!(
        v1["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"],
        "0.0.1"
    );
    up_verify(&inst, &artifact, &b1, "carol@example.com");
    let (origin, size) = origin_and_size(&inst.urls["log"]);
    assert_eq!(size, 2);
    // The explorer pages through the PostgreSQL search index: one per page, newest first.
    let search = |path: &str| -> vouch_log::explorer::SearchResults {
        serde_json::from_slice(&common::get(&inst.urls["log"], path)).unwrap()
    };
    let newest = search("/api/explorer/search?q=carol%40example.com&perPage=1");
    assert_eq!(
        (newest.total, newest.total_exact, newest.first),
        (2, true, Some(1)),
        "{newest:?}"
    );
    let older = search(newest.next.as_deref().unwrap());
    assert_eq!(
        (older.first, older.next.as_deref()),
        (Some(2), None),
        "{older:?}"
    );
    assert_eq!(
        [newest.results[0].index, older.results[0].index],
        [log_index(&b1), log_index(&b2)]
    );
    assert_eq!(
        origin,
        inst.urls["log"].strip_prefix("http://").unwrap(),
        "the log is named after its URL"
    );

    // The checkpoints are in PostgreSQL (the CT log in its own schema), the tiles in the bucket.
    let q = |sql: &str| c.pg.query("upscale", sql).unwrap();
    assert_eq!(q("SELECT size FROM public.vouch_log_checkpoint"), "2");
    assert_eq!(q("SELECT origin FROM public.vouch_log_meta"), origin);
    let ct_size: u64 = q("SELECT size FROM vouch_ct.vouch_log_checkpoint")
        .parse()
        .unwrap();
    assert_eq!(ct_size, 2, "one precertificate per signing certificate");
    let sth: serde_json::Value =
        serde_json::from_slice(&common::get(&inst.urls["ct"], "/ct/v1/get-sth")).unwrap();
    assert_eq!(sth["tree_size"], 2, "{sth}");
    let log_objects = bucket_keys(&c, "upscale-tiles", "prod/tile/");
    assert!(
        log_objects
            .iter()
            .any(|k| k.starts_with("prod/tile/entries/")),
        "{log_objects:?}"
    );
    let ct_objects = bucket_keys(&c, "upscale-tiles", "prod/ct/tile/");
    assert!(
        ct_objects.iter().any(|k| k.starts_with("prod/ct/tile/0/")),
        "{ct_objects:?}"
    );
    // ... and not in --data, which keeps only the keys.
    let names = |dir: &str| {
        let mut n: Vec<String> = std::fs::read_dir(data.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names("log"), ["log.key", "public.pem"]);
    assert_eq!(names("ct"), ["log.key", "public.pem"]);
    assert!(data.join("scale.json").exists());

    // kill -9 and restart with the same flags: the same log continues.
    inst.stop();
    let mut inst = start(2);
    let (origin2, size2) = origin_and_size(&inst.urls["log"]);
    assert_eq!(origin2, origin);
    assert!(size2 >= size, "tree shrank from {size} to {size2}");
    up_verify(&inst, &artifact, &b2, "carol@example.com");
    up_verify(&inst, &artifact, &b1, "carol@example.com");
    let b3 = c.tmp.path().join("after.sigstore.json");
    let tok = inst.token("carol@example.com");
    up_sign(&inst, &artifact, &b3, &tok, &[]);
    assert_eq!(log_index(&b3), size2, "the tree continues");
    up_verify(&inst, &artifact, &b3, "carol@example.com");

    // The CT log is an ordinary scale-out log in schema vouch_ct: a `vouch serve ct` front end
    // with the instance's CT key serves the same tree as vouch up's CT log.
    let ct_db = format!("{}?options[search_path]=vouch_ct", c.database);
    let ct_tiles = c.tiles.replacen("/prod?", "/prod/ct?", 1);
    let ct = CtFront::of_instance(&c, &data, &ct_db, &ct_tiles);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_sth(&ct.url)["tree_size"] != get_sth(&inst.urls["ct"])["tree_size"] {
        assert!(
            Instant::now() < deadline,
            "serve ct does not follow vouch up's CT log"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get_sth(&ct.url)["tree_size"], 3);
    drop(ct);
    inst.stop();

    // Another --data (so other keys) on the same database and ports: the key guard refuses.
    let other = c.tmp.path().join("other-data");
    let err = up_fails(&c, &other, base, &c.database, &[]);
    assert!(
        err.contains("log.key is missing, and the log in the database already has a key"),
        "{err}"
    );
    // Other ports (0: free ones) name another log: the database's log has another origin.
    let err = up_fails(&c, &other, 0, &c.database, &[]);
    assert!(
        err.contains(&format!("the database holds the log {origin:?}")),
        "{err}"
    );
    // The instance's own --data without --database: refused, it would start a second log.
    let out = run_within(
        vouch()
            .args(["up", "--data"])
            .arg(&data)
            .args(["--port", &base.to_string()]),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("this instance's logs are on PostgreSQL"),
        "{err}"
    );
    // A password in --database is refused before anything starts.
    let with_password = c.pg.url_with_password("upscale");
    let err = up_fails(&c, &c.tmp.path().join("pw-data"), base, &with_password, &[]);
    assert!(err.contains("must not contain a password"), "{err}");
    assert!(!err.contains(PG_PASSWORD), "{err}");
    // Witnesses on the scale backend: the instance's local witness cosigns, the cosigned
    // checkpoint is stored in PostgreSQL, and the bundle verifies with the witness policy
    // required.
    let witnessed: Vec<&str> = scale
        .iter()
        .copied()
        .chain(["--witnesses", "1", "--require-witness-quorum"])
        .collect();
    let inst = start_up_env(
        None,
        &data,
        base,
        &c.tmp.path().join("up3.log"),
        &witnessed,
        &c.env(),
    );
    let b4 = c.tmp.path().join("witnessed.sigstore.json");
    let tok = inst.token("carol@example.com");
    up_sign(&inst, &artifact, &b4, &tok, &[]);
    let policy = data.join("witness_policy.txt");
    up_verify_with(
        &inst,
        &artifact,
        &b4,
        "carol@example.com",
        &["--witness-policy", policy.to_str().unwrap()],
    );
    assert_eq!(
        q("SELECT size FROM public.vouch_log_cosigned"),
        (log_index(&b4) + 1).to_string()
    );
    assert!(
        signers(&bundle_checkpoint(&b4))
            .iter()
            .any(|n| n == "witness-1.vouch.local"),
        "{}",
        bundle_checkpoint(&b4)
    );
}

/// The stderr of a command that must have failed (`what` names it).
fn failed(out: &std::process::Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{what} succeeded: {err}");
    err
}

/// `vouch log migrate` with extra arguments (`--from DIR` or `--instance DIR`, the target).
fn migrate_with(c: &Cluster, args: &[&OsStr]) -> std::process::Output {
    run_within(
        vouch().args(["log", "migrate"]).args(args).envs(c.env()),
        Duration::from_secs(120),
    )
}

#[test]
fn migrate_moves_an_embedded_instance_and_its_ct_log() {
    let Some(c) = Cluster::new("upmigrate") else {
        return;
    };
    let base = free_port_base(6);
    let data = c.tmp.path().join("up-data");
    // An embedded instance with entries in both logs: two signings, Rekor v2 and v1, each with
    // a certificate whose precertificate went into the CT log.
    let mut inst = start_up_env(None, &data, base, &c.tmp.path().join("up0.log"), &[], &[]);
    let tok = inst.token("erin@example.com");
    let artifact = c.tmp.path().join("release.tar.gz");
    std::fs::write(&artifact, b"release before the move").unwrap();
    let b2 = c.tmp.path().join("v2.sigstore.json");
    up_sign(&inst, &artifact, &b2, &tok, &[]);
    let b1 = c.tmp.path().join("v1.sigstore.json");
    up_sign(&inst, &artifact, &b1, &tok, &["--rekor-version", "1"]);
    let (origin, size) = origin_and_size(&inst.urls["log"]);
    assert_eq!(size, 2);
    let sth = get_sth(&inst.urls["ct"]);
    assert_eq!(sth["tree_size"], 2, "{sth}");
    inst.stop();

    // The CT log alone (a copy of the instance's ct/) into schema vouch_ct of another
    // database, as `vouch serve ct` front ends reach it.
    let ct_copy = c.tmp.path().join("ct-copy");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(data.join("ct"))
        .arg(&ct_copy)
        .status()
        .unwrap();
    assert!(st.success());
    let ct_db = format!(
        "{}?options[search_path]=vouch_ct",
        c.pg.create_database("ctonly").unwrap()
    );
    let ct_tiles = c.tiles.replacen("/prod?", "/ctonly/ct?", 1);
    let target = |db: &str, tiles: &str| -> Vec<std::ffi::OsString> {
        vec![
            "--database".into(),
            db.into(),
            "--tiles".into(),
            tiles.into(),
        ]
    };
    let ct_args = |from: &Path| -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = vec!["--from".into(), from.into()];
        v.extend(target(&ct_db, &ct_tiles));
        v
    };
    let args = ct_args(&ct_copy);
    let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = migrate_with(&c, &refs);
    let stdout = ok_stdout(&out, "vouch log migrate --from ct/");
    assert!(stdout.contains("migrated 2 entries"), "{stdout}");
    assert!(
        stdout.contains("verified against the source's signed checkpoint"),
        "{stdout}"
    );
    assert_eq!(
        c.pg.query("ctonly", "SELECT size FROM vouch_ct.vouch_log_checkpoint")
            .unwrap(),
        "2",
        "the CT log is in schema vouch_ct"
    );
    // A `vouch serve ct` front end on it serves the embedded CT log's tree head.
    let front = CtFront::of_instance(&c, &data, &ct_db, &ct_tiles);
    let moved = get_sth(&front.url);
    assert_eq!(
        (&moved["tree_size"], &moved["sha256_root_hash"]),
        (&sth["tree_size"], &sth["sha256_root_hash"]),
        "{moved} vs {sth}"
    );
    drop(front);
    // A second migration into the now non-empty CT target is refused.
    let err = failed(&migrate_with(&c, &refs), "a second migration");
    assert!(
        err.contains("refusing to migrate into a non-empty log"),
        "{err}"
    );

    // The instance itself: vouch up --database refuses its embedded logs, naming the move.
    let err = up_fails(&c, &data, base, &c.database, &[]);
    assert!(
        err.contains("holds this instance's embedded log with entries")
            && err.contains("vouch log migrate --instance"),
        "{err}"
    );
    let mut args: Vec<std::ffi::OsString> = vec!["--instance".into(), data.clone().into()];
    args.extend(target(&c.database, &c.tiles));
    let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = migrate_with(&c, &refs);
    let stdout = ok_stdout(&out, "vouch log migrate --instance");
    assert_eq!(
        stdout.matches("migrated 2 entries").count(),
        2,
        "both logs: {stdout}"
    );
    assert!(data.join("scale.json").exists());
    for d in ["log", "ct"] {
        assert!(data.join(d).join("pre-scale/index").is_dir(), "{d}");
        assert!(!data.join(d).join("index").exists(), "{d}");
        assert!(data.join(d).join("log.key").exists(), "{d}");
    }
    // A migration interrupted after writing scale.json (the copies verified) but before the
    // CT log's files were set aside is finished by running it again.
    for name in ["log.json", "index", "tile"] {
        std::fs::rename(
            data.join("ct/pre-scale").join(name),
            data.join("ct").join(name),
        )
        .unwrap();
    }
    let stdout = ok_stdout(&migrate_with(&c, &refs), "the interrupted migration again");
    assert!(
        stdout.contains("finished an interrupted migration"),
        "{stdout}"
    );
    assert!(!data.join("ct/index").exists());
    assert!(data.join("ct/pre-scale/index").is_dir());
    // Migrating it again is refused: its logs are on the backend now.
    let err = failed(&migrate_with(&c, &refs), "migrating a moved instance again");
    assert!(err.contains("already on PostgreSQL"), "{err}");

    // vouch up on the backend: the same instance, the tree continues, old bundles verify.
    let scale = [
        "--database",
        c.database.as_str(),
        "--tiles",
        c.tiles.as_str(),
    ];
    let inst = start_up_env(
        None,
        &data,
        base,
        &c.tmp.path().join("up1.log"),
        &scale,
        &c.env(),
    );
    assert_eq!(origin_and_size(&inst.urls["log"]), (origin, size));
    up_verify(&inst, &artifact, &b2, "erin@example.com");
    up_verify(&inst, &artifact, &b1, "erin@example.com");
    let b3 = c.tmp.path().join("after.sigstore.json");
    let tok = inst.token("erin@example.com");
    up_sign(&inst, &artifact, &b3, &tok, &[]);
    assert_eq!(log_index(&b3), size, "the tree continues");
    up_verify(&inst, &artifact, &b3, "erin@example.com");
    assert_eq!(get_sth(&inst.urls["ct"])["tree_size"], 3);
    let q = |sql: &str| c.pg.query("upmigrate", sql).unwrap();
    assert_eq!(q("SELECT size FROM public.vouch_log_checkpoint"), "3");
    assert_eq!(q("SELECT size FROM vouch_ct.vouch_log_checkpoint"), "3");
}
