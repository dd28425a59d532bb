//! An operator-provided CA loaded from PEM files (the "file CA" signer backend).
//!
//! The chain file holds the issuing CA certificate first and the self-signed root last
//! (exactly two certificates); the key file holds the issuing CA's ECDSA P-256 or P-384 key as
//! PKCS#8 (`PRIVATE KEY`) or password-encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, PBES2 as
//! written by `openssl pkcs8 -topk8 -v2 aes-256-cbc` or with scrypt). At load time the key
//! must match the issuing certificate, both certificates must be CAs (basicConstraints
//! cA=TRUE) with keyCertSign, currently valid, and the issuing certificate must verify under
//! the root.

use crate::cert::{CaError, CaSigner, IssuingCa};
use der::Decode;
use vouch_core::keys::pem_decode;
use vouch_core::x509::Certificate;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

/// Whether `key_pem` holds an `ENCRYPTED PRIVATE KEY` block.
pub fn is_encrypted_key(key_pem: &str) -> bool {
    key_pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
}

/// The PKCS#8 DER of a `PRIVATE KEY` or (with `password`) `ENCRYPTED PRIVATE KEY` PEM.
pub fn pkcs8_from_pem(key_pem: &str, password: Option<&str>) -> Result<Vec<u8>, CaError> {
    if is_encrypted_key(key_pem) {
        let der = pem_decode(key_pem, &["ENCRYPTED PRIVATE KEY"]).map_err(CaError::KeyPem)?;
        let password = password.ok_or_else(|| {
            CaError::Key(
                "the CA key is encrypted (ENCRYPTED PRIVATE KEY) and no password was given".into(),
            )
        })?;
        let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(&der)
            .map_err(CaError::KeyNotEncryptedPkcs8)?;
        let doc = info.decrypt(password).map_err(CaError::KeyDecrypt)?;
        Ok(doc.as_bytes().to_vec())
    } else {
        pem_decode(key_pem, &["PRIVATE KEY"]).map_err(CaError::KeyPem)
    }
}

fn key_cert_sign(cert: &Certificate) -> bool {
    matches!(
        cert.inner().tbs_certificate().get_extension::<KeyUsage>(),
        Ok(Some((_, ku))) if ku.0.contains(KeyUsages::KeyCertSign)
    )
}

fn check_ca_cert(cert: &Certificate, what: &str) -> Result<(), CaError> {
    if !cert.is_ca() {
        return Err(CaError::BadCaCertificate(format!(
            "the {what} certificate ({}) is not a CA (basicConstraints cA=TRUE missing)",
            cert.subject()
        )));
    }
    if !key_cert_sign(cert) {
        return Err(CaError::BadCaCertificate(format!(
            "the {what} certificate ({}) lacks keyUsage keyCertSign",
            cert.subject()
        )));
    }
    cert.check_valid_at(vouch_core::time::Instant::now())
        .map_err(|e| CaError::CaCertificate {
            context: format!(
                "the {what} certificate ({}) is not valid now",
                cert.subject()
            ),
            source: Box::new(e),
        })
}

/// Load and check an operator-provided CA: `chain_pem` = issuing CA certificate then root,
/// `key_pem` = the issuing CA's key (optionally encrypted, then `password` is required).
/// Returns the root certificate (DER) and the issuing CA.
pub fn load_pem_ca(
    chain_pem: &str,
    key_pem: &str,
    password: Option<&str>,
) -> Result<(Vec<u8>, IssuingCa), CaError> {
    let pkcs8 = pkcs8_from_pem(key_pem, password)?;
    let signer = CaSigner::from_pkcs8(&pkcs8)?;
    load_ca_with_signer(chain_pem, signer)
}

/// Build the issuing CA from an operator's chain (issuing CA, then root) and a signer holding
/// the issuing CA's key (e.g. [`CaSigner::from_pkcs11_uri`] for a key on an HSM), with the
/// same checks as [`load_pem_ca`].
pub fn load_ca_with_signer(
    chain_pem: &str,
    signer: CaSigner,
) -> Result<(Vec<u8>, IssuingCa), CaError> {
    let chain = Certificate::from_pem_chain(chain_pem).map_err(|e| CaError::CaCertificate {
        context: "the CA chain PEM does not parse".into(),
        source: Box::new(e),
    })?;
    let [issuing, root] = chain.as_slice() else {
        return Err(CaError::BadCaCertificate(format!(
            "the CA chain must hold exactly two certificates, the issuing CA then the root; it holds {}",
            chain.len()
        )));
    };
    check_ca_cert(issuing, "issuing CA")?;
    check_ca_cert(root, "root")?;
    if !root.is_self_issued() {
        return Err(CaError::BadCaCertificate(format!(
            "the last certificate of the chain ({}) is not a self-signed root",
            root.subject()
        )));
    }
    root.verify_signed_by(root)
        .map_err(|e| CaError::CaCertificate {
            context: "the root's self-signature does not verify".into(),
            source: Box::new(e),
        })?;
    issuing
        .verify_signed_by(root)
        .map_err(|e| CaError::CaCertificate {
            context: format!(
                "the issuing CA certificate ({}) does not verify under the root ({})",
                issuing.subject(),
                root.subject()
            ),
            source: Box::new(e),
        })?;
    let ca = IssuingCa::new(signer, issuing.der())?;
    Ok((root.der().to_vec(), ca))
}
