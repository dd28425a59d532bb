//! The RFC 6962 CT log personality: `add-chain` and `add-pre-chain` bodies (JSON with base64
//! DER chains, validated against an accepted root) and the `get-*` queries. The first input
//! byte picks the endpoint.
#![no_main]

#[path = "common/http.rs"]
mod http;

use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use std::time::Duration;
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner};

static ROUTER: LazyLock<axum::Router> = LazyLock::new(|| {
    let dir = http::state_dir("ct");
    let _guard = http::RT.enter();
    let storage = EmbeddedStorage::open(&dir).expect("storage");
    let origin = "fuzz.ct.test/1";
    let signer = LogSigner::load_or_generate(&dir, origin, KeyAlgorithm::EcdsaP256).expect("key");
    let log = Log::open(
        storage,
        signer,
        LogConfig {
            origin: origin.into(),
            batch_interval: Duration::from_millis(1),
            ..LogConfig::default()
        },
    )
    .expect("log");
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
