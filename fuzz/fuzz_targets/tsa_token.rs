//! RFC 3161 timestamp responses: the unverified decoder on the raw input, and full token
//! verification against real trusted TSA chains.
//!
//! Input framing for verification: `[u16 big-endian n][n bytes: signed data][DER TimeStampResp]`
//! (Sigstore timestamps the signature bytes; `seed-corpus.sh` writes the bundle signature as the
//! signed data so seeds get past the message-imprint check). The trusted chains are those of the
//! embedded public-good root plus every trusted root under `$VOUCH_TESTDATA` (default
//! `../../shared/testdata` from this crate), deduplicated; each token is tried against all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use vouch_core::trust::TrustRoot;
use vouch_core::tsa::{self, TsaVerifier};

fn testdata() -> PathBuf {
    std::env::var_os("VOUCH_TESTDATA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"),
        PathBuf::from,
    )
}

fn root_files() -> Vec<PathBuf> {
    let td = testdata();
    let mut files = Vec::new();
    for dir in [td.join("roots"), td.join("conformance/bundle-verify")] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                files.push(p.join("trusted_root.json"));
            } else if p.to_string_lossy().ends_with("trusted_root.json") {
                files.push(p);
            }
        }
    }
    files.retain(|p| p.is_file());
    files.sort();
    files
}

fn verifiers() -> &'static [TsaVerifier] {
    static V: OnceLock<Vec<TsaVerifier>> = OnceLock::new();
    V.get_or_init(|| {
        let mut roots = vec![TrustRoot::public_good().expect("embedded public-good root")];
        roots.extend(
            root_files()
                .iter()
                .filter_map(|p| std::fs::read(p).ok())
                .filter_map(|j| TrustRoot::from_json(&j).ok()),
        );
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for r in roots {
            for t in r.tsas {
                if seen.insert(format!("{:?}", t.verifier)) {
                    out.push(t.verifier);
                }
            }
        }
        eprintln!("tsa_token: {} distinct trusted TSA chains", out.len());
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = tsa::parse_timestamp_response(data);

    let (signed, der) = match data {
        [a, b, rest @ ..] => {
            let n = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
            rest.split_at(n)
        }
        _ => (&[][..], data),
    };
    if der.len() != data.len() {
        let _ = tsa::parse_timestamp_response(der);
    }
    for v in verifiers() {
        let _ = v.verify(der, signed);
    }
});
