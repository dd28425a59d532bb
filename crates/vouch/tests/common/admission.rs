//! The admission webhook as the Kubernetes API server drives it: a test CA and serving
//! certificate for the Service name, `vouch admission serve` on a free port, and an HTTPS
//! client verifying it against caBundle with SNI = the Service name resolved to 127.0.0.1.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{line_channel, vouch};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use vouch_admission::review::{ResponseReview, ReviewResponse};

/// The Service name the serving certificate is for.
pub const SERVICE_NAME: &str = "vouch-admission.vouch-system.svc";

/// A test CA and a serving certificate for the Service name; returns (ca.crt, tls.crt, tls.key).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "vouch admission test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(vec![
        SERVICE_NAME.to_string(),
        format!("{SERVICE_NAME}.cluster.local"),
    ])
    .unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, SERVICE_NAME);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let (ca_path, cert_path, key_path) =
        (dir.join("ca.crt"), dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_path, cert_path, key_path)
}

/// A running `vouch admission serve`, killed when dropped.
pub struct Webhook {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_webhook(
    dir: &Path,
    name: &str,
    policies: &Path,
    certs: &(PathBuf, PathBuf, PathBuf),
    tc: &Path,
    extra: &[&str],
) -> Webhook {
    let log = dir.join(format!("{name}.log"));
    let mut child = vouch()
        .args(["admission", "serve", "--policy"])
        .arg(policies)
        .arg("--tls-cert")
        .arg(&certs.1)
        .arg("--tls-key")
        .arg(&certs.2)
        .args(["--listen", "127.0.0.1:0", "--trust-config"])
        .arg(tc)
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let rx = line_channel(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "webhook did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        if let Some(url) = line.strip_prefix("vouch admission listening on https://") {
            let port = url.rsplit(':').next().unwrap().trim().parse().unwrap();
            return Webhook { child, port, log };
        }
    }
}

/// The API server's side: HTTPS verified against caBundle, SNI = the Service name.
pub struct ApiServer {
    pub http: reqwest::Client,
    pub rt: tokio::runtime::Runtime,
}

impl ApiServer {
    pub fn new(ca_bundle: &[u8], port: u16) -> Self {
        let http = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(ca_bundle).unwrap())
            .resolve(SERVICE_NAME, ([127, 0, 0, 1], port).into())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        ApiServer { http, rt }
    }

    pub fn post(&self, port: u16, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        self.rt.block_on(async {
            let r = self
                .http
                .post(format!("https://{SERVICE_NAME}:{port}{path}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
        })
    }

    pub fn get(&self, port: u16, path: &str) -> String {
        self.rt.block_on(async {
            self.http
                .get(format!("https://{SERVICE_NAME}:{port}{path}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    }

    /// POST a review; the answer must be a 200 AdmissionReview with the same uid.
    pub fn review(&self, port: u16, path: &str, uid: &str, body: Vec<u8>) -> ReviewResponse {
        let (status, bytes) = self.post(port, path, body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        // The patch is a base64 string on the wire, as the API server decodes `[]byte`.
        let raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        if let Some(p) = raw["response"].get("patch") {
            assert!(p.is_string(), "patch must be base64: {p}");
            assert_eq!(raw["response"]["patchType"], "JSONPatch");
        }
        let r: ResponseReview = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(r.api_version, "admission.k8s.io/v1");
        assert_eq!(r.kind, "AdmissionReview");
        let resp = r.response;
        assert_eq!(resp.uid, uid);
        resp
    }
}
