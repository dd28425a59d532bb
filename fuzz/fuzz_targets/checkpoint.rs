//! Signed notes and checkpoints. The input is taken as lossy UTF-8 and parsed both as a whole
//! signed note (then its text as a checkpoint) and directly as checkpoint text; parsed notes are
//! also checked against the public-good Rekor note verifiers and re-rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vouch_core::note::{Checkpoint, NoteVerifier, SignedNote};
use vouch_core::trust::TrustRoot;

fn verifiers() -> &'static [NoteVerifier] {
    static V: OnceLock<Vec<NoteVerifier>> = OnceLock::new();
    V.get_or_init(|| {
        let root = TrustRoot::public_good().expect("embedded public-good root");
        root.tlogs
            .iter()
            .filter_map(|l| l.note_verifier.clone())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Checkpoint::parse(&text);
    let _ = NoteVerifier::from_vkey(&text);
    if let Ok(note) = SignedNote::parse(&text) {
        let _ = note.to_text();
        if let Ok(cp) = Checkpoint::parse(&note.text) {
            let _ = cp.to_text();
        }
        for v in verifiers() {
            let _ = note.verify(v);
        }
    }
});
