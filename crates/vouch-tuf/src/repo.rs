//! The repository writer: keys, metadata creation, target publication, online re-signing.

use crate::TufError;
use crate::fsutil::{read_opt, write_all_atomic, write_atomic};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jiff::Timestamp as Ts;
use serde::Serialize;
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tough::editor::signed::SignedRole;
use tough::key_source::KeySource;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::Key;
use tough::schema::{
    Hashes, KeyHolder, Metafile, Role, RoleKeys, RoleType, Root, Signed, Snapshot, Target, Targets,
    Timestamp,
};
use tough::sign::Sign;

const SPEC_VERSION: &str = "1.0";
const ROLES: [RoleType; 4] = [
    RoleType::Root,
    RoleType::Targets,
    RoleType::Snapshot,
    RoleType::Timestamp,
];

/// The signature algorithm of newly generated role keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Ed25519 (`keytype`/`scheme` `ed25519`).
    #[default]
    Ed25519,
    /// ECDSA P-256 with SHA-256 (`ecdsa-sha2-nistp256`), as the public-good online key.
    EcdsaP256,
}

/// Options of a [`TufRepo`]: key algorithm and role lifetimes.
///
/// A role is re-signed by [`TufRepo::refresh_online`] once less than half of its lifetime
/// remains, so the refresher's interval must be well under half the timestamp lifetime.
#[derive(Clone, Debug)]
pub struct RepoOptions {
    /// Algorithm for keys generated on first start (existing keys are kept).
    pub key_algorithm: KeyAlgorithm,
    /// Lifetime of each root version (default 365 days).
    pub root_lifetime: Duration,
    /// Lifetime of each targets version (default 365 days).
    pub targets_lifetime: Duration,
    /// Lifetime of each snapshot version (default 7 days).
    pub snapshot_lifetime: Duration,
    /// Lifetime of each timestamp version (default 1 day).
    pub timestamp_lifetime: Duration,
    /// On first start, write the new root key to this file (which must not exist, and must
    /// lie outside the repository directory) instead of `keys/root.pem`: root.json is signed
    /// once, and the running repository never holds the root key again. New root versions are
    /// then signed offline with [`sign_root_offline`].
    pub offline_root_key: Option<PathBuf>,
}

impl Default for RepoOptions {
    fn default() -> Self {
        const DAY: u64 = 86_400;
        RepoOptions {
            key_algorithm: KeyAlgorithm::Ed25519,
            root_lifetime: Duration::from_secs(365 * DAY),
            targets_lifetime: Duration::from_secs(365 * DAY),
            snapshot_lifetime: Duration::from_secs(7 * DAY),
            timestamp_lifetime: Duration::from_secs(DAY),
            offline_root_key: None,
        }
    }
}

/// Versions and expiry times of the current metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoStatus {
    /// Root version.
    pub root_version: u64,
    /// Root expiry.
    pub root_expires: Ts,
    /// Targets version.
    pub targets_version: u64,
    /// Targets expiry.
    pub targets_expires: Ts,
    /// Snapshot version.
    pub snapshot_version: u64,
    /// Snapshot expiry.
    pub snapshot_expires: Ts,
    /// Timestamp version.
    pub timestamp_version: u64,
    /// Timestamp expiry.
    pub timestamp_expires: Ts,
    /// Published target names, sorted.
    pub targets: Vec<String>,
}

/// Which roles a [`TufRepo::refresh_online`] call re-signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// A new root version was written (same keys, new expiry).
    pub root: bool,
    /// A new targets version was written (same targets, new expiry).
    pub targets: bool,
    /// A new snapshot version was written.
    pub snapshot: bool,
    /// A new timestamp version was written.
    pub timestamp: bool,
}

/// One role key, held as PKCS#8 DER and handed to tough as a [`KeySource`].
#[derive(Clone)]
struct RoleKey {
    role: RoleType,
    der: Vec<u8>,
}

impl std::fmt::Debug for RoleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RoleKey({:?})", self.role)
    }
}

#[tough::async_trait]
impl KeySource for RoleKey {
    async fn as_sign(
        &self,
    ) -> Result<Box<dyn Sign>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        Ok(Box::new(tough::sign::parse_keypair(&self.der)?))
    }

    async fn write(
        &self,
        _value: &str,
        _key_id_hex: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        Err("vouch-tuf role keys are not written through tough".into())
    }
}

struct State {
    root: Signed<Root>,
    targets: Signed<Targets>,
    targets_bytes: Vec<u8>,
    snapshot: Signed<Snapshot>,
    snapshot_bytes: Vec<u8>,
    timestamp: Signed<Timestamp>,
}

/// A TUF repository on disk, owned by one process.
///
/// Layout under `dir`: `keys/{root,targets,snapshot,timestamp}.pem` (PKCS#8 PEM, mode 0600)
/// and `metadata/`, served as-is: `N.root.json`, `root.json` (latest root), `timestamp.json`,
/// `N.snapshot.json`, `N.targets.json`, `targets/<sha256 hex>.<name>`.
pub struct TufRepo {
    metadata_dir: PathBuf,
    opts: RepoOptions,
    /// The online role keys; the root key too unless it is kept offline.
    keys: Vec<Box<dyn KeySource>>,
    /// Whether `keys` holds the root key (false: root versions are signed offline).
    root_key_online: bool,
    /// Role and key ID of each online key except the root's.
    online_key_ids: Vec<(RoleType, Decoded<Hex>)>,
    state: tokio::sync::Mutex<State>,
}

impl std::fmt::Debug for TufRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TufRepo")
            .field("metadata_dir", &self.metadata_dir)
            .finish_non_exhaustive()
    }
}

fn nz(v: u64) -> Result<NonZeroU64, TufError> {
    NonZeroU64::new(v).ok_or_else(|| TufError::Metadata("version 0".into()))
}

fn bump(v: NonZeroU64) -> Result<NonZeroU64, TufError> {
    v.checked_add(1)
        .ok_or_else(|| TufError::Metadata("version overflow".into()))
}

/// `now + lifetime`, truncated to whole seconds (python-tuf parses `%Y-%m-%dT%H:%M:%SZ`).
fn expiry(now: Ts, lifetime: Duration) -> Result<Ts, TufError> {
    let secs = i64::try_from(lifetime.as_secs())
        .ok()
        .and_then(|l| now.as_second().checked_add(l))
        .ok_or_else(|| TufError::Invalid("role lifetime too long".into()))?;
    Ts::from_second(secs).map_err(TufError::Lifetime)
}

/// Whether less than half of `lifetime` remains before `expires`.
fn due(expires: Ts, now: Ts, lifetime: Duration) -> bool {
    let remaining = expires.as_second().saturating_sub(now.as_second());
    let half = i64::try_from(lifetime.as_secs() / 2).unwrap_or(i64::MAX);
    remaining < half
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    digest(&SHA256, bytes).as_ref().to_vec()
}

fn hashes(bytes: &[u8]) -> Hashes {
    Hashes {
        sha256: Decoded::<Hex>::from(sha256(bytes)),
        _extra: HashMap::new(),
    }
}

fn metafile(version: NonZeroU64, bytes: &[u8]) -> Metafile {
    Metafile {
        length: Some(bytes.len() as u64),
        hashes: Some(hashes(bytes)),
        version,
        _extra: HashMap::new(),
    }
}

fn role_name(role: RoleType) -> &'static str {
    match role {
        RoleType::Root => "root",
        RoleType::Targets => "targets",
        RoleType::Snapshot => "snapshot",
        RoleType::Timestamp => "timestamp",
        RoleType::DelegatedTargets => "delegated",
    }
}

const KEY_LABEL: &str = "PRIVATE KEY";

fn pem_decode(pem: &str, path: &Path) -> Result<Vec<u8>, TufError> {
    vouch_core::pem::decode(pem, &[KEY_LABEL]).map_err(|source| TufError::KeyPem {
        path: path.to_path_buf(),
        source,
    })
}

fn generate_pkcs8(alg: KeyAlgorithm) -> Result<Vec<u8>, TufError> {
    let rng = SystemRandom::new();
    let doc = match alg {
        KeyAlgorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng),
        KeyAlgorithm::EcdsaP256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        }
    }
    .map_err(|_| TufError::KeyGeneration {
        alg: match alg {
            KeyAlgorithm::Ed25519 => "Ed25519",
            KeyAlgorithm::EcdsaP256 => "ECDSA P-256",
        },
    })?;
    Ok(doc.as_ref().to_vec())
}

/// The TUF public key and key ID of a PKCS#8 key.
fn tuf_key(der: &[u8]) -> Result<(Decoded<Hex>, Key), TufError> {
    let sign = tough::sign::parse_keypair(der).map_err(|e| TufError::KeyRejected(Box::new(e)))?;
    let key = sign.tuf_key();
    let id = key.key_id().map_err(|e| TufError::KeyId(Box::new(e)))?;
    Ok((id, key))
}

/// The role keys in `dir`, generated where missing. `existing`: metadata already exists, so
/// a missing `root.pem` means the root key is kept offline (it is not generated). `offline`:
/// on first start, write the new root key to this file instead of `dir`.
fn load_or_create_keys(
    dir: &Path,
    alg: KeyAlgorithm,
    existing: bool,
    offline: Option<&Path>,
) -> Result<Vec<RoleKey>, TufError> {
    let mut out = Vec::new();
    for role in ROLES {
        let path = dir.join(format!("{}.pem", role_name(role)));
        let der = match read_opt(&path)? {
            Some(pem) => pem_decode(&String::from_utf8_lossy(&pem), &path)?,
            None if role == RoleType::Root && existing => continue,
            None if role == RoleType::Root && offline.is_some() => {
                let off = offline.unwrap_or(&path);
                let der = generate_pkcs8(alg)?;
                write_atomic(
                    off,
                    vouch_core::pem::encode(KEY_LABEL, &der).as_bytes(),
                    Some(0o600),
                )?;
                der
            }
            None => {
                let der = generate_pkcs8(alg)?;
                write_atomic(
                    &path,
                    vouch_core::pem::encode(KEY_LABEL, &der).as_bytes(),
                    Some(0o600),
                )?;
                der
            }
        };
        // Fails early on a key tough cannot use.
        tuf_key(&der)?;
        out.push(RoleKey { role, der });
    }
    Ok(out)
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, TufError> {
    serde_json::from_slice(bytes).map_err(|source| TufError::Json {
        what: what.to_string(),
        source,
    })
}

/// Sign `role` with the keys the root assigns to it; returns the signed form and the exact bytes.
async fn sign_role<T: Role + Serialize + Clone>(
    role: T,
    root: &Root,
    keys: &[Box<dyn KeySource>],
) -> Result<(Signed<T>, Vec<u8>), TufError> {
    let rng = SystemRandom::new();
    let signed = SignedRole::new(role, &KeyHolder::Root(root.clone()), keys, &rng)
        .await
        .map_err(|e| TufError::Sign(Box::new(e)))?;
    if signed.signed().signatures.is_empty() {
        return Err(TufError::KeyMismatch(format!(
            "no key in keys/ matches the {} role of root.json",
            T::TYPE
        )));
    }
    Ok((signed.signed().clone(), signed.buffer().clone()))
}

fn validate_target_name(name: &str) -> Result<(), TufError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(TufError::TargetName(name.to_string()))
    }
}

impl TufRepo {
    /// Open the repository in `dir`, creating keys and version-1 metadata (with no targets) on
    /// first use. An existing repository keeps its keys and metadata; `opts` lifetimes apply
    /// to metadata signed from now on.
    pub async fn init_or_load(dir: &Path, opts: RepoOptions) -> Result<Self, TufError> {
        let key_dir = dir.join("keys");
        let metadata_dir = dir.join("metadata");
        let existing = metadata_dir.join("timestamp.json").exists();
        let offline = match (&opts.offline_root_key, existing) {
            (Some(path), false) => Some(offline_key_path(dir, path)?),
            (Some(_), true) if key_dir.join("root.pem").exists() => {
                return Err(TufError::OfflineRootKey(format!(
                    "this repository was created with its root key online ({}); the option \
                     applies on first start only: move that file offline yourself and keep it \
                     for `vouch trust sign-root`",
                    key_dir.join("root.pem").display()
                )));
            }
            _ => None,
        };
        let (alg, kd) = (opts.key_algorithm, key_dir.clone());
        let role_keys = tokio::task::spawn_blocking(move || {
            load_or_create_keys(&kd, alg, existing, offline.as_deref())
        })
        .await
        .map_err(TufError::Task)??;
        let mut pubkeys = Vec::new();
        for k in &role_keys {
            pubkeys.push((k.role, tuf_key(&k.der)?));
        }
        let has_root = |keys: &[RoleKey]| keys.iter().any(|k| k.role == RoleType::Root);
        let root_in_dir = key_dir.join("root.pem").exists();
        let mut keys: Vec<Box<dyn KeySource>> = role_keys
            .iter()
            .map(|k| Box::new(k.clone()) as Box<dyn KeySource>)
            .collect();

        remove_stale_temp_files(&metadata_dir);
        remove_stale_temp_files(&metadata_dir.join("targets"));
        let state = if existing {
            load_state(&metadata_dir)?
        } else {
            let state = create_state(&metadata_dir, &opts, &keys, &pubkeys, Ts::now()).await?;
            if !root_in_dir && has_root(&role_keys) {
                // Root v1 is signed; from now on the root key lives only offline.
                keys = role_keys
                    .iter()
                    .filter(|k| k.role != RoleType::Root)
                    .map(|k| Box::new(k.clone()) as Box<dyn KeySource>)
                    .collect();
                tracing::info!("TUF root key written offline; keys/ holds only the online roles");
            }
            state
        };
        let root_key_online = root_in_dir;
        let online_key_ids = pubkeys
            .iter()
            .filter(|(role, _)| *role != RoleType::Root)
            .map(|(role, (id, _))| (*role, id.clone()))
            .collect();
        // The keys on disk must be the ones the root names.
        for (role, (id, _)) in &pubkeys {
            let listed = state
                .root
                .signed
                .roles
                .get(role)
                .is_some_and(|rk| rk.keyids.contains(id));
            if !listed {
                return Err(TufError::KeyMismatch(format!(
                    "{} does not hold the {role} key named in {}",
                    key_dir.display(),
                    metadata_dir.join("root.json").display()
                )));
            }
        }
        Ok(TufRepo {
            metadata_dir,
            opts,
            keys,
            root_key_online,
            online_key_ids,
            state: tokio::sync::Mutex::new(state),
        })
    }

    /// The directory to serve (`<dir>/metadata`).
    pub fn metadata_dir(&self) -> &Path {
        &self.metadata_dir
    }

    /// The current root metadata, byte for byte (what clients bootstrap from).
    pub async fn root_json(&self) -> Result<Vec<u8>, TufError> {
        let version = self.state.lock().await.root.signed.version;
        let path = self.metadata_dir.join(format!("{version}.root.json"));
        std::fs::read(&path).map_err(|e| TufError::io("reading", &path, e))
    }

    /// Versions, expiry times and target names of the current metadata.
    pub async fn status(&self) -> RepoStatus {
        let s = self.state.lock().await;
        let mut targets: Vec<String> = s
            .targets
            .signed
            .targets
            .keys()
            .map(|n| n.raw().to_string())
            .collect();
        targets.sort();
        RepoStatus {
            root_version: s.root.signed.version.get(),
            root_expires: s.root.signed.expires,
            targets_version: s.targets.signed.version.get(),
            targets_expires: s.targets.signed.expires,
            snapshot_version: s.snapshot.signed.version.get(),
            snapshot_expires: s.snapshot.signed.expires,
            timestamp_version: s.timestamp.signed.version.get(),
            timestamp_expires: s.timestamp.signed.expires,
            targets,
        }
    }

    /// Publish (add or replace) targets, e.g. `trusted_root.json` and
    /// `signing_config.v0.2.json`. Targets not named are kept. New targets, snapshot and
    /// timestamp versions are signed only when some content changed; returns whether it did.
    pub async fn publish_targets(&self, targets: &[(&str, &[u8])]) -> Result<bool, TufError> {
        self.publish_targets_at(targets, Ts::now()).await
    }

    /// [`TufRepo::publish_targets`] with an explicit clock.
    pub async fn publish_targets_at(
        &self,
        targets: &[(&str, &[u8])],
        now: Ts,
    ) -> Result<bool, TufError> {
        for (name, _) in targets {
            validate_target_name(name)?;
        }
        let mut s = self.state.lock().await;
        let mut new_targets = s.targets.signed.clone();
        let mut files = Vec::new();
        let mut changed = false;
        for (name, bytes) in targets {
            let tn = tough::TargetName::new(*name)
                .map_err(|_| TufError::TargetName((*name).to_string()))?;
            let target = Target {
                length: bytes.len() as u64,
                hashes: hashes(bytes),
                custom: HashMap::new(),
                _extra: HashMap::new(),
            };
            let same = new_targets.targets.get(&tn).is_some_and(|t| {
                t.length == target.length && t.hashes.sha256 == target.hashes.sha256
            });
            let path = self
                .metadata_dir
                .join("targets")
                .join(format!("{}.{name}", hex::encode(sha256(bytes))));
            // Re-write the file when missing even if the metadata already lists it.
            if !same || !path.exists() {
                files.push((path, bytes.to_vec()));
            }
            if !same {
                changed = true;
                new_targets.targets.insert(tn, target);
            }
        }
        if !changed {
            if !files.is_empty() {
                write_all_atomic(files).await?;
            }
            return Ok(false);
        }
        new_targets.version = bump(new_targets.version)?;
        new_targets.expires = expiry(now, self.opts.targets_lifetime)?;
        self.commit(&mut s, Some(new_targets), files, now).await?;
        Ok(true)
    }

    /// Re-sign every role with less than half its lifetime left at `now`: the root (a new
    /// root version with the same keys), targets (same targets), snapshot and timestamp.
    /// A new targets version implies a new snapshot, which implies a new timestamp.
    pub async fn refresh_online(&self, now: Ts) -> Result<RefreshReport, TufError> {
        let mut report = RefreshReport::default();
        let mut s = self.state.lock().await;
        if !self.root_key_online {
            // A root version signed offline since start (`vouch trust sign-root`).
            let md = self.metadata_dir.clone();
            let newer = tokio::task::spawn_blocking(move || newest_root(&md))
                .await
                .map_err(TufError::Task)??;
            if newer.signed.version > s.root.signed.version {
                check_online_keys_listed(&newer.signed, &self.online_key_ids)?;
                tracing::info!(
                    version = newer.signed.version.get(),
                    "adopted an offline-signed TUF root"
                );
                s.root = newer;
            }
        }
        if !self.root_key_online && due(s.root.signed.expires, now, self.opts.root_lifetime) {
            tracing::warn!(
                version = s.root.signed.version.get(),
                expires = %s.root.signed.expires,
                "TUF root.json is past half its lifetime and its key is offline: sign the next \
                 version with `vouch trust sign-root --repo <data>/tuf --root-key <offline key>`"
            );
        } else if due(s.root.signed.expires, now, self.opts.root_lifetime) {
            let mut root = s.root.signed.clone();
            root.version = bump(root.version)?;
            root.expires = expiry(now, self.opts.root_lifetime)?;
            // Signed by the current root key, which is both the old and the new root key.
            let (signed, bytes) = sign_role(root, &s.root.signed, &self.keys).await?;
            let v = signed.signed.version;
            write_all_atomic(vec![
                (
                    self.metadata_dir.join(format!("{v}.root.json")),
                    bytes.clone(),
                ),
                (self.metadata_dir.join("root.json"), bytes),
            ])
            .await?;
            s.root = signed;
            report.root = true;
        }
        let targets_due = due(s.targets.signed.expires, now, self.opts.targets_lifetime);
        let snapshot_due = due(s.snapshot.signed.expires, now, self.opts.snapshot_lifetime);
        let timestamp_due = due(
            s.timestamp.signed.expires,
            now,
            self.opts.timestamp_lifetime,
        );
        if targets_due {
            let mut t = s.targets.signed.clone();
            t.version = bump(t.version)?;
            t.expires = expiry(now, self.opts.targets_lifetime)?;
            self.commit(&mut s, Some(t), Vec::new(), now).await?;
            report.targets = true;
            report.snapshot = true;
            report.timestamp = true;
        } else if snapshot_due {
            self.commit(&mut s, None, Vec::new(), now).await?;
            report.snapshot = true;
            report.timestamp = true;
        } else if timestamp_due {
            let snap_meta = metafile(s.snapshot.signed.version, &s.snapshot_bytes);
            let ts = self.new_timestamp(&s, snap_meta, now)?;
            let (ts, bytes) = sign_role(ts, &s.root.signed, &self.keys).await?;
            write_all_atomic(vec![(self.metadata_dir.join("timestamp.json"), bytes)]).await?;
            s.timestamp = ts;
            report.timestamp = true;
        }
        if report != RefreshReport::default() {
            tracing::info!(?report, "TUF metadata re-signed");
        }
        Ok(report)
    }

    fn new_timestamp(&self, s: &State, snap: Metafile, now: Ts) -> Result<Timestamp, TufError> {
        let mut ts = Timestamp::new(
            SPEC_VERSION.into(),
            bump(s.timestamp.signed.version)?,
            expiry(now, self.opts.timestamp_lifetime)?,
        );
        ts.meta.insert("snapshot.json".into(), snap);
        Ok(ts)
    }

    /// Write target files, then (optionally) new targets, a new snapshot and a new timestamp,
    /// in that order, so that `timestamp.json` never refers to a file not yet on disk.
    async fn commit(
        &self,
        s: &mut State,
        new_targets: Option<Targets>,
        mut files: Vec<(PathBuf, Vec<u8>)>,
        now: Ts,
    ) -> Result<(), TufError> {
        let (targets, targets_bytes) = match new_targets {
            Some(t) => {
                let (signed, bytes) = sign_role(t, &s.root.signed, &self.keys).await?;
                let v = signed.signed.version;
                files.push((
                    self.metadata_dir.join(format!("{v}.targets.json")),
                    bytes.clone(),
                ));
                (signed, bytes)
            }
            None => (s.targets.clone(), s.targets_bytes.clone()),
        };
        let mut snap = Snapshot::new(
            SPEC_VERSION.into(),
            bump(s.snapshot.signed.version)?,
            expiry(now, self.opts.snapshot_lifetime)?,
        );
        snap.meta.insert(
            "targets.json".into(),
            metafile(targets.signed.version, &targets_bytes),
        );
        let (snap, snap_bytes) = sign_role(snap, &s.root.signed, &self.keys).await?;
        let sv = snap.signed.version;
        files.push((
            self.metadata_dir.join(format!("{sv}.snapshot.json")),
            snap_bytes.clone(),
        ));
        let ts = self.new_timestamp(s, metafile(sv, &snap_bytes), now)?;
        let (ts, ts_bytes) = sign_role(ts, &s.root.signed, &self.keys).await?;
        files.push((self.metadata_dir.join("timestamp.json"), ts_bytes));
        write_all_atomic(files).await?;
        s.targets = targets;
        s.targets_bytes = targets_bytes;
        s.snapshot = snap;
        s.snapshot_bytes = snap_bytes;
        s.timestamp = ts;
        Ok(())
    }
}

/// First start: version 1 of every role, no targets.
async fn create_state(
    md: &Path,
    opts: &RepoOptions,
    keys: &[Box<dyn KeySource>],
    pubkeys: &[(RoleType, (Decoded<Hex>, Key))],
    now: Ts,
) -> Result<State, TufError> {
    let one = nz(1)?;
    let mut root = Root {
        spec_version: SPEC_VERSION.into(),
        consistent_snapshot: true,
        version: one,
        expires: expiry(now, opts.root_lifetime)?,
        keys: HashMap::new(),
        roles: HashMap::new(),
        _extra: HashMap::new(),
    };
    for (role, (id, key)) in pubkeys {
        root.keys.insert(id.clone(), key.clone());
        root.roles.insert(
            *role,
            RoleKeys {
                keyids: vec![id.clone()],
                threshold: one,
                _extra: HashMap::new(),
            },
        );
    }
    let (root, root_bytes) = sign_role(root.clone(), &root, keys).await?;
    let targets = Targets::new(
        SPEC_VERSION.into(),
        one,
        expiry(now, opts.targets_lifetime)?,
    );
    let (targets, targets_bytes) = sign_role(targets, &root.signed, keys).await?;
    let mut snap = Snapshot::new(
        SPEC_VERSION.into(),
        one,
        expiry(now, opts.snapshot_lifetime)?,
    );
    snap.meta
        .insert("targets.json".into(), metafile(one, &targets_bytes));
    let (snapshot, snapshot_bytes) = sign_role(snap, &root.signed, keys).await?;
    let mut ts = Timestamp::new(
        SPEC_VERSION.into(),
        one,
        expiry(now, opts.timestamp_lifetime)?,
    );
    ts.meta
        .insert("snapshot.json".into(), metafile(one, &snapshot_bytes));
    let (timestamp, ts_bytes) = sign_role(ts, &root.signed, keys).await?;
    write_all_atomic(vec![
        (md.join("1.root.json"), root_bytes.clone()),
        (md.join("root.json"), root_bytes),
        (md.join("1.targets.json"), targets_bytes.clone()),
        (md.join("1.snapshot.json"), snapshot_bytes.clone()),
        (md.join("timestamp.json"), ts_bytes),
    ])
    .await?;
    Ok(State {
        root,
        targets,
        targets_bytes,
        snapshot,
        snapshot_bytes,
        timestamp,
    })
}

fn read_req(path: &Path) -> Result<Vec<u8>, TufError> {
    std::fs::read(path).map_err(|e| TufError::io("reading", path, e))
}

/// Temp files of writes interrupted by a crash (`.<name>.tmp.<pid>.<n>`); never served.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp.") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Restart: the chain timestamp → snapshot → targets, and the newest root on disk.
fn load_state(md: &Path) -> Result<State, TufError> {
    let mut root: Signed<Root> = parse(&read_req(&md.join("root.json"))?, "root.json")?;
    // A crash between `N.root.json` and its `root.json` copy leaves a newer versioned root.
    loop {
        let next = bump(root.signed.version)?;
        match read_opt(&md.join(format!("{next}.root.json")))? {
            Some(b) => {
                root = parse(&b, "root")?;
                write_atomic(&md.join("root.json"), &b, None)?;
            }
            None => break,
        }
    }
    let timestamp: Signed<Timestamp> =
        parse(&read_req(&md.join("timestamp.json"))?, "timestamp.json")?;
    let sv = timestamp
        .signed
        .meta
        .get("snapshot.json")
        .map(|m| m.version)
        .ok_or_else(|| TufError::Metadata("timestamp.json lists no snapshot.json".into()))?;
    let snapshot_bytes = read_req(&md.join(format!("{sv}.snapshot.json")))?;
    let snapshot: Signed<Snapshot> = parse(&snapshot_bytes, "snapshot")?;
    let tv = snapshot
        .signed
        .meta
        .get("targets.json")
        .map(|m| m.version)
        .ok_or_else(|| TufError::Metadata("snapshot lists no targets.json".into()))?;
    let targets_bytes = read_req(&md.join(format!("{tv}.targets.json")))?;
    let targets: Signed<Targets> = parse(&targets_bytes, "targets")?;
    Ok(State {
        root,
        targets,
        targets_bytes,
        snapshot,
        snapshot_bytes,
        timestamp,
    })
}

/// Keep the online roles fresh while the instance runs: calls [`TufRepo::refresh_online`]
/// every `interval` (first call immediately). Failures are logged and retried next tick.
pub fn spawn_refresher(repo: Arc<TufRepo>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = repo.refresh_online(Ts::now()).await {
                tracing::warn!(error = %e, "TUF metadata refresh failed; retrying next interval");
            }
        }
    })
}

/// Check an offline root key path before first use: it must not exist yet, and must not lie
/// inside `protected` (the repository, or the whole data directory), which would defeat
/// keeping it offline. Returns the absolute path.
pub fn offline_key_path(protected: &Path, key: &Path) -> Result<PathBuf, TufError> {
    let repo_dir = protected;
    if key.exists() {
        return Err(TufError::OfflineRootKey(format!(
            "{} already exists: refusing to overwrite a root key (choose a new file)",
            key.display()
        )));
    }
    let abs = |p: &Path| -> Result<PathBuf, TufError> {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| TufError::io("reading", Path::new("."), e))?
                .join(p)
        };
        // Resolve what exists (the parent), so `./data/../data/x` is caught too.
        let parent = vouch_fs::parent_dir(&p);
        let parent =
            std::fs::canonicalize(parent).map_err(|e| TufError::io("resolving", parent, e))?;
        Ok(match p.file_name() {
            Some(n) => parent.join(n),
            None => parent,
        })
    };
    std::fs::create_dir_all(repo_dir).map_err(|e| TufError::io("creating", repo_dir, e))?;
    let repo =
        std::fs::canonicalize(repo_dir).map_err(|e| TufError::io("resolving", repo_dir, e))?;
    let key_abs = abs(key)?;
    if key_abs.starts_with(&repo) {
        return Err(TufError::OfflineRootKey(format!(
            "{} is inside {}: an offline root key must live outside the directory it protects",
            key_abs.display(),
            repo.display()
        )));
    }
    Ok(key_abs)
}

/// The newest root on disk (`root.json`, then any `N+1.root.json` written after it).
fn newest_root(md: &Path) -> Result<Signed<Root>, TufError> {
    let mut root: Signed<Root> = parse(&read_req(&md.join("root.json"))?, "root.json")?;
    loop {
        let next = bump(root.signed.version)?;
        match read_opt(&md.join(format!("{next}.root.json")))? {
            Some(b) => root = parse(&b, "root")?,
            None => return Ok(root),
        }
    }
}

/// Every online key must still be named by `root` for its role.
fn check_online_keys_listed(
    root: &Root,
    online: &[(RoleType, Decoded<Hex>)],
) -> Result<(), TufError> {
    for (role, id) in online {
        let listed = root
            .roles
            .get(role)
            .is_some_and(|rk| rk.keyids.contains(id));
        if !listed {
            return Err(TufError::KeyMismatch(format!(
                "root.json version {} no longer names the online {role} key {}",
                root.version,
                hex::encode(id.as_ref())
            )));
        }
    }
    Ok(())
}

/// Sign the next root version (same keys, expiry `now + lifetime`) with the offline root key
/// in `root_key`, and write `N.root.json` and `root.json` into the repository at `repo_dir`.
/// A running repository adopts it at its next refresh. Returns the new version.
pub async fn sign_root_offline(
    repo_dir: &Path,
    root_key: &Path,
    lifetime: Duration,
    now: Ts,
) -> Result<u64, TufError> {
    let md = repo_dir.join("metadata");
    let pem = read_req(root_key)?;
    let der = pem_decode(&String::from_utf8_lossy(&pem), root_key)?;
    let (id, _) = tuf_key(&der)?;
    let current = {
        let md = md.clone();
        tokio::task::spawn_blocking(move || newest_root(&md))
            .await
            .map_err(TufError::Task)??
    };
    let named = current
        .signed
        .roles
        .get(&RoleType::Root)
        .is_some_and(|rk| rk.keyids.contains(&id));
    if !named {
        return Err(TufError::KeyMismatch(format!(
            "{} is not the root key of {} (root.json version {} names {})",
            root_key.display(),
            md.display(),
            current.signed.version,
            current
                .signed
                .roles
                .get(&RoleType::Root)
                .map(|rk| rk
                    .keyids
                    .iter()
                    .map(|k| hex::encode(k.as_ref()))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        )));
    }
    let mut root = current.signed.clone();
    root.version = bump(root.version)?;
    root.expires = expiry(now, lifetime)?;
    let keys: Vec<Box<dyn KeySource>> = vec![Box::new(RoleKey {
        role: RoleType::Root,
        der,
    })];
    let (signed, bytes) = sign_role(root, &current.signed, &keys).await?;
    let v = signed.signed.version;
    write_all_atomic(vec![
        (md.join(format!("{v}.root.json")), bytes.clone()),
        (md.join("root.json"), bytes),
    ])
    .await?;
    Ok(v.get())
}
