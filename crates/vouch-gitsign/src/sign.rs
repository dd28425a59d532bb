//! Keyless signing of a git payload: identity token → ephemeral P-256 key → certificate from
//! the CA → CMS signed attributes signed with the key → RFC 3161 timestamp over the signature
//! (when a TSA is configured) → log entry (gitsign's offline mode: `hashedrekord` over
//! DER(signedAttrs), protocols §10.4) → detached CMS with the entry and the timestamp as
//! unsigned attributes. The result is verified against the trusted root before it is returned.

use crate::cms;
use crate::config::Config;
use crate::config::ConfigError;
use std::io::Write;
use vouch_core::keys::HashKind;
use vouch_sign::keys::{Curve, EcdsaSigner};
use vouch_sign::rekor::{Record, VerifierMaterial, upload_v1, upload_v2};
use vouch_sign::{HttpClient, IdentityToken, SelectedServices, SignError, select_services};

/// Why signing failed; each variant names the step (and the service) that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// The configuration or the trust material it names.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The signing config offers no usable services.
    #[error("{source}")]
    Services {
        /// Why.
        #[source]
        source: Box<SignError>,
    },
    /// The HTTP client could not be built.
    #[error("{source}")]
    HttpClient {
        /// Why.
        #[source]
        source: Box<SignError>,
    },
    /// The async runtime could not be started.
    #[error("cannot start the async runtime: {source}")]
    Runtime {
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// No CA is configured.
    #[error("no CA: set gitsign.fulcio or use a trust config with caUrls")]
    NoCa,
    /// No transparency log is configured.
    #[error("no transparency log configured (gitsign.rekor or the trust config's rekorTlogUrls)")]
    NoLog,
    /// Online mode was asked for but the signing config has no Rekor v1 log.
    #[error("online mode needs a Rekor v1 log")]
    OnlineNoLog,
    /// Online mode logs the git object ID; the payload is not a git commit or tag.
    #[error("online mode signs git commits and tags only")]
    OnlineNotGitObject,
    /// The token file of the `filesystem` provider cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadToken {
        /// The token file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The identity token is unusable (malformed, expired) or the ambient lookup failed.
    #[error("{source}")]
    Token {
        /// Why.
        #[source]
        source: Box<SignError>,
    },
    /// An ambient token provider was named but offers no token here.
    #[error("token provider {provider:?}: no ambient token here")]
    NoAmbientToken {
        /// The provider named.
        provider: String,
    },
    /// `gitsign.tokenProvider` names a provider that does not exist.
    #[error(
        "token provider {provider:?} is not supported (filesystem, interactive, device, github-actions, buildkite-agent)"
    )]
    UnsupportedTokenProvider {
        /// The provider named.
        provider: String,
    },
    /// No token and no OIDC issuer to log in at.
    #[error(
        "no identity token: set SIGSTORE_ID_TOKEN, or name an OIDC issuer to log in at (gitsign.issuer or the trust config's oidcUrls)"
    )]
    NoIssuer,
    /// No token and no terminal a person could log in from.
    #[error(
        "no identity token and no terminal to log in from: set SIGSTORE_ID_TOKEN, or `git config gitsign.tokenProvider filesystem|github-actions|buildkite-agent`, or `device` to log in from another device"
    )]
    NoTerminal,
    /// The browser (authorization code) login failed.
    #[error("login at {issuer} failed: {source}")]
    Login {
        /// The OIDC issuer.
        issuer: String,
        /// Why.
        #[source]
        source: Box<vouch_oidc::Error>,
    },
    /// The device-flow login failed.
    #[error("device login at {issuer} failed: {source}")]
    DeviceLogin {
        /// The OIDC issuer.
        issuer: String,
        /// Why.
        #[source]
        source: Box<vouch_oidc::Error>,
    },
    /// The ephemeral key could not be generated or could not sign.
    #[error("ephemeral key: {source}")]
    Key {
        /// Why.
        #[source]
        source: Box<SignError>,
    },
    /// The CA did not issue a certificate.
    #[error("{source}")]
    Certificate {
        /// Why.
        #[source]
        source: Box<SignError>,
    },
    /// The CA answered with an empty chain.
    #[error("the CA at {ca} returned no certificate")]
    NoCertificate {
        /// The CA URL.
        ca: String,
    },
    /// The issued certificate is unusable.
    #[error("the issued certificate: {source}")]
    IssuedCertificate {
        /// Why.
        #[source]
        source: vouch_core::x509::CertError,
    },
    /// The timestamp authority did not timestamp the signature.
    #[error("{source}")]
    Timestamp {
        /// Why.
        #[source]
        source: Box<SignError>,
    },
    /// The transparency log did not take the entry.
    #[error("{source}")]
    Upload {
        /// Why.
        #[source]
        source: Box<SignError>,
    },
    /// The log entry could not be encoded for embedding.
    #[error("cannot encode the log entry: {source}")]
    EncodeEntry {
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The CMS structure could not be built.
    #[error(transparent)]
    Cms(#[from] cms::CmsError),
    /// The signature just made does not verify (a broken CA, log or TSA answer).
    #[error("the new signature does not verify: {source}")]
    SelfCheck {
        /// Why.
        #[source]
        source: Box<crate::verify::VerifyFailure>,
    },
}

type Result<T, E = SigningError> = std::result::Result<T, E>;

/// A finished signature.
#[derive(Debug)]
pub struct Signed {
    /// PEM `SIGNED MESSAGE` (what git stores).
    pub pem: String,
    /// Hex SHA-1 of the leaf certificate DER (the gpg "fingerprint").
    pub fingerprint: String,
    /// OpenPGP public key algorithm id of the leaf key (ECDSA = 19).
    pub pk_algo: u8,
    /// OpenPGP hash algorithm id from the certificate's signature algorithm.
    pub hash_algo: u8,
    /// The signingTime attribute (unix seconds).
    pub signing_time: i64,
    /// The certificate identity (SAN) and OIDC issuer.
    pub identity: (String, String),
    /// Log URL and index of the embedded entry.
    pub log_entry: Option<(String, i64)>,
    /// Whether an RFC 3161 timestamp was embedded.
    pub timestamped: bool,
}

/// Hex SHA-1 of a DER certificate: the "fingerprint" in gpg status lines.
pub fn fingerprint(cert_der: &[u8]) -> String {
    hex::encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der).as_ref(),
    )
}

/// OpenPGP hash algorithm id (SHA256=8, SHA384=9, SHA512=10, SHA1=2) of a certificate's
/// signature algorithm, as gitsign reports it in `SIG_CREATED`.
pub fn openpgp_hash_algo(cert_der: &[u8]) -> u8 {
    use der::Decode;
    let Ok(c) = x509_cert::Certificate::from_der(cert_der) else {
        return 8;
    };
    match c.signature_algorithm().oid.to_string().as_str() {
        "1.2.840.10045.4.3.3" | "1.2.840.113549.1.1.12" => 9,
        "1.2.840.10045.4.3.4" | "1.2.840.113549.1.1.13" => 10,
        "1.2.840.10045.4.1" | "1.2.840.113549.1.1.5" => 2,
        _ => 8,
    }
}

/// OpenPGP public key algorithm id of a certificate's key (RSA=1, ECDSA=19, EdDSA=22).
pub fn openpgp_pk_algo(cert_der: &[u8]) -> u8 {
    use der::Decode;
    let Ok(c) = x509_cert::Certificate::from_der(cert_der) else {
        return 19;
    };
    match c
        .tbs_certificate()
        .subject_public_key_info()
        .algorithm
        .oid
        .to_string()
        .as_str()
    {
        "1.2.840.113549.1.1.1" => 1,
        "1.3.101.112" => 22,
        _ => 19,
    }
}

/// The services to use: the signing config's, with gitsign's overrides applied.
pub fn services(cfg: &Config, sc: &vouch_core::trust::SigningConfig) -> Result<SelectedServices> {
    // Online mode searches the log afterwards, which only Rekor v1 offers.
    let version = if cfg.online {
        Some(1)
    } else {
        cfg.rekor_version
    };
    let mut s = select_services(sc, version, jiff::Timestamp::now()).map_err(|source| {
        SigningError::Services {
            source: Box::new(source),
        }
    })?;
    if let Some(u) = &cfg.fulcio {
        s.ca = Some(u.trim_end_matches('/').to_string());
    }
    if let Some(u) = &cfg.rekor {
        s.tlogs = vec![(
            u.trim_end_matches('/').to_string(),
            cfg.rekor_version.unwrap_or(1),
        )];
    }
    if let Some(u) = &cfg.timestamp_url {
        s.tsas = vec![u.clone()];
    }
    if let Some(u) = &cfg.issuer {
        s.oidc = Some(u.trim_end_matches('/').to_string());
    }
    Ok(s)
}

fn can_open_browser() -> bool {
    cfg!(target_os = "macos")
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

/// Tell the user something during login. git captures our stderr while signing, so prefer the
/// controlling terminal.
fn tell_user(msg: &str) {
    match std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        Ok(mut tty) => {
            let _ = writeln!(tty, "{msg}");
        }
        Err(_) => eprintln!("{msg}"),
    }
}

/// Whether this process has a controlling terminal a person could log in from.
fn has_terminal() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

async fn interactive(
    http: &HttpClient,
    cfg: &Config,
    issuer: Option<&str>,
    device: bool,
) -> Result<IdentityToken> {
    let issuer = issuer.ok_or(SigningError::NoIssuer)?;
    let client = http.reqwest();
    let raw = if !device && can_open_browser() {
        let connector = cfg.connector_id.clone();
        vouch_oidc::auth_code_flow_loopback(client, issuer, &cfg.client_id, move |url| {
            let url = match &connector {
                Some(c) => format!("{url}&connector_id={}", percent_encode(c)),
                None => url.to_string(),
            };
            tell_user(&format!(
                "Opening your browser to log in. If it does not open, visit:\n  {url}"
            ));
            let _ = std::process::Command::new(if cfg!(target_os = "macos") {
                "open"
            } else {
                "xdg-open"
            })
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        })
        .await
        .map_err(|source| SigningError::Login {
            issuer: issuer.to_string(),
            source: Box::new(source),
        })?
    } else {
        vouch_oidc::device_flow(client, issuer, &cfg.client_id, |p| {
            let mut m = format!(
                "To sign, log in at {} and enter the code {}",
                p.verification_uri, p.user_code
            );
            if let Some(full) = &p.verification_uri_complete {
                m.push_str(&format!("\n  (or open {full})"));
            }
            tell_user(&m);
        })
        .await
        .map_err(|source| SigningError::DeviceLogin {
            issuer: issuer.to_string(),
            source: Box::new(source),
        })?
    };
    IdentityToken::parse(&raw).map_err(|source| SigningError::Token {
        source: Box::new(source),
    })
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Obtain an identity token as `gitsign.tokenProvider` says; by default `SIGSTORE_ID_TOKEN`,
/// then a CI provider's ambient token, then an interactive login.
pub async fn identity_token(
    http: &HttpClient,
    cfg: &Config,
    oidc: Option<&str>,
) -> Result<IdentityToken> {
    match cfg.token_provider.as_deref().map(str::trim) {
        Some("filesystem") => {
            let p = std::path::Path::new("/var/run/sigstore/cosign/oidc-token");
            let raw = std::fs::read_to_string(p).map_err(|source| SigningError::ReadToken {
                path: p.to_path_buf(),
                source,
            })?;
            IdentityToken::parse(raw.trim()).map_err(|source| SigningError::Token {
                source: Box::new(source),
            })
        }
        Some("interactive") => interactive(http, cfg, oidc, false).await,
        Some("device") => interactive(http, cfg, oidc, true).await,
        Some(provider @ ("github-actions" | "buildkite-agent" | "ambient")) => {
            match vouch_sign::token::ambient(http, &cfg.client_id)
                .await
                .map_err(|source| SigningError::Token {
                    source: Box::new(source),
                })? {
                Some((t, _)) => Ok(t),
                None => Err(SigningError::NoAmbientToken {
                    provider: provider.to_string(),
                }),
            }
        }
        Some(other) if !other.is_empty() => Err(SigningError::UnsupportedTokenProvider {
            provider: other.to_string(),
        }),
        _ => {
            if let Some((t, _)) = vouch_sign::token::ambient(http, &cfg.client_id)
                .await
                .map_err(|source| SigningError::Token {
                    source: Box::new(source),
                })?
            {
                return Ok(t);
            }
            // git runs us with the commit on stdin; only a controlling terminal means a person
            // is there to log in. Without one (a script, a CI job without a token), waiting for
            // a login would hang `git commit -S` until the device code expires.
            if !has_terminal() {
                return Err(SigningError::NoTerminal);
            }
            interactive(http, cfg, oidc, false).await
        }
    }
}

/// Sign `payload` (a git commit or tag object without its signature).
pub fn sign(payload: &[u8], cfg: &Config) -> Result<Signed> {
    let (trust, sc) = cfg.trust()?;
    let services = services(cfg, &sc)?;
    let http = HttpClient::new().map_err(|source| SigningError::HttpClient {
        source: Box::new(source),
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| SigningError::Runtime { source })?;
    let signed = rt.block_on(sign_async(payload, cfg, &http, &services))?;
    drop(rt);
    // Verify what we produced, as a verifier will, before git stores it.
    let der = cms::from_pem_or_der(signed.pem.as_bytes())?;
    let lookup = lookup_for(cfg, &services, payload, signed.pem.as_bytes());
    crate::verify::verify_with_lookup(
        &der,
        payload,
        trust,
        &crate::verify::IdentityPolicy::default(),
        lookup.as_ref(),
    )
    .map_err(|e| SigningError::SelfCheck {
        source: Box::new(e),
    })?;
    Ok(signed)
}

/// Where to look up an online-mode signature's log entry: `gitsign.rekor`, else the signing
/// config's Rekor v1 log. `None` when the payload is not a git object or no v1 log is known.
pub fn lookup_for(
    cfg: &Config,
    services: &SelectedServices,
    payload: &[u8],
    signature: &[u8],
) -> Option<crate::verify::Lookup> {
    let rekor = match &cfg.rekor {
        Some(u) => u.clone(),
        None => services
            .tlogs
            .iter()
            .find(|(_, v)| *v == 1)
            .map(|(u, _)| u.clone())?,
    };
    Some(crate::verify::Lookup {
        rekor,
        object_id: crate::git::signed_object_id(payload, signature)?,
    })
}

/// [`lookup_for`] from the configuration alone (verification side).
pub fn lookup_from_config(
    cfg: &Config,
    sc: &vouch_core::trust::SigningConfig,
    payload: &[u8],
    signature: &[u8],
) -> Option<crate::verify::Lookup> {
    let online = Config {
        online: true,
        ..cfg.clone()
    };
    let services = services(&online, sc).ok()?;
    lookup_for(cfg, &services, payload, signature)
}

async fn sign_async(
    payload: &[u8],
    cfg: &Config,
    http: &HttpClient,
    services: &SelectedServices,
) -> Result<Signed> {
    let ca = services.ca.as_deref().ok_or(SigningError::NoCa)?;
    let token = identity_token(http, cfg, services.oidc.as_deref()).await?;
    token
        .check_not_expired(jiff::Timestamp::now().as_second())
        .map_err(|source| SigningError::Token {
            source: Box::new(source),
        })?;
    let key = EcdsaSigner::generate(Curve::P256).map_err(|source| SigningError::Key {
        source: Box::new(source),
    })?;
    let issued = vouch_sign::fulcio::request_certificate(http, ca, &token, &key)
        .await
        .map_err(|source| SigningError::Certificate {
            source: Box::new(source),
        })?;
    let leaf = issued
        .chain_der
        .first()
        .cloned()
        .ok_or_else(|| SigningError::NoCertificate { ca: ca.to_string() })?;
    let now = jiff::Timestamp::now().as_second();
    let unsigned = cms::signed_attributes(&HashKind::Sha256.digest(payload), now)?;
    let signature = key
        .sign(&unsigned.signed_attrs_der)
        .map_err(|source| SigningError::Key {
            source: Box::new(source),
        })?;

    let mut attrs = Vec::new();
    let mut timestamped = false;
    if let Some(url) = services.tsas.first() {
        let resp = vouch_sign::timestamp::timestamp(http, url, &signature)
            .await
            .map_err(|source| SigningError::Timestamp {
                source: Box::new(source),
            })?;
        let token = cms::token_from_response(&resp)?;
        attrs.push((cms::OID_TIMESTAMP_TOKEN, token));
        timestamped = true;
    }
    let log_entry;
    if cfg.online {
        // gitsign's online mode: log the ID of the signed object (as git will store it), signed
        // with the same key; nothing is embedded.
        let pem = cms::to_pem(&cms::assemble(
            cms::signed_attributes(&HashKind::Sha256.digest(payload), now)?,
            &signature,
            &leaf,
            attrs.clone(),
        )?);
        let object_id = crate::git::signed_object_id(payload, pem.as_bytes())
            .ok_or(SigningError::OnlineNotGitObject)?;
        let (url, _) = services.tlogs.first().ok_or(SigningError::OnlineNoLog)?;
        let id_sig = key
            .sign(object_id.as_bytes())
            .map_err(|source| SigningError::Key {
                source: Box::new(source),
            })?;
        let digest = HashKind::Sha256.digest(object_id.as_bytes());
        let record = Record::Hashed {
            digest: &digest,
            algorithm: "sha256",
            signature: &id_sig,
        };
        let tle = upload_v1(
            http,
            url,
            &record,
            &VerifierMaterial::Certificate(leaf.clone()),
        )
        .await
        .map_err(|source| SigningError::Upload {
            source: Box::new(source),
        })?;
        log_entry = Some((url.clone(), tle.log_index.0));
    } else if let Some((url, major)) = services.tlogs.first() {
        let digest = HashKind::Sha256.digest(&unsigned.signed_attrs_der);
        let record = Record::Hashed {
            digest: &digest,
            algorithm: "sha256",
            signature: &signature,
        };
        let vm = VerifierMaterial::Certificate(leaf.clone());
        let tle = match major {
            2 => upload_v2(http, url, &record, &vm, key.key_details()).await,
            _ => upload_v1(http, url, &record, &vm).await,
        }
        .map_err(|source| SigningError::Upload {
            source: Box::new(source),
        })?;
        log_entry = Some((url.clone(), tle.log_index.0));
        let json =
            serde_json::to_vec(&tle).map_err(|source| SigningError::EncodeEntry { source })?;
        attrs.push((cms::OID_TLOG_ENTRY, cms::octet_string_der(&json)?));
    } else {
        return Err(SigningError::NoLog);
    }
    let der = cms::assemble(unsigned, &signature, &leaf, attrs)?;
    let issued_cert = |source| SigningError::IssuedCertificate { source };
    let cert = vouch_core::x509::Certificate::from_der(&leaf).map_err(issued_cert)?;
    let id = cert.fulcio_identity().map_err(issued_cert)?;
    Ok(Signed {
        pem: cms::to_pem(&der),
        fingerprint: fingerprint(&leaf),
        pk_algo: openpgp_pk_algo(&leaf),
        hash_algo: openpgp_hash_algo(&leaf),
        signing_time: now,
        identity: (
            id.san.unwrap_or_default(),
            id.issuer
                .or_else(|| token.issuer().map(str::to_string))
                .unwrap_or_default(),
        ),
        log_entry,
        timestamped,
    })
}
