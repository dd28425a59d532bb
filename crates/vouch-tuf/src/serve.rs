//! Read-only HTTP serving of the repository's metadata directory.

use crate::TufRepo;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::path::PathBuf;
use std::sync::Arc;

/// The router serving `repo`'s metadata: `GET /{N.root.json|root.json|timestamp.json|
/// N.snapshot.json|N.targets.json}` and `GET /targets/<sha256 hex>.<name>`. Anything else is
/// a JSON 404. Paths are relative, so it can be mounted with `Router::nest("/tuf", …)`.
pub fn router(repo: Arc<TufRepo>) -> Router {
    router_for_dir(repo.metadata_dir().to_path_buf())
}

/// [`router`] over any directory with the same layout (e.g. an exported mirror).
pub fn router_for_dir(dir: PathBuf) -> Router {
    let dir = Arc::new(dir);
    Router::new()
        .route("/{file}", get(metadata))
        .route("/targets/{file}", get(target))
        .fallback(not_found_handler)
        .with_state(dir)
}

async fn not_found_handler() -> Response {
    not_found()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r#"{"error":"not found"}"#,
    )
        .into_response()
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whitelist of metadata file names.
pub(crate) fn metadata_name_ok(name: &str) -> bool {
    if name == "root.json" || name == "timestamp.json" {
        return true;
    }
    ["root", "snapshot", "targets"].iter().any(|role| {
        name.strip_suffix(".json")
            .and_then(|n| n.strip_suffix(role))
            .and_then(|n| n.strip_suffix('.'))
            .is_some_and(is_digits)
    })
}

/// `<64 lowercase hex>.<name>` with a conservative character set.
pub(crate) fn target_name_ok(name: &str) -> bool {
    let Some((hash, rest)) = name.split_once('.') else {
        return false;
    };
    hash.len() == 64
        && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && !rest.is_empty()
        && rest.len() <= 200
        && !rest.starts_with('.')
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

async fn read(path: PathBuf) -> Option<Vec<u8>> {
    tokio::fs::read(path).await.ok()
}

async fn metadata(State(dir): State<Arc<PathBuf>>, UrlPath(file): UrlPath<String>) -> Response {
    if !metadata_name_ok(&file) {
        return not_found();
    }
    let Some(bytes) = read(dir.join(&file)).await else {
        return not_found();
    };
    // timestamp.json and root.json change in place; versioned files never do.
    let cache = if file == "timestamp.json" || file == "root.json" {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        bytes,
    )
        .into_response()
}

async fn target(State(dir): State<Arc<PathBuf>>, UrlPath(file): UrlPath<String>) -> Response {
    if !target_name_ok(&file) {
        return not_found();
    }
    let Some(bytes) = read(dir.join("targets").join(&file)).await else {
        return not_found();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "root.json",
            "timestamp.json",
            "1.root.json",
            "12.snapshot.json",
            "3.targets.json",
        ] {
            assert!(metadata_name_ok(ok), "{ok}");
        }
        for bad in [
            "..",
            "../root.json",
            "/etc/passwd",
            "x.root.json",
            ".root.json",
            "1.foo.json",
            "1.root.json/",
            "snapshot.json",
            "1..root.json",
            "",
        ] {
            assert!(!metadata_name_ok(bad), "{bad}");
        }
        let h = "a".repeat(64);
        assert!(target_name_ok(&format!("{h}.trusted_root.json")));
        for bad in [
            format!("{h}."),
            format!("{h}..x"),
            format!("{h}.a/b"),
            format!("{}.x", "A".repeat(64)),
            "x.json".into(),
            format!("{h}.a%2fb"),
        ] {
            assert!(!target_name_ok(&bad), "{bad}");
        }
    }
}
