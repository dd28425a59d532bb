//! The transparency log's HTTP API as a client sees it: Rekor v2 `POST /api/v2/log/entries`,
//! Rekor v1 `POST /api/v1/log/entries` (ProposedEntry: hashedrekord, dsse, intoto), the v1
//! retrieve and index searches, entry and proof queries, and tlog-tiles paths. The first input
//! byte picks the endpoint; the rest is the body (or the path / query).
#![no_main]

#[path = "common/http.rs"]
mod http;

use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use vouch_log::api;

static ROUTER: LazyLock<axum::Router> = LazyLock::new(|| {
    let _guard = http::RT.enter();
    let log = http::open_log("log", "fuzz.log.test/1");
    api::router(log)
});

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let json = "application/json";
    let body = rest.to_vec();
    let q = http::uri_part(rest);
    let r = &*ROUTER;
    let _ = match sel % 9 {
        0 => http::call(r, Method::POST, "/api/v2/log/entries", json, None, body),
        1 => http::call(r, Method::POST, "/api/v1/log/entries", json, None, body),
        2 => http::call(r, Method::POST, "/api/v1/log/entries/retrieve", json, None, body),
        3 => http::call(r, Method::POST, "/api/v1/index/retrieve", json, None, body),
        4 => http::call(r, Method::GET, &format!("/tile/{q}"), json, None, Vec::new()),
        5 => http::call(r, Method::GET, &format!("/api/v1/log/entries?{q}"), json, None, Vec::new()),
        6 => http::call(r, Method::GET, &format!("/api/v1/log/proof?{q}"), json, None, Vec::new()),
        7 => http::call(r, Method::GET, &format!("/api/v1/log/entries/{q}"), json, None, Vec::new()),
        _ => http::call(r, Method::GET, &format!("/api/v1/log?{q}"), json, None, Vec::new()),
    };
});
