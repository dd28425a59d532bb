//! The upstream log's C2SP tlog-tiles read API, over an injected `reqwest::Client`.

use crate::ProxyError;
use vouch_core::tiles::TileId;

/// Largest checkpoint or tile body read from the upstream.
pub const MAX_UPSTREAM_BODY: usize = 1024 * 1024 + 64 * 1024;

/// A client of one upstream log.
#[derive(Clone, Debug)]
pub struct Upstream {
    http: reqwest::Client,
    base: String,
}

impl Upstream {
    /// The log whose tlog-tiles prefix is `base` (no trailing slash needed).
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `<base>/<path>`: the body on 200, `None` on 404.
    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, ProxyError> {
        let url = format!("{}/{path}", self.base);
        let unreachable = |source| ProxyError::Unreachable {
            url: url.clone(),
            source,
        };
        let resp = self.http.get(&url).send().await.map_err(unreachable)?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(ProxyError::UpstreamStatus {
                url,
                status: status.as_u16(),
            });
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_UPSTREAM_BODY as u64)
        {
            return Err(ProxyError::UpstreamStatus { url, status: 413 });
        }
        let body = resp.bytes().await.map_err(unreachable)?;
        if body.len() > MAX_UPSTREAM_BODY {
            return Err(ProxyError::UpstreamStatus { url, status: 413 });
        }
        Ok(Some(body.to_vec()))
    }

    /// The upstream's current checkpoint text.
    pub async fn checkpoint(&self) -> Result<String, ProxyError> {
        let body = self
            .get("checkpoint")
            .await?
            .ok_or_else(|| ProxyError::UpstreamStatus {
                url: format!("{}/checkpoint", self.base),
                status: 404,
            })?;
        String::from_utf8(body).map_err(|_| {
            ProxyError::MalformedCheckpoint(vouch_core::note::NoteError::Malformed(
                "checkpoint is not UTF-8",
            ))
        })
    }

    /// A hash tile or entry bundle; a 404 is an error (the checkpoint says it exists).
    pub async fn tile(&self, id: &TileId, entries: bool) -> Result<Vec<u8>, ProxyError> {
        let path = if entries {
            id.entries_path()
        } else {
            id.path()
        };
        self.get(&path)
            .await?
            .ok_or_else(|| ProxyError::UpstreamStatus {
                url: format!("{}/{path}", self.base),
                status: 404,
            })
    }
}
