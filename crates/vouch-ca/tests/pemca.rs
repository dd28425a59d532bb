//! The PEM-file CA backend: a chain + (encrypted) PKCS#8 key, checked at load. Encrypted keys
//! are made by `openssl pkcs8 -topk8` (PBES2 AES-256-CBC and scrypt), independently of the
//! code under test; those cases print SKIP when `openssl` is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use vouch_ca::pemca::load_pem_ca;
use vouch_ca::{CaError, DevHierarchyOptions, LeafOptions, generate_dev_hierarchy};
use vouch_core::keys::pem_encode;

fn openssl_encrypt(pkcs8_pem: &str, args: &[&str]) -> Option<String> {
    let mut child = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-passout", "pass:s3cret pass"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pkcs8_pem.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn loads_plain_and_encrypted_keys_and_checks_everything() {
    let h = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let int_der = h.intermediate.certificate_der().to_vec();
    let chain = format!(
        "{}{}",
        pem_encode("CERTIFICATE", &int_der),
        pem_encode("CERTIFICATE", &h.root_der)
    );
    let key = pem_encode("PRIVATE KEY", &h.intermediate.signer().to_pkcs8().unwrap());

    // Plain PKCS#8; the loaded CA issues leaves that chain to the root.
    let (root, ca) = load_pem_ca(&chain, &key, None).unwrap();
    assert_eq!(root, h.root_der);
    assert_eq!(ca.certificate_der(), int_der.as_slice());
    let spki = ca.signer().spki_der().unwrap();
    let id = vouch_ca::FulcioConfig::from_json(
        r#"{"OIDCIssuers": {"https://a.example.com": {"IssuerURL": "https://a.example.com", "ClientID": "sigstore", "Type": "email"}}}"#,
    )
    .unwrap()
    .identity_for(
        serde_json::json!({"iss": "https://a.example.com", "email": "a@example.com", "email_verified": true})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    let leaf = ca
        .issue_leaf(&id, &spki, &LeafOptions::new(None, Duration::from_secs(60)))
        .unwrap();
    let leaf = vouch_core::x509::Certificate::from_der(&leaf).unwrap();
    leaf.verify_signed_by(&vouch_core::x509::Certificate::from_der(&int_der).unwrap())
        .unwrap();

    // Encrypted PKCS#8 from openssl: PBES2 with AES-256-CBC + PBKDF2, and scrypt.
    for args in [&["-v2", "aes-256-cbc"][..], &["-scrypt"][..]] {
        let Some(enc) = openssl_encrypt(&key, args) else {
            vouch_testkit::skip(format_args!(
                "encrypted PKCS#8 ({args:?}): openssl not found"
            ));
            continue;
        };
        assert!(enc.contains("ENCRYPTED PRIVATE KEY"));
        let (_, ca2) = load_pem_ca(&chain, &enc, Some("s3cret pass")).unwrap();
        assert_eq!(ca2.certificate_der(), int_der.as_slice());
        let e = load_pem_ca(&chain, &enc, Some("wrong")).unwrap_err();
        assert!(matches!(&e, CaError::KeyDecrypt(_)), "{e}");
        let e = load_pem_ca(&chain, &enc, None).unwrap_err();
        assert!(
            matches!(&e, CaError::Key(m) if m.contains("encrypted")),
            "{e}"
        );
    }

    // Key of another CA.
    let other = generate_dev_hierarchy(&DevHierarchyOptions::default()).unwrap();
    let other_key = pem_encode(
        "PRIVATE KEY",
        &other.intermediate.signer().to_pkcs8().unwrap(),
    );
    let e = load_pem_ca(&chain, &other_key, None).unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");

    // Chain in the wrong order, of the wrong length, or not verifying.
    let swapped = format!(
        "{}{}",
        pem_encode("CERTIFICATE", &h.root_der),
        pem_encode("CERTIFICATE", &int_der)
    );
    assert!(load_pem_ca(&swapped, &key, None).is_err());
    let one = pem_encode("CERTIFICATE", &int_der);
    let e = load_pem_ca(&one, &key, None).unwrap_err();
    assert!(e.to_string().contains("exactly two"), "{e}");
    let foreign_root = format!(
        "{}{}",
        pem_encode("CERTIFICATE", &int_der),
        pem_encode("CERTIFICATE", &other.root_der)
    );
    let e = load_pem_ca(&foreign_root, &key, None).unwrap_err();
    assert!(
        e.to_string().contains("does not verify under the root"),
        "{e}"
    );

    // A non-CA certificate (a leaf) as the issuing certificate.
    let leaf_der = leaf.der().to_vec();
    let not_ca = format!(
        "{}{}",
        pem_encode("CERTIFICATE", &leaf_der),
        pem_encode("CERTIFICATE", &h.root_der)
    );
    let e = load_pem_ca(&not_ca, &key, None).unwrap_err();
    assert!(e.to_string().contains("not a CA"), "{e}");

    // Garbage.
    assert!(load_pem_ca("nope", &key, None).is_err());
    assert!(load_pem_ca(&chain, "nope", None).is_err());
}
