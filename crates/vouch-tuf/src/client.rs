//! The TUF client: `sigstore-tuf`'s updater over HTTP or over an exported mirror directory.

use crate::fsutil::{read_opt, write_atomic};
use crate::serve::{metadata_name_ok, target_name_ok};
use crate::{SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET, TufError};
use aws_lc_rs::digest::{SHA256, digest};
use jiff::Timestamp as Ts;
use sigstore_tuf::{FileStore, HttpRepository, StoreRepository, Updater};
use std::path::{Path, PathBuf};

/// A TUF 1.0 client for one repository, with an on-disk cache.
///
/// It starts from a trusted root (`root.json` bytes obtained out of band), walks the root chain
/// (`N+1.root.json` until 404; each new root signed by the old and the new root keys),
/// then fetches `timestamp.json`, `N.snapshot.json` and `N.targets.json`, checking
/// signatures, thresholds, versions (no rollback below the cached versions), expiry,
/// lengths and hashes, and finally downloads hash-prefixed targets and checks them.
/// Verified metadata and targets are written to the cache directory; a later run
/// re-verifies the cache from the bootstrap root and uses it as the rollback floor.
pub struct TufClient {
    updater: Updater,
    refreshed: bool,
}

impl std::fmt::Debug for TufClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TufClient")
            .field("updater", &self.updater)
            .finish_non_exhaustive()
    }
}

fn client_err(e: sigstore_tuf::Error) -> TufError {
    match &e {
        sigstore_tuf::Error::Expired { .. } => TufError::Expired(Box::new(e)),
        sigstore_tuf::Error::TargetNotFound(name) => TufError::TargetNotFound(name.clone()),
        _ => TufError::Client(Box::new(e)),
    }
}

impl TufClient {
    /// A client for the repository at `mirror` (its metadata base URL; targets under
    /// `<mirror>/targets/`), trusting `root` (any version of the repository's root
    /// metadata), caching in `cache_dir`.
    pub fn new(mirror: &str, root: &[u8], cache_dir: &Path) -> Result<Self, TufError> {
        vouch_core::egress::check("TUF", mirror)?;
        let repo = HttpRepository::new(mirror).map_err(|source| TufError::MirrorUrl {
            url: mirror.to_string(),
            source: Box::new(source),
        })?;
        Self::with_repo(repo, root, cache_dir)
    }

    /// A client reading an exported mirror directory (see [`export_mirror`]) instead of
    /// HTTP; the same checks apply, so a tampered or expired copy is rejected.
    pub fn offline(mirror_dir: &Path, root: &[u8], cache_dir: &Path) -> Result<Self, TufError> {
        if !mirror_dir.join("timestamp.json").is_file() {
            return Err(TufError::Invalid(format!(
                "{} is not a TUF mirror (no timestamp.json)",
                mirror_dir.display()
            )));
        }
        let repo = StoreRepository::new(FileStore::new(mirror_dir));
        Self::with_repo(repo, root, cache_dir)
    }

    fn with_repo(
        repo: impl sigstore_tuf::Repository + 'static,
        root: &[u8],
        cache_dir: &Path,
    ) -> Result<Self, TufError> {
        let updater = Updater::new(repo, root)
            .map_err(|e| match e {
                sigstore_tuf::Error::Expired { .. } => TufError::Expired(Box::new(e)),
                other => TufError::BootstrapRoot(Box::new(other)),
            })?
            .with_store(FileStore::new(cache_dir));
        Ok(TufClient {
            updater,
            refreshed: false,
        })
    }

    /// Run the TUF update workflow now.
    pub async fn refresh(&mut self) -> Result<(), TufError> {
        self.refresh_at(Ts::now()).await
    }

    /// Run the TUF update workflow, checking expiry against `now`.
    pub async fn refresh_at(&mut self, now: Ts) -> Result<(), TufError> {
        self.updater.refresh(now).await.map_err(client_err)?;
        self.refreshed = true;
        Ok(())
    }

    /// Version of the newest trusted root.
    pub fn root_version(&self) -> u64 {
        self.updater.trusted().root().version
    }

    /// Version of the trusted timestamp, after a refresh.
    pub fn timestamp_version(&self) -> Option<u64> {
        self.updater.trusted().timestamp().map(|t| t.version)
    }

    /// The verified bytes of target `name` (refreshing first if not done yet).
    pub async fn target(&mut self, name: &str) -> Result<Vec<u8>, TufError> {
        self.target_at(name, Ts::now()).await
    }

    /// [`TufClient::target`] with an explicit clock.
    pub async fn target_at(&mut self, name: &str, now: Ts) -> Result<Vec<u8>, TufError> {
        if !self.refreshed {
            self.refresh_at(now).await?;
        }
        self.updater.get_target(name, now).await.map_err(client_err)
    }

    /// Like [`TufClient::target_at`], but `None` when the repository does not list `name`.
    pub async fn target_opt_at(
        &mut self,
        name: &str,
        now: Ts,
    ) -> Result<Option<Vec<u8>>, TufError> {
        match self.target_at(name, now).await {
            Ok(b) => Ok(Some(b)),
            Err(TufError::TargetNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Fetch `trusted_root.json` (required) and `signing_config.v0.2.json` (if published) from
/// the TUF repository at `mirror`, bootstrapping from `root` and caching in `cache`.
/// The bytes are TUF-verified; their content is not parsed here.
pub async fn fetch_trust(
    mirror: &str,
    root: &[u8],
    cache: &Path,
) -> Result<(Vec<u8>, Option<Vec<u8>>), TufError> {
    let mut client = TufClient::new(mirror, root, cache)?;
    let now = Ts::now();
    client.refresh_at(now).await?;
    let trusted_root = client.target_at(TRUSTED_ROOT_TARGET, now).await?;
    let signing_config = client.target_opt_at(SIGNING_CONFIG_TARGET, now).await?;
    Ok((trusted_root, signing_config))
}

/// The metadata a client's refresh fetches after `timestamp.json`, read as the repository
/// serves it: the `N.snapshot.json` a timestamp names, the `N.targets.json` a snapshot names
/// and the `targets/<sha256>.<name>` file of a target. Nothing is verified here (that is
/// [`TufClient`]'s job): this is for load generators replaying a refresh's requests.
pub fn snapshot_path(timestamp_json: &[u8]) -> Result<String, TufError> {
    let ts: tough::schema::Signed<tough::schema::Timestamp> =
        parse_served(timestamp_json, "timestamp.json")?;
    let meta = ts
        .signed
        .meta
        .get("snapshot.json")
        .ok_or_else(|| TufError::Metadata("timestamp.json lists no snapshot.json".into()))?;
    Ok(format!("{}.snapshot.json", meta.version))
}

/// The `N.targets.json` a served `snapshot.json` names (see [`snapshot_path`]).
pub fn targets_path(snapshot_json: &[u8]) -> Result<String, TufError> {
    let snap: tough::schema::Signed<tough::schema::Snapshot> =
        parse_served(snapshot_json, "snapshot.json")?;
    let meta = snap
        .signed
        .meta
        .get("targets.json")
        .ok_or_else(|| TufError::Metadata("snapshot.json lists no targets.json".into()))?;
    Ok(format!("{}.targets.json", meta.version))
}

/// The consistent-snapshot path `targets/<sha256 hex>.<name>` of target `name` in a served
/// `targets.json` (see [`snapshot_path`]).
pub fn target_path(targets_json: &[u8], name: &str) -> Result<String, TufError> {
    let targets: tough::schema::Signed<tough::schema::Targets> =
        parse_served(targets_json, "targets.json")?;
    let target = targets
        .signed
        .targets
        .iter()
        .find(|(n, _)| n.raw() == name)
        .map(|(_, t)| t)
        .ok_or_else(|| TufError::TargetNotFound(name.to_string()))?;
    Ok(format!(
        "targets/{}.{name}",
        hex::encode(target.hashes.sha256.as_ref())
    ))
}

fn parse_served<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, TufError> {
    serde_json::from_slice(bytes).map_err(|source| TufError::Json {
        what: format!("served {what}"),
        source,
    })
}

fn version_of(bytes: &[u8], what: &str) -> Result<(u64, serde_json::Value), TufError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|source| TufError::Json {
        what: format!("cached {what}"),
        source,
    })?;
    let version = v
        .pointer("/signed/version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| TufError::Metadata(format!("cached {what} has no version")))?;
    Ok((version, v))
}

fn required(path: &Path) -> Result<Vec<u8>, TufError> {
    read_opt(path)?.ok_or_else(|| {
        TufError::Invalid(format!(
            "{} is missing: run a TUF refresh (`vouch trust init`) first",
            path.display()
        ))
    })
}

/// Turn a [`TufClient`] cache directory into a mirror directory (the layout a TUF
/// repository serves: `N.root.json`, `timestamp.json`, `N.snapshot.json`, `N.targets.json`,
/// `targets/<sha256>.<name>`), for air-gapped transfer. Nothing is trusted by copying: the
/// receiving side verifies it with [`TufClient::offline`]. Returns the files written.
pub fn export_mirror(cache_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>, TufError> {
    let mut written = Vec::new();
    let mut put = |name: String, bytes: &[u8]| -> Result<(), TufError> {
        let path = out_dir.join(&name);
        write_atomic(&path, bytes, None)?;
        written.push(path);
        Ok(())
    };
    let history = cache_dir.join("root_history");
    let mut roots = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&history) {
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != "root.json" && metadata_name_ok(&name) && name.ends_with(".root.json") {
                roots.push(name);
            }
        }
    }
    if roots.is_empty() {
        return Err(TufError::Invalid(format!(
            "{} holds no TUF cache (no root_history/)",
            cache_dir.display()
        )));
    }
    for name in roots {
        let bytes = required(&history.join(&name))?;
        put(name, &bytes)?;
    }
    put("root.json".into(), &required(&cache_dir.join("root.json"))?)?;
    put(
        "timestamp.json".into(),
        &required(&cache_dir.join("timestamp.json"))?,
    )?;
    let snapshot = required(&cache_dir.join("snapshot.json"))?;
    let (sv, _) = version_of(&snapshot, "snapshot.json")?;
    put(format!("{sv}.snapshot.json"), &snapshot)?;
    let targets = required(&cache_dir.join("targets.json"))?;
    let (tv, tjson) = version_of(&targets, "targets.json")?;
    put(format!("{tv}.targets.json"), &targets)?;
    let names: Vec<String> = tjson
        .pointer("/signed/targets")
        .and_then(serde_json::Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for name in names {
        let Some(bytes) = read_opt(&cache_dir.join("targets").join(&name))
            .ok()
            .flatten()
            .filter(|_| !name.contains('/') && !name.contains(".."))
        else {
            continue;
        };
        let file = format!("{}.{name}", hex::encode(digest(&SHA256, &bytes)));
        if target_name_ok(&file) {
            put(format!("targets/{file}"), &bytes)?;
        }
    }
    Ok(written)
}
