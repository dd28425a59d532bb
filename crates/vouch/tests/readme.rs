//! The newcomer path, run verbatim: the "try it" block that `vouch up` prints, and every
//! ```sh block of README.md that is not marked `<!-- readme-test: skip … -->`, run by bash in a
//! fresh working directory against a `vouch up` started there (data in ./vouch-data, relative
//! paths exactly as written, no TTY). The README's fixed URLs (127.0.0.1:3000–3005) are mapped
//! to the ports this instance got, since tests run in parallel on free ports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::{Instance, start_up_in};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The marker that keeps a README block out of this test; the reason follows it.
const SKIP_MARKER: &str = "<!-- readme-test: skip";

/// One ```sh block of the README.
struct Block {
    section: String,
    line: usize,
    code: String,
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap()
}

/// The ```sh blocks of `text` that the test runs, with the section each stands in.
fn runnable_blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut skip_next = false;
    while let Some((i, line)) = lines.next() {
        if let Some(h) = line.strip_prefix("## ") {
            section = h.trim().to_string();
        }
        if line.trim_start().starts_with(SKIP_MARKER) {
            skip_next = true;
            continue;
        }
        if line.trim() == "```sh" {
            let mut code = String::new();
            for (_, l) in lines.by_ref() {
                if l.trim() == "```" {
                    break;
                }
                code.push_str(l);
                code.push('\n');
            }
            if !std::mem::take(&mut skip_next) {
                out.push(Block {
                    section: section.clone(),
                    line: i + 1,
                    code,
                });
            }
        } else if !line.trim().is_empty() && !line.starts_with("<!--") {
            // A marker applies to the block right after it only.
            skip_next = false;
        }
    }
    out
}

/// The README's default URLs, by service, as `vouch up` assigns its ports.
const DEFAULT_PORTS: [(&str, u16); 6] = [
    ("tuf", 3000),
    ("log", 3001),
    ("ca", 3002),
    ("oidc", 3003),
    ("tsa", 3004),
    ("ct", 3005),
];

fn map_urls(code: &str, inst: &Instance) -> String {
    let mut s = code.to_string();
    for (svc, port) in DEFAULT_PORTS {
        let url = &inst.urls[svc];
        let from = format!("http://127.0.0.1:{port}");
        // The TUF URL is printed with its /tuf path; the README adds /tuf itself.
        let to = url.trim_end_matches("/tuf").to_string();
        s = s.replace(&from, &to);
    }
    s
}

/// The `sigstore` (sigstore-python) CLI's directory, when `VOUCH_PYTHON` has it.
fn sigstore_python_bin_dir() -> Option<PathBuf> {
    let py = PathBuf::from(std::env::var_os("VOUCH_PYTHON")?);
    let dir = py.parent()?.to_path_buf();
    dir.join("sigstore").exists().then_some(dir)
}

/// A SoftHSM2 configuration with an initialized token `ci` (user PIN 1234) in `dir`, as the
/// README's PKCS#11 lines expect.
fn softhsm_token(dir: &Path) -> Option<PathBuf> {
    let module = Path::new("/usr/lib/softhsm/libsofthsm2.so");
    if !module.exists()
        || Command::new("softhsm2-util")
            .arg("--version")
            .output()
            .is_err()
    {
        return None;
    }
    let tokens = dir.join("softhsm-tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            tokens.display()
        ),
    )
    .unwrap();
    let out = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            "ci",
            "--pin",
            "1234",
            "--so-pin",
            "123456",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "softhsm2-util --init-token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(conf)
}

/// Run `script` with bash in `dir` the way a user at a shell would (but without a TTY), with
/// `vouch` (and, when present, sigstore-python) on PATH.
fn bash(dir: &Path, script: &str, env: &[(&str, &Path)], limit: Duration) -> Output {
    let vouch_dir = Path::new(env!("CARGO_BIN_EXE_vouch"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut path =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
    path.insert(0, vouch_dir);
    if let Some(d) = sigstore_python_bin_dir() {
        path.push(d);
    }
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("set -euo pipefail\nset -x\n{script}"))
        .current_dir(dir)
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("COSIGN_PASSWORD", "readme-test-password")
        .env("VOUCH_PKCS11_PIN", "1234")
        .env_remove("VOUCH_TRUST_CONFIG")
        .env_remove("SIGSTORE_ID_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "timed out after {limit:?}:\n{script}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The inputs the README's examples sign: a release tarball, a provenance predicate, a file.
fn write_inputs(dir: &Path) {
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
        dir.join("README.md"),
    )
    .unwrap();
    std::fs::write(dir.join("release.tar.gz"), b"release 1.2.0 contents\n").unwrap();
    std::fs::write(dir.join("f"), b"a file\n").unwrap();
    std::fs::write(
        dir.join("provenance.json"),
        br#"{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}"#,
    )
    .unwrap();
}

#[test]
fn the_try_it_block_and_the_readme_run_verbatim() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_inputs(dir);
    let log = dir.join("up.log");
    let inst = start_up_in(Some(dir), Path::new("./vouch-data"), 0, &log, &[]);

    // 1. The "try it" block `vouch up` prints, line by line as printed.
    let banner = inst.banner.join("\n");
    let try_it: Vec<&str> = banner
        .split("try it:")
        .nth(1)
        .unwrap_or_else(|| panic!("vouch up printed no \"try it\" block:\n{banner}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(try_it.len() >= 4, "{banner}");
    let mut script = String::new();
    for line in &try_it {
        if line.starts_with("sigstore ") && sigstore_python_bin_dir().is_none() {
            vouch_testkit::skip(format_args!(
                "the try-it block's sigstore-python line (set VOUCH_PYTHON to a venv with sigstore==4.5.1)"
            ));
            continue;
        }
        script.push_str(line);
        script.push('\n');
    }
    let out = bash(dir, &script, &[], Duration::from_secs(180));
    assert!(
        out.status.success(),
        "the \"try it\" block failed:\n{script}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("README.md.sigstore.json").is_file());

    // 2. Every runnable ```sh block of README.md, in order, in the same directory.
    let text = readme();
    let blocks = runnable_blocks(&text);
    assert!(
        blocks
            .iter()
            .any(|b| b.section == "Signing against your instance"),
        "the README's signing example is not run"
    );
    let hsm_conf = softhsm_token(dir);
    for b in &blocks {
        let mut code = map_urls(&b.code, &inst);
        // The instance is already running (started above, on free ports).
        code = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("vouch up &"))
            .collect::<Vec<_>>()
            .join("\n");
        if code.contains("pkcs11:") && hsm_conf.is_none() {
            vouch_testkit::skip(format_args!(
                "README block at line {} needs SoftHSM2 (apt-get install softhsm2)",
                b.line
            ));
            continue;
        }
        if code
            .lines()
            .any(|l| l.trim_start().starts_with("sigstore "))
            && sigstore_python_bin_dir().is_none()
        {
            vouch_testkit::skip(format_args!(
                "README block at line {} needs sigstore-python (VOUCH_PYTHON)",
                b.line
            ));
            continue;
        }
        let env: Vec<(&str, &Path)> = hsm_conf
            .as_deref()
            .map(|c| ("SOFTHSM2_CONF", c))
            .into_iter()
            .collect();
        let out = bash(dir, &code, &env, Duration::from_secs(300));
        assert!(
            out.status.success(),
            "README.md block at line {} (section {:?}) failed:\n{code}\nstderr:\n{}",
            b.line,
            b.section,
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "readme: block at line {} ({}) ran: {} commands",
            b.line,
            b.section,
            code.lines()
                .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
                .count()
        );
    }

    // 3. The first-hour mistakes, after the README's own commands: each says what happened.
    let tc = (
        "VOUCH_TRUST_CONFIG",
        Path::new("./vouch-data/trust_config.json"),
    );
    let oidc = &inst.urls["oidc"];
    let cases: [(&str, &[&str]); 3] = [
        (
            // Another file than the one signed.
            &format!(
                "vouch verify-blob f --bundle README.md.sigstore.json --certificate-identity you@example.com --certificate-oidc-issuer {oidc}"
            ),
            &[
                "error: this file does not match the bundle: file sha256:",
                ", bundle signs sha256:",
                "hint: check the file name and version",
            ],
        ),
        (
            // Another key than the one that signed.
            "vouch verify-blob f --bundle f.hsm.sigstore.json --key cosign.pub",
            &[
                "error: this bundle was signed with another key: --key is sha256:",
                "hint: pass the public key of the key that signed this bundle",
            ],
        ),
        (
            // Another identity.
            &format!(
                "vouch verify-blob README.md --bundle README.md.sigstore.json --certificate-identity someone@example.com --certificate-oidc-issuer {oidc}"
            ),
            &[
                "error: certificate identity mismatch",
                "hint: the bundle was signed by someone else",
            ],
        ),
    ];
    for (cmd, needles) in cases {
        let out = bash(dir, cmd, &[tc], Duration::from_secs(60));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{cmd} succeeded:\n{err}");
        for n in needles {
            assert!(err.contains(n), "{cmd}: expected {n:?} in:\n{err}");
        }
        let error_lines = err.lines().filter(|l| l.starts_with("error:")).count();
        assert_eq!(error_lines, 1, "one error line expected:\n{err}");
    }
    // `bundle inspect` honours VOUCH_TRUST_CONFIG as verify-blob does, and a Rekor v2 entry
    // (no integrated time) is described, not printed as `null`.
    let out = bash(
        dir,
        "vouch bundle inspect README.md.sigstore.json",
        &[tc],
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Offline:     VERIFIED"), "{text}");
    assert!(text.contains("Signer:      you@example.com"), "{text}");
    assert!(!text.contains("null"), "{text}");
    drop(inst);
}

#[test]
fn skip_markers_apply_to_the_next_block_only() {
    let text = "## A\n<!-- readme-test: skip: needs a registry -->\n```sh\nskipped\n```\n\n```sh\nrun\n```\n## B\n```sh\nalso\n```\n";
    let b = runnable_blocks(text);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].code, "run\n");
    assert_eq!(b[1].section, "B");
}
