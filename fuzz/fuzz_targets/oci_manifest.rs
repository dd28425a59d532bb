//! What a registry answers, as vouch's OCI code reads it: an image manifest listing cosign's
//! legacy signature layers, the simple-signing payload of such a layer, and a legacy layer plus
//! its blob turned into a bundle. The first input byte picks the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_oci::layout::{Kind, legacy_layers, parse_simple_signing};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => {
            let _ = legacy_layers(rest);
        }
        1 => {
            let _ = parse_simple_signing(rest);
        }
        _ => {
            // A manifest and a blob, split at the first NUL byte.
            let cut = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let (manifest, blob) = rest.split_at(cut);
            if let Ok(layers) = legacy_layers(manifest) {
                for l in &layers {
                    let _ = vouch_oci::verify::legacy_bundle(l, blob, Kind::Signature);
                    let _ = vouch_oci::verify::legacy_bundle(l, blob, Kind::Attestation);
                }
            }
        }
    }
});
