//! The timestamp authority: `POST /api/v1/timestamp` with a DER `TimeStampReq`
//! (`application/timestamp-query`) or sigstore-js's JSON form; also the request parsers
//! directly. The first input byte picks the form.
#![no_main]

#[path = "common/http.rs"]
mod http;

use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};
use vouch_tsa::{TimestampRequest, TsaOptions, TsaService};

static ROUTER: LazyLock<axum::Router> = LazyLock::new(|| {
    let dir = http::state_dir("tsa");
    let svc = TsaService::load_or_generate(&dir, &TsaOptions::default()).expect("tsa");
    vouch_tsa::router(Arc::new(svc))
});

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel % 2 == 0 {
        if let Ok(req) = TimestampRequest::from_der(rest) {
            // What parses must re-encode.
            req.to_der().expect("a parsed request re-encodes");
        }
        let _ = http::call(&ROUTER, Method::POST, "/api/v1/timestamp", vouch_tsa::TIMESTAMP_QUERY, None, rest.to_vec());
    } else {
        let _ = TimestampRequest::from_json(rest);
        let _ = http::call(&ROUTER, Method::POST, "/api/v1/timestamp", "application/json", None, rest.to_vec());
    }
});
