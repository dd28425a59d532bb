//! Helpers shared by the log's HTTP tests: the Rekor API served on loopback, an ECDSA key, and
//! DER written by hand.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair,
};
use std::time::Duration;
use vouch_core::keys::{PublicKey, pem_encode};
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner, api};
use vouch_verify::Verifier;

/// A log `origin` with its key (`alg`) and storage in `dir`, served by the API router on a free
/// loopback port: (URL, the log, the server task).
pub async fn start_api(
    dir: &std::path::Path,
    origin: &str,
    alg: KeyAlgorithm,
) -> (String, Log<EmbeddedStorage>, tokio::task::JoinHandle<()>) {
    let storage = EmbeddedStorage::open(dir).unwrap();
    let signer = LogSigner::load_or_generate(dir, origin, alg).unwrap();
    let cfg = LogConfig {
        origin: origin.into(),
        batch_interval: Duration::from_millis(20),
        max_batch: 64,
        max_pending: 1024,
    };
    let log = Log::open(storage, signer, cfg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = api::router(log.clone());
    let h = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), log, h)
}

/// A verifier whose trusted root names `log` (at `https://ORIGIN`, valid from 2020) as its only
/// transparency log.
pub fn verifier_for(log: &Log<EmbeddedStorage>, origin: &str) -> Verifier {
    let trust = vouch_core::trust::TrustRoot::from_json(
        &serde_json::to_vec(&serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log.signer().trusted_root_entry(&format!("https://{origin}"), "2020-01-01T00:00:00Z")]
        }))
        .unwrap(),
    )
    .unwrap();
    Verifier::new(trust)
}

/// An ECDSA signing key.
pub struct Key(pub EcdsaKeyPair);

impl Key {
    pub fn new(alg: &'static EcdsaSigningAlgorithm) -> Self {
        Self(EcdsaKeyPair::generate(alg).unwrap())
    }
    pub fn p256() -> Self {
        Self::new(&ECDSA_P256_SHA256_ASN1_SIGNING)
    }
    pub fn spki(&self) -> Vec<u8> {
        self.0.public_key().as_der().unwrap().as_ref().to_vec()
    }
    pub fn pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.spki())
    }
    pub fn public(&self) -> PublicKey {
        PublicKey::from_spki_der(&self.spki()).unwrap()
    }
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0
            .sign(&SystemRandom::new(), msg)
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

/// A DER TLV with a definite length (up to 64 KiB of content).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// A DER SEQUENCE of `parts`.
pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}
