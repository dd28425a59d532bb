//! C2SP tlog-policy files (`--witness-policy`): `WitnessPolicy::parse`, then quorum
//! evaluation of the parsed policy over a fixed checkpoint note with no cosignatures.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::note::SignedNote;
use vouch_core::tlog_policy::WitnessPolicy;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = WitnessPolicy::parse(data)
        && let Ok(note) = SignedNote::parse(
            "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} o AAAAAQID\n",
        )
    {
        let _ = p.check(&note);
    }
});
