//! The gpgsm-compatible front end git drives (protocols §10.1–10.2, INTEROP §5).
//!
//! Sign (`--status-fd=N -bsau KEY`, payload on stdin): the PEM signature on stdout; status lines
//! `[GNUPG:] BEGIN_SIGNING` then `[GNUPG:] SIG_CREATED D <pk_algo> <hash_algo> 00 <unix> <fpr>`
//! on fd N.
//!
//! Verify (`--status-fd=N --verify SIGFILE -`, payload on stdin): `[GNUPG:] NEWSIG`, then on
//! success `GOODSIG <fpr> <identity>`, `VALIDSIG <fpr> <date> <unix> 0 4 0 <pk> <hash> 00 <fpr>`
//! and `TRUST_FULLY 0 shell` when a complete identity policy (`gitsign.matchIdentity` *and*
//! `gitsign.matchIssuer`) was checked, `TRUST_UNDEFINED 0 shell` when any identity certified by
//! a trusted CA was accepted or only one half of the policy is set (that half is still
//! enforced); on failure `BADSIG <fpr> <reason>` (signature does not match the
//! payload) or `ERRSIG <fpr> 19 8 00 <unix> 9` (cannot establish it), and exit status 1.
//! Human-readable text always goes to stderr.

use crate::args::{self, Mode};
use crate::cms::CmsError;
use crate::config::{Config, ConfigError};
use crate::sign::SigningError;
use crate::verify::{IdentityPolicy, VerifyFailure};
use std::io::{Read, Write};

/// Why the gpgsm front end could not do what git asked (before or around signing and
/// verifying, whose own errors are [`SigningError`] and [`VerifyFailure`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GpgError {
    /// The `--status-fd` descriptor cannot be written to.
    #[error("--status-fd={fd}: cannot write to file descriptor {fd} ({source}); use 1 or 2")]
    StatusFd {
        /// The descriptor.
        fd: u32,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An input (the payload or the signature file) cannot be read.
    #[error("cannot read {what}: {source}")]
    Read {
        /// The file name, or `stdin`.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The signature cannot be written to stdout.
    #[error("cannot write the signature: {source}")]
    WriteSignature {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration or trust material.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The signature is neither PEM nor DER.
    #[error(transparent)]
    Cms(#[from] CmsError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SigningError),
}

type Result<T, E = GpgError> = std::result::Result<T, E>;

/// `e` and its causes on one line, skipping causes its message already spells out.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg.replace('\n', " ")
}

/// Where status lines go.
pub enum StatusFd {
    /// No `--status-fd`: status lines are dropped.
    None,
    /// fd 1.
    Stdout,
    /// fd 2.
    Stderr,
    /// Another inherited descriptor, opened through `/dev/fd/N`.
    File(std::fs::File),
}

impl StatusFd {
    /// Open status fd `n` (1 and 2 directly; others through `/dev/fd/N` where the OS has it).
    pub fn open(n: Option<u32>) -> Result<Self> {
        match n {
            None => Ok(StatusFd::None),
            Some(1) => Ok(StatusFd::Stdout),
            Some(2) => Ok(StatusFd::Stderr),
            Some(n) => std::fs::OpenOptions::new()
                .append(true)
                .open(format!("/dev/fd/{n}"))
                .map(StatusFd::File)
                .map_err(|source| GpgError::StatusFd { fd: n, source }),
        }
    }

    /// Write one `[GNUPG:] ` status line.
    pub fn line(&mut self, text: &str) {
        let l = format!("[GNUPG:] {text}\n");
        let _ = match self {
            StatusFd::None => Ok(()),
            StatusFd::Stdout => {
                let mut o = std::io::stdout().lock();
                o.write_all(l.as_bytes()).and_then(|_| o.flush())
            }
            StatusFd::Stderr => std::io::stderr().lock().write_all(l.as_bytes()),
            StatusFd::File(f) => f.write_all(l.as_bytes()),
        };
    }
}

fn read_input(file: Option<&str>) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    match file {
        Some(f) => {
            buf = std::fs::read(f).map_err(|source| GpgError::Read {
                what: f.to_string(),
                source,
            })?;
        }
        None => {
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|source| GpgError::Read {
                    what: "stdin".into(),
                    source,
                })?;
        }
    }
    Ok(buf)
}

/// Run the gpgsm interface with `args` (without the program name); returns the exit status.
pub fn run(args: &[String]) -> u8 {
    let parsed = match args::parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vouch-gitsign: {}", one_line(&e));
            return 2;
        }
    };
    let mut status = match StatusFd::open(parsed.status_fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vouch-gitsign: {}", one_line(&e));
            return 2;
        }
    };
    match parsed.mode {
        Mode::Version => {
            println!("vouch-gitsign {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Mode::Sign { file, .. } => match sign(&mut status, file.as_deref()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("vouch-gitsign: signing failed: {}", one_line(&e));
                1
            }
        },
        Mode::Verify {
            signature_file,
            data_file,
        } => verify(&mut status, &signature_file, data_file.as_deref()),
    }
}

fn sign(status: &mut StatusFd, file: Option<&str>) -> Result<()> {
    let payload = read_input(file)?;
    status.line("BEGIN_SIGNING");
    let cfg = Config::load()?;
    let signed = crate::sign::sign(&payload, &cfg)?;
    {
        let mut out = std::io::stdout().lock();
        out.write_all(signed.pem.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|source| GpgError::WriteSignature { source })?;
    }
    let (san, iss) = &signed.identity;
    eprintln!("vouch-gitsign: signed as {san} (issuer {iss})");
    if let Some((url, idx)) = &signed.log_entry {
        let how = if cfg.online {
            "online mode: not embedded"
        } else {
            "embedded"
        };
        eprintln!("vouch-gitsign: transparency log entry {idx} at {url} ({how})");
    }
    status.line(&format!(
        "SIG_CREATED D {} {} 00 {} {}",
        signed.pk_algo, signed.hash_algo, signed.signing_time, signed.fingerprint
    ));
    Ok(())
}

/// The date part gpg puts in VALIDSIG.
fn date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| "1970-01-01".into())
}

fn verify(status: &mut StatusFd, sig_file: &str, data_file: Option<&str>) -> u8 {
    status.line("NEWSIG");
    let now = jiff::Timestamp::now().as_second();
    let errsig = |status: &mut StatusFd, fp: Option<&str>, msg: &str| {
        status.line(&format!("ERRSIG {} 19 8 00 {now} 9", fp.unwrap_or("0")));
        eprintln!("vouch-gitsign: {msg}");
        1
    };
    let inputs = (|| -> Result<_> {
        let sig = std::fs::read(sig_file).map_err(|source| GpgError::Read {
            what: sig_file.to_string(),
            source,
        })?;
        let payload = read_input(data_file)?;
        let cfg = Config::load()?;
        let (trust, sc) = cfg.trust()?;
        let der = crate::cms::from_pem_or_der(&sig)?;
        let lookup = crate::sign::lookup_from_config(&cfg, &sc, &payload, &sig);
        Ok((der, payload, cfg, trust, lookup))
    })();
    let (der, payload, cfg, trust, lookup) = match inputs {
        Ok(x) => x,
        Err(e) => return errsig(status, None, &one_line(&e)),
    };
    let policy = IdentityPolicy {
        identity: cfg.match_identity.clone(),
        issuer: cfg.match_issuer.clone(),
        ..IdentityPolicy::default()
    };
    match crate::verify::verify_with_lookup(&der, &payload, trust, &policy, lookup.as_ref()) {
        Ok(v) => {
            eprintln!(
                "vouch-gitsign: Signature made {} ({}) using certificate ID 0x{}",
                jiff::Timestamp::from_second(v.time)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                v.time_source,
                v.fingerprint
            );
            for (log, idx) in &v.log_entries {
                eprintln!(
                    "vouch-gitsign: transparency log entry {idx} at {log} (verified offline)"
                );
            }
            eprintln!(
                "vouch-gitsign: Good signature from [{}] (issuer {})",
                v.identity, v.issuer
            );
            if let Some(missing) = policy.missing_half() {
                eprintln!(
                    "vouch-gitsign: WARNING: {missing} is not set: the signer is not trusted (TRUST_UNDEFINED); set both gitsign.matchIdentity and gitsign.matchIssuer"
                );
            } else if !v.policy_checked {
                eprintln!(
                    "vouch-gitsign: WARNING: no identity policy (gitsign.matchIdentity / gitsign.matchIssuer): any identity certified by the trusted CA is accepted"
                );
            }
            status.line(&format!("GOODSIG {} {}", v.fingerprint, v.identity));
            status.line(&format!(
                "VALIDSIG {fp} {} {} 0 4 0 {} {} 00 {fp}",
                date(v.time),
                v.time,
                v.pk_algo,
                v.hash_algo,
                fp = v.fingerprint
            ));
            status.line(if v.policy_checked {
                "TRUST_FULLY 0 shell"
            } else {
                "TRUST_UNDEFINED 0 shell"
            });
            0
        }
        Err(VerifyFailure::Bad {
            fingerprint,
            reason,
        }) => {
            status.line(&format!(
                "BADSIG {} {reason}",
                fingerprint.as_deref().unwrap_or("0")
            ));
            eprintln!("vouch-gitsign: BAD signature: {reason}");
            1
        }
        Err(VerifyFailure::Error {
            fingerprint,
            reason,
        }) => errsig(
            status,
            fingerprint.as_deref(),
            &format!("verification failed: {}", one_line(&reason)),
        ),
    }
}
