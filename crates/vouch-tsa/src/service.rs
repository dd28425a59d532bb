//! [`TsaService`]: the signing key, its certificate chain and the token template, loaded from (or
//! generated into) a data directory, or assembled from operator-provided parts.

use crate::TsaError;
use crate::api::Metrics;
use crate::cert::{Signer, TsaKeyAlgorithm, generate_chain, raw_leaf};
use crate::request::{RequestError, TimestampRequest};
use crate::token::{IssuedToken, TokenTemplate};
use der::Decode;
use der::asn1::ObjectIdentifier;
use std::path::Path;
use std::time::{Duration, SystemTime};
use vouch_core::keys::{pem_blocks, pem_decode, pem_encode};
use vouch_core::tsa::TsaVerifier;

/// The Sigstore TSA policy arc, the default `TSTInfo.policy`.
pub const DEFAULT_POLICY_OID: &str = "1.3.6.1.4.1.57264.2";

/// File name of the signing key (PKCS#8 PEM, mode 0600) in the data directory.
pub const KEY_FILE: &str = "tsa.key";

/// File name of the certificate chain (PEM, leaf first) in the data directory.
pub const CHAIN_FILE: &str = "chain.pem";

/// Options of a [`TsaService`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TsaOptions {
    /// Curve of a generated key (ignored when a key is loaded).
    pub key_algorithm: TsaKeyAlgorithm,
    /// `TSTInfo.policy` (dotted OID); requests naming another policy are refused.
    pub policy: String,
    /// Organization (O) of generated certificates.
    pub organization: String,
    /// Common name (CN) of the generated leaf (the root gets `"<cn> root"`).
    pub common_name: String,
    /// Lifetime of generated certificates.
    pub validity: Duration,
    /// Put the TSA's name (leaf subject) in `TSTInfo.tsa`.
    pub include_tsa_name: bool,
    /// `TSTInfo.accuracy.seconds` (genTime is truncated to whole seconds); `None` omits it.
    pub accuracy_seconds: Option<u32>,
}

impl Default for TsaOptions {
    fn default() -> Self {
        TsaOptions {
            key_algorithm: TsaKeyAlgorithm::EcdsaP256,
            policy: DEFAULT_POLICY_OID.into(),
            organization: "vouch".into(),
            common_name: "vouch TSA".into(),
            validity: Duration::from_secs(10 * 365 * 24 * 3600),
            include_tsa_name: true,
            accuracy_seconds: Some(1),
        }
    }
}

/// A timestamp authority: signing key, chain (leaf first) and token template.
pub struct TsaService {
    signer: Signer,
    chain_der: Vec<Vec<u8>>,
    chain_pem: String,
    template: TokenTemplate,
    verifier: TsaVerifier,
    metrics: Metrics,
}

impl std::fmt::Debug for TsaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsaService")
            .field("alg", &self.signer.alg)
            .field("policy", &self.template.policy().to_string())
            .field("chain_len", &self.chain_der.len())
            .finish()
    }
}

fn storage(path: &Path, what: &'static str, source: std::io::Error) -> TsaError {
    TsaError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Write through the one durable-write helper; mode 0600 when `private`.
fn write_durably(path: &Path, data: &[u8], private: bool) -> Result<(), TsaError> {
    let access = if private {
        vouch_fs::Access::Private
    } else {
        vouch_fs::Access::Public
    };
    Ok(vouch_fs::write_durably(path, data, access)?)
}

impl TsaService {
    /// Load `tsa.key` and `chain.pem` from `data_dir`, or on first start generate an ECDSA key
    /// (`opts.key_algorithm`) and a root + TSA leaf chain and store them durably (key mode 0600).
    /// Fails if only one of the two files exists.
    pub fn load_or_generate(data_dir: &Path, opts: &TsaOptions) -> Result<Self, TsaError> {
        let key_path = data_dir.join(KEY_FILE);
        let chain_path = data_dir.join(CHAIN_FILE);
        match (key_path.exists(), chain_path.exists()) {
            (true, true) => {
                let key_pem = std::fs::read_to_string(&key_path)
                    .map_err(|e| storage(&key_path, "read", e))?;
                let pkcs8 =
                    pem_decode(&key_pem, &["PRIVATE KEY"]).map_err(|source| TsaError::KeyPem {
                        path: key_path.clone(),
                        source,
                    })?;
                let chain_pem = std::fs::read_to_string(&chain_path)
                    .map_err(|e| storage(&chain_path, "read", e))?;
                let chain = parse_pem_chain(&chain_pem).map_err(|e| TsaError::ChainFile {
                    path: chain_path.clone(),
                    source: Box::new(e),
                })?;
                Self::from_parts(&pkcs8, &chain, opts)
            }
            (false, false) => {
                let g = generate_chain(
                    opts.key_algorithm,
                    &opts.organization,
                    &opts.common_name,
                    opts.validity,
                )?;
                let pkcs8 = g.signer.to_pkcs8()?;
                let chain = vec![g.leaf_der, g.root_der];
                let service = Self::from_parts(&pkcs8, &chain, opts)?;
                write_durably(
                    &key_path,
                    pem_encode("PRIVATE KEY", &pkcs8).as_bytes(),
                    true,
                )?;
                write_durably(&chain_path, service.chain_pem.as_bytes(), false)?;
                Ok(service)
            }
            (true, false) => Err(TsaError::Storage(format!(
                "{} exists but {} does not: restore the chain, or remove the key to generate a new authority",
                key_path.display(),
                chain_path.display()
            ))),
            (false, true) => Err(TsaError::Storage(format!(
                "{} exists but {} does not: restore the key, or remove the chain to generate a new authority",
                chain_path.display(),
                key_path.display()
            ))),
        }
    }

    /// Assemble from an operator-provided PKCS#8 DER ECDSA P-256/P-384 key and its chain (DER,
    /// leaf first). The chain is validated like a verifier would (signatures, CA constraints,
    /// id-kp-timeStamping on the leaf), the leaf must hold the key's public key, and one token is
    /// issued and verified as a self-test.
    pub fn from_parts(
        pkcs8_der: &[u8],
        chain_der: &[Vec<u8>],
        opts: &TsaOptions,
    ) -> Result<Self, TsaError> {
        let signer = Signer::from_pkcs8(pkcs8_der)?;
        let leaf_der = chain_der
            .first()
            .ok_or_else(|| TsaError::Certificate("empty certificate chain".into()))?;
        let leaf = raw_leaf(leaf_der)?;
        if leaf.spki != signer.spki_der()? {
            return Err(TsaError::Certificate(
                "the leaf certificate's public key is not the signing key's".into(),
            ));
        }
        let verifier = TsaVerifier::new(chain_der).map_err(|source| TsaError::Chain {
            what: "unusable TSA chain",
            source,
        })?;
        let policy = ObjectIdentifier::new(&opts.policy).map_err(|_| {
            TsaError::Config(format!("policy {:?} is not a dotted OID", opts.policy))
        })?;
        let template = TokenTemplate::new(
            &signer,
            chain_der,
            &leaf,
            policy,
            opts.include_tsa_name,
            opts.accuracy_seconds,
        )?;
        let chain_pem = chain_der
            .iter()
            .map(|c| pem_encode("CERTIFICATE", c))
            .collect::<String>();
        let service = TsaService {
            signer,
            chain_der: chain_der.to_vec(),
            chain_pem,
            template,
            verifier,
            metrics: Metrics::new(),
        };
        // Self-test: a token for a fixed imprint must verify against the chain.
        let probe = b"vouch-tsa self-test";
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, probe);
        let req = TimestampRequest::new(crate::HashAlgorithm::Sha256, digest.as_ref().to_vec())
            .map_err(TsaError::Request)?;
        let token = service
            .template
            .issue(&service.signer, &req, SystemTime::now())?;
        service
            .verifier
            .verify(&token.response_der, probe)
            .map_err(|source| TsaError::Chain {
                what: "self-test token does not verify",
                source,
            })?;
        Ok(service)
    }

    /// Issue a token for `req` now: the DER `TimeStampResp` (status granted) and its details.
    /// Fails with [`TsaError::Request`] if the request names another policy.
    pub fn issue(&self, req: &TimestampRequest) -> Result<IssuedToken, TsaError> {
        if let Some(p) = &req.policy
            && *p != self.template.policy().to_string()
        {
            return Err(TsaError::Request(RequestError::new(format!(
                "requested policy {p} is not this authority's policy {}",
                self.template.policy()
            ))));
        }
        self.template.issue(&self.signer, req, SystemTime::now())
    }

    /// Parse a DER `TimeStampReq` and issue: the DER `TimeStampResp`.
    pub fn timestamp_der(&self, request_der: &[u8]) -> Result<Vec<u8>, TsaError> {
        let req = TimestampRequest::from_der(request_der)?;
        Ok(self.issue(&req)?.response_der)
    }

    /// Parse a JSON request and issue: the DER `TimeStampResp`.
    pub fn timestamp_json(&self, body: &[u8]) -> Result<Vec<u8>, TsaError> {
        let req = TimestampRequest::from_json(body)?;
        Ok(self.issue(&req)?.response_der)
    }

    /// The chain (DER), leaf first.
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain_der
    }

    /// The chain as PEM, leaf first (the `/api/v1/timestamp/certchain` body).
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    /// `TSTInfo.policy`, dotted.
    pub fn policy(&self) -> String {
        self.template.policy().to_string()
    }

    /// The leaf certificate's notBefore as RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`): a natural
    /// `validFor.start` for [`TsaService::trusted_root_entry`].
    pub fn valid_from(&self) -> String {
        self.chain_der
            .first()
            .and_then(|d| x509_cert::Certificate::from_der(d).ok())
            .map(|c| {
                c.tbs_certificate()
                    .validity()
                    .not_before
                    .to_date_time()
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// The signing key's curve.
    pub fn key_algorithm(&self) -> TsaKeyAlgorithm {
        self.signer.alg
    }

    /// A verifier for this authority's tokens (built from its chain).
    pub fn verifier(&self) -> &TsaVerifier {
        &self.verifier
    }

    /// The service metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A Sigstore TrustedRoot `timestampAuthorities[]` element for this authority, reachable at
    /// `uri`, valid from `valid_from` (RFC 3339). `subject` is the root certificate's O and CN.
    pub fn trusted_root_entry(
        &self,
        uri: &str,
        valid_from: &str,
    ) -> vouch_core::trust::CertificateAuthorityJson {
        use vouch_core::bundle::{X509Certificate, X509CertificateChain};
        use vouch_core::encoding::Base64Bytes;
        use vouch_core::trust::{CertificateAuthorityJson, DistinguishedNameJson, TimeRangeJson};
        let (organization, common_name) = self
            .chain_der
            .last()
            .and_then(|d| x509_cert::Certificate::from_der(d).ok())
            .map(|c| {
                let name = c.tbs_certificate().subject();
                let get = |v: der::Result<Option<x509_cert::ext::pkix::name::DirectoryString>>| {
                    v.ok()
                        .flatten()
                        .map(|s| s.value().into_owned())
                        .unwrap_or_default()
                };
                (get(name.organization()), get(name.common_name()))
            })
            .unwrap_or_default();
        CertificateAuthorityJson {
            subject: DistinguishedNameJson {
                organization,
                common_name,
            },
            uri: uri.to_string(),
            cert_chain: X509CertificateChain {
                certificates: self
                    .chain_der
                    .iter()
                    .map(|c| X509Certificate {
                        raw_bytes: Base64Bytes(c.clone()),
                    })
                    .collect(),
            },
            valid_for: Some(TimeRangeJson {
                start: Some(valid_from.to_string()),
                end: None,
            }),
            operator: String::new(),
        }
    }
}

/// All `CERTIFICATE` blocks of a PEM chain, in order.
pub fn parse_pem_chain(pem: &str) -> Result<Vec<Vec<u8>>, TsaError> {
    let chain: Vec<Vec<u8>> = pem_blocks(pem)
        .map_err(TsaError::ChainPem)?
        .into_iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| der)
        .collect();
    if chain.is_empty() {
        return Err(TsaError::Certificate("no CERTIFICATE PEM block".into()));
    }
    Ok(chain)
}
