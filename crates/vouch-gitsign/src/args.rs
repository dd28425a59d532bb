//! The gpgsm command line git uses (INTEROP §5, protocols §10.1): `--status-fd=N -bsau KEY`
//! to sign and `--status-fd=N --verify SIGFILE -` to verify. Short options may be clustered
//! (`-bsau KEY`, `-bsauKEY`); long options take `--opt=value` or `--opt value`.

/// Why the command line was rejected; the message names the option and what it needs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// `--status-fd` was given something that is not a descriptor number.
    #[error("--status-fd needs a file descriptor number, got {value:?}")]
    StatusFd {
        /// The value given.
        value: String,
    },
    /// An option that takes a value came last.
    #[error("{option} needs a value")]
    MissingValue {
        /// The option, with its dashes (`--local-user`, `-u`).
        option: String,
    },
    /// An option gpgsm (as git drives it) does not have.
    #[error("unknown option {option}")]
    UnknownOption {
        /// The option, with its dashes.
        option: String,
    },
    /// Both `--sign` and `--verify`.
    #[error("--sign and --verify are exclusive")]
    SignAndVerify,
    /// `--verify` without a signature file.
    #[error("--verify needs a signature file")]
    NoSignatureFile,
    /// `--verify` with more than two operands.
    #[error("--verify takes SIGFILE [DATAFILE|-], got {count} operands")]
    VerifyOperands {
        /// How many operands were given.
        count: usize,
    },
    /// `--sign` with more than one operand.
    #[error("--sign takes at most one file, got {count}")]
    SignOperands {
        /// How many operands were given.
        count: usize,
    },
    /// Neither `--sign`, `--verify` nor `--version`.
    #[error("nothing to do: pass --sign (-bsau KEY) or --verify SIGFILE -")]
    NothingToDo,
}

type Result<T, E = ArgsError> = std::result::Result<T, E>;

/// What git asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `-s`/`--sign` (detached, armoured: git always passes `-b -a`).
    Sign {
        /// `-u`/`--local-user` (informational: keyless signing has no key to select).
        local_user: Option<String>,
        /// A file to sign instead of stdin.
        file: Option<String>,
    },
    /// `--verify SIGFILE [DATAFILE|-]`.
    Verify {
        /// The detached signature file.
        signature_file: String,
        /// The data file, `-` or absent for stdin.
        data_file: Option<String>,
    },
    /// `--version`.
    Version,
}

/// The parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpgArgs {
    /// `--status-fd N`.
    pub status_fd: Option<u32>,
    /// The operation.
    pub mode: Mode,
}

fn parse_fd(v: &str) -> Result<u32> {
    v.trim().parse::<u32>().map_err(|_| ArgsError::StatusFd {
        value: v.to_string(),
    })
}

/// Parse gpgsm-style arguments (without the program name).
pub fn parse(args: &[String]) -> Result<GpgArgs> {
    let mut status_fd = None;
    let mut sign = false;
    let mut verify = false;
    let mut version = false;
    let mut local_user = None;
    let mut positional = Vec::new();
    let mut i = 0;
    let mut only_positional = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_positional || a == "-" || !a.starts_with('-') {
            positional.push(a.clone());
            continue;
        }
        if a == "--" {
            only_positional = true;
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = |what: &str| -> Result<String> {
                if let Some(v) = &inline {
                    return Ok(v.clone());
                }
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or_else(|| ArgsError::MissingValue {
                        option: format!("--{what}"),
                    })?;
                i += 1;
                Ok(v)
            };
            match name {
                "status-fd" => status_fd = Some(parse_fd(&value("status-fd")?)?),
                "local-user" => local_user = Some(value("local-user")?),
                "include-certs" => {
                    let _ = value("include-certs")?;
                }
                "sign" => sign = true,
                "verify" => verify = true,
                "detach-sign" | "detached-sign" | "armor" | "armour" | "batch" | "yes"
                | "no-tty" | "quiet" => {}
                "version" => version = true,
                other => {
                    return Err(ArgsError::UnknownOption {
                        option: format!("--{other}"),
                    });
                }
            }
            continue;
        }
        // A cluster of short options.
        let cluster: Vec<char> = a.chars().skip(1).collect();
        let mut j = 0;
        while j < cluster.len() {
            let c = cluster[j];
            j += 1;
            match c {
                's' => sign = true,
                'b' | 'a' => {}
                'v' => verify = true,
                'u' => {
                    let rest: String = cluster[j..].iter().collect();
                    j = cluster.len();
                    if rest.is_empty() {
                        let v = args
                            .get(i)
                            .cloned()
                            .ok_or_else(|| ArgsError::MissingValue {
                                option: "-u".into(),
                            })?;
                        i += 1;
                        local_user = Some(v);
                    } else {
                        local_user = Some(rest);
                    }
                }
                other => {
                    return Err(ArgsError::UnknownOption {
                        option: format!("-{other}"),
                    });
                }
            }
        }
    }
    let mode = if version {
        Mode::Version
    } else if verify {
        if sign {
            return Err(ArgsError::SignAndVerify);
        }
        match positional.as_slice() {
            [sig] => Mode::Verify {
                signature_file: sig.clone(),
                data_file: None,
            },
            [sig, data] => Mode::Verify {
                signature_file: sig.clone(),
                data_file: if data == "-" {
                    None
                } else {
                    Some(data.clone())
                },
            },
            [] => return Err(ArgsError::NoSignatureFile),
            more => return Err(ArgsError::VerifyOperands { count: more.len() }),
        }
    } else if sign {
        match positional.as_slice() {
            [] => Mode::Sign {
                local_user,
                file: None,
            },
            [f] => Mode::Sign {
                local_user,
                file: if f == "-" { None } else { Some(f.clone()) },
            },
            more => return Err(ArgsError::SignOperands { count: more.len() }),
        }
    } else {
        return Err(ArgsError::NothingToDo);
    };
    Ok(GpgArgs { status_fd, mode })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn p(a: &[&str]) -> Result<GpgArgs> {
        parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn git_sign_forms() {
        let want = GpgArgs {
            status_fd: Some(2),
            mode: Mode::Sign {
                local_user: Some("T Tester <t@example.com>".into()),
                file: None,
            },
        };
        assert_eq!(
            p(&["--status-fd=2", "-bsau", "T Tester <t@example.com>"]).unwrap(),
            want
        );
        assert_eq!(
            p(&[
                "--status-fd",
                "2",
                "-b",
                "-s",
                "-a",
                "-u",
                "T Tester <t@example.com>"
            ])
            .unwrap(),
            want
        );
        assert_eq!(
            p(&["--status-fd=2", "-bsauT Tester <t@example.com>"]).unwrap(),
            want
        );
        assert_eq!(
            p(&[
                "--status-fd=2",
                "--detach-sign",
                "--sign",
                "--armor",
                "--local-user=T Tester <t@example.com>"
            ])
            .unwrap(),
            want
        );
    }

    #[test]
    fn git_verify_forms() {
        let want = GpgArgs {
            status_fd: Some(1),
            mode: Mode::Verify {
                signature_file: "/tmp/.git_vtag_tmpX".into(),
                data_file: None,
            },
        };
        assert_eq!(
            p(&["--status-fd=1", "--verify", "/tmp/.git_vtag_tmpX", "-"]).unwrap(),
            want
        );
        assert_eq!(
            p(&["--status-fd", "1", "-v", "/tmp/.git_vtag_tmpX"]).unwrap(),
            want
        );
    }

    #[test]
    fn rejects_nonsense() {
        assert!(p(&[]).is_err());
        assert!(p(&["--status-fd=x", "-bsau", "k"]).is_err());
        assert!(p(&["--status-fd"]).is_err());
        assert!(p(&["-bsa", "-u"]).is_err());
        assert!(p(&["--frobnicate"]).is_err());
        assert!(p(&["-s", "--verify", "x"]).is_err());
        assert!(p(&["--verify"]).is_err());
        assert!(p(&["-x"]).is_err());
        assert_eq!(p(&["--version"]).unwrap().mode, Mode::Version);
    }
}
