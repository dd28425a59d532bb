//! Image-name globs, with the semantics of sigstore policy-controller's `pkg/apis/glob`:
//!
//! * the glob must match the whole name; `*` matches any run of characters except `/`, `**`
//!   matches any run including `/`, `.` is literal, and only `[a-zA-Z0-9-_:/*.@]` may appear;
//! * the bare globs `*` and `*/*` mean `index.docker.io/library/*` and `index.docker.io/*/*`;
//! * the image is matched in its fully qualified form, as go-containerregistry's
//!   `name.ParseReference(image, WeakValidation).Name()` spells it: `busybox` is
//!   `index.docker.io/library/busybox:latest`, `user/app` is `index.docker.io/user/app:latest`,
//!   a reference with a digest is `registry/repo@sha256:…` (its tag dropped);
//! * when the qualified form does not match and differs from what was written, the name as
//!   written is tried too (policy-controller's deprecated fallback, kept for compatibility).
//!
//! The tag separator `:` is not a `*` boundary: `registry/app*` matches `registry/app:v1`, and
//! `registry/app:**` matches any tag.

use regex::Regex;

/// Docker Hub's registry as go-containerregistry names it.
pub const DOCKER_HUB: &str = "index.docker.io";

/// Longest accepted image reference (bytes).
pub const MAX_REFERENCE_LEN: usize = 4096;

/// Why a glob or an image name is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GlobError {
    /// The glob holds a character outside `[a-zA-Z0-9-_:/*.@]`.
    #[error("invalid glob {glob:?}: only letters, digits and - _ : / * . @ are allowed")]
    InvalidGlob {
        /// The glob.
        glob: String,
    },
    /// The image reference cannot be parsed.
    #[error("invalid image reference {image:?}: {reason}")]
    InvalidImage {
        /// The reference.
        image: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A compiled image glob.
#[derive(Clone, Debug)]
pub struct ImageGlob {
    glob: String,
    re: Regex,
}

impl ImageGlob {
    /// Compile `glob` (policy-controller's `glob.Compile`).
    pub fn compile(glob: &str) -> Result<Self, GlobError> {
        let normalized = match glob {
            "*/*" => "index.docker.io/*/*",
            "*" => "index.docker.io/library/*",
            g => g,
        };
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_:/*.@".contains(c);
        if normalized.is_empty() || !normalized.chars().all(allowed) {
            return Err(GlobError::InvalidGlob {
                glob: glob.to_string(),
            });
        }
        let mut re = String::with_capacity(normalized.len() * 2 + 2);
        re.push('^');
        let mut chars = normalized.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '.' => re.push_str(r"\."),
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    re.push_str(".*");
                }
                '*' => re.push_str("[^/]*"),
                c => re.push(c),
            }
        }
        re.push('$');
        let re = Regex::new(&re).map_err(|_| GlobError::InvalidGlob {
            glob: glob.to_string(),
        })?;
        Ok(Self {
            glob: glob.to_string(),
            re,
        })
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.glob
    }

    /// Whether `image` (any reference form) matches (policy-controller's `glob.Match`).
    pub fn matches(&self, image: &str) -> Result<bool, GlobError> {
        let name = qualified_name(image)?;
        Ok(self.matches_qualified(&name, image))
    }

    /// Match an already qualified name, with the fallback to the name as written.
    pub fn matches_qualified(&self, qualified: &str, as_written: &str) -> bool {
        self.re.is_match(qualified) || (qualified != as_written && self.re.is_match(as_written))
    }
}

/// The parts of an image reference, normalised as go-containerregistry does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageName {
    /// Registry host (`index.docker.io` for Docker Hub).
    pub registry: String,
    /// Repository path (`library/busybox` for Docker Hub official images).
    pub repository: String,
    /// Tag (`latest` when neither tag nor digest is given).
    pub tag: Option<String>,
    /// Digest (`sha256:…`).
    pub digest: Option<String>,
}

impl ImageName {
    /// Parse with go-containerregistry's weak validation rules.
    pub fn parse(image: &str) -> Result<Self, GlobError> {
        let bad = |reason| GlobError::InvalidImage {
            image: image.to_string(),
            reason,
        };
        if image.is_empty() || image.len() > MAX_REFERENCE_LEN {
            return Err(bad("empty or too long"));
        }
        let (base, digest) = match image.split_once('@') {
            Some((b, d)) => (b, Some(d)),
            None => (image, None),
        };
        if let Some(d) = digest {
            let (alg, hex) = d
                .split_once(':')
                .ok_or_else(|| bad("digest is not algorithm:hex"))?;
            let ok_hex = |n: usize| hex.len() == n && hex.bytes().all(|b| b.is_ascii_hexdigit());
            let valid = match alg {
                "sha256" => ok_hex(64),
                "sha384" => ok_hex(96),
                "sha512" => ok_hex(128),
                _ => false,
            };
            if !valid {
                return Err(bad("digest is not sha256:<64 hex>"));
            }
        }
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = base.rfind('/').map_or(0, |i| i + 1);
        let (repo_part, tag) = match base[last_slash..].rfind(':') {
            Some(i) => (&base[..last_slash + i], Some(&base[last_slash + i + 1..])),
            None => (base, None),
        };
        if let Some(t) = tag {
            let valid = !t.is_empty()
                && t.len() <= 128
                && !t.starts_with(['.', '-'])
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !valid {
                return Err(bad("invalid tag"));
            }
        }
        let (registry, repository) = match repo_part.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), repo_part.to_string()),
        };
        let registry = if registry == "docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let valid_repo = (2..=255).contains(&repository.len())
            && repository
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-./".contains(&b));
        if !valid_repo {
            return Err(bad(
                "repository must be 2-255 characters of a-z 0-9 _ - . /",
            ));
        }
        let tag = match (tag, digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest: digest.map(str::to_string),
        })
    }

    /// `registry/repository` (go-containerregistry's `Repository.Name()`).
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The qualified name globs are matched against (go-containerregistry's `Reference.Name()`):
    /// `registry/repo@digest` when a digest is known, else `registry/repo:tag`.
    pub fn qualified(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.repository_name()),
            (None, Some(t)) => format!("{}:{t}", self.repository_name()),
            (None, None) => self.repository_name(),
        }
    }
}

/// The fully qualified form of `image` that globs match.
pub fn qualified_name(image: &str) -> Result<String, GlobError> {
    Ok(ImageName::parse(image)?.qualified())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// policy-controller's `TestGlobMatch` cases (pkg/apis/glob/glob_test.go), all of them.
    #[test]
    fn policy_controller_glob_cases() {
        let d = "sha256:5504f2a95018e3d8a52d80d9e1a128c6ea337581808ff9fe96f5628ce2336350";
        let digest_ref = format!("ghcr.io/foo@{d}");
        let cases: Vec<(&str, &str, bool, bool)> = vec![
            ("foo", "index.docker.io/library/foo:latest", true, false),
            ("foo", "index.docker.io/library/foo:*", true, false),
            ("foo", "index.docker.io/library/*", true, false),
            ("foo", "index.docker.io/library/*:latest", true, false),
            ("foo", "index.docker.io/*/*", true, false),
            ("foo", "index.docker.io/**", true, false),
            ("foo", "index.docker.**", true, false),
            ("foo", "inde**", true, false),
            ("foo", "**", true, false),
            ("foo", "foo", true, false),
            ("foo", "foo*", true, false),
            ("foo", "foo**", true, false),
            (
                "myuser/myapp",
                "index.docker.io/myuser/myapp:latest",
                true,
                false,
            ),
            (
                "myuser/myapp",
                "index.docker.io/myuser/myapp:*",
                true,
                false,
            ),
            ("myuser/myapp", "index.docker.io/myuser/*", true, false),
            (
                "myuser/myapp",
                "index.docker.io/myuser/*:latest",
                true,
                false,
            ),
            ("myuser/myapp", "index.docker.io/*/*", true, false),
            ("myuser/myapp", "index.docker.io/**", true, false),
            ("myuser/myapp", "index.docker.**", true, false),
            ("myuser/myapp", "inde**", true, false),
            ("myuser/myapp", "**", true, false),
            ("myuser/myapp", "myuser/myapp", true, false),
            ("myuser/myapp", "myuser/myapp*", true, false),
            ("myuser/myapp", "myuser/myapp**", true, false),
            ("ghcr.io/foo/bar", "ghcr.io/*/*", true, false),
            ("ghcr.io/foo/bar", "ghcr.io/**", true, false),
            ("ghcr.io/foo", "ghcr.io/*/*", false, false),
            ("ghcr.io/foo", "ghcr.io/**", true, false),
            ("ghcr.io/foo", "ghc**", true, false),
            ("ghcr.io/foo", "**", true, false),
            ("ghcr.io/foo", "*/**", true, false),
            ("ghcr.io/foo", "ghcr.io/foo*", true, false),
            ("ghcr.io/foo", "ghcr.io/foo**", true, false),
            ("prefix-ghcr.io/foo", "ghcr.io/foo", false, false),
            ("ghcr.io/foo-suffix", "ghcr.io/foo", false, false),
            ("ghcrxio/foo", "ghcr.io/**", false, false),
            ("invalid&name", "**", false, true),
            ("invalid-glob", ".+", false, true),
            ("invalid-glob", "[a-z]*", false, true),
            ("foo", "*", true, false),
            ("myuser/myapp", "*/*", true, false),
            (digest_ref.as_str(), digest_ref.as_str(), true, false),
        ];
        for (image, glob, want_match, want_err) in cases {
            let got = ImageGlob::compile(glob).and_then(|g| g.matches(image));
            match got {
                Ok(m) => {
                    assert!(!want_err, "{image}|{glob}: expected an error, got {m}");
                    assert_eq!(m, want_match, "{image}|{glob}");
                }
                Err(e) => assert!(want_err, "{image}|{glob}: unexpected error {e}"),
            }
        }
    }

    #[test]
    fn qualified_names() {
        assert_eq!(
            qualified_name("busybox").unwrap(),
            "index.docker.io/library/busybox:latest"
        );
        assert_eq!(
            qualified_name("docker.io/user/app:1").unwrap(),
            "index.docker.io/user/app:1"
        );
        assert_eq!(
            qualified_name("127.0.0.1:5000/team/app:v1").unwrap(),
            "127.0.0.1:5000/team/app:v1"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            qualified_name(&format!("127.0.0.1:5000/team/app:v1@{d}")).unwrap(),
            format!("127.0.0.1:5000/team/app@{d}")
        );
        assert!(qualified_name("127.0.0.1:5000/Team/app").is_err());
        assert!(qualified_name("ghcr.io/app@sha256:abc").is_err());
    }

    #[test]
    fn star_does_not_cross_slash_but_crosses_colon() {
        let g = ImageGlob::compile("registry.local:5000/legacy/*").unwrap();
        assert!(g.matches("registry.local:5000/legacy/app:1").unwrap());
        assert!(!g.matches("registry.local:5000/legacy/a/b:1").unwrap());
        let g = ImageGlob::compile("registry.local:5000/**").unwrap();
        assert!(g.matches("registry.local:5000/legacy/a/b:1").unwrap());
    }
}
