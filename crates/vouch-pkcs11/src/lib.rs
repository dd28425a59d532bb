//! PKCS#11 signing keys (HSMs, SoftHSM2, YubiHSM, cloud HSM PKCS#11 modules) addressed by
//! RFC 7512 `pkcs11:` URIs, as cosign addresses them:
//!
//! `pkcs11:token=vouch;object=ca-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234`
//!
//! Path attributes: `token` (token label), `object` (key label), `id` (key ID, %-encoded bytes),
//! `slot-id`. Query attributes: `module-path` (the PKCS#11 library; else `$VOUCH_PKCS11_MODULE`),
//! `pin-value` (else `$VOUCH_PKCS11_PIN`). Only ECDSA P-256 and P-384 keys are supported: the
//! token signs a digest (`CKM_ECDSA`) and we return the ASN.1 DER signature Sigstore uses.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::Encode;
use der::asn1::{BitString, ObjectIdentifier, OctetString, UintRef};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::sync::Mutex;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// Errors, each naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The URI is malformed or incomplete.
    #[error("invalid pkcs11 URI: {0}")]
    Uri(String),
    /// The module could not be loaded.
    #[error("PKCS#11 module {module}: {source}")]
    ModuleLoad {
        /// Module path.
        module: String,
        /// The loader's error.
        #[source]
        source: cryptoki::error::Error,
    },
    /// The module could not be initialised (`C_Initialize`).
    #[error("PKCS#11 module {module}: C_Initialize: {source}")]
    ModuleInit {
        /// Module path.
        module: String,
        /// The module's error.
        #[source]
        source: cryptoki::error::Error,
    },
    /// No token / key matched.
    #[error("PKCS#11: {0}")]
    NotFound(String),
    /// A token operation failed.
    #[error("PKCS#11 {op}: {detail}")]
    Token {
        /// The operation.
        op: &'static str,
        /// The module's error.
        detail: String,
    },
    /// A token operation failed in the module.
    #[error("PKCS#11 {op}: {source}")]
    Cryptoki {
        /// The operation.
        op: &'static str,
        /// The module's error.
        #[source]
        source: cryptoki::error::Error,
    },
    /// The token's signature cannot be encoded as DER.
    #[error("PKCS#11 C_Sign: encoding the signature: {source}")]
    SignatureEncoding {
        /// The DER error.
        #[source]
        source: der::Error,
    },
    /// The key is of a kind we cannot use.
    #[error("PKCS#11 key: {0}")]
    Unsupported(String),
    /// The key's public key or curve cannot be encoded as DER.
    #[error("PKCS#11 key: {what}: {source}")]
    KeyEncoding {
        /// What was being encoded.
        what: &'static str,
        /// The DER error.
        #[source]
        source: der::Error,
    },
}

fn tok(op: &'static str) -> impl Fn(cryptoki::error::Error) -> Pkcs11Error {
    move |source| Pkcs11Error::Cryptoki { op, source }
}

/// A parsed `pkcs11:` URI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// Path of the PKCS#11 module.
    pub module_path: String,
    /// Token label.
    pub token: Option<String>,
    /// Slot ID.
    pub slot_id: Option<u64>,
    /// Key label.
    pub object: Option<String>,
    /// Key ID (CKA_ID) bytes.
    pub id: Option<Vec<u8>>,
    /// User PIN.
    pub pin: Option<String>,
}

fn pct_decode(s: &str) -> Result<Vec<u8>, Pkcs11Error> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Pkcs11Error::Uri(format!("bad %-escape in {s:?}")))?;
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn pct_str(s: &str) -> Result<String, Pkcs11Error> {
    String::from_utf8(pct_decode(s)?)
        .map_err(|_| Pkcs11Error::Uri(format!("{s:?} is not UTF-8 after decoding")))
}

impl Pkcs11Uri {
    /// Parse a `pkcs11:` URI (RFC 7512).
    pub fn parse(uri: &str) -> Result<Self, Pkcs11Error> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| Pkcs11Error::Uri("does not start with pkcs11:".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut u = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| Pkcs11Error::Uri(format!("path attribute {attr:?} has no '='")))?;
            match k {
                "token" => u.token = Some(pct_str(v)?),
                "object" => u.object = Some(pct_str(v)?),
                "id" => u.id = Some(pct_decode(v)?),
                "slot-id" => {
                    u.slot_id =
                        Some(v.parse().map_err(|_| {
                            Pkcs11Error::Uri(format!("slot-id {v:?} is not a number"))
                        })?)
                }
                "type" if v == "private" => {}
                "type" => {
                    return Err(Pkcs11Error::Uri(format!(
                        "type={v}: a private key is needed"
                    )));
                }
                // Informational attributes (manufacturer, model, serial, library-*) are ignored.
                _ => {}
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| Pkcs11Error::Uri(format!("query attribute {attr:?} has no '='")))?;
            match k {
                "module-path" => u.module_path = pct_str(v)?,
                "pin-value" => u.pin = Some(pct_str(v)?),
                _ => {}
            }
        }
        if u.module_path.is_empty() {
            u.module_path = std::env::var("VOUCH_PKCS11_MODULE").map_err(|_| {
                Pkcs11Error::Uri(
                    "no module-path in the URI and VOUCH_PKCS11_MODULE is not set".into(),
                )
            })?;
        }
        if u.pin.is_none() {
            u.pin = std::env::var("VOUCH_PKCS11_PIN").ok();
        }
        if u.object.is_none() && u.id.is_none() {
            return Err(Pkcs11Error::Uri(
                "name the key with object=<label> or id=<bytes>".into(),
            ));
        }
        Ok(u)
    }

    fn key_template(&self, class: ObjectClass) -> Vec<Attribute> {
        let mut t = vec![Attribute::Class(class)];
        if let Some(l) = &self.object {
            t.push(Attribute::Label(l.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            t.push(Attribute::Id(id.clone()));
        }
        t
    }
}

/// Curve of a PKCS#11 key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// P-256, signs SHA-256 digests.
    P256,
    /// P-384, signs SHA-384 digests.
    P384,
}

impl Curve {
    fn oid(self) -> ObjectIdentifier {
        match self {
            Curve::P256 => P256,
            Curve::P384 => P384,
        }
    }

    /// Bytes of each of r and s.
    fn scalar_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    /// The digest this curve is paired with in Sigstore.
    pub fn digest_algorithm(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Curve::P256 => &aws_lc_rs::digest::SHA256,
            Curve::P384 => &aws_lc_rs::digest::SHA384,
        }
    }
}

/// A private key on a PKCS#11 token, with its public key read from the token.
pub struct Pkcs11Key {
    _ctx: Pkcs11,
    session: Mutex<Session>,
    key: ObjectHandle,
    curve: Curve,
    spki: Vec<u8>,
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("curve", &self.curve)
            .finish_non_exhaustive()
    }
}

fn open_module(path: &str) -> Result<Pkcs11, Pkcs11Error> {
    let ctx = Pkcs11::new(path).map_err(|source| Pkcs11Error::ModuleLoad {
        module: path.to_string(),
        source,
    })?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|source| Pkcs11Error::ModuleInit {
            module: path.to_string(),
            source,
        })?;
    Ok(ctx)
}

fn find_slot(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Slot, Pkcs11Error> {
    let slots = ctx.get_slots_with_token().map_err(tok("C_GetSlotList"))?;
    for s in slots {
        if let Some(id) = uri.slot_id
            && s.id() != id
        {
            continue;
        }
        if let Some(label) = &uri.token {
            let info = ctx.get_token_info(s).map_err(tok("C_GetTokenInfo"))?;
            if info.label().trim_end() != label {
                continue;
            }
        }
        return Ok(s);
    }
    Err(Pkcs11Error::NotFound(format!(
        "no token matches {}",
        uri.token
            .as_deref()
            .map(|t| format!("token={t}"))
            .unwrap_or_else(|| format!("slot-id={:?}", uri.slot_id))
    )))
}

fn login(session: &Session, uri: &Pkcs11Uri) -> Result<(), Pkcs11Error> {
    if let Some(pin) = &uri.pin {
        let pin = AuthPin::new(pin.clone().into());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) => {}
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(source) => {
                return Err(Pkcs11Error::Cryptoki {
                    op: "C_Login",
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Build a DER SubjectPublicKeyInfo from CKA_EC_PARAMS and CKA_EC_POINT.
fn spki_from_token(params: &[u8], point: &[u8]) -> Result<(Curve, Vec<u8>), Pkcs11Error> {
    let oid = <ObjectIdentifier as der::Decode>::from_der(params)
        .map_err(|_| Pkcs11Error::Unsupported("CKA_EC_PARAMS is not a named curve".into()))?;
    let curve = match oid {
        o if o == P256 => Curve::P256,
        o if o == P384 => Curve::P384,
        o => {
            return Err(Pkcs11Error::Unsupported(format!(
                "curve {o} (P-256 or P-384 needed)"
            )));
        }
    };
    // CKA_EC_POINT is a DER OCTET STRING holding the uncompressed point (some modules give
    // the raw point).
    let raw = match <OctetString as der::Decode>::from_der(point) {
        Ok(o) => o.as_bytes().to_vec(),
        Err(_) => point.to_vec(),
    };
    if raw.first() != Some(&0x04) || raw.len() != 1 + 2 * curve.scalar_len() {
        return Err(Pkcs11Error::Unsupported(
            "CKA_EC_POINT is not an uncompressed point".into(),
        ));
    }
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: EC_PUBLIC_KEY,
            parameters: Some(der::Any::from(&curve.oid())),
        },
        subject_public_key: BitString::from_bytes(&raw).map_err(|source| {
            Pkcs11Error::KeyEncoding {
                what: "public key",
                source,
            }
        })?,
    };
    let der = spki.to_der().map_err(|source| Pkcs11Error::KeyEncoding {
        what: "public key",
        source,
    })?;
    Ok((curve, der))
}

impl Pkcs11Key {
    /// Open the key a `pkcs11:` URI names (logging in with its PIN).
    pub fn open(uri: &str) -> Result<Self, Pkcs11Error> {
        let uri = Pkcs11Uri::parse(uri)?;
        let ctx = open_module(&uri.module_path)?;
        let slot = find_slot(&ctx, &uri)?;
        let session = ctx.open_ro_session(slot).map_err(tok("C_OpenSession"))?;
        login(&session, &uri)?;
        let keys = session
            .find_objects(&uri.key_template(ObjectClass::PRIVATE_KEY))
            .map_err(tok("C_FindObjects"))?;
        let key = match keys.as_slice() {
            [k] => *k,
            [] => {
                return Err(Pkcs11Error::NotFound(
                    "no private key matches the URI (is the PIN right?)".into(),
                ));
            }
            _ => {
                return Err(Pkcs11Error::NotFound(
                    "more than one private key matches the URI: add id= or object=".into(),
                ));
            }
        };
        let kt = session
            .get_attributes(key, &[AttributeType::KeyType])
            .map_err(tok("C_GetAttributeValue"))?;
        if !kt
            .iter()
            .any(|a| matches!(a, Attribute::KeyType(t) if *t == KeyType::EC))
        {
            return Err(Pkcs11Error::Unsupported(
                "only EC keys are supported".into(),
            ));
        }
        let pubs = session
            .find_objects(&uri.key_template(ObjectClass::PUBLIC_KEY))
            .map_err(tok("C_FindObjects"))?;
        let pubkey = pubs.first().copied().ok_or_else(|| {
            Pkcs11Error::NotFound("no public key object next to the private key".into())
        })?;
        let attrs = session
            .get_attributes(pubkey, &[AttributeType::EcParams, AttributeType::EcPoint])
            .map_err(tok("C_GetAttributeValue"))?;
        let mut params = None;
        let mut point = None;
        for a in attrs {
            match a {
                Attribute::EcParams(p) => params = Some(p),
                Attribute::EcPoint(p) => point = Some(p),
                _ => {}
            }
        }
        let (curve, spki) = spki_from_token(
            &params.ok_or_else(|| Pkcs11Error::Unsupported("no CKA_EC_PARAMS".into()))?,
            &point.ok_or_else(|| Pkcs11Error::Unsupported("no CKA_EC_POINT".into()))?,
        )?;
        Ok(Pkcs11Key {
            _ctx: ctx,
            session: Mutex::new(session),
            key,
            curve,
            spki,
        })
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// Sign a digest (SHA-256 for P-256, SHA-384 for P-384); ASN.1 DER ECDSA signature.
    pub fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        if digest.len() != self.curve.digest_algorithm().output_len() {
            return Err(Pkcs11Error::Unsupported(format!(
                "digest is {} bytes, the key signs {}-byte digests",
                digest.len(),
                self.curve.digest_algorithm().output_len()
            )));
        }
        let raw = {
            let session = self.session.lock().map_err(|_| Pkcs11Error::Token {
                op: "C_Sign",
                detail: "session lock poisoned".into(),
            })?;
            session
                .sign(&Mechanism::Ecdsa, self.key, digest)
                .map_err(tok("C_Sign"))?
        };
        raw_to_der(&raw, self.curve.scalar_len())
    }

    /// Hash `msg` with the curve's digest and sign it.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        let d = aws_lc_rs::digest::digest(self.curve.digest_algorithm(), msg);
        self.sign_digest(d.as_ref())
    }
}

/// PKCS#11 returns r || s; Sigstore (X.509, Rekor, bundles) uses the ASN.1 DER form.
fn raw_to_der(raw: &[u8], n: usize) -> Result<Vec<u8>, Pkcs11Error> {
    if raw.len() != 2 * n {
        return Err(Pkcs11Error::Token {
            op: "C_Sign",
            detail: format!("signature is {} bytes, expected {}", raw.len(), 2 * n),
        });
    }
    let strip = |b: &[u8]| -> Vec<u8> {
        let i = b
            .iter()
            .position(|x| *x != 0)
            .unwrap_or(b.len().saturating_sub(1));
        b[i..].to_vec()
    };
    let (r, s) = raw.split_at(n);
    let (r, s) = (strip(r), strip(s));
    let enc = |source: der::Error| Pkcs11Error::SignatureEncoding { source };
    let seq = (
        UintRef::new(&r).map_err(enc)?,
        UintRef::new(&s).map_err(enc)?,
    );
    let mut out = Vec::new();
    // SEQUENCE { INTEGER r, INTEGER s }
    let body = [seq.0.to_der().map_err(enc)?, seq.1.to_der().map_err(enc)?].concat();
    der::Header::new(
        der::Tag::Sequence,
        der::Length::try_from(body.len()).map_err(enc)?,
    )
    .encode_to_vec(&mut out)
    .map_err(enc)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Create an EC key pair on a token (label and ID from the URI), e.g. to provision a CA key.
/// The private key is sensitive and not extractable.
pub fn generate_key(uri: &str, curve: Curve) -> Result<(), Pkcs11Error> {
    let uri = Pkcs11Uri::parse(uri)?;
    let ctx = open_module(&uri.module_path)?;
    let slot = find_slot(&ctx, &uri)?;
    let session = ctx.open_rw_session(slot).map_err(tok("C_OpenSession"))?;
    login(&session, &uri)?;
    let params = curve
        .oid()
        .to_der()
        .map_err(|source| Pkcs11Error::KeyEncoding {
            what: "curve",
            source,
        })?;
    let mut public = vec![
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::EcParams(params),
    ];
    let mut private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
    ];
    for t in [&mut public, &mut private] {
        if let Some(l) = &uri.object {
            t.push(Attribute::Label(l.as_bytes().to_vec()));
        }
        if let Some(id) = &uri.id {
            t.push(Attribute::Id(id.clone()));
        }
    }
    session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .map_err(tok("C_GenerateKeyPair"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=my%20token;object=ca-key;id=%01%02?module-path=/lib/x.so&pin-value=12%334",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("my token"));
        assert_eq!(u.object.as_deref(), Some("ca-key"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.module_path, "/lib/x.so");
        assert_eq!(u.pin.as_deref(), Some("1234"));
        assert!(Pkcs11Uri::parse("pkcs12:x").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:token=t?module-path=/x").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:object=k;type=public?module-path=/x").is_err());
        assert!(Pkcs11Uri::parse("pkcs11:object=%zz?module-path=/x").is_err());
    }

    #[test]
    fn der_signatures() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r needs a sign byte
        raw[63] = 1; // s is small
        let d = raw_to_der(&raw, 32).unwrap();
        assert_eq!(d[0], 0x30);
        assert_eq!(&d[2..5], &[0x02, 0x21, 0x00]);
        assert!(raw_to_der(&raw[1..], 32).is_err());
    }
}
