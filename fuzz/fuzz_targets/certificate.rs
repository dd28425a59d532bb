//! DER certificates: parse, read every field the verifier reads, the Fulcio identity, the
//! embedded SCTs (and their signatures against the public-good CT logs), the precertificate TBS,
//! and a signature check against the public-good Fulcio intermediate. The raw input is also fed
//! to the TLS SCT-list parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vouch_core::keys::HashKind;
use vouch_core::sct;
use vouch_core::trust::TrustRoot;
use vouch_core::x509::{self, Certificate, EKU_CODE_SIGNING};

fn root() -> &'static TrustRoot {
    static ROOT: OnceLock<TrustRoot> = OnceLock::new();
    ROOT.get_or_init(|| TrustRoot::public_good().expect("embedded public-good root"))
}

fuzz_target!(|data: &[u8]| {
    let _ = sct::parse_sct_list(data);

    let Ok(cert) = Certificate::from_der(data) else {
        return;
    };
    let _ = cert.subject();
    let _ = cert.issuer();
    let _ = cert.serial_hex();
    let _ = cert.not_before();
    let _ = cert.not_after();
    let _ = cert.is_self_issued();
    let _ = cert.is_ca();
    let _ = cert.has_digital_signature_usage();
    let _ = cert.has_eku("1.3.6.1.5.5.7.3.3");
    let _ = cert.extensions().count();
    let _ = cert.public_key();
    let _ = cert.fulcio_identity();
    let tbs = sct::precert_tbs_der(&cert);
    let scts = sct::embedded_scts(&cert);

    let root = root();
    for ca in &root.cas {
        if let Some(issuer) = ca.chain.first()
            && cert.names_issuer(issuer)
        {
            let _ = cert.verify_signed_by(issuer);
            let _ = x509::verify_leaf(&cert, issuer, cert.not_before(), EKU_CODE_SIGNING);
        }
    }
    if let (Ok(tbs), Ok(scts)) = (tbs, scts) {
        let issuer_spki = root
            .cas
            .iter()
            .filter_map(|ca| ca.chain.first())
            .find(|i| cert.names_issuer(i))
            .and_then(|i| i.spki_der().ok());
        if let Some(spki) = issuer_spki {
            let hash: [u8; 32] = HashKind::Sha256.digest(&spki).try_into().unwrap_or([0; 32]);
            for s in &scts {
                if let Some(key) = root.ctlog_by_id(&s.log_id).and_then(|l| l.key.as_ref()) {
                    let _ = sct::verify_sct(s, key, &hash, &tbs);
                }
            }
        }
    }
});
