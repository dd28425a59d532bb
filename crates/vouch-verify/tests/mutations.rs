#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Mutation test: every happy-path conformance bundle must verify unmodified, and every
//! single-field corruption of it (or of the artifact, policy or trusted root) must be rejected
//! with the error variant that names the corrupted check.
//!
//! Mutants are built by editing the parsed bundle JSON and re-serializing it. The checks run in
//! the order of protocols.md §7.2 (tlog entry: SET → checkpoint → inclusion → body cross-check;
//! then RFC 3161 timestamps; chain; SCTs; signature; identity), so a corruption of the bundle
//! signature or leaf certificate is first caught by the tlog body cross-check
//! (`EntryError::SignatureMismatch` / `KeyMismatch`). To exercise the later checks too, bundles
//! that carry an RFC 3161 timestamp are also mutated in a "no-tlog" form (tlog entries removed,
//! policy `insecure_ignore_tlog`), where the same corruptions must hit the TSA imprint, the
//! certificate chain or the artifact signature instead; key-signed bundles additionally in a
//! "bare" form (no tlog entries, no timestamps) that leaves only the artifact signature. The
//! trusted root is mutated too (anchors removed, keys replaced, validity moved to the future) so
//! that the CA, CT log (SCT), TSA and tlog trust checks are each shown to bite.
//!
//! Each mutant lists its acceptable variant(s) in its `accept!` pattern; the pattern text is
//! printed when a mutant is accepted or rejected for the wrong reason.
//!
//! Needs `../shared/testdata` (present in CI); skips with a message when it is absent.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use std::path::{Path, PathBuf};
use vouch_core::bundle::BundleError;
use vouch_core::keys::{HashKind, PublicKey};
use vouch_core::merkle::ProofError;
use vouch_core::note::NoteError;
use vouch_core::trust::{PUBLIC_GOOD_TRUSTED_ROOT, TrustRoot};
use vouch_core::tsa::TimestampError;
use vouch_core::x509::Certificate;
use vouch_verify::{
    Artifact, EntryError, IdentityError, Policy, PolicyBuilder, VerificationResult, Verifier,
    VerifyError,
};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

const HAPPY_CASES: &[&str] = &[
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-intoto-in-dsse-v3",
    "rekor2-happy-path",
    "rekor2-dsse-happy-path",
    "managed-key-happy-path",
    "intoto-with-custom-trust-root",
];

const ENTRY: &str = "/verificationMaterial/tlogEntries/0";
const OID_SAN: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
/// 1.3.6.1.4.1.11129.2.4.2 (embedded SCT list).
const OID_SCT_LIST: &[u8] = &[
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02,
];
/// 1.2.840.113549.1.9.16.1.4 (id-ct-TSTInfo).
const OID_TSTINFO: &[u8] = &[
    0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];

fn cases_dir() -> Option<PathBuf> {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/testdata/conformance/bundle-verify"
    ));
    p.is_dir().then(|| p.to_path_buf())
}

/// Which variants a mutant may be rejected with.
struct Expect {
    ok: fn(&VerifyError) -> bool,
    desc: &'static str,
}

macro_rules! accept {
    ($p:pat) => {
        Expect {
            ok: |e: &VerifyError| matches!(e, $p),
            desc: stringify!($p),
        }
    };
}

/// Shorthand for an entry-level failure pattern.
macro_rules! entry {
    ($p:pat) => {
        VerifyError::Entry { source: $p, .. }
    };
}

enum Pol {
    /// The case's own policy (identity/issuer or key).
    Case,
    /// The case's policy with the tlog requirement waived.
    IgnoreTlog,
    Identity(String),
    Issuer(String),
    Key(PublicKey),
    KeyIgnoreTlog(PublicKey),
}

enum Trust {
    Case,
    PublicGood,
    Staging,
    /// A mutated trusted root.
    Json(Vec<u8>),
}

enum Art {
    Case,
    Bytes(Vec<u8>),
    Sha256(Vec<u8>),
}

struct Mutant {
    name: String,
    bundle: Value,
    artifact: Art,
    policy: Pol,
    trust: Trust,
    expect: Expect,
}

fn mutant(name: impl Into<String>, bundle: Value, expect: Expect) -> Mutant {
    Mutant {
        name: name.into(),
        bundle,
        artifact: Art::Case,
        policy: Pol::Case,
        trust: Trust::Case,
        expect,
    }
}

struct Case {
    bundle: Value,
    trusted_root: Option<Vec<u8>>,
    artifact: Vec<u8>,
    key: Option<PublicKey>,
    identity: String,
    issuer: String,
}

impl Case {
    fn load(dir: &Path, name: &str) -> Case {
        let d = dir.join(name);
        let read = |n: &str| std::fs::read(d.join(n)).ok();
        let text = |n: &str| read(n).map(|b| String::from_utf8(b).unwrap().trim().to_string());
        Case {
            bundle: serde_json::from_slice(&read("bundle.sigstore.json").unwrap()).unwrap(),
            trusted_root: read("trusted_root.json"),
            artifact: read("artifact").unwrap_or_else(|| std::fs::read(dir.join("a.txt")).unwrap()),
            key: read("key.pub")
                .map(|k| PublicKey::from_pem(std::str::from_utf8(&k).unwrap()).unwrap()),
            identity: text("identity").unwrap_or_else(|| DEFAULT_IDENTITY.into()),
            issuer: text("issuer").unwrap_or_else(|| DEFAULT_ISSUER.into()),
        }
    }

    fn trust(&self, t: &Trust) -> TrustRoot {
        match (t, &self.trusted_root) {
            (Trust::Case, Some(j)) => TrustRoot::from_json(j).unwrap(),
            (Trust::Case, None) | (Trust::PublicGood, _) => TrustRoot::public_good().unwrap(),
            (Trust::Staging, _) => TrustRoot::staging().unwrap(),
            (Trust::Json(j), _) => TrustRoot::from_json(j)
                .unwrap_or_else(|e| unreachable!("mutated trusted root does not load: {e}")),
        }
    }

    /// The case's trusted root JSON.
    fn trust_json(&self) -> Value {
        match &self.trusted_root {
            Some(j) => serde_json::from_slice(j).unwrap(),
            None => serde_json::from_str(PUBLIC_GOOD_TRUSTED_ROOT).unwrap(),
        }
    }

    fn policy(&self, p: &Pol) -> Policy {
        let ids = |id: &str, iss: &str| {
            PolicyBuilder::new()
                .certificate_identity(id)
                .certificate_oidc_issuer(iss)
        };
        let b = match (p, &self.key) {
            (Pol::Case, Some(k)) => PolicyBuilder::new().key(k.clone()),
            (Pol::IgnoreTlog, Some(k)) => PolicyBuilder::new()
                .key(k.clone())
                .insecure_ignore_tlog(true),
            (Pol::Case, None) => ids(&self.identity, &self.issuer),
            (Pol::IgnoreTlog, None) => ids(&self.identity, &self.issuer).insecure_ignore_tlog(true),
            (Pol::Identity(id), _) => ids(id, &self.issuer),
            (Pol::Issuer(iss), _) => ids(&self.identity, iss),
            (Pol::Key(k), _) => PolicyBuilder::new().key(k.clone()),
            (Pol::KeyIgnoreTlog(k), _) => PolicyBuilder::new()
                .key(k.clone())
                .insecure_ignore_tlog(true),
        };
        b.build().unwrap()
    }

    fn run(&self, m: &Mutant) -> Result<VerificationResult, VerifyError> {
        let json = serde_json::to_vec(&m.bundle).unwrap();
        let digest;
        let art = match &m.artifact {
            Art::Case => Artifact::Bytes(&self.artifact),
            Art::Bytes(b) => Artifact::Bytes(b),
            Art::Sha256(d) => {
                digest = d.clone();
                Artifact::Digest {
                    algorithm: HashKind::Sha256,
                    digest: &digest,
                }
            }
        };
        Verifier::new(self.trust(&m.trust)).verify_json(&json, art, &self.policy(&m.policy))
    }
}

// ---- JSON / byte helpers ----

fn get_b64(v: &Value, ptr: &str) -> Vec<u8> {
    let s = v
        .pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_else(|| unreachable!("no string at {ptr}"));
    B64.decode(s).unwrap()
}

fn set(v: &mut Value, ptr: &str, new: Value) {
    *v.pointer_mut(ptr)
        .unwrap_or_else(|| unreachable!("no value at {ptr}")) = new;
}

/// A copy of `v` whose base64 field at `ptr` is decoded, edited by `f`, and re-encoded.
fn with_b64(v: &Value, ptr: &str, f: impl FnOnce(&mut Vec<u8>)) -> Value {
    let mut bytes = get_b64(v, ptr);
    f(&mut bytes);
    let mut out = v.clone();
    set(&mut out, ptr, Value::String(B64.encode(&bytes)));
    out
}

/// Flip one bit of the byte at `i` in the base64 field at `ptr`.
fn flip_b64(v: &Value, ptr: &str, i: impl FnOnce(usize) -> usize) -> Value {
    with_b64(v, ptr, |b| {
        let i = i(b.len());
        b[i] ^= 0x01;
    })
}

/// A copy of `v` with the int64 (string or number) at `ptr` changed by `delta`.
fn add_int(v: &Value, ptr: &str, delta: i64) -> Value {
    let cur = match v.pointer(ptr).unwrap() {
        Value::String(s) => s.parse::<i64>().unwrap(),
        Value::Number(n) => n.as_i64().unwrap(),
        other => unreachable!("{ptr} is {other}"),
    };
    let mut out = v.clone();
    set(&mut out, ptr, Value::String((cur + delta).to_string()));
    out
}

fn without(v: &Value, parent: &str, key: &str) -> Value {
    let mut out = v.clone();
    out.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap()
        .remove(key)
        .unwrap_or_else(|| unreachable!("no {key} under {parent}"));
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// DER TLV at `pos` (single-byte tag): (content start, content length).
fn tlv(d: &[u8], pos: usize) -> (usize, usize) {
    let mut p = pos + 1;
    let first = d[p];
    p += 1;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let mut l = 0usize;
        for _ in 0..(first & 0x7f) {
            l = (l << 8) | usize::from(d[p]);
            p += 1;
        }
        l
    };
    (p, len)
}

/// Position just past the TLV at `pos`.
fn skip(d: &[u8], pos: usize) -> usize {
    let (s, l) = tlv(d, pos);
    s + l
}

/// Content (start, len) of the extension value OCTET STRING following an extnID at `oid_pos`.
fn ext_value(d: &[u8], oid_pos: usize, oid_len: usize) -> (usize, usize) {
    let mut p = oid_pos + oid_len;
    if d[p] == 0x01 {
        p = skip(d, p); // critical BOOLEAN
    }
    assert_eq!(d[p], 0x04, "extension value is not an OCTET STRING");
    tlv(d, p)
}

/// Index of the seconds units digit of the leaf certificate's notBefore.
fn not_before_digit(der: &[u8]) -> usize {
    let (cert, _) = tlv(der, 0);
    let (tbs, _) = tlv(der, cert);
    let mut p = tbs;
    if der[p] == 0xa0 {
        p = skip(der, p); // version
    }
    p = skip(der, p); // serialNumber
    p = skip(der, p); // signature algorithm
    p = skip(der, p); // issuer
    let (validity, _) = tlv(der, p);
    assert!(
        matches!(der[validity], 0x17 | 0x18),
        "notBefore is not a time"
    );
    let (nb, len) = tlv(der, validity);
    assert_eq!(der[nb + len - 1], b'Z');
    nb + len - 2
}

/// Index of a byte in the middle of the TSTInfo of a DER TimeStampResp.
fn tstinfo_middle(d: &[u8]) -> usize {
    let oid = find(d, OID_TSTINFO).expect("no id-ct-TSTInfo in the timestamp");
    let p = oid + OID_TSTINFO.len();
    assert_eq!(d[p], 0xa0, "eContent [0] expected after eContentType");
    let (octets, _) = tlv(d, p);
    assert_eq!(d[octets], 0x04);
    let (tst, _) = tlv(d, octets);
    assert_eq!(d[tst], 0x30);
    let (s, l) = tlv(d, tst);
    s + l / 2
}

/// A copy of `v` whose checkpoint envelope lines are edited by `f` (lines split on `\n`).
fn with_checkpoint(v: &Value, f: impl FnOnce(&mut Vec<String>)) -> Value {
    let ptr = format!("{ENTRY}/inclusionProof/checkpoint/envelope");
    let env = v.pointer(&ptr).and_then(Value::as_str).unwrap();
    let mut lines: Vec<String> = env.split('\n').map(String::from).collect();
    f(&mut lines);
    let mut out = v.clone();
    set(&mut out, &ptr, Value::String(lines.join("\n")));
    out
}

/// Index of the first signature line (the log's) of a split note.
fn first_sig_line(lines: &[String]) -> usize {
    lines.iter().position(String::is_empty).unwrap() + 1
}

// ---- mutant generation ----

fn mutants(c: &Case) -> Vec<Mutant> {
    let b = &c.bundle;
    let mut out = Vec::new();
    let is_dsse = b.get("dsseEnvelope").is_some();
    let sig_ptr = if is_dsse {
        "/dsseEnvelope/signatures/0/sig"
    } else {
        "/messageSignature/signature"
    };
    let cert_ptr = [
        "/verificationMaterial/certificate/rawBytes",
        "/verificationMaterial/x509CertificateChain/certificates/0/rawBytes",
    ]
    .into_iter()
    .find(|p| b.pointer(p).is_some());
    let entry = b.pointer(ENTRY).unwrap();
    let has_set = entry.get("inclusionPromise").is_some();
    let has_integrated_time = entry.get("integratedTime").is_some();
    let n_hashes = entry
        .pointer("/inclusionProof/hashes")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let tsa_ptr = "/verificationMaterial/timestampVerificationData/rfc3161Timestamps";
    let n_tsa = b
        .pointer(tsa_ptr)
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let is_rekor2 = entry
        .pointer("/kindVersion/version")
        .and_then(Value::as_str)
        == Some("0.0.2")
        && entry.pointer("/kindVersion/kind").and_then(Value::as_str) == Some("hashedrekord");
    let media_type = b["mediaType"].as_str().unwrap();
    let is_v01 = media_type.ends_with("version=0.1");
    let is_v03 = media_type.contains("0.3");

    // -- Content signature. The tlog body records the signature, so the body cross-check
    // (SignatureMismatch) fires first; the artifact/DSSE signature check is also acceptable.
    if is_dsse {
        out.push(mutant(
            "dsse-sig-bitflip",
            flip_b64(b, sig_ptr, |n| n / 2),
            accept!(entry!(EntryError::SignatureMismatch) | VerifyError::DsseSignature { .. }),
        ));
        // Rekor v1 dsse/intoto record SHA-256(payload) (DigestMismatch); Rekor v2 records
        // H(PAE) (DigestMismatch); the DSSE signature and the statement come later.
        out.push(mutant(
            "dsse-payload-bitflip",
            flip_b64(b, "/dsseEnvelope/payload", |n| n / 2),
            accept!(
                entry!(EntryError::DigestMismatch { .. })
                    | VerifyError::DsseSignature { .. }
                    | VerifyError::Statement(_)
                    | VerifyError::SubjectMismatch { .. }
            ),
        ));
        let mut m = b.clone();
        set(
            &mut m,
            "/dsseEnvelope/payloadType",
            Value::String("application/vnd.in-toto+jsonx".into()),
        );
        out.push(mutant(
            "dsse-payloadType",
            m,
            accept!(
                entry!(EntryError::DigestMismatch { .. })
                    | VerifyError::PayloadType(_)
                    | VerifyError::DsseSignature { .. }
            ),
        ));
    } else {
        out.push(mutant(
            "message-signature-bitflip",
            flip_b64(b, sig_ptr, |n| n / 2),
            accept!(entry!(EntryError::SignatureMismatch) | VerifyError::Signature { .. }),
        ));
        out.push(mutant(
            "message-digest-bitflip",
            flip_b64(b, "/messageSignature/messageDigest/digest", |n| n / 2),
            accept!(
                VerifyError::ArtifactMismatch { .. } | entry!(EntryError::DigestMismatch { .. })
            ),
        ));
    }

    // -- Leaf certificate. The tlog body records the certificate (KeyMismatch first); the
    // certificate parser or the chain check (bad issuer signature) are also acceptable.
    if let Some(cp) = cert_ptr {
        let der = get_b64(b, cp);
        let cert_err = accept!(
            entry!(EntryError::KeyMismatch { .. })
                | VerifyError::Certificate(_)
                | VerifyError::Chain { .. }
        );
        let san = find(&der, OID_SAN).expect("leaf has no SAN");
        let (s, l) = ext_value(&der, san, OID_SAN.len());
        out.push(mutant(
            "cert-tbs-san-bitflip",
            flip_b64(b, cp, |_| s + l - 2),
            cert_err,
        ));
        let nb = not_before_digit(&der);
        out.push(mutant(
            "cert-tbs-notbefore-bitflip",
            flip_b64(b, cp, |_| nb),
            accept!(
                entry!(EntryError::KeyMismatch { .. })
                    | VerifyError::Certificate(_)
                    | VerifyError::Chain { .. }
            ),
        ));
        out.push(mutant(
            "cert-signature-bitflip",
            flip_b64(b, cp, |n| n - 3),
            accept!(
                entry!(EntryError::KeyMismatch { .. })
                    | VerifyError::Certificate(_)
                    | VerifyError::Chain { .. }
            ),
        ));
        if let Some(sct) = find(&der, OID_SCT_LIST) {
            let (s, l) = ext_value(&der, sct, OID_SCT_LIST.len());
            // The SCT list is inside the signed TBS, so the chain check may fire before SCTs.
            out.push(mutant(
                "cert-sct-signature-bitflip",
                flip_b64(b, cp, |_| s + l - 3),
                accept!(
                    entry!(EntryError::KeyMismatch { .. })
                        | VerifyError::Certificate(_)
                        | VerifyError::Chain { .. }
                        | VerifyError::Sct(_)
                        | VerifyError::NoTrustedSct { .. }
                ),
            ));
        }
    }

    // -- Inclusion proof.
    for i in 0..n_hashes {
        out.push(mutant(
            format!("inclusion-proof-hash[{i}]-bitflip"),
            flip_b64(b, &format!("{ENTRY}/inclusionProof/hashes/{i}"), |n| n / 2),
            accept!(entry!(EntryError::Inclusion(
                ProofError::RootMismatch { .. }
            ))),
        ));
    }
    // The proof's root/size/index must equal the signed checkpoint's and the entry's, for Rekor
    // v1 and v2 alike (in v2 they duplicate the checkpoint, protocols.md §3.2, and are unsigned).
    out.push(mutant(
        "inclusion-proof-rootHash-bitflip",
        flip_b64(b, &format!("{ENTRY}/inclusionProof/rootHash"), |n| n / 2),
        accept!(entry!(
            EntryError::CheckpointMismatch { .. } | EntryError::Inclusion(_)
        )),
    ));
    out.push(mutant(
        "inclusion-proof-treeSize+1",
        add_int(b, &format!("{ENTRY}/inclusionProof/treeSize"), 1),
        accept!(entry!(
            EntryError::CheckpointMismatch { .. } | EntryError::Inclusion(_)
        )),
    ));
    out.push(mutant(
        "inclusion-proof-logIndex+1",
        add_int(b, &format!("{ENTRY}/inclusionProof/logIndex"), 1),
        accept!(entry!(
            EntryError::CheckpointMismatch { .. }
                | EntryError::Inclusion(_)
                | EntryError::IndexMismatch { .. }
        )),
    ));

    // -- Checkpoint (signed note): any change to the signed text or signature must fail the
    // log's signature line.
    out.push(mutant(
        "checkpoint-size-line+1",
        with_checkpoint(b, |l| {
            let n: u64 = l[1].parse().unwrap();
            l[1] = (n + 1).to_string();
        }),
        accept!(entry!(EntryError::Checkpoint(
            NoteError::BadSignature { .. }
        ))),
    ));
    out.push(mutant(
        "checkpoint-root-line-bitflip",
        with_checkpoint(b, |l| {
            let mut r = B64.decode(&l[2]).unwrap();
            r[5] ^= 0x01;
            l[2] = B64.encode(&r);
        }),
        accept!(entry!(EntryError::Checkpoint(
            NoteError::BadSignature { .. }
        ))),
    ));
    out.push(mutant(
        "checkpoint-signature-bitflip",
        with_checkpoint(b, |l| {
            let i = first_sig_line(l);
            let (head, sig) = l[i].rsplit_once(' ').unwrap();
            let mut s = B64.decode(sig).unwrap();
            let n = s.len();
            s[n - 2] ^= 0x01; // past the 4-byte key hint
            l[i] = format!("{head} {}", B64.encode(&s));
        }),
        accept!(entry!(EntryError::Checkpoint(
            NoteError::BadSignature { .. } | NoteError::NoMatchingSignature { .. }
        ))),
    ));
    out.push(mutant(
        "checkpoint-origin-line",
        with_checkpoint(b, |l| l[0].push('x')),
        accept!(entry!(
            EntryError::CheckpointOrigin { .. } | EntryError::Checkpoint(_)
        )),
    ));

    // -- Inclusion promise (SET) and the fields it signs.
    if has_set {
        out.push(mutant(
            "set-bitflip",
            flip_b64(
                b,
                &format!("{ENTRY}/inclusionPromise/signedEntryTimestamp"),
                |n| n / 2,
            ),
            accept!(entry!(EntryError::BadSet { .. })),
        ));
    }
    if has_integrated_time {
        for d in [1, -1] {
            out.push(mutant(
                format!("integratedTime{d:+}"),
                add_int(b, &format!("{ENTRY}/integratedTime"), d),
                accept!(entry!(EntryError::BadSet { .. })),
            ));
        }
    }
    // v1: logIndex is in the SET payload; v2: it is the Merkle leaf index.
    out.push(mutant(
        "logIndex+1",
        add_int(b, &format!("{ENTRY}/logIndex"), 1),
        accept!(entry!(
            EntryError::BadSet { .. } | EntryError::Inclusion(_) | EntryError::IndexMismatch { .. }
        )),
    ));
    out.push(mutant(
        "canonicalizedBody-bitflip",
        flip_b64(b, &format!("{ENTRY}/canonicalizedBody"), |n| n / 2),
        accept!(entry!(
            EntryError::BadSet { .. } | EntryError::Inclusion(_) | EntryError::Body(_)
        )),
    ));
    // An unknown log is skipped, leaving no verified entry.
    out.push(mutant(
        "logId-keyId-bitflip",
        flip_b64(b, &format!("{ENTRY}/logId/keyId"), |n| n / 2),
        accept!(VerifyError::TlogThreshold { .. }),
    ));
    let mut dup = b.clone();
    let e0 = entry.clone();
    dup.pointer_mut("/verificationMaterial/tlogEntries")
        .and_then(Value::as_array_mut)
        .unwrap()
        .push(e0);
    out.push(mutant(
        "tlogEntries-duplicated",
        dup,
        accept!(VerifyError::DuplicateEntry { .. }),
    ));

    // -- RFC 3161 timestamps.
    for i in 0..n_tsa {
        let ptr = format!("{tsa_ptr}/{i}/signedTimestamp");
        out.push(mutant(
            format!("rfc3161[{i}]-signature-bitflip"),
            flip_b64(b, &ptr, |n| n - 3),
            accept!(
                VerifyError::Timestamp {
                    source: TimestampError::SignatureInvalid,
                    ..
                } | VerifyError::UntrustedTimestamp { .. }
            ),
        ));
        let der = get_b64(b, &ptr);
        let mid = tstinfo_middle(&der);
        out.push(mutant(
            format!("rfc3161[{i}]-tstinfo-bitflip"),
            flip_b64(b, &ptr, |_| mid),
            accept!(
                VerifyError::Timestamp {
                    source: TimestampError::MessageDigestMismatch { .. }
                        | TimestampError::ImprintMismatch { .. }
                        | TimestampError::Malformed { .. },
                    ..
                } | VerifyError::UntrustedTimestamp { .. }
            ),
        ));
    }

    // -- Bundle structure.
    out.push(mutant(
        "tlogEntries-removed",
        without(b, "/verificationMaterial", "tlogEntries"),
        accept!(VerifyError::TlogThreshold { .. } | VerifyError::Bundle(_)),
    ));
    if is_rekor2 && n_tsa > 0 {
        out.push(mutant(
            "timestampVerificationData-removed",
            without(b, "/verificationMaterial", "timestampVerificationData"),
            accept!(VerifyError::NoObserverTimestamp),
        ));
    }
    for mt in [
        "application/vnd.dev.sigstore.bundle.v0.4+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.4",
        "application/vnd.dev.sigstore.bundle+json;version=0.0",
    ] {
        let mut m = b.clone();
        set(&mut m, "/mediaType", Value::String(mt.into()));
        out.push(mutant(
            format!("mediaType={mt}"),
            m,
            accept!(VerifyError::Bundle(BundleError::UnsupportedMediaType(_))),
        ));
    }
    if is_v01 {
        out.push(mutant(
            "v0.1-inclusionPromise-removed",
            without(b, ENTRY, "inclusionPromise"),
            accept!(VerifyError::Bundle(BundleError::Invalid(_))),
        ));
    } else {
        out.push(mutant(
            "v0.2+-inclusionProof-removed",
            without(b, ENTRY, "inclusionProof"),
            accept!(VerifyError::Bundle(BundleError::Invalid(_))),
        ));
    }
    if is_v03 && let Some(cp) = cert_ptr {
        let der = b.pointer(cp).unwrap().clone();
        let mut m = without(b, "/verificationMaterial", "certificate");
        m["verificationMaterial"]["x509CertificateChain"] =
            serde_json::json!({"certificates": [{"rawBytes": der}]});
        out.push(mutant(
            "v0.3-with-x509CertificateChain",
            m,
            accept!(VerifyError::Bundle(BundleError::Invalid(_))),
        ));
    }

    // -- Artifact.
    let mut wrong = c.artifact.clone();
    wrong.push(b'\n');
    let wrong_artifact = accept!(
        entry!(EntryError::DigestMismatch { .. })
            | VerifyError::ArtifactMismatch { .. }
            | VerifyError::Signature { .. }
            | VerifyError::SubjectMismatch { .. }
    );
    out.push(Mutant {
        artifact: Art::Bytes(wrong),
        ..mutant("wrong-artifact-bytes", b.clone(), wrong_artifact)
    });
    let mut d = HashKind::Sha256.digest(&c.artifact);
    d[0] ^= 0x01;
    out.push(Mutant {
        artifact: Art::Sha256(d),
        ..mutant(
            "wrong-artifact-digest",
            b.clone(),
            accept!(
                entry!(EntryError::DigestMismatch { .. })
                    | VerifyError::ArtifactMismatch { .. }
                    | VerifyError::Signature { .. }
                    | VerifyError::SubjectMismatch { .. }
            ),
        )
    });

    // -- Policy.
    if c.key.is_none() {
        out.push(Mutant {
            policy: Pol::Identity(format!("{}x", c.identity)),
            ..mutant(
                "policy-other-identity",
                b.clone(),
                accept!(VerifyError::Identity(IdentityError::San { .. })),
            )
        });
        out.push(Mutant {
            policy: Pol::Issuer("https://accounts.google.com".into()),
            ..mutant(
                "policy-other-issuer",
                b.clone(),
                accept!(VerifyError::Identity(IdentityError::Issuer { .. })),
            )
        });
        out.push(Mutant {
            policy: Pol::Key(other_key()),
            ..mutant(
                "policy-key-for-certificate-bundle",
                b.clone(),
                accept!(VerifyError::CertificateNotKey),
            )
        });
    } else {
        out.push(Mutant {
            policy: Pol::Key(other_key()),
            ..mutant(
                "policy-other-key",
                b.clone(),
                accept!(VerifyError::WrongKey { .. } | VerifyError::Signature { .. }),
            )
        });
        out.push(Mutant {
            policy: Pol::Identity(DEFAULT_IDENTITY.into()),
            ..mutant(
                "policy-identity-for-key-bundle",
                b.clone(),
                accept!(VerifyError::KeyRequired { .. }),
            )
        });
    }

    // -- Trusted root: the log (and CA/TSA) of the bundle is not in the other root.
    let wrong_root = if c.trusted_root.is_some() {
        Trust::PublicGood
    } else {
        Trust::Staging
    };
    out.push(Mutant {
        trust: wrong_root,
        ..mutant(
            "wrong-trusted-root",
            b.clone(),
            accept!(
                VerifyError::TlogThreshold { .. }
                    | VerifyError::Chain { .. }
                    | VerifyError::NoCaAtTime { .. }
                    | VerifyError::UntrustedTimestamp { .. }
                    | VerifyError::Timestamp { .. }
            ),
        )
    });

    out
}

/// The "no-tlog" form of a bundle with RFC 3161 timestamps: tlog entries removed and the
/// policy waives them, so the timestamps, chain, SCT and signature checks are reached.
fn notlog_mutants(c: &Case, base: &Value) -> Vec<Mutant> {
    let b = base;
    let mut out = Vec::new();
    let m = |name: &str, bundle: Value, expect: Expect| Mutant {
        policy: Pol::IgnoreTlog,
        ..mutant(format!("notlog/{name}"), bundle, expect)
    };
    let is_dsse = b.get("dsseEnvelope").is_some();
    // The timestamps are over the signature bytes: a changed signature no longer matches.
    let sig_ptr = if is_dsse {
        "/dsseEnvelope/signatures/0/sig"
    } else {
        "/messageSignature/signature"
    };
    out.push(m(
        "signature-bitflip",
        flip_b64(b, sig_ptr, |n| n / 2),
        accept!(
            VerifyError::Timestamp {
                source: TimestampError::ImprintMismatch { .. },
                ..
            } | VerifyError::UntrustedTimestamp { .. }
        ),
    ));
    if is_dsse {
        out.push(m(
            "dsse-payload-bitflip",
            flip_b64(b, "/dsseEnvelope/payload", |n| n / 2),
            accept!(
                VerifyError::DsseSignature { .. }
                    | VerifyError::Statement(_)
                    | VerifyError::SubjectMismatch { .. }
            ),
        ));
    } else {
        out.push(m(
            "message-digest-bitflip",
            flip_b64(b, "/messageSignature/messageDigest/digest", |n| n / 2),
            accept!(VerifyError::ArtifactMismatch { .. }),
        ));
    }
    let cert_ptr = [
        "/verificationMaterial/certificate/rawBytes",
        "/verificationMaterial/x509CertificateChain/certificates/0/rawBytes",
    ]
    .into_iter()
    .find(|p| b.pointer(p).is_some());
    if let Some(cp) = cert_ptr {
        let der = get_b64(b, cp);
        // The issuer's signature over the TBS no longer verifies.
        let san = find(&der, OID_SAN).expect("leaf has no SAN");
        let (s, l) = ext_value(&der, san, OID_SAN.len());
        out.push(m(
            "cert-tbs-san-bitflip",
            flip_b64(b, cp, |_| s + l - 2),
            accept!(VerifyError::Chain { .. } | VerifyError::Certificate(_)),
        ));
        let nb = not_before_digit(&der);
        out.push(m(
            "cert-tbs-notbefore-bitflip",
            flip_b64(b, cp, |_| nb),
            accept!(VerifyError::Chain { .. } | VerifyError::Certificate(_)),
        ));
        out.push(m(
            "cert-signature-bitflip",
            flip_b64(b, cp, |n| n - 3),
            accept!(VerifyError::Chain { .. } | VerifyError::Certificate(_)),
        ));
        if let Some(sct) = find(&der, OID_SCT_LIST) {
            let (s, l) = ext_value(&der, sct, OID_SCT_LIST.len());
            out.push(m(
                "cert-sct-signature-bitflip",
                flip_b64(b, cp, |_| s + l - 3),
                accept!(
                    VerifyError::Chain { .. }
                        | VerifyError::Certificate(_)
                        | VerifyError::Sct(_)
                        | VerifyError::NoTrustedSct { .. }
                ),
            ));
        }
    }
    let mut wrong = c.artifact.clone();
    wrong.push(b'\n');
    out.push(Mutant {
        artifact: Art::Bytes(wrong),
        ..m(
            "wrong-artifact-bytes",
            b.clone(),
            accept!(
                VerifyError::ArtifactMismatch { .. }
                    | VerifyError::Signature { .. }
                    | VerifyError::SubjectMismatch { .. }
            ),
        )
    });
    if !is_dsse {
        // Without the messageDigest hint, only the artifact signature can catch a wrong artifact.
        let mut wrong = c.artifact.clone();
        wrong.push(b'\n');
        out.push(Mutant {
            artifact: Art::Bytes(wrong),
            ..m(
                "messageDigest-removed+wrong-artifact",
                without(b, "/messageSignature", "messageDigest"),
                accept!(VerifyError::Signature { .. }),
            )
        });
    }
    // Certificates need a trusted time; key-signed bundles do not (cosign
    // `WithNoObserverTimestamps` for keys, protocols.md §7.1), see `bare_key_mutants`.
    if c.key.is_none() {
        out.push(m(
            "timestampVerificationData-removed",
            without(b, "/verificationMaterial", "timestampVerificationData"),
            accept!(VerifyError::NoObserverTimestamp),
        ));
    }
    out
}

/// Mutations of the trusted root (the case's own, or the embedded public-good root): each
/// removes or replaces the trust anchor of one check, which must then fail.
fn trust_mutants(c: &Case) -> Vec<Mutant> {
    let b = &c.bundle;
    let root = c.trust_json();
    let mut out = Vec::new();
    let m = |name: &str, edit: &dyn Fn(&mut Value), expect: Expect| {
        let mut r = root.clone();
        edit(&mut r);
        Mutant {
            trust: Trust::Json(serde_json::to_vec(&r).unwrap()),
            ..mutant(format!("trust-root/{name}"), b.clone(), expect)
        }
    };
    let future = || serde_json::json!({"start": "2099-01-01T00:00:00Z"});
    let other_spki = B64.encode(other_key().spki_der());
    let has_cert = c.key.is_none();
    let has_tsa = b
        .pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0")
        .is_some();
    let entry = b.pointer(ENTRY).unwrap();
    let log_id = entry.pointer("/logId/keyId").unwrap().clone();
    let has_set = entry.get("inclusionPromise").is_some();
    let each = |r: &mut Value, list: &str, f: &dyn Fn(&mut Value)| {
        for x in r[list].as_array_mut().unwrap() {
            f(x);
        }
    };

    out.push(m(
        "tlogs-removed",
        &|r| r["tlogs"] = serde_json::json!([]),
        accept!(VerifyError::TlogThreshold { .. }),
    ));
    // The bundle's log keeps its ID but gets another key: the SET (v1) or the checkpoint
    // signature (v2, and v1 bundles without SET) no longer verifies.
    let lid = log_id.clone();
    let spki = other_spki.clone();
    out.push(m(
        "tlog-key-replaced",
        &move |r| {
            for t in r["tlogs"].as_array_mut().unwrap() {
                if t["logId"]["keyId"] == lid {
                    t["publicKey"]["rawBytes"] = Value::String(spki.clone());
                    t["publicKey"]["keyDetails"] = "PKIX_ECDSA_P256_SHA_256".into();
                }
            }
        },
        accept!(entry!(
            EntryError::BadSet { .. }
                | EntryError::Checkpoint(_)
                | EntryError::UnusableLogKey { .. }
        )),
    ));
    // With a SET the integrated time is checked against the key's validity; without one
    // (Rekor v2), the verified signing time is (issue 12: a retired key's v2 entries verified).
    let lid = log_id.clone();
    out.push(m(
        "tlog-validFor-in-future",
        &move |r| {
            for t in r["tlogs"].as_array_mut().unwrap() {
                if t["logId"]["keyId"] == lid {
                    t["publicKey"]["validFor"] = future();
                }
            }
        },
        if has_set {
            accept!(entry!(EntryError::TimeOutsideLogValidity { .. }))
        } else {
            accept!(entry!(EntryError::SigningTimeOutsideLogValidity { .. }))
        },
    ));
    if has_cert {
        out.push(m(
            "certificateAuthorities-removed",
            &|r| r["certificateAuthorities"] = serde_json::json!([]),
            accept!(VerifyError::NoCaAtTime { .. }),
        ));
        out.push(m(
            "certificateAuthorities-validFor-in-future",
            &|r| each(r, "certificateAuthorities", &|x| x["validFor"] = future()),
            accept!(VerifyError::NoCaAtTime { .. }),
        ));
        out.push(m(
            "ctlogs-removed",
            &|r| r["ctlogs"] = serde_json::json!([]),
            accept!(VerifyError::NoTrustedSct { .. }),
        ));
        out.push(m(
            "ctlogs-validFor-in-future",
            &|r| each(r, "ctlogs", &|x| x["publicKey"]["validFor"] = future()),
            accept!(VerifyError::NoTrustedSct { .. }),
        ));
        // Same log IDs, other key: the SCT signature must fail.
        let spki = other_spki.clone();
        out.push(m(
            "ctlogs-key-replaced",
            &move |r| {
                for x in r["ctlogs"].as_array_mut().unwrap() {
                    x["publicKey"]["rawBytes"] = Value::String(spki.clone());
                    x["publicKey"]["keyDetails"] = "PKIX_ECDSA_P256_SHA_256".into();
                }
            },
            accept!(VerifyError::Sct(_) | VerifyError::NoTrustedSct { .. }),
        ));
    }
    if has_tsa {
        out.push(m(
            "timestampAuthorities-removed",
            &|r| r["timestampAuthorities"] = serde_json::json!([]),
            accept!(VerifyError::UntrustedTimestamp { .. }),
        ));
        out.push(m(
            "timestampAuthorities-validFor-in-future",
            &|r| each(r, "timestampAuthorities", &|x| x["validFor"] = future()),
            accept!(VerifyError::TimestampOutsideTsaValidity { .. }),
        ));
    }
    out
}

/// Key-signed bundles need no observer time: with tlog entries and timestamps both removed
/// (and the tlog waived), only the artifact signature stands, and it must still be checked.
fn bare_key_base(c: &Case) -> Value {
    without(
        &without(&c.bundle, "/verificationMaterial", "tlogEntries"),
        "/verificationMaterial",
        "timestampVerificationData",
    )
}

fn bare_key_mutants(c: &Case, b: &Value) -> Vec<Mutant> {
    let b = b.clone();
    let m = |name: &str, bundle: Value, expect: Expect| Mutant {
        policy: Pol::IgnoreTlog,
        ..mutant(format!("bare/{name}"), bundle, expect)
    };
    let mut out = Vec::new();
    out.push(m(
        "message-signature-bitflip",
        flip_b64(&b, "/messageSignature/signature", |n| n / 2),
        accept!(VerifyError::Signature { .. }),
    ));
    let mut wrong = c.artifact.clone();
    wrong.push(b'\n');
    out.push(Mutant {
        artifact: Art::Bytes(wrong),
        ..m(
            "messageDigest-removed+wrong-artifact",
            without(&b, "/messageSignature", "messageDigest"),
            accept!(VerifyError::Signature { .. }),
        )
    });
    let mut d = HashKind::Sha256.digest(&c.artifact);
    d[0] ^= 0x01;
    out.push(Mutant {
        artifact: Art::Sha256(d),
        ..m(
            "messageDigest-removed+wrong-digest",
            without(&b, "/messageSignature", "messageDigest"),
            accept!(VerifyError::Signature { .. }),
        )
    });
    out.push(Mutant {
        policy: Pol::KeyIgnoreTlog(other_key()),
        ..m(
            "other-key",
            b.clone(),
            accept!(VerifyError::Signature { .. }),
        )
    });
    out
}

/// A valid P-256 key that signed none of the bundles: the happy-path-v0.3 leaf's key.
fn other_key() -> PublicKey {
    let dir = cases_dir().unwrap();
    let b: Value = serde_json::from_slice(
        &std::fs::read(dir.join("happy-path-v0.3/bundle.sigstore.json")).unwrap(),
    )
    .unwrap();
    let der = get_b64(&b, "/verificationMaterial/certificate/rawBytes");
    Certificate::from_der(&der).unwrap().public_key().unwrap()
}

#[test]
fn mutated_happy_bundles_are_rejected_with_the_right_error() {
    let Some(dir) = cases_dir() else {
        vouch_testkit::skip(format_args!(
            "../shared/testdata/conformance/bundle-verify not found (CI provides it); mutation test not run"
        ));
        return;
    };
    let mut total = 0usize;
    let mut right = 0usize;
    let mut wrong: Vec<String> = Vec::new();
    for name in HAPPY_CASES {
        let c = Case::load(&dir, name);
        let base = mutant("unmodified", c.bundle.clone(), accept!(_));
        if let Err(e) = c.run(&base) {
            wrong.push(format!("{name}: the unmodified bundle is rejected: {e}"));
            continue;
        }
        let mut ms = mutants(&c);
        ms.extend(trust_mutants(&c));
        if c.key.is_some() {
            let bare = bare_key_base(&c);
            let bb = Mutant {
                policy: Pol::IgnoreTlog,
                ..mutant("bare/unmodified", bare.clone(), accept!(_))
            };
            match c.run(&bb) {
                Ok(_) => ms.extend(bare_key_mutants(&c, &bare)),
                Err(e) => wrong.push(format!(
                    "{name}: the bare key-signed form is rejected under insecure_ignore_tlog: {e}"
                )),
            }
        }
        if c.bundle
            .pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0")
            .is_some()
        {
            let notlog = without(&c.bundle, "/verificationMaterial", "tlogEntries");
            let nb = Mutant {
                policy: Pol::IgnoreTlog,
                ..mutant("notlog/unmodified", notlog.clone(), accept!(_))
            };
            match c.run(&nb) {
                Ok(_) => ms.extend(notlog_mutants(&c, &notlog)),
                Err(e) => wrong.push(format!(
                    "{name}: the no-tlog form is rejected under insecure_ignore_tlog: {e}"
                )),
            }
        }
        for m in &ms {
            total += 1;
            match c.run(m) {
                Ok(_) => {
                    println!("mutant {name}/{}: ACCEPTED", m.name);
                    wrong.push(format!(
                        "{name}/{}: ACCEPTED (must be rejected with {})",
                        m.name, m.expect.desc
                    ));
                }
                Err(e) if (m.expect.ok)(&e) => {
                    right += 1;
                    println!("mutant {name}/{}: rejected: {e}", m.name);
                }
                Err(e) => {
                    println!("mutant {name}/{}: rejected WRONGLY: {e}", m.name);
                    wrong.push(format!(
                        "{name}/{}: rejected with {e:?}, expected {}",
                        m.name, m.expect.desc
                    ));
                }
            }
        }
    }
    println!("{total} mutants, {right} rejected with the right error");
    assert!(
        wrong.is_empty(),
        "{} problems:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(right, total);
    assert!(total >= 150, "only {total} mutants");
}
