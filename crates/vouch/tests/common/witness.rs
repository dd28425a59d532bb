//! Helpers for the tests of witnessed logs: `vouch witness key`, `vouch serve witness`, and
//! key-based signing and verification against one log with a witness policy.

use super::{tail, vouch};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running `vouch serve witness`, killed when dropped.
pub struct Witness {
    pub child: Child,
    pub url: String,
}

impl Witness {
    /// Stop the process (SIGSTOP): it keeps its port but answers nothing, like a hung witness.
    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    /// Let a paused witness run again (SIGCONT).
    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill {sig} {pid}");
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generate (once) the witness key in `dir` named `name`; returns its Ed25519 vkey.
pub fn witness_key(dir: &Path, name: &str) -> String {
    let out = vouch()
        .args(["witness", "key"])
        .arg(dir)
        .args(["--name", name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first line is the Ed25519 cosignature/v1 vkey.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// Start `vouch serve witness --data DIR` on a free port, following the log `origin` with key
/// `log_vkey`, logging to `log`.
pub fn start_witness(dir: &Path, origin: &str, log_vkey: &str, log: &Path) -> Witness {
    start_witness_logs(dir, &[&format!("{origin} {log_vkey}")], log)
}

/// Start `vouch serve witness --data DIR` on a free port with one `--log` per element of
/// `logs` (`ORIGIN VKEY`), logging to `log`.
pub fn start_witness_logs(dir: &Path, logs: &[&str], log: &Path) -> Witness {
    let mut cmd = vouch();
    cmd.args(["serve", "witness", "--data"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"]);
    for l in logs {
        cmd.arg("--log").arg(l);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let rx = super::drained_lines(child.stdout.take().unwrap());
    let url = loop {
        let l = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("witness did not start ({e}): {}", tail(log)));
        if let Some(u) = l.strip_prefix("vouch witness listening on ") {
            break u.to_string();
        }
    };
    Witness { child, url }
}

/// Two witnesses, w1 and w2 (keys named `w1.vouch.test`, `w2.vouch.test`, state in `dir/w1`
/// and `dir/w2`), following the log `origin` with the note key `log_vkey` (the log's
/// `log.vkey`), and the C2SP tlog-policy requiring both (group `both`, 2 of 2) written to
/// `dir/policy.txt`.
pub fn two_witnesses(dir: &Path, origin: &str, log_vkey: &str) -> (Witness, Witness, PathBuf) {
    let v1 = witness_key(&dir.join("w1"), "w1.vouch.test");
    let v2 = witness_key(&dir.join("w2"), "w2.vouch.test");
    let w1 = start_witness(&dir.join("w1"), origin, log_vkey, &dir.join("w1.txt"));
    let w2 = start_witness(&dir.join("w2"), origin, log_vkey, &dir.join("w2.txt"));
    let policy = dir.join("policy.txt");
    std::fs::write(
        &policy,
        format!(
            "log {log_vkey}\nwitness w1 {v1} {}\nwitness w2 {v2} {}\ngroup both 2 w1 w2\nquorum both\n",
            w1.url, w2.url
        ),
    )
    .unwrap();
    (w1, w2, policy)
}

/// A ClientTrustConfig for key-based signing against `log_url` only (the log's
/// `trusted_root.tlog.json` is read from `log_data`), written with its trusted root to `dir`.
pub fn trust_config(dir: &Path, log_data: &Path, log_url: &str) -> PathBuf {
    let tlog: serde_json::Value =
        serde_json::from_slice(&std::fs::read(log_data.join("trusted_root.tlog.json")).unwrap())
            .unwrap();
    let start = tlog["publicKey"]["validFor"]["start"].clone();
    let tc = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [tlog],
            "certificateAuthorities": [],
            "ctlogs": [],
            "timestampAuthorities": []
        },
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [],
            "oidcUrls": [],
            "rekorTlogUrls": [{"url": log_url, "majorApiVersion": 2, "validFor": {"start": start}, "operator": "test"}],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"}
        }
    });
    let p = dir.join("trust_config.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&tc).unwrap()).unwrap();
    std::fs::write(
        dir.join("trusted_root.json"),
        serde_json::to_vec_pretty(&tc["trustedRoot"]).unwrap(),
    )
    .unwrap();
    p
}

/// `vouch generate-key-pair` into `dir/cosign.key` and `dir/cosign.pub` (password "pw").
pub fn generate_key_pair(dir: &Path) {
    let keys = vouch()
        .args(["generate-key-pair", "--output-key-prefix"])
        .arg(dir.join("cosign"))
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap();
    assert!(
        keys.status.success(),
        "{}",
        String::from_utf8_lossy(&keys.stderr)
    );
}

/// `vouch sign-blob --key dir/cosign.key` with the trust config `tc`.
pub fn sign(dir: &Path, tc: &Path, file: &Path, bundle: &Path) -> Output {
    vouch()
        .arg("sign-blob")
        .arg(file)
        .arg("--key")
        .arg(dir.join("cosign.key"))
        .arg("--bundle")
        .arg(bundle)
        .args(["-y", "--trust-config"])
        .arg(tc)
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap()
}

/// `vouch verify-blob --key dir/cosign.pub` with `dir/trusted_root.json` and the witness
/// policy `policy` required.
pub fn verify(dir: &Path, file: &Path, bundle: &Path, policy: &Path) -> Output {
    vouch()
        .arg("verify-blob")
        .arg(file)
        .arg("--bundle")
        .arg(bundle)
        .arg("--key")
        .arg(dir.join("cosign.pub"))
        .arg("--trusted-root")
        .arg(dir.join("trusted_root.json"))
        .arg("--witness-policy")
        .arg(policy)
        .output()
        .unwrap()
}
