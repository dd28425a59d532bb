//! Canonicalized Rekor entry bodies, under every supported (kind, version).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::rekor::{self, EntryBody};

const KINDS: [(&str, &str); 4] = [
    ("hashedrekord", "0.0.1"),
    ("hashedrekord", "0.0.2"),
    ("dsse", "0.0.1"),
    ("intoto", "0.0.2"),
];

fuzz_target!(|data: &[u8]| {
    for (kind, version) in KINDS {
        let _ = EntryBody::parse(data, kind, version);
    }
    let _ = rekor::set_payload(data, 1_700_000_000, &[0u8; 32], 1);
});
