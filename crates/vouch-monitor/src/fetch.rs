//! Reading a log through its C2SP tlog-tiles API (`/checkpoint`, `/tile/<L>/<N>[.p/<W>]`,
//! `/tile/entries/<N>[.p/<W>]`) with the shared retrying HTTP client, and an in-memory set of
//! fetched hash tiles that proofs and roots are computed from.

use crate::MonitorError;
use std::collections::HashMap;
use std::sync::Arc;
use vouch_core::merkle::{Hash, ProofError};
use vouch_core::tiles::{self, HASH_SIZE, NodeSource, TileId};

/// A client of one log's tiles.
#[derive(Debug, Clone)]
pub struct TileClient {
    http: vouch_sign::HttpClient,
    base: String,
}

impl TileClient {
    /// A client for the log whose tlog-tiles prefix is `base` (no trailing slash needed).
    pub fn new(base: &str) -> Result<Self, MonitorError> {
        let http = vouch_sign::HttpClient::new().map_err(|source| MonitorError::Http {
            source: Box::new(source),
        })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, MonitorError> {
        let url = format!("{}/{path}", self.base);
        self.http
            .get("log", &url, &[])
            .await
            .map(|r| r.body)
            .map_err(|source| MonitorError::Fetch {
                url,
                source: Box::new(source),
            })
    }

    /// The current signed checkpoint, as text.
    pub async fn checkpoint(&self) -> Result<String, MonitorError> {
        let body = self.get("checkpoint").await?;
        String::from_utf8(body).map_err(|_| MonitorError::NotText {
            url: format!("{}/checkpoint", self.base),
        })
    }

    /// A hash tile, checked to hold exactly `width` hashes.
    pub async fn hash_tile(&self, id: TileId) -> Result<Vec<Hash>, MonitorError> {
        let bytes = self.get(&id.path()).await?;
        let want = usize::from(id.width) * HASH_SIZE;
        if bytes.len() != want {
            return Err(MonitorError::TileSize {
                path: id.path(),
                got: bytes.len(),
                want,
            });
        }
        Ok(bytes
            .chunks_exact(HASH_SIZE)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect())
    }

    /// An entry bundle, checked to hold exactly `width` entries.
    pub async fn entry_bundle(&self, id: TileId) -> Result<Vec<Vec<u8>>, MonitorError> {
        let bytes = self.get(&id.entries_path()).await?;
        let entries = tiles::parse_entry_bundle(&bytes).map_err(|e| MonitorError::Bundle {
            path: id.entries_path(),
            reason: e.to_string(),
        })?;
        if entries.len() != usize::from(id.width) {
            return Err(MonitorError::Bundle {
                path: id.entries_path(),
                reason: format!("{} entries, expected {}", entries.len(), id.width),
            });
        }
        Ok(entries)
    }

    /// Fetch `ids` concurrently (at most `concurrency` at once) into `set`.
    pub async fn fill(
        &self,
        set: &mut TileSet,
        ids: impl IntoIterator<Item = TileId>,
        concurrency: usize,
    ) -> Result<(), MonitorError> {
        let mut pending = std::collections::VecDeque::new();
        let todo: Vec<TileId> = ids
            .into_iter()
            .filter(|id| !set.tiles.contains_key(id))
            .collect();
        let mut ids = todo.into_iter();
        loop {
            while pending.len() < concurrency.max(1) {
                let Some(id) = ids.next() else { break };
                let c = self.clone();
                pending.push_back((id, tokio::spawn(async move { c.hash_tile(id).await })));
            }
            let Some((id, h)) = pending.pop_front() else {
                return Ok(());
            };
            let hashes = h.await.map_err(|source| MonitorError::Task { source })??;
            set.tiles.insert(id, Arc::new(hashes));
        }
    }
}

/// Fetched hash tiles of the tree of one size: a [`NodeSource`] for proofs and roots.
#[derive(Debug, Clone)]
pub struct TileSet {
    /// The tree size.
    pub size: u64,
    /// The tiles by coordinate (width as served for this size).
    pub tiles: HashMap<TileId, Arc<Vec<Hash>>>,
}

impl TileSet {
    /// An empty set for the tree of `size` leaves.
    pub fn new(size: u64) -> Self {
        Self {
            size,
            tiles: HashMap::new(),
        }
    }

    /// The stored hash at `level`, `index` (a hash of a perfect subtree of height 8·level).
    pub fn stored(&self, level: u8, index: u64) -> Option<Hash> {
        let (tile, first, _) =
            tiles::tile_for_node(u32::from(level) * tiles::TILE_HEIGHT, index, self.size)?;
        self.tiles.get(&tile)?.get(first).copied()
    }
}

impl NodeSource for TileSet {
    fn node(&mut self, height: u32, index: u64) -> Result<Hash, ProofError> {
        let missing = ProofError::IndexOutOfRange {
            index,
            size: self.size,
        };
        let (id, first, count) = tiles::tile_for_node(height, index, self.size).ok_or(missing)?;
        let t = self.tiles.get(&id).ok_or(ProofError::IndexOutOfRange {
            index,
            size: self.size,
        })?;
        t.get(first..first + count)
            .map(tiles::hash_run)
            .ok_or(ProofError::IndexOutOfRange {
                index,
                size: self.size,
            })
    }
}
