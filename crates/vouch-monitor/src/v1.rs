//! Reading a log through the Rekor v1 API, for logs that serve no tiles (public-good Rekor v1):
//! the signed tree head from `GET /api/v1/log`, consistency proofs from
//! `GET /api/v1/log/proof`, and entries with their inclusion proofs from
//! `POST /api/v1/log/entries/retrieve` (`logIndexes`, [`MAX_BATCH`] per request, as Rekor
//! allows).
//!
//! Nothing read here is trusted as such: [`crate::Monitor`] checks the tree head's signature and
//! its consistency with the stored one, and proves every entry's inclusion in the verified tree
//! before it is matched.

use crate::MonitorError;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use vouch_core::merkle::Hash;
use vouch_core::rekor::{ConsistencyProof, LogEntryV1, LogInfo};

/// Most log indexes one `entries/retrieve` request asks for (Rekor's search limit).
pub const MAX_BATCH: usize = 10;

/// A client of one log's Rekor v1 API.
#[derive(Debug, Clone)]
pub struct V1Client {
    http: vouch_sign::HttpClient,
    base: String,
}

/// A 32-byte hash from hex, or why not.
pub(crate) fn hex_hash(s: &str) -> Option<Hash> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).ok().map(|()| h)
}

impl V1Client {
    /// A client for the log whose API is under `base` (`<base>/api/v1/log`).
    pub fn new(base: &str) -> Result<Self, MonitorError> {
        let http = vouch_sign::HttpClient::new().map_err(|source| MonitorError::Http {
            source: Box::new(source),
        })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    fn fetch_error(url: String) -> impl FnOnce(vouch_sign::SignError) -> MonitorError {
        move |source| MonitorError::Fetch {
            url,
            source: Box::new(source),
        }
    }

    fn decode<T: DeserializeOwned>(url: String, body: &[u8]) -> Result<T, MonitorError> {
        serde_json::from_slice(body).map_err(|source| MonitorError::BadAnswer { url, source })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, MonitorError> {
        let url = format!("{}{path}", self.base);
        let r = self
            .http
            .get("log", &url, &[])
            .await
            .map_err(Self::fetch_error(url.clone()))?;
        Self::decode(url, &r.body)
    }

    /// `GET /api/v1/log`: the signed tree head (note text), checked to name the same size and
    /// root as the answer's `treeSize` and `rootHash`.
    pub async fn checkpoint(&self) -> Result<String, MonitorError> {
        let info: LogInfo = self.get_json("/api/v1/log").await?;
        let (_, cp) = crate::parse_note(&info.signed_tree_head)?;
        if cp.size != info.tree_size || hex_hash(&info.root_hash) != Some(cp.root_hash) {
            return Err(MonitorError::V1Mismatch {
                size: cp.size,
                detail: format!(
                    "GET /api/v1/log says treeSize {} rootHash {}, its signedTreeHead says size {} root {}",
                    info.tree_size,
                    info.root_hash,
                    cp.size,
                    hex::encode(cp.root_hash)
                ),
            });
        }
        Ok(info.signed_tree_head)
    }

    /// `GET /api/v1/log/proof?firstSize=&lastSize=`: the consistency proof's hashes.
    pub async fn consistency(&self, first: u64, last: u64) -> Result<Vec<Hash>, MonitorError> {
        let p: ConsistencyProof = self
            .get_json(&format!(
                "/api/v1/log/proof?firstSize={first}&lastSize={last}"
            ))
            .await?;
        p.hashes
            .iter()
            .map(|h| {
                hex_hash(h).ok_or_else(|| MonitorError::V1Mismatch {
                    size: last,
                    detail: format!("consistency proof {first}→{last} holds {h:?}, not a hex hash"),
                })
            })
            .collect()
    }

    /// `POST /api/v1/log/entries/retrieve` for `indexes` (at most [`MAX_BATCH`]): the entries
    /// found, in any order.
    pub async fn entries(&self, indexes: &[u64]) -> Result<Vec<LogEntryV1>, MonitorError> {
        /// `SearchLogQuery` with log indexes only.
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ByIndex<'a> {
            log_indexes: &'a [u64],
        }
        let url = format!("{}/api/v1/log/entries/retrieve", self.base);
        let body = serde_json::to_vec(&ByIndex {
            log_indexes: indexes,
        })
        .map_err(MonitorError::Json)?;
        let r = self
            .http
            .post(
                "log",
                &url,
                &[("content-type", "application/json")],
                body,
                &[],
            )
            .await
            .map_err(Self::fetch_error(url.clone()))?;
        let found: Vec<BTreeMap<String, LogEntryV1>> = Self::decode(url, &r.body)?;
        Ok(found.into_iter().flat_map(BTreeMap::into_values).collect())
    }
}
