//! Fulcio-compatible HTTP API (protocols.md §1.1–1.3): `POST /api/v2/signingCert`,
//! `GET /api/v2/trustBundle`, `GET /api/v2/configuration`, plus `/healthz` and `/metrics`.
//!
//! Without a CT log ([`CaService::with_ct_log`]) certificates are issued **without** an SCT:
//! the response is `signedCertificateEmbeddedSct` whose leaf carries no SCT list extension,
//! and verifiers must skip the SCT check (`--insecure-ignore-sct`). With a CT log the CA issues
//! a precertificate, submits `[precert, intermediate, root]` to `<ct>/ct/v1/add-pre-chain`,
//! embeds the returned SCT and re-signs (protocols.md §1.10); if the CT log fails the request
//! fails with 503 and no certificate is issued. No SCT is ever invented.
//!
//! **Detached SCTs** ([`CaService::with_detached_sct`]): the CA issues the final certificate
//! directly (no precertificate), submits `[leaf, intermediate, root]` to
//! `<ct>/ct/v1/add-chain` and answers `signedCertificateDetachedSct` (protocols.md §1.2):
//! `{"chain": {"certificates": [leaf PEM, intermediate PEM]}, "signedCertificateTimestamp":
//! "<b64 of the JSON AddChainResponse>"}`; the SCT signs the RFC 6962 `x509_entry` of the leaf.
//! A CT log failure is again 503 with no certificate.
//!
//! **Rate limits** (`RateLimits` in the config, [`crate::ratelimit`]): past a per-identity or
//! per-issuer limit the CA answers 429 (`RESOURCE_EXHAUSTED`) with `Retry-After` and a message
//! naming the limit, before issuing anything. **Audit log** ([`CaService::with_audit_log`]):
//! every issued certificate is appended and fsynced before it is answered.
//!
//! Errors use the grpc-gateway JSON shape `{"code": <gRPC code>, "message": "…", "details": []}`.
//! Every rejection's message names the check that failed (e.g. `invalid identity token
//! (audience_mismatch): …`, `proof_of_possession: …`, `weak_key: …`); the same name labels the
//! `vouch_ca_rejected_requests` metric.
//!
//! **Token transport.** The identity token comes from `credentials.oidcIdentityToken` or from
//! `Authorization: Bearer`. When both are present they must be byte-identical (a proxy that
//! copies the header into the body is fine); two different tokens are refused with 400
//! (`conflicting_tokens`) rather than silently preferring one, so the identity a front proxy
//! authenticated can never differ from the one the certificate is issued for.
//!
//! **Keys.** Fulcio's `goodkey` rules: ECDSA P-256/P-384/P-521, RSA 2048–4096 bits (a multiple
//! of 8) with exponent 65537, Ed25519; anything else is refused (`weak_key` /
//! `unsupported_key`) before any signature is checked.

use crate::audit::AuditLog;
use crate::cert::{IssuingCa, LeafOptions};
use crate::config::{FulcioConfig, IssuerConfig, IssuerType};
use crate::identity::IdentityError;
use crate::oidc::{OidcError, OidcVerifier, VerifiedToken};
use crate::ratelimit::RateLimiter;
use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::{Decode, Encode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use vouch_core::ca_audit::IssuanceRecord;
use vouch_core::ct::{AddChainRequest, AddChainResponse};
use vouch_core::fulcio;
use vouch_core::keys::{HashKind, KeyKind, PublicKey, pem_decode, pem_encode};
use vouch_core::sct::{Sct, encode_sct_list};

/// Largest request body accepted.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Label of rejected requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// Why it was rejected.
    pub reason: String,
}

/// The CA's Prometheus metrics.
pub struct Metrics {
    registry: Registry,
    /// Certificates issued.
    pub certificates_issued: Counter,
    /// Rejected signing requests by reason.
    pub rejected: Family<Reason, Counter>,
    /// Seconds to answer a signing-certificate request (issued or refused).
    pub issuance_seconds: prometheus_client::metrics::histogram::Histogram,
    /// Validity of the certificates issued, in seconds (certificate-TTL SLI).
    pub certificate_ttl: prometheus_client::metrics::gauge::Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Create and register all metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vouch_ca");
        let certificates_issued = Counter::default();
        let rejected = Family::<Reason, Counter>::default();
        registry.register(
            "certificates_issued",
            "Signing certificates issued",
            certificates_issued.clone(),
        );
        registry.register(
            "rejected_requests",
            "Rejected signing certificate requests by reason",
            rejected.clone(),
        );
        let issuance_seconds = prometheus_client::metrics::histogram::Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0,
        ]);
        let certificate_ttl = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "issuance_duration_seconds",
            "Time to answer a signing certificate request",
            issuance_seconds.clone(),
        );
        registry.register(
            "certificate_ttl_seconds",
            "Validity period of the certificates this CA issues",
            certificate_ttl.clone(),
        );
        Self {
            registry,
            certificates_issued,
            rejected,
            issuance_seconds,
            certificate_ttl,
        }
    }

    /// Count a rejection.
    pub fn reject(&self, reason: &str) {
        self.rejected
            .get_or_create(&Reason {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Everything the API needs: token verifier, issuing intermediate, root, leaf lifetime.
#[derive(Debug)]
pub struct CaService {
    verifier: OidcVerifier,
    intermediate: IssuingCa,
    intermediate_pem: String,
    root_pem: String,
    root_der: Vec<u8>,
    leaf_lifetime: Duration,
    metrics: Metrics,
    ct: Option<CtClient>,
    detached_sct: bool,
    rate_limiter: Option<RateLimiter>,
    audit: Option<AuditLog>,
}

/// Where and how the CA submits precertificates.
#[derive(Debug)]
struct CtClient {
    http: reqwest::Client,
    /// Base URL of the CT log (without `/ct/v1/...`).
    url: String,
}

impl CaService {
    /// A service issuing from `intermediate` (whose issuer is the root `root_der`), leaves
    /// valid for `leaf_lifetime`.
    pub fn new(
        verifier: OidcVerifier,
        intermediate: IssuingCa,
        root_der: &[u8],
        leaf_lifetime: Duration,
    ) -> Self {
        let intermediate_pem = pem_encode("CERTIFICATE", intermediate.certificate_der());
        let metrics = Metrics::new();
        metrics
            .certificate_ttl
            .set(i64::try_from(leaf_lifetime.as_secs()).unwrap_or(i64::MAX));
        let rate_limiter = RateLimiter::new(&verifier.config().rate_limits);
        CaService {
            rate_limiter,
            audit: None,
            verifier,
            intermediate,
            intermediate_pem,
            root_pem: pem_encode("CERTIFICATE", root_der),
            root_der: root_der.to_vec(),
            leaf_lifetime,
            metrics,
            ct: None,
            detached_sct: false,
        }
    }

    /// With `true` and a CT log ([`CaService::with_ct_log`]), issue final certificates and
    /// answer their SCT detached (`signedCertificateDetachedSct`, from the log's `add-chain`)
    /// instead of embedding it. Without a CT log this has no effect: certificates carry no SCT.
    pub fn with_detached_sct(mut self, detached: bool) -> Self {
        self.detached_sct = detached;
        self
    }

    /// Whether SCTs are answered detached (a CT log is configured and detached mode is on).
    pub fn detached_sct(&self) -> bool {
        self.detached_sct && self.ct.is_some()
    }

    /// Embed SCTs from the RFC 6962 CT log at `base_url` (e.g. `http://127.0.0.1:3003`) in
    /// every certificate; requests fail with 503 when the log does not answer with an SCT.
    pub fn with_ct_log(mut self, http: reqwest::Client, base_url: &str) -> Self {
        self.ct = Some(CtClient {
            http,
            url: base_url.trim_end_matches('/').to_string(),
        });
        self
    }

    /// Append one line per issued certificate to `audit` (before the certificate is answered;
    /// a failed append fails the request with 503).
    pub fn with_audit_log(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Whether the config's `RateLimits` limit anything.
    pub fn has_rate_limits(&self) -> bool {
        self.rate_limiter.is_some()
    }

    /// Whether a CT log is configured.
    pub fn has_ct_log(&self) -> bool {
        self.ct.is_some()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The issuer configuration.
    pub fn config(&self) -> &FulcioConfig {
        self.verifier.config()
    }
}

/// An API error with its HTTP status and JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    grpc_code: u16,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, grpc_code: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            grpc_code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 3, message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = fulcio::ErrorBody {
            code: i32::from(self.grpc_code),
            message: self.message,
            details: Vec::new(),
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

/// The one answer (503) to every failure fetching an issuer's discovery document or keys.
pub const OIDC_UNAVAILABLE: &str =
    "oidc_unavailable: the token's issuer could not be reached to verify it; try again later";

/// Short name of the OIDC check that failed (metrics label and error message prefix).
pub fn oidc_check_name(e: &OidcError) -> &'static str {
    match e {
        OidcError::TokenTooLarge { .. } => "token_too_large",
        OidcError::Malformed(_) => "malformed_token",
        OidcError::DisallowedAlgorithm(_) => "disallowed_algorithm",
        OidcError::MissingClaim(_) => "missing_claim",
        OidcError::InvalidClaim { .. } => "invalid_claim",
        OidcError::UnknownIssuer(_) => "unknown_issuer",
        OidcError::IssuerMismatch { .. } => "issuer_mismatch",
        OidcError::InsecureUrl { .. } => "insecure_issuer_url",
        OidcError::Discovery { .. } => "discovery_failed",
        OidcError::Jwks { .. } => "jwks_failed",
        OidcError::AlgorithmNotAdvertised { .. } => "algorithm_not_advertised",
        OidcError::UnknownKeyId { .. } => "unknown_key_id",
        OidcError::KeyMismatch { .. } => "key_mismatch",
        OidcError::InvalidSignature { .. } => "invalid_signature",
        OidcError::Expired { .. } => "expired",
        OidcError::NotYetValid { .. } => "not_yet_valid",
        OidcError::IssuedInFuture { .. } => "issued_in_future",
        OidcError::AudienceMismatch { .. } => "audience_mismatch",
    }
}

fn oidc_error(e: &OidcError) -> ApiError {
    let check = oidc_check_name(e);
    match e {
        OidcError::TokenTooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            3,
            format!("invalid identity token ({check}): {e}"),
        ),
        // The issuer could not be reached: not the client's fault. One answer whatever went
        // wrong (refused, timed out, HTTP status, bad JSON) so the CA is no oracle about the
        // hosts and ports a discovery document names; the detail goes to the log.
        OidcError::Discovery { issuer, .. } | OidcError::Jwks { issuer, .. } => {
            tracing::warn!(%issuer, check, "cannot fetch the issuer's keys: {e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                14,
                OIDC_UNAVAILABLE.to_string(),
            )
        }
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            16,
            format!("invalid identity token ({check}): {e}"),
        ),
    }
}

/// A rejection labelled `check`, whose message starts with the check name.
fn reject(
    check: &'static str,
    status: StatusCode,
    grpc_code: u16,
    message: impl Into<String>,
) -> (&'static str, ApiError) {
    (
        check,
        ApiError::new(status, grpc_code, format!("{check}: {}", message.into())),
    )
}

/// A 400 (InvalidArgument) rejection labelled `check`.
fn bad(check: &'static str, message: String) -> (&'static str, ApiError) {
    reject(check, StatusCode::BAD_REQUEST, 3, message)
}

/// Short name of the identity-mapping check that failed.
pub fn identity_check_name(e: &IdentityError) -> &'static str {
    match e {
        IdentityError::UnknownIssuer(_) => "unknown_issuer",
        IdentityError::IssuerMismatch { .. } => "issuer_mismatch",
        IdentityError::MissingClaim(_) => "missing_claim",
        IdentityError::InvalidClaim { .. } => "invalid_claim",
        IdentityError::EmailNotVerified(_) => "email_not_verified",
        IdentityError::UnsupportedType(_) => "unsupported_issuer_type",
    }
}

/// The router for a CA.
pub fn router(service: Arc<CaService>) -> Router {
    Router::new()
        .route("/api/v2/signingCert", post(signing_cert))
        .route("/api/v2/trustBundle", get(trust_bundle))
        .route("/api/v2/configuration", get(configuration))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(service)
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The DER SubjectPublicKeyInfo from a `publicKey.content`: PEM, or base64 of PEM or DER.
fn public_key_der(content: &str) -> Result<Vec<u8>, String> {
    if content.contains("-----BEGIN") {
        return pem_decode(content, &["PUBLIC KEY"])
            .map_err(|e| format!("invalid public key: {e}"));
    }
    let raw = STANDARD
        .decode(content.trim())
        .map_err(|_| "publicKey.content is neither PEM nor base64".to_string())?;
    match std::str::from_utf8(&raw) {
        Ok(s) if s.contains("-----BEGIN") => {
            pem_decode(s, &["PUBLIC KEY"]).map_err(|e| format!("invalid public key: {e}"))
        }
        _ => Ok(raw),
    }
}

fn check_algorithm(alg: Option<&str>, key: &PublicKey) -> Result<(), String> {
    let kind = key.kind();
    let ok = match alg.unwrap_or("") {
        "" | "PUBLIC_KEY_ALGORITHM_UNSPECIFIED" => true,
        "ECDSA" => matches!(
            kind,
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521
        ),
        "ED25519" => kind == KeyKind::Ed25519,
        "RSA_PSS" => kind == KeyKind::Rsa,
        other => return Err(format!("unknown publicKey.algorithm {other:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "publicKey.algorithm {:?} does not match the {} key",
            alg.unwrap_or(""),
            kind.name()
        ))
    }
}

/// Parse a PKCS#10 CSR (b64 of PEM, or b64 of DER), check its key and verify its
/// self-signature. Returns the DER SubjectPublicKeyInfo, or the failed check and why.
fn verify_csr(b64: &str) -> Result<Vec<u8>, (&'static str, String)> {
    let malformed = |m: String| ("csr", m);
    let raw = STANDARD
        .decode(b64.trim())
        .map_err(|_| malformed("certificateSigningRequest is not base64".into()))?;
    let der = match std::str::from_utf8(&raw) {
        Ok(s) if s.contains("-----BEGIN") => {
            pem_decode(s, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"])
                .map_err(|e| malformed(format!("invalid CSR PEM: {e}")))?
        }
        _ => raw,
    };
    let csr = x509_cert::request::CertReq::from_der(&der)
        .map_err(|e| malformed(format!("invalid PKCS#10 CSR: {e}")))?;
    let spki = csr
        .info
        .public_key
        .to_der()
        .map_err(|e| malformed(format!("invalid CSR public key: {e}")))?;
    check_key_strength(&spki)?;
    let key = PublicKey::from_spki_der(&spki)
        .map_err(|e| ("public_key", format!("invalid CSR public key: {e}")))?;
    let info = csr
        .info
        .to_der()
        .map_err(|e| malformed(format!("invalid CSR: {e}")))?;
    let sig = csr
        .signature
        .as_bytes()
        .ok_or_else(|| ("csr_signature", "CSR signature has unused bits".to_string()))?;
    let oid = csr.algorithm.oid.to_string();
    let kind = key.kind();
    let is_ec = matches!(
        kind,
        KeyKind::EcdsaP256 | KeyKind::EcdsaP384 | KeyKind::EcdsaP521
    );
    let hash = match (oid.as_str(), is_ec, kind) {
        ("1.2.840.10045.4.3.2", true, _) | ("1.2.840.113549.1.1.11", false, KeyKind::Rsa) => {
            HashKind::Sha256
        }
        ("1.2.840.10045.4.3.3", true, _) | ("1.2.840.113549.1.1.12", false, KeyKind::Rsa) => {
            HashKind::Sha384
        }
        ("1.2.840.10045.4.3.4", true, _) | ("1.2.840.113549.1.1.13", false, KeyKind::Rsa) => {
            HashKind::Sha512
        }
        ("1.3.101.112", false, KeyKind::Ed25519) => HashKind::Sha512,
        _ => {
            return Err((
                "csr_signature",
                format!(
                    "CSR signature algorithm {oid} is not supported for a {} key",
                    kind.name()
                ),
            ));
        }
    };
    key.verify_with_hash(hash, &info, sig).map_err(|e| {
        (
            "csr_signature",
            format!("CSR self-signature does not verify: {e}"),
        )
    })?;
    Ok(spki)
}

/// RSAPublicKey (RFC 8017 A.1.1).
#[derive(der::Sequence)]
struct RsaPublicKeyDer<'a> {
    modulus: der::asn1::UintRef<'a>,
    public_exponent: der::asn1::UintRef<'a>,
}

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_CURVES: [&str; 3] = ["1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.132.0.35"];

/// Fulcio's `goodkey` rules for a subject key (DER SubjectPublicKeyInfo): ECDSA on P-256,
/// P-384 or P-521; RSA of 2048–4096 bits, a multiple of 8, exponent 65537; Ed25519.
/// On failure returns the check (`weak_key`, `unsupported_key` or `public_key`) and why.
pub fn check_key_strength(spki_der: &[u8]) -> Result<(), (&'static str, String)> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| ("public_key", format!("invalid public key: {e}")))?;
    let alg = spki.algorithm.oid.to_string();
    match alg.as_str() {
        OID_RSA_ENCRYPTION => {
            let bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
                (
                    "public_key",
                    "RSA public key bit string has unused bits".to_string(),
                )
            })?;
            let rsa = RsaPublicKeyDer::from_der(bits)
                .map_err(|e| ("public_key", format!("invalid RSA public key: {e}")))?;
            let n = rsa.modulus.as_bytes();
            let size = match n.first() {
                Some(first) => (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
                None => 0,
            };
            if !(2048..=4096).contains(&size) || size % 8 != 0 {
                return Err((
                    "weak_key",
                    format!(
                        "RSA key of {size} bits: 2048 to 4096 bits (a multiple of 8) are accepted"
                    ),
                ));
            }
            if rsa.public_exponent.as_bytes() != [1, 0, 1] {
                return Err(("weak_key", "RSA public exponent must be 65537".to_string()));
            }
            Ok(())
        }
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|_| {
                    (
                        "unsupported_key",
                        "EC key without a named curve".to_string(),
                    )
                })?
                .to_string();
            if OID_CURVES.contains(&curve.as_str()) {
                Ok(())
            } else {
                Err((
                    "unsupported_key",
                    format!("EC curve {curve} is not accepted (P-256, P-384, P-521 are)"),
                ))
            }
        }
        OID_ED25519 => Ok(()),
        other => Err((
            "unsupported_key",
            format!("public key algorithm {other} is not accepted (ECDSA, RSA, Ed25519 are)"),
        )),
    }
}

/// The proof-of-possession challenge: the issuer's `ChallengeClaim` if configured, else the
/// principal name (email for `email` issuers, `sub` otherwise).
fn challenge(token: &VerifiedToken, principal_name: &str) -> String {
    let claim = &token.issuer_config.challenge_claim;
    if !claim.is_empty()
        && let Some(Value::String(s)) = token.claims.get(claim)
    {
        return s.clone();
    }
    principal_name.to_string()
}

async fn signing_cert(
    State(svc): State<Arc<CaService>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let peer = peer.map(|Extension(ConnectInfo(a))| a);
    let result = issue(&svc, peer, &headers, body).await;
    svc.metrics
        .issuance_seconds
        .observe(started.elapsed().as_secs_f64());
    match &result {
        Ok(_) => {
            svc.metrics.certificates_issued.inc();
        }
        Err((reason, e)) => {
            svc.metrics.reject(reason);
            tracing::info!(reason, status = e.status.as_u16(), message = %e.message, "signing certificate request rejected");
        }
    }
    result.map_err(|(_, e)| e)
}

async fn issue(
    svc: &CaService,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, (&'static str, ApiError)> {
    let body = body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            reject(
                "too_large",
                status,
                3,
                format!("request body is larger than {MAX_REQUEST_BYTES} bytes"),
            )
        } else {
            reject("malformed", status, 3, e.body_text())
        }
    })?;
    let req: fulcio::CreateSigningCertificateRequest = serde_json::from_slice(&body)
        .map_err(|e| bad("malformed", format!("invalid request JSON: {e}")))?;
    let body_token = req
        .credentials
        .map(|c| c.oidc_identity_token)
        .filter(|t| !t.is_empty());
    let header_token = bearer_token(headers);
    let token = match (body_token, header_token) {
        (Some(b), Some(h)) if b != h => {
            return Err(bad(
                "conflicting_tokens",
                "credentials.oidcIdentityToken and the Authorization: Bearer token differ; send one token".into(),
            ));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => {
            return Err(reject(
                "missing_token",
                StatusCode::UNAUTHORIZED,
                16,
                "no identity token: set credentials.oidcIdentityToken or Authorization: Bearer",
            ));
        }
    };
    let csr = req.certificate_signing_request.filter(|c| !c.is_empty());
    let pkr = req.public_key_request;
    if csr.is_some() == pkr.is_some() {
        return Err(bad(
            "request_shape",
            "exactly one of publicKeyRequest and certificateSigningRequest is required".into(),
        ));
    }

    let verified = svc
        .verifier
        .verify(&token)
        .await
        .map_err(|e| (oidc_check_name(&e), oidc_error(&e)))?;
    let identity = crate::identity::identity_from_claims(&verified.claims, &verified.issuer_config)
        .map_err(|e| {
            let check = identity_check_name(&e);
            (
                check,
                ApiError::bad_request(format!("identity token rejected ({check}): {e}")),
            )
        })?;

    // Counted once the identity is authenticated, before any key check or signing: a token
    // holder over the limit costs the CA no further work.
    if let Some(limiter) = &svc.rate_limiter {
        let now = u64::try_from(vouch_core::time::Instant::now().secs).unwrap_or(0);
        limiter
            .check(identity.san.value(), &verified.issuer, now)
            .map_err(|e| {
                let retry_after = e.retry_after;
                let (check, mut err) = reject(
                    "rate_limit",
                    StatusCode::TOO_MANY_REQUESTS,
                    8,
                    e.to_string(),
                );
                err.retry_after = Some(retry_after);
                (check, err)
            })?;
    }

    let spki = if let Some(pkr) = pkr {
        let der = public_key_der(&pkr.public_key.content).map_err(|m| bad("public_key", m))?;
        check_key_strength(&der).map_err(|(check, m)| bad(check, m))?;
        let key = PublicKey::from_spki_der(&der)
            .map_err(|e| bad("public_key", format!("invalid public key: {e}")))?;
        check_algorithm(pkr.public_key.algorithm.as_deref(), &key)
            .map_err(|m| bad("public_key", m))?;
        let sig = STANDARD
            .decode(pkr.proof_of_possession.trim())
            .map_err(|_| {
                bad(
                    "proof_of_possession",
                    "proofOfPossession is not base64".into(),
                )
            })?;
        let name = challenge(&verified, &identity.name);
        key.verify(name.as_bytes(), &sig).map_err(|_| {
            bad(
                "proof_of_possession",
                format!(
                    "proof of possession does not verify: expected a {} signature by the submitted key over {name:?}",
                    key.kind().name()
                ),
            )
        })?;
        key.spki_der().to_vec()
    } else {
        let csr = csr.unwrap_or_default();
        verify_csr(&csr).map_err(|(check, m)| bad(check, m))?
    };

    let opts = LeafOptions::new(None, svc.leaf_lifetime);
    let issue_err = |e: crate::cert::CaError| match e {
        crate::cert::CaError::BadPublicKey(_) | crate::cert::CaError::BadSan { .. } => {
            bad("bad_key", vouch_core::error_chain(&e))
        }
        _ => (
            "internal",
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                13,
                vouch_core::error_chain(&e),
            ),
        ),
    };
    let ct_unavailable = |ct: &CtClient, m: String| {
        (
            "ct_log",
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                14,
                format!(
                    "CT log {} did not return an SCT, no certificate issued: {m}",
                    ct.url
                ),
            ),
        )
    };
    if let Some(ct) = svc.ct.as_ref().filter(|_| svc.detached_sct) {
        let leaf = svc
            .intermediate
            .issue_leaf(&identity, &spki, &opts)
            .map_err(issue_err)?;
        let sct = submit_chain(
            ct,
            "add-chain",
            &[&leaf, svc.intermediate.certificate_der(), &svc.root_der],
        )
        .await
        .map_err(|m| ct_unavailable(ct, m))?;
        let sct_json = serde_json::to_vec(&sct).map_err(|e| ct_unavailable(ct, e.to_string()))?;
        tracing::info!(
            issuer = %verified.issuer,
            san = identity.san.value(),
            ct_log = %ct.url,
            "issued signing certificate with a detached SCT"
        );
        let body = fulcio::SigningCertificate::SignedCertificateDetachedSct {
            chain: fulcio::CertificateChain {
                certificates: vec![
                    pem_encode("CERTIFICATE", &leaf),
                    svc.intermediate_pem.clone(),
                ],
            },
            signed_certificate_timestamp: STANDARD.encode(sct_json),
        };
        audit(svc, &verified.issuer, &identity, &leaf, peer).await?;
        return Ok((StatusCode::OK, axum::Json(body)).into_response());
    }
    let leaf = if let Some(ct) = &svc.ct {
        let precert = svc
            .intermediate
            .issue_precertificate(&identity, &spki, &opts)
            .map_err(issue_err)?;
        let list = submit_chain(
            ct,
            "add-pre-chain",
            &[
                precert.der(),
                svc.intermediate.certificate_der(),
                &svc.root_der,
            ],
        )
        .await
        .and_then(|r| sct_list(&r))
        .map_err(|m| ct_unavailable(ct, m))?;
        let leaf = svc
            .intermediate
            .embed_scts(&precert, &list)
            .map_err(issue_err)?;
        tracing::info!(
            issuer = %verified.issuer,
            san = identity.san.value(),
            ct_log = %ct.url,
            "issued signing certificate with embedded SCT"
        );
        leaf
    } else {
        let leaf = svc
            .intermediate
            .issue_leaf(&identity, &spki, &opts)
            .map_err(issue_err)?;
        tracing::info!(
            issuer = %verified.issuer,
            san = identity.san.value(),
            "issued signing certificate (no SCT: no CT log configured)"
        );
        leaf
    };
    audit(svc, &verified.issuer, &identity, &leaf, peer).await?;
    let leaf_pem = pem_encode("CERTIFICATE", &leaf);
    // Always the JSON `SigningCertificate`, whatever `Accept` says: sigstore-python sends
    // `Accept: application/pem-certificate-chain` to /api/v2/signingCert and parses the answer
    // as JSON, as Fulcio's v2 gateway answers it.
    let body = fulcio::SigningCertificate::SignedCertificateEmbeddedSct {
        chain: fulcio::CertificateChain {
            certificates: vec![leaf_pem, svc.intermediate_pem.clone()],
        },
    };
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// Append the issuance of `leaf` to the audit log, if there is one; a failure refuses the
/// request (503), so that no certificate leaves the CA unrecorded.
async fn audit(
    svc: &CaService,
    issuer: &str,
    identity: &crate::identity::CertIdentity,
    leaf: &[u8],
    peer: Option<SocketAddr>,
) -> Result<(), (&'static str, ApiError)> {
    let Some(log) = &svc.audit else {
        return Ok(());
    };
    let serial = vouch_core::x509::Certificate::from_der(leaf)
        .map(|c| c.serial_hex())
        .unwrap_or_default();
    let record = IssuanceRecord {
        time: vouch_core::time::Instant::now().to_rfc3339(),
        identity: identity.san.value().to_string(),
        issuer: issuer.to_string(),
        serial,
        certificate_sha256: hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            leaf,
        )),
        client_address: peer.map(|a| a.to_string()),
        certificate: pem_encode("CERTIFICATE", leaf),
    };
    log.append(&record).await.map_err(|e| {
        tracing::error!(error = %vouch_core::error_chain(&e), "cannot write the issuance audit log");
        (
            "audit_log",
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                14,
                "audit_log: the issuance could not be recorded in the audit log, no certificate issued; try again later",
            ),
        )
    })
}

/// Submit `chain` (leaf first) to the CT log's `endpoint` (`add-chain` or `add-pre-chain`) and
/// return its answer, checked to hold a well-formed v1 SCT.
async fn submit_chain(
    ct: &CtClient,
    endpoint: &str,
    chain: &[&[u8]],
) -> Result<AddChainResponse, String> {
    let body = AddChainRequest {
        chain: chain.iter().map(|c| STANDARD.encode(c)).collect(),
    };
    let resp = ct
        .http
        .post(format!("{}/ct/v1/{endpoint}", ct.url))
        .timeout(Duration::from_secs(30))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
        return Err(format!("HTTP {status}: {text}"));
    }
    let r: AddChainResponse =
        serde_json::from_slice(&bytes).map_err(|e| format!("malformed answer: {e}"))?;
    sct_list(&r)?;
    Ok(r)
}

/// The TLS-encoded `SignedCertificateTimestampList` holding the one SCT of an add-chain
/// answer, checked to parse.
fn sct_list(r: &AddChainResponse) -> Result<Vec<u8>, String> {
    if r.sct_version != 0 {
        return Err(format!("unsupported sct_version {}", r.sct_version));
    }
    let sct = Sct::from_add_chain_response(r).map_err(|e| format!("bad SCT: {e}"))?;
    let list = encode_sct_list(std::slice::from_ref(&sct)).map_err(|e| format!("bad SCT: {e}"))?;
    vouch_core::sct::parse_sct_list(&list).map_err(|e| format!("bad SCT: {e}"))?;
    Ok(list)
}

async fn trust_bundle(State(svc): State<Arc<CaService>>) -> Response {
    axum::Json(fulcio::TrustBundle {
        chains: vec![fulcio::CertificateChain {
            certificates: vec![svc.intermediate_pem.clone(), svc.root_pem.clone()],
        }],
    })
    .into_response()
}

fn issuer_json(
    key: Option<&str>,
    wildcard: Option<&str>,
    cfg: &IssuerConfig,
) -> fulcio::OidcIssuer {
    let challenge = if !cfg.challenge_claim.is_empty() {
        cfg.challenge_claim.as_str()
    } else if cfg.issuer_type == IssuerType::Email {
        "email"
    } else {
        "sub"
    };
    fulcio::OidcIssuer {
        issuer_url: key.map(str::to_string),
        wildcard_issuer_url: wildcard.map(str::to_string),
        audience: cfg.client_id.clone(),
        challenge_claim: challenge.to_string(),
        issuer_type: cfg.issuer_type.as_str().to_string(),
        spiffe_trust_domain: cfg.spiffe_trust_domain.clone(),
        subject_domain: cfg.subject_domain.clone(),
        skip_email_verification: cfg.skip_email_verification,
    }
}

/// The `GET /api/v2/configuration` body for a config.
pub fn configuration_json(config: &FulcioConfig) -> fulcio::Configuration {
    let mut issuers: Vec<fulcio::OidcIssuer> = config
        .oidc_issuers
        .iter()
        .map(|(url, cfg)| {
            let u = if cfg.issuer_url.is_empty() {
                url.as_str()
            } else {
                cfg.issuer_url.as_str()
            };
            issuer_json(Some(u), None, cfg)
        })
        .collect();
    issuers.extend(
        config
            .meta_issuers
            .iter()
            .map(|(pattern, cfg)| issuer_json(None, Some(pattern), cfg)),
    );
    fulcio::Configuration { issuers }
}

async fn configuration(State(svc): State<Arc<CaService>>) -> Response {
    axum::Json(configuration_json(svc.config())).into_response()
}

async fn healthz() -> Response {
    #[derive(serde::Serialize)]
    struct Health {
        status: &'static str,
    }
    axum::Json(Health { status: "ok" }).into_response()
}

async fn metrics(State(svc): State<Arc<CaService>>) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    (StatusCode::OK, h, svc.metrics.encode()).into_response()
}
