//! Small helpers: randomness, HTML escaping, form parsing, durable file writes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// `n` random bytes, base64url without padding.
pub(crate) fn random_token(n: usize) -> Result<String, String> {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| "the system random generator failed")?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) use vouch_core::encoding::html_escape;

/// Parse `application/x-www-form-urlencoded` (or a query string). Repeated parameters are
/// an error (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more
/// than once").
pub(crate) fn parse_form(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(format!("parameter {k:?} is repeated"));
        }
    }
    Ok(out)
}

/// Encode pairs as `application/x-www-form-urlencoded`.
pub(crate) fn encode_form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Write `data` to `path` through the one durable-write helper ([`vouch_fs::write_durably`]);
/// `private` makes the file mode 0600 on Unix.
pub(crate) fn write_file_durably(
    path: &Path,
    data: &[u8],
    private: bool,
) -> Result<(), vouch_fs::FsError> {
    let access = if private {
        vouch_fs::Access::Private
    } else {
        vouch_fs::Access::Public
    };
    vouch_fs::write_durably(path, data, access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_forms() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let f = parse_form("a=1&b=x%20y+z").unwrap_or_default();
        assert_eq!(f.get("b").map(String::as_str), Some("x y z"));
        assert!(parse_form("a=1&a=2").is_err());
        assert_eq!(encode_form(&[("a", "x y&")]), "a=x+y%26");
        assert_ne!(random_token(16), random_token(16));
    }
}
