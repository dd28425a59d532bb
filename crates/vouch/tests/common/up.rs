//! Helpers shared by the tests that run a whole instance: start `vouch up`, build sibling binaries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `vouch up`, killed when dropped.
pub struct Instance {
    child: Child,
    /// Service URLs by key: tuf, log, ca, oidc, tsa, ct.
    pub urls: HashMap<String, String>,
    /// The instance's `trust_config.json`.
    pub trust_config: PathBuf,
    /// What it printed on stdout at start-up (the URLs and the "try it" block).
    pub banner: Vec<String>,
}

impl Instance {
    /// An identity token for `email` from the instance's identity provider (`vouch oidc token`).
    pub fn token(&self, email: &str) -> String {
        oidc_token(&self.urls["oidc"], email)
    }

    /// `vouch sign-blob FILE --bundle BUNDLE --identity-token TOKEN -y --trust-config TC` with
    /// `extra` flags (the Rekor version, …) against the instance, 60 s at most.
    pub fn sign_blob(&self, file: &Path, bundle: &Path, token: &str, extra: &[&str]) -> Output {
        super::run_within(
            super::vouch()
                .arg("sign-blob")
                .arg(file)
                .arg("--bundle")
                .arg(bundle)
                .args(["--identity-token", token, "-y", "--trust-config"])
                .arg(&self.trust_config)
                .args(extra),
            Duration::from_secs(60),
        )
    }

    /// `vouch verify-blob FILE --bundle BUNDLE` for the certificate identity `identity` at the
    /// instance's issuer, with the instance's trusted root and `extra` flags, 30 s at most.
    pub fn verify_blob(
        &self,
        file: &Path,
        bundle: &Path,
        identity: &str,
        extra: &[&str],
    ) -> Output {
        super::run_within(
            super::vouch()
                .arg("verify-blob")
                .arg(file)
                .arg("--bundle")
                .arg(bundle)
                .args([
                    "--certificate-identity",
                    identity,
                    "--certificate-oidc-issuer",
                    &self.urls["oidc"],
                    "--trusted-root",
                ])
                .arg(self.trust_config.with_file_name("trusted_root.json"))
                .args(extra),
            Duration::from_secs(30),
        )
    }

    /// Stop the instance now.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Start `vouch up --data DATA --port PORT` (0: free ports), logging to `log`, and wait (60 s at
/// most) until it has printed every service URL.
pub fn start_up(data: &Path, port: u16, log: &Path) -> Instance {
    start_up_in(None, data, port, log, &[])
}

/// [`start_up`] with extra `vouch up` flags.
pub fn start_up_with(data: &Path, port: u16, log: &Path, extra: &[&str]) -> Instance {
    start_up_in(None, data, port, log, extra)
}

/// [`start_up_with`] in the working directory `cwd` (so that a relative `data` is resolved
/// there, as when a user runs `vouch up` in a directory).
pub fn start_up_in(
    cwd: Option<&Path>,
    data: &Path,
    port: u16,
    log: &Path,
    extra: &[&str],
) -> Instance {
    start_up_env(cwd, data, port, log, extra, &[])
}

/// [`start_up_in`] with extra environment variables (e.g. the scale-out backend's
/// credentials, which never go on the command line, or OpenTelemetry settings).
pub fn start_up_env(
    cwd: Option<&Path>,
    data: &Path,
    port: u16,
    log: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Instance {
    let log_file = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouch"));
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd
        .args(["up", "--data"])
        .arg(data)
        .args(["--port", &port.to_string()])
        .args(extra)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .spawn()
        .unwrap();
    let rx = super::line_channel(child.stdout.take().unwrap());
    let mut inst = Instance {
        child,
        urls: HashMap::new(),
        trust_config: cwd
            .map_or_else(|| data.to_path_buf(), |d| d.join(data))
            .join("trust_config.json"),
        banner: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            panic!(
                "vouch up did not start within 60 s:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        };
        inst.banner.push(line.clone());
        for (label, key) in [
            ("TUF repository", "tuf"),
            ("transparency log", "log"),
            ("certificate auth.", "ca"),
            ("OIDC provider", "oidc"),
            ("timestamp auth.", "tsa"),
            ("CT log", "ct"),
        ] {
            if let Some(rest) = line.trim_start().strip_prefix(label) {
                let url = rest.split_whitespace().next().unwrap().to_string();
                inst.urls.insert(key.to_string(), url);
            }
        }
        if line.starts_with("trust config:") {
            break;
        }
    }
    // The rest of the banner: the "try it" block, whose last line names sigstore-python.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        let last = line.contains("# sigstore-python");
        inst.banner.push(line);
        if last {
            break;
        }
    }
    assert_eq!(inst.urls.len(), 6, "{:?}", inst.urls);
    inst
}

/// A first port with `n` consecutive free ports on 127.0.0.1 after it (for a `vouch up` that is
/// restarted on the same ports: its logs are named after their URLs).
/// Each call starts its search at another block, so that tests running at once (each binds its
/// ports only later, when `vouch up` starts) do not pick the same one.
pub fn free_port_base(n: u16) -> u16 {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let step = usize::from(n) + 1;
    let blocks = 40_000 / step;
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let seed = std::process::id() as usize * 7919 + call * 104_729;
    (0..blocks)
        .map(|i| 20_000 + ((seed + i) % blocks) * step)
        .filter_map(|p| u16::try_from(p).ok())
        .find(|p| (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()))
        .unwrap()
}

/// Build binary `bin` of workspace package `package` into the target dir and profile of the
/// `vouch` binary under test (cargo only exposes the test package's own binaries) and return
/// its path.
pub fn sibling_bin(package: &str, bin: &str) -> PathBuf {
    let vouch_bin = PathBuf::from(env!("CARGO_BIN_EXE_vouch"));
    let profile_dir = vouch_bin.parent().unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", package, "--bin", bin, "--target-dir"])
        .arg(&target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "cargo build -p {package} --bin {bin}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = profile_dir.join(bin);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A fresh identity token for `email` from the instance's built-in OIDC provider at `oidc`
/// (`vouch oidc token`, 30 s at most; tokens live 10 minutes).
pub fn oidc_token(oidc: &str, email: &str) -> String {
    let out = super::run_within(
        super::vouch().args(["oidc", "token", "--url", oidc, "--email", email]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "vouch oidc token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A CI-style identity token of `kind` (`github-actions`, `gitlab`, `buildkite`) from the
/// built-in OIDC provider at `oidc` (started with `--allow-ci-tokens`), with `claims`
/// (`NAME=VALUE`) over its defaults (`vouch oidc token --ci`).
pub fn ci_token(oidc: &str, kind: &str, claims: &[&str]) -> String {
    let mut cmd = super::vouch();
    cmd.args(["oidc", "token", "--url", oidc, "--ci", kind]);
    for c in claims {
        cmd.args(["--claim", c]);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "vouch oidc token --ci {kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
