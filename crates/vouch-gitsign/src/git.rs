//! Reading signed git objects: the commit `gpgsig` header and the tag trailer, split exactly as
//! git does (`parse_signed_commit`, `parse_signed_buffer`).

/// Why a git object could not be read from the repository.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// The `git` program could not be started.
    #[error("cannot run git: {source}")]
    Spawn {
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// `git` ran and failed.
    #[error("git {args} failed ({status}): {stderr}")]
    Failed {
        /// The arguments, space-separated.
        args: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },
    /// The revision names an object that cannot carry a signature.
    #[error("{rev} is a {kind}, not a commit or tag")]
    NotCommitOrTag {
        /// The revision asked for.
        rev: String,
        /// The object type git reported.
        kind: String,
    },
}

const SIG_BEGINS: &[&str] = &[
    "-----BEGIN SIGNED MESSAGE-----",
    "-----BEGIN PGP SIGNATURE-----",
    "-----BEGIN PGP MESSAGE-----",
    "-----BEGIN SSH SIGNATURE-----",
];

/// A signed object split into the signed payload and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedObject {
    /// `commit` or `tag`.
    pub kind: String,
    /// What was signed.
    pub payload: Vec<u8>,
    /// The signature (PEM text), if the object is signed.
    pub signature: Option<Vec<u8>>,
}

/// Split a raw commit object: the `gpgsig` (or `gpgsig-sha256`) header and its continuation
/// lines are the signature; the object without them is the payload.
pub fn split_commit(raw: &[u8]) -> SignedObject {
    let mut payload = Vec::with_capacity(raw.len());
    let mut sig: Vec<u8> = Vec::new();
    let mut found = false;
    let mut in_headers = true;
    let mut in_sig = false;
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(rest.len());
        let line = &rest[..end];
        rest = &rest[end..];
        if in_headers {
            if line == b"\n" {
                in_headers = false;
                in_sig = false;
                payload.extend_from_slice(line);
                continue;
            }
            if in_sig && line.first() == Some(&b' ') {
                sig.extend_from_slice(&line[1..]);
                continue;
            }
            in_sig = false;
            let header = line
                .strip_prefix(b"gpgsig ")
                .or_else(|| line.strip_prefix(b"gpgsig-sha256 "));
            if let Some(v) = header
                && !found
            {
                found = true;
                in_sig = true;
                sig.extend_from_slice(v);
                continue;
            }
        }
        payload.extend_from_slice(line);
    }
    SignedObject {
        kind: "commit".into(),
        payload,
        signature: found.then_some(sig),
    }
}

/// Split a raw tag object: the signature starts at the last line that begins a signature.
pub fn split_tag(raw: &[u8]) -> SignedObject {
    let mut pos = 0;
    let mut matched = raw.len();
    while pos < raw.len() {
        let line = &raw[pos..];
        if SIG_BEGINS.iter().any(|b| line.starts_with(b.as_bytes())) {
            matched = pos;
        }
        pos += line
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(line.len());
    }
    SignedObject {
        kind: "tag".into(),
        payload: raw[..matched].to_vec(),
        signature: (matched < raw.len()).then(|| raw[matched..].to_vec()),
    }
}

/// The SHA-1 object ID git gives `payload` once `signature` is inserted the way git inserts it
/// (commits: a `gpgsig` header before the blank line, continuation lines prefixed with a space;
/// tags: appended). `None` when the payload is neither a commit nor a tag.
pub fn signed_object_id(payload: &[u8], signature: &[u8]) -> Option<String> {
    let (kind, body) = if payload.starts_with(b"tree ") {
        let mut sig_header = b"gpgsig".to_vec();
        let mut rest = signature;
        while !rest.is_empty() {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| i + 1)
                .unwrap_or(rest.len());
            sig_header.push(b' ');
            sig_header.extend_from_slice(&rest[..end]);
            rest = &rest[end..];
        }
        let inspos = payload
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|i| i + 1)
            .unwrap_or(payload.len());
        let mut b = payload[..inspos].to_vec();
        b.extend_from_slice(&sig_header);
        b.extend_from_slice(&payload[inspos..]);
        ("commit", b)
    } else if payload.starts_with(b"object ") {
        let mut b = payload.to_vec();
        b.extend_from_slice(signature);
        ("tag", b)
    } else {
        return None;
    };
    let mut obj = format!("{kind} {}\0", body.len()).into_bytes();
    obj.extend_from_slice(&body);
    Some(hex::encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &obj).as_ref(),
    ))
}

fn git(args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = std::process::Command::new("git")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| GitError::Spawn { source })?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// Read `rev` (a commit or a tag; a tag name resolves to the tag object) from the repository
/// in the current directory and split it.
pub fn read_object(rev: &str) -> Result<SignedObject, GitError> {
    let kind = String::from_utf8_lossy(&git(&["cat-file", "-t", rev])?)
        .trim()
        .to_string();
    let raw = git(&["cat-file", &kind, rev])?;
    match kind.as_str() {
        "commit" => Ok(split_commit(&raw)),
        "tag" => Ok(split_tag(&raw)),
        other => Err(GitError::NotCommitOrTag {
            rev: rev.to_string(),
            kind: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn commit_split() {
        let raw = b"tree 1\nparent 2\nauthor a\ncommitter c\ngpgsig -----BEGIN SIGNED MESSAGE-----\n MIIB\n -----END SIGNED MESSAGE-----\nmergetag x\n\nmsg\n gpgsig not a header\n";
        let s = split_commit(raw);
        assert_eq!(
            s.payload,
            b"tree 1\nparent 2\nauthor a\ncommitter c\nmergetag x\n\nmsg\n gpgsig not a header\n"
        );
        assert_eq!(
            s.signature.unwrap(),
            b"-----BEGIN SIGNED MESSAGE-----\nMIIB\n-----END SIGNED MESSAGE-----\n"
        );
        let unsigned = split_commit(b"tree 1\n\nm\n");
        assert_eq!(unsigned.signature, None);
        assert_eq!(unsigned.payload, b"tree 1\n\nm\n");
    }

    #[test]
    fn object_id_matches_git() {
        // A commit object and its ID as git computed them.
        let raw = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\ngpgsig -----BEGIN SIGNED MESSAGE-----\n MIIB\n -----END SIGNED MESSAGE-----\n\nm\n";
        let s = split_commit(raw);
        let id = signed_object_id(&s.payload, &s.signature.unwrap()).unwrap();
        let mut obj = format!("commit {}\0", raw.len()).into_bytes();
        obj.extend_from_slice(raw);
        let want = hex::encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &obj).as_ref(),
        );
        assert_eq!(id, want);
        let tag = b"object 1\ntype commit\ntag v1\ntagger t\n\nm\n-----BEGIN SIGNED MESSAGE-----\nX\n-----END SIGNED MESSAGE-----\n";
        let t = split_tag(tag);
        let id = signed_object_id(&t.payload, &t.signature.unwrap()).unwrap();
        let mut obj = format!("tag {}\0", tag.len()).into_bytes();
        obj.extend_from_slice(tag);
        let want = hex::encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &obj).as_ref(),
        );
        assert_eq!(id, want);
        assert_eq!(signed_object_id(b"junk", b"x"), None);
    }

    #[test]
    fn tag_split() {
        let raw = b"object 1\ntype commit\ntag v1\ntagger t\n\nm\n-----BEGIN SIGNED MESSAGE-----\nMIIB\n-----END SIGNED MESSAGE-----\n";
        let s = split_tag(raw);
        assert_eq!(s.payload, b"object 1\ntype commit\ntag v1\ntagger t\n\nm\n");
        assert!(s.signature.unwrap().starts_with(b"-----BEGIN SIGNED"));
        assert_eq!(split_tag(b"object 1\n\nm\n").signature, None);
    }
}
