//! Configuration as gitsign reads it (protocols §10.5): git config `gitsign.*` (read with
//! `git config --get`, so every git config scope and `git -c` applies) with environment
//! variables taking precedence, plus `gitsign.trustConfig` (a ClientTrustConfig, our addition).

use std::path::{Path, PathBuf};
use vouch_core::trust::{ClientTrustConfig, SigningConfig, TrustError, TrustRoot};

/// Why the configuration or the trust material it names is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `gitsign.rekorVersion` is neither 1 nor 2.
    #[error("gitsign.rekorVersion must be 1 or 2, got {value:?}")]
    RekorVersion {
        /// The value set.
        value: String,
    },
    /// `gitsign.rekorMode` is neither `online` nor `offline`.
    #[error("gitsign.rekorMode must be online or offline, got {value:?}")]
    RekorMode {
        /// The value set.
        value: String,
    },
    /// The trust config file cannot be read.
    #[error("cannot read trust config {}: {source}", path.display())]
    ReadTrustConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The trust config file is not a usable ClientTrustConfig.
    #[error("trust config {}: {source}", path.display())]
    TrustConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: TrustError,
    },
    /// The built-in public-good trusted root or signing config does not load.
    #[error("public-good Sigstore {what}: {source}")]
    PublicGood {
        /// `trusted root` or `signing config`.
        what: &'static str,
        /// What is wrong with it.
        #[source]
        source: TrustError,
    },
}

type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Resolved settings.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `gitsign.fulcio` / `GITSIGN_FULCIO_URL`: the CA, overriding the signing config's.
    pub fulcio: Option<String>,
    /// `gitsign.rekor` / `GITSIGN_REKOR_URL`: the log, overriding the signing config's.
    pub rekor: Option<String>,
    /// `gitsign.rekorVersion` / `GITSIGN_REKOR_VERSION` / `SIGSTORE_REKOR_VERSION`.
    pub rekor_version: Option<u32>,
    /// `gitsign.timestampServerURL` / `GITSIGN_TIMESTAMP_SERVER_URL`: full RFC 3161 URL.
    pub timestamp_url: Option<String>,
    /// `gitsign.issuer` / `GITSIGN_OIDC_ISSUER`: where to log in interactively.
    pub issuer: Option<String>,
    /// `gitsign.clientID` / `GITSIGN_OIDC_CLIENT_ID` (default `sigstore`).
    pub client_id: String,
    /// `gitsign.connectorID` / `GITSIGN_CONNECTOR_ID` (Dex connector to preselect).
    pub connector_id: Option<String>,
    /// `gitsign.tokenProvider` / `GITSIGN_TOKEN_PROVIDER`.
    pub token_provider: Option<String>,
    /// `gitsign.trustConfig` / `GITSIGN_TRUST_CONFIG` / `VOUCH_TRUST_CONFIG`.
    pub trust_config: Option<PathBuf>,
    /// `gitsign.rekorMode` / `GITSIGN_REKOR_MODE`: `offline` (our default: the entry is
    /// embedded) or `online` (gitsign's default: the commit SHA is logged, nothing embedded).
    pub online: bool,
    /// `gitsign.matchIdentity` / `GITSIGN_MATCH_IDENTITY`: required certificate identity.
    pub match_identity: Option<String>,
    /// `gitsign.matchIssuer` / `GITSIGN_MATCH_ISSUER`: required OIDC issuer.
    pub match_issuer: Option<String>,
}

/// `git config --get <key>` (case-insensitive keys; `None` when unset or git is absent).
pub fn git_config(key: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["config", "--get", key])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v = String::from_utf8_lossy(&out.stdout)
        .trim_end_matches(['\n', '\r'])
        .to_string();
    (!v.is_empty()).then_some(v)
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .find(|v| !v.trim().is_empty())
}

fn get(key: &str, envs: &[&str]) -> Option<String> {
    env(envs).or_else(|| git_config(key))
}

impl Config {
    /// Read the configuration from the environment and git config.
    pub fn load() -> Result<Self> {
        let rekor_version = match get(
            "gitsign.rekorVersion",
            &["GITSIGN_REKOR_VERSION", "SIGSTORE_REKOR_VERSION"],
        ) {
            None => None,
            Some(v) => match v.trim() {
                "1" => Some(1),
                "2" => Some(2),
                other => {
                    return Err(ConfigError::RekorVersion {
                        value: other.to_string(),
                    });
                }
            },
        };
        let online = match get("gitsign.rekorMode", &["GITSIGN_REKOR_MODE"]) {
            None => false,
            Some(v) => match v.trim() {
                "online" => true,
                "offline" => false,
                other => {
                    return Err(ConfigError::RekorMode {
                        value: other.to_string(),
                    });
                }
            },
        };
        Ok(Config {
            online,
            fulcio: get(
                "gitsign.fulcio",
                &["GITSIGN_FULCIO_URL", "SIGSTORE_FULCIO_URL"],
            ),
            rekor: get(
                "gitsign.rekor",
                &["GITSIGN_REKOR_URL", "SIGSTORE_REKOR_URL"],
            ),
            rekor_version,
            timestamp_url: get(
                "gitsign.timestampServerURL",
                &[
                    "GITSIGN_TIMESTAMP_SERVER_URL",
                    "SIGSTORE_TIMESTAMP_SERVER_URL",
                ],
            ),
            issuer: get(
                "gitsign.issuer",
                &["GITSIGN_OIDC_ISSUER", "SIGSTORE_OIDC_ISSUER"],
            ),
            client_id: get(
                "gitsign.clientID",
                &["GITSIGN_OIDC_CLIENT_ID", "SIGSTORE_OIDC_CLIENT_ID"],
            )
            .unwrap_or_else(|| "sigstore".into()),
            connector_id: get("gitsign.connectorID", &["GITSIGN_CONNECTOR_ID"]),
            token_provider: get("gitsign.tokenProvider", &["GITSIGN_TOKEN_PROVIDER"]),
            trust_config: get(
                "gitsign.trustConfig",
                &["GITSIGN_TRUST_CONFIG", "VOUCH_TRUST_CONFIG"],
            )
            .map(PathBuf::from),
            match_identity: get("gitsign.matchIdentity", &["GITSIGN_MATCH_IDENTITY"]),
            match_issuer: get("gitsign.matchIssuer", &["GITSIGN_MATCH_ISSUER"]),
        })
    }

    /// The trusted root and signing config: the trust config file, else public-good Sigstore.
    pub fn trust(&self) -> Result<(TrustRoot, SigningConfig)> {
        match &self.trust_config {
            Some(p) => load_client_trust_config(p),
            None => Ok((
                TrustRoot::public_good().map_err(|source| ConfigError::PublicGood {
                    what: "trusted root",
                    source,
                })?,
                SigningConfig::from_json(vouch_core::trust::PUBLIC_GOOD_SIGNING_CONFIG.as_bytes())
                    .map_err(|source| ConfigError::PublicGood {
                        what: "signing config",
                        source,
                    })?,
            )),
        }
    }
}

/// Read a ClientTrustConfig file (e.g. `vouch up`'s `trust_config.json`).
pub fn load_client_trust_config(p: &Path) -> Result<(TrustRoot, SigningConfig)> {
    let bytes = std::fs::read(p).map_err(|source| ConfigError::ReadTrustConfig {
        path: p.to_path_buf(),
        source,
    })?;
    ClientTrustConfig::parse(&bytes).map_err(|source| ConfigError::TrustConfig {
        path: p.to_path_buf(),
        source,
    })
}
