//! The identity watch configuration, in rekor-monitor's own YAML format, so that its files work
//! unchanged.
//!
//! ```yaml
//! startIndex: 1000          # optional: first entry to scan on a fresh state
//! endIndex: 2000            # optional: stop scanning there
//! monitoredValues:
//!   certIdentities:         # certSubject and issuers are regular expressions
//!     - certSubject: release@example\.com
//!       issuers: [https://accounts\.example\.com]
//!   subjects: [ops@example\.com]      # regular expressions over every SAN
//!   fingerprints: [a0b1c2…]           # hex SHA-256 of the DER certificate or public key
//!   oidMatchers:                      # exact values
//!     fulcioExtensions: {build-signer-uri: [https://…]}
//!     oidExtensions: [{objectIdentifier: [1, 3, 6, 1, 4, 1, 57264, 1, 1], extensionValues: [https://…]}]
//!     customExtensions: [{objectIdentifier: 1.3.6.1.4.1.57264.1.9, extensionValues: [https://…]}]
//! ```
//!
//! One vouch extension, outside `monitoredValues` so that rekor-monitor's files keep working
//! unchanged: the **spike alert**.
//!
//! ```yaml
//! spike:
//!   threshold: 10     # more than 10 signings by one watched identity ...
//!   window: 10m       # ... within 10 minutes raise a `spike` alert
//! ```
//!
//! An identity is a watched signer's OIDC issuer and SAN. Signings are counted at their
//! certificate's `notBefore` for log entries (the CA issues the certificate when the signing
//! starts; the log's tiles carry no time) and at the line's `time` for CA audit lines
//! (`--ca-audit`). Authorized signings count too: a spike is suspicious whoever recorded it.
//! One alert per identity per window.
//!
//! rekor-monitor's notification and output settings (`outputIdentities`, `githubIssue`,
//! `emailNotificationSMTP`, …) are accepted and ignored: vouch reports on stdout and through
//! `--webhook`. Unknown names inside `monitoredValues` and unknown Fulcio extension names are
//! refused rather than silently never matching.

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest configuration file accepted, in bytes.
pub const MAX_CONFIG_LEN: usize = 1024 * 1024;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Over [`MAX_CONFIG_LEN`].
    #[error("config is {len} bytes, over the limit of {MAX_CONFIG_LEN}")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// Not YAML of the expected shape.
    #[error("config is not valid rekor-monitor YAML: {0}")]
    Yaml(#[source] serde_yaml_ng::Error),
    /// A regular expression does not compile.
    #[error("{field} {pattern:?} is not a valid regular expression: {source}")]
    Regex {
        /// Which field.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// Why.
        #[source]
        source: regex::Error,
    },
    /// An empty value where one is required.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// A Fulcio extension name rekor-monitor does not define.
    #[error("unknown fulcioExtensions name {0:?}")]
    UnknownFulcioExtension(String),
    /// An OID in dot notation does not parse.
    #[error("objectIdentifier {0:?} is not a dotted OID")]
    BadOid(String),
    /// startIndex above endIndex.
    #[error("startIndex {start} is above endIndex {end}")]
    Range {
        /// startIndex.
        start: u64,
        /// endIndex.
        end: u64,
    },
    /// Nothing to watch.
    #[error("monitoredValues lists nothing to watch")]
    NothingWatched,
    /// `spike.threshold` is 0.
    #[error("spike.threshold must be at least 1")]
    SpikeThreshold,
    /// `spike.window` is not a duration.
    #[error("spike.window: {0}")]
    SpikeWindow(#[source] vouch_core::time::DurationError),
}

/// rekor-monitor's `IdentityMonitorConfiguration` (the parts a monitor acts on).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileConfig {
    /// First entry to scan when the state is new.
    #[serde(default)]
    pub start_index: Option<u64>,
    /// Entry at which scanning stops (exclusive upper bound, as rekor-monitor's).
    #[serde(default)]
    pub end_index: Option<u64>,
    /// What to watch.
    #[serde(default)]
    pub monitored_values: MonitoredValues,
    /// vouch's spike alert.
    #[serde(default)]
    pub spike: Option<SpikeFile>,
    /// rekor-monitor's other settings (outputs, notifications, CT shards): accepted, ignored.
    #[serde(flatten)]
    pub ignored: BTreeMap<String, serde_yaml_ng::Value>,
}

/// `monitoredValues`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitoredValues {
    /// Certificate identities (subject and optional issuers, regular expressions).
    #[serde(default)]
    pub cert_identities: Vec<CertIdentity>,
    /// Subjects (regular expressions over SANs).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Fingerprints (hex SHA-256 of the DER certificate or public key).
    #[serde(default)]
    pub fingerprints: Vec<String>,
    /// OID extension matchers.
    #[serde(default)]
    pub oid_matchers: OidMatchers,
}

/// `spike:` as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeFile {
    /// Signings by one identity allowed within the window; one more is a spike.
    pub threshold: u32,
    /// The window, e.g. `10m`.
    pub window: String,
}

/// The compiled spike alert setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeConfig {
    /// Signings allowed within the window.
    pub threshold: u32,
    /// The window.
    pub window: std::time::Duration,
}

/// One `certIdentities` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertIdentity {
    /// Regular expression over the certificate's SAN.
    pub cert_subject: String,
    /// Regular expressions over the OIDC issuer; empty: any issuer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuers: Vec<String>,
}

/// `oidMatchers`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidMatchers {
    /// OIDs as integer arrays.
    #[serde(default)]
    pub oid_extensions: Vec<OidArrayExtension>,
    /// Fulcio extensions by rekor-monitor's names.
    #[serde(default)]
    pub fulcio_extensions: BTreeMap<String, Vec<String>>,
    /// OIDs in dot notation.
    #[serde(default)]
    pub custom_extensions: Vec<OidDottedExtension>,
}

/// An `oidExtensions` item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidArrayExtension {
    /// The OID arcs.
    pub object_identifier: Vec<u64>,
    /// Exact values to match.
    pub extension_values: Vec<String>,
}

/// A `customExtensions` item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidDottedExtension {
    /// The OID in dot notation.
    pub object_identifier: String,
    /// Exact values to match.
    pub extension_values: Vec<String>,
}

/// rekor-monitor's `fulcioExtensions` names and the Fulcio OID arcs (`1.3.6.1.4.1.57264.1.<arc>`)
/// they stand for; `issuer` covers both the v2 (1.8) and the deprecated (1.1) extension.
const FULCIO_NAMES: &[(&str, &[u32])] = &[
    ("issuer", &[8, 1]),
    ("github-workflow-trigger", &[2]),
    ("github-workflow-sha", &[3]),
    ("github-workflow-name", &[4]),
    ("github-workflow-repository", &[5]),
    ("github-workflow-ref", &[6]),
    ("build-signer-uri", &[9]),
    ("build-signer-digest", &[10]),
    ("runner-environment", &[11]),
    ("source-repository-uri", &[12]),
    ("source-repository-digest", &[13]),
    ("source-repository-ref", &[14]),
    ("source-repository-identifier", &[15]),
    ("source-repository-owner-uri", &[16]),
    ("source-repository-owner-identifier", &[17]),
    ("build-config-uri", &[18]),
    ("build-config-digest", &[19]),
    ("build-trigger", &[20]),
    ("run-invocation-uri", &[21]),
    ("source-repository-visibility-at-signing", &[22]),
];

/// The dotted prefix of Fulcio's extensions.
pub const FULCIO_OID_PREFIX: &str = "1.3.6.1.4.1.57264.1.";

/// A compiled certificate identity matcher.
#[derive(Debug, Clone)]
pub struct CertMatcher {
    /// As configured (reported in alerts).
    pub config: CertIdentity,
    pub(crate) subject: Regex,
    pub(crate) issuers: Vec<Regex>,
}

/// A compiled subject matcher.
#[derive(Debug, Clone)]
pub struct SubjectMatcher {
    /// As configured.
    pub pattern: String,
    pub(crate) regex: Regex,
}

/// One OID and the exact values that match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidMatcher {
    /// Dotted OID.
    pub oid: String,
    /// Values that match.
    pub values: Vec<String>,
}

/// The compiled watch list.
#[derive(Debug, Clone, Default)]
pub struct WatchList {
    /// Certificate identities.
    pub cert_identities: Vec<CertMatcher>,
    /// Subjects.
    pub subjects: Vec<SubjectMatcher>,
    /// Fingerprints, lowercase hex.
    pub fingerprints: Vec<String>,
    /// OID matchers, one per OID (values of repeated OIDs merged, as rekor-monitor renders them).
    pub oids: Vec<OidMatcher>,
}

impl WatchList {
    /// True when nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.cert_identities.is_empty()
            && self.subjects.is_empty()
            && self.fingerprints.is_empty()
            && self.oids.is_empty()
    }

    /// Whether any matcher needs the certificate parsed.
    pub fn needs_certificates(&self) -> bool {
        !self.cert_identities.is_empty() || !self.subjects.is_empty() || !self.oids.is_empty()
    }
}

/// A parsed and compiled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// First entry to scan on a fresh state.
    pub start_index: Option<u64>,
    /// Exclusive upper bound of scanning.
    pub end_index: Option<u64>,
    /// The watch list.
    pub watch: WatchList,
    /// Top-level settings accepted but ignored (for a warning).
    pub ignored: Vec<String>,
    /// The spike alert, if configured.
    pub spike: Option<SpikeConfig>,
}

fn regex(field: &'static str, pattern: &str) -> Result<Regex, ConfigError> {
    if pattern.is_empty() {
        return Err(ConfigError::Empty(field));
    }
    Regex::new(pattern).map_err(|source| ConfigError::Regex {
        field,
        pattern: pattern.to_string(),
        source,
    })
}

fn check_dotted(oid: &str) -> Result<String, ConfigError> {
    let ok = oid.split('.').count() >= 2
        && oid
            .split('.')
            .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(oid.to_string())
    } else {
        Err(ConfigError::BadOid(oid.to_string()))
    }
}

impl Config {
    /// Parse and compile a rekor-monitor configuration file (bounded).
    pub fn parse(yaml: &[u8]) -> Result<Self, ConfigError> {
        if yaml.len() > MAX_CONFIG_LEN {
            return Err(ConfigError::TooLarge { len: yaml.len() });
        }
        let f: FileConfig = serde_yaml_ng::from_slice(yaml).map_err(ConfigError::Yaml)?;
        if let (Some(start), Some(end)) = (f.start_index, f.end_index)
            && start > end
        {
            return Err(ConfigError::Range { start, end });
        }
        let mv = f.monitored_values;
        let mut watch = WatchList::default();
        for c in mv.cert_identities {
            let subject = regex("certSubject", &c.cert_subject)?;
            let issuers = c
                .issuers
                .iter()
                .map(|i| regex("issuers", i))
                .collect::<Result<_, _>>()?;
            watch.cert_identities.push(CertMatcher {
                config: c,
                subject,
                issuers,
            });
        }
        for s in mv.subjects {
            let r = regex("subjects", &s)?;
            watch.subjects.push(SubjectMatcher {
                pattern: s,
                regex: r,
            });
        }
        for fp in mv.fingerprints {
            if fp.is_empty() {
                return Err(ConfigError::Empty("fingerprints"));
            }
            watch.fingerprints.push(fp.to_ascii_lowercase());
        }
        // Merge every OID matcher into one list per OID, as rekor-monitor renders them.
        let mut oids: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut add = |oid: String, values: Vec<String>| -> Result<(), ConfigError> {
            if values.is_empty() || values.iter().any(String::is_empty) {
                return Err(ConfigError::Empty("extensionValues"));
            }
            let e = oids.entry(oid).or_default();
            for v in values {
                if !e.contains(&v) {
                    e.push(v);
                }
            }
            Ok(())
        };
        for o in mv.oid_matchers.oid_extensions {
            let dotted = o
                .object_identifier
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(".");
            add(check_dotted(&dotted)?, o.extension_values)?;
        }
        for (name, values) in mv.oid_matchers.fulcio_extensions {
            let arcs = FULCIO_NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, a)| *a)
                .ok_or_else(|| ConfigError::UnknownFulcioExtension(name.clone()))?;
            for arc in arcs {
                add(format!("{FULCIO_OID_PREFIX}{arc}"), values.clone())?;
            }
        }
        for o in mv.oid_matchers.custom_extensions {
            add(check_dotted(&o.object_identifier)?, o.extension_values)?;
        }
        watch.oids = oids
            .into_iter()
            .map(|(oid, values)| OidMatcher { oid, values })
            .collect();
        if watch.is_empty() {
            return Err(ConfigError::NothingWatched);
        }
        let spike = match f.spike {
            Some(sp) => {
                if sp.threshold == 0 {
                    return Err(ConfigError::SpikeThreshold);
                }
                Some(SpikeConfig {
                    threshold: sp.threshold,
                    window: vouch_core::time::parse_duration(&sp.window)
                        .map_err(ConfigError::SpikeWindow)?,
                })
            }
            None => None,
        };
        Ok(Self {
            spike,
            start_index: f.start_index,
            end_index: f.end_index,
            watch,
            ignored: f.ignored.into_keys().collect(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The example configuration of rekor-monitor's README, verbatim in shape.
    const README_EXAMPLE: &str = r#"
startIndex: 1000
endIndex: 2000
monitoredValues:
  certIdentities:
    - certSubject: user@domain\.com
    - certSubject: otheruser@domain\.com
      issuers:
        - https://accounts\.google\.com
        - https://github\.com/login
  subjects:
    - subject@domain\.com
  fingerprints:
    - A0B1C2D3E4F5
  oidMatchers:
    fulcioExtensions:
      build-config-uri:
        - https://example.com/owner/repository/build-config.yml
    oidExtensions:
      - objectIdentifier: [1, 3, 6, 1, 4, 1, 57264, 1, 1]
        extensionValues:
          - https://github.com/login/oauth
    customExtensions:
      - objectIdentifier: 1.3.6.1.4.1.57264.1.9
        extensionValues:
          - https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@v1.4.0
outputIdentities: identities.txt
outputIdentitiesFormat: text
logInfoFile: logInfo.txt
identityMetadataFile: metadata.json
"#;

    #[test]
    fn reads_rekor_monitors_readme_example() {
        let c = Config::parse(README_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(c.start_index, Some(1000));
        assert_eq!(c.end_index, Some(2000));
        assert_eq!(c.watch.cert_identities.len(), 2);
        assert_eq!(c.watch.cert_identities[1].issuers.len(), 2);
        assert_eq!(c.watch.subjects.len(), 1);
        assert_eq!(c.watch.fingerprints, ["a0b1c2d3e4f5"]);
        let oids: Vec<&str> = c.watch.oids.iter().map(|o| o.oid.as_str()).collect();
        assert_eq!(
            oids,
            [
                "1.3.6.1.4.1.57264.1.1",
                "1.3.6.1.4.1.57264.1.18",
                "1.3.6.1.4.1.57264.1.9"
            ]
        );
        assert_eq!(
            c.ignored,
            [
                "identityMetadataFile",
                "logInfoFile",
                "outputIdentities",
                "outputIdentitiesFormat"
            ]
        );
    }

    #[test]
    fn refuses_what_would_never_match() {
        for bad in [
            "monitoredValues: {}\n",
            "monitoredValues:\n  certIdentities:\n    - certSubject: '('\n",
            "monitoredValues:\n  certIdentities:\n    - certSubject: ''\n",
            "monitoredValues:\n  certIdentity:\n    - certSubject: a\n",
            "monitoredValues:\n  oidMatchers:\n    fulcioExtensions:\n      build-signer: [x]\n",
            "monitoredValues:\n  oidMatchers:\n    customExtensions:\n      - objectIdentifier: 1.x\n        extensionValues: [a]\n",
            "monitoredValues:\n  oidMatchers:\n    customExtensions:\n      - objectIdentifier: 1.2.3\n        extensionValues: []\n",
            "startIndex: 5\nendIndex: 4\nmonitoredValues:\n  subjects: [a]\n",
        ] {
            assert!(Config::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn spike_setting_beside_rekor_monitors_keys() {
        let c = Config::parse(
            b"monitoredValues:\n  subjects: [a]\nspike:\n  threshold: 3\n  window: 10m\n",
        )
        .unwrap();
        assert_eq!(
            c.spike,
            Some(SpikeConfig {
                threshold: 3,
                window: std::time::Duration::from_secs(600)
            })
        );
        assert!(c.ignored.is_empty());
        assert!(
            Config::parse(README_EXAMPLE.as_bytes())
                .unwrap()
                .spike
                .is_none()
        );
        for bad in [
            "monitoredValues:\n  subjects: [a]\nspike: {threshold: 0, window: 1m}\n",
            "monitoredValues:\n  subjects: [a]\nspike: {threshold: 1, window: soon}\n",
            "monitoredValues:\n  subjects: [a]\nspike: {threshold: 1, window: 1m, per: x}\n",
        ] {
            assert!(Config::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn issuer_name_covers_both_issuer_extensions() {
        let c = Config::parse(
            b"monitoredValues:\n  oidMatchers:\n    fulcioExtensions:\n      issuer: [https://i]\n",
        )
        .unwrap();
        let oids: Vec<&str> = c.watch.oids.iter().map(|o| o.oid.as_str()).collect();
        assert_eq!(oids, ["1.3.6.1.4.1.57264.1.1", "1.3.6.1.4.1.57264.1.8"]);
    }
}
