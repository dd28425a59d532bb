//! The C2SP tlog-witness `add-checkpoint` body parser (untrusted input of `vouch serve
//! witness`): `AddCheckpointRequest::parse`, then the checkpoint text, the render/parse round
//! trip, and the response-side parsers (cosignature lines, the 409 size body).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::note::Checkpoint;
use vouch_core::witness::{AddCheckpointRequest, parse_cosignature_lines, parse_tlog_size_body};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = AddCheckpointRequest::parse(data) {
        let _ = Checkpoint::parse(&req.checkpoint.text);
        let text = req.to_text();
        let again = AddCheckpointRequest::parse(text.as_bytes());
        assert_eq!(again.as_ref(), Ok(&req), "render/parse round trip");
    }
    let text = String::from_utf8_lossy(data);
    let _ = parse_cosignature_lines(&text);
    let _ = parse_tlog_size_body(&text);
});
