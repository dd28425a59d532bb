//! `vouch bench oidc`, `vouch bench tuf` and `vouch bench witness` as a user runs them, for a
//! few seconds each: the IdP and the TUF repository of a debug `vouch up`, and a
//! `vouch serve witness` started with the `--log` values `vouch bench witness --print-logs`
//! prints. Every request must succeed (0 errors) and each prints the shape of the other
//! benches; a second witness run resumes where the witness stands; non-loopback targets and a
//! witness that does not follow the bench's logs are refused with a hint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::start_up;
use common::witness::start_witness_logs;
use common::{ok_stdout, run_within, try_get, vouch};
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use vouch_core::note::{Checkpoint, SignedNote};

const LIMIT: Duration = Duration::from_secs(120);

/// The number after `key` (e.g. `errors=`) in a bench's output.
fn field(text: &str, key: &str) -> f64 {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
}

/// The latency line and the counters every bench prints, with no error.
fn assert_bench_shape(text: &str, count: &str, rate: &str) {
    assert!(field(text, count) > 0.0, "{text}");
    assert_eq!(field(text, "errors="), 0.0, "{text}");
    for k in ["p50_ms=", "p90_ms=", "p99_ms=", "max_ms=", rate] {
        assert!(field(text, k) >= 0.0, "{k}: {text}");
    }
    assert!(field(text, "p50_ms=") <= field(text, "max_ms="), "{text}");
}

fn bench(args: &[&str], dir: &Path) -> Output {
    run_within(vouch().current_dir(dir).arg("bench").args(args), LIMIT)
}

fn refused(args: &[&str], dir: &Path) -> String {
    let out = bench(args, dir);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bench_oidc_and_tuf_against_vouch_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inst = start_up(&d.join("data"), 0, &d.join("up.log"));
    let oidc = inst.urls["oidc"].clone();
    let tuf = inst.urls["tuf"].clone();

    // The token `vouch oidc token` asks for, verified once as a CA would, then loaded.
    let out = bench(
        &[
            "oidc",
            "--url",
            &oidc,
            "--email",
            "bench@example.com",
            "--duration",
            "3s",
            "--clients",
            "4",
        ],
        d,
    );
    let text = ok_stdout(&out, "vouch bench oidc");
    assert_bench_shape(&text, "tokens=", "tokens_per_sec=");
    assert!(text.contains("grant=development"), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verified against the IdP's JWKS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A request the IdP refuses fails the preflight with its reason.
    let err = refused(
        &[
            "oidc",
            "--url",
            &oidc,
            "--email",
            "not an email",
            "--duration",
            "1s",
        ],
        d,
    );
    assert!(err.contains("HTTP 400"), "{err}");

    // A TUF client's refresh, from the bootstrap root `vouch up` prints.
    let root = d.join("data/root.json");
    assert!(
        inst.banner
            .iter()
            .any(|l| l.contains(&*root.to_string_lossy()))
    );
    let out = bench(
        &[
            "tuf",
            "--url",
            &tuf,
            "--root",
            &root.to_string_lossy(),
            "--duration",
            "3s",
            "--clients",
            "4",
        ],
        d,
    );
    let text = ok_stdout(&out, "vouch bench tuf");
    assert_bench_shape(&text, "refreshes=", "requests_per_sec=");
    // Five GETs per refresh: next root (404), timestamp, snapshot, targets, the target.
    let (refreshes, requests) = (field(&text, "refreshes="), field(&text, "requests="));
    assert!(
        requests >= 5.0 * refreshes && requests < 5.0 * (refreshes + 5.0),
        "{text}"
    );
    // A target the repository does not publish, and a root that is not TUF root metadata.
    let err = refused(
        &[
            "tuf",
            "--url",
            &tuf,
            "--root",
            &root.to_string_lossy(),
            "--target",
            "absent.json",
        ],
        d,
    );
    assert!(err.contains("absent.json"), "{err}");
    let err = refused(
        &[
            "tuf",
            "--url",
            &tuf,
            "--root",
            &inst.trust_config.to_string_lossy(),
        ],
        d,
    );
    assert!(err.contains("hint: "), "{err}");

    // Load generators only target this machine.
    let err = refused(
        &[
            "oidc",
            "--url",
            "https://oauth2.sigstore.dev/auth",
            "--email",
            "a@b.test",
        ],
        d,
    );
    assert!(err.contains("refusing"), "{err}");
    let err = refused(
        &[
            "tuf",
            "--url",
            "https://tuf-repo-cdn.sigstore.dev",
            "--root",
            "x.json",
        ],
        d,
    );
    assert!(err.contains("refusing"), "{err}");
}

#[test]
fn bench_witness_pushes_accepted_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("bench-logs.pk8");
    let key_arg = key.to_string_lossy().into_owned();

    // The logs' `--log` values; the key is made once and kept.
    let print = |clients: &str| {
        ok_stdout(
            &bench(
                &[
                    "witness",
                    "--log-key",
                    &key_arg,
                    "--clients",
                    clients,
                    "--print-logs",
                ],
                d,
            ),
            "vouch bench witness --print-logs",
        )
    };
    let logs = print("3");
    assert_eq!(logs.lines().count(), 3, "{logs}");
    assert!(logs.starts_with("bench.vouch.test/witness/0 bench.vouch.test/witness/0+"));
    assert_eq!(print("3"), logs);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let witness = start_witness_logs(
        &d.join("w"),
        &logs.lines().collect::<Vec<_>>(),
        &d.join("witness.log"),
    );
    let url = witness.url.clone();
    let args = |duration: &'static str| {
        vec![
            "witness".to_string(),
            "--url".into(),
            url.clone(),
            "--log-key".into(),
            key_arg.clone(),
            "--clients".into(),
            "3".into(),
            "--duration".into(),
            duration.into(),
        ]
    };
    let run = |extra: &[&str], duration: &'static str| {
        let mut a = args(duration);
        a.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = bench(&a, d);
        ok_stdout(&out, "vouch bench witness")
    };
    let pid = witness.child.id().to_string();
    let text = run(&["--server-pid", &pid], "3s");
    assert_bench_shape(&text, "checkpoints=", "checkpoints_per_sec=");
    // The floor is the witness's own work: one note verification and two cosignatures.
    assert!(field(&text, "witness_cosign_us=") > 0.0, "{text}");
    assert!(field(&text, "efficiency=") > 0.0, "{text}");
    let first = field(&text, "tree_size=");

    // What the witness holds for log 0: the bench's checkpoint, cosigned with both keys.
    let origin = "bench.vouch.test/witness/0";
    let hash = vouch_witness::origin_hash(origin);
    let (status, body) = try_get(&url, &format!("/{hash}/checkpoint")).unwrap();
    assert_eq!(status, 200);
    let note = SignedNote::parse(&String::from_utf8(body).unwrap()).unwrap();
    let cp = Checkpoint::parse(&note.text).unwrap();
    assert_eq!(cp.origin, origin);
    assert!(cp.size > 8, "{cp:?}");
    assert_eq!(note.signatures.len(), 3, "log signature + 2 cosignatures");

    // A second run continues from the sizes the witness holds (a fresh start would be 409s).
    let text = run(&[], "2s");
    assert_bench_shape(&text, "checkpoints=", "checkpoints_per_sec=");
    assert!(field(&text, "tree_size=") > first, "{text}");

    // More clients than the witness follows logs: refused before the load, with the fix.
    let mut a = args("1s");
    a[6] = "5".into();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let err = refused(&a, d);
    assert!(err.contains("unknown log origin"), "{err}");
    assert!(err.contains("--print-logs"), "{err}");

    // Another key under the same origins: the witness's checkpoints are not this bench's.
    let other = d.join("other.pk8");
    let mut a = args("1s");
    a[4] = other.to_string_lossy().into_owned();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let err = refused(&a, d);
    assert!(err.contains("not from this bench's log key"), "{err}");
    drop(witness);

    let err = refused(
        &[
            "witness",
            "--url",
            "https://witness.example.test",
            "--log-key",
            &key_arg,
        ],
        d,
    );
    assert!(err.contains("refusing"), "{err}");
}
