//! C2SP tlog-policy: which logs are known, which witnesses, and the quorum of cosignatures a
//! checkpoint needs.
//!
//! Spec: <https://github.com/C2SP/C2SP/blob/main/tlog-policy.md>. Lines are `log <vkey> [url]`,
//! `witness <name> <vkey> [url]`, `group <name> <all|any|k> <member>...` and exactly one
//! `quorum <name|none>`; `#` comments and blank lines are ignored; items are separated by
//! spaces and tabs. A group or the quorum may only name witnesses and groups defined on earlier
//! lines, so definitions cannot be circular.
//!
//! Deviation: the spec treats octets with the high bit set as opaque; this parser requires the
//! file to be UTF-8 (names are still compared byte for byte, never normalized).

use crate::cosignature::{Cosignature, CosignerKey};
use crate::note::{NoteError, NoteVerifier, SignedNote};
use std::collections::HashMap;

/// Largest policy file accepted, in bytes (an ML-DSA-44 vkey is about 1.8 kB).
pub const MAX_POLICY_LEN: usize = 1024 * 1024;
/// Most `log` lines (the spec recommends supporting at least 32).
pub const MAX_POLICY_LOGS: usize = 256;
/// Most `witness` lines (the spec recommends supporting at least 32).
pub const MAX_POLICY_WITNESSES: usize = 256;
/// Most `group` lines (the spec recommends supporting at least 32).
pub const MAX_POLICY_GROUPS: usize = 256;

/// What is wrong on a policy line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyLineError {
    /// The line starts with an unknown keyword.
    #[error("unknown keyword {0:?}")]
    UnknownKeyword(String),
    /// Too few or too many items for the keyword.
    #[error("`{keyword}` takes {expected}")]
    Arity {
        /// The keyword.
        keyword: &'static str,
        /// What it takes.
        expected: &'static str,
    },
    /// A vkey does not parse or has the wrong type for its role.
    #[error("bad vkey: {0}")]
    Vkey(#[source] NoteError),
    /// A witness or group name is defined twice (or is `none`).
    #[error("name {0:?} is already defined")]
    DuplicateName(String),
    /// Two logs or two witnesses wrap the same public key.
    #[error("duplicate {what} public key")]
    DuplicateKey {
        /// `log` or `witness`.
        what: &'static str,
    },
    /// A name used before (or without) being defined.
    #[error("name {0:?} is not defined on an earlier line")]
    Undefined(String),
    /// `none` listed as a group member.
    #[error("`none` cannot be a group member")]
    NoneMember,
    /// A group lists one member twice.
    #[error("group member {0:?} is listed twice")]
    DuplicateMember(String),
    /// The threshold is not `all`, `any` or a decimal in `1..=n`.
    #[error("threshold {threshold:?} is not all, any or a number from 1 to {members}")]
    Threshold {
        /// What was written.
        threshold: String,
        /// Number of members.
        members: usize,
    },
    /// A second `quorum` line.
    #[error("a policy has exactly one quorum line")]
    SecondQuorum,
    /// Over one of the named bounds.
    #[error("more than {limit} {what}")]
    TooMany {
        /// `logs`, `witnesses` or `groups`.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// A control character other than tab.
    #[error("control character in line")]
    ControlCharacter,
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyParseError {
    /// Over [`MAX_POLICY_LEN`].
    #[error("policy is {len} bytes, over the limit of {MAX_POLICY_LEN}")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// Not UTF-8.
    #[error("policy is not UTF-8")]
    NotUtf8,
    /// A line is wrong.
    #[error("policy line {line}: {source}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        #[source]
        source: PolicyLineError,
    },
    /// No `quorum` line.
    #[error("policy has no quorum line (write `quorum none` to require no cosignatures)")]
    NoQuorum,
}

/// A known log.
#[derive(Clone, Debug)]
pub struct PolicyLog {
    /// The log's vkey as written.
    pub vkey: String,
    /// Its note verifier (key name = the log's origin).
    pub verifier: NoteVerifier,
    /// Optional URL.
    pub url: Option<String>,
}

/// A known witness.
#[derive(Clone, Debug)]
pub struct PolicyWitness {
    /// The policy's name for it (not necessarily its key name).
    pub name: String,
    /// Its cosigner key.
    pub key: CosignerKey,
    /// Optional URL (its submission prefix).
    pub url: Option<String>,
}

/// A witness group: at least `threshold` of `members` must have witnessed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    /// Its name.
    pub name: String,
    /// How many members must be satisfied.
    pub threshold: usize,
    /// Member witness or group names.
    pub members: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Witness(usize),
    Group(usize),
}

/// A parsed tlog policy.
#[derive(Clone, Debug)]
pub struct WitnessPolicy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    names: HashMap<String, Node>,
    /// `None` for `quorum none`.
    quorum: Option<String>,
}

/// A checkpoint without the policy's quorum of cosignatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuorumError {
    /// A known witness's cosignature fails to verify.
    #[error("cosignature of witness {witness:?}: {source}")]
    BadCosignature {
        /// The witness's policy name.
        witness: String,
        /// Why.
        #[source]
        source: NoteError,
    },
    /// The quorum group fell short.
    #[error(
        "witness quorum not met: {group:?} needs {required} of [{}], {satisfied} met (short: {}); cosigned by: {}",
        members.join(", "), short.join(", "), if cosigned_by.is_empty() { "no known witness".to_string() } else { cosigned_by.join(", ") }
    )]
    NotMet {
        /// The quorum's name (a group or a single witness).
        group: String,
        /// Members that had to be satisfied.
        required: usize,
        /// Members that were.
        satisfied: usize,
        /// The group's members.
        members: Vec<String>,
        /// The deepest groups and witnesses that fell short, outermost first.
        short: Vec<String>,
        /// The policy names of the witnesses whose cosignatures verified.
        cosigned_by: Vec<String>,
    },
}

fn split_items(line: &str) -> Vec<&str> {
    line.split([' ', '\t']).filter(|s| !s.is_empty()).collect()
}

impl WitnessPolicy {
    /// Parse a policy file (bounded).
    pub fn parse(input: &[u8]) -> Result<Self, PolicyParseError> {
        if input.len() > MAX_POLICY_LEN {
            return Err(PolicyParseError::TooLarge { len: input.len() });
        }
        let text = std::str::from_utf8(input).map_err(|_| PolicyParseError::NotUtf8)?;
        let mut p = Self {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            names: HashMap::new(),
            quorum: None,
        };
        let mut have_quorum = false;
        for (i, line) in text.split('\n').enumerate() {
            let err = |source| PolicyParseError::Line {
                line: i + 1,
                source,
            };
            if line.chars().any(|c| c.is_ascii_control() && c != '\t') {
                return Err(err(PolicyLineError::ControlCharacter));
            }
            let items = split_items(line);
            let Some((&kw, args)) = items.split_first() else {
                continue;
            };
            if kw.starts_with('#') {
                continue;
            }
            match kw {
                "log" => p.add_log(args).map_err(err)?,
                "witness" => p.add_witness(args).map_err(err)?,
                "group" => p.add_group(args).map_err(err)?,
                "quorum" => {
                    if have_quorum {
                        return Err(err(PolicyLineError::SecondQuorum));
                    }
                    let [name] = args else {
                        return Err(err(PolicyLineError::Arity {
                            keyword: "quorum",
                            expected: "one name",
                        }));
                    };
                    if *name != "none" && !p.names.contains_key(*name) {
                        return Err(err(PolicyLineError::Undefined(name.to_string())));
                    }
                    p.quorum = (*name != "none").then(|| name.to_string());
                    have_quorum = true;
                }
                other => return Err(err(PolicyLineError::UnknownKeyword(other.to_string()))),
            }
        }
        if !have_quorum {
            return Err(PolicyParseError::NoQuorum);
        }
        Ok(p)
    }

    fn add_log(&mut self, args: &[&str]) -> Result<(), PolicyLineError> {
        let (vkey, url) = match args {
            [v] => (*v, None),
            [v, u] => (*v, Some(u.to_string())),
            _ => {
                return Err(PolicyLineError::Arity {
                    keyword: "log",
                    expected: "a vkey and an optional URL",
                });
            }
        };
        if self.logs.len() == MAX_POLICY_LOGS {
            return Err(PolicyLineError::TooMany {
                what: "logs",
                limit: MAX_POLICY_LOGS,
            });
        }
        let verifier = NoteVerifier::from_vkey(vkey).map_err(PolicyLineError::Vkey)?;
        if self
            .logs
            .iter()
            .any(|l| l.verifier.public_key_bytes() == verifier.public_key_bytes())
        {
            return Err(PolicyLineError::DuplicateKey { what: "log" });
        }
        self.logs.push(PolicyLog {
            vkey: vkey.to_string(),
            verifier,
            url,
        });
        Ok(())
    }

    fn define(&mut self, name: &str, node: Node) -> Result<(), PolicyLineError> {
        if name == "none" || self.names.contains_key(name) {
            return Err(PolicyLineError::DuplicateName(name.to_string()));
        }
        self.names.insert(name.to_string(), node);
        Ok(())
    }

    fn add_witness(&mut self, args: &[&str]) -> Result<(), PolicyLineError> {
        let (name, vkey, url) = match args {
            [n, v] => (*n, *v, None),
            [n, v, u] => (*n, *v, Some(u.to_string())),
            _ => {
                return Err(PolicyLineError::Arity {
                    keyword: "witness",
                    expected: "a name, a vkey and an optional URL",
                });
            }
        };
        if self.witnesses.len() == MAX_POLICY_WITNESSES {
            return Err(PolicyLineError::TooMany {
                what: "witnesses",
                limit: MAX_POLICY_WITNESSES,
            });
        }
        let key = CosignerKey::from_vkey(vkey).map_err(PolicyLineError::Vkey)?;
        if self
            .witnesses
            .iter()
            .any(|w| w.key.public_key == key.public_key)
        {
            return Err(PolicyLineError::DuplicateKey { what: "witness" });
        }
        self.define(name, Node::Witness(self.witnesses.len()))?;
        self.witnesses.push(PolicyWitness {
            name: name.to_string(),
            key,
            url,
        });
        Ok(())
    }

    fn add_group(&mut self, args: &[&str]) -> Result<(), PolicyLineError> {
        let [name, threshold, members @ ..] = args else {
            return Err(PolicyLineError::Arity {
                keyword: "group",
                expected: "a name, a threshold and at least one member",
            });
        };
        if members.is_empty() {
            return Err(PolicyLineError::Arity {
                keyword: "group",
                expected: "a name, a threshold and at least one member",
            });
        }
        if self.groups.len() == MAX_POLICY_GROUPS {
            return Err(PolicyLineError::TooMany {
                what: "groups",
                limit: MAX_POLICY_GROUPS,
            });
        }
        let mut list: Vec<String> = Vec::with_capacity(members.len());
        for m in members.iter() {
            if *m == "none" {
                return Err(PolicyLineError::NoneMember);
            }
            if !self.names.contains_key(*m) {
                return Err(PolicyLineError::Undefined(m.to_string()));
            }
            if list.iter().any(|x| x == m) {
                return Err(PolicyLineError::DuplicateMember(m.to_string()));
            }
            list.push(m.to_string());
        }
        let n = list.len();
        let k = match *threshold {
            "all" => n,
            "any" => 1,
            t => crate::witness::parse_canonical_u64(t)
                .and_then(|k| usize::try_from(k).ok())
                .filter(|k| (1..=n).contains(k))
                .ok_or_else(|| PolicyLineError::Threshold {
                    threshold: t.to_string(),
                    members: n,
                })?,
        };
        self.define(name, Node::Group(self.groups.len()))?;
        self.groups.push(PolicyGroup {
            name: name.to_string(),
            threshold: k,
            members: list,
        });
        Ok(())
    }

    /// The known logs.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The known witnesses.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The groups, in definition order.
    pub fn groups(&self) -> &[PolicyGroup] {
        &self.groups
    }

    /// The quorum's name; `None` for `quorum none`.
    pub fn quorum(&self) -> Option<&str> {
        self.quorum.as_deref()
    }

    /// Whether the set of witnesses (policy names) that cosigned satisfies `name`.
    fn satisfied(&self, name: &str, cosigned: &[&str]) -> bool {
        match self.names.get(name) {
            Some(Node::Witness(_)) => cosigned.contains(&name),
            Some(Node::Group(g)) => self.groups.get(*g).is_some_and(|g| {
                g.members
                    .iter()
                    .filter(|m| self.satisfied(m, cosigned))
                    .count()
                    >= g.threshold
            }),
            None => false,
        }
    }

    /// The deepest unsatisfied names under an unsatisfied `name`, outermost first.
    fn short_of(&self, name: &str, cosigned: &[&str], out: &mut Vec<String>) {
        out.push(name.to_string());
        if let Some(Node::Group(g)) = self.names.get(name)
            && let Some(g) = self.groups.get(*g)
        {
            for m in &g.members {
                if !self.satisfied(m, cosigned) && matches!(self.names.get(m), Some(Node::Group(_)))
                {
                    self.short_of(m, cosigned, out);
                }
            }
        }
    }

    /// Verify the known witnesses' cosignatures on `note` (a failing one is an error) and
    /// check the quorum. Returns the verified cosignatures, by policy name.
    pub fn check(&self, note: &SignedNote) -> Result<Vec<(String, Cosignature)>, QuorumError> {
        let mut verified = Vec::new();
        for w in &self.witnesses {
            match w.key.verify(note) {
                Ok(Some(c)) => verified.push((w.name.clone(), c)),
                Ok(None) => {}
                Err(source) => {
                    return Err(QuorumError::BadCosignature {
                        witness: w.name.clone(),
                        source,
                    });
                }
            }
        }
        let Some(q) = &self.quorum else {
            return Ok(verified);
        };
        let cosigned: Vec<&str> = verified.iter().map(|(n, _)| n.as_str()).collect();
        if self.satisfied(q, &cosigned) {
            return Ok(verified);
        }
        let (required, members) = match self.names.get(q.as_str()) {
            Some(Node::Group(g)) => self
                .groups
                .get(*g)
                .map(|g| (g.threshold, g.members.clone()))
                .unwrap_or_default(),
            _ => (1, vec![q.clone()]),
        };
        let satisfied = members
            .iter()
            .filter(|m| self.satisfied(m, &cosigned))
            .count();
        let mut short = Vec::new();
        self.short_of(q, &cosigned, &mut short);
        Err(QuorumError::NotMet {
            group: q.clone(),
            required,
            satisfied,
            members,
            short,
            cosigned_by: cosigned.iter().map(|s| s.to_string()).collect(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cosignature::CosignatureKind;

    fn vkey(name: &str, seed: u8) -> String {
        CosignerKey::new(name, CosignatureKind::Ed25519, &[seed; 32])
            .unwrap()
            .to_vkey()
    }

    /// The spec's two-level example, with generated keys.
    fn spec_example() -> String {
        let mut s = String::from(
            "# example\nlog PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n\n",
        );
        for (i, n) in ["X1", "X2", "X3"].iter().enumerate() {
            s.push_str(&format!("witness {n} {}\n", vkey(n, i as u8 + 1)));
        }
        s.push_str("group X-witnesses 2 X1 X2 X3\n\n");
        for (i, n) in ["Y1", "Y2", "Y3"].iter().enumerate() {
            s.push_str(&format!(
                "\twitness   {n} {} https://{n}.example/ \n",
                vkey(n, i as u8 + 10)
            ));
        }
        s.push_str("group Y-witnesses any Y1 Y2 Y3\n\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n");
        s
    }

    #[test]
    fn spec_example_parses_and_evaluates() {
        let p = WitnessPolicy::parse(spec_example().as_bytes()).unwrap();
        assert_eq!(p.logs().len(), 1);
        assert_eq!(p.witnesses().len(), 6);
        assert_eq!(p.witnesses()[3].url.as_deref(), Some("https://Y1.example/"));
        assert_eq!(p.groups()[0].threshold, 2);
        assert_eq!(p.groups()[1].threshold, 1);
        assert_eq!(p.groups()[2].threshold, 2);
        assert_eq!(p.quorum(), Some("X-and-Y"));
        assert!(p.satisfied("X-and-Y", &["X1", "X3", "Y2"]));
        assert!(!p.satisfied("X-and-Y", &["X1", "Y2"]));
        assert!(!p.satisfied("X-and-Y", &["X1", "X2", "X3"]));
        let mut short = Vec::new();
        p.short_of("X-and-Y", &["X1", "Y2"], &mut short);
        assert_eq!(short, ["X-and-Y", "X-witnesses"]);
    }

    #[test]
    fn quorum_none_and_single_witness() {
        let p = WitnessPolicy::parse(b"quorum none\n").unwrap();
        assert_eq!(p.quorum(), None);
        let p = WitnessPolicy::parse(format!("witness w {}\nquorum w", vkey("w", 1)).as_bytes())
            .unwrap();
        assert!(p.satisfied("w", &["w"]));
    }

    #[test]
    fn refuses_what_the_spec_forbids() {
        let w1 = vkey("w1", 1);
        let w2 = vkey("w2", 2);
        let line = |s: &str| match WitnessPolicy::parse(s.as_bytes()) {
            Err(PolicyParseError::Line { source, .. }) => source,
            other => panic!("{s:?}: {other:?}"),
        };
        assert!(matches!(
            WitnessPolicy::parse(format!("witness w1 {w1}\n").as_bytes()),
            Err(PolicyParseError::NoQuorum)
        ));
        assert!(matches!(
            line("quorum none\nquorum none"),
            PolicyLineError::SecondQuorum
        ));
        assert!(matches!(line("quorum g"), PolicyLineError::Undefined(_)));
        assert!(matches!(
            line(&format!("group g any w1\nwitness w1 {w1}\nquorum g")),
            PolicyLineError::Undefined(_)
        ));
        assert!(matches!(
            line(&format!("witness w1 {w1}\nwitness w1 {w2}\nquorum w1")),
            PolicyLineError::DuplicateName(_)
        ));
        assert!(matches!(
            line(&format!("witness a {w1}\nwitness b {w1}\nquorum a")),
            PolicyLineError::DuplicateKey { .. }
        ));
        assert!(matches!(
            line(&format!("witness none {w1}\nquorum none")),
            PolicyLineError::DuplicateName(_)
        ));
        assert!(matches!(
            line(&format!("witness w1 {w1}\ngroup g any w1 none\nquorum g")),
            PolicyLineError::NoneMember
        ));
        assert!(matches!(
            line(&format!("witness w1 {w1}\ngroup g any w1 w1\nquorum g")),
            PolicyLineError::DuplicateMember(_)
        ));
        for t in ["0", "3", "01", "-1", "some"] {
            assert!(matches!(
                line(&format!(
                    "witness w1 {w1}\nwitness w2 {w2}\ngroup g {t} w1 w2\nquorum g"
                )),
                PolicyLineError::Threshold { .. }
            ));
        }
        assert!(matches!(
            line(&format!("witness w1 {w1}\ngroup g any\nquorum g")),
            PolicyLineError::Arity { .. }
        ));
        assert!(matches!(
            line("monitor x\nquorum none"),
            PolicyLineError::UnknownKeyword(_)
        ));
        // A log key where a witness key belongs (type 0x01, not a cosignature type).
        assert!(matches!(
            line(
                "witness w PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\nquorum w"
            ),
            PolicyLineError::Vkey(_)
        ));
        assert!(matches!(
            line("quorum none\r"),
            PolicyLineError::ControlCharacter
        ));
        assert!(matches!(
            WitnessPolicy::parse(&[0xff, b'\n']),
            Err(PolicyParseError::NotUtf8)
        ));
    }
}
