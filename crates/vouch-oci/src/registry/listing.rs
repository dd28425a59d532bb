//! Listing what a registry holds: the catalog (`GET /v2/_catalog`) and a repository's tags
//! (`GET /v2/<name>/tags/list`), both paginated with `n` and the `Link` header as the
//! distribution spec describes. Used by `vouch audit registry`.

use super::{Registry, read_body, status_error};
use crate::OciError;
use oci_client::Reference;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

/// Page size asked for.
const PAGE: usize = 1000;
/// Most pages followed (a bound on a misbehaving registry's `Link` loop).
const MAX_PAGES: usize = 1000;

#[derive(serde::Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The next page's path from a `Link: </v2/…?last=x&n=y>; rel="next"` header.
fn next_link(h: &HeaderMap) -> Option<String> {
    let v = h.get("link")?.to_str().ok()?;
    let start = v.find('<')? + 1;
    let end = v[start..].find('>')? + start;
    v[end..]
        .contains("rel=\"next\"")
        .then(|| v[start..end].to_string())
}

impl Registry {
    async fn paged<T: serde::de::DeserializeOwned>(
        &self,
        r: &Reference,
        first: String,
        mut items: impl FnMut(T),
    ) -> Result<(), OciError> {
        let origin = {
            let base = self.base(r);
            let cut = base.find("/v2/").unwrap_or(base.len());
            base[..cut].to_string()
        };
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let resp = self
                .send(r, false, Method::GET, &url, HeaderMap::new(), None)
                .await?;
            let status = resp.status();
            let next = next_link(resp.headers());
            let bytes = read_body(resp, &url).await?;
            if status == StatusCode::NOT_FOUND {
                return Err(OciError::NotFound(url));
            }
            if !status.is_success() {
                return Err(status_error(&url, status, &String::from_utf8_lossy(&bytes)));
            }
            let page: T =
                serde_json::from_slice(&bytes).map_err(|source| OciError::ProtocolJson {
                    context: url.clone(),
                    source,
                })?;
            items(page);
            match next {
                Some(n) if n.starts_with('/') => url = format!("{origin}{n}"),
                Some(n) => url = n,
                None => return Ok(()),
            }
        }
        Err(OciError::Protocol(format!(
            "more than {MAX_PAGES} pages listing {}",
            r.whole()
        )))
    }

    /// Every repository of the registry `r` names (its repository part is ignored).
    pub async fn catalog(&self, r: &Reference) -> Result<Vec<String>, OciError> {
        let base = self.base(r);
        let cut = base.find("/v2/").unwrap_or(base.len());
        let first = format!("{}/v2/_catalog?n={PAGE}", &base[..cut]);
        let mut out = Vec::new();
        self.paged(r, first, |c: Catalog| {
            out.extend(c.repositories.unwrap_or_default())
        })
        .await?;
        Ok(out)
    }

    /// Every tag of the repository `r` names.
    pub async fn list_tags(&self, r: &Reference) -> Result<Vec<String>, OciError> {
        let first = format!("{}/tags/list?n={PAGE}", self.base(r));
        let mut out = Vec::new();
        self.paged(r, first, |t: TagList| {
            out.extend(t.tags.unwrap_or_default())
        })
        .await?;
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            "</v2/_catalog?last=b&n=2>; rel=\"next\"".parse().unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("/v2/_catalog?last=b&n=2"));
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
