//! The IdP itself: options, users, signing key, token minting, `issuer.json`.

use crate::ci::CiKind;
use crate::server::Pending;
use crate::util::{random_token, unix_now, write_file_durably};
use crate::{Error, Result};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use vouch_core::pem;

/// Default lifetime of issued ID tokens (600 s).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(600);
/// The audience used when a request names none (Sigstore's `ClientID`).
pub const DEFAULT_AUDIENCE: &str = "sigstore";
/// The signing key file in the data directory.
pub const KEY_FILE: &str = "oidc.key.pem";
/// The CA issuer config written to the data directory.
pub const ISSUER_FILE: &str = "issuer.json";

/// PBKDF2 iterations of [`hash_password`].
const PBKDF2_ITERATIONS: u32 = 600_000;
/// Prefix of password hashes in the users file.
const HASH_SCHEME: &str = "pbkdf2-sha256";
/// Longest accepted password, in bytes.
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

/// One entry of a Fulcio issuer config (`OIDCIssuers` value) for this IdP's tokens.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CaIssuer {
    /// The issuer URL (the tokens' `iss`).
    #[serde(rename = "IssuerURL")]
    pub issuer_url: String,
    /// The audience the tokens carry (the CA's `ClientID`).
    #[serde(rename = "ClientID")]
    pub client_id: String,
    /// The Fulcio issuer `Type` that maps the tokens' claims to a certificate.
    #[serde(rename = "Type")]
    pub issuer_type: &'static str,
    /// The CI system these tokens mimic; `None` for the user (email) issuer.
    #[serde(skip)]
    pub ci: Option<CiKind>,
}

/// `issuer.json`: a Fulcio issuer config listing [`CaIssuer`]s by issuer URL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CaIssuerConfig {
    /// The issuers, keyed by issuer URL.
    #[serde(rename = "OIDCIssuers")]
    pub oidc_issuers: std::collections::BTreeMap<String, CaIssuer>,
}

/// Which identities the IdP issues tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserPolicy {
    /// Any syntactically valid email, without a password (development only).
    AnyEmail,
    /// The users listed in a file: one `email[:password-hash]` per line, blank lines and
    /// `#` comments ignored. Hashes come from [`hash_password`] (`vouch oidc hash-password`);
    /// a user with a hash must give that password to log in.
    UsersFile(PathBuf),
}

/// Options of an [`Idp`]. [`IdpOptions::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdpOptions {
    /// The issuer URL put in `iss` and discovery (http or https, no query; a trailing `/`
    /// is dropped).
    pub issuer_url: String,
    /// Who may get tokens.
    pub users: UserPolicy,
    /// Lifetime of ID tokens (default 600 s; 1 s to 24 h).
    pub token_lifetime: Duration,
    /// Audience of development-grant and CI tokens that name none (default `sigstore`).
    pub default_audience: String,
    /// OAuth client IDs accepted by the authorization-code and device flows; the ID token's
    /// `aud` is the client ID. Empty means just [`IdpOptions::default_audience`].
    pub client_ids: Vec<String>,
    /// Redirect URIs accepted besides loopback `http` ones (exact match).
    pub redirect_uris: Vec<String>,
    /// Mint CI-style machine tokens (test and private-deployment facility; default off).
    pub allow_ci_tokens: bool,
    /// Minimum polling interval of the device flow (default 5 s, RFC 8628).
    pub device_poll_interval: Duration,
}

impl IdpOptions {
    /// Defaults for an IdP at `issuer_url` that issues tokens for any email.
    pub fn new(issuer_url: impl Into<String>) -> Self {
        IdpOptions {
            issuer_url: issuer_url.into(),
            users: UserPolicy::AnyEmail,
            token_lifetime: TOKEN_LIFETIME,
            default_audience: DEFAULT_AUDIENCE.to_string(),
            client_ids: Vec::new(),
            redirect_uris: Vec::new(),
            allow_ci_tokens: false,
            device_poll_interval: Duration::from_secs(5),
        }
    }
}

/// Which identities tokens may be issued for.
#[derive(Debug)]
pub(crate) enum Allowed {
    Any,
    /// Lower-cased email → (the email as the users file spells it, optional password hash).
    Listed(HashMap<String, (String, Option<String>)>),
}

/// Result of checking a login.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LoginCheck {
    /// Allowed: the email to put in tokens, spelled as the users file lists it (any case
    /// from the user matches, but only the listed spelling is ever minted).
    Ok(String),
    NotListed,
    BadPassword,
}

/// The identity provider: signing key, issuer, users and pending protocol state.
pub struct Idp {
    pub(crate) issuer: String,
    key: EcdsaKeyPair,
    kid: String,
    jwk: Value,
    pub(crate) allowed: Allowed,
    pub(crate) opts: IdpOptions,
    rng: SystemRandom,
    key_generated: bool,
    data_dir: PathBuf,
    pub(crate) pending: Mutex<Pending>,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("allowed", &self.allowed)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// A plausible email address: one `@`, non-empty parts, no spaces or controls, ≤ 254 bytes.
pub fn check_email(email: &str) -> Result<(), String> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!("{email:?} is not an email address"))
    }
}

/// Hash a password for the users file: `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url,
/// PBKDF2-HMAC-SHA256, 600 000 iterations, 16-byte random salt).
pub fn hash_password(password: &str) -> Result<String> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::Config(format!(
            "a password must be 1 to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt)
        .map_err(|_| Error::Config("the system random generator failed".into()))?;
    let iterations = NonZeroU32::new(PBKDF2_ITERATIONS)
        .ok_or_else(|| Error::Config("zero PBKDF2 iterations".into()))?;
    let mut out = [0u8; 32];
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &mut out,
    );
    Ok(format!(
        "{HASH_SCHEME}${PBKDF2_ITERATIONS}${}${}",
        URL_SAFE_NO_PAD.encode(salt),
        URL_SAFE_NO_PAD.encode(out)
    ))
}

/// Parsed password hash.
struct PasswordHash {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse_hash(s: &str) -> Result<PasswordHash, String> {
    let parts: Vec<&str> = s.split('$').collect();
    let [scheme, iterations, salt, hash] = parts.as_slice() else {
        return Err(format!("expected {HASH_SCHEME}$ITERATIONS$SALT$HASH"));
    };
    if *scheme != HASH_SCHEME {
        return Err(format!("unknown password hash scheme {scheme:?}"));
    }
    let iterations = iterations
        .parse::<u32>()
        .ok()
        .filter(|i| (1000..=10_000_000).contains(i))
        .and_then(NonZeroU32::new)
        .ok_or("iterations must be 1000 to 10000000")?;
    let salt = URL_SAFE_NO_PAD
        .decode(salt)
        .map_err(|_| "salt is not base64url")?;
    let hash = URL_SAFE_NO_PAD
        .decode(hash)
        .map_err(|_| "hash is not base64url")?;
    if salt.len() < 8 || hash.len() != 32 {
        return Err("salt must be at least 8 bytes and the hash 32 bytes".into());
    }
    Ok(PasswordHash {
        iterations,
        salt,
        hash,
    })
}

/// Whether `password` matches `hash` (constant-time comparison).
pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    let Ok(h) = parse_hash(hash) else {
        return false;
    };
    password.len() <= MAX_PASSWORD_BYTES
        && aws_lc_rs::pbkdf2::verify(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            h.iterations,
            &h.salt,
            password.as_bytes(),
            &h.hash,
        )
        .is_ok()
}

/// Read a users file: `email[:password-hash]` per line.
fn read_users(path: &Path) -> Result<HashMap<String, (String, Option<String>)>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut users = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad = |e: String| Error::Config(format!("{} line {}: {e}", path.display(), n + 1));
        let (email, hash) = match line.split_once(':') {
            Some((e, h)) => (e.trim(), Some(h.trim())),
            None => (line, None),
        };
        check_email(email).map_err(bad)?;
        if let Some(h) = hash {
            parse_hash(h).map_err(|e| bad(format!("invalid password hash: {e}")))?;
        }
        users.insert(
            email.to_ascii_lowercase(),
            (email.to_string(), hash.map(str::to_string)),
        );
    }
    if users.is_empty() {
        return Err(Error::Config(format!(
            "users file {} lists no email address",
            path.display()
        )));
    }
    Ok(users)
}

/// Normalise and check an issuer URL.
fn issuer_url(s: &str) -> Result<String> {
    let bad = |why: &str| Error::Config(format!("invalid issuer URL {s:?}: {why}"));
    let u = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(bad("only http:// and https:// are supported"));
    }
    if u.host_str().is_none() {
        return Err(bad("no host"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("no query or fragment allowed"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("no user info allowed"));
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// Load the signing key from `data`, or generate and store it (PKCS#8 PEM, mode 0600).
fn load_or_generate_key(data: &Path) -> Result<(EcdsaKeyPair, bool)> {
    let path = data.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let der = pem::decode(&text, &["PRIVATE KEY"]).map_err(|source| Error::KeyPem {
                path: path.to_path_buf(),
                source,
            })?;
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).map_err(
                |source| Error::KeyRejected {
                    path: path.to_path_buf(),
                    source,
                },
            )?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data).map_err(|e| {
                Error::Storage(format!(
                    "cannot create data directory {}: {e}",
                    data.display()
                ))
            })?;
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| Error::Storage("cannot generate a P-256 key".into()))?;
            let der = key
                .to_pkcs8v1()
                .map_err(|_| Error::Storage("cannot export the P-256 key".into()))?;
            write_file_durably(
                &path,
                pem::encode("PRIVATE KEY", der.as_ref()).as_bytes(),
                true,
            )?;
            Ok((key, true))
        }
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The IdP's public key as a JWK (RFC 7517, RFC 7518 §6.2), as `/jwks` serves it.
#[derive(serde::Serialize)]
struct Jwk<'a> {
    alg: &'static str,
    crv: &'static str,
    kid: &'a str,
    kty: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
    x: &'a str,
    y: &'a str,
}

/// The JOSE header of the IdP's tokens. Fields in lexical order: the bytes are the ones the
/// signature covers, as before.
#[derive(serde::Serialize)]
struct JwtHeader<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
}

/// The public JWK of `key` and its RFC 7638 thumbprint (used as `kid`).
fn jwk_for(key: &EcdsaKeyPair) -> Result<(Value, String)> {
    let point = key.public_key().as_ref();
    let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
        return Err(Error::Storage(
            "unexpected P-256 public key encoding".into(),
        ));
    };
    if point.len() != 65 || point.first() != Some(&4) {
        return Err(Error::Storage(
            "unexpected P-256 public key encoding".into(),
        ));
    }
    let x = URL_SAFE_NO_PAD.encode(x);
    let y = URL_SAFE_NO_PAD.encode(y);
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
    let jwk = Jwk {
        alg: "ES256",
        crv: "P-256",
        kid: &kid,
        kty: "EC",
        use_: "sig",
        x: &x,
        y: &y,
    };
    let jwk = serde_json::to_value(jwk).map_err(|source| Error::Json {
        what: "JWK".into(),
        source,
    })?;
    Ok((jwk, kid))
}

impl Idp {
    /// Load the signing key from `data_dir` (or generate it there on first use), check the
    /// options, read the users file, and write `issuer.json` (the CA issuer config for this
    /// IdP, including the CI issuers when [`IdpOptions::allow_ci_tokens`] is set).
    pub fn load_or_generate(data_dir: &Path, mut opts: IdpOptions) -> Result<Idp> {
        opts.issuer_url = issuer_url(&opts.issuer_url)?;
        if opts.token_lifetime < Duration::from_secs(1)
            || opts.token_lifetime > Duration::from_secs(86_400)
        {
            return Err(Error::Config(
                "the token lifetime must be between 1 s and 24 h".into(),
            ));
        }
        if opts.device_poll_interval > Duration::from_secs(300) {
            return Err(Error::Config(
                "the device poll interval must be at most 300 s".into(),
            ));
        }
        for a in std::iter::once(&opts.default_audience).chain(&opts.client_ids) {
            if !valid_audience(a) {
                return Err(Error::Config(format!("invalid audience / client ID {a:?}")));
            }
        }
        if opts.client_ids.is_empty() {
            opts.client_ids.push(opts.default_audience.clone());
        }
        for r in &opts.redirect_uris {
            url::Url::parse(r).map_err(|source| Error::Url {
                what: "redirect URI",
                url: r.clone(),
                source,
            })?;
        }
        let allowed = match &opts.users {
            UserPolicy::AnyEmail => Allowed::Any,
            UserPolicy::UsersFile(p) => Allowed::Listed(read_users(p)?),
        };
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(Error::Storage(format!(
                "data directory {} is not a directory",
                data_dir.display()
            )));
        }
        let (key, key_generated) = load_or_generate_key(data_dir)?;
        let (jwk, kid) = jwk_for(&key)?;
        let idp = Idp {
            issuer: opts.issuer_url.clone(),
            key,
            kid,
            jwk,
            allowed,
            opts,
            rng: SystemRandom::new(),
            key_generated,
            data_dir: data_dir.to_path_buf(),
            pending: Mutex::new(Pending::default()),
        };
        let path = idp.issuer_file();
        let body =
            serde_json::to_vec_pretty(&idp.issuer_config()).map_err(|source| Error::Json {
                what: "issuer config".into(),
                source,
            })?;
        write_file_durably(&path, &body, false)?;
        Ok(idp)
    }

    /// The issuer URL (`iss` of user tokens).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The options in effect (issuer URL normalised, client IDs filled in).
    pub fn options(&self) -> &IdpOptions {
        &self.opts
    }

    /// The signing key's `kid` (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// Whether [`Idp::load_or_generate`] generated the key (first start).
    pub fn key_generated(&self) -> bool {
        self.key_generated
    }

    /// Path of the signing key file.
    pub fn key_file(&self) -> PathBuf {
        self.data_dir.join(KEY_FILE)
    }

    /// Path of the written `issuer.json`.
    pub fn issuer_file(&self) -> PathBuf {
        self.data_dir.join(ISSUER_FILE)
    }

    /// A one-line description of who gets tokens (for start-up messages).
    pub fn users_summary(&self) -> String {
        match &self.allowed {
            Allowed::Any => "ANY email (no passwords)".to_string(),
            Allowed::Listed(u) => {
                let with = u.values().filter(|(_, h)| h.is_some()).count();
                format!("{} listed email(s), {with} with a password", u.len())
            }
        }
    }

    /// The issuer URL of CI tokens of `kind`: `<issuer>/ci/<kind>`.
    pub fn ci_issuer(&self, kind: CiKind) -> String {
        format!("{}/ci/{}", self.issuer, kind.as_str())
    }

    /// The issuers a CA must trust to accept this IdP's tokens: the user issuer (type
    /// `email`), plus, when CI tokens are allowed, one issuer per [`CiKind`] with the Fulcio
    /// type that maps its claims (`github-workflow`, `gitlab-pipeline`, `buildkite-job`).
    pub fn ca_issuers(&self) -> Vec<CaIssuer> {
        let mut issuers = vec![CaIssuer {
            issuer_url: self.issuer.clone(),
            client_id: self.opts.default_audience.clone(),
            issuer_type: "email",
            ci: None,
        }];
        if self.opts.allow_ci_tokens {
            issuers.extend(CiKind::ALL.into_iter().map(|kind| CaIssuer {
                issuer_url: self.ci_issuer(kind),
                client_id: self.opts.default_audience.clone(),
                issuer_type: kind.issuer_type(),
                ci: Some(kind),
            }));
        }
        issuers
    }

    /// The CA issuer config (Fulcio `OIDCIssuers` JSON) for this IdP: [`Idp::ca_issuers`]
    /// keyed by issuer URL.
    pub fn issuer_config(&self) -> CaIssuerConfig {
        CaIssuerConfig {
            oidc_issuers: self
                .ca_issuers()
                .into_iter()
                .map(|i| (i.issuer_url.clone(), i))
                .collect(),
        }
    }

    /// Check that `email` may log in with `password` (`None`: no password given).
    pub(crate) fn check_login(&self, email: &str, password: Option<&str>) -> LoginCheck {
        match &self.allowed {
            Allowed::Any => LoginCheck::Ok(email.to_string()),
            Allowed::Listed(users) => match users.get(&email.to_ascii_lowercase()) {
                None => LoginCheck::NotListed,
                Some((listed, None)) => LoginCheck::Ok(listed.clone()),
                Some((listed, Some(hash))) => match password {
                    Some(p) if verify_password(hash, p) => LoginCheck::Ok(listed.clone()),
                    _ => LoginCheck::BadPassword,
                },
            },
        }
    }

    /// Whether any listed user has a password (the login pages then ask for one).
    pub(crate) fn has_passwords(&self) -> bool {
        matches!(&self.allowed, Allowed::Listed(u) if u.values().any(|(_, h)| h.is_some()))
    }

    /// Sign a JWT with `claims` (`iss`, `iat`, `nbf`, `exp` are set here).
    pub(crate) fn sign_claims(&self, iss: &str, mut claims: Map<String, Value>) -> Result<String> {
        let now = unix_now();
        claims.insert("iss".into(), Value::from(iss));
        claims.insert("iat".into(), Value::from(now));
        claims.insert("nbf".into(), Value::from(now));
        claims.insert(
            "exp".into(),
            Value::from(now + self.opts.token_lifetime.as_secs()),
        );
        if !claims.contains_key("jti") {
            let jti = random_token(16).map_err(Error::Storage)?;
            claims.insert("jti".into(), Value::from(jti));
        }
        let header = JwtHeader {
            alg: "ES256",
            kid: &self.kid,
            typ: "JWT",
        };
        let header = serde_json::to_string(&header).map_err(|source| Error::Json {
            what: "JWT header".into(),
            source,
        })?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| Error::Storage("signing failed".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        ))
    }

    /// Sign a user ID token: `sub` = `email` = the email, `email_verified: true`,
    /// `aud`, and `nonce` when given.
    pub fn mint_email_token(&self, email: &str, aud: &str, nonce: Option<&str>) -> Result<String> {
        check_email(email).map_err(Error::Config)?;
        if !valid_audience(aud) {
            return Err(Error::Config(format!("invalid audience {aud:?}")));
        }
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(email));
        claims.insert("email".into(), Value::from(email));
        claims.insert("email_verified".into(), Value::from(true));
        claims.insert("aud".into(), Value::from(aud));
        if let Some(n) = nonce {
            claims.insert("nonce".into(), Value::from(n));
        }
        self.sign_claims(&self.issuer, claims)
    }

    /// Sign a CI-style token of `kind` for audience `aud`: `overrides` are merged over
    /// realistic defaults (see [`CiKind`]); `iss` is [`Idp::ci_issuer`]. This works whether
    /// or not the HTTP endpoint allows CI tokens.
    pub fn mint_ci_token(
        &self,
        kind: CiKind,
        overrides: &Map<String, Value>,
        aud: &str,
    ) -> Result<String> {
        if !valid_audience(aud) {
            return Err(Error::Config(format!("invalid audience {aud:?}")));
        }
        let host = url::Url::parse(&self.issuer)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
            })
            .unwrap_or_else(|| "localhost".into());
        let mut claims = crate::ci::ci_claims(kind, overrides, &host).map_err(Error::Config)?;
        claims.insert("aud".into(), Value::from(aud));
        self.sign_claims(&self.ci_issuer(kind), claims)
    }
}

/// An acceptable audience / client ID: 1–256 printable characters.
pub(crate) fn valid_audience(a: &str) -> bool {
    !a.is_empty() && a.len() <= 256 && !a.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(check_email("a@b.test").is_ok());
        assert!(check_email("a@").is_err());
        assert!(check_email("@b").is_err());
        assert!(check_email("a b@c").is_err());
        assert!(check_email("a@b@c").is_err());
    }

    #[test]
    fn passwords() {
        let h = hash_password("correct horse").unwrap_or_default();
        assert!(h.starts_with("pbkdf2-sha256$600000$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("garbage", "x"));
        assert!(hash_password("").is_err());
    }

    #[test]
    fn issuer_urls() {
        assert_eq!(
            issuer_url("http://127.0.0.1:5/").ok().as_deref(),
            Some("http://127.0.0.1:5")
        );
        assert!(issuer_url("ftp://x").is_err());
        assert!(issuer_url("https://x/?a=b").is_err());
        assert!(issuer_url("not a url").is_err());
    }
}
