//! The signing inventory: the short-lived certificates a log recorded over a time window,
//! grouped by identity (SAN), OIDC issuer, or source repository / workflow (Fulcio extensions
//! 1.12 sourceRepositoryURI, else 1.5 githubWorkflowRepository; 1.18 buildConfigURI), with counts
//! and first/last seen. The activity a classic certificate inventory (built for certificates
//! that live for years) never sees.
//!
//! Reading is the monitor's: entry bundles through its [`TileClient`] and signers through its
//! entry decoder ([`EntryInfo`]), or, for a log that serves only the Rekor v1 API, entries by
//! index from `/api/v1/log/entries`. The scan runs from the newest entry backwards and stops at
//! the first tile (or v1 entry) older than the window: logs are append-only, so time grows
//! with the index up to the log's batching skew.
//!
//! Time of an entry: a tiles (Rekor v2) entry has no integrated time, so the certificate's
//! `notBefore` (the signing time, within Fulcio's clock) is used; a v1 entry has the log's
//! `integratedTime`.

use serde::Serialize;
use std::collections::BTreeMap;
use vouch_core::encoding::b64_decode;
use vouch_core::rekor::{LogEntryV1, LogInfo};
use vouch_core::tiles::{TILE_WIDTH, TileId};
use vouch_core::x509::Certificate;
use vouch_monitor::fetch::TileClient;
use vouch_monitor::watch::{EntryInfo, Signer};

/// Most v1 entries read one by one (a v1-only log has no bulk read).
pub const MAX_V1_ENTRIES: u64 = 100_000;

/// Why the inventory could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// Reading the tiles failed.
    #[error("log tiles: {0}")]
    Tiles(#[source] vouch_monitor::MonitorError),
    /// The checkpoint does not parse.
    #[error("log checkpoint: {0}")]
    Checkpoint(#[source] vouch_core::note::NoteError),
    /// A Rekor v1 request failed.
    #[error("Rekor v1 {url}: {source}")]
    V1 {
        /// The URL.
        url: String,
        /// The HTTP error.
        #[source]
        source: Box<vouch_sign::SignError>,
    },
    /// A Rekor v1 answer does not parse.
    #[error("Rekor v1 {url}: unexpected answer: {source}")]
    V1Body {
        /// The URL.
        url: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The window covers more v1 entries than the bound.
    #[error(
        "more than {MAX_V1_ENTRIES} Rekor v1 entries in the window (use the log's tiles, or a shorter --since)"
    )]
    TooManyV1Entries,
}

/// How entries are read (the monitor's [`vouch_monitor::LogApi`]).
pub use vouch_monitor::LogApi as Api;

/// What entries are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The certificate SAN.
    Identity,
    /// The OIDC issuer.
    Issuer,
    /// Source repository (1.12, else 1.5) and workflow (1.18 buildConfigURI).
    Repository,
}

/// One certificate seen in the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Log index.
    pub index: u64,
    /// Entry time (see the module docs).
    pub time: jiff::Timestamp,
    /// SAN.
    pub identity: String,
    /// OIDC issuer.
    pub issuer: String,
    /// Source repository, or `(none)`.
    pub repository: String,
    /// Workflow (build config URI), if any.
    pub workflow: Option<String>,
}

/// One group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The identity, issuer or repository.
    pub key: String,
    /// Certificates (entries) in the window.
    pub count: u64,
    /// Distinct identities in the group.
    pub identities: usize,
    /// Workflows seen (repository grouping).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<String>,
    /// First seen (RFC 3339).
    pub first_seen: String,
    /// Last seen (RFC 3339).
    pub last_seen: String,
    /// Lowest and highest log index.
    pub first_index: u64,
    /// Highest log index.
    pub last_index: u64,
}

/// The inventory of one log over one window.
#[derive(Clone, Debug, Serialize)]
pub struct Inventory {
    /// The log URL.
    pub log: String,
    /// How it was read.
    pub api: Api,
    /// `certificate notBefore` (tiles) or `integratedTime` (v1).
    pub time_source: String,
    /// Window start (RFC 3339).
    pub since: String,
    /// When it was taken (RFC 3339).
    pub generated_at: String,
    /// Log size at the time.
    pub tree_size: u64,
    /// Entries read (some older than the window).
    pub entries_scanned: u64,
    /// Entries in the window signed with a certificate.
    pub certificates: u64,
    /// Entries in the window signed with a bare public key (time unknown on tiles: counted
    /// when inside a tile that is in the window).
    pub key_signed: u64,
    /// Entries that did not decode.
    pub unreadable: u64,
    /// The grouping.
    pub group_by: GroupBy,
    /// The groups, most certificates first.
    pub groups: Vec<Group>,
}

/// The certificate facts of one signer, `None` for a bare key or an unparsable certificate.
fn seen_of(index: u64, der: &[u8], time: Option<jiff::Timestamp>) -> Option<Seen> {
    let cert = Certificate::from_der(der).ok()?;
    let id = cert.fulcio_identity().ok()?;
    let nb = cert.not_before();
    let time = match time {
        Some(t) => t,
        None => jiff::Timestamp::new(nb.secs, 0).ok()?,
    };
    Some(Seen {
        index,
        time,
        identity: id.san.clone().unwrap_or_else(|| "(no SAN)".into()),
        issuer: id.issuer.clone().unwrap_or_else(|| "(no issuer)".into()),
        repository: id
            .extension(12)
            .or_else(|| id.extension(5))
            .unwrap_or("(none)")
            .to_string(),
        workflow: id.extension(18).map(str::to_string),
    })
}

/// Entries read from a log, newest first, until the window starts.
#[derive(Debug, Default)]
pub struct Scan {
    /// Log size.
    pub tree_size: u64,
    /// Entries read.
    pub scanned: u64,
    /// Certificates in the window.
    pub seen: Vec<Seen>,
    /// Key-signed entries in the window.
    pub key_signed: u64,
    /// Entries that did not decode.
    pub unreadable: u64,
}

/// Read the tiles of the log at `base` backwards from its checkpoint until a whole tile is
/// older than `since`.
pub async fn scan_tiles(base: &str, since: jiff::Timestamp) -> Result<Scan, InventoryError> {
    let client = TileClient::new(base).map_err(InventoryError::Tiles)?;
    let text = client.checkpoint().await.map_err(InventoryError::Tiles)?;
    let note = vouch_core::note::SignedNote::parse(&text).map_err(InventoryError::Checkpoint)?;
    let cp = vouch_core::note::Checkpoint::parse(&note.text).map_err(InventoryError::Checkpoint)?;
    let mut scan = Scan {
        tree_size: cp.size,
        ..Scan::default()
    };
    let mut tile = cp.size.div_ceil(TILE_WIDTH);
    while tile > 0 {
        tile -= 1;
        let width = (cp.size - tile * TILE_WIDTH).min(TILE_WIDTH);
        let id = TileId {
            level: 0,
            index: tile,
            width: u16::try_from(width).unwrap_or(256),
        };
        let bodies = client
            .entry_bundle(id)
            .await
            .map_err(InventoryError::Tiles)?;
        let mut newest: Option<jiff::Timestamp> = None;
        for (i, body) in bodies.iter().enumerate() {
            let index = tile * TILE_WIDTH + i as u64;
            scan.scanned += 1;
            let Ok(info) = EntryInfo::parse(body) else {
                scan.unreadable += 1;
                continue;
            };
            let mut keyed = false;
            for s in &info.signers {
                match s {
                    Signer::Certificate(der) => {
                        if let Some(seen) = seen_of(index, der, None) {
                            newest = newest.max(Some(seen.time));
                            if seen.time >= since {
                                scan.seen.push(seen);
                            }
                        }
                    }
                    Signer::PublicKey(_) => keyed = true,
                }
            }
            if keyed {
                scan.key_signed += 1;
            }
        }
        // A tile whose newest certificate is older than the window ends the scan (a tile with
        // no certificate at all does not).
        if newest.is_some_and(|t| t < since) {
            break;
        }
    }
    Ok(scan)
}

/// Read a Rekor v1 log at `base` by index, backwards from its tree size, until an entry is
/// older than `since`.
pub async fn scan_v1(base: &str, since: jiff::Timestamp) -> Result<Scan, InventoryError> {
    let base = base.trim_end_matches('/');
    let http = vouch_sign::HttpClient::new().map_err(|e| InventoryError::V1 {
        url: base.to_string(),
        source: Box::new(e),
    })?;
    let get = |url: String| {
        let http = &http;
        async move {
            let r = http
                .get("log", &url, &[])
                .await
                .map_err(|e| InventoryError::V1 {
                    url: url.clone(),
                    source: Box::new(e),
                })?;
            Ok::<_, InventoryError>((url, r.body))
        }
    };
    let (url, body) = get(format!("{base}/api/v1/log")).await?;
    let info: LogInfo =
        serde_json::from_slice(&body).map_err(|source| InventoryError::V1Body { url, source })?;
    let mut scan = Scan {
        tree_size: info.tree_size,
        ..Scan::default()
    };
    let mut index = info.tree_size;
    while index > 0 {
        index -= 1;
        if scan.scanned >= MAX_V1_ENTRIES {
            return Err(InventoryError::TooManyV1Entries);
        }
        scan.scanned += 1;
        let (url, body) = get(format!("{base}/api/v1/log/entries?logIndex={index}")).await?;
        let entries: BTreeMap<String, LogEntryV1> = serde_json::from_slice(&body)
            .map_err(|source| InventoryError::V1Body { url, source })?;
        let Some(e) = entries.into_values().next() else {
            scan.unreadable += 1;
            continue;
        };
        let Ok(time) = jiff::Timestamp::from_second(e.integrated_time) else {
            scan.unreadable += 1;
            continue;
        };
        if time < since {
            break;
        }
        let Some(info) = b64_decode(&e.body)
            .ok()
            .and_then(|b| EntryInfo::parse(&b).ok())
        else {
            scan.unreadable += 1;
            continue;
        };
        let mut keyed = false;
        for s in &info.signers {
            match s {
                Signer::Certificate(der) => {
                    if let Some(seen) = seen_of(e.log_index, der, Some(time)) {
                        scan.seen.push(seen);
                    }
                }
                Signer::PublicKey(_) => keyed = true,
            }
        }
        if keyed {
            scan.key_signed += 1;
        }
    }
    Ok(scan)
}

impl Inventory {
    /// Group `scan` by `group_by`.
    pub fn new(
        log: String,
        api: Api,
        scan: &Scan,
        group_by: GroupBy,
        since: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> Self {
        let mut groups: BTreeMap<String, (Group, Vec<String>)> = BTreeMap::new();
        for s in &scan.seen {
            let key = match group_by {
                GroupBy::Identity => s.identity.clone(),
                GroupBy::Issuer => s.issuer.clone(),
                GroupBy::Repository => s.repository.clone(),
            };
            let t = s.time.to_string();
            let (g, ids) = groups.entry(key.clone()).or_insert_with(|| {
                (
                    Group {
                        key,
                        count: 0,
                        identities: 0,
                        workflows: Vec::new(),
                        first_seen: t.clone(),
                        last_seen: t.clone(),
                        first_index: s.index,
                        last_index: s.index,
                    },
                    Vec::new(),
                )
            });
            g.count += 1;
            // RFC 3339 UTC strings from jiff order as the times do.
            if t < g.first_seen {
                g.first_seen = t.clone();
            }
            if t > g.last_seen {
                g.last_seen = t;
            }
            g.first_index = g.first_index.min(s.index);
            g.last_index = g.last_index.max(s.index);
            if !ids.contains(&s.identity) {
                ids.push(s.identity.clone());
            }
            if group_by == GroupBy::Repository
                && let Some(w) = &s.workflow
                && !g.workflows.contains(w)
            {
                g.workflows.push(w.clone());
            }
        }
        let mut groups: Vec<Group> = groups
            .into_values()
            .map(|(mut g, ids)| {
                g.identities = ids.len();
                g.workflows.sort();
                g
            })
            .collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        Self {
            log,
            api,
            time_source: match api {
                Api::Tiles => "certificate notBefore".into(),
                Api::V1 => "integratedTime".into(),
            },
            since: since.to_string(),
            generated_at: now.to_string(),
            tree_size: scan.tree_size,
            entries_scanned: scan.scanned,
            certificates: scan.seen.len() as u64,
            key_signed: scan.key_signed,
            unreadable: scan.unreadable,
            group_by,
            groups,
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// CSV (RFC 4180) with a header: `group,count,identities,first_seen,last_seen,first_index,last_index,workflows`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "group,count,identities,first_seen,last_seen,first_index,last_index,workflows\r\n",
        );
        for g in &self.groups {
            let fields = [
                csv_field(&g.key),
                g.count.to_string(),
                g.identities.to_string(),
                g.first_seen.clone(),
                g.last_seen.clone(),
                g.first_index.to_string(),
                g.last_index.to_string(),
                csv_field(&g.workflows.join(" ")),
            ];
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// Quote a CSV field when it holds a comma, quote or line break (RFC 4180 §2).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn seen(index: u64, identity: &str, repo: &str, t: &str) -> Seen {
        Seen {
            index,
            time: t.parse().unwrap(),
            identity: identity.into(),
            issuer: "https://issuer".into(),
            repository: repo.into(),
            workflow: None,
        }
    }

    #[test]
    fn groups_and_csv() {
        let scan = Scan {
            tree_size: 3,
            scanned: 3,
            seen: vec![
                seen(0, "a@x", "r1", "2026-12-01T00:00:00Z"),
                seen(1, "b@x", "r1", "2026-12-02T00:00:00Z"),
                seen(2, "a@x", "r,2", "2026-12-03T00:00:00Z"),
            ],
            ..Scan::default()
        };
        let t: jiff::Timestamp = "2026-12-03T01:00:00Z".parse().unwrap();
        let inv = Inventory::new("l".into(), Api::Tiles, &scan, GroupBy::Identity, t, t);
        assert_eq!(inv.groups[0].key, "a@x");
        assert_eq!(inv.groups[0].count, 2);
        assert_eq!(inv.groups[0].first_seen, "2026-12-01T00:00:00Z");
        assert_eq!(
            (inv.groups[0].first_index, inv.groups[0].last_index),
            (0, 2)
        );
        let inv = Inventory::new("l".into(), Api::Tiles, &scan, GroupBy::Repository, t, t);
        assert_eq!(inv.groups[0].identities, 2);
        assert!(inv.to_csv().contains("\"r,2\",1,1,"));
    }
}
