//! The RFC 6962 CT log personality: `add-chain` and `add-pre-chain` bodies (JSON with base64
//! DER chains, validated against an accepted root) and the `get-*` queries. The first input
//! byte picks the endpoint.
#![no_main]

#[path = "common/http.rs"]
mod http;

use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ROUTER: LazyLock<axum::Router> = LazyLock::new(|| {
    let _guard = http::RT.enter();
    let log = http::open_log("ct", "fuzz.ct.test/1");
    // A real accepted root: the development CA hierarchy the keyless CA generates.
    let h = vouch_ca::cert::generate_dev_hierarchy(&Default::default()).expect("hierarchy");
    vouch_log::ct::router(log, vec![h.root_der]).expect("router")
});

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let json = "application/json";
    let q = http::uri_part(rest);
    let r = &*ROUTER;
    let get = |path: &str| http::call(r, Method::GET, &format!("/ct/v1/{path}?{q}"), json, None, Vec::new());
    let _ = match sel % 7 {
        0 => http::call(r, Method::POST, "/ct/v1/add-chain", json, None, rest.to_vec()),
        1 => http::call(r, Method::POST, "/ct/v1/add-pre-chain", json, None, rest.to_vec()),
        2 => get("get-entries"),
        3 => get("get-proof-by-hash"),
        4 => get("get-sth-consistency"),
        5 => get("get-entry-and-proof"),
        _ => get("get-sth"),
    };
});
