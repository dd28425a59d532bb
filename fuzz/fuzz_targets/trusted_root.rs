//! Trusted root JSON (which pre-validates every CA and TSA chain and every log key), plus the
//! signing-config parser sharing the same JSON conventions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::trust::{SigningConfig, TrustRoot};

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = TrustRoot::from_json(data) {
        for l in root.tlogs.iter().chain(root.ctlogs.iter()) {
            let _ = root.tlog_by_id(&l.log_id);
            let _ = root.ctlog_by_id(&l.log_id);
        }
        for t in &root.tsas {
            let _ = t.verifier.leaf_subject();
        }
    }
    let _ = SigningConfig::from_json(data);
});
