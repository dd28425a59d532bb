//! An independent cosign verifier for vouch's legacy image signatures: sigstore-rs's `cosign`
//! module fetches `sha256-<hex>.sig` from the registry and checks each signature layer against a
//! public key. Prints how many layers verified; exit 0 only if at least one did.
//!
//! usage: cosign-verify-rs IMAGE_REF PUBLIC_KEY_PEM [--http]
#![allow(clippy::print_stdout)]

use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{ClientBuilder, CosignCapabilities};
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};
use sigstore::trust::ManualTrustRoot;
use std::process::ExitCode;
use std::str::FromStr;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(n) => {
            println!("sigstore-rs verified {n} signature layer(s)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sigstore-rs: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (image, key_path) = match args.as_slice() {
        [i, k, ..] => (i, k),
        _ => return Err("usage: cosign-verify-rs IMAGE_REF PUBLIC_KEY_PEM [--http]".into()),
    };
    let key = std::fs::read(key_path).map_err(|e| format!("cannot read {key_path}: {e}"))?;
    let image = OciReference::from_str(image).map_err(|e| format!("image reference: {e}"))?;
    let config = ClientConfig {
        protocol: if args.iter().any(|a| a == "--http") {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..ClientConfig::default()
    };
    let trust = ManualTrustRoot::default();
    let mut client = ClientBuilder::default()
        .with_oci_client_config(config)
        .with_trust_repository(&trust)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let layers = client
        .trusted_signature_layers(&Auth::Anonymous, &image)
        .await
        .map_err(|e| format!("fetching signature layers: {e}"))?;
    let verifier = PublicKeyVerifier::try_from(&key).map_err(|e| format!("public key: {e}"))?;
    let constraints: VerificationConstraintVec = vec![Box::new(verifier)];
    sigstore::cosign::verify_constraints(&layers, constraints.iter())
        .map_err(|e| format!("verification failed: {e:?}"))?;
    Ok(layers.len())
}
