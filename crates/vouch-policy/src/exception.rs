//! Signed, expiring exceptions (a vouch extension; no policy-controller equivalent).
//!
//! An exception is an in-toto statement of predicate type [`EXCEPTION_PREDICATE_TYPE`] whose
//! predicate ([`ExceptionPredicate`]) names the images (globs or digests), namespaces and
//! policies it waives, why, the ticket, the approver and the expiry. The approver signs it
//! into a Sigstore bundle (DSSE), keyless or with a key, recorded in the transparency log, as
//! `vouch attest-blob --statement` does. The statement's single subject is the SHA-256 of the
//! predicate JSON as signed (an exception is about no single artifact).
//!
//! An exception is honoured only when its bundle verifies (signature, certificate chain, log
//! entry), its signer matches a configured approver, and it is unexpired at the second of the
//! decision ([`ExceptionSet::find`] takes the decision time; nothing is cached past expiry).

use crate::glob::ImageGlob;
use crate::load::ArtifactGlob;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vouch_core::bundle::{Bundle, Content};
use vouch_core::intoto::{STATEMENT_V1, Statement, Subject};
use vouch_core::keys::{HashKind, PublicKey};
use vouch_verify::{Artifact, IdentityPolicy, Policy, SignerPolicy, Verifier};

/// The exception predicate type.
pub const EXCEPTION_PREDICATE_TYPE: &str = "https://vouch.dev/exception/v1";
/// The statement subject's name.
pub const EXCEPTION_SUBJECT_NAME: &str = "vouch-exception";
/// Largest exception bundle read (bytes).
pub const MAX_EXCEPTION_FILE_LEN: u64 = 1 << 20;

/// What an exception waives, and on whose authority.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionPredicate {
    /// Image globs (policy-controller syntax) or digests (`sha256:…`, `repo@sha256:…`).
    #[serde(default)]
    pub images: Vec<String>,
    /// Artifact file-name globs or digests (for ArtifactPolicy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    /// Namespaces (`*` or empty: any, including none as in `vouch policy check`).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Policy names waived (`*`: any).
    pub policies: Vec<String>,
    /// Why.
    pub reason: String,
    /// Change ticket.
    pub ticket: String,
    /// The approver as the granter named them (informational: the verified signer counts).
    pub approver: String,
    /// When granted (RFC 3339).
    pub issued_at: String,
    /// When it stops applying (RFC 3339).
    pub expires: String,
}

/// The signed statement for `predicate` and its subject digest (SHA-256 of the predicate
/// JSON).
pub fn exception_statement(
    predicate: &ExceptionPredicate,
) -> Result<(Vec<u8>, Vec<u8>), serde_json::Error> {
    let predicate_json = serde_json::to_vec(predicate)?;
    let digest = HashKind::Sha256.digest(&predicate_json);
    let statement = Statement {
        type_: STATEMENT_V1.to_string(),
        subject: vec![Subject {
            name: EXCEPTION_SUBJECT_NAME.to_string(),
            digest: [("sha256".to_string(), hex::encode(&digest))]
                .into_iter()
                .collect(),
            annotations: Default::default(),
        }],
        predicate_type: EXCEPTION_PREDICATE_TYPE.to_string(),
        predicate: Some(serde_json::to_value(predicate)?),
    };
    Ok((serde_json::to_vec(&statement)?, digest))
}

/// Who may approve exceptions.
#[derive(Clone, Debug, Default)]
pub struct Approvers {
    /// Keyless approvers (same syntax as keyless authorities).
    pub identities: Vec<IdentityPolicy>,
    /// Key approvers.
    pub keys: Vec<PublicKey>,
    /// Accept any certificate identity from the trusted root (signature, certificate chain
    /// and log entry still verified). For listing exceptions without approver configuration
    /// only; never for decisions.
    pub insecure_any_identity: bool,
}

impl Approvers {
    /// True when nobody may approve.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty() && self.keys.is_empty() && !self.insecure_any_identity
    }
}

/// A verified exception.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exception {
    /// `exc-` + 16 hex of the signed statement's SHA-256.
    pub id: String,
    /// The bundle file.
    pub file: PathBuf,
    /// The verified signer (`SAN (issuer …)` or `key sha256:…`).
    pub approver: String,
    /// When the log (or TSA) saw the signature.
    pub signed_at: Option<String>,
    /// What it says.
    pub predicate: ExceptionPredicate,
    #[serde(skip)]
    issued_at: jiff::Timestamp,
    #[serde(skip)]
    expires: jiff::Timestamp,
    #[serde(skip)]
    image_globs: Vec<ImageGlob>,
    #[serde(skip)]
    artifact_globs: Vec<ArtifactGlob>,
}

impl Exception {
    /// Expiry.
    pub fn expires(&self) -> jiff::Timestamp {
        self.expires
    }
    /// Grant time as stated.
    pub fn issued_at(&self) -> jiff::Timestamp {
        self.issued_at
    }
    /// Whether it applies at `now` (issued, not yet expired; to the second).
    pub fn active_at(&self, now: jiff::Timestamp) -> bool {
        self.issued_at.as_second() <= now.as_second() && now.as_second() < self.expires.as_second()
    }

    fn covers_policy(&self, policy: &str) -> bool {
        self.predicate
            .policies
            .iter()
            .any(|p| p == "*" || p == policy)
    }

    fn covers_namespace(&self, ns: Option<&str>) -> bool {
        let any = self.predicate.namespaces.is_empty()
            || self.predicate.namespaces.iter().any(|n| n == "*");
        any || ns.is_some_and(|ns| self.predicate.namespaces.iter().any(|n| n == ns))
    }

    fn covers_subject(&self, subject: &crate::decision::Subject) -> bool {
        match subject {
            crate::decision::Subject::Image {
                image,
                tag,
                digest,
                name,
            } => {
                let tagged = tag
                    .as_ref()
                    .map(|t| format!("{}:{t}", name.repository_name()));
                self.predicate
                    .images
                    .iter()
                    .any(|e| e == digest || e == image)
                    || self.image_globs.iter().any(|g| {
                        g.matches_qualified(image, image)
                            || tagged.as_ref().is_some_and(|t| g.matches_qualified(t, t))
                    })
            }
            crate::decision::Subject::Artifact { name, digest } => {
                self.predicate.artifacts.iter().any(|e| e == digest)
                    || self.artifact_globs.iter().any(|g| g.matches(name))
            }
        }
    }
}

/// Why an exception file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// It cannot be read.
    #[error("cannot read")]
    Read(#[source] std::io::Error),
    /// It is larger than [`MAX_EXCEPTION_FILE_LEN`].
    #[error("larger than {MAX_EXCEPTION_FILE_LEN} bytes")]
    TooLarge,
    /// It is not a Sigstore bundle.
    #[error("not a Sigstore bundle")]
    Bundle(#[source] vouch_core::bundle::BundleError),
    /// It is a message-signature bundle.
    #[error("not a DSSE bundle (sign the exception statement with `vouch exception grant`)")]
    NotDsse,
    /// The payload is not an in-toto statement.
    #[error("statement")]
    Statement(#[source] vouch_core::intoto::StatementError),
    /// Another predicate type.
    #[error("predicate type {0:?} is not {EXCEPTION_PREDICATE_TYPE}")]
    PredicateType(String),
    /// No sha256 subject.
    #[error("statement has no sha256 subject")]
    NoSubject,
    /// The signature did not verify for any configured approver (the first failure).
    #[error("not approved: {source}")]
    NotApproved {
        /// Why the first approver policy failed.
        #[source]
        source: vouch_verify::VerifyError,
        /// How many approver policies were tried.
        tried: usize,
    },
    /// The predicate does not fit [`ExceptionPredicate`].
    #[error("exception predicate")]
    Predicate(#[source] serde_json::Error),
    /// It names no policies, or no images or artifacts.
    #[error("names no {0}")]
    Empty(&'static str),
    /// `issuedAt` or `expires` is not an RFC 3339 time.
    #[error("{field} {value:?} is not an RFC 3339 time")]
    Time {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// The parser's error.
        #[source]
        source: jiff::Error,
    },
    /// An image glob is invalid.
    #[error("image glob")]
    Glob(#[source] crate::glob::GlobError),
    /// An artifact glob is invalid.
    #[error("artifact glob")]
    ArtifactGlob(#[source] regex::Error),
}

impl RejectReason {
    /// The reason with its causes, on one line.
    pub fn message(&self) -> String {
        let mut msg = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let m = c.to_string();
            if !msg.contains(&m) {
                msg.push_str(": ");
                msg.push_str(&m);
            }
            cause = c.source();
        }
        msg
    }
}

impl Serialize for RejectReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.message())
    }
}

/// An exception file that was not accepted, and why.
#[derive(Debug, Serialize)]
pub struct Rejected {
    /// The file.
    pub file: PathBuf,
    /// Why (signature, approver, format).
    pub reason: RejectReason,
}

/// The exceptions of a directory: those that verified, and those refused.
#[derive(Debug, Default, Serialize)]
pub struct ExceptionSet {
    /// Verified exceptions (expired ones included: expiry is checked per decision).
    pub exceptions: Vec<Exception>,
    /// Refused files.
    pub rejected: Vec<Rejected>,
    /// Loaded with [`Approvers::insecure_any_identity`]: for listing only, never honoured
    /// ([`ExceptionSet::find`] finds nothing).
    #[serde(skip)]
    pub approvers_unchecked: bool,
}

/// Why the exceptions directory could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExceptionError {
    /// The directory cannot be read.
    #[error("cannot read exceptions directory {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Exceptions were given without anyone to approve them.
    #[error(
        "exceptions need approvers: pass --approver-identity with --approver-oidc-issuer (or the -regexp forms), or --approver-key"
    )]
    NoApprovers,
}

impl ExceptionSet {
    /// An empty set.
    pub fn none() -> Self {
        Self::default()
    }

    /// Read every `*.json` file of `dir`, verifying each with `verifier` against `approvers`.
    /// Files that do not verify are listed in [`ExceptionSet::rejected`], never honoured.
    pub fn load(
        dir: &Path,
        approvers: &Approvers,
        verifier: &Verifier,
    ) -> Result<Self, ExceptionError> {
        if approvers.is_empty() {
            return Err(ExceptionError::NoApprovers);
        }
        let read_err = |source| ExceptionError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(read_err)?;
        files.retain(|p| p.extension().is_some_and(|e| e == "json") && p.is_file());
        files.sort();
        let mut set = Self {
            approvers_unchecked: approvers.insecure_any_identity,
            ..Self::default()
        };
        for f in files {
            match load_one(&f, approvers, verifier) {
                Ok(e) => set.exceptions.push(e),
                Err(reason) => set.rejected.push(Rejected { file: f, reason }),
            }
        }
        Ok(set)
    }

    /// The first exception that waives `policy` for `subject` in `namespace` and is active at
    /// `now`.
    pub fn find(
        &self,
        subject: &crate::decision::Subject,
        namespace: Option<&str>,
        policy: &str,
        now: jiff::Timestamp,
    ) -> Option<&Exception> {
        if self.approvers_unchecked {
            return None;
        }
        self.exceptions.iter().find(|e| {
            e.active_at(now)
                && e.covers_policy(policy)
                && e.covers_namespace(namespace)
                && e.covers_subject(subject)
        })
    }

    /// Every exception that would waive `policy` for `subject` in `namespace`, active or not.
    pub fn matching<'a>(
        &'a self,
        subject: &'a crate::decision::Subject,
        namespace: Option<&'a str>,
        policy: &'a str,
    ) -> impl Iterator<Item = &'a Exception> + 'a {
        self.exceptions.iter().filter(move |e| {
            e.covers_policy(policy) && e.covers_namespace(namespace) && e.covers_subject(subject)
        })
    }
}

fn approver_policies(approvers: &Approvers) -> Vec<(Policy, bool)> {
    let mut out = Vec::new();
    if approvers.insecure_any_identity {
        out.push((
            Policy {
                signer: SignerPolicy::InsecureAnyIdentity,
                tlog_threshold: 1,
                require_sct: true,
                signed_timestamp_threshold: 0,
                observer_threshold: 1,
                predicate_type: Some(EXCEPTION_PREDICATE_TYPE.to_string()),
                witness_policy: None,
            },
            true,
        ));
    }
    if !approvers.identities.is_empty() {
        out.push((
            Policy {
                signer: SignerPolicy::Identities(approvers.identities.clone()),
                tlog_threshold: 1,
                require_sct: true,
                signed_timestamp_threshold: 0,
                observer_threshold: 1,
                predicate_type: Some(EXCEPTION_PREDICATE_TYPE.to_string()),
                witness_policy: None,
            },
            true,
        ));
    }
    for k in &approvers.keys {
        out.push((
            Policy {
                signer: SignerPolicy::Key(k.clone()),
                tlog_threshold: 1,
                require_sct: false,
                signed_timestamp_threshold: 0,
                observer_threshold: 0,
                predicate_type: Some(EXCEPTION_PREDICATE_TYPE.to_string()),
                witness_policy: None,
            },
            false,
        ));
    }
    out
}

fn load_one(
    path: &Path,
    approvers: &Approvers,
    verifier: &Verifier,
) -> Result<Exception, RejectReason> {
    let meta = std::fs::metadata(path).map_err(RejectReason::Read)?;
    if meta.len() > MAX_EXCEPTION_FILE_LEN {
        return Err(RejectReason::TooLarge);
    }
    let bytes = std::fs::read(path).map_err(RejectReason::Read)?;
    let bundle = Bundle::from_json(&bytes).map_err(RejectReason::Bundle)?;
    let Some(Content::Dsse(env)) = bundle.content() else {
        return Err(RejectReason::NotDsse);
    };
    let payload = env.payload.as_slice();
    let statement = Statement::from_json(payload).map_err(RejectReason::Statement)?;
    if statement.predicate_type != EXCEPTION_PREDICATE_TYPE {
        return Err(RejectReason::PredicateType(statement.predicate_type));
    }
    let subject = statement
        .subject
        .iter()
        .find_map(|s| s.digest.get("sha256"))
        .and_then(|h| hex::decode(h).ok())
        .filter(|d| d.len() == 32)
        .ok_or(RejectReason::NoSubject)?;
    let policies = approver_policies(approvers);
    let tried = policies.len();
    let mut first_failure = None;
    let mut verified = None;
    for (policy, _keyless) in policies {
        match verifier.verify(
            &bundle,
            Artifact::Digest {
                algorithm: HashKind::Sha256,
                digest: &subject,
            },
            &policy,
        ) {
            Ok(r) => {
                verified = Some(r);
                break;
            }
            Err(e) => {
                first_failure.get_or_insert(e);
            }
        }
    }
    let result = match (verified, first_failure) {
        (Some(r), _) => r,
        (None, Some(source)) => return Err(RejectReason::NotApproved { source, tried }),
        (None, None) => return Err(RejectReason::Empty("approvers")),
    };
    let predicate: ExceptionPredicate =
        serde_json::from_value(statement.predicate.unwrap_or_default())
            .map_err(RejectReason::Predicate)?;
    if predicate.policies.is_empty() {
        return Err(RejectReason::Empty("policies"));
    }
    if predicate.images.is_empty() && predicate.artifacts.is_empty() {
        return Err(RejectReason::Empty("images or artifacts"));
    }
    let ts = |value: &str, field: &'static str| -> Result<jiff::Timestamp, RejectReason> {
        value
            .parse::<jiff::Timestamp>()
            .map_err(|source| RejectReason::Time {
                field,
                value: value.to_string(),
                source,
            })
    };
    let issued_at = ts(&predicate.issued_at, "issuedAt")?;
    let expires = ts(&predicate.expires, "expires")?;
    let mut image_globs = Vec::new();
    for i in &predicate.images {
        if !i.starts_with("sha256:") && !i.contains('@') {
            image_globs.push(ImageGlob::compile(i).map_err(RejectReason::Glob)?);
        }
    }
    let mut artifact_globs = Vec::new();
    for a in &predicate.artifacts {
        if !a.starts_with("sha256:") {
            artifact_globs.push(ArtifactGlob::compile(a).map_err(RejectReason::ArtifactGlob)?);
        }
    }
    let approver = match &result.identity {
        Some(id) => format!(
            "{} (issuer {})",
            id.san.as_deref().unwrap_or("?"),
            id.issuer.as_deref().unwrap_or("?")
        ),
        None => format!("key {}", result.key),
    };
    let id = format!(
        "exc-{}",
        &hex::encode(HashKind::Sha256.digest(payload))[..16]
    );
    Ok(Exception {
        id,
        file: path.to_path_buf(),
        approver,
        signed_at: result.timestamps.first().map(|t| t.time.to_rfc3339()),
        predicate,
        issued_at,
        expires,
        image_globs,
        artifact_globs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Subject;

    fn exception(images: &[&str], namespaces: &[&str], issued: i64, expires: i64) -> Exception {
        let predicate = ExceptionPredicate {
            images: images.iter().map(|s| s.to_string()).collect(),
            artifacts: Vec::new(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            policies: vec!["release".into()],
            reason: "r".into(),
            ticket: "T-1".into(),
            approver: "lead".into(),
            issued_at: String::new(),
            expires: String::new(),
        };
        Exception {
            id: "exc-test".into(),
            file: PathBuf::from("e.json"),
            approver: "lead".into(),
            signed_at: None,
            image_globs: predicate
                .images
                .iter()
                .filter(|i| !i.starts_with("sha256:"))
                .map(|i| ImageGlob::compile(i).unwrap())
                .collect(),
            artifact_globs: Vec::new(),
            predicate,
            issued_at: jiff::Timestamp::from_second(issued).unwrap(),
            expires: jiff::Timestamp::from_second(expires).unwrap(),
        }
    }

    fn image(repo: &str) -> Subject {
        let digest = format!("sha256:{}", "2".repeat(64));
        let name = crate::glob::ImageName::parse(&format!("{repo}:v1@{digest}")).unwrap();
        Subject::Image {
            image: name.qualified(),
            tag: Some("v1".into()),
            digest,
            name,
        }
    }

    #[test]
    fn expiry_is_exact_to_the_second() {
        let set = ExceptionSet {
            exceptions: vec![exception(&["reg.local/legacy/*"], &["prod"], 1_000, 2_000)],
            rejected: Vec::new(),
            approvers_unchecked: false,
        };
        let s = image("reg.local/legacy/app");
        let at = |t| jiff::Timestamp::from_second(t).unwrap();
        assert!(
            set.find(&s, Some("prod"), "release", at(999)).is_none(),
            "before issue"
        );
        assert!(set.find(&s, Some("prod"), "release", at(1_000)).is_some());
        assert!(set.find(&s, Some("prod"), "release", at(1_999)).is_some());
        assert!(
            set.find(&s, Some("prod"), "release", at(2_000)).is_none(),
            "at expiry"
        );
        assert!(
            set.find(&s, Some("dev"), "release", at(1_500)).is_none(),
            "namespace"
        );
        assert!(
            set.find(&s, None, "release", at(1_500)).is_none(),
            "no namespace"
        );
        assert!(
            set.find(&s, Some("prod"), "other", at(1_500)).is_none(),
            "policy"
        );
        assert!(
            set.find(
                &image("reg.local/other/app"),
                Some("prod"),
                "release",
                at(1_500)
            )
            .is_none()
        );
        // The tag form is matched as well as the digest form.
        let by_tag = ExceptionSet {
            exceptions: vec![exception(&["reg.local/legacy/app:v1"], &[], 1_000, 2_000)],
            rejected: Vec::new(),
            approvers_unchecked: false,
        };
        assert!(by_tag.find(&s, None, "release", at(1_500)).is_some());
        let by_digest = ExceptionSet {
            exceptions: vec![exception(
                &[&format!("sha256:{}", "2".repeat(64))],
                &["*"],
                1_000,
                2_000,
            )],
            rejected: Vec::new(),
            approvers_unchecked: false,
        };
        assert!(
            by_digest
                .find(&s, Some("any"), "release", at(1_500))
                .is_some()
        );
    }

    #[test]
    fn statement_subject_is_the_predicate_digest() {
        let p = exception(&["x/*"], &[], 0, 1).predicate;
        let (payload, digest) = exception_statement(&p).unwrap();
        let st = Statement::from_json(&payload).unwrap();
        assert_eq!(st.predicate_type, EXCEPTION_PREDICATE_TYPE);
        assert!(st.has_subject_digest("sha256", &hex::encode(&digest)));
        assert_eq!(
            digest,
            HashKind::Sha256.digest(&serde_json::to_vec(&p).unwrap())
        );
    }
}
