//! Fulcio v2 REST API messages (`fulcio.proto` as its gRPC gateway maps it to JSON, field
//! names in lowerCamelCase), declared once for the CA that answers them and the clients
//! that send them: `POST /api/v2/signingCert`, `GET /api/v2/trustBundle` and
//! `GET /api/v2/configuration`.
//!
//! Parsing is lenient the way protobuf JSON is: absent fields take their defaults and
//! unknown fields are ignored, so that requests from cosign, sigstore-python and sigstore-js
//! (which differ in what they send) all parse.

use serde::{Deserialize, Serialize};

/// `CreateSigningCertificateRequest`: an identity token and either a public key with proof
/// of possession, or a PKCS#10 CSR (PEM).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSigningCertificateRequest {
    /// The OIDC credentials (the token may instead come in an `Authorization` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// A public key and a signature over the token's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_request: Option<PublicKeyRequest>,
    /// A PEM PKCS#10 certificate signing request, as cosign sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_signing_request: Option<String>,
}

/// `Credentials`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The raw OIDC identity token (a JWT).
    #[serde(default)]
    pub oidc_identity_token: String,
}

/// `PublicKeyRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyRequest {
    /// The key to certify.
    pub public_key: PublicKey,
    /// Base64 signature by that key over the token's subject (or email) claim.
    #[serde(default)]
    pub proof_of_possession: String,
}

/// `PublicKey`: a PEM `PUBLIC KEY` and an optional algorithm name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    /// `ECDSA`, `ED25519`, `RSA_PSS`… (informational: the key itself says what it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    #[serde(default)]
    pub content: String,
}

/// `SigningCertificate`: the issued chain, with the SCT embedded in the leaf or detached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SigningCertificate {
    /// The leaf carries its SCTs in the embedded SCT list extension.
    SignedCertificateEmbeddedSct {
        /// Leaf first, then the issuing CA.
        chain: CertificateChain,
    },
    /// The SCT comes beside the chain.
    #[serde(rename_all = "camelCase")]
    SignedCertificateDetachedSct {
        /// Leaf first, then the issuing CA.
        chain: CertificateChain,
        /// Base64 of the CT log's JSON `add-chain` answer ([`crate::ct::AddChainResponse`]).
        signed_certificate_timestamp: String,
    },
}

impl SigningCertificate {
    /// The chain, whichever SCT shape.
    pub fn chain(&self) -> &CertificateChain {
        match self {
            SigningCertificate::SignedCertificateEmbeddedSct { chain }
            | SigningCertificate::SignedCertificateDetachedSct { chain, .. } => chain,
        }
    }

    /// Whether the SCT is detached (not embedded in the leaf).
    pub fn is_detached(&self) -> bool {
        matches!(
            self,
            SigningCertificate::SignedCertificateDetachedSct { .. }
        )
    }
}

/// `CertificateChain`: PEM certificates, leaf (or issuing CA) first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateChain {
    /// One PEM `CERTIFICATE` block per entry.
    #[serde(default)]
    pub certificates: Vec<String>,
}

/// `TrustBundle`: the chains a CA issues under.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustBundle {
    /// Issuing CA first, root last, in each chain.
    #[serde(default)]
    pub chains: Vec<CertificateChain>,
}

/// `Configuration`: the OIDC issuers a CA accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Configuration {
    /// One entry per issuer or wildcard issuer pattern.
    #[serde(default)]
    pub issuers: Vec<OidcIssuer>,
}

/// `OIDCIssuer`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcIssuer {
    /// The issuer URL (exactly one of this and `wildcard_issuer_url` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
    /// A wildcard issuer pattern (meta issuers, e.g. `https://oidc.eks.*.amazonaws.com/id/*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard_issuer_url: Option<String>,
    /// The audience tokens must carry.
    #[serde(default)]
    pub audience: String,
    /// The claim the proof of possession signs (`email` or `sub`).
    #[serde(default)]
    pub challenge_claim: String,
    /// Fulcio's issuer type (`email`, `github-workflow`, `spiffe`, `uri`, …).
    #[serde(default)]
    pub issuer_type: String,
    /// For SPIFFE issuers: the trust domain identities must belong to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub spiffe_trust_domain: String,
    /// For `uri`/`username` issuers: the domain identities must belong to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject_domain: String,
    /// Whether the `email_verified` claim is not required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_email_verification: bool,
}

/// The error body of a gRPC gateway (Fulcio, Rekor v2): a gRPC status code and a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// gRPC status code (3 invalid argument, 16 unauthenticated, 13 internal, …).
    #[serde(default)]
    pub code: i32,
    /// What went wrong.
    #[serde(default)]
    pub message: String,
    /// Always empty here; kept for the gateway's shape.
    #[serde(default)]
    pub details: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_certificate_shapes() {
        let embedded: SigningCertificate = serde_json::from_str(
            r#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":["a","b"]}}}"#,
        )
        .unwrap();
        assert!(!embedded.is_detached());
        assert_eq!(embedded.chain().certificates, ["a", "b"]);
        let detached = SigningCertificate::SignedCertificateDetachedSct {
            chain: CertificateChain {
                certificates: vec!["a".into()],
            },
            signed_certificate_timestamp: "c2N0".into(),
        };
        let json = serde_json::to_string(&detached).unwrap();
        assert_eq!(
            json,
            r#"{"signedCertificateDetachedSct":{"chain":{"certificates":["a"]},"signedCertificateTimestamp":"c2N0"}}"#
        );
        assert!(serde_json::from_str::<SigningCertificate>(r#"{"other":{}}"#).is_err());
    }

    #[test]
    fn requests_parse_leniently_and_serialize_sparsely() {
        let r: CreateSigningCertificateRequest = serde_json::from_str(
            r#"{"credentials":{"oidcIdentityToken":"t"},"publicKeyRequest":{"publicKey":{"content":"P"},"proofOfPossession":"x"},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(r.credentials.as_ref().unwrap().oidc_identity_token, "t");
        assert_eq!(
            r.public_key_request.as_ref().unwrap().public_key.algorithm,
            None
        );
        let back = serde_json::to_string(&r).unwrap();
        assert!(!back.contains("certificateSigningRequest"));
        let issuer = OidcIssuer {
            issuer_url: Some("https://i".into()),
            audience: "sigstore".into(),
            challenge_claim: "email".into(),
            issuer_type: "email".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&issuer).unwrap(),
            r#"{"issuerUrl":"https://i","audience":"sigstore","challengeClaim":"email","issuerType":"email"}"#
        );
    }
}
