//! Bundle JSON: parse, validate, then decode every nested untrusted field the way the verifier
//! would (certificates, SCTs, Rekor bodies, checkpoints, RFC 3161 tokens, in-toto statements).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::bundle::{Bundle, Content, Material};
use vouch_core::intoto::Statement;
use vouch_core::note::{Checkpoint, SignedNote};
use vouch_core::rekor::EntryBody;
use vouch_core::x509::Certificate;
use vouch_core::{sct, tsa};

fuzz_target!(|data: &[u8]| {
    // The raw input is also a candidate in-toto statement.
    let _ = Statement::from_json(data);

    let Ok(bundle) = Bundle::from_json(data) else {
        return;
    };
    let _ = bundle.validate();
    let _ = bundle.to_json();
    let _ = bundle.signature_bytes();

    if let Some(Material::Certificate { leaf, rest }) = bundle.material() {
        for der in std::iter::once(leaf).chain(rest.iter().map(|c| c.raw_bytes.as_slice())) {
            if let Ok(cert) = Certificate::from_der(der) {
                let _ = cert.fulcio_identity();
                let _ = sct::embedded_scts(&cert);
                let _ = sct::precert_tbs_der(&cert);
            }
        }
    }
    if let Some(Content::Dsse(env)) = bundle.content() {
        let _ = env.pae();
        let _ = Statement::from_json(env.payload.as_slice());
    }
    for e in bundle.tlog_entries() {
        if let Some(kv) = &e.kind_version {
            let _ = EntryBody::parse(e.canonicalized_body.as_slice(), &kv.kind, &kv.version);
        }
        if let Some(cp) = e
            .inclusion_proof
            .as_ref()
            .and_then(|p| p.checkpoint.as_ref())
            && let Ok(note) = SignedNote::parse(&cp.envelope)
        {
            let _ = Checkpoint::parse(&note.text);
            let _ = note.to_text();
        }
    }
    for ts in bundle.rfc3161_timestamps() {
        let _ = tsa::parse_timestamp_response(ts.signed_timestamp.as_slice());
    }
});
