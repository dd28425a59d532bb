//! Cosignatures made by an independent implementation (tests/cosigner.py: pynacl Ed25519,
//! pyca/cryptography ML-DSA-44, messages built from the C2SP text) verify with
//! `CosignerKey::verify`, and fail once the checkpoint text changes. Needs `VOUCH_PYTHON` with
//! pynacl and a cryptography that has ML-DSA; otherwise SKIP (a failure under
//! `VOUCH_REQUIRE_PEERS=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use vouch_core::cosignature::{CosignatureKind, CosignerKey};
use vouch_core::note::SignedNote;
use vouch_core::witness::parse_cosignature_lines;

#[test]
fn python_cosignatures_verify() {
    let Some(py) = std::env::var_os("VOUCH_PYTHON") else {
        vouch_testkit::skip("VOUCH_PYTHON is not set (needs pynacl and cryptography with ML-DSA)");
        return;
    };
    let probe = Command::new(&py)
        .args([
            "-c",
            "import nacl.signing; from cryptography.hazmat.primitives.asymmetric import mldsa",
        ])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        vouch_testkit::skip("VOUCH_PYTHON lacks pynacl or an ML-DSA-capable cryptography");
        return;
    }
    let text =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cosigner.py");
    let mut child = Command::new(&py)
        .arg(script)
        .args(["witness.example/py", "1679315147"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    let ed = CosignerKey::from_vkey(lines.next().unwrap()).unwrap();
    let ml = CosignerKey::from_vkey(lines.next().unwrap()).unwrap();
    assert_eq!(
        (ed.kind, ml.kind),
        (CosignatureKind::Ed25519, CosignatureKind::MlDsa44)
    );
    let sigs: String = lines.map(|l| format!("{l}\n")).collect();
    let note = SignedNote {
        text: text.to_string(),
        signatures: parse_cosignature_lines(&sigs).unwrap(),
    };
    for k in [&ed, &ml] {
        let c = k.verify(&note).unwrap().expect("cosigned");
        assert_eq!(c.timestamp, 1679315147, "{}", k.kind.name());
    }
    // Another tree size: both fail (a failing known signature is an error, not "absent").
    let mut bad = note.clone();
    bad.text = bad.text.replace("20852163", "20852164");
    assert!(ed.verify(&bad).is_err());
    assert!(ml.verify(&bad).is_err());
}
