//! gitsign end to end with real git against `vouch up`: `git commit -S` / `git tag -s` through
//! the `vouch-gitsign` program (`gpg.format=x509`), `git verify-commit`, `git verify-tag`,
//! `git log --show-signature`, identity policy (`gitsign.matchIdentity`/`matchIssuer` and
//! `vouch gitsign verify`), a rewritten (tampered) commit, Rekor v1 and v2 entries, offline
//! verification after the instance is stopped, and `openssl cms -verify` on the signature.
//!
//! The program git runs: `vouch-gitsign` is a binary of the `vouch-gitsign` package, so
//! `CARGO_BIN_EXE_*` does not name it here. The test builds it into the same target directory
//! and profile as the `vouch` binary under test (`cargo build -p vouch-gitsign --bin
//! vouch-gitsign`, a no-op when it is fresh) and runs it from there. The `vouch gitsign`
//! passthrough is exercised too, through a two-line wrapper script, when the `vouch` binary has
//! the subcommand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{sibling_bin, start_up};
use common::{run_within as run, vouch};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn ok(out: &Output, what: &str) -> (String, String) {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fails(out: &Output, what: &str, needle: &str) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "{what} unexpectedly succeeded: {all}"
    );
    assert!(
        all.contains(needle),
        "{what}: expected {needle:?} in: {all}"
    );
}

/// Build `vouch-gitsign` next to the `vouch` binary under test and return its path.
fn gitsign_bin() -> PathBuf {
    sibling_bin("vouch-gitsign", "vouch-gitsign")
}

/// A git command isolated from the user's configuration, with gitsign settings on the command
/// line as a user would put them in their config.
struct Git {
    repo: PathBuf,
    home: PathBuf,
    program: PathBuf,
    trust_config: PathBuf,
    token: String,
}

impl Git {
    fn cmd(&self, extra_config: &[(&str, &str)]) -> Command {
        let mut c = Command::new("git");
        c.current_dir(&self.repo)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("VOUCH_TRUST_CONFIG")
            .env_remove("GITSIGN_TRUST_CONFIG")
            .env_remove("GITSIGN_MATCH_IDENTITY")
            .env_remove("GITSIGN_MATCH_ISSUER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("SIGSTORE_ID_TOKEN", &self.token)
            .args(["-c", "gpg.format=x509", "-c"])
            .arg(format!("gpg.x509.program={}", self.program.display()))
            .arg("-c")
            .arg(format!(
                "gitsign.trustConfig={}",
                self.trust_config.display()
            ));
        for (k, v) in extra_config {
            c.arg("-c").arg(format!("{k}={v}"));
        }
        c
    }

    fn run(&self, extra_config: &[(&str, &str)], args: &[&str]) -> Output {
        run(self.cmd(extra_config).args(args), Duration::from_secs(120))
    }

    fn ok(&self, extra_config: &[(&str, &str)], args: &[&str]) -> (String, String) {
        ok(
            &self.run(extra_config, args),
            &format!("git {}", args.join(" ")),
        )
    }
}

/// Split a raw commit into (payload, PEM signature) as git does.
fn split_commit(raw: &[u8]) -> (Vec<u8>, String) {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    let (headers, body) = text.split_once("\n\n").unwrap();
    let mut payload = String::new();
    let mut sig = String::new();
    let mut in_sig = false;
    for line in headers.lines() {
        if let Some(v) = line.strip_prefix("gpgsig ") {
            in_sig = true;
            sig.push_str(v);
            sig.push('\n');
        } else if in_sig && line.starts_with(' ') {
            sig.push_str(&line[1..]);
            sig.push('\n');
        } else {
            in_sig = false;
            payload.push_str(line);
            payload.push('\n');
        }
    }
    payload.push('\n');
    payload.push_str(body);
    (payload.into_bytes(), sig)
}

fn vouch_gitsign_verify(
    dir: &Path,
    trust: &Path,
    identity: &str,
    issuer: &str,
    rev: &str,
) -> Output {
    run(
        vouch()
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("VOUCH_TRUST_CONFIG")
            .args(["gitsign", "verify", "--trust-config"])
            .arg(trust)
            .args([
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                issuer,
                rev,
            ]),
        Duration::from_secs(60),
    )
}

#[test]
fn git_signs_and_verifies_through_vouch_gitsign() {
    if run(
        Command::new("git").arg("--version"),
        Duration::from_secs(10),
    )
    .status
    .code()
        != Some(0)
    {
        vouch_testkit::skip(format_args!("git is not installed"));
        return;
    }
    let program = gitsign_bin();
    let dir = tempfile::tempdir().unwrap();
    let mut inst = start_up(&dir.path().join("data"), 0, &dir.path().join("up.log"));
    let issuer = inst.urls["oidc"].clone();
    let repo = dir.path().join("repo");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let git = Git {
        repo: repo.clone(),
        home,
        program,
        trust_config: inst.trust_config.clone(),
        token: inst.token("dev@example.com"),
    };
    std::fs::create_dir_all(&repo).unwrap();
    git.ok(&[], &["init", "-q"]);
    git.ok(&[], &["config", "user.name", "Dev"]);
    git.ok(&[], &["config", "user.email", "dev@example.com"]);
    std::fs::write(repo.join("a.txt"), "hello\n").unwrap();
    git.ok(&[], &["add", "a.txt"]);

    // Sign a commit (Rekor v2 + TSA, the instance's default).
    git.ok(&[], &["commit", "-q", "-S", "-m", "signed commit"]);
    let c1 = git.ok(&[], &["rev-parse", "HEAD"]).0.trim().to_string();
    let (raw, _) = git.ok(&[], &["cat-file", "commit", "HEAD"]);
    assert!(
        raw.contains("\ngpgsig -----BEGIN SIGNED MESSAGE-----\n"),
        "{raw}"
    );

    // Non-interactive signing fails fast: no token, no terminal (setsid drops the controlling
    // terminal), no browser. It used to wait for the device code to expire (~10 minutes).
    {
        let c = git.cmd(&[]);
        let mut detached = Command::new("setsid");
        detached.arg(c.get_program()).args(c.get_args());
        if let Some(d) = c.get_current_dir() {
            detached.current_dir(d);
        }
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => detached.env(k, v),
                None => detached.env_remove(k),
            };
        }
        detached
            .env_remove("SIGSTORE_ID_TOKEN")
            .env_remove("VOUCH_IDENTITY_TOKEN");
        detached.args(["commit", "-q", "--allow-empty", "-S", "-m", "no token"]);
        let started = std::time::Instant::now();
        let out = run(&mut detached, Duration::from_secs(60));
        fails(
            &out,
            "git commit -S without a token",
            "no identity token and no terminal",
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );
    }

    // git verify-commit: exit 0, status lines and human text.
    let (_, err) = git.ok(&[], &["verify-commit", "HEAD"]);
    assert!(
        err.contains("Good signature from [dev@example.com]"),
        "{err}"
    );
    let (_, raw_status) = git.ok(&[], &["verify-commit", "--raw", "HEAD"]);
    for needle in [
        "[GNUPG:] NEWSIG",
        "[GNUPG:] GOODSIG ",
        "[GNUPG:] VALIDSIG ",
        "[GNUPG:] TRUST_UNDEFINED 0 shell",
    ] {
        assert!(raw_status.contains(needle), "{needle} in {raw_status}");
    }

    // git log --show-signature, and the %G? verdicts without and with an identity policy.
    let (out, _) = git.ok(&[], &["log", "--show-signature", "-1"]);
    assert!(
        out.contains("Good signature from [dev@example.com]"),
        "{out}"
    );
    let (out, _) = git.ok(&[], &["log", "-1", "--format=%G? %GS"]);
    assert_eq!(out.trim(), "U dev@example.com");
    let policy = [
        ("gitsign.matchIdentity", "dev@example.com"),
        ("gitsign.matchIssuer", issuer.as_str()),
    ];
    let (out, _) = git.ok(&policy, &["log", "-1", "--format=%G? %GS"]);
    assert_eq!(out.trim(), "G dev@example.com");
    let (_, raw_status) = git.ok(&policy, &["verify-commit", "--raw", "HEAD"]);
    assert!(
        raw_status.contains("[GNUPG:] TRUST_FULLY 0 shell"),
        "{raw_status}"
    );

    // Wrong identity in git config: no GOODSIG, git fails.
    let wrong = [
        ("gitsign.matchIdentity", "mallory@example.com"),
        ("gitsign.matchIssuer", issuer.as_str()),
    ];
    fails(
        &git.run(&wrong, &["verify-commit", "HEAD"]),
        "verify-commit with the wrong identity",
        "certificate identity mismatch",
    );
    fails(
        &git.run(
            &[
                ("gitsign.matchIdentity", "dev@example.com"),
                ("gitsign.matchIssuer", "https://accounts.example.com"),
            ],
            &["verify-commit", "HEAD"],
        ),
        "verify-commit with the wrong issuer",
        "issuer",
    );

    // A signed tag.
    git.ok(&[], &["tag", "-s", "v1", "-m", "release v1"]);
    let (_, err) = git.ok(&[], &["verify-tag", "v1"]);
    assert!(
        err.contains("Good signature from [dev@example.com]"),
        "{err}"
    );

    // A commit logged to Rekor v1 (SET + inclusion proof).
    std::fs::write(repo.join("b.txt"), "v1 log\n").unwrap();
    git.ok(&[], &["add", "b.txt"]);
    git.ok(
        &[("gitsign.rekorVersion", "1")],
        &["commit", "-q", "-S", "-m", "rekor v1 commit"],
    );
    let c2 = git.ok(&[], &["rev-parse", "HEAD"]).0.trim().to_string();
    let (_, err) = git.ok(&[], &["verify-commit", "HEAD"]);
    assert!(
        err.contains("Good signature from [dev@example.com]"),
        "{err}"
    );

    // gitsign's online mode: the commit SHA is logged (Rekor v1), nothing is embedded, and
    // verification looks the entry up.
    git.ok(
        &[("gitsign.rekorMode", "online")],
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-S",
            "-m",
            "online mode commit",
        ],
    );
    let c3 = git.ok(&[], &["rev-parse", "HEAD"]).0.trim().to_string();
    let (raw3, _) = git.ok(&[], &["cat-file", "commit", &c3]);
    let (_, sig3) = split_commit(raw3.as_bytes());
    let parsed =
        vouch_gitsign::cms::parse(&vouch_gitsign::cms::from_pem_or_der(sig3.as_bytes()).unwrap())
            .unwrap();
    assert!(parsed.tlog_entry_json.is_none());
    assert!(parsed.timestamp_token.is_some());
    let (_, err) = git.ok(&policy, &["verify-commit", &c3]);
    assert!(
        err.contains("Good signature from [dev@example.com]"),
        "{err}"
    );
    let (_, raw_status) = git.ok(&policy, &["verify-commit", "--raw", &c3]);
    assert!(
        raw_status.contains("[GNUPG:] TRUST_FULLY 0 shell"),
        "{raw_status}"
    );

    // Tampering: rewrite the commit message, keep the signature.
    let (raw, _) = git.ok(&[], &["cat-file", "commit", &c1]);
    assert!(raw.contains("signed commit"));
    let forged = raw.replace("signed commit", "forged commit");
    std::fs::write(dir.path().join("forged"), &forged).unwrap();
    let (forged_id, _) = git.ok(&[], &["hash-object", "-t", "commit", "-w", "../forged"]);
    let forged_id = forged_id.trim().to_string();
    let out = git.run(&[], &["verify-commit", "--raw", &forged_id]);
    fails(
        &out,
        "verify-commit of a rewritten commit",
        "[GNUPG:] BADSIG ",
    );
    let all = String::from_utf8_lossy(&out.stderr);
    assert!(!all.contains("GOODSIG"), "{all}");

    // A signature moved onto another commit fails too.
    let (raw_head, _) = git.ok(&[], &["cat-file", "commit", &c2]);
    let (_, sig_first) = split_commit(raw.as_bytes());
    let (payload_head, _) = split_commit(raw_head.as_bytes());
    let payload_head = String::from_utf8(payload_head).unwrap();
    let (hdrs, body) = payload_head.split_once("\n\n").unwrap();
    let moved = format!(
        "{hdrs}\ngpgsig {}\n\n{body}",
        sig_first.trim_end().replace('\n', "\n ")
    );
    std::fs::write(dir.path().join("moved"), &moved).unwrap();
    let (moved_id, _) = git.ok(&[], &["hash-object", "-t", "commit", "-w", "../moved"]);
    fails(
        &git.run(&[], &["verify-commit", moved_id.trim()]),
        "verify-commit of a commit with another commit's signature",
        "BAD signature",
    );

    // `vouch gitsign verify` and the `vouch gitsign` passthrough.
    {
        let out = vouch_gitsign_verify(&repo, &inst.trust_config, "dev@example.com", &issuer, &c1);
        let (_, err) = ok(&out, "vouch gitsign verify (Rekor v2 commit)");
        assert!(err.contains("signed by dev@example.com"), "{err}");
        let out = vouch_gitsign_verify(&repo, &inst.trust_config, "dev@example.com", &issuer, "v1");
        ok(&out, "vouch gitsign verify v1");
        let out = vouch_gitsign_verify(
            &repo,
            &inst.trust_config,
            "mallory@example.com",
            &issuer,
            &c2,
        );
        fails(
            &out,
            "vouch gitsign verify with the wrong identity",
            "identity mismatch",
        );
        let out = vouch_gitsign_verify(
            &repo,
            &inst.trust_config,
            "dev@example.com",
            &issuer,
            &forged_id,
        );
        fails(
            &out,
            "vouch gitsign verify of a rewritten commit",
            "payload does not match",
        );
        // An unsigned commit is reported as such.
        let out = run(
            Command::new("git")
                .current_dir(&repo)
                .env("HOME", &git.home)
                .args(["commit-tree", "-m", "unsigned", &format!("{c1}^{{tree}}")]),
            Duration::from_secs(30),
        );
        let (unsigned_id, _) = ok(&out, "git commit-tree");
        let out = vouch_gitsign_verify(
            &repo,
            &inst.trust_config,
            "dev@example.com",
            &issuer,
            unsigned_id.trim(),
        );
        fails(
            &out,
            "vouch gitsign verify of an unsigned commit",
            "is not signed",
        );

        let wrapper = dir.path().join("vouch-gitsign-wrapper.sh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec '{}' gitsign \"$@\"\n",
                env!("CARGO_BIN_EXE_vouch")
            ),
        )
        .unwrap();
        let mut perm = std::fs::metadata(&wrapper).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&wrapper, perm).unwrap();
        let via_vouch = Git {
            program: wrapper,
            repo: git.repo.clone(),
            home: git.home.clone(),
            trust_config: git.trust_config.clone(),
            token: git.token.clone(),
        };
        via_vouch.ok(
            &[],
            &[
                "commit",
                "-q",
                "--allow-empty",
                "-S",
                "-m",
                "via vouch gitsign",
            ],
        );
        let (_, err) = via_vouch.ok(&[], &["verify-commit", "HEAD"]);
        assert!(
            err.contains("Good signature from [dev@example.com]"),
            "{err}"
        );
        git.ok(&[], &["verify-commit", "HEAD"]);
    }

    // openssl agrees: relabel the PEM, verify the detached CMS over the payload against the CA
    // chain from the trusted root, at the signing time.
    if run(
        Command::new("openssl").arg("version"),
        Duration::from_secs(10),
    )
    .status
    .success()
    {
        let (raw, _) = git.ok(&[], &["cat-file", "commit", &c1]);
        let (payload, sig) = split_commit(raw.as_bytes());
        // The signing time (the certificate is issued after git stamps the commit).
        let signed_at = vouch_gitsign::cms::parse(
            &vouch_gitsign::cms::from_pem_or_der(sig.as_bytes()).unwrap(),
        )
        .unwrap()
        .signing_time
        .unwrap()
        .to_string();
        std::fs::write(dir.path().join("payload"), &payload).unwrap();
        std::fs::write(
            dir.path().join("sig.cms"),
            sig.replace("SIGNED MESSAGE", "CMS"),
        )
        .unwrap();
        let tc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&inst.trust_config).unwrap()).unwrap();
        let mut ca_pem = String::new();
        for ca in tc["trustedRoot"]["certificateAuthorities"]
            .as_array()
            .unwrap()
        {
            for c in ca["certChain"]["certificates"].as_array().unwrap() {
                let b64 = c["rawBytes"].as_str().unwrap();
                ca_pem.push_str("-----BEGIN CERTIFICATE-----\n");
                for chunk in b64.as_bytes().chunks(64) {
                    ca_pem.push_str(std::str::from_utf8(chunk).unwrap());
                    ca_pem.push('\n');
                }
                ca_pem.push_str("-----END CERTIFICATE-----\n");
            }
        }
        std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
        let openssl = |content: &str| {
            run(
                Command::new("openssl").current_dir(dir.path()).args([
                    "cms",
                    "-verify",
                    "-binary",
                    "-inform",
                    "PEM",
                    "-in",
                    "sig.cms",
                    "-content",
                    content,
                    "-CAfile",
                    "ca.pem",
                    "-purpose",
                    "any",
                    "-attime",
                    signed_at.as_str(),
                    "-out",
                    "/dev/null",
                ]),
                Duration::from_secs(30),
            )
        };
        let out = openssl("payload");
        ok(&out, "openssl cms -verify");
        std::fs::write(
            dir.path().join("payload.bad"),
            String::from_utf8(payload)
                .unwrap()
                .replace("signed commit", "forged commit"),
        )
        .unwrap();
        fails(
            &openssl("payload.bad"),
            "openssl cms -verify of a tampered payload",
            "verif",
        );
    } else {
        vouch_testkit::skip(format_args!("openssl is not installed"));
    }

    // Offline: stop the instance; everything still verifies from the embedded material.
    inst.stop();
    let (_, err) = git.ok(&[], &["verify-commit", &c1]);
    assert!(
        err.contains("Good signature from [dev@example.com]"),
        "{err}"
    );
    git.ok(&policy, &["verify-tag", "v1"]);
    let (out, _) = git.ok(&policy, &["log", "--format=%G?", "-2", &c2]);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["G", "G"]);
    fails(
        &git.run(&[], &["verify-commit", &forged_id]),
        "offline verify-commit of a rewritten commit",
        "BAD signature",
    );
    {
        let out = vouch_gitsign_verify(&repo, &inst.trust_config, "dev@example.com", &issuer, &c1);
        ok(&out, "offline vouch gitsign verify");
    }
    // The online-mode commit needs the log.
    fails(
        &git.run(&[], &["verify-commit", &c3]),
        "offline verify-commit of an online-mode commit",
        "looking up the log entry",
    );
    // Signing needs the instance: it fails cleanly, and git reports it.
    fails(
        &git.run(
            &[],
            &["commit", "-q", "--allow-empty", "-S", "-m", "offline"],
        ),
        "signing with the instance stopped",
        "signing failed",
    );
}

#[test]
fn gpgsm_interface_rejects_bad_invocations() {
    let program = gitsign_bin();
    // Unknown option: exit 2, a clear message.
    let out = run(
        Command::new(&program).arg("--frobnicate"),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option --frobnicate"));
    // Verifying garbage: ERRSIG on the status fd, non-zero exit, no GOODSIG.
    let dir = tempfile::tempdir().unwrap();
    let sig = dir.path().join("sig");
    std::fs::write(
        &sig,
        "-----BEGIN SIGNED MESSAGE-----\nAAAA\n-----END SIGNED MESSAGE-----\n",
    )
    .unwrap();
    let out = run(
        Command::new(&program)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir.path())
            .current_dir(dir.path())
            .args(["--status-fd=1", "--verify"])
            .arg(&sig)
            .arg("-"),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG "),
        "{stdout}"
    );
    assert!(!stdout.contains("GOODSIG"));
    // An unusable status fd fails clearly.
    let out = run(
        Command::new(&program)
            .args(["--status-fd=97", "--verify"])
            .arg(&sig)
            .arg("-"),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--status-fd=97"));
}
