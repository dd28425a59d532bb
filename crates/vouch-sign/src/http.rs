//! The HTTP client the signing flow uses: one `reqwest` client (rustls, system proxy settings,
//! optional extra CA certificates), bounded response sizes, and retries with exponential backoff
//! on 429, 502, 503, 504 and connection failures, honouring `Retry-After`. Every request carries
//! this run's W3C `traceparent` ([`vouch_core::trace`]), so servers' logs can be correlated.

use crate::SignError;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use std::time::Duration;

/// Largest response body read from any service.
const MAX_RESPONSE: usize = 4 << 20;

/// An injectable HTTP client for the signing services.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    attempts: u32,
    base_backoff: Duration,
}

/// A successful (2xx) response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpClient {
    /// A client with default settings: 60 s timeout (Rekor v2 holds requests until the next
    /// checkpoint), 4 attempts, system proxies from the environment.
    pub fn new() -> Result<Self, SignError> {
        Self::with_ca_certificates(&[])
    }

    /// A client that also trusts the given PEM CA certificates (private PKI for the services).
    pub fn with_ca_certificates(pems: &[Vec<u8>]) -> Result<Self, SignError> {
        let mut b = reqwest::Client::builder()
            .pool_idle_timeout(vouch_core::limits::CLIENT_POOL_IDLE_TIMEOUT)
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")));
        for pem in pems {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| SignError::Http {
                    service: "client",
                    url: String::new(),
                    detail: format!("bad CA certificate file: {e}"),
                })?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let inner = b.build().map_err(|e| SignError::Http {
            service: "client",
            url: String::new(),
            detail: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Self::from_reqwest(inner))
    }

    /// Wrap an existing `reqwest` client (tests, custom TLS or proxy settings).
    pub fn from_reqwest(inner: reqwest::Client) -> Self {
        HttpClient {
            inner,
            attempts: 4,
            base_backoff: Duration::from_millis(250),
        }
    }

    /// Set the number of attempts (at least 1) for retryable failures.
    pub fn attempts(mut self, n: u32) -> Self {
        self.attempts = n.max(1);
        self
    }

    /// The underlying client.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// POST `body` with `headers` (content type, accept, ...); retries retryable failures.
    /// Non-2xx answers become [`SignError::Http`] carrying the server's message. `ok_statuses`
    /// lists extra non-2xx statuses to return instead of failing (e.g. 409 from a log).
    pub async fn post(
        &self,
        service: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        ok_statuses: &[u16],
    ) -> Result<Response, SignError> {
        let err = |detail: String| SignError::Http {
            service,
            url: url.to_string(),
            detail,
        };
        vouch_core::egress::check(service, url)?;
        let mut last = String::new();
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tracing::debug!(service, url, attempt, "retrying");
            }
            let mut req = self
                .inner
                .post(url)
                .header("traceparent", vouch_core::trace::outgoing())
                .body(body.clone());
            for (k, v) in headers {
                let v = HeaderValue::from_str(v).map_err(|_| err(format!("bad {k} header")))?;
                req = req.header(*k, v);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = describe_reqwest(&e);
                    if e.is_connect() || e.is_timeout() {
                        self.sleep(attempt, None).await;
                        continue;
                    }
                    return Err(err(last));
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_limited(resp).await.map_err(&err)?;
            if status.is_success() || ok_statuses.contains(&status.as_u16()) {
                return Ok(Response {
                    status,
                    headers,
                    body,
                });
            }
            last = format!("HTTP {}: {}", status.as_u16(), server_message(&body));
            if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
                let retry_after = headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(10)));
                self.sleep(attempt, retry_after).await;
                continue;
            }
            return Err(err(last));
        }
        Err(err(format!(
            "{last} (gave up after {} attempts)",
            self.attempts
        )))
    }

    /// GET `url`, with the same retry policy as [`post`](Self::post).
    pub async fn get(
        &self,
        service: &'static str,
        url: &str,
        extra_headers: &[(&str, String)],
    ) -> Result<Response, SignError> {
        let err = |detail: String| SignError::Http {
            service,
            url: url.to_string(),
            detail,
        };
        vouch_core::egress::check(service, url)?;
        let mut last = String::new();
        for attempt in 0..self.attempts {
            let mut req = self
                .inner
                .get(url)
                .header("traceparent", vouch_core::trace::outgoing());
            for (k, v) in extra_headers {
                let v = HeaderValue::from_str(v).map_err(|_| err(format!("bad {k} header")))?;
                req = req.header(*k, v);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = describe_reqwest(&e);
                    if e.is_connect() || e.is_timeout() {
                        self.sleep(attempt, None).await;
                        continue;
                    }
                    return Err(err(last));
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_limited(resp).await.map_err(&err)?;
            if status.is_success() {
                return Ok(Response {
                    status,
                    headers,
                    body,
                });
            }
            last = format!("HTTP {}: {}", status.as_u16(), server_message(&body));
            if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
                self.sleep(attempt, None).await;
                continue;
            }
            return Err(err(last));
        }
        Err(err(format!(
            "{last} (gave up after {} attempts)",
            self.attempts
        )))
    }

    async fn sleep(&self, attempt: u32, retry_after: Option<Duration>) {
        if attempt + 1 >= self.attempts {
            return;
        }
        let backoff = self.base_backoff * 2u32.saturating_pow(attempt.min(6));
        tokio::time::sleep(retry_after.unwrap_or(backoff).max(backoff)).await;
    }
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut s = if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the response: {e}"))?
    {
        if out.len() + chunk.len() > MAX_RESPONSE {
            return Err(format!("response larger than {MAX_RESPONSE} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The human part of an error body: the JSON `message`/`error_description`/`error` field when
/// present, else the first 300 bytes of text.
pub fn server_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for k in ["message", "error_description", "error", "detail"] {
            if let Some(s) = v.get(k).and_then(|m| m.as_str()) {
                return s.to_string();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let t = text.trim();
    if t.is_empty() {
        return "(empty body)".into();
    }
    t.chars().take(300).collect()
}
