//! A Rekor v1 upload whose first answer was lost is retried by the client; the log then
//! answers 409 Conflict with `Location`. The client must fetch and return the existing entry
//! instead of failing (issue 11). Exercised against the real v1 API of `vouch-log`.

use std::time::Duration;
use vouch_core::keys::HashKind;
use vouch_log::{EmbeddedStorage, KeyAlgorithm, Log, LogConfig, LogSigner, api};
use vouch_sign::EcdsaSigner;
use vouch_sign::http::HttpClient;
use vouch_sign::rekor::{Record, VerifierMaterial, upload_v1};

#[tokio::test]
async fn a_repeated_v1_upload_returns_the_existing_entry() {
    let dir = tempfile::tempdir().unwrap();
    let origin = "log.vouch.test/conflict";
    let storage = EmbeddedStorage::open(dir.path()).unwrap();
    let signer = LogSigner::load_or_generate(dir.path(), origin, KeyAlgorithm::EcdsaP256).unwrap();
    let cfg = LogConfig {
        origin: origin.into(),
        batch_interval: Duration::from_millis(20),
        max_batch: 64,
        max_pending: 1024,
    };
    let log = Log::open(storage, signer, cfg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = api::router(log.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });

    let key = EcdsaSigner::generate(vouch_sign::keys::Curve::P256).unwrap();
    let digest = HashKind::Sha256.digest(b"the artifact");
    let signature = key.sign_digest(&digest).unwrap();
    let record = Record::Hashed {
        digest: &digest,
        algorithm: "sha256",
        signature: &signature,
    };
    let vm = VerifierMaterial::PublicKey(key.spki_der().to_vec());
    let http = HttpClient::new().unwrap();
    let first = upload_v1(&http, &base, &record, &vm).await.unwrap();
    // The same bytes again, as a retry after a lost answer sends them.
    let again = upload_v1(&http, &base, &record, &vm)
        .await
        .expect("a 409 for an existing entry is answered with that entry");
    assert_eq!(again.log_index.0, first.log_index.0);
    assert_eq!(
        again.canonicalized_body.as_slice(),
        first.canonicalized_body.as_slice()
    );
    assert!(again.inclusion_promise.is_some() || again.inclusion_proof.is_some());
}
