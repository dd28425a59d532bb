//! OIDC identity-token verification (protocols.md §1.4).
//!
//! [`OidcVerifier::verify`] takes a compact JWT, selects the issuer configuration from the
//! token's **unverified** `iss`, fetches the issuer's discovery document and JWKS (cached per
//! issuer), verifies the JWS signature with an allow-listed algorithm, and checks `iss`, `aud`,
//! `exp`, `nbf` and `iat`. The result, [`VerifiedToken`], carries the verified claims that
//! [`FulcioConfig::identity_for`] maps to a certificate identity.
//!
//! Signature verification uses `jsonwebtoken` with the aws-lc-rs backend; claim checks are done
//! here so that every failure names the check that failed.

use crate::config::{FulcioConfig, IssuerConfig, is_loopback_host, parse_url};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Largest accepted token, in bytes (64 KiB).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Largest accepted discovery document or JWKS body, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest clock skew accepted for `nbf` and `iat`.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Most issuers kept in the discovery/JWKS cache (meta-issuers can name many).
pub const MAX_CACHED_ISSUERS: usize = 256;
/// The audience required when an issuer's `ClientID` is empty.
pub const DEFAULT_CLIENT_ID: &str = "sigstore";

/// JWS algorithms accepted for identity tokens. `none` and the HMAC family are never accepted.
pub const ALLOWED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Errors verifying an identity token. Each variant names the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The token is larger than [`MAX_TOKEN_BYTES`].
    #[error("token is {size} bytes, more than the {max} allowed")]
    TokenTooLarge {
        /// The token's size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The token is not a well-formed compact JWS / JWT.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not in [`ALLOWED_ALGORITHMS`] (e.g. `none` or `HS256`).
    #[error("algorithm {0:?} is not allowed")]
    DisallowedAlgorithm(String),
    /// A required claim is absent.
    #[error("required claim {0:?} is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or an unusable value.
    #[error("claim {claim:?} is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// No `OIDCIssuers` entry or `MetaIssuers` pattern matches the token's `iss`.
    #[error("unknown OIDC issuer {0:?}")]
    UnknownIssuer(String),
    /// The token's `iss` (or the discovery document's `issuer`) differs from the configured one.
    #[error("issuer mismatch: expected {expected:?}, got {got:?}")]
    IssuerMismatch {
        /// The configured issuer URL.
        expected: String,
        /// The value found.
        got: String,
    },
    /// An issuer, discovery or JWKS URL that is not https (or http on a loopback host).
    #[error("refusing URL {url:?}: {reason}")]
    InsecureUrl {
        /// The URL.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// Fetching or parsing the discovery document failed.
    #[error("OIDC discovery for issuer {issuer:?} failed: {reason}")]
    Discovery {
        /// The issuer URL.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// Fetching or parsing the JWKS failed.
    #[error("fetching the JWKS of issuer {issuer:?} failed: {reason}")]
    Jwks {
        /// The issuer URL.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
    /// The issuer's discovery document lists `id_token_signing_alg_values_supported` and the
    /// token's algorithm is not in it.
    #[error("algorithm {alg} is not advertised by issuer {issuer:?}")]
    AlgorithmNotAdvertised {
        /// The token's algorithm.
        alg: String,
        /// The issuer URL.
        issuer: String,
    },
    /// The header's `kid` is not in the issuer's JWKS (after at most one rate-limited refetch).
    #[error("unknown key id {kid:?} for issuer {issuer:?}")]
    UnknownKeyId {
        /// The key id from the token header.
        kid: String,
        /// The issuer URL.
        issuer: String,
    },
    /// The key selected by `kid` cannot be used with the token's algorithm.
    #[error("key {kid:?} of issuer {issuer:?} cannot verify {alg}: {reason}")]
    KeyMismatch {
        /// The key id.
        kid: String,
        /// The issuer URL.
        issuer: String,
        /// The token's algorithm.
        alg: String,
        /// Why the key does not fit.
        reason: String,
    },
    /// The signature does not verify (with the `kid` key, or with any usable key when the
    /// header has no `kid`).
    #[error("invalid token signature for issuer {issuer:?}")]
    InvalidSignature {
        /// The issuer URL.
        issuer: String,
    },
    /// `exp` is not in the future.
    #[error("token expired at {exp} (unix seconds; now {now})")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `nbf` is more than the allowed skew in the future.
    #[error("token not valid before {nbf} (unix seconds; now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `iat` is more than the allowed skew in the future.
    #[error("token issued in the future at {iat} (unix seconds; now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `aud` does not contain the issuer's `ClientID`.
    #[error("audience mismatch: expected {expected}, got {got:?}")]
    AudienceMismatch {
        /// The required audience.
        expected: String,
        /// The token's audiences.
        got: Vec<String>,
    },
}

/// A token whose signature and standard claims have been verified.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedToken {
    /// The verified `iss`.
    pub issuer: String,
    /// The issuer configuration that matched (`IssuerURL` set to `iss` for meta-issuers).
    pub issuer_config: IssuerConfig,
    /// The JWS algorithm the token was signed with.
    pub algorithm: Algorithm,
    /// The `kid` of the verifying key, if the header named one.
    pub key_id: Option<String>,
    /// All claims of the token payload.
    pub claims: Map<String, Value>,
}

/// Tunables of an [`OidcVerifier`]. `Default` gives the production values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OidcVerifierOptions {
    /// How long a discovery document + JWKS is reused before being fetched again (10 min).
    pub cache_ttl: Duration,
    /// Minimum time between two JWKS refetches caused by unknown `kid`s, per issuer (30 s).
    pub unknown_kid_refetch_interval: Duration,
    /// Timeout of each HTTP request, body included (10 s).
    pub http_timeout: Duration,
    /// Accepted clock skew for `nbf` and `iat`; capped at [`MAX_CLOCK_SKEW`] (60 s).
    pub clock_skew: Duration,
}

impl Default for OidcVerifierOptions {
    fn default() -> Self {
        OidcVerifierOptions {
            cache_ttl: Duration::from_secs(600),
            unknown_kid_refetch_interval: Duration::from_secs(30),
            http_timeout: Duration::from_secs(10),
            clock_skew: MAX_CLOCK_SKEW,
        }
    }
}

/// `id_token_signing_alg_values_supported` of a discovery document, if present.
type AdvertisedAlgs = Option<Arc<Vec<String>>>;

/// Cached discovery + JWKS of one issuer.
#[derive(Debug, Clone)]
struct IssuerKeys {
    jwks_uri: String,
    /// `id_token_signing_alg_values_supported`, when the discovery document has it.
    advertised_algs: Option<Arc<Vec<String>>>,
    keys: Arc<JwkSet>,
    /// When discovery was last fetched (drives the TTL).
    fetched_at: Instant,
    /// When an unknown `kid` last caused a JWKS refetch.
    last_kid_refetch: Option<Instant>,
}

/// Verifies OIDC identity tokens against a [`FulcioConfig`].
///
/// The injected `reqwest::Client` is used for discovery and JWKS requests; it should not
/// follow redirects to other hosts (redirects that change the host are rejected after the
/// fact). Cache entries are per issuer URL and bounded by [`MAX_CACHED_ISSUERS`].
#[derive(Debug)]
pub struct OidcVerifier {
    config: FulcioConfig,
    http: reqwest::Client,
    options: OidcVerifierOptions,
    cache: Mutex<HashMap<String, IssuerKeys>>,
}

impl OidcVerifier {
    /// A verifier with the default options.
    pub fn new(config: FulcioConfig, http: reqwest::Client) -> Self {
        Self::with_options(config, http, OidcVerifierOptions::default())
    }

    /// A verifier with explicit options (`clock_skew` is capped at [`MAX_CLOCK_SKEW`]).
    pub fn with_options(
        config: FulcioConfig,
        http: reqwest::Client,
        mut options: OidcVerifierOptions,
    ) -> Self {
        options.clock_skew = options.clock_skew.min(MAX_CLOCK_SKEW);
        OidcVerifier {
            config,
            http,
            options,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The issuer configuration this verifier uses.
    pub fn config(&self) -> &FulcioConfig {
        &self.config
    }

    /// Verify a compact JWT and return its claims (protocols.md §1.4 steps 1–3).
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, OidcError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(OidcError::TokenTooLarge {
                size: token.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, payload_b64, signature_b64] = parts.as_slice() else {
            return Err(OidcError::Malformed(format!(
                "expected 3 dot-separated parts, got {}",
                parts.len()
            )));
        };

        // Header: algorithm allow-list first, so `none`/HS* are named as such.
        let header = decode_json_part(header_b64, "header")?;
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| OidcError::Malformed("header has no string \"alg\"".into()))?;
        let alg = Algorithm::from_str(alg_name)
            .ok()
            .filter(|a| ALLOWED_ALGORITHMS.contains(a))
            .ok_or_else(|| OidcError::DisallowedAlgorithm(alg_name.to_string()))?;
        if header.contains_key("crit") {
            return Err(OidcError::Malformed(
                "header has critical extensions (\"crit\"), none are supported".into(),
            ));
        }
        let kid = match header.get("kid") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => {
                return Err(OidcError::Malformed(
                    "header \"kid\" is not a string".into(),
                ));
            }
        };

        // Payload: unverified `iss` selects the issuer config.
        let claims = decode_json_part(payload_b64, "payload")?;
        let iss = match claims.get("iss") {
            None | Some(Value::Null) => return Err(OidcError::MissingClaim("iss")),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(OidcError::InvalidClaim {
                    claim: "iss",
                    reason: "not a string".into(),
                });
            }
        };
        let cfg = self
            .config
            .lookup(&iss)
            .ok_or_else(|| OidcError::UnknownIssuer(iss.clone()))?;
        if cfg.issuer_url != iss {
            return Err(OidcError::IssuerMismatch {
                expected: cfg.issuer_url,
                got: iss,
            });
        }
        check_fetch_url(&iss)?;

        // Signature.
        let message = &token[..header_b64.len() + 1 + payload_b64.len()];
        self.verify_signature(&iss, alg, kid.as_deref(), message, signature_b64)
            .await?;

        // Claims.
        let expected_aud = if cfg.client_id.is_empty() {
            DEFAULT_CLIENT_ID
        } else {
            cfg.client_id.as_str()
        };
        check_audience(&claims, expected_aud)?;
        check_times(&claims, unix_now(), self.skew_secs())?;

        Ok(VerifiedToken {
            issuer: iss,
            issuer_config: cfg,
            algorithm: alg,
            key_id: kid,
            claims,
        })
    }

    fn skew_secs(&self) -> i64 {
        i64::try_from(self.options.clock_skew.as_secs()).unwrap_or(60)
    }

    async fn verify_signature(
        &self,
        iss: &str,
        alg: Algorithm,
        kid: Option<&str>,
        message: &str,
        signature_b64: &str,
    ) -> Result<(), OidcError> {
        let (keys, advertised) = self.keys_for(iss).await?;
        let alg_name = format!("{alg:?}");
        if advertised.is_some_and(|algs| !algs.contains(&alg_name)) {
            return Err(OidcError::AlgorithmNotAdvertised {
                alg: alg_name,
                issuer: iss.to_string(),
            });
        }
        let Some(kid) = kid else {
            // No `kid`: try every key that fits the algorithm (as go-oidc does).
            let ok = keys.keys.iter().any(|jwk| {
                decoding_key(jwk, alg)
                    .is_ok_and(|k| check_signature(signature_b64, message, &k, alg))
            });
            return if ok {
                Ok(())
            } else {
                Err(OidcError::InvalidSignature {
                    issuer: iss.to_string(),
                })
            };
        };
        let jwk = match keys.find(kid) {
            Some(jwk) => jwk.clone(),
            None => {
                let refreshed = self.refetch_for_unknown_kid(iss).await?;
                match refreshed.as_ref().and_then(|ks| ks.find(kid)) {
                    Some(jwk) => jwk.clone(),
                    None => {
                        return Err(OidcError::UnknownKeyId {
                            kid: kid.to_string(),
                            issuer: iss.to_string(),
                        });
                    }
                }
            }
        };
        let key = decoding_key(&jwk, alg).map_err(|reason| OidcError::KeyMismatch {
            kid: kid.to_string(),
            issuer: iss.to_string(),
            alg: format!("{alg:?}"),
            reason,
        })?;
        if check_signature(signature_b64, message, &key, alg) {
            Ok(())
        } else {
            Err(OidcError::InvalidSignature {
                issuer: iss.to_string(),
            })
        }
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, IssuerKeys>> {
        // A poisoned lock only means another task panicked mid-update of a plain map; the
        // entries are still individually consistent.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The issuer's JWKS and advertised algorithms, from the cache while fresh, else via
    /// discovery.
    async fn keys_for(&self, iss: &str) -> Result<(Arc<JwkSet>, AdvertisedAlgs), OidcError> {
        if let Some(entry) = self.cache_lock().get(iss)
            && entry.fetched_at.elapsed() < self.options.cache_ttl
        {
            return Ok((entry.keys.clone(), entry.advertised_algs.clone()));
        }
        let (jwks_uri, advertised_algs) = self.discover(iss).await?;
        let keys = Arc::new(self.fetch_jwks(iss, &jwks_uri).await?);
        let mut cache = self.cache_lock();
        if cache.len() >= MAX_CACHED_ISSUERS && !cache.contains_key(iss) {
            let ttl = self.options.cache_ttl;
            cache.retain(|_, e| e.fetched_at.elapsed() < ttl);
            if cache.len() >= MAX_CACHED_ISSUERS {
                let oldest = cache
                    .iter()
                    .min_by_key(|(_, e)| e.fetched_at)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    cache.remove(&oldest);
                }
            }
        }
        let last_kid_refetch = cache.get(iss).and_then(|e| e.last_kid_refetch);
        cache.insert(
            iss.to_string(),
            IssuerKeys {
                jwks_uri,
                advertised_algs: advertised_algs.clone(),
                keys: keys.clone(),
                fetched_at: Instant::now(),
                last_kid_refetch,
            },
        );
        Ok((keys, advertised_algs))
    }

    /// Refetch the JWKS after an unknown `kid`, at most once per
    /// `unknown_kid_refetch_interval` per issuer. `None` when rate-limited.
    async fn refetch_for_unknown_kid(&self, iss: &str) -> Result<Option<Arc<JwkSet>>, OidcError> {
        let jwks_uri = {
            let mut cache = self.cache_lock();
            let Some(entry) = cache.get_mut(iss) else {
                return Ok(None);
            };
            if entry
                .last_kid_refetch
                .is_some_and(|t| t.elapsed() < self.options.unknown_kid_refetch_interval)
            {
                return Ok(None);
            }
            entry.last_kid_refetch = Some(Instant::now());
            entry.jwks_uri.clone()
        };
        let keys = Arc::new(self.fetch_jwks(iss, &jwks_uri).await?);
        if let Some(entry) = self.cache_lock().get_mut(iss) {
            entry.keys = keys.clone();
        }
        Ok(Some(keys))
    }

    /// Fetch `<iss>/.well-known/openid-configuration` and return its `jwks_uri` and
    /// `id_token_signing_alg_values_supported`.
    async fn discover(&self, iss: &str) -> Result<(String, AdvertisedAlgs), OidcError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            iss.trim_end_matches('/')
        );
        let err = |reason: String| OidcError::Discovery {
            issuer: iss.to_string(),
            reason,
        };
        let body = self.get_limited(&url).await.map_err(err)?;
        let doc: Map<String, Value> = serde_json::from_slice(&body)
            .map_err(|e| err(format!("discovery document is not a JSON object: {e}")))?;
        match doc.get("issuer").and_then(Value::as_str) {
            Some(i) if i == iss => {}
            Some(i) => {
                return Err(OidcError::IssuerMismatch {
                    expected: iss.to_string(),
                    got: i.to_string(),
                });
            }
            None => return Err(err("discovery document has no \"issuer\"".into())),
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| err("discovery document has no \"jwks_uri\"".into()))?;
        check_jwks_url(iss, jwks_uri)?;
        let advertised = match doc.get("id_token_signing_alg_values_supported") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(Arc::new(
                a.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        err("\"id_token_signing_alg_values_supported\" has a non-string".into())
                    })?,
            )),
            Some(_) => {
                return Err(err(
                    "\"id_token_signing_alg_values_supported\" is not an array".into(),
                ));
            }
        };
        Ok((jwks_uri.to_string(), advertised))
    }

    async fn fetch_jwks(&self, iss: &str, jwks_uri: &str) -> Result<JwkSet, OidcError> {
        let err = |reason: String| OidcError::Jwks {
            issuer: iss.to_string(),
            reason,
        };
        let body = self.get_limited(jwks_uri).await.map_err(err)?;
        // Parse leniently: keys of unknown types are skipped rather than failing the set.
        let raw: Value = serde_json::from_slice(&body)
            .map_err(|e| err(format!("JWKS is not valid JSON: {e}")))?;
        let Some(entries) = raw.get("keys").and_then(Value::as_array) else {
            return Err(err("JWKS has no \"keys\" array".into()));
        };
        let keys = entries
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect();
        Ok(JwkSet { keys })
    }

    /// GET `url` with the timeout, require 2xx and an unchanged host, and read at most
    /// [`MAX_BODY_BYTES`].
    async fn get_limited(&self, url: &str) -> Result<Vec<u8>, String> {
        let host = parse_url(url).map(|u| u.host)?;
        let mut resp = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.options.http_timeout)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let final_host = parse_url(resp.url().as_str()).map(|u| u.host)?;
        if final_host != host {
            return Err(format!(
                "GET {url} was redirected to another host ({final_host})"
            ));
        }
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP status {}", resp.status()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(format!(
                "GET {url}: body larger than {MAX_BODY_BYTES} bytes"
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: reading body: {e}"))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!(
                    "GET {url}: body larger than {MAX_BODY_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// https, or plain http to a loopback host (the rule `config.rs` applies to issuer URLs).
fn check_fetch_url(url: &str) -> Result<(), OidcError> {
    let bad = |reason: String| OidcError::InsecureUrl {
        url: url.to_string(),
        reason,
    };
    let u = parse_url(url).map_err(bad)?;
    match u.scheme.as_str() {
        "https" => Ok(()),
        "http" if is_loopback_host(&u.host) => Ok(()),
        "http" => Err(bad(format!(
            "plain http is only allowed for loopback hosts, not {:?}",
            u.host
        ))),
        other => Err(bad(format!("unsupported scheme {other:?}"))),
    }
}

/// The `jwks_uri` of a discovery document: the issuer URL policy ([`check_fetch_url`]), and
/// no weaker than the issuer itself. A non-loopback issuer's keys come over https from a
/// non-loopback host: its discovery document cannot aim the CA at plain http or at the CA's
/// own loopback services (port probing through a `MetaIssuers` match).
fn check_jwks_url(issuer: &str, jwks_uri: &str) -> Result<(), OidcError> {
    check_fetch_url(jwks_uri)?;
    let issuer_is_loopback = parse_url(issuer).is_ok_and(|u| is_loopback_host(&u.host));
    let u = parse_url(jwks_uri).map_err(|reason| OidcError::InsecureUrl {
        url: jwks_uri.to_string(),
        reason,
    })?;
    if !issuer_is_loopback && (u.scheme != "https" || is_loopback_host(&u.host)) {
        return Err(OidcError::InsecureUrl {
            url: jwks_uri.to_string(),
            reason: "the keys of a non-loopback issuer must be served over https from a non-loopback host".into(),
        });
    }
    Ok(())
}

fn decode_json_part(part: &str, what: &str) -> Result<Map<String, Value>, OidcError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| OidcError::Malformed(format!("{what} is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| OidcError::Malformed(format!("{what} is not a JSON object: {e}")))
}

/// Build a decoding key from `jwk` for `alg`, refusing keys whose type, curve, `use` or `alg`
/// do not fit.
fn decoding_key(jwk: &Jwk, alg: Algorithm) -> Result<DecodingKey, String> {
    if let Some(u) = &jwk.common.public_key_use
        && *u != PublicKeyUse::Signature
    {
        return Err(format!("key use is {u:?}, not \"sig\""));
    }
    if let Some(ka) = jwk.common.key_algorithm
        && ka != KeyAlgorithm::from(alg)
    {
        return Err(format!("key is for {ka:?}"));
    }
    let fits = match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    if !fits {
        return Err("key type or curve does not match the algorithm".into());
    }
    DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key: {e}"))
}

fn check_signature(signature_b64: &str, message: &str, key: &DecodingKey, alg: Algorithm) -> bool {
    jsonwebtoken::crypto::verify(signature_b64, message.as_bytes(), key, alg).unwrap_or(false)
}

fn check_audience(claims: &Map<String, Value>, expected: &str) -> Result<(), OidcError> {
    let invalid = || OidcError::InvalidClaim {
        claim: "aud",
        reason: "must be a string or an array of strings".into(),
    };
    let got: Vec<String> = match claims.get("aud") {
        None | Some(Value::Null) => return Err(OidcError::MissingClaim("aud")),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(invalid))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid()),
    };
    if got.iter().any(|a| a == expected) {
        Ok(())
    } else {
        Err(OidcError::AudienceMismatch {
            expected: expected.to_string(),
            got,
        })
    }
}

/// A NumericDate claim as whole seconds (fractions truncated toward negative infinity).
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, OidcError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                // Saturating float-to-int conversion; the range check keeps it meaningful.
                Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
                _ => Err(OidcError::InvalidClaim {
                    claim: name,
                    reason: "not a representable NumericDate".into(),
                }),
            }
        }
        Some(_) => Err(OidcError::InvalidClaim {
            claim: name,
            reason: "not a number".into(),
        }),
    }
}

/// `exp` required and strictly in the future; `nbf` and `iat`, when present, at most `skew`
/// seconds in the future.
fn check_times(claims: &Map<String, Value>, now: i64, skew: i64) -> Result<(), OidcError> {
    let exp = numeric_date(claims, "exp")?.ok_or(OidcError::MissingClaim("exp"))?;
    if now >= exp {
        return Err(OidcError::Expired { exp, now });
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && nbf > now.saturating_add(skew)
    {
        return Err(OidcError::NotYetValid { nbf, now });
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > now.saturating_add(skew)
    {
        return Err(OidcError::IssuedInFuture { iat, now });
    }
    Ok(())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn times() {
        let now = 1_000_000;
        assert_eq!(
            check_times(&map(json!({"exp": now})), now, 60),
            Err(OidcError::Expired { exp: now, now })
        );
        assert!(check_times(&map(json!({"exp": now + 1, "nbf": now + 60})), now, 60).is_ok());
        assert_eq!(
            check_times(&map(json!({"exp": now + 100, "nbf": now + 61})), now, 60),
            Err(OidcError::NotYetValid { nbf: now + 61, now })
        );
        assert_eq!(
            check_times(&map(json!({"exp": now + 100, "iat": now + 61})), now, 60),
            Err(OidcError::IssuedInFuture { iat: now + 61, now })
        );
        assert_eq!(
            check_times(&map(json!({})), now, 60),
            Err(OidcError::MissingClaim("exp"))
        );
        assert!(check_times(&map(json!({"exp": "soon"})), now, 60).is_err());
        assert!(check_times(&map(json!({"exp": 1.5e300})), now, 60).is_err());
    }

    #[test]
    fn audience() {
        assert!(check_audience(&map(json!({"aud": ["x", "sigstore"]})), "sigstore").is_ok());
        let e = check_audience(&map(json!({"aud": "other"})), "sigstore");
        assert_eq!(
            e.as_ref().map_err(ToString::to_string),
            Err("audience mismatch: expected sigstore, got [\"other\"]".to_string())
        );
        assert_eq!(
            check_audience(&map(json!({})), "sigstore"),
            Err(OidcError::MissingClaim("aud"))
        );
        assert!(check_audience(&map(json!({"aud": [1]})), "sigstore").is_err());
    }

    #[test]
    fn urls() {
        assert!(check_fetch_url("https://example.com/jwks").is_ok());
        assert!(check_fetch_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(check_fetch_url("http://example.com/jwks").is_err());
        assert!(check_fetch_url("file:///etc/passwd").is_err());
        // Issue 12 finding 7: a remote issuer's discovery document pointing the CA at its own
        // loopback services (or at plain http) is refused.
        let remote = "https://accounts.example.com";
        for jwks in [
            "http://127.0.0.1:9/jwks",
            "https://127.0.0.1:8443/jwks",
            "https://localhost/jwks",
            "http://127.1:22/",
            "http://[::1]:80/",
            "http://accounts.example.com/jwks",
        ] {
            assert!(
                matches!(
                    check_jwks_url(remote, jwks),
                    Err(OidcError::InsecureUrl { .. })
                ),
                "{jwks}"
            );
        }
        assert!(check_jwks_url(remote, "https://keys.example.com/jwks").is_ok());
        // A loopback issuer (development) keeps its loopback keys.
        assert!(check_jwks_url("http://127.0.0.1:5556", "http://127.0.0.1:5556/jwks").is_ok());
    }
}
