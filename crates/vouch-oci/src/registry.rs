//! A small, counted OCI distribution client.
//!
//! Image references and manifest types come from `oci-client`; the HTTP exchange is done here
//! on reqwest (the same version `oci-client` uses) because `oci-client` 0.18 re-probes `GET /v2/`
//! before every request made with anonymous credentials (the "no challenge" answer is never
//! cached), which doubles the request count. Here every HTTP request is counted
//! ([`Registry::request_count`]), and an auth challenge is answered once per repository and
//! scope:
//!
//! * anonymous: nothing is sent until a registry answers `401`;
//! * `Basic` challenge: the configured (or `~/.docker/config.json`) username/password;
//! * `Bearer` challenge: a token from the realm (with basic credentials when known), cached.
//!
//! Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) and every registry when
//! `allow_insecure` is set are spoken to over plain HTTP. Idempotent requests are retried
//! twice with backoff on 429 and 502–504 answers and on connection errors (each attempt
//! counts).

use crate::OciError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oci_client::Reference;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Mutex;

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker v2 schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

// Catalog and tag listing (`vouch audit registry`).
mod listing;

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Retries after a 429/502/503/504 answer or a connection error.
const MAX_RETRIES: u32 = 2;

/// Largest manifest or signature blob read into memory.
const MAX_BODY: usize = 16 << 20;

/// Registry credentials.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    /// No credentials (anonymous; bearer tokens are still requested when challenged).
    #[default]
    Anonymous,
    /// Username and password (or identity token) for Basic auth and token exchange.
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: String,
    },
    /// A registry bearer token used as is.
    Bearer(String),
}

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Use plain HTTP for every registry (cosign `--allow-insecure-registry`).
    pub allow_insecure: bool,
    /// Credentials for every registry; when `None`, `~/.docker/config.json` is consulted.
    pub credentials: Option<Credentials>,
    /// Extra PEM CA certificates for TLS.
    pub ca_certificates: Vec<Vec<u8>>,
}

/// A manifest as fetched: its bytes, media type and digest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The raw bytes (digested as is).
    pub bytes: Vec<u8>,
    /// The media type (Content-Type, or the `mediaType` field).
    pub media_type: String,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

/// A descriptor of a resolved manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Manifest media type.
    pub media_type: String,
    /// Manifest size in bytes.
    pub size: u64,
}

/// (registry, repository, push?) — what a cached `Authorization` value is good for.
type AuthKey = (String, String, bool);

/// An OCI registry client shared by all registries a command talks to.
#[derive(Clone, Debug)]
pub struct Registry {
    /// When set, every request is served by this OCI image layout instead of the network.
    local: Option<Arc<crate::oci_dir::OciDir>>,
    http: reqwest::Client,
    opts: RegistryOptions,
    count: Arc<AtomicU64>,
    /// (registry, repository, push?) → Authorization header value.
    auth: Arc<Mutex<HashMap<AuthKey, String>>>,
}

/// The `sha256:<hex>` digest of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
    )
}

/// Whether `host[:port]` names this machine.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

impl Registry {
    /// A client with `opts`.
    pub fn new(opts: RegistryOptions) -> Result<Self, OciError> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::limited(5));
        for pem in &opts.ca_certificates {
            for c in reqwest::Certificate::from_pem_bundle(pem).map_err(|source| {
                OciError::HttpClient {
                    what: "CA certificates",
                    source,
                }
            })? {
                b = b.add_root_certificate(c);
            }
        }
        let http = b.build().map_err(|source| OciError::HttpClient {
            what: "HTTP client",
            source,
        })?;
        Ok(Registry {
            local: None,
            http,
            opts,
            count: Arc::new(AtomicU64::new(0)),
            auth: Arc::default(),
        })
    }

    /// A client that reads and writes the OCI image layout `dir` instead of a registry: the
    /// registry and repository of every reference are ignored, tags are the layout's
    /// `org.opencontainers.image.ref.name` annotations, and no request leaves the process
    /// (`vouch save`/`load`, `verify --local-image`).
    pub fn oci_dir(dir: crate::oci_dir::OciDir) -> Result<Self, OciError> {
        let mut r = Registry::new(RegistryOptions::default())?;
        r.local = Some(Arc::new(dir));
        Ok(r)
    }

    /// The OCI image layout this client serves from, if it is one.
    pub fn local_layout(&self) -> Option<&crate::oci_dir::OciDir> {
        self.local.as_deref()
    }

    /// How many HTTP requests this client (and its clones) has sent, token requests included.
    pub fn request_count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn base(&self, r: &Reference) -> String {
        let reg = r.resolve_registry();
        let scheme = if self.opts.allow_insecure || is_loopback(reg) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{reg}/v2/{}", r.repository())
    }

    fn credentials_for(&self, registry: &str) -> Credentials {
        match &self.opts.credentials {
            Some(c) => c.clone(),
            None => crate::docker_config::lookup(registry).unwrap_or_default(),
        }
    }

    /// One request, retried with backoff (0.25 s, 0.5 s) on 429 and 502–504 answers and on
    /// connection errors, for idempotent methods (not the POST that opens an upload).
    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        auth: Option<&str>,
    ) -> Result<reqwest::Response, OciError> {
        vouch_core::egress::check("registry client", url)?;
        let retryable = *method != Method::POST;
        let mut attempt = 0u32;
        loop {
            let mut req = self
                .http
                .request(method.clone(), url)
                .headers(headers.clone());
            if let Some(a) = auth {
                req = req.header(AUTHORIZATION, a);
            }
            if let Some(b) = body {
                req = req.body(b.to_vec());
            }
            self.count.fetch_add(1, Ordering::Relaxed);
            let res = req.send().await;
            let again = retryable
                && attempt < MAX_RETRIES
                && match &res {
                    Ok(r) => matches!(r.status().as_u16(), 429 | 502 | 503 | 504),
                    Err(e) => e.is_connect() || e.is_timeout(),
                };
            if !again {
                return res.map_err(|e| OciError::Unreachable {
                    url: url.to_string(),
                    detail: vouch_core::error_chain(&e),
                });
            }
            attempt += 1;
            tracing::debug!(url, attempt, "retrying registry request");
            tokio::time::sleep(std::time::Duration::from_millis(250 << (attempt - 1))).await;
        }
    }

    /// Send a request, answering one auth challenge.
    async fn send(
        &self,
        r: &Reference,
        push: bool,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<&[u8]>,
    ) -> Result<reqwest::Response, OciError> {
        let key = (
            r.resolve_registry().to_string(),
            r.repository().to_string(),
            push,
        );
        let cached = self.auth.lock().await.get(&key).cloned();
        let creds = self.credentials_for(r.resolve_registry());
        let initial = match (&cached, &creds) {
            (Some(a), _) => Some(a.clone()),
            (None, Credentials::Bearer(t)) => Some(format!("Bearer {t}")),
            _ => None,
        };
        let resp = self
            .send_once(&method, url, &headers, body, initial.as_deref())
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let header = self.answer_challenge(r, push, &challenge, &creds).await?;
        let Some(header) = header else {
            return Ok(resp);
        };
        self.auth.lock().await.insert(key, header.clone());
        self.send_once(&method, url, &headers, body, Some(&header))
            .await
    }

    async fn answer_challenge(
        &self,
        r: &Reference,
        push: bool,
        challenge: &str,
        creds: &Credentials,
    ) -> Result<Option<String>, OciError> {
        let (scheme, params) = parse_challenge(challenge);
        let basic = match creds {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{password}"))
            )),
            _ => None,
        };
        if scheme.eq_ignore_ascii_case("basic") {
            return Ok(basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Ok(None);
        }
        let Some(realm) = params.get("realm") else {
            return Ok(None);
        };
        let scope = format!(
            "repository:{}:{}",
            r.repository(),
            if push { "pull,push" } else { "pull" }
        );
        let mut url = reqwest::Url::parse(realm).map_err(|source| OciError::TokenRealm {
            realm: realm.to_string(),
            source,
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = params.get("service") {
                q.append_pair("service", s);
            }
            q.append_pair("scope", &scope);
        }
        vouch_core::egress::check("registry token endpoint", url.as_str())?;
        let mut req = self.http.get(url.clone());
        if let Some(b) = &basic {
            req = req.header(AUTHORIZATION, b);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let resp = req.send().await.map_err(|e| OciError::Unreachable {
            url: url.to_string(),
            detail: vouch_core::error_chain(&e),
        })?;
        if !resp.status().is_success() {
            return Err(OciError::Auth(format!(
                "token endpoint {realm} answered {} for scope {scope}",
                resp.status()
            )));
        }
        let v: serde_json::Value = resp
            .json()
            .await
            .map_err(|source| OciError::TokenResponse {
                realm: realm.to_string(),
                source,
            })?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| OciError::Auth(format!("token endpoint {realm}: no token")))?;
        Ok(Some(format!("Bearer {token}")))
    }

    /// Resolve a reference (tag or digest) to its manifest descriptor with one `HEAD`
    /// (falling back to `GET` when the registry sends no digest header).
    pub async fn resolve(&self, r: &Reference) -> Result<Resolved, OciError> {
        let target = reference_target(r);
        if let Some(l) = &self.local {
            let m = l
                .get_manifest(&target)?
                .ok_or_else(|| OciError::NotFound(format!("{target} in {}", l.path().display())))?;
            return Ok(Resolved {
                digest: m.digest,
                media_type: m.media_type,
                size: m.bytes.len() as u64,
            });
        }
        let url = format!("{}/manifests/{target}", self.base(r));
        let mut h = HeaderMap::new();
        h.insert(
            ACCEPT,
            reqwest::header::HeaderValue::from_static(MANIFEST_ACCEPT),
        );
        let resp = self.send(r, false, Method::HEAD, &url, h, None).await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Err(OciError::NotFound(r.whole()));
        }
        if !status.is_success() {
            return Err(status_error(&url, status, ""));
        }
        let digest = header(resp.headers(), "docker-content-digest");
        let media_type = header(resp.headers(), "content-type");
        let size = header(resp.headers(), "content-length")
            .parse::<u64>()
            .unwrap_or(0);
        match digest {
            d if d.starts_with("sha256:") && r.digest().is_none_or(|x| x == d) => Ok(Resolved {
                digest: d,
                media_type,
                size,
            }),
            _ => {
                let m = self
                    .get_manifest(r)
                    .await?
                    .ok_or_else(|| OciError::NotFound(r.whole()))?;
                Ok(Resolved {
                    digest: m.digest,
                    media_type: m.media_type,
                    size: m.bytes.len() as u64,
                })
            }
        }
    }

    /// Fetch a manifest by tag or digest; `None` when it does not exist. A manifest fetched
    /// by digest is checked against it.
    pub async fn get_manifest(&self, r: &Reference) -> Result<Option<Manifest>, OciError> {
        let target = reference_target(r);
        if let Some(l) = &self.local {
            return l.get_manifest(&target);
        }
        let url = format!("{}/manifests/{target}", self.base(r));
        let mut h = HeaderMap::new();
        h.insert(
            ACCEPT,
            reqwest::header::HeaderValue::from_static(MANIFEST_ACCEPT),
        );
        let resp = self.send(r, false, Method::GET, &url, h, None).await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let ct = header(resp.headers(), "content-type");
        let bytes = read_body(resp, &url).await?;
        if !status.is_success() {
            return Err(status_error(&url, status, &String::from_utf8_lossy(&bytes)));
        }
        let digest = sha256_digest(&bytes);
        if let Some(d) = r.digest()
            && d != digest
        {
            return Err(OciError::Integrity(format!(
                "manifest {url} has digest {digest}, expected {d}"
            )));
        }
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(String::from)
            })
            .unwrap_or(ct);
        Ok(Some(Manifest {
            bytes,
            media_type,
            digest,
        }))
    }

    /// Fetch a blob and check its digest.
    pub async fn get_blob(&self, r: &Reference, digest: &str) -> Result<Vec<u8>, OciError> {
        self.get_blob_limited(r, digest, MAX_BODY).await
    }

    /// [`get_blob`](Self::get_blob) for blobs up to `limit` bytes (image layers).
    pub async fn get_blob_limited(
        &self,
        r: &Reference,
        digest: &str,
        limit: usize,
    ) -> Result<Vec<u8>, OciError> {
        if let Some(l) = &self.local {
            return l.get_blob(digest);
        }
        let url = format!("{}/blobs/{digest}", self.base(r));
        let resp = self
            .send(r, false, Method::GET, &url, HeaderMap::new(), None)
            .await?;
        let status = resp.status();
        let bytes = read_body_limited(resp, &url, limit).await?;
        if status == StatusCode::NOT_FOUND {
            return Err(OciError::NotFound(format!(
                "blob {digest} in {}",
                r.repository()
            )));
        }
        if !status.is_success() {
            return Err(status_error(&url, status, &String::from_utf8_lossy(&bytes)));
        }
        let got = sha256_digest(&bytes);
        if got != digest {
            return Err(OciError::Integrity(format!(
                "blob {url} has digest {got}, expected {digest}"
            )));
        }
        Ok(bytes)
    }

    /// Whether the repository of `r` holds the blob `digest` (one `HEAD`).
    pub async fn has_blob(&self, r: &Reference, digest: &str) -> Result<bool, OciError> {
        if let Some(l) = &self.local {
            return Ok(l.has_blob(digest));
        }
        let url = format!("{}/blobs/{digest}", self.base(r));
        let resp = self
            .send(r, false, Method::HEAD, &url, HeaderMap::new(), None)
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            s => Err(status_error(&url, s, "")),
        }
    }

    /// Delete the manifest `digest` from the repository of `r` (the registry must allow
    /// deletes); `Ok(false)` when it does not exist.
    pub async fn delete_manifest(&self, r: &Reference, digest: &str) -> Result<bool, OciError> {
        if let Some(l) = &self.local {
            return l.untag_digest(digest);
        }
        let url = format!("{}/manifests/{digest}", self.base(r));
        let resp = self
            .send(r, true, Method::DELETE, &url, HeaderMap::new(), None)
            .await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        if !status.is_success() {
            let body = read_body(resp, &url).await.unwrap_or_default();
            return Err(status_error(&url, status, &String::from_utf8_lossy(&body)));
        }
        Ok(true)
    }

    /// Upload a blob (POST then PUT `?digest=`); returns its digest.
    pub async fn put_blob(&self, r: &Reference, data: &[u8]) -> Result<String, OciError> {
        if let Some(l) = &self.local {
            return l.put_blob(data);
        }
        let digest = sha256_digest(data);
        let url = format!("{}/blobs/uploads/", self.base(r));
        let resp = self
            .send(r, true, Method::POST, &url, HeaderMap::new(), None)
            .await?;
        let status = resp.status();
        if status != StatusCode::ACCEPTED && !status.is_success() {
            let body = read_body(resp, &url).await.unwrap_or_default();
            return Err(status_error(&url, status, &String::from_utf8_lossy(&body)));
        }
        let location = header(resp.headers(), "location");
        if location.is_empty() {
            return Err(OciError::Protocol(format!(
                "{url}: upload session without a Location header"
            )));
        }
        let base = reqwest::Url::parse(&url).map_err(|source| OciError::Url {
            context: url.clone(),
            source,
        })?;
        let mut put = base.join(&location).map_err(|source| OciError::Url {
            context: format!("upload Location {location:?}"),
            source,
        })?;
        put.query_pairs_mut().append_pair("digest", &digest);
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/octet-stream"),
        );
        let put_url = put.to_string();
        let resp = self
            .send(r, true, Method::PUT, &put_url, h, Some(data))
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body = read_body(resp, &put_url).await.unwrap_or_default();
            return Err(status_error(
                &put_url,
                status,
                &String::from_utf8_lossy(&body),
            ));
        }
        Ok(digest)
    }

    /// Upload a manifest under `target` (a tag or its digest); returns its digest and whether
    /// the registry acknowledged a `subject` (the `OCI-Subject` header of the referrers API).
    pub async fn put_manifest(
        &self,
        r: &Reference,
        target: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(String, bool), OciError> {
        if let Some(l) = &self.local {
            return Ok((l.put_manifest(target, bytes, media_type)?, false));
        }
        let url = format!("{}/manifests/{target}", self.base(r));
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            reqwest::header::HeaderValue::from_str(media_type).map_err(|source| {
                OciError::MediaType {
                    media_type: media_type.to_string(),
                    source,
                }
            })?,
        );
        let resp = self
            .send(r, true, Method::PUT, &url, h, Some(bytes))
            .await?;
        let status = resp.status();
        if !status.is_success() {
            let body = read_body(resp, &url).await.unwrap_or_default();
            return Err(status_error(&url, status, &String::from_utf8_lossy(&body)));
        }
        let subject_ack = resp.headers().contains_key("oci-subject");
        Ok((sha256_digest(bytes), subject_ack))
    }

    /// The referrers API: `Ok(None)` when the registry does not implement it (404).
    pub async fn referrers_api(
        &self,
        r: &Reference,
        subject: &str,
        artifact_type: Option<&str>,
    ) -> Result<Option<oci_client::manifest::OciImageIndex>, OciError> {
        if self.local.is_some() {
            // An image layout has no referrers API: referrers are found through the
            // `sha256-<hex>` fallback index, which `save` always writes.
            return Ok(None);
        }
        let mut url = format!("{}/referrers/{subject}", self.base(r));
        if let Some(t) = artifact_type {
            url.push_str("?artifactType=");
            url.push_str(&t.replace('+', "%2B"));
        }
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, reqwest::header::HeaderValue::from_static(OCI_INDEX));
        let resp = self.send(r, false, Method::GET, &url, h, None).await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let bytes = read_body(resp, &url).await?;
        if !status.is_success() {
            return Err(status_error(&url, status, &String::from_utf8_lossy(&bytes)));
        }
        let idx = serde_json::from_slice(&bytes).map_err(|source| OciError::ProtocolJson {
            context: format!("referrers index from {url}"),
            source,
        })?;
        Ok(Some(idx))
    }
}

/// The tag or digest a reference names (`latest` when neither).
pub fn reference_target(r: &Reference) -> String {
    match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    }
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

async fn read_body(resp: reqwest::Response, url: &str) -> Result<Vec<u8>, OciError> {
    read_body_limited(resp, url, MAX_BODY).await
}

async fn read_body_limited(
    resp: reqwest::Response,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, OciError> {
    if resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(OciError::Protocol(format!(
            "{url}: body larger than {limit} bytes"
        )));
    }
    let mut resp = resp;
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| OciError::Unreachable {
        url: url.to_string(),
        detail: vouch_core::error_chain(&e),
    })? {
        if out.len() + chunk.len() > limit {
            return Err(OciError::Protocol(format!(
                "{url}: body larger than {limit} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn status_error(url: &str, status: StatusCode, body: &str) -> OciError {
    let detail: String = body.chars().take(300).collect();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return OciError::Auth(format!("{url} answered {status}: {detail}"));
    }
    OciError::Registry {
        url: url.to_string(),
        status: status.as_u16(),
        detail,
    }
}

/// Parse `Bearer realm="…",service="…"` into the scheme and its parameters.
fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, remaining) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(k, v.to_string());
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_string(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:a/b:pull");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "Basic");
        assert_eq!(p["realm"], "Registry Realm");
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("registry.local:5000"));
    }
}
