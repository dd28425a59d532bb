//! cosign key files against an independent Python peer (`tests/cosign_key.py`: hashlib.scrypt,
//! PyNaCl `SecretBox`, `cryptography`), written from the format description.
//!
//! Needs `VOUCH_PYTHON` pointing at a Python with `pynacl` and `cryptography`; otherwise the
//! test prints `SKIP` and passes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use vouch_core::cosign_key::{
    self, CosignKeyError, ENCRYPTED_COSIGN_LABEL, ENCRYPTED_SIGSTORE_LABEL, ScryptCost,
    SigningAlgorithm, SigningKey,
};
use vouch_core::keys::PublicKey;

const PASSWORD: &str = "correct horse battery staple";

fn python() -> Option<PathBuf> {
    let Some(py) = std::env::var_os("VOUCH_PYTHON") else {
        vouch_testkit::skip(format_args!(
            "VOUCH_PYTHON is not set (needs a venv with pynacl and cryptography)"
        ));
        return None;
    };
    match Command::new(&py)
        .args(["-c", "import nacl.secret, cryptography.hazmat"])
        .output()
    {
        Ok(o) if o.status.success() => Some(PathBuf::from(py)),
        Ok(o) => {
            vouch_testkit::skip(format_args!(
                "VOUCH_PYTHON lacks pynacl/cryptography (pip install pynacl cryptography): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            None
        }
        Err(e) => {
            vouch_testkit::skip(format_args!("VOUCH_PYTHON not runnable: {e}"));
            None
        }
    }
}

fn peer(py: &Path, args: &[&str]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cosign_key.py");
    Command::new(py)
        .arg(script)
        .args(args)
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .expect("run python peer")
}

fn peer_ok(py: &Path, args: &[&str]) {
    let o = peer(py, args);
    assert!(
        o.status.success(),
        "python peer {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// (a) We encrypt; Python decrypts, signs, and our public key verifies its signature.
#[test]
fn python_decrypts_our_keys() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg");
    std::fs::write(&msg, b"artifact bytes from rust").unwrap();
    for (alg, cost, label) in [
        (
            SigningAlgorithm::EcdsaP256Sha256,
            ScryptCost::Standard,
            ENCRYPTED_SIGSTORE_LABEL,
        ),
        (
            SigningAlgorithm::EcdsaP384Sha384,
            ScryptCost::Legacy,
            ENCRYPTED_COSIGN_LABEL,
        ),
        (
            SigningAlgorithm::Ed25519,
            ScryptCost::Legacy,
            ENCRYPTED_SIGSTORE_LABEL,
        ),
    ] {
        let k = SigningKey::generate(alg).unwrap();
        let pem = cosign_key::encrypt_with(&k.to_pkcs8().unwrap(), PASSWORD.as_bytes(), cost)
            .unwrap()
            .replace(ENCRYPTED_SIGSTORE_LABEL, label);
        let key = dir.path().join("rust.key");
        let sig = dir.path().join("py.sig");
        let pubf = dir.path().join("py.pub");
        std::fs::write(&key, &pem).unwrap();
        peer_ok(&py, &["decrypt-sign", s(&key), s(&msg), s(&sig), s(&pubf)]);
        assert_eq!(
            std::fs::read_to_string(&pubf).unwrap(),
            k.public_key_pem(),
            "{alg:?}: Python derived another public key"
        );
        let pk = PublicKey::from_pem(&k.public_key_pem()).unwrap();
        pk.verify(&std::fs::read(&msg).unwrap(), &std::fs::read(&sig).unwrap())
            .unwrap_or_else(|e| panic!("{alg:?}: Python's signature does not verify: {e}"));
    }
    // The Python peer rejects a wrong password too (sanity check of the peer itself).
    let k = SigningKey::generate(SigningAlgorithm::default()).unwrap();
    let pem =
        cosign_key::encrypt_with(&k.to_pkcs8().unwrap(), b"other", ScryptCost::Legacy).unwrap();
    let key = dir.path().join("other.key");
    std::fs::write(&key, pem).unwrap();
    let o = peer(
        &py,
        &[
            "decrypt-sign",
            s(&key),
            s(&msg),
            s(&dir.path().join("x")),
            s(&dir.path().join("y")),
        ],
    );
    assert!(!o.status.success());
}

/// (b) Python encrypts in cosign's format; we decrypt and sign; Python verifies.
#[test]
fn we_decrypt_python_keys() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let msg = b"artifact bytes signed by rust";
    let msgf = dir.path().join("msg");
    std::fs::write(&msgf, msg).unwrap();
    for (alg, n, label, expect) in [
        (
            "p256",
            "65536",
            ENCRYPTED_SIGSTORE_LABEL,
            SigningAlgorithm::EcdsaP256Sha256,
        ),
        (
            "p384",
            "32768",
            ENCRYPTED_COSIGN_LABEL,
            SigningAlgorithm::EcdsaP384Sha384,
        ),
        (
            "ed25519",
            "65536",
            ENCRYPTED_SIGSTORE_LABEL,
            SigningAlgorithm::Ed25519,
        ),
    ] {
        let key = dir.path().join(format!("{alg}.key"));
        let pubf = dir.path().join(format!("{alg}.pub"));
        peer_ok(&py, &["generate", alg, n, label, s(&key), s(&pubf)]);
        let pem = std::fs::read_to_string(&key).unwrap();
        assert!(pem.contains(&format!("-----BEGIN {label}-----")));
        let k = cosign_key::load_private_key(&pem, Some(PASSWORD.as_bytes())).unwrap();
        assert_eq!(k.algorithm(), expect);
        assert_eq!(k.public_key_pem(), std::fs::read_to_string(&pubf).unwrap());
        let sig = dir.path().join(format!("{alg}.sig"));
        std::fs::write(&sig, k.sign(msg).unwrap()).unwrap();
        peer_ok(&py, &["verify", s(&pubf), s(&msgf), s(&sig)]);
        if expect == SigningAlgorithm::EcdsaP256Sha256 {
            assert!(matches!(
                cosign_key::decrypt(&pem, b"not the password").unwrap_err(),
                CosignKeyError::WrongPassword
            ));
            // A signature over other bytes fails Python's check (the peer is not a rubber stamp).
            std::fs::write(&sig, k.sign(b"something else").unwrap()).unwrap();
            assert!(
                !peer(&py, &["verify", s(&pubf), s(&msgf), s(&sig)])
                    .status
                    .success()
            );
        }
    }
}

/// Unencrypted PEM `PRIVATE KEY` (PKCS#8) and `EC PRIVATE KEY` (SEC1) written by Python.
#[test]
fn we_load_python_plain_keys() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let msgf = dir.path().join("msg");
    std::fs::write(&msgf, b"plain").unwrap();
    for (alg, fmt) in [
        ("p256", "sec1"),
        ("p384", "sec1"),
        ("p256", "pkcs8"),
        ("ed25519", "pkcs8"),
    ] {
        let key = dir.path().join("k.pem");
        let pubf = dir.path().join("k.pub");
        peer_ok(&py, &["generate-plain", alg, fmt, s(&key), s(&pubf)]);
        let k = cosign_key::load_private_key(&std::fs::read_to_string(&key).unwrap(), None)
            .unwrap_or_else(|e| panic!("{alg} {fmt}: {e}"));
        assert_eq!(k.public_key_pem(), std::fs::read_to_string(&pubf).unwrap());
        let sig = dir.path().join("k.sig");
        std::fs::write(&sig, k.sign(b"plain").unwrap()).unwrap();
        peer_ok(&py, &["verify", s(&pubf), s(&msgf), s(&sig)]);
    }
}
