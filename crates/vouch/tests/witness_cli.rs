//! `vouch witness key` and `vouch serve witness` as a user runs them: keys generated once and
//! kept, the name remembered, a real `vouch serve log`'s checkpoint cosigned over HTTP,
//! malformed requests answered 400 with the server still up, and `--witness-policy` parse
//! errors reported by `verify-blob`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::witness::start_witness;
use common::{post, start, tail, try_get, vouch};

fn key_lines(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    vouch()
        .args(["witness", "key"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn serve_witness_cosigns_a_real_log_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("w");

    // Keys: generated on the first call, the same afterwards; the name is kept.
    let first = key_lines(&wdir, &["--name", "witness.vouch.test/w1"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let vkeys = String::from_utf8(first.stdout).unwrap();
    let lines: Vec<&str> = vkeys.lines().collect();
    assert_eq!(lines.len(), 2, "{vkeys}");
    assert!(lines[0].starts_with("witness.vouch.test/w1+"));
    let again = key_lines(&wdir, &[]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), vkeys);
    let renamed = key_lines(&wdir, &["--name", "other"]);
    assert!(!renamed.status.success());
    assert!(String::from_utf8_lossy(&renamed.stderr).contains("witness.vouch.test/w1"));

    // A real log, and a witness following it.
    let origin = "log.vouch.test/witnessed";
    let log = start(
        &tmp.path().join("log"),
        origin,
        &tmp.path().join("log.txt"),
        &[],
    );
    let log_vkey = std::fs::read_to_string(tmp.path().join("log/log.vkey")).unwrap();
    assert!(log.stdout.iter().any(|l| l.starts_with("vkey: ")));
    let wlog = tmp.path().join("witness.txt");
    let witness = start_witness(&wdir, origin, log_vkey.trim(), &wlog);
    let url = witness.url.clone();

    let (st, cp) = try_get(&log.url, "/checkpoint").unwrap();
    assert_eq!(st, 200);
    let cp = String::from_utf8(cp).unwrap();
    let (st, _, cosigs) = post(&url, "/add-checkpoint", format!("old 0\n\n{cp}").as_bytes());
    assert_eq!(st, 200, "{cosigs}; {}", tail(&wlog));
    assert_eq!(cosigs.lines().count(), 2);
    assert!(
        cosigs
            .lines()
            .all(|l| l.starts_with("\u{2014} witness.vouch.test/w1 "))
    );
    // The log is empty (size 0): the same checkpoint is cosigned again, and `old` above its
    // size is a 400 (409 and 422 need a growing log: crates/vouch-witness/tests).
    assert_eq!(cp.lines().nth(1), Some("0"));
    let (st, _, _) = post(&url, "/add-checkpoint", format!("old 0\n\n{cp}").as_bytes());
    assert_eq!(st, 200);
    let (st, _, _) = post(&url, "/add-checkpoint", format!("old 1\n\n{cp}").as_bytes());
    assert_eq!(st, 400);

    // Malformed requests: 400, and the witness keeps serving.
    for bad in [&b"old\n\n"[..], b"", b"old 0\n\nnot a note\n", &[0xff; 64]] {
        let (st, _, _) = post(&url, "/add-checkpoint", bad);
        assert_eq!(st, 400, "{bad:?}");
    }
    assert_eq!(try_get(&url, "/healthz").unwrap().0, 200);
    drop(witness);

    // The policy file is read and refused with its line number.
    std::fs::write(
        tmp.path().join("bad-policy.txt"),
        "witnes w1 x\nquorum none\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("a.txt"), "a").unwrap();
    let out = vouch()
        .current_dir(tmp.path())
        .args(["verify-blob", "a.txt", "--bundle", "a.json"])
        .args(["--witness-policy", "bad-policy.txt"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("policy line 1"), "{err}");
}
