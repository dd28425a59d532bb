//! Splitting an image reference as written in a pod spec (`name[:tag][@digest]`) without any
//! normalization: the engine behind [`ImageDecider`](crate::ImageDecider) owns registry
//! defaults. The webhook only needs to know whether a reference is pinned, and to write
//! `name:tag@digest`.

/// An image reference split into its parts (borrowed from the original string).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// The repository, with registry host and port, without tag or digest.
    pub name: &'a str,
    /// The tag, if any.
    pub tag: Option<&'a str>,
    /// The digest (`sha256:<hex>`), if any.
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Split `raw`. A `:` only starts a tag after the last `/` (a registry port is not a tag).
    pub fn parse(raw: &'a str) -> Self {
        let (rest, digest) = match raw.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (raw, None),
        };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        ImageRef { name, tag, digest }
    }

    /// `name@digest`: the image as verified and cached.
    pub fn by_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name)
    }

    /// `name[:tag]@digest`: what a tag is rewritten to (the tag stays for readability; the
    /// container runtime pulls by digest).
    pub fn pinned(&self, digest: &str) -> String {
        match self.tag {
            Some(t) => format!("{}:{t}@{digest}", self.name),
            None => format!("{}@{digest}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ImageRef;

    #[test]
    fn splits() {
        let r = ImageRef::parse("127.0.0.1:5000/team/app:v1");
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("127.0.0.1:5000/team/app", Some("v1"), None)
        );
        let r = ImageRef::parse("127.0.0.1:5000/team/app");
        assert_eq!((r.name, r.tag), ("127.0.0.1:5000/team/app", None));
        let r = ImageRef::parse("nginx:1.27@sha256:ab");
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("nginx", Some("1.27"), Some("sha256:ab"))
        );
        assert_eq!(r.by_digest("sha256:ab"), "nginx@sha256:ab");
        assert_eq!(r.pinned("sha256:cd"), "nginx:1.27@sha256:cd");
        let r = ImageRef::parse("localhost:5000/x@sha256:ee");
        assert_eq!((r.name, r.tag), ("localhost:5000/x", None));
        assert_eq!(r.pinned("sha256:ee"), "localhost:5000/x@sha256:ee");
    }
}
