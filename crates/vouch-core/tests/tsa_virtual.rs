//! Tests against an in-process "virtual TSA": certificates and tokens assembled here and signed
//! with aws-lc-rs keys, to reach the branches the recorded conformance data does not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use der::Encode as _;
use der::asn1::ObjectIdentifier;
use vouch_core::limits::MAX_CHAIN_LEN;
use vouch_core::tsa::{TimestampError, TsaVerifier};
use vouch_core::x509::ChainError;

// --- minimal DER writer -------------------------------------------------------------

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}
fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}
fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &cat(parts))
}
fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x31, &cat(parts))
}
fn ctx(n: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0xa0 | n, &cat(parts))
}
fn oid(s: &str) -> Vec<u8> {
    ObjectIdentifier::new_unwrap(s).to_der().unwrap()
}
fn int(bytes: &[u8]) -> Vec<u8> {
    tlv(0x02, bytes)
}
fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(0x04, bytes)
}
fn bits(bytes: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], bytes].concat())
}
fn null() -> Vec<u8> {
    vec![0x05, 0x00]
}
fn utc(secs: i64) -> Vec<u8> {
    let d = std::time::Duration::from_secs(u64::try_from(secs).unwrap());
    der::asn1::UtcTime::from_unix_duration(d)
        .unwrap()
        .to_der()
        .unwrap()
}
fn name(cn: &str) -> Vec<u8> {
    seq(&[set(&[seq(&[oid("2.5.4.3"), tlv(0x0c, cn.as_bytes())])])])
}
fn sha256_algid() -> Vec<u8> {
    seq(&[oid("2.16.840.1.101.3.4.2.1")])
}
fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

// --- keys ---------------------------------------------------------------------------

enum Key {
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair, bool),
}

impl Key {
    fn p256() -> Self {
        Key::P256(EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap())
    }
    fn spki(&self) -> Vec<u8> {
        match self {
            Key::P256(k) => seq(&[
                seq(&[oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7")]),
                bits(k.public_key().as_ref()),
            ]),
            Key::P384(k) => seq(&[
                seq(&[oid("1.2.840.10045.2.1"), oid("1.3.132.0.34")]),
                bits(k.public_key().as_ref()),
            ]),
            Key::Ed25519(k) => seq(&[seq(&[oid("1.3.101.112")]), bits(k.public_key().as_ref())]),
            Key::Rsa(k, _) => seq(&[
                seq(&[oid("1.2.840.113549.1.1.1"), null()]),
                bits(k.public_key().as_ref()),
            ]),
        }
    }
    fn sig_alg(&self) -> Vec<u8> {
        match self {
            Key::P256(_) => seq(&[oid("1.2.840.10045.4.3.2")]),
            Key::P384(_) => seq(&[oid("1.2.840.10045.4.3.3")]),
            Key::Ed25519(_) => seq(&[oid("1.3.101.112")]),
            Key::Rsa(_, false) => seq(&[oid("1.2.840.113549.1.1.11"), null()]),
            Key::Rsa(_, true) => seq(&[
                oid("1.2.840.113549.1.1.10"),
                seq(&[
                    ctx(0, &[sha256_algid()]),
                    ctx(1, &[seq(&[oid("1.2.840.113549.1.1.8"), sha256_algid()])]),
                    ctx(2, &[int(&[32])]),
                ]),
            ]),
        }
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Key::P256(k) | Key::P384(k) => k.sign(&rng, msg).unwrap().as_ref().to_vec(),
            Key::Ed25519(k) => k.sign(msg).as_ref().to_vec(),
            Key::Rsa(k, pss) => {
                let mut sig = vec![0; k.public_modulus_len()];
                let enc: &'static dyn signature::RsaEncoding = if *pss {
                    &signature::RSA_PSS_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                k.sign(enc, &rng, msg, &mut sig).unwrap();
                sig
            }
        }
    }
}

// --- certificates -------------------------------------------------------------------

const T0: i64 = 1_748_736_000; // 2025-06-01T00:00:00Z

struct CertSpec<'a> {
    subject: &'a str,
    issuer: &'a str,
    serial: u8,
    not_before: i64,
    not_after: i64,
    ca: bool,
    timestamping: bool,
    ski: u8,
    /// Adds a critical extension nobody understands (a private OID).
    unknown_critical: bool,
}

impl<'a> CertSpec<'a> {
    fn leaf(subject: &'a str, issuer: &'a str) -> Self {
        Self {
            subject,
            issuer,
            serial: 0x11,
            not_before: T0 - 86_400,
            not_after: T0 + 86_400,
            ca: false,
            timestamping: true,
            ski: 0x51,
            unknown_critical: false,
        }
    }
    fn root(subject: &'a str) -> Self {
        Self {
            subject,
            issuer: subject,
            serial: 0x01,
            not_before: T0 - 10 * 86_400,
            not_after: T0 + 10 * 86_400,
            ca: true,
            timestamping: false,
            ski: 0x01,
            unknown_critical: false,
        }
    }
    fn build(&self, key: &Key, issuer_key: &Key) -> Vec<u8> {
        let mut exts = vec![seq(&[oid("2.5.29.14"), octets(&octets(&[self.ski; 20]))])];
        if self.ca {
            exts.push(seq(&[
                oid("2.5.29.19"),
                tlv(0x01, &[0xff]),
                octets(&seq(&[tlv(0x01, &[0xff])])),
            ]));
        }
        if self.timestamping {
            exts.push(seq(&[
                oid("2.5.29.37"),
                tlv(0x01, &[0xff]),
                octets(&seq(&[oid("1.3.6.1.5.5.7.3.8")])),
            ]));
        }
        if self.unknown_critical {
            exts.push(seq(&[
                oid("1.3.6.1.4.1.32473.99"),
                tlv(0x01, &[0xff]),
                octets(&null()),
            ]));
        }
        let tbs = seq(&[
            ctx(0, &[int(&[2])]),
            int(&[self.serial]),
            issuer_key.sig_alg(),
            name(self.issuer),
            seq(&[utc(self.not_before), utc(self.not_after)]),
            name(self.subject),
            key.spki(),
            ctx(3, &[seq(&exts)]),
        ]);
        let sig = issuer_key.sign(&tbs);
        seq(&[tbs, issuer_key.sig_alg(), bits(&sig)])
    }
}

/// A trusted chain [leaf, root] plus the leaf key.
struct Tsa {
    root_key: Key,
    root: Vec<u8>,
    leaf_key: Key,
    leaf: Vec<u8>,
}

impl Tsa {
    fn with_leaf_key(leaf_key: Key) -> Self {
        let root_key = Key::p256();
        let root = CertSpec::root("Virtual Root").build(&root_key, &root_key);
        let leaf = CertSpec::leaf("Virtual TSA", "Virtual Root").build(&leaf_key, &root_key);
        Self {
            root_key,
            root,
            leaf_key,
            leaf,
        }
    }
    fn new() -> Self {
        Self::with_leaf_key(Key::p256())
    }
    fn verifier(&self) -> TsaVerifier {
        TsaVerifier::new(&[self.leaf.clone(), self.root.clone()]).unwrap()
    }
    fn token(&self) -> Token<'_> {
        Token::new(&self.leaf_key, &self.leaf, "Virtual Root", 0x11)
    }
}

// --- tokens -------------------------------------------------------------------------

const SIGNED: &[u8] = b"the artifact signature bytes";

struct Token<'a> {
    key: &'a Key,
    status: u8,
    version: u8,
    econtent_type: &'static str,
    imprint: Vec<u8>,
    gen_time: String,
    sid: Vec<u8>,
    sid_is_ski: bool,
    certs: Vec<Vec<u8>>,
    content_type_attr: &'static str,
    message_digest: Option<Vec<u8>>,
    ess_hash: Option<Vec<u8>>,
    reverse_attrs: bool,
    signed_attrs: bool,
    signers: usize,
    corrupt_signature: bool,
}

impl<'a> Token<'a> {
    fn new(key: &'a Key, cert: &[u8], issuer: &str, serial: u8) -> Self {
        Self {
            key,
            status: 0,
            version: 1,
            econtent_type: "1.2.840.113549.1.9.16.1.4",
            imprint: sha256(SIGNED),
            gen_time: "20250601000000Z".to_owned(),
            sid: seq(&[name(issuer), int(&[serial])]),
            sid_is_ski: false,
            certs: Vec::new(),
            content_type_attr: "1.2.840.113549.1.9.16.1.4",
            message_digest: None,
            ess_hash: Some(sha256(cert)),
            reverse_attrs: false,
            signed_attrs: true,
            signers: 1,
            corrupt_signature: false,
        }
    }
    fn ski_sid(mut self, ski: u8) -> Self {
        self.sid = tlv(0x80, &[ski; 20]);
        self.sid_is_ski = true;
        self
    }
    fn build(&self) -> Vec<u8> {
        let tst = seq(&[
            int(&[self.version]),
            oid("1.3.6.1.4.1.57264.2"),
            seq(&[sha256_algid(), octets(&self.imprint)]),
            int(&[0x00, 0x9a, 0xbc]),
            tlv(0x18, self.gen_time.as_bytes()),
            seq(&[int(&[1])]),
            int(&[0x42]),
        ]);
        let mut attrs = vec![
            seq(&[
                oid("1.2.840.113549.1.9.3"),
                set(&[oid(self.content_type_attr)]),
            ]),
            seq(&[
                oid("1.2.840.113549.1.9.4"),
                set(&[octets(
                    self.message_digest.as_deref().unwrap_or(&sha256(&tst)),
                )]),
            ]),
        ];
        if let Some(h) = &self.ess_hash {
            attrs.push(seq(&[
                oid("1.2.840.113549.1.9.16.2.47"),
                set(&[seq(&[seq(&[seq(&[octets(h)])])])]),
            ]));
        }
        attrs.sort();
        if self.reverse_attrs {
            attrs.reverse();
        }
        let mut sig = self.key.sign(&set(&attrs));
        if self.corrupt_signature {
            let last = sig.len() - 1;
            sig[last] ^= 1;
        }
        let mut signer_info = vec![
            int(&[if self.sid_is_ski { 3 } else { 1 }]),
            self.sid.clone(),
            sha256_algid(),
        ];
        if self.signed_attrs {
            signer_info.push(tlv(0xa0, &cat(&attrs)));
        }
        signer_info.extend([self.key.sig_alg(), octets(&sig)]);
        let signer_info = seq(&signer_info);
        let mut signed_data = vec![
            int(&[3]),
            set(&[sha256_algid()]),
            seq(&[oid(self.econtent_type), ctx(0, &[octets(&tst)])]),
        ];
        if !self.certs.is_empty() {
            signed_data.push(tlv(0xa0, &cat(&self.certs)));
        }
        signed_data.push(set(&vec![signer_info; self.signers]));
        seq(&[
            seq(&[int(&[self.status])]),
            seq(&[oid("1.2.840.113549.1.7.2"), ctx(0, &[seq(&signed_data)])]),
        ])
    }
}

// --- tests --------------------------------------------------------------------------

#[test]
fn virtual_tsa_token_verifies() {
    let tsa = Tsa::new();
    let v = tsa.verifier();
    let ts = v.verify(&tsa.token().build(), SIGNED).unwrap();
    assert_eq!(ts.gen_time_unix, T0);
    assert_eq!(ts.gen_time_nanos, 0);
    assert_eq!(ts.serial, vec![0x9a, 0xbc]);
    assert_eq!(ts.nonce, Some(vec![0x42]));
    assert_eq!(ts.policy, "1.3.6.1.4.1.57264.2");
    assert_eq!(v.leaf_subject(), "CN=Virtual TSA");

    // Embedded leaf, byte-identical to the trusted one; SKI signer identifier.
    let mut token = tsa.token();
    token.certs = vec![tsa.leaf.clone(), tsa.root.clone()];
    v.verify(&token.build(), SIGNED).unwrap();
    v.verify(&tsa.token().ski_sid(0x51).build(), SIGNED)
        .unwrap();

    // Signed attributes not in DER order are verified over their bytes as sent.
    let mut token = tsa.token();
    token.reverse_attrs = true;
    v.verify(&token.build(), SIGNED).unwrap();

    // No ESS signing-certificate attribute is tolerated.
    let mut token = tsa.token();
    token.ess_hash = None;
    v.verify(&token.build(), SIGNED).unwrap();

    // Fractional genTime.
    let mut token = tsa.token();
    token.gen_time = "20250601000000.25Z".to_owned();
    assert_eq!(
        v.verify(&token.build(), SIGNED).unwrap().gen_time_nanos,
        250_000_000
    );
}

#[test]
fn virtual_tsa_other_key_types() {
    let rsa = |pss| {
        Key::Rsa(
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
            pss,
        )
    };
    for key in [
        Key::Ed25519(Ed25519KeyPair::generate().unwrap()),
        Key::P384(EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING).unwrap()),
        rsa(false),
        rsa(true),
    ] {
        let tsa = Tsa::with_leaf_key(key);
        tsa.verifier().verify(&tsa.token().build(), SIGNED).unwrap();
        let mut token = tsa.token();
        token.corrupt_signature = true;
        assert_eq!(
            tsa.verifier().verify(&token.build(), SIGNED),
            Err(TimestampError::SignatureInvalid)
        );
    }
}

#[test]
fn embedded_signer_must_chain_to_the_trusted_root() {
    let tsa = Tsa::new();
    let v = tsa.verifier();

    // A second TSA certificate issued by the trusted root, embedded: accepted.
    let key2 = Key::p256();
    let mut spec = CertSpec::leaf("Virtual TSA 2", "Virtual Root");
    spec.serial = 0x22;
    spec.ski = 0x52;
    let leaf2 = spec.build(&key2, &tsa.root_key);
    let mut token = Token::new(&key2, &leaf2, "Virtual Root", 0x22);
    token.certs = vec![leaf2.clone()];
    v.verify(&token.build(), SIGNED).unwrap();
    // Not embedded: the trust root does not know it.
    token.certs.clear();
    assert!(matches!(
        v.verify(&token.build(), SIGNED),
        Err(TimestampError::SignerNotTrusted { .. })
    ));

    // The same without the timeStamping EKU: rejected.
    spec.timestamping = false;
    let leaf2_no_eku = spec.build(&key2, &tsa.root_key);
    let mut token = Token::new(&key2, &leaf2_no_eku, "Virtual Root", 0x22);
    token.certs = vec![leaf2_no_eku];
    assert!(matches!(
        v.verify(&token.build(), SIGNED),
        Err(TimestampError::SignerNotTrusted { .. })
    ));

    // An impostor reusing the trusted names and serial, under another root key: rejected.
    let impostor_root = Key::p256();
    let impostor_key = Key::p256();
    let impostor =
        CertSpec::leaf("Virtual TSA", "Virtual Root").build(&impostor_key, &impostor_root);
    let mut token = Token::new(&impostor_key, &impostor, "Virtual Root", 0x11);
    token.certs = vec![impostor.clone()];
    assert!(matches!(
        v.verify(&token.build(), SIGNED),
        Err(TimestampError::SignerNotTrusted { .. })
    ));
    // Without embedding, the impostor matches the trusted leaf's sid but not its key.
    token.certs.clear();
    token.ess_hash = Some(sha256(&tsa.leaf));
    assert_eq!(
        v.verify(&token.build(), SIGNED),
        Err(TimestampError::SignatureInvalid)
    );
}

#[test]
fn each_check_has_its_variant() {
    let tsa = Tsa::new();
    let v = tsa.verifier();
    let check = |token: &Token<'_>| v.verify(&token.build(), SIGNED).unwrap_err();

    let mut t = tsa.token();
    t.status = 2;
    assert_eq!(check(&t), TimestampError::NotGranted { status: 2 });
    let mut t = tsa.token();
    t.status = 1;
    v.verify(&t.build(), SIGNED).unwrap();

    let mut t = tsa.token();
    t.econtent_type = "1.2.840.113549.1.7.1";
    assert!(matches!(check(&t), TimestampError::WrongContentType { .. }));

    let mut t = tsa.token();
    t.signers = 2;
    assert_eq!(check(&t), TimestampError::SignerInfoCount { count: 2 });
    t.signers = 0;
    assert_eq!(check(&t), TimestampError::SignerInfoCount { count: 0 });

    let mut t = tsa.token();
    t.version = 2;
    assert_eq!(check(&t), TimestampError::UnsupportedVersion { version: 2 });

    assert!(matches!(
        v.verify(&tsa.token().build(), b"other bytes").unwrap_err(),
        TimestampError::ImprintMismatch { .. }
    ));

    assert!(matches!(
        check(&tsa.token().ski_sid(0x99)),
        TimestampError::SignerNotTrusted { .. }
    ));

    let mut t = tsa.token();
    t.signed_attrs = false;
    assert_eq!(check(&t), TimestampError::MissingSignedAttributes);

    let mut t = tsa.token();
    t.content_type_attr = "1.2.840.113549.1.7.1";
    assert!(matches!(
        check(&t),
        TimestampError::ContentTypeAttributeMismatch { .. }
    ));

    let mut t = tsa.token();
    t.message_digest = Some(vec![0; 32]);
    assert!(matches!(
        check(&t),
        TimestampError::MessageDigestMismatch { .. }
    ));

    let mut t = tsa.token();
    t.ess_hash = Some(sha256(&tsa.root));
    assert!(matches!(
        check(&t),
        TimestampError::SigningCertificateMismatch { .. }
    ));

    let mut t = tsa.token();
    t.corrupt_signature = true;
    assert_eq!(check(&t), TimestampError::SignatureInvalid);
}

#[test]
fn gen_time_is_checked_against_every_certificate() {
    let tsa = Tsa::new();
    let v = tsa.verifier();
    let at = |gen_time: &str| {
        let mut t = tsa.token();
        t.gen_time = gen_time.to_owned();
        v.verify(&t.build(), SIGNED)
    };
    // Leaf validity is T0 ± 1 day, both ends inclusive.
    at("20250531000000Z").unwrap();
    at("20250602000000Z").unwrap();
    for outside in ["20250602000000.5Z", "20250530235959Z"] {
        match at(outside) {
            Err(TimestampError::CertificateNotValidAtGenTime { subject, .. }) => {
                assert_eq!(subject, "CN=Virtual TSA");
            }
            other => panic!("{outside}: {other:?}"),
        }
    }

    // A leaf outliving its root: genTime past the root's notAfter names the root.
    let root_key = Key::p256();
    let mut root_spec = CertSpec::root("Short Root");
    root_spec.not_after = T0 - 3600;
    let root = root_spec.build(&root_key, &root_key);
    let leaf_key = Key::p256();
    let leaf = CertSpec::leaf("Long TSA", "Short Root").build(&leaf_key, &root_key);
    let v = TsaVerifier::new(&[leaf.clone(), root]).unwrap();
    let token = Token::new(&leaf_key, &leaf, "Short Root", 0x11);
    match v.verify(&token.build(), SIGNED) {
        Err(TimestampError::CertificateNotValidAtGenTime { subject, .. }) => {
            assert_eq!(subject, "CN=Short Root");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chain_is_validated_once() {
    let tsa = Tsa::new();
    // Leaf without the timeStamping EKU.
    let mut spec = CertSpec::leaf("Virtual TSA", "Virtual Root");
    spec.timestamping = false;
    let no_eku = spec.build(&tsa.leaf_key, &tsa.root_key);
    assert!(matches!(
        TsaVerifier::new(&[no_eku, tsa.root.clone()]),
        Err(TimestampError::MissingTimestampingEku { .. })
    ));
    // Issuer that is not a CA.
    let mut not_ca = CertSpec::root("Virtual Root");
    not_ca.ca = false;
    let not_ca = not_ca.build(&tsa.root_key, &tsa.root_key);
    assert!(matches!(
        TsaVerifier::new(&[tsa.leaf.clone(), not_ca]),
        Err(TimestampError::IssuerNotCa { index: 1, .. })
    ));
    // Same names, another key: the leaf's signature does not verify.
    let other_key = Key::p256();
    let other_root = CertSpec::root("Virtual Root").build(&other_key, &other_key);
    assert!(matches!(
        TsaVerifier::new(&[tsa.leaf.clone(), other_root]),
        Err(TimestampError::ChainSignatureInvalid { index: 0, .. })
    ));
    // Names that do not chain.
    let stranger = CertSpec::root("Stranger").build(&tsa.root_key, &tsa.root_key);
    assert!(matches!(
        TsaVerifier::new(&[tsa.leaf.clone(), stranger]),
        Err(TimestampError::IssuerMismatch { index: 0, .. })
    ));
    // Too long.
    let long = vec![tsa.root.clone(); MAX_CHAIN_LEN + 1];
    assert!(matches!(
        TsaVerifier::new(&long),
        Err(TimestampError::ChainTooLong { .. })
    ));
    // A leaf alone is its own trust anchor.
    let v = TsaVerifier::new(std::slice::from_ref(&tsa.leaf)).unwrap();
    v.verify(&tsa.token().build(), SIGNED).unwrap();
}

#[test]
fn error_messages_are_one_lowercase_line() {
    let tsa = Tsa::new();
    let mut t = tsa.token();
    t.gen_time = "20250701000000Z".to_owned();
    let e = tsa.verifier().verify(&t.build(), SIGNED).unwrap_err();
    let msg = e.to_string();
    assert_eq!(
        msg,
        "timestamp time 2025-07-01T00:00:00Z is outside the validity of CN=Virtual TSA \
         (2025-05-31T00:00:00Z to 2025-06-02T00:00:00Z)"
    );
    assert!(!msg.contains('\n'));
}

/// Regression test: the hand-written chain check accepted a TSA certificate with a critical
/// extension it does not understand; webpki's path validation at genTime rejects it.
#[test]
fn unknown_critical_extension_is_rejected() {
    let tsa = Tsa::new();
    let mut spec = CertSpec::leaf("Virtual TSA", "Virtual Root");
    spec.unknown_critical = true;
    let leaf = spec.build(&tsa.leaf_key, &tsa.root_key);
    let v = TsaVerifier::new(&[leaf.clone(), tsa.root.clone()]).unwrap();
    let token = Token::new(&tsa.leaf_key, &leaf, "Virtual Root", 0x11).build();
    match v.verify(&token, SIGNED) {
        Err(TimestampError::ChainRejected {
            gen_time: Some(t),
            source: ChainError::Rejected { reason },
        }) => {
            assert_eq!(t, "2025-06-01T00:00:00Z");
            assert!(reason.contains("UnsupportedCriticalExtension"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Pinned alone, the leaf is checked when the chain is loaded.
    assert!(matches!(
        TsaVerifier::new(&[leaf]),
        Err(TimestampError::ChainRejected { gen_time: None, .. })
    ));
    // The same certificate without the extension verifies.
    tsa.verifier().verify(&tsa.token().build(), SIGNED).unwrap();
}

/// Regression test: a CA certificate (with the timeStamping EKU) was accepted as the signer.
#[test]
fn ca_certificate_may_not_sign_timestamps() {
    let tsa = Tsa::new();
    // As the trusted leaf.
    let mut spec = CertSpec::leaf("Virtual TSA", "Virtual Root");
    spec.ca = true;
    let ca_leaf = spec.build(&tsa.leaf_key, &tsa.root_key);
    assert!(matches!(
        TsaVerifier::new(&[ca_leaf.clone(), tsa.root.clone()]),
        Err(TimestampError::LeafIsCa { .. })
    ));
    assert!(matches!(
        TsaVerifier::new(&[ca_leaf]),
        Err(TimestampError::LeafIsCa { .. })
    ));
    // As a certificate embedded in the token, issued by the trusted root.
    let key2 = Key::p256();
    let mut spec = CertSpec::leaf("Virtual TSA 2", "Virtual Root");
    spec.serial = 0x22;
    spec.ski = 0x52;
    spec.ca = true;
    let ca2 = spec.build(&key2, &tsa.root_key);
    let mut token = Token::new(&key2, &ca2, "Virtual Root", 0x22);
    token.certs = vec![ca2.clone()];
    assert!(matches!(
        tsa.verifier().verify(&token.build(), SIGNED),
        Err(TimestampError::ChainRejected {
            source: ChainError::LeafIsCa,
            ..
        })
    ));
}
