//! The verifier proper.

use crate::error::{EntryError, VerifyError};
use crate::policy::{Policy, SignerPolicy};
use serde::Serialize;
use vouch_core::bundle::{
    Bundle, BundleVersion, Content, HashAlgorithm, Material, TransparencyLogEntry,
};
use vouch_core::dsse::INTOTO_PAYLOAD_TYPE;
use vouch_core::intoto::Statement;
use vouch_core::keys::{HashKind, KeyKind, PublicKey};
use vouch_core::merkle;
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::rekor::{EntryBody, V2Verifier, set_payload};
use vouch_core::sct;
use vouch_core::time::Instant;
use vouch_core::tlog_policy::WitnessPolicy;
use vouch_core::trust::{TrustRoot, TrustedLog, host_of};
use vouch_core::x509::{Certificate, EKU_CODE_SIGNING, FulcioIdentity};

/// What was signed: the artifact bytes, or only its digest.
#[derive(Clone, Copy, Debug)]
pub enum Artifact<'a> {
    /// The artifact itself.
    Bytes(&'a [u8]),
    /// A digest of the artifact (e.g. from `sha256:<hex>`).
    Digest {
        /// The digest algorithm.
        algorithm: HashKind,
        /// The digest bytes.
        digest: &'a [u8],
    },
}

/// Where a verified time came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum TimeSource {
    /// A transparency log's SET-verified integrated time.
    Tlog {
        /// Log base URL.
        log: String,
    },
    /// An RFC 3161 timestamp authority.
    TimestampAuthority {
        /// TSA URI.
        uri: String,
    },
}

/// A time some trusted observer vouches the signature existed at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedTime {
    /// Source.
    pub source: TimeSource,
    /// The time.
    #[serde(serialize_with = "ser_instant")]
    pub time: Instant,
}

fn ser_instant<S: serde::Serializer>(t: &Instant, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

/// A verified transparency log entry.
#[derive(Clone, Debug, Serialize)]
pub struct VerifiedEntry {
    /// Log base URL.
    pub log: String,
    /// Global log index.
    pub log_index: i64,
    /// Entry kind.
    pub kind: String,
    /// Entry version.
    pub version: String,
    /// Integrated time if SET-verified.
    pub integrated_time: Option<i64>,
    /// Tree size of the verified checkpoint, if a proof was checked.
    pub checkpoint_size: Option<u64>,
    /// Whether the inclusion promise (SET) was verified.
    pub set_verified: bool,
    /// Whether the inclusion proof and checkpoint were verified.
    pub proof_verified: bool,
}

/// Everything a successful verification established.
#[derive(Clone, Debug, Serialize)]
pub struct VerificationResult {
    /// Bundle version.
    pub bundle_version: &'static str,
    /// The signer's certificate identity, for certificate bundles.
    pub identity: Option<FulcioIdentity>,
    /// The signing key type.
    pub key: &'static str,
    /// Verified times.
    pub timestamps: Vec<VerifiedTime>,
    /// Verified log entries.
    pub tlog_entries: Vec<VerifiedEntry>,
    /// Number of SCTs verified.
    pub verified_scts: usize,
    /// Predicate type of a verified attestation.
    pub predicate_type: Option<String>,
    /// The attestation statement, for DSSE bundles.
    pub statement: Option<serde_json::Value>,
}

/// Verifies bundles against one trusted root.
#[derive(Debug)]
pub struct Verifier {
    trust: TrustRoot,
}

/// Artifact digests computed on demand, each at most once.
struct Digests<'a> {
    artifact: Artifact<'a>,
    sha256: Option<Vec<u8>>,
    sha384: Option<Vec<u8>>,
    sha512: Option<Vec<u8>>,
}

impl<'a> Digests<'a> {
    fn new(artifact: Artifact<'a>) -> Self {
        Self {
            artifact,
            sha256: None,
            sha384: None,
            sha512: None,
        }
    }
    /// The digest with `alg`, if it can be known.
    fn get(&mut self, alg: HashKind) -> Option<&[u8]> {
        match self.artifact {
            Artifact::Digest { algorithm, digest } => (algorithm == alg).then_some(digest),
            Artifact::Bytes(b) => {
                let slot = match alg {
                    HashKind::Sha256 => &mut self.sha256,
                    HashKind::Sha384 => &mut self.sha384,
                    HashKind::Sha512 => &mut self.sha512,
                };
                Some(slot.get_or_insert_with(|| alg.digest(b)).as_slice())
            }
        }
    }
    fn describe(&mut self, alg: HashKind) -> String {
        match self.get(alg) {
            Some(d) => format!("{}:{}", alg.name(), hex::encode(d)),
            None => match self.artifact {
                Artifact::Digest { algorithm, digest } => {
                    format!("{}:{}", algorithm.name(), hex::encode(digest))
                }
                Artifact::Bytes(_) => "?".into(),
            },
        }
    }
}

fn hash_kind(a: HashAlgorithm) -> Option<HashKind> {
    match a {
        HashAlgorithm::SHA2_256 => Some(HashKind::Sha256),
        HashAlgorithm::SHA2_384 => Some(HashKind::Sha384),
        HashAlgorithm::SHA2_512 => Some(HashKind::Sha512),
        _ => None,
    }
}

/// The key (and certificate, if any) that signed.
struct Signer {
    key: PublicKey,
    cert: Option<Certificate>,
}

impl Verifier {
    /// A verifier over `trust`.
    pub fn new(trust: TrustRoot) -> Self {
        Self { trust }
    }

    /// The trusted root in use.
    pub fn trust_root(&self) -> &TrustRoot {
        &self.trust
    }

    /// Parse bundle JSON, validate its structure and verify it.
    pub fn verify_json(
        &self,
        bundle_json: &[u8],
        artifact: Artifact<'_>,
        policy: &Policy,
    ) -> Result<VerificationResult, VerifyError> {
        let bundle = Bundle::from_json(bundle_json)?;
        self.verify(&bundle, artifact, policy)
    }

    /// Verify a parsed bundle.
    pub fn verify(
        &self,
        bundle: &Bundle,
        artifact: Artifact<'_>,
        policy: &Policy,
    ) -> Result<VerificationResult, VerifyError> {
        let version = bundle.validate()?;
        let content = bundle
            .content()
            .ok_or(vouch_core::bundle::BundleError::Invalid("no content"))?;
        let signature = bundle
            .signature_bytes()
            .ok_or(vouch_core::bundle::BundleError::Invalid("no signature"))?;
        let signer = self.signer(bundle, policy)?;
        let mut digests = Digests::new(artifact);

        // 0. A wrong file is the commonest failure: say so before anything else is checked.
        // The messageDigest hint must agree with the artifact when comparable.
        if let Content::Message(ms) = content
            && let Some(md) = &ms.message_digest
            && let Some(alg) = hash_kind(md.algorithm)
            && let Some(actual) = digests.get(alg)
            && actual != md.digest.as_slice()
        {
            return Err(VerifyError::ArtifactMismatch {
                file: format!("{}:{}", alg.name(), hex::encode(actual)),
                signed: format!("{}:{}", alg.name(), hex::encode(md.digest.as_slice())),
            });
        }

        // 1. Transparency log entries.
        let mut times: Vec<VerifiedTime> = Vec::new();
        let (entries, undated) = self.verify_tlog(
            bundle,
            version,
            content,
            signature,
            &signer,
            &mut digests,
            policy,
            &mut times,
        )?;

        // 2. RFC 3161 timestamps over the signature.
        let mut tsa_count = 0usize;
        let mut seen_tsa: Vec<String> = Vec::new();
        for (position, ts) in bundle.rfc3161_timestamps().iter().enumerate() {
            let mut reasons = Vec::new();
            let mut verified = None;
            for tsa in &self.trust.tsas {
                match tsa
                    .verifier
                    .verify(ts.signed_timestamp.as_slice(), signature)
                {
                    Ok(v) => {
                        verified = Some((tsa, v));
                        break;
                    }
                    Err(e) => reasons.push(format!("{}: {e}", tsa.uri)),
                }
            }
            let Some((tsa, v)) = verified else {
                if reasons.len() == 1 {
                    // A single candidate: report its precise failure.
                    let tsa = &self.trust.tsas[0];
                    let source = match tsa
                        .verifier
                        .verify(ts.signed_timestamp.as_slice(), signature)
                    {
                        Err(e) => e,
                        Ok(_) => continue,
                    };
                    return Err(VerifyError::Timestamp { position, source });
                }
                return Err(VerifyError::UntrustedTimestamp {
                    position,
                    reason: if reasons.is_empty() {
                        "the trusted root lists no timestamp authorities".into()
                    } else {
                        reasons.join("; ")
                    },
                });
            };
            let time = Instant {
                secs: v.gen_time_unix,
                nanos: v.gen_time_nanos,
            };
            if !tsa.valid_for.contains(time) {
                return Err(VerifyError::TimestampOutsideTsaValidity {
                    position,
                    time,
                    valid_for: tsa.valid_for,
                    uri: tsa.uri.clone(),
                });
            }
            if !seen_tsa.contains(&tsa.uri) {
                seen_tsa.push(tsa.uri.clone());
                tsa_count += 1;
            }
            times.push(VerifiedTime {
                source: TimeSource::TimestampAuthority {
                    uri: tsa.uri.clone(),
                },
                time,
            });
        }
        if tsa_count < policy.signed_timestamp_threshold {
            return Err(VerifyError::SignedTimestampThreshold {
                verified: tsa_count,
                required: policy.signed_timestamp_threshold,
            });
        }
        if times.len() < policy.observer_threshold {
            return Err(VerifyError::NoObserverTimestamp);
        }
        check_log_key_windows(&undated, &times)?;

        // 3. Certificate chain at every verified time, and 4. SCTs.
        let mut verified_scts = 0;
        let mut identity = None;
        if let Some(cert) = &signer.cert {
            let issuer_idx = self.verify_chain(cert, &times)?;
            if policy.require_sct {
                verified_scts = self.verify_scts(cert, issuer_idx)?;
            }
            identity = Some(cert.fulcio_identity()?);
        }

        // 5. Signature over the artifact or the DSSE envelope.
        let mut statement_json = None;
        let mut predicate_type = None;
        match content {
            Content::Message(ms) => {
                let _ = ms;
                if policy.predicate_type.is_some() {
                    return Err(VerifyError::NotAnAttestation);
                }
                verify_message_signature(&signer.key, &mut digests, signature)?;
            }
            Content::Dsse(env) => {
                if env.payload_type != INTOTO_PAYLOAD_TYPE {
                    return Err(VerifyError::PayloadType(env.payload_type.clone()));
                }
                signer.key.verify(&env.pae(), signature).map_err(|_| {
                    VerifyError::DsseSignature {
                        key: signer.key.kind().name(),
                    }
                })?;
                let st = Statement::from_json(env.payload.as_slice())?;
                check_subject(&st, &mut digests)?;
                if let Some(want) = &policy.predicate_type {
                    let want = vouch_core::intoto::predicate_type_for(want);
                    if st.predicate_type != want {
                        return Err(VerifyError::PredicateType {
                            expected: want.to_string(),
                            got: st.predicate_type.clone(),
                        });
                    }
                }
                predicate_type = Some(st.predicate_type.clone());
                statement_json = serde_json::from_slice(env.payload.as_slice()).ok();
            }
        }

        // 6. Identity policy.
        if let SignerPolicy::Identities(ids) = &policy.signer {
            let id = identity.as_ref().ok_or(VerifyError::KeyRequired {
                hint: String::new(),
            })?;
            let mut first_err = None;
            let mut ok = false;
            for p in ids {
                match p.check(id) {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            if !ok && let Some(e) = first_err {
                return Err(e.into());
            }
        }

        Ok(VerificationResult {
            bundle_version: version.as_str(),
            identity,
            key: signer.key.kind().name(),
            timestamps: times,
            tlog_entries: entries,
            verified_scts,
            predicate_type,
            statement: statement_json,
        })
    }

    fn signer(&self, bundle: &Bundle, policy: &Policy) -> Result<Signer, VerifyError> {
        match bundle.material() {
            Some(Material::PublicKey(hint)) => match &policy.signer {
                SignerPolicy::Key(k) => Ok(Signer {
                    key: k.clone(),
                    cert: None,
                }),
                _ => Err(VerifyError::KeyRequired {
                    hint: hint.hint.clone(),
                }),
            },
            Some(Material::Certificate { leaf, rest }) => {
                if matches!(policy.signer, SignerPolicy::Key(_)) {
                    return Err(VerifyError::CertificateNotKey);
                }
                // Out-of-band intermediates are ignored, but a root in the bundle is refused:
                // trust anchors come only from the trusted root.
                for c in rest {
                    let c = Certificate::from_der(c.raw_bytes.as_slice())?;
                    if c.is_self_issued() {
                        return Err(VerifyError::ChainContainsRoot {
                            subject: c.subject(),
                        });
                    }
                }
                let cert = Certificate::from_der(leaf)?;
                let key = cert.public_key()?;
                Ok(Signer {
                    key,
                    cert: Some(cert),
                })
            }
            None => {
                Err(vouch_core::bundle::BundleError::Invalid("no verification material").into())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn verify_tlog(
        &self,
        bundle: &Bundle,
        version: BundleVersion,
        content: Content<'_>,
        signature: &[u8],
        signer: &Signer,
        digests: &mut Digests<'_>,
        policy: &Policy,
        times: &mut Vec<VerifiedTime>,
    ) -> Result<(Vec<VerifiedEntry>, Vec<UndatedEntry<'_>>), VerifyError> {
        let entries = bundle.tlog_entries();
        let mut undated = Vec::new();
        let mut seen: Vec<(&[u8], i64)> = Vec::new();
        let mut verified: Vec<VerifiedEntry> = Vec::new();
        let mut verified_logs: Vec<&str> = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        for (position, e) in entries.iter().enumerate() {
            let log_id = e
                .log_id
                .as_ref()
                .map(|l| l.key_id.as_slice())
                .unwrap_or_default();
            if seen.contains(&(log_id, e.log_index.0)) {
                return Err(VerifyError::DuplicateEntry {
                    log_id: hex::encode(log_id),
                    index: e.log_index.0,
                });
            }
            seen.push((log_id, e.log_index.0));
            let Some(log) = self.trust.tlog_by_id(log_id) else {
                skipped.push(format!(
                    "entry {position}: log {} is not in the trusted root",
                    hex::encode(log_id)
                ));
                continue;
            };
            let wrap = |source| VerifyError::Entry {
                position,
                log_index: e.log_index.0,
                source,
            };
            let ve = self
                .verify_entry(
                    e,
                    log,
                    version,
                    content,
                    signature,
                    signer,
                    digests,
                    policy.witness_policy.as_ref(),
                )
                .map_err(|e| match e {
                    EntryError::ArtifactDigest { entry, file } => VerifyError::ArtifactMismatch {
                        file,
                        signed: entry,
                    },
                    EntryError::WrongKey { given, recorded } => VerifyError::WrongKey {
                        given,
                        signed_with: recorded,
                    },
                    e => wrap(e),
                })?;
            match ve.integrated_time {
                Some(t) => times.push(VerifiedTime {
                    source: TimeSource::Tlog {
                        log: log.base_url.clone(),
                    },
                    time: Instant::from_secs(t),
                }),
                None => undated.push(UndatedEntry {
                    position,
                    log_index: e.log_index.0,
                    log,
                }),
            }
            if !verified_logs.contains(&log.base_url.as_str()) {
                verified_logs.push(&log.base_url);
            }
            verified.push(ve);
        }
        if verified_logs.len() < policy.tlog_threshold {
            return Err(VerifyError::TlogThreshold {
                verified: verified_logs.len(),
                required: policy.tlog_threshold,
                skipped: (!skipped.is_empty()).then(|| skipped.join("; ")),
            });
        }
        Ok((verified, undated))
    }

    #[allow(clippy::too_many_arguments)]
    fn verify_entry(
        &self,
        e: &TransparencyLogEntry,
        log: &TrustedLog,
        _version: BundleVersion,
        content: Content<'_>,
        signature: &[u8],
        signer: &Signer,
        digests: &mut Digests<'_>,
        witness_policy: Option<&WitnessPolicy>,
    ) -> Result<VerifiedEntry, EntryError> {
        if log.key.is_none() {
            return Err(EntryError::UnusableLogKey {
                log: log.base_url.clone(),
            });
        }
        // The caller's witness policy, else the trusted root's `witnessConfig` for this log.
        let witness_policy = witness_policy.or(log.witness_policy.as_ref());
        let kv = e.kind_version.clone().unwrap_or_default();
        let body = e.canonicalized_body.as_slice();
        let is_v2 = kv.kind == "hashedrekord" && kv.version == "0.0.2";
        if e.inclusion_proof.is_none() && e.inclusion_promise.is_none() {
            return Err(EntryError::NoEvidence);
        }
        if is_v2 && e.inclusion_proof.is_none() {
            return Err(EntryError::MissingProof);
        }

        let integrated_time = verify_inclusion_promise(e, log)?;
        let mut checkpoint_size = None;
        if let Some(proven) = verify_inclusion_proof(e, log)? {
            if let Some(wp) = witness_policy {
                check_witness_policy(wp, &proven.note, &proven.checkpoint, &log.base_url)?;
            }
            checkpoint_size = Some(proven.checkpoint.size);
        }

        if witness_policy.is_some() && e.inclusion_proof.is_none() {
            return Err(EntryError::NoCheckpointForWitnessPolicy);
        }

        // The entry must record this bundle's signature, key and digest. The body is
        // authenticated by now (SET or inclusion proof), so for a message signature a digest
        // other than the artifact's means the file is not the one that was signed.
        check_body(
            body,
            &kv.kind,
            &kv.version,
            content,
            signature,
            signer,
            digests,
        )?;

        if let (Some(t), Some(cert)) = (integrated_time, &signer.cert) {
            let t = Instant::from_secs(t);
            if t < cert.not_before() || t > cert.not_after() {
                return Err(EntryError::IntegratedTimeOutsideCertificate {
                    time: t,
                    not_before: cert.not_before(),
                    not_after: cert.not_after(),
                });
            }
        }

        Ok(VerifiedEntry {
            log: log.base_url.clone(),
            log_index: e.log_index.0,
            kind: kv.kind,
            version: kv.version,
            integrated_time,
            checkpoint_size,
            set_verified: e.inclusion_promise.is_some(),
            proof_verified: e.inclusion_proof.is_some(),
        })
    }

    /// Validate the leaf at every verified time; returns the index of the issuing CA's cert in its chain.
    fn verify_chain(
        &self,
        cert: &Certificate,
        times: &[VerifiedTime],
    ) -> Result<(usize, usize), VerifyError> {
        let mut found: Option<(usize, usize)> = None;
        for vt in times {
            let t = vt.time;
            let mut last_err = None;
            let mut ok = false;
            for (ca_idx, ca) in self.trust.cas.iter().enumerate() {
                if !ca.valid_for.contains(t) {
                    continue;
                }
                let Some(issuer_idx) = ca.chain.iter().position(|c| cert.names_issuer(c)) else {
                    continue;
                };
                let issuer = &ca.chain[issuer_idx];
                // Signature, EKU and critical extensions do not depend on time: check them once.
                let res = if found == Some((ca_idx, issuer_idx)) {
                    cert.check_valid_at(t)
                } else {
                    vouch_core::x509::verify_leaf(cert, issuer, t, EKU_CODE_SIGNING)
                };
                let res = res.and_then(|()| {
                    ca.chain[issuer_idx..]
                        .iter()
                        .try_for_each(|c| c.check_valid_at(t))
                });
                match res {
                    Ok(()) => {
                        found = Some((ca_idx, issuer_idx));
                        ok = true;
                        break;
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            if !ok {
                return Err(match last_err {
                    Some(source) => VerifyError::Chain { time: t, source },
                    None => VerifyError::NoCaAtTime {
                        issuer: cert.issuer(),
                        time: t,
                    },
                });
            }
        }
        found.ok_or(VerifyError::NoObserverTimestamp)
    }

    fn verify_scts(
        &self,
        cert: &Certificate,
        (ca_idx, issuer_idx): (usize, usize),
    ) -> Result<usize, VerifyError> {
        let scts = sct::embedded_scts(cert)?;
        let issuer_key_hash = self
            .trust
            .cas
            .get(ca_idx)
            .and_then(|ca| ca.spki_hashes.get(issuer_idx))
            .ok_or(VerifyError::NoTrustedSct { count: scts.len() })?;
        let mut tbs: Option<Vec<u8>> = None;
        let mut verified_logs: Vec<&[u8]> = Vec::new();
        for s in &scts {
            let Some(log) = self.trust.ctlog_by_id(&s.log_id) else {
                continue;
            };
            let Some(key) = &log.key else { continue };
            let t = Instant {
                secs: i64::try_from(s.timestamp_ms / 1000).unwrap_or(i64::MAX),
                nanos: u32::try_from((s.timestamp_ms % 1000) * 1_000_000).unwrap_or(0),
            };
            if !log.valid_for.contains(t) {
                continue;
            }
            let precert = match &tbs {
                Some(t) => t,
                None => tbs.insert(sct::precert_tbs_der(cert)?),
            };
            sct::verify_sct(s, key, issuer_key_hash, precert)?;
            if !verified_logs.contains(&log.log_id.as_slice()) {
                verified_logs.push(&log.log_id);
            }
        }
        if verified_logs.is_empty() {
            return Err(VerifyError::NoTrustedSct { count: scts.len() });
        }
        Ok(verified_logs.len())
    }
}

/// The C2SP tlog-policy checks on a checkpoint whose log signature already verified: one of
/// the policy's logs (if it lists any) signed it, and its witness quorum cosigned it.
/// A checkpoint an inclusion proof was verified against.
#[derive(Clone, Debug)]
pub struct ProvenInclusion {
    /// The signed note, with every signature line (cosignatures included).
    pub note: SignedNote,
    /// Its checkpoint body: origin, tree size and root hash.
    pub checkpoint: Checkpoint,
}

fn log_key(log: &TrustedLog) -> Result<&PublicKey, EntryError> {
    log.key.as_ref().ok_or_else(|| EntryError::UnusableLogKey {
        log: log.base_url.clone(),
    })
}

/// Check a Rekor v1 entry's inclusion promise (SET) with the key of `log`, and that its
/// integrated time is within that key's validity. Returns the integrated time, or `None`
/// when the entry carries no promise. Used by the verifier and by `--upgrade-bundles`, which
/// checks a legacy signature's SET before attaching the proof it fetched for it.
pub fn verify_inclusion_promise(
    e: &TransparencyLogEntry,
    log: &TrustedLog,
) -> Result<Option<i64>, EntryError> {
    let Some(p) = &e.inclusion_promise else {
        return Ok(None);
    };
    let key = log_key(log)?;
    let t = Instant::from_secs(e.integrated_time.0);
    if !log.valid_for.contains(t) {
        return Err(EntryError::TimeOutsideLogValidity {
            log: log.base_url.clone(),
            time: t,
            valid_for: log.valid_for,
        });
    }
    let payload = set_payload(
        e.canonicalized_body.as_slice(),
        e.integrated_time.0,
        &log.log_id,
        e.log_index.0,
    );
    key.verify(&payload, p.signed_entry_timestamp.as_slice())
        .map_err(|_| EntryError::BadSet {
            log: log.base_url.clone(),
        })?;
    Ok(Some(e.integrated_time.0))
}

/// Check an entry's inclusion proof: its checkpoint is signed by `log` (Rekor v1 `<host> -
/// <tree ID>` origins with the log's note verifier, others with its origin), the proof leads
/// from the entry body's leaf hash to the checkpoint's root, and the proof's unsigned tree
/// size, root and index agree with the checkpoint and the entry. `None` when the entry
/// carries no proof.
pub fn verify_inclusion_proof(
    e: &TransparencyLogEntry,
    log: &TrustedLog,
) -> Result<Option<ProvenInclusion>, EntryError> {
    let Some(proof) = &e.inclusion_proof else {
        return Ok(None);
    };
    let key = log_key(log)?;
    let envelope = proof
        .checkpoint
        .as_ref()
        .map(|c| c.envelope.as_str())
        .unwrap_or_default();
    let note = SignedNote::parse(envelope)?;
    let cp = Checkpoint::parse(&note.text)?;
    let host = host_of(&log.origin);
    let v1_style = cp
        .origin
        .strip_prefix(host)
        .and_then(|r| r.strip_prefix(" - "))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    let verifier: NoteVerifier = if v1_style {
        log.note_verifier
            .clone()
            .ok_or_else(|| EntryError::UnusableLogKey {
                log: log.base_url.clone(),
            })?
    } else {
        if cp.origin != log.origin {
            return Err(EntryError::CheckpointOrigin {
                log: log.base_url.clone(),
                expected: log.origin.clone(),
                got: cp.origin.clone(),
            });
        }
        match &log.note_verifier {
            Some(v) if v.name == log.origin => v.clone(),
            _ => NoteVerifier::for_log_key(&log.origin, key)?,
        }
    };
    note.verify(&verifier)?;
    let leaf = merkle::leaf_hash(e.canonicalized_body.as_slice());
    let (index, size, root) = if v1_style {
        let root: [u8; 32] = proof.root_hash.as_slice().try_into().map_err(|_| {
            merkle::ProofError::BadHashLength {
                position: 0,
                len: proof.root_hash.as_slice().len(),
            }
        })?;
        let size = u64::try_from(proof.tree_size.0).unwrap_or(0);
        if root != cp.root_hash || size != cp.size {
            return Err(EntryError::CheckpointMismatch {
                checkpoint_size: cp.size,
                checkpoint_root: hex::encode(cp.root_hash),
                proof_size: size,
                proof_root: hex::encode(root),
            });
        }
        (
            u64::try_from(proof.log_index.0).unwrap_or(u64::MAX),
            size,
            root,
        )
    } else {
        // Rekor v2: the top-level index; size and root from the verified checkpoint.
        // The proof repeats them unsigned: refuse a proof that disagrees.
        let proof_size = u64::try_from(proof.tree_size.0).unwrap_or(u64::MAX);
        if proof.root_hash.as_slice() != cp.root_hash || proof_size != cp.size {
            return Err(EntryError::CheckpointMismatch {
                checkpoint_size: cp.size,
                checkpoint_root: hex::encode(cp.root_hash),
                proof_size,
                proof_root: hex::encode(proof.root_hash.as_slice()),
            });
        }
        if proof.log_index.0 != e.log_index.0 {
            return Err(EntryError::IndexMismatch {
                entry: e.log_index.0,
                proof: proof.log_index.0,
            });
        }
        (
            u64::try_from(e.log_index.0).unwrap_or(u64::MAX),
            cp.size,
            cp.root_hash,
        )
    };
    merkle::verify_inclusion(index, size, &leaf, &proof.hashes, &root)?;
    Ok(Some(ProvenInclusion {
        note,
        checkpoint: cp,
    }))
}

fn check_witness_policy(
    wp: &WitnessPolicy,
    note: &SignedNote,
    cp: &Checkpoint,
    log: &str,
) -> Result<(), EntryError> {
    if !wp.logs().is_empty()
        && !wp
            .logs()
            .iter()
            .any(|l| l.verifier.name == cp.origin && note.verify(&l.verifier).is_ok())
    {
        return Err(EntryError::LogNotInWitnessPolicy {
            origin: cp.origin.clone(),
        });
    }
    wp.check(note)
        .map(|_| ())
        .map_err(|source| EntryError::WitnessQuorum {
            log: log.to_string(),
            size: cp.size,
            source: Box::new(source),
        })
}

/// A verified log entry whose log key was not checked at a time of its own (no SET, so no
/// signed integrated time: Rekor v2, or v1 with a proof only).
struct UndatedEntry<'t> {
    position: usize,
    log_index: i64,
    log: &'t TrustedLog,
}

/// The key of a log whose entry carries no signed time must have been valid when the artifact
/// was signed: at every verified signing time (timestamps, other logs' SETs), or now when
/// nothing dates the signature. Without this, a Rekor v2 entry from a retired or compromised
/// log key would verify. (sigstore-go checks `validFor` for SETs only.)
fn check_log_key_windows(
    undated: &[UndatedEntry<'_>],
    times: &[VerifiedTime],
) -> Result<(), VerifyError> {
    let now = [Instant::now()];
    let mut at: Vec<Instant> = times.iter().map(|t| t.time).collect();
    if at.is_empty() {
        at.extend(now);
    }
    for u in undated {
        if let Some(t) = at.iter().find(|t| !u.log.valid_for.contains(**t)) {
            return Err(VerifyError::Entry {
                position: u.position,
                log_index: u.log_index,
                source: EntryError::SigningTimeOutsideLogValidity {
                    log: u.log.base_url.clone(),
                    time: *t,
                    valid_for: u.log.valid_for,
                },
            });
        }
    }
    Ok(())
}

fn verify_message_signature(
    key: &PublicKey,
    digests: &mut Digests<'_>,
    signature: &[u8],
) -> Result<(), VerifyError> {
    let kind = key.kind();
    // Ed25519 message signatures are Ed25519ph over the SHA-512 digest (default_hash).
    let primary = key.default_hash();
    // Legacy clients signed SHA-256 digests with P-384/P-521 keys: also accept that.
    let mut candidates = vec![primary];
    if primary != HashKind::Sha256 && matches!(kind, KeyKind::EcdsaP384 | KeyKind::EcdsaP521) {
        candidates.push(HashKind::Sha256);
    }
    let mut tried_any = false;
    for alg in candidates {
        let Some(d) = digests.get(alg) else { continue };
        tried_any = true;
        if key.verify_digest(alg, d, signature).is_ok() {
            return Ok(());
        }
    }
    if !tried_any && let Artifact::Digest { algorithm, .. } = digests.artifact {
        return Err(VerifyError::DigestAlgorithm {
            given: algorithm.name(),
            key: kind.name(),
            wants: primary.name(),
        });
    }
    Err(VerifyError::Signature { key: kind.name() })
}

fn check_subject(st: &Statement, digests: &mut Digests<'_>) -> Result<(), VerifyError> {
    for alg in [HashKind::Sha256, HashKind::Sha512, HashKind::Sha384] {
        let has_alg = st.subject.iter().any(|s| s.digest.contains_key(alg.name()));
        if !has_alg {
            continue;
        }
        if let Some(d) = digests.get(alg)
            && st.has_subject_digest(alg.name(), &hex::encode(d))
        {
            return Ok(());
        }
    }
    let alg = match digests.artifact {
        Artifact::Digest { algorithm, .. } => algorithm,
        Artifact::Bytes(_) => HashKind::Sha256,
    };
    let subjects = st
        .subject
        .iter()
        .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
        .collect::<Vec<_>>()
        .join(", ");
    Err(VerifyError::SubjectMismatch {
        digest: digests.describe(alg),
        subjects: if subjects.is_empty() {
            "none".into()
        } else {
            subjects
        },
    })
}

/// Decode a PEM certificate or public key from a v1 body into (is_certificate, DER).
fn pem_material(pem: &[u8]) -> Result<(bool, Vec<u8>), EntryError> {
    let text = std::str::from_utf8(pem).map_err(|_| {
        vouch_core::rekor::BodyError::Malformed("public key is not PEM text".into())
    })?;
    let blocks =
        vouch_core::keys::pem_blocks(text).map_err(|source| vouch_core::rekor::BodyError::Key {
            what: "public key PEM",
            source,
        })?;
    let (label, der) = blocks
        .into_iter()
        .next()
        .ok_or_else(|| vouch_core::rekor::BodyError::Malformed("empty PEM".into()))?;
    Ok((label == "CERTIFICATE", der))
}

fn check_key_material(is_cert: bool, der: &[u8], signer: &Signer) -> Result<(), EntryError> {
    match (&signer.cert, is_cert) {
        (Some(c), true) if c.der() == der => Ok(()),
        (Some(_), _) => Err(EntryError::KeyMismatch {
            what: "certificate",
        }),
        (None, false) if signer.key.spki_der() == der => Ok(()),
        (None, false) => Err(EntryError::WrongKey {
            given: hex::encode(HashKind::Sha256.digest(signer.key.spki_der())),
            recorded: hex::encode(HashKind::Sha256.digest(der)),
        }),
        (None, true) => Err(EntryError::KeyMismatch { what: "public key" }),
    }
}

fn check_body(
    body: &[u8],
    kind: &str,
    version: &str,
    content: Content<'_>,
    signature: &[u8],
    signer: &Signer,
    digests: &mut Digests<'_>,
) -> Result<(), EntryError> {
    let parsed = EntryBody::parse(body, kind, version)?;
    let content_name = match content {
        Content::Message(_) => "message signature",
        Content::Dsse(_) => "DSSE envelope",
    };
    let wrong_kind = || EntryError::KindForContent {
        kind: kind.to_string(),
        version: version.to_string(),
        content: content_name,
    };
    match (parsed, content) {
        (
            EntryBody::HashedRekordV001 {
                algorithm,
                digest_hex,
                signature: sig,
                public_key_pem,
            },
            Content::Message(_),
        ) => {
            if sig != signature {
                return Err(EntryError::SignatureMismatch);
            }
            let (is_cert, der) = pem_material(&public_key_pem)?;
            check_key_material(is_cert, &der, signer)?;
            let alg =
                HashKind::from_name(&algorithm).ok_or_else(|| EntryError::DigestMismatch {
                    entry: format!("{algorithm}:{digest_hex}"),
                    expected: "a sha256, sha384 or sha512 digest".into(),
                })?;
            match digests.get(alg) {
                Some(d) if hex::encode(d) == digest_hex => Ok(()),
                Some(d) => Err(EntryError::ArtifactDigest {
                    entry: format!("{algorithm}:{digest_hex}"),
                    file: format!("{}:{}", alg.name(), hex::encode(d)),
                }),
                None => Err(EntryError::DigestMismatch {
                    entry: format!("{algorithm}:{digest_hex}"),
                    expected: digests.describe(alg),
                }),
            }
        }
        (
            EntryBody::HashedRekordV002 {
                algorithm,
                digest,
                signature: sig,
                verifier,
                ..
            },
            content,
        ) => {
            if sig != signature {
                return Err(EntryError::SignatureMismatch);
            }
            match &verifier {
                V2Verifier::Certificate(der) => check_key_material(true, der, signer)?,
                V2Verifier::PublicKey(der) => check_key_material(false, der, signer)?,
            }
            let alg = hash_kind(algorithm).ok_or_else(|| EntryError::DigestMismatch {
                entry: format!("{algorithm:?}:{}", hex::encode(&digest)),
                expected: "a SHA-2 digest".into(),
            })?;
            let is_message = matches!(content, Content::Message(_));
            let expected = match content {
                Content::Message(_) => digests.get(alg).map(<[u8]>::to_vec),
                // Rekor v2 records DSSE as a hashedrekord over H(PAE(payloadType, payload)).
                Content::Dsse(env) => Some(alg.digest(&env.pae())),
            };
            match expected {
                Some(d) if d == digest => Ok(()),
                Some(d) if is_message => Err(EntryError::ArtifactDigest {
                    entry: format!("{}:{}", alg.name(), hex::encode(&digest)),
                    file: format!("{}:{}", alg.name(), hex::encode(d)),
                }),
                Some(d) => Err(EntryError::DigestMismatch {
                    entry: format!("{}:{}", alg.name(), hex::encode(&digest)),
                    expected: format!("{}:{}", alg.name(), hex::encode(d)),
                }),
                None => Err(EntryError::DigestMismatch {
                    entry: format!("{}:{}", alg.name(), hex::encode(&digest)),
                    expected: digests.describe(alg),
                }),
            }
        }
        (
            EntryBody::DsseV001 {
                payload_hash_algorithm,
                payload_hash_hex,
                signatures,
            }
            | EntryBody::IntotoV002 {
                payload_hash_algorithm,
                payload_hash_hex,
                signatures,
            },
            Content::Dsse(env),
        ) => {
            let alg = HashKind::from_name(&payload_hash_algorithm).unwrap_or(HashKind::Sha256);
            let actual = hex::encode(alg.digest(env.payload.as_slice()));
            if actual != payload_hash_hex {
                return Err(EntryError::DigestMismatch {
                    entry: format!("{payload_hash_algorithm}:{payload_hash_hex}"),
                    expected: format!("{}:{actual}", alg.name()),
                });
            }
            let mut sig_found = false;
            for (sig, pem) in &signatures {
                if sig.as_slice() != signature {
                    continue;
                }
                sig_found = true;
                let (is_cert, der) = pem_material(pem)?;
                check_key_material(is_cert, &der, signer)?;
            }
            if sig_found {
                Ok(())
            } else {
                Err(EntryError::SignatureMismatch)
            }
        }
        _ => Err(wrong_kind()),
    }
}
