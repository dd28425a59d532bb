//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1
//! with a temporary storage directory, and pushing a one-layer image through vouch's client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `docker-registry serve`, killed when dropped.
pub struct TestRegistry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its log (access log included).
    pub log: PathBuf,
}

impl TestRegistry {
    /// Requests from vouch (by user agent) in the access log so far.
    #[allow(dead_code)] // not every test binary counts requests
    pub fn vouch_requests(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("HTTP/1.1\"") && l.contains("\"vouch/"))
            .count()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `docker-registry` on PATH, or `None` (print SKIP; under `VOUCH_REQUIRE_PEERS=1` that panics).
pub fn registry_bin_or_skip(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join("docker-registry"))
        .find(|p| p.is_file());
    if found.is_none() {
        vouch_testkit::skip(format_args!(
            "{test}: docker-registry not installed (apt-get install -y --no-install-recommends docker-registry)"
        ));
    }
    found
}

/// Write `dir/registry.yml`: storage in `dir/storage` (deletes enabled), listening on `addr`.
pub fn registry_config(dir: &Path, addr: &str) -> PathBuf {
    let storage = dir.join("storage");
    std::fs::create_dir_all(&storage).unwrap();
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: info}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: {addr}}}\n",
            storage.display()
        ),
    )
    .unwrap();
    config
}

/// Start the registry on a free port with storage under `dir`.
pub fn start_registry(bin: &Path, dir: &Path) -> TestRegistry {
    let addr = format!("127.0.0.1:{}", super::free_port());
    let config = registry_config(dir, &addr);
    let log = dir.join("registry.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file.try_clone().unwrap()))
        .stderr(Stdio::from(log_file))
        .spawn()
        .unwrap();
    let reg = TestRegistry { child, addr, log };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&reg.addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "docker-registry did not start: {}",
            std::fs::read_to_string(&reg.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    reg
}

/// A registry with storage under `dir/registry` and a `vouch up` (data in `dir/data`, log
/// `dir/up.log`) for test `test`; `None` without `docker-registry` (after the SKIP of
/// [`registry_bin_or_skip`]; under `VOUCH_REQUIRE_PEERS=1` that panics).
#[allow(dead_code)] // not every test binary needs an instance next to its registry
pub fn registry_and_up(test: &str, dir: &Path) -> Option<(TestRegistry, super::up::Instance)> {
    let bin = registry_bin_or_skip(test)?;
    let registry = start_registry(&bin, &dir.join("registry"));
    let inst = super::up::start_up(&dir.join("data"), 0, &dir.join("up.log"));
    Some((registry, inst))
}

/// Push a one-layer image with vouch's registry client; returns its manifest digest.
pub fn push_image(addr: &str, repo: &str, tag: &str, content: &[u8]) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let reg = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        let r = vouch_oci::parse_reference(&format!("{addr}/{repo}:{tag}")).unwrap();
        let layer = reg.put_blob(&r, content).await.unwrap();
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer]},
        })
        .to_string();
        let config_digest = reg.put_blob(&r, config.as_bytes()).await.unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": content.len()}],
        })
        .to_string();
        let (d, _) = reg
            .put_manifest(
                &r,
                tag,
                manifest.as_bytes(),
                "application/vnd.oci.image.manifest.v1+json",
            )
            .await
            .unwrap();
        d
    })
}
