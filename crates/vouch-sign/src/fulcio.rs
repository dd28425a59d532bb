//! Fulcio client: `POST {ca}/api/v2/signingCert` with a public key and a proof of possession
//! (the shape cosign and sigstore-js send), answered with a PEM chain, leaf first.

use crate::SignError;
use crate::http::HttpClient;
use crate::keys::EcdsaSigner;
use crate::token::IdentityToken;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vouch_core::fulcio;
use vouch_core::keys::pem_encode;
use vouch_core::x509::Certificate;

/// A certificate chain from the CA.
#[derive(Clone, Debug)]
pub struct IssuedChain {
    /// DER certificates, leaf first (the root may be absent).
    pub chain_der: Vec<Vec<u8>>,
    /// Whether the CA returned the SCT detached (not embedded in the leaf).
    pub detached_sct: bool,
}

/// Ask the CA at `ca_base` for a certificate binding `key` to the token's identity.
pub async fn request_certificate(
    http: &HttpClient,
    ca_base: &str,
    token: &IdentityToken,
    key: &EcdsaSigner,
) -> Result<IssuedChain, SignError> {
    let subject = token.subject()?;
    let pop = key.sign(subject.as_bytes())?;
    let body = fulcio::CreateSigningCertificateRequest {
        credentials: Some(fulcio::Credentials {
            oidc_identity_token: token.raw().to_string(),
        }),
        public_key_request: Some(fulcio::PublicKeyRequest {
            public_key: fulcio::PublicKey {
                algorithm: Some("ECDSA".into()),
                content: pem_encode("PUBLIC KEY", key.spki_der()),
            },
            proof_of_possession: STANDARD.encode(pop),
        }),
        certificate_signing_request: None,
    };
    let body = serde_json::to_vec(&body).map_err(SignError::Encode)?;
    let url = format!("{}/api/v2/signingCert", ca_base.trim_end_matches('/'));
    let resp = http
        .post(
            "CA",
            &url,
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body,
            &[],
        )
        .await?;
    let chain = parse_response(&resp.body)?;
    let leaf = Certificate::from_der(chain.chain_der.first().map(Vec::as_slice).unwrap_or(&[]))
        .map_err(|source| SignError::CaCertificate {
            what: "leaf certificate does not parse",
            source,
        })?;
    let leaf_spki = leaf.spki_der().map_err(|source| SignError::CaCertificate {
        what: "leaf certificate public key",
        source,
    })?;
    if leaf_spki != key.spki_der() {
        return Err(SignError::Ca(
            "the issued certificate is for a different public key".into(),
        ));
    }
    Ok(chain)
}

/// Parse a `SigningCertificate` JSON answer (either SCT shape).
pub fn parse_response(body: &[u8]) -> Result<IssuedChain, SignError> {
    let answer: fulcio::SigningCertificate = serde_json::from_slice(body).map_err(|_| {
        SignError::Ca(
            "answer is not a SigningCertificate (neither signedCertificateEmbeddedSct nor signedCertificateDetachedSct)"
                .into(),
        )
    })?;
    let detached = answer.is_detached();
    let certs = &answer.chain().certificates;
    let mut chain_der = Vec::new();
    for pem in certs {
        let parsed =
            Certificate::from_pem_chain(pem).map_err(|source| SignError::CaCertificate {
                what: "chain entry is not a PEM certificate",
                source,
            })?;
        chain_der.extend(parsed.iter().map(|c| c.der().to_vec()));
    }
    if chain_der.is_empty() {
        return Err(SignError::Ca("the chain is empty".into()));
    }
    Ok(IssuedChain {
        chain_der,
        detached_sct: detached,
    })
}
