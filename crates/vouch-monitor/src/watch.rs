//! Who signed an entry, and whether that matches the watch list.
//!
//! Every entry kind the log stores is read through [`vouch_core::rekor::EntryBody`]:
//! hashedrekord 0.0.1 and 0.0.2, dsse 0.0.1 and intoto 0.0.2. Each signer's certificate or public
//! key is extracted; certificates are matched on every SAN, the OIDC issuer (1.8, else the
//! deprecated 1.1) and the OID extensions, as rekor-monitor does; fingerprints are the hex
//! SHA-256 of the DER certificate, or of the DER public key for key entries.

use crate::config::{OidMatcher, WatchList};
use aws_lc_rs::digest;
use der::Decode;
use der::asn1::{Ia5StringRef, PrintableStringRef, Utf8StringRef};
use serde::{Deserialize, Serialize};
use vouch_core::keys::pem_encode;
use vouch_core::x509::Certificate;

pub use vouch_core::rekor::{EntryInfo, EntryInfoError as EntryError, Signer};

/// The watched value an entry matched, in rekor-monitor's JSON shape (`type` plus the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Watched {
    /// A `certIdentities` item.
    #[serde(rename_all = "camelCase")]
    CertIdentity {
        /// The subject regex.
        cert_subject: String,
        /// The issuer regexes.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        issuers: Vec<String>,
    },
    /// A `subjects` item.
    Subject {
        /// The regex.
        subject: String,
    },
    /// A `fingerprints` item.
    Fingerprint {
        /// The fingerprint.
        fingerprint: String,
    },
    /// An OID matcher.
    #[serde(rename_all = "camelCase")]
    OidExtension {
        /// Dotted OID.
        oid: String,
        /// Values that match.
        extension_values: Vec<String>,
    },
}

/// One match of one signer against one watched value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Match {
    /// The watched value.
    pub watched: Watched,
    /// The SAN that matched (certificate identities and subjects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_subject: Option<String>,
    /// The certificate's OIDC issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Hex SHA-256 of the DER certificate or public key.
    pub fingerprint: String,
    /// The extension value that matched (OID matchers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_value: Option<String>,
    /// The signer's certificate (PEM), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The signer's public key (PEM), for key entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// An extension value as text: a DER string if it is one, else the raw bytes (the deprecated
/// Fulcio extensions 1.1–1.6 hold raw UTF-8).
fn extension_text(value: &[u8]) -> Option<String> {
    if let Ok(s) = Utf8StringRef::from_der(value) {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = Ia5StringRef::from_der(value) {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = PrintableStringRef::from_der(value) {
        return Some(s.as_str().to_string());
    }
    std::str::from_utf8(value).ok().map(str::to_string)
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, b))
}

impl WatchList {
    /// Every match of the entry's signers against the watch list (empty when none).
    pub fn matches(&self, entry: &EntryInfo) -> Vec<Match> {
        let mut out = Vec::new();
        for signer in &entry.signers {
            let (der, is_cert) = match signer {
                Signer::Certificate(d) => (d, true),
                Signer::PublicKey(d) => (d, false),
            };
            let fingerprint = if self.fingerprints.is_empty() {
                None
            } else {
                Some(sha256_hex(der))
            };
            let base = |watched: Watched| Match {
                watched,
                cert_subject: None,
                issuer: None,
                fingerprint: fingerprint.clone().unwrap_or_else(|| sha256_hex(der)),
                extension_value: None,
                certificate: is_cert.then(|| pem_encode("CERTIFICATE", der)),
                public_key: (!is_cert).then(|| pem_encode("PUBLIC KEY", der)),
            };
            if let Some(fp) = &fingerprint {
                for f in &self.fingerprints {
                    if f == fp {
                        out.push(base(Watched::Fingerprint {
                            fingerprint: f.clone(),
                        }));
                    }
                }
            }
            if !is_cert || !self.needs_certificates() {
                continue;
            }
            let Ok(cert) = Certificate::from_der(der) else {
                continue;
            };
            let sans = cert.subject_alt_names().unwrap_or_default();
            let issuer = cert.fulcio_identity().ok().and_then(|i| i.issuer);
            for c in &self.cert_identities {
                // rekor-monitor: the last SAN that matches is reported; no issuer, no match.
                let Some(iss) = &issuer else { continue };
                let Some(san) = sans.iter().rev().find(|s| c.subject.is_match(s)) else {
                    continue;
                };
                if !c.issuers.is_empty() && !c.issuers.iter().any(|r| r.is_match(iss)) {
                    continue;
                }
                let mut m = base(Watched::CertIdentity {
                    cert_subject: c.config.cert_subject.clone(),
                    issuers: c.config.issuers.clone(),
                });
                m.cert_subject = Some(san.clone());
                m.issuer = Some(iss.clone());
                out.push(m);
            }
            for s in &self.subjects {
                for san in sans.iter().filter(|x| s.regex.is_match(x)) {
                    let mut m = base(Watched::Subject {
                        subject: s.pattern.clone(),
                    });
                    m.cert_subject = Some(san.clone());
                    m.issuer = issuer.clone();
                    out.push(m);
                }
            }
            for OidMatcher { oid, values } in &self.oids {
                let Some(text) = cert.extension_value(oid).and_then(extension_text) else {
                    continue;
                };
                if values.contains(&text) {
                    let mut m = base(Watched::OidExtension {
                        oid: oid.clone(),
                        extension_values: values.clone(),
                    });
                    m.extension_value = Some(text);
                    m.issuer = issuer.clone();
                    out.push(m);
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_v2_public_key_entries_and_fingerprints() {
        let spki = b"not really a key".to_vec();
        let body = format!(
            r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"SHA2_256","digest":"{}"}},"signature":{{"content":"AAAA","verifier":{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{{"rawBytes":"{}"}}}}}}}}}}}}"#,
            vouch_core::encoding::b64_encode(&[7u8; 32]),
            vouch_core::encoding::b64_encode(&spki)
        );
        let e = EntryInfo::parse(body.as_bytes()).unwrap();
        assert_eq!(e.kind, "hashedrekord");
        assert_eq!(
            e.digest.as_deref(),
            Some(&*format!("sha256:{}", "07".repeat(32)))
        );
        assert_eq!(e.signers, vec![Signer::PublicKey(spki.clone())]);
        let cfg = crate::config::Config::parse(
            format!(
                "monitoredValues:\n  fingerprints: [{}]\n",
                sha256_hex(&spki).to_uppercase()
            )
            .as_bytes(),
        )
        .unwrap();
        let m = cfg.watch.matches(&e);
        assert_eq!(m.len(), 1);
        assert!(m[0].public_key.is_some());
        assert!(EntryInfo::parse(b"{}").is_err());
    }

    #[test]
    fn reads_dsse_and_intoto_signers() {
        use vouch_core::encoding::b64_encode;
        let der = b"key bytes".to_vec();
        let pem = b64_encode(pem_encode("PUBLIC KEY", &der).as_bytes());
        let h = "ab".repeat(32);
        let dsse = format!(
            r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"payloadHash":{{"algorithm":"sha256","value":"{h}"}},"signatures":[{{"signature":"AAAA","verifier":"{pem}"}}]}}}}"#
        );
        let e = EntryInfo::parse(dsse.as_bytes()).unwrap();
        assert_eq!((e.kind.as_str(), e.version.as_str()), ("dsse", "0.0.1"));
        assert_eq!(e.digest.as_deref(), Some(&*format!("sha256:{h}")));
        assert_eq!(e.signers, vec![Signer::PublicKey(der.clone())]);
        let sig = b64_encode(b"AAAA");
        let intoto = format!(
            r#"{{"apiVersion":"0.0.2","kind":"intoto","spec":{{"content":{{"envelope":{{"payloadType":"application/vnd.in-toto+json","signatures":[{{"sig":"{sig}","publicKey":"{pem}"}}]}},"payloadHash":{{"algorithm":"sha256","value":"{h}"}}}}}}}}"#
        );
        let e = EntryInfo::parse(intoto.as_bytes()).unwrap();
        assert_eq!((e.kind.as_str(), e.version.as_str()), ("intoto", "0.0.2"));
        assert_eq!(e.signers, vec![Signer::PublicKey(der)]);
    }
}
